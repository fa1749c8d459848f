"""Closest contacts: the shortest distance between atoms of each pair of species over a run.

Collapse in learned MD shows here first (two hydrogens pulled together, atoms fused), so the
comparison report and the fitting's stability checks use these numbers. Minimum image, Å.
"""
from __future__ import annotations

import numpy as np

from ..dataset import Dataset
from .frames import frame_pairs, half_min_width, minimum_image

__all__ = ["closest_pairs", "pair_name"]


#: Radius (Å) within which closest contacts are looked for first (all pairs of the species beyond it).
CONTACT_SEARCH_A = 3.0


def pair_name(a: str, b: str) -> str:
    """The name of a species pair, its two names in the dataset's order joined by '-' (e.g. "O-H")."""
    return f"{a}-{b}"


def closest_pairs(dataset: Dataset, per_frame: bool = False) -> dict:
    """Shortest distance (Å) between two atoms of species a and b (a before b in the dataset's
    species order, a == b included) over all frames: {"O-O": ..., "O-H": ..., "H-H": ...}.
    With ``per_frame`` the values are (F,) arrays, one per frame. A pair of species with fewer
    than two atoms in all (one atom of a species with itself) gives inf.
    """
    names = list(dataset.species_names)
    sp = np.asarray(dataset.species_n)
    F, S = dataset.n_frames, len(names)
    cells = dataset.cells_f33
    out = {(x, y): np.full(F, np.inf) for x in range(S) for y in range(x, S)}
    reach = CONTACT_SEARCH_A if cells is None else min(CONTACT_SEARCH_A, half_min_width(dataset))
    members = [np.flatnonzero(sp == x) for x in range(S)]
    for k in range(F):
        i, j, _, r = frame_pairs(dataset, k, reach)  # the core's neighbour search: O(n) per frame
        a, b = np.minimum(sp[i], sp[j]), np.maximum(sp[i], sp[j])
        for (x, y), v in out.items():
            sel = (a == x) & (b == y)
            if sel.any():
                v[k] = r[sel].min()
            elif members[x].size and members[y].size and (x != y or members[x].size > 1):
                # no such pair within reach: every pair of the two species (few atoms, or far apart)
                q = dataset.positions_fnc[k]
                d = q[members[y]][None, :, :] - q[members[x]][:, None, :]
                d = minimum_image(d[None], None if cells is None else cells[k:k + 1])[0]
                r2 = np.einsum("abc,abc->ab", d, d)
                if x == y:
                    r2 = r2[np.triu_indices(members[x].size, 1)]
                v[k] = float(np.sqrt(r2.min()))
    result = {}
    for (x, y), v in out.items():
        result[pair_name(names[x], names[y])] = v if per_frame else float(v.min()) if v.size else float("inf")
    return result
