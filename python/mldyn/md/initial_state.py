"""The initial state of a run: a frame of a trajectory or a structure file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..cell import cell_matrix

__all__ = ["load_initial_state"]


def _split_frame(source: str) -> tuple[str, int]:
    """'DIR@-1' -> ('DIR', -1); a source without a trailing '@INT' takes the last frame."""
    head, sep, tail = source.rpartition("@")
    if sep and head:
        try:
            return head, int(tail)
        except ValueError:
            pass
    return source, -1


def load_initial_state(source: str, cell=None):
    """Symbols, positions (n, 3) Å, velocities (n, 3) Å/fs or None, cell (3, 3) Å or None, description.

    ``source`` is a run (CP2K directory, ``@h2o32``, dataset ``.npz``...) with an optional frame
    ``@K`` (default the last; positions and velocities both taken), or an ``.xyz``/``.extxyz``
    structure with an optional frame ``@K`` (velocities taken when it has a ``vel`` column, Å/fs, or
    ASE ``momenta``). ``cell`` (as :func:`make_cell` takes it) overrides or supplies the cell.
    """
    path, frame = _split_frame(str(source))
    p = Path(path)
    if p.suffix in (".xyz", ".extxyz") and not p.name.endswith("-pos-1.xyz"):
        from ..io.xyz import read_structure

        symbols, pos, lattice, velocities = read_structure(p, frame, velocities=True)
        description = f"{p} frame {frame}" + (" (positions and velocities)" if velocities is not None else
                                              " (positions; the file has no velocities)")
    else:
        from ..io import load_dataset

        data = load_dataset(path)
        if not -data.n_frames <= frame < data.n_frames:
            raise ValueError(f"--init {source}: frame {frame} does not exist ({data.n_frames} frames)")
        symbols = data.symbols
        pos = data.positions_fnc[frame]
        velocities = None if data.velocities_fnc is None else data.velocities_fnc[frame]
        lattice = None if data.cells_f33 is None else data.cells_f33[frame]
        description = f"{path} frame {frame} (step {int(data.steps_f[frame])}; " + (
            "positions and velocities)" if velocities is not None else "positions; the run has no velocities)")
    if cell is not None:
        lattice = cell_matrix(cell, "--cell")
    return list(symbols), np.array(pos, dtype=float), velocities, lattice, description
