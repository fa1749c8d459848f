#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "mldyn/cell.hpp"
#include "mldyn/neighbours.hpp"
#include "mldyn/threads.hpp"
#include "mldyn/weights.hpp"

namespace mldyn {

namespace detail {
struct RowBuffer;
}

/// Checks a configuration at the boundary where it enters the core and throws
/// std::invalid_argument naming the problem: species ids outside [0, n_species),
/// NaN or inf positions, a cutoff above half the smallest perpendicular cell width.
void validate_configuration(const Cell& cell, const Basis& basis, const double* positions_nc,
                            const int* species_n, std::size_t n, int n_species);

/// Radial invariants of every agent and their gradients with respect to the
/// agent's own position:
///
///   phi[k, a, m]     = sum_{i of species a, i != k, r_ki < r_cut} w_m(r_ki) S(r_ki)
///   dphi[k, a, m, :] = d phi[k, a, m] / d q_k                       (1/Å times phi units)
///
/// Layouts (row-major): phi is n x S x M, dphi is n x S x M x 3, with S species
/// and M basis functions.
///
/// Each agent's row is computed on its own from the agent's full neighbour list (every
/// pair is seen from both sides): an agent's invariants, and its force, depend only on
/// its own environment, so rows need no scatter into other atoms, no per-thread buffers
/// and no reduction. Results are bitwise identical for every thread count.
class InvariantCalculator {
public:
    InvariantCalculator(Basis basis, int n_species);
    ~InvariantCalculator();
    InvariantCalculator(const InvariantCalculator& other);
    InvariantCalculator& operator=(const InvariantCalculator& other);

    const Basis& basis() const { return basis_; }
    int n_species() const { return n_species_; }
    /// Number of invariants per agent, S * M.
    std::size_t n_features() const { return static_cast<std::size_t>(n_species_) * basis_.size(); }

    /// Fills phi_nsm (n*S*M) and, if not null, dphi_nsmc (n*S*M*3). Validates the input first.
    /// Throws std::invalid_argument if two atoms coincide (r = 0).
    void compute(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                 NeighbourMethod method, double* phi_nsm, double* dphi_nsmc);

    /// dH_k/dphi_k of one agent: `gradient(k, phi_f, grad_f)` reads the F invariants of agent k
    /// and writes its F gradients. Called concurrently from several threads, once per agent.
    using AgentGradient = std::function<void(std::size_t, const double*, double*)>;

    /// Forces without storing d phi / d q, one sweep over agents: for agent k the weights of its
    /// neighbours are evaluated once, summed into phi_k (written to phi_nf, n x F), turned into
    /// g_k = `gradient(k, phi_k)`, and contracted with the weights' radial derivatives into
    /// forces_nc[k] (eV/Å) = -sum_f g_k[f] dphi[k, f, :]. The MD path.
    void compute_forces(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                        NeighbourMethod method, double* phi_nf, const AgentGradient& gradient, double* forces_nc);

    /// The neighbour method used by the last `compute`.
    NeighbourMethod last_method() const { return pairs_.method(); }
    /// Verlet skin (Å) of the cell-list method (default 1 Å).
    void set_skin(double skin);
    double skin() const { return pairs_.skin(); }
    /// How many times the cell-list Verlet list was built so far.
    long neighbour_list_builds() const { return pairs_.list_builds(); }

private:
    template <class RowFn>
    void sweep(std::size_t n, RowFn&& finish_row);
    void collect_row(std::size_t i, const std::uint32_t* js, const std::size_t* seg, detail::RowBuffer& row,
                     std::size_t& bad_i, std::size_t& bad_j) const;
    void invariants_row(std::size_t i, detail::RowBuffer& row, double* phi, double* dphi) const;
    void forces_row(std::size_t i, detail::RowBuffer& row, double* phi, const AgentGradient& gradient,
                    double* forces_nc) const;

    Basis basis_;
    int n_species_;
    std::vector<std::size_t> by_family_;     // function ids: exponentials, then Gaussians, then powers
    std::vector<std::size_t> family_start_;  // 4 offsets into by_family_
    std::vector<double> factor_;             // Basis::derivative_factor of each function
    PairFinder pairs_;
    std::vector<std::unique_ptr<detail::RowBuffer>> rows_;  // one working set per thread
    const double* positions_ = nullptr;                      // of the current compute
    ScratchMutex scratch_;
};

}  // namespace mldyn
