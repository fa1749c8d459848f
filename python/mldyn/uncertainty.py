"""Per-agent force uncertainty of a fitted model, from its linear least squares (no committee).

The fit stores, per species, the posterior covariance of its parameters (Bayesian linear
regression with the fit's ridge as prior; see ``cpp/include/mldyn/force_covariance.hpp`` and
:mod:`mldyn.fit.uncertainty`). For an agent k of species s with leverage h_k (sum over its three
design rows of x Cov x / noise_variance_s):

    force_uncertainty_k = sqrt(noise_variance_s * h_k)         (eV/Å)

is the standard deviation of its predicted force vector that comes from the fitted parameters
not being known exactly: near zero where the training data were, large where the model
extrapolates (what active learning thresholds). The error to expect of the prediction adds the
residual the model cannot fit anywhere, sqrt(noise_variance_s * (3 + h_k)) (``predicted_error``).
"""
from __future__ import annotations

import base64

import numpy as np

from . import _core

__all__ = ["covariance_to_dict", "require_covariance", "leverage", "force_uncertainty", "predicted_error", "METHOD"]

METHOD = "bayesian-linear-regression"


def covariance_to_dict(cov: _core.ForceCovariance, species, info: dict | None = None) -> dict:
    """The model file's "uncertainty" object (schema in ``cpp/include/mldyn/model_file.hpp``)."""
    entries = []
    for s, sp in enumerate(species):
        params = cov.params[s]
        if not params:
            entries.append(None)
            continue
        entry = {"params": [int(p) for p in params],
                 "factor": base64.b64encode(np.asarray(cov.factors[s], dtype="<f8").tobytes()).decode("ascii"),
                 "noise_variance": float(cov.noise_variances[s])}
        for key, per_species in (info or {}).items():
            if sp in per_species:
                entry[key] = per_species[sp]
        entries.append(entry)
    return {"method": METHOD, "species": entries}


def require_covariance(model) -> _core.ForceCovariance:
    """The model's covariance, or ValueError saying why there is none and what to do."""
    if model.covariance is None:
        raise ValueError("this model has no force uncertainty: it was saved without the fit's covariance "
                         "(models fitted by this mldyn have it; fit it again with `mldyn fit`)")
    return model.covariance


def leverage(model, phi_nf: np.ndarray, dphi_nfc: np.ndarray, species_n: np.ndarray) -> np.ndarray:
    """Leverage h (n,) of every agent from the model's invariants (n, F) and gradients (n, F, 3)."""
    return require_covariance(model).leverage(phi_nf, dphi_nfc, np.ascontiguousarray(species_n, dtype=np.int32), model.n_quadratic)


def _noise(model, species_n) -> np.ndarray:
    return np.asarray(require_covariance(model).noise_variances)[species_n]


def force_uncertainty(model, phi_nf, dphi_nfc, species_n) -> np.ndarray:
    """sqrt(noise_variance_s h_k) (n,) in eV/Å: the spread of each predicted force from the parameters."""
    species_n = np.asarray(species_n)
    return np.sqrt(_noise(model, species_n) * leverage(model, phi_nf, dphi_nfc, species_n))


def predicted_error(model, phi_nf, dphi_nfc, species_n) -> np.ndarray:
    """sqrt(noise_variance_s (3 + h_k)) (n,) in eV/Å: the expected size of each agent's force error."""
    species_n = np.asarray(species_n)
    return np.sqrt(_noise(model, species_n) * (3.0 + leverage(model, phi_nf, dphi_nfc, species_n)))
