"""Time to write one MD frame to every trajectory file of a run directory, for two source trees.

    python benchmarks/bench_output.py --a /path/to/old/checkout --b . [--repeats 3] [--write]

A frame is what `mldyn run` writes per trajectory step: trajectory.extxyz (positions, forces,
velocities, masses, momenta) and the CP2K-style pos, vel and frc files. Water boxes of 96 and
3072 atoms, 200 and 20 frames per block. Every measurement runs in its own process with the
tree's ``python/`` first on the path; A and B alternate and the best block counts.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _results import markdown_table, write_section

SYSTEMS = [(96, 200), (3072, 20)]

CHILD = """
import json, sys, tempfile, time
from pathlib import Path
import numpy as np
from mldyn.dataset import Dataset
from mldyn.io.cp2k_writer import write_cp2k_xyz
from mldyn.io.xyz import write_extxyz
n, frames = {n}, {frames}
rng = np.random.default_rng(0)
species = np.tile([0, 1, 1], n // 3).astype(np.int32)
masses = np.where(species == 0, 15.999, 1.008)
pos = rng.uniform(0, 30, size=(frames, n, 3)); vel = rng.normal(size=(frames, n, 3)) * 0.01
frc = rng.normal(size=(frames, n, 3))
data = Dataset(["O", "H"], species, masses, pos, np.tile(np.eye(3) * 30, (frames, 1, 1)), vel, frc,
               np.arange(frames), 0.5 * np.arange(frames), rng.normal(size=frames))
best = float("inf")
with tempfile.TemporaryDirectory() as tmp:
    for block in range(5):
        t0 = time.perf_counter()
        write_extxyz(Path(tmp) / "t.extxyz", data, ase_momenta=True)
        for kind, arr in (("pos", pos), ("vel", vel), ("frc", frc)):
            write_cp2k_xyz(Path(tmp) / f"{{kind}}.xyz", data.symbols, arr, data.steps_f, data.times_f, kind=kind)
        best = min(best, (time.perf_counter() - t0) / frames)
print(json.dumps(best * 1e3))
"""


def measure(tree: Path, n: int, frames: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD.format(n=n, frames=frames)], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(tree / "python"), "PATH": "/usr/bin:/bin"})
    return float(json.loads(out.stdout))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", type=Path, required=True, help="tree A (before)")
    ap.add_argument("--b", type=Path, required=True, help="tree B (after)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="write the table to RESULTS.md")
    args = ap.parse_args()
    rows = []
    for n, frames in SYSTEMS:
        a = b = float("inf")
        for _ in range(args.repeats):
            a = min(a, measure(args.a.resolve(), n, frames))
            b = min(b, measure(args.b.resolve(), n, frames))
        rows.append([f"{n} atoms", f"{a:.3f}", f"{b:.3f}", f"{b / a:.2f}"])
    table = markdown_table(["frame", "A: ms per frame", "B: ms per frame", "B/A"], rows)
    print(table)
    if args.write:
        write_section("Output writing: one frame to every trajectory file (bench_output.py)",
                      f"A = {args.a}, B = {args.b} (best of {args.repeats} alternating processes x 5 blocks).\n\n"
                      + table)


if __name__ == "__main__":
    main()
