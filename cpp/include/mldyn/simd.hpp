#pragma once
// Fixed-width vectors of doubles (GCC/Clang vector extensions) for kernels that the
// auto-vectoriser handles poorly (accumulators kept in registers across an inner loop).
// Each multiversioned clone lowers them to one AVX-512, two AVX2 or four SSE2 registers.
#include <cstddef>

#include "mldyn/simd_exp.hpp"

namespace mldyn::simd {

constexpr std::size_t kLanes = 8;
typedef double v8 __attribute__((vector_size(64)));
typedef double v8_unaligned __attribute__((vector_size(64), aligned(8), may_alias));

MLDYN_INLINE v8 load(const double* p) { return *reinterpret_cast<const v8_unaligned*>(p); }
MLDYN_INLINE v8 broadcast(double x) { return v8{x, x, x, x, x, x, x, x}; }
/// Sum of the lanes in a fixed order (deterministic).
MLDYN_INLINE double sum(v8 x) { return ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7])); }
/// Rounds n up to a multiple of kLanes.
constexpr std::size_t padded(std::size_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

}  // namespace mldyn::simd
