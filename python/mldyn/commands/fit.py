"""mldyn fit DATA -o model.json: least-squares agent-loss model (the recommended, stability-checked recipe
by default; the paper's radial model with --recipe paper), optional feature selection."""
from __future__ import annotations

import argparse
import math
import os
import shlex
import tempfile
import time
from pathlib import Path

from .data_options import add_data_arguments, load_data


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


def _nonnegative(value: str, takes: str, must: str) -> float:
    """``value`` as a finite number >= 0; otherwise ArgumentTypeError with ``takes`` (not a number) or ``must``."""
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{takes}, got {value!r}") from None
    if not 0 <= x < math.inf:
        raise argparse.ArgumentTypeError(f"{must}, got {value!r}")
    return x


def _ridge(value: str):
    if value == "auto":
        return "auto"
    return _nonnegative(value, "--ridge takes 'auto' or a number >= 0", "--ridge must be a finite number >= 0 (or 'auto')")


def _split(value: str):
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or any(p < 0 for p in parts) or sum(parts) > 1 + 1e-9:
        raise argparse.ArgumentTypeError(
            "--split takes four fractions EQUIL,TRAIN,VALIDATION,TEST (>= 0, sum <= 1), e.g. 0.2,0.6,0.1,0.1")
    if parts[3] == 0:
        raise argparse.ArgumentTypeError("--split: the test fraction is 0, but Table 1 is measured on the test "
                                         "block; give it a fraction > 0, e.g. 0.2,0.6,0.1,0.1")
    return parts


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_data_arguments(p)
    p.add_argument("-o", "--output", required=True, help="model file to write (JSON)")
    p.add_argument("--loss", choices=("linear", "quadratic"), default=None,
                   help="agent loss (default: linear for the recommended recipe, quadratic for the paper's)")
    p.add_argument("--select", type=_select, default=None,
                   help="backward elimination of weight functions: keep K functions, or 'auto' (lowest validation error)")
    p.add_argument("--ridge", type=_ridge, default="auto",
                   help="relative ridge strength, or 'auto' to choose it on the validation block (default)")
    p.add_argument("--split", type=_split, default=None,
                   help="fractions EQUIL,TRAIN,VALIDATION,TEST: contiguous time blocks (default 0.2,0.6,0.1,0.1); "
                        "for data without a time axis (deepmd/npy, extended XYZ without step or time) the frames are "
                        "shuffled (seed 0) and nothing is dropped (default 0,0.8,0.1,0.1)")
    p.add_argument("--cutoff", type=float, default=None, help="cutoff in Å (default: half the smallest cell width)")
    p.add_argument("--r-on", type=float, default=None, help="start of the smooth switching to zero at the cutoff, Å")
    p.add_argument("--recipe", choices=("recommended", "paper"), default="recommended",
                   help="recommended (default): 10 radial functions of the paper's families plus angular "
                        "invariants (5 channels, l_max 4) in a linear loss fitted with the force changes, "
                        "short-range walls below the closest training distances and the stability checks; paper: "
                        "the paper's 18 radial functions alone, forces alone, no walls, no checks")
    p.add_argument("--walls", type=_walls, default=None,
                   help="strength of the short-range walls at the training floors, eV per amu of the pair's "
                        "reduced mass (water: O-O 8 x, O-H 0.95 x, H-H 0.5 x this in eV), or 'none' "
                        "(default: 1000 for the recommended recipe, none for the paper's)")
    p.add_argument("--no-checks", action="store_true",
                   help="skip the stability checks (scan of compressed pairs, short MD probes)")
    p.add_argument("--probe-steps", type=int, default=None, help="steps of each of the 4 MD probe runs (default 4000)")
    p.add_argument("--weights", type=_weight, nargs="+", default=None, metavar="W",
                   help="one weight per DATA argument (default 1 each): each force component of its systems counts W "
                        "times in the fit (a folder's systems share its weight); the test figures weight every "
                        "agent alike")
    p.add_argument("--force-changes", type=_force_changes, default=None, metavar="TAU",
                   help="also fit the change of every force between consecutive frames at most 2 fs apart, "
                        "weighted (TAU/dt)^2: the forces' rate of change with weight TAU^2, TAU in fs; 0 turns it off "
                        "(default: 2.5 fs for the recommended recipe, which brings the learned O-H stretch band to "
                        "CP2K's; 0 for the paper's). Data without known times fit forces alone")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _weight(value: str) -> float:
    try:
        w = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--weights takes numbers > 0, got {value!r}") from None
    if not 0 < w < math.inf:
        raise argparse.ArgumentTypeError(f"--weights must be finite and > 0 (leave a system out instead of giving it "
                                         f"weight 0), got {value!r}")
    return w


def _force_changes(value: str) -> float:
    return _nonnegative(value, "--force-changes takes a time in fs (0 turns it off)",
                        "--force-changes must be a finite time >= 0 fs (0 turns it off)")


def _walls(value: str):
    if value == "none":
        return "none"
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--walls takes a strength in eV/amu or 'none', got {value!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError("--walls must be > 0 eV/amu (or 'none')")
    return x


def recipe_options(recipe: str, walls=None, no_checks: bool = False, cutoff=None, r_on=None,
                   force_changes=None) -> dict:
    """fit_model keyword arguments of a recipe ("recommended" or "paper") with the CLI's overrides."""
    from ..descriptors import Radial
    from ..fit import RECOMMENDED

    if recipe == "paper":
        opts = {"descriptors": (Radial.paper(r_cut=cutoff, r_on=r_on),), "loss": "quadratic", "walls": None,
                "checks": False}
    else:
        radial = RECOMMENDED["descriptors"][0]
        radial = Radial(radial.functions, cutoff if cutoff is not None else radial.r_cut, r_on)
        opts = {**RECOMMENDED, "descriptors": (radial,) + tuple(RECOMMENDED["descriptors"][1:])}
    if walls is not None:
        opts["walls"] = None if walls == "none" else float(walls)
    if no_checks:
        opts["checks"] = False
    if force_changes is not None:
        opts["force_changes"] = float(force_changes)
    return opts


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


def fit_and_report(dataset, source: str, output, *, recipe: str = "recommended", loss=None, select=None,
                   ridge="auto", split=None, cutoff=None, r_on=None, walls=None, weights=None,
                   no_checks: bool = False, probe_steps=None, progress=True, command="mldyn fit",
                   force_changes=None):
    """Fit, save the model to ``output`` (with the selection curve next to it when selecting) and
    print Table 1, the kept functions and the stability checks: what ``mldyn fit`` and ``mldyn demo``
    do. A model that fails the stability checks is not written to ``output`` but to
    ``<output stem>.unstable.json`` (for inspection) and ValueError says so. Returns the FitReport."""
    from ..fit import fit_model
    from ..report.plots import plot_selection_curves

    opts = recipe_options(recipe, walls, no_checks, cutoff, r_on, force_changes)
    if loss is not None:
        opts["loss"] = loss
    report = fit_model(dataset, select=select, ridge=ridge, split=split, progress=progress,
                       probe_steps=probe_steps, weights=weights, **opts)
    model = report.model
    provenance = ([d.provenance for d in dataset] if isinstance(dataset, (list, tuple))
                  else getattr(dataset, "provenance", {}))
    model.metadata["data"] = {"source": str(source), "provenance": provenance}
    model.metadata["command"] = command
    model.metadata["recipe"] = recipe
    out = Path(output)
    names = model.species
    print(format_table(report.table, names, report.split_frames["test"]))
    print("  ridge: " + ", ".join(f"{sp} {report.species_fits[sp].ridge:g}" for sp in names))
    union = " kept by any species" if select is not None else ""
    families = " + ".join(f"{d.family} ({len(d)} functions{union})" for d in model.descriptors)
    print(f"  model: {families}; {model.n_features} invariants, {model.n_quadratic} in the quadratic block")
    if select is not None:
        labels = [report.parametrization.unit_label(u) for u in range(len(report.parametrization.units))]
        for sp in names:
            kept = report.kept_labels(sp)
            print(f"  {sp}: kept {len(kept)} functions: {', '.join(kept)}")
        fig = out.with_name(out.stem + "-selection.png")
        curves = {sp: report.species_fits[sp].selection_curve for sp in names}
        plot_selection_curves(curves, fig, labels, {sp: len(report.species_fits[sp].kept_units) for sp in names},
                              model.metadata["selection_curve_scores"])
        print(f"selection curve (Figure 2): {fig}")
    if report.stability is not None:
        print(f"stability checks: {report.stability.summary()}")
        if not report.stability.passed:
            bad = out.with_name(out.stem + ".unstable.json")
            model.save(bad)
            raise ValueError(f"no candidate model passed the stability checks (ridges tried: "
                             f"{', '.join(str(c['ridge_floor']) for c in report.candidates)}); the last one is in "
                             f"{bad} for inspection, not in {out}. Check the data (enough frames, forces in eV/Å), "
                             f"or skip the checks with --no-checks at your own risk")
    save_or_keep(model, out)
    return report


def check_output_path(out: Path) -> None:
    """Before any work: -o must be a file path whose directory exists (or can be made) and is writable."""
    if out.is_dir():
        raise ValueError(f"-o {out}: is a directory; give the model file to write, e.g. {out / 'model.json'}")
    if out.parent.exists() and not out.parent.is_dir():
        raise ValueError(f"-o {out}: cannot write in {out.parent} (it is a file, not a directory); choose another path")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        raise ValueError(f"-o {out}: cannot write in {out.parent} ({exc.strerror or exc}); choose another path") from None


def save_or_keep(model, out: Path) -> None:
    """Save to ``out``; if that fails after all (disk full...), save to the temporary directory
    instead and say where, so that the fit is never lost."""
    try:
        model.save(out)
    except OSError as exc:
        spare = Path(tempfile.gettempdir()) / f"mldyn-{os.getpid()}-{out.name}"
        model.save(spare)
        raise ValueError(f"could not write -o {out} ({exc.strerror or exc}); the fitted model was saved to {spare} "
                         f"instead: move it where you want it") from None


def run(args) -> int:

    t0 = time.perf_counter()
    out = Path(args.output)
    check_output_path(out)
    if args.ridge == "auto" and args.split is not None and args.split[2] == 0:
        raise ValueError("--split: the validation fraction is 0, but --ridge auto chooses the ridge on the "
                         "validation block; give it a fraction > 0, or a fixed --ridge")
    if args.weights is not None and len(args.weights) != len(args.data):
        raise ValueError(f"--weights: {len(args.weights)} given for {len(args.data)} DATA arguments; give one per DATA "
                         f"argument, in the same order (a folder's systems share its weight)")
    systems = load_data(args, with_argument=True)
    dataset = [d for _, d, _ in systems]
    dataset = dataset[0] if len(dataset) == 1 else dataset
    weights = None if args.weights is None else [args.weights[arg] for _, _, arg in systems]
    fit_and_report(dataset, " ".join(label for label, _, _ in systems), out, recipe=args.recipe, loss=args.loss,
                   select=args.select, ridge=args.ridge, split=args.split, cutoff=args.cutoff, r_on=args.r_on,
                   walls=args.walls, weights=weights, no_checks=args.no_checks, force_changes=args.force_changes,
                   probe_steps=args.probe_steps, progress=not args.quiet, command=shlex.join(["mldyn"] + args.argv))
    print(f"model: {args.output}  ({time.perf_counter() - t0:.1f} s)")
    return 0
