#include "mldyn/model.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "mldyn/simd.hpp"

namespace mldyn {

AgentLossModel::AgentLossModel(Basis basis, int n_species, std::vector<double> A_sf, std::vector<double> B_sff)
    : calculator_(std::move(basis), n_species), n_species_(n_species), A_(std::move(A_sf)), B_(std::move(B_sff)) {
    n_features_ = calculator_.n_features();
    const std::size_t S = static_cast<std::size_t>(n_species), F = n_features_;
    if (A_.size() != S * F) {
        std::ostringstream msg;
        msg << "model: A must have " << S << " x " << F << " = " << S * F << " entries, got " << A_.size();
        throw std::invalid_argument(msg.str());
    }
    if (B_.empty()) B_.assign(S * F * F, 0.0);
    if (B_.size() != S * F * F) {
        std::ostringstream msg;
        msg << "model: B must have " << S << " x " << F << " x " << F << " = " << S * F * F << " entries, got "
            << B_.size();
        throw std::invalid_argument(msg.str());
    }
    for (double x : A_)
        if (!std::isfinite(x)) throw std::invalid_argument("model: A has a NaN or inf coefficient");
    double bmax = 0.0;
    for (double x : B_) {
        if (!std::isfinite(x)) throw std::invalid_argument("model: B has a NaN or inf coefficient");
        bmax = std::max(bmax, std::abs(x));
    }
    for (std::size_t s = 0; s < S; ++s)
        for (std::size_t f = 0; f < F; ++f)
            for (std::size_t g = f + 1; g < F; ++g) {
                const double x = B_[(s * F + f) * F + g], y = B_[(s * F + g) * F + f];
                if (std::abs(x - y) > 1e-10 * bmax) {
                    std::ostringstream msg;
                    msg << "model: B of species " << s << " is not symmetric (entry [" << f << "," << g << "] = " << x
                        << " but [" << g << "," << f << "] = " << y << ")";
                    throw std::invalid_argument(msg.str());
                }
            }
    quadratic_ = bmax > 0.0;
    bt_stride_ = (F + 4 * simd::kLanes - 1) / (4 * simd::kLanes) * (4 * simd::kLanes);
    Bt_.assign(S * F * bt_stride_, 0.0);
    for (std::size_t s = 0; s < S; ++s)
        for (std::size_t f = 0; f < F; ++f)
            for (std::size_t e = 0; e < F; ++e) Bt_[(s * F + e) * bt_stride_ + f] = B_[(s * F + f) * F + e];
    const std::size_t M = calculator_.basis().size();
    conservative_ = !quadratic_;
    for (std::size_t s = 0; s < S && conservative_; ++s)
        for (std::size_t a = 0; a < S && conservative_; ++a)
            for (std::size_t m = 0; m < M; ++m)
                if (A_[s * F + a * M + m] != A_[a * F + s * M + m]) { conservative_ = false; break; }
}

void AgentLossModel::compute(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                             NeighbourMethod method, double* forces_nc, double* loss_n) {
    std::lock_guard<std::mutex> guard(scratch_.mutex);
    phi_.resize(n * n_features_);
    calculator_.compute_forces(cell, positions_nc, species_n, n, method, phi_.data(),
                               [&](std::size_t k, const double* phi, double* grad) {
                                   const double h = agent_gradient(static_cast<std::size_t>(species_n[k]), phi, grad);
                                   if (loss_n) loss_n[k] = h;
                               },
                               forces_nc);
}

MLDYN_MULTIVERSION double AgentLossModel::agent_gradient(std::size_t s, const double* phi_f, double* grad_f) const {
    using simd::kLanes;
    using simd::v8;
    const std::size_t F = n_features_, stride = bt_stride_;
    const double* A = A_.data() + s * F;
    // g = dH/dphi = A_s + B_s phi;  H = A.phi + 1/2 phi.B.phi. (B phi)[f] = sum_e B[f][e] phi[e],
    // accumulated over e in order, 4 SIMD blocks of f at a time in registers (rows of B
    // transposed, zero-padded to `stride`).
    double* bphi = grad_f;
    for (std::size_t f0 = 0; f0 < F; f0 += 4 * kLanes) {
        v8 a0{}, a1{}, a2{}, a3{};
        if (quadratic_)
            for (std::size_t e = 0; e < F; ++e) {
                const double pe = phi_f[e];
                const double* Bt = Bt_.data() + (s * F + e) * stride + f0;
                a0 += pe * simd::load(Bt);
                a1 += pe * simd::load(Bt + kLanes);
                a2 += pe * simd::load(Bt + 2 * kLanes);
                a3 += pe * simd::load(Bt + 3 * kLanes);
            }
        const v8 blocks[4] = {a0, a1, a2, a3};
        for (std::size_t f = f0; f < std::min(F, f0 + 4 * kLanes); ++f) bphi[f] = blocks[(f - f0) / kLanes][(f - f0) % kLanes];
    }
    double h = 0.0;
#pragma omp simd reduction(+ : h)
    for (std::size_t f = 0; f < F; ++f) {
        h += (A[f] + 0.5 * bphi[f]) * phi_f[f];
        grad_f[f] = A[f] + bphi[f];
    }
    return h;
}

}  // namespace mldyn
