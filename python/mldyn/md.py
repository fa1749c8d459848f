"""Molecular dynamics driven by an agent-loss model (the loop runs in C++)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import _core
from .cell import make_cell
from .invariants import NEIGHBOUR_METHODS, as_positions
from .model import AgentLossModel

__all__ = ["Simulation", "maxwell_boltzmann"]


def maxwell_boltzmann(masses_n, temperature: float, seed: int = 0, rescale: bool = True) -> np.ndarray:
    """Velocities (n, 3) in Å/fs drawn at ``temperature`` (K) for masses (n,) in amu.

    Reproducible for a given ``seed`` on every platform. Centre-of-mass motion is
    removed; with ``rescale`` the temperature (3n - 3 degrees of freedom) is exactly ``temperature``.
    """
    return _core.maxwell_boltzmann(np.asarray(masses_n, dtype=float), float(temperature), int(seed), bool(rescale))


class Simulation:
    """Velocity-Verlet MD (NVE) or Nosé–Hoover chain MD (NVT) with an agent-loss model.

    Parameters
    ----------
    model : :class:`AgentLossModel`.
    positions_nc : (n, 3) Å.  species_n : (n,) ids or names.  cell : see :func:`make_cell`.
    velocities_nc : (n, 3) Å/fs; default Maxwell–Boltzmann at ``temperature`` (or zero if none).
    dt : time step, fs (default 0.5, as the paper and CP2K run).
    temperature : NVT target (K); None for NVE.  tdamp : thermostat damping time, fs.
    chain : Nosé–Hoover chain length.  force_cap : |F| cap per atom in eV/Å (None: no clipping).
    seed : seed for the initial velocities.  neighbours : ``auto``, ``all_pairs`` or ``cell_list``.
    masses_n : per-atom masses (n,) in amu (default: the model's species masses).

    Energies are in eV, temperatures in K, times in fs.
    """

    def __init__(self, model: AgentLossModel, positions_nc, species_n, cell=None, velocities_nc=None,
                 dt: float = 0.5, temperature: float | None = None, tdamp: float = 50.0, chain: int = 3,
                 force_cap: float | None = None, seed: int = 0, neighbours: str = "auto", masses_n=None):
        if neighbours not in NEIGHBOUR_METHODS:
            raise ValueError(f"neighbours must be one of {NEIGHBOUR_METHODS}, got {neighbours!r}")
        self.model = model
        pos = as_positions(positions_nc)
        n = len(pos)
        self.species_n = model.species_ids(species_n, n)
        masses = model.masses[self.species_n] if masses_n is None else np.asarray(masses_n, dtype=float)
        if velocities_nc is None:
            velocities_nc = (maxwell_boltzmann(masses, temperature, seed) if temperature else np.zeros((n, 3)))
        vel = as_positions(velocities_nc, "velocities")
        self.cell = make_cell(cell)
        self._sim = _core.Simulation(model.core_for(self.cell), self.cell, self.species_n, masses, pos, vel,
                                     float(dt), neighbours)
        if temperature is not None:
            self._sim.set_nose_hoover(_core.NoseHooverParams(float(temperature), float(tdamp), int(chain)))
        if force_cap is not None:
            if not force_cap > 0:
                raise ValueError(f"force_cap must be positive (eV/Å), got {force_cap}")
            self._sim.set_force_cap(float(force_cap))

    def run(self, n_steps: int, callback: Callable[["Simulation"], object] | None = None, every: int = 0) -> None:
        """Advance ``n_steps`` steps. If ``callback`` is given it is called with this
        simulation every ``every`` steps (and after the last step); the steps in
        between run in C++ without the GIL. Raises RuntimeError if the state blows up
        (NaN/inf), leaving the simulation at the last good step."""
        n_steps = int(n_steps)
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}")
        if callback is None or every <= 0:
            self._sim.run(n_steps)
            if callback is not None:
                callback(self)
            return
        done = 0
        while done < n_steps:
            chunk = min(int(every), n_steps - done)
            self._sim.run(chunk)
            done += chunk
            callback(self)

    # State (read-only copies) -------------------------------------------------
    n_atoms = property(lambda self: self._sim.n_atoms, doc="Number of atoms.")
    step = property(lambda self: self._sim.step, doc="Steps taken.")
    time = property(lambda self: self._sim.time, doc="Simulated time, fs.")
    dt = property(lambda self: self._sim.dt, doc="Time step, fs.")
    positions = property(lambda self: self._sim.positions, doc="(n, 3) Å (not wrapped into the cell).")
    velocities = property(lambda self: self._sim.velocities, doc="(n, 3) Å/fs.")
    forces = property(lambda self: self._sim.forces, doc="(n, 3) eV/Å, after clipping.")
    losses = property(lambda self: self._sim.losses, doc="(n,) agent losses H_k, eV.")
    masses = property(lambda self: self._sim.masses, doc="(n,) amu.")
    kinetic_energy = property(lambda self: self._sim.kinetic_energy, doc="eV.")
    temperature = property(lambda self: self._sim.temperature, doc="Instantaneous temperature, K (3n-3 dof).")
    potential_energy = property(lambda self: self._sim.potential_energy,
                                doc="1/2 sum H_k in eV for a conservative model, NaN otherwise.")
    conserved_energy = property(lambda self: self._sim.conserved_energy,
                                doc="Kinetic + potential (+ thermostat) energy in eV; NaN if the model is not conservative.")
    thermostat_energy = property(lambda self: self._sim.thermostat_energy, doc="Nosé–Hoover chain energy, eV.")
    clipped_count = property(lambda self: self._sim.clipped_count, doc="Number of clipped forces so far.")
    core = property(lambda self: self._sim, doc="The underlying core simulation.")
