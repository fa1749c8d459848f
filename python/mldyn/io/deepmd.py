"""DeePMD-kit ``deepmd/npy`` systems ↔ :class:`mldyn.dataset.Dataset` (Å, eV, eV/Å).

A system directory holds ``type.raw`` (type index per atom), ``type_map.raw`` (type names)
and ``set.*`` directories of ``coord.npy``, ``force.npy``, ``box.npy``, ``energy.npy``; a
``nopbc`` file marks an isolated system. Every malformed input raises ValueError naming the file.
"""
from __future__ import annotations

import glob
import os
from typing import Mapping, Sequence

import numpy as np

from ..dataset import Dataset
from ..elements import default_masses
from .text import check_input_file, file_sha256, read_lines, species_ids, where

__all__ = ["read_deepmd_npy", "write_deepmd_npy", "is_deepmd_system"]


def is_deepmd_system(directory) -> bool:
    """True if ``directory`` is a deepmd/npy system (it holds a ``type.raw`` file)."""
    return os.path.isfile(os.path.join(os.fspath(directory), "type.raw"))


def _load_npy(path: str) -> np.ndarray:
    check_input_file(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable numeric .npy file: {exc}") from None
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{path}: expected a numeric array, got dtype {getattr(arr, 'dtype', type(arr))}")
    return arr


def read_deepmd_npy(directory, masses: Mapping[str, float] | None = None) -> Dataset:
    """Read a DeePMD-kit ``deepmd/npy`` system directory into a Dataset (Å, eV, eV/Å).

    ``type.raw`` gives the per-atom type index (one per line), ``type_map.raw`` the names
    (one per line; without it masses cannot be guessed, so ``masses`` must map ``type_0``,
    ``type_1``, ... to amu). Every ``set.*`` directory (in name order) holds ``coord.npy``
    (nf, n*3), optional ``force.npy`` (nf, n*3), ``box.npy`` (nf, 9; rows a, b, c) unless
    the system has a ``nopbc`` file, optional ``energy.npy`` (nf,). Other files (virial,
    ...) are not kept (noted in provenance). Steps are the running frame index and times
    the same numbers (DeePMD stores no time). Species names are in order of first
    appearance in ``type.raw``.
    """
    directory = os.fspath(directory)
    type_path = os.path.join(directory, "type.raw")
    if not is_deepmd_system(directory):
        raise ValueError(f"{directory}: no type.raw, not a deepmd/npy system")
    tlines, _ = read_lines(type_path)
    types = []
    for i, line in enumerate(tlines):
        for t in line.split():
            try:
                types.append(int(t))
            except ValueError:
                raise ValueError(f"{where(type_path, i + 1)}: type index must be an integer, got {t!r}") from None
    if not types:
        raise ValueError(f"{type_path}: no atom types")
    types_n = np.array(types)
    if types_n.min() < 0:
        raise ValueError(f"{type_path}: negative type index {int(types_n.min())}")
    n = len(types_n)
    map_path = os.path.join(directory, "type_map.raw")
    if os.path.isfile(map_path):
        mlines, _ = read_lines(map_path)
        type_map = [t for line in mlines for t in line.split()]
        if len(set(type_map)) != len(type_map):
            raise ValueError(f"{map_path}: repeated names {type_map}")
        if types_n.max() >= len(type_map):
            i = int(np.flatnonzero(types_n >= len(type_map))[0])
            raise ValueError(f"{where(type_path, i + 1)}: type {int(types_n[i])} has no name in {map_path} "
                             f"({len(type_map)} names)")
    else:
        map_path = None
        type_map = [f"type_{i}" for i in range(int(types_n.max()) + 1)]
    labels = [type_map[t] for t in types_n]
    names, species = species_ids(labels)
    mass_of = default_masses(names, masses, directory)
    masses_n = np.array([mass_of[s] for s in labels])
    nopbc = os.path.exists(os.path.join(directory, "nopbc"))

    sets = sorted(d for d in glob.glob(os.path.join(glob.escape(directory), "set.*")) if os.path.isdir(d))
    if not sets:
        raise ValueError(f"{directory}: no set.* directories, zero frames")
    coords, forces, boxes, energies = [], [], [], []
    files = {"type.raw": {"path": type_path, "sha256": file_sha256(type_path)}}
    if map_path:
        files["type_map.raw"] = {"path": map_path, "sha256": file_sha256(map_path)}
    dropped = set()
    for sd in sets:
        cpath = os.path.join(sd, "coord.npy")
        if not os.path.isfile(cpath):
            raise ValueError(f"{sd}: no coord.npy")
        c = _load_npy(cpath)
        if c.ndim != 2 or c.shape[1] != 3 * n:
            raise ValueError(f"{cpath}: shape {c.shape}, expected (frames, {3 * n}) for the {n} atoms of type.raw")
        nf = c.shape[0]
        if nf == 0:
            raise ValueError(f"{cpath}: zero frames")
        coords.append(c.reshape(nf, n, 3))
        files[os.path.relpath(cpath, directory)] = {"path": cpath, "sha256": file_sha256(cpath)}
        for name, store, width in (("force.npy", forces, 3 * n), ("box.npy", boxes, 9), ("energy.npy", energies, 1)):
            fpath = os.path.join(sd, name)
            if not os.path.isfile(fpath):
                store.append(None)
                continue
            a = _load_npy(fpath)
            if width == 1 and a.ndim == 1:
                a = a[:, None]
            if a.ndim != 2 or a.shape != (nf, width):
                raise ValueError(f"{fpath}: shape {a.shape}, expected ({nf}, {width}) to match {cpath}")
            store.append(a)
            files[os.path.relpath(fpath, directory)] = {"path": fpath, "sha256": file_sha256(fpath)}
        for other in sorted(os.listdir(sd)):
            if other not in ("coord.npy", "force.npy", "box.npy", "energy.npy"):
                dropped.add(other)
    notes = []
    if dropped:
        notes.append(f"files not kept: {sorted(dropped)}")

    def join(parts, what, shape):
        present = [p is not None for p in parts]
        if not any(present):
            return None
        if not all(present):
            missing = [s for s, p in zip(sets, present) if not p]
            raise ValueError(f"{missing[0]}: no {what} although other sets have one")
        arr = np.concatenate(parts).astype(float)
        return arr.reshape((-1,) + shape)

    positions = np.concatenate(coords).astype(float)
    F = positions.shape[0]
    frc = join(forces, "force.npy", (n, 3))
    box = join(boxes, "box.npy", (3, 3))
    ene = join(energies, "energy.npy", ())
    for what, arr in (("coord.npy", positions), ("force.npy", frc), ("box.npy", box), ("energy.npy", ene)):
        if arr is not None and not np.all(np.isfinite(arr)):
            raise ValueError(f"{directory}: non-finite values in {what}")
    if nopbc:
        if box is not None:
            notes.append("nopbc: box.npy dropped, the system is isolated")
        box = None
    elif box is None:
        raise ValueError(f"{directory}: no box.npy and no nopbc file; cannot tell the cell")
    else:
        det = np.abs(np.linalg.det(box))
        if not np.all(det > 0):
            raise ValueError(f"{directory}: singular box in frame {int(np.flatnonzero(~(det > 0))[0])}")
    notes.append("deepmd/npy has no times: steps_f and times_f are the running frame index")
    provenance = {"reader": "mldyn.io.deepmd.read_deepmd_npy", "format": "deepmd/npy", "origin": directory,
                  "files": files, "type_map": type_map, "sets": [os.path.basename(s) for s in sets], "notes": notes,
                  "time_axis": False, "times_known": False}  # independent labelled frames
    steps = np.arange(F, dtype=np.int64)
    return Dataset(names, species, masses_n, positions, box, None, frc, steps, steps.astype(float), ene, None,
                   None, provenance)


def write_deepmd_npy(directory, dataset: Dataset, type_map: Sequence[str] | None = None,
                     set_size: int | None = None) -> None:
    """Write ``dataset`` as a DeePMD-kit ``deepmd/npy`` system (Å, eV, eV/Å) in ``directory``.

    ``type_map`` (default: the dataset's species names) fixes the type indices; sets of
    ``set_size`` frames (default: one set). Velocities, kinetic energies, temperatures,
    steps and times are not part of the format.
    """
    d = dataset
    directory = os.fspath(directory)
    tmap = list(type_map) if type_map is not None else list(d.species_names)
    missing = [s for s in d.species_names if s not in tmap]
    if missing:
        raise ValueError(f"type_map {tmap} lacks species {missing}")
    os.makedirs(directory, exist_ok=True)
    idx = {s: i for i, s in enumerate(tmap)}
    with open(os.path.join(directory, "type.raw"), "w") as fh:
        fh.write("".join(f"{idx[s]}\n" for s in d.symbols))
    with open(os.path.join(directory, "type_map.raw"), "w") as fh:
        fh.write("".join(f"{s}\n" for s in tmap))
    if d.cells_f33 is None:
        open(os.path.join(directory, "nopbc"), "w").close()
    size = set_size or d.n_frames
    for s, a in enumerate(range(0, d.n_frames, size)):
        sd = os.path.join(directory, f"set.{s:03d}")
        os.makedirs(sd, exist_ok=True)
        b = min(a + size, d.n_frames)
        np.save(os.path.join(sd, "coord.npy"), d.positions_fnc[a:b].reshape(b - a, -1))
        if d.forces_fnc is not None:
            np.save(os.path.join(sd, "force.npy"), d.forces_fnc[a:b].reshape(b - a, -1))
        if d.cells_f33 is not None:
            np.save(os.path.join(sd, "box.npy"), d.cells_f33[a:b].reshape(b - a, 9))
        if d.potential_energy_f is not None:
            np.save(os.path.join(sd, "energy.npy"), d.potential_energy_f[a:b])
