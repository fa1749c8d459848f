#include "mldyn/compaction.hpp"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MLDYN_COMPACT_AVX512 1
#include <immintrin.h>
#endif

namespace mldyn::detail {

namespace {
std::size_t compact_scalar(const double* r2, std::size_t n, double cutoff2, std::uint32_t* inside,
                           bool& coincident) {
    std::size_t k = 0;
    bool zero = false;
    for (std::size_t c = 0; c < n; ++c) {
        inside[k] = static_cast<std::uint32_t>(c);  // branch-free: only the kept ones advance k
        k += static_cast<std::size_t>((r2[c] < cutoff2) & (r2[c] > 0.0));
        zero |= r2[c] == 0.0;
    }
    coincident = zero;
    return k;
}
}  // namespace

#if defined(MLDYN_COMPACT_AVX512)

__attribute__((target("default"))) std::size_t compact_versioned(const double* r2, std::size_t n, double cutoff2,
                                                              std::uint32_t* inside, bool& coincident) {
    return compact_scalar(r2, n, cutoff2, inside, coincident);
}

// 16 candidates per step: two 8-lane compares, one in-register compress of their positions
// (compressing straight to memory is slow on some CPUs), one full store.
__attribute__((target("avx512f"))) std::size_t compact_versioned(const double* r2, std::size_t n, double cutoff2,
                                                              std::uint32_t* inside, bool& coincident) {
    const __m512d cut = _mm512_set1_pd(cutoff2), zero = _mm512_setzero_pd();
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    std::size_t k = 0;
    __mmask16 any_zero = 0;
    for (std::size_t c = 0; c < n; c += 16) {
        const std::size_t left = n - c;
        const __mmask16 valid = left >= 16 ? static_cast<__mmask16>(0xFFFF)
                                           : static_cast<__mmask16>((1u << left) - 1u);
        const __m512d lo = _mm512_maskz_loadu_pd(static_cast<__mmask8>(valid), r2 + c);
        const __m512d hi = _mm512_maskz_loadu_pd(static_cast<__mmask8>(valid >> 8), r2 + c + 8);
        const __mmask8 in_lo = _mm512_cmp_pd_mask(lo, cut, _CMP_LT_OQ) & _mm512_cmp_pd_mask(lo, zero, _CMP_GT_OQ);
        const __mmask8 in_hi = _mm512_cmp_pd_mask(hi, cut, _CMP_LT_OQ) & _mm512_cmp_pd_mask(hi, zero, _CMP_GT_OQ);
        const __mmask8 z_lo = _mm512_cmp_pd_mask(lo, zero, _CMP_EQ_OQ);
        const __mmask8 z_hi = _mm512_cmp_pd_mask(hi, zero, _CMP_EQ_OQ);
        const __mmask16 in = static_cast<__mmask16>((in_lo | (in_hi << 8)) & valid);
        any_zero |= static_cast<__mmask16>((z_lo | (z_hi << 8)) & valid);
        const __m512i ids = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(c)), iota);
        _mm512_storeu_si512(inside + k, _mm512_maskz_compress_epi32(in, ids));
        k += static_cast<std::size_t>(__builtin_popcount(in));
    }
    coincident = any_zero != 0;
    return k;
}

// Callers must see every version to go through the dispatcher: hence this plain wrapper.
std::size_t compact_inside(const double* r2, std::size_t n, double cutoff2, std::uint32_t* inside,
                           bool& coincident) {
    return compact_versioned(r2, n, cutoff2, inside, coincident);
}

#else

std::size_t compact_inside(const double* r2, std::size_t n, double cutoff2, std::uint32_t* inside,
                           bool& coincident) {
    return compact_scalar(r2, n, cutoff2, inside, coincident);
}

#endif

}  // namespace mldyn::detail
