#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "mldyn/descriptor.hpp"
#include "mldyn/radial_basis.hpp"

namespace mldyn {

/// The paper's radial invariants (eq. 4.1): for an agent k, source species a and weight function m,
///
///   phi[a * M + m]        = sum_{j of species a, r_kj < r_cut} w_m(r_kj) S(r_kj)
///   d phi[a * M + m]/dq_k = -sum_j d/dr [w_m S](r_kj) u_kj,      u_kj = (q_j - q_k) / r_kj
///
/// with the M functions, cutoff and switching S of a RadialBasis; S * M invariants for S species.
/// Dimensionless for exponential and Gaussian weights, Å^-n for r^-n.
class RadialDescriptor final : public Descriptor {
public:
    RadialDescriptor(RadialBasis basis, int n_species);

    const RadialBasis& basis() const { return basis_; }
    std::size_t size() const override { return n_species_ * basis_.size(); }
    double cutoff() const override { return basis_.r_cut(); }
    std::size_t pair_functions() const override { return basis_.size(); }
    void pair_weights(const double* r, std::size_t count, double* w, double* dw, std::size_t stride) const override;
    std::vector<double> pair_kinks() const override;
    std::unique_ptr<DescriptorScratch> make_scratch(std::size_t n_species) const override;

    void features(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi) const override;
    /// The weights only (no sums).
    void prepare_force(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi) const override;
    void add_force(const AgentEnvironment& env, DescriptorScratch& scratch, const double* g,
                   double* force) const override;
    void features_and_gradients(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi,
                                double* dphi_fc) const override;

private:
    /// The weights, and phi unless it is null.
    void values(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi) const;
    void contract(const AgentEnvironment& env, DescriptorScratch& scratch, const double* g, double* force) const;
    void values_and_gradients(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi,
                              double* dphi_fc) const;

    RadialBasis basis_;
    std::size_t n_species_;
    std::vector<std::size_t> by_family_;     // function ids: exponentials, then Gaussians, then powers
    std::vector<std::size_t> family_start_;  // 5 offsets into by_family_ (exp, gauss, power, core)
    std::vector<double> factor_;             // RadialBasis::derivative_factor of each function
    std::vector<double> param_;              // parameter of each function (r_w of a core)
};

}  // namespace mldyn
