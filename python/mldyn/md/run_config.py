"""Settings of a learned MD run (stored as run.json), validated where they enter."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .simulation import ENSEMBLES, default_ensemble

__all__ = ["RunConfig", "RunFailed", "RUN_FILE_VERSION", "THERMOSTATS", "TRAJECTORY_BUDGET_BYTES",
           "trajectory_bytes", "default_traj_every"]

THERMOSTATS = ("per-species", "global")

RUN_FILE_VERSION = 3  # run.json; 2: config has 'thermostat' (version-1 files restart with one thermostat);
#                       3: 'draw_velocities' (older files restart without it: the frame's velocities)


#: Largest trajectory (all frame files of a run directory) the default --traj-every plans for: 10 GB.
TRAJECTORY_BUDGET_BYTES = 10e9


def trajectory_bytes(n_atoms: int, frames: int) -> float:
    """Estimated size (bytes) of ``frames`` trajectory frames of ``n_atoms`` atoms in every output file
    (extended XYZ with positions, forces, velocities, masses and momenta, plus CP2K's pos, vel and frc
    files): 380 bytes per atom and 700 per frame, measured on a 96-atom water run (36.6 kB per frame)."""
    return frames * (380.0 * n_atoms + 700.0)


def default_traj_every(n_atoms: int, steps: int) -> int:
    """The smallest frame interval (steps) that keeps a run of ``steps`` steps within the budget: every
    step for short or small runs (the demo: 2000 steps of 96 atoms, 73 MB), every 760 steps for 1 ns
    (2 million steps) of 10,000 atoms."""
    return max(1, math.ceil(trajectory_bytes(n_atoms, steps + 1) / TRAJECTORY_BUDGET_BYTES))


class RunFailed(RuntimeError):
    """The dynamics blew up; the message says at which step and what is kept."""


@dataclass
class RunConfig:
    """Settings of a run (stored as run.json). Units: fs, K, eV/Å, Å."""

    model: str
    init: str
    steps: int
    dt: float = 0.5
    ensemble: str | None = None  # None: md.simulation.default_ensemble
    temperature: float | None = None
    tdamp: float = 50.0
    chain: int | None = None     # None: 1 for agent-loss (non-conservative) models, 3 for pair potentials
    thermostat: str | None = None  # "per-species" | "global"; None: md.run.default_thermostat
    tau: float | None = None
    clip: float | None = None
    seed: int = 0
    draw_velocities: bool = False  # draw at the temperature from the seed even when the start has velocities
    threads: int = 0
    traj_every: int | None = None  # None: default_traj_every (the whole trajectory within TRAJECTORY_BUDGET_BYTES)
    thermo_every: int = 10
    checkpoint_every: int = 1000
    max_displacement: float = 1.0
    contact_limit: float = 0.75  # stop when a pair comes closer than this x its closest training distance
    neighbours: str = "auto"
    cell: list | None = None
    masses: dict | None = None   # {species or element: amu}, overriding the model's masses
    uncertainty: bool = False    # evaluate the per-agent force uncertainty at every thermo line
    max_uncertainty: float | None = None  # eV/Å: above it the run stops (or is flagged, see on_uncertainty)
    on_uncertainty: str = "stop"  # "stop" | "flag"
    command: str = ""

    def validate(self) -> None:
        if self.ensemble is None:
            self.ensemble = default_ensemble(self.temperature, self.tau)
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
        if self.chain is not None and self.chain < 1:
            raise ValueError(f"--chain must be >= 1, got {self.chain}")
        if self.thermostat is not None and self.thermostat not in THERMOSTATS:
            raise ValueError(f"--thermostat must be one of {THERMOSTATS}, got {self.thermostat!r}")
        if self.thermostat is not None and self.ensemble != "nvt":
            raise ValueError(f"--thermostat is for --ensemble nvt, not {self.ensemble!r}")
        for key, value in (self.masses or {}).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"--masses {key}: a mass must be a number > 0 (amu), got {value!r}")
        if self.draw_velocities and self.temperature is None:
            raise ValueError("--draw-velocities needs --temperature K, the temperature to draw them at")
        if not 0 <= self.seed < 2 ** 64:
            raise ValueError(f"--seed must be an integer in [0, 2^64), got {self.seed}")
        if self.threads < 0:
            raise ValueError(f"--threads must be >= 0 (0: all cores), got {self.threads}")
        if not (0.0 <= self.contact_limit < 1.0):
            raise ValueError(f"--contact-limit must be in [0, 1) (a fraction of the training floor), got "
                             f"{self.contact_limit}")
        if self.max_uncertainty is not None:
            if not (math.isfinite(self.max_uncertainty) and self.max_uncertainty > 0):
                raise ValueError(f"--max-uncertainty must be a positive force in eV/Å, got {self.max_uncertainty}")
            self.uncertainty = True
        if self.on_uncertainty not in ("stop", "flag"):
            raise ValueError(f"--on-uncertainty must be 'stop' or 'flag', got {self.on_uncertainty!r}")
        for name in ("traj_every", "thermo_every", "checkpoint_every"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
