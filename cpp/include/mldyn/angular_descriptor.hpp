#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "mldyn/descriptor.hpp"
#include "mldyn/radial_basis.hpp"

namespace mldyn {

/// Angular invariants of the power-spectrum kind: species- and radial-channel-resolved moments of
/// an agent's neighbour directions, contracted over the orientation index so they are rotation
/// invariant. For channels alpha = a * M + m (source species a, radial function m of the
/// descriptor's own RadialBasis), degree l = 1..l_max:
///
///   c[alpha, l, mu] = sum_{j of species a, r_kj < r_cut} w_m(r_kj) S(r_kj) Y_l^mu(u_kj)
///   phi[l, alpha, beta] = sum_mu c[alpha, l, mu] c[beta, l, mu]                 (alpha <= beta)
///                       = sum_{i in a, j in b} w_m(r_i) w_n(r_j) P_l(u_i . u_j)    (i = j included)
///
/// with real spherical harmonics normalised so that sum_mu Y_l^mu(u) Y_l^mu(v) = P_l(u . v)
/// (Racah's normalisation), u_kj = (q_j - q_k) / r_kj. l = 1 is c_a . c_b, the dipole moments'
/// product; l = 2 is 3/2 T_a : T_b with the quadrupole T = sum w (u u^T - I/3). Cost O(neighbours)
/// per agent: each neighbour adds to the (l_max + 1)^2 moments of its M channels.
///
/// Layout: l_max blocks (l = 1, 2, ...) of C (C + 1) / 2 invariants each, C = S * M, the pairs
/// (alpha, beta), alpha <= beta, in row-major upper-triangle order. Units: (weight units)^2.
class AngularDescriptor final : public Descriptor {
public:
    /// Throws std::invalid_argument if l_max is not in [1, kMaxL] or n_species < 1.
    AngularDescriptor(RadialBasis basis, int l_max, int n_species);

    static constexpr int kMaxL = 6;

    const RadialBasis& basis() const { return basis_; }
    int l_max() const { return l_max_; }
    std::size_t channels() const { return n_species_ * basis_.size(); }
    std::size_t size() const override;
    double cutoff() const override { return basis_.r_cut(); }
    std::unique_ptr<DescriptorScratch> make_scratch(std::size_t n_species) const override;

    void features(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi) const override;
    /// The moments only (the power spectrum is the loss's, not the force's).
    void prepare_force(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi) const override;
    void add_force(const AgentEnvironment& env, DescriptorScratch& scratch, const double* g,
                   double* force) const override;
    void features_and_gradients(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi,
                                double* dphi_fc) const override;

private:
    void moments(const AgentEnvironment& env, DescriptorScratch& scratch, bool keep_gradients) const;
    void contract(DescriptorScratch& scratch, const double* g, double* force) const;
    void power_spectrum(DescriptorScratch& scratch, double* phi) const;
    void power_spectrum_gradients(DescriptorScratch& scratch, double* dphi_fc) const;

    RadialBasis basis_;
    int l_max_;
    std::size_t n_species_;
};

}  // namespace mldyn
