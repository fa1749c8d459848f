"""mldyn fit DATA -o model.json: least-squares agent-loss model with optional feature selection."""
from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path


def _select(value: str):
    if value == "auto":
        return "auto"
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--select takes a number of functions or 'auto', got {value!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError("--select must be at least 1")
    return k


def _ridge(value: str):
    if value == "auto":
        return "auto"
    try:
        lam = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ridge takes 'auto' or a number >= 0, got {value!r}") from None
    if not lam >= 0:
        raise argparse.ArgumentTypeError("--ridge must be >= 0")
    return lam


def _split(value: str):
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or any(p < 0 for p in parts) or sum(parts) > 1 + 1e-9:
        raise argparse.ArgumentTypeError(
            "--split takes four fractions EQUIL,TRAIN,VALIDATION,TEST (>= 0, sum <= 1), e.g. 0.2,0.6,0.1,0.1")
    return parts


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="CP2K run directory, extended XYZ with forces, deepmd/npy system, dataset .npz, "
                   "or @h2o32 for the bundled CP2K water run")
    p.add_argument("-o", "--output", required=True, help="model file to write (JSON)")
    p.add_argument("--loss", choices=("linear", "quadratic"), default="quadratic", help="agent loss (default quadratic)")
    p.add_argument("--select", type=_select, default=None,
                   help="backward elimination of weight functions: keep K functions, or 'auto' (lowest validation error)")
    p.add_argument("--ridge", type=_ridge, default="auto",
                   help="relative ridge strength, or 'auto' to choose it on the validation block (default)")
    p.add_argument("--split", type=_split, default=(0.2, 0.6, 0.1, 0.1),
                   help="contiguous time blocks EQUIL,TRAIN,VALIDATION,TEST as fractions (default 0.2,0.6,0.1,0.1)")
    p.add_argument("--cutoff", type=float, default=None, help="cutoff in Å (default: half the smallest cell width)")
    p.add_argument("--r-on", type=float, default=None, help="start of the smooth switching to zero at the cutoff, Å")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def format_table(table: dict, species: list, frames: int) -> str:
    """Table 1 (relative RMSE) plus absolute errors, as aligned text."""
    lines = [f"Table 1: force errors on the test block ({frames} frames)",
             "  relative RMSE = sqrt(<|F_pred - F_ref|^2> / <|F_ref|^2>) over the agents of each species",
             "  " + f"{'loss':<10}" + "".join(f"{sp:>10}" for sp in species)]
    for kind in ("linear", "quadratic"):
        lines.append("  " + f"{kind:<10}" + "".join(f"{table[kind][sp]['relative_rmse']:>10.3f}" for sp in species))
    lines.append("  RMSE / RMS of reference forces (eV/Å):")
    for kind in ("linear", "quadratic"):
        lines.append("  " + f"{kind:<10}" + "".join(
            f"{table[kind][sp]['rmse']:>6.3f}/{table[kind][sp]['rms_reference']:<6.3f}" for sp in species))
    return "\n".join(lines)


def fit_and_report(dataset, source: str, output, *, loss="quadratic", select=None, ridge="auto",
                   split=(0.2, 0.6, 0.1, 0.1), cutoff=None, r_on=None, progress=True, command="mldyn fit"):
    """Fit, save the model to ``output`` (with the selection curve next to it when selecting) and
    print Table 1 and the kept functions: what ``mldyn fit`` and ``mldyn demo`` do. Returns the FitReport."""
    from ..descriptors import Radial
    from ..fit import fit_model
    from ..report.plots import plot_selection_curves

    report = fit_model(dataset, Radial.paper(r_cut=cutoff, r_on=r_on), loss=loss, select=select, ridge=ridge,
                       split=split, progress=progress)
    model = report.model
    model.metadata["data"] = {"source": str(source), "provenance": getattr(dataset, "provenance", {})}
    model.metadata["command"] = command
    out = Path(output)
    model.save(out)
    names = model.species
    print(format_table(report.table, names, report.split_frames["test"]))
    print("  ridge: " + ", ".join(f"{sp} {report.species_fits[sp].ridge:g}" for sp in names))
    if select is not None:
        labels = [report.parametrization.unit_label(u) for u in range(len(report.parametrization.units))]
        for sp in names:
            kept = report.kept_labels(sp)
            print(f"  {sp}: kept {len(kept)} functions: {', '.join(kept)}")
        fig = out.with_name(out.stem + "-selection.png")
        curves = {sp: report.species_fits[sp].selection_curve for sp in names}
        plot_selection_curves(curves, fig, labels, {sp: len(report.species_fits[sp].kept_units) for sp in names})
        print(f"selection curve (Figure 2): {fig}")
    return report


def run(args) -> int:
    from ..io import load_dataset

    t0 = time.perf_counter()
    dataset = load_dataset(args.data, require_forces=True)
    fit_and_report(dataset, args.data, args.output, loss=args.loss, select=args.select, ridge=args.ridge,
                   split=args.split, cutoff=args.cutoff, r_on=args.r_on, progress=not args.quiet,
                   command=shlex.join(["mldyn"] + args.argv))
    print(f"model: {args.output}  ({time.perf_counter() - t0:.1f} s)")
    return 0
