"""Scaling of a complete MD step (forces + Nosé–Hoover integrator) with system size.

Water boxes replicated from a 384-atom box (128 H2O, 15.6404 Å) up to about a million atoms,
a fixed 7.8 Å cutoff, the cell-list method (Verlet list with 1 Å skin), and a quadratic model
with 7 weight functions per the paper's selection (or 18 with --functions 18).

    python benchmarks/bench_scaling.py [--max-atoms 1100000] [--threads 1 2] [--write]

Each size runs in its own process so that its peak RSS is its own.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from _results import markdown_table, peak_rss_mb, write_section

BOX = 15.6404
CUTOFF = 7.8
SKIN = 1.0  # Å, mldyn's default Verlet skin
REPLICAS = [(2, 2, 2), (3, 3, 3), (4, 4, 4), (6, 6, 7), (8, 8, 8), (10, 10, 11), (14, 14, 14)]
# The paper's seven most relevant functions for hydrogen (section 5.2).
SEVEN = (("exp", 0.5), ("exp", 0.25), ("gauss", 2.0), ("gauss", 3.0), ("gauss", 4.0), ("gauss", 5.0), ("gauss", 6.0))


def random_model(species, basis):
    """Quadratic agent-loss model with random coefficients (seed 0) for timing.

    Positive A and a small B: every weight falls with distance, so agents repel and never
    collide, and the run stays near 300 K with the list rebuilt about every 15 steps. (With random
    signs and B ~ 1e-4 the r^-1 and r^-2 terms pulled atoms together and flung them apart, and the
    Verlet list was rebuilt every 2-8 steps: timings then measured collisions, not the model.)
    The work per step does not depend on the values.
    """
    import mldyn

    rng = np.random.default_rng(0)
    F = len(species) * len(basis)
    A = np.abs(rng.normal(size=(len(species), F))) * 0.01
    B = rng.normal(size=(len(species), F, F)) * 1e-5
    return mldyn.AgentLossModel(species, basis, A, B + B.transpose(0, 2, 1))


def system(reps, n_functions):
    import mldyn
    from mldyn.structures import water_box

    symbols, pos, lengths = water_box(128, seed=0)
    pos = np.asarray(pos) * (BOX / np.asarray(lengths))
    shifts = np.array([(i, j, k) for i in range(reps[0]) for j in range(reps[1]) for k in range(reps[2])]) * BOX
    big = (pos[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    species = np.tile([0 if s == "O" else 1 for s in symbols], len(shifts)).astype(np.int32)
    funcs = SEVEN if n_functions == 7 else mldyn.PAPER_FUNCTIONS
    model = random_model(["O", "H"], mldyn.Basis(funcs, r_cut=CUTOFF))
    return model, big, species, np.array(reps) * BOX


def measure(reps, threads, n_functions, steps, neighbours="cell_list", target_seconds=None, rounds=1):
    """One size in this process: seconds per MD step (steady state) and peak RSS (see :func:`time_md`)."""
    model, pos, species, cell = system(reps, n_functions)
    return time_md(model, pos, species, cell, threads, steps, neighbours, target_seconds, rounds)


def time_md(model, pos, species, cell, threads, steps, neighbours="cell_list", target_seconds=None, rounds=1):
    """Time NVT MD steps (one Nosé–Hoover thermostat, 0.5 fs) of ``model`` in this process.

    Two steps warm up (the first list build happens in the constructor). With ``target_seconds``
    the second warm-up step is timed and the number of steps is chosen to take about that long
    (at least 3, at most ``steps``). The steps are timed in ``rounds`` blocks; the reported
    seconds per step is the best block (other processes on a shared machine only ever add
    time), and the median block is reported too.
    """
    import mldyn

    mldyn.set_num_threads(threads)
    sim = mldyn.Simulation(model, pos, species, cell, dt=0.5, temperature=300.0, chain=1, seed=1,
                           neighbours=neighbours)
    sim.run(1)
    t0 = time.perf_counter()
    sim.run(1)
    first = time.perf_counter() - t0
    if target_seconds is not None:
        steps = int(max(3, min(steps, target_seconds / max(first, 1e-9))))
    rounds = max(1, min(int(rounds), steps // 3))
    builds0 = sim.core.neighbour_list_builds
    per_round = []
    for k in range(rounds):
        block = steps // rounds + (1 if k < steps % rounds else 0)
        t0 = time.perf_counter()
        sim.run(block)
        per_round.append((time.perf_counter() - t0) / block)
    dt = float(np.min(per_round))
    builds = sim.core.neighbour_list_builds - builds0
    rss = peak_rss_mb()
    out = {"atoms": len(pos), "threads": threads, "s_per_step": dt, "atom_steps_per_s": len(pos) / dt,
           "peak_rss_mb": rss, "list_builds": builds, "steps": steps, "neighbours": neighbours, "rounds": rounds,
           "s_per_step_median": float(np.median(per_round))}
    if neighbours == "cell_list":
        # Extra cost of a step that rebuilds the Verlet list: invalidate it (same 1 Å skin) and time one step.
        extra = []
        for _ in range(3 if dt < 0.3 else 1):
            sim.core.set_skin(SKIN)
            t0 = time.perf_counter()
            sim.run(1)
            extra.append(time.perf_counter() - t0 - dt)
        out["list_build_s"] = float(np.median(extra))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-atoms", type=int, default=1_100_000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--functions", type=int, choices=(7, 18), default=7)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one size as JSON
    args = parser.parse_args()
    if args.one:
        reps, threads = json.loads(args.one)
        n = 384 * int(np.prod(reps))
        steps = max(3, min(200, int(3e6 / n)))
        print(json.dumps(measure(tuple(reps), threads, args.functions, steps)))
        return
    rows, results = [], []
    for reps in REPLICAS:
        if 384 * np.prod(reps) > args.max_atoms:
            break
        for threads in args.threads:
            out = subprocess.run([sys.executable, __file__, "--functions", str(args.functions), "--one",
                                  json.dumps([list(reps), threads])], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            rows.append([f"{r['atoms']:,}", threads, f"{r['s_per_step'] * 1e3:.2f}",
                         f"{r['s_per_step'] / r['atoms'] * 1e9:.0f}", f"{r['atom_steps_per_s'] / 1e6:.2f}",
                         f"{r['peak_rss_mb']:.0f}", f"{r['list_builds']}/{r['steps']}"])
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    table = markdown_table(["atoms", "threads", "ms per step", "ns per atom-step", "M atom-steps/s",
                            "peak RSS (MB)", "list builds/steps"], rows)
    print(table)
    if args.write:
        write_section(f"Scaling: water boxes, {args.functions} functions, 7.8 Å cutoff, cell list (bench_scaling.py)",
                      table)
        (Path(__file__).with_name(f"scaling_{args.functions}.json")).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    from pathlib import Path

    main()
