"""Learned MD runs with files on disk: outputs, checkpoints, exact restarts.

A run directory holds

* ``trajectory.extxyz`` — extended XYZ (cell, positions Å, forces eV/Å, velocities Å/fs as
  ``vel``, and ASE ``masses``/``momenta``) that ``ase.io.read(path, index=":")`` reads;
* ``mldyn-pos-1.xyz``, ``mldyn-vel-1.xyz``, ``mldyn-frc-1.xyz``, ``mldyn-1.ener``, ``mldyn-1.cell``
  — CP2K's files and units, so :func:`mldyn.io.cp2k_reader.read_cp2k` (and every analysis) reads a learned
  run exactly like a CP2K run. In ``.ener`` and the ``E =`` comments the "potential energy" is
  1/2 sum_k H_k (the potential energy for a conservative model; for an agent-loss model only half
  the total loss) and the CPU-time column is 0, so that files are reproducible;
* ``thermo.log`` — step, time (fs), kinetic energy (eV), temperature (K), 1/2 sum H_k (eV),
  mean agent loss (eV), conserved quantity (eV; NaN where none exists), clipped forces so far;
* ``model.json`` (a copy), ``run.json`` (the settings), ``command.txt``, ``checkpoint.npz``.

Checkpoints store the dynamical state and the byte length of every output file, so a restart
truncates the files to the checkpoint and continues bitwise identically to an uninterrupted run
with the same thread count.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import _core
from .cell import make_cell
from .dataset import Dataset
from .md import ENSEMBLES, Simulation, SimulationError
from .model import load_model
from .progress import progress_bar

__all__ = ["RunConfig", "run_md", "restart_md", "load_initial_state", "RunFailed", "PROJECT"]

PROJECT = "mldyn"
RUN_FILE_VERSION = 1


class RunFailed(RuntimeError):
    """The dynamics blew up; the message says at which step and what is kept."""


@dataclass
class RunConfig:
    """Settings of a run (stored as run.json). Units: fs, K, eV/Å, Å."""

    model: str
    init: str
    steps: int
    dt: float = 0.5
    ensemble: str = "nvt"
    temperature: float | None = None
    tdamp: float = 50.0
    chain: int = 3
    tau: float | None = None
    clip: float | None = None
    seed: int = 0
    threads: int = 0
    traj_every: int = 1
    thermo_every: int = 10
    checkpoint_every: int = 1000
    max_displacement: float = 1.0
    neighbours: str = "auto"
    cell: list | None = None
    command: str = ""

    def validate(self) -> None:
        if self.steps < 0:
            raise ValueError(f"--steps must be >= 0, got {self.steps}")
        if not self.dt > 0:
            raise ValueError(f"--dt must be > 0 fs, got {self.dt}")
        if self.ensemble not in ENSEMBLES:
            raise ValueError(f"--ensemble must be one of {ENSEMBLES}, got {self.ensemble!r}")
        if self.ensemble == "nvt" and self.temperature is None:
            raise ValueError("--ensemble nvt needs --temperature K")
        if self.ensemble == "learn" and self.tau is None:
            raise ValueError("--ensemble learn needs --tau FS (the memory time of eq. 3.4)")
        for name in ("traj_every", "thermo_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")


# ----------------------------------------------------------------------------- initial state

def _split_frame(source: str) -> tuple[str, int]:
    """'DIR@-1' -> ('DIR', -1); a source without a trailing '@INT' takes the last frame."""
    head, sep, tail = source.rpartition("@")
    if sep and head:
        try:
            return head, int(tail)
        except ValueError:
            pass
    return source, -1


def load_initial_state(source: str, cell=None):
    """Symbols, positions (n, 3) Å, velocities (n, 3) Å/fs or None, cell (3, 3) Å or None, description.

    ``source`` is a run (CP2K directory, ``@h2o32``, dataset ``.npz``...) with an optional frame
    ``@K`` (default the last; positions and velocities both taken), or an ``.xyz``/``.extxyz``
    structure (no velocities). ``cell`` (as :func:`make_cell` takes it) overrides or supplies the cell.
    """
    path, frame = _split_frame(str(source))
    p = Path(path)
    if p.suffix in (".xyz", ".extxyz") and not p.name.endswith("-pos-1.xyz"):
        from .io.xyz import read_structure

        symbols, pos, lattice = read_structure(p, frame)
        velocities = None
        description = f"{p} frame {frame}"
    else:
        from .io import load_dataset

        data = load_dataset(path)
        if not -data.n_frames <= frame < data.n_frames:
            raise ValueError(f"--init {source}: frame {frame} does not exist ({data.n_frames} frames)")
        symbols = data.symbols
        pos = data.positions_fnc[frame]
        velocities = None if data.velocities_fnc is None else data.velocities_fnc[frame]
        lattice = None if data.cells_f33 is None else data.cells_f33[frame]
        description = f"{path} frame {frame} (step {int(data.steps_f[frame])})"
    if cell is not None:
        lattice = np.asarray(make_cell(cell).vectors)
    return list(symbols), np.array(pos, dtype=float), velocities, lattice, description


# ----------------------------------------------------------------------------- output files

class RunFiles:
    """Buffered writers for every output of a run directory."""

    def __init__(self, rundir: Path, symbols, masses_n, cell33):
        self.dir = rundir
        self.symbols = list(symbols)
        self.masses_n = np.asarray(masses_n, dtype=float)
        self.cell33 = cell33
        self.frames: list[tuple] = []  # (step, time, pos, vel, frc, pot_eV)
        self.thermo: list[str] = []
        self.ener: list[tuple] = []

    @property
    def paths(self) -> dict:
        d = self.dir
        return {"extxyz": d / "trajectory.extxyz", "pos": d / f"{PROJECT}-pos-1.xyz", "vel": d / f"{PROJECT}-vel-1.xyz",
                "frc": d / f"{PROJECT}-frc-1.xyz", "ener": d / f"{PROJECT}-1.ener", "cell": d / f"{PROJECT}-1.cell",
                "thermo": d / "thermo.log"}

    def start(self) -> None:
        """Create empty files with their headers."""
        from .io.cp2k_writer import write_cp2k_cell, write_cp2k_ener

        for key in ("extxyz", "pos", "vel", "frc"):
            self.paths[key].write_text("")
        write_cp2k_ener(self.paths["ener"], [], [], [], [], [])
        if self.cell33 is not None:
            write_cp2k_cell(self.paths["cell"], [], [], np.zeros((0, 3, 3)))
        self.paths["thermo"].write_text(
            "# step time_fs kinetic_eV temperature_K half_loss_sum_eV mean_loss_eV conserved_eV clipped_total\n")

    def add_frame(self, sim: Simulation) -> None:
        """A trajectory frame, and its line of the CP2K .ener file (CP2K's reader keeps only
        steps present in every file, so both are written at the same steps)."""
        ke = sim.kinetic_energy
        half_loss = 0.5 * float(np.sum(sim.losses))
        self.frames.append((sim.step, sim.time, sim.positions, sim.velocities, sim.forces, half_loss))
        self.ener.append((sim.step, sim.time, ke, sim.temperature, half_loss, ke + half_loss + sim.thermostat_energy))

    def add_thermo(self, sim: Simulation) -> None:
        half_loss = 0.5 * float(np.sum(sim.losses))
        self.thermo.append(f"{sim.step} {sim.time:.3f} {sim.kinetic_energy:.10e} {sim.temperature:.6f} "
                           f"{half_loss:.10e} {2.0 * half_loss / sim.n_atoms:.10e} {sim.conserved_energy:.10e} "
                           f"{sim.clipped_count}\n")

    def add_recorded(self, frames: dict, thermo: dict) -> None:
        """Frames and thermo rows recorded by :meth:`Simulation.run_recording`."""
        for k in range(len(frames.get("step", ()))):
            self.frames.append((int(frames["step"][k]), float(frames["time"][k]), frames["positions"][k],
                                frames["velocities"][k], frames["forces"][k], float(frames["half_loss"][k])))
            ke, half = float(frames["kinetic"][k]), float(frames["half_loss"][k])
            self.ener.append((int(frames["step"][k]), float(frames["time"][k]), ke, float(frames["temperature"][k]),
                              half, ke + half + float(frames["thermostat"][k])))
        for k in range(len(thermo.get("step", ()))):
            self.thermo.append(f"{int(thermo['step'][k])} {thermo['time'][k]:.3f} {thermo['kinetic'][k]:.10e} "
                               f"{thermo['temperature'][k]:.6f} {thermo['half_loss'][k]:.10e} "
                               f"{thermo['mean_loss'][k]:.10e} {thermo['conserved'][k]:.10e} "
                               f"{int(thermo['clipped'][k])}\n")

    def flush(self) -> None:
        from .io.cp2k_writer import write_cp2k_cell, write_cp2k_ener, write_cp2k_xyz
        from .io.xyz import write_extxyz

        if self.frames:
            steps = np.array([f[0] for f in self.frames], dtype=np.int64)
            times = np.array([f[1] for f in self.frames])
            pos, vel, frc = (np.array([f[k] for f in self.frames]) for k in (2, 3, 4))
            pot = np.array([f[5] for f in self.frames])
            for kind, arr in (("pos", pos), ("vel", vel), ("frc", frc)):
                write_cp2k_xyz(self.paths[kind], self.symbols, arr, steps, times, pot if kind == "pos" else None,
                               kind=kind, append=True)
            if self.cell33 is not None:
                write_cp2k_cell(self.paths["cell"], steps, times, self.cell33, append=True)
            names = list(dict.fromkeys(self.symbols))
            data = Dataset(names, np.array([names.index(s) for s in self.symbols], dtype=np.int32), self.masses_n,
                           pos, self.cell33, vel, frc, steps, times, pot)
            write_extxyz(self.paths["extxyz"], data, append=True, ase_momenta=True)
            self.frames.clear()
        if self.ener:
            cols = np.array(self.ener)
            write_cp2k_ener(self.paths["ener"], cols[:, 0].astype(np.int64), cols[:, 1], cols[:, 2], cols[:, 3],
                            cols[:, 4], cols[:, 5], append=True)
            self.ener.clear()
        if self.thermo:
            with open(self.paths["thermo"], "a") as fh:
                fh.writelines(self.thermo)
            self.thermo.clear()

    def sizes(self) -> dict:
        return {k: p.stat().st_size for k, p in self.paths.items() if p.exists()}

    def truncate(self, sizes: dict) -> None:
        """Cut every file back to the length it had at a checkpoint."""
        for key, size in sizes.items():
            path = self.paths[key]
            if not path.exists() or path.stat().st_size < size:
                raise ValueError(f"restart: output file {path} is shorter than at the checkpoint; cannot continue")
            with open(path, "r+b") as fh:
                fh.truncate(size)


# ----------------------------------------------------------------------------- checkpoints

def _save_checkpoint(rundir: Path, sim: Simulation, files: RunFiles) -> None:
    files.flush()
    core = sim.core
    tmp = rundir / "checkpoint.tmp.npz"
    np.savez(tmp, version=RUN_FILE_VERSION, positions=sim.positions, velocities=sim.velocities, step=sim.step,
             time=sim.time, chain_positions=np.array(core.chain_positions), clipped=sim.clipped_count,
             chain_velocities=np.array(core.chain_velocities), file_sizes=json.dumps(files.sizes()))
    tmp.replace(rundir / "checkpoint.npz")  # atomic: a crash never leaves half a checkpoint


def _load_checkpoint(rundir: Path) -> dict:
    path = rundir / "checkpoint.npz"
    if not path.exists():
        raise FileNotFoundError(f"restart: no checkpoint.npz in {rundir}")
    with np.load(path, allow_pickle=False) as z:
        if int(z["version"]) != RUN_FILE_VERSION:
            raise ValueError(f"restart: {path} has checkpoint version {int(z['version'])}, expected {RUN_FILE_VERSION}")
        ck = {k: z[k] for k in z.files}
    ck["file_sizes"] = json.loads(str(ck["file_sizes"]))
    return ck


# ----------------------------------------------------------------------------- driver

def _build_simulation(cfg: RunConfig, model, symbols, pos, vel, cell33) -> Simulation:
    return Simulation(model, pos, symbols, cell33, velocities_nc=vel, dt=cfg.dt,
                      temperature=cfg.temperature, tdamp=cfg.tdamp, chain=cfg.chain, force_cap=cfg.clip,
                      seed=cfg.seed, neighbours=cfg.neighbours, ensemble=cfg.ensemble, tau=cfg.tau,
                      max_displacement=cfg.max_displacement)


def run_md(cfg: RunConfig, rundir, progress: bool = True, _stop_at: int | None = None) -> dict:
    """Start a run in ``rundir`` (created; must not hold a run already). Returns the summary dict.

    Raises :class:`RunFailed` if the dynamics blow up (the last checkpoint and all output are kept).
    """
    cfg.validate()
    rundir = Path(rundir)
    if (rundir / "run.json").exists():
        raise ValueError(f"{rundir} already holds a run; use --restart {rundir} to continue it or choose another -o")
    rundir.mkdir(parents=True, exist_ok=True)
    model = load_model(cfg.model)
    symbols, pos, vel, cell33, origin = load_initial_state(cfg.init, cfg.cell)
    unknown = sorted(set(symbols) - set(model.species))
    if unknown:
        raise ValueError(f"--init {cfg.init}: species {unknown} are not in the model ({model.species})")
    if vel is None and cfg.temperature is None:
        raise ValueError(f"--init {cfg.init} has no velocities: give --temperature K to draw them")
    if vel is None:
        vel = _core.maxwell_boltzmann(model.atom_masses(symbols, len(symbols)), cfg.temperature, cfg.seed, True)
    shutil.copyfile(cfg.model, rundir / "model.json")
    (rundir / "run.json").write_text(json.dumps({"version": RUN_FILE_VERSION, "config": asdict(cfg),
                                                 "initial_state": origin}, indent=1) + "\n")
    (rundir / "command.txt").write_text(cfg.command + "\n")
    np.savez(rundir / "initial.npz", positions=pos, velocities=vel, symbols=np.array(symbols),
             cell=np.zeros((0, 3)) if cell33 is None else cell33)
    sim = _build_simulation(cfg, model, symbols, pos, vel, cell33)
    files = RunFiles(rundir, symbols, sim.masses, cell33)
    files.start()
    files.add_frame(sim)
    files.add_thermo(sim)
    _save_checkpoint(rundir, sim, files)
    return _advance(cfg, rundir, sim, files, progress, _stop_at)


def restart_md(rundir, steps: int | None = None, progress: bool = True, _stop_at: int | None = None) -> dict:
    """Continue the run in ``rundir`` from its checkpoint (to ``steps`` in total if given)."""
    rundir = Path(rundir)
    meta_path = rundir / "run.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"restart: {rundir} holds no run (no run.json)")
    meta = json.loads(meta_path.read_text())
    cfg = RunConfig(**meta["config"])
    if steps is not None:
        cfg.steps = int(steps)
        meta["config"]["steps"] = cfg.steps
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    cfg.validate()
    model = load_model(rundir / "model.json")
    with np.load(rundir / "initial.npz", allow_pickle=False) as z:
        symbols = [str(s) for s in z["symbols"]]
        cell33 = z["cell"] if z["cell"].shape == (3, 3) else None
    ck = _load_checkpoint(rundir)
    if int(ck["step"]) > cfg.steps:
        raise ValueError(f"restart: the checkpoint is at step {int(ck['step'])}, beyond --steps {cfg.steps}")
    sim = _build_simulation(cfg, model, symbols, ck["positions"], ck["velocities"], cell33)
    sim.core.set_state(ck["positions"], ck["velocities"], int(ck["step"]), float(ck["time"]))
    if sim.core.thermostatted:
        sim.core.set_chain_state(list(ck["chain_positions"]), list(ck["chain_velocities"]))
    sim.core.set_clipped_count(int(ck["clipped"]))
    files = RunFiles(rundir, symbols, sim.masses, cell33)
    files.truncate(ck["file_sizes"])
    return _advance(cfg, rundir, sim, files, progress, _stop_at)


def _advance(cfg: RunConfig, rundir: Path, sim: Simulation, files: RunFiles, progress: bool,
             stop_at: int | None) -> dict:
    if cfg.threads:
        _core.set_num_threads(cfg.threads)
    start_step, t0 = sim.step, time.perf_counter()
    temps = []
    bar = progress_bar(total=cfg.steps, initial=start_step, desc="MD", enabled=progress, unit="step")
    chunk = max(1, min(cfg.checkpoint_every, 500))  # steps per C++ call: output buffers stay small
    try:
        while sim.step < cfg.steps:
            s = sim.step
            if stop_at is not None and s >= stop_at:
                raise KeyboardInterrupt  # test hook: an interruption between checkpoints
            nxt = min(cfg.steps, (s // cfg.checkpoint_every + 1) * cfg.checkpoint_every, s + chunk)
            if stop_at is not None:
                nxt = min(nxt, max(stop_at, s + 1))
            try:
                frames, thermo = sim.run_recording(nxt - s, cfg.traj_every, cfg.thermo_every)
            except SimulationError as exc:
                files.add_recorded(exc.frames, exc.thermo)
                files.flush()
                last = _load_checkpoint(rundir)["step"]
                raise RunFailed(f"{exc}. Output up to step {sim.step} is in {rundir}; the last good checkpoint is at "
                                f"step {int(last)} (continue with: mldyn run --restart {rundir})") from None
            files.add_recorded(frames, thermo)
            temps.extend(thermo["temperature"].tolist())
            if sim.step == cfg.steps:  # the last step is always written
                if sim.step % cfg.traj_every:
                    files.add_frame(sim)
                if sim.step % cfg.thermo_every:
                    files.add_thermo(sim)
                    temps.append(sim.temperature)
            if sim.step % cfg.checkpoint_every == 0 or sim.step == cfg.steps:
                _save_checkpoint(rundir, sim, files)
            else:
                files.flush()
            if progress:
                bar.update(sim.step - bar.n)
                rate = (sim.step - start_step) / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix_str(f"{rate:.0f} steps/s, {rate * cfg.dt * 86400 / 1e6:.2f} ns/day, "
                                    f"T {sim.temperature:.0f} K", refresh=False)
    finally:
        files.flush()
        if progress:
            bar.close()
    wall = time.perf_counter() - t0
    done = sim.step - start_step
    rate = done / wall if wall > 0 else math.inf
    return {"steps": done, "total_steps": sim.step, "simulated_ps": done * cfg.dt / 1000, "wall_s": wall,
            "steps_per_s": rate, "ns_per_day": rate * cfg.dt * 86400 / 1e6,
            "mean_temperature_K": float(np.mean(temps)) if temps else float("nan"),
            "clipped_forces": sim.clipped_count, "rundir": str(rundir)}


def summary_line(s: dict) -> str:
    """One line for the end of a run."""
    return (f"{s['steps']} steps ({s['simulated_ps']:.2f} ps) in {s['wall_s']:.1f} s: {s['steps_per_s']:.0f} steps/s, "
            f"{s['ns_per_day']:.2f} ns/day; mean T {s['mean_temperature_K']:.1f} K; clipped forces "
            f"{s['clipped_forces']}; output in {s['rundir']}")
