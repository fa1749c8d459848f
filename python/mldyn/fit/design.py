"""Design rows of the force least-squares problem, frame by frame, and their normal equations.

For every agent species the predicted force is linear in the parameters theta = [A_s, triu(B_s)]
(see ``cpp/include/mldyn/design.hpp``): F = X theta, where B_s acts on the quadratic block (the
first Fq invariants of the row). The core builds each frame's invariant rows and design rows;
numpy folds them into normal equations, so memory does not grow with the number of frames.

Feature selection works on *units*: one radial function of one descriptor. Removing a unit removes
every invariant that involves it (for an angular invariant, either of its two channels' functions)
and every parameter that involves such an invariant.

Force changes: for consecutive frames of a trajectory at most :data:`FORCE_CHANGE_MAX_GAP_FS` apart,
the change of every force, F(t + dt) - F(t), is predicted by the difference of the two frames' design
rows, so it can be fitted alongside the forces: a residual r(t) then costs |r(t)|^2 plus
(tau / dt)^2 |r(t + dt) - r(t)|^2, the time derivative of the residual weighted by tau^2. Least squares
on forces alone lets a slowly varying error (the hydrogen-bond environment) buy a fast one (the O-H
stretch); the change rows weigh fast errors more.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _core
from ..cell import make_cell
from ..descriptors import as_descriptors
from ..invariants import feature_evaluator
from ..progress import progress_bar
from .normal_equations import NormalEquations

__all__ = ["Parametrization", "feature_keys", "design_blocks", "accumulate", "change_weights",
           "FORCE_CHANGE_MAX_GAP_FS"]

#: Consecutive frames at most this far apart (fs) give force-change rows: a fifth of the O-H stretch
#: period (~10 fs), where the difference quotient of a stretch-band force is still 94 % of its time
#: derivative (sin(x)/x at x = pi dt / period).
FORCE_CHANGE_MAX_GAP_FS = 2.0
#: Frames closer than this (fs) are taken for times in another unit (ps, say) and refused.
FORCE_CHANGE_MIN_GAP_FS = 0.01


def feature_keys(descriptors, n_species: int, function_ids=None, descriptor_ids=None) -> list[tuple]:
    """A key per invariant of the row that names what it is, independent of its position:
    radial (d, "r", a, m) and angular (d, "a", l, a, m, b, n), with d from ``descriptor_ids``
    (default 0, 1, ...) and m, n the functions' ids in ``function_ids[d]`` (default 0..M-1). Lets a
    pruned model find its invariants in the full one."""
    keys = []
    for i, desc in enumerate(descriptors):
        d = i if descriptor_ids is None else descriptor_ids[i]
        ids = list(range(len(desc))) if function_ids is None else list(function_ids[i])
        M = len(ids)
        if desc.family == "radial":
            keys += [(d, "r", a, ids[m]) for a in range(n_species) for m in range(M)]
        else:
            channels = [(a, ids[m]) for a in range(n_species) for m in range(M)]
            for l in range(1, desc.l_max + 1):
                for i in range(len(channels)):
                    for j in range(i, len(channels)):
                        keys.append((d, "a", l) + channels[i] + channels[j])
    return keys


@dataclass
class Parametrization:
    """The fit parameters of an agent-loss model over ``descriptors`` for ``n_species`` species.

    The first ``quadratic_descriptors`` descriptors form the quadratic block (None: all of them;
    ``quadratic=False``: none). Parameters theta (P,) = [A (F), upper triangle of B (Fq x Fq)].
    ``units`` are (descriptor index, function index) pairs; ``param_units`` (P, 4) lists the units
    each parameter involves (-1 = none).
    """

    descriptors: tuple
    n_species: int
    quadratic: bool = True
    quadratic_descriptors: int | None = None
    n_features: int = field(init=False)
    n_quadratic: int = field(init=False)
    units: list = field(init=False)
    param_units: np.ndarray = field(init=False)

    def __post_init__(self):
        self.descriptors = as_descriptors(self.descriptors)
        S = self.n_species
        sizes = [d.size(S) for d in self.descriptors]
        self.n_features = sum(sizes)
        nq = len(self.descriptors) if self.quadratic_descriptors is None else int(self.quadratic_descriptors)
        self.n_quadratic = sum(sizes[:nq]) if self.quadratic else 0
        self.units = [(d, m) for d, desc in enumerate(self.descriptors) for m in range(len(desc))]
        unit_of = {u: i for i, u in enumerate(self.units)}
        feat = np.full((self.n_features, 2), -1)
        for f, key in enumerate(feature_keys(self.descriptors, S)):
            d = key[0]
            if key[1] == "r":
                feat[f, 0] = unit_of[(d, key[3])]
            else:
                feat[f] = unit_of[(d, key[4])], unit_of[(d, key[6])]
        e, g = np.triu_indices(self.n_quadratic)
        quad = np.concatenate([feat[e], feat[g]], axis=1)
        self.param_units = np.concatenate([np.pad(feat, ((0, 0), (0, 2)), constant_values=-1), quad])

    @property
    def n_parameters(self) -> int:
        return int(_core.n_fit_parameters(self.n_features, self.n_quadratic))

    def mask_for(self, kept_units) -> np.ndarray:
        """(P,) True for the parameters that involve only kept units."""
        kept = np.append(np.asarray(list(kept_units), dtype=int), -1)
        return np.all(np.isin(self.param_units, kept), axis=1)

    def linear_mask(self) -> np.ndarray:
        """(P,) True for the linear parameters A."""
        mask = np.zeros(self.n_parameters, dtype=bool)
        mask[:self.n_features] = True
        return mask

    def coefficients(self, theta: np.ndarray):
        """A (F,) and symmetric B (Fq, Fq) from parameters theta (P,)."""
        F, Fq = self.n_features, self.n_quadratic
        A = np.array(theta[:F], dtype=float)
        B = np.zeros((Fq, Fq))
        e, f = np.triu_indices(Fq)
        B[e, f] = theta[F:]
        B[f, e] = theta[F:]
        return A, B

    def unit_label(self, unit: int) -> str:
        d, m = self.units[unit]
        desc = self.descriptors[d]
        label = desc.labels()[m]
        return label if len(self.descriptors) == 1 else f"{desc.family}:{label}"


def design_blocks(dataset, par: Parametrization, frames, desc: str, progress: bool = True):
    """Yield (frame position i, species id s, design rows X (3 n_s, P), target forces y (3 n_s,)
    in eV/Å) for every frame in ``frames`` and species, computing each frame's invariants once.
    Descriptors must have explicit cutoffs (see :func:`mldyn.fit.resolve_cutoffs`)."""
    if dataset.forces_fnc is None:
        raise ValueError("fitting needs reference forces, but the dataset has none (missing *-frc-1.xyz?)")
    S = len(dataset.species_names)
    species = np.ascontiguousarray(dataset.species_n, dtype=np.int32)
    calc = None
    for i, t in enumerate(progress_bar(frames, desc=desc, enabled=progress, unit="frame")):
        cell = make_cell(None if dataset.cells_f33 is None else dataset.cells_f33[t])
        if calc is None:
            calc = feature_evaluator(par.descriptors, S, cell)
        phi, dphi = calc.features(cell, dataset.positions_fnc[t], species, "auto", True)
        for s in range(S):
            yield i, s, (_core.build_design(phi, dphi, species, s, par.n_quadratic),
                         np.ascontiguousarray(dataset.forces_fnc[t][species == s]).ravel())


def change_weights(dataset, frames, time_fs: float) -> np.ndarray:
    """Weight (F,) of the force change from each of ``frames`` (dataset frame indices) to its successor
    in the list: (time_fs / dt)^2 when the successor is at most :data:`FORCE_CHANGE_MAX_GAP_FS` later;
    0 for the last frame, a larger or no gap, ``time_fs`` 0 or a dataset whose times are unknown
    (:attr:`Dataset.has_times`). ValueError for frames less than :data:`FORCE_CHANGE_MIN_GAP_FS` apart."""
    frames = np.asarray(frames, dtype=np.int64)
    w = np.zeros(len(frames))
    if not time_fs > 0 or len(frames) < 2 or not dataset.has_times:
        return w
    dt = np.diff(np.asarray(dataset.times_f, dtype=float)[frames])
    if np.any((dt > 0) & (dt < FORCE_CHANGE_MIN_GAP_FS)):
        raise ValueError(f"force changes: consecutive frames {dt[dt > 0].min():.3g} fs apart; are the times in fs? "
                         f"(MD steps are 0.1-5 fs; give the times in fs, or fit the forces alone with --force-changes 0)")
    ok = (dt > 0) & (dt <= FORCE_CHANGE_MAX_GAP_FS * (1 + 1e-9))
    w[:-1][ok] = (time_fs / dt[ok]) ** 2
    return w


def accumulate(dataset, par: Parametrization, frames=None, desc: str = "accumulating", progress: bool = True,
               batch_frames: int = 8, change_time_fs: float = 0.0) -> tuple[list, list]:
    """Normal equations per species (index = species id) over ``frames`` of ``dataset``: of the
    forces, and of the force changes between consecutive frames weighted by :func:`change_weights`
    (``change_time_fs`` = tau, fs; see the module docstring). Returns ``(forces, changes)``, lists of
    :class:`NormalEquations` per species; ``changes`` is empty when no pair of frames qualifies.

    Design rows of ``batch_frames`` frames are stacked before each X^T X update, so the
    BLAS call is large enough to run near peak while memory stays bounded.
    """
    frames = list(range(dataset.n_frames) if frames is None else frames)
    weights = change_weights(dataset, frames, change_time_fs)
    S = len(dataset.species_names)
    eqs = [NormalEquations.zeros(par.n_parameters) for _ in range(S)]
    changes = [NormalEquations.zeros(par.n_parameters) for _ in range(S)] if weights.any() else []
    pending = [([], []) for _ in range(S)]  # per species: design blocks and targets not yet folded in
    pending_changes = [([], []) for _ in range(S)]
    previous = [None] * S  # per species: the rows and targets of the previous frame, while it pairs

    def flush():
        for target, blocks in ((eqs, pending), (changes, pending_changes)):
            for s, (xs, ys) in enumerate(blocks):
                if xs:
                    target[s].add(np.concatenate(xs), np.concatenate(ys))
                    xs.clear()
                    ys.clear()

    for i, s, (X, y) in design_blocks(dataset, par, frames, desc, progress):
        pending[s][0].append(X)
        pending[s][1].append(y)
        if previous[s] is not None:
            c = np.sqrt(weights[i - 1])
            pending_changes[s][0].append(c * (X - previous[s][0]))
            pending_changes[s][1].append(c * (y - previous[s][1]))
        previous[s] = (X, y) if weights[i] > 0 else None
        if s == S - 1 and (i + 1) % batch_frames == 0:
            flush()
    flush()
    return eqs, changes
