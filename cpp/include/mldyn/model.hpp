#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "mldyn/descriptor.hpp"
#include "mldyn/pair_table.hpp"

namespace mldyn {

/// Checks the coefficients of S species with F invariants each, the first Fq of which form the
/// quadratic block: A_sf has S x F finite entries, B_sqq S x Fq x Fq (an empty B becomes all zeros)
/// finite and symmetric per species to 1e-10 relative. Throws std::invalid_argument ("model: ...")
/// naming the first problem.
void validate_coefficients(std::size_t n_species, std::size_t n_features, std::size_t n_quadratic,
                           const std::vector<double>& A_sf, std::vector<double>& B_sqq);

/// The agent-loss model of the paper, eq. (4.5)-(4.6), over the concatenated invariant row of a
/// DescriptorSet (F invariants per agent, S species), with the quadratic term restricted to the
/// first Fq invariants (the quadratic block; Fq = F is the paper's model, Fq = 0 a linear one):
///
/// Per agent species s, with phi_q = phi[0, Fq):
///   H_s(phi)  = A_s · phi + 1/2 phi_q · B_s · phi_q                 (eV)
///   force_k   = -(A_s + B_s phi_q) · dphi_k/dq_k                    (eV/Å; B_s phi_q padded with zeros)
/// Only q_k is differentiated (the other agents are the environment), so forces are not the
/// gradient of one global energy in general. With B = 0, only pair-sum descriptors (radial) and
/// A symmetric in the species pair (A[s][a*M+m] == A[a][s*M+m]) the model is a pair potential
/// with total energy 1/2 sum_k H_k, which `conservative()` detects.
///
/// Units: A in eV per unit invariant, B in eV per unit invariant squared.
///
/// Immutable and thread-safe: `agent_force` is the one per-agent routine every path uses (the
/// core's Evaluator for whole configurations, MD, the C++ package and the LAMMPS plugin).
class AgentLossModel {
public:
    /// Every invariant in the quadratic block (Fq = F).
    static constexpr std::size_t kAllFeatures = static_cast<std::size_t>(-1);

    /// `A_sf` is S x F, `B_sqq` is S x Fq x Fq (row-major; empty = all zeros) with Fq = `n_quadratic`
    /// (kAllFeatures: F). Throws std::invalid_argument on wrong sizes, Fq > F, non-finite values, or a
    /// B_s that is not symmetric (to 1e-10 relative).
    /// With `pair_tables`, pair-sum descriptors whose invariants enter the loss linearly (outside
    /// the quadratic block, or B = 0) are tabulated for `agent_force` (PairTable: the same forces
    /// to 1e-13 of the terms; false keeps the direct sums everywhere).
    AgentLossModel(DescriptorSet descriptors, std::vector<double> A_sf, std::vector<double> B_sqq,
                   std::size_t n_quadratic = kAllFeatures, bool pair_tables = true);

    const DescriptorSet& descriptors() const { return descriptors_; }
    int n_species() const { return descriptors_.n_species(); }
    std::size_t n_features() const { return descriptors_.n_features(); }
    /// Neighbour search radius (Å): the largest descriptor cutoff.
    double cutoff() const { return descriptors_.cutoff(); }
    const std::vector<double>& A() const { return A_; }
    const std::vector<double>& B() const { return B_; }
    /// Invariants in the quadratic block (the leading Fq of the row).
    std::size_t n_quadratic() const { return n_quadratic_; }
    bool quadratic() const { return quadratic_; }
    /// True when the model is a pair potential (see above).
    bool conservative() const { return conservative_; }
    /// The force path's table of the linear pair-sum descriptors (PairTable), or null.
    const std::shared_ptr<const PairTable>& pair_table() const { return table_; }
    /// True if descriptor d is in pair_table() (the force path does not sum it directly).
    bool tabulated(std::size_t d) const { return tabulated_[d]; }

    /// Per-thread working memory for `agent_force`.
    struct Scratch {
        std::vector<std::unique_ptr<DescriptorScratch>> parts;
        std::vector<double> grad;
        std::vector<AgentEnvironment::Neighbours> near;  // per species, for tables with a shorter cutoff
        std::vector<double> work;                        // PairTable::add
    };
    Scratch make_scratch() const;

    /// One agent of species `s` in environment `env`: writes its force (3, eV/Å) and returns its
    /// loss H_k (eV); phi (F) is working memory (the invariants, 0 for tabulated descriptors).
    /// Without `want_loss` a linear model computes the force only (the gradient A_s does not need
    /// the invariants: the MD steps between outputs, like LAMMPS's eflag) and returns NaN.
    double agent_force(std::size_t s, const AgentEnvironment& env, Scratch& scratch, double* phi, double* force,
                       bool want_loss = true) const;

    /// g = dH_s/dphi = A_s + B_s phi (F) for invariants phi_f (F); returns H_s(phi) (eV).
    double loss_gradient(std::size_t s, const double* phi_f, double* grad_f) const;

private:
    DescriptorSet descriptors_;
    std::vector<double> A_, B_;
    std::vector<double> Bt_;  // B_ transposed per species (S x Fq x stride, rows zero-padded)
    std::size_t bt_stride_ = 0, n_quadratic_ = 0;
    bool quadratic_ = false, conservative_ = false;
    std::shared_ptr<const PairTable> table_;  // the linear pair-sum descriptors, or null
    std::vector<bool> tabulated_;             // per descriptor: in table_
};

}  // namespace mldyn
