"""Radial invariants phi[k, a, m] and their gradients d phi / d q_k."""
from __future__ import annotations

import numpy as np

from . import _core
from .basis import Basis
from .cell import make_cell

__all__ = ["compute_invariants", "as_species_ids", "as_positions"]

NEIGHBOUR_METHODS = ("auto", "all_pairs", "cell_list")


def as_positions(positions_nc, name: str = "positions") -> np.ndarray:
    """Positions as a C-contiguous float64 (n, 3) array (Å); raises ValueError otherwise."""
    arr = np.ascontiguousarray(positions_nc, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n_atoms, 3), got {arr.shape}")
    return arr


def as_species_ids(species_n, n_atoms: int, n_species: int) -> np.ndarray:
    """Species ids as int32 (n,), each in [0, n_species); raises ValueError otherwise."""
    arr = np.asarray(species_n)
    if arr.shape != (n_atoms,):
        raise ValueError(f"species must have shape ({n_atoms},) to match the positions, got {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"species must be integer ids in [0, {n_species}), got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_species):
        bad = int(np.flatnonzero((arr < 0) | (arr >= n_species))[0])
        raise ValueError(f"species id {int(arr[bad])} of atom {bad} is out of range [0, {n_species})")
    return np.ascontiguousarray(arr, dtype=np.int32)


def compute_invariants(positions_nc, species_n, cell=None, basis: Basis | None = None, n_species: int | None = None,
                       neighbours: str = "auto", gradients: bool = True):
    """Invariants of every agent and their gradients with respect to its own position.

    Parameters
    ----------
    positions_nc : (n, 3) array, Å.
    species_n : (n,) integer species ids in ``[0, n_species)``.
    cell : see :func:`mldyn.cell.make_cell` (None: isolated system).
    basis : :class:`Basis` (default: the paper's 18 functions, cutoff half the cell width).
    n_species : number of species S (default ``max(species) + 1``).
    neighbours : ``"auto"``, ``"all_pairs"`` or ``"cell_list"``.
    gradients : also return dphi.

    Returns
    -------
    phi_nsm : (n, S, M) array, ``phi[k, a, m] = sum_{i of species a, i != k} w_m(r_ki)``
        (dimensionless for exp/Gaussian weights, Å^-n for r^-n).
    dphi_nsmc : (n, S, M, 3) array, ``d phi[k, a, m] / d q_k`` (phi units per Å), or None.
    """
    basis = basis or Basis()
    pos = as_positions(positions_nc)
    species = np.asarray(species_n)
    if n_species is None:
        n_species = int(species.max()) + 1 if species.size else 1
    species = as_species_ids(species, len(pos), n_species)
    if neighbours not in NEIGHBOUR_METHODS:
        raise ValueError(f"neighbours must be one of {NEIGHBOUR_METHODS}, got {neighbours!r}")
    c = make_cell(cell)
    calc = _core.InvariantCalculator(basis.to_core(c), n_species)
    return calc.compute(c, pos, species, neighbours, gradients)
