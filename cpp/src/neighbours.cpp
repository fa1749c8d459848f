#include "mldyn/neighbours.hpp"

#include "mldyn/compaction.hpp"
#include "mldyn/simd_exp.hpp"

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

bool PairFinder::list_still_valid(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                                  double cutoff) const {
    if (!list_valid_ || n != list_order_.size() || cutoff != list_cutoff_ || cell.periodic() != list_periodic_ ||
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
    // Counting sort by (bin, species) into CSR order (stable: ascending ids inside a group).
    const std::size_t S = n_species_;
    bin_start_.assign(n_bins * S + 1, 0);
    for (std::size_t i = 0; i < n; ++i) ++bin_start_[atom_bin_[i] * S + static_cast<std::size_t>(species_n[i]) + 1];
    for (std::size_t g = 0; g < n_bins * S; ++g) bin_start_[g + 1] += bin_start_[g];
    bin_atoms_.assign(n, 0);
    std::vector<std::size_t> fill(bin_start_.begin(), bin_start_.end() - 1);
    for (std::size_t i = 0; i < n; ++i)
        bin_atoms_[fill[atom_bin_[i] * S + static_cast<std::size_t>(species_n[i])]++] = i;

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

namespace {
/// Squared minimum-image distances (Å²) from (xi, yi, zi) to `len` points in an orthorhombic
/// box with edges lx, ly, lz (Å).
MLDYN_MULTIVERSION void orthorhombic_distances2(const double* x, const double* y, const double* z, std::size_t len,
                                                double xi, double yi, double zi, double lx, double ly, double lz,
                                                double* d2) {
    const double ix = 1.0 / lx, iy = 1.0 / ly, iz = 1.0 / lz;
#pragma omp simd
    for (std::size_t c = 0; c < len; ++c) {
        double dx = x[c] - xi, dy = y[c] - yi, dz = z[c] - zi;
        dx -= lx * Cell::round_to_integer(dx * ix);
        dy -= ly * Cell::round_to_integer(dy * iy);
        dz -= lz * Cell::round_to_integer(dz * iz);
        d2[c] = dx * dx + dy * dy + dz * dz;
    }
}
}  // namespace

void PairFinder::build_verlet_list(const Cell& cell, const double* positions_nc, std::size_t n, double list_cutoff) {
    const double list_cutoff2 = list_cutoff * list_cutoff;
    const std::size_t S = n_species_;
    list_order_ = bin_atoms_;
    // Positions in (bin, species) order, as structure of arrays: each group is a contiguous
    // SIMD loop over its candidates.
    std::vector<double> xs(n), ys(n), zs(n);
    std::size_t largest = 0;
    for (std::size_t g = 0; g + 1 < bin_start_.size(); ++g) largest = std::max(largest, bin_start_[g + 1] - bin_start_[g]);
    for (std::size_t k = 0; k < n; ++k) {
        const double* q = positions_nc + 3 * bin_atoms_[k];
        xs[k] = q[0];
        ys[k] = q[1];
        zs[k] = q[2];
    }
    const bool orthorhombic = cell.periodic() && cell.orthorhombic();
    const double lx = cell.vectors()[0][0], ly = cell.vectors()[1][1], lz = cell.vectors()[2][2];
    // Candidates of each atom (rows in (bin, species) order), found per thread in contiguous
    // static blocks of rows and concatenated in order: the list does not depend on the thread count.
    const int n_threads = threads_for_atoms(n);
    std::vector<std::vector<std::uint32_t>> found(static_cast<std::size_t>(n_threads));
    std::vector<std::size_t> count(n, 0);
    list_seg_.assign(n * (S + 1), 0);
    const long nl = static_cast<long>(n);
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp parallel num_threads(n_threads)
#endif
    {
        std::vector<std::uint32_t>& mine = found[static_cast<std::size_t>(current_thread())];
        std::vector<double> r2(largest);
        std::vector<std::uint32_t> inside(largest + 16);
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(static)
#endif
        for (long k = 0; k < nl; ++k) {
            const std::size_t row = static_cast<std::size_t>(k), i = list_order_[row];
            const double xi = xs[row], yi = ys[row], zi = zs[row];
            const std::size_t b = atom_bin_[i];
            const std::size_t before = mine.size();
            std::size_t* seg = list_seg_.data() + row * (S + 1);
            for (std::size_t a = 0; a < S; ++a) {
                seg[a] = mine.size() - before;
                for (std::size_t nb = nbr_start_[b]; nb < nbr_start_[b + 1]; ++nb) {
                    const std::size_t g = nbr_bins_[nb] * S + a, start = bin_start_[g], len = bin_start_[g + 1] - start;
                    const double *x = xs.data() + start, *y = ys.data() + start, *z = zs.data() + start;
                    double* d2 = r2.data();
                    if (orthorhombic) {
                        orthorhombic_distances2(x, y, z, len, xi, yi, zi, lx, ly, lz, d2);
                    } else {
                        for (std::size_t c = 0; c < len; ++c) {
                            Vec3 d{x[c] - xi, y[c] - yi, z[c] - zi};
                            if (cell.periodic()) d = cell.minimum_image(d, list_cutoff);
                            d2[c] = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                        }
                    }
                    if (row >= start && row < start + len) d2[row - start] = -1.0;  // not its own partner
                    bool coincident = false;
                    const std::size_t kept = detail::compact_inside(d2, len, list_cutoff2, inside.data(), coincident);
                    for (std::size_t t = 0; t < kept; ++t)
                        mine.push_back(static_cast<std::uint32_t>(bin_atoms_[start + inside[t]]));
                    // Atoms at the same position are kept, so that the invariants report them.
                    if (coincident)
                        for (std::size_t c = 0; c < len; ++c)
                            if (d2[c] == 0.0) mine.push_back(static_cast<std::uint32_t>(bin_atoms_[start + c]));
                }
            }
            seg[S] = mine.size() - before;
            count[row] = mine.size() - before;
        }
    }
    list_start_.assign(n + 1, 0);
    for (std::size_t k = 0; k < n; ++k) list_start_[k + 1] = list_start_[k] + count[k];
    list_j_.clear();
    list_j_.reserve(list_start_[n]);
    for (const auto& part : found) list_j_.insert(list_j_.end(), part.begin(), part.end());
    list_positions_.assign(positions_nc, positions_nc + 3 * n);
    list_species_.assign(species_, species_ + n);
    list_cell_ = cell.vectors();
    list_periodic_ = cell.periodic();
    list_cutoff_ = cutoff_;
    list_valid_ = true;
    ++list_builds_;
}

}  // namespace mldyn
