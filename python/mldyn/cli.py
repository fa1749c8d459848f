"""The ``mldyn`` command line. Each subcommand lives in ``mldyn/commands/<name>.py``
with ``add_arguments(parser)`` and ``run(args) -> int``."""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Modules are imported only when their command runs.
COMMANDS = {
    "demo": ("demo", "The whole story on the bundled CP2K water run: fit, learned MD, comparison report"),
    "fit": ("fit", "Fit an agent-loss model to reference forces (prints Table 1, writes model JSON)"),
    "test": ("test", "Evaluate a model on every frame of a run (force RMSE per species)"),
    "run": ("run", "Run learned MD (NVE, Nosé–Hoover NVT or learning dynamics) with CP2K-style output"),
    "explore": ("explore", "Active learning: learned MD, CP2K single points of the most uncertain frames, refit; repeat"),
    "compare": ("compare", "Compare a learned run with a reference run: figures and a Markdown report"),
    "bench": ("bench", "Speed benchmark side by side with numpy, LAMMPS and CP2K (from a source checkout)"),
    "lammps-plugin": ("lammps_plugin", "Build pair_style mldyn for the installed LAMMPS and print the plugin load line"),
    "cp2k-input": ("cp2k_input", "Write a ready-to-run CP2K MD input deck that prints positions, velocities and forces every step"),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="mldyn", description="Molecular Learning Dynamics (units: Å, fs, amu, eV).")
    parser.add_argument("--version", action="version", version=f"mldyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(f"mldyn.commands.{module}").add_arguments(p)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # so commands can record how they were called
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(f"mldyn.commands.{COMMANDS[args.command][0]}")
    try:
        return int(module.run(args) or 0)
    except ValueError as exc:
        print(f"mldyn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file that cannot be read or written: which one, and why
        print(f"mldyn {args.command}: error: {os_error_text(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, FileNotFoundError) else 1
    except KeyboardInterrupt:
        print(f"\nmldyn {args.command}: interrupted", file=sys.stderr)
        return 130


def os_error_text(exc: OSError) -> str:
    """'PATH: reason' for an error of the system, the message itself for one of mldyn's own."""
    if exc.strerror is None:
        return str(exc)
    target = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else exc.filename
    return f"{target}: {exc.strerror}" if target is not None else exc.strerror


if __name__ == "__main__":
    sys.exit(main())
