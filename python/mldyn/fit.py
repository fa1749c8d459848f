"""Fitting agent-loss models to reference forces (the paper's section 4-5.2).

For every agent species the predicted force is linear in (A_s, B_s), so the fit is
a linear least-squares problem on forces (equivalently accelerations: the mass is
the same for every agent of a species). Frames are streamed: C++ builds each
frame's invariants and design rows, numpy folds them into normal equations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import _core
from .cell import default_cutoff, make_cell
from .descriptors import Radial as Basis
from .invariants import feature_evaluator
from .model import AgentLossModel
from .normal_equations import NormalEquations, solve_normal_equations
from .progress import progress_bar

__all__ = ["accumulate", "parameter_functions", "theta_to_coefficients", "fit_species", "RIDGE_GRID",
           "resolve_cutoff", "SpeciesFit"]

#: Relative ridge strengths tried by ``ridge="auto"`` (0 = plain least squares).
RIDGE_GRID = (0.0,) + tuple(10.0 ** k for k in range(-12, -1))


def resolve_cutoff(basis: Basis, dataset) -> Basis:
    """``basis`` with an explicit cutoff: its own, or half the smallest perpendicular
    cell width over the dataset's frames (the paper's minimum-image convention)."""
    if basis.r_cut is not None:
        return basis
    if dataset.cells_f33 is None:
        raise ValueError("basis: an isolated dataset (no cell) needs an explicit cutoff r_cut (Å)")
    r_cut = default_cutoff(np.unique(dataset.cells_f33, axis=0))
    if basis.r_on is not None and not basis.r_on < r_cut:
        raise ValueError(f"basis: switching start r_on={basis.r_on} Å must be below the cutoff {r_cut:.6g} Å")
    return Basis(basis.functions, r_cut, basis.r_on)


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


def design_blocks(dataset, basis: Basis, quadratic: bool, frames, desc: str, progress: bool = True):
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


def accumulate(dataset, basis: Basis, quadratic: bool, frames=None, desc: str = "accumulating",
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


@dataclass
class SpeciesFit:
    """Result of fitting one species: parameters, kept functions, ridge and errors."""

    theta: np.ndarray
    kept_functions: list
    ridge: float
    validation_relative_rmse: float
    selection_curve: list = field(default_factory=list)  # [(n_functions, validation rel. RMSE, kept list)]


def _choose_ridge(train: NormalEquations, validation: NormalEquations | None, ridge) -> tuple[np.ndarray, float]:
    """Solve with the given ridge, or with the one from RIDGE_GRID that scores best on validation."""
    if ridge != "auto":
        return solve_normal_equations(train, float(ridge)), float(ridge)
    if validation is None or validation.n_rows == 0:
        return solve_normal_equations(train, 0.0), 0.0
    best = None
    for lam in RIDGE_GRID:
        theta = solve_normal_equations(train, lam)
        err = validation.sse(theta)
        if best is None or err < best[0] * (1 - 1e-9):
            best = (err, theta, lam)
    return best[1], best[2]


def fit_species(train: NormalEquations, validation: NormalEquations | None, n_species: int, n_functions: int,
                quadratic: bool, ridge="auto", select=None) -> SpeciesFit:
    """Fit one species, optionally with backward elimination of weight functions.

    ``select``: None (keep all), an int K (keep K functions) or "auto" (keep the set
    with the lowest validation error). Selection is scored on ``validation``.
    """
    from .select import backward_elimination

    funcs = parameter_functions(n_species, n_functions, quadratic)
    curve = []
    kept = list(range(n_functions))
    if select is not None:
        if validation is None or validation.n_rows == 0:
            raise ValueError("feature selection needs a validation block with frames")
        _, lam0 = _choose_ridge(train, validation, ridge)
        curve = backward_elimination(train, validation, funcs, n_functions, lam0)
        if select == "auto":
            best = min(curve, key=lambda c: (round(c[1], 12), c[0]))
            kept = best[2]
        else:
            k = int(select)
            if not 1 <= k <= n_functions:
                raise ValueError(f"--select must be between 1 and {n_functions}, got {k}")
            kept = next(c[2] for c in curve if c[0] == k)
    mask = np.all(np.isin(funcs, kept), axis=1)
    theta_sub, lam = _choose_ridge(train.restrict(mask), None if validation is None else validation.restrict(mask), ridge)
    theta = np.zeros(len(funcs))
    theta[mask] = theta_sub
    val = validation.relative_rmse(theta) if validation is not None and validation.n_rows else math.nan
    return SpeciesFit(theta, sorted(int(m) for m in kept), lam, val, curve)


@dataclass
class FitReport:
    """What ``fit_model`` did: the model, Table 1 and the selection curves."""

    model: AgentLossModel
    table: dict          # {"linear"|"quadratic": {species: {"rmse", "rms_reference", "relative_rmse"}}}
    species_fits: dict   # {species: SpeciesFit} for the requested loss
    split_frames: dict   # {"train": n, "validation": n, "test": n, "dropped": n}


def block_metrics(ne: NormalEquations, theta: np.ndarray) -> dict:
    """RMSE of the force-vector error (eV/Å), RMS of the reference force (eV/Å) and their ratio."""
    n_agents = ne.n_rows / 3
    if n_agents == 0:
        return {"rmse": math.nan, "rms_reference": math.nan, "relative_rmse": math.nan}
    sse = ne.sse(theta)
    return {"rmse": math.sqrt(sse / n_agents), "rms_reference": math.sqrt(ne.yy / n_agents),
            "relative_rmse": math.sqrt(sse / ne.yy) if ne.yy > 0 else math.nan}


def direct_metrics(dataset, basis: Basis, thetas: dict, progress: bool = True) -> dict:
    """Force errors of parameter vectors measured directly on ``dataset`` (a block with forces).

    thetas : {(kind, species id): theta (P,) of the quadratic parameterisation (a linear fit is
    padded with zeros)}. Returns {(kind, species id): metrics as in :func:`block_metrics`}.
    Summing |X theta - y|² row by row does not cancel the way the normal-equation form
    y.y - 2 theta.X^T y + theta.X^T X theta does when the coefficients are large, and it is what
    ``mldyn test`` measures (the fitted model's own forces).
    """
    S = len(dataset.species_names)
    species = np.asarray(dataset.species_n)
    sse = {key: 0.0 for key in thetas}
    yy = np.zeros(S)
    for _, s, (X, y) in design_blocks(dataset, basis, True, range(dataset.n_frames), "test block", progress):
        yy[s] += float(y @ y)
        for key, theta in thetas.items():
            if key[1] == s:
                r = X @ theta - y
                sse[key] += float(r @ r)
    n_agents = [np.count_nonzero(species == s) * dataset.n_frames for s in range(S)]
    out = {}
    for (kind, s), e in sse.items():
        n = n_agents[s]
        out[(kind, s)] = ({"rmse": math.sqrt(e / n), "rms_reference": math.sqrt(yy[s] / n),
                           "relative_rmse": math.sqrt(e / yy[s]) if yy[s] > 0 else math.nan} if n else
                          {"rmse": math.nan, "rms_reference": math.nan, "relative_rmse": math.nan})
    return out


def fit_model(dataset, basis: Basis | None = None, loss: str = "quadratic", select=None, ridge="auto",
              split=(0.2, 0.6, 0.1, 0.1), progress: bool = True) -> FitReport:
    """Fit an agent-loss model to ``dataset`` (a :class:`mldyn.dataset.Dataset` with forces).

    split : fractions (equilibration dropped, train, validation, test) of contiguous time blocks.
    loss : "linear" or "quadratic".  select : None, K or "auto" (see :func:`fit_species`).
    ridge : "auto" (chosen on validation) or a relative strength >= 0.
    Table 1 (linear and quadratic relative RMSE per species on the test block) is always
    computed: the linear parameters are a subset of the quadratic ones.
    """
    if loss not in ("linear", "quadratic"):
        raise ValueError(f"loss must be 'linear' or 'quadratic', got {loss!r}")
    if ridge != "auto" and not (float(ridge) >= 0):
        raise ValueError(f"ridge must be 'auto' or a number >= 0, got {ridge!r}")
    basis = resolve_cutoff(basis or Basis.paper(), dataset)
    blocks = dataset.split(*split)
    names = list(dataset.species_names)
    S, M = len(names), len(basis)
    F = S * M
    P = _core.n_fit_parameters(F, True)
    eqs = {name: (accumulate(blk, basis, True, desc=f"invariants ({name})", progress=progress) if blk is not None
                  else [NormalEquations.zeros(P) for _ in names])
           for name, blk in (("train", blocks.train), ("validation", blocks.validation))}
    lin_mask = np.zeros(P, dtype=bool)
    lin_mask[:F] = True

    def blocks_for(kind, s):
        restrict = (lambda ne: ne.restrict(lin_mask)) if kind == "linear" else (lambda ne: ne)
        tr, va = (restrict(eqs[b][s]) for b in ("train", "validation"))
        return tr, (va if va.n_rows else None)

    # The requested loss, with feature selection if asked.
    fits = {sp: fit_species(*blocks_for(loss, s), S, M, loss == "quadratic", ridge, select)
            for s, sp in enumerate(names)}
    # Table 1: both losses on the kept functions (the linear parameters are a subset of the quadratic
    # ones), measured directly on the test block.
    thetas = {}
    for kind in ("linear", "quadratic"):
        for s, sp in enumerate(names):
            tr, va = blocks_for(kind, s)
            if kind == loss:
                theta = fits[sp].theta
            else:
                mask = np.all(np.isin(parameter_functions(S, M, kind == "quadratic"), fits[sp].kept_functions), axis=1)
                theta_sub, _ = _choose_ridge(tr.restrict(mask), va.restrict(mask) if va else None, ridge)
                theta = np.zeros(len(mask))
                theta[mask] = theta_sub
            full = np.zeros(P)
            full[:len(theta)] = theta  # linear parameters are the first F of the quadratic ones
            thetas[(kind, s)] = full
    if blocks.test is not None:
        measured = direct_metrics(blocks.test, basis, thetas, progress=progress)
    else:
        measured = {key: block_metrics(NormalEquations.zeros(P), theta) for key, theta in thetas.items()}
    table = {kind: {sp: measured[(kind, s)] for s, sp in enumerate(names)} for kind in ("linear", "quadratic")}

    A = np.zeros((S, F))
    B = np.zeros((S, F, F))
    for s, sp in enumerate(names):
        A[s], B[s] = theta_to_coefficients(fits[sp].theta, F, loss == "quadratic")
    masses = [float(dataset.masses_n[np.flatnonzero(dataset.species_n == s)[0]]) for s in range(S)]
    model = AgentLossModel(names, basis, A, B if loss == "quadratic" else None, masses)
    split_frames = {"dropped": blocks.dropped_frames, "frame_ranges": blocks.frame_ranges}
    split_frames.update({b: (getattr(blocks, b).n_frames if getattr(blocks, b) is not None else 0)
                         for b in ("train", "validation", "test")})
    model.metadata = {
        "loss": loss,
        "selected_functions": {sp: fits[sp].kept_functions for sp in names},
        "ridge": {sp: fits[sp].ridge for sp in names},
        "validation_relative_rmse": {sp: fits[sp].validation_relative_rmse for sp in names},
        "test_metrics": table[loss],
        "table1_test_relative_rmse": {k: {sp: v[sp]["relative_rmse"] for sp in names} for k, v in table.items()},
        "split": {"fractions": list(split), "frames": split_frames},
        "selection_curve": {sp: [[n, e] for n, e, _ in fits[sp].selection_curve] for sp in names},
    }
    return FitReport(model, table, fits, split_frames)
