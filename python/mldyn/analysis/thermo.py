"""Kinetic energy and temperature of a trajectory (eV, K; 3n − 3 degrees of freedom).
"""
from __future__ import annotations

import numpy as np

from ..dataset import Dataset
from ..units import KB_EV_PER_K, KINETIC_EV_PER_AMU_A2_FS2

__all__ = ["degrees_of_freedom", "kinetic_energy", "temperature", "species_temperatures", "species_temperatures_of", "group_temperature"]


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


def species_temperatures(dataset: Dataset) -> dict:
    """Kinetic temperature of each species per frame, {name: (F,) K}, from velocities.

    Species g has (3n − 3) n_g / n degrees of freedom (its share of the total, as the per-species
    thermostat of :class:`mldyn.Simulation` counts them), so the n_g-weighted mean over species is
    :func:`temperature`. In equilibrium every species has the same temperature; a run that is not
    (the bundled CP2K run: its oxygens warm from ~560 to ~850 K) or agent forces, which are not
    reciprocal and move kinetic energy between species, make them differ. ValueError without velocities.
    """
    if dataset.velocities_fnc is None:
        raise ValueError("species temperatures need velocities")
    return species_temperatures_of(dataset.velocities_fnc, dataset.masses_n, dataset.species_n, dataset.species_names)


def species_temperatures_of(velocities_fnc, masses_n, species_n, species_names) -> dict:
    """:func:`species_temperatures` from arrays: velocities (F, n, 3) Å/fs, masses (n,) amu, species
    indices (n,) into ``species_names``. Species without atoms are left out."""
    species_n = np.asarray(species_n)
    return {name: group_temperature(velocities_fnc, masses_n, species_n == g)
            for g, name in enumerate(species_names) if np.any(species_n == g)}


def group_temperature(velocities_fnc, masses_n, mask_n) -> np.ndarray:
    """Kinetic temperature per frame (F,) K of the atoms in ``mask_n`` (n,) bool: 2 E_kin / (N_f k_B)
    with N_f = (3n − 3) x (atoms in the group) / n, the group's share of the degrees of freedom."""
    v = np.asarray(velocities_fnc, dtype=float)[:, mask_n]
    m = np.asarray(masses_n, dtype=float)[mask_n]
    n = np.asarray(mask_n).size
    ke_f = 0.5 * KINETIC_EV_PER_AMU_A2_FS2 * np.einsum("n,fnc,fnc->f", m, v, v)
    ndof = max(3 * n - 3, 1) * np.count_nonzero(mask_n) / n
    return 2.0 * ke_f / (ndof * KB_EV_PER_K)
