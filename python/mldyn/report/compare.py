"""Compare a learned run with a reference (CP2K) run: figures and a Markdown report (paper section 5.3).

:func:`compare_runs` analyses both runs with :func:`mldyn.analysis.analyze`, draws the
figures of :mod:`mldyn.report.plots` (the paper's Figs. 1 and 3–7 plus RDFs and VDOS, reference and
learned overlaid), optionally evaluates the force model on the reference frames
(:func:`mldyn.metrics.evaluate_forces`), and writes ``report.md`` and ``summary.json`` to
the report directory. Units: Å, fs, eV, K, degrees, cm⁻¹.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import plots
from .. import strict_json
from ..analysis import analyze, default_peak_window, half_min_width
from ..dataset import Dataset

__all__ = ["Comparison", "ROWS", "FIGURES", "compare_runs", "comparison_rows", "format_table", "force_errors",
           "load_run"]

#: Table rows: (summary key, label, unit, decimals).
ROWS = (
    ("mean_temperature_K", "Mean temperature", "K", 1),
    ("temperature_O_K", "Temperature of the oxygens", "K", 1),
    ("temperature_H_K", "Temperature of the hydrogens", "K", 1),
    ("oh_bond_mean_A", "O–H bond length, mean", "Å", 4),
    ("oh_bond_std_A", "O–H bond length, std", "Å", 4),
    ("hoh_angle_mean_deg", "H–O–H angle, mean", "deg", 2),
    ("hoh_angle_std_deg", "H–O–H angle, std", "deg", 2),
    ("oh_stretch_peak_cm1", "O–H stretch peak", "cm⁻¹", 0),
    ("g_OO_peak_r_A", "g_OO first peak, position", "Å", 3),
    ("g_OO_peak_height", "g_OO first peak, height", "", 2),
    ("g_OH_peak_r_A", "g_OH first peak, position", "Å", 3),
    ("g_OH_peak_height", "g_OH first peak, height", "", 2),
    ("g_HH_peak_r_A", "g_HH first peak, position", "Å", 3),
    ("g_HH_peak_height", "g_HH first peak, height", "", 2),
    ("hydrogens_changed_oxygen", "Hydrogens that changed oxygen", "count", 0),
    ("oxygen_changes", "Owner changes (all hydrogens)", "count", 0),
    ("oxygen_changes_per_h_per_ps", "Hydrogens changing oxygen (lasting >= 20 fs)", "per H per ps", 2),
    ("closest_OO_A", "Closest O–O", "Å", 3),
    ("closest_OH_A", "Closest O–H", "Å", 3),
    ("closest_HH_A", "Closest H–H", "Å", 3),
)

#: Figure files: name -> (file name, title, caption).
FIGURES = {
    "kinetic_energy": ("kinetic_energy.png", "Kinetic energy and temperature (paper Figs. 1, 3)",
                       "Kinetic energy (eV) and instantaneous temperature (K, 3N − 3 degrees of freedom) against time."),
    "oh_bond": ("oh_bond.png", "O–H bond: mean ± standard deviation (paper Fig. 4)",
                "Mean O–H bond length over hydrogens, with mean ± std (top) and the std alone (bottom), Å."),
    "oh_bond_hydrogens": ("oh_bond_hydrogens.png", "O–H bond of four random hydrogens (paper Fig. 5)",
                          "Distance (Å) of four randomly chosen hydrogens to their nearest oxygen; the same atoms in "
                          "both runs."),
    "oh_spectrum": ("oh_spectrum.png", "O–H power spectrum and its peak (paper Fig. 6)",
                    "Left: power spectral density of the O–H bond-length oscillations (mean over hydrogens) against "
                    "wavenumber (cm⁻¹). Right: the stretch peak (cm⁻¹) of the spectrum in sliding time windows."),
    "hoh_angle": ("hoh_angle.png", "H–O–H angle: mean ± standard deviation (paper Fig. 7)",
                  "Mean H–O–H angle over molecules (oxygens owning exactly two hydrogens), with mean ± std (top) and "
                  "the std alone (bottom), degrees."),
    "rdf": ("rdf.png", "Radial distribution functions",
            "g_OO, g_OH and g_HH against r (Å), minimum image, up to half the cell width; the legend gives the first "
            "peak (position, height)."),
    "vdos": ("vdos.png", "Velocity autocorrelation and vibrational density of states",
             "Left: mass-weighted, normalised velocity autocorrelation against lag (fs). Right: its spectrum, the "
             "vibrational density of states (unit area) against wavenumber (cm⁻¹)."),
}


@dataclass
class Comparison:
    """Result of :func:`compare_runs`.

    labels : (reference label, run labels...); analyses : the :class:`TrajectoryAnalysis` of each;
    summaries : their :meth:`TrajectoryAnalysis.summary` dicts; rows : table rows
    (key, label, unit, decimals, reference, [run values], [differences run − reference]); forces :
    result of :func:`force_errors` for the first run's model or None (``forces_all``: one per run);
    figures : {name: path}; report : path of report.md; notes : things left out and why.
    """

    labels: tuple
    analyses: tuple
    summaries: tuple
    rows: list
    forces: dict | None
    figures: dict
    report: Path
    notes: list = field(default_factory=list)
    forces_all: list = field(default_factory=list)


def load_run(path) -> tuple[Dataset, list]:
    """Load a run for comparison with :func:`mldyn.io.load_dataset`: ``(dataset, notes)``.

    A CP2K-style directory whose ``.ener`` file is printed less often than the trajectory (as
    ``mldyn run --thermo-every K`` writes it) would lose every frame the ``.ener`` file lacks;
    then the run is read again without the ``.ener`` file (kinetic energies and temperatures
    come from the velocities anyway) and a note says so.
    """
    import warnings

    from ..io import load_dataset
    from ..io.cp2k_files import find_cp2k_files
    from ..io.cp2k_reader import CP2KAlignmentWarning, read_cp2k

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CP2KAlignmentWarning)
        dataset = load_dataset(path)
    dropped = [w for w in caught if issubclass(w.category, CP2KAlignmentWarning)]
    for w in caught:
        if not issubclass(w.category, CP2KAlignmentWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    notes: list[str] = []
    if dropped and os.path.isdir(os.fspath(path)):
        files = find_cp2k_files(path)
        if "ener" in files:
            without = {k: v for k, v in files.items() if k != "ener"}
            with warnings.catch_warnings(record=True) as caught2:
                warnings.simplefilter("always", CP2KAlignmentWarning)
                alt = read_cp2k(without)
            if alt.n_frames > dataset.n_frames:
                notes.append(f"{os.fspath(path)}: read without {os.path.basename(files['ener'])} (printed less often "
                             f"than the trajectory): {alt.n_frames} frames instead of {dataset.n_frames}")
                dataset, dropped = alt, [w for w in caught2 if issubclass(w.category, CP2KAlignmentWarning)]
    for w in dropped:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        notes.append(f"{os.fspath(path)}: {str(w.message)[:300]}")
    notes += _unfinished_run_note(path, dataset)
    return dataset, notes


def _unfinished_run_note(path, dataset: Dataset) -> list:
    """A note when ``path`` is an `mldyn run` directory whose run ended before its --steps (stopped by
    a blow-up or contact, or interrupted): its observables describe a shorter, perhaps failing, run."""
    import json

    meta = os.path.join(os.fspath(path), "run.json")
    if not os.path.isfile(meta) or dataset.steps_f is None or not len(dataset.steps_f):
        return []
    try:
        planned = int(json.loads(Path(meta).read_text())["config"]["steps"])
    except (ValueError, KeyError, TypeError):
        return []
    last = int(dataset.steps_f[-1])
    if last >= planned:
        return []
    stopped = Path(path) / "stopped.txt"
    why = (f"stopped: {stopped.read_text().strip()[:400]}" if stopped.is_file() else
           "interrupted, or still running")
    return [f"{os.fspath(path)}: the run ended at step {last} of the {planned} in its run.json ({why}); its "
            f"observables describe that shorter run"]


def comparison_rows(ref: dict, runs) -> list:
    """Rows ``(key, label, unit, decimals, reference, [run values], [differences])`` for :data:`ROWS`;
    ``runs`` is one summary dict or a list of them; difference = run − reference."""
    runs = [runs] if isinstance(runs, dict) else list(runs)
    rows = []
    for key, label, unit, dec in ROWS:
        a = ref.get(key, math.nan)
        values = [r.get(key, math.nan) for r in runs]
        rows.append((key, label, unit, dec, a, values, [b - a for b in values]))
    return rows


def _fmt(x, dec: int, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if signed and x == 0:
        return "0"
    return f"{x:+.{dec}f}" if signed else f"{x:.{dec}f}"


def format_table(rows, labels, markdown: bool = True, extra: tuple | None = None) -> str:
    """The comparison table (reference, each run, each run's difference) as Markdown or aligned plain text.
    ``extra = (header, {key: value})`` appends one more column (n/a for keys it lacks), such as the
    sampling noise of the reference (:mod:`mldyn.analysis.sampling_noise`)."""
    runs = labels[1:]
    head = (["quantity", "unit", labels[0]] + list(runs) +
            [f"{lab} − {labels[0]}" if len(runs) > 1 else f"difference ({lab} − {labels[0]})" for lab in runs])
    body = [[label, unit, _fmt(a, dec)] + [_fmt(b, dec) for b in bs] +
            [_fmt(d, dec + (1 if dec else 0), signed=True) for d in ds]
            for _, label, unit, dec, a, bs, ds in rows]
    if extra is not None:
        head.append(extra[0])
        for r, (key, _, _, dec, *_rest) in zip(body, rows):
            r.append(_fmt(extra[1].get(key, math.nan), dec + (1 if dec else 0)))
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body])


def force_errors(model, reference: Dataset, stride: int = 1, progress: bool = False) -> dict:
    """Force-model error on the reference frames: :func:`mldyn.metrics.evaluate_forces` on every ``stride``-th frame.

    ``model`` is an :class:`mldyn.model.AgentLossModel` or a path to a model file. Returns
    ``{"frames": n, "species": {name: {"rmse" (eV/Å), "rms_reference" (eV/Å), "relative_rmse", "n_agents"}}}``.
    ValueError when the reference has no forces.
    """
    from ..fit.metrics import evaluate_forces
    from ..model import load_model

    if reference.forces_fnc is None:
        raise ValueError("the reference run has no forces")
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    data = reference if stride <= 1 else reference.subset(slice(0, None, int(stride)))
    return evaluate_forces(model, data, progress=progress)


def _describe(d: Dataset, name: str) -> str:
    dt = np.diff(d.times_f)
    step = f"{np.median(dt):g} fs" if dt.size else "single frame"
    cell = "isolated"
    if d.cells_f33 is not None:
        c = d.cells_f33[0]
        cell = "cell " + " x ".join(f"{np.linalg.norm(v):.4f}" for v in c) + " Å"
    species = ", ".join(f"{np.count_nonzero(d.species_n == i)} {s}" for i, s in enumerate(d.species_names))
    return (f"`{name}`: {d.n_frames} frames, {d.n_atoms} atoms ({species}), t = {d.times_f[0]:g}–{d.times_f[-1]:g} fs "
            f"every {step}, {cell}")


def _force_table(forces: dict) -> str:
    lines = ["| species | agents | RMSE (eV/Å) | RMS reference force (eV/Å) | relative RMSE |",
             "|---|---:|---:|---:|---:|"]
    for sp, v in forces["species"].items():
        lines.append(f"| {sp} | {v['n_agents']} | {v['rmse']:.4f} | {v['rms_reference']:.4f} | "
                     f"{v['relative_rmse']:.4f} |")
    return "\n".join(lines)


def compare_runs(reference: Dataset, run, outdir, labels=("reference", "learned"), model=None,
                 names=("reference", "run"), seed: int = 0, absolute_time: bool = False, force_stride: int = 1,
                 progress: bool = False, model_source=None, notes=None) -> Comparison:
    """Analyse ``reference`` and ``run``, write the figures, ``report.md`` and ``summary.json`` into ``outdir``.

    run : one Dataset, or a list of them (several learned runs side by side, e.g. two models).
    labels : legend/table names, the reference's first (one per run after it); names : how the inputs
    are described in the report (e.g. their paths); model : an AgentLossModel, a model file path, or
    None (no force error), or a list with one per run; model_source : how the model(s) are described;
    seed : choice of the four random hydrogens (the same atoms in every run); absolute_time : plot
    times as recorded instead of from each run's start; force_stride : evaluate the models on every
    k-th reference frame; notes : extra lines for the report's Notes (e.g. from :func:`load_run`).
    Every run's RDFs use the same r_max (the smallest half cell width).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    runs = [run] if isinstance(run, Dataset) else list(run)
    labels, names = tuple(labels), tuple(names)
    if len(labels) != 1 + len(runs) or len(names) != 1 + len(runs):
        raise ValueError(f"compare: {1 + len(runs)} labels and names are needed (the reference and each run), got "
                         f"{len(labels)} labels and {len(names)} names")
    models = model if isinstance(model, (list, tuple)) else [model] + [None] * (len(runs) - 1)
    sources = model_source if isinstance(model_source, (list, tuple)) else [model_source] * len(runs)
    notes: list[str] = list(notes or [])
    everything = [reference] + runs
    r_max = None
    if all(d.periodic for d in everything):
        r_max = min(half_min_width(d) for d in everything)
    try:  # the same sliding window for every run's spectrum peak
        window = min(default_peak_window(d.times_f) for d in everything)
    except ValueError:
        window = None
    analyses = [analyze(d, seed=seed, r_max=r_max if d.periodic else None, peak_window_fs=window) for d in everything]
    for lab, an in zip(labels, analyses):
        notes += [f"{lab}: {n}" for n in an.notes]
    if len({an.geometry.hydrogen_atoms.size for an in analyses}) > 1:
        notes.append("the runs have different numbers of hydrogens, so Fig. 5 shows different atoms")
    summaries = [an.summary() for an in analyses]
    rows = comparison_rows(summaries[0], summaries[1:])

    forces_all = []
    for m in models:
        if m is None:
            forces_all.append(None)
        elif reference.forces_fnc is None:
            notes.append("force-model error not evaluated: the reference run has no forces")
            forces_all.append(None)
        else:
            forces_all.append(force_errors(m, reference, stride=force_stride, progress=progress))

    pairs = list(zip(labels, analyses))
    figures = {
        "kinetic_energy": plots.plot_kinetic_energy(pairs, outdir / FIGURES["kinetic_energy"][0], absolute_time),
        "oh_bond": plots.plot_oh_bond(pairs, outdir / FIGURES["oh_bond"][0], absolute_time),
        "oh_bond_hydrogens": plots.plot_oh_bond_hydrogens(pairs, outdir / FIGURES["oh_bond_hydrogens"][0],
                                                          absolute_time),
        "oh_spectrum": plots.plot_oh_spectrum(pairs, outdir / FIGURES["oh_spectrum"][0], absolute_time),
        "hoh_angle": plots.plot_hoh_angle(pairs, outdir / FIGURES["hoh_angle"][0], absolute_time),
        "rdf": plots.plot_rdfs(pairs, outdir / FIGURES["rdf"][0]),
        "vdos": plots.plot_vdos(pairs, outdir / FIGURES["vdos"][0]),
    }

    report = outdir / "report.md"
    report.write_text(_report_text(everything, labels, names, analyses, rows, forces_all, sources, force_stride,
                                   notes, seed, absolute_time))
    keys = [k for k, *_ in ROWS]
    differences = [{k: s[k] - summaries[0][k] for k in keys} for s in summaries[1:]]
    summary = {"labels": list(labels), "inputs": list(names), "reference": summaries[0], "run": summaries[1],
               "runs": summaries[1:], "difference": differences[0], "differences": differences,
               "forces": forces_all[0], "forces_all": forces_all, "notes": notes}
    (outdir / "summary.json").write_text(strict_json.dumps(summary, indent=1) + "\n")
    return Comparison(labels, tuple(analyses), tuple(summaries), rows, forces_all[0], figures, report, notes,
                      forces_all)


def _report_text(everything, labels, names, analyses, rows, forces_all, sources, force_stride, notes, seed,
                 absolute_time) -> str:
    L0, runs = labels[0], labels[1:]
    out = [f"# {', '.join(runs)} vs {L0}: trajectory comparison", ""]
    out += ["Inputs:", ""] + [f"- {lab}: {_describe(d, name)}" for lab, d, name in zip(labels, everything, names)]
    out += ["", "## Observables", "", f"Differences are run − {L0}.", "", format_table(rows, labels), ""]
    out += [
        "Definitions (mldyn units: Å, fs, eV, K; angles in degrees; wavenumbers in cm⁻¹):",
        "",
        "- temperature: 2 E_kin / ((3N − 3) k_B) from the velocities, averaged over frames;",
        "- each hydrogen belongs, in every frame, to its nearest oxygen (minimum image); the O–H bond is that "
        "distance; mean and std are over all hydrogens and frames;",
        "- H–O–H angles: oxygens owning exactly two hydrogens in a frame; mean and std over all of them and frames;",
        "- O–H stretch peak: maximum in 2000–4500 cm⁻¹, after smoothing by a 100 cm⁻¹ Gaussian, of the mean over "
        "hydrogens of the (Hann-windowed; averaged over 1 ps segments for runs longer than 2 ps) power spectrum of "
        "the mean-removed bond length; resolution 1/(T c) = "
        + ", ".join(f"{an.oh_spectrum.resolution_cm1:.0f} cm⁻¹ ({lab})" for lab, an in zip(labels, analyses)
                    if an.oh_spectrum is not None) + ";",
        "- RDF first peak: parabola through the top quarter of the first maximum above g = 1 (bin 0.02 Å); "
        "the g_OH first peak is the covalent bond, the g_HH one the intramolecular H–H distance;",
        "- owner changes: frames in which a hydrogen's nearest oxygen differs from the previous frame's; hydrogens "
        "changing oxygen (lasting >= 20 fs): changes after which the new oxygen keeps the hydrogen at least 20 fs, "
        "per hydrogen per ps;",
        "- closest O–O, O–H, H–H: the shortest such distance in any frame.",
        "",
    ]
    out += ["## Force model", ""]
    if all(f is None for f in forces_all):
        out += ["No force model given (`--model`, or `model.json` in the run directory), or the reference has "
                "no forces: not evaluated.", ""]
    for lab, forces, source in zip(runs, forces_all, sources):
        if forces is None:
            continue
        every = "" if force_stride <= 1 else f" (every {force_stride}th frame)"
        out += [f"{lab}: model `{source or 'model'}` evaluated on {forces['frames']} {L0} frames{every}; "
                "relative RMSE = sqrt(<|F_pred − F_ref|²> / <|F_ref|²>) (paper eq. 5.2).", "",
                _force_table(forces), ""]
    when = ("as recorded in the files" if absolute_time else "from the start of each run")
    styles = ", ".join(f"{lab}: {plots.style_name(i)}" for i, lab in enumerate(labels))
    out += ["## Figures", "", f"{styles}. Times {when}. Four random hydrogens: seed {seed}.", ""]
    for name, (fname, title, caption) in FIGURES.items():
        out += [f"### {title}", "", f"![{title}]({fname})", "", f"{caption} File: [{fname}]({fname}).", ""]
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)
