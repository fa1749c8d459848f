"""Locating the files of a CP2K run: names, kinds and projects.

CP2K names its MD outputs ``PROJECT-pos-1.xyz``, ``-vel-1.xyz``, ``-frc-1.xyz``,
``PROJECT-1.ener`` and ``PROJECT-1.cell`` (plain or ``.gz``); the input deck is an ``.inp`` file.
"""
from __future__ import annotations

import glob
import os
import re

from ..units import BOHR_PER_AU_TIME_A_PER_FS, HARTREE_PER_BOHR_EV_PER_A
from .cp2k_input import parse_cp2k_input_cell

__all__ = ["XYZ_KINDS", "KIND_ALIASES", "FILE_KINDS", "find_cp2k_files", "cp2k_projects", "classify_cp2k_file", "is_cp2k_trajectory",
           "sibling_name"]

#: xyz print keys: kind -> (file infix, factor from CP2K units to mldyn units, CP2K unit name).
XYZ_KINDS = {
    "pos": ("pos", 1.0, "angstrom"),
    "vel": ("vel", BOHR_PER_AU_TIME_A_PER_FS, "bohr*au_t^-1"),
    "frc": ("frc", HARTREE_PER_BOHR_EV_PER_A, "hartree*bohr^-1"),
}
#: Other names of the file kinds (``"positions"`` → ``"pos"``, ...).
KIND_ALIASES = {"pos": "pos", "positions": "pos", "trajectory": "pos", "vel": "vel", "velocities": "vel",
                "frc": "frc", "forces": "frc", "force": "frc"}
#: Every kind of file of a run.
FILE_KINDS = ("pos", "vel", "frc", "ener", "cell", "inp")

_XYZ_FILE_RE = re.compile(r"^(?P<project>.+)-(?P<kind>pos|vel|frc)-1\.xyz(?:\.gz)?$")
_TABLE_FILE_RE = re.compile(r"^(?P<project>.+)-1\.(?P<kind>ener|cell)(?:\.gz)?$")


def classify_cp2k_file(path: str) -> tuple[str, str | None]:
    """(kind, project) of a CP2K output file name; kind in pos/vel/frc/ener/cell/inp, project None if unknown.

    ValueError naming the file when its kind cannot be told.
    """
    base = os.path.basename(path)
    m = _XYZ_FILE_RE.match(base) or _TABLE_FILE_RE.match(base)
    if m:
        return m.group("kind"), m.group("project")
    if base.endswith((".inp", ".inp.gz")):
        return "inp", None
    if base.endswith((".ener", ".ener.gz")):
        return "ener", None
    if base.endswith((".cell", ".cell.gz")):
        return "cell", None
    for kind in ("pos", "vel", "frc"):
        if f"-{kind}-" in base or base.startswith(f"{kind}") or f"_{kind}" in base:
            return kind, None
    raise ValueError(f"{path}: cannot tell which CP2K file this is (expected PROJECT-pos-1.xyz, -vel-1.xyz, "
                     f"-frc-1.xyz, PROJECT-1.ener, PROJECT-1.cell or an .inp file); pass a dict {{kind: path}}")


def _scan(directory: str) -> dict:
    """{project: {kind: path}} of the CP2K output files in ``directory`` (plain preferred over .gz)."""
    found: dict[str, dict[str, str]] = {}
    for name in sorted(os.listdir(directory)):
        m = _XYZ_FILE_RE.match(name) or _TABLE_FILE_RE.match(name)
        if m:
            slot = found.setdefault(m.group("project"), {})
            kind = m.group("kind")
            if kind in slot:  # both plain and .gz: prefer the plain file
                if slot[kind].endswith(".gz"):
                    slot[kind] = os.path.join(directory, name)
                continue
            slot[kind] = os.path.join(directory, name)
    return found


def cp2k_projects(directory) -> list[str]:
    """Sorted names of the CP2K projects with a positions trajectory (``PROJECT-pos-1.xyz[.gz]``) in ``directory``."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        return []
    return sorted(p for p, files in _scan(directory).items() if "pos" in files)


def find_cp2k_files(directory, project: str | None = None) -> dict:
    """CP2K output files of one project in ``directory``: dict kind → path (kinds pos, vel, frc, ener, cell, inp).

    ``pos`` is always present. With several projects in the directory, ``project`` is
    required. The input file is the only ``*.inp`` of the directory, or the one whose
    ``PROJECT`` matches; absent when it cannot be told.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{directory}: not a directory")
    found = _scan(directory)
    projects = sorted(p for p, files in found.items() if "pos" in files)
    if not projects:
        raise ValueError(f"{directory}: no CP2K trajectory (*-pos-1.xyz or *-pos-1.xyz.gz) found")
    if project is None:
        if len(projects) > 1:
            raise ValueError(f"{directory}: several CP2K projects {projects}; choose one with project=")
        project = projects[0]
    elif project not in projects:
        raise ValueError(f"{directory}: no trajectory {project}-pos-1.xyz; projects found: {projects}")
    files = dict(found[project])
    inps = sorted(glob.glob(os.path.join(glob.escape(directory), "*.inp")) +
                  glob.glob(os.path.join(glob.escape(directory), "*.inp.gz")))
    if len(inps) == 1:
        files["inp"] = inps[0]
    elif len(inps) > 1:
        for f in inps:
            try:
                _, info = parse_cp2k_input_cell(f)
            except ValueError:
                continue
            if info.get("project") == project:
                files["inp"] = f
                break
    return files



def is_cp2k_trajectory(name: str) -> bool:
    """True if the file name (no directory) is a CP2K positions trajectory ``PROJECT-pos-1.xyz[.gz]``."""
    m = _XYZ_FILE_RE.match(os.path.basename(name))
    return bool(m) and m.group("kind") == "pos"


def sibling_name(pos_path: str, kind: str) -> str:
    """Name of the ``kind`` (pos, vel, frc) trajectory of the run of ``pos_path`` (``*-kind-1.xyz`` if unknown)."""
    base = os.path.basename(pos_path)
    m = _XYZ_FILE_RE.match(base)
    return f"{m.group('project')}-{kind}-1.xyz" if m else f"*-{kind}-1.xyz"
