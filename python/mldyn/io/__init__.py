"""Reading and writing trajectories: :func:`load_dataset` chooses the reader from what ``path`` is.

Formats (all converted to mldyn units, Å, fs, amu, eV, at the edge):

* CP2K MD output — :func:`mldyn.io.cp2k_reader.read_cp2k`, :mod:`mldyn.io.cp2k_writer`;
* extended XYZ — :func:`mldyn.io.extxyz.read_extxyz`, :func:`mldyn.io.xyz.write_extxyz`;
* DeePMD-kit ``deepmd/npy`` — :mod:`mldyn.io.deepmd`;
* mldyn's own ``.npz`` — :meth:`mldyn.dataset.Dataset.save` / :meth:`~mldyn.dataset.Dataset.load`.

CP2K input decks are read by :mod:`mldyn.io.cp2k_input` and written by :mod:`mldyn.io.cp2k_deck`.
"""
from __future__ import annotations

import copy
import errno
import functools
import os

from ..dataset import Dataset
from .cp2k_files import cp2k_projects, is_cp2k_trajectory
from .cp2k_reader import read_cp2k
from .deepmd import is_deepmd_system, read_deepmd_npy
from .extxyz import read_extxyz, read_extxyz_systems
from .text import check_input_file

__all__ = ["load_dataset", "load_systems", "detect_format", "expand_systems", "BUNDLED_NAME", "FORMATS"]

#: Name that stands for the bundled CP2K water run wherever a data path is expected.
BUNDLED_NAME = "@h2o32"

#: What :func:`detect_format` can answer, and what each is.
FORMATS = {
    "cp2k": "a CP2K run directory or its PROJECT-pos-1.xyz[.gz]",
    "deepmd": "a deepmd/npy system directory (type.raw, set.*/)",
    "extxyz": "an .xyz/.extxyz[.gz] file",
    "npz": "a Dataset saved as .npz",
}
_XYZ_ENDINGS = (".xyz", ".extxyz", ".xyz.gz", ".extxyz.gz")


def detect_format(path) -> str:
    """The format of ``path`` from its kind and names only (no file is parsed): a key of :data:`FORMATS`.

    * directory with ``type.raw`` → ``"deepmd"``; directory with ``*-pos-1.xyz[.gz]`` → ``"cp2k"``
      (one or several projects: :func:`mldyn.io.cp2k_reader.read_cp2k` tells them apart);
    * ``PROJECT-pos-1.xyz[.gz]`` file → ``"cp2k"``; ``.npz`` → ``"npz"``; ``.xyz``/``.extxyz`` (``.gz``) → ``"extxyz"``.

    FileNotFoundError if ``path`` does not exist; ValueError naming the path and the formats otherwise.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", p)
    if not os.path.isdir(p):
        check_input_file(p)  # a regular file of a size that fits: a FIFO or device would hang the reader
    if os.path.isdir(p):
        if is_deepmd_system(p):
            return "deepmd"
        if cp2k_projects(p):
            return "cp2k"
        raise ValueError(f"{p}: neither a CP2K run (*-pos-1.xyz) nor a deepmd/npy system (type.raw); "
                         f"data directories are {FORMATS['cp2k']} or {FORMATS['deepmd']}")
    base = os.path.basename(p).lower()
    if base.endswith(".npz"):
        return "npz"
    if is_cp2k_trajectory(base):
        return "cp2k"
    if base.endswith(_XYZ_ENDINGS):
        return "extxyz"
    raise ValueError(f"{p}: unknown data format (expected {'; '.join(FORMATS.values())})")


def load_dataset(path, require_forces: bool = False, **kwargs) -> Dataset:
    """Read any supported trajectory into a :class:`Dataset` (mldyn units), the reader chosen by :func:`detect_format`.

    * ``"cp2k"`` → :func:`mldyn.io.cp2k_reader.read_cp2k` (a directory with several projects needs ``project=``);
    * ``"deepmd"`` → :func:`mldyn.io.deepmd.read_deepmd_npy`;
    * ``"extxyz"`` → :func:`mldyn.io.extxyz.read_extxyz`;
    * ``"npz"`` → :meth:`Dataset.load`;
    * ``@h2o32`` → the CP2K water run bundled with mldyn (:func:`mldyn.data.bundled_h2o32_path`).

    ``kwargs`` go to the chosen reader (e.g. ``masses=``, ``cell=``, ``project=``).
    ``require_forces`` raises ValueError when the data has no forces (any format).
    """
    kwargs = {k: v for k, v in kwargs.items() if not (k in ("forces_key", "energy_key", "kinds", "timestep") and v is None)}
    if str(path) == BUNDLED_NAME:
        if not kwargs:  # parsed once per process (0.35 s): the demo and the tests read it many times
            return copy.deepcopy(_bundled_h2o32())
        from ..data import bundled_h2o32_path

        path = bundled_h2o32_path()
    p = os.fspath(path)
    fmt = detect_format(p)
    if fmt != "cp2k" and kwargs.get("kinds") is not None:
        raise ValueError(f"{p}: --cp2k-kinds is for CP2K runs; this is {FORMATS[fmt]}")
    for key in ("forces_key", "energy_key", "timestep"):
        if fmt != "extxyz" and kwargs.get(key) is not None:
            raise ValueError(f"{p}: --{key.replace('_', '-')} is for extended XYZ files; this is {FORMATS[fmt]}")
    if fmt == "cp2k":
        dataset = read_cp2k(p, require_forces=require_forces, **kwargs)
    elif fmt == "deepmd":
        dataset = read_deepmd_npy(p, **kwargs)
    elif fmt == "extxyz":
        dataset = read_extxyz(p, **kwargs)
    else:
        if kwargs:
            raise ValueError(f"{p}: a saved Dataset takes no reader options, got {sorted(kwargs)}")
        dataset = Dataset.load(p)
    if require_forces and dataset.forces_fnc is None:
        raise ValueError(f"{p}: the data has no forces, but forces are required")
    return dataset


@functools.lru_cache(maxsize=1)
def _bundled_h2o32() -> Dataset:
    from ..data import bundled_h2o32_path

    return read_cp2k(os.fspath(bundled_h2o32_path()))


def expand_systems(path) -> list[str]:
    """The systems a data argument names: itself when it is data (:func:`detect_format`), else, for a
    folder of systems as DeePMD-kit keeps them (one directory per system, any supported format), its
    subdirectories and data files that are data, in name order. ValueError when there is none."""
    p = os.fspath(path)
    if p == BUNDLED_NAME:
        return [p]
    try:
        detect_format(p)
        return [p]
    except ValueError:
        if not os.path.isdir(p):
            raise
    found = []
    for name in sorted(os.listdir(p)):
        sub = os.path.join(p, name)
        looks_like_data = (is_deepmd_system(sub) or bool(cp2k_projects(sub))) if os.path.isdir(sub) else (
            name.lower().endswith((".npz",) + _XYZ_ENDINGS) or is_cp2k_trajectory(name.lower()))
        if looks_like_data:  # by name only: a system that cannot be read (too large, unreadable) is an error
            detect_format(sub)
            found.append(sub)
    if not found:
        detect_format(p)  # its error, naming the formats
    return found


def load_systems(path, require_forces: bool = False, **kwargs) -> list[Dataset]:
    """The systems of one data argument as Datasets: one, or for an extended XYZ file that mixes
    structures of different sizes or atoms (MACE and NequIP training files) one per structure run
    (:func:`mldyn.io.extxyz.read_extxyz_systems`). Options as :func:`load_dataset`."""
    p = os.fspath(path)
    if p != BUNDLED_NAME and detect_format(p) == "extxyz":
        for key in ("kinds",):
            if kwargs.get(key) is not None:
                raise ValueError(f"{p}: --cp2k-kinds is for CP2K runs; this is {FORMATS['extxyz']}")
        kwargs = {k: v for k, v in kwargs.items() if v is not None and k != "kinds"}
        systems = read_extxyz_systems(p, **kwargs)
        for d in systems:
            if require_forces and d.forces_fnc is None:
                raise ValueError(f"{p}: the data has no forces, but forces are required")
        return systems
    return [load_dataset(p, require_forces=require_forces, **kwargs)]

