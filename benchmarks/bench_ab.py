"""Side-by-side MD-step timing of two source trees (e.g. before and after a change).

    python benchmarks/bench_ab.py --a /path/to/old/checkout --b . [--repeats 3] [--threads 2] [--model model.json]

Each tree must hold ``python/mldyn`` with its compiled ``_core`` and ``benchmarks/bench_scaling.py``.
The systems are those of ``bench.py``: the 384-atom water box (18 and 7 weight functions) and
the 96,768-atom replicated box (7 functions), 7.8 Å cutoff, cell list, NVT; with ``--model`` also
the 384-atom box with that model file (e.g. the recommended one, ``mldyn fit @h2o32 -o model.json``). Every measurement
runs in its own process; A and B alternate, ``--repeats`` times each, and the best block of the
best run counts (other load on a shared machine only ever adds time). Prints a table with the
ratio B/A; ``--write`` appends it to RESULTS.md with machine, date and both commits.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _results import markdown_table, write_section

SYSTEMS = [("384 atoms, 18 functions", (1, 1, 1), 18), ("384 atoms, 7 functions", (1, 1, 1), 7),
           ("96,768 atoms, 7 functions", (6, 6, 7), 7)]

CHILD = """
import json, sys
sys.path.insert(0, {bench!r})
import bench_scaling
reps, threads, functions, model_file = {reps!r}, {threads}, {functions}, {model!r}
n = 384 * reps[0] * reps[1] * reps[2]
steps = max(5, min(400, int(4e6 / n)))
if model_file is None:
    r = bench_scaling.measure(tuple(reps), threads, functions, steps=steps, target_seconds=4.0, rounds=5)
else:
    from mldyn.model import load_model
    _, pos, species, cell = bench_scaling.system(tuple(reps), 18)
    r = bench_scaling.time_md(load_model(model_file), pos, species, cell, threads, steps, target_seconds=4.0, rounds=5)
print(json.dumps(r))
"""


def commit_of(tree: Path) -> str:
    r = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (r.stdout.strip() or "?") + ("+changes" if dirty else "")


def measure(tree: Path, reps, threads: int, functions: int, model: str | None = None) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree / "python"), OMP_WAIT_POLICY="passive")
    code = CHILD.format(bench=str(tree / "benchmarks"), reps=list(reps), threads=threads, functions=functions,
                        model=model)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tree, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["s_per_step"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, required=True, help="baseline tree")
    parser.add_argument("--b", type=Path, default=Path(__file__).resolve().parents[1], help="tree under test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", help="also time the 384-atom box with this model file")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    a, b = args.a.resolve(), args.b.resolve()
    systems = [(label, reps, functions, None) for label, reps, functions in SYSTEMS]
    if args.model:
        model = str(Path(args.model).resolve())
        systems.insert(0, (f"384 atoms, {Path(model).name}", (1, 1, 1), 0, model))
    rows = []
    for label, reps, functions, model in systems:
        best = {"a": float("inf"), "b": float("inf")}
        for _ in range(args.repeats):
            for key, tree in (("a", a), ("b", b)):
                best[key] = min(best[key], measure(tree, reps, args.threads, functions, model))
        ratio = best["b"] / best["a"]
        rows.append([label, args.threads, f"{best['a'] * 1e3:.3f}", f"{best['b'] * 1e3:.3f}", f"{ratio:.3f}"])
        print(" | ".join(str(c) for c in rows[-1]), flush=True)
    table = markdown_table(["system", "threads", f"A {commit_of(a)} (ms/step)", f"B {commit_of(b)} (ms/step)",
                            "B / A"], rows)
    print(table)
    if args.write:
        write_section(f"A/B: {commit_of(a)} vs {commit_of(b)} (bench_ab.py, best of {args.repeats} runs x 5 blocks)",
                      table)


if __name__ == "__main__":
    main()
