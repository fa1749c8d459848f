"""mldyn test model.json DATA [DATA ...] [--json]: evaluate a model on every frame of one or more
systems (like `dp test`): per system and over all of them."""
from __future__ import annotations

import argparse

import numpy as np

from .data_options import add_data_arguments, load_data


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file (JSON) written by mldyn fit")
    add_data_arguments(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of a table (strict JSON: null where a figure is undefined): "
                        "frames and species over all systems, and systems: one entry per system")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--uncertainty", action="store_true",
                   help="also the per-agent force uncertainty (the model needs the fit's covariance, as models fitted "
                        "by this mldyn have): per species the RMS predicted error, mean and largest uncertainty and "
                        "the rank correlation of predicted and actual error; in --json under \"uncertainty\" "
                        "(about 3 force evaluations per frame)")
    p.add_argument("--per-frame", metavar="FILE",
                   help="write a per-frame table: frame, largest and mean force uncertainty, largest and RMS force "
                        "error (eV/Å), one row per frame of every system (implies --uncertainty)")
    p.add_argument("--plot", metavar="PNG",
                   help="plot the largest force uncertainty and error per frame, and the reliability curve "
                        "(predicted against actual error per species; implies --uncertainty)")


def pooled(results: list) -> dict:
    """Per-species metrics over several systems' :func:`evaluate_forces` results (:func:`pooled_metrics`)."""
    from ..fit.metrics import pooled_metrics

    species = dict.fromkeys(sp for r in results for sp in r["species"])
    out = {sp: pooled_metrics([r["species"][sp] for r in results if sp in r["species"]]) for sp in species}
    return {sp: v for sp, v in out.items() if v["n_agents"]}


def _frame_table(systems, results) -> str:
    lines = ["# system frame max_uncertainty mean_uncertainty max_error rms_error   (eV/Angstrom; uncertainty = "
             "spread of the predicted force from the fitted parameters, see mldyn.uncertainty)"]
    for k, r in enumerate(results):
        a = r["agents"]
        for f in range(r["frames"]):
            lines.append(f"{k} {f} {a['uncertainty'][f].max():.6g} {a['uncertainty'][f].mean():.6g} "
                         f"{a['error'][f].max():.6g} {np.sqrt(np.mean(a['error'][f] ** 2)):.6g}")
    return "\n".join(lines) + "\n"


def _pooled_agents(results) -> dict:
    """The per-agent arrays of several systems side by side as one (frames, agents) block per system,
    flattened to one row (calibration only ranks and bins agents)."""
    return {k: np.concatenate([r["agents"][k].ravel() for r in results])[None, :]
            for k in ("error", "uncertainty", "predicted_error")} | {
        "species": np.concatenate([np.tile(r["agents"]["species"], r["frames"]) for r in results])}


def run(args) -> int:
    from .. import strict_json
    from ..fit.calibration import calibration
    from ..fit.metrics import RELATIVE_RMSE_DEFINITION, evaluate_forces
    from ..io.text import write_text_atomic
    from ..model import load_model

    model = load_model(args.model)
    with_u = bool(args.uncertainty or args.plot or args.per_frame)
    if with_u and model.covariance is None:
        raise ValueError(f"--uncertainty, --plot and --per-frame show the force uncertainty, and {args.model} has none "
                         f"(saved without the fit's covariance): fit it again with this mldyn")
    systems, results = [], []
    for label, dataset in load_data(args):
        try:
            results.append({**evaluate_forces(model, dataset, progress=not (args.quiet or args.json),
                                              uncertainty=with_u), "atoms": dataset.n_atoms})
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        systems.append(label)
    overall = {"frames": sum(r["frames"] for r in results), "species": pooled(results)}
    cal = None
    if with_u:
        for r in results:
            r["calibration"] = calibration(r["agents"], model.species)
        overall["calibration"] = (results[0]["calibration"] if len(results) == 1 else
                                  calibration(_pooled_agents(results), model.species))
        if args.per_frame:
            write_text_atomic(args.per_frame, _frame_table(systems, results))
        if args.plot:
            from ..report.plots import plot_uncertainty

            cal = results[0]["calibration"] if len(results) == 1 else {
                **overall["calibration"], "per_frame": {k: sum((r["calibration"]["per_frame"][k] for r in results), [])
                                                        for k in ("max_uncertainty", "max_error", "rms_error")}}
            plot_uncertainty(cal, args.plot, title=f"{args.model}: force uncertainty on {', '.join(systems)}")
    keys = ("rmse", "rms_reference", "relative_rmse")
    ukeys = ("mean_uncertainty", "max_uncertainty", "rms_predicted_error", "spearman_predicted_vs_error")

    def species_json(r):
        return {sp: {k: v[k] for k in keys} for sp, v in r["species"].items()}

    def uncertainty_json(r, per_frame: bool):
        c = r["calibration"]
        out = {"species": {sp: {k: v[k] for k in ukeys} for sp, v in c["species"].items()},
               "spearman_frame_max_uncertainty_vs_max_error": c["spearman_frame_max_uncertainty_vs_max_error"]}
        if per_frame:
            out["max_uncertainty_per_frame"] = c["per_frame"]["max_uncertainty"]
        return {"uncertainty": out}

    if args.json:
        out = {"frames": overall["frames"], "species": species_json(overall),
               **(uncertainty_json(overall, False) if with_u else {}),
               "systems": [{"data": path, "frames": r["frames"], "atoms": r["atoms"], "species": species_json(r),
                            **(uncertainty_json(r, True) if with_u else {})}
                           for path, r in zip(systems, results)]}
        print(strict_json.dumps(out))
        return 0
    blocks = [(path, r) for path, r in zip(systems, results)]
    if len(results) > 1:
        blocks.append((f"all {len(results)} systems", overall))
    print(RELATIVE_RMSE_DEFINITION)
    if with_u:
        print("uncertainty = spread of an agent's predicted force from the fitted parameters (eV/Å); predicted error "
              "= the error it implies, with the fit's residual")
    for label, r in blocks:
        print(f"{label}: {r['frames']} frames")
        head = f"  {'species':<8}{'agents':>10}{'RMSE (eV/Å)':>14}{'RMS ref (eV/Å)':>16}{'relative':>10}"
        print(head + (f"{'pred. error':>13}{'mean unc.':>11}{'max unc.':>10}{'Spearman':>10}" if with_u else ""))
        for sp, v in r["species"].items():
            row = f"  {sp:<8}{v['n_agents']:>10}{v['rmse']:>14.4f}{v['rms_reference']:>16.4f}{v['relative_rmse']:>10.3f}"
            if with_u:
                c = r["calibration"]["species"][sp]
                row += (f"{c['rms_predicted_error']:>13.4f}{c['mean_uncertainty']:>11.4f}{c['max_uncertainty']:>10.4f}"
                        f"{c['spearman_predicted_vs_error']:>10.2f}")
            print(row)
    if args.per_frame:
        print(f"per-frame table: {args.per_frame}")
    if args.plot:
        print(f"plot: {args.plot}")
    return 0
