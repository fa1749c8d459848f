"""Learned molecular dynamics: the core's integrators (simulation) and runs with files on disk (run)."""
from .simulation import ENSEMBLES, Simulation, SimulationError, default_ensemble, maxwell_boltzmann

__all__ = ["Simulation", "SimulationError", "maxwell_boltzmann", "ENSEMBLES", "default_ensemble"]
