"""Settings of a learned MD run (stored as run.json), validated where they enter."""
from __future__ import annotations

from dataclasses import dataclass

from .simulation import ENSEMBLES, default_ensemble

__all__ = ["RunConfig", "RunFailed", "RUN_FILE_VERSION", "THERMOSTATS"]

THERMOSTATS = ("per-species", "global")

RUN_FILE_VERSION = 2  # 2: config has 'thermostat' (version-1 files restart with one thermostat)


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
    threads: int = 0
    traj_every: int = 1
    thermo_every: int = 10
    checkpoint_every: int = 1000
    max_displacement: float = 1.0
    contact_limit: float = 0.75  # stop when a pair comes closer than this x its closest training distance
    neighbours: str = "auto"
    cell: list | None = None
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
        if not 0 <= self.seed < 2 ** 64:
            raise ValueError(f"--seed must be an integer in [0, 2^64), got {self.seed}")
        if self.threads < 0:
            raise ValueError(f"--threads must be >= 0 (0: all cores), got {self.threads}")
        if not (0.0 <= self.contact_limit < 1.0):
            raise ValueError(f"--contact-limit must be in [0, 1) (a fraction of the training floor), got "
                             f"{self.contact_limit}")
        for name in ("traj_every", "thermo_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
