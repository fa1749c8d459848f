#include "mldyn/invariants.hpp"

#include <algorithm>
#include <functional>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

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

/// Up to `capacity` neighbours j of one atom i, all of one species: separations
/// d = q_j - q_i (Å, structure of arrays), r² and, after evaluation, the weights.
struct PairBatch {
    static constexpr std::size_t capacity = 64;
    explicit PairBatch(std::size_t n_functions)
        : w(n_functions * capacity), dw(n_functions * capacity) {}
    void push(std::size_t j, const Vec3& d, double r2) {
        index[count] = j;
        dx[count] = d[0];
        dy[count] = d[1];
        dz[count] = d[2];
        r[count] = r2;  // becomes r in accumulate_batch
        ++count;
    }
    std::size_t count = 0;
    std::size_t index[capacity];
    alignas(64) double dx[capacity], dy[capacity], dz[capacity], r[capacity], inv_r[capacity];
    std::vector<double> w, dw;
};

/// Separations d = q_j - q_i (minimum image, Å) and r² of up to `capacity` candidates.
struct CandidateBuffer {
    static constexpr std::size_t capacity = 256;
    alignas(64) double dx[capacity], dy[capacity], dz[capacity], r2[capacity];
};

}  // namespace detail

using detail::CandidateBuffer;
using detail::PairBatch;

InvariantCalculator::InvariantCalculator(Basis basis, int n_species)
    : basis_(std::move(basis)), n_species_(n_species) {
    if (n_species < 1) throw std::invalid_argument("invariants: n_species must be at least 1");
}

void InvariantCalculator::set_skin(double skin) {
    if (!(skin >= 0.0) || !std::isfinite(skin))
        throw std::invalid_argument("neighbours: the Verlet skin must be a finite number >= 0 (Å)");
    pairs_.set_skin(skin);
}

MLDYN_MULTIVERSION void InvariantCalculator::separations(std::size_t i, const std::uint32_t* js, std::size_t count,
                                                         CandidateBuffer& out) const {
    const Cell& cell = pairs_.cell();
    const double* q = positions_;
    const double xi = q[3 * i], yi = q[3 * i + 1], zi = q[3 * i + 2];
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
            out.dx[c] = dx;
            out.dy[c] = dy;
            out.dz[c] = dz;
            out.r2[c] = dx * dx + dy * dy + dz * dz;
        }
        return;
    }
    for (std::size_t c = 0; c < count; ++c) {
        const std::size_t j = js[c];
        Vec3 d{q[3 * j] - xi, q[3 * j + 1] - yi, q[3 * j + 2] - zi};
        d = cell.minimum_image(d, pairs_.cutoff());  // identity for an isolated system
        out.dx[c] = d[0];
        out.dy[c] = d[1];
        out.dz[c] = d[2];
        out.r2[c] = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    }
}

/// Turns the batch's r² and separations into r, 1/r and unit vectors u = d / r, then
/// evaluates the weights w (and dw/dr if `derivatives`) at those distances.
MLDYN_MULTIVERSION void InvariantCalculator::evaluate_weights(PairBatch& batch, bool derivatives) const {
#pragma omp simd
    for (std::size_t b = 0; b < batch.count; ++b) {
        const double r = std::sqrt(batch.r[b]);
        batch.r[b] = r;
        batch.inv_r[b] = 1.0 / r;
        batch.dx[b] *= batch.inv_r[b];
        batch.dy[b] *= batch.inv_r[b];
        batch.dz[b] *= batch.inv_r[b];
    }
    basis_.evaluate_batch(batch.r, batch.inv_r, batch.count, batch.w.data(), batch.dw.data(), PairBatch::capacity,
                          derivatives);
}

MLDYN_MULTIVERSION void InvariantCalculator::accumulate_batch(PairBatch& batch, std::size_t i, const int* species_n,
                                                              double* phi, double* dphi) const {
    const std::size_t M = basis_.size(), F = n_features(), count = batch.count, C = PairBatch::capacity;
    const std::size_t s_j = static_cast<std::size_t>(species_n[batch.index[0]]);
    const std::size_t s_i = static_cast<std::size_t>(species_n[i]);
    evaluate_weights(batch, dphi != nullptr);
    double* w = batch.w.data();
    double* dw = batch.dw.data();
    // Atom i: sums over the batch (d r / d q_i = -u).
    double* phi_i = phi + i * F + s_j * M;
    for (std::size_t m = 0; m < M; ++m) {
        double sw = 0.0;
#pragma omp simd reduction(+ : sw)
        for (std::size_t b = 0; b < count; ++b) sw += w[m * C + b];
        phi_i[m] += sw;
    }
    if (dphi) {
        double* g_i = dphi + 3 * (i * F + s_j * M);
        for (std::size_t m = 0; m < M; ++m) {
            double gx = 0.0, gy = 0.0, gz = 0.0;
#pragma omp simd reduction(+ : gx, gy, gz)
            for (std::size_t b = 0; b < count; ++b) {
                const double g = dw[m * C + b];
                gx += g * batch.dx[b];
                gy += g * batch.dy[b];
                gz += g * batch.dz[b];
            }
            g_i[3 * m] -= gx;
            g_i[3 * m + 1] -= gy;
            g_i[3 * m + 2] -= gz;
        }
    }
    // Each neighbour j: its own row (d r / d q_j = +u).
    for (std::size_t b = 0; b < count; ++b) {
        const std::size_t j = batch.index[b];
        double* phi_j = phi + j * F + s_i * M;
        for (std::size_t m = 0; m < M; ++m) phi_j[m] += w[m * C + b];
        if (!dphi) continue;
        double* g_j = dphi + 3 * (j * F + s_i * M);
        const double ux = batch.dx[b], uy = batch.dy[b], uz = batch.dz[b];
        for (std::size_t m = 0; m < M; ++m) {
            const double g = dw[m * C + b];
            g_j[3 * m] += g * ux;
            g_j[3 * m + 1] += g * uy;
            g_j[3 * m + 2] += g * uz;
        }
    }
    batch.count = 0;
}

MLDYN_MULTIVERSION void InvariantCalculator::force_batch(PairBatch& batch, std::size_t i, const int* species_n,
                                                         const double* grad_nf, double* forces_nc) const {
    const std::size_t M = basis_.size(), F = n_features(), count = batch.count, C = PairBatch::capacity;
    const std::size_t s_j = static_cast<std::size_t>(species_n[batch.index[0]]);
    const std::size_t s_i = static_cast<std::size_t>(species_n[i]);
    evaluate_weights(batch, true);
    double* w = batch.w.data();
    double* dw = batch.dw.data();
    // a_i[b] = sum_m g_i[s_j, m] w'_m(r_b): F_i = -g_i . dphi_i = +sum_b a_i[b] u_b;
    // a_j[b] = sum_m g_j[s_i, m] w'_m(r_b): F_j = -g_j . dphi_j = -a_j[b] u_b.
    const double* g_i = grad_nf + i * F + s_j * M;
    double* a_i = w;  // the values are no longer needed: reuse their storage
    double a_j[PairBatch::capacity];
#pragma omp simd
    for (std::size_t b = 0; b < count; ++b) {
        a_i[b] = 0.0;
        a_j[b] = 0.0;
    }
    for (std::size_t m = 0; m < M; ++m) {
        const double gm = g_i[m];
#pragma omp simd
        for (std::size_t b = 0; b < count; ++b) {
            a_i[b] += gm * dw[m * C + b];
            a_j[b] += grad_nf[batch.index[b] * F + s_i * M + m] * dw[m * C + b];
        }
    }
    double fx = 0.0, fy = 0.0, fz = 0.0;
#pragma omp simd reduction(+ : fx, fy, fz)
    for (std::size_t b = 0; b < count; ++b) {
        fx += a_i[b] * batch.dx[b];
        fy += a_i[b] * batch.dy[b];
        fz += a_i[b] * batch.dz[b];
    }
    forces_nc[3 * i] += fx;
    forces_nc[3 * i + 1] += fy;
    forces_nc[3 * i + 2] += fz;
    for (std::size_t b = 0; b < count; ++b) {
        double* f = forces_nc + 3 * batch.index[b];
        f[0] -= a_j[b] * batch.dx[b];
        f[1] -= a_j[b] * batch.dy[b];
        f[2] -= a_j[b] * batch.dz[b];
    }
    batch.count = 0;
}

template <class BatchFn>
void InvariantCalculator::sweep(std::size_t n, const int* species_n, const std::vector<Output>& outputs,
                                BatchFn&& process) {
    const std::size_t M = basis_.size();
    const int n_threads = threads_for_atoms(n);
    // Thread 0 writes the outputs directly, the others into zeroed scratch of the same sizes.
    std::size_t scratch_size = 0;
    for (const Output& o : outputs) scratch_size += o.size;
    thread_scratch_.assign(static_cast<std::size_t>(n_threads - 1) * scratch_size, 0.0);
    for (const Output& o : outputs) std::fill(o.data, o.data + o.size, 0.0);
    std::size_t bad_i = std::numeric_limits<std::size_t>::max(), bad_j = 0;
    const double cutoff2 = basis_.r_cut() * basis_.r_cut();

#if defined(MLDYN_HAVE_OPENMP)
#pragma omp parallel num_threads(n_threads)
#endif
    {
        const int t = current_thread();
        std::vector<double*> mine(outputs.size());
        for (std::size_t k = 0, offset = 0; k < outputs.size(); offset += outputs[k].size, ++k)
            mine[k] = t == 0 ? outputs[k].data : thread_scratch_.data() + (t - 1) * scratch_size + offset;
        // Each row's candidates are filtered by a SIMD distance loop; the neighbours of atom i
        // are then collected per species and processed in batches, so that the weight
        // functions also run as SIMD loops over the batch.
        std::vector<PairBatch> batches(static_cast<std::size_t>(n_species_), PairBatch(M));
        CandidateBuffer cand;
        pairs_.for_each_row([&](std::size_t i, const std::uint32_t* js, std::size_t count) {
            for (std::size_t start = 0; start < count; start += CandidateBuffer::capacity) {
                const std::size_t chunk = std::min(CandidateBuffer::capacity, count - start);
                separations(i, js + start, chunk, cand);
                for (std::size_t c = 0; c < chunk; ++c) {
                    const double r2 = cand.r2[c];
                    if (!(r2 < cutoff2)) continue;
                    const std::size_t j = js[start + c];
                    if (r2 == 0.0) {
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp critical(mldyn_coincident)
#endif
                        if (i < bad_i || (i == bad_i && j < bad_j)) { bad_i = i; bad_j = j; }
                        continue;
                    }
                    PairBatch& batch = batches[static_cast<std::size_t>(species_n[j])];
                    batch.push(j, {cand.dx[c], cand.dy[c], cand.dz[c]}, r2);
                    if (batch.count == PairBatch::capacity) process(batch, i, mine);
                }
            }
            for (PairBatch& batch : batches)
                if (batch.count) process(batch, i, mine);
        });
        // Reduce the per-thread scratch into the outputs in thread order (deterministic).
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp barrier
#endif
        for (std::size_t k = 0, offset = 0; k < outputs.size(); offset += outputs[k].size, ++k) {
            double* out = outputs[k].data;
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(static)
#endif
            for (long x = 0; x < static_cast<long>(outputs[k].size); ++x)
                for (int s = 1; s < n_threads; ++s) out[x] += thread_scratch_[(s - 1) * scratch_size + offset + x];
        }
    }
    if (bad_i != std::numeric_limits<std::size_t>::max()) {
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
    pairs_.build(cell, positions_nc, n, basis_.r_cut(), method);
    positions_ = positions_nc;
    const std::size_t F = n_features();
    std::vector<Output> outputs{{phi_nsm, n * F}};
    if (dphi_nsmc) outputs.push_back({dphi_nsmc, n * F * 3});
    const bool grad = dphi_nsmc != nullptr;
    sweep(n, species_n, outputs, [&](PairBatch& batch, std::size_t i, const std::vector<double*>& out) {
        accumulate_batch(batch, i, species_n, out[0], grad ? out[1] : nullptr);
    });
}

void InvariantCalculator::compute_forces(const Cell& cell, const double* positions_nc, const int* species_n,
                                         std::size_t n, NeighbourMethod method, double* phi_nf,
                                         const std::function<void(const double*, double*)>& gradient,
                                         double* forces_nc) {
    validate_configuration(cell, basis_, positions_nc, species_n, n, n_species_);
    std::lock_guard<std::mutex> guard(scratch_.mutex);
    pairs_.build(cell, positions_nc, n, basis_.r_cut(), method);
    positions_ = positions_nc;
    const std::size_t F = n_features();
    // Pass 1: invariants only.
    sweep(n, species_n, {{phi_nf, n * F}}, [&](PairBatch& batch, std::size_t i, const std::vector<double*>& out) {
        accumulate_batch(batch, i, species_n, out[0], nullptr);
    });
    // dH/dphi of every agent, then pass 2: forces from the same pairs.
    grad_.resize(n * F);
    gradient(phi_nf, grad_.data());
    const double* grad = grad_.data();
    sweep(n, species_n, {{forces_nc, n * 3}}, [&](PairBatch& batch, std::size_t i, const std::vector<double*>& out) {
        force_batch(batch, i, species_n, grad, out[0]);
    });
}

}  // namespace mldyn
