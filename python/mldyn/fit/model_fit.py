"""Fitting agent-loss models to reference forces (the paper's sections 4-5.2): the whole recipe.

Contiguous time blocks (equilibration dropped, train, validation, test), normal equations per
species on train and validation, the requested loss with ridge and selection chosen on
validation, Table 1 (linear and quadratic) measured directly on the test block, and a model that
stores and evaluates only the functions some species kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cell import default_cutoff
from ..descriptors import Radial, as_descriptors
from ..model import AgentLossModel
from .design import Parametrization, accumulate, feature_keys
from .metrics import block_metrics, direct_metrics
from .normal_equations import NormalEquations
from .species_fit import fit_kept, fit_species

__all__ = ["fit_model", "FitReport", "resolve_cutoffs", "pruned_model"]


def resolve_cutoffs(descriptors, dataset) -> tuple:
    """``descriptors`` with explicit cutoffs: their own, or half the smallest perpendicular cell
    width over the dataset's frames (the paper's minimum-image convention)."""
    out = []
    for d in as_descriptors(descriptors):
        if d.r_cut is None:
            if dataset.cells_f33 is None:
                raise ValueError(f"{d.family} descriptor: an isolated dataset (no cell) needs an explicit cutoff r_cut (Å)")
            r_cut = default_cutoff(np.unique(dataset.cells_f33, axis=0))
            if d.r_on is not None and not d.r_on < r_cut:
                raise ValueError(f"{d.family} descriptor: switching start r_on={d.r_on} Å must be below the cutoff "
                                 f"{r_cut:.6g} Å")
            d = d.with_cutoff(r_cut)
        out.append(d)
    return tuple(out)


@dataclass
class FitReport:
    """What ``fit_model`` did: the model, Table 1, the per-species fits and the parametrization."""

    model: AgentLossModel
    table: dict           # {"linear"|"quadratic": {species: {"rmse", "rms_reference", "relative_rmse"}}}
    species_fits: dict    # {species: SpeciesFit} for the requested loss (thetas in `parametrization`)
    split_frames: dict    # {"train": n, "validation": n, "test": n, "dropped": n}
    parametrization: Parametrization  # of the full (unpruned) descriptors

    def kept_labels(self, species: str) -> list[str]:
        """Readable names of the units (functions) one species kept."""
        return [self.parametrization.unit_label(u) for u in self.species_fits[species].kept_units]


def pruned_model(par: Parametrization, names, masses, thetas, kept_units, quadratic: bool) -> AgentLossModel:
    """The model over only the functions some species kept (the union over species), with the
    coefficients of ``thetas`` (per species, in ``par``) moved to their invariants' new places."""
    S = len(names)
    used = [sorted({par.units[u][1] for k in kept_units for u in k if par.units[u][0] == d})
            for d in range(len(par.descriptors))]
    keep_d = [d for d in range(len(par.descriptors)) if used[d]]
    nq_full = len(par.descriptors) if par.quadratic_descriptors is None else par.quadratic_descriptors
    descriptors = tuple(par.descriptors[d].select(used[d]) for d in keep_d)
    small = Parametrization(descriptors, S, quadratic, sum(1 for d in keep_d if d < nq_full))
    where = {key: f for f, key in enumerate(feature_keys(par.descriptors, S))}
    index = np.array([where[key] for key in feature_keys(descriptors, S, [used[d] for d in keep_d], keep_d)],
                     dtype=int)
    Fq = small.n_quadratic
    A = np.zeros((S, small.n_features))
    B = np.zeros((S, Fq, Fq))
    for s in range(S):
        a, b = par.coefficients(thetas[s])
        A[s] = a[index]
        B[s] = b[np.ix_(index[:Fq], index[:Fq])]
    return AgentLossModel(names, descriptors, A, B if quadratic else None, masses)


def fit_model(dataset, descriptors=None, loss: str = "quadratic", select=None, ridge="auto",
              split=(0.2, 0.6, 0.1, 0.1), progress: bool = True, quadratic_descriptors: int | None = None) -> FitReport:
    """Fit an agent-loss model to ``dataset`` (a :class:`mldyn.dataset.Dataset` with forces).

    descriptors : one descriptor or a sequence (default: the paper's 18 radial functions).
    loss : "linear" or "quadratic"; with ``quadratic_descriptors`` = k only the first k descriptors'
        invariants enter the quadratic term (the others only linearly).
    select : None, K units or "auto" (backward elimination, see :func:`fit_species`).
    ridge : "auto" (chosen on validation) or a relative strength >= 0.
    split : fractions (equilibration dropped, train, validation, test) of contiguous time blocks.
    Table 1 (linear and quadratic relative RMSE per species on the test block) is always
    computed: the linear parameters are a subset of the quadratic ones.
    """
    if loss not in ("linear", "quadratic"):
        raise ValueError(f"loss must be 'linear' or 'quadratic', got {loss!r}")
    if ridge != "auto" and not (float(ridge) >= 0):
        raise ValueError(f"ridge must be 'auto' or a number >= 0, got {ridge!r}")
    descriptors = resolve_cutoffs(descriptors if descriptors is not None else Radial.paper(), dataset)
    blocks = dataset.split(*split)
    names = list(dataset.species_names)
    S = len(names)
    par = Parametrization(descriptors, S, True, quadratic_descriptors)
    P = par.n_parameters
    eqs = {name: (accumulate(blk, par, desc=f"invariants ({name})", progress=progress) if blk is not None
                  else [NormalEquations.zeros(P) for _ in names])
           for name, blk in (("train", blocks.train), ("validation", blocks.validation))}
    allowed = {"linear": par.linear_mask(), "quadratic": np.ones(P, dtype=bool)}

    def blocks_for(s):
        tr, va = eqs["train"][s], eqs["validation"][s]
        return tr, (va if va.n_rows else None)

    # The requested loss, with feature selection if asked.
    fits = {sp: fit_species(*blocks_for(s), par, ridge, select, allowed[loss]) for s, sp in enumerate(names)}
    # Table 1: both losses on the kept units, measured directly on the test block.
    thetas = {}
    for kind in ("linear", "quadratic"):
        for s, sp in enumerate(names):
            thetas[(kind, s)] = (fits[sp].theta if kind == loss else
                                 fit_kept(*blocks_for(s), par, fits[sp].kept_units, ridge, allowed=allowed[kind]).theta)
    if blocks.test is not None:
        measured = direct_metrics(blocks.test, par, thetas, progress=progress)
    else:
        measured = {key: block_metrics(NormalEquations.zeros(P), theta) for key, theta in thetas.items()}
    table = {kind: {sp: measured[(kind, s)] for s, sp in enumerate(names)} for kind in ("linear", "quadratic")}

    masses = [float(dataset.masses_n[np.flatnonzero(dataset.species_n == s)[0]]) for s in range(S)]
    model = pruned_model(par, names, masses, [fits[sp].theta for sp in names], [fits[sp].kept_units for sp in names],
                         loss == "quadratic")
    split_frames = {"dropped": blocks.dropped_frames, "frame_ranges": blocks.frame_ranges}
    split_frames.update({b: (getattr(blocks, b).n_frames if getattr(blocks, b) is not None else 0)
                         for b in ("train", "validation", "test")})
    report = FitReport(model, table, fits, split_frames, par)
    model.metadata = {
        "loss": loss,
        "selected_functions": {sp: report.kept_labels(sp) for sp in names},
        "ridge": {sp: fits[sp].ridge for sp in names},
        "validation_relative_rmse": {sp: fits[sp].validation_relative_rmse for sp in names},
        "test_metrics": table[loss],
        "table1_test_relative_rmse": {k: {sp: v[sp]["relative_rmse"] for sp in names} for k, v in table.items()},
        "split": {"fractions": list(split), "frames": split_frames},
        "selection_curve": {sp: [[n, e] for n, e, _ in fits[sp].selection_curve] for sp in names},
    }
    return report
