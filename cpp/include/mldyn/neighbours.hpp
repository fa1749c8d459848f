#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mldyn/cell.hpp"
#include "mldyn/threads.hpp"

namespace mldyn {

/// How pairs within the cutoff are found.
///  - AllPairs: every i < j pair is tested, O(N²); the reference path.
///  - CellList: a Verlet list of candidate pairs within cutoff + skin, built with a
///    cell list (atoms binned in fractional coordinates, bins at least cutoff + skin
///    wide, only neighbouring bins tested): O(N) at fixed cutoff. The list is kept
///    while no atom has moved more than skin/2 since it was built (MD reuses it for
///    many steps); each use recomputes every minimum-image distance from the current
///    positions, so results do not depend on when the list was built.
///  - Auto: CellList when it pays off (enough atoms and at least 3 bins along
///    every periodic axis), AllPairs otherwise.
enum class NeighbourMethod { Auto, AllPairs, CellList };

NeighbourMethod parse_neighbour_method(const std::string& name);

/// Enumerates each unordered pair {i, j} with |d| < cutoff exactly once, where
/// d = minimum_image(q_j - q_i) in Å. Both methods compute d with the same
/// `Cell::minimum_image`, so they agree bit for bit on which pairs are inside.
///
/// `for_each_pair` must be called from inside an OpenMP parallel region (or
/// serially); the outer loop is distributed with a static schedule, so the
/// order in which a thread sees pairs depends only on the thread count.
class PairFinder {
public:
    /// Prepares the search for `n` atoms with positions `positions_nc` (n x 3, Å).
    /// `cutoff` in Å may be +inf only for AllPairs (or Auto, which then picks AllPairs).
    void build(const Cell& cell, const double* positions_nc, std::size_t n, double cutoff,
               NeighbourMethod method);

    /// The method actually used by the last `build`.
    NeighbourMethod method() const { return method_; }

    /// Verlet skin (Å) of the cell-list method; 0 rebuilds the list at every call.
    void set_skin(double skin) { skin_ = skin; list_valid_ = false; }
    double skin() const { return skin_; }
    /// How many times the Verlet list has been (re)built.
    long list_builds() const { return list_builds_; }

    /// Calls f(thread, i, j, d, r2) for every pair (i < j) with r2 = |d|² < cutoff².
    template <class F>
    void for_each_pair(F&& f) const;

    /// Calls f(i, js, count) for every atom i with its candidate partners j > i
    /// (`count` of them at `js`; they still need the distance check against the cutoff).
    /// Rows are distributed over the threads of the enclosing parallel region with a
    /// static schedule. Candidates of all-pairs rows are passed in chunks of at most 1024.
    template <class F>
    void for_each_row(F&& f) const;

    const Cell& cell() const { return *cell_; }
    double cutoff() const { return cutoff_; }

private:
    template <class F>
    void visit(std::size_t i, std::size_t j, int thread, F& f) const {
        const double* qi = positions_ + 3 * i;
        const double* qj = positions_ + 3 * j;
        Vec3 d{qj[0] - qi[0], qj[1] - qi[1], qj[2] - qi[2]};
        if (periodic_) d = cell_->minimum_image(d, cutoff_);
        const double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        if (r2 < cutoff2_) f(thread, i, j, d, r2);
    }

    const Cell* cell_ = nullptr;
    const double* positions_ = nullptr;
    std::size_t n_ = 0;
    double cutoff_ = 0.0, cutoff2_ = 0.0;
    bool periodic_ = false;
    NeighbourMethod method_ = NeighbourMethod::AllPairs;

    bool list_still_valid(const Cell& cell, const double* positions_nc, std::size_t n, double cutoff) const;
    void build_verlet_list(const Cell& cell, const double* positions_nc, std::size_t n, double list_cutoff);

    // Cell list (used to build the Verlet list): atoms sorted by bin (CSR layout) and,
    // per bin, the unique neighbouring bins (itself included).
    std::vector<std::size_t> bin_start_;     // n_bins + 1
    std::vector<std::size_t> bin_atoms_;     // n, atom ids grouped by bin
    std::vector<std::size_t> atom_bin_;      // n
    std::vector<std::size_t> nbr_start_;     // n_bins + 1
    std::vector<std::size_t> nbr_bins_;      // neighbouring bin ids

    // Verlet list: for atom i (in `list_order_`), candidates j > i in list_j_[list_start_[k]..).
    double skin_ = 1.0;
    bool list_valid_ = false;
    long list_builds_ = 0;
    std::vector<std::size_t> list_order_;    // n, atoms in bin order (spatial locality)
    std::vector<std::size_t> list_start_;    // n + 1
    std::vector<std::uint32_t> list_j_;
    std::vector<double> list_positions_;     // positions when the list was built
    Mat3 list_cell_{};
    bool list_periodic_ = false;
    double list_cutoff_ = 0.0;
};

template <class F>
void PairFinder::for_each_pair(F&& f) const {
    const int thread = current_thread();
    const long n = static_cast<long>(n_);
    if (method_ == NeighbourMethod::AllPairs) {
        // Cyclic static schedule balances the triangular loop and is deterministic.
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(static, 1)
#endif
        for (long i = 0; i < n; ++i)
            for (std::size_t j = static_cast<std::size_t>(i) + 1; j < n_; ++j)
                visit(static_cast<std::size_t>(i), j, thread, f);
        return;
    }
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(static, 16)
#endif
    for (long k = 0; k < n; ++k) {
        const std::size_t i = list_order_[static_cast<std::size_t>(k)];
        for (std::size_t p = list_start_[static_cast<std::size_t>(k)]; p < list_start_[static_cast<std::size_t>(k) + 1];
             ++p)
            visit(i, list_j_[p], thread, f);
    }
}

template <class F>
void PairFinder::for_each_row(F&& f) const {
    const long n = static_cast<long>(n_);
    if (method_ == NeighbourMethod::AllPairs) {
        std::uint32_t js[1024];
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(static, 1)
#endif
        for (long i = 0; i < n; ++i) {
            for (std::size_t start = static_cast<std::size_t>(i) + 1; start < n_; start += 1024) {
                const std::size_t count = std::min<std::size_t>(1024, n_ - start);
                for (std::size_t c = 0; c < count; ++c) js[c] = static_cast<std::uint32_t>(start + c);
                f(static_cast<std::size_t>(i), js, count);
            }
        }
        return;
    }
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(static, 16)
#endif
    for (long k = 0; k < n; ++k) {
        const std::size_t row = static_cast<std::size_t>(k);
        f(list_order_[row], list_j_.data() + list_start_[row], list_start_[row + 1] - list_start_[row]);
    }
}

}  // namespace mldyn
