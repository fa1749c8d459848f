"""Kinetic energy and temperature of a trajectory (eV, K; 3n − 3 degrees of freedom).
"""
from __future__ import annotations

import numpy as np

from ..dataset import Dataset
from ..units import KB_EV_PER_K, KINETIC_EV_PER_AMU_A2_FS2

__all__ = ["degrees_of_freedom", "kinetic_energy", "temperature"]


def degrees_of_freedom(dataset: Dataset) -> int:
    """Degrees of freedom used for temperatures: 3n − 3 (the centre-of-mass momentum removed), at least 1."""
    return max(3 * dataset.n_atoms - 3, 1)


def kinetic_energy(dataset: Dataset) -> np.ndarray:
    """Kinetic energy per frame, (F,) eV: ½ Σ m v² from velocities (amu, Å/fs).

    Without velocities, falls back to the dataset's ``kinetic_energy_f`` and then to
    ``temperature_f`` (E = ½ (3n − 3) k_B T). ValueError when none of them is present.
    """
    if dataset.velocities_fnc is not None:
        v = dataset.velocities_fnc
        return 0.5 * KINETIC_EV_PER_AMU_A2_FS2 * np.einsum("n,fnc,fnc->f", dataset.masses_n, v, v)
    if dataset.kinetic_energy_f is not None:
        return dataset.kinetic_energy_f.copy()
    if dataset.temperature_f is not None:
        return 0.5 * degrees_of_freedom(dataset) * KB_EV_PER_K * dataset.temperature_f
    raise ValueError("the trajectory has no velocities, kinetic energies or temperatures")


def temperature(dataset: Dataset) -> np.ndarray:
    """Instantaneous temperature per frame, (F,) K: T = 2 E_kin / ((3n − 3) k_B), E_kin from velocities.

    Without velocities, falls back to the dataset's ``temperature_f`` and then to its
    ``kinetic_energy_f``. ValueError when none of them is present. (CP2K's .ener file uses
    the same 3n − 3 degrees of freedom for an unconstrained periodic system.)
    """
    if dataset.velocities_fnc is None and dataset.temperature_f is not None:
        return dataset.temperature_f.copy()
    return 2.0 * kinetic_energy(dataset) / (degrees_of_freedom(dataset) * KB_EV_PER_K)
