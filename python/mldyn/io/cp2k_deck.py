"""Write ready-to-run CP2K input decks for ab initio MD training data.

:func:`write_cp2k_input` writes ``<project>.inp`` and ``<project>-init.xyz`` into a
directory. Running ``cp2k.psmp -i <project>.inp -o <project>.out`` there (CP2K 2023.1,
Debian package ``cp2k``, data files in ``/usr/share/cp2k``) makes the files that
:func:`mldyn.io.cp2k_reader.read_cp2k` reads, every MD step:

- ``<project>-pos-1.xyz`` positions (Å), comment ``i = step, time = fs, E = Hartree``
- ``<project>-vel-1.xyz`` velocities (Bohr per atomic unit of time)
- ``<project>-frc-1.xyz`` forces (Hartree/Bohr)
- ``<project>-1.ener`` step, time (fs), kinetic (Hartree), temperature (K), potential
  (Hartree), conserved quantity (Hartree), CPU time (s)
- ``<project>-1.cell`` step, time (fs), cell vectors A, B, C (Å), volume (Å³)

plus ``<project>-1.restart`` every 50 steps. Units of the arguments: Å, fs, K, Ry.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from ..cell import cell_matrix
from ..elements import ELEMENT_SYMBOLS, element_symbol
from .xyz import read_structure

__all__ = ["METHODS", "write_cp2k_input", "parse_cell", "format_deck", "kinds_for"]

# Valence charges of the GTH pseudopotentials used here (the ``-qN`` suffix of the
# potential and basis names in Debian's /usr/share/cp2k/POTENTIAL, GTH_BASIS_SETS and
# BASIS_MOLOPT, CP2K 2023.1). Every name below was checked to exist in those files.
_VALENCE = {
    "H": 1, "He": 2, "Li": 3, "Be": 4, "B": 3, "C": 4, "N": 5, "O": 6, "F": 7, "Ne": 8,
    "Na": 9, "Mg": 10, "Al": 3, "Si": 4, "P": 5, "S": 6, "Cl": 7, "Ar": 8, "K": 9, "Ca": 10,
}
assert tuple(_VALENCE) == ELEMENT_SYMBOLS  # the elements element_symbol() recognises
# GTH_BASIS_SETS has SZV-GTH / DZVP-GTH for H..Ar only; BASIS_MOLOPT has the
# DZVP-MOLOPT-SR-GTH sets for all of H..Ca.
_GTH_BASIS_ELEMENTS = frozenset(_VALENCE) - {"K", "Ca"}
_MOLOPT_ELEMENTS = frozenset(_VALENCE)

#: The electronic-structure methods :func:`write_cp2k_input` knows. For each: the
#: exchange-correlation functional, the basis set and pseudopotential name patterns
#: (``{q}`` is the valence charge), the CP2K data files that hold them, the elements
#: covered, optional Grimme D3 dispersion, and a one-line description.
METHODS = {
    "pade-szv": dict(
        xc="PADE", basis="SZV-GTH-q{q}", potential="GTH-PADE-q{q}", basis_file="GTH_BASIS_SETS",
        potential_file="POTENTIAL", elements=_GTH_BASIS_ELEMENTS, d3=None,
        help="LDA (Pade) with a minimal SZV basis: cheapest, for tests and smoke runs"),
    "pade-dzvp": dict(
        xc="PADE", basis="DZVP-GTH-q{q}", potential="GTH-PADE-q{q}", basis_file="GTH_BASIS_SETS",
        potential_file="POTENTIAL", elements=_GTH_BASIS_ELEMENTS, d3=None,
        help="LDA (Pade) with DZVP: the method of mldyn's 32-water reference data"),
    "pbe-dzvp": dict(
        xc="PBE", basis="DZVP-MOLOPT-SR-GTH-q{q}", potential="GTH-PBE-q{q}", basis_file="BASIS_MOLOPT",
        potential_file="POTENTIAL", elements=_MOLOPT_ELEMENTS, d3=None,
        help="PBE GGA with the DZVP-MOLOPT-SR basis"),
    "pbe-d3-dzvp": dict(
        xc="PBE", basis="DZVP-MOLOPT-SR-GTH-q{q}", potential="GTH-PBE-q{q}", basis_file="BASIS_MOLOPT",
        potential_file="POTENTIAL", elements=_MOLOPT_ELEMENTS, d3="PBE",
        help="PBE with Grimme D3 dispersion and the DZVP-MOLOPT-SR basis (a common choice for water)"),
    "blyp-dzvp": dict(
        xc="BLYP", basis="DZVP-MOLOPT-SR-GTH-q{q}", potential="GTH-BLYP-q{q}", basis_file="BASIS_MOLOPT",
        potential_file="POTENTIAL", elements=_MOLOPT_ELEMENTS, d3=None,
        help="BLYP GGA with the DZVP-MOLOPT-SR basis"),
}

_ENSEMBLES = ("NVE", "NVT")
_PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def parse_cell(cell) -> np.ndarray:
    """Return the cell of a deck as a (3, 3) array of row vectors a, b, c in Å.

    ``cell`` is anything :func:`mldyn.cell.cell_matrix` takes except None: a number L (cubic),
    three lengths (a, b, c) (orthorhombic), or nine numbers / a 3x3 array whose rows are a, b, c
    (triclinic). The cell must be finite with a positive volume (right-handed a, b, c).
    """
    if cell is None:
        raise ValueError("cell must be a length, 3 lengths or 9 numbers (3x3 rows a, b, c) in Å, got None")
    mat = cell_matrix(cell)
    if not np.all(np.isfinite(mat)):
        raise ValueError(f"cell must be finite, got {mat.tolist()}")
    if np.any(np.linalg.norm(mat, axis=1) <= 0) or np.linalg.det(mat) <= 1e-9:
        raise ValueError(f"cell must have positive lengths and a positive volume (right-handed rows a, b, c), got {mat.tolist()}")
    return mat


def kinds_for(symbols, method: str):
    """The KIND entries for the elements in ``symbols`` under ``method``.

    Returns a list of ``(element, basis_set_name, potential_name)`` in first-appearance
    order. Raises ValueError for an unknown method or an element the method's data
    files do not cover.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    spec = METHODS[method]
    out = []
    for el in dict.fromkeys(symbols):
        if el not in spec["elements"]:
            raise ValueError(
                f"element {el!r} is not supported by method {method!r} "
                f"(supported: {' '.join(sorted(spec['elements'], key=lambda e: list(_VALENCE).index(e)))})")
        q = _VALENCE[el]
        out.append((el, spec["basis"].format(q=q), spec["potential"].format(q=q)))
    return out


# --------------------------------------------------------------------------- deck


def _fmt(x: float) -> str:
    return f"{x:.10f}"


def format_deck(*, project, coord_file, symbols, cell_cc, method, steps, temperature, timestep,
                ensemble, cutoff, rel_cutoff, seed, thermostat_timecon) -> str:
    """Return the text of the CP2K input deck (arguments as in :func:`write_cp2k_input`,
    already validated; ``cell_cc`` is a (3, 3) array of row vectors in Å)."""
    spec = METHODS[method]
    lines = []
    add = lines.append
    add(f"# CP2K input written by mldyn (method {method}: {spec['help']}).")
    add("# Units: CUTOFF/REL_CUTOFF Ry, TEMPERATURE K, TIMESTEP fs, cell Angstrom.")
    add("&GLOBAL")
    add("  PRINT_LEVEL LOW")
    add(f"  PROJECT {project}")
    add("  RUN_TYPE MD")
    add(f"  SEED {seed}")
    add("&END GLOBAL")
    add("&MOTION")
    add("  &MD")
    add(f"    ENSEMBLE {ensemble}")
    add(f"    STEPS {steps}")
    add(f"    TEMPERATURE {temperature!r}")
    add(f"    TIMESTEP {timestep!r}")
    if ensemble == "NVT":
        add("    &THERMOSTAT")
        add("      TYPE CSVR")
        add("      REGION GLOBAL")
        add("      &CSVR")
        add(f"        TIMECON {thermostat_timecon!r}")
        add("      &END CSVR")
        add("    &END THERMOSTAT")
    add("  &END MD")
    add("  &PRINT")
    for key in ("TRAJECTORY", "VELOCITIES", "FORCES", "CELL"):
        add(f"    &{key}")
        add("      &EACH")
        add("        MD 1")
        add("      &END EACH")
        add(f"    &END {key}")
    add("    &RESTART")
    add("      &EACH")
    add("        MD 50")
    add("      &END EACH")
    add("    &END RESTART")
    add("  &END PRINT")
    add("&END MOTION")
    add("&FORCE_EVAL")
    add("  METHOD QS")
    add("  &DFT")
    add(f"    BASIS_SET_FILE_NAME {spec['basis_file']}")
    add(f"    POTENTIAL_FILE_NAME {spec['potential_file']}")
    add("    &MGRID")
    add(f"      CUTOFF {cutoff!r}")
    add(f"      REL_CUTOFF {rel_cutoff!r}")
    add("    &END MGRID")
    add("    &QS")
    add("      EPS_DEFAULT 1.0E-12")
    add("      EXTRAPOLATION_ORDER 3")
    add("    &END QS")
    add("    &SCF")
    add("      SCF_GUESS ATOMIC")
    add("      EPS_SCF 1.0E-6")
    add("      MAX_SCF 50")
    add("      &OT ON")
    add("        MINIMIZER DIIS")
    add("        PRECONDITIONER FULL_SINGLE_INVERSE")
    add("      &END OT")
    add("      &OUTER_SCF")
    add("        EPS_SCF 1.0E-6")
    add("        MAX_SCF 20")
    add("      &END OUTER_SCF")
    add("      &PRINT")
    add("        &RESTART OFF")
    add("        &END RESTART")
    add("      &END PRINT")
    add("    &END SCF")
    add("    &XC")
    add(f"      &XC_FUNCTIONAL {spec['xc']}")
    add("      &END XC_FUNCTIONAL")
    if spec["d3"]:
        add("      &VDW_POTENTIAL")
        add("        POTENTIAL_TYPE PAIR_POTENTIAL")
        add("        &PAIR_POTENTIAL")
        add("          TYPE DFTD3")
        add("          PARAMETER_FILE_NAME dftd3.dat")
        add(f"          REFERENCE_FUNCTIONAL {spec['d3']}")
        add("        &END PAIR_POTENTIAL")
        add("      &END VDW_POTENTIAL")
    add("    &END XC")
    add("  &END DFT")
    add("  &SUBSYS")
    add("    &CELL")
    if np.allclose(cell_cc, np.diag(np.diag(cell_cc)), rtol=0, atol=0):
        add("      ABC [angstrom] " + " ".join(_fmt(v) for v in np.diag(cell_cc)))
    else:
        for name, row in zip("ABC", cell_cc):
            add(f"      {name} [angstrom] " + " ".join(_fmt(v) for v in row))
    add("      PERIODIC XYZ")
    add("    &END CELL")
    add("    &TOPOLOGY")
    add(f"      COORD_FILE_NAME {coord_file}")
    add("      COORD_FILE_FORMAT XYZ")
    add("    &END TOPOLOGY")
    for el, basis, potential in kinds_for(symbols, method):
        add(f"    &KIND {el}")
        add(f"      BASIS_SET {basis}")
        add(f"      POTENTIAL {potential}")
        add("    &END KIND")
    add("  &END SUBSYS")
    add("&END FORCE_EVAL")
    return "\n".join(lines) + "\n"


def _number(name, value, *, minimum=None, strict=True):
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and (v <= minimum if strict else v < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return v


def write_cp2k_input(structure, directory, project: str = "mldyn", method: str = "pade-dzvp",
                     steps: int = 1000, temperature: float = 300.0, timestep: float = 0.5,
                     ensemble: str = "NVE", cutoff: float = 280, rel_cutoff: float = 30, cell=None,
                     seed: int = 2000, thermostat_timecon: float = 100.0, frame: int = 0,
                     overwrite: bool = False) -> Path:
    """Write a ready-to-run CP2K ab initio MD deck and its coordinates into ``directory``.

    Writes ``<project>.inp`` (Quickstep GPW DFT, OT/DIIS SCF to EPS_SCF 1e-6, MD that
    prints positions, velocities, forces and the cell every step, energies to
    ``<project>-1.ener`` every step, a restart file every 50 steps; initial velocities
    drawn by CP2K at ``temperature``) and ``<project>-init.xyz`` (the coordinates).
    Run it with ``cd directory && cp2k.psmp -i <project>.inp -o <project>.out``.

    Parameters
    ----------
    structure : str, Path or tuple
        An XYZ file (plain, or extended XYZ whose comment line has ``Lattice="..."``,
        which then gives the cell unless ``cell`` is passed), or a tuple
        ``(symbols, positions_nc)``: n element symbols and an (n, 3) array in Å.
    directory : str or Path
        Output directory, created if missing.
    project : str
        CP2K project name: the prefix of every file CP2K writes (letters, digits,
        ``_ . + -``).
    method : str
        One of :data:`METHODS`: ``"pade-szv"`` (cheapest, for tests), ``"pade-dzvp"``
        (as mldyn's 32-water reference data), ``"pbe-dzvp"``, ``"pbe-d3-dzvp"``, ``"blyp-dzvp"``.
    steps : int
        Number of MD steps (>= 0); CP2K writes steps + 1 frames (0 .. steps).
    temperature : float
        Initial (NVE) or target (NVT) temperature in K (>= 0; > 0 for NVT).
    timestep : float
        MD time step in fs (> 0).
    ensemble : str
        ``"NVE"`` or ``"NVT"`` (case-insensitive); NVT uses a CSVR thermostat with
        time constant ``thermostat_timecon`` fs.
    cutoff, rel_cutoff : float
        Plane-wave density cutoff and relative cutoff of the multigrid, in Ry (> 0).
    cell : float, sequence of 3 or 9 floats, (3, 3) array, or None
        Periodic cell in Å: cubic length, orthorhombic lengths, or rows a, b, c.
        ``None`` takes the extended-XYZ ``Lattice`` of ``structure``.
    seed : int
        CP2K's random seed (GLOBAL/SEED; initial velocities, thermostat), 1 .. 2**31-1.
    thermostat_timecon : float
        CSVR time constant in fs (> 0), used for NVT only.
    frame : int
        Frame of a multi-frame XYZ ``structure`` (0 first, -1 last).
    overwrite : bool
        Replace an existing ``<project>.inp`` / ``<project>-init.xyz``; otherwise that is an error.

    Returns
    -------
    pathlib.Path
        Path of the written ``<project>.inp``.

    Raises
    ------
    ValueError
        On a missing cell, an unknown method or ensemble, an unsupported element,
        an out-of-range number, a malformed structure, or files that exist already.
    FileNotFoundError
        If ``structure`` names a file that does not exist.
    """
    # --- structure and cell
    lattice = None
    if isinstance(structure, (str, os.PathLike)):
        symbols, positions, lattice = read_structure(structure, frame=frame)
        source = str(structure)
    elif isinstance(structure, (tuple, list)) and len(structure) == 2:
        raw_symbols, positions = structure
        if isinstance(raw_symbols, str):
            raise ValueError("structure symbols must be a sequence of element symbols, not one string")
        symbols = [element_symbol(s) for s in raw_symbols]
        try:
            positions = np.asarray(positions, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("structure positions must be an (n, 3) array of numbers in Å") from None
        source = "positions given in Python"
    else:
        raise ValueError("structure must be an XYZ file path or a tuple (symbols, positions_nc in Å)")
    if positions.ndim != 2 or positions.shape[1] != 3 or len(positions) == 0:
        raise ValueError(f"structure positions must have shape (n, 3) with n >= 1, got {positions.shape}")
    if len(symbols) != len(positions):
        raise ValueError(f"structure has {len(symbols)} symbols but {len(positions)} positions")
    if not np.all(np.isfinite(positions)):
        raise ValueError("structure positions must be finite")

    if cell is not None:
        cell_cc = parse_cell(cell)
    elif lattice is not None:
        cell_cc = parse_cell(lattice)
    else:
        raise ValueError(
            "no cell: pass cell= (a length, 3 lengths or 3x3 rows in Å; CLI --cell) "
            "or use an extended XYZ file whose comment line has Lattice=\"...\"")

    # --- the other arguments
    if not isinstance(project, str) or not _PROJECT_RE.match(project):
        raise ValueError(f"project must be a file-name prefix of letters, digits and _ . + - (no spaces or /), got {project!r}")
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    method = method.lower()
    kinds_for(symbols, method)  # raises for unsupported elements
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise ValueError(f"steps must be an integer, got {steps!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if not isinstance(ensemble, str) or ensemble.upper() not in _ENSEMBLES:
        raise ValueError(f"ensemble must be one of {', '.join(_ENSEMBLES)} (case-insensitive), got {ensemble!r}")
    ensemble = ensemble.upper()
    temperature = _number("temperature (K)", temperature, minimum=0.0, strict=(ensemble == "NVT"))
    timestep = _number("timestep (fs)", timestep, minimum=0.0)
    cutoff = _number("cutoff (Ry)", cutoff, minimum=0.0)
    rel_cutoff = _number("rel_cutoff (Ry)", rel_cutoff, minimum=0.0)
    thermostat_timecon = _number("thermostat_timecon (fs)", thermostat_timecon, minimum=0.0)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 1 <= seed <= 2**31 - 1:
        raise ValueError(f"seed must be an integer in 1 .. 2**31-1, got {seed!r}")

    # --- write
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"output directory {directory} exists and is not a directory")
    deck_path = directory / f"{project}.inp"
    coord_name = f"{project}-init.xyz"
    coord_path = directory / coord_name
    if not overwrite:
        for p in (deck_path, coord_path):
            if p.exists():
                raise ValueError(f"{p} exists already (pass overwrite=True, CLI --force, to replace it)")
    directory.mkdir(parents=True, exist_ok=True)

    xyz = [str(len(symbols)), f"mldyn cp2k-input: {len(symbols)} atoms from {source}; positions in Angstrom"]
    xyz += [f"{s:<3s} {_fmt(x)} {_fmt(y)} {_fmt(z)}" for s, (x, y, z) in zip(symbols, positions)]
    coord_path.write_text("\n".join(xyz) + "\n")
    deck_path.write_text(format_deck(
        project=project, coord_file=coord_name, symbols=symbols, cell_cc=cell_cc, method=method,
        steps=int(steps), temperature=temperature, timestep=timestep, ensemble=ensemble, cutoff=cutoff,
        rel_cutoff=rel_cutoff, seed=int(seed), thermostat_timecon=thermostat_timecon))
    return deck_path
