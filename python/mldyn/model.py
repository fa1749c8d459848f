"""The agent-loss model: per-species quadratic losses of the agents' invariants, and its files.

For an agent k of species s with invariant row phi_k (F entries: the concatenated rows of the
model's descriptors, see :mod:`mldyn.descriptors`):

    H_s(phi) = A_s · phi + 1/2 phi · B_s · phi                  (eV)
    F_k      = -(A_s + B_s phi_k) · d phi_k / d q_k             (eV/Å)

Only q_k is differentiated: the forces are *not* the gradient of one global energy, so
momentum and energy are not conserved in general. With B = 0, radial descriptors only and A
symmetric in the species pair the model is a pair potential whose energy is 1/2 sum_k H_k
(see :attr:`AgentLossModel.conservative`).

Model files are versioned JSON. The one reader (and the one description of the schema) is the
C++ core's (``cpp/include/mldyn/model_file.hpp``), used here, in MD, in the C++ package and in
the LAMMPS plugin; :meth:`AgentLossModel.save` writes schema version 2. Floats are written
with Python's shortest round-trip repr and read back exactly.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from . import _core
from .cell import default_cutoff, make_cell
from .descriptors import Radial, as_descriptors, from_spec
from .elements import ATOMIC_MASSES
from .invariants import NEIGHBOUR_METHODS, as_positions, as_species_ids
from .io.text import check_input_file, write_text_atomic
from .strict_json import json_safe
from .uncertainty import covariance_to_dict, force_uncertainty, predicted_error, require_covariance

__all__ = ["AgentLossModel", "save_model", "load_model", "FORMAT", "SCHEMA_VERSION", "UNITS"]

FORMAT = "mldyn-agent-loss-model"
SCHEMA_VERSION = 2
UNITS = {"length": "angstrom", "energy": "eV", "force": "eV/angstrom", "mass": "amu", "time": "fs"}


class AgentLossModel:
    """Agent-loss model for species ``species`` (e.g. ``["O", "H"]``).

    Parameters
    ----------
    species : names of the S species; species id i is ``species[i]``.
    descriptors : one descriptor (e.g. :class:`mldyn.descriptors.Radial`) or a sequence of them;
        F invariants per agent in all.
    A : (S, F) array, eV per unit invariant.
    B : (S, Fq, Fq) array of symmetric matrices, eV per unit invariant squared, acting on the first
        Fq <= F invariants of the row (the quadratic block; Fq = F is the paper's model); None for a
        linear model.
    masses : (S,) masses in amu (default: standard atomic masses of the names).

    Everything is validated by the core (ValueError names the problem).
    """

    def __init__(self, species: Sequence[str], descriptors, A, B=None, masses=None):
        species = [str(s) for s in species]
        self.descriptors = as_descriptors(descriptors)
        if masses is None:
            missing = [s for s in species if s not in ATOMIC_MASSES]
            if missing:
                raise ValueError(f"model: no standard mass for species {missing}; pass masses= (amu)")
            masses = [ATOMIC_MASSES[s] for s in species]
        S = len(species)
        F = sum(d.size(S) for d in self.descriptors)
        A = np.asarray(A, dtype=float)
        B = np.zeros((S, 0, 0)) if B is None else np.asarray(B, dtype=float)
        try:
            masses = [float(m) for m in masses]
        except (TypeError, ValueError):
            raise ValueError(f"model: masses must be {S} positive numbers (amu), got {masses!r}") from None
        self._definition = _core.ModelDefinition(species, masses, [d.spec() for d in self.descriptors],
                                                 bool(np.any(B != 0)), A, B)
        self.species = species
        self.masses = np.array(masses)
        self.A = self._definition.A
        self.B = self._definition.B
        #: Free-form training information (provenance, split, metrics), saved with the model.
        self.metadata: dict = {}
        self._covariance_info: dict = {}
        self._evaluators: dict[float, _core.Evaluator] = {}

    @property
    def n_species(self) -> int:
        return len(self.species)

    @property
    def n_features(self) -> int:
        return int(self._definition.n_features)

    @property
    def basis(self) -> Radial:
        """The radial descriptor of a model that has exactly one (the paper's models)."""
        if len(self.descriptors) != 1 or not isinstance(self.descriptors[0], Radial):
            raise AttributeError("model.basis: this model has several descriptors; use model.descriptors")
        return self.descriptors[0]

    @property
    def n_functions(self) -> int:
        """Radial weight functions M of a single-radial-descriptor model."""
        return len(self.basis)

    @property
    def quadratic(self) -> bool:
        return bool(self._definition.quadratic)

    @property
    def n_quadratic(self) -> int:
        """Invariants in the quadratic block (the first Fq of the row)."""
        return int(self._definition.n_quadratic)

    @property
    def conservative(self) -> bool:
        """True for a pair potential (B = 0, radial only, A symmetric in the species pair): energy 1/2 sum H_k.

        It does not depend on the cutoff, so any placeholder resolves an unresolved one."""
        return bool(self._definition.build(1e300).conservative)

    @property
    def covariance(self):
        """The fit's parameter covariance (core ForceCovariance), or None: see :mod:`mldyn.uncertainty`."""
        return self._definition.covariance

    def set_covariance(self, params, factors, noise_variances, info: dict | None = None) -> None:
        """Store the fit's parameter covariance: per species the fitted parameter indices, the packed
        lower-triangular factor and the residual variance per force component ((eV/Å)²); ``info``
        {key: {species: value}} is saved beside them (see :mod:`mldyn.fit.uncertainty`)."""
        self._definition.covariance = _core.ForceCovariance(
            int(self._definition.n_parameters), [list(map(int, p)) for p in params],
            [np.ascontiguousarray(f, dtype=float) for f in factors], [float(v) for v in noise_variances])
        self._covariance_info = dict(info or {})

    def force_uncertainty(self, positions_nc, species_n, cell=None, total: bool = False) -> np.ndarray:
        """Per-agent force uncertainty (n,) in eV/Å (see :mod:`mldyn.uncertainty`): the spread of each
        predicted force from the fitted parameters, or with ``total`` the expected size of its error."""
        require_covariance(self)
        ids = self.species_ids(species_n, len(as_positions(positions_nc)))
        phi, dphi = self.features(positions_nc, ids, cell)
        return (predicted_error if total else force_uncertainty)(self, phi, dphi, ids)

    def core_for(self, cell) -> _core.AgentLossModel:
        """The core model with unresolved cutoffs set for ``cell`` (half its smallest width)."""
        return self.evaluator_for(cell).model

    def evaluator_for(self, cell) -> _core.Evaluator:
        """A core evaluator (neighbour list and scratch) for ``cell``, cached per resolved cutoff."""
        r_cut = default_cutoff(cell) if self._definition.cutoff_from_cell else math.inf
        ev = self._evaluators.get(r_cut)
        if ev is None:
            ev = _core.Evaluator(self._definition.build(r_cut))
            self._evaluators[r_cut] = ev
        return ev

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
        return self.evaluator_for(c).forces(c, pos, ids, neighbours)  # the core serialises its own scratch use

    def forces(self, positions_nc, species_n, cell=None, neighbours: str = "auto") -> np.ndarray:
        """Forces (n, 3) in eV/Å; see :meth:`compute`."""
        return self.compute(positions_nc, species_n, cell, neighbours)[0]

    def features(self, positions_nc, species_n, cell=None, neighbours: str = "auto", gradients: bool = True):
        """Invariant rows phi (n, F) and, if ``gradients``, d phi / d q_k (n, F, 3; per Å) of every agent."""
        pos = as_positions(positions_nc)
        ids = self.species_ids(species_n, len(pos))
        c = make_cell(cell)
        return self.evaluator_for(c).features(c, pos, ids, neighbours, gradients)

    @classmethod
    def pair_potential(cls, species: Sequence[str], basis: Radial, coefficients, masses=None) -> "AgentLossModel":
        """A conservative model from pair coefficients c[s, a, m] (eV), symmetrised in (s, a).

        The total energy is sum_{i<j} sum_m c[s_i, s_j, m] w_m(r_ij) and F = -grad E.
        """
        c = np.asarray(coefficients, dtype=float)
        S, M = len(species), len(basis)
        if c.shape != (S, S, M):
            raise ValueError(f"pair coefficients must have shape ({S}, {S}, {M}), got {c.shape}")
        c = 0.5 * (c + c.transpose(1, 0, 2))
        return cls(species, basis, c.reshape(S, S * M), None, masses)

    # ------------------------------------------------------------------------- files
    def to_dict(self) -> dict:
        """The model as a JSON-ready dict (schema version 2, see model_file.hpp)."""
        from . import __version__

        return {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "mldyn_version": __version__,
            "units": UNITS,
            "species": list(self.species),
            "masses": [float(m) for m in self.masses],
            "descriptors": [d.to_dict() for d in self.descriptors],
            "loss": "quadratic" if self.quadratic else "linear",
            "quadratic_features": self.n_quadratic if self.quadratic else 0,
            "coefficients": {"A": self.A.tolist(), "B": (self.B if self.quadratic else self.B[:, :0, :0]).tolist()},
            **({"uncertainty": covariance_to_dict(self.covariance, self.species, self._covariance_info)}
               if self.covariance is not None else {}),
            "training": json_safe(self.metadata or {}),
        }

    def save(self, path) -> Path:
        """Write the model to ``path`` as JSON; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n")
        return path

    @classmethod
    def from_text(cls, text: str, source: str = "model") -> "AgentLossModel":
        """A model from the text of a model file, read and validated by the core's reader."""
        definition = _core.parse_model_file(text, source)
        model = cls(definition.species, [from_spec(s) for s in definition.descriptors], definition.A,
                    definition.B, definition.masses)
        doc = json.loads(text)
        model.metadata = _training_record(doc.get("training"), source)
        if definition.covariance is not None:
            model._definition.covariance = definition.covariance
            extra = [{k: v for k, v in e.items() if k not in ("params", "factor", "noise_variance")}
                     for e in doc["uncertainty"]["species"] if e]
            model._covariance_info = {k: {sp: e[k] for sp, e in zip(model.species, doc["uncertainty"]["species"])
                                          if e and k in e} for x in extra for k in x}
        return model

    @classmethod
    def load(cls, path) -> "AgentLossModel":
        """Read and validate a model file (schema versions 1 and 2)."""
        path = Path(path)
        if path.exists():
            check_input_file(path)  # not a FIFO or device (reading would never end), not a huge file
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f"model file not found: {path}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a text file (an mldyn model file is JSON)") from None
        return cls.from_text(text, str(path))

    def __repr__(self) -> str:
        kind = "quadratic" if self.quadratic else "linear"
        families = "+".join(d.family for d in self.descriptors)
        return f"AgentLossModel({kind}, species={self.species}, descriptors={families}, features={self.n_features})"


def save_model(model: AgentLossModel, path) -> Path:
    """Write ``model`` to ``path`` (see :meth:`AgentLossModel.save`)."""
    return model.save(path)


def load_model(path) -> AgentLossModel:
    """Read and validate a model file (see :meth:`AgentLossModel.load`)."""
    return AgentLossModel.load(path)


def _training_record(training, source: str) -> dict:
    """The model file's ``training`` object (the fit's record), checked where the run reads it."""
    if training is None:
        return {}
    if not isinstance(training, dict):
        raise ValueError(f"{source}: 'training' must be an object (the record of the fit), got {type(training).__name__}")
    floors = training.get("closest_pairs_A")
    if floors is not None and not (isinstance(floors, dict) and all(
            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0)
            for v in floors.values())):
        raise ValueError(f"{source}: training.closest_pairs_A must map species pairs such as \"O-H\" to distances "
                         f"in Å (numbers > 0, or null for a pair the data never had)")
    if floors:  # null (written for a pair with no distance in the data) means no floor
        training = {**training, "closest_pairs_A": {k: v for k, v in floors.items() if v is not None}}
    return training

