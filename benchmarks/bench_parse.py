"""CP2K reader speed: a synthetic 1000-frame, 384-atom run (pos, vel, frc xyz files + .ener + .cell).

    python benchmarks/bench_parse.py [--frames 1000] [--atoms 384] [--gzip] [--write]

Writes the run to a temporary directory with mldyn's CP2K writers, then times
``mldyn.io.cp2k_reader.read_cp2k`` (best of 3) and prints the seconds. Target: < 2 s.
--write stores the result in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from mldyn.io.cp2k_reader import read_cp2k
from mldyn.io.cp2k_writer import write_cp2k_cell, write_cp2k_ener, write_cp2k_xyz

TARGET_S = 2.0


def write_synthetic_run(directory: str, frames: int, atoms: int, gzip: bool = False, seed: int = 0) -> None:
    """A CP2K-style run of ``frames`` frames of ``atoms`` atoms (1/3 O, 2/3 H) in ``directory``, project BENCH."""
    rng = np.random.default_rng(seed)
    box = 15.6404
    symbols = (["O"] * (atoms // 3) + ["H"] * (atoms - atoms // 3))
    steps = np.arange(frames)
    times = steps * 0.5
    pos = rng.uniform(0.0, box, size=(frames, atoms, 3))
    vel = rng.normal(scale=0.01, size=(frames, atoms, 3))   # Å/fs
    frc = rng.normal(scale=2.0, size=(frames, atoms, 3))    # eV/Å
    epot = -15000.0 + rng.normal(size=frames)                # eV
    gz = ".gz" if gzip else ""
    for kind, arr in (("pos", pos), ("vel", vel), ("frc", frc)):
        write_cp2k_xyz(f"{directory}/BENCH-{kind}-1.xyz{gz}", symbols, arr, steps, times, epot, kind)
    write_cp2k_ener(f"{directory}/BENCH-1.ener", steps, times, np.full(frames, 20.0), np.full(frames, 300.0), epot)
    write_cp2k_cell(f"{directory}/BENCH-1.cell", steps, times, np.eye(3) * box)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--atoms", type=int, default=384)
    parser.add_argument("--gzip", action="store_true", help="gzip the xyz files")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the result to benchmarks/RESULTS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic_run(tmp, args.frames, args.atoms, args.gzip)
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ds = read_cp2k(tmp)
            best = min(best, time.perf_counter() - t0)
        assert ds.n_frames == args.frames and ds.n_atoms == args.atoms
    verdict = "OK" if best < TARGET_S else "SLOWER THAN TARGET"
    print(f"read_cp2k: {args.frames} frames x {args.atoms} atoms, pos+vel+frc{' (gzip)' if args.gzip else ''} "
          f"+ .ener + .cell: best of {args.repeats} = {best:.3f} s (target < {TARGET_S:.0f} s: {verdict})")
    if args.write:
        from _results import write_section

        write_section("CP2K parsing (bench_parse.py)",
                      f"`read_cp2k` on {args.frames} frames x {args.atoms} atoms (three xyz files{', gzip' if args.gzip else ''}"
                      f", .ener, .cell): best of {args.repeats} = **{best:.3f} s** (target < {TARGET_S:.0f} s).\n")


if __name__ == "__main__":
    main()
