"""Velocity dynamics: the velocity autocorrelation function (VACF) and the vibrational density
of states (VDOS), with velocities from the data or from finite differences of unwrapped positions.
"""
from __future__ import annotations

import math

import numpy as np

from ..dataset import Dataset
from .frames import minimum_image, require_atoms, uniform_dt
from .spectra import Spectrum, power_spectrum

__all__ = ["velocity_autocorrelation", "vibrational_dos"]


def _unwrapped_positions(dataset: Dataset) -> np.ndarray:
    """(F, n, 3) positions with periodic jumps removed (minimum-image frame-to-frame steps), Å."""
    pos = dataset.positions_fnc
    if dataset.cells_f33 is None or dataset.n_frames < 2:
        return pos.copy()
    steps = minimum_image(np.diff(pos, axis=0), dataset.cells_f33[1:])
    return np.concatenate([pos[:1], pos[:1] + np.cumsum(steps, axis=0)], axis=0)


def _velocities(dataset: Dataset) -> np.ndarray:
    """(F, n, 3) velocities, Å/fs: the dataset's, else central finite differences of unwrapped positions."""
    if dataset.velocities_fnc is not None:
        return dataset.velocities_fnc
    if dataset.n_frames < 3:
        raise ValueError("the trajectory has no velocities and too few frames to differentiate positions")
    uniform_dt(dataset.times_f)
    return np.gradient(_unwrapped_positions(dataset), dataset.times_f, axis=0)


def _weighted_velocities(dataset: Dataset, mass_weighted: bool, element: str | None) -> np.ndarray:
    v = _velocities(dataset)
    idx = np.arange(dataset.n_atoms) if element is None else require_atoms(dataset, element)
    v = v[:, idx]
    if mass_weighted:
        v = v * np.sqrt(dataset.masses_n[idx])[None, :, None]
    return v


def velocity_autocorrelation(dataset: Dataset, max_lag_fs: float | None = None, mass_weighted: bool = True,
                             element: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Normalised velocity autocorrelation function C(τ) = <v(t)·v(t+τ)> / <v(t)·v(t)>.

    Averaged over all time origins (unbiased: the sum at lag τ is divided by F − τ) and over the
    atoms (all, or only ``element``). ``mass_weighted=True`` (default) weights each atom by its
    mass, i.e. C is the kinetic-energy autocorrelation Σ m v(t)·v(t+τ); False weights all atoms
    equally. Velocities are the dataset's, or finite differences of the positions if absent.
    Returns ``(lag_fs, c)``: lags 0, dt, ... up to ``max_lag_fs`` (default half the run), fs,
    and C (dimensionless, C(0) = 1). Computed with FFTs (zero-padded, no wrap-around).
    """
    dt = uniform_dt(dataset.times_f)
    v = _weighted_velocities(dataset, mass_weighted, element)
    F = v.shape[0]
    nfft = 1 << int(math.ceil(math.log2(2 * F)))
    V = np.fft.rfft(v.reshape(F, -1), n=nfft, axis=0)
    acf = np.fft.irfft((np.abs(V) ** 2).sum(axis=1), n=nfft)[:F] / (F - np.arange(F))
    n_lag = F // 2 if max_lag_fs is None else min(F, int(math.floor(max_lag_fs / dt + 1e-9)) + 1)
    n_lag = max(n_lag, 1)
    if not acf[0] > 0:
        raise ValueError("velocity_autocorrelation: all velocities are zero")
    return np.arange(n_lag) * dt, acf[:n_lag] / acf[0]


def vibrational_dos(dataset: Dataset, mass_weighted: bool = True, element: str | None = None,
                    window: str = "hann", pad: int = 4) -> Spectrum:
    """Vibrational density of states: the power spectrum of the velocities (the Fourier transform of the VACF).

    Sum over atoms (all, or ``element``) and Cartesian components of the windowed, zero-padded
    velocity power spectral density (:func:`power_spectrum`), mass-weighted by default (each atom
    contributes ∝ m |v̂(ν)|², so the spectrum distributes the kinetic energy over wavenumber), then
    normalised to unit area: ``power_k`` is in 1/cm⁻¹ (= cm) and integrates to 1 over wavenumber
    (cm⁻¹). Velocities as in :func:`velocity_autocorrelation`. The velocity mean is not removed
    per atom beyond what :func:`power_spectrum` does (it removes it; the zero-frequency bin carries
    only diffusion within the finite run).
    """
    dt = uniform_dt(dataset.times_f)
    v = _weighted_velocities(dataset, mass_weighted, element)
    F = v.shape[0]
    sp = power_spectrum(v.reshape(F, -1), dt, window=window, pad=pad)
    dk = sp.wavenumber_k[1] - sp.wavenumber_k[0] if sp.wavenumber_k.size > 1 else 1.0
    total = float(np.sum(sp.power_k) * dk)
    if not total > 0:
        raise ValueError("vibrational_dos: all velocities are constant")
    return Spectrum(sp.wavenumber_k, sp.power_k / total, sp.resolution_cm1)
