"""``mldyn cp2k-input``: write a ready-to-run CP2K MD deck (units: Å, fs, K, Ry)."""
from __future__ import annotations

import argparse
import shlex
import shutil

from ..io.cp2k_deck import METHODS, write_cp2k_input

#: CP2K executables looked for on PATH, in order of preference, for the printed run line.
CP2K_EXECUTABLES = ("cp2k.psmp", "cp2k.ssmp", "cp2k.popt", "cp2k.sopt", "cp2k")


def find_cp2k():
    """Return the name of the first CP2K executable on PATH (see :data:`CP2K_EXECUTABLES`), or None."""
    for name in CP2K_EXECUTABLES:
        if shutil.which(name):
            return name
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``cp2k-input`` options to ``parser``."""
    parser.add_argument("structure", nargs="?", metavar="STRUCTURE",
                        help="XYZ file of the starting structure (extended XYZ Lattice=\"...\" gives the cell); "
                             "omit it with --water")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write the deck into (created)")
    parser.add_argument("--project", default="mldyn", help="CP2K project name, prefix of its files (default: mldyn)")
    parser.add_argument("--method", default="pade-dzvp", choices=list(METHODS),
                        help="; ".join(f"{k}: {v['help']}" for k, v in METHODS.items()) + " (default: pade-dzvp)")
    parser.add_argument("--steps", type=int, default=1000, help="MD steps; CP2K writes steps+1 frames (default: 1000)")
    parser.add_argument("--temperature", type=float, default=300.0, metavar="K",
                        help="initial (NVE) or thermostat (NVT) temperature in K (default: 300)")
    parser.add_argument("--timestep", type=float, default=0.5, metavar="FS", help="time step in fs (default: 0.5)")
    parser.add_argument("--ensemble", default="nve", type=str.lower, choices=["nve", "nvt"],
                        help="nve, or nvt with a CSVR thermostat (default: nve)")
    parser.add_argument("--thermostat-timecon", type=float, default=100.0, metavar="FS",
                        help="CSVR thermostat time constant in fs, NVT only (default: 100)")
    parser.add_argument("--cell", type=float, nargs="+", metavar="L",
                        help="cell in Å: one length (cubic), three lengths (orthorhombic) or 9 numbers (rows a, b, c)")
    parser.add_argument("--cutoff", type=float, default=280.0, metavar="RY", help="plane-wave cutoff in Ry (default: 280)")
    parser.add_argument("--rel-cutoff", type=float, default=30.0, metavar="RY", help="relative cutoff in Ry (default: 30)")
    parser.add_argument("--seed", type=int, default=2000,
                        help="CP2K random seed (initial velocities) and water-box seed (default: 2000)")
    parser.add_argument("--frame", type=int, default=0, help="frame of a multi-frame XYZ file (0 first, -1 last; default 0)")
    parser.add_argument("--water", type=int, metavar="N",
                        help="instead of STRUCTURE, build a cubic box of N water molecules at --water-density")
    parser.add_argument("--water-density", type=float, default=1.0, metavar="G_CM3",
                        help="mass density of the --water box in g/cm³ (default: 1.0)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing deck in DIR")


def run(args: argparse.Namespace) -> int:
    """Write the deck described by ``args``, print where it is and how to run CP2K; return 0."""
    if args.cell is not None and len(args.cell) not in (1, 3, 9):
        raise ValueError(f"--cell takes 1, 3 or 9 numbers (Å), got {len(args.cell)}")
    if args.water is not None:
        if args.structure is not None:
            raise ValueError("give either STRUCTURE or --water N, not both")
        if args.cell is not None:
            raise ValueError("--water builds its own cubic cell (set its size with --water-density); drop --cell")
        from ..structures import water_box

        symbols, positions, lengths = water_box(args.water, density=args.water_density, seed=args.seed)
        structure, cell = (symbols, positions), lengths
        what = f"{args.water} water molecules, cubic cell {lengths[0]:.4f} Å ({args.water_density:g} g/cm³)"
    elif args.structure is not None:
        structure, cell = args.structure, args.cell
        what = args.structure
    else:
        raise ValueError("no structure: give an XYZ file STRUCTURE or --water N")

    deck = write_cp2k_input(
        structure, args.output, project=args.project, method=args.method, steps=args.steps,
        temperature=args.temperature, timestep=args.timestep, ensemble=args.ensemble, cutoff=args.cutoff,
        rel_cutoff=args.rel_cutoff, cell=cell, seed=args.seed, thermostat_timecon=args.thermostat_timecon,
        frame=args.frame, overwrite=args.force)

    exe = find_cp2k() or "cp2k.psmp"
    out = deck.with_suffix(".out").name
    print(f"wrote {deck} and {deck.parent / (args.project + '-init.xyz')} ({what}; method {args.method}, "
          f"{args.ensemble.upper()}, {args.steps} steps of {args.timestep:g} fs at {args.temperature:g} K)")
    print("run CP2K with:")
    print(f"  cd {shlex.quote(str(deck.parent))} && {exe} -i {shlex.quote(deck.name)} -o {shlex.quote(out)}")
    print(f"  (in parallel: mpirun -np 2 {exe} ...; CP2K is Debian's package 'cp2k')")
    return 0
