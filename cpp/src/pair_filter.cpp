#include "detail/pair_filter.hpp"

#include <cmath>

#include "detail/simd.hpp"

// Where the core dispatches on the CPU (detail/simd.hpp) each helper has a portable version (the
// multiversioning "default") and an AVX-512 one written with intrinsics; elsewhere only the portable one.
#if defined(MLDYN_X86_DISPATCH)
#define MLDYN_PORTABLE __attribute__((target("default")))
#include <immintrin.h>
#else
#define MLDYN_PORTABLE
#endif

namespace mldyn::detail {

namespace {
// Portable versions: branch-free loops in which every candidate is written and only the kept
// ones advance the output position.

MLDYN_PORTABLE std::size_t inside_positions(const double* r2, std::size_t n, double cutoff2, std::uint32_t* inside,
                                            bool& coincident) {
    std::size_t k = 0;
    bool zero = false;
    for (std::size_t c = 0; c < n; ++c) {
        inside[k] = static_cast<std::uint32_t>(c);
        k += static_cast<std::size_t>((r2[c] < cutoff2) & (r2[c] > 0.0));
        zero |= r2[c] == 0.0;
    }
    coincident = zero;
    return k;
}

MLDYN_PORTABLE std::size_t inside_geometry(const double* dx, const double* dy, const double* dz, const double* r2,
                                           std::size_t n, double cutoff2, double* ox, double* oy, double* oz,
                                           double* or2, bool& coincident) {
    std::size_t k = 0;
    bool zero = false;
    for (std::size_t c = 0; c < n; ++c) {
        ox[k] = dx[c];
        oy[k] = dy[c];
        oz[k] = dz[c];
        or2[k] = r2[c];
        k += static_cast<std::size_t>((r2[c] < cutoff2) & (r2[c] > 0.0));
        zero |= r2[c] == 0.0;
    }
    coincident = zero;
    return k;
}

MLDYN_PORTABLE std::size_t closer_pairs(const double* const in[5], std::size_t n, double r_cut, double* const out[5]) {
    const double* r = in[3];
    std::size_t k = 0;
    for (std::size_t b = 0; b < n; ++b) {
        for (int a = 0; a < 5; ++a) out[a][k] = in[a][b];
        k += static_cast<std::size_t>(r[b] < r_cut);
    }
    return k;
}

MLDYN_PORTABLE void geometry_of_pairs(double* x, double* y, double* z, double* r, double* inv_r, std::size_t n) {
#pragma omp simd
    for (std::size_t b = 0; b < n; ++b) {
        const double rb = std::sqrt(r[b]);
        const double inv = 1.0 / rb;
        r[b] = rb;
        inv_r[b] = inv;
        x[b] *= inv;
        y[b] *= inv;
        z[b] *= inv;
    }
}

#if defined(MLDYN_X86_DISPATCH)

__attribute__((target("avx512f"))) inline __mmask8 first_lanes(std::size_t left) {
    return left >= 8 ? static_cast<__mmask8>(0xFF) : static_cast<__mmask8>((1u << left) - 1u);
}

// 16 candidates per step: two 8-lane compares, one in-register compress of their positions
// (compressing straight to memory is slow on some CPUs), one full store.
__attribute__((target("avx512f"))) std::size_t inside_positions(const double* r2, std::size_t n, double cutoff2,
                                                                std::uint32_t* inside, bool& coincident) {
    const __m512d cut = _mm512_set1_pd(cutoff2), zero = _mm512_setzero_pd();
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    std::size_t k = 0;
    __mmask16 any_zero = 0;
    for (std::size_t c = 0; c < n; c += 16) {
        const __mmask8 valid_lo = first_lanes(n - c), valid_hi = n - c > 8 ? first_lanes(n - c - 8) : 0;
        const __m512d lo = _mm512_maskz_loadu_pd(valid_lo, r2 + c);
        const __m512d hi = _mm512_maskz_loadu_pd(valid_hi, r2 + c + 8);
        const __mmask8 in_lo = _mm512_cmp_pd_mask(lo, cut, _CMP_LT_OQ) & _mm512_cmp_pd_mask(lo, zero, _CMP_GT_OQ);
        const __mmask8 in_hi = _mm512_cmp_pd_mask(hi, cut, _CMP_LT_OQ) & _mm512_cmp_pd_mask(hi, zero, _CMP_GT_OQ);
        const __mmask8 z_lo = _mm512_cmp_pd_mask(lo, zero, _CMP_EQ_OQ) & valid_lo;
        const __mmask8 z_hi = _mm512_cmp_pd_mask(hi, zero, _CMP_EQ_OQ) & valid_hi;
        const __mmask16 in = static_cast<__mmask16>((in_lo & valid_lo) | ((in_hi & valid_hi) << 8));
        any_zero |= static_cast<__mmask16>(z_lo | (z_hi << 8));
        const __m512i ids = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(c)), iota);
        _mm512_storeu_si512(inside + k, _mm512_maskz_compress_epi32(in, ids));
        k += static_cast<std::size_t>(__builtin_popcount(in));
    }
    coincident = any_zero != 0;
    return k;
}

// 8 candidates per step: one mask, four in-register compresses, four full stores.
__attribute__((target("avx512f"))) std::size_t inside_geometry(const double* dx, const double* dy, const double* dz,
                                                               const double* r2, std::size_t n, double cutoff2,
                                                               double* ox, double* oy, double* oz, double* or2,
                                                               bool& coincident) {
    const __m512d cut = _mm512_set1_pd(cutoff2), zero = _mm512_setzero_pd();
    std::size_t k = 0;
    __mmask8 any_zero = 0;
    for (std::size_t c = 0; c < n; c += 8) {
        const __mmask8 valid = first_lanes(n - c);
        const __m512d d2 = _mm512_maskz_loadu_pd(valid, r2 + c);
        const __mmask8 in = _mm512_cmp_pd_mask(d2, cut, _CMP_LT_OQ) & _mm512_cmp_pd_mask(d2, zero, _CMP_GT_OQ) & valid;
        any_zero |= _mm512_cmp_pd_mask(d2, zero, _CMP_EQ_OQ) & valid;
        _mm512_storeu_pd(or2 + k, _mm512_maskz_compress_pd(in, d2));
        _mm512_storeu_pd(ox + k, _mm512_maskz_compress_pd(in, _mm512_maskz_loadu_pd(valid, dx + c)));
        _mm512_storeu_pd(oy + k, _mm512_maskz_compress_pd(in, _mm512_maskz_loadu_pd(valid, dy + c)));
        _mm512_storeu_pd(oz + k, _mm512_maskz_compress_pd(in, _mm512_maskz_loadu_pd(valid, dz + c)));
        k += static_cast<std::size_t>(__builtin_popcount(in));
    }
    coincident = any_zero != 0;
    return k;
}

// 8 pairs per step: one mask, five in-register compresses, five full stores.
__attribute__((target("avx512f"))) std::size_t closer_pairs(const double* const in[5], std::size_t n, double r_cut,
                                                            double* const out[5]) {
    const __m512d cut = _mm512_set1_pd(r_cut);
    std::size_t k = 0;
    for (std::size_t b = 0; b < n; b += 8) {
        const __mmask8 valid = first_lanes(n - b);
        const __mmask8 keep = _mm512_cmp_pd_mask(_mm512_maskz_loadu_pd(valid, in[3] + b), cut, _CMP_LT_OQ) & valid;
        for (int a = 0; a < 5; ++a)
            _mm512_storeu_pd(out[a] + k, _mm512_maskz_compress_pd(keep, _mm512_maskz_loadu_pd(valid, in[a] + b)));
        k += static_cast<std::size_t>(__builtin_popcount(keep));
    }
    return k;
}

// 1/sqrt(r²) from the 14-bit estimate and two Newton steps y <- y (3 - r² y²) / 2 (relative
// error ~1e-16), instead of a square root (~20 cycles) and a division (~10) per 8 lanes.
__attribute__((target("avx512f"))) void geometry_of_pairs(double* x, double* y, double* z, double* r, double* inv_r,
                                                          std::size_t n) {
    const __m512d half = _mm512_set1_pd(0.5), three = _mm512_set1_pd(3.0);
    for (std::size_t b = 0; b < n; b += 8) {
        const __mmask8 valid = first_lanes(n - b);
        const __m512d r2 = _mm512_mask_loadu_pd(_mm512_set1_pd(1.0), valid, r + b);
        __m512d inv = _mm512_maskz_rsqrt14_pd(0xFF, r2);  // (the unmasked form trips -Wmaybe-uninitialized)
        for (int step = 0; step < 2; ++step) {
            const __m512d t = _mm512_mul_pd(_mm512_mul_pd(r2, inv), inv);
            inv = _mm512_mul_pd(_mm512_mul_pd(half, inv), _mm512_sub_pd(three, t));
        }
        _mm512_mask_storeu_pd(r + b, valid, _mm512_mul_pd(r2, inv));
        _mm512_mask_storeu_pd(inv_r + b, valid, inv);
        _mm512_mask_storeu_pd(x + b, valid, _mm512_mul_pd(_mm512_maskz_loadu_pd(valid, x + b), inv));
        _mm512_mask_storeu_pd(y + b, valid, _mm512_mul_pd(_mm512_maskz_loadu_pd(valid, y + b), inv));
        _mm512_mask_storeu_pd(z + b, valid, _mm512_mul_pd(_mm512_maskz_loadu_pd(valid, z + b), inv));
    }
}

#endif
}  // namespace

// Callers must see every version to go through the load-time dispatcher: hence these wrappers.
std::size_t compact_inside(const double* r2, std::size_t n, double cutoff2, std::uint32_t* inside,
                           bool& coincident) {
    return inside_positions(r2, n, cutoff2, inside, coincident);
}

std::size_t compact_geometry(const double* dx, const double* dy, const double* dz, const double* r2, std::size_t n,
                             double cutoff2, double* ox, double* oy, double* oz, double* or2, bool& coincident) {
    return inside_geometry(dx, dy, dz, r2, n, cutoff2, ox, oy, oz, or2, coincident);
}

void pair_geometry(double* x, double* y, double* z, double* r, double* inv_r, std::size_t n) {
    geometry_of_pairs(x, y, z, r, inv_r, n);
}

std::size_t compact_closer(const double* const in[5], std::size_t n, double r_cut, double* const out[5]) {
    return closer_pairs(in, n, r_cut, out);
}

}  // namespace mldyn::detail
