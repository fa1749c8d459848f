"""XYZ files: the one frame parser, extended-XYZ comment lines, single structures, and the extxyz writer.

Every XYZ reader of mldyn goes through :func:`split_xyz_frames` (atom-count lines, comment
lines, atom lines of each frame, with ValueError naming file and line for any defect) and
then converts the atom columns with :func:`atom_tokens`, :func:`frame_symbols` and
:func:`number_columns`, or with :func:`parse_fixed_columns`, a vectorised fast path for atom
lines in fixed columns as CP2K writes them. Users:

* CP2K trajectories ``PROJECT-pos|vel|frc-1.xyz`` (:mod:`mldyn.io.cp2k_xyz`);
* extended XYZ trajectories (:func:`mldyn.io.extxyz.read_extxyz`);
* one structure, e.g. ``mldyn run --init x.xyz`` and ``mldyn cp2k-input x.xyz`` (:func:`read_structure`).

Units: Å for positions and cells; the writer :func:`write_extxyz` also writes eV, eV/Å and Å/fs.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import _core
from ..elements import default_masses, element_symbol
from ..units import KINETIC_EV_PER_AMU_A2_FS2
from .text import LineIndex, is_float, is_int, open_text_for_writing, read_bytes, where

__all__ = ["XYZFrames", "split_xyz_frames", "atom_tokens", "frame_symbols", "number_columns", "parse_fixed_columns",
           "parse_extxyz_comment", "parse_numbers", "parse_pbc", "parse_properties", "read_structure",
           "write_extxyz", "ASE_TIME_FS", "TRUE_WORDS", "DEFAULT_PROPERTIES", "SPECIES_COLUMNS"]

#: ASE's unit of time, Å·sqrt(amu/eV), in fs (ASE momenta are amu·Å per this unit).
ASE_TIME_FS: float = float(np.sqrt(KINETIC_EV_PER_AMU_A2_FS2))

#: Words read as true in extended-XYZ logical values (lower case); ``f``, ``false``, ``0`` are false.
TRUE_WORDS = frozenset({"t", "true", "1"})
_FALSE_WORDS = frozenset({"f", "false", "0"})


# ============================================================================ frames
@dataclass
class XYZFrames:
    """The frames of an XYZ file, located but not converted.

    path, sha256 : the file and the sha256 of its bytes; lines : its :class:`LineIndex`;
    n_atoms : atoms per frame; headers : (F,) 0-based line index of every atom-count line.
    """

    path: str
    sha256: str
    lines: LineIndex
    n_atoms: int
    headers: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames F."""
        return int(len(self.headers))

    def comment(self, k: int) -> str:
        """Comment line of frame ``k``."""
        return self.lines[int(self.headers[k]) + 1]

    def comment_line(self, k: int) -> int:
        """1-based line number of frame ``k``'s comment line."""
        return int(self.headers[k]) + 2

    def atom_line(self, j: int, frame_ids: Sequence[int] | None = None) -> int:
        """1-based line number of flat atom index ``j`` (frame ``j // n`` of ``frame_ids``, atom ``j % n``)."""
        n = self.n_atoms
        k = j // n if frame_ids is None else frame_ids[j // n]
        return int(self.headers[k]) + 3 + j % n

    def body(self, frame_ids: Sequence[int] | None = None) -> bytes:
        """Bytes of the atom lines of the frames ``frame_ids`` (default all), newline-separated."""
        n = self.n_atoms
        ids = range(self.n_frames) if frame_ids is None else frame_ids
        return b"\n".join([self.lines.block(int(self.headers[k]) + 2, int(self.headers[k]) + n + 1) for k in ids])


def _xyz_lines(path: str) -> tuple[str, LineIndex]:
    """sha256 and lines of an XYZ file; ValueError for an empty one."""
    raw, sha = read_bytes(path)
    lines = LineIndex(raw)
    if len(lines) == 0:
        raise ValueError(f"{path}: empty file, zero frames parsed")
    return sha, lines


def _species_column(comment: str, where_: str) -> int:
    """0-based column of the species in a frame's atom lines, from its Properties (plain XYZ: 0)."""
    info = parse_extxyz_comment(comment, where_)
    spec = next((v for k, v in info.items() if k.lower() == "properties"), DEFAULT_PROPERTIES)
    for name, _, _, col in parse_properties(spec, where_):
        if name.lower() in SPECIES_COLUMNS:
            return col
    return 0


def split_xyz_systems(path) -> list[XYZFrames]:
    """The frames of an XYZ file whose atom count or atoms may change (MACE and NequIP training files
    mix structures): one :class:`XYZFrames` per run of consecutive frames with the same atom count
    and the same species column (from Properties). ValueError naming file and line for a damaged frame."""
    path = os.fspath(path)
    sha, lines = _xyz_lines(path)
    nline = len(lines)
    groups: list[tuple] = []  # (n, species key, [headers])
    p = 0
    while p < nline:
        s = lines[p].strip()
        if not is_int(s) or int(s) <= 0:
            raise ValueError(f"{where(path, p + 1)}: expected the atom count of a frame, got {s[:60]!r}")
        n = int(s)
        if p + n + 2 > nline:
            raise ValueError(f"{where(path, p + 1)}: truncated frame: the file ends after {max(nline - p - 2, 0)} "
                             f"of {n} atom lines")
        col = _species_column(lines[p + 1], where(path, p + 2))
        key = bytes(b" ".join((line.split() + [b"?"] * (col + 1))[col]
                              for line in lines.block(p + 2, p + n + 1).split(b"\n")))
        if groups and groups[-1][0] == n and groups[-1][1] == key:
            groups[-1][2].append(p)
        else:
            groups.append((n, key, [p]))
        p += n + 2
    return [XYZFrames(path, sha, lines, n, np.asarray(h, dtype=np.int64)) for n, _, h in groups]


def split_xyz_frames(path) -> XYZFrames:
    """Locate the frames of a (possibly gzipped) XYZ file: one Python step per frame, not per atom.

    Every frame has the same positive atom count n, a comment line and n atom lines. ValueError
    naming the file and line for an empty file, a bad or changing atom count, or a truncated frame.
    """
    path = os.fspath(path)
    sha, lines = _xyz_lines(path)
    nline = len(lines)
    first = lines[0].strip()
    if not is_int(first) or int(first) <= 0:
        raise ValueError(f"{where(path, 1)}: expected the atom count of the first frame, got {first[:60]!r}")
    n = int(first)
    stride = n + 2
    headers: list[int] = []
    p = 0
    while p < nline:
        s = lines[p].strip()
        k = len(headers)
        if not is_int(s):
            msg = f"{where(path, p + 1)}: expected the atom count of frame {k}, got {s[:60]!r}"
            if k:
                prev = headers[-1]
                inner = [j for j in range(prev + 2, p) if is_int(lines[j].strip())]
                if inner:
                    msg += (f"; frame {k - 1} (line {prev + 1}) is truncated: a new frame starts at line "
                            f"{inner[0] + 1} after {inner[0] - prev - 2} of {n} atom lines")
                else:
                    msg += f"; frame {k - 1} (line {prev + 1}) has more than {n} atom lines or a damaged header"
            raise ValueError(msg)
        if int(s) != n:
            raise ValueError(f"{where(path, p + 1)}: frame {k} has {int(s)} atoms but frame 0 (line 1) has {n}; "
                             f"the atom count must not change between frames")
        if p + stride > nline:
            raise ValueError(f"{where(path, p + 1)}: truncated frame {k}: the file ends after {max(nline - p - 2, 0)} "
                             f"of {n} atom lines")
        headers.append(p)
        p += stride
    return XYZFrames(path, sha, lines, n, np.asarray(headers, dtype=np.int64))


def atom_tokens(frames: XYZFrames, ncol: int, layout: str, frame_ids: Sequence[int] | None = None) -> list[str]:
    """Whitespace-separated fields of the atom lines of ``frame_ids`` (default all frames), in file order.

    Every atom line must have ``ncol`` fields (``layout`` describes them in the error, which names file and line).
    """
    toks = frames.body(frame_ids).decode("utf-8", errors="replace").split()
    n_lines = frames.n_atoms * (frames.n_frames if frame_ids is None else len(frame_ids))
    if len(toks) != ncol * n_lines:
        for j in range(n_lines):
            line = frames.atom_line(j, frame_ids)
            text = frames.lines[line - 1]
            fields = text.split()
            if len(fields) != ncol:
                raise ValueError(f"{where(frames.path, line)}: expected {ncol} fields {layout}, got {len(fields)}: "
                                 f"{text.strip()[:80]!r}")
        raise ValueError(f"{frames.path}: unexpected token count in the atom lines")  # pragma: no cover
    return toks


def frame_symbols(frames: XYZFrames, labels: list, frame_ids: Sequence[int] | None = None) -> list:
    """The n labels of the first frame, after checking that ``labels`` (flat, n per frame) repeat them in every frame.

    ValueError naming file and line of the first atom whose label differs from frame 0's.
    """
    n = frames.n_atoms
    first = labels[:n]
    if labels != first * (len(labels) // n):
        for j, (a, b) in enumerate(zip(labels, first * (len(labels) // n))):
            if a != b:
                raise ValueError(f"{where(frames.path, frames.atom_line(j, frame_ids))}: atom {j % n} of frame "
                                 f"{j // n} is {a!r} but {b!r} in frame 0 (line {j % n + 3}); the species order "
                                 f"must not change between frames")
    return first


def number_columns(frames: XYZFrames, toks: list, ncol: int, first: int, count: int, name: str | None = None,
                   frame_ids: Sequence[int] | None = None, integer: bool = False) -> np.ndarray:
    """Columns ``first .. first + count - 1`` (0-based) of the atom fields ``toks`` as numbers, (N, count).

    ``toks`` holds ``ncol`` fields per atom line (:func:`atom_tokens`); N atom lines. Finite
    float64 values, or int64 with ``integer``. ValueError naming file and line of the first
    non-numeric or non-finite value in file order (``name`` names the quantity).
    """
    numeric = f"{name} value" if name else "field"
    finite = f"{name} value" if name else "value"
    n = frames.n_atoms
    dtype = np.int64 if integer else np.float64
    try:
        data = np.array([toks[c::ncol] for c in range(first, first + count)], dtype=dtype).T
    except ValueError:
        for j in range(len(toks) // ncol):
            for c in range(first, first + count):
                t = toks[j * ncol + c]
                if not (is_int(t) if integer else is_float(t)):
                    raise ValueError(f"{where(frames.path, frames.atom_line(j, frame_ids))}: non-numeric {numeric} "
                                     f"{t!r} (column {c + 1} of atom {j % n}, frame {j // n})") from None
        raise
    if not integer and not np.all(np.isfinite(data)):
        j, c = (int(x) for x in np.argwhere(~np.isfinite(data))[0])
        raise ValueError(f"{where(frames.path, frames.atom_line(j, frame_ids))}: non-finite {finite} "
                         f"{toks[j * ncol + first + c]!r} (atom {j % n}, frame {j // n})")
    return data


# ============================================================================ fixed-column fast path
_BYTE_CLASS = np.full(256, 4, dtype=np.uint8)  # 0 blank, 1 digit, 2 '.', 3 '-', 4 anything else
_BYTE_CLASS[32] = 0
_BYTE_CLASS[48:58] = 1
_BYTE_CLASS[46] = 2
_BYTE_CLASS[45] = 3
_DIGIT_VALUE = np.zeros(256)
_DIGIT_VALUE[48:58] = np.arange(10)
# Forbidden neighbour pairs (left class * 5 + right class) inside a number ' *-?[0-9]*[.][0-9]+':
# a blank or '-' after anything but a blank, and two dots.
_BAD_PAIR = np.zeros(25, dtype=bool)
for _left in (1, 2, 3):
    _BAD_PAIR[_left * 5 + 0] = _BAD_PAIR[_left * 5 + 3] = True
_BAD_PAIR[2 * 5 + 2] = True
del _left
_ROWS_PER_CHUNK = 65536


def parse_fixed_columns(body: bytes, n: int, F: int):
    """Fast path for atom lines ``symbol x y z`` in fixed columns (as CP2K writes them).

    body : the atom lines of F frames of n atoms (:meth:`XYZFrames.body`). Returns (symbols of
    frame 0, (F*n, 3) floats) or None. Requires every line to have the same length, four fields
    in the same column spans, plain decimals (optional leading '-', digits, one '.' in a fixed
    column with digits after it, mantissa below 2**53) and the same symbols in every frame.
    Values are exactly what ``float()`` gives: an exact integer mantissa (a sum of exact
    integers) divided by an exact power of ten, rounded once. Returns None whenever anything is
    unusual, and the general tokenising parser (with its error messages) takes over.
    """
    N = n * F
    raw = body + b"\n"
    if N == 0 or len(raw) % N:
        return None
    width = len(raw) // N
    A = np.frombuffer(raw, dtype=np.uint8).reshape(N, width)
    if not np.all(A[:, -1] == 10):
        return None
    A = A[:, :-1]
    cls = _BYTE_CLASS[A]
    nonblank_col = cls.any(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], nonblank_col.astype(np.int8), [0]))))
    starts, stops = edges[0::2], edges[1::2]
    if len(starts) != 4:
        return None
    # Symbols: identical bytes in every frame, one token per line.
    S = A[:, starts[0]:stops[0]]
    if not np.array_equal(S.reshape(F, n, -1), np.broadcast_to(S[:n], (F, n, S.shape[1]))):
        return None
    try:
        symbols = [bytes(row).decode("ascii").strip() for row in S[:n]]
    except UnicodeDecodeError:
        return None
    if any(not s or " " in s or "\t" in s or is_float(s) for s in symbols):
        return None
    # Numbers: only blanks, digits, '.', '-'; exactly one full column of dots per field; no bad neighbours.
    lo, hi = int(starts[1]), int(stops[3])
    region = cls[:, lo:hi]
    if region.max() > 3 or np.count_nonzero(region == 2) != 3 * N:
        return None
    pair = region[:, :-1] * np.uint8(5) + region[:, 1:]
    into_gap = ~nonblank_col[lo + 1:hi]  # pairs that end in a separator column may end a number
    if np.any(_BAD_PAIR[pair[:, ~into_gap]]):
        return None
    out = np.empty((N, 3))
    for f in range(3):
        a, b = int(starts[f + 1]), int(stops[f + 1])
        w = b - a
        dots = np.flatnonzero(cls[0, a:b] == 2)
        if len(dots) != 1:
            return None
        p = int(dots[0])
        if p == w - 1 or w - 1 > 18 or not np.all(cls[:, a + p] == 2):
            return None
        weights = np.zeros(w)
        weights[:p] = 10.0 ** np.arange(w - 2, w - 2 - p, -1)
        weights[p + 1:] = 10.0 ** np.arange(w - 2 - p, -1, -1)
        mant = np.empty(N)
        for r0 in range(0, N, _ROWS_PER_CHUNK):
            mant[r0:r0 + _ROWS_PER_CHUNK] = _DIGIT_VALUE[A[r0:r0 + _ROWS_PER_CHUNK, a:b]] @ weights
        if mant.max() >= 2.0 ** 53:
            return None  # partial sums might not be exact
        val = mant / (10.0 ** (w - 1 - p))
        negative = (A[:, a:a + p] == 45).any(axis=1)
        out[:, f] = np.where(negative, -val, val)
    return symbols, out


# ============================================================================ extended-XYZ comment lines
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


def parse_numbers(text: str, count: int, where: str, what: str) -> np.ndarray:
    """``count`` finite numbers from a comment value (blank, comma or bracket separated), (count,) array.

    ValueError naming ``where`` and ``what`` otherwise.
    """
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


def parse_pbc(text: str, where: str) -> list[bool]:
    """The three periodicity flags of a ``pbc`` value (``"T T T"``; one value stands for all three)."""
    parts = text.replace(",", " ").replace("[", " ").replace("]", " ").split()
    out = []
    for p in parts:
        if p.lower() in TRUE_WORDS:
            out.append(True)
        elif p.lower() in _FALSE_WORDS:
            out.append(False)
        else:
            raise ValueError(f"{where}: pbc must be T or F values, got {text!r}")
    if len(out) == 1:
        out *= 3
    if len(out) != 3:
        raise ValueError(f"{where}: pbc needs 3 values, got {text!r}")
    return out


def parse_properties(spec: str, where: str) -> list[tuple[str, str, int, int]]:
    """Parse ``name:type:count:...`` into (name, type S|R|I|L, count, first column, 0-based) tuples."""
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


#: Properties of a plain XYZ file.
DEFAULT_PROPERTIES = "species:S:1:pos:R:3"
#: Names of the species column, in order of preference.
SPECIES_COLUMNS = ("species", "element", "symbols", "symbol")


# ============================================================================ one structure
def read_structure(path, frame: int = 0, velocities: bool = False):
    """Read one frame of a plain or extended XYZ file (plain or ``.gz``) as a structure.

    Parameters
    ----------
    path : str or Path
        The file. A comment line holding ``Lattice="ax ay az bx by bz cx cy cz"``
        (extended XYZ) gives the cell; ``Properties=species:S:1:pos:R:3:...`` is
        honoured to find the symbol and position columns, otherwise the atom lines are
        ``symbol x y z``.
    frame : int
        Which frame (0 first, -1 last).
    velocities : bool
        Also return the frame's velocities (Å/fs) as a fourth item: from a ``vel``/``velocities``/
        ``velo`` column (Å/fs, as mldyn writes them) or from ASE ``momenta`` (divided by the
        ``masses`` column or the elements' masses); None when the file has neither.

    Returns
    -------
    symbols : list[str]
        Element symbols, length n (:func:`mldyn.elements.element_symbol`: ``"OW"`` → ``"O"``).
    positions_nc : numpy.ndarray
        Shape (n, 3), Å.
    lattice_cc : numpy.ndarray or None
        Shape (3, 3), rows are the cell vectors a, b, c in Å, or None without ``Lattice=``.

    FileNotFoundError for a missing file; ValueError naming file and line for a malformed one.
    """
    if not os.path.isfile(os.fspath(path)):
        raise FileNotFoundError(f"structure file not found: {path}")
    frames = split_xyz_frames(path)
    F = frames.n_frames
    if not -F <= frame < F:
        raise ValueError(f"{frames.path}: frame {frame} requested, file has {F} frame(s)")
    k = frame % F
    here = where(frames.path, frames.comment_line(k))
    try:
        info = parse_extxyz_comment(frames.comment(k), here)
    except ValueError:
        info = {}  # a free-text comment line
    lower = {key.lower(): key for key in info}
    lattice = None
    if "lattice" in lower:
        lattice = parse_numbers(info[lower["lattice"]], 9, here, "Lattice").reshape(3, 3)
    spec = info[lower["properties"]] if "properties" in lower else DEFAULT_PROPERTIES
    props = {name: (col, cnt, typ) for name, typ, cnt, col in parse_properties(spec, here)}
    ncol = sum(cnt for _, cnt, _ in props.values())
    species = next((props[s][0] for s in SPECIES_COLUMNS if s in props), None)
    if species is None or "pos" not in props or props["pos"][1] != 3:
        raise ValueError(f"{here}: Properties {spec!r} need a species column and pos:R:3")
    toks = atom_tokens(frames, ncol, f"for Properties {spec!r}", frame_ids=[k])
    symbols = []
    for j, label in enumerate(toks[species::ncol]):
        try:
            symbols.append(element_symbol(label))
        except ValueError as exc:
            raise ValueError(f"{where(frames.path, frames.atom_line(j, [k]))}: {exc}") from None
    positions = number_columns(frames, toks, ncol, props["pos"][0], 3, "pos", frame_ids=[k])
    if not velocities:
        return symbols, positions, lattice
    vel = None
    vkey = next((v for v in ("vel", "velocities", "velo") if v in props and props[v][1] == 3), None)
    if vkey is not None:
        vel = number_columns(frames, toks, ncol, props[vkey][0], 3, vkey, frame_ids=[k])
    elif "momenta" in props and props["momenta"][1] == 3:
        if "masses" in props:
            masses = number_columns(frames, toks, ncol, props["masses"][0], 1, "masses", frame_ids=[k]).ravel()
            if not np.all(masses > 0):
                j = int(np.flatnonzero(~(masses > 0))[0])
                raise ValueError(f"{where(frames.path, frames.atom_line(j, [k]))}: mass {masses[j]:g} amu; masses must "
                                 f"be > 0 to turn momenta into velocities")
        else:
            table = default_masses(symbols, source=str(frames.path))
            masses = np.array([table[s] for s in symbols])
        momenta = number_columns(frames, toks, ncol, props["momenta"][0], 3, "momenta", frame_ids=[k])
        vel = momenta / masses[:, None] / ASE_TIME_FS
    return symbols, positions, lattice, vel


# ============================================================================ writer
def write_extxyz(path, dataset, append: bool = False, ase_momenta: bool = False, energy_key: str = "energy") -> None:
    """Write ``dataset`` (a :class:`mldyn.dataset.Dataset`) as extended XYZ in ASE's layout.

    Columns: species, pos (Å), forces (eV/Å) and velocities (Å/fs, as ``vel``) when present.
    Per frame: ``Lattice`` (rows a, b, c, Å) and ``pbc="T T T"`` (or ``pbc="F F F"``), ``energy``
    (eV) when known, ``step`` and ``time`` (fs). A path ending in ``.gz`` is gzip-compressed.
    ``append`` adds the frames to an existing file. ``ase_momenta`` also writes ``masses`` (amu)
    and ``momenta`` in ASE's units (amu Å / (Å sqrt(amu/eV))), so that ``ase.io.read`` gives
    ``atoms.get_velocities()`` (ASE reads no velocity column by itself). ``energy_key`` names the
    per-frame value of ``potential_energy_f`` (another name keeps ASE from taking it for an energy).
    """
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
    prefixes = [f"{s:<3s}" for s in d.symbols]  # then " %.10f" per column, formatted by the core (fast)
    with open_text_for_writing(path, append) as fh:
        for k in range(d.n_frames):
            head = []
            if d.cells_f33 is not None:
                head.append('Lattice="' + " ".join(f"{x:.10f}" for x in d.cells_f33[k].ravel()) + '"')
            head.append(f"Properties={props}")
            if d.potential_energy_f is not None:
                head.append(f"{energy_key}={d.potential_energy_f[k]:.10f}")
            head.append(f"step={int(d.steps_f[k])} time={d.times_f[k]:.6f}")
            head.append('pbc="T T T"' if d.cells_f33 is not None else 'pbc="F F F"')
            fh.write(f"{d.n_atoms}\n{' '.join(head)}\n")
            fh.write(_core.fixed_rows(prefixes, data[k], " ", 0, 10).decode("ascii"))
