#include "mldyn/radial_descriptor.hpp"

#include <algorithm>
#include <stdexcept>

#include "detail/simd.hpp"

namespace mldyn {

namespace {

/// Weights of one species' neighbours: w[m * stride + b] (unswitched values in the force path,
/// switched in the gradient path), dw (radial derivatives, gradient path), switching S and dS/dr.
struct SpeciesWeights {
    std::size_t stride = 0;
    std::vector<double> w, dw, s, ds;
    void reserve(std::size_t capacity, std::size_t M) {
        if (capacity <= stride) return;
        stride = capacity;
        w.resize(M * capacity);
        dw.resize(M * capacity);
        s.resize(capacity);
        ds.resize(capacity);
    }
};

struct RadialScratch final : DescriptorScratch {
    explicit RadialScratch(std::size_t n_species, std::size_t M) : species(n_species), near(n_species), coef(2 * M) {}
    std::vector<SpeciesWeights> species;
    std::vector<AgentEnvironment::Neighbours> near;  // neighbours within this descriptor's cutoff, if shorter
    std::vector<double> coef;
};

/// The neighbours of species a inside the basis' cutoff, with their (unswitched) weights and the
/// switching in `scratch.species[a]`, over whole SIMD blocks (the environment pads its arrays).
const AgentEnvironment::Neighbours& weigh(const RadialBasis& basis, const AgentEnvironment& env,
                                          RadialScratch& scratch, std::size_t a) {
    const AgentEnvironment::Neighbours& nb = env.within(a, basis.r_cut(), scratch.near[a]);
    SpeciesWeights& sw = scratch.species[a];
    sw.reserve(nb.capacity, basis.size());
    const std::size_t padded = simd::padded(nb.count);
    if (nb.count) {
        basis.evaluate_values(nb.r.data(), nb.inv_r.data(), padded, sw.w.data(), sw.stride);
        if (basis.switched()) basis.switching_batch(nb.r.data(), padded, sw.s.data(), sw.ds.data());
    }
    return nb;
}

}  // namespace

using simd::kLanes;

RadialDescriptor::RadialDescriptor(RadialBasis basis, int n_species)
    : basis_(std::move(basis)), n_species_(static_cast<std::size_t>(n_species)) {
    if (n_species < 1) throw std::invalid_argument("radial descriptor: n_species must be at least 1");
    // Functions grouped by family (exponential, Gaussian, power) for the force contraction.
    const std::size_t M = basis_.size();
    family_start_.assign(5, 0);
    for (std::size_t k = 0; k < 4; ++k) {
        for (std::size_t m = 0; m < M; ++m)
            if (static_cast<std::size_t>(basis_.functions()[m].kind) == k) by_family_.push_back(m);
        family_start_[k + 1] = by_family_.size();
    }
    for (std::size_t m = 0; m < M; ++m) {
        factor_.push_back(basis_.derivative_factor(m));
        param_.push_back(basis_.functions()[m].param);
    }
}

void RadialDescriptor::pair_weights(const double* r, std::size_t count, double* w, double* dw,
                                    std::size_t stride) const {
    std::vector<double> inv_r(count);
    for (std::size_t b = 0; b < count; ++b) inv_r[b] = 1.0 / r[b];
    basis_.evaluate_batch(r, inv_r.data(), count, w, dw, stride, true);
}

std::vector<double> RadialDescriptor::pair_kinks() const {
    std::vector<double> out;
    if (basis_.switched()) out.push_back(basis_.r_on());
    for (const WeightFunction& f : basis_.functions())
        if (f.kind == WeightKind::Core && f.param < basis_.r_cut()) out.push_back(f.param);
    return out;
}

std::unique_ptr<DescriptorScratch> RadialDescriptor::make_scratch(std::size_t n_species) const {
    return std::make_unique<RadialScratch>(n_species, basis_.size());
}

void RadialDescriptor::features(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi) const {
    values(env, scratch, phi);
}

void RadialDescriptor::prepare_force(const AgentEnvironment& env, DescriptorScratch& scratch, double*) const {
    values(env, scratch, nullptr);
}

void RadialDescriptor::add_force(const AgentEnvironment& env, DescriptorScratch& scratch, const double* g,
                                 double* force) const {
    contract(env, scratch, g, force);
}

void RadialDescriptor::features_and_gradients(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi,
                                              double* dphi_fc) const {
    values_and_gradients(env, scratch, phi, dphi_fc);
}

// Virtual functions cannot be multiversioned: the overrides above call these kernels.
MLDYN_MULTIVERSION void RadialDescriptor::values(const AgentEnvironment& env, DescriptorScratch& scratch_base,
                                                 double* phi) const {
    auto& scratch = static_cast<RadialScratch&>(scratch_base);
    const std::size_t M = basis_.size();
    const bool switched = basis_.switched();
    // Weights (unswitched values; add_force derives their derivatives from them) and phi, in whole
    // SIMD blocks (the padding lanes are masked out of the sums).
    simd::with_v8([&](auto zero) MLDYN_LAMBDA_INLINE {
        using V = decltype(zero);
        for (std::size_t a = 0; a < n_species_; ++a) {
            const AgentEnvironment::Neighbours& nb = weigh(basis_, env, scratch, a);
            const SpeciesWeights& sw = scratch.species[a];
            const std::size_t count = nb.count, C = sw.stride, padded = simd::padded(count);
            if (!phi) continue;
            double mask[kLanes];
            for (std::size_t l = 0; l < kLanes; ++l) mask[l] = padded - kLanes + l < count ? 1.0 : 0.0;
            const V last = simd::load_as<V>(mask);
            for (std::size_t m = 0; m < M; ++m) {
                const double* w = sw.w.data() + m * C;
                V sum{};
                for (std::size_t b0 = 0; b0 < padded; b0 += kLanes) {
                    V x = simd::load_as<V>(w + b0);
                    if (switched) x *= simd::load_as<V>(sw.s.data() + b0);
                    sum += b0 + kLanes < padded ? x : x * last;
                }
                phi[a * M + m] = simd::sum(sum);
            }
        }
    });
}

MLDYN_MULTIVERSION void RadialDescriptor::contract(const AgentEnvironment& env, DescriptorScratch& scratch_base,
                                                   const double* g, double* force) const {
    auto& scratch = static_cast<RadialScratch&>(scratch_base);
    const std::size_t M = basis_.size();
    const bool switched = basis_.switched();
    // F_k = -g . dphi/dq_k = sum_j a_j u_kj with a_j = sum_m g[s_j, m] d/dr [w_m S](r_kj), where
    // w_m' = factor_m w_m times 1, r or 1/r (exponential, Gaussian, power), or factor_m (x^4 - 1)^2 x^4 / r
    // with x = r_w / r (core): one sum per family, kept in registers over a SIMD block of neighbours.
    // Padding lanes have u = 0.
    const std::size_t* by_family = by_family_.data();
    const std::size_t n_exp = family_start_[1], n_exp_gauss = family_start_[2], n_plain = family_start_[3];
    double* coef = scratch.coef.data();
    double* plain = coef + M;
    simd::with_v8([&](auto zero) MLDYN_LAMBDA_INLINE {
        using V = decltype(zero);
        const auto load = [](const double* p) MLDYN_LAMBDA_INLINE { return simd::load_as<V>(p); };
        V fx8{}, fy8{}, fz8{};
        for (std::size_t a = 0; a < n_species_; ++a) {
            // the neighbours `values` used (filtered there if this descriptor reaches less far)
            const AgentEnvironment::Neighbours& nb = env.cutoff() > basis_.r_cut() ? scratch.near[a] : env.species(a);
            const SpeciesWeights& sw = scratch.species[a];
            const std::size_t count = nb.count, C = sw.stride;
            for (std::size_t q = 0; q < M; ++q) {
                plain[q] = g[a * M + by_family[q]];
                coef[q] = plain[q] * factor_[by_family[q]];
            }
            const double* w = sw.w.data();
            for (std::size_t b0 = 0; b0 < count; b0 += kLanes) {
                V ae{}, ag{}, ap{};
                for (std::size_t q = 0; q < n_exp; ++q) ae += coef[q] * load(w + by_family[q] * C + b0);
                for (std::size_t q = n_exp; q < n_exp_gauss; ++q) ag += coef[q] * load(w + by_family[q] * C + b0);
                for (std::size_t q = n_exp_gauss; q < n_plain; ++q) ap += coef[q] * load(w + by_family[q] * C + b0);
                const V rr = load(nb.r.data() + b0), ir = load(nb.inv_r.data() + b0);
                V d = ae + rr * ag + ir * ap;
                for (std::size_t q = n_plain; q < M; ++q) {
                    const V x = param_[by_family[q]] * ir, x2 = x * x, x4 = x2 * x2;
                    const V t = simd::positive_part(x4 - 1.0);
                    d += coef[q] * t * t * x4 * ir;
                }
                if (switched) {
                    V a0{};
                    for (std::size_t q = 0; q < M; ++q) a0 += plain[q] * load(w + by_family[q] * C + b0);
                    d = d * load(sw.s.data() + b0) + a0 * load(sw.ds.data() + b0);
                }
                fx8 += d * load(nb.ux.data() + b0);
                fy8 += d * load(nb.uy.data() + b0);
                fz8 += d * load(nb.uz.data() + b0);
            }
        }
        force[0] += simd::sum(fx8);
        force[1] += simd::sum(fy8);
        force[2] += simd::sum(fz8);
    });
}

MLDYN_MULTIVERSION void RadialDescriptor::values_and_gradients(const AgentEnvironment& env,
                                                               DescriptorScratch& scratch_base, double* phi,
                                                               double* dphi_fc) const {
    auto& scratch = static_cast<RadialScratch&>(scratch_base);
    const std::size_t M = basis_.size();
    const bool switched = basis_.switched();
    // The weights as in `values`, then per function phi and its gradient over SIMD blocks of neighbours,
    // the derivative taken from the weight family by family as in `contract` (no derivative arrays):
    // d phi / d q_k = -sum_j d/dr [w S](r_j) u_j (d r / d q_k = -u; the padding has u = 0).
    simd::with_v8([&](auto zero) MLDYN_LAMBDA_INLINE {
        using V = decltype(zero);
        const auto load = [](const double* p) MLDYN_LAMBDA_INLINE { return simd::load_as<V>(p); };
        for (std::size_t a = 0; a < n_species_; ++a) {
            const AgentEnvironment::Neighbours& nb = weigh(basis_, env, scratch, a);
            const SpeciesWeights& sw = scratch.species[a];
            const std::size_t count = nb.count, C = sw.stride, padded = simd::padded(count);
            double mask[kLanes];
            for (std::size_t l = 0; l < kLanes; ++l) mask[l] = padded - kLanes + l < count ? 1.0 : 0.0;
            const V last = load(mask);
            for (std::size_t m = 0; m < M; ++m) {
                const double* w = sw.w.data() + m * C;
                const double c = factor_[m], rw = param_[m];
                const WeightKind kind = basis_.functions()[m].kind;
                V sum{}, gx{}, gy{}, gz{};
                for (std::size_t b0 = 0; b0 < padded; b0 += kLanes) {
                    V x = load(w + b0), d{};
                    switch (kind) {
                        case WeightKind::Exponential: d = c * x; break;
                        case WeightKind::Gaussian: d = c * load(nb.r.data() + b0) * x; break;
                        case WeightKind::Power: d = c * x * load(nb.inv_r.data() + b0); break;
                        case WeightKind::Core: {
                            const V ir = load(nb.inv_r.data() + b0), y = rw * ir, y2 = y * y, y4 = y2 * y2;
                            const V t = simd::positive_part(y4 - 1.0);
                            d = c * t * t * y4 * ir;
                            break;
                        }
                    }
                    if (switched) {
                        const V S = load(sw.s.data() + b0);
                        d = d * S + x * load(sw.ds.data() + b0);
                        x *= S;
                    }
                    sum += b0 + kLanes < padded ? x : x * last;
                    gx += d * load(nb.ux.data() + b0);
                    gy += d * load(nb.uy.data() + b0);
                    gz += d * load(nb.uz.data() + b0);
                }
                phi[a * M + m] = simd::sum(sum);
                double* g = dphi_fc + 3 * (a * M + m);
                g[0] = -simd::sum(gx);
                g[1] = -simd::sum(gy);
                g[2] = -simd::sum(gz);
            }
        }
    });
}

}  // namespace mldyn
