#include "mldyn/environment.hpp"

#include <algorithm>
#include <cmath>

#include "detail/pair_filter.hpp"
#include "detail/simd.hpp"

namespace mldyn {

bool AgentEnvironment::set_species(std::size_t a, const double* dx, const double* dy, const double* dz,
                                   const double* r2, std::size_t n, double cutoff2) {
    cutoff_ = std::sqrt(cutoff2);
    Neighbours& nb = species_[a];
    // Room for every candidate plus one SIMD block (the compaction writes whole blocks).
    const std::size_t need = simd::padded(n) + simd::kLanes;
    if (need > nb.capacity) {
        nb.capacity = std::max<std::size_t>(64, simd::padded(2 * n) + simd::kLanes);
        for (std::vector<double>* v : {&nb.ux, &nb.uy, &nb.uz, &nb.r, &nb.inv_r}) v->resize(nb.capacity);
    }
    double *x = nb.ux.data(), *y = nb.uy.data(), *z = nb.uz.data(), *rr = nb.r.data(), *ir = nb.inv_r.data();
    bool coincident = false;
    const std::size_t k = detail::compact_geometry(dx, dy, dz, r2, n, cutoff2, x, y, z, rr, coincident);
    nb.count = k;
    // r, 1/r and unit vectors u = d / r; padding with r = 1 Å and u = 0.
    detail::pair_geometry(x, y, z, rr, ir, k);
    for (std::size_t b = k; b < simd::padded(k); ++b) {
        x[b] = y[b] = z[b] = 0.0;
        rr[b] = ir[b] = 1.0;
    }
    return !coincident;
}

const AgentEnvironment::Neighbours& AgentEnvironment::within(std::size_t a, double r_cut, Neighbours& buffer) const {
    const Neighbours& nb = species_[a];
    if (!(cutoff_ > r_cut)) return nb;
    const std::size_t need = simd::padded(nb.count) + simd::kLanes;
    if (need > buffer.capacity) {
        buffer.capacity = std::max<std::size_t>(64, simd::padded(2 * nb.count) + simd::kLanes);
        for (std::vector<double>* v : {&buffer.ux, &buffer.uy, &buffer.uz, &buffer.r, &buffer.inv_r})
            v->resize(buffer.capacity);
    }
    const double* const in[5] = {nb.ux.data(), nb.uy.data(), nb.uz.data(), nb.r.data(), nb.inv_r.data()};
    double* const out[5] = {buffer.ux.data(), buffer.uy.data(), buffer.uz.data(), buffer.r.data(), buffer.inv_r.data()};
    const std::size_t k = detail::compact_closer(in, nb.count, r_cut, out);
    buffer.count = k;
    for (std::size_t b = k; b < simd::padded(k); ++b) {
        buffer.ux[b] = buffer.uy[b] = buffer.uz[b] = 0.0;
        buffer.r[b] = buffer.inv_r[b] = 1.0;
    }
    return buffer;
}

}  // namespace mldyn
