"""CP2K's numeric tables: ``PROJECT-1.ener`` and ``PROJECT-1.cell`` (plain or ``.gz``).

``.ener``: step, time (fs), kinetic energy (Hartree), temperature (K), potential energy
(Hartree), conserved quantity (Hartree), CPU time (s). ``.cell``: step, time (fs), the cell
vectors A, B, C (Å, 9 columns), volume (Å³). Values stay in the file's units.
"""
from __future__ import annotations

import numpy as np

from .text import is_float, read_lines, where as _where

__all__ = ["parse_cp2k_table"]


def parse_cp2k_table(path: str, min_cols: int, what: str, nan_columns=()):
    """Numeric table (``#`` comments skipped): (rows (R, C) float array, 1-based line numbers (R,), sha256).

    Every row has the same number of columns (at least ``min_cols``), finite numbers (NaN allowed
    in the 0-based ``nan_columns``: "no value") and an integer step in column 1; ValueError naming
    file and line otherwise (``what`` names the file kind).
    """
    lines, sha = read_lines(path)
    rows, where = [], []
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        rows.append(s.split())
        where.append(i + 1)
    if not rows:
        raise ValueError(f"{path}: no data lines, zero frames parsed from this {what} file")
    ncol = len(rows[0])
    if ncol < min_cols:
        raise ValueError(f"{_where(path, where[0])}: a {what} line needs at least {min_cols} columns, got {ncol}")
    for r, w in zip(rows, where):
        if len(r) != ncol:
            raise ValueError(f"{_where(path, w)}: expected {ncol} columns like line {where[0]}, got {len(r)} "
                             f"(truncated or damaged line)")
    try:
        arr = np.array(rows, dtype=np.float64)
    except ValueError:
        for r, w in zip(rows, where):
            for c, t in enumerate(r):
                if not is_float(t):
                    raise ValueError(f"{_where(path, w)}: non-numeric field {t!r} in column {c + 1}") from None
        raise
    bad = ~np.isfinite(arr)
    for c in nan_columns:
        if c < ncol:
            bad[:, c] &= ~np.isnan(arr[:, c])
    if bad.any():
        r, c = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(f"{_where(path, where[r])}: non-finite value {rows[r][c]!r} in column {c + 1}")
    step = arr[:, 0]
    if not np.all(step == np.round(step)):
        r = int(np.flatnonzero(step != np.round(step))[0])
        raise ValueError(f"{_where(path, where[r])}: the step column must be an integer, got {rows[r][0]!r}")
    return arr, np.asarray(where, dtype=np.int64), sha
