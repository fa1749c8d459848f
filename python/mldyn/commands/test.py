"""mldyn test model.json DATA [--json]: evaluate a model on every frame of a run (like `dp test`)."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file (JSON) written by mldyn fit")
    p.add_argument("data", help="CP2K run directory, extended XYZ with forces, deepmd/npy system, dataset .npz, "
                   "or @h2o32 for the bundled CP2K water run")
    p.add_argument("--forces-key", default=None,
                   help="extended XYZ: the column of reference forces (default: forces, or REF_forces/DFT_forces as "
                        "MACE and NequIP write them; a file with several must name one)")
    p.add_argument("--energy-key", default=None,
                   help="extended XYZ: the per-frame reference energy (default: REF_energy, DFT_energy, energy, ...)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table (strict JSON: "
                                                          "null where a figure is undefined)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from .. import strict_json
    from ..io import load_dataset
    from ..fit.metrics import RELATIVE_RMSE_DEFINITION, evaluate_forces
    from ..model import load_model

    model = load_model(args.model)
    dataset = load_dataset(args.data, require_forces=True, forces_key=args.forces_key,
                           energy_key=args.energy_key)
    result = evaluate_forces(model, dataset, progress=not (args.quiet or args.json))
    if args.json:
        out = {"frames": result["frames"],
               "species": {sp: {k: v[k] for k in ("rmse", "rms_reference", "relative_rmse")}
                           for sp, v in result["species"].items()}}
        print(strict_json.dumps(out))
        return 0
    print(f"{result['frames']} frames; {RELATIVE_RMSE_DEFINITION}")
    print(f"{'species':<8}{'agents':>10}{'RMSE (eV/Å)':>14}{'RMS ref (eV/Å)':>16}{'relative':>10}")
    for sp, v in result["species"].items():
        print(f"{sp:<8}{v['n_agents']:>10}{v['rmse']:>14.4f}{v['rms_reference']:>16.4f}{v['relative_rmse']:>10.3f}")
    return 0
