"""A fit and an MD run on a quiet machine and next to busy processes, for two source trees.

    python benchmarks/bench_load.py --a /path/to/old/checkout --b . [--busy 2] [--write]

Fit: `mldyn fit @h2o32 --recipe paper` (600 frames, 18 functions). MD: 3000 steps of a small
quadratic water model on the bundled 96-atom box. Busy: ``--busy`` processes spinning in Python
on the same cores (on this 2-core VM, 2 keep every core busy). Each command runs in its own
process with the tree's ``python/`` first on the path; times are wall-clock, best of two.
Issue 13's target: within 2x of the quiet time under a competing busy process.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import markdown_table, write_section

CLI = "import sys; from mldyn.cli import main; sys.exit(main())"


def timed(tree: Path, argv, tmp: Path) -> float:
    best = float("inf")
    for _ in range(2):
        shutil.rmtree(tmp / "run", ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", CLI, *argv], check=True, capture_output=True, cwd=tmp,
                       env={"PYTHONPATH": str(tree / "python"), "PATH": "/usr/bin:/bin"})
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", type=Path, required=True, help="tree A (before)")
    ap.add_argument("--b", type=Path, required=True, help="tree B (after)")
    ap.add_argument("--busy", type=int, default=2, help="competing busy processes (default 2)")
    ap.add_argument("--write", action="store_true", help="write the table to RESULTS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        model = tmp / "md.json"
        subprocess.run([sys.executable, "-c", "import mldyn; from mldyn.fit import fit_model; "
                        "from mldyn.io import load_dataset; "
                        "d = load_dataset('@h2o32').subset(range(0, 600, 10)); "
                        "b = mldyn.Basis((('exp', 1.0), ('gauss', 1.0), ('power', 1.0)), r_cut=4.0, r_on=3.0); "
                        f"fit_model(d, b, 'quadratic', progress=False, walls=1000.0).model.save({str(model)!r})"],
                       check=True, env={"PYTHONPATH": str(args.b.resolve() / "python"), "PATH": "/usr/bin:/bin"})
        jobs = {"fit (paper recipe, 600 frames)": ["fit", "@h2o32", "-o", "fit.json", "--recipe", "paper", "--quiet"],
                "MD (3000 steps, 96 atoms)": ["run", str(model), "--init", "@h2o32@-1", "--temperature", "450",
                                              "--steps", "3000", "--traj-every", "100", "--quiet", "-o", "run"]}
        quiet = {(t, j): timed(tree.resolve(), argv, tmp) for j, argv in jobs.items() for t, tree in
                 (("A", args.a), ("B", args.b))}
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
        try:
            time.sleep(1.0)
            busy = {(t, j): timed(tree.resolve(), argv, tmp) for j, argv in jobs.items() for t, tree in
                    (("A", args.a), ("B", args.b))}
        finally:
            for p in spinners:
                p.kill()
    rows = [[j, t, f"{quiet[(t, j)]:.2f}", f"{busy[(t, j)]:.2f}", f"{busy[(t, j)] / quiet[(t, j)]:.2f}x"]
            for j in jobs for t in ("A", "B")]
    table = markdown_table(["job", "tree", "quiet (s)", f"next to {args.busy} busy processes (s)", "busy / quiet"],
                           rows)
    print(table)
    if args.write:
        write_section("Under load: a fit and an MD run next to busy processes (bench_load.py)",
                      f"A = {args.a.name} (BLAS threads free), B = {args.b.name} (BLAS on one thread during the "
                      f"fit). Wall-clock, best of two.\n\n" + table)


if __name__ == "__main__":
    main()
