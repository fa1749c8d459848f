"""How precisely a run of a given length pins each water observable.

A CP2K reference is short (the bundled one is 300 fs), so its observables carry sampling noise that a
comparison has to allow for: a model closer to it by less than that noise is not shown to be better.
The noise is estimated here from a longer run (typically a learned one) as the spread of each
observable of :func:`mldyn.analysis.summary.summarize` over the run's consecutive stretches as long as
the reference, a stand-in for more reference runs that cannot be afforded.
"""
from __future__ import annotations

import numpy as np

from ..dataset import Dataset
from .summary import summarize

__all__ = ["stretch_spread", "run_span_fs", "MIN_STRETCHES", "GROWS_WITH_LENGTH"]

#: Fewest whole stretches a spread is computed from (a standard deviation of two values is mostly noise).
MIN_STRETCHES = 3

#: Observables that grow with the run's length (counts, extremes over the frames): their spread describes runs
#: of the stretch's length only, not a difference between a longer run and the reference.
GROWS_WITH_LENGTH = ("hydrogens_changed_oxygen", "oxygen_changes", "closest_OO_A", "closest_OH_A", "closest_HH_A")

#: Summary entries that describe the run, not the system (no spread to speak of).
_NOT_OBSERVABLES = ("n_frames", "duration_fs")


def run_span_fs(dataset: Dataset) -> float:
    """The time a run covers, fs: its frames times their spacing (300 fs for 600 frames every 0.5 fs)."""
    t = np.asarray(dataset.times_f, dtype=float)
    if len(t) < 2:
        raise ValueError(f"a run of {len(t)} frame(s) covers no time: it needs at least 2 frames")
    return float(t[-1] - t[0] + np.median(np.diff(t)))


def stretch_spread(dataset: Dataset, stretch_fs: float, **kwargs) -> dict:
    """Sampling noise of a run ``stretch_fs`` (fs) long, from the longer run ``dataset``.

    Returns ``{key: standard deviation (ddof 1) of the observable over the whole consecutive stretches}``
    for every scalar of :func:`summarize` (its keys and units), NaN where fewer than 2 stretches define it
    (a stretch may find no spectrum peak), and ``"stretches"``: how many stretches were used.
    ``kwargs`` go to :func:`summarize`. ValueError when fewer than :data:`MIN_STRETCHES` fit in the run.
    """
    if not stretch_fs > 0:
        raise ValueError(f"stretch length must be > 0 fs, got {stretch_fs!r}")
    span = run_span_fs(dataset)
    n = int(round(stretch_fs * dataset.n_frames / span))  # frames per stretch, at the run's own spacing
    count = dataset.n_frames // n if n >= 2 else 0
    if count < MIN_STRETCHES:
        raise ValueError(f"a run of {span:g} fs ({dataset.n_frames} frames) holds {count} whole stretches of "
                         f"{stretch_fs:g} fs of at least 2 frames; the spread needs {MIN_STRETCHES}: run longer")
    per = [summarize(dataset.subset(range(k * n, (k + 1) * n)), **kwargs) for k in range(count)]
    out = {}
    for key, value in per[0].items():
        if key in _NOT_OBSERVABLES or not isinstance(value, (int, float, np.integer, np.floating)):
            continue
        v = np.array([p[key] for p in per], dtype=float)
        v = v[np.isfinite(v)]
        out[key] = float(np.std(v, ddof=1)) if len(v) >= 2 else float("nan")
    out["stretches"] = count
    return out
