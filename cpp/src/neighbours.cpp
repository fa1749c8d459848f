#include "mldyn/neighbours.hpp"

#include "detail/pair_filter.hpp"
#include "detail/separations.hpp"
#include "detail/simd.hpp"
#include "mldyn/threads.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace mldyn {

NeighbourMethod parse_neighbour_method(const std::string& name) {
    if (name == "auto") return NeighbourMethod::Auto;
    if (name == "all_pairs" || name == "all-pairs") return NeighbourMethod::AllPairs;
    if (name == "cell_list" || name == "cell-list") return NeighbourMethod::CellList;
    throw std::invalid_argument("neighbours: unknown method '" + name +
                                "' (expected 'auto', 'all_pairs' or 'cell_list')");
}

namespace {
// Below this many atoms the all-pairs loop is as fast as binning (measured in
// benchmarks/bench_forces.py on the 384-atom water box).
constexpr std::size_t kCellListMinAtoms = 1000;
// Bins are a half (cutoff + skin) wide and partners are searched 2 bins away: a 5x5x5
// stencil tests about 40% fewer candidates than 3x3x3 bins of a full cutoff.
constexpr int kReach = 2;
}  // namespace

bool PairFinder::list_still_valid(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                                  double cutoff) const {
    if (!list_valid_ || n != bin_atoms_.size() || cutoff != list_cutoff_ || cell.periodic() != list_periodic_ ||
        (cell.periodic() && cell.vectors() != list_cell_) || !std::equal(species_n, species_n + n, list_species_.begin()))
        return false;
    // Valid while no atom has moved more than skin/2 since the build.
    const double limit2 = 0.25 * skin_ * skin_;
    for (std::size_t x = 0; x < n; ++x) {
        const double dx = positions_nc[3 * x] - list_positions_[3 * x];
        const double dy = positions_nc[3 * x + 1] - list_positions_[3 * x + 1];
        const double dz = positions_nc[3 * x + 2] - list_positions_[3 * x + 2];
        if (dx * dx + dy * dy + dz * dz > limit2) return false;
    }
    return true;
}

void PairFinder::build(const Cell& cell, const double* positions_nc, const int* species_n, int n_species,
                       std::size_t n, double cutoff, NeighbourMethod method) {
    if (n >= std::numeric_limits<std::uint32_t>::max())
        throw std::invalid_argument("neighbours: at most 2^32 - 2 atoms are supported");
    cell_ = &cell;
    positions_ = positions_nc;
    species_ = species_n;
    n_species_ = static_cast<std::size_t>(n_species);
    n_ = n;
    cutoff_ = cutoff;
    periodic_ = cell.periodic();
    if (method == NeighbourMethod::CellList && std::isfinite(cutoff) &&
        list_still_valid(cell, positions_nc, species_n, n, cutoff)) {
        method_ = NeighbourMethod::CellList;
        return;
    }
    list_valid_ = false;
    const double list_cutoff = cutoff + skin_;

    // Bins per axis, each at least (cutoff + skin) / kReach wide (perpendicular width for
    // periodic cells), so that partners lie within kReach bins along every axis.
    std::array<std::size_t, 3> nbins{1, 1, 1};
    Vec3 lo{0, 0, 0}, extent{1, 1, 1};
    const bool finite_cutoff = std::isfinite(cutoff);
    if (finite_cutoff) {
        if (periodic_) {
            for (int a = 0; a < 3; ++a)
                nbins[a] = std::max<std::size_t>(1, static_cast<std::size_t>(cell.widths()[a] * kReach / list_cutoff));
        } else if (n > 0) {
            Vec3 hi{};
            for (int a = 0; a < 3; ++a) lo[a] = hi[a] = positions_nc[a];
            for (std::size_t i = 0; i < n; ++i)
                for (int a = 0; a < 3; ++a) {
                    lo[a] = std::min(lo[a], positions_nc[3 * i + a]);
                    hi[a] = std::max(hi[a], positions_nc[3 * i + a]);
                }
            for (int a = 0; a < 3; ++a) {
                extent[a] = hi[a] - lo[a];
                nbins[a] = std::max<std::size_t>(1, static_cast<std::size_t>(extent[a] * kReach / list_cutoff));
                if (!(extent[a] > 0.0)) extent[a] = 1.0;
            }
        }
    }

    // A sparse isolated system (atoms far apart compared with the cutoff) would get
    // more bins than atoms; widen the bins (never narrower) to keep memory O(n).
    const double max_bins = std::max(27.0, 8.0 * static_cast<double>(n));
    const double total = static_cast<double>(nbins[0]) * nbins[1] * nbins[2];
    if (total > max_bins) {
        const double shrink = std::cbrt(total / max_bins);
        for (auto& b : nbins) b = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(b) / shrink));
    }

    if (method == NeighbourMethod::Auto) {
        // At least three list cutoffs across every axis.
        const std::size_t three = 3 * kReach;
        const bool many_bins = periodic_ ? (nbins[0] >= three && nbins[1] >= three && nbins[2] >= three)
                                         : nbins[0] * nbins[1] * nbins[2] >= three * three * three;
        method = (finite_cutoff && many_bins && n >= kCellListMinAtoms) ? NeighbourMethod::CellList
                                                                         : NeighbourMethod::AllPairs;
    }
    if (method == NeighbourMethod::CellList && !finite_cutoff)
        throw std::invalid_argument("neighbours: the cell list needs a finite cutoff");
    method_ = method;
    if (method_ == NeighbourMethod::AllPairs) {
        // Atom ids grouped by species (counting sort, ascending within a species).
        species_start_.assign(n_species_ + 1, 0);
        for (std::size_t i = 0; i < n; ++i) ++species_start_[static_cast<std::size_t>(species_n[i]) + 1];
        for (std::size_t a = 0; a < n_species_; ++a) species_start_[a + 1] += species_start_[a];
        by_species_.resize(n);
        std::vector<std::size_t> next(species_start_.begin(), species_start_.end() - 1);
        rank_in_species_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            rank_in_species_[i] = next[static_cast<std::size_t>(species_n[i])]++;
            by_species_[rank_in_species_[i]] = static_cast<std::uint32_t>(i);
        }
        return;
    }

    const std::size_t n_bins = nbins[0] * nbins[1] * nbins[2];
    auto bin_of_index = [&](std::size_t x, std::size_t y, std::size_t z) {
        return (x * nbins[1] + y) * nbins[2] + z;
    };

    // Bin every atom; periodic positions are wrapped into the home cell first.
    atom_bin_.assign(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const Vec3 r{positions_nc[3 * i], positions_nc[3 * i + 1], positions_nc[3 * i + 2]};
        const Vec3 frac = periodic_ ? cell.to_fractional(r) : Vec3{};
        std::array<std::size_t, 3> idx{};
        for (int a = 0; a < 3; ++a) {
            const double s = periodic_ ? frac[a] - std::floor(frac[a]) : (r[a] - lo[a]) / extent[a];
            const long k = static_cast<long>(s * static_cast<double>(nbins[a]));
            idx[a] = static_cast<std::size_t>(std::clamp<long>(k, 0, static_cast<long>(nbins[a]) - 1));
        }
        atom_bin_[i] = bin_of_index(idx[0], idx[1], idx[2]);
    }
    // Counting sort by (species, bin) into CSR order (stable: ascending ids inside a group),
    // so that for one species consecutive bins are consecutive ranges of atoms.
    const std::size_t S = n_species_;
    bin_start_.assign(S * n_bins + 1, 0);
    auto group_of = [&](std::size_t i) { return static_cast<std::size_t>(species_n[i]) * n_bins + atom_bin_[i]; };
    for (std::size_t i = 0; i < n; ++i) ++bin_start_[group_of(i) + 1];
    for (std::size_t g = 0; g < S * n_bins; ++g) bin_start_[g + 1] += bin_start_[g];
    bin_atoms_.assign(n, 0);
    std::vector<std::size_t> fill(bin_start_.begin(), bin_start_.end() - 1);
    for (std::size_t i = 0; i < n; ++i) bin_atoms_[fill[group_of(i)]++] = i;
    n_bins_ = n_bins;

    // Unique neighbouring bins; with fewer than 2 kReach + 1 bins along a periodic axis
    // different offsets land on the same bin, which must be visited once. The table depends
    // only on the bin grid, so it is kept while the grid is the same.
    if (nbins != stencil_grid_ || periodic_ != stencil_periodic_ || nbr_start_.size() != n_bins + 1) {
        stencil_grid_ = nbins;
        stencil_periodic_ = periodic_;
        nbr_start_.assign(n_bins + 1, 0);
        nbr_bins_.clear();
        std::vector<std::size_t> local;
        for (std::size_t x = 0; x < nbins[0]; ++x)
            for (std::size_t y = 0; y < nbins[1]; ++y)
                for (std::size_t z = 0; z < nbins[2]; ++z) {
                    local.clear();
                    const std::array<std::size_t, 3> home{x, y, z};
                    for (int dx = -kReach; dx <= kReach; ++dx)
                        for (int dy = -kReach; dy <= kReach; ++dy)
                            for (int dz = -kReach; dz <= kReach; ++dz) {
                                const std::array<int, 3> off{dx, dy, dz};
                                std::array<std::size_t, 3> t{};
                                bool inside = true;
                                for (int a = 0; a < 3; ++a) {
                                    long k = static_cast<long>(home[a]) + off[a];
                                    const long nb = static_cast<long>(nbins[a]);
                                    if (periodic_) k = ((k % nb) + nb) % nb;
                                    else if (k < 0 || k >= nb) inside = false;
                                    t[a] = static_cast<std::size_t>(k);
                                }
                                if (inside) local.push_back(bin_of_index(t[0], t[1], t[2]));
                            }
                    std::sort(local.begin(), local.end());
                    local.erase(std::unique(local.begin(), local.end()), local.end());
                    // As runs of consecutive bins [first, last + 1) (columns along the last axis).
                    for (std::size_t k = 0; k < local.size(); ++k) {
                        if (k == 0 || local[k] != local[k - 1] + 1) nbr_bins_.push_back(local[k]);
                        if (k + 1 == local.size() || local[k + 1] != local[k] + 1) nbr_bins_.push_back(local[k] + 1);
                    }
                    nbr_start_[bin_of_index(x, y, z) + 1] = nbr_bins_.size();
                }
    }
    build_verlet_list(cell, positions_nc, n, list_cutoff);
}

/// One thread's buffers for Verlet rows: squared distances and sorted positions of all the
/// candidates of one species, and which of them are inside the list cutoff.
struct PairFinder::RowScratch {
    explicit RowScratch(std::size_t max_groups) : offset(max_groups + 1), first(max_groups) {}
    std::vector<double> r2;
    std::vector<std::size_t> offset, first;  // per group: start in r2, start in (species, bin) order
    std::vector<std::uint32_t> inside;
};

MLDYN_MULTIVERSION void PairFinder::verlet_row(std::size_t row, const Cell& cell, double list_cutoff,
                                               RowScratch& scratch, std::vector<std::uint32_t>& part) {
    const std::size_t S = n_species_, i = bin_atoms_[row], b = atom_bin_[i];
    const double xi = sorted_x_[row], yi = sorted_y_[row], zi = sorted_z_[row];
    const double list_cutoff2 = list_cutoff * list_cutoff;
    const std::size_t row_begin = part.size();
    std::size_t* seg = list_seg_.data() + row * (S + 1);
    for (std::size_t a = 0; a < S; ++a) {
        seg[a] = part.size() - row_begin;
        // Squared distances to every atom of species a in the neighbouring bins, in one buffer;
        // group k of the buffer starts at offset[k] and at sorted position first[k].
        std::size_t m = 0, groups = 0;
        for (std::size_t nb = nbr_start_[b]; nb < nbr_start_[b + 1]; nb += 2) {
            const std::size_t start = bin_start_[a * n_bins_ + nbr_bins_[nb]];
            const std::size_t len = bin_start_[a * n_bins_ + nbr_bins_[nb + 1]] - start;
            if (len == 0) continue;
            if (scratch.r2.size() < m + len) scratch.r2.resize(2 * (m + len));
            scratch.offset[groups] = m;
            scratch.first[groups++] = start;
            double* d2 = scratch.r2.data() + m;
            const double origin[3] = {xi, yi, zi};
            detail::separations<1, false, false>(cell, list_cutoff, origin, sorted_x_.data() + start,
                                                 sorted_y_.data() + start, sorted_z_.data() + start, nullptr, len,
                                                 nullptr, nullptr, nullptr, d2);
            if (row >= start && row < start + len) d2[row - start] = -1.0;  // not its own partner
            m += len;
        }
        scratch.offset[groups] = m;
        if (scratch.inside.size() < m + 16) scratch.inside.resize(2 * m + 16);
        bool coincident = false;
        const std::size_t kept = detail::compact_inside(scratch.r2.data(), m, list_cutoff2, scratch.inside.data(),
                                                        coincident);
        const std::size_t old = part.size();
        part.resize(old + kept);
        std::uint32_t* out = part.data() + old;
        // Kept buffer positions ascend: walk the groups alongside to find their atoms.
        for (std::size_t t = 0, k = 0; t < kept; ++t) {
            const std::size_t p = scratch.inside[t];
            while (p >= scratch.offset[k + 1]) ++k;
            out[t] = static_cast<std::uint32_t>(bin_atoms_[scratch.first[k] + (p - scratch.offset[k])]);
        }
        // Atoms at the same position are kept, so that the invariants report them.
        if (coincident)
            for (std::size_t k = 0; k < groups; ++k)
                for (std::size_t p = scratch.offset[k]; p < scratch.offset[k + 1]; ++p)
                    if (scratch.r2[p] == 0.0)
                        part.push_back(static_cast<std::uint32_t>(bin_atoms_[scratch.first[k] + (p - scratch.offset[k])]));
        // Ascending ids, as the all-pairs search gives them: an agent's neighbours then come in the
        // same order whenever the list was built, so its sums (and forces) depend on the positions
        // alone, not on the history of calls, and both methods agree bit for bit.
        std::sort(part.begin() + static_cast<long>(row_begin + seg[a]), part.end());
    }
    seg[S] = part.size() - row_begin;
}

void PairFinder::build_verlet_list(const Cell& cell, const double* positions_nc, std::size_t n, double list_cutoff) {
    const std::size_t S = n_species_;
    sorted_x_.resize(n);
    sorted_y_.resize(n);
    sorted_z_.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
        const double* q = positions_nc + 3 * bin_atoms_[k];
        sorted_x_[k] = q[0];
        sorted_y_[k] = q[1];
        sorted_z_[k] = q[2];
    }
    // Rows in contiguous blocks, one per thread, each appended to that thread's part. A row's
    // candidates depend only on the row, so the list is the same whatever the thread count.
    const int n_threads = threads_for_atoms(n);
    if (list_parts_.size() < static_cast<std::size_t>(n_threads)) list_parts_.resize(static_cast<std::size_t>(n_threads));
    list_start_.resize(n);
    list_part_.resize(n);
    list_seg_.resize(n * (S + 1));
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp parallel num_threads(n_threads)
#endif
    {
        const std::size_t t = static_cast<std::size_t>(current_thread());
        std::vector<std::uint32_t>& part = list_parts_[t];
        part.clear();
        std::size_t max_groups = 0;
        for (std::size_t b = 0; b + 1 < nbr_start_.size(); ++b)
            max_groups = std::max(max_groups, (nbr_start_[b + 1] - nbr_start_[b]) / 2);
        RowScratch scratch(max_groups);
        const std::size_t T = static_cast<std::size_t>(n_threads);
        for (std::size_t row = t * n / T; row < (t + 1) * n / T; ++row) {
            list_start_[row] = part.size();
            list_part_[row] = static_cast<std::uint16_t>(t);
            verlet_row(row, cell, list_cutoff, scratch, part);
        }
    }
    list_positions_.assign(positions_nc, positions_nc + 3 * n);
    list_species_.assign(species_, species_ + n);
    list_cell_ = cell.vectors();
    list_periodic_ = cell.periodic();
    list_cutoff_ = cutoff_;
    list_valid_ = true;
    ++list_builds_;
}

}  // namespace mldyn
