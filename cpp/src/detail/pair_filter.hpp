#pragma once
#include <cstddef>
#include <cstdint>

// SIMD helpers that turn candidate partners into pairs: which candidates are inside the
// cutoff, and the geometry of the pairs. Versions for AVX-512 (intrinsics) and a portable
// default are picked at load time (GCC function multiversioning).
namespace mldyn::detail {

/// Writes to `inside` the positions c (ascending) of the squared distances r2[c], c < n, with
/// 0 < r2 < cutoff2 and returns how many there are; `coincident` becomes true if some r2 is
/// exactly 0. `inside` must have room for n + 16 entries (the SIMD version writes whole blocks).
/// Picks an AVX-512 version at load time where the CPU has it (GCC function multiversioning).
std::size_t compact_inside(const double* r2, std::size_t n, double cutoff2, std::uint32_t* inside,
                           bool& coincident);

/// Copies the separations (dx, dy, dz, Å) and squared distances r2 (Å²) of the n candidates
/// with 0 < r2 < cutoff2 to the front of ox, oy, oz, or2 (in order) and returns how many;
/// `coincident` becomes true if some r2 is exactly 0. The outputs need room for n + 8 entries.
std::size_t compact_geometry(const double* dx, const double* dy, const double* dz, const double* r2, std::size_t n,
                             double cutoff2, double* ox, double* oy, double* oz, double* or2, bool& coincident);

/// Copies the n pairs' unit vectors, distances and inverse distances (in = out = {ux, uy, uz, r, inv_r})
/// with r < r_cut (Å) to the front of `out`, in order, and returns how many; each output needs room
/// for n + 8 entries.
std::size_t compact_closer(const double* const in[5], std::size_t n, double r_cut, double* const out[5]);

/// For n pairs with separations (x, y, z, Å) and squared distances r (Å²): r becomes the
/// distance (Å), inv_r its inverse (1/Å) and (x, y, z) the unit vector. AVX-512 uses a
/// reciprocal square root refined by two Newton steps (a few ulp from the division).
void pair_geometry(double* x, double* y, double* z, double* r, double* inv_r, std::size_t n);

}  // namespace mldyn::detail
