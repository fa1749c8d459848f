#include "mldyn/invariants.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

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

InvariantCalculator::InvariantCalculator(Basis basis, int n_species)
    : basis_(std::move(basis)), n_species_(n_species) {
    if (n_species < 1) throw std::invalid_argument("invariants: n_species must be at least 1");
}

void InvariantCalculator::compute(const Cell& cell, const double* positions_nc, const int* species_n,
                                  std::size_t n, NeighbourMethod method, double* phi_nsm, double* dphi_nsmc) {
    validate_configuration(cell, basis_, positions_nc, species_n, n, n_species_);
    std::lock_guard<std::mutex> guard(scratch_.mutex);
    const std::size_t M = basis_.size();
    const std::size_t F = n_features();
    const bool want_grad = dphi_nsmc != nullptr;
    pairs_.build(cell, positions_nc, n, basis_.r_cut(), method);

    const int n_threads = std::max(1, get_num_threads());
    const std::size_t phi_size = n * F, dphi_size = n * F * 3;
    thread_phi_.assign(static_cast<std::size_t>(n_threads - 1) * phi_size, 0.0);
    if (want_grad) thread_dphi_.assign(static_cast<std::size_t>(n_threads - 1) * dphi_size, 0.0);
    std::fill(phi_nsm, phi_nsm + phi_size, 0.0);
    if (want_grad) std::fill(dphi_nsmc, dphi_nsmc + dphi_size, 0.0);

    // The first coincident pair found (smallest i, then j), reported after the loop.
    std::size_t bad_i = std::numeric_limits<std::size_t>::max(), bad_j = 0;

#if defined(MLDYN_HAVE_OPENMP)
#pragma omp parallel num_threads(n_threads)
#endif
    {
        const int t = current_thread();
        double* phi = t == 0 ? phi_nsm : thread_phi_.data() + (t - 1) * phi_size;
        double* dphi = !want_grad ? nullptr : t == 0 ? dphi_nsmc : thread_dphi_.data() + (t - 1) * dphi_size;
        std::vector<double> w(M), dw(M);
        pairs_.for_each_pair([&](int, std::size_t i, std::size_t j, const Vec3& d, double r2) {
            if (r2 == 0.0) {
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp critical(mldyn_coincident)
#endif
                if (i < bad_i || (i == bad_i && j < bad_j)) { bad_i = i; bad_j = j; }
                return;
            }
            const double r = std::sqrt(r2);
            basis_.evaluate(r, w.data(), dw.data());
            // d = q_j - q_i, so d r / d q_i = -d / r and d r / d q_j = +d / r.
            const double ux = d[0] / r, uy = d[1] / r, uz = d[2] / r;
            double* phi_i = phi + i * F + static_cast<std::size_t>(species_n[j]) * M;
            double* phi_j = phi + j * F + static_cast<std::size_t>(species_n[i]) * M;
            for (std::size_t m = 0; m < M; ++m) {
                phi_i[m] += w[m];
                phi_j[m] += w[m];
            }
            if (!want_grad) return;
            double* g_i = dphi + 3 * (i * F + static_cast<std::size_t>(species_n[j]) * M);
            double* g_j = dphi + 3 * (j * F + static_cast<std::size_t>(species_n[i]) * M);
            for (std::size_t m = 0; m < M; ++m) {
                g_i[3 * m] -= dw[m] * ux;
                g_i[3 * m + 1] -= dw[m] * uy;
                g_i[3 * m + 2] -= dw[m] * uz;
                g_j[3 * m] += dw[m] * ux;
                g_j[3 * m + 1] += dw[m] * uy;
                g_j[3 * m + 2] += dw[m] * uz;
            }
        });
        // Reduce the per-thread buffers into thread 0's output in thread order.
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp barrier
#pragma omp for schedule(static)
#endif
        for (long x = 0; x < static_cast<long>(phi_size); ++x)
            for (int s = 1; s < n_threads; ++s) phi_nsm[x] += thread_phi_[(s - 1) * phi_size + x];
        if (want_grad) {
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp for schedule(static)
#endif
            for (long x = 0; x < static_cast<long>(dphi_size); ++x)
                for (int s = 1; s < n_threads; ++s) dphi_nsmc[x] += thread_dphi_[(s - 1) * dphi_size + x];
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

}  // namespace mldyn
