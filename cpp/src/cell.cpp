#include "mldyn/cell.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mldyn {

namespace {
Vec3 cross(const Vec3& a, const Vec3& b) {
    return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
double norm(const Vec3& a) { return std::sqrt(dot(a, a)); }
}  // namespace

Cell::Cell() {
    const double inf = std::numeric_limits<double>::infinity();
    widths_ = {inf, inf, inf};
}

Cell::Cell(const Mat3& vectors) : periodic_(true), h_(vectors) {
    for (const auto& row : h_)
        for (double x : row)
            if (!std::isfinite(x)) throw std::invalid_argument("cell: cell vectors must be finite numbers (Å)");
    const double det = dot(h_[0], cross(h_[1], h_[2]));
    const double scale = norm(h_[0]) * norm(h_[1]) * norm(h_[2]);
    if (!(scale > 0.0) || std::abs(det) < 1e-10 * scale) {
        throw std::invalid_argument("cell: the three cell vectors are degenerate (zero volume)");
    }
    // Inverse of the row matrix: rows of h_inv^T are the reciprocal vectors / det.
    const Vec3 bc = cross(h_[1], h_[2]), ca = cross(h_[2], h_[0]), ab = cross(h_[0], h_[1]);
    for (int i = 0; i < 3; ++i) {
        h_inv_[i][0] = bc[i] / det;
        h_inv_[i][1] = ca[i] / det;
        h_inv_[i][2] = ab[i] / det;
    }
    const double vol = std::abs(det);
    widths_ = {vol / norm(bc), vol / norm(ca), vol / norm(ab)};
    orthorhombic_ = h_[0][1] == 0.0 && h_[0][2] == 0.0 && h_[1][0] == 0.0 && h_[1][2] == 0.0 &&
                    h_[2][0] == 0.0 && h_[2][1] == 0.0;
}

double Cell::volume() const {
    if (!periodic_) return 0.0;
    return std::abs(dot(h_[0], cross(h_[1], h_[2])));
}

double Cell::max_cutoff() const {
    if (!periodic_) return std::numeric_limits<double>::infinity();
    return 0.5 * std::min(widths_[0], std::min(widths_[1], widths_[2]));
}

Vec3 Cell::to_fractional(const Vec3& r) const {
    Vec3 s{};
    for (int j = 0; j < 3; ++j) s[j] = r[0] * h_inv_[0][j] + r[1] * h_inv_[1][j] + r[2] * h_inv_[2][j];
    return s;
}

Vec3 Cell::to_cartesian(const Vec3& s) const {
    Vec3 r{};
    for (int j = 0; j < 3; ++j) r[j] = s[0] * h_[0][j] + s[1] * h_[1][j] + s[2] * h_[2][j];
    return r;
}

Vec3 Cell::minimum_image_triclinic(const Vec3& d, double cutoff) const {
    Vec3 s = to_fractional(d);
    for (double& x : s) x -= std::rint(x);
    Vec3 best = to_cartesian(s);
    double best2 = dot(best, best);
    // Rounding is exact for |d| below half the smallest width; beyond that a
    // skewed cell can hide a shorter image among the 26 neighbours.
    if (best2 < cutoff * cutoff) return best;
    for (int i = -1; i <= 1; ++i)
        for (int j = -1; j <= 1; ++j)
            for (int k = -1; k <= 1; ++k) {
                if (i == 0 && j == 0 && k == 0) continue;
                const Vec3 c = to_cartesian({s[0] + i, s[1] + j, s[2] + k});
                const double c2 = dot(c, c);
                if (c2 < best2) { best2 = c2; best = c; }
            }
    return best;
}

}  // namespace mldyn
