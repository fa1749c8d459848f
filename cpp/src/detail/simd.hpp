#pragma once
// Private SIMD building blocks of the core (not installed): the one platform check, the
// multiversioning macros, fixed-width vectors and a vectorisable exp.
#include <cstddef>
#include <cstdint>
#include <cstring>

// The one platform check. Hot loops are compiled for AVX-512, AVX2 and baseline x86-64 and the
// best one is picked at load time (GCC function multiversioning), so no -march=native is needed;
// MLDYN_X86_DISPATCH also enables the AVX-512 intrinsics versions in pair_filter.cpp. Define
// MLDYN_NO_DISPATCH for one plain version per function (profiling; with your own -march).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(MLDYN_NO_DISPATCH)
#define MLDYN_X86_DISPATCH 1
// x86-64-v3 is AVX2 with FMA (a plain "avx2" clone has no FMA), x86-64-v4 adds AVX-512 with its
// 256-bit forms (an "avx512f" clone has FMA only for 512-bit vectors: its 4-wide kernels ran as
// separate multiplies and adds, 20% of the angular MD step); GCC 12 is the first to dispatch on them.
#if __GNUC__ >= 12
#define MLDYN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define MLDYN_HAVE_WIDE_CLONE() __builtin_cpu_supports("x86-64-v4")
#else
#define MLDYN_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#define MLDYN_HAVE_WIDE_CLONE() __builtin_cpu_supports("avx512f")
#endif
#else
#define MLDYN_MULTIVERSION
#endif
// Helpers called from multiversioned functions must be inlined to be compiled for each target.
#if defined(__GNUC__)
#define MLDYN_INLINE inline __attribute__((always_inline))
#define MLDYN_LAMBDA_INLINE __attribute__((always_inline))
#else
#define MLDYN_INLINE inline
#define MLDYN_LAMBDA_INLINE
#endif

namespace mldyn::detail {

/// exp(x) for x <= 0, to about 2 ulp (max relative error 2.2e-16 measured against glibc over
/// [-700, 0]); arguments below -708 give 0 (no subnormals). Written without branches or library
/// calls so that a loop over it compiles to SIMD (about 1 ns per value with AVX-512 versus 10 ns
/// for std::exp).
MLDYN_INLINE double exp_nonpositive(double x_in) {
    constexpr double log2e = 1.4426950408889634;
    constexpr double ln2_hi = 6.93147180369123816490e-01;  // Cody–Waite split of ln 2
    constexpr double ln2_lo = 1.90821492927058770002e-10;
    constexpr double shifter = 6755399441055744.0;          // 1.5 * 2^52: rounds to an integer in the low bits
    const double x = x_in < -708.0 ? -708.0 : x_in;
    const double t = x * log2e + shifter;
    const double n = t - shifter;                           // round(x / ln 2)
    std::int64_t bits;
    std::memcpy(&bits, &t, sizeof bits);
    const std::int64_t ni = (bits & 0xFFFFFFFFFFFFFLL) - (1LL << 51);
    const double r = (x - n * ln2_hi) - n * ln2_lo;         // |r| <= ln2 / 2
    // Near-minimax polynomial of degree 11 on |r| <= ln2 / 2 (Chebyshev fit with mpmath.chebyfit,
    // approximation error 3.2e-18, below the rounding of the evaluation; Taylor needs degree 13).
    double p = 2.5110037605963777e-08;
    p = p * r + 2.763263963904103e-07;
    p = p * r + 2.755724091857897e-06;
    p = p * r + 2.4801485482328494e-05;
    p = p * r + 0.00019841269890047113;
    p = p * r + 0.0013888888952314775;
    p = p * r + 0.008333333333319601;
    p = p * r + 0.0416666666664881;
    p = p * r + 0.1666666666666668;
    p = p * r + 0.5000000000000019;
    p = p * r + 1.0;
    p = p * r + 1.0;
    const std::int64_t scale_bits = (ni + 1023) << 52;     // 2^n
    double scale;
    std::memcpy(&scale, &scale_bits, sizeof scale);
    return x_in < -708.0 ? 0.0 : p * scale;  // a select, not a branch: stays vectorised
}

}  // namespace mldyn::detail

// Fixed-width vectors of doubles (GCC/Clang vector extensions) for kernels that the
// auto-vectoriser handles poorly (accumulators kept in registers across an inner loop).
// Each multiversioned clone lowers them to one AVX-512, two AVX2 or four SSE2 registers.
namespace mldyn::simd {

constexpr std::size_t kLanes = 8;
typedef double v8 __attribute__((vector_size(64)));
typedef double v8_unaligned __attribute__((vector_size(64), aligned(8), may_alias));

MLDYN_INLINE v8 load(const double* p) { return *reinterpret_cast<const v8_unaligned*>(p); }
MLDYN_INLINE v8 broadcast(double x) { return v8{x, x, x, x, x, x, x, x}; }
/// Sum of the lanes in a fixed order (deterministic).
MLDYN_INLINE double sum(v8 x) { return ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7])); }
/// Half a block: one AVX2 register (kernels with many live accumulators would spill v8 on AVX2).
typedef double v4 __attribute__((vector_size(32)));
typedef double v4_unaligned __attribute__((vector_size(32), aligned(8), may_alias));
MLDYN_INLINE v4 load4(const double* p) { return *reinterpret_cast<const v4_unaligned*>(p); }
MLDYN_INLINE v4 broadcast4(double x) { return v4{x, x, x, x}; }
MLDYN_INLINE void store4(double* p, v4 x) { *reinterpret_cast<v4_unaligned*>(p) = x; }
MLDYN_INLINE double sum(v4 x) { return (x[0] + x[1]) + (x[2] + x[3]); }
/// {sum(a), sum(b), sum(c), sum(d)} (each in sum's order), in five shuffles and three adds instead of
/// four separate reductions.
MLDYN_INLINE v4 sums(v4 a, v4 b, v4 c, v4 d) {
    typedef long long i4 __attribute__((vector_size(32)));
    const v4 ab = __builtin_shuffle(a, b, i4{0, 4, 2, 6}) + __builtin_shuffle(a, b, i4{1, 5, 3, 7});
    const v4 cd = __builtin_shuffle(c, d, i4{0, 4, 2, 6}) + __builtin_shuffle(c, d, i4{1, 5, 3, 7});
    return __builtin_shuffle(ab, cd, i4{0, 1, 4, 5}) + __builtin_shuffle(ab, cd, i4{2, 3, 6, 7});
}

/// Eight doubles as two AVX2 registers. GCC holds a v8 that the target cannot keep in one register
/// in memory: every += of a v8 accumulator goes through the stack (measured: the quadratic loss
/// gradient 3x slower on AVX2). Kernels written for either type (generic lambdas of with_v8) run v8
/// where the CPU has AVX-512 and v8pair elsewhere.
struct v8pair {
    v4 lo, hi;
};
MLDYN_INLINE v8pair operator+(v8pair a, v8pair b) { return {a.lo + b.lo, a.hi + b.hi}; }
MLDYN_INLINE v8pair operator-(v8pair a, v8pair b) { return {a.lo - b.lo, a.hi - b.hi}; }
MLDYN_INLINE v8pair operator*(v8pair a, v8pair b) { return {a.lo * b.lo, a.hi * b.hi}; }
MLDYN_INLINE v8pair operator*(double x, v8pair b) { return {x * b.lo, x * b.hi}; }
MLDYN_INLINE v8pair operator*(v8pair a, double x) { return {a.lo * x, a.hi * x}; }
MLDYN_INLINE v8pair operator-(v8pair a, double x) { return {a.lo - x, a.hi - x}; }
MLDYN_INLINE v8pair& operator+=(v8pair& a, v8pair b) { return a = a + b; }
MLDYN_INLINE v8pair& operator*=(v8pair& a, v8pair b) { return a = a * b; }

template <class V> MLDYN_INLINE V load_as(const double* p);
template <> MLDYN_INLINE v8 load_as<v8>(const double* p) { return load(p); }
template <> MLDYN_INLINE v8pair load_as<v8pair>(const double* p) { return {load4(p), load4(p + 4)}; }
MLDYN_INLINE void store(double* p, v8 x) { *reinterpret_cast<v8_unaligned*>(p) = x; }
MLDYN_INLINE void store(double* p, v8pair x) {
    store4(p, x.lo);
    store4(p + 4, x.hi);
}
template <class V> MLDYN_INLINE V broadcast_as(double x);
template <> MLDYN_INLINE v8 broadcast_as<v8>(double x) { return broadcast(x); }
template <> MLDYN_INLINE v8pair broadcast_as<v8pair>(double x) { return {broadcast4(x), broadcast4(x)}; }
/// One vector's two halves added: the first step of reducing several v8 at once (see sums).
MLDYN_INLINE v4 halves(v8 x) {
    typedef long long i8 __attribute__((vector_size(64)));
    const v8 hi = __builtin_shuffle(x, i8{4, 5, 6, 7, 0, 1, 2, 3});
    const v8 t = x + hi;
    return v4{t[0], t[1], t[2], t[3]};
}
MLDYN_INLINE v4 halves(v8pair x) { return x.lo + x.hi; }
/// {sum of a's lanes, b's, c's, d's} for 8-lane vectors (a fixed order, not that of sum).
template <class V> MLDYN_INLINE v4 sums(V a, V b, V c, V d) { return sums(halves(a), halves(b), halves(c), halves(d)); }
MLDYN_INLINE double sum(v8pair x) { return ((x.lo[0] + x.lo[1]) + (x.lo[2] + x.lo[3])) + ((x.hi[0] + x.hi[1]) + (x.hi[2] + x.hi[3])); }
/// max(x, 0) lane by lane.
MLDYN_INLINE v8 positive_part(v8 x) { return x > 0.0 ? x : 0.0; }
MLDYN_INLINE v8pair positive_part(v8pair x) { return {x.lo > 0.0 ? x.lo : 0.0, x.hi > 0.0 ? x.hi : 0.0}; }

/// Runs body(V{}) with V = v8 on CPUs with AVX-512, else v8pair. Called from a multiversioned
/// function, with a generic lambda marked MLDYN_LAMBDA_INLINE, the body is compiled into each clone.
template <class Body> MLDYN_INLINE void with_v8(Body&& body) {
#if defined(MLDYN_X86_DISPATCH)
    if (MLDYN_HAVE_WIDE_CLONE()) {  // the CPUs whose clone is the AVX-512 one
        body(v8{});
        return;
    }
#endif
    body(v8pair{});
}

/// Rounds n up to a multiple of kLanes.
constexpr std::size_t padded(std::size_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

}  // namespace mldyn::simd
