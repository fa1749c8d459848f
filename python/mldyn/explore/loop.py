"""``mldyn explore``: active learning with CP2K in the loop, until the learned dynamics stays where the
model is trusted.

Iteration i (1, 2, ...) starts from model i-1 (model 0: fitted on the original run alone):

1. **explore**: learned NVT at each temperature (``mldyn run`` defaults), trajectory frames saved;
2. **select**: every frame's largest per-agent force uncertainty (:mod:`mldyn.uncertainty`); the frames
   above the threshold, most uncertain first and spread out in time (:mod:`mldyn.explore.selection`);
   none above it: the loop has converged and model i-1 is the result;
3. **label**: CP2K single points of those frames with the original deck's electronic structure
   (:mod:`mldyn.io.cp2k_single_point`), run one after another (each SCF starts from the previous
   frame's wavefunction), or only written (``labels_later``) for a batch system;
4. **refit**: the recommended fit on the original run plus every labelled frame (a second system of
   independent frames) gives model i.

Everything lives in the output directory: ``explore.json`` (configuration and the record of every stage,
rewritten atomically after each), ``models/model-NNN.json``, ``iter-NNN/`` (runs, CP2K inputs and
outputs, ``report.md``), ``labels/iter-NNN.extxyz`` (labelled frames, eV and eV/Å) and ``report.md``
(all iterations). ``restart=True`` continues from the last finished stage.
"""
from __future__ import annotations

import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import strict_json
from ..io.text import write_text_atomic
from ..md.run_dir import RunLock
from ..progress import progress_bar
from .selection import frame_scores, select_frames

__all__ = ["ExploreConfig", "explore", "default_cp2k_command", "STATE_FILE", "ExploreWaiting"]

STATE_FILE = "explore.json"
STATE_VERSION = 1


class ExploreWaiting(RuntimeError):
    """Stopped on purpose: CP2K inputs written (labels later), or some of their outputs still missing."""


@dataclass
class ExploreConfig:
    """Settings of an exploration (stored in explore.json). Units: K, fs, eV/Å."""

    data: list                       # the original run(s): anything `mldyn fit` reads
    cp2k_input: str | None = None    # the original CP2K deck (default: the one in the first data directory)
    cp2k: str | None = None          # command that runs CP2K, "-i X -o Y" appended (default: detected)
    temperatures: list = field(default_factory=lambda: [550.0, 650.0])
    densities: list = field(default_factory=lambda: [1.0])  # relative to the start frame's; a run per T and density
    steps: int = 10000               # per temperature and iteration
    dt: float = 0.5
    traj_every: int = 4
    iterations: int = 3
    frames: int = 24                 # at most this many single points per iteration
    threshold: float | None = None   # eV/Å; None: 2 x the largest frame uncertainty of model 0 on the original run
    min_separation_fs: float = 100.0
    labels_later: bool = False
    init: str | None = None          # start of every run (default: the last frame of the first data)
    seed: int = 0
    labels_weight: float = 1.0       # weight of the labelled frames in each refit (the original run's: 1)
    fit: dict = field(default_factory=dict)  # extra options of the recommended fit (tests: probe_steps)

    def validate(self) -> None:
        if not self.data:
            raise ValueError("explore: give the original run (DATA)")
        if not self.temperatures or not all(t > 0 and math.isfinite(t) for t in self.temperatures):
            raise ValueError(f"--temperatures must be positive numbers (K), got {self.temperatures}")
        for name in ("steps", "iterations", "frames", "traj_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.threshold is not None and not (self.threshold > 0 and math.isfinite(self.threshold)):
            raise ValueError(f"--threshold must be a positive force in eV/Å (or auto), got {self.threshold}")
        if not self.densities or not all(0.5 <= d <= 2.0 for d in self.densities):
            raise ValueError(f"--densities are factors of the start frame's density between 0.5 and 2, got "
                             f"{self.densities}")
        if not 0 < self.labels_weight < math.inf:
            raise ValueError(f"--labels-weight must be finite and > 0, got {self.labels_weight}")
        if not 0 <= self.seed < 2 ** 63:
            raise ValueError(f"--seed must be an integer >= 0, got {self.seed}")
        if not self.min_separation_fs >= 0:
            raise ValueError(f"--min-separation must be >= 0 fs, got {self.min_separation_fs}")


def default_cp2k_command() -> str | None:
    """``<dir>/mpirun -np <cores> <dir>/cp2k.psmp`` when the MPI launcher sits beside the CP2K executable (so
    both are of the same MPI: another MPI's mpirun would start <cores> independent copies of the same
    calculation), else the CP2K executable alone (its OpenMP threads use the cores); None if there is none."""
    exe = next((shutil.which(n) for n in ("cp2k.psmp", "cp2k.ssmp", "cp2k", "cp2k.popt", "cp2k.sopt")
                if shutil.which(n)), None)
    if exe is None:
        return None
    exe = os.path.realpath(exe) if os.path.basename(os.path.realpath(exe)).startswith("cp2k") else exe
    launcher = next((os.path.join(os.path.dirname(exe), n) for n in ("mpirun", "mpiexec")
                     if os.access(os.path.join(os.path.dirname(exe), n), os.X_OK)), None)
    if os.path.basename(exe) in ("cp2k.psmp", "cp2k.popt") and launcher:
        return f"{launcher} -np {os.cpu_count() or 1} {exe}"
    return exe


def find_cp2k_input(data: str) -> str:
    """The CP2K deck of a run directory: its only ``*.inp``/``*.in`` file (``in.inp`` if several)."""
    from ..io import BUNDLED_NAME
    from ..data import bundled_h2o32_path

    folder = Path(bundled_h2o32_path() if data == BUNDLED_NAME else data)
    if folder.is_file():
        folder = folder.parent
    decks = sorted(p for p in folder.glob("*.inp")) + sorted(folder.glob("*.in"))
    if len(decks) > 1 and (folder / "in.inp").exists():
        return str(folder / "in.inp")
    if len(decks) != 1:
        raise ValueError(f"explore: {'no' if not decks else 'several'} CP2K input decks (*.inp) in {folder}; name the "
                         f"deck of the original run with --cp2k-input FILE (its electronic structure is reused)")
    return str(decks[0])


class _State:
    """explore.json: the configuration and one record per iteration, saved after every stage."""

    def __init__(self, outdir: Path, data: dict):
        self.path = outdir / STATE_FILE
        self.data = data

    @classmethod
    def load(cls, outdir: Path) -> "_State":
        import json

        path = outdir / STATE_FILE
        if not path.exists():
            raise ValueError(f"explore --restart: {path} not found (not an exploration directory)")
        data = json.loads(path.read_text())
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: state version {data.get('version')} is not {STATE_VERSION}")
        return cls(outdir, data)

    def save(self) -> None:
        write_text_atomic(self.path, strict_json.dumps(self.data, indent=1) + "\n")

    def iteration(self, i: int) -> dict:
        its = self.data["iterations"]
        while len(its) < i:
            its.append({"index": len(its) + 1})
        return its[i - 1]


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def explore(cfg: ExploreConfig | None, outdir, restart: bool = False, progress: bool = True,
            overrides: dict | None = None) -> dict:
    """Run (or with ``restart`` continue) the loop in ``outdir``; returns the state record.

    ``overrides`` (restart only): settings that may change between attempts (iterations, cp2k,
    labels_later). Raises :class:`ExploreWaiting` when it stops for CP2K labels to be made elsewhere.
    """
    outdir = Path(outdir)
    if restart:
        state = _State.load(outdir)
        state.data["config"].update({k: v for k, v in (overrides or {}).items() if v is not None})
        cfg = ExploreConfig(**state.data["config"])
    else:
        cfg.validate()
        if outdir.exists() and any(outdir.iterdir()):
            raise ValueError(f"explore: {outdir} exists and is not empty; continue an exploration there with --restart, "
                             f"or choose a new -o")
        if cfg.cp2k_input is None:
            cfg.cp2k_input = find_cp2k_input(cfg.data[0])
        cfg.cp2k_input = os.path.abspath(cfg.cp2k_input) if os.path.exists(cfg.cp2k_input) else cfg.cp2k_input
        if cfg.init is None:
            cfg.init = f"{cfg.data[0]}@-1"
        outdir.mkdir(parents=True, exist_ok=True)
        state = _State(outdir, {"version": STATE_VERSION, "config": asdict(cfg), "iterations": [], "finished": None})
    cfg.validate()
    with RunLock(outdir):  # one mldyn at a time in an exploration directory
        return _explore(state, cfg, outdir, progress)


def _explore(state: "_State", cfg: ExploreConfig, outdir: Path, progress: bool) -> dict:
    if not cfg.labels_later and cfg.cp2k is None:
        cfg.cp2k = default_cp2k_command()
        if cfg.cp2k is None:
            raise ValueError("explore: no CP2K executable found (cp2k.psmp, cp2k, ...): install CP2K (Debian: apt-get "
                             "install cp2k), name the command with --cp2k, or write the inputs only with --labels-later")
        state.data["config"]["cp2k"] = cfg.cp2k
    _check_deck(cfg)
    state.save()
    done = sum(1 for r in state.data["iterations"] if r.get("done"))
    if state.data.get("finished", "") and state.data["finished"].endswith("iterations done") and cfg.iterations > done:
        state.data["finished"] = None  # --restart --iterations N asks for more rounds
    if state.data.get("finished"):
        _say(progress, f"explore: already finished ({state.data['finished']}); the model is {outdir / 'model.json'}")
        return state.data

    original = _load_original(cfg)
    if "reference_observables" not in state.data:
        state.data["reference_observables"] = _observables(original[0])
        state.save()
    if "reference_span_fs" not in state.data:  # explorations from before it was recorded get it on restart
        state.data["reference_span_fs"] = _span(original[0])
        state.save()
    model_path = _model(state, cfg, original, 0, progress)
    threshold = state.data.get("threshold")
    if threshold is None:
        threshold = cfg.threshold if cfg.threshold is not None else _auto_threshold(model_path, original, progress)
        state.data["threshold"] = threshold
        state.data["threshold_rule"] = ("given (--threshold)" if cfg.threshold is not None else
                                        "2 x the largest frame uncertainty of model 0 on the original run")
        state.save()
    for i in range(1, cfg.iterations + 1):
        rec = state.iteration(i)
        if rec.get("done"):
            model_path = outdir / rec["model_after"] if rec.get("model_after") else model_path
            continue
        _say(progress, f"explore: iteration {i} of {cfg.iterations} (model {outdir / rec.get('model', '')})"
             if rec.get("model") else f"explore: iteration {i} of {cfg.iterations}")
        rec["model"] = os.path.relpath(model_path, outdir)
        if "runs" not in rec:
            rec["runs"] = _explore_md(cfg, outdir, i, model_path, progress)
            state.save()
        if "selected" not in rec:
            _select(cfg, outdir, rec, i, model_path, threshold, state.data["reference_span_fs"], progress)
            state.save()
        if not rec["selected"]:
            rec["done"] = True
            state.data["finished"] = (f"converged at iteration {i}: no explored frame above the threshold "
                                      f"{threshold:.3g} eV/Å")
            _finish(state, outdir, model_path, original, progress)
            return state.data
        if "labels" not in rec:
            _label(cfg, outdir, rec, i, model_path, progress)  # may raise ExploreWaiting
            state.save()
        if "model_after" not in rec:
            model_path = _model(state, cfg, original, i, progress)
            rec["model_after"] = os.path.relpath(model_path, outdir)
            rec["errors_after"] = _label_errors(model_path, outdir / rec["labels"]["file"])
            rec["done"] = True
            state.save()
            _write_reports(state, outdir, original)
        model_path = outdir / rec["model_after"]
    state.data["finished"] = f"{cfg.iterations} iterations done"
    _finish(state, outdir, model_path, original, progress)
    return state.data


def _check_deck(cfg: ExploreConfig) -> None:
    from ..io.cp2k_single_point import single_point_deck

    if not os.path.exists(cfg.cp2k_input):
        raise ValueError(f"explore: the CP2K input {cfg.cp2k_input} does not exist (--cp2k-input FILE names the deck "
                         f"of the original run)")
    single_point_deck(cfg.cp2k_input, "frame.xyz", np.eye(3))  # ValueError now, not after an hour of MD


def _load_original(cfg: ExploreConfig) -> list:
    from ..io import load_systems

    return [d for path in cfg.data for d in load_systems(path, require_forces=True)]


def _labelled_systems(state: _State, outdir: Path, upto: int) -> list:
    """The labelled frames of iterations 1..upto, one system of independent frames (no time axis)."""
    from ..dataset import Dataset
    from ..io import load_dataset

    parts = [load_dataset(outdir / rec["labels"]["file"]) for rec in state.data["iterations"][:upto]
             if rec.get("labels", {}).get("frames")]
    if not parts:
        return []
    d0 = parts[0]
    joined = Dataset(d0.species_names, d0.species_n, d0.masses_n, np.concatenate([p.positions_fnc for p in parts]),
                     np.concatenate([p.cells_f33 for p in parts]), None,
                     np.concatenate([p.forces_fnc for p in parts]),
                     potential_energy_f=np.concatenate([p.potential_energy_f for p in parts]),
                     provenance={"source": "mldyn explore labels", "time_axis": False})
    return [joined]


def _model(state: _State, cfg: ExploreConfig, original: list, i: int, progress: bool) -> Path:
    """models/model-<i>.json: the recommended fit on the original run and the labels of iterations 1..i."""
    from ..fit import fit_recommended

    outdir = state.path.parent
    path = outdir / "models" / f"model-{i:03d}.json"
    fits = state.data.setdefault("fits", {})
    if path.exists() and str(i) in fits:
        return path
    labelled = _labelled_systems(state, outdir, i)
    n_lab = labelled[0].n_frames if labelled else 0
    _say(progress, f"explore: fitting model {i} on the original run" + (f" and {n_lab} labelled frames" if n_lab else ""))
    report = fit_recommended(original + labelled, progress=progress,
                             weights=[1.0] * len(original) + [cfg.labels_weight] * len(labelled), **cfg.fit)
    path.parent.mkdir(exist_ok=True)
    report.model.save(path)
    meta = report.model.metadata
    fits[str(i)] = {"labelled_frames": n_lab, "test_metrics": meta.get("test_metrics"),
                    "stability_passed": None if report.stability is None else bool(report.stability.passed)}
    state.save()
    return path


def _auto_threshold(model_path: Path, original: list, progress: bool) -> float:
    from ..model import load_model

    model = load_model(model_path)
    d = original[0]
    frames = np.unique(np.linspace(0, d.n_frames - 1, min(d.n_frames, 200)).astype(int))
    scores = frame_scores(model, d.subset(frames), progress=progress, desc="uncertainty on the original run")
    return 2.0 * float(np.max(scores))


def _explore_md(cfg: ExploreConfig, outdir: Path, i: int, model_path: Path, progress: bool) -> list:
    from ..md.run import RunConfig, RunFailed, run_md

    _check_densities(cfg, model_path)
    runs = []
    for j, (T, rho) in enumerate((T, rho) for T in cfg.temperatures for rho in cfg.densities):
        name = f"md-{T:g}K" + (f"-density{rho:g}" if rho != 1.0 else "")
        rundir = outdir / f"iter-{i:03d}" / name
        init = cfg.init if rho == 1.0 else _compressed_start(cfg.init, rho, outdir / f"iter-{i:03d}" / f"{name}.extxyz")
        _say(progress, f"explore: iteration {i}, learned NVT at {T:g} K" + (f", density x {rho:g}" if rho != 1.0 else "")
             + f", {cfg.steps} steps of {cfg.dt:g} fs")
        # velocities drawn afresh per run (seeded): runs of each temperature and iteration start apart
        run_cfg = RunConfig(model=str(model_path), init=init, steps=cfg.steps, dt=cfg.dt, temperature=T,
                            traj_every=cfg.traj_every, seed=cfg.seed + 1000 * i + j, draw_velocities=True,
                            command=f"mldyn explore (iteration {i}, {T:g} K, density x {rho:g})")
        record = {"temperature_K": T, "density_factor": rho, "rundir": os.path.relpath(rundir, outdir), "stopped": None}
        try:
            summary = run_md(run_cfg, rundir, progress=progress, force=True)
            record.update({"steps": summary["total_steps"], "mean_temperature_K": summary["mean_temperature_K"],
                           "closest_A": summary["closest_A"]})
        except RunFailed as exc:  # a collapse or an escape: its frames are what the model has to learn
            record["stopped"] = str(exc)
            _say(progress, f"explore: the {name} run stopped: {str(exc)[:200]}")
        runs.append(record)
    return runs


def _check_densities(cfg: ExploreConfig, model_path: Path) -> None:
    """A denser cell must still hold the model's cutoffs within half its width (minimum image)."""
    from ..cell import default_cutoff
    from ..md.initial_state import load_initial_state
    from ..model import load_model

    dense = max(cfg.densities)
    if dense <= 1.0:
        return
    cell33 = load_initial_state(cfg.init)[3]
    cuts = [d.r_cut for d in load_model(model_path).descriptors if d.r_cut is not None]
    if cell33 is None or not cuts:
        return
    half = default_cutoff(np.asarray(cell33)) * dense ** (-1.0 / 3.0)
    if max(cuts) > half:
        most = (default_cutoff(np.asarray(cell33)) / max(cuts)) ** 3
        raise ValueError(f"--densities {dense:g}: the compressed cell's half width ({half:.3f} Å) is below the model's "
                         f"{max(cuts):.4g} Å cutoff (minimum image); explore at densities up to {most:.3f}, or fit "
                         f"with a shorter cutoff")


def _compressed_start(init: str, factor: float, path: Path) -> str:
    """The start frame with its cell and positions scaled to ``factor`` x its density,
    written to ``path`` (extended XYZ); returns it as a run's --init."""
    from ..dataset import Dataset
    from ..elements import ATOMIC_MASSES
    from ..io.xyz import write_extxyz
    from ..md.initial_state import load_initial_state

    symbols, pos, vel, cell33, _ = load_initial_state(init)
    if cell33 is None:
        raise ValueError(f"--densities: the start {init} has no cell (an isolated system has no density)")
    scale = factor ** (-1.0 / 3.0)
    names = list(dict.fromkeys(symbols))
    frame = Dataset(names, [names.index(s) for s in symbols], [ATOMIC_MASSES.get(s, 1.0) for s in symbols],
                    (np.asarray(pos) * scale)[None], (np.asarray(cell33) * scale)[None],
                    None if vel is None else np.asarray(vel)[None], provenance={"time_axis": False})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_extxyz(path, frame)
    return str(path)


def _select(cfg: ExploreConfig, outdir: Path, rec: dict, i: int, model_path: Path, threshold: float,
            reference_span_fs: float | None, progress: bool) -> None:
    from ..io.xyz import write_extxyz
    from ..model import load_model
    from ..report.compare import load_run

    model = load_model(model_path)
    scores, times, trajs = [], [], []
    for run in rec["runs"]:
        traj, _ = load_run(outdir / run["rundir"])
        trajs.append(traj)
        s = frame_scores(model, traj, progress=progress, desc=f"uncertainty {run['temperature_K']:g} K")
        scores.append(s)
        times.append(np.asarray(traj.times_f, dtype=float))
        run["frames"] = int(traj.n_frames)
        run["uncertainty_percentiles_eV_A"] = {str(q): float(np.percentile(s, q)) for q in (50, 90, 99, 100)}
        run["frames_above_threshold"] = int(np.count_nonzero(s > threshold))
        run["fidelity"] = _observables(traj)
        run["fidelity_spread"] = _spread(traj, reference_span_fs, run.get("stopped"))
    taken = select_frames(scores, times, threshold, cfg.frames, cfg.min_separation_fs)
    rec["threshold_eV_A"] = threshold
    rec["selected"] = [{"run": r, "frame": f, "time_fs": float(times[r][f]), "uncertainty_eV_A": float(scores[r][f])}
                       for r, f in taken]
    if taken:
        path = outdir / f"iter-{i:03d}" / "selected.extxyz"
        from ..dataset import Dataset

        d0 = trajs[0]
        sel = Dataset(d0.species_names, d0.species_n, d0.masses_n, np.stack([trajs[r].positions_fnc[f] for r, f in taken]),
                      np.stack([trajs[r].cells_f33[f] for r, f in taken]), provenance={"time_axis": False})
        write_extxyz(path, sel)
    _say(progress, f"explore: iteration {i}: {sum(r['frames_above_threshold'] for r in rec['runs'])} explored frames "
                   f"above {threshold:.3g} eV/Å; {len(taken)} selected for CP2K")


def _observables(dataset) -> dict:
    """The water observables of a run (:func:`mldyn.analysis.summary.summarize`); {} when they do not apply."""
    from ..analysis.summary import summarize

    try:
        return {k: (float(v) if isinstance(v, (int, float, np.floating, np.integer)) else v)
                for k, v in summarize(dataset).items()}
    except (ValueError, KeyError, IndexError) as exc:  # not water, too short: the report says so
        return {"error": str(exc)[:200]}


def _span(dataset) -> float | None:
    """The time the original run covers (fs), or None without real, evenly spaced times (independent frames)."""
    from ..analysis.sampling_noise import run_span_fs

    if not dataset.has_times:
        return None
    try:
        return run_span_fs(dataset)
    except ValueError:
        return None


def _spread(traj, span_fs: float | None, stopped: str | None) -> dict:
    """The sampling noise of a run as long as the reference (:func:`mldyn.analysis.sampling_noise.stretch_spread`
    over the exploration run, its first stretch left out as the start-up); {"error": why} when not estimated."""
    from ..analysis.sampling_noise import stretch_spread

    if span_fs is None:
        return {"error": "the reference run has no evenly spaced times"}
    if stopped:
        return {"error": "the run stopped early (its last stretches hold the failure, not the noise)"}
    try:
        return stretch_spread(traj, span_fs, skip_fs=span_fs)
    except (ValueError, KeyError, IndexError) as exc:
        return {"error": str(exc)[:200]}


def _label(cfg: ExploreConfig, outdir: Path, rec: dict, i: int, model_path: Path, progress: bool) -> None:
    """CP2K single points of the selected frames (or only their inputs), then labels/iter-<i>.extxyz."""
    from ..dataset import Dataset
    from ..io import load_dataset
    from ..io.cp2k_single_point import SinglePointError, read_single_point, single_point_deck, write_xyz_frame
    from ..io.xyz import write_extxyz

    sel = load_dataset(outdir / f"iter-{i:03d}" / "selected.extxyz")
    symbols = [sel.species_names[s] for s in sel.species_n]
    base = outdir / f"iter-{i:03d}" / "cp2k"
    dirs = [base / f"frame-{k:03d}" for k in range(sel.n_frames)]
    for k, d in enumerate(dirs):  # every input first: the labels-later mode stops here
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "frame.xyz").exists():
            write_xyz_frame(d / "frame.xyz", symbols, sel.positions_fnc[k], f"mldyn explore iteration {i} frame {k}")
        if not (d / "sp.inp").exists():
            write_text_atomic(d / "sp.inp", single_point_deck(cfg.cp2k_input, "frame.xyz", sel.cells_f33[k]))
    results, failed = {}, {}
    for k, d in enumerate(dirs):
        try:
            results[k] = read_single_point(d / "sp.out", symbols)
        except SinglePointError as exc:
            failed[k] = str(exc)
    missing = [k for k in range(len(dirs)) if k not in results and not (dirs[k] / "sp.out").exists()]
    if cfg.labels_later and missing:
        script = base / "run_all.sh"
        write_text_atomic(script, "#!/bin/sh\n# CP2K single points of mldyn explore; run each in its own directory "
                          "(or as a job array), then: mldyn explore --restart " + shlex.quote(str(outdir)) + "\nset -e\n"
                          + "".join(f"(cd {shlex.quote(str(d))} && cp2k.psmp -i sp.inp -o sp.out)\n"
                                    for k, d in enumerate(dirs) if k in missing))
        raise ExploreWaiting(f"{len(missing)} of {len(dirs)} CP2K single points have no output yet: their inputs are in "
                             f"{base}/frame-*/sp.inp ({script} runs them in turn); when they have run, continue with "
                             f"mldyn explore --restart {outdir}")
    todo = [k for k in range(len(dirs)) if k not in results]
    if todo and not cfg.labels_later:
        bar = progress_bar(total=len(todo), desc=f"CP2K single points (iteration {i})", enabled=progress, unit="frame")
        # the SCF of the first frame starts from the newest wavefunction of this exploration (same system)
        earlier = sorted(outdir.glob("iter-*/cp2k/frame-*/sp-RESTART.wfn"), key=lambda p: p.stat().st_mtime)
        previous = earlier[-1] if earlier else None
        for k in todo:
            d = dirs[k]
            own = d / "sp-RESTART.wfn"  # an earlier, unfinished attempt at this very frame
            guess = own if own.exists() else previous if previous is not None and previous.exists() else None
            write_text_atomic(d / "sp.inp", single_point_deck(cfg.cp2k_input, "frame.xyz", sel.cells_f33[k],
                                                              wfn_guess=str(guess.resolve()) if guess else None))
            t0 = time.perf_counter()
            if (d / "sp.out").exists():  # an earlier attempt's: kept aside (CP2K would append to it)
                os.replace(d / "sp.out", d / f"sp.out.attempt-{len(list(d.glob('sp.out.attempt-*'))) + 1}")
            _run_cp2k(cfg.cp2k, d)
            previous = d / "sp-RESTART.wfn"  # even an unconverged wavefunction is a better start than atoms
            try:
                results[k] = read_single_point(d / "sp.out", symbols)
                failed.pop(k, None)
            except SinglePointError as exc:
                failed[k] = str(exc)
            bar.update(1)
            bar.set_postfix_str(f"last {time.perf_counter() - t0:.0f} s", refresh=False)
        bar.close()
    done = sorted(results)
    if not done:
        raise RuntimeError(f"explore: none of the {len(dirs)} CP2K single points of iteration {i} gave forces; the "
                           f"first failure: {next(iter(failed.values()))}")
    labels = Dataset(sel.species_names, sel.species_n, sel.masses_n, sel.positions_fnc[done], sel.cells_f33[done], None,
                     np.stack([results[k][1] for k in done]),
                     potential_energy_f=np.array([results[k][0] for k in done]),
                     provenance={"source": "CP2K single points (mldyn explore)", "time_axis": False})
    path = outdir / "labels" / f"iter-{i:03d}.extxyz"
    path.parent.mkdir(exist_ok=True)
    write_extxyz(path, labels)
    rec["labels"] = {"file": os.path.relpath(path, outdir), "frames": len(done),
                     "failed": {str(k): v for k, v in failed.items()}}
    rec["errors_before"] = _label_errors(model_path, path)


def _run_cp2k(command: str, workdir: Path) -> None:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1" if "mpirun" in command or "mpiexec" in command else str(os.cpu_count() or 1))
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")  # Open MPI refuses root without these (containers, CI)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    with open(workdir / "cp2k.log", "w") as log:
        subprocess.run(shlex.split(command) + ["-i", "sp.inp", "-o", "sp.out"], cwd=workdir, env=env,
                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=False)


def _label_errors(model_path: Path, labels_path: Path) -> dict:
    """Force errors of a model on labelled frames, per species (relative RMSE and RMSE in eV/Å)."""
    from ..fit.metrics import evaluate_forces
    from ..io import load_dataset
    from ..model import load_model

    res = evaluate_forces(load_model(model_path), load_dataset(labels_path), progress=False)
    return {sp: {"relative_rmse": v["relative_rmse"], "rmse_eV_A": v["rmse"]} for sp, v in res["species"].items()}


def _finish(state: _State, outdir: Path, model_path: Path, original: list, progress: bool) -> None:
    shutil.copyfile(model_path, outdir / "model.json")
    state.data["model"] = os.path.relpath(model_path, outdir)
    state.save()
    _write_reports(state, outdir, original)
    _say(progress, f"explore: {state.data['finished']}; the model is {outdir / 'model.json'} (a copy of "
                   f"{state.data['model']}); report: {outdir / 'report.md'}")


def _write_reports(state: _State, outdir: Path, original: list) -> None:
    from .report import iteration_report, overall_report

    for rec in state.data["iterations"]:
        if "selected" in rec:
            write_text_atomic(outdir / f"iter-{rec['index']:03d}" / "report.md", iteration_report(state.data, rec))
    write_text_atomic(outdir / "report.md", overall_report(state.data))
