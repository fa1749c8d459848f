"""Feature selection as in the paper: backward elimination of weight functions.

Per agent species, starting from all M functions, the function whose removal
gives the lowest validation error is dropped, until one is left. Removing a
function removes its invariants for every source species (and every quadratic
term that involves them).
"""
from __future__ import annotations

import numpy as np

from .normal_equations import NormalEquations, solve_normal_equations

__all__ = ["backward_elimination"]


def backward_elimination(train: NormalEquations, validation: NormalEquations, parameter_functions: np.ndarray,
                         n_functions: int, ridge: float) -> list:
    """The elimination curve: a list of (n_functions, validation relative RMSE, kept function indices),
    from all ``n_functions`` down to 1. ``parameter_functions`` is (P, 2) from :func:`mldyn.fit.parameter_functions`.
    """

    def score(kept):
        mask = np.all(np.isin(parameter_functions, kept), axis=1)
        theta = np.zeros(len(mask))
        theta[mask] = solve_normal_equations(train.restrict(mask), ridge)
        return validation.relative_rmse(theta)

    kept = list(range(n_functions))
    curve = [(len(kept), score(kept), list(kept))]
    while len(kept) > 1:
        trials = [(score([m for m in kept if m != drop]), drop) for drop in kept]
        err, drop = min(trials)
        kept = [m for m in kept if m != drop]
        curve.append((len(kept), err, list(kept)))
    return curve
