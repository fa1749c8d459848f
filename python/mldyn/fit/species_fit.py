"""Fitting one agent species: the ridge chosen on validation, optional backward elimination."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .design import parameter_functions
from .normal_equations import NormalEquations, solve_normal_equations
from .selection import backward_elimination

__all__ = ["SpeciesFit", "fit_species", "choose_ridge", "RIDGE_GRID"]

#: Relative ridge strengths tried by ``ridge="auto"`` (0 = plain least squares).
RIDGE_GRID = (0.0,) + tuple(10.0 ** k for k in range(-12, -1))


@dataclass
class SpeciesFit:
    """Result of fitting one species: parameters, kept functions, ridge and errors."""

    theta: np.ndarray
    kept_functions: list
    ridge: float
    validation_relative_rmse: float
    selection_curve: list = field(default_factory=list)  # [(n_functions, validation rel. RMSE, kept list)]


def choose_ridge(train: NormalEquations, validation: NormalEquations | None, ridge) -> tuple[np.ndarray, float]:
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
    funcs = parameter_functions(n_species, n_functions, quadratic)
    curve = []
    kept = list(range(n_functions))
    if select is not None:
        if validation is None or validation.n_rows == 0:
            raise ValueError("feature selection needs a validation block with frames")
        _, lam0 = choose_ridge(train, validation, ridge)
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
    theta_sub, lam = choose_ridge(train.restrict(mask), None if validation is None else validation.restrict(mask), ridge)
    theta = np.zeros(len(funcs))
    theta[mask] = theta_sub
    val = validation.relative_rmse(theta) if validation is not None and validation.n_rows else math.nan
    return SpeciesFit(theta, sorted(int(m) for m in kept), lam, val, curve)
