"""Periodic cells: build a :class:`mldyn._core.Cell` from what users have at hand."""
from __future__ import annotations

import numpy as np

from ._core import Cell

__all__ = ["Cell", "make_cell"]


def make_cell(cell) -> Cell:
    """Return a core :class:`Cell` from ``cell``.

    ``cell`` may be ``None`` (isolated system), a number ``L`` (cubic cell, Å), three
    lengths ``(a, b, c)`` (orthorhombic, Å), a 3x3 array whose rows are the cell
    vectors a, b, c (Å, triclinic allowed; CP2K's ``A``, ``B``, ``C``), or a
    :class:`Cell` already.
    """
    if cell is None:
        return Cell()
    if isinstance(cell, Cell):
        return cell
    arr = np.asarray(cell, dtype=float)
    if arr.ndim == 0:
        return Cell(np.eye(3) * float(arr))
    if arr.shape == (3,):
        return Cell(np.diag(arr))
    if arr.shape == (3, 3):
        return Cell(arr)
    raise ValueError(
        f"cell must be None, a length, three lengths or a (3, 3) matrix of row vectors (Å), got shape {arr.shape}"
    )


def default_cutoff(cells) -> float:
    """The default cutoff (Å) for configurations in ``cells`` (each as :func:`make_cell` takes it):
    half the smallest perpendicular width over the cells (the minimum-image convention; the rule
    is the core's ``Cell.max_cutoff``), inf if every cell is isolated."""
    return float(min((make_cell(c).max_cutoff for c in cells), default=float("inf")))
