"""Markdown reports of ``mldyn explore``: one per iteration and one for the whole exploration, made from
the record in explore.json alone (so they can be written again at any time)."""
from __future__ import annotations

import math

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
        out += ["", "## Learned dynamics of this iteration's model against the reference", "",
                format_table(comparison_rows(ref, [_numbers(r["fidelity"]) for r in runs]), labels)]
    return "\n".join(out) + "\n"


def overall_report(state: dict) -> str:
    """One table over the iterations: frames added, errors before and after, the held-out errors of each model
    on the original run's test block, and the observables of the first temperature's run."""
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
    out += ["", "Each iteration's report (runs, uncertainty, observables against the reference): iter-NNN/report.md."]
    return "\n".join(out) + "\n"
