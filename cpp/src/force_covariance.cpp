#include "mldyn/force_covariance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "detail/simd.hpp"
#include "mldyn/design.hpp"

namespace mldyn {

ForceCovariance::ForceCovariance(std::size_t n_parameters, std::vector<SpeciesCovariance> species)
    : n_parameters_(n_parameters), species_(std::move(species)) {
    for (std::size_t s = 0; s < species_.size(); ++s) {
        const SpeciesCovariance& c = species_[s];
        const std::string who = "force covariance of species " + std::to_string(s) + ": ";
        std::vector<bool> seen(n_parameters, false);
        for (std::size_t p : c.params) {
            if (p >= n_parameters)
                throw std::invalid_argument(who + "parameter index " + std::to_string(p) + " is out of range (the model has " +
                                            std::to_string(n_parameters) + " parameters per species)");
            if (seen[p]) throw std::invalid_argument(who + "parameter index " + std::to_string(p) + " is repeated");
            seen[p] = true;
        }
        const std::size_t m = c.params.size();
        if (c.factor.size() != m * (m + 1) / 2)
            throw std::invalid_argument(who + "the factor must hold n(n+1)/2 = " + std::to_string(m * (m + 1) / 2) +
                                        " numbers for n = " + std::to_string(m) + " parameters, got " +
                                        std::to_string(c.factor.size()));
        for (double x : c.factor)
            if (!std::isfinite(x)) throw std::invalid_argument(who + "the factor holds a non-finite number");
        if (!(c.noise_variance >= 0.0) || !std::isfinite(c.noise_variance))
            throw std::invalid_argument(who + "noise_variance must be a finite number >= 0");
    }
}

namespace {

constexpr std::size_t kBlock = 4;  // agents per block: 12 design rows share each pass over the factor
constexpr std::size_t kRows = 6;   // design rows per register block

/// h[r] += sum_j (M_j . x_r)^2 for the 3 kBlock rows x (row-major, m each; rows past R are zero).
/// Two factor rows times six design rows per pass: twelve independent sums keep the FP units busy
/// (one running sum per dot product would wait on its own additions).
MLDYN_MULTIVERSION void add_leverage(const double* M, std::size_t m, const double* x, double* h) {
    const double* row = M;
    std::size_t j = 0;
    // Four factor rows times six design rows per pass (24 sums in registers: one load per two
    // multiply-adds; two rows at a time needed one per 1.5 and ran 10% slower).
    for (; j + 3 < m; j += 4) {  // rows j..j+3: their first j + 1 entries together, then the tails
        const double* r0 = row;
        const double* r1 = r0 + j + 1;
        const double* r2 = r1 + j + 2;
        const double* r3 = r2 + j + 3;
        for (std::size_t b = 0; b < 3 * kBlock; b += kRows) {
            const double *x0 = x + b * m, *x1 = x0 + m, *x2 = x1 + m, *x3 = x2 + m, *x4 = x3 + m, *x5 = x4 + m;
            double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0;
            double d0 = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0, e4 = 0, e5 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3, a4, a5, c0, c1, c2, c3, c4, c5, d0, d1, d2, d3, d4, d5, e0, e1, e2, e3, e4, e5)
            for (std::size_t i = 0; i <= j; ++i) {
                const double u = r0[i], v = r1[i], p = r2[i], q = r3[i];
                const double y0 = x0[i], y1 = x1[i], y2 = x2[i], y3 = x3[i], y4 = x4[i], y5 = x5[i];
                a0 += u * y0; a1 += u * y1; a2 += u * y2; a3 += u * y3; a4 += u * y4; a5 += u * y5;
                c0 += v * y0; c1 += v * y1; c2 += v * y2; c3 += v * y3; c4 += v * y4; c5 += v * y5;
                d0 += p * y0; d1 += p * y1; d2 += p * y2; d3 += p * y3; d4 += p * y4; d5 += p * y5;
                e0 += q * y0; e1 += q * y1; e2 += q * y2; e3 += q * y3; e4 += q * y4; e5 += q * y5;
            }
            const double* xs[kRows] = {x0, x1, x2, x3, x4, x5};
            double c[kRows] = {c0, c1, c2, c3, c4, c5}, d[kRows] = {d0, d1, d2, d3, d4, d5};
            double e[kRows] = {e0, e1, e2, e3, e4, e5};
            const double a[kRows] = {a0, a1, a2, a3, a4, a5};
            for (std::size_t r = 0; r < kRows; ++r) {
                const double* xr = xs[r];
                c[r] += r1[j + 1] * xr[j + 1];
                d[r] += r2[j + 1] * xr[j + 1] + r2[j + 2] * xr[j + 2];
                e[r] += r3[j + 1] * xr[j + 1] + r3[j + 2] * xr[j + 2] + r3[j + 3] * xr[j + 3];
                h[b + r] += (a[r] * a[r] + c[r] * c[r]) + (d[r] * d[r] + e[r] * e[r]);
            }
        }
        row += 4 * j + 10;
    }
    for (; j < m; ++j) {  // the last m mod 4 rows, one at a time
        for (std::size_t r = 0; r < 3 * kBlock; ++r) {
            double y = 0.0;
            for (std::size_t i = 0; i <= j; ++i) y += row[i] * x[r * m + i];
            h[r] += y * y;
        }
        row += j + 1;
    }
}

}  // namespace

void ForceCovariance::check_fits(std::size_t F, std::size_t Fq) const {
    const std::size_t P = n_fit_parameters(F, Fq);
    if (P != n_parameters_)
        throw std::invalid_argument("force covariance: made for " + std::to_string(n_parameters_) +
                                    " parameters per species, the model's invariants give " + std::to_string(P));
}

void ForceCovariance::leverage(const double* phi_nf, const double* dphi_nfc, const int* species_n, std::size_t n,
                               std::size_t F, std::size_t Fq, double* h_n) const {
    check_fits(F, Fq);
    const std::size_t P = n_parameters_;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t k = 0; k < n; ++k) h_n[k] = nan;
    // The agents of each species, then one parallel region for all species (a region's start costs
    // tens of microseconds when the threads sleep between regions).
    std::vector<std::vector<std::size_t>> agents(species_.size());
    for (std::size_t k = 0; k < n; ++k)
        if (species_n[k] >= 0 && static_cast<std::size_t>(species_n[k]) < species_.size())
            agents[static_cast<std::size_t>(species_n[k])].push_back(k);
#pragma omp parallel
    {
        std::vector<double> rows(3 * P), x;
        for (std::size_t s = 0; s < species_.size(); ++s) {
            const SpeciesCovariance& cov = species_[s];
            const std::size_t m = cov.params.size();
            if (m == 0) continue;
            const std::vector<std::size_t>& mine = agents[s];
            x.resize(3 * kBlock * m);
            const std::ptrdiff_t n_blocks = static_cast<std::ptrdiff_t>((mine.size() + kBlock - 1) / kBlock);
#pragma omp for schedule(dynamic, 1) nowait  // threads done with one species start the next
            for (std::ptrdiff_t b = 0; b < n_blocks; ++b) {
                const std::size_t first = static_cast<std::size_t>(b) * kBlock;
                const std::size_t count = std::min(kBlock, mine.size() - first);
                const std::size_t R = 3 * count;
                for (std::size_t a = 0; a < count; ++a) {  // the agent's 3 design rows, restricted to params
                    const std::size_t k = mine[first + a];
                    const int one = 0;
                    build_design(phi_nf + k * F, dphi_nfc + 3 * k * F, &one, 1, F, Fq, 0, rows.data());
                    for (std::size_t c = 0; c < 3; ++c)
                        for (std::size_t i = 0; i < m; ++i) x[(3 * a + c) * m + i] = rows[c * P + cov.params[i]];
                }
                std::fill(x.begin() + static_cast<std::ptrdiff_t>(R * m), x.end(), 0.0);  // a short last block
                double h[3 * kBlock] = {};
                add_leverage(cov.factor.data(), m, x.data(), h);
                for (std::size_t a = 0; a < count; ++a) h_n[mine[first + a]] = h[3 * a] + h[3 * a + 1] + h[3 * a + 2];
            }
        }
    }
}

}  // namespace mldyn
