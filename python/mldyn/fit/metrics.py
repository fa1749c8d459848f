"""Force-model errors against reference forces.

Definitions (per agent species, over every agent of that species in every frame):

* ``rmse``          sqrt(<|F_pred - F_ref|²>)            eV/Å
* ``rms_reference`` sqrt(<|F_ref|²>)                     eV/Å
* ``relative_rmse`` sqrt(<|F_pred - F_ref|²> / <|F_ref|²>) (the paper's eq. 5.2; the
  same on accelerations, since all agents of a species share one mass)
"""
from __future__ import annotations

import math

import numpy as np

from ..cell import make_cell
from ..model import AgentLossModel
from ..progress import progress_bar
from .design import design_blocks
from ..uncertainty import leverage, require_covariance
from .normal_equations import NormalEquations

__all__ = ["evaluate_forces", "block_metrics", "direct_metrics", "RELATIVE_RMSE_DEFINITION"]

RELATIVE_RMSE_DEFINITION = "relative RMSE = sqrt(<|F_pred - F_ref|^2> / <|F_ref|^2>) over the agents of each species"


def evaluate_forces(model: AgentLossModel, dataset, progress: bool = True, uncertainty: bool = False) -> dict:
    """Evaluate ``model`` on every frame of ``dataset`` (which needs forces).

    Returns ``{"frames": n, "species": {name: {"rmse", "rms_reference", "relative_rmse", "n_agents"}}}``.
    Dataset species are matched to the model's by name. With ``uncertainty`` (the model needs the
    fit's covariance, see :mod:`mldyn.uncertainty`) it also returns ``"agents"``: per agent of every
    frame (f, n) arrays ``error`` |F_pred - F_ref| (eV/Å), ``uncertainty`` and ``predicted_error``
    (eV/Å) and the ``species`` ids (n,) in the model's numbering.
    """
    if dataset.forces_fnc is None:
        raise ValueError("evaluating a model needs reference forces, but the dataset has none")
    missing = sorted(set(dataset.species_names) - set(model.species))
    if missing:
        raise ValueError(f"the data has species {missing} that the model does not know (model: {model.species})")
    if uncertainty:
        require_covariance(model)
    symbols = np.asarray(dataset.species_names)[dataset.species_n]
    ids = model.species_ids(symbols, dataset.n_atoms)
    S = model.n_species
    sse, ref, count = np.zeros(S), np.zeros(S), np.zeros(S, dtype=np.int64)
    agents = {k: np.zeros((dataset.n_frames, dataset.n_atoms)) for k in ("error", "uncertainty", "predicted_error")}
    noise = np.asarray(model.covariance.noise_variances)[ids] if uncertainty else None
    for t in progress_bar(range(dataset.n_frames), desc="evaluating", enabled=progress, unit="frame"):
        cell = make_cell(None if dataset.cells_f33 is None else dataset.cells_f33[t])
        pred, _ = model.compute(dataset.positions_fnc[t], ids, cell)
        err2 = np.sum((pred - dataset.forces_fnc[t]) ** 2, axis=1)
        ref2 = np.sum(dataset.forces_fnc[t] ** 2, axis=1)
        sse += np.bincount(ids, err2, minlength=S)
        ref += np.bincount(ids, ref2, minlength=S)
        count += np.bincount(ids, minlength=S)
        if uncertainty:
            phi, dphi = model.features(dataset.positions_fnc[t], ids, cell)
            h = leverage(model, phi, dphi, ids)
            agents["error"][t] = np.sqrt(err2)
            agents["uncertainty"][t] = np.sqrt(noise * h)
            agents["predicted_error"][t] = np.sqrt(noise * (3.0 + h))
    out = {}
    for s, name in enumerate(model.species):
        if count[s] == 0:
            continue
        out[name] = {"rmse": math.sqrt(sse[s] / count[s]), "rms_reference": math.sqrt(ref[s] / count[s]),
                     "relative_rmse": math.sqrt(sse[s] / ref[s]) if ref[s] > 0 else math.nan,
                     "n_agents": int(count[s])}
    result = {"frames": int(dataset.n_frames), "species": out}
    if uncertainty:
        result["agents"] = {**agents, "species": np.asarray(ids)}
    return result


def block_metrics(ne: NormalEquations, theta: np.ndarray) -> dict:
    """RMSE of the force-vector error (eV/Å), RMS of the reference force (eV/Å) and their ratio."""
    n_agents = ne.n_rows / 3
    if n_agents == 0:
        return {"rmse": math.nan, "rms_reference": math.nan, "relative_rmse": math.nan}
    sse = ne.sse(theta)
    return {"rmse": math.sqrt(sse / n_agents), "rms_reference": math.sqrt(ne.yy / n_agents),
            "relative_rmse": math.sqrt(sse / ne.yy) if ne.yy > 0 else math.nan}


def direct_metrics(dataset, par, thetas: dict, progress: bool = True) -> dict:
    """Force errors of parameter vectors measured directly on ``dataset`` (a block with forces).

    par : the :class:`mldyn.fit.design.Parametrization` of the thetas.
    thetas : {(kind, species id): theta (P,)}. Returns {(kind, species id): metrics as in :func:`block_metrics`}.
    Summing |X theta - y|² row by row does not cancel the way the normal-equation form
    y.y - 2 theta.X^T y + theta.X^T X theta does when the coefficients are large, and it is what
    ``mldyn test`` measures (the fitted model's own forces).
    """
    S = len(dataset.species_names)
    species = np.asarray(dataset.species_n)
    sse = {key: 0.0 for key in thetas}
    yy = np.zeros(S)
    for _, s, (X, y) in design_blocks(dataset, par, range(dataset.n_frames), "test block", progress):
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
                           "relative_rmse": math.sqrt(e / yy[s]) if yy[s] > 0 else math.nan, "n_agents": n} if n else
                          {"rmse": math.nan, "rms_reference": math.nan, "relative_rmse": math.nan, "n_agents": 0})
    return out


def pooled_metrics(parts: list) -> dict:
    """One species' metrics over several systems (dicts with rmse, rms_reference and n_agents), every
    agent weighted alike: RMSE = sqrt(sum n RMSE² / sum n), likewise the reference RMS; relative = their ratio."""
    parts = [v for v in parts if v.get("n_agents")]
    n = sum(v["n_agents"] for v in parts)
    if not n:
        return {"rmse": math.nan, "rms_reference": math.nan, "relative_rmse": math.nan, "n_agents": 0}
    sse = sum(v["n_agents"] * v["rmse"] ** 2 for v in parts)
    ref = sum(v["n_agents"] * v["rms_reference"] ** 2 for v in parts)
    return {"rmse": math.sqrt(sse / n), "rms_reference": math.sqrt(ref / n),
            "relative_rmse": math.sqrt(sse / ref) if ref > 0 else math.nan, "n_agents": n}
