"""Fidelity of learned MD against CP2K: the recommended model beside the paper's radial model.

    python benchmarks/fidelity.py [--data DIR] [--seeds 3] [--steps 20000] [--long-steps 200000] [--write]

1. Fits both models on the CP2K water run (default ../shared/data/cp2k-h2o32-dft, steps 0-799):
   * recommended: `mldyn fit DATA -o model.json` (no options);
   * paper: `mldyn fit DATA --recipe paper --select 7` (the demo's paper model, run with --clip 10).
2. Held-out force errors: each recipe is also fitted on steps 0-699 only and evaluated on 700-799,
   frames after the end of its training run (what the issue asks of data we have not seen).
3. Learned NVT with `mldyn run`'s defaults (0.5 fs, one Nosé–Hoover thermostat, 50 fs) from the last
   frame at the reference's mean temperature: ``--seeds`` runs of ``--steps`` steps per model (the
   first from the CP2K velocities, the others from velocities drawn with seeds 1, 2, ...), the same
   runs of the recommended model with `--thermostat per-species` (one thermostat per species), and
   one run of ``--long-steps`` (100 ps) of the recommended model with each thermostat for stability.
4. Observables (mldyn.analysis.summarize) of CP2K steps 160-799 and of every run: H-O-H angle,
   hydrogens changing oxygen (lasting >= 20 fs), g_OO first peak, O-H stretch peak, closest pairs,
   the temperature of each species.

Prints the table and, with --write, rewrites benchmarks/FIDELITY.md (machine, date, commit).
"""
from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np

import mldyn
from mldyn.analysis import summarize
from mldyn.dataset import Dataset
from mldyn.fit import evaluate_forces

from _results import machine_info

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data" / "cp2k-h2o32-dft"
KEYS = ("hoh_angle_mean_deg", "hoh_angle_std_deg", "oxygen_changes_per_h_per_ps", "g_OO_peak_r_A",
        "oh_stretch_peak_cm1", "oh_bond_mean_A", "closest_HH_A", "closest_OH_A", "closest_OO_A", "mean_temperature_K",
        "temperature_O_K", "temperature_H_K")
RECIPES = {"recommended": {"recipe": "recommended"}, "paper": {"recipe": "paper", "select": 7}}
CLIP = {"recommended": None, "paper": 10.0}


def fit(data, recipe: str):
    """The model `mldyn fit` returns for ``recipe`` (the CLI's own code path)."""
    from mldyn.commands.fit import recipe_options
    from mldyn.fit import fit_model

    opts = dict(RECIPES[recipe])
    name = opts.pop("recipe")
    report = fit_model(data, progress=False, **opts, **recipe_options(name))
    if report.stability is not None and not report.stability.passed:
        raise SystemExit(f"{recipe}: no candidate passed the stability checks")
    return report.model


def learned_run(model, ref, steps: int, temperature: float, seed: int, clip, thermostat: str | None = None,
                window_fs: float | None = None, keep_frames: bool = False):
    """`mldyn run MODEL --init DATA@-1 --steps N --temperature T` (default flags unless ``thermostat``
    is given), frames every 1 fs. With ``window_fs``, also the O-H stretch peak of every consecutive
    stretch of the run that long (``stretch_windows``, cm⁻¹; summarize's estimator, as for the reference).
    With ``keep_frames``, the run's frames too (``frames``, a Dataset)."""
    from mldyn.md.run import contact_limits, default_chain, default_thermostat
    from mldyn.md.simulation import SimulationError

    pos, cell = ref.positions_fnc[-1], ref.cells_f33[-1]
    vel = ref.velocities_fnc[-1] if seed == 0 else None
    sim = mldyn.Simulation(model, pos, ref.symbols, cell, velocities_nc=vel, dt=0.5, temperature=temperature,
                           tdamp=50.0, chain=default_chain(model), force_cap=clip, seed=seed, max_displacement=1.0,
                           per_species_thermostat=(thermostat or default_thermostat(model)) == "per-species")
    sim.core.set_contact_limits(contact_limits(model, 0.75))
    t0 = time.perf_counter()
    error = None
    try:
        frames, _ = sim.run_recording(steps, 2, 0)
    except SimulationError as exc:
        frames, error = exc.frames, str(exc)
    wall = time.perf_counter() - t0
    n = len(frames["step"])
    d = Dataset(ref.species_names, ref.species_n, ref.masses_n, frames["positions"], np.repeat(cell[None], n, 0),
                frames["velocities"], None, frames["step"], frames["time"])
    s = summarize(d) if n > 200 else {}
    out = {k: s.get(k, float("nan")) for k in KEYS}
    out.update(steps=int(sim.step), error=error, ms_per_step=1e3 * wall / max(sim.step, 1))
    if window_fs and n > 200:
        w = int(round(window_fs / float(frames["time"][1] - frames["time"][0])))
        out["stretch_windows"] = [summarize(d.subset(range(a, a + w)))["oh_stretch_peak_cm1"]
                                  for a in range(0, n - w + 1, w)]
    if keep_frames:
        out["frames"] = d
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--long-steps", type=int, default=200000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    mldyn.set_num_threads(args.threads)
    data = mldyn.load_dataset(args.data)
    ref = data.subset(range(160, data.n_frames))
    s_ref = summarize(ref)
    temperature = s_ref["mean_temperature_K"]
    print(f"CP2K steps 160-{data.n_frames - 1}: " + ", ".join(f"{k} {s_ref[k]:.3f}" for k in KEYS), flush=True)
    results = {"reference": {k: s_ref[k] for k in KEYS + ("duration_fs",)}, "models": {}}
    for recipe in RECIPES:
        t0 = time.perf_counter()
        model = fit(data, recipe)
        fit_s = time.perf_counter() - t0
        held = fit(data.subset(range(0, 700)), recipe)
        errors = evaluate_forces(held, data.subset(range(700, data.n_frames)), progress=False)["species"]
        entry = {"fit_s": fit_s, "held_out_relative_rmse": {sp: v["relative_rmse"] for sp, v in errors.items()},
                 "test_block_relative_rmse": {sp: v["relative_rmse"] for sp, v in
                                              model.metadata["test_metrics"].items()},
                 "features": model.n_features, "runs": []}
        print(f"{recipe}: fit {fit_s:.0f} s; held-out " +
              ", ".join(f"{sp} {v:.3f}" for sp, v in entry["held_out_relative_rmse"].items()), flush=True)
        for seed in range(args.seeds):
            r = learned_run(model, data, args.steps, temperature, seed, CLIP[recipe],
                            window_fs=s_ref["duration_fs"] if recipe == "recommended" else None)
            entry["runs"].append(r)
            print(f"  seed {seed}: " + ", ".join(f"{k} {r[k]:.3f}" for k in KEYS) + f"; {r['error'] or 'ok'}",
                  flush=True)
        if recipe == "recommended":
            entry["runs_per_species"] = []
            for seed in range(args.seeds):
                r = learned_run(model, data, args.steps, temperature, seed, CLIP[recipe], thermostat="per-species")
                entry["runs_per_species"].append(r)
                print(f"  per-species thermostat, seed {seed}: " + ", ".join(f"{k} {r[k]:.3f}" for k in KEYS) +
                      f"; {r['error'] or 'ok'}", flush=True)
        if recipe == "recommended" and args.long_steps:
            for key, thermostat in (("long_run", None), ("long_run_per_species", "per-species")):
                r = learned_run(model, data, args.long_steps, temperature, 7, CLIP[recipe], thermostat=thermostat)
                entry[key] = r
                print(f"  {args.long_steps} steps ({thermostat or 'default'} thermostat): {r['error'] or 'no stop'}; "
                      + ", ".join(f"{k} {r[k]:.3f}" for k in KEYS), flush=True)
        results["models"][recipe] = entry
    (HERE / "fidelity.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    text = report(results, args)
    print(text)
    if args.write:
        (HERE / "FIDELITY.md").write_text(text)


def _stat(runs, key, dec):
    v = np.array([r[key] for r in runs], dtype=float)
    if not v.size:
        return "n/a"
    return f"{v.mean():.{dec}f} ({v.min():.{dec}f}-{v.max():.{dec}f})" if v.size > 1 else f"{v[0]:.{dec}f}"


def report(results: dict, args) -> str:
    ref = results["reference"]
    rec, pap = results["models"]["recommended"], results["models"]["paper"]
    rows = [("H-O-H angle, mean (deg)", "hoh_angle_mean_deg", 1), ("H-O-H angle, std (deg)", "hoh_angle_std_deg", 1),
            ("hydrogens changing oxygen, lasting >= 20 fs (per H per ps)", "oxygen_changes_per_h_per_ps", 2),
            ("g_OO first peak (Å)", "g_OO_peak_r_A", 3), ("O-H stretch peak (cm⁻¹)", "oh_stretch_peak_cm1", 0),
            ("O-H bond, mean (Å)", "oh_bond_mean_A", 3), ("closest H-H (Å)", "closest_HH_A", 2),
            ("closest O-O (Å)", "closest_OO_A", 2), ("mean temperature (K)", "mean_temperature_K", 1),
            ("temperature of the oxygens (K)", "temperature_O_K", 0),
            ("temperature of the hydrogens (K)", "temperature_H_K", 0)]
    lines = [
        "# Fidelity: learned MD against CP2K", "",
        f"_Measured {datetime.datetime.now():%Y-%m-%d %H:%M} on {machine_info()}; `python benchmarks/fidelity.py "
        f"--seeds {args.seeds} --steps {args.steps} --long-steps {args.long_steps} --write`._", "",
        "Reference: the CP2K run of the 32-water box (Pade-LDA, DZVP) `../shared/data/cp2k-h2o32-dft`, steps "
        "160-799 (~550 K). Learned: NVT with `mldyn run`'s defaults (0.5 fs, one Nosé–Hoover thermostat on all atoms, "
        "50 fs; the middle column with `--thermostat per-species`, one thermostat per species) from "
        f"the last CP2K frame at the reference's mean temperature, {args.steps} steps; {args.seeds} runs per model "
        "(the CP2K velocities, then velocities drawn with seeds 1, 2): mean (min-max).", "",
        "| observable | CP2K | recommended (default `mldyn fit`) | recommended, `--thermostat per-species` | "
        "paper radial (`--recipe paper --select 7`, `--clip 10`) |", "|---|---:|---:|---:|---:|"]
    for label, key, dec in rows:
        lines.append(f"| {label} | {ref[key]:.{dec}f} | {_stat(rec['runs'], key, dec)} | "
                     f"{_stat(rec['runs_per_species'], key, dec)} | {_stat(pap['runs'], key, dec)} |")
    lines.append("| runs that failed | | " + " | ".join(f"{sum(r['error'] is not None for r in runs)} of {len(runs)}"
                                                    for runs in (rec["runs"], rec["runs_per_species"], pap["runs"])) + " |")
    lines += ["", "Force errors (relative RMSE sqrt(<|F_pred - F|²> / <|F|²>)):", "",
              "| model | held out: fitted on steps 0-699, tested on 700-799 | test block of the fit on 0-799 |",
              "|---|---|---|"]
    for name, e in (("recommended", rec), ("paper radial", pap)):
        lines.append(f"| {name} | " + ", ".join(f"{sp} {v:.3f}" for sp, v in e["held_out_relative_rmse"].items())
                     + " | " + ", ".join(f"{sp} {v:.3f}" for sp, v in e["test_block_relative_rmse"].items()) + " |")
    for key, what in (("long_run", "default thermostat"), ("long_run_per_species", "`--thermostat per-species`")):
        if key not in rec:
            continue
        r = rec[key]
        lines += ["", f"Long run of the recommended model, {what} ({r['steps']} steps = {r['steps'] / 2000:.0f} ps, "
                  f"seed 7): {'no stop' if r['error'] is None else 'STOPPED: ' + r['error']}; H-O-H "
                  f"{r['hoh_angle_mean_deg']:.1f} ± {r['hoh_angle_std_deg']:.1f} deg, g_OO first peak "
                  f"{r['g_OO_peak_r_A']:.2f} Å, O-H bond {r['oh_bond_mean_A']:.3f} Å, hops "
                  f"{r['oxygen_changes_per_h_per_ps']:.2f} per H per ps, closest H-H {r['closest_HH_A']:.2f} Å, O-O "
                  f"{r['closest_OO_A']:.2f} Å, T {r['mean_temperature_K']:.1f} K (O {r['temperature_O_K']:.0f}, H "
                  f"{r['temperature_H_K']:.0f})."]
    windows = np.array([p for r in rec["runs"] for p in r.get("stretch_windows", ())])
    if windows.size:
        ref_peak, dur = results["reference"]["oh_stretch_peak_cm1"], results["reference"]["duration_fs"]
        runs_mean = np.mean([r["oh_stretch_peak_cm1"] for r in rec["runs"]])
        lines += ["", f"How precisely a run as short as the reference fixes the stretch peak: the recommended model's "
                  f"{len(rec['runs'])} runs above (default thermostat) cut into {windows.size} stretches of "
                  f"{dur:.0f} fs, the length of the CP2K reference, each analysed as the reference is: peak "
                  f"{windows.mean():.0f} ± {windows.std():.0f} cm⁻¹ (mean ± SD; 10-90 % "
                  f"{np.percentile(windows, 10):.0f}-{np.percentile(windows, 90):.0f}); "
                  f"{100 * np.mean(windows >= ref_peak):.0f} % of them at or above CP2K's {ref_peak:.0f}. One "
                  f"{dur:.0f} fs run locates the peak only to ± {100 * windows.std() / ref_peak:.0f} % (1 SD), more "
                  f"than the 3 % target: the reference cannot tell a 3 % difference from its own noise. Compared like "
                  f"with like (mean of the stretches against CP2K) the learned band sits "
                  f"{100 * (windows.mean() / ref_peak - 1):+.1f} %; the full runs' peaks "
                  f"({runs_mean:.0f}) {100 * (runs_mean / ref_peak - 1):+.1f} %."]
    lines += ["", "A long run is judged by its observables, not only by the absence of a stop: a run can stay clear "
              "of every contact limit and still leave the structure of the training data (compare its g_OO first "
              "peak and O-H bond with CP2K's)."]
    lines += ["", "Definitions: `mldyn.analysis.summarize` (the O-H stretch peak is that of the spectrum averaged "
              "over 1 ps segments and smoothed by 100 cm⁻¹: the band is ~1000 cm⁻¹ wide and flat-topped at this "
              "temperature, and the raw maximum of the CP2K reference moves by ±70 cm⁻¹ between thirds of its own "
              "run). Targets of the issue: angle within 2 deg of CP2K and its spread within 1.3x; hops within 2x; "
              "g_OO peak within 0.05 Å; stretch peak within 3 %; no H-H pair below 1.0 Å; 100 ps stable.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
