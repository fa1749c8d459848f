"""CP2K single points (energy and forces) of given frames, with the electronic structure of a run's deck.

:func:`single_point_deck` rewrites a CP2K input (the original run's, ``@SET`` and ``@INCLUDE``
applied) into an ``ENERGY_FORCE`` calculation of one frame: ``&MOTION`` and ``&EXT_RESTART`` are
dropped, the coordinates come from an XYZ file beside it, the cell is the frame's, forces are
printed; everything else (``&DFT``, ``&KIND``, basis sets, pseudopotentials, cutoffs, SCF convergence) is
kept as it was, except the SCF's iteration budget (:data:`MIN_MAX_SCF`). Files the deck names relative to its own directory (a basis set file, say) are made
absolute. :func:`read_single_point` parses the energy and forces from CP2K's output.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..units import HARTREE_EV, HARTREE_PER_BOHR_EV_PER_A
from .cp2k_input import input_lines
from .text import read_lines, where

#: A single point starts its SCF far from the solution (an MD step starts from the previous steps'): the
#: original deck's iteration budget (CP2K's default MAX_SCF is 50) is raised to at least this. The
#: convergence criterion (EPS_SCF) and everything else stay the run's, so the result is the same.
MIN_MAX_SCF = 300

__all__ = ["MIN_MAX_SCF", "single_point_deck", "read_single_point", "write_xyz_frame", "SinglePointError"]


class SinglePointError(ValueError):
    """A CP2K single point that did not give forces (not run, failed, or its SCF did not converge)."""


@dataclass
class _Section:
    name: str
    args: str = ""
    items: list = field(default_factory=list)  # keyword lines (str) and subsections, in order

    def find(self, name: str) -> list["_Section"]:
        return [x for x in self.items if isinstance(x, _Section) and x.name == name]

    def section(self, name: str) -> "_Section":
        """The first subsection ``name``, created at the end if missing."""
        found = self.find(name)
        if found:
            return found[0]
        new = _Section(name)
        self.items.append(new)
        return new

    def drop(self, *names: str) -> None:
        self.items = [x for x in self.items if not (isinstance(x, _Section) and x.name in names)]

    def set(self, key: str, value: str) -> None:
        """Keyword ``key`` set to ``value`` (replacing every line of that keyword)."""
        self.unset(key)
        self.items.insert(0, f"{key} {value}")

    def unset(self, *keys: str) -> None:
        self.items = [x for x in self.items if not (isinstance(x, str) and x.split()[0].upper() in keys)]

    def lines(self, depth: int = 0) -> list[str]:
        pad = "  " * depth
        out = [f"{pad}&{self.name}" + (f" {self.args}" if self.args else "")]
        for x in self.items:
            out += x.lines(depth + 1) if isinstance(x, _Section) else [f"{pad}  {x}"]
        return out + [f"{pad}&END {self.name}"]


def _parse(path: str) -> _Section:
    root = _Section("")
    stack = [root]
    for text, line, fname in input_lines(path):
        if text.upper().startswith("&END"):
            if len(stack) == 1:
                raise ValueError(f"{where(fname, line)}: &END without an open section")
            stack.pop()
        elif text.startswith("&"):
            parts = text[1:].split(None, 1)
            sec = _Section(parts[0].upper(), parts[1] if len(parts) > 1 else "")
            stack[-1].items.append(sec)
            stack.append(sec)
        else:
            stack[-1].items.append(text)
    if len(stack) != 1:
        raise ValueError(f"{path}: section &{stack[-1].name} is never closed (&END)")
    return root


def _absolute_files(sec: _Section, base: str) -> None:
    """Keyword values naming a file that exists relative to the deck's directory become absolute paths."""
    for i, x in enumerate(sec.items):
        if isinstance(x, _Section):
            _absolute_files(x, base)
            continue
        parts = x.split()
        if len(parts) == 2 and not os.path.isabs(parts[1]) and os.path.isfile(os.path.join(base, parts[1])):
            sec.items[i] = f"{parts[0]} {os.path.abspath(os.path.join(base, parts[1]))}"


def single_point_deck(input_path, coord_file: str, cell_33, project: str = "sp", wfn_guess: str | None = None) -> str:
    """The text of a CP2K input that computes the energy and forces of the atoms in ``coord_file`` (XYZ, Å;
    a name relative to where CP2K runs) in the cell ``cell_33`` (rows a, b, c; Å), with every other
    setting of ``input_path``. ValueError names the file and what it cannot rewrite.

    The SCF writes its wavefunction (``<project>-RESTART.wfn``); ``wfn_guess``, such a file of another
    frame of the same system, starts the SCF from it instead of from atoms (the same converged result
    in fewer iterations: about 20 instead of 50 for 32 waters)."""
    input_path = os.fspath(input_path)
    root = _parse(input_path)
    evals = root.find("FORCE_EVAL")
    if len(evals) != 1:
        raise ValueError(f"{input_path}: {len(evals)} &FORCE_EVAL sections; a single point of the run's electronic "
                         f"structure needs exactly one")
    root.drop("MOTION", "EXT_RESTART", "VIBRATIONAL_ANALYSIS", "OPTIMIZE_INPUT", "NEGF", "TEST", "DEBUG")
    glob = root.section("GLOBAL")
    glob.set("RUN_TYPE", "ENERGY_FORCE")
    glob.unset("PROJECT_NAME")
    glob.set("PROJECT", project)
    fe = evals[0]
    subsys = fe.section("SUBSYS")
    subsys.drop("COORD", "VELOCITY", "CORE_COORD", "SHELL_COORD", "CORE_VELOCITY", "SHELL_VELOCITY")
    topo = subsys.section("TOPOLOGY")
    topo.unset("COORD_FILE_NAME", "COORD_FILE_FORMAT", "MULTIPLE_UNIT_CELL", "CONN_FILE_NAME", "CONN_FILE_FORMAT")
    topo.set("COORD_FILE_FORMAT", "XYZ")
    topo.set("COORD_FILE_NAME", coord_file)
    cell = subsys.section("CELL")
    cell.drop("CELL_REF")
    cell.unset("ABC", "ALPHA_BETA_GAMMA", "A", "B", "C", "CELL_FILE_NAME", "CELL_FILE_FORMAT", "MULTIPLE_UNIT_CELL",
               "SYMMETRY")
    h = np.asarray(cell_33, dtype=float).reshape(3, 3)
    for key, row in zip("CBA", h[::-1]):
        cell.items.insert(0, f"{key} [angstrom] " + " ".join(f"{x:.10f}" for x in row))
    dft = fe.find("DFT")
    for scf in (dft[0].find("SCF") if dft else []):
        if any(isinstance(x, str) and re.match(r"SCF_GUESS\s+RESTART", x, re.I) for x in scf.items):
            scf.set("SCF_GUESS", "ATOMIC")  # the original run's wavefunction file is not this frame's
    if dft:
        dft[0].unset("WFN_RESTART_FILE_NAME")
        scf = dft[0].section("SCF")
        max_scf = next((x.split()[1] for x in scf.items if isinstance(x, str) and x.split()[0].upper() == "MAX_SCF"),
                       "50")
        if not max_scf.isdigit() or int(max_scf) < MIN_MAX_SCF:
            scf.set("MAX_SCF", str(MIN_MAX_SCF))
        restart = scf.section("PRINT").section("RESTART")
        restart.args = "ON"
        restart.unset("BACKUP_COPIES")
        restart.items.insert(0, "BACKUP_COPIES 0")
        if wfn_guess:
            scf.set("SCF_GUESS", "RESTART")
            dft[0].set("WFN_RESTART_FILE_NAME", wfn_guess)
    fe.section("PRINT").section("FORCES").args = "ON"
    _absolute_files(root, os.path.dirname(os.path.abspath(input_path)))
    lines = []
    for sec in root.items:
        lines += sec.lines() if isinstance(sec, _Section) else [sec]
    return "\n".join(lines) + "\n"


def write_xyz_frame(path, symbols, positions_nc, comment: str = "") -> None:
    """A one-frame XYZ file (Å) for CP2K's ``COORD_FILE_FORMAT XYZ``."""
    rows = "".join(f"{s} {x:.10f} {y:.10f} {z:.10f}\n" for s, (x, y, z) in zip(symbols, np.asarray(positions_nc)))
    Path(path).write_text(f"{len(symbols)}\n{comment}\n{rows}")


_FORCES_HEAD = "ATOMIC FORCES in [a.u.]"
_ENERGY_RE = re.compile(r"ENERGY\|\s*Total FORCE_EVAL.*?:\s*(\S+)")


def read_single_point(out_path, symbols) -> tuple[float, np.ndarray]:
    """(energy in eV, forces (n, 3) in eV/Å) from the output of :func:`single_point_deck`'s calculation of
    the atoms ``symbols`` (their order is checked). SinglePointError when the output is missing, the run did
    not finish, or its SCF did not converge (CP2K then prints forces that are not the DFT ones). CP2K
    appends to an output file that exists: only the last run in it (from its last banner) is read."""
    out_path = os.fspath(out_path)
    if not os.path.exists(out_path):
        raise SinglePointError(f"{out_path}: no CP2K output (the single point has not run)")
    lines, _ = read_lines(out_path)
    starts = [i for i, ln in enumerate(lines) if "PROGRAM STARTED AT" in ln]
    lines = lines[starts[-1]:] if starts else lines  # CP2K appends to an existing output: the last run counts
    text = "\n".join(lines)
    if "SCF run NOT converged" in text:
        raise SinglePointError(f"{out_path}: the SCF did not converge (CP2K says 'SCF run NOT converged'); its forces "
                               f"are not the DFT forces, so this frame is left out")
    energies = _ENERGY_RE.findall(text)
    heads = [i for i, ln in enumerate(lines) if _FORCES_HEAD in ln]
    if not energies or not heads:
        raise SinglePointError(f"{out_path}: no {'energy' if not energies else 'forces'} in the output (the run did "
                               f"not finish; its end says: {lines[-1].strip() if lines else 'nothing'})")
    n = len(symbols)
    rows = []
    for ln in lines[heads[-1] + 1:]:
        parts = ln.split()
        if len(parts) >= 6 and parts[0].isdigit():
            rows.append(parts)
            if len(rows) == n:
                break
    if len(rows) != n:
        raise SinglePointError(f"{out_path}: {len(rows)} atoms in the forces table, expected {n}")
    got = [r[2] for r in rows]
    want = [re.sub(r"\d+$", "", s) or s for s in symbols]
    if [g.upper() for g in got] != [w.upper() for w in want]:
        raise SinglePointError(f"{out_path}: the atoms of the forces table are not the frame's ({got[:4]}... against "
                               f"{want[:4]}...)")
    forces = np.array([[float(x) for x in r[3:6]] for r in rows]) * HARTREE_PER_BOHR_EV_PER_A
    return float(energies[-1]) * HARTREE_EV, forces
