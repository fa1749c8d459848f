"""Extended XYZ trajectories (ASE's layout) → :class:`mldyn.dataset.Dataset`, parsed without ASE (Å, eV, eV/Å).

Frames and atom columns go through the one XYZ parser of :mod:`mldyn.io.xyz`; the writer is
:func:`mldyn.io.xyz.write_extxyz`. Every malformed input raises ValueError naming file and line.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..dataset import Dataset
from ..elements import default_masses
from .text import species_ids, where as _where
from .xyz import (ASE_TIME_FS, DEFAULT_PROPERTIES, SPECIES_COLUMNS, TRUE_WORDS, atom_tokens, number_columns,
                  frame_symbols, parse_extxyz_comment, parse_numbers, parse_pbc, parse_properties, split_xyz_frames,
                  split_xyz_systems)

__all__ = ["read_extxyz", "read_extxyz_systems"]

# Reference forces and energies under the names ASE, MACE/NequIP (REF_*) and others write. A file with two
# force columns (e.g. forces and REF_forces) is ambiguous and must name one (forces_key).
_FORCE_NAMES = ("forces", "force", "REF_forces", "ref_forces", "DFT_forces", "dft_forces")
_VELOCITY_NAMES = ("velocities", "vel", "velo")
_ENERGY_NAMES = ("REF_energy", "ref_energy", "DFT_energy", "dft_energy", "energy", "potential_energy", "free_energy",
                 "Energy")


def _pick(names: Sequence[str], candidates: Sequence[str], explicit: str | None, what: str, where: str):
    if explicit is not None:
        if explicit not in names:
            raise ValueError(f"{where}: no {what} {explicit!r}; available: {list(names)}")
        return explicit
    for c in candidates:
        if c in names:
            return c
    lower = {n.lower(): n for n in names}
    for c in candidates:
        if c.lower() in lower:
            return lower[c.lower()]
    return None


def read_extxyz_systems(path, **kwargs) -> list[Dataset]:
    """Every structure of an extended-XYZ file whose frames differ in size or atoms (as MACE and NequIP
    training files do): one Dataset per run of consecutive frames with the same atoms, read as
    :func:`read_extxyz` reads a file (``kwargs`` are its options). A uniform file gives one Dataset."""
    groups = split_xyz_systems(path)
    out = []
    first = 0
    for frames in groups:
        data = read_extxyz(path, _frames=frames, **kwargs)
        if len(groups) > 1:
            data.provenance["frames_of_file"] = [first, first + frames.n_frames - 1]
        first += frames.n_frames
        out.append(data)
    return out


def read_extxyz(path, masses: Mapping[str, float] | None = None, forces_key: str | None = None,
                energy_key: str | None = None, velocities_unit: str = "A/fs", timestep: float | None = None,
                _frames=None) -> Dataset:
    """Read an extended-XYZ trajectory (ASE's layout; plain or ``.gz``) into a Dataset.

    Properties are parsed generally (``name:S|R|I|L:count``). Needed: ``species`` (or
    ``element``/``symbols``) and ``pos`` (Å). Optional: forces (``forces``/``force``, or
    ``forces_key``; eV/Å), velocities (``velocities``/``vel``/``velo`` in Å/fs, or in ASE
    units with ``velocities_unit="ase"``; ``momenta`` in ASE units amu·Å/(Å·sqrt(amu/eV))
    are divided by the masses), ``masses`` (amu). Per frame: ``Lattice`` (9 numbers, rows
    a, b, c, Å), ``pbc`` (all T, or all F for an isolated system; mixed is refused),
    energy (``energy``/``potential_energy``/``free_energy`` or ``energy_key``; eV),
    ``step`` and ``time`` (fs). Without times, times are ``timestep * frame`` when
    ``timestep`` (fs) is given, else the frame index (noted in provenance).

    All frames must have the same atoms in the same order and the same Properties; every
    defect raises ValueError naming the file and line.
    """
    if velocities_unit not in ("A/fs", "ase"):
        raise ValueError(f"velocities_unit must be 'A/fs' or 'ase', got {velocities_unit!r}")
    frames = split_xyz_frames(path) if _frames is None else _frames  # _frames: a group of read_extxyz_systems
    path, sha, n, F = frames.path, frames.sha256, frames.n_atoms, frames.n_frames
    infos: list[dict] = []
    props = props_text = None
    for k in range(F):
        where = _where(path, frames.comment_line(k))
        info = parse_extxyz_comment(frames.comment(k), where)
        lower = {key.lower(): key for key in info}
        this_props = info.get(lower.get("properties", ""), DEFAULT_PROPERTIES)
        if props_text is None:
            props_text = this_props
            props = parse_properties(this_props, where)
        elif this_props != props_text:
            raise ValueError(f"{where}: Properties {this_props!r} differ from frame 0's {props_text!r}")
        info["__line__"] = frames.comment_line(k)
        infos.append(info)
    assert props is not None
    where0 = _where(path, 2)
    pnames = [q[0] for q in props]
    ncol = sum(q[2] for q in props)

    # Atom lines of every frame: one split, then per-column conversion.
    toks = atom_tokens(frames, ncol, f"for Properties {props_text!r}")
    columns: dict[str, object] = {}
    for name, typ, cnt, col in props:
        if typ == "S":
            columns[name] = toks[col::ncol] if cnt == 1 else [toks[c::ncol] for c in range(col, col + cnt)]
            continue
        if typ in ("R", "I"):
            arr = number_columns(frames, toks, ncol, col, cnt, name, integer=typ == "I")
        else:
            arr = np.array([[t.lower() in TRUE_WORDS for t in toks[c::ncol]] for c in range(col, col + cnt)]).T
        columns[name] = arr.reshape(F, n, cnt)

    species_key = _pick(pnames, SPECIES_COLUMNS, None, "species column", where0)
    if species_key is None or not isinstance(columns[species_key], list) or isinstance(columns[species_key][0], list):
        raise ValueError(f"{where0}: Properties {props_text!r} need a species:S:1 column")
    symbols = frame_symbols(frames, columns[species_key])
    if "pos" not in columns or not isinstance(columns["pos"], np.ndarray) or columns["pos"].shape[2] != 3:
        raise ValueError(f"{where0}: Properties {props_text!r} need pos:R:3")
    positions = columns["pos"]

    notes: list[str] = []
    if forces_key is None:
        several = [name for name in pnames if name.lower() in {f.lower() for f in _FORCE_NAMES}]
        if len(several) > 1:
            raise ValueError(f"{where0}: several force columns ({', '.join(several)}): say which holds the reference "
                             f"forces with --forces-key (forces_key=)")
    fkey = _pick(pnames, _FORCE_NAMES, forces_key, "forces column", where0)
    forces = None
    if fkey is not None:
        if not isinstance(columns[fkey], np.ndarray) or columns[fkey].shape[2] != 3:
            raise ValueError(f"{where0}: forces column {fkey!r} must be R:3")
        forces = columns[fkey]

    names, species = species_ids(symbols)
    if "masses" in columns and isinstance(columns["masses"], np.ndarray) and not masses:
        m = columns["masses"][0, :, 0]
        if not np.all(columns["masses"][..., 0] == m) or not np.all(m > 0):
            raise ValueError(f"{where0}: per-atom masses must be positive and the same in every frame")
        masses_n = m.copy()
        mass_source = "masses column"
    else:
        mass_of = default_masses(names, masses, path)
        masses_n = np.array([mass_of[s] for s in symbols])
        mass_source = "defaults" if not masses else "masses= and defaults"

    velocities = None
    vkey = _pick(pnames, _VELOCITY_NAMES, None, "velocities", where0)
    if vkey is not None and isinstance(columns[vkey], np.ndarray) and columns[vkey].shape[2] == 3:
        velocities = columns[vkey] / (ASE_TIME_FS if velocities_unit == "ase" else 1.0)
    elif "momenta" in columns and isinstance(columns["momenta"], np.ndarray) and columns["momenta"].shape[2] == 3:
        velocities = columns["momenta"] / masses_n[None, :, None] / ASE_TIME_FS
        notes.append("velocities from ASE momenta (amu·Å per ASE time unit)")
    used = {species_key, "pos", fkey, vkey, "momenta" if velocities is not None and vkey is None else None, "masses"}
    dropped_cols = [q for q in pnames if q not in used]
    if dropped_cols:
        notes.append(f"per-atom columns not kept: {dropped_cols}")

    # Per-frame values.
    def key_in(info, candidates, explicit=None):
        keys = [k for k in info if k != "__line__"]
        return _pick(keys, candidates, explicit, "key", _where(path, info["__line__"]))

    cells = np.empty((F, 3, 3))
    n_lattice = 0
    periodic_frames = 0
    energy = np.empty(F)
    n_energy = 0
    steps = np.arange(F, dtype=np.int64)
    n_step_frames = 0
    times = np.full(F, np.nan)
    for k, info in enumerate(infos):
        where = _where(path, info["__line__"])
        lower = {key.lower(): key for key in info}
        lat = lower.get("lattice")
        pbc = parse_pbc(info[lower["pbc"]], where) if "pbc" in lower else None
        if lat is not None:
            cells[k] = parse_numbers(info[lat], 9, where, "Lattice").reshape(3, 3)
            n_lattice += 1
            if pbc is None:
                pbc = [True] * 3
        else:
            pbc = pbc or [False] * 3
        if any(pbc) and not all(pbc):
            raise ValueError(f"{where}: partly periodic frames (pbc={info[lower['pbc']]!r}) are not supported; "
                             f"mldyn cells are periodic in all three directions or isolated")
        if all(pbc):
            if lat is None:
                raise ValueError(f"{where}: pbc is periodic but the frame has no Lattice")
            if not abs(np.linalg.det(cells[k])) > 0:
                raise ValueError(f"{where}: the Lattice is singular")
            periodic_frames += 1
        ekey = key_in(info, _ENERGY_NAMES, None)
        if energy_key is not None:
            if energy_key not in info:
                raise ValueError(f"{where}: no energy key {energy_key!r} in this frame")
            ekey = energy_key
        if ekey is not None:
            energy[k] = parse_numbers(info[ekey], 1, where, ekey)[0]
            n_energy += 1
        if "step" in lower:
            v = parse_numbers(info[lower["step"]], 1, where, "step")[0]
            if v != round(v):
                raise ValueError(f"{where}: step must be an integer, got {info[lower['step']]!r}")
            steps[k] = int(v)
            n_step_frames += 1
        if "time" in lower:
            times[k] = parse_numbers(info[lower["time"]], 1, where, "time")[0]
    if 0 < periodic_frames < F:
        raise ValueError(f"{path}: {periodic_frames} of {F} frames are periodic; all or none must be")
    if periodic_frames == 0:
        cells_out = None
        if n_lattice:
            notes.append("pbc F F F: Lattice dropped, the system is isolated")
    else:
        cells_out = cells
    if 0 < n_energy < F:
        notes.append(f"energy present in only {n_energy} of {F} frames: not kept")
    potential = energy if n_energy == F else None
    if np.all(np.isfinite(times)):
        times_out = times
    elif np.any(np.isfinite(times)):
        raise ValueError(f"{path}: 'time' is given in some frames but not all")
    elif timestep is not None:
        if not 0 < float(timestep) < np.inf:
            raise ValueError(f"{path}: the timestep must be a time > 0 in fs, got {timestep}")
        times_out = steps * float(timestep)
        notes.append(f"times = step x timestep {timestep} fs")
    else:
        times_out = steps.astype(float)
        notes.append("no time information: times_f are the frame indices (pass timestep= in fs; mldyn fit: --timestep)")
    time_axis = bool(n_step_frames or np.all(np.isfinite(times)) or timestep is not None)  # a timestep: a trajectory
    extra_keys = sorted({k for info in infos for k in info if k != "__line__"}
                        - {"Lattice", "lattice", "Properties", "properties", "pbc", "step", "time", energy_key,
                           *_ENERGY_NAMES})
    if extra_keys:
        notes.append(f"per-frame keys not kept: {extra_keys}")
    provenance = {"reader": "mldyn.io.extxyz.read_extxyz", "format": "extxyz",
                  "files": {"extxyz": {"path": path, "sha256": sha}}, "properties": props_text,
                  "masses": mass_source, "notes": notes, "time_axis": time_axis,
                  "times_known": bool(np.all(np.isfinite(times)) or timestep is not None)}
    return Dataset(names, species, masses_n, positions, cells_out, velocities, forces, steps, times_out, potential,
                   None, None, provenance)

