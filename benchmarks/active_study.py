"""Issue 14's figures: the model fitted on the original run alone against the model `mldyn explore` made,
side by side (benchmarks/ACTIVE.md).

    python benchmarks/active_study.py --explore DIR --held-out DATA [--reference DATA] [--steps 200000]
        [--temperatures 550 650] [--work DIR] [--write [FILE]]

DIR is an exploration (`mldyn explore TRAIN -o DIR`); DATA a CP2K run of the same system that neither
model saw (here: steps 700-799 of the bundled run, held back from TRAIN = steps 200-699). For both
models (DIR/models/model-000.json, fitted on TRAIN alone, and DIR/model.json): force errors and the
calibration of the force uncertainty on the held-out frames, then learned NVT at each temperature with
`mldyn run`'s defaults from TRAIN's last frame (a frame every 8 steps, 4 fs), and the water observables
of the first temperature's run against the reference run (`mldyn compare`'s table).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TRAJ_EVERY = 8  # a frame every 8 steps of 0.5 fs (mldyn run's default time step)
sys.path.insert(0, str(HERE))

from _results import machine_info, markdown_table  # noqa: E402


def _held_out(model: Path, data: str, plot: Path | None) -> dict:
    from mldyn.fit.calibration import calibration
    from mldyn.fit.metrics import evaluate_forces
    from mldyn.io import load_dataset
    from mldyn.model import load_model

    m = load_model(model)
    d = load_dataset(data)
    res = evaluate_forces(m, d, progress=False, uncertainty=True)
    cal = calibration(res["agents"], m.species)
    err2, ids = res["agents"]["error"] ** 2, res["agents"]["species"]
    frame_mse = {sp: err2[:, ids == k].mean(axis=1).tolist() for k, sp in enumerate(m.species)}
    if plot is not None:
        from mldyn.report.plots import plot_uncertainty

        plot_uncertainty(cal, plot, title=f"{model.name}: force uncertainty on held-out CP2K frames")
    return {"species": res["species"], "calibration": {k: v for k, v in cal.items() if k != "per_frame"},
            "frame_mse": frame_mse}


def _paired(h0: dict, h1: dict, sp: str, block: int = 10, draws: int = 2000) -> tuple:
    """Model 1 against model 0 on the same held-out frames, species ``sp``: frames where 1's RMSE is lower,
    and the change of the relative RMSE with a 95 % interval (bootstrap over blocks of ``block`` consecutive
    frames: frames 0.5 fs apart are not independent)."""
    a, b = np.asarray(h0["frame_mse"][sp]), np.asarray(h1["frame_mse"][sp])
    ref2 = h0["species"][sp]["rms_reference"] ** 2
    n = len(a) // block * block
    if n < 2 * block:
        raise SystemExit(f"held-out data: {len(a)} frames, too few for a bootstrap over blocks of {block}")
    a, b = a[:n], b[:n]  # the whole blocks, for the count as for the interval
    blocks = np.arange(n).reshape(-1, block)
    pick = blocks[np.random.default_rng(0).integers(0, len(blocks), (draws, len(blocks)))].reshape(draws, -1)
    diff = np.sqrt(b[pick].mean(axis=1) / ref2) - np.sqrt(a[pick].mean(axis=1) / ref2)
    return int((b < a).sum()), len(a), *np.percentile(diff, [2.5, 97.5])


def _explored_calibration(ex: Path, state: dict) -> dict:
    """Per iteration: the calibration of the model it explored with, on the frames CP2K labelled for it."""
    from mldyn.fit.calibration import calibration
    from mldyn.fit.metrics import evaluate_forces
    from mldyn.io import load_dataset
    from mldyn.model import load_model

    out = {}
    for rec in state["iterations"]:
        if not (rec.get("labels") or {}).get("frames"):
            continue
        model = load_model(ex / rec["model"])
        res = evaluate_forces(model, load_dataset(ex / rec["labels"]["file"]), progress=False, uncertainty=True)
        cal = calibration(res["agents"], model.species)
        out[rec["index"]] = {"frames": res["frames"], **{k: v for k, v in cal.items() if k != "per_frame"}}
    return out


def _finished(rundir: Path, steps: int) -> bool:
    """A run already made here (by this script or by hand with the same command) that ended or stopped."""
    log = rundir / "thermo.log"
    if (rundir / "stopped.txt").exists():
        return True
    if not log.exists():
        return False
    last = log.read_text().rstrip().splitlines()[-1].split()
    return last[0].isdigit() and int(last[0]) == steps


def _run(model: Path, init: str, T: float, steps: int, rundir: Path) -> dict:
    if _finished(rundir, steps):
        stopped = (rundir / "stopped.txt").read_text().strip()[:400] if (rundir / "stopped.txt").exists() else ""
        log = rundir.with_suffix(".log")  # the summary line of a run made by hand: "... in 290.7 s: ..."
        found = re.search(r" in ([0-9.]+) s:", log.read_text()) if log.exists() else None
        return {"exit": 1 if stopped else 0, "wall_s": float(found.group(1)) if found else float("nan"),
                "summary": "(made earlier)", "stopped": stopped}
    t0 = time.perf_counter()
    proc = subprocess.run(["mldyn", "run", str(model), "--init", init, "--steps", str(steps), "--temperature",
                           str(T), "-o", str(rundir), "--traj-every", str(TRAJ_EVERY), "--quiet", "--force"],
                          capture_output=True, text=True)
    return {"exit": proc.returncode, "wall_s": time.perf_counter() - t0, "summary": proc.stdout.strip()[-600:],
            "stopped": (rundir / "stopped.txt").read_text().strip()[:400] if (rundir / "stopped.txt").exists() else ""}


def _observables(rundir: Path, window_fs: float) -> dict:
    from mldyn.analysis.summary import summarize
    from mldyn.report.compare import load_run

    data, _ = load_run(rundir)
    out = {k: float(v) for k, v in summarize(data).items() if isinstance(v, (int, float))}
    out.update(_window_contacts(data, window_fs))
    return out


def _window_contacts(data, window_fs: float, spacing_fs: float | None = None) -> dict:
    """The closest contacts as a run as long as the reference sees them: the shortest distance per
    species pair within each whole consecutive stretch of ``window_fs``, the median over the stretches
    (a 100 ps run's shortest distance is an extreme over 300 times as many frames as the reference's).
    With ``spacing_fs``, only frames that far apart count (the reference at the learned runs' spacing)."""
    return {k: float(np.median(v)) if len(v) else float("nan")
            for k, v in _closest_per_window(data, window_fs, spacing_fs).items()}


def _closest_per_window(data, window_fs: float, spacing_fs: float | None = None) -> dict:
    """{closest_XY_A_per_window: the shortest X-Y distance within each whole stretch of ``window_fs``}."""
    from mldyn.analysis.contacts import closest_pairs

    dt = float(np.median(np.diff(data.times_f)))
    if spacing_fs and spacing_fs > dt:
        data = data.subset(range(0, data.n_frames, int(round(spacing_fs / dt))))
    per = closest_pairs(data, per_frame=True)
    t = np.asarray(data.times_f) - data.times_f[0]
    w = np.floor((t + 1e-9) / window_fs).astype(int)
    whole = int(np.floor((t[-1] + max(dt, spacing_fs or 0.0) + 1e-9) / window_fs))
    return {f"closest_{pair.replace('-', '')}_A_per_window": np.array([r[w == k].min() for k in range(whole)])
            for pair, r in per.items()}


def _window_spread(rundir: Path, window_fs: float, cache: Path) -> dict:
    """The sampling noise of a reference run ``window_fs`` long (:func:`mldyn.analysis.sampling_noise.stretch_spread`
    over a long learned run), with the closest contacts per stretch."""
    if cache.exists():
        return json.loads(cache.read_text())
    from mldyn.analysis.sampling_noise import stretch_spread
    from mldyn.report.compare import load_run

    data, _ = load_run(rundir)
    out = stretch_spread(data, window_fs, skip_fs=window_fs)  # as mldyn explore: the first stretch is the start-up
    out.update({k: float(np.std(v[1:], ddof=1)) for k, v in _closest_per_window(data, window_fs).items()})
    cache.write_text(json.dumps(out, indent=1))
    return out


def _refit(ex: Path, weight: float, path: Path) -> Path:
    """The last model of the exploration refitted with its labelled frames weighted ``weight``
    (what `mldyn explore --labels-weight` fits), saved to ``path`` once."""
    if path.exists():
        return path
    from mldyn.explore.loop import ExploreConfig, _labelled_systems, _load_original, _State
    from mldyn.fit import fit_recommended

    state = _State.load(ex)
    cfg = ExploreConfig(**state.data["config"])
    original = _load_original(cfg)
    labelled = _labelled_systems(state, ex, len(state.data["iterations"]))
    report = fit_recommended(original + labelled, progress=False, **cfg.fit,
                             weights=[1.0] * len(original) + [weight] * len(labelled))
    report.model.save(path)
    return path


#: The issue's observables compared over repeated runs (mean ± standard error over the runs).
REPEAT_KEYS = ("hoh_angle_mean_deg", "hoh_angle_std_deg", "oxygen_changes_per_h_per_ps", "g_OO_peak_r_A",
               "oh_stretch_peak_cm1", "oh_bond_mean_A", "closest_OO_A_per_window", "closest_OH_A_per_window",
               "closest_HH_A_per_window", "g_OO_peak_height", "g_OH_peak_r_A", "g_OH_peak_height", "g_HH_peak_r_A",
               "g_HH_peak_height")


def _repeated(model: Path, init: str, T: float, seeds: int, steps: int, window_fs: float, cache: Path) -> dict:
    """``seeds`` learned runs of ``steps`` from ``init`` (`mldyn run` defaults, benchmarks/fidelity.py's
    learned_run: seed 0 the frame's velocities, the others drawn): each run's observables, kept in ``cache``."""
    if cache.exists():
        return json.loads(cache.read_text())
    from fidelity import learned_run
    from mldyn.analysis.summary import summarize
    from mldyn.io import load_dataset
    from mldyn.model import load_model

    path, _, index = init.rpartition("@")
    start = load_dataset(path)
    start = start.subset([int(index) % start.n_frames])
    m = load_model(model)
    runs = []
    for seed in range(seeds):
        r = learned_run(m, start, steps, T, seed, None, keep_frames=True)
        frames = r.pop("frames")
        r.update({k: v for k, v in summarize(frames).items() if k not in r and isinstance(v, (int, float))})
        r.update(_window_contacts(frames, window_fs, spacing_fs=TRAJ_EVERY * 0.5))  # as the reference's
        runs.append({k: (float(v) if isinstance(v, (int, float, np.floating)) else v) for k, v in r.items()})
        print(f"  {model.name} seed {seed}: " + ", ".join(f"{k} {runs[-1].get(k, float('nan')):.4g}"
                                                         for k in REPEAT_KEYS[:5]), flush=True)
    cache.write_text(json.dumps(runs, indent=1))
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--explore", required=True)
    ap.add_argument("--held-out", required=True)
    ap.add_argument("--reference", default="@h2o32")
    ap.add_argument("--steps", type=int, default=200000)
    ap.add_argument("--temperatures", type=float, nargs="+", default=[550.0, 650.0])
    ap.add_argument("--work", default=None, help="where the runs go (default: DIR/study)")
    ap.add_argument("--seeds", type=int, default=10, help="repeated runs per model at the first temperature "
                    "(default 10; seed 0 from the start frame's velocities, the others drawn)")
    ap.add_argument("--seed-steps", type=int, default=20000, help="steps of each repeated run (default 20000)")
    ap.add_argument("--refit-weights", type=float, nargs="*", default=[], metavar="W",
                    help="also the last model refitted on the same labels weighted W (mldyn explore --labels-weight)")
    ap.add_argument("--write", nargs="?", const=str(HERE / "ACTIVE.md"), default=None, metavar="FILE",
                    help="write the report to FILE (default benchmarks/ACTIVE.md, with the notes below on the bundled "
                         "measurement; any other file gets the command instead)")
    args = ap.parse_args()
    ex = Path(args.explore)
    state = json.loads((ex / "explore.json").read_text())
    work = Path(args.work) if args.work else ex / "study"
    work.mkdir(exist_ok=True)
    args.work = str(work)
    init = state["config"]["init"]
    from mldyn.analysis.sampling_noise import run_span_fs
    from mldyn.io import load_dataset

    reference = load_dataset(args.reference)
    window_fs = run_span_fs(reference)
    models = {"original run only (model-000)": ex / "models" / "model-000.json",
              f"after mldyn explore ({state.get('model')})": ex / "model.json"}
    for w in args.refit_weights:
        models[f"after mldyn explore, labels weight {w:g} (the same labels refitted)"] = _refit(
            ex, w, work / f"refit-labels-weight-{w:g}.json")
    out = {"held_out": {}, "runs": {}, "observables": {}, "repeated": {}, "explored": _explored_calibration(ex, state)}
    for k, (label, path) in enumerate(models.items()):
        out["held_out"][label] = _held_out(path, args.held_out, _figure(args, k) if k < 2 else None)
        print(label, json.dumps(out["held_out"][label]["species"]), flush=True)
        for T in args.temperatures:
            rundir = work / f"model{k}-{T:g}K"
            out["runs"][(label, T)] = r = _run(path, init, T, args.steps, rundir)
            print(label, T, r["exit"], r["summary"][-300:], flush=True)
            if T == args.temperatures[0]:
                out["observables"][label] = _observables(rundir, window_fs)
                if k == 0:
                    out["window_spread"] = _window_spread(
                        rundir, window_fs, work / f"model0-{T:g}K-{args.steps}-spread-{window_fs:g}fs-skip1.json")
        if args.seeds:
            out["repeated"][label] = _repeated(path, init, args.temperatures[0], args.seeds, args.seed_steps, window_fs,
                                               work / f"model{k}-repeated-{args.seeds}x{args.seed_steps}.json")
    from mldyn.analysis.summary import summarize

    ref = {k: float(v) for k, v in summarize(reference).items() if isinstance(v, (int, float))}
    ref.update(_window_contacts(reference, window_fs, spacing_fs=TRAJ_EVERY * 0.5))  # at the runs' frame spacing
    out["window_fs"] = window_fs
    text = report(state, out, ref, args)
    (work / "study.json").write_text(json.dumps({**out, "runs": {f"{a} @ {T:g} K": r for (a, T), r in out["runs"].items()},
                                                 "reference": ref}, indent=1, default=str))
    print(text)
    if args.write:
        Path(args.write).write_text(text)


def _figure(args, k: int) -> Path:
    """<report's name>_calibration_<k>.png beside the written report (active_calibration_<k>.png beside ACTIVE.md),
    or in the work directory when no report is written."""
    if not args.write:
        return Path(args.work) / f"active_calibration_{k}.png"
    return Path(args.write).with_name(f"{Path(args.write).stem.lower()}_calibration_{k}.png")


def _cp2k_seconds(explore: Path) -> tuple[float, int]:
    """CP2K's reported total time of every run of the exploration's single points (an output may hold several
    runs: CP2K appends; earlier attempts are kept as sp.out.attempt-N)."""
    total, runs = 0.0, 0
    for path in sorted(explore.glob("iter-*/cp2k/frame-*/sp.out*")):
        for run in path.read_text(errors="replace").split("PROGRAM STARTED AT")[1:]:
            found = re.search(r"^ CP2K\s+1\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)", run, re.M)
            if found:
                total, runs = total + float(found.group(1)), runs + 1
    return total, runs


def _f(x, fmt=".3f"):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def report(state: dict, out: dict, ref: dict, args) -> str:
    from mldyn.report.compare import comparison_rows, format_table

    labels = list(out["held_out"])
    lines = [f"# Active learning with CP2K in the loop (`mldyn explore`)", "",
             f"_Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine_info()}; "
             f"`benchmarks/active_study.py` on `{args.explore}`._", ""]
    cfg = state["config"]
    lines += [f"Exploration: `mldyn explore {' '.join(map(str, cfg['data']))}` with defaults: temperatures "
              f"{', '.join(f'{t:g}' for t in cfg['temperatures'])} K, {cfg['steps']} steps per run, at most "
              f"{cfg['frames']} CP2K single points per iteration, {cfg['iterations']} iterations, threshold "
              f"{_f(state.get('threshold'), '.3g')} eV/Å ({state.get('threshold_rule')}); CP2K: `{cfg['cp2k']}`, the "
              f"original deck's electronic structure. {state.get('finished')}.", ""]
    rows = []
    for rec in state["iterations"]:
        above = sum(r.get("frames_above_threshold", 0) for r in rec.get("runs", []))
        frames = sum(r.get("frames", 0) for r in rec.get("runs", []))
        stopped = sum(1 for r in rec.get("runs", []) if r.get("stopped"))
        b, a = rec.get("errors_before") or {}, rec.get("errors_after") or {}
        rows.append([rec["index"], f"{above} of {frames}", stopped, len(rec.get("selected", [])),
                     (rec.get("labels") or {}).get("frames", 0),
                     ", ".join(f"{sp} {_f(v['relative_rmse'])} -> {_f(a.get(sp, {}).get('relative_rmse'))}"
                               for sp, v in b.items()) or "-"])
    lines += ["## Iterations", "", markdown_table(["iteration", "explored frames above the threshold",
                                                   "runs stopped", "selected", "labelled by CP2K",
                                                   "relative force error on them, before -> after the refit"], rows),
              "The error after the refit is on frames the refit was fitted on (with the original run).", ""]
    rows = []
    for label in labels:
        h = out["held_out"][label]
        rows.append([label] + [f"{_f(h['species'][sp]['relative_rmse'])} ({_f(h['species'][sp]['rmse'])} eV/Å)"
                               for sp in ("O", "H")])
    lines += ["## Held-out force errors", "", f"`{args.held_out}` (CP2K frames neither model was fitted on); relative "
              "RMSE (RMSE).", "", markdown_table(["model", "O", "H"], rows), ""]
    h0 = out["held_out"][labels[0]]
    for label in labels[1:]:
        parts = []
        for sp in ("O", "H"):
            lower, n, lo, hi = _paired(h0, out["held_out"][label], sp)
            parts.append(f"{sp}: lower on {lower} of {n} frames, change of the relative RMSE {lo:+.3f} to {hi:+.3f}")
        lines.append(f"- {label.split(' (')[0]} against the original-run model, frame by frame (95 % interval, "
                     f"bootstrap over blocks of 10 consecutive frames; it says how sure the change is on these "
                     f"frames, one stretch of one run): " + "; ".join(parts) + ".")
    lines.append("")
    rows = []
    for label in labels:
        c = out["held_out"][label]["calibration"]
        for sp in ("O", "H"):
            s = c["species"][sp]
            rows.append([label, sp, _f(s["rms_predicted_error"]), _f(s["rms_actual_error"]),
                         _f(s["spearman_predicted_vs_error"], ".2f"), _f(s["mean_uncertainty"]),
                         _f(s["max_uncertainty"])])
        rows.append([label, "per frame", "", "", _f(c["spearman_frame_max_uncertainty_vs_max_error"], ".2f"), "", ""])
    lines += ["## Calibration of the force uncertainty on the held-out frames", "",
              markdown_table(["model", "species", "RMS predicted error (eV/Å)", "RMS actual error (eV/Å)",
                              "Spearman, predicted vs actual error", "mean uncertainty (eV/Å)",
                              "largest uncertainty (eV/Å)"], rows),
              f"Figures beside this report: `{_figure(args, 0).name}` (model-000), `{_figure(args, 1).name}` "
              f"(explored).", ""]
    rows = []
    for rec in state["iterations"]:
        c = out["explored"].get(rec["index"])
        if c:
            rows.append([rec["index"], rec["model"], c["frames"]] + [
                f"{_f(c['species'][sp]['rms_predicted_error'])} / {_f(c['species'][sp]['rms_actual_error'])} / "
                f"{_f(c['species'][sp]['spearman_predicted_vs_error'], '.2f')}" for sp in ("O", "H")]
                + [_f(c["spearman_frame_max_uncertainty_vs_max_error"], ".2f")])
    lines += ["## Calibration on the explored frames (each iteration's model on the frames CP2K then labelled)", "",
              markdown_table(["iteration", "model", "frames", "O: RMS predicted / actual error (eV/Å) / Spearman",
                              "H: the same", "per frame Spearman"], rows),
              "Where the model extrapolates, the uncertainty ranks agents and frames by their error, but the predicted "
              "error is far below the actual one: the fit's parameter uncertainty does not contain the error of the "
              "model's form (a loss of these invariants) away from the data. It picks the frames to label; "
              "it is not an error bar there.", ""]
    rows = []
    for (label, T), r in out["runs"].items():
        rows.append([label, f"{T:g}", "yes" if r["exit"] == 0 else f"no (exit {r['exit']})", _f(r["wall_s"], ".0f"),
                     (r["stopped"] or "-").replace("|", "/")[:160]])
    lines += ["## Learned NVT, `mldyn run` defaults", "", f"{args.steps} steps of 0.5 fs "
              f"({args.steps * 0.5 / 1000:g} ps) from `{state['config']['init']}`.", "",
              markdown_table(["model", "T (K)", "stable (ran to the end)", "wall (s)", "stopped because"], rows)]
    cp2k_s, cp2k_runs = _cp2k_seconds(Path(args.explore))
    lines += ["## CP2K", "", f"{cp2k_runs} CP2K runs (single points, retries included) took {cp2k_s / 60:.0f} min of "
              f"wall time in all (CP2K's own total per run, `{cfg['cp2k']}`).", ""]
    T0 = args.temperatures[0]
    rows_cmp = comparison_rows(ref, [out["observables"][lab] for lab in labels])
    closer = sum(1 for *_, d in rows_cmp if all(map(math.isfinite, d)) and abs(d[1]) < abs(d[0]) - 1e-12)
    farther = sum(1 for *_, d in rows_cmp if all(map(math.isfinite, d)) and abs(d[1]) > abs(d[0]) + 1e-12)
    lines += [f"## Observables of the {T0:g} K runs against the CP2K run (`{args.reference}`)", "",
              format_table(rows_cmp, ["CP2K"] + [lab.split(" (")[0] for lab in labels]), "",
              f"After exploration {closer} of these observables are closer to CP2K and {farther} farther.", ""]
    # Like for like: the issue's observables (H-O-H, hops, g(r), spectrum), and the closest contacts as a run
    # as long as the reference sees them. Counts and the whole run's closest contacts grow with the length of
    # the run (the learned runs are ~300 times as long as the CP2K one), so they cannot be compared as they are.
    issue_keys = ["hoh_angle_mean_deg", "hoh_angle_std_deg", "oxygen_changes_per_h_per_ps", "oh_stretch_peak_cm1",
                  "g_OO_peak_r_A", "g_OO_peak_height", "g_OH_peak_r_A", "g_OH_peak_height", "g_HH_peak_r_A",
                  "g_HH_peak_height"]
    window_keys = [k for k in ref if k.endswith("_A_per_window")]
    obs = [out["observables"][lab] for lab in labels]
    rows = []
    tally = {"closer": 0, "farther": 0}
    for k in [k for k in issue_keys if k in ref] + window_keys:
        d = [o.get(k, float("nan")) - ref[k] for o in obs]
        if all(map(math.isfinite, d)):
            tally["closer"] += abs(d[1]) < abs(d[0]) - 1e-12
            tally["farther"] += abs(d[1]) > abs(d[0]) + 1e-12
        rows.append([k, _f(ref[k], ".4g")] + [_f(o.get(k, float("nan")), ".4g") for o in obs] + [_f(x, "+.3g") for x in d])
    lines += [f"Like for like: the issue's observables, and the closest contacts within each {out['window_fs']:g} fs "
              "stretch of a run (the reference's length), the median over the stretches:", "",
              markdown_table(["observable", "CP2K"] + [lab.split(" (")[0] for lab in labels]
                             + [f"{lab.split(' (')[0]} − CP2K" for lab in labels], rows), "",
              f"On these, after exploration {tally['closer']} are closer to CP2K and {tally['farther']} farther.", ""]
    if out["repeated"]:
        lines += _repeated_section(out["repeated"], ref, labels, args, out["window_fs"], out.get("window_spread", {}))
    if args.write is None or Path(args.write).resolve() == (HERE / "ACTIVE.md").resolve():
        lines += ["## Notes on this measurement", "", NOTES.strip(), ""]
    else:
        lines += ["## How this was made", "", f"`python benchmarks/active_study.py {' '.join(sys.argv[1:])}`; the data "
                  "directories as in ACTIVE.md's notes (`h2o32-A-B`: steps A to B of the bundled CP2K run, written as "
                  "a CP2K run directory with the bundled `in.inp`).", ""]
    return "\n".join(lines) + "\n"


def _repeated_section(repeated: dict, ref: dict, labels: list, args, window_fs: float, spread: dict) -> list:
    """Each model's repeated runs: mean ± standard error of the issue's observables, and whether a model is closer
    to CP2K than the original-run model by more than twice the standard error of the difference."""
    stats = {}
    for lab in labels:
        runs = repeated[lab]
        stats[lab] = {}
        for k in REPEAT_KEYS:
            v = np.array([r.get(k, float("nan")) for r in runs], dtype=float)
            v = v[np.isfinite(v)]
            stats[lab][k] = (v.mean(), v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else (float("nan"),) * 2
    rows, tally = [], {lab: {"closer": 0, "farther": 0, "same": 0} for lab in labels[1:]}
    for k in REPEAT_KEYS:
        m0, s0 = stats[labels[0]][k]
        row = [k, _f(ref.get(k, float("nan")), ".4g"), _f(spread.get(k, float("nan")), ".2g")] + [
            f"{_f(stats[lab][k][0], '.4g')} ± {_f(stats[lab][k][1], '.2g')}" for lab in labels]
        for lab in labels[1:]:
            m, se = stats[lab][k]
            gain = abs(m0 - ref[k]) - abs(m - ref[k])
            verdict = ("closer" if gain > 2 * math.hypot(s0, se) else "farther" if -gain > 2 * math.hypot(s0, se)
                       else "same")
            tally[lab][verdict] += 1
            row.append(verdict)
        rows.append(row)
    stopped = [sum(1 for r in repeated[lab] if r.get("error")) for lab in labels]
    rows.append(["runs stopped", "", ""] + [f"{n} of {len(repeated[lab])}" for n, lab in zip(stopped, labels)]
                + [""] * (len(labels) - 1))
    short = [lab.split(" (")[0] for lab in labels]
    return [f"## Repeated runs at {args.temperatures[0]:g} K", "",
            f"{args.seeds} runs of {args.seed_steps} steps ({args.seed_steps * 0.5 / 1000:g} ps) per model from the "
            f"same start, `mldyn run` defaults (benchmarks/fidelity.py's `learned_run`: seed 0 with the start frame's "
            f"velocities, the others drawn): mean ± standard error over the runs; closest contacts per "
            f"{window_fs:g} fs stretch as in the like-for-like table. A model is *closer* (*farther*) than "
            f"the original-run model when its distance to CP2K is smaller (larger) by more than twice the standard "
            f"error of the difference, else *same*.", "",
            markdown_table(["observable", "CP2K", f"CP2K's sampling noise (SD, one {window_fs:g} fs run)"] + short
                           + [f"{s}: vs original run only" for s in short[1:]], rows),
            ""] + [f"{s}: {t['closer']} closer, {t['farther']} farther, {t['same']} the same within the runs' noise."
                   for s, t in zip(short[1:], tally.values())] + [""] + _resolution_lines(
        stats, ref, labels, spread, f"{args.steps * 0.5 / 1000:g} ps run at {args.temperatures[0]:g} K", window_fs)


def _resolution_lines(stats: dict, ref: dict, labels: list, spread: dict, run: str, window_fs: float) -> list:
    """What the reference can resolve: the original-run model's distance to CP2K and each model's change
    against it, in units of the reference's own sampling noise (one run as long as CP2K's)."""
    keys = [k for k in REPEAT_KEYS if spread.get(k, 0) > 0 and k in ref]
    if not keys:
        return []
    off = {k: abs(stats[labels[0]][k][0] - ref[k]) / spread[k] for k in keys}
    near = [k for k in keys if off[k] <= 1]
    lines = [f"CP2K's sampling noise: the standard deviation of each observable over the {spread.get('stretches', 0):g} "
             f"whole stretches of the reference's length in the original-run model's {run} (the learned dynamics "
             f"as a stand-in for more CP2K runs that long). In these units the original-run model is within 1 of "
             f"CP2K on {len(near)} of {len(keys)} observables ({', '.join(near)}); farther on "
             + (", ".join(f"{k} ({off[k]:.1f})" for k in keys if k not in near) or "none") + "."]
    for lab in labels[1:]:
        moved = {k: abs(stats[lab][k][0] - stats[labels[0]][k][0]) / spread[k] for k in keys}
        top = max(moved, key=moved.get)
        lines.append(f"{lab.split(' (')[0]} moves the means by at most {moved[top]:.2f} of them ({top}).")
        lines += _reference_needed(moved, window_fs)
    return [" ".join(lines), ""]


def _reference_needed(moved: dict, window_fs: float) -> list:
    """How long a CP2K reference would have to be to tell two models apart whose means differ by ``moved``
    (in units of the sampling noise of a ``window_fs`` run): at 2 SD, on which side of the midpoint between
    them the CP2K mean lies when it sits at one of them, i.e. noise below a quarter of the change; the noise
    falls as 1 / sqrt(length). The cost per step is the bundled run's own (CPU time per step in its .ener)."""
    from mldyn.data import bundled_h2o32_path

    need_ps = sorted((window_fs * (4.0 / m) ** 2 / 1000.0, k) for k, m in moved.items() if m > 0)[:3]
    if not need_ps:
        return []
    ener = np.loadtxt(Path(bundled_h2o32_path()) / "H2O-32-1.ener", ndmin=2)
    step_s, dt_fs = float(np.median(ener[:, 6])), float(np.median(np.diff(ener[:, 1])))
    steps = need_ps[0][0] * 1000.0 / dt_fs
    return [f"Telling at 2 SD which of the two is nearer CP2K needs its noise below a quarter of the change between them: "
            f"with the noise falling as 1/sqrt(length), a reference of at least "
            + ", ".join(f"{ps:.0f} ps ({k})" for ps, k in need_ps)
            + f", the shortest {steps:,.0f} steps of {dt_fs:g} fs, {steps * step_s / 86400:.1f} days at the bundled "
            f"run's {step_s:.1f} s per step (its .ener)."]


#: What the tables cannot say about the run they were made from (kept with the script that writes them).
NOTES = """
- Data: `h2o32-200-699` and `h2o32-700-799` are the bundled CP2K run's steps 200-699 and 700-799, written as CP2K
  run directories (`Dataset.subset` + `mldyn.io.cp2k_writer.write_cp2k_run`), the bundled `in.inp` beside the
  first: the exploration and both models saw only steps 200-699; 700-799 are the held-out frames. The CP2K
  reference of the observables is the whole bundled run (steps 200-799, `@h2o32`).
- This measurement: the recommended recipe of 2026-12-05 (5 angular channels at l_max 4, fitted with the force
  changes, `--force-changes 2.5`), on an AMD EPYC with AVX-512; each exploration run starts from velocities drawn
  at its temperature (commit bd3a77e: before it, every run took the start frame's velocities, so `--seed`
  changed nothing and each iteration's runs started alike). The whole `mldyn explore` took 11.5 min, the study
  8 min. Every iteration's 550 and 650 K runs ran to the end.
- What the reference can resolve: CP2K's run is 300 fs long, and the column "CP2K's sampling noise" says how far
  another 300 fs run of the same water would land (0.4 deg on the H-O-H angle, 0.4 per H per ps on the hops,
  240 cm-1 on the stretch peak). On the issue's observables (H-O-H, hops, g_OO, stretch) the original-run model
  already sits within that noise of CP2K; where it is farther (O-H bonds 0.008 Å short, the g_OH peak 2.5 of
  these SDs too high) the deficit follows the hydrogens' kinetic temperature, 423 K under the one thermostat
  (the agent forces move energy from H to O): with `--thermostat per-species` a 20 ps run of the same model
  has O-H 1.025 Å (SD 0.048; CP2K 1.028, 0.050) and the g_OH peak at 1.005 Å, height 22.4 (CP2K 1.011, 21.3),
  but the H-O-H spread widens to 9.0 deg and the hops rise to 1.02. Labels of rare, uncertain frames do not
  change that. Exploration moves every observable's mean by at most 0.34 of the reference's noise. The
  held-out force errors fall on every one of the 100 held-out frames, for both species.
- The whole budget of the issue's target (2026-12-05 09:20, `explore6`: `--threshold 0.15 --seed 7`, so that each
  iteration finds 24 frames to label; this study with `--write` to a scratch file): 3 iterations of 24 single
  points (72 labels, 15 min of CP2K, 16.7 min in all; the chosen ridge O 1e-5, H 1e-9 in every refit).
  Held-out O 0.240 -> 0.214, H 0.304 -> 0.298 (lower on 97 and 96 of the 100 frames); all 100 ps runs at 550
  and 650 K stable; repeated runs: 4 closer (H-O-H mean 105.20 -> 105.14 against 105.07, g_OO, g_OH and g_HH peak heights),
  2 farther (the closest O-O and H-H per 300 fs: the labels hold closer pairs), 8 the same; hops 0.65 -> 0.61.
  The largest move is 0.62 of the reference's noise (closest H-H); telling at 2 SD which model is nearer CP2K
  would take a CP2K reference of at least 12 ps (1.5 days at 5.4 s per step). Twice the labels move the
  dynamics further in the same directions, still well inside what the 300 fs reference can resolve.
- The previous measurement of today's recipe (2026-12-05 06:01, `explore3`, the start frame's velocities in
  every run): 24, 11 and 7 single points, 16.0 min; held-out O 0.240 -> 0.215, H 0.304 -> 0.300; repeated
  runs 1 closer (H-O-H mean), 0 farther, 8 the same of the first 9 observables here; hops 0.65 -> 0.61.
  Refitted with the labels weighted 3 and 10 (`--labels-weight`), the held-out H error rose (0.300 -> 0.324,
  0.340), the hops overshot CP2K's (0.83, 1.04) and the H-O-H spread widened (8.5, 8.9 deg), so the default
  weight stays 1. The force uncertainty of a weighted fit treats the weights as precisions, so weighting up
  frames the model fits worse inflates sigma^2 (predicted held-out O error 0.46 and 0.68 against an actual
  0.40). With every label in training (none held back for validation and test) the held-out errors were the
  same (O 0.214, H 0.299) and the hops fell further (0.53): not adopted.
- From less data (`benchmarks/ACTIVE_LESS_DATA.md`): the same loop from steps 200-349 alone (150 frames, 90 in
  training). The model fitted on them has g_OO's first peak too low (2.42 against 2.85) and the hops a little
  high (0.91 against 0.73). 3 iterations labelled 23, 24 and 20 frames (one SCF did not converge and was left
  out), two thirds of them from the 650 K runs. The held-out errors fall more than above (O 0.262 -> 0.222,
  H 0.326 -> 0.306), the g_OO peak rises (2.42 -> 2.67) and every 100 ps run is stable, but the hops collapse
  (0.91 -> 0.27) and the O-H bonds shorten (1.021 -> 1.016 Å; CP2K 1.028): of 14 observables 3 closer, 8
  farther. Labels weighted 0.3 or 0.1 (`--labels-weight`) keep less of the held-out gain and still halve the
  hops (0.35, 0.48); refitted with only the 21 labels of the 550 K runs (by hand), hops 0.47 and O-H 1.017 Å:
  not the hotter runs' frames. The labelled frames hold closer O-O contacts than the original run (median
  closest O-O per frame 2.25 against 2.36 Å); fitting CP2K's forces there shortens this model's O-H bonds and
  slows its hops, and this study does not say why. Exploration makes the forces better where the model was
  unsure; it does not, by that alone, make the dynamics more faithful.
- The hops follow the ridge (by hand, 4 runs of 10 ps each, less data): refitted on the same frames with the
  ridge fixed, the original 150 frames give 2.34 hops per H per ps at ridge 1e-3 and 0.54 at 1e-8 (O-H 1.025
  and 1.015 Å), the explored ones 0.98 and 0.23, while the validation force error hardly moves. The ridge the
  fit chooses on validation, where a few labelled frames sit, jumps between iterations (H: 1e-6, 1e-3, 0, 1e-8)
  and the hops with it (0.91, 1.32, 0.37, 0.27). With every label in training, so that the ridge is chosen on
  the original run alone, the labels themselves regularise: the chosen ridge falls to about 0 and the hops stay
  at 0.24-0.31 in every iteration. The forces alone do not pin the hop rate of this model family.
- Run length: the CP2K reference is 300 fs, the learned runs 100 ps. Counts (hydrogens that changed oxygen,
  owner changes) and the whole run's closest contacts grow with the length of a run, so the like-for-like
  table takes the closest contacts within each 300 fs stretch (the median over the stretches, frames 4 fs apart
  in both) and leaves the counts out. The whole-run closest O-O and H-H of the explored model (2.12 and 1.25 Å
  against 2.21 and 1.29) look farther from CP2K's 2.28 and 1.36; per 300 fs stretch both models sit within
  0.04 Å of CP2K and within 0.002 Å of each other. The labels hold closer pairs than the original run (O-O
  2.13, H-H 1.28 Å against 2.29 and 1.36), and the fit's contact walls and `mldyn run`'s contact limit sit at
  the closest training distance, so the explored model's rare closest approaches go as far as its data.
- The measurement before (2026-12-05 02:40, `explore2`, commit 0473233; the recipe of 2026-12-04, 4 angular
  channels at l_max 5, forces alone): 3 iterations of 24, 13 and 9 single points (46 labelled, threshold 0.139
  eV/Å), 12.8 min; held-out error O 0.235 -> 0.218, H 0.295 -> 0.289; repeated runs: hops 1.70 -> 1.41 (CP2K
  0.73), stretch 3019 -> 2971 cm-1 (the same within the noise); all 100 ps runs stable.
- The first measurement (2026-12-04 11:43, commit 7d26c6c; radial quadratic block, angular l_max 4; an AVX2-only
  VM): 3 iterations of 24, 5 and 2 single points, 62 min of CP2K (a wrong MPI launcher made it ~1.6x slower);
  held-out error O 0.243 -> 0.226, H 0.319 -> 0.319; 12 observables closer to CP2K after exploration, 7 farther.
"""


if __name__ == "__main__":
    main()
