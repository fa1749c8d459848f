"""What the per-agent force uncertainty costs in MD: evaluated every 10 steps against the MD step itself.

    python benchmarks/bench_uncertainty.py [--model model.json] [--threads 1 2] [--blocks 40] [--write]

The 384-atom water box of bench.py (128 H2O, 15.64 Å) with the recommended model (`mldyn fit @h2o32`,
fitted here if --model is not given; linear, about 240 fitted parameters per species). In one process per thread
count, blocks alternate: 10 NVT steps (0.5 fs) recording one thermo row, and the same with the uncertainty
tracked, as `mldyn run --uncertainty` does (the thermo row's uncertainty is computed with the forces of the step
that reaches it: one pass over the invariants' gradients gives both); the best block of each counts (other load
on a shared machine only ever adds time). For reference, the evaluation apart (`model.force_uncertainty`:
invariants with gradients, then the leverage kernel) is timed too. Issue 14's target: the evaluation every 10
steps costs at most 20% of an MD step.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _results import markdown_table, write_section

HERE = Path(__file__).resolve().parent

CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
import numpy as np, mldyn, bench_scaling
from mldyn.model import load_model
model = load_model({model!r})
_, pos, species, cell = bench_scaling.system((1, 1, 1), 18)
mldyn.set_num_threads({threads})
sim = mldyn.Simulation(model, pos, species, cell, dt=0.5, temperature=300.0, chain=1, seed=1)
sim.run(20)
ids = sim.species_n
plain, with_u, evals, features, kernel = [], [], [], [], []
cov = model.covariance
for _ in range({blocks}):
    sim.track_uncertainty(False)
    t0 = time.perf_counter(); sim.run_recording(10, 0, 10); plain.append((time.perf_counter() - t0) / 10)
    sim.track_uncertainty(True)
    t0 = time.perf_counter(); sim.run_recording(10, 0, 10); with_u.append((time.perf_counter() - t0) / 10)
    t0 = time.perf_counter(); model.force_uncertainty(sim.positions, ids, sim.cell); evals.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); phi, dphi = model.features(sim.positions, ids, sim.cell); t1 = time.perf_counter()
    cov.leverage(phi, dphi, ids, model.n_quadratic); t2 = time.perf_counter()
    features.append(t1 - t0); kernel.append(t2 - t1)
print(json.dumps({{"step": min(plain), "step_with_u": min(with_u), "eval": min(evals), "features": min(features),
                  "kernel": min(kernel), "params": [len(p) for p in cov.params]}}))
"""


def measure(model: str, threads: int, blocks: int) -> dict:
    code = CHILD.format(here=str(HERE), model=model, threads=threads, blocks=blocks)
    env = dict(os.environ)  # the OpenMP environment a user has (as bench_models.py, and LAMMPS there)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model file (default: fit the recommended model on @h2o32 here)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--blocks", type=int, default=40, help="alternating blocks of 10 steps (the minimum of a difference of two timings needs many)")
    ap.add_argument("--write", action="store_true", help="write the section of RESULTS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            model = str(Path(tmp) / "model.json")
            subprocess.run(["mldyn", "fit", "@h2o32", "-o", model, "--quiet"], check=True, capture_output=True)
        rows = []
        for threads in args.threads:
            r = measure(model, threads, args.blocks)
            per_step = (r["step_with_u"] - r["step"]) / r["step"]
            rows.append([threads, f"{1e3 * r['step']:.2f}", f"{100 * per_step:.0f}%", f"{1e3 * r['eval']:.2f}",
                         f"{1e3 * r['features']:.2f}", f"{1e3 * r['kernel']:.2f}",
                         f"{100 * r['eval'] / (10 * r['step']):.0f}%"])
            print(threads, r, flush=True)
    body = (f"384 atoms (128 H2O), recommended model ({r['params'][0]} and {r['params'][1]} fitted parameters for O "
            f"and H), NVT step 0.5 fs, cell list; best of {args.blocks} alternating blocks of 10 steps.\n\n"
            + markdown_table(["threads", "MD step (ms)", "uncertainty every 10 steps, per step (as mldyn run: "
                              "10 tracked steps vs 10 steps)", "evaluation apart (ms)", "of which invariants + "
                              "gradients (ms)", "of which leverage kernel (ms)", "apart every 10 steps, per step"],
                             rows)
            + "\nIssue 14's target: at most 20% of an MD step when evaluated every 10 steps.\n")
    print(body)
    if args.write:
        write_section("Force uncertainty in MD (bench_uncertainty.py)", body)


if __name__ == "__main__":
    main()
