"""Markdown reports of ``mldyn explore``: one per iteration and one for the whole exploration, made from
the record in explore.json alone (so they can be written again at any time)."""
from __future__ import annotations

import math
from pathlib import Path

from ..analysis.sampling_noise import GROWS_WITH_LENGTH
from ..report.compare import comparison_rows, format_table

__all__ = ["iteration_report", "overall_report"]


def _num(x, fmt: str = ".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def _numbers(d: dict) -> dict:
    """Observables as read back from explore.json, where an undefined one (NaN) is null."""
    return {k: math.nan if v is None else v for k, v in d.items()}


def _errors_table(rec: dict) -> list[str]:
    before, after = rec.get("errors_before") or {}, rec.get("errors_after") or {}
    if not before:
        return []
    lines = ["| species | relative RMSE before the refit | after | RMSE before (eV/Å) | after (eV/Å) |",
             "|---|---:|---:|---:|---:|"]
    for sp, b in before.items():
        a = after.get(sp, {})
        lines.append(f"| {sp} | {_num(b['relative_rmse'])} | {_num(a.get('relative_rmse'))} | "
                     f"{_num(b['rmse_eV_A'])} | {_num(a.get('rmse_eV_A'))} |")
    return lines


def iteration_report(state: dict, rec: dict) -> str:
    """Frames added, force errors on them before and after the refit, the uncertainty of the explored frames
    and the water observables of each exploration run against the reference run."""
    i = rec["index"]
    out = [f"# mldyn explore: iteration {i}", "", f"Model explored with: `{rec.get('model')}`; threshold "
           f"{_num(rec.get('threshold_eV_A'), '.3g')} eV/Å (largest per-agent force uncertainty of a frame).", ""]
    out += ["## Exploration runs", "", "| temperature (K) | density (x start) | frames | stopped | uncertainty per frame: "
            "median / 90% / 99% / max (eV/Å) | frames above threshold |", "|---:|---:|---:|---|---|---:|"]
    for run in rec.get("runs", []):
        p = run.get("uncertainty_percentiles_eV_A", {})
        pct = " / ".join(_num(p.get(q), ".3g") for q in ("50", "90", "99", "100"))
        stopped = "no" if not run.get("stopped") else run["stopped"][:120].replace("|", "/") + "..."
        out.append(f"| {run['temperature_K']:g} | {run.get('density_factor', 1.0):g} | {run.get('frames', 'n/a')} | "
                   f"{stopped} | {pct} | "
                   f"{run.get('frames_above_threshold', 'n/a')} |")
    sel = rec.get("selected", [])
    out += ["", f"## Frames added: {len(sel)} selected"]
    if sel:
        lab = rec.get("labels") or {}
        out += [f"({lab.get('frames', 0)} labelled by CP2K, {len(lab.get('failed', {}))} failed)" if lab else
                "(CP2K labels not made yet)", ""]
        out += _errors_table(rec)
        for k, why in (rec.get("labels") or {}).get("failed", {}).items():
            out.append(f"- frame {k}: {why}")
    ref = _numbers(state.get("reference_observables") or {})
    runs = [r for r in rec.get("runs", []) if r.get("fidelity") and "error" not in r["fidelity"]]
    if ref and "error" not in ref and runs:
        labels = ["CP2K (original run)"] + [f"learned {r['temperature_K']:g} K" + (
            f" x{r['density_factor']:g}" if r.get("density_factor", 1.0) != 1.0 else "") for r in runs]
        extra, why = _noise_column(state, [_closest_to_reference(state, runs)] + runs)
        out += ["", "## Learned dynamics of this iteration's model against the reference", "",
                format_table(comparison_rows(ref, [_numbers(r["fidelity"]) for r in runs]), labels, extra=extra),
                "", why]
    return "\n".join(out) + "\n"


def _closest_to_reference(state: dict, runs: list) -> dict:
    """The run nearest the reference: one that ran to the end if any, at the original density if any, at the
    temperature closest to the reference run's mean temperature."""
    t_ref = (state.get("reference_observables") or {}).get("mean_temperature_K")
    pool = [r for r in runs if not r.get("stopped")] or runs
    pool = [r for r in pool if r.get("density_factor", 1.0) == 1.0] or pool
    return pool[0] if t_ref is None else min(pool, key=lambda r: abs(r["temperature_K"] - t_ref))


def _run_name(run: dict) -> str:
    rho = run.get("density_factor", 1.0)
    return f"{run['temperature_K']:g} K" + (f" (density x {rho:g})" if rho != 1.0 else "")


def _noise_column(state: dict, runs: list, whose: str = "") -> tuple:
    """(the extra table column of the reference's sampling noise from the first of ``runs`` that has it, or None;
    the sentence that explains it). ``whose`` names the runs' model in the sentence."""
    span = state.get("reference_span_fs")
    usable = [r for r in runs if (r.get("fidelity_spread") or {}).get("stretches")]
    if not usable or span is None:
        errors = [r["fidelity_spread"]["error"] for r in runs if (r.get("fidelity_spread") or {}).get("error")]
        return None, f"Sampling noise of the reference not shown: {errors[0] if errors else 'not estimated'}."
    run = usable[0]
    spread = run["fidelity_spread"]
    head = f"sampling noise of a {span:g} fs run (SD)"
    noise = {k: v for k, v in _numbers(spread).items() if k not in GROWS_WITH_LENGTH}
    return (head, noise), (
        f"Sampling noise: how much a run as long as the reference ({span:g} fs) varies by chance, the standard "
        f"deviation of each quantity over {spread['stretches']} consecutive stretches of {span:g} fs of the learned "
        f"{_run_name(run)} run{whose} (its first stretch left out as the start-up; n/a where no stretch differs, "
        f"as for an event none of them saw). A learned value within about twice this of the reference's is as "
        f"close as the reference can tell; telling which of two models is nearer takes a change between them of "
        f"about four times this (a learned run's own noise is smaller, by at most √{spread['stretches'] + 1}). "
        f"Counts and closest contacts grow with a run's length (the learned runs are longer than the reference), "
        f"so they get none.")


def _dynamics_over_models(state: dict) -> list[str]:
    """The observables of each model's exploration run nearest the reference temperature, side by side."""
    ref = _numbers(state.get("reference_observables") or {})
    iters = [rec for rec in state.get("iterations", [])
             if [r for r in rec.get("runs", []) if r.get("fidelity") and "error" not in r["fidelity"]]]
    if not ref or "error" in ref or not iters:
        return []
    picked = [_closest_to_reference(state, [r for r in rec["runs"] if r.get("fidelity") and "error" not in
                                            r["fidelity"]]) for rec in iters]
    labels = ["CP2K (original run)"] + [f"{Path(rec.get('model', '?')).stem} ({_run_name(run)})"
                                        for rec, run in zip(iters, picked)]
    with_noise = [(rec, run) for rec, run in zip(iters, picked) if (run.get("fidelity_spread") or {}).get("stretches")]
    extra, why = _noise_column(state, [run for _, run in with_noise] or picked,
                               f" of {Path(with_noise[0][0].get('model', '?')).stem}" if with_noise else "")
    final = state.get("model")
    unexplored = ([] if final is None or any(rec.get("model") == final for rec in iters) else
                  [f"The final model ({Path(final).stem}) has had no exploration run: judge it with `mldyn run` and "
                   f"`mldyn compare`.", ""])
    return ["", "## Learned dynamics of each model against the reference", "",
            "Each model's exploration run (made in the next iteration) at the temperature nearest the reference's.",
            ""] + unexplored + [
            format_table(comparison_rows(ref, [_numbers(r["fidelity"]) for r in picked]), labels, extra=extra),
            "", why]


def overall_report(state: dict) -> str:
    """One table over the iterations: frames added, errors before and after, the held-out errors of each model
    on the original run's test block, and the observables of each model's run nearest the reference temperature
    with the reference's sampling noise."""
    cfg = state["config"]
    out = ["# mldyn explore", "", f"Data: {', '.join(map(str, cfg['data']))}; CP2K deck: `{cfg['cp2k_input']}`; "
           f"temperatures {', '.join(f'{t:g}' for t in cfg['temperatures'])} K, {cfg['steps']} steps of {cfg['dt']:g} "
           f"fs per run; at most {cfg['frames']} single points per iteration; threshold "
           f"{_num(state.get('threshold'), '.3g')} eV/Å ({state.get('threshold_rule', '')}).", ""]
    if state.get("finished"):
        out += [f"**Finished: {state['finished']}.** Model: `{state.get('model')}` (copied to model.json).", ""]
    fits = state.get("fits", {})
    out += ["| model | labelled frames | test RMSE on the original run, relative (per species) | stable fit |",
            "|---|---:|---|---|"]
    for i, f in sorted(fits.items(), key=lambda kv: int(kv[0])):
        tm = f.get("test_metrics") or {}
        errs = ", ".join(f"{sp} {_num(v.get('relative_rmse'))}" for sp, v in tm.items())
        out.append(f"| model-{int(i):03d} | {f.get('labelled_frames', 0)} | {errs} | {f.get('stability_passed')} |")
    out += ["", "| iteration | frames above threshold | selected | labelled | errors on them before -> after refit "
            "(relative) |", "|---:|---:|---:|---:|---|"]
    for rec in state.get("iterations", []):
        above = sum(r.get("frames_above_threshold", 0) for r in rec.get("runs", []))
        b, a = rec.get("errors_before") or {}, rec.get("errors_after") or {}
        errs = ", ".join(f"{sp} {_num(v['relative_rmse'])} -> {_num(a.get(sp, {}).get('relative_rmse'))}"
                         for sp, v in b.items())
        out.append(f"| {rec['index']} | {above} | {len(rec.get('selected', []))} | "
                   f"{(rec.get('labels') or {}).get('frames', 0)} | {errs or '-'} |")
    out += _dynamics_over_models(state)
    out += ["", "Each iteration's report (runs, uncertainty, observables against the reference): iter-NNN/report.md."]
    return "\n".join(out) + "\n"
