"""Trajectory analysis of water runs: the observables of the paper's section 5.3.

Everything works on a :class:`mldyn.dataset.Dataset` (a CP2K run, a learned run written by
``mldyn run``, or any saved dataset) and is vectorised over frames (large systems are
processed in chunks of frames to bound memory). Units are mldyn's: Å, fs, amu, eV, K;
angles in degrees; spectra on a wavenumber axis in cm⁻¹ (frequency / speed of light,
:data:`mldyn.units.SPEED_OF_LIGHT_CM_PER_FS`).

Periodic boundaries: every distance is a minimum-image distance in the frame's own cell
(positions need not be wrapped; CP2K does not wrap them). For non-orthorhombic cells the
27 neighbouring images are searched explicitly, so the result is exact for any cell.

Water conventions:

* a hydrogen belongs, in every frame, to its nearest oxygen (minimum image);
  the O–H "bond" of a hydrogen is the distance to that nearest oxygen;
* an H–O–H angle is measured for each oxygen that owns exactly two hydrogens in that frame;
* oxygen and hydrogen are the species whose names are the elements ``"O"`` and ``"H"``
  (CP2K kind labels such as ``"H1"`` or ``"O_w"`` count too).

Main entry points: :func:`analyze` (all series, for plots) and :func:`summarize` (scalars).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, Union

import numpy as np

from .dataset import Dataset
from .units import KB_EV_PER_K, KINETIC_EV_PER_AMU_A2_FS2, SPEED_OF_LIGHT_CM_PER_FS

__all__ = [
    "kinetic_energy", "temperature", "degrees_of_freedom", "atoms_of", "minimum_image", "half_min_width",
    "WaterGeometry", "water_geometry", "HydrogenOwnership", "hydrogen_owners", "oh_bond_lengths", "mean_std",
    "random_hydrogens", "hoh_angles", "Spectrum", "power_spectrum", "spectrum_peak", "oh_stretch_spectrum",
    "peak_vs_time", "RDF", "rdf", "rdf_first_peak", "velocity_autocorrelation", "vibrational_dos",
    "TrajectoryAnalysis", "analyze", "summarize", "OH_STRETCH_BAND_CM1", "SUMMARY_KEYS",
]

#: Wavenumber band (cm⁻¹) searched for the O–H stretch peak.
OH_STRETCH_BAND_CM1 = (2000.0, 4500.0)

#: Number of (pair or atom) x frame elements processed at once; bounds temporary memory.
_CHUNK_ELEMENTS = 1_000_000


# ============================================================================ helpers
def _frame_chunks(n_frames: int, per_frame: int):
    """Slices of frames such that each chunk has about ``_CHUNK_ELEMENTS`` elements."""
    step = max(1, _CHUNK_ELEMENTS // max(1, per_frame))
    for a in range(0, n_frames, step):
        yield slice(a, min(n_frames, a + step))


def _uniform_dt(times_f: np.ndarray, what: str = "the trajectory") -> float:
    """Time step (fs) of evenly spaced frames; ValueError if the spacing is not uniform (0.1 % tolerance)."""
    t = np.asarray(times_f, dtype=float)
    if t.size < 2:
        raise ValueError(f"{what}: needs at least two frames for a time series spectrum")
    dt = np.diff(t)
    step = float(np.median(dt))
    if not step > 0 or np.max(np.abs(dt - step)) > 1e-3 * step:
        raise ValueError(f"{what}: frames are not evenly spaced in time (steps {dt.min():g}..{dt.max():g} fs); "
                         f"spectra need a uniform time step")
    return step


def _element(label: str) -> str | None:
    from .cp2k import element_of

    return element_of(label)


def atoms_of(dataset: Dataset, element: str) -> np.ndarray:
    """Indices (k,) of the atoms whose species is ``element`` (``"O"``; CP2K kinds like ``"O1"`` match too).

    A species name equal to ``element`` always matches; otherwise the element of the kind
    label (:func:`mldyn.cp2k.element_of`) is compared. Returns an empty array if none.
    """
    ids = [i for i, name in enumerate(dataset.species_names) if name == element or _element(name) == element]
    return np.flatnonzero(np.isin(dataset.species_n, ids))


def _require_atoms(dataset: Dataset, element: str) -> np.ndarray:
    idx = atoms_of(dataset, element)
    if idx.size == 0:
        raise ValueError(f"the trajectory has no {element} atoms (species {dataset.species_names})")
    return idx


def _is_orthorhombic(cells_f33: np.ndarray) -> bool:
    off = cells_f33 - np.einsum("fii->fi", cells_f33)[:, :, None] * np.eye(3)
    return bool(np.all(np.abs(off) <= 1e-12 * np.max(np.abs(cells_f33))))


_SHIFTS_27 = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)


def minimum_image(vectors, cells_f33) -> np.ndarray:
    """Minimum-image copies of difference vectors.

    vectors : (F, ..., 3) difference vectors in Å, one leading axis per frame.
    cells_f33 : (F, 3, 3) cells in Å (rows = cell vectors a, b, c), a single (3, 3) cell, or
        None (isolated system: vectors are returned unchanged).
    Returns an array of the shape of ``vectors`` (Å): for each vector, the shortest vector
    among its periodic images. Orthorhombic cells use fractional rounding (exact); other
    cells additionally search the 27 neighbouring images (exact for any cell shape as long
    as the vector is within one cell of its minimum image after rounding).
    """
    d = np.asarray(vectors, dtype=float)
    if cells_f33 is None:
        return d.copy()
    cells = np.asarray(cells_f33, dtype=float)
    if cells.shape == (3, 3):
        cells = np.broadcast_to(cells, (d.shape[0], 3, 3))
    F = d.shape[0]
    flat = d.reshape(F, -1, 3)
    inv = np.linalg.inv(cells)
    frac = np.einsum("fkc,fcd->fkd", flat, inv)
    frac -= np.round(frac)
    out = np.einsum("fkd,fdc->fkc", frac, cells)
    if not _is_orthorhombic(cells):
        # A vector no longer than half the smallest cell width is already minimal (every other image is at
        # least a lattice vector, >= twice that, away); search the 27 neighbouring images for the rest.
        vol = np.abs(np.linalg.det(cells))
        width = np.min([vol / np.linalg.norm(np.cross(cells[:, (i + 1) % 3], cells[:, (i + 2) % 3]), axis=1)
                        for i in range(3)], axis=0)
        f_idx, k_idx = np.nonzero(np.einsum("fkc,fkc->fk", out, out) > (0.5 * width[:, None]) ** 2)
        if f_idx.size:
            shifts = np.einsum("sd,fdc->fsc", _SHIFTS_27, cells)       # (F, 27, 3)
            cand = out[f_idx, k_idx][:, None, :] + shifts[f_idx]        # (m, 27, 3)
            best = np.argmin(np.einsum("msc,msc->ms", cand, cand), axis=1)
            out[f_idx, k_idx] = cand[np.arange(f_idx.size), best]
    return out.reshape(d.shape)


def half_min_width(dataset: Dataset) -> float:
    """Half of the smallest perpendicular cell width over all frames, Å (the largest minimum-image radius).

    ValueError for an isolated (non-periodic) dataset.
    """
    if dataset.cells_f33 is None:
        raise ValueError("the trajectory has no periodic cell")
    c = dataset.cells_f33
    vol = np.abs(np.linalg.det(c))
    widths = []
    for i in range(3):
        cross = np.cross(c[:, (i + 1) % 3], c[:, (i + 2) % 3])
        widths.append(vol / np.linalg.norm(cross, axis=1))
    return 0.5 * float(np.min(widths))


# ============================================================================ kinetic energy, temperature
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


# ============================================================================ water geometry
class WaterGeometry(NamedTuple):
    """Nearest-oxygen geometry of every hydrogen in every frame (see :func:`water_geometry`).

    oxygen_atoms : (n_O,) atom indices of the oxygens; hydrogen_atoms : (n_H,) of the hydrogens.
    owner_fh : (F, n_H) index into ``oxygen_atoms`` of each hydrogen's nearest oxygen.
    bond_fh : (F, n_H) distance to that oxygen, Å.
    bond_vec_fhc : (F, n_H, 3) minimum-image vector from that oxygen to the hydrogen, Å.
    times_f : (F,) times, fs.
    """

    oxygen_atoms: np.ndarray
    hydrogen_atoms: np.ndarray
    owner_fh: np.ndarray
    bond_fh: np.ndarray
    bond_vec_fhc: np.ndarray
    times_f: np.ndarray


def water_geometry(dataset: Dataset) -> WaterGeometry:
    """Assign each hydrogen to its nearest oxygen (minimum image) in every frame.

    Returns a :class:`WaterGeometry` with owners (F, n_H), O–H distances (F, n_H) in Å and
    O→H vectors (F, n_H, 3) in Å. ValueError if the dataset has no O or no H atoms.
    """
    o_idx = _require_atoms(dataset, "O")
    h_idx = _require_atoms(dataset, "H")
    F, nO, nH = dataset.n_frames, o_idx.size, h_idx.size
    owner = np.empty((F, nH), dtype=np.int64)
    bond = np.empty((F, nH))
    vec = np.empty((F, nH, 3))
    pos = dataset.positions_fnc
    for sl in _frame_chunks(F, nO * nH):
        d = pos[sl][:, h_idx, None, :] - pos[sl][:, None, o_idx, :]        # (f, nH, nO, 3): O -> H
        d = minimum_image(d, None if dataset.cells_f33 is None else dataset.cells_f33[sl])
        r2 = np.einsum("fhoc,fhoc->fho", d, d)
        own = np.argmin(r2, axis=2)
        owner[sl] = own
        bond[sl] = np.sqrt(np.take_along_axis(r2, own[:, :, None], axis=2)[:, :, 0])
        vec[sl] = np.take_along_axis(d, own[:, :, None, None], axis=2)[:, :, 0, :]
    return WaterGeometry(o_idx, h_idx, owner, bond, vec, dataset.times_f.copy())


def _geometry(data: Union[Dataset, WaterGeometry]) -> WaterGeometry:
    return data if isinstance(data, WaterGeometry) else water_geometry(data)


class HydrogenOwnership(NamedTuple):
    """Which oxygen owns each hydrogen over time (see :func:`hydrogen_owners`).

    owner_fh : (F, n_H) index into ``oxygen_atoms`` of each hydrogen's nearest oxygen.
    oxygen_atoms, hydrogen_atoms : atom indices (n_O,), (n_H,).
    changed_hydrogens : number of hydrogens whose owner differs from their frame-0 owner in at
        least one frame (equivalently, that changed owner at least once).
    n_changes : total number of owner changes between consecutive frames, over all hydrogens.
    """

    owner_fh: np.ndarray
    oxygen_atoms: np.ndarray
    hydrogen_atoms: np.ndarray
    changed_hydrogens: int
    n_changes: int


def hydrogen_owners(data: Union[Dataset, WaterGeometry]) -> HydrogenOwnership:
    """Owner oxygen of every hydrogen in every frame, and how often hydrogens changed oxygen.

    ``data`` is a Dataset or a :class:`WaterGeometry` already computed from one.
    A change is counted whenever a hydrogen's nearest oxygen differs between two consecutive
    frames (a hydrogen hopping back and forth counts every hop).
    """
    g = _geometry(data)
    jumps = g.owner_fh[1:] != g.owner_fh[:-1]                          # (F-1, n_H)
    return HydrogenOwnership(g.owner_fh, g.oxygen_atoms, g.hydrogen_atoms, int(np.count_nonzero(jumps.any(axis=0))),
                             int(np.count_nonzero(jumps)))


def oh_bond_lengths(data: Union[Dataset, WaterGeometry]) -> np.ndarray:
    """O–H bond lengths (F, n_H), Å: each hydrogen's minimum-image distance to its nearest oxygen."""
    return _geometry(data).bond_fh


def mean_std(values_fk) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame mean and (population) standard deviation over axis 1, ignoring NaN.

    values_fk : (F, k) values (any unit); returns ``(mean_f, std_f)``, each (F,), same unit;
    NaN for a frame without any finite value.
    """
    v = np.asarray(values_fk, dtype=float)
    ok = np.isfinite(v)
    n = ok.sum(axis=1)
    s = np.where(ok, v, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        var = np.where(ok, (v - mean[:, None]) ** 2, 0.0).sum(axis=1) / n
    return mean, np.sqrt(var)


def random_hydrogens(n_hydrogens: int, k: int = 4, seed: int = 0) -> np.ndarray:
    """``k`` distinct hydrogen indices (into the hydrogen list, sorted) drawn with ``numpy.random.default_rng(seed)``.

    The same ``n_hydrogens`` and ``seed`` always give the same choice, so a reference and a
    learned run of the same system show the same hydrogens.
    """
    k = min(int(k), int(n_hydrogens))
    return np.sort(np.random.default_rng(seed).choice(int(n_hydrogens), size=k, replace=False))


def hoh_angles(data: Union[Dataset, WaterGeometry]) -> np.ndarray:
    """H–O–H angles (F, n_O) in degrees; NaN where the oxygen does not own exactly two hydrogens.

    The angle is between the two minimum-image O→H vectors of an oxygen's two hydrogens
    (owners as in :func:`water_geometry`). Per-frame mean and std: :func:`mean_std`.
    """
    g = _geometry(data)
    F, nH = g.owner_fh.shape
    nO = g.oxygen_atoms.size
    flat = (g.owner_fh + nO * np.arange(F)[:, None]).ravel()
    counts = np.bincount(flat, minlength=F * nO).reshape(F, nO)
    order = np.argsort(g.owner_fh, axis=1, kind="stable")                # hydrogens grouped by owner
    start = np.cumsum(counts, axis=1) - counts                           # (F, nO) first slot of each oxygen
    two = counts == 2
    h1 = np.take_along_axis(order, np.minimum(start, nH - 1), axis=1)
    h2 = np.take_along_axis(order, np.minimum(start + 1, nH - 1), axis=1)
    v1 = np.take_along_axis(g.bond_vec_fhc, h1[:, :, None], axis=1)
    v2 = np.take_along_axis(g.bond_vec_fhc, h2[:, :, None], axis=1)
    cross = np.linalg.norm(np.cross(v1, v2), axis=2)
    dot = np.einsum("foc,foc->fo", v1, v2)
    ang = np.degrees(np.arctan2(cross, dot))
    return np.where(two, ang, np.nan)


# ============================================================================ spectra
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


def power_spectrum(signal_fk, dt_fs: float, window: str = "hann", pad: int = 8) -> Spectrum:
    """Mean one-sided power spectral density of k signals sampled every ``dt_fs``.

    signal_fk : (F,) or (F, k) samples (any unit X) at a uniform time step ``dt_fs`` (fs).
    Each signal has its mean removed, is multiplied by ``window`` (``"hann"`` default,
    ``"blackman"`` or ``"none"``) and zero-padded to ``pad`` x F points (a smoother curve; the
    resolution stays 1/(F dt)). Returns a :class:`Spectrum` with the wavenumber in cm⁻¹ and
    the density averaged over the k signals in X²·cm (X² per cm⁻¹), normalised so that its
    integral over wavenumber is the signals' mean variance (Parseval, window power corrected).
    """
    x = np.asarray(signal_fk, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    F = x.shape[0]
    if F < 2:
        raise ValueError("power_spectrum: needs at least two samples")
    if not dt_fs > 0:
        raise ValueError(f"power_spectrum: dt must be > 0 fs, got {dt_fs}")
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


def spectrum_peak(spectrum: Spectrum, band=OH_STRETCH_BAND_CM1) -> float:
    """Wavenumber (cm⁻¹) of the highest point of ``spectrum`` inside ``band`` = (low, high) cm⁻¹.

    The maximum on the (zero-padded) grid is refined by a parabola through it and its two
    neighbours. The band is clipped to the spectrum's range; NaN when no point lies in it or
    the spectrum is zero there.
    """
    k, p = np.asarray(spectrum.wavenumber_k), np.asarray(spectrum.power_k)
    inside = np.flatnonzero((k >= band[0]) & (k <= band[1]))
    if inside.size == 0 or not np.any(p[inside] > 0):
        return math.nan
    i = int(inside[np.argmax(p[inside])])
    if 0 < i < k.size - 1 and inside[0] < i < inside[-1]:
        a, b, c = p[i - 1], p[i], p[i + 1]
        den = a - 2 * b + c
        if den < 0:
            shift = 0.5 * (a - c) / den
            return float(k[i] + shift * (k[i + 1] - k[i]))
    return float(k[i])


def oh_stretch_spectrum(data: Union[Dataset, WaterGeometry], window: str = "hann", pad: int = 8) -> Spectrum:
    """Power spectrum of the O–H bond oscillations (the paper's Fig. 6).

    The mean over hydrogens of the power spectral density of each hydrogen's mean-removed
    bond-length signal (:func:`oh_bond_lengths`), Å²·cm (Å² per cm⁻¹), wavenumber in cm⁻¹;
    see :func:`power_spectrum`. Needs evenly spaced frames. The stretch peak:
    ``spectrum_peak(oh_stretch_spectrum(d))``.
    """
    g = _geometry(data)
    return power_spectrum(g.bond_fh, _uniform_dt(g.times_f), window=window, pad=pad)


def _default_peak_window(times_f) -> float:
    """Default sliding window of :func:`peak_vs_time`: a third of the run, at most 200 fs (fs)."""
    t = np.asarray(times_f, dtype=float)
    dt = _uniform_dt(t)
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
    dt = _uniform_dt(t)
    F = x.shape[0]
    if window_fs is None:
        window_fs = _default_peak_window(t)
    n_win = int(min(F, max(10, round(window_fs / dt))))
    n_step = max(1, int(round((step_fs if step_fs is not None else window_fs / 10.0) / dt)))
    starts = np.arange(0, F - n_win + 1, n_step)
    centres, peaks = [], []
    for s in starts:
        sp = power_spectrum(x[s:s + n_win], dt, window=window, pad=pad)
        centres.append(0.5 * (t[s] + t[s + n_win - 1]))
        peaks.append(spectrum_peak(sp, band))
    return np.array(centres), np.array(peaks)


# ============================================================================ radial distribution functions
class RDF(NamedTuple):
    """A radial distribution function g_ab(r) (see :func:`rdf`).

    r_k : (K,) bin centres, Å; g_k : (K,) g(r) (dimensionless, → 1 for an uncorrelated fluid);
    edges_k1 : (K+1,) bin edges, Å; pair : (a, b) element names; n_frames : frames averaged.
    """

    r_k: np.ndarray
    g_k: np.ndarray
    edges_k1: np.ndarray
    pair: tuple
    n_frames: int


def rdf(dataset: Dataset, a: str = "O", b: str = "O", r_max: float | None = None, dr: float = 0.02) -> RDF:
    """Radial distribution function g_ab(r) with minimum-image distances, averaged over frames.

    a, b : element names (``"O"``, ``"H"``). r_max : largest distance, Å (default and upper limit:
    half the smallest perpendicular cell width, :func:`half_min_width`); dr : bin width, Å.
    Normalisation, per frame with that frame's volume V: like pairs (a == b) count each pair
    i < j once against N_a (N_a − 1)/2 · shell/V; unlike pairs count N_a N_b · shell/V, with
    shell = 4π/3 (r₂³ − r₁³). So g → 1 for uncorrelated positions.
    ValueError for an isolated dataset or r_max beyond the minimum-image limit.
    """
    limit = half_min_width(dataset)
    if r_max is None:
        r_max = limit
    elif r_max > limit * (1 + 1e-9):
        raise ValueError(f"rdf: r_max = {r_max:g} Å exceeds half the smallest cell width ({limit:g} Å)")
    if not dr > 0 or not r_max > 0:
        raise ValueError(f"rdf: need r_max > 0 and dr > 0, got r_max={r_max}, dr={dr}")
    ia, ib = _require_atoms(dataset, a), _require_atoms(dataset, b)
    n_bins = max(1, int(round(r_max / dr)))
    width = r_max / n_bins
    edges = np.linspace(0.0, r_max, n_bins + 1)
    if a == b:
        i0, i1 = np.triu_indices(ia.size, 1)
        p0, p1 = ia[i0], ia[i1]
    else:
        p0 = np.repeat(ia, ib.size)
        p1 = np.tile(ib, ia.size)
        keep = p0 != p1
        p0, p1 = p0[keep], p1[keep]
    n_pairs = p0.size
    if n_pairs == 0:
        raise ValueError(f"rdf: no {a}-{b} pairs")
    hist = np.zeros(n_bins, dtype=np.int64)
    pos, cells = dataset.positions_fnc, dataset.cells_f33
    for sl in _frame_chunks(dataset.n_frames, n_pairs):
        d = minimum_image(pos[sl][:, p1] - pos[sl][:, p0], cells[sl])
        r = np.sqrt(np.einsum("fpc,fpc->fp", d, d)).ravel()
        idx = (r[r < r_max] / width).astype(np.int64)
        hist += np.bincount(np.minimum(idx, n_bins - 1), minlength=n_bins)
    volumes = np.abs(np.linalg.det(cells))
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    ideal = shell * n_pairs * np.sum(1.0 / volumes)
    return RDF(0.5 * (edges[1:] + edges[:-1]), hist / ideal, edges, (a, b), dataset.n_frames)


def rdf_first_peak(g: RDF, threshold: float = 1.0, top: float = 0.25, smooth_A: float = 0.2) -> tuple[float, float]:
    """Position (Å) and height of the first peak of g(r).

    The first peak is the first stretch of r where g, smoothed by a cubic Savitzky–Golay filter
    over about ``smooth_A`` Å (at least 5 bins; used only to locate the peak), exceeds
    ``threshold`` (the ideal-gas level 1). Its position and height come from a least-squares
    parabola fitted to the raw g over the top ``top`` fraction of that peak (at least 3 bins),
    which averages bin noise on broad peaks (g_OO) and follows narrow ones (the covalent O–H
    peak, whose height it underestimates by ~2 %). Returns (NaN, NaN) if g never exceeds the
    threshold. With short runs of small cells g_OO is noisy: expect ±0.05 Å and ±0.3 in height.
    """
    from scipy.signal import savgol_filter

    r, y = np.asarray(g.r_k, dtype=float), np.asarray(g.g_k, dtype=float)
    win = max(5, int(round(smooth_A / (r[1] - r[0]))) | 1) if r.size > 1 else 1
    ys = savgol_filter(y, win, 3) if r.size >= win >= 5 else y
    above = np.flatnonzero(ys > threshold)
    if above.size == 0:
        return math.nan, math.nan
    lo = above[0]
    below = np.flatnonzero(ys[lo:] <= threshold)
    hi = lo + (below[0] if below.size else ys.size - lo)
    i = lo + int(np.argmax(ys[lo:hi]))
    level = threshold + (1.0 - top) * (ys[i] - threshold)
    a = i
    while a > lo and ys[a - 1] > level:
        a -= 1
    b = i
    while b < hi - 1 and ys[b + 1] > level:
        b += 1
    a, b = max(0, min(a, i - 1)), min(r.size - 1, max(b, i + 1))
    if b - a >= 2:
        c2, c1, c0 = np.polyfit(r[a:b + 1], y[a:b + 1], 2)
        if c2 < 0:
            vertex = -c1 / (2 * c2)
            if r[a] <= vertex <= r[b]:
                return float(vertex), float(c0 - c1 * c1 / (4 * c2))
    j = a + int(np.argmax(y[a:b + 1]))
    return float(r[j]), float(y[j])


# ============================================================================ velocities: VACF and VDOS
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
    _uniform_dt(dataset.times_f)
    return np.gradient(_unwrapped_positions(dataset), dataset.times_f, axis=0)


def _weighted_velocities(dataset: Dataset, mass_weighted: bool, element: str | None) -> np.ndarray:
    v = _velocities(dataset)
    idx = np.arange(dataset.n_atoms) if element is None else _require_atoms(dataset, element)
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
    dt = _uniform_dt(dataset.times_f)
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
    dt = _uniform_dt(dataset.times_f)
    v = _weighted_velocities(dataset, mass_weighted, element)
    F = v.shape[0]
    sp = power_spectrum(v.reshape(F, -1), dt, window=window, pad=pad)
    dk = sp.wavenumber_k[1] - sp.wavenumber_k[0] if sp.wavenumber_k.size > 1 else 1.0
    total = float(np.sum(sp.power_k) * dk)
    if not total > 0:
        raise ValueError("vibrational_dos: all velocities are constant")
    return Spectrum(sp.wavenumber_k, sp.power_k / total, sp.resolution_cm1)


# ============================================================================ everything at once
#: Keys of :func:`summarize` with their units, in report order.
SUMMARY_KEYS = {
    "mean_temperature_K": "K",
    "oh_bond_mean_A": "Å",
    "oh_bond_std_A": "Å",
    "hoh_angle_mean_deg": "deg",
    "hoh_angle_std_deg": "deg",
    "oh_stretch_peak_cm1": "cm⁻¹",
    "g_OO_peak_r_A": "Å",
    "g_OO_peak_height": "",
    "g_OH_peak_r_A": "Å",
    "g_OH_peak_height": "",
    "g_HH_peak_r_A": "Å",
    "g_HH_peak_height": "",
    "hydrogens_changed_oxygen": "",
    "oxygen_changes": "",
}


@dataclass
class TrajectoryAnalysis:
    """All observables of one run (made by :func:`analyze`); arrays in mldyn units.

    times_f (fs); kinetic_f (eV) and temperature_f (K), None without velocity information;
    geometry (:class:`WaterGeometry`); ownership (:class:`HydrogenOwnership`);
    bond_mean_f, bond_std_f (Å); sample_hydrogens (indices into the hydrogen list) and
    sample_bonds_fk (F, k) Å; angles_fo (F, n_O) degrees; angle_mean_f, angle_std_f (deg);
    oh_spectrum (:class:`Spectrum`, Å²·cm) and oh_peak_cm1; peak_times_w (fs), peak_w (cm⁻¹) in sliding
    windows of peak_window_fs (fs);
    rdfs {"OO", "OH", "HH": :class:`RDF`}; vacf_lag (fs), vacf (normalised, mass-weighted);
    vdos (:class:`Spectrum`, unit area), None when the run is too short.
    """

    n_frames: int
    n_atoms: int
    times_f: np.ndarray
    kinetic_f: np.ndarray | None
    temperature_f: np.ndarray | None
    geometry: WaterGeometry
    ownership: HydrogenOwnership
    bond_mean_f: np.ndarray
    bond_std_f: np.ndarray
    sample_hydrogens: np.ndarray
    sample_bonds_fk: np.ndarray
    angles_fo: np.ndarray
    angle_mean_f: np.ndarray
    angle_std_f: np.ndarray
    oh_spectrum: Spectrum | None
    oh_peak_cm1: float
    peak_times_w: np.ndarray
    peak_w: np.ndarray
    rdfs: dict
    vacf_lag: np.ndarray | None
    vacf: np.ndarray | None
    vdos: Spectrum | None
    band: tuple = OH_STRETCH_BAND_CM1
    peak_window_fs: float = math.nan
    notes: list = field(default_factory=list)

    def summary(self) -> dict:
        """The scalar observables (see :func:`summarize`)."""
        out = {"n_frames": self.n_frames, "duration_fs": float(self.times_f[-1] - self.times_f[0])}
        out["mean_temperature_K"] = float(np.mean(self.temperature_f)) if self.temperature_f is not None else math.nan
        bonds = self.geometry.bond_fh
        out["oh_bond_mean_A"] = float(np.mean(bonds))
        out["oh_bond_std_A"] = float(np.std(bonds))
        ang = self.angles_fo[np.isfinite(self.angles_fo)]
        out["hoh_angle_mean_deg"] = float(np.mean(ang)) if ang.size else math.nan
        out["hoh_angle_std_deg"] = float(np.std(ang)) if ang.size else math.nan
        out["oh_stretch_peak_cm1"] = float(self.oh_peak_cm1)
        for name, g in self.rdfs.items():
            r, h = rdf_first_peak(g)
            out[f"g_{name}_peak_r_A"] = r
            out[f"g_{name}_peak_height"] = h
        out["hydrogens_changed_oxygen"] = int(self.ownership.changed_hydrogens)
        out["oxygen_changes"] = int(self.ownership.n_changes)
        return out


def analyze(dataset: Dataset, seed: int = 0, n_sample_hydrogens: int = 4, r_max: float | None = None,
            dr: float = 0.02, band=OH_STRETCH_BAND_CM1, peak_window_fs: float | None = None) -> TrajectoryAnalysis:
    """Compute every observable of a water run (for :func:`summarize` and the comparison figures).

    seed / n_sample_hydrogens : the random hydrogens of :func:`random_hydrogens`.
    r_max, dr : RDF range and bin width, Å (see :func:`rdf`); band : O–H stretch search band, cm⁻¹;
    peak_window_fs : window of :func:`peak_vs_time`. Spectra, VACF and VDOS need evenly spaced
    frames (otherwise they are left out with a note); the RDFs need a periodic cell.
    """
    notes: list[str] = []
    try:
        kin, temp = kinetic_energy(dataset), temperature(dataset)
    except ValueError as exc:
        kin = temp = None
        notes.append(f"no kinetic energy: {exc}")
    geo = water_geometry(dataset)
    own = hydrogen_owners(geo)
    bmean, bstd = mean_std(geo.bond_fh)
    sample = random_hydrogens(geo.hydrogen_atoms.size, n_sample_hydrogens, seed)
    angles = hoh_angles(geo)
    amean, astd = mean_std(angles)
    spec, peak, pt, pw = None, math.nan, np.empty(0), np.empty(0)
    vlag = vacf = vdos = None
    try:
        spec = oh_stretch_spectrum(geo)
        peak = spectrum_peak(spec, band)
        if peak_window_fs is None:
            peak_window_fs = _default_peak_window(geo.times_f)
        pt, pw = peak_vs_time(geo.bond_fh, geo.times_f, window_fs=peak_window_fs, band=band)
        if dataset.n_frames >= 3:
            vlag, vacf = velocity_autocorrelation(dataset)
            vdos = vibrational_dos(dataset)
    except ValueError as exc:
        notes.append(f"no spectra: {exc}")
    rdfs = {}
    if dataset.periodic:
        for a, b in (("O", "O"), ("O", "H"), ("H", "H")):
            rdfs[a + b] = rdf(dataset, a, b, r_max=r_max, dr=dr)
    else:
        notes.append("no RDFs: the trajectory is not periodic")
    return TrajectoryAnalysis(dataset.n_frames, dataset.n_atoms, dataset.times_f.copy(), kin, temp, geo, own, bmean,
                              bstd, sample, geo.bond_fh[:, sample], angles, amean, astd, spec, peak, pt, pw, rdfs,
                              vlag, vacf, vdos, tuple(band),
                              math.nan if peak_window_fs is None else float(peak_window_fs), notes)


def summarize(dataset: Dataset, **kwargs) -> dict:
    """Scalar observables of a water run, as a dict (keys and units in :data:`SUMMARY_KEYS`):

    * ``mean_temperature_K`` — mean instantaneous temperature, K (3n − 3 degrees of freedom);
    * ``oh_bond_mean_A``, ``oh_bond_std_A`` — mean and standard deviation of all O–H bond lengths
      (every hydrogen to its nearest oxygen, every frame), Å;
    * ``hoh_angle_mean_deg``, ``hoh_angle_std_deg`` — same for the H–O–H angles of oxygens owning
      exactly two hydrogens, degrees;
    * ``oh_stretch_peak_cm1`` — peak of the O–H bond power spectrum in 2000–4500 cm⁻¹;
    * ``g_OO_peak_r_A``, ``g_OO_peak_height`` (and OH, HH) — first peak of each RDF (:func:`rdf_first_peak`);
    * ``hydrogens_changed_oxygen``, ``oxygen_changes`` — see :func:`hydrogen_owners`;
    * ``n_frames``, ``duration_fs``.

    ``kwargs`` go to :func:`analyze`. Values that cannot be computed are NaN.
    """
    return analyze(dataset, **kwargs).summary()
