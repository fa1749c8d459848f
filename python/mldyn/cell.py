"""Periodic cells: the one normalisation of what users have at hand, and the one cutoff rule.

* :func:`cell_matrix` — ``None`` / ``L`` / ``(a, b, c)`` / nine numbers / 3x3 → a (3, 3) array (or None);
* :func:`make_cell` — the same, as a core :class:`mldyn._core.Cell`;
* :func:`cell_frames` — a single cell or per-frame cells → (F, 3, 3);
* :func:`max_cutoffs`, :func:`default_cutoff` — half the smallest perpendicular cell width, the
  largest cutoff the minimum-image convention allows; the core's ``Cell.max_cutoff`` defines it.
"""
from __future__ import annotations

import math

import numpy as np

from ._core import Cell

__all__ = ["Cell", "make_cell", "cell_matrix", "cell_frames", "max_cutoffs", "default_cutoff"]


def cell_matrix(cell, what: str = "cell") -> np.ndarray | None:
    """Cell vectors as a new (3, 3) float array, rows a, b, c in Å; None for an isolated system.

    ``cell`` may be ``None`` (isolated), a number ``L`` (cubic cell, Å), three lengths
    ``(a, b, c)`` (orthorhombic, Å), nine numbers or a 3x3 array whose rows are the cell
    vectors a, b, c (Å, triclinic allowed; CP2K's ``A``, ``B``, ``C``), or a :class:`Cell`.
    ValueError (naming ``what``) for anything else; finiteness and volume are not checked here.
    """
    if cell is None:
        return None
    if isinstance(cell, Cell):
        return np.array(cell.vectors, dtype=float) if cell.periodic else None
    try:
        arr = np.asarray(cell, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers (Å), got {cell!r}") from None
    if arr.ndim == 0 or arr.shape == (1,):
        return np.eye(3) * float(arr.reshape(-1)[0])
    if arr.shape == (3,):
        return np.diag(arr)
    if arr.shape in ((9,), (3, 3)):
        return arr.reshape(3, 3).copy()
    raise ValueError(f"{what} must be None, a length, three lengths or a (3, 3) matrix of row vectors (Å; or nine "
                     f"numbers), got shape {arr.shape}")


def make_cell(cell) -> Cell:
    """Return a core :class:`Cell` from ``cell`` (anything :func:`cell_matrix` takes, or a :class:`Cell`).

    ValueError for a bad shape (:func:`cell_matrix`), non-finite vectors or a degenerate cell (the core).
    """
    if isinstance(cell, Cell):
        return cell
    h = cell_matrix(cell)
    return Cell() if h is None else Cell(h)


def cell_frames(cells, n_frames: int) -> np.ndarray | None:
    """Per-frame cells (F, 3, 3) in Å from a single (3, 3) cell (broadcast, read-only) or (F, 3, 3) cells.

    ``None`` (isolated) stays None; any other shape is returned as an array for the caller to check.
    """
    if cells is None:
        return None
    arr = np.asarray(cells, dtype=float)
    if arr.shape == (3, 3):
        return np.broadcast_to(arr, (int(n_frames), 3, 3))
    return arr


def max_cutoffs(cells_f33) -> np.ndarray:
    """(F,) largest minimum-image cutoff of every frame's cell, Å: the core's ``Cell.max_cutoff``
    (half the smallest perpendicular cell width). cells_f33 : (F, 3, 3) rows a, b, c in Å."""
    cells = np.asarray(cells_f33, dtype=float).reshape(-1, 3, 3)
    unique, inverse = np.unique(cells, axis=0, return_inverse=True)
    limits = np.array([make_cell(c).max_cutoff for c in unique])
    return limits[np.asarray(inverse).reshape(-1)]


def default_cutoff(cells) -> float:
    """The default cutoff (Å) for data in ``cells``: the smallest ``Cell.max_cutoff`` over the given cells.

    cells : None (isolated: inf), one cell as :func:`make_cell` takes it, or (F, 3, 3) per-frame cells (Å).
    """
    if cells is None:
        return math.inf
    arr = np.asarray(cells, dtype=float) if not isinstance(cells, Cell) else None
    if arr is None or arr.ndim < 3:
        return float(make_cell(cells).max_cutoff)
    return float(np.min(max_cutoffs(arr)))
