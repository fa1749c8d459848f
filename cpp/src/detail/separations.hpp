#pragma once
// Minimum-image separations of a batch of partners: the one batch form of Cell::minimum_image,
// used by the neighbour-list build and by every agent's environment.
#include <cstddef>
#include <cstdint>

#include "detail/simd.hpp"
#include "mldyn/cell.hpp"

namespace mldyn::detail {

/// Separations d = q_p - q_i (minimum image, Å) and squared distances r2 (Å²) of `count` partners
/// from the point q_i = `origin` (Å). Partner c sits at (px[s j], py[s j], pz[s j]) with s = Stride
/// and j = index[c] if Indexed (gathered rows) or j = c (contiguous). With WriteVectors false only
/// r2 is written (dx, dy, dz may be null). Orthorhombic cells run as one SIMD loop with
/// Cell::wrap; triclinic cells use Cell::minimum_image (exact up to `cutoff`, Å); isolated systems
/// take plain differences.
template <std::size_t Stride, bool Indexed, bool WriteVectors>
MLDYN_INLINE void separations(const Cell& cell, double cutoff, const double* origin, const double* px, const double* py,
                              const double* pz, const std::uint32_t* index, std::size_t count, double* dx,
                              double* dy, double* dz, double* r2) {
    const double xi = origin[0], yi = origin[1], zi = origin[2];
    if (cell.periodic() && cell.orthorhombic()) {
        const double lx = cell.vectors()[0][0], ly = cell.vectors()[1][1], lz = cell.vectors()[2][2];
        const double ix = 1.0 / lx, iy = 1.0 / ly, iz = 1.0 / lz;
#pragma omp simd
        for (std::size_t c = 0; c < count; ++c) {
            const std::size_t j = Indexed ? index[c] : c;
            const double x = Cell::wrap(px[Stride * j] - xi, lx, ix);
            const double y = Cell::wrap(py[Stride * j] - yi, ly, iy);
            const double z = Cell::wrap(pz[Stride * j] - zi, lz, iz);
            if constexpr (WriteVectors) {
                dx[c] = x;
                dy[c] = y;
                dz[c] = z;
            }
            r2[c] = x * x + y * y + z * z;
        }
        return;
    }
    for (std::size_t c = 0; c < count; ++c) {
        const std::size_t j = Indexed ? index[c] : c;
        Vec3 d{px[Stride * j] - xi, py[Stride * j] - yi, pz[Stride * j] - zi};
        d = cell.minimum_image(d, cutoff);  // identity for an isolated system
        if constexpr (WriteVectors) {
            dx[c] = d[0];
            dy[c] = d[1];
            dz[c] = d[2];
        }
        r2[c] = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    }
}

}  // namespace mldyn::detail
