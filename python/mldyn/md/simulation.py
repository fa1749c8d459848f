"""Molecular dynamics driven by an agent-loss model (the loop runs in C++)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import _core
from ..cell import make_cell
from ..invariants import NEIGHBOUR_METHODS, as_positions
from ..model import AgentLossModel
from ..uncertainty import require_covariance

__all__ = ["Simulation", "SimulationError", "maxwell_boltzmann", "ENSEMBLES", "default_ensemble"]


class SimulationError(RuntimeError):
    """A step failed (NaN/inf, an atom moved too far, atoms met); the simulation stays at the
    last good step. ``frames`` and ``thermo`` hold what was recorded before the failure."""

    def __init__(self, message: str, frames: dict | None = None, thermo: dict | None = None):
        super().__init__(message)
        self.frames = frames or {}
        self.thermo = thermo or {}


def maxwell_boltzmann(masses_n, temperature: float, seed: int = 0, rescale: bool = True) -> np.ndarray:
    """Velocities (n, 3) in Å/fs drawn at ``temperature`` (K) for masses (n,) in amu.

    Reproducible for a given ``seed`` on every platform. Centre-of-mass motion is
    removed; with ``rescale`` the temperature (3n - 3 degrees of freedom) is exactly ``temperature``.
    """
    return _core.maxwell_boltzmann(np.asarray(masses_n, dtype=float), float(temperature), int(seed), bool(rescale))


ENSEMBLES = ("nve", "nvt", "learn")


def default_ensemble(temperature: float | None, tau: float | None) -> str:
    """The ensemble when none is named (the one place this rule lives): "learn" if a memory
    time ``tau`` is given, else "nvt" if a ``temperature`` is given, else "nve"."""
    return "learn" if tau is not None else "nvt" if temperature is not None else "nve"


class Simulation:
    """MD with an agent-loss model; the step loop runs in C++.

    Ensembles
    ---------
    * ``"nve"``: velocity Verlet.
    * ``"nvt"``: Nosé–Hoover chain (``temperature`` K, damping ``tdamp`` fs, ``chain`` length); with
      ``per_species_thermostat`` one chain per species, each holding its species' kinetic
      temperature (agent forces move energy between species; one chain holds only the total).
    * ``"learn"``: the paper's learning dynamics, eq. (3.4), tau q'' = -q' + (tau/M) F with
      memory time ``tau`` (fs); Newtonian (NVE) in the limit tau -> infinity.
    The default is :func:`default_ensemble` ("learn" with ``tau``, else "nvt" with ``temperature``, else "nve").

    Parameters
    ----------
    model : :class:`AgentLossModel`.
    positions_nc : (n, 3) Å.  species_n : (n,) ids or names.  cell : see :func:`make_cell`.
    velocities_nc : (n, 3) Å/fs; default Maxwell–Boltzmann at ``temperature`` (zero if none).
    dt : time step, fs (default 0.5, as the paper and CP2K run).
    force_cap : |F| cap per atom in eV/Å (None: no clipping; the paper clips).
    max_displacement : refuse a step in which an atom moves farther than this (Å; None: no check).
    seed : seed for the initial velocities.  neighbours : ``auto``, ``all_pairs`` or ``cell_list``.
    masses_n : per-atom masses (n,) in amu (default: the model's species masses).

    Energies are in eV, temperatures in K, times in fs.
    """

    def __init__(self, model: AgentLossModel, positions_nc, species_n, cell=None, velocities_nc=None,
                 dt: float = 0.5, temperature: float | None = None, tdamp: float = 50.0, chain: int = 3,
                 force_cap: float | None = None, seed: int = 0, neighbours: str = "auto", masses_n=None,
                 ensemble: str | None = None, tau: float | None = None, max_displacement: float | None = None,
                 per_species_thermostat: bool = False):
        if neighbours not in NEIGHBOUR_METHODS:
            raise ValueError(f"neighbours must be one of {NEIGHBOUR_METHODS}, got {neighbours!r}")
        if ensemble is None:
            ensemble = default_ensemble(temperature, tau)
        if ensemble not in ENSEMBLES:
            raise ValueError(f"ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
        if ensemble == "nvt" and temperature is None:
            raise ValueError("ensemble 'nvt' needs a target temperature (K)")
        if ensemble == "learn" and tau is None:
            raise ValueError("ensemble 'learn' needs a memory time tau (fs)")
        if per_species_thermostat and ensemble != "nvt":
            raise ValueError(f"per_species_thermostat is for the 'nvt' ensemble, not {ensemble!r}")
        if ensemble != "learn" and tau is not None:
            raise ValueError(f"tau is the memory time of the 'learn' ensemble; it means nothing for {ensemble!r}")
        self.ensemble = ensemble
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
        if ensemble == "nvt":
            self._sim.set_nose_hoover(_core.NoseHooverParams(float(temperature), float(tdamp), int(chain),
                                                             bool(per_species_thermostat)))
        elif ensemble == "learn":
            self._sim.set_learning(float(tau))
        if force_cap is not None:
            if not force_cap > 0:
                raise ValueError(f"force_cap must be positive (eV/Å), got {force_cap}")
            self._sim.set_force_cap(float(force_cap))
        if max_displacement is not None:
            if not max_displacement > 0:
                raise ValueError(f"max_displacement must be positive (Å), got {max_displacement}")
            self._sim.set_max_displacement(float(max_displacement))

    def track_uncertainty(self, enabled: bool = True) -> None:
        """Record the largest per-agent force uncertainty (eV/Å, see :mod:`mldyn.uncertainty`) at every
        thermo row of :meth:`run_recording` (keys ``uncertainty`` and ``uncertain_atom``). It is computed
        with the forces of the step that reaches the row, for less than a separate evaluation costs;
        those steps' forces then equal the plain ones to rounding, not bit for bit."""
        self._sim.set_force_covariance(require_covariance(self.model) if enabled else None)

    def run(self, n_steps: int, callback: Callable[["Simulation"], object] | None = None, every: int = 0) -> None:
        """Advance ``n_steps`` steps. If ``callback`` is given it is called with this
        simulation every ``every`` steps (and after the last step); the steps in
        between run in C++ without the GIL. Raises RuntimeError if the state blows up
        (NaN/inf), leaving the simulation at the last good step."""
        n_steps = int(n_steps)
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}")
        if callback is None or every <= 0:
            self.run_recording(n_steps)
            if callback is not None:
                callback(self)
            return
        done = 0
        while done < n_steps:
            chunk = min(int(every), n_steps - done)
            self.run_recording(chunk)
            done += chunk
            callback(self)

    def run_recording(self, n_steps: int, frame_every: int = 0, thermo_every: int = 0):
        """Advance ``n_steps`` steps in C++ and return ``(frames, thermo)``: dicts of arrays recorded
        after every step that is a multiple of ``frame_every`` (keys step, time (fs), positions,
        velocities, forces (F, n, 3; Å, Å/fs, eV/Å), half_loss, kinetic, thermostat (eV),
        temperature (K)) and of ``thermo_every`` (step, time, kinetic, temperature, half_loss,
        mean_loss, conserved (eV; NaN if none), clipped, closest (Å), and with :meth:`track_uncertainty`
        uncertainty (eV/Å) and uncertain_atom). 0 records nothing.
        Raises :class:`SimulationError` (carrying what was recorded) if a step fails."""
        frames, thermo, error = self._sim.run(int(n_steps), int(frame_every), int(thermo_every))
        if error is not None:
            raise SimulationError(error, frames, thermo)
        return frames, thermo

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
    mean_loss = property(lambda self: float(np.mean(self._sim.losses)), doc="Mean agent loss <H_k>, eV.")
    core = property(lambda self: self._sim, doc="The underlying core simulation.")
