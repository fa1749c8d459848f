"""Which explored frames to label: the most uncertain, but not ten neighbours of one event.

Every frame gets the largest per-agent force uncertainty of its agents (eV/Å, :mod:`mldyn.uncertainty`).
Frames above the threshold are taken greedily from the most uncertain down, skipping any frame closer
in time than ``min_separation_fs`` to one already taken from the same run: an excursion that stays
uncertain for a picosecond gives a few well-separated frames, and the rest of the budget goes to other
excursions and other runs.
"""
from __future__ import annotations

import numpy as np

from ..progress import progress_bar

__all__ = ["frame_scores", "select_frames"]


def frame_scores(model, dataset, progress: bool = False, desc: str = "uncertainty") -> np.ndarray:
    """Largest per-agent force uncertainty (eV/Å) of every frame (f,) of ``dataset``."""
    from ..cell import make_cell

    ids = model.species_ids(np.asarray(dataset.species_names)[dataset.species_n], dataset.n_atoms)
    out = np.empty(dataset.n_frames)
    for t in progress_bar(range(dataset.n_frames), desc=desc, enabled=progress, unit="frame"):
        cell = make_cell(None if dataset.cells_f33 is None else dataset.cells_f33[t])
        out[t] = float(np.max(model.force_uncertainty(dataset.positions_fnc[t], ids, cell)))
    return out


def select_frames(scores: list, times_fs: list, threshold: float, n_max: int, min_separation_fs: float) -> list:
    """Frames to label as (run index, frame index) pairs, most uncertain first.

    scores, times_fs : per run, (f,) frame scores (eV/Å) and times (fs).
    Frames scoring above ``threshold`` are taken greedily by score, at most ``n_max``, none closer in time
    than ``min_separation_fs`` to a frame already taken from the same run.
    """
    if n_max < 0 or not min_separation_fs >= 0:
        raise ValueError("select_frames: n_max and min_separation_fs must be >= 0")
    candidates = [(float(s), r, f) for r, run in enumerate(scores) for f, s in enumerate(np.asarray(run))
                  if s > threshold]
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    taken: list[tuple[int, int]] = []
    for _, r, f in candidates:
        if len(taken) >= n_max:
            break
        t = times_fs[r][f]
        if all(abs(times_fs[r2][f2] - t) >= min_separation_fs for r2, f2 in taken if r2 == r):
            taken.append((r, f))
    return taken
