"""mldyn compare REFERENCE RUN -o REPORTDIR: figures and a Markdown report comparing a learned run with a reference."""
from __future__ import annotations

import argparse
import os
import sys


def _labels(value: str):
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"--labels takes two names separated by a comma, e.g. CP2K,learned; got {value!r}")
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
    p.add_argument("run", help="run to compare with it (the learned run): " + data)
    p.add_argument("-o", "--output", required=True, help="report directory (created): PNG figures, report.md, "
                   "summary.json")
    p.add_argument("--model", default=None, help="model JSON whose force error on the reference frames is reported "
                   "(default: RUN/model.json if it exists)")
    p.add_argument("--labels", type=_labels, default=("reference", "learned"),
                   help="names of the two runs in figures and table, e.g. CP2K,learned (default reference,learned)")
    p.add_argument("--seed", type=int, default=0, help="seed of the four random hydrogens of Fig. 5 (default 0)")
    p.add_argument("--absolute-time", action="store_true",
                   help="plot times as recorded in the files instead of from the start of each run")
    p.add_argument("--force-stride", type=_positive_int, default=1,
                   help="evaluate the model on every K-th reference frame (default 1: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    """Load both runs (:func:`mldyn.report.compare.load_run`), write figures and report, print the table and the report path."""
    from ..report.compare import compare_runs, format_table, load_run

    reference, notes = load_run(args.reference)
    learned, more = load_run(args.run)
    notes += more
    model, source = args.model, args.model
    if model is None:
        auto = os.path.join(args.run, "model.json")
        if os.path.isdir(args.run) and os.path.isfile(auto):
            model = source = auto
    if model is not None and reference.forces_fnc is None:
        print(f"mldyn compare: warning: {args.reference} has no forces; the force error of {source} is not reported",
              file=sys.stderr)
    result = compare_runs(reference, learned, args.output, labels=args.labels, model=model,
                          names=(args.reference, args.run), seed=args.seed, absolute_time=args.absolute_time,
                          force_stride=args.force_stride, progress=not args.quiet, model_source=source, notes=notes)
    print(format_table(result.rows, result.labels, markdown=False))
    if result.forces is not None:
        print()
        print(f"force model {source} on {result.forces['frames']} {result.labels[0]} frames:")
        print(f"{'species':<8}{'agents':>10}{'RMSE (eV/Å)':>14}{'RMS ref (eV/Å)':>16}{'relative':>10}")
        for sp, v in result.forces["species"].items():
            print(f"{sp:<8}{v['n_agents']:>10}{v['rmse']:>14.4f}{v['rms_reference']:>16.4f}{v['relative_rmse']:>10.3f}")
    for note in result.notes:
        print(f"note: {note}")
    print()
    print(f"report: {result.report}")
    return 0
