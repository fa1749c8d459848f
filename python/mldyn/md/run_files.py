"""The files of a run directory: buffered output writers, checkpoints with the files' lengths.

A flush writes every buffered frame to every file or, if any write fails (full disk, file too
large, read-only), cuts every file back to where it was: the files always end on whole frames
and a step never appears twice.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..dataset import Dataset
from .simulation import Simulation

__all__ = ["RunFiles", "save_checkpoint", "load_checkpoint", "PROJECT", "OUTPUT_NAMES"]

#: checkpoint.npz format (its own number: run.json's RUN_FILE_VERSION may change without it)
CHECKPOINT_VERSION = 2

PROJECT = "mldyn"
OUTPUT_NAMES = {"extxyz": "trajectory.extxyz", "pos": f"{PROJECT}-pos-1.xyz", "vel": f"{PROJECT}-vel-1.xyz",
                "frc": f"{PROJECT}-frc-1.xyz", "ener": f"{PROJECT}-1.ener", "cell": f"{PROJECT}-1.cell",
                "thermo": "thermo.log"}


class RunFiles:
    """Buffered writers for every output of a run directory."""

    def __init__(self, rundir: Path, symbols, masses_n, cell33, species_names, conservative: bool = True,
                 uncertainty: bool = False):
        self.dir = rundir
        #: thermo.log has a last column with the largest per-agent force uncertainty (eV/Å)
        self.uncertainty = uncertainty
        # ½ Σ H_k is the potential energy of a conservative model only; otherwise ASE must not read it as one
        self.energy_key = "energy" if conservative else "half_loss_sum"
        # and CP2K's readers take the .ener Pot column and the "E =" of the positions file for one: an agent-loss
        # run writes NaN there (its conserved quantity too) and no "E =" (thermo.log has 1/2 sum H_k, named so)
        self.conservative = conservative
        self.symbols = list(symbols)
        names = list(species_names)
        #: species pairs a <= b in the order of the core's closest-contact columns
        self.pairs = [f"{names[a]}-{names[b]}" for a in range(len(names)) for b in range(a, len(names))]
        self.masses_n = np.asarray(masses_n, dtype=float)
        self.cell33 = cell33
        self.frames: list[tuple] = []  # (step, time, pos, vel, frc, pot_eV)
        self.thermo: list[str] = []
        self.ener: list[tuple] = []
        self.last_step: int | None = None  # step of the last frame in the files

    @property
    def paths(self) -> dict:
        return {key: self.dir / name for key, name in OUTPUT_NAMES.items()}

    def start(self) -> None:
        """Create empty files with their headers."""
        from ..io.cp2k_writer import write_cp2k_cell, write_cp2k_ener

        for key in ("extxyz", "pos", "vel", "frc"):
            self.paths[key].write_text("")
        write_cp2k_ener(self.paths["ener"], [], [], [], [], [])
        if self.cell33 is not None:
            write_cp2k_cell(self.paths["cell"], [], [], np.zeros((0, 3, 3)))
        self.paths["thermo"].write_text(
            "# step time_fs kinetic_eV temperature_K half_loss_sum_eV mean_loss_eV conserved_eV clipped_total "
            + " ".join(f"closest_{p}_A" for p in self.pairs)
            + (" max_force_uncertainty_eV_A" if self.uncertainty else "") + "\n")

    def add_frame(self, sim: Simulation) -> None:
        """A trajectory frame, and its line of the CP2K .ener file (CP2K's reader keeps only
        steps present in every file, so both are written at the same steps)."""
        ke = sim.kinetic_energy
        half_loss = 0.5 * float(np.sum(sim.losses))
        self.frames.append((sim.step, sim.time, sim.positions, sim.velocities, sim.forces, half_loss))
        self.ener.append((sim.step, sim.time, ke, sim.temperature, half_loss, ke + half_loss + sim.thermostat_energy))

    def add_thermo(self, sim: Simulation, uncertainty: float | None = None) -> None:
        half_loss = 0.5 * float(np.sum(sim.losses))
        S = len(sim.model.species)
        closest = [sim.core.closest(a, b)[0] for a in range(S) for b in range(a, S)]
        self.thermo.append(_thermo_line(sim.step, sim.time, sim.kinetic_energy, sim.temperature, half_loss,
                                        2.0 * half_loss / sim.n_atoms, sim.conserved_energy, sim.clipped_count, closest,
                                        uncertainty if self.uncertainty else None))

    def add_recorded(self, frames: dict, thermo: dict) -> None:
        """Frames and thermo rows recorded by :meth:`Simulation.run_recording`."""
        for k in range(len(frames.get("step", ()))):
            self.frames.append((int(frames["step"][k]), float(frames["time"][k]), frames["positions"][k],
                                frames["velocities"][k], frames["forces"][k], float(frames["half_loss"][k])))
            ke, half = float(frames["kinetic"][k]), float(frames["half_loss"][k])
            self.ener.append((int(frames["step"][k]), float(frames["time"][k]), ke, float(frames["temperature"][k]),
                              half, ke + half + float(frames["thermostat"][k])))
        for k in range(len(thermo.get("step", ()))):
            self.thermo.append(_thermo_line(int(thermo["step"][k]), thermo["time"][k], thermo["kinetic"][k],
                                            thermo["temperature"][k], thermo["half_loss"][k], thermo["mean_loss"][k],
                                            thermo["conserved"][k], int(thermo["clipped"][k]), thermo["closest"][k],
                                            (thermo["uncertainty"][k] if "uncertainty" in thermo else math.nan)
                                            if self.uncertainty else None))

    def flush(self) -> None:
        """Append the buffered frames and lines to the files, all or none (see the module doc)."""
        if not (self.frames or self.ener or self.thermo):
            return
        before = self.sizes()
        last = self.frames[-1][0] if self.frames else self.last_step
        try:
            self._write()
        except BaseException:
            for key, path in self.paths.items():
                if path.exists():
                    os.truncate(path, before.get(key, 0))
            raise
        finally:
            self.frames.clear()
            self.ener.clear()
            self.thermo.clear()
        self.last_step = last

    def _write(self) -> None:
        from ..io.cp2k_writer import write_cp2k_cell, write_cp2k_ener, write_cp2k_xyz
        from ..io.xyz import write_extxyz

        if self.frames:
            steps = np.array([f[0] for f in self.frames], dtype=np.int64)
            times = np.array([f[1] for f in self.frames])
            pos, vel, frc = (np.array([f[k] for f in self.frames]) for k in (2, 3, 4))
            pot = np.array([f[5] for f in self.frames])
            for kind, arr in (("pos", pos), ("vel", vel), ("frc", frc)):
                write_cp2k_xyz(self.paths[kind], self.symbols, arr, steps, times,
                               pot if kind == "pos" and self.conservative else None, kind=kind, append=True)
            if self.cell33 is not None:
                write_cp2k_cell(self.paths["cell"], steps, times, self.cell33, append=True)
            names = list(dict.fromkeys(self.symbols))
            data = Dataset(names, np.array([names.index(s) for s in self.symbols], dtype=np.int32), self.masses_n,
                           pos, self.cell33, vel, frc, steps, times, pot)
            write_extxyz(self.paths["extxyz"], data, append=True, ase_momenta=True, energy_key=self.energy_key)
        if self.ener:
            cols = np.array(self.ener)
            if not self.conservative:
                cols[:, 4:6] = np.nan  # no potential energy, no conserved quantity
            write_cp2k_ener(self.paths["ener"], cols[:, 0].astype(np.int64), cols[:, 1], cols[:, 2], cols[:, 3],
                            cols[:, 4], cols[:, 5], append=True)
        if self.thermo:
            with open(self.paths["thermo"], "a") as fh:
                fh.writelines(self.thermo)

    def sizes(self) -> dict:
        return {k: p.stat().st_size for k, p in self.paths.items() if p.exists()}

    def check_sizes(self, sizes: dict) -> None:
        """ValueError unless every file is at least as long as at the checkpoint (nothing is changed)."""
        for key, size in sizes.items():
            path = self.paths[key]
            if not path.exists() or path.stat().st_size < size:
                raise ValueError(f"restart: output file {path} is shorter than at the checkpoint; cannot continue "
                                 f"(nothing was changed)")

    def truncate(self, sizes: dict) -> None:
        """Cut every file back to the length it had at a checkpoint (all checked first)."""
        self.check_sizes(sizes)
        for key, size in sizes.items():
            os.truncate(self.paths[key], size)
        self.last_step = None


def _thermo_line(step, time, kinetic, temperature, half_loss, mean_loss, conserved, clipped, closest,
                 uncertainty=None) -> str:
    """One line of thermo.log (columns as its header says; the closest distances in Å; the force
    uncertainty in eV/Å when the run evaluates it)."""
    return (f"{step} {time:.3f} {kinetic:.10e} {temperature:.6f} {half_loss:.10e} {mean_loss:.10e} {conserved:.10e} "
            f"{clipped} " + " ".join(f"{x:.6f}" for x in closest)
            + ("" if uncertainty is None else f" {uncertainty:.6e}") + "\n")


def save_checkpoint(rundir: Path, sim: Simulation, files: RunFiles) -> None:
    files.flush()
    core = sim.core
    tmp = rundir / "checkpoint.tmp.npz"
    try:
        np.savez(tmp, version=CHECKPOINT_VERSION, positions=sim.positions, velocities=sim.velocities, step=sim.step,
                 time=sim.time, chain_positions=np.array(core.chain_positions), clipped=sim.clipped_count,
                 chain_velocities=np.array(core.chain_velocities), file_sizes=json.dumps(files.sizes()))
        tmp.replace(rundir / "checkpoint.npz")  # atomic: a crash never leaves half a checkpoint
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(rundir: Path) -> dict:
    path = rundir / "checkpoint.npz"
    if not path.exists():
        raise FileNotFoundError(f"restart: no checkpoint.npz in {rundir}")
    try:
        with np.load(path, allow_pickle=False) as z:
            version = int(z["version"])
            ck = {k: z[k] for k in z.files}
        ck["file_sizes"] = json.loads(str(ck["file_sizes"]))
    except Exception as exc:  # zip, npy or JSON damage of any kind: one message naming the file
        raise ValueError(f"restart: {path} is damaged ({type(exc).__name__}: {exc}); the run cannot continue from it: "
                         f"start a new run from its last frame, --init {rundir}@-1") from None
    if version != CHECKPOINT_VERSION:
        raise ValueError(f"restart: {path} has checkpoint version {version}, expected {CHECKPOINT_VERSION}")
    return ck
