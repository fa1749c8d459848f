#pragma once
#include <cmath>
#include <array>
#include <string>

namespace mldyn {

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<Vec3, 3>;

/// A periodic simulation cell, or none (an isolated system).
///
/// The cell vectors are the rows of `vectors()`: a = row 0, b = row 1, c = row 2,
/// in Å, as CP2K prints them (A, B, C). Orthorhombic and triclinic cells are
/// periodic in all three directions. Minimum-image displacements are exact for
/// any distance below half the smallest perpendicular width of the cell.
class Cell {
public:
    /// An isolated system: no periodicity, displacements are plain differences.
    Cell();
    /// A periodic cell from its three row vectors (Å). Throws std::invalid_argument
    /// if a vector is not finite or the cell is degenerate or left-handed-flat (|det| tiny).
    explicit Cell(const Mat3& vectors);

    bool periodic() const { return periodic_; }
    /// True when the cell vectors are (numerically) along x, y, z.
    bool orthorhombic() const { return orthorhombic_; }
    const Mat3& vectors() const { return h_; }
    /// Volume in Å³ (0 for an isolated system).
    double volume() const;
    /// Perpendicular widths (Å) between opposite faces: volume / |b x c|, etc.
    const Vec3& widths() const { return widths_; }
    /// Half the smallest perpendicular width (Å): the largest cutoff for which a
    /// pair has at most one periodic image inside the cutoff. Infinite if isolated.
    double max_cutoff() const;

    /// Fractional coordinates s with r = s · H (H rows are the cell vectors).
    Vec3 to_fractional(const Vec3& r) const;
    Vec3 to_cartesian(const Vec3& s) const;

    /// Minimum-image displacement of `d` (Å). `cutoff` (Å) tells how far the caller
    /// cares: if the rounded image is shorter than it the image is exact; for
    /// triclinic cells the 26 neighbouring images are searched otherwise.
    Vec3 minimum_image(const Vec3& d, double cutoff) const {
        if (!periodic_) return d;
        if (orthorhombic_) {  // the hot path, inline
            Vec3 out{};
            for (int a = 0; a < 3; ++a) out[a] = wrap(d[a], h_[a][a], h_inv_[a][a]);
            return out;
        }
        return minimum_image_triclinic(d, cutoff);
    }

    /// One component of an orthorhombic minimum image: d - L round(d / L), with `inv_length`
    /// = 1/L. The SIMD loops of the neighbour search use this same function.
    ///
    /// std::rint rounds to nearest (ties to even) in one instruction (or, without SSE4.1 and with
    /// -fno-trapping-math, GCC's inline 2^52 trick). Written as (x + 1.5 * 2^52) - 1.5 * 2^52 by
    /// hand, x = d * inv would be contracted into an FMA in some code paths (SIMD body) but not
    /// others (remainder), so the same pair could round differently at exactly half a box length.
    static double wrap(double d, double length, double inv_length) { return d - length * std::rint(d * inv_length); }

private:
    Vec3 minimum_image_triclinic(const Vec3& d, double cutoff) const;

    bool periodic_ = false;
    bool orthorhombic_ = false;
    Mat3 h_{};       // rows: cell vectors
    Mat3 h_inv_{};   // inverse of h_ (so s = r · h_inv_)
    Vec3 widths_{};
};

}  // namespace mldyn
