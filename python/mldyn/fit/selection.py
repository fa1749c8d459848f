"""Feature selection as in the paper: backward elimination of weight functions.

Per agent species, starting from every unit (one radial function of one descriptor), the unit whose
removal gives the lowest validation error is dropped, until one is left. Removing a unit removes
every invariant that involves it (for every source species) and every quadratic term of those.
"""
from __future__ import annotations

import numpy as np

from .normal_equations import NormalEquations, solve_normal_equations

__all__ = ["backward_elimination"]


def backward_elimination(train: NormalEquations, validation: NormalEquations, mask_for, n_units: int,
                         ridge: float) -> list:
    """The elimination curve: a list of (n_units kept, validation relative RMSE, kept unit indices),
    from all ``n_units`` down to 1. ``mask_for(kept)`` gives the (P,) mask of the parameters that
    involve only kept units (:meth:`mldyn.fit.design.Parametrization.mask_for`)."""

    def score(kept):
        mask = mask_for(kept)
        theta = np.zeros(len(mask))
        theta[mask] = solve_normal_equations(train.restrict(mask), ridge)
        return validation.relative_rmse(theta)

    kept = list(range(n_units))
    curve = [(len(kept), score(kept), list(kept))]
    while len(kept) > 1:
        trials = [(score([m for m in kept if m != drop]), drop) for drop in kept]
        err, drop = min(trials)
        kept = [m for m in kept if m != drop]
        curve.append((len(kept), err, list(kept)))
    return curve
