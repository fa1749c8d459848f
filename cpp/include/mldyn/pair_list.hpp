#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mldyn/cell.hpp"

namespace mldyn {

/// Every pair of atoms closer than a cutoff, for analysis of large frames (RDFs, bonds, contacts).
struct PairList {
    std::vector<std::uint32_t> i, j;  ///< i < j, ascending (i, then j)
    std::vector<double> dx, dy, dz;   ///< minimum-image separation q_j - q_i (Å)
    std::vector<double> r;            ///< its length (Å), < cutoff
};

/// The pairs of the `n` atoms at `positions_nc` (n x 3, Å) closer than `cutoff` (Å, finite; at most
/// half the smallest cell width for a periodic cell), with the neighbour search MD uses (a cell list
/// from 1000 atoms on, all pairs below): O(n) at fixed cutoff. Throws std::invalid_argument for a
/// cutoff that is not positive and finite or exceeds the minimum-image limit.
PairList pairs_within(const Cell& cell, const double* positions_nc, std::size_t n, double cutoff);

}  // namespace mldyn
