"""Radial distribution functions g_ab(r) with minimum-image distances, and their first peak (Å).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..dataset import Dataset
from .frames import frame_pairs, half_min_width, require_atoms

__all__ = ["RDF", "rdf", "rdf_first_peak"]


class RDF(NamedTuple):
    """A radial distribution function g_ab(r) (see :func:`rdf`).

    r_k : (K,) bin centres, Å; g_k : (K,) g(r) (dimensionless, → 1 for an uncorrelated fluid);
    edges_k1 : (K+1,) bin edges, Å; pair : (a, b) element names; n_frames : frames averaged.
    """

    r_k: np.ndarray
    g_k: np.ndarray
    edges_k1: np.ndarray
    pair: tuple
    n_frames: int


def rdf(dataset: Dataset, a: str = "O", b: str = "O", r_max: float | None = None, dr: float = 0.02) -> RDF:
    """Radial distribution function g_ab(r) with minimum-image distances, averaged over frames.

    a, b : element names (``"O"``, ``"H"``). r_max : largest distance, Å (default and upper limit:
    half the smallest perpendicular cell width, :func:`half_min_width`); dr : bin width, Å.
    Normalisation, per frame with that frame's volume V: like pairs (a == b) count each pair
    i < j once against N_a (N_a − 1)/2 · shell/V; unlike pairs count N_a N_b · shell/V, with
    shell = 4π/3 (r₂³ − r₁³). So g → 1 for uncorrelated positions.
    ValueError for an isolated dataset or r_max beyond the minimum-image limit.
    """
    limit = half_min_width(dataset)
    if r_max is None:
        r_max = limit
    elif r_max > limit * (1 + 1e-9):
        raise ValueError(f"rdf: r_max = {r_max:g} Å exceeds half the smallest cell width ({limit:g} Å)")
    if not dr > 0 or not r_max > 0:
        raise ValueError(f"rdf: need r_max > 0 and dr > 0, got r_max={r_max}, dr={dr}")
    ia, ib = require_atoms(dataset, a), require_atoms(dataset, b)
    n_bins = max(1, int(round(r_max / dr)))
    width = r_max / n_bins
    edges = np.linspace(0.0, r_max, n_bins + 1)
    in_a = np.zeros(dataset.n_atoms, dtype=bool)
    in_a[ia] = True
    in_b = np.zeros(dataset.n_atoms, dtype=bool)
    in_b[ib] = True
    n_pairs = ia.size * (ia.size - 1) // 2 if a == b else ia.size * ib.size - np.intersect1d(ia, ib).size
    if n_pairs == 0:
        raise ValueError(f"rdf: no {a}-{b} pairs")
    hist = np.zeros(n_bins, dtype=np.int64)
    for k in range(dataset.n_frames):  # the pairs within r_max from the core's neighbour search: O(n) per frame
        i, j, _, r = frame_pairs(dataset, k, min(r_max, limit))
        keep = (in_a[i] & in_b[j]) | (in_b[i] & in_a[j]) if a != b else in_a[i] & in_a[j]
        idx = (r[keep] / width).astype(np.int64)
        hist += np.bincount(np.minimum(idx, n_bins - 1), minlength=n_bins)
    volumes = np.abs(np.linalg.det(dataset.cells_f33))
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    ideal = shell * n_pairs * np.sum(1.0 / volumes)
    return RDF(0.5 * (edges[1:] + edges[:-1]), hist / ideal, edges, (a, b), dataset.n_frames)


def rdf_first_peak(g: RDF, threshold: float = 1.0, top: float = 0.25, smooth_A: float = 0.2) -> tuple[float, float]:
    """Position (Å) and height of the first peak of g(r).

    The first peak is the first stretch of r where g, smoothed by a cubic Savitzky–Golay filter
    over about ``smooth_A`` Å (at least 5 bins; used only to locate the peak), exceeds
    ``threshold`` (the ideal-gas level 1). Its position and height come from a least-squares
    parabola fitted to the raw g over the top ``top`` fraction of that peak (at least 3 bins),
    which averages bin noise on broad peaks (g_OO) and follows narrow ones (the covalent O–H
    peak, whose height it underestimates by ~2 %). Returns (NaN, NaN) if g never exceeds the
    threshold. With short runs of small cells g_OO is noisy: expect ±0.05 Å and ±0.3 in height.
    """
    from scipy.signal import savgol_filter

    r, y = np.asarray(g.r_k, dtype=float), np.asarray(g.g_k, dtype=float)
    win = max(5, int(round(smooth_A / (r[1] - r[0]))) | 1) if r.size > 1 else 1
    ys = savgol_filter(y, win, 3) if r.size >= win >= 5 else y
    above = np.flatnonzero(ys > threshold)
    if above.size == 0:
        return math.nan, math.nan
    lo = above[0]
    below = np.flatnonzero(ys[lo:] <= threshold)
    hi = lo + (below[0] if below.size else ys.size - lo)
    i = lo + int(np.argmax(ys[lo:hi]))
    level = threshold + (1.0 - top) * (ys[i] - threshold)
    a = i
    while a > lo and ys[a - 1] > level:
        a -= 1
    b = i
    while b < hi - 1 and ys[b + 1] > level:
        b += 1
    a, b = max(0, min(a, i - 1)), min(r.size - 1, max(b, i + 1))
    if b - a >= 2:
        c2, c1, c0 = np.polyfit(r[a:b + 1], y[a:b + 1], 2)
        if c2 < 0:
            vertex = -c1 / (2 * c2)
            if r[a] <= vertex <= r[b]:
                return float(vertex), float(c0 - c1 * c1 / (4 * c2))
    j = a + int(np.argmax(y[a:b + 1]))
    return float(r[j]), float(y[j])
