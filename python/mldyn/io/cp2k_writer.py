"""Writing CP2K-style MD files: ``PROJECT-pos|vel|frc-1.xyz``, ``PROJECT-1.ener``, ``PROJECT-1.cell``.

Values come in mldyn units (Å, Å/fs, eV/Å, eV, fs) and are written in CP2K's units and
layouts, so that :func:`mldyn.io.cp2k_reader.read_cp2k` (and CP2K tools) read them back.
A path ending in ``.gz`` is written gzip-compressed (reproducibly).
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from .. import _core
from ..analysis.thermo import degrees_of_freedom, kinetic_energy
from ..cell import cell_frames
from ..dataset import Dataset
from ..units import HARTREE_EV, KB_EV_PER_K
from .cp2k_files import KIND_ALIASES, XYZ_KINDS
from .text import open_text_for_writing

__all__ = ["write_cp2k_xyz", "write_cp2k_ener", "write_cp2k_cell", "write_cp2k_run"]


def _frame_arrays(frames_fnc, steps, times, energies, what: str):
    frames = np.asarray(frames_fnc, dtype=float)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or frames.shape[2] != 3:
        raise ValueError(f"{what}: frames must have shape (F, n, 3), got {frames.shape}")
    F = frames.shape[0]
    steps = np.arange(F) if steps is None else np.asarray(steps)
    if steps.shape != (F,):
        raise ValueError(f"{what}: steps must have shape ({F},), got {steps.shape}")
    times = np.asarray(times, dtype=float)
    if times.ndim == 0:  # a time step: times = steps * dt
        times = steps * float(times)
    if times.shape != (F,):
        raise ValueError(f"{what}: times must have shape ({F},) in fs (or be a time step), got {times.shape}")
    if energies is not None:
        energies = np.asarray(energies, dtype=float)
        if energies.shape != (F,):
            raise ValueError(f"{what}: energies must have shape ({F},) in eV, got {energies.shape}")
    if not np.all(np.isfinite(frames)):
        raise ValueError(f"{what}: frames contain NaN or inf")
    return frames, steps.astype(np.int64), times, energies


def write_cp2k_xyz(path, symbols: Sequence[str], frames_fnc, steps=None, times=0.5, energies=None,
                   kind: str = "pos", append: bool = False) -> None:
    """Write a CP2K-style xyz trajectory (``PROJECT-pos-1.xyz``, ``-vel-1.xyz`` or ``-frc-1.xyz``).

    symbols : n species labels.  frames_fnc : (F, n, 3) in mldyn units — positions Å
    (``kind="pos"``), velocities Å/fs (``"vel"``) or forces eV/Å (``"frc"``); written in
    CP2K's units (Å, Bohr/a.u. time, Hartree/Bohr).  steps : (F,) step indices (default
    0..F-1).  times : (F,) fs, or a scalar time step (fs) giving ``steps * dt``.
    energies : (F,) potential energies in eV, written as ``E =`` in Hartree (omitted when None).
    A path ending in ``.gz`` is written gzip-compressed. ``append`` adds the frames to an existing file.
    """
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in XYZ_KINDS:
        raise ValueError(f"kind must be one of pos, vel, frc, got {kind!r}")
    frames, steps, times, energies = _frame_arrays(frames_fnc, steps, times, energies, f"write_cp2k_xyz({path})")
    F, n, _ = frames.shape
    symbols = [str(s) for s in symbols]
    if len(symbols) != n:
        raise ValueError(f"write_cp2k_xyz: {len(symbols)} symbols for {n} atoms")
    data = frames / XYZ_KINDS[kind][1]
    prefixes = [f"{s:>3s} " for s in symbols]  # CP2K's layout "%3s  %19.10f %19.10f %19.10f", a blank always
    with open_text_for_writing(path, append) as fh:
        for k in range(F):
            comment = f" i = {int(steps[k]):8d}, time = {times[k]:12.3f}"
            if energies is not None:
                comment += f", E = {energies[k] / HARTREE_EV:20.10f}"
            fh.write(f"{n:8d}\n{comment}\n")
            fh.write(_core.fixed_rows(prefixes, data[k], " ", 19, 10).decode("ascii"))


def write_cp2k_ener(path, steps, times, kinetic_f, temperature_f, potential_f, conserved_f=None,
                    cpu_f=None, append: bool = False) -> None:
    """Write a CP2K ``PROJECT-1.ener`` file.

    steps : (F,) step indices.  times : (F,) fs.  kinetic_f, potential_f, conserved_f : (F,)
    eV, written in Hartree (conserved defaults to kinetic + potential; NaN in potential and
    conserved means "none": an agent-loss run has no potential energy).  temperature_f :
    (F,) K.  cpu_f : (F,) seconds per step (default 0).
    """
    steps = np.asarray(steps).astype(np.int64)
    F = steps.shape[0]
    cols = {"times": times, "kinetic": kinetic_f, "temperature": temperature_f, "potential": potential_f}
    arr = {}
    for k, v in cols.items():
        a = np.asarray(v, dtype=float)
        ok = np.isfinite(a) | (np.isnan(a) if k == "potential" else False)
        if a.shape != (F,) or not np.all(ok):
            raise ValueError(f"write_cp2k_ener: {k} must be {F} finite numbers"
                             f"{' (or NaN: none)' if k == 'potential' else ''}, got shape {a.shape}")
        arr[k] = a
    cons = arr["kinetic"] + arr["potential"] if conserved_f is None else np.asarray(conserved_f, dtype=float)
    cpu = np.zeros(F) if cpu_f is None else np.asarray(cpu_f, dtype=float)
    with open_text_for_writing(path, append) as fh:
        if not append:
            fh.write("#     Step Nr.          Time[fs]        Kin.[a.u.]          Temp[K]            Pot.[a.u.]"
                     "        Cons Qty[a.u.]        UsedTime[s]\n")
        for k in range(F):
            # CP2K's 20-character columns, but always with a separating blank: an agent-loss
            # "potential" can outgrow the width, and the columns must not run together.
            fh.write(f"{int(steps[k]):10d} {arr['times'][k]:19.6f} {arr['kinetic'][k] / HARTREE_EV:19.9f}"
                     f" {arr['temperature'][k]:19.9f} {arr['potential'][k] / HARTREE_EV:19.9f}"
                     f" {cons[k] / HARTREE_EV:19.9f} {cpu[k]:19.9f}\n")


def write_cp2k_cell(path, steps, times, cells_f33, append: bool = False) -> None:
    """Write a CP2K ``PROJECT-1.cell`` file: step, time (fs), cell vectors A, B, C (rows of (F, 3, 3), Å), volume."""
    steps = np.asarray(steps).astype(np.int64)
    F = steps.shape[0]
    times = np.asarray(times, dtype=float)
    cells = cell_frames(cells_f33, F)
    if cells.shape != (F, 3, 3) or times.shape != (F,):
        raise ValueError(f"write_cp2k_cell: need cells (F, 3, 3) and times (F,) for F={F}, got {cells.shape}, "
                         f"{times.shape}")
    vol = np.abs(np.linalg.det(cells))
    head = "#   Step   Time [fs]" + "".join(f"{f'{v}{x} [Angstrom]':>20s}" for v in "ABC" for x in "xyz") \
        + "      Volume [Angstrom^3]\n"
    with open_text_for_writing(path, append) as fh:
        if not append:
            fh.write(head)
        for k in range(F):
            fh.write(f"{int(steps[k]):8d}{times[k]:12.3f}" + "".join(f"{x:20.10f}" for x in cells[k].ravel())
                     + f"{vol[k]:25.10f}\n")


def write_cp2k_run(directory, dataset: Dataset, project: str = "mldyn", compress: bool = False) -> dict:
    """Write ``dataset`` as a CP2K-style run in ``directory``: dict kind → path written.

    Writes ``PROJECT-pos-1.xyz``, ``-vel-1.xyz`` and ``-frc-1.xyz`` (when present),
    ``PROJECT-1.cell`` (periodic datasets) and ``PROJECT-1.ener`` (when the potential energy
    is known; kinetic energy from the dataset, else 0.5 m v² from the velocities; temperature
    from the dataset, else from that kinetic energy with 3n - 3 degrees of freedom).
    ``compress`` adds ``.gz`` to every file.
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    gz = ".gz" if compress else ""
    d = dataset
    out = {}
    for kind, arr in (("pos", d.positions_fnc), ("vel", d.velocities_fnc), ("frc", d.forces_fnc)):
        if arr is not None:
            out[kind] = os.path.join(directory, f"{project}-{kind}-1.xyz{gz}")
            write_cp2k_xyz(out[kind], d.symbols, arr, d.steps_f, d.times_f, d.potential_energy_f, kind)
    if d.cells_f33 is not None:
        out["cell"] = os.path.join(directory, f"{project}-1.cell{gz}")
        write_cp2k_cell(out["cell"], d.steps_f, d.times_f, d.cells_f33)
    if d.potential_energy_f is not None:
        kin = d.kinetic_energy_f
        if kin is None and d.velocities_fnc is not None:
            kin = kinetic_energy(d)
        if kin is None:
            kin = np.zeros(d.n_frames)
        temp = d.temperature_f
        if temp is None:
            temp = 2.0 * kin / (degrees_of_freedom(d) * KB_EV_PER_K)
        out["ener"] = os.path.join(directory, f"{project}-1.ener{gz}")
        write_cp2k_ener(out["ener"], d.steps_f, d.times_f, kin, temp, d.potential_energy_f)
    return out
