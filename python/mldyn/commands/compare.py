"""mldyn compare REFERENCE RUN [RUN ...] -o REPORTDIR: figures and a Markdown report comparing learned runs with a
reference."""
from __future__ import annotations

import argparse
import os
import sys


def _labels(value: str):
    parts = [p.strip() for p in value.split(",")]
    if len(parts) < 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"--labels takes names separated by commas, the reference's first, e.g. "
                                         f"CP2K,learned; got {value!r}")
    return tuple(parts)


def _positive_int(value: str):
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return k


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``mldyn compare``: REFERENCE RUN -o REPORTDIR [--model] [--labels] [--seed] [--absolute-time] ..."""
    data = ("CP2K run directory (e.g. one written by mldyn run), extended XYZ, deepmd/npy system, dataset .npz, "
            "or @h2o32 for the bundled CP2K water run")
    p.add_argument("reference", help="reference run: " + data)
    p.add_argument("run", nargs="+", help="run(s) to compare with it (learned runs, shown side by side): " + data)
    p.add_argument("-o", "--output", required=True, help="report directory (created): PNG figures, report.md, "
                   "summary.json")
    p.add_argument("--model", default=None, help="model JSON whose force error on the reference frames is reported "
                   "for the (first) run (default: RUN/model.json of each run that has one)")
    p.add_argument("--labels", type=_labels, default=None,
                   help="names of the reference and each run in figures and table, comma-separated, e.g. "
                        "CP2K,learned (default reference,learned for one run, reference,RUN1,RUN2... for several)")
    p.add_argument("--seed", type=int, default=0, help="seed of the four random hydrogens of Fig. 5 (default 0)")
    p.add_argument("--absolute-time", action="store_true",
                   help="plot times as recorded in the files instead of from the start of each run")
    p.add_argument("--force-stride", type=_positive_int, default=1,
                   help="evaluate the model on every K-th reference frame (default 1: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    """Load every run (:func:`mldyn.report.compare.load_run`), write figures and report, print the table and its path."""
    from ..report.compare import compare_runs, format_table, load_run

    reference, notes = load_run(args.reference)
    runs = []
    for path in args.run:
        data, more = load_run(path)
        runs.append(data)
        notes += more
    labels = args.labels or (("reference", "learned") if len(runs) == 1 else
                             ("reference",) + tuple(os.path.basename(os.path.normpath(p)) for p in args.run))
    if len(labels) != 1 + len(runs):
        raise ValueError(f"--labels names {len(labels)} runs, but there are {1 + len(runs)} (the reference and "
                         f"{len(runs)} to compare)")
    models = []
    for k, path in enumerate(args.run):
        auto = os.path.join(path, "model.json")
        if k == 0 and args.model is not None:
            models.append(args.model)
        elif os.path.isdir(path) and os.path.isfile(auto):
            models.append(auto)
        else:
            models.append(None)
    if any(models) and reference.forces_fnc is None:
        print(f"mldyn compare: warning: {args.reference} has no forces; the force errors are not reported",
              file=sys.stderr)
    result = compare_runs(reference, runs, args.output, labels=labels, model=models,
                          names=(args.reference,) + tuple(args.run), seed=args.seed, absolute_time=args.absolute_time,
                          force_stride=args.force_stride, progress=not args.quiet, model_source=models, notes=notes)
    print(format_table(result.rows, result.labels, markdown=False))
    for lab, source, forces in zip(result.labels[1:], models, result.forces_all):
        if forces is None:
            continue
        print()
        print(f"{lab}: force model {source} on {forces['frames']} {result.labels[0]} frames:")
        print(f"{'species':<8}{'agents':>10}{'RMSE (eV/Å)':>14}{'RMS ref (eV/Å)':>16}{'relative':>10}")
        for sp, v in forces["species"].items():
            print(f"{sp:<8}{v['n_agents']:>10}{v['rmse']:>14.4f}{v['rms_reference']:>16.4f}{v['relative_rmse']:>10.3f}")
    for note in result.notes:
        print(f"note: {note}")
    print()
    print(f"report: {result.report}")
    return 0
