"""Reference trajectories in mldyn's units: :class:`Dataset`.

A :class:`Dataset` holds F frames of the same n atoms (same species order in every
frame): positions (Å), optional velocities (Å/fs) and forces (eV/Å), per-frame
cells (rows = cell vectors, Å) or ``None`` for an isolated system, step indices,
times (fs) and optional per-frame energies (eV) and temperatures (K). Readers
(:mod:`mldyn.io`) convert to these units at the edge; nothing
here knows about file formats except the :meth:`Dataset.save` / :meth:`Dataset.load`
``.npz`` container (compressed, no pickled objects).
"""
from __future__ import annotations

import json
import math
import os
import zipfile
from typing import Any, NamedTuple, Sequence

import numpy as np

from . import strict_json
from .cell import cell_frames
from .units import ACCEL_PER_FORCE_OVER_MASS

__all__ = ["Dataset", "DatasetSplit", "FORMAT_VERSION"]

#: Version of the ``.npz`` layout written by :meth:`Dataset.save`.
FORMAT_VERSION = 1
_FORMAT_TAG = "mldyn.Dataset"

_PER_FRAME_OPTIONAL = ("potential_energy_f", "kinetic_energy_f", "temperature_f")
_PER_ATOM_OPTIONAL = ("velocities_fnc", "forces_fnc")


class EmptyBlockError(ValueError):
    """A split would leave a block with a positive fraction without frames (too few frames)."""


class DatasetSplit(NamedTuple):
    """Contiguous time blocks of a :class:`Dataset` (see :meth:`Dataset.split`).

    ``dropped_frames`` is the number of leading (equilibration) frames left out;
    ``frame_ranges`` maps each block name to its ``(start, stop)`` frame indices in the
    parent dataset (half-open, like ``range``).
    """

    train: "Dataset"
    validation: "Dataset | None"
    test: "Dataset | None"
    dropped_frames: int
    frame_ranges: dict


def _as_float(name: str, value, shape: tuple, allow_none: bool) -> np.ndarray | None:
    """``value`` as a C-contiguous float64 array of ``shape`` (-1 = any), finite; clear ValueError otherwise."""
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"Dataset: {name} is required")
    try:
        arr = np.ascontiguousarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Dataset: {name} must be numeric: {exc}") from None
    if arr.ndim != len(shape) or any(s != -1 and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("?" if s == -1 else str(s) for s in shape) + ")"
        raise ValueError(f"Dataset: {name} must have shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"Dataset: {name} has a non-finite value {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}")
    return arr


class Dataset:
    """F frames of n atoms in mldyn units (Å, fs, amu, eV, K).

    Parameters
    ----------
    species_names : list of S unique names (order of first appearance in the frames, e.g. ``["O", "H"]``).
    species_n : (n,) integer species ids into ``species_names`` (stored as int32).
    masses_n : (n,) masses, amu (> 0).
    positions_fnc : (F, n, 3) positions, Å.
    cells_f33 : (F, 3, 3) cells, Å, rows = cell vectors a, b, c; ``None`` for an isolated system.
        A single (3, 3) cell is broadcast to every frame.
    velocities_fnc : (F, n, 3) velocities, Å/fs, or None.
    forces_fnc : (F, n, 3) forces, eV/Å, or None.
    steps_f : (F,) integer MD step indices (int64); default 0..F-1.
    times_f : (F,) times, fs; default ``steps_f`` as float (noted in provenance).
    potential_energy_f, kinetic_energy_f : (F,) energies, eV, or None.
    temperature_f : (F,) temperatures, K, or None.
    provenance : JSON-serialisable dict: source files (with sha256), reader, notes of what was dropped.

    Every array is checked for shape and finiteness; a ValueError names the offending field.
    """

    def __init__(self, species_names: Sequence[str], species_n, masses_n, positions_fnc, cells_f33=None,
                 velocities_fnc=None, forces_fnc=None, steps_f=None, times_f=None, potential_energy_f=None,
                 kinetic_energy_f=None, temperature_f=None, provenance: dict | None = None):
        names = [str(s) for s in species_names]
        if not names or len(set(names)) != len(names) or any(not s for s in names):
            raise ValueError(f"Dataset: species_names must be unique non-empty strings, got {names}")
        self.species_names: list[str] = names

        pos = _as_float("positions_fnc", positions_fnc, (-1, -1, 3), False)
        F, n = pos.shape[0], pos.shape[1]
        if F == 0 or n == 0:
            raise ValueError(f"Dataset: needs at least one frame and one atom, got positions of shape {pos.shape}")
        self.positions_fnc = pos

        sp = np.asarray(species_n)
        if sp.shape != (n,):
            raise ValueError(f"Dataset: species_n must have shape ({n},) to match positions_fnc {pos.shape}, got {sp.shape}")
        if not np.issubdtype(sp.dtype, np.integer):
            raise ValueError(f"Dataset: species_n must be integer ids, got dtype {sp.dtype}")
        if sp.min() < 0 or sp.max() >= len(names):
            bad = int(np.flatnonzero((sp < 0) | (sp >= len(names)))[0])
            raise ValueError(f"Dataset: species id {int(sp[bad])} of atom {bad} is not in [0, {len(names)}) "
                             f"(species_names={names})")
        self.species_n = np.ascontiguousarray(sp, dtype=np.int32)

        self.masses_n = _as_float("masses_n", masses_n, (n,), False)
        if not np.all(self.masses_n > 0):
            bad = int(np.flatnonzero(~(self.masses_n > 0))[0])
            raise ValueError(f"Dataset: masses_n must be > 0 amu, atom {bad} has {self.masses_n[bad]}")

        if cells_f33 is not None:
            cells = _as_float("cells_f33", cell_frames(cells_f33, F), (F, 3, 3), False)
            det = np.linalg.det(cells)
            if not np.all(np.abs(det) > 0):
                bad = int(np.flatnonzero(~(np.abs(det) > 0))[0])
                raise ValueError(f"Dataset: cell of frame {bad} is singular (volume {det[bad]} Å^3)")
            self.cells_f33 = cells
        else:
            self.cells_f33 = None

        self.velocities_fnc = _as_float("velocities_fnc", velocities_fnc, (F, n, 3), True)
        self.forces_fnc = _as_float("forces_fnc", forces_fnc, (F, n, 3), True)

        self.provenance: dict = dict(provenance or {})
        if steps_f is None:
            steps = np.arange(F, dtype=np.int64)
        else:
            steps = np.asarray(steps_f)
            if steps.shape != (F,):
                raise ValueError(f"Dataset: steps_f must have shape ({F},), got {steps.shape}")
            if steps.size and not np.issubdtype(steps.dtype, np.integer):
                as_int = np.asarray(steps, dtype=float)
                if not np.all(np.isfinite(as_int)) or not np.all(as_int == np.round(as_int)):
                    raise ValueError(f"Dataset: steps_f must be integers, got dtype {steps.dtype}")
            steps = steps.astype(np.int64)
        self.steps_f = np.ascontiguousarray(steps)
        if times_f is None:
            self.times_f = self.steps_f.astype(np.float64)
            self.provenance.setdefault("notes", []).append("no times given: times_f are the step indices")
            self.provenance["times_known"] = False
        else:
            self.times_f = _as_float("times_f", times_f, (F,), False)
        self.potential_energy_f = _as_float("potential_energy_f", potential_energy_f, (F,), True)
        self.kinetic_energy_f = _as_float("kinetic_energy_f", kinetic_energy_f, (F,), True)
        self.temperature_f = _as_float("temperature_f", temperature_f, (F,), True)
        try:
            json.dumps(self.provenance)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Dataset: provenance must be JSON-serialisable: {exc}") from None

    # ------------------------------------------------------------------ properties
    @property
    def n_frames(self) -> int:
        """Number of frames F."""
        return int(self.positions_fnc.shape[0])

    @property
    def n_atoms(self) -> int:
        """Number of atoms n."""
        return int(self.positions_fnc.shape[1])

    @property
    def symbols(self) -> list[str]:
        """Species name of every atom, list of n strings."""
        return [self.species_names[i] for i in self.species_n]

    @property
    def periodic(self) -> bool:
        """True when the dataset has cells (periodic), False for an isolated system."""
        return self.cells_f33 is not None

    @property
    def accelerations_fnc(self) -> np.ndarray:
        """(F, n, 3) accelerations in Å/fs²: forces (eV/Å) / masses (amu) * ACCEL_PER_FORCE_OVER_MASS.

        Raises ValueError when the dataset has no forces.
        """
        if self.forces_fnc is None:
            raise ValueError("Dataset: no forces, so no accelerations")
        return self.forces_fnc / self.masses_n[None, :, None] * ACCEL_PER_FORCE_OVER_MASS

    def __len__(self) -> int:
        return self.n_frames

    def __repr__(self) -> str:
        have = [k.split("_")[0] for k in ("velocities_fnc", "forces_fnc", "potential_energy_f", "kinetic_energy_f",
                                          "temperature_f") if getattr(self, k) is not None]
        cell = "periodic" if self.periodic else "isolated"
        span = f"steps {int(self.steps_f[0])}..{int(self.steps_f[-1])}"
        return (f"Dataset({self.n_frames} frames x {self.n_atoms} atoms, species {self.species_names}, {cell}, "
                f"{span}, with {', '.join(have) or 'positions only'})")

    # ------------------------------------------------------------------ selection
    def subset(self, frame_indices, note: str | None = None) -> "Dataset":
        """New Dataset with the frames ``frame_indices`` (ints, a slice, or a boolean mask of length F), in that order.

        Arrays are copied; provenance gains a ``subset`` note.
        """
        F = self.n_frames
        if isinstance(frame_indices, slice):
            idx = np.arange(F)[frame_indices]
        else:
            idx = np.asarray(frame_indices)
            if idx.dtype == bool:
                if idx.shape != (F,):
                    raise ValueError(f"Dataset.subset: boolean mask must have shape ({F},), got {idx.shape}")
                idx = np.flatnonzero(idx)
            elif idx.size == 0:
                idx = idx.astype(np.int64)
            elif not np.issubdtype(idx.dtype, np.integer):
                raise ValueError(f"Dataset.subset: frame indices must be integers, got dtype {idx.dtype}")
            idx = idx.reshape(-1)
        if idx.size == 0:
            raise ValueError("Dataset.subset: no frames selected")
        if idx.min() < -F or idx.max() >= F:
            raise ValueError(f"Dataset.subset: frame index out of range for {F} frames")
        idx = np.where(idx < 0, idx + F, idx)

        def take(a):
            return None if a is None else a[idx].copy()

        prov = json.loads(json.dumps(self.provenance))
        prov.setdefault("subsets", []).append(note or _describe_indices(idx, self.n_frames))
        return Dataset(self.species_names, self.species_n.copy(), self.masses_n.copy(), take(self.positions_fnc),
                       take(self.cells_f33), take(self.velocities_fnc), take(self.forces_fnc), take(self.steps_f),
                       take(self.times_f), take(self.potential_energy_f), take(self.kinetic_energy_f),
                       take(self.temperature_f), prov)

    def with_species(self, names: Sequence[str]) -> "Dataset":
        """The same frames with species ids into ``names`` (a superset of this dataset's species, in any
        order): how systems with different species lists are fitted together."""
        missing = sorted(set(self.species_names) - set(names))
        if missing:
            raise ValueError(f"Dataset.with_species: {missing} are not in {list(names)}")
        if list(names) == self.species_names:
            return self
        ids = np.array([list(names).index(s) for s in self.species_names], dtype=np.int32)[self.species_n]
        return Dataset(list(names), ids, self.masses_n, self.positions_fnc, self.cells_f33, self.velocities_fnc,
                       self.forces_fnc, self.steps_f, self.times_f, self.potential_energy_f, self.kinetic_energy_f,
                       self.temperature_f, self.provenance)

    @property
    def has_time_axis(self) -> bool:
        """Whether the frames are a trajectory in time (CP2K runs, extended XYZ with step or time) rather
        than independent configurations (deepmd/npy, extended XYZ without either): readers record it
        in ``provenance["time_axis"]`` (absent: a trajectory)."""
        return bool(self.provenance.get("time_axis", True))

    @property
    def has_times(self) -> bool:
        """Whether ``times_f`` are real times in fs: a trajectory whose reader knew them (readers record
        ``provenance["times_known"] = False`` when they fill times_f with frame or step indices; files saved
        before that say so only in a note)."""
        notes = " ".join(map(str, self.provenance.get("notes", [])))
        guessed = any(words in notes for words in ("no times given", "no time information", "has no times"))
        return self.has_time_axis and bool(self.provenance.get("times_known", not guessed))

    def shuffled_split(self, train: float = 0.8, validation: float = 0.1, test: float = 0.1,
                       seed: int = 0) -> DatasetSplit:
        """Blocks of independent frames: the frames in a random order (``seed``), then train, validation
        and test as :meth:`split` cuts them, nothing dropped; each block keeps its frames in file order.
        ``frame_ranges`` are positions in the shuffled order."""
        order = np.random.default_rng(seed).permutation(self.n_frames)
        parts = self.subset(order, note=f"shuffled (seed {seed})").split(0.0, train, validation, test)
        blocks = []
        for name in ("train", "validation", "test"):
            block = getattr(parts, name)
            if block is not None:
                a, b = parts.frame_ranges[name]
                block = self.subset(np.sort(order[a:b]), note=f"{name} block: {b - a} of {self.n_frames} frames, "
                                                               f"shuffled with seed {seed}")
            blocks.append(block)
        return DatasetSplit(*blocks, 0, parts.frame_ranges)

    def split(self, equilibration: float = 0.2, train: float = 0.6, validation: float = 0.1,
              test: float = 0.1) -> DatasetSplit:
        """Contiguous time blocks: drop the first ``equilibration`` fraction, then train, validation, test.

        Fractions are of the frame count F, each in [0, 1], summing to at most 1 (frames past
        the test block, if any, are left out). Block boundaries are ``round(F * cumulative
        fraction)``, so the blocks follow each other in frame (time) order without gaps.
        Train needs at least one frame. A validation or test fraction of exactly 0 gives
        ``None`` for that block; a positive fraction that rounds to no frames is a ValueError.
        Returns a :class:`DatasetSplit` (``train``, ``validation``, ``test``, ``dropped_frames``,
        ``frame_ranges``).
        """
        fr = {"equilibration": equilibration, "train": train, "validation": validation, "test": test}
        for k, v in fr.items():
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"Dataset.split: {k} must be a number in [0, 1], got {v!r}") from None
            if not (0.0 <= fv <= 1.0):
                raise ValueError(f"Dataset.split: {k} must be in [0, 1], got {v!r}")
            fr[k] = fv
        total = sum(fr.values())
        if total > 1.0 + 1e-9:
            raise ValueError(f"Dataset.split: fractions sum to {total:g} > 1 ({fr})")
        F = self.n_frames
        cum = np.cumsum([0.0, fr["equilibration"], fr["train"], fr["validation"], fr["test"]])
        bounds = [min(F, int(math.floor(F * c + 0.5))) for c in cum]
        ranges = {"equilibration": (bounds[0], bounds[1]), "train": (bounds[1], bounds[2]),
                  "validation": (bounds[2], bounds[3]), "test": (bounds[3], bounds[4])}
        if fr["train"] == 0.0:
            raise ValueError("Dataset.split: train fraction must be > 0")
        blocks: dict = {}
        for name in ("train", "validation", "test"):
            a, b = ranges[name]
            if fr[name] == 0.0:
                blocks[name] = None
                continue
            if b <= a:
                raise EmptyBlockError(f"Dataset.split: the {name} block is empty ({F} frames, fraction {fr[name]:g}); "
                                 f"use more frames or a larger fraction")
            blocks[name] = self.subset(slice(a, b), note=f"{name} block: frames {a}..{b - 1} of {F} "
                                       f"(steps {int(self.steps_f[a])}..{int(self.steps_f[b - 1])})")
        return DatasetSplit(blocks["train"], blocks["validation"], blocks["test"], bounds[1],
                            {k: tuple(int(x) for x in v) for k, v in ranges.items()})

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write a compressed ``.npz`` (numeric arrays only; names and provenance as JSON strings).

        Loadable with ``np.load(path, allow_pickle=False)`` and :meth:`Dataset.load`.
        """
        arrays: dict[str, Any] = {
            "format": np.array(_FORMAT_TAG),
            "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
            "species_names_json": np.array(json.dumps(self.species_names)),
            "provenance_json": np.array(strict_json.dumps(self.provenance)),
            "species_n": self.species_n, "masses_n": self.masses_n, "positions_fnc": self.positions_fnc,
            "steps_f": self.steps_f, "times_f": self.times_f,
        }
        if self.cells_f33 is not None:
            arrays["cells_f33"] = self.cells_f33
        for k in _PER_ATOM_OPTIONAL + _PER_FRAME_OPTIONAL:
            if getattr(self, k) is not None:
                arrays[k] = getattr(self, k)
        path = os.fspath(path)
        with open(path, "wb") as fh:  # a file object: numpy must not append ".npz" behind our back
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path) -> "Dataset":
        """Read a Dataset written by :meth:`save`; ValueError (naming the file) if it is not one or is damaged."""
        from .io.text import check_input_file

        path = os.fspath(path)
        if os.path.exists(path):
            check_input_file(path)
        try:
            npz = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{path}: not a readable .npz Dataset file: {exc}") from None
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError(f"{path}: not a .npz Dataset file (a single .npy array)")
        with npz:
            keys = set(npz.files)
            required = {"format", "format_version", "species_names_json", "provenance_json", "species_n", "masses_n",
                        "positions_fnc", "steps_f", "times_f"}
            missing = sorted(required - keys)
            if missing:
                raise ValueError(f"{path}: not an mldyn Dataset file: missing {missing}")
            try:
                data = {k: npz[k] for k in keys}
            except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
                raise ValueError(f"{path}: damaged Dataset file: {exc}") from None
        if str(data["format"]) != _FORMAT_TAG:
            raise ValueError(f"{path}: format tag is {str(data['format'])!r}, expected {_FORMAT_TAG!r}")
        version = int(data["format_version"])
        if version > FORMAT_VERSION:
            raise ValueError(f"{path}: Dataset format version {version} is newer than this mldyn reads ({FORMAT_VERSION})")
        known = required | {"cells_f33"} | set(_PER_ATOM_OPTIONAL) | set(_PER_FRAME_OPTIONAL)
        unknown = sorted(keys - known)
        if unknown:
            raise ValueError(f"{path}: unknown arrays {unknown} in Dataset file")
        try:
            names = json.loads(str(data["species_names_json"]))
            prov = json.loads(str(data["provenance_json"]))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: damaged JSON metadata: {exc}") from None
        if not isinstance(names, list) or not isinstance(prov, dict):
            raise ValueError(f"{path}: species_names_json must be a list and provenance_json a dict")
        try:
            return cls(names, data["species_n"], data["masses_n"], data["positions_fnc"], data.get("cells_f33"),
                       data.get("velocities_fnc"), data.get("forces_fnc"), data["steps_f"], data["times_f"],
                       data.get("potential_energy_f"), data.get("kinetic_energy_f"), data.get("temperature_f"), prov)
        except ValueError as exc:
            raise ValueError(f"{path}: invalid Dataset: {exc}") from None


def _describe_indices(idx: np.ndarray, n_parent: int) -> str:
    """Short text for a frame selection: a range when contiguous, else a count."""
    if idx.size > 1 and np.all(np.diff(idx) == 1):
        return f"frames {int(idx[0])}..{int(idx[-1])} of {n_parent}"
    if idx.size == 1:
        return f"frame {int(idx[0])} of {n_parent}"
    return f"{idx.size} selected frames of {n_parent}"
