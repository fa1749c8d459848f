"""Closest contacts: the shortest distance between atoms of each pair of species over a run.

Collapse in learned MD shows here first (two hydrogens pulled together, atoms fused), so the
comparison report and the fitting's stability checks use these numbers. Minimum image, Å.
"""
from __future__ import annotations

import numpy as np

from ..dataset import Dataset
from .frames import frame_chunks, minimum_image

__all__ = ["closest_pairs", "pair_name"]


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
    n, F = dataset.n_atoms, dataset.n_frames
    i, j = np.triu_indices(n, k=1)
    a, b = np.minimum(sp[i], sp[j]), np.maximum(sp[i], sp[j])
    S = len(names)
    groups = {(x, y): np.flatnonzero((a == x) & (b == y)) for x in range(S) for y in range(x, S)}
    out = {key: np.full(F, np.inf) for key in groups}
    cells = dataset.cells_f33
    for sl in frame_chunks(F, len(i)):
        d = dataset.positions_fnc[sl][:, j] - dataset.positions_fnc[sl][:, i]
        d = minimum_image(d, None if cells is None else cells[sl])
        r = np.sqrt(np.einsum("fpc,fpc->fp", d, d))
        for key, idx in groups.items():
            if idx.size:
                out[key][sl] = r[:, idx].min(axis=1)
    result = {}
    for (x, y), v in out.items():
        result[pair_name(names[x], names[y])] = v if per_frame else float(v.min()) if v.size else float("inf")
    return result
