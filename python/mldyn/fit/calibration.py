"""Is the predicted force uncertainty calibrated? Predicted against actual errors on held-back frames.

Per agent, the model predicts the size of its force error, sqrt(noise_variance (3 + h))
(:mod:`mldyn.uncertainty`); the actual error is |F_pred - F_ref|. Calibrated means: among agents
with a predicted error near x, the RMS of the actual errors is near x (the reliability curve), and
larger predictions go with larger errors (Spearman rank correlation, per agent and per frame).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import spearmanr

__all__ = ["calibration", "reliability_curve"]


def _spearman(x, y) -> float:
    x, y = np.ravel(x), np.ravel(y)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(spearmanr(x, y).statistic)


def reliability_curve(predicted, actual, bins: int = 10) -> list[dict]:
    """Agents binned by predicted error (equal counts): per bin the mean predicted error, the RMS of the
    actual errors and the count (eV/Å)."""
    predicted, actual = np.ravel(predicted), np.ravel(actual)
    order = np.argsort(predicted, kind="stable")
    out = []
    for chunk in np.array_split(order, min(bins, len(order))):
        if len(chunk):
            out.append({"predicted": float(np.sqrt(np.mean(predicted[chunk] ** 2))),
                        "actual_rms": float(np.sqrt(np.mean(actual[chunk] ** 2))), "agents": int(len(chunk))})
    return out


def calibration(agents: dict, species_names) -> dict:
    """Calibration figures from :func:`mldyn.fit.metrics.evaluate_forces` ``agents`` arrays (f, n):
    per species and over all agents the Spearman correlation of predicted and actual error per agent,
    the RMS predicted and actual error, and the reliability curve; per frame, the correlation of the
    frame's largest uncertainty with its largest error."""
    err, pred, unc, ids = agents["error"], agents["predicted_error"], agents["uncertainty"], agents["species"]
    out = {"species": {}}
    for s, name in enumerate(species_names):
        cols = ids == s
        if not cols.any():
            continue
        e, p, u = err[:, cols], pred[:, cols], unc[:, cols]
        out["species"][name] = {
            "agents": int(e.size), "spearman_predicted_vs_error": _spearman(p, e),
            "spearman_uncertainty_vs_error": _spearman(u, e),
            "rms_predicted_error": float(np.sqrt(np.mean(p ** 2))), "rms_actual_error": float(np.sqrt(np.mean(e ** 2))),
            "mean_uncertainty": float(np.mean(u)), "max_uncertainty": float(np.max(u)),
            "reliability": reliability_curve(p, e)}
    out["spearman_predicted_vs_error"] = _spearman(pred, err)
    out["per_frame"] = {"max_uncertainty": unc.max(axis=1).tolist(), "max_error": err.max(axis=1).tolist(),
                        "rms_error": np.sqrt(np.mean(err ** 2, axis=1)).tolist()}
    out["spearman_frame_max_uncertainty_vs_max_error"] = _spearman(unc.max(axis=1), err.max(axis=1))
    return out
