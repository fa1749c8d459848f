#include "mldyn/invariants.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "mldyn/pair_filter.hpp"
#include "mldyn/simd.hpp"
#include "mldyn/simd_exp.hpp"
#include "mldyn/threads.hpp"

namespace mldyn {

void validate_configuration(const Cell& cell, const Basis& basis, const double* positions_nc,
                            const int* species_n, std::size_t n, int n_species) {
    if (n_species < 1) throw std::invalid_argument("invariants: n_species must be at least 1");
    for (std::size_t i = 0; i < n; ++i) {
        if (species_n[i] < 0 || species_n[i] >= n_species) {
            std::ostringstream msg;
            msg << "invariants: species id " << species_n[i] << " of atom " << i << " is out of range [0, "
                << n_species << ")";
            throw std::invalid_argument(msg.str());
        }
        for (int c = 0; c < 3; ++c)
            if (!std::isfinite(positions_nc[3 * i + c])) {
                std::ostringstream msg;
                msg << "invariants: position of atom " << i << " is not finite (NaN or inf)";
                throw std::invalid_argument(msg.str());
            }
    }
    if (cell.periodic() && basis.r_cut() > cell.max_cutoff() * (1.0 + 1e-12)) {
        std::ostringstream msg;
        msg.precision(10);
        msg << "invariants: cutoff " << basis.r_cut() << " Å is larger than half the smallest perpendicular "
            << "cell width (" << cell.max_cutoff() << " Å); the minimum-image convention needs cutoff <= "
            << cell.max_cutoff() << " Å";
        throw std::invalid_argument(msg.str());
    }
}

namespace detail {

/// The neighbours of one agent that belong to one species and lie within the cutoff
/// (structure of arrays, `count` used of `capacity`): separations d = q_j - q_i (Å, turned
/// into unit vectors by detail::pair_geometry), r² (then r) and 1/r, switching S and dS/dr,
/// and the weights w[m * capacity + b] (dw: their derivatives, for invariant gradients).
struct SpeciesRow {
    std::size_t count = 0, capacity = 0;
    std::vector<double> ux, uy, uz, r, inv_r, s, ds, w, dw;

    /// Sizes the per-neighbour arrays for `n` neighbours (padded to whole SIMD blocks) and
    /// M functions.
    void resize(std::size_t n, std::size_t M) {
        count = n;
        if (simd::padded(n) <= capacity) return;
        capacity = std::max<std::size_t>(64, simd::padded(2 * n));
        for (std::vector<double>* v : {&ux, &uy, &uz, &r, &inv_r, &s, &ds}) v->resize(capacity);
        w.resize(M * capacity);
        dw.resize(M * capacity);
    }
};

/// Separations d = q_j - q_i (minimum image, Å) and r² of the candidates of one species.
struct CandidateBuffer {
    std::vector<double> dx, dy, dz, r2;
    void resize(std::size_t n) {
        if (n <= r2.size()) return;
        for (std::vector<double>* v : {&dx, &dy, &dz, &r2}) v->resize(n);
    }
};

/// One thread's working set for one agent at a time.
struct RowBuffer {
    explicit RowBuffer(std::size_t n_species, std::size_t n_features, std::size_t n_functions)
        : species(n_species), grad(n_features), coef(2 * n_functions) {}
    std::vector<SpeciesRow> species;
    CandidateBuffer cand;
    std::vector<double> grad, coef;
};

}  // namespace detail

using detail::CandidateBuffer;
using simd::kLanes;
using detail::RowBuffer;
using detail::SpeciesRow;

InvariantCalculator::InvariantCalculator(Basis basis, int n_species)
    : basis_(std::move(basis)), n_species_(n_species) {
    if (n_species < 1) throw std::invalid_argument("invariants: n_species must be at least 1");
    // Functions grouped by family (exponential, Gaussian, power) for the force contraction.
    const std::size_t M = basis_.size();
    family_start_.assign(4, 0);
    for (std::size_t k = 0; k < 3; ++k) {
        for (std::size_t m = 0; m < M; ++m)
            if (static_cast<std::size_t>(basis_.functions()[m].kind) == k) by_family_.push_back(m);
        family_start_[k + 1] = by_family_.size();
    }
    for (std::size_t m = 0; m < M; ++m) factor_.push_back(basis_.derivative_factor(m));
}

InvariantCalculator::~InvariantCalculator() = default;

// Copies share nothing mutable: the working sets are per object and built on demand.
InvariantCalculator::InvariantCalculator(const InvariantCalculator& other)
    : basis_(other.basis_),
      n_species_(other.n_species_),
      by_family_(other.by_family_),
      family_start_(other.family_start_),
      factor_(other.factor_),
      pairs_(other.pairs_) {}

InvariantCalculator& InvariantCalculator::operator=(const InvariantCalculator& other) {
    if (this != &other) {
        basis_ = other.basis_;
        n_species_ = other.n_species_;
        by_family_ = other.by_family_;
        family_start_ = other.family_start_;
        factor_ = other.factor_;
        pairs_ = other.pairs_;
        rows_.clear();
    }
    return *this;
}

void InvariantCalculator::set_skin(double skin) {
    if (!(skin >= 0.0) || !std::isfinite(skin))
        throw std::invalid_argument("neighbours: the Verlet skin must be a finite number >= 0 (Å)");
    pairs_.set_skin(skin);
}

namespace {
/// Separations d = q_j - q_i (minimum image, Å) and r² of `count` candidates js of atom i, into `out`.
MLDYN_INLINE void separations(const Cell& cell, double cutoff, const double* q, std::size_t i,
                                    const std::uint32_t* js, std::size_t count, CandidateBuffer& out) {
    const double xi = q[3 * i], yi = q[3 * i + 1], zi = q[3 * i + 2];
    double *ox = out.dx.data(), *oy = out.dy.data(), *oz = out.dz.data(), *orr = out.r2.data();
    if (cell.periodic() && cell.orthorhombic()) {
        // Minimum image by rounding, in a SIMD loop (gathers of the partners' positions).
        const double lx = cell.vectors()[0][0], ly = cell.vectors()[1][1], lz = cell.vectors()[2][2];
        const double ix = 1.0 / lx, iy = 1.0 / ly, iz = 1.0 / lz;
#pragma omp simd
        for (std::size_t c = 0; c < count; ++c) {
            const std::size_t j = js[c];
            double dx = q[3 * j] - xi, dy = q[3 * j + 1] - yi, dz = q[3 * j + 2] - zi;
            dx -= lx * Cell::round_to_integer(dx * ix);
            dy -= ly * Cell::round_to_integer(dy * iy);
            dz -= lz * Cell::round_to_integer(dz * iz);
            ox[c] = dx;
            oy[c] = dy;
            oz[c] = dz;
            orr[c] = dx * dx + dy * dy + dz * dz;
        }
        return;
    }
    for (std::size_t c = 0; c < count; ++c) {
        const std::size_t j = js[c];
        Vec3 d{q[3 * j] - xi, q[3 * j + 1] - yi, q[3 * j + 2] - zi};
        d = cell.minimum_image(d, cutoff);  // identity for an isolated system
        ox[c] = d[0];
        oy[c] = d[1];
        oz[c] = d[2];
        orr[c] = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    }
}
}  // namespace

MLDYN_MULTIVERSION void InvariantCalculator::collect_row(std::size_t i, const std::uint32_t* js,
                                                         const std::size_t* seg, RowBuffer& row, std::size_t& bad_i,
                                                         std::size_t& bad_j) const {
    const double cutoff2 = basis_.r_cut() * basis_.r_cut();
    const std::size_t M = basis_.size();
    CandidateBuffer& cand = row.cand;
    for (std::size_t a = 0; a < row.species.size(); ++a) {
        const std::size_t n_cand = seg[a + 1] - seg[a];
        const std::uint32_t* ja = js + seg[a];
        cand.resize(n_cand);
        separations(pairs_.cell(), pairs_.cutoff(), positions_, i, ja, n_cand, cand);
        // The candidates inside the cutoff, compacted to the front of the species row.
        SpeciesRow& sr = row.species[a];
        sr.resize(n_cand + kLanes, M);
        double *x = sr.ux.data(), *y = sr.uy.data(), *z = sr.uz.data(), *rr = sr.r.data(), *ir = sr.inv_r.data();
        bool coincident = false;
        const std::size_t k = detail::compact_geometry(cand.dx.data(), cand.dy.data(), cand.dz.data(),
                                                       cand.r2.data(), n_cand, cutoff2, x, y, z, rr, coincident);
        sr.count = k;
        if (coincident)
            for (std::size_t c = 0; c < n_cand; ++c)
                if (cand.r2[c] == 0.0 && (i < bad_i || (i == bad_i && ja[c] < bad_j))) {
                    bad_i = i;
                    bad_j = ja[c];
                }
        // r, 1/r and unit vectors u = d / r; padded to whole SIMD blocks with r = 1 Å and
        // u = 0, which add nothing to forces.
        detail::pair_geometry(x, y, z, rr, ir, k);
        for (std::size_t b = k; b < simd::padded(k); ++b) {
            x[b] = y[b] = z[b] = 0.0;
            rr[b] = ir[b] = 1.0;
        }
    }
}

MLDYN_MULTIVERSION void InvariantCalculator::invariants_row(std::size_t i, RowBuffer& row, double* phi,
                                                            double* dphi) const {
    const std::size_t M = basis_.size(), F = n_features();
    for (std::size_t a = 0; a < row.species.size(); ++a) {
        SpeciesRow& sr = row.species[a];
        const std::size_t count = sr.count, C = sr.capacity;
        double* phi_i = phi + i * F + a * M;
        double* g_i = dphi ? dphi + 3 * (i * F + a * M) : nullptr;
        if (count)
            basis_.evaluate_batch(sr.r.data(), sr.inv_r.data(), count, sr.w.data(), sr.dw.data(), C,
                                  dphi != nullptr);
        for (std::size_t m = 0; m < M; ++m) {
            const double* w = sr.w.data() + m * C;
            double sw = 0.0;
#pragma omp simd reduction(+ : sw)
            for (std::size_t b = 0; b < count; ++b) sw += w[b];
            phi_i[m] = sw;
            if (!g_i) continue;
            // d r / d q_i = -u
            const double* dw = sr.dw.data() + m * C;
            const double *ux = sr.ux.data(), *uy = sr.uy.data(), *uz = sr.uz.data();
            double gx = 0.0, gy = 0.0, gz = 0.0;
#pragma omp simd reduction(+ : gx, gy, gz)
            for (std::size_t b = 0; b < count; ++b) {
                gx += dw[b] * ux[b];
                gy += dw[b] * uy[b];
                gz += dw[b] * uz[b];
            }
            g_i[3 * m] = -gx;
            g_i[3 * m + 1] = -gy;
            g_i[3 * m + 2] = -gz;
        }
    }
}

MLDYN_MULTIVERSION void InvariantCalculator::forces_row(std::size_t i, RowBuffer& row, double* phi,
                                                        const AgentGradient& gradient, double* forces_nc) const {
    const std::size_t M = basis_.size(), F = n_features();
    const bool switched = basis_.switched();
    double* phi_i = phi + i * F;
    // Weights (unswitched values; the derivatives follow from them) and phi_i, in whole SIMD
    // blocks (the padding lanes are masked out of the sums).
    using simd::v8;
    for (std::size_t a = 0; a < row.species.size(); ++a) {
        SpeciesRow& sr = row.species[a];
        const std::size_t count = sr.count, C = sr.capacity, padded = simd::padded(count);
        if (count) {
            basis_.evaluate_values(sr.r.data(), sr.inv_r.data(), padded, sr.w.data(), C);
            if (switched) basis_.switching_batch(sr.r.data(), padded, sr.s.data(), sr.ds.data());
        }
        v8 last{};
        for (std::size_t l = 0; l < kLanes; ++l) last[l] = padded - kLanes + l < count ? 1.0 : 0.0;
        for (std::size_t m = 0; m < M; ++m) {
            const double* w = sr.w.data() + m * C;
            v8 sw{};
            for (std::size_t b0 = 0; b0 < padded; b0 += kLanes) {
                v8 x = simd::load(w + b0);
                if (switched) x *= simd::load(sr.s.data() + b0);
                sw += b0 + kLanes < padded ? x : x * last;
            }
            phi_i[m + a * M] = simd::sum(sw);
        }
    }
    double* g = row.grad.data();
    gradient(i, phi_i, g);
    // F_i = -g . dphi_i/dq_i = sum_j a_j u_ij with a_j = sum_m g[s_j, m] d/dr [w_m S](r_ij), where
    // w_m' = factor_m w_m times 1, r or 1/r (exponential, Gaussian, power): one sum per family,
    // kept in registers over a SIMD block of neighbours. Padding lanes have u = 0.
    const std::size_t* by_family = by_family_.data();
    const std::size_t n_exp = family_start_[1], n_exp_gauss = family_start_[2];
    double* coef = row.coef.data();
    double* plain = coef + M;
    v8 fx8{}, fy8{}, fz8{};
    for (std::size_t a = 0; a < row.species.size(); ++a) {
        SpeciesRow& sr = row.species[a];
        const std::size_t count = sr.count, C = sr.capacity;
        for (std::size_t q = 0; q < M; ++q) {
            plain[q] = g[a * M + by_family[q]];
            coef[q] = plain[q] * factor_[by_family[q]];
        }
        const double* w = sr.w.data();
        for (std::size_t b0 = 0; b0 < count; b0 += kLanes) {
            v8 ae{}, ag{}, ap{};
            for (std::size_t q = 0; q < n_exp; ++q) ae += coef[q] * simd::load(w + by_family[q] * C + b0);
            for (std::size_t q = n_exp; q < n_exp_gauss; ++q) ag += coef[q] * simd::load(w + by_family[q] * C + b0);
            for (std::size_t q = n_exp_gauss; q < M; ++q) ap += coef[q] * simd::load(w + by_family[q] * C + b0);
            v8 d = ae + simd::load(sr.r.data() + b0) * ag + simd::load(sr.inv_r.data() + b0) * ap;
            if (switched) {
                v8 a0{};
                for (std::size_t q = 0; q < M; ++q) a0 += plain[q] * simd::load(w + by_family[q] * C + b0);
                d = d * simd::load(sr.s.data() + b0) + a0 * simd::load(sr.ds.data() + b0);
            }
            fx8 += d * simd::load(sr.ux.data() + b0);
            fy8 += d * simd::load(sr.uy.data() + b0);
            fz8 += d * simd::load(sr.uz.data() + b0);
        }
    }
    const double fx = simd::sum(fx8), fy = simd::sum(fy8), fz = simd::sum(fz8);
    forces_nc[3 * i] = fx;
    forces_nc[3 * i + 1] = fy;
    forces_nc[3 * i + 2] = fz;
}

template <class RowFn>
void InvariantCalculator::sweep(std::size_t n, RowFn&& finish_row) {
    const int n_threads = threads_for_atoms(n);
    while (rows_.size() < static_cast<std::size_t>(n_threads))
        rows_.push_back(std::make_unique<RowBuffer>(static_cast<std::size_t>(n_species_), n_features(), basis_.size()));
    constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
    std::size_t bad_i = none, bad_j = 0;

#if defined(MLDYN_HAVE_OPENMP)
#pragma omp parallel num_threads(n_threads)
#endif
    {
        RowBuffer& row = *rows_[static_cast<std::size_t>(current_thread())];
        std::size_t my_bad_i = none, my_bad_j = 0;
        pairs_.for_each_row([&](std::size_t i, const std::uint32_t* js, const std::size_t* seg) {
            collect_row(i, js, seg, row, my_bad_i, my_bad_j);
            finish_row(i, row);
        });
        if (my_bad_i != none) {
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp critical(mldyn_coincident)
#endif
            if (my_bad_i < bad_i || (my_bad_i == bad_i && my_bad_j < bad_j)) {
                bad_i = my_bad_i;
                bad_j = my_bad_j;
            }
        }
    }
    if (bad_i != none) {
        std::ostringstream msg;
        msg << "invariants: atoms " << bad_i << " and " << bad_j
            << " are at the same position (distance 0): their weights"
            << (basis_.has_power() ? " (r^-n diverges)" : "") << " and gradients are undefined";
        throw std::invalid_argument(msg.str());
    }
}

void InvariantCalculator::compute(const Cell& cell, const double* positions_nc, const int* species_n,
                                  std::size_t n, NeighbourMethod method, double* phi_nsm, double* dphi_nsmc) {
    validate_configuration(cell, basis_, positions_nc, species_n, n, n_species_);
    std::lock_guard<std::mutex> guard(scratch_.mutex);
    pairs_.build(cell, positions_nc, species_n, n_species_, n, basis_.r_cut(), method);
    positions_ = positions_nc;
    sweep(n, [&](std::size_t i, RowBuffer& row) { invariants_row(i, row, phi_nsm, dphi_nsmc); });
}

void InvariantCalculator::compute_forces(const Cell& cell, const double* positions_nc, const int* species_n,
                                         std::size_t n, NeighbourMethod method, double* phi_nf,
                                         const AgentGradient& gradient, double* forces_nc) {
    validate_configuration(cell, basis_, positions_nc, species_n, n, n_species_);
    std::lock_guard<std::mutex> guard(scratch_.mutex);
    pairs_.build(cell, positions_nc, species_n, n_species_, n, basis_.r_cut(), method);
    positions_ = positions_nc;
    sweep(n, [&](std::size_t i, RowBuffer& row) { forces_row(i, row, phi_nf, gradient, forces_nc); });
}

}  // namespace mldyn
