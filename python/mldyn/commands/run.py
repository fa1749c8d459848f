"""mldyn run model.json --init SOURCE --steps N -o RUNDIR: learned MD with CP2K-style output."""
from __future__ import annotations

import argparse
import math
import shlex
import sys


def _positive_float(value):
    x = float(value)
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return x


def _masses(value: str) -> dict:
    out = {}
    for item in value.split(","):
        key, sep, amu = item.partition("=")
        try:
            mass = float(amu)
        except ValueError:
            mass = math.nan
        if not sep or not key.strip() or not (mass > 0 and math.isfinite(mass)):
            raise argparse.ArgumentTypeError(f"--masses takes SPECIES=AMU pairs separated by commas, e.g. "
                                             f"H=2.014,O=15.999; got {item!r}")
        out[key.strip()] = mass
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="model file (JSON) from mldyn fit")
    p.add_argument("--init", help="start: a CP2K run directory with optional frame (DIR@-1 = last frame; positions "
                                  "and velocities both taken), @h2o32 (bundled run), a dataset .npz, or an "
                                  ".xyz/.extxyz structure with optional @K (velocities from its vel or ASE momenta column, else drawn at "
                                  "--temperature)")
    p.add_argument("--steps", type=int, help="number of MD steps (with --restart: new total)")
    p.add_argument("-o", "--output", help="run directory to create")
    p.add_argument("--restart", metavar="RUNDIR", help="continue the run in RUNDIR from its last checkpoint")
    p.add_argument("--dt", type=_positive_float, default=0.5, help="time step, fs (default 0.5)")
    p.add_argument("--ensemble", choices=("nve", "nvt", "learn"), default=None,
                   help="nve: velocity Verlet; nvt: Nosé–Hoover chain; learn: the paper's learning dynamics "
                        "tau q'' = -q' + (tau/M) F (default nvt with --temperature, else nve)")
    p.add_argument("--temperature", type=_positive_float, help="NVT target and initial-velocity temperature, K")
    p.add_argument("--tdamp", type=_positive_float, default=50.0, help="thermostat damping time, fs (default 50)")
    p.add_argument("--chain", type=int, default=None,
                   help="Nosé–Hoover chain length (default: 1 for agent-loss models, whose forces pump energy in and "
                        "make a chain settle above the target; 3 for conservative pair potentials)")
    p.add_argument("--thermostat", choices=("per-species", "global"), default=None,
                   help="nvt: one Nosé–Hoover chain on all atoms (default), or one per species, each holding its "
                        "species' kinetic temperature at the target (agent forces move energy between species: with "
                        "one chain water's oxygens run hot and its hydrogens cold; the run summary shows both)")
    p.add_argument("--tau", type=_positive_float, help="memory time of --ensemble learn, fs")
    p.add_argument("--clip", type=_positive_float, help="cap on |F| per atom, eV/Å (the paper clips forces)")
    p.add_argument("--seed", type=int, default=0, help="seed for drawn velocities (default 0); velocities are drawn "
                   "when SOURCE has none, or with --draw-velocities")
    p.add_argument("--draw-velocities", action="store_true",
                   help="draw the initial velocities at --temperature from --seed even when SOURCE has velocities "
                        "(independent runs from one frame)")
    p.add_argument("--threads", type=int, default=0, help="OpenMP threads (default: all cores)")
    p.add_argument("--traj-every", type=int, default=None,
                   help="write a trajectory frame every K steps (default: every step while the whole trajectory "
                        "stays within 10 GB, else the fewest steps that keep it there, e.g. 760 for 1 ns of 10,000 "
                        "atoms; the run says the interval and the expected size before it starts)")
    p.add_argument("--thermo-every", type=int, default=10, help="write a thermo line every K steps (default 10)")
    p.add_argument("--checkpoint-every", type=int, default=1000, help="checkpoint every K steps (default 1000)")
    p.add_argument("--max-displacement", type=_positive_float, default=1.0,
                   help="stop if an atom moves farther than this in one step, Å (default 1.0)")
    p.add_argument("--contact-limit", type=float, default=0.75,
                   help="stop (exit status 1) when two atoms come closer than this fraction of the closest distance "
                        "of their species pair in the model's training data (default 0.75; 0 disables)")
    p.add_argument("--cell", type=float, nargs="+", help="cell for an .xyz structure without one: L, or a b c, "
                                                         "or 9 numbers (rows a, b, c), Å")
    p.add_argument("--masses", type=_masses, default=None, metavar="X=AMU[,Y=AMU...]",
                   help="masses for the dynamics by species or element, e.g. H=2.014 for heavy water (default: the "
                        "model's, from its training data or the periodic table)")
    p.add_argument("--neighbours", choices=("auto", "all_pairs", "cell_list"), default="auto")
    p.add_argument("--force", action="store_true",
                   help="write into an -o directory that holds a run or files mldyn did not write (files named like "
                        "mldyn's outputs are replaced, with a note; others are kept)")
    p.add_argument("--uncertainty", action="store_true",
                   help="evaluate the per-agent force uncertainty (eV/Å, from the fit's covariance) at every thermo "
                        "line: its largest value is the last column of thermo.log (about 2.5 force evaluations each)")
    p.add_argument("--max-uncertainty", type=_positive_float, metavar="EV_A",
                   help="stop (exit status 1) when an agent's force uncertainty exceeds this, eV/Å: the run has left "
                        "the region the model was fitted on (implies --uncertainty; see --on-uncertainty)")
    p.add_argument("--on-uncertainty", choices=("stop", "flag"), default="stop",
                   help="above --max-uncertainty: stop the run (default), or only count it (the summary says how "
                        "often and from which step)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# What --restart takes from the command line; everything else comes from RUNDIR/run.json.
RESTART_OPTIONS = ("restart", "steps", "quiet")


def given_options(argv) -> list[str]:
    """Destinations of the options actually on the command line ``argv`` (after ``run``), however
    spelled (abbreviated, ``--opt=value``): parsed again with every default suppressed."""
    p = argparse.ArgumentParser(add_help=False)
    add_arguments(p)
    for action in p._actions:
        action.default = argparse.SUPPRESS
    return sorted(vars(p.parse_known_args(argv)[0]))


def run(args) -> int:
    from ..md.run import Interrupted, RunConfig, RunFailed, restart_md, run_md, summary_line

    try:
        if args.restart:
            extra = [name for name in given_options(args.argv[1:]) if name not in RESTART_OPTIONS]
            if extra:
                shown = ", ".join("model" if n == "model" else "-o" if n == "output" else "--" + n.replace("_", "-")
                                  for n in extra)
                print(f"mldyn run: error: --restart continues with the settings stored in {args.restart}/run.json "
                      f"(and its own model.json, in that directory); it takes only --steps and --quiet, not {shown}. "
                      f"To change them, start a new run from its last frame: mldyn run MODEL --init "
                      f"{args.restart}@-1 ... -o NEWDIR", file=sys.stderr)
                return 2
            summary = restart_md(args.restart, args.steps, progress=not args.quiet)
        else:
            missing = [name for name, v in (("model", args.model), ("--init", args.init), ("--steps", args.steps),
                                            ("-o", args.output)) if v is None]
            if missing:
                print(f"mldyn run: error: missing {', '.join(missing)} (or use --restart RUNDIR)", file=sys.stderr)
                return 2
            cell = None
            if args.cell:
                if len(args.cell) not in (1, 3, 9):
                    print("mldyn run: error: --cell takes 1, 3 or 9 numbers (Å)", file=sys.stderr)
                    return 2
                cell = args.cell[0] if len(args.cell) == 1 else args.cell if len(args.cell) == 3 else \
                    [args.cell[0:3], args.cell[3:6], args.cell[6:9]]
            cfg = RunConfig(model=args.model, init=args.init, steps=args.steps, dt=args.dt, ensemble=args.ensemble,
                            temperature=args.temperature, tdamp=args.tdamp, chain=args.chain,
                            thermostat=args.thermostat, tau=args.tau,
                            clip=args.clip, seed=args.seed, draw_velocities=args.draw_velocities,
                            threads=args.threads, traj_every=args.traj_every,
                            thermo_every=args.thermo_every, checkpoint_every=args.checkpoint_every,
                            max_displacement=args.max_displacement, contact_limit=args.contact_limit,
                            neighbours=args.neighbours, cell=cell, masses=args.masses,
                            uncertainty=args.uncertainty, max_uncertainty=args.max_uncertainty,
                            on_uncertainty=args.on_uncertainty,
                            command=shlex.join(["mldyn"] + args.argv))
            summary = run_md(cfg, args.output, progress=not args.quiet, force=args.force)
    except RunFailed as exc:
        print(f"mldyn run: stopped: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"\nmldyn run: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before the run directory was touched
        print("\nmldyn run: interrupted before the run started; nothing was written", file=sys.stderr)
        return 130
    print(summary_line(summary))
    return 0
