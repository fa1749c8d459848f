"""Other trajectory formats → :class:`mldyn.dataset.Dataset`, and :func:`load_dataset`.

* Extended XYZ as ASE writes it (``Lattice="..." Properties=species:S:1:pos:R:3:forces:R:3
  energy=... pbc="T T T"``), parsed without ASE: Å, eV, eV/Å.
* DeePMD-kit ``deepmd/npy`` systems (``type.raw``, ``type_map.raw``, ``set.*/coord.npy``,
  ``force.npy``, ``box.npy``, ``energy.npy``): Å, eV, eV/Å.
* :func:`load_dataset` picks the reader from the path (CP2K run, DeePMD system, extxyz, ``.npz``).

Every malformed input raises ValueError naming the file (and the line, for text files).
"""
from __future__ import annotations

import glob
import os
import re
from typing import Mapping, Sequence

import numpy as np

from .cp2k import _Lines, _read_bytes, _species, _where, default_masses, find_cp2k_files, read_cp2k
from .dataset import Dataset
from .units import KINETIC_EV_PER_AMU_A2_FS2

__all__ = ["read_extxyz", "read_deepmd_npy", "write_extxyz", "write_deepmd_npy", "load_dataset",
           "parse_extxyz_comment", "ASE_TIME_FS"]

#: ASE's unit of time, Å·sqrt(amu/eV), in fs (ASE momenta are amu·Å per this unit).
ASE_TIME_FS: float = float(np.sqrt(KINETIC_EV_PER_AMU_A2_FS2))

_FORCE_NAMES = ("forces", "force")
_VELOCITY_NAMES = ("velocities", "vel", "velo")
_ENERGY_NAMES = ("energy", "potential_energy", "free_energy", "Energy")
_TRUE = {"t", "true", "1"}
_FALSE = {"f", "false", "0"}


# ============================================================================ extended XYZ
_KV_RE = re.compile(
    r"""\s*(?P<key>"[^"]*"|[^\s="']+)(?:\s*=\s*(?P<val>"(?:[^"\\]|\\.)*"|'[^']*'|\{[^}]*\}|\[[^\]]*\]|[^\s"']+))?""")


def parse_extxyz_comment(comment: str, where: str = "") -> dict:
    """Key/value pairs of an extended-XYZ comment line as strings (quotes removed); bare keys map to ``"T"``.

    ValueError (with ``where``) when the line cannot be split into pairs.
    """
    out: dict[str, str] = {}
    pos = 0
    text = comment.rstrip()
    while pos < len(text):
        m = _KV_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"{where}: cannot parse the comment line near {text[pos:pos + 40]!r}")
        key = m.group("key").strip('"')
        val = m.group("val")
        if val is None:
            val = "T"
        elif val[:1] in "\"'":
            val = val[1:-1].replace('\\"', '"')
        out[key] = val
        pos = m.end()
    return out


def _numbers(text: str, count: int, where: str, what: str) -> np.ndarray:
    parts = text.replace(",", " ").replace("[", " ").replace("]", " ").replace("{", " ").replace("}", " ").split()
    if len(parts) != count:
        raise ValueError(f"{where}: {what} needs {count} numbers, got {len(parts)}: {text[:80]!r}")
    try:
        arr = np.array([float(p) for p in parts])
    except ValueError:
        raise ValueError(f"{where}: non-numeric value in {what}: {text[:80]!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: non-finite value in {what}: {text[:80]!r}")
    return arr


def _bools(text: str, where: str) -> list[bool]:
    parts = text.replace(",", " ").replace("[", " ").replace("]", " ").split()
    out = []
    for p in parts:
        if p.lower() in _TRUE:
            out.append(True)
        elif p.lower() in _FALSE:
            out.append(False)
        else:
            raise ValueError(f"{where}: pbc must be T or F values, got {text!r}")
    if len(out) == 1:
        out *= 3
    if len(out) != 3:
        raise ValueError(f"{where}: pbc needs 3 values, got {text!r}")
    return out


def _properties(spec: str, where: str) -> list[tuple[str, str, int, int]]:
    """Parse ``name:type:count:...`` into (name, type, count, first column)."""
    parts = spec.split(":")
    if len(parts) % 3 or not parts:
        raise ValueError(f"{where}: Properties must be name:type:count triples, got {spec!r}")
    out, col = [], 0
    for i in range(0, len(parts), 3):
        name, typ, cnt = parts[i], parts[i + 1].upper(), parts[i + 2]
        if typ not in ("S", "R", "I", "L") or not cnt.isdigit() or int(cnt) < 1:
            raise ValueError(f"{where}: bad Properties entry {':'.join(parts[i:i + 3])!r} (type S, R, I or L, count >= 1)")
        out.append((name, typ, int(cnt), col))
        col += int(cnt)
    names = [p[0] for p in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: repeated names in Properties {spec!r}")
    return out


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


def read_extxyz(path, masses: Mapping[str, float] | None = None, forces_key: str | None = None,
                energy_key: str | None = None, velocities_unit: str = "A/fs", timestep: float | None = None) -> Dataset:
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
    path = os.fspath(path)
    raw, sha = _read_bytes(path)
    lines = _Lines(raw)
    nline = len(lines)
    if nline == 0:
        raise ValueError(f"{path}: empty file, zero frames parsed")
    if velocities_unit not in ("A/fs", "ase"):
        raise ValueError(f"velocities_unit must be 'A/fs' or 'ase', got {velocities_unit!r}")

    headers: list[int] = []
    infos: list[dict] = []
    p = 0
    n = None
    props = None
    props_text = None
    while p < nline:
        s = lines[p].strip()
        k = len(headers)
        try:
            count = int(s)
        except ValueError:
            raise ValueError(f"{_where(path, p + 1)}: expected the atom count of frame {k}, got {s[:60]!r}"
                             + (f" (frame {k - 1} at line {headers[-1] + 1} has a wrong number of atom lines?)"
                                if k else "")) from None
        if count <= 0:
            raise ValueError(f"{_where(path, p + 1)}: atom count must be positive, got {count}")
        if n is None:
            n = count
        elif count != n:
            raise ValueError(f"{_where(path, p + 1)}: frame {k} has {count} atoms but frame 0 (line 1) has {n}")
        if p + n + 2 > nline:
            raise ValueError(f"{_where(path, p + 1)}: truncated frame {k}: the file ends after "
                             f"{max(nline - p - 2, 0)} of {n} atom lines")
        where = _where(path, p + 2)
        info = parse_extxyz_comment(lines[p + 1], where)
        lower = {key.lower(): key for key in info}
        this_props = info.get(lower.get("properties", ""), "species:S:1:pos:R:3")
        if props_text is None:
            props_text = this_props
            props = _properties(this_props, where)
        elif this_props != props_text:
            raise ValueError(f"{where}: Properties {this_props!r} differ from frame 0's {props_text!r}")
        info["__line__"] = p + 2
        infos.append(info)
        headers.append(p)
        p += n + 2
    F = len(headers)
    assert n is not None and props is not None
    where0 = _where(path, 2)
    pnames = [q[0] for q in props]
    ncol = sum(q[2] for q in props)

    # Atom lines of every frame: one split, then per-column conversion.
    body = b"\n".join([lines.block(h + 2, h + n + 1) for h in headers]).decode("utf-8", errors="replace")
    toks = body.split()
    del body

    def atom_line(j: int) -> int:
        return headers[j // n] + 3 + j % n

    if len(toks) != ncol * n * F:
        for j in range(n * F):
            fields = lines[atom_line(j) - 1].split()
            if len(fields) != ncol:
                raise ValueError(f"{_where(path, atom_line(j))}: expected {ncol} fields for Properties "
                                 f"{props_text!r}, got {len(fields)}")
    columns: dict[str, object] = {}
    for name, typ, cnt, col in props:
        cols = [toks[c::ncol] for c in range(col, col + cnt)]
        if typ == "S":
            columns[name] = cols[0] if cnt == 1 else cols
            continue
        try:
            arr = np.array(cols, dtype=np.float64 if typ == "R" else np.int64).T if typ != "L" else None
        except ValueError:
            for c, colvals in enumerate(cols):
                for j, t in enumerate(colvals):
                    try:
                        float(t) if typ == "R" else int(t)
                    except ValueError:
                        raise ValueError(f"{_where(path, atom_line(j))}: non-numeric {name} value {t!r} "
                                         f"(column {col + c + 1})") from None
            raise
        if typ == "L":
            arr = np.array([[t.lower() in _TRUE for t in cv] for cv in cols]).T
        if typ == "R" and not np.all(np.isfinite(arr)):
            j = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise ValueError(f"{_where(path, atom_line(j))}: non-finite {name} value")
        columns[name] = arr.reshape(F, n, cnt)

    species_key = _pick(pnames, ("species", "element", "symbols", "symbol"), None, "species column", where0)
    if species_key is None or not isinstance(columns[species_key], list) or isinstance(columns[species_key][0], list):
        raise ValueError(f"{where0}: Properties {props_text!r} need a species:S:1 column")
    syms = columns[species_key]
    symbols = syms[:n]
    if syms != symbols * F:
        j = next(i for i, (a, b) in enumerate(zip(syms, symbols * F)) if a != b)
        raise ValueError(f"{_where(path, atom_line(j))}: atom {j % n} of frame {j // n} is {syms[j]!r} but "
                         f"{symbols[j % n]!r} in frame 0; the species order must not change between frames")
    if "pos" not in columns or not isinstance(columns["pos"], np.ndarray) or columns["pos"].shape[2] != 3:
        raise ValueError(f"{where0}: Properties {props_text!r} need pos:R:3")
    positions = columns["pos"]

    notes: list[str] = []
    fkey = _pick(pnames, _FORCE_NAMES, forces_key, "forces column", where0)
    forces = None
    if fkey is not None:
        if not isinstance(columns[fkey], np.ndarray) or columns[fkey].shape[2] != 3:
            raise ValueError(f"{where0}: forces column {fkey!r} must be R:3")
        forces = columns[fkey]

    names, species = _species(symbols)
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
    times = np.full(F, np.nan)
    for k, info in enumerate(infos):
        where = _where(path, info["__line__"])
        lower = {key.lower(): key for key in info}
        lat = lower.get("lattice")
        pbc = _bools(info[lower["pbc"]], where) if "pbc" in lower else None
        if lat is not None:
            cells[k] = _numbers(info[lat], 9, where, "Lattice").reshape(3, 3)
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
            energy[k] = _numbers(info[ekey], 1, where, ekey)[0]
            n_energy += 1
        if "step" in lower:
            v = _numbers(info[lower["step"]], 1, where, "step")[0]
            if v != round(v):
                raise ValueError(f"{where}: step must be an integer, got {info[lower['step']]!r}")
            steps[k] = int(v)
        if "time" in lower:
            times[k] = _numbers(info[lower["time"]], 1, where, "time")[0]
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
        times_out = steps * float(timestep)
        notes.append(f"times = step x timestep {timestep} fs")
    else:
        times_out = steps.astype(float)
        notes.append("no time information: times_f are the frame indices (pass timestep= in fs)")
    extra_keys = sorted({k for info in infos for k in info if k != "__line__"}
                        - {"Lattice", "lattice", "Properties", "properties", "pbc", "step", "time", energy_key,
                           *_ENERGY_NAMES})
    if extra_keys:
        notes.append(f"per-frame keys not kept: {extra_keys}")
    provenance = {"reader": "mldyn.formats.read_extxyz", "format": "extxyz",
                  "files": {"extxyz": {"path": path, "sha256": sha}}, "properties": props_text,
                  "masses": mass_source, "notes": notes}
    return Dataset(names, species, masses_n, positions, cells_out, velocities, forces, steps, times_out, potential,
                   None, None, provenance)


def write_extxyz(path, dataset: Dataset, append: bool = False, ase_momenta: bool = False) -> None:
    """Write ``dataset`` as extended XYZ in ASE's layout (species, pos, forces, velocities in Å/fs as ``vel``).

    Per frame: ``Lattice`` and ``pbc="T T T"`` (or ``pbc="F F F"``), ``energy`` (eV) when
    known, ``step`` and ``time`` (fs). A path ending in ``.gz`` is gzip-compressed.
    ``append`` adds the frames to an existing file. ``ase_momenta`` also writes ``masses`` (amu)
    and ``momenta`` in ASE's units (amu Å / (Å sqrt(amu/eV))), so that ``ase.io.read`` gives
    ``atoms.get_velocities()`` (ASE reads no velocity column by itself).
    """
    from .cp2k import _open_text_for_writing

    d = dataset
    props = "species:S:1:pos:R:3"
    arrays = [d.positions_fnc]
    if d.forces_fnc is not None:
        props += ":forces:R:3"
        arrays.append(d.forces_fnc)
    if d.velocities_fnc is not None:
        props += ":vel:R:3"
        arrays.append(d.velocities_fnc)
        if ase_momenta:
            props += ":masses:R:1:momenta:R:3"
            masses = np.broadcast_to(d.masses_n[None, :, None], (d.n_frames, d.n_atoms, 1))
            arrays += [masses, d.velocities_fnc * d.masses_n[None, :, None] * ASE_TIME_FS]
    data = np.concatenate(arrays, axis=2)
    row = " %.10f" * data.shape[2]
    template = "".join(f"{s:<3s}{row}\n" for s in d.symbols)
    with _open_text_for_writing(path, append) as fh:
        for k in range(d.n_frames):
            head = []
            if d.cells_f33 is not None:
                head.append('Lattice="' + " ".join(f"{x:.10f}" for x in d.cells_f33[k].ravel()) + '"')
            head.append(f"Properties={props}")
            if d.potential_energy_f is not None:
                head.append(f"energy={d.potential_energy_f[k]:.10f}")
            head.append(f"step={int(d.steps_f[k])} time={d.times_f[k]:.6f}")
            head.append('pbc="T T T"' if d.cells_f33 is not None else 'pbc="F F F"')
            fh.write(f"{d.n_atoms}\n{' '.join(head)}\n")
            fh.write(template % tuple(data[k].ravel().tolist()))


# ============================================================================ DeePMD-kit npy
def _load_npy(path: str) -> np.ndarray:
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
    if not os.path.isfile(type_path):
        raise ValueError(f"{directory}: no type.raw, not a deepmd/npy system")
    tlines, _ = _read_lines_text(type_path)
    types = []
    for i, line in enumerate(tlines):
        for t in line.split():
            try:
                types.append(int(t))
            except ValueError:
                raise ValueError(f"{_where(type_path, i + 1)}: type index must be an integer, got {t!r}") from None
    if not types:
        raise ValueError(f"{type_path}: no atom types")
    types_n = np.array(types)
    if types_n.min() < 0:
        raise ValueError(f"{type_path}: negative type index {int(types_n.min())}")
    n = len(types_n)
    map_path = os.path.join(directory, "type_map.raw")
    if os.path.isfile(map_path):
        mlines, _ = _read_lines_text(map_path)
        type_map = [t for line in mlines for t in line.split()]
        if len(set(type_map)) != len(type_map):
            raise ValueError(f"{map_path}: repeated names {type_map}")
        if types_n.max() >= len(type_map):
            i = int(np.flatnonzero(types_n >= len(type_map))[0])
            raise ValueError(f"{_where(type_path, i + 1)}: type {int(types_n[i])} has no name in {map_path} "
                             f"({len(type_map)} names)")
    else:
        map_path = None
        type_map = [f"type_{i}" for i in range(int(types_n.max()) + 1)]
    labels = [type_map[t] for t in types_n]
    names, species = _species(labels)
    mass_of = default_masses(names, masses, directory)
    masses_n = np.array([mass_of[s] for s in labels])
    nopbc = os.path.exists(os.path.join(directory, "nopbc"))

    sets = sorted(d for d in glob.glob(os.path.join(glob.escape(directory), "set.*")) if os.path.isdir(d))
    if not sets:
        raise ValueError(f"{directory}: no set.* directories, zero frames")
    coords, forces, boxes, energies = [], [], [], []
    files = {"type.raw": {"path": type_path, "sha256": _sha(type_path)}}
    if map_path:
        files["type_map.raw"] = {"path": map_path, "sha256": _sha(map_path)}
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
        files[os.path.relpath(cpath, directory)] = {"path": cpath, "sha256": _sha(cpath)}
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
            files[os.path.relpath(fpath, directory)] = {"path": fpath, "sha256": _sha(fpath)}
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
    provenance = {"reader": "mldyn.formats.read_deepmd_npy", "format": "deepmd/npy", "origin": directory,
                  "files": files, "type_map": type_map, "sets": [os.path.basename(s) for s in sets], "notes": notes}
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


def _read_lines_text(path: str):
    raw, sha = _read_bytes(path)
    return raw.decode("utf-8", errors="replace").split("\n"), sha


def _sha(path: str) -> str:
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# ============================================================================ dispatcher
_CP2K_POS_RE = re.compile(r".+-pos-1\.xyz(?:\.gz)?$")


#: Name that stands for the bundled CP2K water run wherever a data path is expected.
BUNDLED_NAME = "@h2o32"


def load_dataset(path, require_forces: bool = False, **kwargs) -> Dataset:
    """Read any supported trajectory into a Dataset, choosing the reader from ``path``.

    * directory with ``type.raw`` → :func:`read_deepmd_npy`
    * directory with ``*-pos-1.xyz[.gz]`` → :func:`mldyn.cp2k.read_cp2k`
    * ``PROJECT-pos-1.xyz[.gz]`` file → that CP2K run (:func:`mldyn.cp2k.read_cp2k`)
    * ``.xyz``/``.extxyz`` (optionally ``.gz``) file → :func:`read_extxyz`
    * ``.npz`` → :meth:`Dataset.load`

    * ``@h2o32`` → the CP2K water run bundled with mldyn (:func:`mldyn.data.bundled_h2o32_path`)

    ``kwargs`` go to the chosen reader (e.g. ``masses=``, ``cell=``, ``project=``).
    ``require_forces`` raises ValueError when the data has no forces (any format).
    """
    if str(path) == BUNDLED_NAME:
        from .data import bundled_h2o32_path

        path = bundled_h2o32_path()
    dataset = _load_any(path, require_forces, **kwargs)
    if require_forces and dataset.forces_fnc is None:
        raise ValueError(f"{os.fspath(path)}: the data has no forces, but forces are required")
    return dataset


def _load_any(path, require_forces: bool, **kwargs) -> Dataset:
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(p)
    base = os.path.basename(p.rstrip(os.sep)).lower()
    if os.path.isdir(p):
        if os.path.isfile(os.path.join(p, "type.raw")):
            return read_deepmd_npy(p, **kwargs)
        try:
            find_cp2k_files(p, kwargs.get("project"))
        except ValueError as exc:
            if "several CP2K projects" in str(exc) or "no trajectory" in str(exc):
                raise
            raise ValueError(f"{p}: neither a CP2K run (*-pos-1.xyz) nor a deepmd/npy system (type.raw)") from None
        return read_cp2k(p, require_forces=require_forces, **kwargs)
    if base.endswith(".npz"):
        if kwargs:
            raise ValueError(f"{p}: a saved Dataset takes no reader options, got {sorted(kwargs)}")
        return Dataset.load(p)
    if _CP2K_POS_RE.match(base):
        return read_cp2k(p, require_forces=require_forces, **kwargs)
    if base.endswith((".xyz", ".extxyz", ".xyz.gz", ".extxyz.gz")):
        return read_extxyz(p, **kwargs)
    raise ValueError(f"{p}: unknown data format (expected a CP2K run directory or PROJECT-pos-1.xyz, a deepmd/npy "
                     f"directory, .xyz/.extxyz or .npz)")
