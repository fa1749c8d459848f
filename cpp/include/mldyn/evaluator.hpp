#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "mldyn/cell.hpp"
#include "mldyn/descriptor.hpp"
#include "mldyn/force_covariance.hpp"
#include "mldyn/model.hpp"
#include "mldyn/neighbours.hpp"
#include "mldyn/threads.hpp"

namespace mldyn {

/// Checks a configuration at the boundary where it enters the core and throws
/// std::invalid_argument naming the problem: species ids outside [0, n_species),
/// NaN or inf positions, a cutoff (Å) above half the smallest perpendicular cell width.
void validate_configuration(const Cell& cell, double cutoff, const double* positions_nc, const int* species_n,
                            std::size_t n, int n_species);

/// Invariants or forces of every agent of a configuration.
///
/// For each agent k the neighbour search (PairFinder: all pairs, or a Verlet list built with a
/// cell list) gives candidate partners, their minimum-image separations become the agent's
/// AgentEnvironment, and the descriptors (and the model's per-agent routine) turn it into the
/// agent's row. An agent's row depends only on its own environment, so rows need no scatter into
/// other atoms, no per-thread buffers and no reduction: results are bitwise identical for every
/// thread count.
///
/// Holds the neighbour list (kept between calls while atoms move less than skin/2) and one
/// working set per thread; concurrent calls on one object are serialised by a mutex.
class Evaluator {
public:
    /// The closest pair of atoms of two species seen by the last call: distance r (Å; +inf if none
    /// within the cutoff) and the agent i it was seen from (its partner: the nearest atom of the
    /// other species to i).
    struct Contact {
        double r = std::numeric_limits<double>::infinity();
        std::size_t agent = static_cast<std::size_t>(-1);
    };

    /// Invariants only (no loss).
    explicit Evaluator(std::shared_ptr<const DescriptorSet> descriptors);
    /// Invariants, forces and losses of a model.
    explicit Evaluator(std::shared_ptr<const AgentLossModel> model);
    ~Evaluator();
    Evaluator(const Evaluator& other);
    Evaluator& operator=(const Evaluator& other);

    const DescriptorSet& descriptors() const { return *descriptors_; }
    /// The model, or null for an invariants-only evaluator.
    const std::shared_ptr<const AgentLossModel>& model() const { return model_; }

    /// phi_nf (n x F) and, if not null, dphi_nfc (n x F x 3; d phi / d q_k) of every agent.
    /// Validates the input first; throws std::invalid_argument if two atoms coincide (r = 0).
    void features(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                  NeighbourMethod method, double* phi_nf, double* dphi_nfc);

    /// Forces (n x 3, eV/Å) and, if not null, losses H_k (n, eV) of every agent, through
    /// AgentLossModel::agent_force (no d phi stored; a linear model skips its invariants when
    /// loss_n is null). Throws std::logic_error without a model.
    void forces(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                NeighbourMethod method, double* forces_nc, double* loss_n);

    /// As `forces`, and the leverage h (n, see force_covariance.hpp) of every agent under `covariance`.
    /// The invariants' gradients are formed once and give both: forces -(A + B phi) . dphi (equal to
    /// those of `forces` to rounding, not bit for bit) and the leverage. On 384 waters with the
    /// recommended model this adds 1.4 MD steps to a step, where an evaluation apart costs 2.2-2.5
    /// (benchmarks/bench_uncertainty.py); the leverage in float32 on AVX-512 (ForceCovariance::leverage).
    /// Throws std::invalid_argument if the covariance was made for another number of parameters.
    void forces_and_leverage(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                             NeighbourMethod method, const ForceCovariance& covariance, double* forces_nc,
                             double* loss_n, double* leverage_n);

    /// Closest contacts of the last call, S x S row-major: entry (s, a) for agents of species s and
    /// partners of species a (the same pairs as (a, s), seen from the other side).
    const std::vector<Contact>& closest() const { return closest_; }

    /// The neighbour method used by the last call.
    NeighbourMethod last_method() const { return pairs_.method(); }
    /// Verlet skin (Å) of the cell-list method (default 1 Å).
    void set_skin(double skin);
    double skin() const { return pairs_.skin(); }
    /// How many times the cell-list Verlet list was built so far.
    long neighbour_list_builds() const { return pairs_.list_builds(); }

private:
    struct ThreadScratch;
    template <class RowFn>
    void sweep(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
               NeighbourMethod method, RowFn&& finish_row);

    std::shared_ptr<const DescriptorSet> descriptors_;
    std::shared_ptr<const AgentLossModel> model_;
    PairFinder pairs_;
    std::vector<std::unique_ptr<ThreadScratch>> threads_;  // one working set per thread
    std::vector<double> phi_;                              // n x F of the force path
    std::vector<double> dphi_;                             // n x F x 3 of forces_and_leverage
    std::vector<Contact> closest_;                         // S x S, see closest()
    ScratchMutex scratch_;
};

}  // namespace mldyn
