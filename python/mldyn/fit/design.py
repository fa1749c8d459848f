"""Design rows of the force least-squares problem, frame by frame, and their normal equations.

For every agent species the predicted force is linear in the parameters theta = [A_s, triu(B_s)]
(see ``cpp/include/mldyn/design.hpp``): F = X theta. The core builds each frame's invariant rows
and design rows; numpy folds them into normal equations, so memory does not grow with frames.
"""
from __future__ import annotations

import numpy as np

from .. import _core
from ..cell import make_cell
from ..descriptors import Radial
from ..invariants import feature_evaluator
from ..progress import progress_bar
from .normal_equations import NormalEquations

__all__ = ["parameter_functions", "theta_to_coefficients", "design_blocks", "accumulate"]


def parameter_functions(n_species: int, n_functions: int, quadratic: bool) -> np.ndarray:
    """(P, 2) indices of the weight functions each fit parameter involves.

    Linear parameter f = a*M + m involves function m (twice); quadratic parameter
    (e, f), e <= f, involves the functions of e and f.
    """
    F = n_species * n_functions
    m_of = np.arange(F) % n_functions
    rows = [np.stack([m_of, m_of], axis=1)]
    if quadratic:
        e, f = np.triu_indices(F)
        rows.append(np.stack([m_of[e], m_of[f]], axis=1))
    return np.concatenate(rows)


def theta_to_coefficients(theta: np.ndarray, n_features: int, quadratic: bool):
    """A (F,) and symmetric B (F, F) from fit parameters (see design.hpp)."""
    F = n_features
    A = np.array(theta[:F], dtype=float)
    B = np.zeros((F, F))
    if quadratic:
        e, f = np.triu_indices(F)
        B[e, f] = theta[F:]
        B[f, e] = theta[F:]
    return A, B


def design_blocks(dataset, basis: Radial, quadratic: bool, frames, desc: str, progress: bool = True):
    """Yield (frame position i, species id s, design rows X (3 n_s, P), target forces y (3 n_s,)
    in eV/Å) for every frame in ``frames`` and species, computing each frame's invariants once."""
    if dataset.forces_fnc is None:
        raise ValueError("fitting needs reference forces, but the dataset has none (missing *-frc-1.xyz?)")
    S = len(dataset.species_names)
    species = np.ascontiguousarray(dataset.species_n, dtype=np.int32)
    calc = None
    for i, t in enumerate(progress_bar(frames, desc=desc, enabled=progress, unit="frame")):
        cell = make_cell(None if dataset.cells_f33 is None else dataset.cells_f33[t])
        if calc is None:
            calc = feature_evaluator(basis, S, cell)
        phi, dphi = calc.features(cell, dataset.positions_fnc[t], species, "auto", True)
        for s in range(S):
            yield i, s, (_core.build_design(phi, dphi, species, s, quadratic),
                         np.ascontiguousarray(dataset.forces_fnc[t][species == s]).ravel())


def accumulate(dataset, basis: Radial, quadratic: bool, frames=None, desc: str = "accumulating",
               progress: bool = True, batch_frames: int = 8) -> list[NormalEquations]:
    """Normal equations per species (index = species id) over ``frames`` of ``dataset``.

    ``basis`` must have an explicit cutoff (see :func:`resolve_cutoff`). Needs forces.
    Design rows of ``batch_frames`` frames are stacked before each X^T X update, so the
    BLAS call is large enough to run near peak while memory stays bounded.
    """
    frames = list(range(dataset.n_frames) if frames is None else frames)
    S = len(dataset.species_names)
    P = _core.n_fit_parameters(S * len(basis), quadratic)
    eqs = [NormalEquations.zeros(P) for _ in range(S)]
    pending = [([], []) for _ in range(S)]  # per species: design blocks and targets not yet folded in

    def flush():
        for s, (xs, ys) in enumerate(pending):
            if xs:
                eqs[s].add(np.concatenate(xs), np.concatenate(ys))
                xs.clear()
                ys.clear()

    for i, s, (X, y) in design_blocks(dataset, basis, quadratic, frames, desc, progress):
        pending[s][0].append(X)
        pending[s][1].append(y)
        if s == S - 1 and (i + 1) % batch_frames == 0:
            flush()
    flush()
    return eqs
