#pragma once
#include <cstddef>
#include <cstdint>

namespace mldyn::detail {

/// Writes to `inside` the positions c (ascending) of the squared distances r2[c], c < n, with
/// 0 < r2 < cutoff2 and returns how many there are; `coincident` becomes true if some r2 is
/// exactly 0. `inside` must have room for n + 16 entries (the SIMD version writes whole blocks).
/// Picks an AVX-512 version at load time where the CPU has it (GCC function multiversioning).
std::size_t compact_inside(const double* r2, std::size_t n, double cutoff2, std::uint32_t* inside,
                           bool& coincident);

}  // namespace mldyn::detail
