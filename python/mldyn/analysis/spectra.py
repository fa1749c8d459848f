"""Spectra of time series: power spectral densities on a wavenumber axis (cm⁻¹), their peaks,
the O–H stretch spectrum and the peak in sliding windows (the paper's Fig. 6).

Wavenumber = frequency / speed of light (:data:`mldyn.units.SPEED_OF_LIGHT_CM_PER_FS`); times in fs.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Union

import numpy as np

from ..dataset import Dataset
from ..units import SPEED_OF_LIGHT_CM_PER_FS
from .frames import uniform_dt
from .water import WaterGeometry, as_geometry

__all__ = ["OH_STRETCH_BAND_CM1", "OH_STRETCH_TOP_CM1", "OH_SEGMENT_FS", "OH_PEAK_SMOOTH_CM1", "smoothed", "Spectrum", "power_spectrum", "spectrum_peak", "oh_stretch_spectrum",
           "default_peak_window", "peak_vs_time"]


#: Wavenumber band (cm⁻¹) searched for the O–H stretch peak.
OH_STRETCH_BAND_CM1 = (2000.0, 4500.0)

#: Highest wavenumber (cm⁻¹) of the O–H stretch band of water (free O–H ~3700 cm⁻¹): frames must resolve
#: up to here (Nyquist), else the band folds back to lower wavenumbers and its "peak" is an alias.
OH_STRETCH_TOP_CM1 = 4000.0

#: Segment length (fs) of the averaged O–H stretch spectrum of a long run (Welch's method): long
#: enough to resolve ~33 cm⁻¹, short enough that a 10 ps run averages ~20 segments, so the peak of a
#: broad band is a property of the run rather than of its noise.
OH_SEGMENT_FS = 1000.0

#: Smoothing (cm⁻¹, Gaussian standard deviation) before locating the O–H stretch peak: about the
#: resolution of a 320 fs reference run; the band is ~1000 cm⁻¹ wide and flat-topped in hot water,
#: so an unsmoothed maximum moves by ±70 cm⁻¹ between stretches of the same CP2K run.
OH_PEAK_SMOOTH_CM1 = 100.0


class Spectrum(NamedTuple):
    """A one-sided spectrum on a wavenumber axis.

    wavenumber_k : (K,) cm⁻¹, from 0 to the Nyquist wavenumber.
    power_k : (K,) spectral density; its unit is given by the function that made it.
    resolution_cm1 : the spectral resolution 1/(N dt c) of the signal (cm⁻¹), before zero padding.
    """

    wavenumber_k: np.ndarray
    power_k: np.ndarray
    resolution_cm1: float


def _window(name: str, n: int) -> np.ndarray:
    if name in (None, "none", "boxcar", "rectangular"):
        return np.ones(n)
    if name == "hann":
        return np.hanning(n) if n > 2 else np.ones(n)
    if name == "blackman":
        return np.blackman(n) if n > 2 else np.ones(n)
    raise ValueError(f"unknown window {name!r} (expected 'hann', 'blackman' or 'none')")


def power_spectrum(signal_fk, dt_fs: float, window: str = "hann", pad: int = 8,
                   segment_fs: float | None = None) -> Spectrum:
    """Mean one-sided power spectral density of k signals sampled every ``dt_fs``.

    signal_fk : (F,) or (F, k) samples (any unit X) at a uniform time step ``dt_fs`` (fs).
    Each signal has its mean removed, is multiplied by ``window`` (``"hann"`` default,
    ``"blackman"`` or ``"none"``) and zero-padded to ``pad`` x F points (a smoother curve; the
    resolution stays 1/(F dt)). Returns a :class:`Spectrum` with the wavenumber in cm⁻¹ and
    the density averaged over the k signals in X²·cm (X² per cm⁻¹), normalised so that its
    integral over wavenumber is the signals' mean variance (Parseval, window power corrected).
    With ``segment_fs`` (fs) a run longer than two segments is cut into segments of that length
    overlapping by half, whose spectra are averaged (Welch's method: resolution 1/segment).
    """
    x = np.asarray(signal_fk, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    F = x.shape[0]
    if F < 2:
        raise ValueError("power_spectrum: needs at least two samples")
    if not dt_fs > 0:
        raise ValueError(f"power_spectrum: dt must be > 0 fs, got {dt_fs}")
    n_seg = F if segment_fs is None else max(2, int(round(segment_fs / dt_fs)))
    if 2 * n_seg <= F:
        starts = range(0, F - n_seg + 1, max(1, n_seg // 2))
        parts = [power_spectrum(x[s:s + n_seg], dt_fs, window, pad) for s in starts]
        return Spectrum(parts[0].wavenumber_k, np.mean([p.power_k for p in parts], axis=0), parts[0].resolution_cm1)
    w = _window(window, F)
    y = (x - x.mean(axis=0)) * w[:, None]
    nfft = int(max(1, pad)) * F
    X = np.fft.rfft(y, n=nfft, axis=0)
    psd_f = (np.abs(X) ** 2).mean(axis=1) * dt_fs / np.sum(w ** 2)       # two-sided, X² fs
    psd_f[1:] *= 2.0
    if nfft % 2 == 0:
        psd_f[-1] /= 2.0                                                   # the Nyquist bin is not doubled
    freq = np.fft.rfftfreq(nfft, d=dt_fs)                                  # 1/fs
    return Spectrum(freq / SPEED_OF_LIGHT_CM_PER_FS, psd_f * SPEED_OF_LIGHT_CM_PER_FS,
                    1.0 / (F * dt_fs * SPEED_OF_LIGHT_CM_PER_FS))


def smoothed(spectrum: Spectrum, sigma_cm1: float) -> Spectrum:
    """``spectrum`` convolved with a Gaussian of standard deviation ``sigma_cm1`` (cm⁻¹) on its
    (uniform) wavenumber grid: the same band at a coarser, common resolution."""
    k, p = np.asarray(spectrum.wavenumber_k), np.asarray(spectrum.power_k)
    dk = float(k[1] - k[0]) if k.size > 1 else 1.0
    half = int(np.ceil(4 * sigma_cm1 / dk))
    if half < 1:
        return spectrum
    x = np.arange(-half, half + 1) * dk
    kernel = np.exp(-0.5 * (x / sigma_cm1) ** 2)
    kernel /= kernel.sum()
    return Spectrum(k, np.convolve(p, kernel, mode="same"), max(spectrum.resolution_cm1, sigma_cm1))


def spectrum_peak(spectrum: Spectrum, band=OH_STRETCH_BAND_CM1, smooth_cm1: float | None = None) -> float:
    """Wavenumber (cm⁻¹) of the highest point of ``spectrum`` inside ``band`` = (low, high) cm⁻¹.

    With ``smooth_cm1`` the spectrum is first smoothed by a Gaussian of that standard deviation
    (:func:`smoothed`), so that a broad, flat-topped band (the O–H stretch of hot water) gives the
    same peak for runs of different lengths and noise. The maximum on the (zero-padded) grid is
    refined by a parabola through it and its two neighbours. The band is clipped to the spectrum's
    range; NaN when no point lies in it, the spectrum is zero there, or the highest point is the
    band's first or last point (the spectrum rises beyond the band: no peak inside it, and its
    edge is not one).
    """
    if smooth_cm1:
        spectrum = smoothed(spectrum, smooth_cm1)
    k, p = np.asarray(spectrum.wavenumber_k), np.asarray(spectrum.power_k)
    inside = np.flatnonzero((k >= band[0]) & (k <= band[1]))
    if inside.size == 0 or not np.any(p[inside] > 0):
        return math.nan
    i = int(inside[np.argmax(p[inside])])
    if inside.size > 2 and i in (inside[0], inside[-1]):
        return math.nan
    if 0 < i < k.size - 1 and inside[0] < i < inside[-1]:
        a, b, c = p[i - 1], p[i], p[i + 1]
        den = a - 2 * b + c
        if den < 0:
            shift = 0.5 * (a - c) / den
            return float(k[i] + shift * (k[i + 1] - k[i]))
    return float(k[i])


def oh_stretch_spectrum(data: Union[Dataset, WaterGeometry], window: str = "hann", pad: int = 8,
                        segment_fs: float | None = OH_SEGMENT_FS) -> Spectrum:
    """Power spectrum of the O–H bond oscillations (the paper's Fig. 6).

    The mean over hydrogens of the power spectral density of each hydrogen's mean-removed
    bond-length signal (:func:`oh_bond_lengths`), Å²·cm (Å² per cm⁻¹), wavenumber in cm⁻¹;
    see :func:`power_spectrum` (runs longer than two ``segment_fs`` are averaged over segments).
    Needs evenly spaced frames. The stretch peak: ``spectrum_peak(oh_stretch_spectrum(d))``.
    """
    g = as_geometry(data)
    return power_spectrum(g.bond_fh, uniform_dt(g.times_f), window=window, pad=pad, segment_fs=segment_fs)


def default_peak_window(times_f) -> float:
    """Default sliding window of :func:`peak_vs_time` for frames at ``times_f`` (F,) fs: a third of the run, at most
    200 fs (fs). ValueError for unevenly spaced frames."""
    t = np.asarray(times_f, dtype=float)
    dt = uniform_dt(t)
    return float(min(200.0, (t[-1] - t[0] + dt) / 3.0))


def peak_vs_time(signal_fk, times_f, window_fs: float | None = None, step_fs: float | None = None,
                 band=OH_STRETCH_BAND_CM1, window: str = "hann", pad: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Dynamics of the spectrum's peak: the peak wavenumber in sliding time windows.

    signal_fk : (F,) or (F, k) signals (e.g. O–H bond lengths, Å) at evenly spaced ``times_f`` (fs).
    window_fs : window length, fs (default: a third of the run, at most 200 fs, at least 10 frames).
    step_fs : shift between windows, fs (default window/10).
    Returns ``(t_center_w, peak_w)``: window centre times (fs) and the peak (cm⁻¹, NaN if none in
    ``band``) of :func:`power_spectrum` of each window, found by :func:`spectrum_peak`.
    A window of T fs resolves about 1/(T c) cm⁻¹ (333 cm⁻¹ for 100 fs); the peak is interpolated
    on a zero-padded grid, so its trend is meaningful but each value carries that uncertainty.
    """
    x = np.asarray(signal_fk, dtype=float)
    t = np.asarray(times_f, dtype=float)
    dt = uniform_dt(t)
    F = x.shape[0]
    if window_fs is None:
        window_fs = default_peak_window(t)
    n_win = int(min(F, max(10, round(window_fs / dt))))
    n_step = max(1, int(round((step_fs if step_fs is not None else window_fs / 10.0) / dt)))
    starts = np.arange(0, F - n_win + 1, n_step)
    centres, peaks = [], []
    for s in starts:
        sp = power_spectrum(x[s:s + n_win], dt, window=window, pad=pad)
        centres.append(0.5 * (t[s] + t[s + n_win - 1]))
        peaks.append(spectrum_peak(sp, band))
    return np.array(centres), np.array(peaks)
