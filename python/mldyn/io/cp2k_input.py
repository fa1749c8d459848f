"""Reading CP2K input decks: the cell of ``&FORCE_EVAL/&SUBSYS/&CELL`` and a few facts.

Understands ``@SET`` variables and ``@INCLUDE`` (other ``@`` directives are not evaluated),
``ABC`` with ``ALPHA_BETA_GAMMA``, ``A``/``B``/``C`` vectors, ``[angstrom]``/``[bohr]`` units
and ``MULTIPLE_UNIT_CELL``. Cells come back in Å, rows a, b, c. Writing decks is
:mod:`mldyn.io.cp2k_deck`.
"""
from __future__ import annotations

import os
import re

import numpy as np

from ..units import BOHR_A
from .text import read_lines, where as _where

__all__ = ["parse_cp2k_input_kinds", "parse_cp2k_input_cell", "input_lines", "cell_from_lengths_angles"]

_SECTION_RE = re.compile(r"^&(\w+)")
_VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def input_lines(path: str, depth: int = 0) -> list[tuple[str, int, str]]:
    """Logical lines (text, line number, file) of a CP2K input: comments removed, @SET applied, @INCLUDE followed."""
    if depth > 8:
        raise ValueError(f"{path}: @INCLUDE nested too deeply")
    lines, _ = read_lines(path)
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
            if not os.path.exists(target):
                raise ValueError(f"{_where(path, i + 1)}: @INCLUDE {target}: no such file (CP2K would stop here too)")
            out.extend(input_lines(target, depth + 1))  # read_lines refuses devices, FIFOs and huge files
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


def cell_from_lengths_angles(abc, angles_deg) -> np.ndarray:
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
    for s, ln, fname in input_lines(path):
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
        h = cell_from_lengths_angles(c["abc"], c.get("angles", [90.0, 90.0, 90.0]))
    elif all(k in c for k in ("A", "B", "C")):
        h = np.array([c["A"], c["B"], c["C"]])
    else:
        raise ValueError(f"{c['where']}: &CELL needs ABC or all of A, B and C")
    if "multiple" in c:
        h = h * np.asarray(c["multiple"])[:, None]
    if not abs(np.linalg.det(h)) > 0:
        raise ValueError(f"{c['where']}: the cell is singular")
    return h, info


def parse_cp2k_input_kinds(path) -> tuple[list[str], dict] | None:
    """Per-atom kind labels of ``&FORCE_EVAL/&SUBSYS/&COORD`` (in the order of the atoms) and the element
    of every kind ({label: element} from ``&KIND label`` / ``ELEMENT``, else the label's own element),
    or None when the input gives no coordinates inline (``COORD_FILE_NAME``, topology files)."""
    from ..elements import element_of

    stack: list[str] = []
    labels: list[str] = []
    kind_element: dict = {}
    kind = None
    for s, _, _ in input_lines(os.fspath(path)):
        up = s.upper()
        if up.startswith("&END"):
            if stack and stack[-1] == "KIND":
                kind = None
            stack = stack[:-1]
            continue
        if up.startswith("&"):
            name = up.split()[0][1:]
            stack.append(name)
            if name == "KIND" and len(s.split()) > 1:
                kind = s.split()[1]
            continue
        if stack[-3:] == ["FORCE_EVAL", "SUBSYS", "COORD"]:
            first = s.split()[0]
            if first.upper() not in ("UNIT", "SCALED") and len(s.split()) >= 4:
                labels.append(first)
        elif stack[-3:] == ["FORCE_EVAL", "SUBSYS", "KIND"] and kind and up.split()[0] in ("ELEMENT", "ELEMENT_SYMBOL"):
            kind_element[kind] = s.split()[1]
    if not labels:
        return None
    return labels, {k: kind_element.get(k) or element_of(k) for k in dict.fromkeys(labels)}

