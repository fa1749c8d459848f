#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mldyn/cell.hpp"
#include "mldyn/threads.hpp"

namespace mldyn {

/// How pairs within the cutoff are found.
///  - AllPairs: every other atom is a candidate partner, O(N²); the reference path.
///  - CellList: a Verlet list of candidate pairs within cutoff + skin, built with a
///    cell list (atoms binned in fractional coordinates, bins at least (cutoff + skin) / 2
///    wide, bins up to two away tested): O(N) at fixed cutoff. The list is kept
///    while no atom has moved more than skin/2 since it was built (MD reuses it for
///    many steps); each use recomputes every minimum-image distance from the current
///    positions, and a row's candidates are in ascending order as with AllPairs, so results
///    do not depend on when the list was built and both methods agree bit for bit.
///  - Auto: CellList when it pays off (at least 1000 atoms and three times cutoff + skin
///    across every periodic axis), AllPairs otherwise.
enum class NeighbourMethod { Auto, AllPairs, CellList };

NeighbourMethod parse_neighbour_method(const std::string& name);

/// Candidate partners of every atom for pairs within the cutoff (Å). Both methods give
/// supersets of the pairs with |d| < cutoff, d = minimum_image(q_j - q_i); callers compute
/// d with `Cell::minimum_image` and filter, so both agree bit for bit on which pairs are in.
class PairFinder {
public:
    /// Prepares the search for `n` atoms with positions `positions_nc` (n x 3, Å) and species
    /// ids `species_n` (n, in [0, n_species); candidates are grouped by species).
    /// `cutoff` in Å may be +inf only for AllPairs (or Auto, which then picks AllPairs).
    void build(const Cell& cell, const double* positions_nc, const int* species_n, int n_species, std::size_t n,
               double cutoff, NeighbourMethod method);

    /// The method actually used by the last `build`.
    NeighbourMethod method() const { return method_; }

    /// Verlet skin (Å) of the cell-list method; 0 rebuilds the list at every call.
    void set_skin(double skin) { skin_ = skin; list_valid_ = false; }
    double skin() const { return skin_; }
    /// How many times the Verlet list has been (re)built.
    long list_builds() const { return list_builds_; }

    /// Calls f(i, js, seg) once for every atom i with all its candidate partners j != i, grouped
    /// by species: those of species a are js[seg[a]] .. js[seg[a + 1] - 1] (ascending j). They
    /// still need the distance check against the cutoff. A full neighbour list: every pair is
    /// seen from both sides. Rows are distributed over the threads of the enclosing parallel
    /// region (or run serially outside one).
    template <class F>
    void for_each_row(F&& f) const;

    const Cell& cell() const { return *cell_; }
    double cutoff() const { return cutoff_; }

private:
    const Cell* cell_ = nullptr;
    const double* positions_ = nullptr;
    const int* species_ = nullptr;
    std::size_t n_ = 0;
    double cutoff_ = 0.0;
    bool periodic_ = false;
    std::size_t n_species_ = 1;
    NeighbourMethod method_ = NeighbourMethod::AllPairs;

    bool list_still_valid(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                          double cutoff) const;
    void build_verlet_list(const Cell& cell, const double* positions_nc, std::size_t n, double list_cutoff);
    struct RowScratch;
    void verlet_row(std::size_t row, const Cell& cell, double list_cutoff, RowScratch& scratch,
                    std::vector<std::uint32_t>& part);
    // Positions in (species, bin) order, structure of arrays (for building the Verlet list).
    std::vector<double> sorted_x_, sorted_y_, sorted_z_;

    // Cell list (used to build the Verlet list): atoms sorted by species and bin (CSR
    // layout, group g = species * n_bins + bin) and, per bin, the unique neighbouring bins
    // (itself included) as runs of consecutive bins [first, last + 1): for one species each
    // run is one contiguous range of atoms.
    std::size_t n_bins_ = 0;
    std::vector<std::size_t> bin_start_;     // S * n_bins + 1
    std::vector<std::size_t> bin_atoms_;     // n, atom ids grouped by (species, bin)
    std::vector<std::size_t> atom_bin_;      // n
    std::vector<std::size_t> nbr_start_;     // n_bins + 1, offsets into nbr_bins_
    std::vector<std::size_t> nbr_bins_;      // pairs (first, last + 1) of neighbouring bin runs
    std::array<std::size_t, 3> stencil_grid_{};  // the bin grid nbr_* were built for
    bool stencil_periodic_ = false;

    // All pairs: atom ids grouped by species (ascending within a species), species a at
    // by_species_[species_start_[a]] ..
    std::vector<std::uint32_t> by_species_;
    std::vector<std::size_t> species_start_;
    std::vector<std::size_t> rank_in_species_;  // position of each atom in by_species_

    // Verlet list: row k is atom bin_atoms_[k] (spatial order); its candidates j != i are in
    // list_parts_[list_part_[k]] from list_start_[k], grouped by species with offsets
    // list_seg_[k * (S + 1) + a] from the row start. One part per building thread, kept
    // (with its capacity) from build to build.
    double skin_ = 1.0;
    bool list_valid_ = false;
    long list_builds_ = 0;
    std::vector<std::size_t> list_start_;    // n
    std::vector<std::uint16_t> list_part_;   // n
    std::vector<std::vector<std::uint32_t>> list_parts_;
    std::vector<std::size_t> list_seg_;
    std::vector<int> list_species_;         // species when the list was built
    std::vector<double> list_positions_;     // positions when the list was built
    Mat3 list_cell_{};
    bool list_periodic_ = false;
    double list_cutoff_ = 0.0;
};

template <class F>
void PairFinder::for_each_row(F&& f) const {
    const long n = static_cast<long>(n_);
    const std::size_t S = n_species_;
    // Rows are independent (each writes only its own atom), so a dynamic schedule
    // balances uneven rows without affecting the results.
    if (method_ == NeighbourMethod::AllPairs) {
        std::vector<std::uint32_t> js(n_);
        std::vector<std::size_t> seg(S + 1);
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(dynamic, 4)
#endif
        for (long i = 0; i < n; ++i) {
            // by_species_ without atom i itself: two copies around its position.
            const std::size_t skip = rank_in_species_[static_cast<std::size_t>(i)];
            std::copy(by_species_.begin(), by_species_.begin() + static_cast<long>(skip), js.begin());
            std::copy(by_species_.begin() + static_cast<long>(skip) + 1, by_species_.end(),
                      js.begin() + static_cast<long>(skip));
            for (std::size_t a = 0; a <= S; ++a) seg[a] = species_start_[a] - (species_start_[a] > skip ? 1 : 0);
            f(static_cast<std::size_t>(i), js.data(), seg.data());
        }
        return;
    }
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(dynamic, 16)
#endif
    for (long k = 0; k < n; ++k) {
        const std::size_t row = static_cast<std::size_t>(k);
        f(bin_atoms_[row], list_parts_[list_part_[row]].data() + list_start_[row], list_seg_.data() + row * (S + 1));
    }
}

}  // namespace mldyn
