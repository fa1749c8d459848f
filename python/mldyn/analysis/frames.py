"""Building blocks of the analyses: atoms of an element, minimum-image vectors, the
largest minimum-image radius, chunks of frames (bounded memory) and the uniform time step.

Units: Å, fs. Cells are (F, 3, 3) with rows a, b, c, or None for an isolated system.
"""
from __future__ import annotations

import numpy as np

from ..cell import cell_frames, default_cutoff, max_cutoffs
from ..dataset import Dataset
from ..elements import element_of

__all__ = ["CHUNK_ELEMENTS", "frame_chunks", "uniform_dt", "atoms_of", "require_atoms", "minimum_image",
           "half_min_width", "frame_pairs"]


#: Number of (pair or atom) x frame elements processed at once; bounds temporary memory.
CHUNK_ELEMENTS = 1_000_000


def frame_chunks(n_frames: int, per_frame: int):
    """Slices of frames such that each chunk has about ``CHUNK_ELEMENTS`` elements (``per_frame`` per frame)."""
    step = max(1, CHUNK_ELEMENTS // max(1, per_frame))
    for a in range(0, n_frames, step):
        yield slice(a, min(n_frames, a + step))


def uniform_dt(times_f: np.ndarray, what: str = "the trajectory", need: str = "a time series spectrum") -> float:
    """Time step (fs) of evenly spaced frames; ValueError if the spacing is not uniform (0.1 % tolerance).
    ``need`` names what asks for it in the message."""
    t = np.asarray(times_f, dtype=float)
    if t.size < 2:
        raise ValueError(f"{what}: needs at least two frames for {need}")
    dt = np.diff(t)
    step = float(np.median(dt))
    if not step > 0 or np.max(np.abs(dt - step)) > 1e-3 * step:
        raise ValueError(f"{what}: frames are not evenly spaced in time (steps {dt.min():g}..{dt.max():g} fs); "
                         f"{need} needs a uniform time step")
    return step


def atoms_of(dataset: Dataset, element: str) -> np.ndarray:
    """Indices (k,) of the atoms whose species is ``element`` (``"O"``; CP2K kinds like ``"O1"`` match too).

    A species name equal to ``element`` always matches; otherwise the element of the kind
    label (:func:`mldyn.elements.element_of`) is compared. Returns an empty array if none.
    """
    ids = [i for i, name in enumerate(dataset.species_names) if name == element or element_of(name) == element]
    return np.flatnonzero(np.isin(dataset.species_n, ids))


def require_atoms(dataset: Dataset, element: str) -> np.ndarray:
    """Indices (k,) of the atoms of ``element`` (:func:`atoms_of`); ValueError when there are none."""
    idx = atoms_of(dataset, element)
    if idx.size == 0:
        raise ValueError(f"the trajectory has no {element} atoms (species {dataset.species_names})")
    return idx


def _is_orthorhombic(cells_f33: np.ndarray) -> bool:
    off = cells_f33 - np.einsum("fii->fi", cells_f33)[:, :, None] * np.eye(3)
    return bool(np.all(np.abs(off) <= 1e-12 * np.max(np.abs(cells_f33))))


_SHIFTS_27 = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)


def minimum_image(vectors, cells_f33) -> np.ndarray:
    """Minimum-image copies of difference vectors.

    vectors : (F, ..., 3) difference vectors in Å, one leading axis per frame.
    cells_f33 : (F, 3, 3) cells in Å (rows = cell vectors a, b, c), a single (3, 3) cell, or
        None (isolated system: vectors are returned unchanged).
    Returns an array of the shape of ``vectors`` (Å): for each vector, the shortest vector
    among its periodic images. Orthorhombic cells use fractional rounding (exact); other
    cells additionally search the 27 neighbouring images (exact for any cell shape as long
    as the vector is within one cell of its minimum image after rounding).
    """
    d = np.asarray(vectors, dtype=float)
    if cells_f33 is None:
        return d.copy()
    cells = cell_frames(cells_f33, d.shape[0])
    F = d.shape[0]
    flat = d.reshape(F, -1, 3)
    inv = np.linalg.inv(cells)
    frac = flat @ inv  # batched matmul: BLAS, several times faster than the equivalent einsum
    frac -= np.round(frac)
    out = frac @ cells
    if not _is_orthorhombic(cells):
        # A vector no longer than half the smallest cell width is already minimal (every other image is at
        # least a lattice vector, >= twice that, away); search the 27 neighbouring images for the rest.
        f_idx, k_idx = np.nonzero(np.einsum("fkc,fkc->fk", out, out) > max_cutoffs(cells)[:, None] ** 2)
        if f_idx.size:
            shifts = np.einsum("sd,fdc->fsc", _SHIFTS_27, cells)       # (F, 27, 3)
            cand = out[f_idx, k_idx][:, None, :] + shifts[f_idx]        # (m, 27, 3)
            best = np.argmin(np.einsum("msc,msc->ms", cand, cand), axis=1)
            out[f_idx, k_idx] = cand[np.arange(f_idx.size), best]
    return out.reshape(d.shape)


def half_min_width(dataset: Dataset) -> float:
    """Half of the smallest perpendicular cell width over all frames, Å (the largest minimum-image radius).

    The one cutoff rule, :func:`mldyn.cell.default_cutoff` of the dataset's cells. ValueError for
    an isolated (non-periodic) dataset.
    """
    if dataset.cells_f33 is None:
        raise ValueError("the trajectory has no periodic cell")
    return default_cutoff(dataset.cells_f33)


def frame_pairs(dataset: Dataset, k: int, cutoff: float):
    """Pairs (i < j) of frame ``k`` closer than ``cutoff`` (Å), minimum image, found by the core with
    the neighbour search of MD (a cell list from 1000 atoms on: O(n), so a 100k-atom frame takes
    a fraction of a second): (i (m,), j (m,), d = q_j - q_i (m, 3) Å, r (m,) Å), ascending (i, j)."""
    from .. import _core
    from ..cell import make_cell

    cell = make_cell(None if dataset.cells_f33 is None else dataset.cells_f33[k])
    i, j, d, r = _core.pairs_within(cell, np.ascontiguousarray(dataset.positions_fnc[k]), float(cutoff))
    return i.astype(np.int64), j.astype(np.int64), d, r

