#include "mldyn/pair_list.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "mldyn/neighbours.hpp"

namespace mldyn {

PairList pairs_within(const Cell& cell, const double* positions_nc, std::size_t n, double cutoff) {
    if (!(cutoff > 0.0) || !std::isfinite(cutoff))
        throw std::invalid_argument("pairs_within: the cutoff must be a positive finite distance (Å)");
    if (cell.periodic() && cutoff > cell.max_cutoff() * (1.0 + 1e-12))
        throw std::invalid_argument("pairs_within: cutoff " + std::to_string(cutoff) +
                                    " Å exceeds half the smallest cell width (" + std::to_string(cell.max_cutoff()) +
                                    " Å), the minimum-image limit");
    const std::vector<int> species(n, 0);
    PairFinder finder;
    finder.set_skin(0.0);
    finder.build(cell, positions_nc, species.data(), 1, n, cutoff, NeighbourMethod::Auto);
    PairList out;
    const double cutoff2 = cutoff * cutoff;
    // Serial rows (outside a parallel region): rows come in the finder's order, so collect per atom first.
    std::vector<std::vector<std::uint32_t>> partners(n);
    finder.for_each_row([&](std::size_t i, const std::uint32_t* js, const std::size_t* seg) {
        for (std::size_t c = seg[0]; c < seg[1]; ++c)
            if (js[c] > i) partners[i].push_back(js[c]);
    });
    for (std::size_t i = 0; i < n; ++i) {
        const Vec3 qi{positions_nc[3 * i], positions_nc[3 * i + 1], positions_nc[3 * i + 2]};
        for (const std::uint32_t j : partners[i]) {  // ascending: the finder lists candidates in index order
            Vec3 d{positions_nc[3 * j] - qi[0], positions_nc[3 * j + 1] - qi[1], positions_nc[3 * j + 2] - qi[2]};
            d = cell.minimum_image(d, cutoff);
            const double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            if (!(r2 < cutoff2)) continue;
            out.i.push_back(static_cast<std::uint32_t>(i));
            out.j.push_back(j);
            out.dx.push_back(d[0]);
            out.dy.push_back(d[1]);
            out.dz.push_back(d[2]);
            out.r.push_back(std::sqrt(r2));
        }
    }
    return out;
}

}  // namespace mldyn
