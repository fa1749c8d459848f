"""Fitting agent-loss models to reference forces (the paper's sections 4-5.2): the whole recipe.

Contiguous time blocks (equilibration dropped, train, validation, test), normal equations per
species on train and validation, the requested loss with ridge and selection chosen on
validation, and Table 1 (linear and quadratic) measured directly on the test block.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _core
from ..cell import default_cutoff
from ..descriptors import Radial
from ..model import AgentLossModel
from .design import accumulate, parameter_functions, theta_to_coefficients
from .metrics import block_metrics, direct_metrics
from .normal_equations import NormalEquations
from .species_fit import choose_ridge, fit_species

__all__ = ["fit_model", "FitReport", "resolve_cutoff"]


def resolve_cutoff(basis: Radial, dataset) -> Radial:
    """``basis`` with an explicit cutoff: its own, or half the smallest perpendicular
    cell width over the dataset's frames (the paper's minimum-image convention)."""
    if basis.r_cut is not None:
        return basis
    if dataset.cells_f33 is None:
        raise ValueError("basis: an isolated dataset (no cell) needs an explicit cutoff r_cut (Å)")
    r_cut = default_cutoff(np.unique(dataset.cells_f33, axis=0))
    if basis.r_on is not None and not basis.r_on < r_cut:
        raise ValueError(f"basis: switching start r_on={basis.r_on} Å must be below the cutoff {r_cut:.6g} Å")
    return Radial(basis.functions, r_cut, basis.r_on)


@dataclass
class FitReport:
    """What ``fit_model`` did: the model, Table 1 and the selection curves."""

    model: AgentLossModel
    table: dict          # {"linear"|"quadratic": {species: {"rmse", "rms_reference", "relative_rmse"}}}
    species_fits: dict   # {species: SpeciesFit} for the requested loss
    split_frames: dict   # {"train": n, "validation": n, "test": n, "dropped": n}


def fit_model(dataset, basis: Radial | None = None, loss: str = "quadratic", select=None, ridge="auto",
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
    basis = resolve_cutoff(basis or Radial.paper(), dataset)
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
                theta_sub, _ = choose_ridge(tr.restrict(mask), va.restrict(mask) if va else None, ridge)
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
