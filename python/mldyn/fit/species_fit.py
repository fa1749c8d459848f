"""Fitting one agent species: the ridge chosen on validation, optional backward elimination."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .design import Parametrization
from .normal_equations import NormalEquations, solve_normal_equations
from .selection import backward_elimination

__all__ = ["SpeciesFit", "fit_species", "fit_kept", "choose_ridge", "selection_curve", "pick_from_curve", "RIDGE_GRID"]

#: Relative ridge strengths tried by ``ridge="auto"`` (0 = plain least squares).
RIDGE_GRID = (0.0,) + tuple(10.0 ** k for k in range(-12, -1))


@dataclass
class SpeciesFit:
    """Result of fitting one species: parameters (P,), kept units, ridge and validation error."""

    theta: np.ndarray
    kept_units: list
    ridge: float
    validation_relative_rmse: float
    selection_curve: list = field(default_factory=list)  # [(n_units, validation rel. RMSE, kept list)]


def choose_ridge(train: NormalEquations, validation: NormalEquations | None, ridge,
                 grid=RIDGE_GRID) -> tuple[np.ndarray, float]:
    """Solve with the given ridge, or with the one from ``grid`` that scores best on validation."""
    if ridge != "auto":
        return solve_normal_equations(train, float(ridge)), float(ridge)
    if validation is None or validation.n_rows == 0:
        return solve_normal_equations(train, grid[0]), float(grid[0])
    best = None
    for lam in grid:
        theta = solve_normal_equations(train, lam)
        err = validation.sse(theta)
        if best is None or err < best[0] * (1 - 1e-9):
            best = (err, theta, lam)
    return best[1], best[2]


def selection_curve(train: NormalEquations, validation: NormalEquations | None, par: Parametrization,
                    ridge, allowed=None) -> list:
    """The backward-elimination curve of one species (see :func:`backward_elimination`) over the
    parameters ``allowed`` ((P,) mask; None: all), with the ridge chosen on all units."""
    if validation is None or validation.n_rows == 0:
        raise ValueError("feature selection needs a validation block with frames")
    allowed = np.ones(par.n_parameters, dtype=bool) if allowed is None else allowed
    _, lam0 = choose_ridge(train.restrict(allowed), validation.restrict(allowed), ridge)
    return backward_elimination(train, validation, lambda kept: par.mask_for(kept) & allowed, len(par.units), lam0)


def pick_from_curve(curve: list, select, n_units: int) -> list:
    """The kept units for ``select``: K units, or "auto" (lowest validation error, fewest units on ties)."""
    if select == "auto":
        return min(curve, key=lambda c: (round(c[1], 12), c[0]))[2]
    k = int(select)
    if not 1 <= k <= n_units:
        raise ValueError(f"--select must be between 1 and {n_units}, got {k}")
    return next(c[2] for c in curve if c[0] == k)


def fit_kept(train: NormalEquations, validation: NormalEquations | None, par: Parametrization, kept, ridge,
             curve=(), allowed=None, grid=RIDGE_GRID) -> SpeciesFit:
    """Solve for the parameters that involve only ``kept`` units and are ``allowed`` ((P,) mask;
    None: all); the others are 0. ``ridge="auto"`` picks from ``grid`` on validation."""
    mask = par.mask_for(kept) if allowed is None else par.mask_for(kept) & allowed
    theta_sub, lam = choose_ridge(train.restrict(mask), None if validation is None else validation.restrict(mask),
                                  ridge, grid)
    theta = np.zeros(len(mask))
    theta[mask] = theta_sub
    val = validation.relative_rmse(theta) if validation is not None and validation.n_rows else math.nan
    return SpeciesFit(theta, sorted(int(u) for u in kept), lam, val, list(curve))


def fit_species(train: NormalEquations, validation: NormalEquations | None, par: Parametrization, ridge="auto",
                select=None, allowed=None) -> SpeciesFit:
    """Fit one species, optionally with backward elimination of units.

    ``select``: None (keep all), an int K (keep K units) or "auto" (keep the set with the lowest
    validation error). ``allowed``: (P,) mask of the parameters of the loss (None: all).
    Selection and the ridge are scored on ``validation``.
    """
    if select is None:
        return fit_kept(train, validation, par, range(len(par.units)), ridge, allowed=allowed)
    curve = selection_curve(train, validation, par, ridge, allowed)
    return fit_kept(train, validation, par, pick_from_curve(curve, select, len(par.units)), ridge, curve, allowed)
