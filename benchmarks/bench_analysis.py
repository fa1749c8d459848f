"""Analysis of one large frame (RDFs, hydrogen owners, closest contacts), for two source trees.

    python benchmarks/bench_analysis.py --a /path/to/old/checkout --b . [--write]

Frames: the last bundled CP2K frame replicated to 3,072 and 105,600 atoms. Each tree runs in its
own process with its ``python/`` first on the path; the old all-pairs analysis is run only where it
fits (3,072 atoms), since at 100k atoms it needs hours and tens of GB.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _results import markdown_table, write_section

SYSTEMS = [("3,072 atoms", (4, 4, 2), True), ("105,600 atoms", (10, 10, 11), False)]

CHILD = """
import json, time
import numpy as np
from mldyn.dataset import Dataset
from mldyn.io import load_dataset
from mldyn import analysis as A
from mldyn.analysis.contacts import closest_pairs
ref = load_dataset("@h2o32")
reps = {reps!r}
cell = ref.cells_f33[-1]
shifts = np.array([[i, j, k] for i in range(reps[0]) for j in range(reps[1]) for k in range(reps[2])]) @ cell
pos = (ref.positions_fnc[-1][None] + shifts[:, None]).reshape(-1, 3)
m = len(shifts)
d = Dataset(ref.species_names, np.tile(ref.species_n, m), np.tile(ref.masses_n, m), pos[None],
            (np.diag(reps) @ cell)[None], None, None, np.array([0]), np.array([0.0]))
out = {{}}
t = time.perf_counter()
for a, b in (("O", "O"), ("O", "H"), ("H", "H")):
    A.rdf(d, a, b, r_max=6.0)
out["rdf (3 pairs, r_max 6 Å)"] = time.perf_counter() - t
t = time.perf_counter(); A.water_geometry(d); out["hydrogen owners"] = time.perf_counter() - t
t = time.perf_counter(); closest_pairs(d); out["closest contacts"] = time.perf_counter() - t
print(json.dumps(out))
"""


def measure(tree: Path, reps) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(reps=reps)], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(tree / "python"), "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", type=Path, required=True, help="tree A (before)")
    ap.add_argument("--b", type=Path, required=True, help="tree B (after)")
    ap.add_argument("--write", action="store_true", help="write the table to RESULTS.md")
    args = ap.parse_args()
    rows = []
    for label, reps, run_a in SYSTEMS:
        b = measure(args.b.resolve(), reps)
        a = measure(args.a.resolve(), reps) if run_a else {}
        for task, tb in b.items():
            ta = a.get(task)
            rows.append([label, task, f"{ta:.2f}" if ta is not None else "not run (O(N²))", f"{tb:.3f}",
                         f"{ta / tb:.0f}x" if ta is not None else "-"])
    table = markdown_table(["frame", "analysis", "A (s)", "B (s)", "A/B"], rows)
    print(table)
    if args.write:
        write_section("Analysis of one large frame (bench_analysis.py)",
                      "A = all-pairs numpy analysis (bcb088a), B = pairs from the core's neighbour search (cell "
                      "list); one process per tree and frame.\n\n" + table)


if __name__ == "__main__":
    main()
