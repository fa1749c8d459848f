"""CP2K molecular-dynamics output → :class:`mldyn.dataset.Dataset`, and CP2K-style writers.

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

The writers (:func:`write_cp2k_xyz`, :func:`write_cp2k_ener`, :func:`write_cp2k_cell`,
:func:`write_cp2k_run`) produce the same layouts in CP2K's units, so that trajectories
mldyn generates can be read back by :func:`read_cp2k` (and by CP2K tools).
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .dataset import Dataset
from .units import (ATOMIC_MASSES, BOHR_A, BOHR_PER_AU_TIME_A_PER_FS, HARTREE_EV, HARTREE_PER_BOHR_EV_PER_A,
                    KB_EV_PER_K, KINETIC_EV_PER_AMU_A2_FS2)

__all__ = [
    "read_cp2k", "find_cp2k_files", "parse_cp2k_input_cell", "element_of", "default_masses",
    "write_cp2k_xyz", "write_cp2k_ener", "write_cp2k_cell", "write_cp2k_run", "CP2KAlignmentWarning",
    "XYZ_KINDS",
]

#: xyz print keys: kind -> (file infix, factor from CP2K units to mldyn units, CP2K unit name).
XYZ_KINDS = {
    "pos": ("pos", 1.0, "angstrom"),
    "vel": ("vel", BOHR_PER_AU_TIME_A_PER_FS, "bohr*au_t^-1"),
    "frc": ("frc", HARTREE_PER_BOHR_EV_PER_A, "hartree*bohr^-1"),
}
_KIND_ALIASES = {"pos": "pos", "positions": "pos", "trajectory": "pos", "vel": "vel", "velocities": "vel",
                 "frc": "frc", "forces": "frc", "force": "frc"}
_ISOLATED = ("isolated", "none", "nopbc")


class CP2KAlignmentWarning(UserWarning):
    """Frames were dropped while aligning CP2K files (repeated steps of a restart, or steps missing from a file)."""


# ============================================================================ low-level file access
def _read_bytes(path: str) -> tuple[bytes, str]:
    """Raw bytes of ``path`` (gunzipped when it ends in .gz or starts with the gzip magic) and the sha256 of the file."""
    with open(path, "rb") as fh:
        raw = fh.read()
    sha = hashlib.sha256(raw).hexdigest()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: damaged gzip file: {exc}") from None
    return raw, sha


def _read_lines(path: str) -> tuple[list[str], str]:
    """Lines of a (possibly gzipped) text file, trailing blank lines removed, and the file's sha256."""
    raw, sha = _read_bytes(path)
    text = raw.decode("utf-8", errors="replace")
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines, sha


def _open_text_for_writing(path: str, append: bool = False):
    """Text handle for writing (or appending); gzip-compressed (reproducibly, mtime 0) when ``path`` ends in .gz."""
    path = os.fspath(path)
    if path.endswith(".gz"):
        raw = open(path, "ab" if append else "wb")
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
        import io

        class _Closing(io.TextIOWrapper):
            def close(self):  # close the gzip stream and the underlying file together
                super().close()
                raw.close()

        return _Closing(gz, encoding="ascii", newline="\n")
    return open(path, "a" if append else "w", encoding="ascii", newline="\n")


def _where(path: str, line: int) -> str:
    return f"{path}, line {line}"


# ============================================================================ xyz trajectories
_STEP_RE = re.compile(r"\bi\s*=\s*([-+]?\d+)")
_TIME_RE = re.compile(r"\btime\s*=\s*([^,\s]+)")
_ENERGY_RE = re.compile(r"\bE\s*=\s*([^,\s]+)")


def _comment_value(regex, comment: str, what: str, path: str, line: int, out: np.ndarray, k: int) -> bool:
    """Store the number ``regex`` finds in a frame's comment line into out[k]; False if it is
    absent (the file has no such column), ValueError naming file and line if it is not a finite number."""
    m = regex.search(comment)
    if m is None:
        return False
    try:
        out[k] = float(m.group(1))
    except ValueError:
        raise ValueError(f"{_where(path, line)}: non-numeric {what} {m.group(1)!r}") from None
    if not np.isfinite(out[k]):
        raise ValueError(f"{_where(path, line)}: non-finite {what} {m.group(1)!r}")
    return True


@dataclass
class _XYZ:
    """One parsed CP2K xyz file, in the file's own units."""

    path: str
    sha256: str
    symbols: list            # n labels of frame 0
    data: np.ndarray         # (F, n, 3)
    steps: np.ndarray        # (F,) int64
    times: np.ndarray | None  # (F,) fs or None when the comments carry no time
    energies: np.ndarray | None  # (F,) Hartree or None
    header_lines: np.ndarray  # (F,) 1-based line of each frame's atom-count line
    notes: list = field(default_factory=list)

    def atom_line(self, frame: int, atom: int) -> int:
        """1-based line number of ``atom`` in ``frame``."""
        return int(self.header_lines[frame]) + 2 + atom


def _is_int(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


class _Lines:
    """Lines of a byte buffer located with numpy (no Python object per line until one is asked for)."""

    def __init__(self, raw: bytes):
        if b"\r" in raw:
            raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self.raw = raw
        nl = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
        ends = nl if raw.endswith(b"\n") else np.append(nl, len(raw))
        self.starts = np.concatenate(([0], nl + 1))[:len(ends)]
        self.ends = ends
        count = len(ends)
        while count and not raw[self.starts[count - 1]:self.ends[count - 1]].strip():
            count -= 1  # trailing blank lines
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> str:
        return self.raw[self.starts[i]:self.ends[i]].decode("utf-8", errors="replace")

    def block(self, first: int, last: int) -> bytes:
        """Bytes of lines first..last (inclusive), newline-separated, no final newline."""
        return self.raw[self.starts[first]:self.ends[last]]


def _parse_cp2k_xyz(path: str) -> _XYZ:
    """Parse a CP2K xyz trajectory (any kind) into frames; ValueError with file and line on any defect."""
    raw, sha = _read_bytes(path)
    lines = _Lines(raw)
    del raw
    nline = len(lines)
    if nline == 0:
        raise ValueError(f"{path}: empty file, zero frames parsed")
    first = lines[0].strip()
    if not _is_int(first) or int(first) <= 0:
        raise ValueError(f"{_where(path, 1)}: expected the atom count of the first frame, got {first[:60]!r}")
    n = int(first)
    stride = n + 2

    # Frame headers: one Python iteration per frame (not per atom).
    headers: list[int] = []
    p = 0
    while p < nline:
        s = lines[p].strip()
        k = len(headers)
        if not _is_int(s):
            msg = f"{_where(path, p + 1)}: expected the atom count of frame {k}, got {s[:60]!r}"
            if k:
                prev = headers[-1]
                inner = [j for j in range(prev + 2, p) if _is_int(lines[j].strip())]
                if inner:
                    msg += (f"; frame {k - 1} (line {prev + 1}) is truncated: a new frame starts at line "
                            f"{inner[0] + 1} after {inner[0] - prev - 2} of {n} atom lines")
                else:
                    msg += f"; frame {k - 1} (line {prev + 1}) has more than {n} atom lines or a damaged header"
            raise ValueError(msg)
        if int(s) != n:
            raise ValueError(f"{_where(path, p + 1)}: frame {k} has {int(s)} atoms but frame 0 (line 1) has {n}; "
                             f"the atom count must not change between frames")
        if p + stride > nline:
            raise ValueError(f"{_where(path, p + 1)}: truncated frame {k}: the file ends after {max(nline - p - 2, 0)} "
                             f"of {n} atom lines")
        headers.append(p)
        p += stride
    F = len(headers)

    # Comment lines: step, time, energy.
    steps = np.empty(F, dtype=np.int64)
    times = np.empty(F)
    energies = np.empty(F)
    have_time = have_energy = True
    for k, h in enumerate(headers):
        c = lines[h + 1]
        m = _STEP_RE.search(c)
        if m is None:
            raise ValueError(f"{_where(path, h + 2)}: comment line of frame {k} has no step 'i = N': {c.strip()[:80]!r}")
        steps[k] = int(m.group(1))
        if have_time:
            have_time = _comment_value(_TIME_RE, c, "time", path, h + 2, times, k)
        if have_energy:
            have_energy = _comment_value(_ENERGY_RE, c, "energy E =", path, h + 2, energies, k)
    header_lines = np.asarray(headers, dtype=np.int64) + 1
    times_out = times if have_time else None
    energies_out = energies if have_energy else None

    # Atom lines: each frame's atom lines are one contiguous byte range; a vectorised
    # fixed-column parse (CP2K's own layout) or, failing that, tokens with vectorised checks.
    body = b"\n".join([lines.block(h + 2, h + stride - 1) for h in headers])
    fixed = _parse_fixed_columns(body, n, F)
    if fixed is not None:
        symbols, data = fixed
        return _XYZ(path, sha, symbols, data.reshape(F, n, 3), steps, times_out, energies_out, header_lines)
    toks = body.decode("utf-8", errors="replace").split()
    del body

    def atom_line(j: int) -> int:  # 1-based line of flat atom index j
        return int(header_lines[j // n]) + 2 + j % n

    if len(toks) != 4 * n * F:
        for j in range(n * F):
            text = lines[atom_line(j) - 1]
            fields = text.split()
            if len(fields) != 4:
                raise ValueError(f"{_where(path, atom_line(j))}: expected 4 fields 'symbol x y z', got {len(fields)}: "
                                 f"{text.strip()[:80]!r}")
        raise ValueError(f"{path}: unexpected token count in the atom lines")  # pragma: no cover
    syms = toks[0::4]
    symbols = syms[:n]
    if syms != symbols * F:
        for j, (a, b) in enumerate(zip(syms, symbols * F)):
            if a != b:
                raise ValueError(f"{_where(path, atom_line(j))}: atom {j % n} of frame {j // n} is {a!r} but {b!r} in "
                                 f"frame 0 (line {j % n + 3}); the species order must not change between frames")
    for j, s in enumerate(symbols):
        if _is_float(s):
            raise ValueError(f"{_where(path, j + 3)}: expected an element symbol first, got {s!r}")
    del toks[0::4]
    try:
        data = np.array(toks, dtype=np.float64)
    except ValueError:
        for j, t in enumerate(toks):
            if not _is_float(t):
                raise ValueError(f"{_where(path, atom_line(j // 3))}: non-numeric field {t!r} "
                                 f"(column {j % 3 + 2} of atom {j // 3 % n}, frame {j // 3 // n})") from None
        raise
    if not np.all(np.isfinite(data)):
        j = int(np.flatnonzero(~np.isfinite(data))[0])
        raise ValueError(f"{_where(path, atom_line(j // 3))}: non-finite value {toks[j]!r} "
                         f"(atom {j // 3 % n}, frame {j // 3 // n})")
    return _XYZ(path, sha, symbols, data.reshape(F, n, 3), steps, times_out, energies_out, header_lines)


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


def _parse_fixed_columns(body: bytes, n: int, F: int):
    """Fast path for atom lines in fixed columns (as CP2K writes them): (symbols of frame 0, (F*n, 3) floats) or None.

    Requires every line to have the same length, four fields in the same column spans,
    plain decimals (optional leading '-', digits, one '.' in a fixed column with digits
    after it, mantissa below 2**53) and the same symbols in every frame. Values are exactly
    what ``float()`` gives: an exact integer mantissa (a sum of exact integers) divided by an
    exact power of ten, rounded once. Returns None whenever anything is unusual, and the
    general tokenising parser (with its error messages) takes over.
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
    if any(not s or " " in s or "\t" in s or _is_float(s) for s in symbols):
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


# ============================================================================ .ener / .cell tables
def _parse_table(path: str, min_cols: int, what: str):
    """Numeric table (``#`` comments skipped): (rows (R, C) float array, 1-based line numbers (R,), sha256)."""
    lines, sha = _read_lines(path)
    rows, where = [], []
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        rows.append(s.split())
        where.append(i + 1)
    if not rows:
        raise ValueError(f"{path}: no data lines, zero frames parsed from this {what} file")
    ncol = len(rows[0])
    if ncol < min_cols:
        raise ValueError(f"{_where(path, where[0])}: a {what} line needs at least {min_cols} columns, got {ncol}")
    for r, w in zip(rows, where):
        if len(r) != ncol:
            raise ValueError(f"{_where(path, w)}: expected {ncol} columns like line {where[0]}, got {len(r)} "
                             f"(truncated or damaged line)")
    try:
        arr = np.array(rows, dtype=np.float64)
    except ValueError:
        for r, w in zip(rows, where):
            for c, t in enumerate(r):
                if not _is_float(t):
                    raise ValueError(f"{_where(path, w)}: non-numeric field {t!r} in column {c + 1}") from None
        raise
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(f"{_where(path, where[r])}: non-finite value {rows[r][c]!r} in column {c + 1}")
    step = arr[:, 0]
    if not np.all(step == np.round(step)):
        r = int(np.flatnonzero(step != np.round(step))[0])
        raise ValueError(f"{_where(path, where[r])}: the step column must be an integer, got {rows[r][0]!r}")
    return arr, np.asarray(where, dtype=np.int64), sha


# ============================================================================ CP2K input (&CELL)
_SECTION_RE = re.compile(r"^&(\w+)")
_VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _input_lines(path: str, depth: int = 0) -> list[tuple[str, int, str]]:
    """Logical lines (text, line number, file) of a CP2K input: comments removed, @SET applied, @INCLUDE followed."""
    if depth > 8:
        raise ValueError(f"{path}: @INCLUDE nested too deeply")
    lines, _ = _read_lines(path)
    out, variables = [], {}
    for i, raw in enumerate(lines):
        s = re.split(r"[!#]", raw, maxsplit=1)[0].strip()
        if not s:
            continue
        s = _VAR_RE.sub(lambda m: variables.get((m.group(1) or m.group(2)).upper(), m.group(0)), s)
        up = s.upper()
        if up.startswith("@SET"):
            parts = s.split(None, 2)
            if len(parts) == 3:
                variables[parts[1].upper()] = parts[2]
            continue
        if up.startswith("@INCLUDE"):
            target = s.split(None, 1)[1].strip().strip("'\"") if len(s.split()) > 1 else ""
            target = os.path.join(os.path.dirname(path), target)
            if os.path.exists(target):
                out.extend(_input_lines(target, depth + 1))
            continue
        if up.startswith("@"):
            continue  # @IF/@ENDIF/@PRINT: not evaluated
        out.append((s, i + 1, path))
    return out


def _length_factor(unit: str, where: str) -> float:
    u = unit.lower()
    if u in ("angstrom", "ang", "a"):
        return 1.0
    if u == "bohr":
        return BOHR_A
    raise ValueError(f"{where}: unsupported length unit [{unit}] (use angstrom or bohr)")


def _values(parts: list[str], where: str, count: int, default_unit: str):
    """Split a keyword's values into (unit, floats) with an optional leading ``[unit]``."""
    unit = default_unit
    if parts and parts[0].startswith("["):
        unit = parts[0].strip("[]")
        parts = parts[1:]
    if len(parts) != count:
        raise ValueError(f"{where}: expected {count} numbers, got {len(parts)}: {' '.join(parts)!r}")
    try:
        vals = [float(x) for x in parts]
    except ValueError:
        raise ValueError(f"{where}: non-numeric value in {' '.join(parts)!r}") from None
    if not all(np.isfinite(vals)):
        raise ValueError(f"{where}: non-finite value in {' '.join(parts)!r}")
    return unit, vals


def _cell_from_abc(abc, angles_deg) -> np.ndarray:
    """Row-vector cell (Å) from lengths and angles alpha, beta, gamma (degrees), CP2K convention (a along x, b in xy)."""
    a, b, c = abc
    al, be, ga = np.deg2rad(angles_deg)
    ca, cb, cg, sg = np.cos(al), np.cos(be), np.cos(ga), np.sin(ga)
    cy = (ca - cb * cg) / sg
    cz2 = 1.0 - cb * cb - cy * cy
    if not cz2 > 0:
        raise ValueError(f"cell angles {list(angles_deg)} (degrees) do not form a cell")
    h = np.array([[a, 0.0, 0.0], [b * cg, b * sg, 0.0], [c * cb, c * cy, c * np.sqrt(cz2)]])
    h[np.abs(h) < 1e-12 * max(abc)] = 0.0  # exact zeros for right angles
    return h


def parse_cp2k_input_cell(path) -> tuple[np.ndarray | None, dict]:
    """Cell (3, 3) in Å (rows = a, b, c) from ``&FORCE_EVAL/&SUBSYS/&CELL`` of a CP2K input, and facts found.

    Understands ``ABC [unit] a b c`` with optional ``ALPHA_BETA_GAMMA [deg|rad] al be ga``,
    or ``A``/``B``/``C`` vectors, optional ``[angstrom]`` (default) or ``[bohr]`` units,
    ``MULTIPLE_UNIT_CELL``, ``@SET`` variables and ``@INCLUDE``. Returns ``(None, info)``
    when the input has no such cell. ``info`` holds ``project``, ``periodic`` and the
    ``UNIT`` keywords of the MOTION/PRINT trajectory, velocity and force print keys.
    ValueError with file and line on malformed values or ``CELL_FILE_NAME`` (unsupported).
    """
    path = os.fspath(path)
    stack: list[str] = []
    info: dict = {"project": None, "periodic": None, "print_units": {}}
    cells: list[dict] = []
    cur: dict | None = None
    for s, ln, fname in _input_lines(path):
        where = _where(fname, ln)
        m = _SECTION_RE.match(s)
        if m:
            name = m.group(1).upper()
            if name == "END":
                if stack:
                    if stack[-1] == "CELL" and cur is not None and len(stack) >= 2 and stack[-2] == "SUBSYS":
                        cells.append(cur)
                        cur = None
                    stack.pop()
                continue
            stack.append(name)
            if name == "CELL" and len(stack) >= 2 and stack[-2] == "SUBSYS":
                cur = {"where": where}
            continue
        parts = s.split()
        key, vals = parts[0].upper(), parts[1:]
        if stack == ["GLOBAL"] and key in ("PROJECT", "PROJECT_NAME") and vals:
            info["project"] = vals[0]
        elif len(stack) >= 3 and stack[0] == "MOTION" and stack[1] == "PRINT" and key == "UNIT" and vals \
                and len(stack) == 3:
            info["print_units"][stack[2]] = (vals[0].lower(), where)
        elif cur is not None and stack[-1] == "CELL":
            if key == "ABC":
                unit, v = _values(vals, where, 3, "angstrom")
                cur["abc"] = np.array(v) * _length_factor(unit, where)
            elif key == "ALPHA_BETA_GAMMA":
                unit, v = _values(vals, where, 3, "deg")
                if unit.lower() in ("deg", "degree", "degrees"):
                    cur["angles"] = v
                elif unit.lower() in ("rad", "radian", "radians"):
                    cur["angles"] = list(np.rad2deg(v))
                else:
                    raise ValueError(f"{where}: unsupported angle unit [{unit}]")
            elif key in ("A", "B", "C"):
                unit, v = _values(vals, where, 3, "angstrom")
                cur[key] = np.array(v) * _length_factor(unit, where)
            elif key == "MULTIPLE_UNIT_CELL":
                _, v = _values(vals, where, 3, "")
                cur["multiple"] = v
            elif key == "PERIODIC":
                cur["periodic"] = (vals[0].upper() if vals else "XYZ")
                cur["periodic_where"] = where
            elif key == "CELL_FILE_NAME":
                raise ValueError(f"{where}: CELL_FILE_NAME is not supported; pass cell= to read_cp2k")
    if not cells:
        return None, info
    c = cells[0]
    info["cell_where"] = c["where"]
    info["periodic"] = c.get("periodic", "XYZ")
    info["periodic_where"] = c.get("periodic_where", c["where"])
    if len(cells) > 1:
        info["note"] = f"{len(cells)} &SUBSYS/&CELL sections; the first ({c['where']}) is used"
    if "abc" in c:
        h = _cell_from_abc(c["abc"], c.get("angles", [90.0, 90.0, 90.0]))
    elif all(k in c for k in ("A", "B", "C")):
        h = np.array([c["A"], c["B"], c["C"]])
    else:
        raise ValueError(f"{c['where']}: &CELL needs ABC or all of A, B and C")
    if "multiple" in c:
        h = h * np.asarray(c["multiple"])[:, None]
    if not abs(np.linalg.det(h)) > 0:
        raise ValueError(f"{c['where']}: the cell is singular")
    return h, info


# ============================================================================ masses and species
_ELEMENT_RE = re.compile(r"^([A-Z][a-z]?)(?:[_\-\d].*)?$")


def element_of(label: str) -> str | None:
    """Element symbol of a CP2K kind label (``"O"`` → ``"O"``, ``"H1"``/``"H_w"`` → ``"H"``), or None if unknown."""
    if label in ATOMIC_MASSES:
        return label
    cap = label[:1].upper() + label[1:]
    if cap in ATOMIC_MASSES:
        return cap
    m = _ELEMENT_RE.match(cap)
    if m and m.group(1) in ATOMIC_MASSES:
        return m.group(1)
    return None


def default_masses(labels: Sequence[str], masses: Mapping[str, float] | None = None, source: str = "") -> dict:
    """Mass (amu) of every label: ``masses[label]``, else ``masses[element]``, else CP2K's default for the element.

    ValueError for a label with no mass, a non-positive mass, or a ``masses`` key matching no label or element.
    """
    masses = dict(masses or {})
    out = {}
    for lab in labels:
        el = element_of(lab)
        if lab in masses:
            m = masses[lab]
        elif el is not None and el in masses:
            m = masses[el]
        elif el is not None:
            m = ATOMIC_MASSES[el]
        else:
            raise ValueError(f"{source}: no default mass for species {lab!r}; pass masses={{{lab!r}: ...}} (amu)")
        try:
            m = float(m)
        except (TypeError, ValueError):
            raise ValueError(f"masses[{lab!r}] must be a number (amu), got {m!r}") from None
        if not (m > 0 and np.isfinite(m)):
            raise ValueError(f"masses[{lab!r}] must be a positive number (amu), got {m!r}")
        out[lab] = m
    used = set(labels) | {element_of(x) for x in labels}
    unknown = sorted(k for k in masses if k not in used)
    if unknown:
        raise ValueError(f"masses= names {unknown} match no species of the data ({sorted(set(labels))})")
    return out


def _species(labels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Species names in order of first appearance and the (n,) int32 ids."""
    names: list[str] = []
    index: dict[str, int] = {}
    ids = np.empty(len(labels), dtype=np.int32)
    for i, lab in enumerate(labels):
        if lab not in index:
            index[lab] = len(names)
            names.append(lab)
        ids[i] = index[lab]
    return names, ids


# ============================================================================ locating files
_XYZ_FILE_RE = re.compile(r"^(?P<project>.+)-(?P<kind>pos|vel|frc)-1\.xyz(?:\.gz)?$")
_TABLE_FILE_RE = re.compile(r"^(?P<project>.+)-1\.(?P<kind>ener|cell)(?:\.gz)?$")


def _classify(path: str) -> tuple[str, str | None]:
    """(kind, project) of a CP2K output file name; kind in pos/vel/frc/ener/cell/inp."""
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


def find_cp2k_files(directory, project: str | None = None) -> dict:
    """CP2K output files of one project in ``directory``: dict kind → path (kinds pos, vel, frc, ener, cell, inp).

    ``pos`` is always present. With several projects in the directory, ``project`` is
    required. The input file is the only ``*.inp`` of the directory, or the one whose
    ``PROJECT`` matches; absent when it cannot be told.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{directory}: not a directory")
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


# ============================================================================ alignment helpers
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
    arr = np.asarray(cell, dtype=float)
    if arr.ndim == 0:
        h = np.eye(3) * float(arr)
    elif arr.shape == (3,):
        h = np.diag(arr)
    elif arr.shape == (3, 3):
        h = arr.copy()
    else:
        raise ValueError(f"cell= must be a length, three lengths, a (3, 3) matrix of row vectors (Å) or 'isolated', "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(h)) or not abs(np.linalg.det(h)) > 0:
        raise ValueError(f"cell= must be finite and non-singular, got {h.tolist()}")
    return h


def _report(progress, message: str) -> None:
    if callable(progress):
        progress(message)


# ============================================================================ the reader
def read_cp2k(path_or_files, project: str | None = None, cell=None, masses: Mapping[str, float] | None = None,
              require_forces: bool = False, progress: bool | Callable[[str], None] = False) -> Dataset:
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
        (``units.ATOMIC_MASSES``), e.g. ``{"H": 2.014}``.
    require_forces : raise ValueError when the run has no ``-frc-1.xyz`` file.
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
            kind = _KIND_ALIASES.get(k, k)
            if kind not in ("pos", "vel", "frc", "ener", "cell", "inp"):
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
        kind, proj = _classify(p)
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
            kind, _ = _classify(f)
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
        raise ValueError(f"{files['pos']}: no forces file ({_sibling(files['pos'], 'frc')}) but require_forces=True; "
                         f"add &MOTION/&PRINT/&FORCES to the CP2K input")

    notes: list[str] = []
    provenance: dict = {"reader": "mldyn.cp2k.read_cp2k", "format": "cp2k", "origin": origin, "files": {},
                        "units_in": {"positions": "angstrom", "velocities": "bohr/au_time", "forces": "hartree/bohr",
                                     "energies": "hartree", "cell": "angstrom"},
                        "notes": notes}
    if project is not None:
        provenance["project"] = project
    else:
        provenance["project"] = _classify(files["pos"])[1]

    order = [k for k in ("inp", "pos", "vel", "frc", "ener", "cell") if k in files]
    bar = None
    if progress is True:
        from .progress import progress_bar
        bar = progress_bar(total=len(order), desc="reading CP2K files")

    def done(kind):
        if bar is not None:
            bar.update(1)
        _report(progress, f"read {kind}: {files[kind]}")

    # ---- input file: cell, units of the print keys
    inp_cell, inp_info = None, {}
    if "inp" in files:
        inp_cell, inp_info = parse_cp2k_input_cell(files["inp"])
        provenance["files"]["inp"] = {"path": files["inp"], "sha256": _sha256(files["inp"])}
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
    xyz: dict[str, _XYZ] = {}
    for kind in ("pos", "vel", "frc"):
        if kind in files:
            xyz[kind] = _parse_cp2k_xyz(files[kind])
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
        arr, where, sha = _parse_table(files["ener"], 5, "CP2K .ener")
        ener = {"steps": arr[:, 0].astype(np.int64), "data": arr, "lines": where, "path": files["ener"]}
        provenance["files"]["ener"] = {"path": files["ener"], "sha256": sha}
        done("ener")
    if "cell" in files:
        arr, where, sha = _parse_table(files["cell"], 11, "CP2K .cell")
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
        cells = np.broadcast_to(inp_cell, (common.size, 3, 3)).copy()
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
        cells = np.broadcast_to(_user_cell(cell), (common.size, 3, 3)).copy()
        provenance["cell_source"] = "cell= argument (constant)"
    else:
        raise ValueError(f"{origin}: no cell found (no PROJECT-1.cell file and no &SUBSYS/&CELL in an input file); "
                         f"pass cell=L, (a, b, c) or a (3, 3) matrix of row vectors in Å, or cell='isolated'")

    names, species = _species(ref.symbols)
    mass_of = default_masses(names, masses, ref.path)
    masses_n = np.array([mass_of[s] for s in ref.symbols])
    provenance["masses_amu"] = mass_of
    provenance["n_frames_read"] = {k: int(len(v["steps"])) for k, v in sources.items()}
    return Dataset(names, species, masses_n, positions, cells, velocities, forces, common, times, potential,
                   kinetic, temperature, provenance)


def _sibling(pos_path: str, kind: str) -> str:
    base = os.path.basename(pos_path)
    m = _XYZ_FILE_RE.match(base)
    return f"{m.group('project')}-{kind}-1.xyz" if m else f"*-{kind}-1.xyz"


def _sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# ============================================================================ writers
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
    kind = _KIND_ALIASES.get(kind, kind)
    if kind not in XYZ_KINDS:
        raise ValueError(f"kind must be one of pos, vel, frc, got {kind!r}")
    frames, steps, times, energies = _frame_arrays(frames_fnc, steps, times, energies, f"write_cp2k_xyz({path})")
    F, n, _ = frames.shape
    symbols = [str(s) for s in symbols]
    if len(symbols) != n:
        raise ValueError(f"write_cp2k_xyz: {len(symbols)} symbols for {n} atoms")
    data = frames / XYZ_KINDS[kind][1]
    template = "".join(f"{s:>3s}  %19.10f %19.10f %19.10f\n" for s in symbols)  # CP2K's layout, a blank always
    with _open_text_for_writing(path, append) as fh:
        for k in range(F):
            comment = f" i = {int(steps[k]):8d}, time = {times[k]:12.3f}"
            if energies is not None:
                comment += f", E = {energies[k] / HARTREE_EV:20.10f}"
            fh.write(f"{n:8d}\n{comment}\n")
            fh.write(template % tuple(data[k].ravel().tolist()))


def write_cp2k_ener(path, steps, times, kinetic_f, temperature_f, potential_f, conserved_f=None,
                    cpu_f=None, append: bool = False) -> None:
    """Write a CP2K ``PROJECT-1.ener`` file.

    steps : (F,) step indices.  times : (F,) fs.  kinetic_f, potential_f, conserved_f : (F,)
    eV, written in Hartree (conserved defaults to kinetic + potential).  temperature_f :
    (F,) K.  cpu_f : (F,) seconds per step (default 0).
    """
    steps = np.asarray(steps).astype(np.int64)
    F = steps.shape[0]
    cols = {"times": times, "kinetic": kinetic_f, "temperature": temperature_f, "potential": potential_f}
    arr = {}
    for k, v in cols.items():
        a = np.asarray(v, dtype=float)
        if a.shape != (F,) or not np.all(np.isfinite(a)):
            raise ValueError(f"write_cp2k_ener: {k} must be {F} finite numbers, got shape {a.shape}")
        arr[k] = a
    cons = arr["kinetic"] + arr["potential"] if conserved_f is None else np.asarray(conserved_f, dtype=float)
    cpu = np.zeros(F) if cpu_f is None else np.asarray(cpu_f, dtype=float)
    with _open_text_for_writing(path, append) as fh:
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
    cells = np.asarray(cells_f33, dtype=float)
    if cells.shape == (3, 3):
        cells = np.broadcast_to(cells, (F, 3, 3))
    if cells.shape != (F, 3, 3) or times.shape != (F,):
        raise ValueError(f"write_cp2k_cell: need cells (F, 3, 3) and times (F,) for F={F}, got {cells.shape}, "
                         f"{times.shape}")
    vol = np.abs(np.linalg.det(cells))
    head = "#   Step   Time [fs]" + "".join(f"{f'{v}{x} [Angstrom]':>20s}" for v in "ABC" for x in "xyz") \
        + "      Volume [Angstrom^3]\n"
    with _open_text_for_writing(path, append) as fh:
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
            kin = 0.5 * KINETIC_EV_PER_AMU_A2_FS2 * np.einsum("n,fnc,fnc->f", d.masses_n, d.velocities_fnc,
                                                               d.velocities_fnc)
        if kin is None:
            kin = np.zeros(d.n_frames)
        temp = d.temperature_f
        if temp is None:
            dof = max(3 * d.n_atoms - 3, 1)
            temp = 2.0 * kin / (dof * KB_EV_PER_K)
        out["ener"] = os.path.join(directory, f"{project}-1.ener{gz}")
        write_cp2k_ener(out["ener"], d.steps_f, d.times_f, kin, temp, d.potential_energy_f)
    return out
