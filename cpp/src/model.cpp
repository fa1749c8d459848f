#include "mldyn/model.hpp"

#include <algorithm>
#include <limits>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "detail/simd.hpp"

namespace mldyn {

void validate_coefficients(std::size_t S, std::size_t F, std::size_t Fq, const std::vector<double>& A_sf,
                           std::vector<double>& B_sff) {
    if (Fq > F) {
        std::ostringstream msg;
        msg << "model: the quadratic block (" << Fq << " invariants) is larger than the invariant row (" << F << ")";
        throw std::invalid_argument(msg.str());
    }
    if (A_sf.size() != S * F) {
        std::ostringstream msg;
        msg << "model: A must have " << S << " x " << F << " = " << S * F << " entries, got " << A_sf.size();
        throw std::invalid_argument(msg.str());
    }
    if (B_sff.empty()) B_sff.assign(S * Fq * Fq, 0.0);
    if (B_sff.size() != S * Fq * Fq) {
        std::ostringstream msg;
        msg << "model: B must have " << S << " x " << Fq << " x " << Fq << " = " << S * Fq * Fq << " entries, got "
            << B_sff.size();
        throw std::invalid_argument(msg.str());
    }
    for (double x : A_sf)
        if (!std::isfinite(x)) throw std::invalid_argument("model: A has a NaN or inf coefficient");
    double bmax = 0.0;
    for (double x : B_sff) {
        if (!std::isfinite(x)) throw std::invalid_argument("model: B has a NaN or inf coefficient");
        bmax = std::max(bmax, std::abs(x));
    }
    for (std::size_t s = 0; s < S; ++s)
        for (std::size_t f = 0; f < Fq; ++f)
            for (std::size_t g = f + 1; g < Fq; ++g) {
                const double x = B_sff[(s * Fq + f) * Fq + g], y = B_sff[(s * Fq + g) * Fq + f];
                if (std::abs(x - y) > 1e-10 * bmax) {
                    std::ostringstream msg;
                    msg << "model: B of species " << s << " is not symmetric (entry [" << f << "," << g << "] = " << x
                        << " but [" << g << "," << f << "] = " << y << ")";
                    throw std::invalid_argument(msg.str());
                }
            }
}

AgentLossModel::AgentLossModel(DescriptorSet descriptors, std::vector<double> A_sf, std::vector<double> B_sqq,
                               std::size_t n_quadratic, bool pair_tables)
    : descriptors_(std::move(descriptors)), A_(std::move(A_sf)), B_(std::move(B_sqq)) {
    const std::size_t S = static_cast<std::size_t>(n_species()), F = n_features();
    n_quadratic_ = n_quadratic == kAllFeatures ? F : n_quadratic;
    const std::size_t Fq = n_quadratic_;
    validate_coefficients(S, F, Fq, A_, B_);
    double bmax = 0.0;
    for (double x : B_) bmax = std::max(bmax, std::abs(x));
    quadratic_ = bmax > 0.0;
    bt_stride_ = (Fq + 4 * simd::kLanes - 1) / (4 * simd::kLanes) * (4 * simd::kLanes);
    Bt_.assign(S * Fq * bt_stride_, 0.0);
    for (std::size_t s = 0; s < S; ++s)
        for (std::size_t f = 0; f < Fq; ++f)
            for (std::size_t e = 0; e < Fq; ++e) Bt_[(s * Fq + e) * bt_stride_ + f] = B_[(s * Fq + f) * Fq + e];
    // A pair potential: linear, only pair-sum descriptors, each with A symmetric in the species pair.
    conservative_ = !quadratic_;
    for (std::size_t d = 0; d < descriptors_.parts().size() && conservative_; ++d) {
        const std::size_t M = descriptors_.parts()[d]->pair_functions(), o = descriptors_.offset(d);
        if (M == 0) conservative_ = false;
        for (std::size_t s = 0; s < S && conservative_; ++s)
            for (std::size_t a = 0; a < S && conservative_; ++a)
                for (std::size_t m = 0; m < M; ++m)
                    if (A_[s * F + o + a * M + m] != A_[a * F + o + s * M + m]) {
                        conservative_ = false;
                        break;
                    }
    }
    // One table for the pair-sum descriptors that enter the loss linearly.
    tabulated_.assign(descriptors_.parts().size(), false);
    std::vector<PairTable::Part> linear_pairs;
    for (std::size_t d = 0; d < descriptors_.parts().size() && pair_tables; ++d) {
        const auto& part = descriptors_.parts()[d];
        if (part->pair_functions() > 0 && !(quadratic_ && descriptors_.offset(d) < Fq))
            linear_pairs.push_back({part, descriptors_.offset(d)});
    }
    if (!linear_pairs.empty()) table_ = PairTable::build(linear_pairs, A_, F, S);
    for (std::size_t d = 0; d < descriptors_.parts().size() && table_; ++d)
        for (const PairTable::Part& p : linear_pairs)
            if (p.offset == descriptors_.offset(d)) tabulated_[d] = true;
}

AgentLossModel::Scratch AgentLossModel::make_scratch() const {
    return Scratch{descriptors_.make_scratch(), std::vector<double>(n_features()),
                   std::vector<AgentEnvironment::Neighbours>(static_cast<std::size_t>(n_species())),
                   std::vector<double>(table_ ? table_->work_size() : 0)};
}

double AgentLossModel::agent_force(std::size_t s, const AgentEnvironment& env, Scratch& scratch, double* phi,
                                   double* force, bool want_loss) const {
    force[0] = force[1] = force[2] = 0.0;
    const auto& parts = descriptors_.parts();
    // A linear model's gradient is A_s whatever phi is: without the loss only the force's ingredients.
    const bool loss = want_loss || quadratic_;
    for (std::size_t d = 0; d < parts.size(); ++d) {
        double* phi_d = phi + descriptors_.offset(d);
        if (tabulated_[d])
            std::fill(phi_d, phi_d + parts[d]->size(), 0.0);  // their loss comes from the table
        else if (loss)
            parts[d]->features(env, *scratch.parts[d], phi_d);
        else
            parts[d]->prepare_force(env, *scratch.parts[d], phi_d);
    }
    double h = std::numeric_limits<double>::quiet_NaN();
    const double* g = A_.data() + s * n_features();
    if (loss) {
        h = loss_gradient(s, phi, scratch.grad.data());
        g = scratch.grad.data();
    }
    for (std::size_t d = 0; d < parts.size(); ++d)
        if (!tabulated_[d]) parts[d]->add_force(env, *scratch.parts[d], g + descriptors_.offset(d), force);
    if (table_)
        for (std::size_t a = 0; a < env.n_species(); ++a) {
            const double t = table_->add(s, a, env.within(a, table_->cutoff(), scratch.near[a]), force,
                                         scratch.work.data(), loss);
            if (loss) h += t;
        }
    return h;
}

MLDYN_MULTIVERSION double AgentLossModel::loss_gradient(std::size_t s, const double* phi_f, double* grad_f) const {
    using simd::kLanes;
    const std::size_t F = n_features(), Fq = n_quadratic_, stride = bt_stride_;
    const double* A = A_.data() + s * F;
    // g = dH/dphi = A_s + B_s phi_q;  H = A.phi + 1/2 phi_q.B.phi_q. (B phi)[f] = sum_e B[f][e] phi[e]
    // over the quadratic block, accumulated over e in order, 4 SIMD blocks of f at a time in
    // registers (rows of B transposed, zero-padded to `stride`); 0 beyond the block.
    double* bphi = grad_f;
    for (std::size_t f = Fq; f < F; ++f) bphi[f] = 0.0;
    simd::with_v8([&](auto zero) MLDYN_LAMBDA_INLINE {
        using V = decltype(zero);
        for (std::size_t f0 = 0; f0 < Fq; f0 += 4 * kLanes) {
            V a0{}, a1{}, a2{}, a3{};
            if (quadratic_)
                for (std::size_t e = 0; e < Fq; ++e) {
                    const double pe = phi_f[e];
                    const double* Bt = Bt_.data() + (s * Fq + e) * stride + f0;
                    a0 += pe * simd::load_as<V>(Bt);
                    a1 += pe * simd::load_as<V>(Bt + kLanes);
                    a2 += pe * simd::load_as<V>(Bt + 2 * kLanes);
                    a3 += pe * simd::load_as<V>(Bt + 3 * kLanes);
                }
            double blocks[4 * kLanes];
            simd::store(blocks, a0);
            simd::store(blocks + kLanes, a1);
            simd::store(blocks + 2 * kLanes, a2);
            simd::store(blocks + 3 * kLanes, a3);
            for (std::size_t f = f0; f < std::min(Fq, f0 + 4 * kLanes); ++f) bphi[f] = blocks[f - f0];
        }
    });
    double h = 0.0;
#pragma omp simd reduction(+ : h)
    for (std::size_t f = 0; f < F; ++f) {
        h += (A[f] + 0.5 * bphi[f]) * phi_f[f];
        grad_f[f] = A[f] + bphi[f];
    }
    return h;
}

}  // namespace mldyn
