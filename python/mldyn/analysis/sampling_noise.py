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
from .frames import uniform_dt
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
    """The time a run of evenly spaced frames covers, fs: its frames times their spacing (300 fs for 600 frames
    every 0.5 fs). ValueError for fewer than 2 frames or uneven spacing."""
    t = np.asarray(dataset.times_f, dtype=float)
    return float(t[-1] - t[0] + uniform_dt(t, "the run", "the sampling noise of a run's length"))


def stretch_spread(dataset: Dataset, stretch_fs: float, skip_fs: float = 0.0, **kwargs) -> dict:
    """Sampling noise of a run ``stretch_fs`` (fs) long, from the longer run ``dataset`` (evenly spaced frames).

    The frames after the first ``skip_fs`` (fs; a start-up transient) are cut into whole consecutive stretches of
    ``stretch_fs`` at the run's own frame spacing; the rest at the end is left out. Returns ``{key: standard
    deviation (ddof 1) of the observable over the stretches}`` for every scalar of :func:`summarize` (its keys and
    units) and ``"stretches"``: how many. An observable is NaN where fewer than 2 stretches define it (a stretch
    may find no spectrum peak) or where every stretch gives the same value (no event to count in any of them:
    no estimate, not a perfect one). ``kwargs`` go to :func:`summarize`. ValueError for uneven frames, or when
    fewer than :data:`MIN_STRETCHES` stretches of at least 2 frames fit.
    """
    if not stretch_fs > 0 or not skip_fs >= 0:
        raise ValueError(f"stretch length must be > 0 fs and the skipped start >= 0 fs, got {stretch_fs!r} and "
                         f"{skip_fs!r}")
    t = np.asarray(dataset.times_f, dtype=float)
    dt = uniform_dt(t, "the run", "the sampling noise of a run's length")
    first = int(np.searchsorted(t, t[0] + skip_fs - 1e-6 * dt))
    n = int(round(stretch_fs / dt))  # frames per stretch
    count = (dataset.n_frames - first) // n if n >= 2 else 0
    if count < MIN_STRETCHES:
        raise ValueError(f"a run of {run_span_fs(dataset):g} fs ({dataset.n_frames} frames"
                         + (f", {skip_fs:g} fs of them skipped" if skip_fs else "")
                         + f") holds {count} whole stretches of {stretch_fs:g} fs of at least 2 frames; the spread "
                         f"needs {MIN_STRETCHES}: run longer")
    per = [summarize(dataset.subset(range(first + k * n, first + (k + 1) * n)), **kwargs) for k in range(count)]
    out = {}
    for key, value in per[0].items():
        if key in _NOT_OBSERVABLES or not isinstance(value, (int, float, np.integer, np.floating)):
            continue
        v = np.array([p[key] for p in per], dtype=float)
        v = v[np.isfinite(v)]
        out[key] = float(np.std(v, ddof=1)) if len(v) >= 2 and np.ptp(v) > 0 else float("nan")
    out["stretches"] = count
    return out
