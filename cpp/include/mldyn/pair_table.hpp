#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "mldyn/descriptor.hpp"
#include "mldyn/environment.hpp"

namespace mldyn {

/// The pair-sum descriptors whose invariants enter the loss linearly, tabulated for the force path.
///
/// For agent species s and neighbour species a, with each such descriptor's M pair functions w_m
/// (switching included, zero from its cutoff on) and the loss coefficients A_s[a * M + m] of its
/// invariants,
///
///   G_sa(r) = sum over the descriptors, sum_m A_s[a * M + m] w_m(r)   (eV),
///
/// so they add sum_j G_sa(r_kj) to H_k and sum_j G_sa'(r_kj) u_kj to the force on k: one pair
/// function per species pair however many weight functions and descriptors there are (the pair
/// potential behind the invariants; LAMMPS's pair_style table and DeePMD-kit's compressed models
/// tabulate for the same reason). G_sa and G_sa' are each a polynomial of degree 7 on every interval
/// of a grid over [kMinDistance, cutoff) (interpolation at Chebyshev nodes), with grid points at the
/// octaves kMinDistance * 2^k and wherever a function is not smooth (switching onset, core radius, a
/// shorter descriptor's cutoff). `build` gives each segment between those points the coarsest
/// uniform spacing (0.4 Å, halved as needed) at which the table matches the direct sum at 17 points
/// per interval to 1e-13 of the size of its terms (sum |A w_m|, resp. sum |A w_m'|), a few hundred
/// times the rounding of the direct sum. Pairs closer than kMinDistance use the direct sum.
///
/// Immutable and thread-safe.
class PairTable {
public:
    /// Pairs closer than this (Å) are summed directly (steep short-range functions need no table there).
    static constexpr double kMinDistance = 0.5;

    /// A pair-sum descriptor (pair_functions() = M > 0) whose S M invariants sit at columns
    /// [offset, offset + S M) of the model's rows.
    struct Part {
        std::shared_ptr<const Descriptor> descriptor;
        std::size_t offset;
    };

    /// The table of `parts` with the coefficients A_sf (S x F), or null when no grid of at most 4096
    /// intervals reaches the accuracy above (an infinite or huge cutoff, functions too steep).
    static std::shared_ptr<const PairTable> build(const std::vector<Part>& parts, const std::vector<double>& A_sf,
                                                  std::size_t n_features, std::size_t n_species);

    /// The largest cutoff of the parts (Å).
    double cutoff() const { return r_cut_; }
    const std::vector<Part>& parts() const { return parts_; }
    /// Doubles of working memory `add` needs.
    std::size_t work_size() const { return 2 * max_M_; }
    /// Largest grid spacing (Å) of the table (segments shorter than that have one interval).
    double spacing() const { return spacing_; }
    /// Intervals of the grid (each holds 2 x 8 coefficients per species pair).
    std::size_t intervals() const { return n_intervals_; }

    /// Adds sum_b G_sa'(r_b) u_b to force[0, 3) (eV/Å) over the `nb.count` neighbours of species a
    /// (within the cutoff) of an agent of species s, and returns sum_b G_sa(r_b) (eV; 0 without
    /// `want_loss`). `work` holds work_size() doubles.
    double add(std::size_t s, std::size_t a, const AgentEnvironment::Neighbours& nb, double* force, double* work,
               bool want_loss) const;

private:
    PairTable() = default;
    /// G_sa and G_sa' at distance r, directly from the descriptors' functions.
    void direct(std::size_t s, std::size_t a, double r, double& G, double& dG, double* work) const;
    template <bool kLoss>
    double sum(std::size_t s, std::size_t a, const AgentEnvironment::Neighbours& nb, double* force,
               double* work) const;
    double sum_force(std::size_t s, std::size_t a, const AgentEnvironment::Neighbours& nb, double* force,
                     double* work) const;
    double sum_with_loss(std::size_t s, std::size_t a, const AgentEnvironment::Neighbours& nb, double* force,
                         double* work) const;

    std::vector<Part> parts_;
    std::size_t S_ = 0, F_ = 0, max_M_ = 0, n_intervals_ = 0;
    std::vector<double> A_;                      // S x F, the model's
    std::vector<double> seg_start_, seg_inv_h_;  // segments of the grid (uniform inside)
    std::vector<std::size_t> seg_first_, seg_count_;
    // Coefficients of G' and of G: ((s S + a) n_intervals + i) * 8 + k, monomials in t in [-1, 1];
    // dG_ and G_ point into storage_ (64-byte aligned).
    std::vector<double> storage_;
    double *dG_ = nullptr, *G_ = nullptr;
    double r_cut_ = 0.0, spacing_ = 0.0;
};

}  // namespace mldyn
