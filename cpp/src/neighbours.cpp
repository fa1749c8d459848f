#include "mldyn/neighbours.hpp"

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
}  // namespace

bool PairFinder::list_still_valid(const Cell& cell, const double* positions_nc, std::size_t n, double cutoff) const {
    if (!list_valid_ || n != list_order_.size() || cutoff != list_cutoff_ || cell.periodic() != list_periodic_ ||
        (cell.periodic() && cell.vectors() != list_cell_))
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

void PairFinder::build(const Cell& cell, const double* positions_nc, std::size_t n, double cutoff,
                       NeighbourMethod method) {
    cell_ = &cell;
    positions_ = positions_nc;
    n_ = n;
    cutoff_ = cutoff;
    cutoff2_ = cutoff * cutoff;
    periodic_ = cell.periodic();
    if (method == NeighbourMethod::CellList && std::isfinite(cutoff) &&
        list_still_valid(cell, positions_nc, n, cutoff)) {
        method_ = NeighbourMethod::CellList;
        return;
    }
    list_valid_ = false;
    const double list_cutoff = cutoff + skin_;

    // Bins per axis, each at least one cutoff wide (perpendicular width for periodic cells).
    std::array<std::size_t, 3> nbins{1, 1, 1};
    Vec3 lo{0, 0, 0}, extent{1, 1, 1};
    const bool finite_cutoff = std::isfinite(cutoff);
    if (finite_cutoff) {
        if (periodic_) {
            for (int a = 0; a < 3; ++a)
                nbins[a] = std::max<std::size_t>(1, static_cast<std::size_t>(cell.widths()[a] / list_cutoff));
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
                nbins[a] = std::max<std::size_t>(1, static_cast<std::size_t>(extent[a] / list_cutoff));
                if (!(extent[a] > 0.0)) extent[a] = 1.0;
            }
        }
    }

    // A sparse isolated system (atoms far apart compared with the cutoff) would get
    // more bins than atoms; widen the bins (never below one cutoff) to keep memory O(n).
    const double max_bins = std::max(27.0, 8.0 * static_cast<double>(n));
    const double total = static_cast<double>(nbins[0]) * nbins[1] * nbins[2];
    if (total > max_bins) {
        const double shrink = std::cbrt(total / max_bins);
        for (auto& b : nbins) b = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(b) / shrink));
    }

    if (method == NeighbourMethod::Auto) {
        const bool many_bins = periodic_ ? (nbins[0] >= 3 && nbins[1] >= 3 && nbins[2] >= 3)
                                         : nbins[0] * nbins[1] * nbins[2] >= 27;
        method = (finite_cutoff && many_bins && n >= kCellListMinAtoms) ? NeighbourMethod::CellList
                                                                         : NeighbourMethod::AllPairs;
    }
    if (method == NeighbourMethod::CellList && !finite_cutoff)
        throw std::invalid_argument("neighbours: the cell list needs a finite cutoff");
    method_ = method;
    if (method_ == NeighbourMethod::AllPairs) return;

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
    // Counting sort into CSR order (stable: atoms keep index order inside a bin).
    bin_start_.assign(n_bins + 1, 0);
    for (std::size_t i = 0; i < n; ++i) ++bin_start_[atom_bin_[i] + 1];
    for (std::size_t b = 0; b < n_bins; ++b) bin_start_[b + 1] += bin_start_[b];
    bin_atoms_.assign(n, 0);
    std::vector<std::size_t> fill(bin_start_.begin(), bin_start_.end() - 1);
    for (std::size_t i = 0; i < n; ++i) bin_atoms_[fill[atom_bin_[i]]++] = i;

    // Unique neighbouring bins; with fewer than 3 bins along a periodic axis the
    // offsets -1 and +1 land on the same bin, which must be visited once.
    nbr_start_.assign(n_bins + 1, 0);
    nbr_bins_.clear();
    std::vector<std::size_t> local;
    for (std::size_t x = 0; x < nbins[0]; ++x)
        for (std::size_t y = 0; y < nbins[1]; ++y)
            for (std::size_t z = 0; z < nbins[2]; ++z) {
                local.clear();
                const std::array<std::size_t, 3> home{x, y, z};
                for (int dx = -1; dx <= 1; ++dx)
                    for (int dy = -1; dy <= 1; ++dy)
                        for (int dz = -1; dz <= 1; ++dz) {
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
                nbr_bins_.insert(nbr_bins_.end(), local.begin(), local.end());
                nbr_start_[bin_of_index(x, y, z) + 1] = nbr_bins_.size();
            }
    build_verlet_list(cell, positions_nc, n, list_cutoff);
}

void PairFinder::build_verlet_list(const Cell& cell, const double* positions_nc, std::size_t n, double list_cutoff) {
    if (n > std::numeric_limits<std::uint32_t>::max())
        throw std::invalid_argument("neighbours: the cell list handles at most 2^32 - 1 atoms");
    const double list_cutoff2 = list_cutoff * list_cutoff;
    list_order_ = bin_atoms_;
    // Candidates of each atom (in bin order), found per thread in static chunks and
    // concatenated in order, so the list is the same whatever the thread count.
    const int n_threads = threads_for_atoms(n);
    std::vector<std::vector<std::uint32_t>> found(static_cast<std::size_t>(n_threads));
    std::vector<std::size_t> count(n, 0);
    const long nl = static_cast<long>(n);
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp parallel num_threads(n_threads)
#endif
    {
        std::vector<std::uint32_t>& mine = found[static_cast<std::size_t>(current_thread())];
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(static)
#endif
        for (long k = 0; k < nl; ++k) {
            const std::size_t i = list_order_[static_cast<std::size_t>(k)];
            const double* qi = positions_nc + 3 * i;
            const std::size_t b = atom_bin_[i];
            const std::size_t before = mine.size();
            for (std::size_t nb = nbr_start_[b]; nb < nbr_start_[b + 1]; ++nb) {
                const std::size_t other = nbr_bins_[nb];
                for (std::size_t s = bin_start_[other]; s < bin_start_[other + 1]; ++s) {
                    const std::size_t j = bin_atoms_[s];
                    if (j <= i) continue;
                    const double* qj = positions_nc + 3 * j;
                    Vec3 d{qj[0] - qi[0], qj[1] - qi[1], qj[2] - qi[2]};
                    if (cell.periodic()) d = cell.minimum_image(d, list_cutoff);
                    if (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] < list_cutoff2)
                        mine.push_back(static_cast<std::uint32_t>(j));
                }
            }
            // Ascending j within a row: memory order, and independent of bin layout.
            std::sort(mine.begin() + static_cast<long>(before), mine.end());
            count[static_cast<std::size_t>(k)] = mine.size() - before;
        }
    }
    list_start_.assign(n + 1, 0);
    for (std::size_t k = 0; k < n; ++k) list_start_[k + 1] = list_start_[k] + count[k];
    list_j_.clear();
    list_j_.reserve(list_start_[n]);
    for (const auto& part : found) list_j_.insert(list_j_.end(), part.begin(), part.end());
    list_positions_.assign(positions_nc, positions_nc + 3 * n);
    list_cell_ = cell.vectors();
    list_periodic_ = cell.periodic();
    list_cutoff_ = cutoff_;
    list_valid_ = true;
    ++list_builds_;
}

}  // namespace mldyn
