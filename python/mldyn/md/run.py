"""Learned MD runs with files on disk: outputs, checkpoints, exact restarts.

A run directory holds

* ``trajectory.extxyz`` — extended XYZ (cell, positions Å, forces eV/Å, velocities Å/fs as
  ``vel``, and ASE ``masses``/``momenta``) that ``ase.io.read(path, index=":")`` reads; per frame
  1/2 sum_k H_k (eV) as ``energy`` for a conservative model, as ``half_loss_sum`` for an agent-loss
  model (not a potential energy, so that ASE does not take it for one);
* ``mldyn-pos-1.xyz``, ``mldyn-vel-1.xyz``, ``mldyn-frc-1.xyz``, ``mldyn-1.ener``, ``mldyn-1.cell``
  — CP2K's files and units, so :func:`mldyn.io.cp2k_reader.read_cp2k` (and every analysis) reads a learned
  run exactly like a CP2K run. In ``.ener`` and the ``E =`` comments the potential energy is
  1/2 sum_k H_k for a conservative model; an agent-loss model has none, so its ``.ener`` holds NaN
  for Pot. and Cons Qty and its positions file no ``E =``. The CPU-time column is 0, so that files
  are reproducible;
* ``thermo.log`` — step, time (fs), kinetic energy (eV), temperature (K), 1/2 sum H_k (eV),
  mean agent loss (eV), conserved quantity (eV; NaN where none exists), clipped forces so far;
* ``model.json`` (a copy), ``run.json`` (the settings), ``command.txt``, ``initial.npz``,
  ``checkpoint.npz``; ``stopped.txt`` (why a run stopped early); ``mldyn.lock`` while a process
  writes the directory (:mod:`mldyn.md.run_dir`: one writer at a time, no user file overwritten).

Ctrl-C or SIGTERM stops a run at the next chunk of steps with its output and a checkpoint at the
step reached; a failed write (full disk) leaves every file on a whole frame (:mod:`.run_files`).

Checkpoints store the dynamical state and the byte length of every output file, so a restart
truncates the files to the checkpoint and continues bitwise identically to an uninterrupted run
with the same thread count.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import _core, strict_json, units
from ..analysis.thermo import species_temperatures_of
from ..model import load_model
from ..io.text import write_text_atomic
from ..progress import progress_bar
from .initial_state import load_initial_state
from .run_config import RUN_FILE_VERSION, RunConfig, RunFailed, default_traj_every, trajectory_bytes
from .run_dir import RunLock, check_new_run_dir, make_run_dir
from .run_files import RunFiles, load_checkpoint, save_checkpoint
from .simulation import Simulation, SimulationError
from .stop_requests import Interrupted, StopRequests

__all__ = ["run_md", "restart_md", "Interrupted", "summary_line", "default_chain", "default_thermostat", "contact_limits"]


def default_chain(model) -> int:
    """Nosé–Hoover chain length when none is given: 1 for agent-loss models (their forces pump energy
    in; a chain then settles above the target temperature, a single thermostat holds it), 3 for
    conservative models (pair potentials), as LAMMPS' fix nvt."""
    return 3 if model.conservative else 1


def default_thermostat(model) -> str:
    """Nosé–Hoover thermostat when none is given: "global", one on all atoms, for every model.

    Agent forces are not reciprocal and move kinetic energy between species, so with one thermostat
    the total is at the target while the species need not be (SPC/Fw water at 350 K: oxygens 725 K,
    hydrogens 161 K; the run summary reports both). "per-species" (one thermostat per species)
    holds each species at the target, but on the CP2K water the hotter hydrogens also let the
    recommended model reach a state its training data never show (oxygen pairs locked at 2.25 Å in
    the 100 ps benchmark run), so it is an option, not the default (benchmarks/FIDELITY.md).
    """
    return "global"


def contact_limits(model, fraction: float):
    """(S, S) contact limits in Å: ``fraction`` x the closest training distance of each species pair
    (the model file's training record), 0 where unknown or when ``fraction`` is 0."""
    from ..fit.stability import floor_matrix

    floors = (model.metadata or {}).get("closest_pairs_A") or {}
    limits = floor_matrix(floors, model.species) * fraction
    limits[~np.isfinite(limits)] = 0.0
    return limits


def atom_masses(cfg: RunConfig, model, symbols) -> np.ndarray:
    """Per-atom masses (n,) amu: the model's species masses, with --masses overriding species or elements."""
    from ..elements import element_of

    masses = dict(zip(model.species, model.masses))
    for key, value in (cfg.masses or {}).items():
        hits = [sp for sp in model.species if key in (sp, element_of(sp))]
        if not hits:
            raise ValueError(f"--masses {key}={value:g}: {key} is neither a species of the model ({model.species}) "
                             f"nor their element")
        for sp in hits:
            masses[sp] = float(value)
    return np.array([masses[s] for s in symbols])


def _build_simulation(cfg: RunConfig, model, symbols, pos, vel, cell33) -> Simulation:
    chain = cfg.chain if cfg.chain is not None else default_chain(model)
    sim = Simulation(model, pos, symbols, cell33, velocities_nc=vel, dt=cfg.dt,
                     temperature=cfg.temperature, tdamp=cfg.tdamp, chain=chain, force_cap=cfg.clip,
                     seed=cfg.seed, neighbours=cfg.neighbours, ensemble=cfg.ensemble, tau=cfg.tau,
                     max_displacement=cfg.max_displacement, per_species_thermostat=cfg.thermostat == "per-species",
                     masses_n=atom_masses(cfg, model, symbols))
    sim.core.set_contact_limits(contact_limits(model, cfg.contact_limit))
    if cfg.uncertainty:
        sim.track_uncertainty()  # recorded at every thermo row, with the forces of the step to it
    return sim


def run_md(cfg: RunConfig, rundir, progress: bool = True, force: bool = False, _test_stop: tuple | None = None) -> dict:
    """Start a run in ``rundir`` (created if missing). Returns the summary dict.

    ``rundir`` must be new, empty, or hold a run that stopped before its first checkpoint; with
    ``force`` it may hold a run or other files (mldyn's file names are replaced, others kept).
    Raises :class:`RunFailed` if the dynamics blow up or an output cannot be written, and
    :class:`Interrupted` on SIGINT/SIGTERM (output and a checkpoint kept at the step reached).
    """
    cfg.validate()
    rundir = Path(rundir)
    model = load_model(cfg.model)
    model_text = Path(cfg.model).read_text()  # before anything in rundir changes (-o may hold the model)
    symbols, pos, vel, cell33, origin = load_initial_state(cfg.init, cfg.cell)
    unknown = sorted(set(symbols) - set(model.species))
    if unknown:
        raise ValueError(f"--init {cfg.init}: species {unknown} are not in the model ({model.species})")
    if cfg.uncertainty and model.covariance is None:
        raise ValueError(f"--uncertainty/--max-uncertainty: {cfg.model} has no force uncertainty (it was saved without "
                         f"the fit's covariance); fit it again with this mldyn")
    if vel is None and cfg.temperature is None:
        raise ValueError(f"--init {cfg.init} has no velocities: give --temperature K to draw them")
    if vel is not None and cfg.seed != 0 and not cfg.draw_velocities:
        raise ValueError(f"--seed {cfg.seed}: --init {cfg.init} has velocities, which the run takes, so nothing is "
                         f"drawn and the seed would change nothing; add --draw-velocities"
                         + (" to draw them at --temperature" if cfg.temperature is not None else
                            " and --temperature K to draw them at K") + " from the seed, or leave out --seed")
    if cfg.ensemble == "nvt" and cfg.thermostat is None:
        cfg.thermostat = default_thermostat(model)  # stored resolved: a restart keeps it whatever the default
    vel, drawn = _initial_velocities(cfg, model, symbols, vel)
    origin += drawn
    t_start = float(np.sum(atom_masses(cfg, model, symbols)[:, None] * vel ** 2) * units.KINETIC_EV_PER_AMU_A2_FS2
                    / (max(3 * len(symbols) - 3, 1) * units.KB_EV_PER_K))
    origin += f"; start temperature {t_start:.1f} K"
    if cfg.traj_every is None:
        cfg.traj_every = default_traj_every(len(symbols), cfg.steps)  # stored resolved, as the thermostat
    make_run_dir(rundir)
    with RunLock(rundir), StopRequests() as stop:
        replaced = check_new_run_dir(rundir, force)
        if replaced:
            print(f"mldyn: replacing {', '.join(replaced)} in {rundir}", file=sys.stderr)
            for name in replaced:
                (rundir / name).unlink(missing_ok=True)
        if progress:
            print(f"start: {origin}", file=sys.stderr)
            print(f"output: {output_plan(cfg, len(symbols))}", file=sys.stderr)
        # run.json first: from here on the directory is a run that --restart (or a rerun) can take up
        write_text_atomic(rundir / "run.json", strict_json.dumps({"version": RUN_FILE_VERSION, "config": asdict(cfg),
                                                                  "initial_state": origin}, indent=1) + "\n")
        write_text_atomic(rundir / "model.json", model_text)
        write_text_atomic(rundir / "command.txt", cfg.command + "\n")
        _save_initial(rundir, symbols, pos, vel, cell33)
        return _begin(cfg, rundir, model, symbols, pos, vel, cell33, progress, stop, _test_stop)


def output_plan(cfg: RunConfig, n_atoms: int) -> str:
    """What a run will write, said before it starts: frame interval, frames and estimated size."""
    frames = cfg.steps // cfg.traj_every + 1 + (cfg.steps % cfg.traj_every > 0)
    size = trajectory_bytes(n_atoms, frames)
    text = (f"a frame every {cfg.traj_every} step{'s' if cfg.traj_every > 1 else ''} "
            f"({cfg.traj_every * cfg.dt:g} fs): {frames} frames, about "
            + (f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB") + " (--traj-every sets it)")
    if cfg.traj_every * cfg.dt > 4.2:
        text += "; frames more than 4.2 fs apart do not resolve the O-H stretch band (no spectrum peak)"
    return text


def _save_initial(rundir: Path, symbols, pos, vel, cell33) -> None:
    tmp = rundir / "initial.tmp.npz"
    try:
        np.savez(tmp, positions=pos, velocities=vel, symbols=np.array(symbols),
                 cell=np.zeros((0, 3)) if cell33 is None else cell33)
        tmp.replace(rundir / "initial.npz")
    finally:
        tmp.unlink(missing_ok=True)


def _load_initial(rundir: Path):
    """Symbols, positions, velocities and cell (or None) of a run's initial.npz."""
    path = rundir / "initial.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            cell33 = z["cell"] if z["cell"].shape == (3, 3) else None
            return [str(s) for s in z["symbols"]], z["positions"], z["velocities"], cell33
    except Exception as exc:  # missing or damaged: one message naming the file
        raise ValueError(f"restart: {path} is missing or damaged ({type(exc).__name__}: {exc}); start a new run "
                         f"from the run's last frame, --init {rundir}@-1") from None


def _begin(cfg, rundir, model, symbols, pos, vel, cell33, progress, stop, test_stop) -> dict:
    """Step 0: empty output files, the first frame and the first checkpoint, then the run."""
    sim = _build_simulation(cfg, model, symbols, pos, vel, cell33)
    files = RunFiles(rundir, symbols, sim.masses, cell33, model.species, model.conservative, cfg.uncertainty)
    try:
        files.start()
        files.add_frame(sim)
        files.add_thermo(sim, uncertainty_now(sim)[0] if cfg.uncertainty else None)
        save_checkpoint(rundir, sim, files)
    except OSError as exc:
        raise RunFailed(_output_error(exc, rundir, files)) from None
    return _advance(cfg, rundir, sim, files, progress, stop, test_stop)


def restart_md(rundir, steps: int | None = None, progress: bool = True, _test_stop: tuple | None = None) -> dict:
    """Continue the run in ``rundir`` from its checkpoint (to ``steps`` in total if given); a run that
    stopped before its first checkpoint starts again from its initial state. Output beyond the
    checkpoint is cut off first. Nothing is changed when the request is refused."""
    rundir = Path(rundir)
    meta_path = rundir / "run.json"
    if not rundir.is_dir():
        raise ValueError(f"--restart {rundir}: no such directory")
    if not meta_path.exists():
        raise ValueError(f"--restart {rundir}: holds no run (no run.json)")
    try:
        meta = json.loads(meta_path.read_text())
        version = int(meta.get("version", 1))
        config = dict(meta["config"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"--restart: {meta_path} is not a run file mldyn can read ({exc})") from None
    if version > RUN_FILE_VERSION:
        raise ValueError(f"restart: {meta_path} was written by a newer mldyn (run file version {version}, this "
                         f"one reads up to {RUN_FILE_VERSION}); continue it with that version")
    if config.get("ensemble") == "nvt":
        config.setdefault("thermostat", "global")  # runs written before per-species thermostats had one chain
    try:
        cfg = RunConfig(**config)
    except TypeError as exc:
        raise ValueError(f"--restart: {meta_path} is not a run file mldyn can read ({exc})") from None
    if steps is not None:
        cfg.steps = int(steps)
    cfg.validate()
    with RunLock(rundir), StopRequests() as stop:
        ck = load_checkpoint(rundir) if (rundir / "checkpoint.npz").exists() else None
        if ck is None and not (rundir / "model.json").exists():  # stopped right after writing run.json
            write_text_atomic(rundir / "model.json", Path(cfg.model).read_text())
        model = load_model(rundir / "model.json")
        if ck is not None and int(ck["step"]) > cfg.steps:
            raise ValueError(f"restart: the checkpoint is at step {int(ck['step'])}, beyond --steps {cfg.steps}; "
                             f"nothing was changed")
        if ck is not None:  # every check before anything changes
            symbols, _, _, cell33 = _load_initial(rundir)
            files = RunFiles(rundir, symbols, atom_masses(cfg, model, symbols), cell33, model.species,
                             model.conservative, cfg.uncertainty)
            files.check_sizes(ck["file_sizes"])
        if steps is not None:  # only once the request is known to be good
            meta["config"]["steps"] = cfg.steps
            write_text_atomic(meta_path, strict_json.dumps(meta, indent=1) + "\n")
        (rundir / "stopped.txt").unlink(missing_ok=True)  # this attempt writes its own if it stops
        if ck is None:
            return _start_again(cfg, rundir, model, progress, stop, _test_stop)
        sim = _build_simulation(cfg, model, symbols, ck["positions"], ck["velocities"], cell33)
        sim.core.set_state(ck["positions"], ck["velocities"], int(ck["step"]), float(ck["time"]))
        if sim.core.thermostatted:
            sim.core.set_chain_state(list(ck["chain_positions"]), list(ck["chain_velocities"]))
        sim.core.set_clipped_count(int(ck["clipped"]))
        files.truncate(ck["file_sizes"])
        files.last_step = int(ck["step"])
        return _advance(cfg, rundir, sim, files, progress, stop, _test_stop)


def _initial_velocities(cfg: RunConfig, model, symbols, vel_nc):
    """The start's velocities (n, 3) Å/fs: the frame's, or drawn at the temperature from the seed (when the
    frame has none, or with draw_velocities), and the words the run's origin gets for them."""
    if vel_nc is not None and not cfg.draw_velocities:
        return vel_nc, ""
    instead = "" if vel_nc is None else " in place of the frame's"
    vel_nc = _core.maxwell_boltzmann(atom_masses(cfg, model, symbols), cfg.temperature, cfg.seed, True)
    return vel_nc, f"; velocities drawn at {cfg.temperature:g} K (seed {cfg.seed}){instead}"


def _start_again(cfg, rundir, model, progress, stop, test_stop) -> dict:
    """A run that stopped before its first checkpoint: from its initial state (initial.npz, or its
    --init again when even that was not written), with every output file emptied."""
    if (rundir / "initial.npz").exists():
        symbols, pos, vel, cell33 = _load_initial(rundir)
    else:
        symbols, pos, vel, cell33, _ = load_initial_state(cfg.init, cfg.cell)
        vel, _ = _initial_velocities(cfg, model, symbols, vel)
        _save_initial(rundir, symbols, pos, vel, cell33)
    print(f"mldyn: {rundir} has no checkpoint (the run stopped while starting): starting again from its initial "
          f"state", file=sys.stderr)
    return _begin(cfg, rundir, model, symbols, pos, vel, cell33, progress, stop, test_stop)


def _output_error(exc: OSError, rundir: Path, files: RunFiles) -> str:
    ck = rundir / "checkpoint.npz"
    where = f"step {files.last_step}" if files.last_step is not None else "no frame (they are empty)"
    resume = (f"the last checkpoint is at step {int(load_checkpoint(rundir)['step'])}" if ck.exists()
              else "there is no checkpoint yet (a restart starts again from the initial state)")
    message = (f"could not write {exc.filename or rundir}: {exc.strerror or exc}. The output files end on whole "
               f"frames at {where}; {resume}. Free some space (or make the files writable) and continue with: "
               f"mldyn run --restart {rundir}")
    try:
        (rundir / "stopped.txt").write_text(message + "\n")
    except OSError:
        pass  # the disk that failed may refuse this too; the message is printed anyway
    return message


def _advance(cfg: RunConfig, rundir: Path, sim: Simulation, files: RunFiles, progress: bool,
             stop: StopRequests, test_stop: tuple | None) -> dict:
    # test_stop ("interrupt" | "crash", step): a test's Ctrl-C, or a crash (an exception, no checkpoint
    # written: what kill -9 leaves), at the first chunk boundary at or after that step
    stop_kind, stop_at = test_stop or (None, None)
    if cfg.threads:
        _core.set_num_threads(cfg.threads)
    start_step, t0 = sim.step, time.perf_counter()
    temps = []
    species_idx = np.array([sim.model.species.index(x) for x in files.symbols])
    species_sum, species_frames = {}, 0  # sums of per-frame species temperatures (K) over written frames
    closest = np.full(len(files.pairs), np.inf)
    watch = UncertaintyWatch(cfg.max_uncertainty, cfg.on_uncertainty, rundir)
    bar = progress_bar(total=cfg.steps, initial=start_step, desc="MD", enabled=progress, unit="step")
    chunk = max(1, min(cfg.checkpoint_every, 500))  # steps per C++ call: output buffers stay small
    try:
        while sim.step < cfg.steps:
            s = sim.step
            if stop_kind == "crash" and s >= stop_at:
                raise RuntimeError(f"test crash at step {s}")
            if stop.requested or (stop_kind == "interrupt" and s >= stop_at):
                save_checkpoint(rundir, sim, files)
                raise Interrupted(f"interrupted ({stop.requested or 'test'}) at step {s}: the output files end on "
                                  f"whole frames at step {files.last_step}, with a checkpoint at step {s}; "
                                  f"continue with: mldyn run --restart {rundir}")
            nxt = min(cfg.steps, (s // cfg.checkpoint_every + 1) * cfg.checkpoint_every, s + chunk)
            if watch.limit is not None and watch.on == "stop":  # stop at the first thermo line above the limit
                nxt = min(nxt, (s // cfg.thermo_every + 1) * cfg.thermo_every)
            if stop_at is not None:
                nxt = min(nxt, max(stop_at, s + 1))
            try:
                frames, thermo = sim.run_recording(nxt - s, cfg.traj_every, cfg.thermo_every)
            except SimulationError as exc:
                files.add_recorded(exc.frames, exc.thermo)
                files.flush()
                last = load_checkpoint(rundir)["step"]
                why = ""
                if "contact limit" in str(exc):
                    why = (f" The model was fitted on pairs no closer than {_floors_text(sim.model)}: it is outside the "
                           f"region it was fitted on (--contact-limit {cfg.contact_limit:g} x those; 0 disables the stop).")
                message = (f"{exc}.{why} Output up to step {files.last_step} is in {rundir}; the last good checkpoint "
                           f"is at step {int(last)}, but a restart from it repeats the same steps (the dynamics are "
                           f"deterministic): fit a more stable model, or start a new run with a shorter --dt or from "
                           f"another frame")
                (rundir / "stopped.txt").write_text(message + "\n")  # why, for `mldyn compare` and later readers
                raise RunFailed(message) from None
            if cfg.uncertainty:
                for st, u, k in zip(thermo["step"], thermo["uncertainty"], thermo["uncertain_atom"]):
                    watch.see(int(st), float(u), int(k), files.symbols)
            files.add_recorded(frames, thermo)
            temps.extend(thermo["temperature"].tolist())
            if watch.stop_message:
                save_checkpoint(rundir, sim, files)
                (rundir / "stopped.txt").write_text(watch.stop_message + "\n")
                raise RunFailed(watch.stop_message)
            if len(frames.get("step", ())):
                for name, t in species_temperatures_of(frames["velocities"], sim.masses, species_idx,
                                                       sim.model.species).items():
                    species_sum[name] = species_sum.get(name, 0.0) + float(np.sum(t))
                species_frames += len(frames["step"])
            if len(thermo["closest"]):
                closest = np.minimum(closest, thermo["closest"].min(axis=0))
            if sim.step == cfg.steps:  # the last step is always written
                if sim.step % cfg.traj_every:
                    files.add_frame(sim)
                if sim.step % cfg.thermo_every:
                    u_now = uncertainty_now(sim) if cfg.uncertainty else (None, None)
                    if cfg.uncertainty:
                        watch.see(sim.step, *u_now, files.symbols)
                    files.add_thermo(sim, u_now[0])
                    temps.append(sim.temperature)
            if sim.step % cfg.checkpoint_every == 0 or sim.step == cfg.steps:
                save_checkpoint(rundir, sim, files)
            else:
                files.flush()
            if progress:
                bar.update(sim.step - bar.n)
                rate = (sim.step - start_step) / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix_str(f"{rate:.0f} steps/s, {rate * cfg.dt * 86400 / 1e6:.2f} ns/day, "
                                    f"T {sim.temperature:.0f} K", refresh=False)
    except OSError as exc:
        raise RunFailed(_output_error(exc, rundir, files)) from None
    finally:
        if progress:
            bar.close()
    wall = time.perf_counter() - t0
    done = sim.step - start_step
    rate = done / wall if wall > 0 else math.inf
    return {"steps": done, "total_steps": sim.step, "simulated_ps": done * cfg.dt / 1000, "wall_s": wall,
            "steps_per_s": rate, "ns_per_day": rate * cfg.dt * 86400 / 1e6,
            "mean_temperature_K": float(np.mean(temps)) if temps else float("nan"),
            "species_temperature_K": {k: v / species_frames for k, v in species_sum.items()} if species_frames else {},
            "ensemble": cfg.ensemble, "thermostat": cfg.thermostat,
            "clipped_forces": sim.clipped_count, "rundir": str(rundir),
            "closest_A": {p: float(x) for p, x in zip(files.pairs, closest)},
            **({"uncertainty": watch.summary()} if cfg.uncertainty else {})}


def uncertainty_now(sim: Simulation) -> tuple[float, int]:
    """The largest per-agent force uncertainty (eV/Å) of the current configuration and its atom."""
    u = sim.model.force_uncertainty(sim.positions, sim.species_n, sim.cell)
    k = int(np.argmax(u))
    return float(u[k]), k


class UncertaintyWatch:
    """The run's record of its force uncertainty against ``--max-uncertainty``: the largest value seen,
    how often the limit was passed, and (with on="stop") the message that stops the run."""

    def __init__(self, limit: float | None, on: str, rundir: Path):
        self.limit, self.on, self.rundir = limit, on, rundir
        self.largest, self.largest_step, self.above, self.first_above = 0.0, None, 0, None
        self.stop_message = ""

    def see(self, step: int, value: float, atom: int, symbols) -> None:
        if value > self.largest:
            self.largest, self.largest_step = value, step
        if self.limit is None or not value > self.limit:
            return
        self.above += 1
        if self.first_above is None:
            self.first_above = step
        if self.on == "stop":
            self.stop_message = (
                f"left the trusted region at step {step}: the force uncertainty of atom {atom} ({symbols[atom]}) is "
                f"{value:.3g} eV/Å, above --max-uncertainty {self.limit:g} eV/Å (the model extrapolates there). Output "
                f"and a checkpoint at step {step} are in {self.rundir}; label such frames with DFT and refit "
                f"(mldyn explore does this), or --on-uncertainty flag to keep going")

    def summary(self) -> dict:
        return {"max_eV_A": self.largest, "max_at_step": self.largest_step, "limit_eV_A": self.limit,
                "evaluations_above_limit": self.above, "first_above_at_step": self.first_above}


def _floors_text(model) -> str:
    floors = (model.metadata or {}).get("closest_pairs_A") or {}
    return ", ".join(f"{k} {v:.2f} Å" for k, v in floors.items()) or "(no record in the model file)"


def summary_line(s: dict) -> str:
    """One line for the end of a run."""
    closest = ", ".join(f"{k} {v:.2f}" for k, v in s.get("closest_A", {}).items() if np.isfinite(v))
    species_t = s.get("species_temperature_K", {})
    by_species = ""
    if len(species_t) > 1:
        by_species = " (" + ", ".join(f"{k} {v:.0f}" for k, v in species_t.items()) + " K"
        if (s.get("ensemble") == "nvt" and s.get("thermostat") == "global"
                and max(species_t.values()) > 1.15 * min(species_t.values())):
            by_species += ": one thermostat holds only the total; --thermostat per-species holds each species"
        by_species += ")"
    return (f"{s['steps']} steps ({s['simulated_ps']:.2f} ps) in {s['wall_s']:.1f} s: {s['steps_per_s']:.0f} steps/s, "
            f"{s['ns_per_day']:.2f} ns/day; mean T {s['mean_temperature_K']:.1f} K{by_species}; clipped forces "
            f"{s['clipped_forces']}; closest {closest or '-'} Å{_uncertainty_text(s.get('uncertainty'))}; "
            f"output in {s['rundir']}")


def _uncertainty_text(u: dict | None) -> str:
    if not u:
        return ""
    text = f"; largest force uncertainty {u['max_eV_A']:.3g} eV/Å (step {u['max_at_step']})"
    if u.get("limit_eV_A") is not None and u["evaluations_above_limit"]:
        text += (f", ABOVE the limit {u['limit_eV_A']:g} eV/Å at {u['evaluations_above_limit']} evaluations from step "
                 f"{u['first_above_at_step']}")
    return text
