"""mldyn bench [--quick] [--max-atoms N] [--write] ...: the side-by-side speed benchmark.

Runs ``benchmarks/bench.py`` of a source checkout (mldyn, the pure-numpy reference, LAMMPS
SPC/Fw, CP2K and the paper's numbers in one table): the one beside an editable install, or else
the one under the current directory (run from the repository root after ``pip install .``).
The benchmarks are not part of an installed wheel: without a checkout this command says so and stops.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench.py"   # python/mldyn/commands -> repo


def find_script() -> Path | None:
    """benchmarks/bench.py of the editable checkout, or of the current directory."""
    for candidate in (SCRIPT, Path.cwd() / "benchmarks" / "bench.py"):
        if candidate.is_file():
            return candidate
    return None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="sizes up to about 25,000 atoms, shorter timings")
    p.add_argument("--max-atoms", type=int, default=None, help="largest system (default 1,100,000)")
    p.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default 1 2)")
    p.add_argument("--seconds", type=float, default=None, help="timed seconds per measurement")
    p.add_argument("--no-lammps", action="store_true", help="skip LAMMPS")
    p.add_argument("--no-numpy", action="store_true", help="skip the numpy reference timings")
    p.add_argument("--write", action="store_true",
                   help="write benchmarks/RESULTS.md (section 'Side by side'), bench.json and scaling.png")


def run(args) -> int:
    script = find_script()
    if script is None:
        print(f"mldyn bench: the benchmarks are not available here (neither {SCRIPT} nor "
              f"{Path.cwd() / 'benchmarks' / 'bench.py'} exists). They live in the source repository "
              "(benchmarks/bench.py) and are not installed with the package: run this command from the "
              "root of a source checkout, or from an editable install (pip install -e .).", file=sys.stderr)
        return 2
    cmd = [sys.executable, str(script)]
    if args.quick:
        cmd.append("--quick")
    if args.max_atoms is not None:
        cmd += ["--max-atoms", str(args.max_atoms)]
    if args.threads:
        cmd += ["--threads", *map(str, args.threads)]
    if args.seconds is not None:
        cmd += ["--seconds", str(args.seconds)]
    for flag in ("no_lammps", "no_numpy", "write"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    return subprocess.run(cmd).returncode
