"""Invariant rows of agents and their gradients d phi / d q_k, for any descriptors."""
from __future__ import annotations

import numpy as np

from . import _core
from .cell import default_cutoff, make_cell

__all__ = ["compute_features", "compute_invariants", "feature_evaluator", "as_species_ids", "as_positions",
           "NEIGHBOUR_METHODS"]

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


def feature_evaluator(descriptors, n_species: int, cells=None) -> _core.Evaluator:
    """A core evaluator of the invariant rows of ``descriptors`` (a descriptor or a sequence),
    with unresolved cutoffs set from ``cells`` (None, one cell or (F, 3, 3) cells, Å; see
    :func:`mldyn.cell.default_cutoff`)."""
    from .descriptors import as_descriptors

    specs = [d.spec() for d in as_descriptors(descriptors)]
    return _core.Evaluator(_core.DescriptorSet(specs, int(n_species), default_cutoff(cells)))


def compute_features(positions_nc, species_n, cell=None, descriptors=None, n_species: int | None = None,
                     neighbours: str = "auto", gradients: bool = True):
    """Invariant rows of every agent and their gradients with respect to its own position.

    Parameters
    ----------
    positions_nc : (n, 3) array, Å.
    species_n : (n,) integer species ids in ``[0, n_species)``.
    cell : see :func:`mldyn.cell.make_cell` (None: isolated system).
    descriptors : one descriptor or a sequence (default: the paper's 18 radial functions,
        cutoff half the cell width).
    n_species : number of species S (default ``max(species) + 1``).
    neighbours : ``"auto"``, ``"all_pairs"`` or ``"cell_list"``.
    gradients : also return dphi.

    Returns
    -------
    phi_nf : (n, F) array, the concatenated rows of the descriptors.
    dphi_nfc : (n, F, 3) array, ``d phi[k, f] / d q_k`` (phi units per Å), or None.
    """
    from .descriptors import Radial

    pos = as_positions(positions_nc)
    species = np.asarray(species_n)
    if n_species is None:
        n_species = int(species.max()) + 1 if species.size else 1
    species = as_species_ids(species, len(pos), n_species)
    if neighbours not in NEIGHBOUR_METHODS:
        raise ValueError(f"neighbours must be one of {NEIGHBOUR_METHODS}, got {neighbours!r}")
    c = make_cell(cell)
    ev = feature_evaluator(descriptors if descriptors is not None else Radial(), n_species, c)
    return ev.features(c, pos, species, neighbours, gradients)


def compute_invariants(positions_nc, species_n, cell=None, basis=None, n_species: int | None = None,
                       neighbours: str = "auto", gradients: bool = True):
    """The paper's radial invariants phi[k, a, m] (n, S, M) and d phi / d q_k (n, S, M, 3) or None,
    for a :class:`mldyn.descriptors.Radial` ``basis`` (default: the paper's 18 functions); see
    :func:`compute_features` for the other arguments.

    ``phi[k, a, m] = sum_{i of species a, i != k} w_m(r_ki)`` (dimensionless for exp/Gaussian
    weights, Å^-n for r^-n); dphi in phi units per Å.
    """
    from .descriptors import Radial

    basis = basis or Radial()
    species = np.asarray(species_n)
    if n_species is None:
        n_species = int(species.max()) + 1 if species.size else 1
    phi, dphi = compute_features(positions_nc, species, cell, basis, n_species, neighbours, gradients)
    shape = (len(phi), n_species, len(basis))
    return phi.reshape(shape), (None if dphi is None else dphi.reshape(shape + (3,)))
