#include "mldyn/force_covariance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "detail/simd.hpp"
#include "mldyn/design.hpp"

namespace mldyn {

namespace {
constexpr std::size_t kFactorRows = simd::kLanes;  // factor rows per block (one vector)
constexpr std::size_t kFactorRows32 = 16;          // the same in float32: one AVX-512 vector of floats

/// The packed lower-triangular factor (m x m) by blocks of T rows, column by column: block b holds,
/// for each column i < min(T b + T, m), the T entries M[T b + t][i] (zero above the diagonal, past m).
template <class Real, std::size_t T> std::vector<Real> factor_blocks(const std::vector<double>& factor, std::size_t m) {
    std::vector<Real> blocks;
    for (std::size_t first = 0; first < m; first += T) {
        const std::size_t columns = std::min(first + T, m);
        for (std::size_t i = 0; i < columns; ++i)
            for (std::size_t t = 0; t < T; ++t) {
                const std::size_t j = first + t;  // row j of the packed factor starts at j (j + 1) / 2
                blocks.push_back(static_cast<Real>(j < m && i <= j ? factor[j * (j + 1) / 2 + i] : 0.0));
            }
    }
    return blocks;
}
}  // namespace

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
    for (const SpeciesCovariance& c : species_) {
        row_blocks_.push_back(factor_blocks<double, kFactorRows>(c.factor, c.params.size()));
        row_blocks32_.push_back(factor_blocks<float, kFactorRows32>(c.factor, c.params.size()));
    }
}

namespace {

constexpr std::size_t kBlock = 4;  // agents per block: their 12 design rows share each pass over the factor

/// h[r] += sum_j (M_j . x_r)^2 for R design rows x (row-major, m each), M by blocks of kFactorRows
/// rows (row_blocks_): per block, y = M_block x_r for all R rows at once, one vector of the block's
/// rows each, a column of the block times a broadcast x_r[i] per multiply-add; the squares summed
/// lane by lane and reduced once at the end. The former kernel, a dot product per factor row and
/// design row, ended each in a horizontal sum and a remainder loop: 0.96 -> 0.52 ms per evaluation of
/// the 384-atom water box (AVX-512, 1 thread).
template <std::size_t R, class V>
MLDYN_INLINE void leverage_rows(const double* blocks, std::size_t m, const double* x, double* h) {
    V sq[R];
    for (std::size_t r = 0; r < R; ++r) sq[r] = simd::broadcast_as<V>(0.0);
    const double* column = blocks;
    for (std::size_t first = 0; first < m; first += kFactorRows) {
        const std::size_t columns = std::min(first + kFactorRows, m);
        V y[R];
        for (std::size_t r = 0; r < R; ++r) y[r] = simd::broadcast_as<V>(0.0);
        for (std::size_t i = 0; i < columns; ++i, column += kFactorRows) {
            const V c = simd::load_as<V>(column);
            for (std::size_t r = 0; r < R; ++r) y[r] += x[r * m + i] * c;
        }
        for (std::size_t r = 0; r < R; ++r) sq[r] += y[r] * y[r];
    }
    for (std::size_t r = 0; r < R; ++r) h[r] += simd::sum(sq[r]);
}

/// leverage_rows in float32 (blocks of kFactorRows32 rows, row_blocks32_), for MD's tracked steps on
/// AVX-512: twice the lanes per instruction, 0.72 -> 0.43 ms per evaluation of the 384-atom water box
/// with 240 parameters per species (1 thread). The squares are summed in float32 within a lane, the
/// lanes in double. Relative error of an agent's h against float64: median 9e-8 / 9e-6, largest 5e-7 /
/// 7e-5 (O / H agents of 10 frames of the bundled water, its recommended model, whose factor rows cancel
/// up to 4e5-fold); it grows with that cancellation (percents for features conditioned ~1e6 under a tiny
/// ridge), so only MD's thermo column and threshold use it.
template <std::size_t R>
MLDYN_INLINE void leverage_rows_f32(const float* blocks, std::size_t m, const float* x, double* h) {
    typedef float f16 __attribute__((vector_size(64)));
    typedef float f16_unaligned __attribute__((vector_size(64), aligned(4), may_alias));
    f16 sq[R];
    for (std::size_t r = 0; r < R; ++r) sq[r] = f16{};
    const float* column = blocks;
    for (std::size_t first = 0; first < m; first += kFactorRows32) {
        const std::size_t columns = std::min(first + kFactorRows32, m);
        f16 y[R];
        for (std::size_t r = 0; r < R; ++r) y[r] = f16{};
        for (std::size_t i = 0; i < columns; ++i, column += kFactorRows32) {
            const f16 c = *reinterpret_cast<const f16_unaligned*>(column);
            for (std::size_t r = 0; r < R; ++r) y[r] += x[r * m + i] * c;
        }
        for (std::size_t r = 0; r < R; ++r) sq[r] += y[r] * y[r];
    }
    for (std::size_t r = 0; r < R; ++r) {
        double total = 0.0;
        for (std::size_t t = 0; t < kFactorRows32; ++t) total += static_cast<double>(sq[r][t]);
        h[r] += total;
    }
}

/// leverage_rows for targets without AVX-512, 3 rows: plain arrays over the block's rows that the
/// compiler vectorises at the target's width (a v8pair version spilled: 12x slower on SSE2). Per
/// evaluation of the 384-atom water box: AVX2 1.60 -> 1.10 ms against the former dot-product kernel;
/// SSE2 (16 registers) 2.10 -> 2.76 ms (2 rows: 2.04, but AVX2 1.40).
MLDYN_INLINE void leverage_rows_narrow(const double* blocks, std::size_t m, const double* x, double* h) {
    constexpr std::size_t R = 3, T = kFactorRows;
    double sq[R][T] = {};
    const double* column = blocks;
    for (std::size_t first = 0; first < m; first += T) {
        const std::size_t columns = std::min(first + T, m);
        double y[R][T] = {};
        for (std::size_t i = 0; i < columns; ++i, column += T)
            for (std::size_t r = 0; r < R; ++r) {
                const double xr = x[r * m + i];
#pragma omp simd
                for (std::size_t t = 0; t < T; ++t) y[r][t] += xr * column[t];
            }
        for (std::size_t r = 0; r < R; ++r)
#pragma omp simd
            for (std::size_t t = 0; t < T; ++t) sq[r][t] += y[r][t] * y[r][t];
    }
    for (std::size_t r = 0; r < R; ++r) {
        double total = 0.0;
        for (std::size_t t = 0; t < T; ++t) total += sq[r][t];
        h[r] += total;
    }
}

/// h[r] += |M x_r|^2 for the 3 kBlock design rows of a block of agents (rows past the agents are zero);
/// with ``float32`` and AVX-512 in float32 (x32: room for the rows in float32), else in float64.
MLDYN_MULTIVERSION void add_leverage(const double* blocks, const float* blocks32, std::size_t m, const double* x,
                                     float* x32, double* h, bool float32) {
    simd::with_v8([&](auto zero) MLDYN_LAMBDA_INLINE {
        if constexpr (std::is_same_v<decltype(zero), simd::v8>) {  // 32 vector registers: all 12 rows at once
            if (float32) {
                for (std::size_t i = 0; i < 3 * kBlock * m; ++i) x32[i] = static_cast<float>(x[i]);
                leverage_rows_f32<3 * kBlock>(blocks32, m, x32, h);
            } else {
                leverage_rows<3 * kBlock, simd::v8>(blocks, m, x, h);
            }
        } else {
            for (std::size_t r = 0; r < 3 * kBlock; r += 3) leverage_rows_narrow(blocks, m, x + r * m, h + r);
        }
    });
}

}  // namespace

void ForceCovariance::check_fits(std::size_t F, std::size_t Fq) const {
    const std::size_t P = n_fit_parameters(F, Fq);
    if (P != n_parameters_)
        throw std::invalid_argument("force covariance: made for " + std::to_string(n_parameters_) +
                                    " parameters per species, the model's invariants give " + std::to_string(P));
}

void ForceCovariance::leverage(const double* phi_nf, const double* dphi_nfc, const int* species_n, std::size_t n,
                               std::size_t F, std::size_t Fq, double* h_n, bool float32) const {
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
        std::vector<float> x32;
        for (std::size_t s = 0; s < species_.size(); ++s) {
            const SpeciesCovariance& cov = species_[s];
            const std::size_t m = cov.params.size();
            if (m == 0) continue;
            const std::vector<std::size_t>& mine = agents[s];
            x.resize(3 * kBlock * m);
            x32.resize(3 * kBlock * m);
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
                add_leverage(row_blocks_[s].data(), row_blocks32_[s].data(), m, x.data(), x32.data(), h, float32);
                for (std::size_t a = 0; a < count; ++a) h_n[mine[first + a]] = h[3 * a] + h[3 * a + 1] + h[3 * a + 2];
            }
        }
    }
}

}  // namespace mldyn
