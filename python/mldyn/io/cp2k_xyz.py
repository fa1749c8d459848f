"""CP2K xyz trajectories (``PROJECT-pos-1.xyz``, ``-vel-1.xyz``, ``-frc-1.xyz``, plain or ``.gz``).

Frames and atom lines go through the one XYZ parser of :mod:`mldyn.io.xyz` (with its
fixed-column fast path, since CP2K writes fixed columns); this module adds what CP2K puts in
the comment line of every frame: the step ``i = N``, the time ``time = T`` (fs) and the
potential energy ``E = ...`` (Hartree). Values stay in the file's own units; the conversion
to mldyn units happens in :func:`mldyn.io.cp2k_reader.read_cp2k`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .text import is_float, where
from .xyz import atom_tokens, frame_symbols, number_columns, parse_fixed_columns, split_xyz_frames

__all__ = ["CP2KTrajectory", "read_cp2k_xyz"]

_STEP_RE = re.compile(r"\bi\s*=\s*([-+]?\d+)")
_TIME_RE = re.compile(r"\btime\s*=\s*([^,\s]+)")
_ENERGY_RE = re.compile(r"\bE\s*=\s*([^,\s]+)")


@dataclass
class CP2KTrajectory:
    """One parsed CP2K xyz file, in the file's own units.

    symbols : n labels of frame 0; data : (F, n, 3) values; steps : (F,) int64; times : (F,) fs
    or None when the comments carry no time; energies : (F,) Hartree or None; header_lines :
    (F,) 1-based line of each frame's atom-count line.
    """

    path: str
    sha256: str
    symbols: list
    data: np.ndarray
    steps: np.ndarray
    times: np.ndarray | None
    energies: np.ndarray | None
    header_lines: np.ndarray
    notes: list = field(default_factory=list)

    def atom_line(self, frame: int, atom: int) -> int:
        """1-based line number of ``atom`` in ``frame``."""
        return int(self.header_lines[frame]) + 2 + atom


def _comment_value(regex, comment: str, what: str, path: str, line: int, out: np.ndarray, k: int) -> bool:
    """Store the number ``regex`` finds in a frame's comment line into out[k]; False if it is
    absent (the file has no such column), ValueError naming file and line if it is not a finite number."""
    m = regex.search(comment)
    if m is None:
        return False
    try:
        out[k] = float(m.group(1))
    except ValueError:
        raise ValueError(f"{where(path, line)}: non-numeric {what} {m.group(1)!r}") from None
    if not np.isfinite(out[k]):
        raise ValueError(f"{where(path, line)}: non-finite {what} {m.group(1)!r}")
    return True


def read_cp2k_xyz(path: str) -> CP2KTrajectory:
    """Parse a CP2K xyz trajectory (any kind) into frames: symbols, (F, n, 3) values, steps, times, energies.

    ValueError naming file and line on any defect (atom counts, truncation, a comment line
    without ``i = N``, a changed species order, a non-numeric or non-finite value).
    """
    frames = split_xyz_frames(path)
    path, n, F = frames.path, frames.n_atoms, frames.n_frames

    # Comment lines: step, time, energy.
    steps = np.empty(F, dtype=np.int64)
    times = np.empty(F)
    energies = np.empty(F)
    have_time = have_energy = True
    for k in range(F):
        c, line = frames.comment(k), frames.comment_line(k)
        m = _STEP_RE.search(c)
        if m is None:
            raise ValueError(f"{where(path, line)}: comment line of frame {k} has no step 'i = N': {c.strip()[:80]!r}")
        steps[k] = int(m.group(1))
        if have_time:
            have_time = _comment_value(_TIME_RE, c, "time", path, line, times, k)
        if have_energy:
            have_energy = _comment_value(_ENERGY_RE, c, "energy E =", path, line, energies, k)
    header_lines = frames.headers + 1
    times_out = times if have_time else None
    energies_out = energies if have_energy else None

    # Atom lines: CP2K's fixed columns in one vectorised pass or, failing that, tokens with checks.
    fixed = parse_fixed_columns(frames.body(), n, F)
    if fixed is not None:
        symbols, data = fixed
    else:
        toks = atom_tokens(frames, 4, "'symbol x y z'")
        symbols = frame_symbols(frames, toks[0::4])
        for j, s in enumerate(symbols):
            if is_float(s):
                raise ValueError(f"{where(path, j + 3)}: expected an element symbol first, got {s!r}")
        data = number_columns(frames, toks, 4, 1, 3)
    return CP2KTrajectory(path, frames.sha256, symbols, data.reshape(F, n, 3), steps, times_out, energies_out,
                          header_lines)
