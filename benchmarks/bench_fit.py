"""Fitting speed: the full default quadratic model (2 species x 18 functions:
36 linear + 666 quadratic coefficients per species) on 1000 frames of 384 atoms.

    python benchmarks/bench_fit.py [--frames 1000] [--write]

The frames are a 128-molecule water box (15.6404 Å) jittered per frame, with forces
from a random quadratic model plus noise, so the timing is that of a real fit.
Reports wall time of the invariants + normal-equation accumulation and of the solve,
and the peak RSS of the process.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import mldyn
from mldyn.dataset import Dataset
from mldyn.fit import fit_model
from mldyn.structures import water_box

from _results import markdown_table, write_section

BOX = 15.6404


def synthetic_dataset(n_frames: int, seed: int = 0) -> Dataset:
    symbols, pos, lengths = water_box(128, seed=seed)
    pos = np.asarray(pos) * (BOX / np.asarray(lengths))
    rng = np.random.default_rng(seed)
    frames = pos[None] + rng.normal(scale=0.08, size=(n_frames,) + pos.shape)
    species = np.array([0 if s == "O" else 1 for s in symbols], dtype=np.int32)
    basis = mldyn.Basis.paper()
    F = 2 * len(basis)
    A = rng.normal(size=(2, F))
    B = rng.normal(size=(2, F, F)) * 1e-3
    model = mldyn.AgentLossModel(["O", "H"], basis, A, B + B.transpose(0, 2, 1))
    forces = np.stack([model.forces(f, species, BOX) for f in frames])
    forces += rng.normal(scale=0.1 * forces.std(), size=forces.shape)
    return Dataset(["O", "H"], species, model.masses[species], frames, np.eye(3) * BOX, forces_fnc=forces,
                   times_f=np.arange(n_frames) * 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    data = synthetic_dataset(args.frames)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = []
    # Split so that every frame is used once: all 1000 frames go through the invariants.
    for label, select in (("quadratic, all 18 functions", None), ("quadratic + selection to 7", 7)):
        t0 = time.perf_counter()
        report = fit_model(data, loss="quadratic", select=select, split=(0.0, 0.8, 0.1, 0.1), progress=False)
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rel = ", ".join(f"{sp} {v['relative_rmse']:.3f}" for sp, v in report.table["quadratic"].items())
        rows.append([label, args.frames, f"{wall:.1f}", f"{rss:.0f}", rel])
        print(f"{label}: {wall:.1f} s, peak RSS {rss:.0f} MB (data alone {rss_data:.0f} MB); test rel. RMSE {rel}", flush=True)
    table = markdown_table(["fit", "frames (384 atoms)", "wall time (s)", "peak RSS (MB)", "test relative RMSE"], rows)
    print(table)
    if args.write:
        write_section("Fitting: 1000 frames x 384 atoms, 2 species x 18 functions (bench_fit.py)",
                      table + f"\nThreads: {mldyn.get_num_threads()}. Peak RSS includes the synthetic dataset "
                      f"({rss_data:.0f} MB).\n")


if __name__ == "__main__":
    main()
