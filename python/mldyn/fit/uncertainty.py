"""The fit's parameter covariance, which per-agent force uncertainty needs (see
``cpp/include/mldyn/force_covariance.hpp`` for what is stored and how it is evaluated).

A ridge fit with relative strength lambda is the posterior mean of Bayesian linear regression with
the Gaussian prior theta ~ N(0, noise_variance / lambda * D^-2) (D: the column norms); the
posterior covariance is noise_variance * (X^T X + lambda D^2)^-1. It is stored as a
lower-triangular factor M with (X^T X + lambda D^2)^-1 = M^T M over the fitted parameters, so that
the leverage of a design row x is |M x|^2.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

from .normal_equations import NormalEquations

__all__ = ["species_covariance", "model_parameter_index", "MIN_PRIOR_RIDGE"]

#: A fit without ridge has no proper posterior where the data leave directions undetermined; the
#: covariance then uses this smallest relative ridge of the grid as its prior.
MIN_PRIOR_RIDGE = 1e-12


def species_covariance(train: NormalEquations, mask: np.ndarray, ridge: float, theta: np.ndarray):
    """(params (n,), packed factor (n(n+1)/2,), noise variance ((eV/Å)^2 per component), prior ridge) of
    one species' fit: ``mask`` (P,) selects the fitted parameters, ``theta`` (P,) the solution.

    The noise variance is the training residual per degree of freedom, sse / (rows - n)."""
    diag = np.diag(train.gram)
    idx = np.flatnonzero(mask & (diag > 0))
    d = np.sqrt(diag[idx])
    G = train.gram[np.ix_(idx, idx)] / np.outer(d, d)
    lam = max(float(ridge), MIN_PRIOR_RIDGE)
    eye = np.eye(len(idx))
    for jitter in (0.0, 1e-12, 1e-10, 1e-8):  # a numerically singular matrix gets the least ridge that factors
        try:
            R = scipy.linalg.cholesky(G + (lam + jitter) * eye, lower=True, check_finite=False)
            break
        except scipy.linalg.LinAlgError:
            continue
    else:
        raise np.linalg.LinAlgError("the fit's normal equations could not be factored for the covariance")
    lam += jitter
    M = scipy.linalg.solve_triangular(R, eye, lower=True, check_finite=False) / d[None, :]
    noise = train.sse(theta) / max(train.n_rows - len(idx), 1)
    return idx, M[np.tril_indices(len(idx))], float(noise), lam


def model_parameter_index(index: np.ndarray, n_full_features: int, n_full_quadratic: int, n_model_features: int,
                          n_model_quadratic: int) -> dict:
    """{parameter of the full parametrization: parameter of the model} for a model whose invariant f is
    the full row's ``index[f]`` (a pruned model, perhaps with walls appended after its invariants)."""
    to_model = {int(full): f for f, full in enumerate(index)}
    out = {full: f for full, f in to_model.items()}  # linear parameters A
    e_full, f_full = np.triu_indices(n_full_quadratic)
    for p, (e, f) in enumerate(zip(e_full, f_full)):
        a, b = to_model.get(int(e)), to_model.get(int(f))
        if a is None or b is None or a >= n_model_quadratic or b >= n_model_quadratic:
            continue
        a, b = min(a, b), max(a, b)
        out[n_full_features + p] = n_model_features + a * n_model_quadratic - a * (a - 1) // 2 + (b - a)
    return out
