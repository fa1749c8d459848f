"""CP2K molecular-dynamics output → :class:`mldyn.dataset.Dataset`.

Reads the standard MD print keys of a CP2K run (``PROJECT-pos-1.xyz``, ``-vel-1.xyz``,
``-frc-1.xyz``, ``PROJECT-1.ener``, ``PROJECT-1.cell``, plain or ``.gz``) and converts
to mldyn's units at this edge only:

========================  ===================  ==========================================
quantity                  CP2K file units      mldyn units (factor from :mod:`mldyn.units`)
========================  ===================  ==========================================
positions                 Å                    Å
velocities                Bohr / a.u. time     Å/fs (``BOHR_PER_AU_TIME_A_PER_FS``)
forces                    Hartree / Bohr       eV/Å (``HARTREE_PER_BOHR_EV_PER_A``)
energies (.ener, ``E =``) Hartree              eV (``HARTREE_EV``)
cell (.cell, input)       Å (input: [unit])    Å
========================  ===================  ==========================================

Frames are matched across files by the step ``i = N`` of each xyz comment line and the
step column of ``.ener``/``.cell``. Steps printed by only some files are dropped (the
intersection is kept); a restarted run that prints a step twice keeps the last copy.
Everything dropped is recorded in ``Dataset.provenance["alignment"]`` and reported with
a :class:`CP2KAlignmentWarning`. Every malformed input raises ValueError naming the file
and the 1-based line number.

The files are found by :mod:`mldyn.io.cp2k_files` and parsed by :mod:`mldyn.io.cp2k_xyz`,
:mod:`mldyn.io.cp2k_tables` and :mod:`mldyn.io.cp2k_input`; :mod:`mldyn.io.cp2k_writer` writes
the same layouts in CP2K's units, so that trajectories mldyn generates read back with :func:`read_cp2k`.
"""
from __future__ import annotations

import os
import warnings
from typing import Callable, Iterable, Mapping

import numpy as np

from ..cell import cell_frames, cell_matrix
from ..dataset import Dataset
from ..elements import default_masses
from ..units import BOHR_PER_AU_TIME_A_PER_FS, HARTREE_EV, HARTREE_PER_BOHR_EV_PER_A
from .cp2k_files import FILE_KINDS, KIND_ALIASES, classify_cp2k_file, find_cp2k_files, sibling_name
from .cp2k_input import input_lines, parse_cp2k_input_cell, parse_cp2k_input_kinds
from .cp2k_tables import parse_cp2k_table
from .cp2k_xyz import CP2KTrajectory, read_cp2k_xyz
from .text import file_sha256, species_ids, where as _where

__all__ = ["read_cp2k", "CP2KAlignmentWarning", "CP2KKindsWarning"]

_ISOLATED = ("isolated", "none", "nopbc")


class CP2KKindsWarning(UserWarning):
    """Kinds of the CP2K input that share an element are read as one species (say ``kinds="separate"``)."""


class CP2KAlignmentWarning(UserWarning):
    """Frames were dropped while aligning CP2K files (repeated steps of a restart, or steps missing from a file)."""


def _last_unique(steps: np.ndarray) -> np.ndarray:
    """Indices keeping the last occurrence of every step, ordered by step."""
    rev = steps[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    return len(steps) - 1 - first_in_rev


def _step_list(steps: np.ndarray, limit: int = 10) -> str:
    steps = np.asarray(steps)
    shown = ", ".join(str(int(s)) for s in steps[:limit])
    return shown + (f", ... ({len(steps)} in all)" if len(steps) > limit else "")


def _user_cell(cell) -> np.ndarray:
    """The ``cell=`` argument of :func:`read_cp2k` as a finite, non-singular (3, 3) matrix (Å)."""
    h = cell_matrix(cell, "cell=")
    if not np.all(np.isfinite(h)) or not abs(np.linalg.det(h)) > 0:
        raise ValueError(f"cell= must be finite and non-singular, got {h.tolist()}")
    return h


def _report(progress, message: str) -> None:
    if callable(progress):
        progress(message)


# ============================================================================ the reader
def read_cp2k(path_or_files, project: str | None = None, cell=None, masses: Mapping[str, float] | None = None,
              require_forces: bool = False, progress: bool | Callable[[str], None] = False,
              kinds: str = "merge") -> Dataset:
    """Read a CP2K MD run into a :class:`Dataset` in mldyn units (Å, Å/fs, eV/Å, eV, fs, amu).

    Parameters
    ----------
    path_or_files : a run directory; a ``PROJECT-pos-1.xyz[.gz]`` path (its run directory,
        that project); a list of files (kinds told by name); or a dict ``{kind: path}`` with
        kinds ``pos`` (required), ``vel``, ``frc``, ``ener``, ``cell``, ``inp``.
    project : CP2K project name, required when a directory holds several projects.
    cell : used only when the run has no cell information (no ``.cell`` file and no
        ``&CELL`` in the input file): a length L, three lengths, or a (3, 3) matrix of row
        vectors (Å), or ``"isolated"`` for a non-periodic system (``cells_f33`` None).
        When the files do give a cell, they win and a disagreeing ``cell=`` is warned about.
        An input file whose ``&CELL`` says ``PERIODIC NONE`` makes the run isolated;
        partly periodic cells (``PERIODIC XY`` ...) are refused.
    masses : per-species or per-element masses in amu overriding CP2K's defaults
        (:data:`mldyn.elements.ATOMIC_MASSES`), e.g. ``{"H": 2.014}``.
    require_forces : raise ValueError when the run has no ``-frc-1.xyz`` file.
    kinds : "merge" (default) or "separate": CP2K writes element symbols to its trajectories, so
        kinds of the input's &COORD that share an element (two spin kinds of Co, O_water and
        O_oxide, ...) would merge into one species; "merge" keeps them merged and warns
        (:class:`CP2KKindsWarning`), "separate" makes every kind a species of its own.
    progress : True for a progress bar over the files (stderr), or a callable receiving one
        message per file; False for silence.

    Returns a Dataset with frames at the steps every present file printed, sorted by step:
    positions (F, n, 3) Å; velocities (F, n, 3) Å/fs and forces (F, n, 3) eV/Å when
    printed; cells (F, 3, 3) Å; steps (F,); times (F,) fs; potential, kinetic energy (F,)
    eV and temperature (F,) K from ``.ener`` (potential from the xyz comment ``E =`` when
    there is no ``.ener``). Raises ValueError naming file and line on malformed input.
    """
    # ---- which files
    if isinstance(path_or_files, Mapping):
        files = {}
        for k, v in path_or_files.items():
            kind = KIND_ALIASES.get(k, k)
            if kind not in FILE_KINDS:
                raise ValueError(f"unknown CP2K file kind {k!r}; use pos, vel, frc, ener, cell, inp")
            if v is not None:
                files[kind] = os.fspath(v)
        origin = "files"
    elif isinstance(path_or_files, (str, os.PathLike)) and os.path.isdir(path_or_files):
        files = find_cp2k_files(path_or_files, project)
        origin = os.fspath(path_or_files)
    elif isinstance(path_or_files, (str, os.PathLike)):
        p = os.fspath(path_or_files)
        if not os.path.exists(p):
            raise FileNotFoundError(p)
        kind, proj = classify_cp2k_file(p)
        if kind != "pos" or proj is None:
            raise ValueError(f"{p}: pass a run directory, a PROJECT-pos-1.xyz file, or a list/dict of files")
        if project is not None and project != proj:
            raise ValueError(f"{p}: file is of project {proj!r}, but project={project!r}")
        files = find_cp2k_files(os.path.dirname(os.path.abspath(p)), proj)
        files["pos"] = p
        origin = os.path.dirname(os.path.abspath(p))
    elif isinstance(path_or_files, Iterable):
        files = {}
        for f in path_or_files:
            f = os.fspath(f)
            kind, _ = classify_cp2k_file(f)
            if kind in files:
                raise ValueError(f"two {kind} files given: {files[kind]} and {f}")
            files[kind] = f
        origin = "files"
    else:
        raise ValueError(f"read_cp2k: expected a directory, a file or a list of files, got {path_or_files!r}")
    if "pos" not in files:
        raise ValueError(f"{origin}: no positions file (*-pos-1.xyz) among {sorted(files.values())}")
    for f in files.values():
        if not os.path.exists(f):
            raise FileNotFoundError(f)
    if require_forces and "frc" not in files:
        raise ValueError(missing_forces_message(files))

    notes: list[str] = []
    provenance: dict = {"reader": "mldyn.io.cp2k_reader.read_cp2k", "format": "cp2k", "origin": origin, "files": {},
                        "units_in": {"positions": "angstrom", "velocities": "bohr/au_time", "forces": "hartree/bohr",
                                     "energies": "hartree", "cell": "angstrom"},
                        "notes": notes}
    if project is not None:
        provenance["project"] = project
    else:
        provenance["project"] = classify_cp2k_file(files["pos"])[1]

    order = [k for k in ("inp", "pos", "vel", "frc", "ener", "cell") if k in files]
    bar = None
    if progress is True:
        from ..progress import progress_bar
        bar = progress_bar(total=len(order), desc="reading CP2K files")

    def done(kind):
        if bar is not None:
            bar.update(1)
        _report(progress, f"read {kind}: {files[kind]}")

    # ---- input file: cell, units of the print keys
    inp_cell, inp_info = None, {}
    if "inp" in files:
        inp_cell, inp_info = parse_cp2k_input_cell(files["inp"])
        provenance["files"]["inp"] = {"path": files["inp"], "sha256": file_sha256(files["inp"])}
        defaults = {"TRAJECTORY": ("angstrom", "pos"), "VELOCITIES": ("bohr*au_t^-1", "vel"),
                    "FORCES": ("hartree*bohr^-1", "frc")}
        for key, (unit, where) in inp_info.get("print_units", {}).items():
            if key in defaults and unit != defaults[key][0] and defaults[key][1] in files:
                raise ValueError(f"{where}: &{key} UNIT {unit} is not supported (only CP2K's default "
                                 f"{defaults[key][0]})")
        if "note" in inp_info:
            notes.append(inp_info["note"])
        done("inp")

    # ---- trajectories
    xyz: dict[str, CP2KTrajectory] = {}
    for kind in ("pos", "vel", "frc"):
        if kind in files:
            xyz[kind] = read_cp2k_xyz(files[kind])
            provenance["files"][kind] = {"path": files[kind], "sha256": xyz[kind].sha256}
            done(kind)
    ref = xyz["pos"]
    n = ref.data.shape[1]
    for kind in ("vel", "frc"):
        if kind in xyz:
            other = xyz[kind]
            if other.data.shape[1] != n:
                raise ValueError(f"{_where(other.path, 1)}: {other.data.shape[1]} atoms, but {ref.path} (line 1) "
                                 f"has {n}; the files are not of the same run")
            if other.symbols != ref.symbols:
                j = next(i for i, (a, b) in enumerate(zip(other.symbols, ref.symbols)) if a != b)
                raise ValueError(f"{_where(other.path, j + 3)}: atom {j} is {other.symbols[j]!r} but "
                                 f"{ref.symbols[j]!r} in {ref.path} (line {j + 3}); the species order differs "
                                 f"between files")

    # ---- tables
    ener = cellf = None
    if "ener" in files:
        # NaN in Pot. and Cons Qty: a learned run of an agent-loss model, which has no potential energy
        arr, where, sha = parse_cp2k_table(files["ener"], 5, "CP2K .ener", nan_columns=(4, 5))
        ener = {"steps": arr[:, 0].astype(np.int64), "data": arr, "lines": where, "path": files["ener"]}
        provenance["files"]["ener"] = {"path": files["ener"], "sha256": sha}
        done("ener")
    if "cell" in files:
        arr, where, sha = parse_cp2k_table(files["cell"], 11, "CP2K .cell")
        cellf = {"steps": arr[:, 0].astype(np.int64), "data": arr, "lines": where, "path": files["cell"]}
        provenance["files"]["cell"] = {"path": files["cell"], "sha256": sha}
        done("cell")
    if bar is not None:
        bar.close()

    # ---- align by step: last copy of repeated steps, then the intersection
    sources: dict[str, dict] = {}
    for kind, x in xyz.items():
        sources[kind] = {"steps": x.steps, "path": x.path}
    if ener is not None:
        sources["ener"] = ener
    if cellf is not None:
        sources["cell"] = cellf
    alignment: dict = {"repeated_steps_dropped": {}, "steps_missing_elsewhere_dropped": {}}
    keep_idx: dict[str, np.ndarray] = {}
    to_warn: list[str] = []
    for kind, src in sources.items():
        idx = _last_unique(src["steps"])
        n_dup = len(src["steps"]) - len(idx)
        if n_dup:
            dropped = np.setdiff1d(np.arange(len(src["steps"])), idx)
            alignment["repeated_steps_dropped"][kind] = [int(s) for s in src["steps"][dropped]]
            msg = (f"{src['path']}: {n_dup} frame(s) repeat an earlier step (restarted run?); the last copy of each "
                   f"is kept, dropped earlier copies of steps {_step_list(src['steps'][dropped])}")
            notes.append(msg)
            to_warn.append(msg)
        keep_idx[kind] = idx
    common = None
    for kind, idx in keep_idx.items():
        s = sources[kind]["steps"][idx]
        common = s if common is None else np.intersect1d(common, s, assume_unique=True)
    if common is None or common.size == 0:
        detail = "; ".join(f"{sources[k]['path']}: steps {_step_list(sources[k]['steps'][keep_idx[k]], 3)}"
                           for k in keep_idx)
        raise ValueError(f"no step is printed by every file, zero frames after alignment ({detail})")
    for kind, idx in keep_idx.items():
        s = sources[kind]["steps"][idx]
        mask = np.isin(s, common, assume_unique=True)
        keep_idx[kind] = idx[mask]
        if not mask.all():
            lost = s[~mask]
            alignment["steps_missing_elsewhere_dropped"][kind] = [int(v) for v in lost]
            msg = (f"{sources[kind]['path']}: {lost.size} step(s) not printed by every file were dropped: "
                   f"{_step_list(lost)} (files printed at different frequencies or cover different steps)")
            notes.append(msg)
            to_warn.append(msg)
    if to_warn:
        warnings.warn("; ".join(to_warn), CP2KAlignmentWarning, stacklevel=2)
    alignment["n_frames"] = int(common.size)
    alignment["first_step"], alignment["last_step"] = int(common[0]), int(common[-1])
    provenance["alignment"] = alignment

    # ---- assemble in mldyn units
    ip = keep_idx["pos"]
    positions = ref.data[ip]
    velocities = xyz["vel"].data[keep_idx["vel"]] * BOHR_PER_AU_TIME_A_PER_FS if "vel" in xyz else None
    forces = xyz["frc"].data[keep_idx["frc"]] * HARTREE_PER_BOHR_EV_PER_A if "frc" in xyz else None
    if "vel" not in xyz:
        notes.append("no velocities file")
    if "frc" not in xyz:
        notes.append("no forces file")

    times = None
    for kind in ("pos", "vel", "frc"):
        if kind in xyz and xyz[kind].times is not None:
            times = xyz[kind].times[keep_idx[kind]]
            break
    if times is None and ener is not None:
        times = ener["data"][keep_idx["ener"], 1]
    if times is None:
        raise ValueError(f"{ref.path}: no times (no 'time =' in the comment lines and no .ener file)")

    potential = kinetic = temperature = None
    if ener is not None:
        d = ener["data"][keep_idx["ener"]]
        kinetic = d[:, 2] * HARTREE_EV
        temperature = d[:, 3]
        potential = d[:, 4] * HARTREE_EV
        if np.isnan(potential).any():
            potential = None
            notes.append("from .ener: kinetic and temperature kept; no potential energy (NaN: an agent-loss run)")
        else:
            notes.append("from .ener: kinetic, temperature, potential kept; conserved quantity and CPU time not kept")
    elif ref.energies is not None:
        potential = ref.energies[ip] * HARTREE_EV
        notes.append("no .ener file: potential energy from the 'E =' of the positions file; no kinetic energy "
                     "or temperature")

    cells = None
    if cellf is not None:
        cells = cellf["data"][keep_idx["cell"], 2:11].reshape(-1, 3, 3)
        provenance["cell_source"] = f"{cellf['path']} (per frame)"
        vol = cellf["data"][keep_idx["cell"], 11] if cellf["data"].shape[1] > 11 else None
        if vol is not None:
            det = np.abs(np.linalg.det(cells))
            bad = np.flatnonzero(np.abs(det - vol) > 1e-6 * np.maximum(vol, 1.0) + 1e-6)
            if bad.size:
                r = int(keep_idx["cell"][bad[0]])
                raise ValueError(f"{_where(cellf['path'], int(cellf['lines'][r]))}: the cell vectors give volume "
                                 f"{det[bad[0]]:.6f} Å^3 but the line says {vol[bad[0]]:.6f}")
        if not np.all(np.abs(np.linalg.det(cells)) > 0):
            r = int(keep_idx["cell"][np.flatnonzero(~(np.abs(np.linalg.det(cells)) > 0))[0]])
            raise ValueError(f"{_where(cellf['path'], int(cellf['lines'][r]))}: singular cell")
    elif inp_cell is not None:
        cells = cell_frames(inp_cell, common.size).copy()
        provenance["cell_source"] = f"{inp_info['cell_where']} (&CELL of the input file, constant)"
    periodic = str(inp_info.get("periodic") or "XYZ").upper()
    if periodic not in ("XYZ", "NONE"):
        raise ValueError(f"{inp_info['periodic_where']}: PERIODIC {periodic} (partly periodic) is not supported; "
                         f"mldyn cells are periodic in x, y and z or isolated")
    run_isolated = periodic == "NONE"
    if run_isolated:
        cells = None
        provenance["cell_source"] = f"isolated (&CELL PERIODIC NONE, {inp_info['periodic_where']})"
        notes.append("the input says PERIODIC NONE: the system is isolated, any printed cell is not kept")
    user_isolated = isinstance(cell, str) and cell.lower() in _ISOLATED
    if run_isolated:
        if cell is not None and not user_isolated:
            msg = f"cell= ignored: the run is isolated ({provenance['cell_source']})"
            notes.append(msg)
            warnings.warn(msg, UserWarning, stacklevel=2)
    elif cells is not None:
        if cell is not None:
            if user_isolated:
                msg = f"cell='isolated' ignored: the run gives a cell ({provenance['cell_source']})"
            else:
                h = _user_cell(cell)
                msg = (None if np.allclose(cells, h[None], atol=1e-6)
                       else f"cell= ignored: it differs from the cell the run gives ({provenance['cell_source']})")
            if msg:
                notes.append(msg)
                warnings.warn(msg, UserWarning, stacklevel=2)
    elif user_isolated:
        provenance["cell_source"] = "isolated (cell='isolated')"
    elif cell is not None:
        cells = cell_frames(_user_cell(cell), common.size).copy()
        provenance["cell_source"] = "cell= argument (constant)"
    else:
        raise ValueError(f"{origin}: no cell found (no PROJECT-1.cell file and no &SUBSYS/&CELL in an input file); "
                         f"pass cell=L, (a, b, c) or a (3, 3) matrix of row vectors in Å, or cell='isolated'")

    if kinds not in ("merge", "separate"):
        raise ValueError(f"kinds must be 'merge' or 'separate', got {kinds!r}")
    symbols = list(ref.symbols)
    parsed = parse_cp2k_input_kinds(files["inp"]) if "inp" in files else None
    if parsed is not None and len(parsed[0]) == len(symbols):
        labels, element = parsed
        shared = {}
        for lab in dict.fromkeys(labels):
            shared.setdefault(element.get(lab), []).append(lab)
        shared = {el: labs for el, labs in shared.items() if el is not None and len(labs) > 1}
        if shared and kinds == "separate":
            symbols = [lab if element.get(lab) in shared else sym for lab, sym in zip(labels, symbols)]
            provenance["kinds"] = {"separate": shared, "source": files["inp"]}
            from ..elements import ATOMIC_MASSES  # a kind's mass: its element's, unless masses= names the kind

            user = dict(masses or {})  # by kind label, or by element (then for each of its kinds)
            masses = {**{lab: user.get(el, ATOMIC_MASSES.get(el)) for el, labs in shared.items() for lab in labs
                         if lab not in user and (el in user or el in ATOMIC_MASSES)}, **user}
        elif shared:
            text = "; ".join(f"{', '.join(labs)} are all {el}" for el, labs in shared.items())
            msg = (f"{files['inp']}: kinds that share an element are one species in the data ({text}): the "
                   f"trajectory files name only the element; keep them apart with --cp2k-kinds separate "
                   f"(kinds='separate')")
            notes.append(msg)
            warnings.warn(msg, CP2KKindsWarning, stacklevel=2)
    names, species = species_ids(symbols)
    mass_of = default_masses(names, masses, ref.path)
    masses_n = np.array([mass_of[s] for s in symbols])
    provenance["masses_amu"] = mass_of
    provenance["n_frames_read"] = {k: int(len(v["steps"])) for k, v in sources.items()}
    return Dataset(names, species, masses_n, positions, cells, velocities, forces, common, times, potential,
                   kinetic, temperature, provenance)


def missing_forces_message(files: dict) -> str:
    """What is missing when a run has no forces file, and what to change: forces printed only to the
    CP2K log (by &FORCE_EVAL/&PRINT/&FORCES) carry no step numbers, so mldyn reads the per-step file
    that &MOTION/&PRINT/&FORCES writes."""
    pos = files["pos"]
    frc = sibling_name(pos, "frc")
    folder = os.path.dirname(pos) or "."
    logs = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith((".log", ".out")) and os.path.isfile(path):
            with open(path, "rb") as fh:  # line by line: a log can be large
                if any(b"ATOMIC FORCES in" in line for line in fh):
                    logs.append(path)
    text = f"{pos}: no forces file {frc}, and forces are required."
    if logs:
        text += (f" {logs[0]} holds forces printed by &FORCE_EVAL/&PRINT/&FORCES: they are not marked with MD step "
                 f"numbers, so mldyn does not read them.")
    deck = files.get("inp")
    asks = False
    if deck:
        sections = [line.upper() for line, _, _ in input_lines(deck)]
        depth = []
        for line in sections:
            if line.startswith("&END"):
                depth = depth[:-1]
            elif line.startswith("&"):
                depth.append(line.split()[0][1:])
                asks = asks or depth[-3:] == ["MOTION", "PRINT", "FORCES"]
    if asks:
        text += (f" The input {deck} has &MOTION/&PRINT/&FORCES: check its FILENAME (the file must be named like "
                 f"{os.path.basename(frc)}, beside the positions) and that the run got to write it.")
    else:
        text += (" Add &FORCES ... &END FORCES inside &MOTION/&PRINT of the CP2K input (with &EACH MD 1 &END EACH) "
                 f"and rerun: CP2K then writes {os.path.basename(frc)} every MD step (mldyn cp2k-input writes such "
                 "an input).")
    return text

