#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "mldyn/cell.hpp"
#include "mldyn/neighbours.hpp"
#include "mldyn/threads.hpp"
#include "mldyn/weights.hpp"

namespace mldyn {

namespace detail {
struct PairBatch;
struct CandidateBuffer;
}

/// Checks a configuration at the boundary where it enters the core and throws
/// std::invalid_argument naming the problem: species ids outside [0, n_species),
/// NaN or inf positions, a cutoff above half the smallest perpendicular cell width.
void validate_configuration(const Cell& cell, const Basis& basis, const double* positions_nc,
                            const int* species_n, std::size_t n, int n_species);

/// Radial invariants of every agent and their gradients with respect to the
/// agent's own position, in one pass over pairs (each pair feeds both atoms):
///
///   phi[k, a, m]     = sum_{i of species a, i != k, r_ki < r_cut} w_m(r_ki) S(r_ki)
///   dphi[k, a, m, :] = d phi[k, a, m] / d q_k                       (1/Å times phi units)
///
/// Layouts (row-major): phi is n x S x M, dphi is n x S x M x 3, with S species
/// and M basis functions. Per-thread accumulation buffers are reduced in thread
/// order, so results are deterministic for a given thread count and agree across
/// thread counts to rounding (~1e-15 relative).
class InvariantCalculator {
public:
    InvariantCalculator(Basis basis, int n_species);

    const Basis& basis() const { return basis_; }
    int n_species() const { return n_species_; }
    /// Number of invariants per agent, S * M.
    std::size_t n_features() const { return static_cast<std::size_t>(n_species_) * basis_.size(); }

    /// Fills phi_nsm (n*S*M) and, if not null, dphi_nsmc (n*S*M*3). Validates the input first.
    /// Throws std::invalid_argument if two atoms coincide (r = 0).
    void compute(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                 NeighbourMethod method, double* phi_nsm, double* dphi_nsmc);

    /// Forces without storing d phi / d q: pass 1 fills phi_nf (n x F); `gradient(phi_nf, g_nf)`
    /// must then write dH/dphi (n x F) of every agent; pass 2 over the same pairs gives
    /// forces_nc (n x 3, eV/Å) = -sum_f g[k, f] dphi[k, f, :]. Two light passes instead of
    /// scattering 3F gradient entries per pair: the MD path.
    void compute_forces(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                        NeighbourMethod method, double* phi_nf,
                        const std::function<void(const double*, double*)>& gradient, double* forces_nc);

    /// The neighbour method used by the last `compute`.
    NeighbourMethod last_method() const { return pairs_.method(); }
    /// Verlet skin (Å) of the cell-list method (default 1 Å).
    void set_skin(double skin);
    double skin() const { return pairs_.skin(); }
    /// How many times the cell-list Verlet list was built so far.
    long neighbour_list_builds() const { return pairs_.list_builds(); }

private:
    struct Output {
        double* data;
        std::size_t size;
    };
    template <class BatchFn>
    void sweep(std::size_t n, const int* species_n, const std::vector<Output>& outputs, BatchFn&& process);
    void evaluate_weights(detail::PairBatch& batch, bool derivatives) const;
    void accumulate_batch(detail::PairBatch& batch, std::size_t i, const int* species_n, double* phi,
                          double* dphi) const;
    void force_batch(detail::PairBatch& batch, std::size_t i, const int* species_n, const double* grad_nf,
                     double* forces_nc) const;
    void separations(std::size_t i, const std::uint32_t* js, std::size_t count, detail::CandidateBuffer& out) const;

    Basis basis_;
    int n_species_;
    PairFinder pairs_;
    std::vector<double> thread_scratch_;  // (threads - 1) x outputs; thread 0 writes the outputs directly
    std::vector<double> grad_;            // n x F, dH/dphi for compute_forces
    const double* positions_ = nullptr;   // of the current compute
    ScratchMutex scratch_;
};

}  // namespace mldyn
