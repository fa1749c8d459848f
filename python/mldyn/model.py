"""The agent-loss model: per-species quadratic losses of the radial invariants.

For an agent k of species s with invariants phi_k (flattened to F = S*M entries,
index ``a*M + m``):

    H_s(phi) = A_s · phi + 1/2 phi · B_s · phi                  (eV)
    F_k      = -(A_s + B_s phi_k) · d phi_k / d q_k             (eV/Å)

Only q_k is differentiated: the forces are *not* the gradient of one global
energy, so momentum and energy are not conserved in general. With B = 0 and A
symmetric in the species pair the model is a pair potential whose energy is
1/2 sum_k H_k (see :attr:`AgentLossModel.conservative`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import _core
from .basis import Basis
from .cell import make_cell
from .invariants import NEIGHBOUR_METHODS, as_positions, as_species_ids
from .elements import ATOMIC_MASSES

__all__ = ["AgentLossModel"]


class AgentLossModel:
    """Agent-loss model for species ``species`` (e.g. ``["O", "H"]``).

    Parameters
    ----------
    species : names of the S species; species id i is ``species[i]``.
    basis : :class:`Basis` with M functions.
    A : (S, F) array, eV per unit invariant (F = S*M, index a*M + m).
    B : (S, F, F) array of symmetric matrices, eV per unit invariant squared; None for a linear model.
    masses : (S,) masses in amu (default: standard atomic masses of the names).
    """

    def __init__(self, species: Sequence[str], basis: Basis, A, B=None, masses=None):
        self.species = [str(s) for s in species]
        if len(set(self.species)) != len(self.species) or not self.species:
            raise ValueError(f"model: species names must be unique and non-empty, got {self.species}")
        self.basis = basis
        S, F = self.n_species, self.n_features
        self.A = np.array(A, dtype=float)
        if self.A.shape != (S, F):
            raise ValueError(f"model: A must have shape ({S}, {F}), got {self.A.shape}")
        self.B = np.zeros((S, F, F)) if B is None else np.array(B, dtype=float)
        if self.B.shape != (S, F, F):
            raise ValueError(f"model: B must have shape ({S}, {F}, {F}), got {self.B.shape}")
        if masses is None:
            missing = [s for s in self.species if s not in ATOMIC_MASSES]
            if missing:
                raise ValueError(f"model: no standard mass for species {missing}; pass masses= (amu)")
            masses = [ATOMIC_MASSES[s] for s in self.species]
        self.masses = np.array(masses, dtype=float)
        if self.masses.shape != (S,) or not np.all(self.masses > 0):
            raise ValueError(f"model: masses must be {S} positive numbers (amu), got {self.masses}")
        #: Free-form training information (provenance, split, metrics), saved with the model.
        self.metadata: dict = {}
        self._core_cache: dict[float, _core.AgentLossModel] = {}
        self.core_for(None)  # builds the core model now so bad A or B fail here

    @property
    def n_species(self) -> int:
        return len(self.species)

    @property
    def n_functions(self) -> int:
        return len(self.basis)

    @property
    def n_features(self) -> int:
        return self.n_species * self.n_functions

    @property
    def quadratic(self) -> bool:
        return bool(np.any(self.B != 0))

    @property
    def conservative(self) -> bool:
        """True if B = 0 and A[s, a*M+m] == A[a, s*M+m]: a pair potential with energy 1/2 sum H_k."""
        return self.core_for(None).conservative

    def core_for(self, cell) -> _core.AgentLossModel:
        """The core model with the cutoff resolved for ``cell`` (cached per cutoff)."""
        c = make_cell(cell)
        r_cut = self.basis.cutoff_for(c)
        core = self._core_cache.get(r_cut)
        if core is None:
            core = _core.AgentLossModel(self.basis.to_core(c), self.n_species, self.A, self.B)
            self._core_cache[r_cut] = core
        return core

    def species_ids(self, species, n_atoms: int) -> np.ndarray:
        """Integer ids (n,) from ids or from names such as ``["O", "H", "H"]``."""
        arr = np.asarray(species)
        if arr.dtype.kind in "UO":
            index = {s: i for i, s in enumerate(self.species)}
            unknown = sorted({str(s) for s in arr} - set(index))
            if unknown:
                raise ValueError(f"species {unknown} are not in the model's species {self.species}")
            arr = np.array([index[str(s)] for s in arr], dtype=np.int32)
        return as_species_ids(arr, n_atoms, self.n_species)

    def atom_masses(self, species, n_atoms: int) -> np.ndarray:
        """Per-atom masses (n,) in amu."""
        return self.masses[self.species_ids(species, n_atoms)]

    def compute(self, positions_nc, species_n, cell=None, neighbours: str = "auto"):
        """Forces (n, 3) in eV/Å and agent losses H_k (n,) in eV for one configuration.

        ``positions_nc`` in Å; ``species_n`` ids or names; ``cell`` as in :func:`mldyn.cell.make_cell`.
        """
        if neighbours not in NEIGHBOUR_METHODS:
            raise ValueError(f"neighbours must be one of {NEIGHBOUR_METHODS}, got {neighbours!r}")
        pos = as_positions(positions_nc)
        ids = self.species_ids(species_n, len(pos))
        c = make_cell(cell)
        return self.core_for(c).compute(c, pos, ids, neighbours)  # the core serialises its own scratch use

    def forces(self, positions_nc, species_n, cell=None, neighbours: str = "auto") -> np.ndarray:
        """Forces (n, 3) in eV/Å; see :meth:`compute`."""
        return self.compute(positions_nc, species_n, cell, neighbours)[0]

    @classmethod
    def pair_potential(cls, species: Sequence[str], basis: Basis, coefficients, masses=None) -> "AgentLossModel":
        """A conservative model from pair coefficients c[s, a, m] (eV), symmetrised in (s, a).

        The total energy is sum_{i<j} sum_m c[s_i, s_j, m] w_m(r_ij) and F = -grad E.
        """
        c = np.asarray(coefficients, dtype=float)
        S, M = len(species), len(basis)
        if c.shape != (S, S, M):
            raise ValueError(f"pair coefficients must have shape ({S}, {S}, {M}), got {c.shape}")
        c = 0.5 * (c + c.transpose(1, 0, 2))
        return cls(species, basis, c.reshape(S, S * M), None, masses)

    def save(self, path):
        """Write the model as versioned JSON (see :mod:`mldyn.modelfile`)."""
        from .modelfile import save_model

        return save_model(self, path)

    @classmethod
    def load(cls, path) -> "AgentLossModel":
        """Read and validate a JSON model file."""
        from .modelfile import load_model

        return load_model(path)

    def __repr__(self) -> str:
        kind = "quadratic" if self.quadratic else "linear"
        return f"AgentLossModel({kind}, species={self.species}, functions={self.n_functions}, r_cut={self.basis.r_cut})"
