"""mldyn test model.json DATA [DATA ...] [--json]: evaluate a model on every frame of one or more
systems (like `dp test`): per system and over all of them."""
from __future__ import annotations

import argparse

from .data_options import add_data_arguments, load_data


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file (JSON) written by mldyn fit")
    add_data_arguments(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of a table (strict JSON: null where a figure is undefined): "
                        "frames and species over all systems, and systems: one entry per system")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def pooled(results: list) -> dict:
    """Per-species metrics over several systems' :func:`evaluate_forces` results (:func:`pooled_metrics`)."""
    from ..fit.metrics import pooled_metrics

    species = dict.fromkeys(sp for r in results for sp in r["species"])
    out = {sp: pooled_metrics([r["species"][sp] for r in results if sp in r["species"]]) for sp in species}
    return {sp: v for sp, v in out.items() if v["n_agents"]}


def run(args) -> int:
    from .. import strict_json
    from ..fit.metrics import RELATIVE_RMSE_DEFINITION, evaluate_forces
    from ..model import load_model

    model = load_model(args.model)
    systems, results = [], []
    for label, dataset in load_data(args):
        try:
            results.append({**evaluate_forces(model, dataset, progress=not (args.quiet or args.json)),
                            "atoms": dataset.n_atoms})
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        systems.append(label)
    overall = {"frames": sum(r["frames"] for r in results), "species": pooled(results)}
    keys = ("rmse", "rms_reference", "relative_rmse")
    if args.json:
        out = {"frames": overall["frames"],
               "species": {sp: {k: v[k] for k in keys} for sp, v in overall["species"].items()},
               "systems": [{"data": path, "frames": r["frames"], "atoms": r["atoms"],
                            "species": {sp: {k: v[k] for k in keys} for sp, v in r["species"].items()}}
                           for path, r in zip(systems, results)]}
        print(strict_json.dumps(out))
        return 0
    blocks = [(path, r) for path, r in zip(systems, results)]
    if len(results) > 1:
        blocks.append((f"all {len(results)} systems", overall))
    print(RELATIVE_RMSE_DEFINITION)
    for label, r in blocks:
        print(f"{label}: {r['frames']} frames")
        print(f"  {'species':<8}{'agents':>10}{'RMSE (eV/Å)':>14}{'RMS ref (eV/Å)':>16}{'relative':>10}")
        for sp, v in r["species"].items():
            print(f"  {sp:<8}{v['n_agents']:>10}{v['rmse']:>14.4f}{v['rms_reference']:>16.4f}"
                  f"{v['relative_rmse']:>10.3f}")
    return 0
