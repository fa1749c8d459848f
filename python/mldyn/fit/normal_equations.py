"""Least squares on forces through accumulated normal equations.

The predicted force of every agent is linear in its species' parameters theta
(see ``cpp/include/mldyn/design.hpp``): F = X theta. Design blocks X are built
frame by frame in C++ and folded into X^T X, X^T y and y^T y here (BLAS through
numpy), so memory does not grow with the number of frames. Solving rescales the
columns to unit norm first (the invariants span many orders of magnitude), then
uses a Cholesky factorisation of the (optionally ridge-regularised) scaled
matrix, falling back to an eigen-decomposition pseudo-inverse when it is singular.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = ["NormalEquations", "solve_normal_equations"]


@dataclass
class NormalEquations:
    """Sufficient statistics of one species' least-squares problem.

    gram : (P, P) X^T X.   rhs : (P,) X^T y.   yy : y^T y, (eV/Å)².
    n_rows : number of force components (3 per agent and frame).
    """

    gram: np.ndarray
    rhs: np.ndarray
    yy: float = 0.0
    n_rows: int = 0

    @classmethod
    def zeros(cls, n_parameters: int) -> "NormalEquations":
        return cls(np.zeros((n_parameters, n_parameters)), np.zeros(n_parameters))

    def add(self, X: np.ndarray, y: np.ndarray) -> None:
        """Fold design rows X (r, P) and targets y (r,) in eV/Å."""
        self.gram += X.T @ X
        self.rhs += X.T @ y
        self.yy += float(y @ y)
        self.n_rows += len(y)

    def merged(self, other: "NormalEquations") -> "NormalEquations":
        """The problem of both sets of rows (the normal equations of several systems add up)."""
        return NormalEquations(self.gram + other.gram, self.rhs + other.rhs, self.yy + other.yy,
                               self.n_rows + other.n_rows)

    def scaled(self, weight: float) -> "NormalEquations":
        """The problem with every row counted ``weight`` times (a system's weight in the fit); n_rows unchanged."""
        return NormalEquations(self.gram * weight, self.rhs * weight, self.yy * weight, self.n_rows)

    def restrict(self, mask: np.ndarray) -> "NormalEquations":
        """The problem for the parameters selected by a boolean mask (P,)."""
        idx = np.flatnonzero(mask)
        return NormalEquations(self.gram[np.ix_(idx, idx)], self.rhs[idx], self.yy, self.n_rows)

    def sse(self, theta: np.ndarray) -> float:
        """Sum of squared force errors |X theta - y|² in (eV/Å)² (never negative)."""
        return max(0.0, self.yy - 2.0 * float(theta @ self.rhs) + float(theta @ self.gram @ theta))

    def relative_rmse(self, theta: np.ndarray) -> float:
        """sqrt(<|F_pred - F|²> / <|F|²>) of this block."""
        return float(np.sqrt(self.sse(theta) / self.yy)) if self.yy > 0 else float("nan")


def solve_normal_equations(ne: NormalEquations, ridge: float = 0.0) -> np.ndarray:
    """Least-squares parameters (P,) minimising |X theta - y|² + ridge * |D theta|².

    D scales each column to unit norm, so ``ridge`` is relative (dimensionless).
    Parameters whose column is identically zero get 0.
    """
    d = np.sqrt(np.diag(ne.gram))
    ok = d > 0
    theta = np.zeros(len(d))
    if not ok.any():
        return theta
    ds = d[ok]
    G = ne.gram[np.ix_(ok, ok)] / np.outer(ds, ds)
    b = ne.rhs[ok] / ds
    G[np.diag_indices_from(G)] += ridge
    try:
        factor = scipy.linalg.cho_factor(G, check_finite=False)
        ts = scipy.linalg.cho_solve(factor, b, check_finite=False)
        # A Cholesky factor of a numerically singular matrix "succeeds" with a useless
        # solution; check its residual and fall back if it is not tiny.
        if not np.all(np.isfinite(ts)) or np.linalg.norm(G @ ts - b) > 1e-6 * max(np.linalg.norm(b), 1e-300):
            raise np.linalg.LinAlgError("ill-conditioned")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        w, V = np.linalg.eigh(G)
        keep = w > w.max() * 1e-13
        ts = V[:, keep] @ ((V[:, keep].T @ b) / w[keep])
    theta[ok] = ts / ds
    return theta
