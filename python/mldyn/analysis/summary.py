"""Every observable of a water run at once: :func:`analyze` (all series, for the figures) and
:func:`summarize` (the scalars of :data:`SUMMARY_KEYS`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..dataset import Dataset
from ..units import SPEED_OF_LIGHT_CM_PER_FS
from .contacts import closest_pairs
from .dynamics import velocity_autocorrelation, vibrational_dos
from .frames import atoms_of, uniform_dt
from .rdf import rdf, rdf_first_peak
from .spectra import (OH_PEAK_SMOOTH_CM1, OH_STRETCH_BAND_CM1, OH_STRETCH_TOP_CM1, Spectrum, default_peak_window, oh_stretch_spectrum,
                      peak_vs_time, spectrum_peak)
from .thermo import group_temperature, kinetic_energy, temperature
from .water import (HydrogenOwnership, WaterGeometry, hoh_angles, hydrogen_owners, lasting_owner_changes, mean_std,
                    random_hydrogens, water_geometry)

__all__ = ["SUMMARY_KEYS", "TrajectoryAnalysis", "analyze", "summarize"]


#: Keys of :func:`summarize` with their units, in report order.
SUMMARY_KEYS = {
    "mean_temperature_K": "K",
    "temperature_O_K": "K",
    "temperature_H_K": "K",
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
    "oxygen_changes_per_h_per_ps": "1/ps",
    "closest_OO_A": "Å",
    "closest_OH_A": "Å",
    "closest_HH_A": "Å",
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
    closest: dict
    vacf_lag: np.ndarray | None
    vacf: np.ndarray | None
    vdos: Spectrum | None
    band: tuple = OH_STRETCH_BAND_CM1
    peak_window_fs: float = math.nan
    notes: list = field(default_factory=list)
    species_temperature_f: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The scalar observables (see :func:`summarize`)."""
        out = {"n_frames": self.n_frames, "duration_fs": float(self.times_f[-1] - self.times_f[0])}
        out["mean_temperature_K"] = float(np.mean(self.temperature_f)) if self.temperature_f is not None else math.nan
        for name in ("O", "H"):
            t = self.species_temperature_f.get(name)
            out[f"temperature_{name}_K"] = float(np.mean(t)) if t is not None else math.nan
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
        out["oxygen_changes_per_h_per_ps"] = lasting_owner_changes(self.geometry)
        for pair in ("O-O", "O-H", "H-H"):
            out[f"closest_{pair.replace('-', '')}_A"] = self.closest.get(pair, self.closest.get(pair[::-1], math.nan))
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
    species_temp = {}  # by element, so that CP2K kinds (O1, H_w, ...) count with their element
    if dataset.velocities_fnc is not None:
        for element in ("O", "H"):
            mask = np.zeros(dataset.n_atoms, dtype=bool)
            mask[atoms_of(dataset, element)] = True
            if mask.any():
                species_temp[element] = group_temperature(dataset.velocities_fnc, dataset.masses_n, mask)
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
        nyquist = float(spec.wavenumber_k[-1])
        if nyquist < OH_STRETCH_TOP_CM1:
            # the band above the Nyquist wavenumber folds back below it: its "peak" would be an alias
            dt = uniform_dt(geo.times_f)
            notes.append(f"no O–H stretch peak: frames {dt:g} fs apart resolve wavenumbers only up to {nyquist:.0f} "
                         f"cm⁻¹ (Nyquist), below the top of the O–H stretch band ({OH_STRETCH_TOP_CM1:.0f} cm⁻¹), so "
                         f"the band would fold back (alias) to lower wavenumbers; write frames at most "
                         f"{1.0 / (2.0 * OH_STRETCH_TOP_CM1 * SPEED_OF_LIGHT_CM_PER_FS):.1f} fs apart")
        else:
            band = (band[0], min(band[1], nyquist))
            peak = spectrum_peak(spec, band, smooth_cm1=OH_PEAK_SMOOTH_CM1)
            if not math.isfinite(peak):
                notes.append(f"no O–H stretch peak: the spectrum has no maximum inside {band[0]:.0f}-{band[1]:.0f} "
                             f"cm⁻¹ (it is highest at the band's edge)")
            if peak_window_fs is None:
                peak_window_fs = default_peak_window(geo.times_f)
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
    closest = closest_pairs(dataset)
    return TrajectoryAnalysis(dataset.n_frames, dataset.n_atoms, dataset.times_f.copy(), kin, temp, geo, own, bmean,
                              bstd, sample, geo.bond_fh[:, sample], angles, amean, astd, spec, peak, pt, pw, rdfs,
                              closest, vlag, vacf, vdos, tuple(band),
                              math.nan if peak_window_fs is None else float(peak_window_fs), notes, species_temp)


def summarize(dataset: Dataset, **kwargs) -> dict:
    """Scalar observables of a water run, as a dict (keys and units in :data:`SUMMARY_KEYS`):

    * ``mean_temperature_K`` — mean instantaneous temperature, K (3n − 3 degrees of freedom);
    * ``temperature_O_K``, ``temperature_H_K`` — mean kinetic temperature of the oxygens and of the
      hydrogens (all kinds of each element; :func:`group_temperature`; NaN without velocities), K;
    * ``oh_bond_mean_A``, ``oh_bond_std_A`` — mean and standard deviation of all O–H bond lengths
      (every hydrogen to its nearest oxygen, every frame), Å;
    * ``hoh_angle_mean_deg``, ``hoh_angle_std_deg`` — same for the H–O–H angles of oxygens owning
      exactly two hydrogens, degrees;
    * ``oh_stretch_peak_cm1`` — peak of the O–H bond power spectrum in 2000–4500 cm⁻¹ (averaged over
      1 ps segments for long runs and smoothed by 100 cm⁻¹, see :mod:`.spectra`);
    * ``g_OO_peak_r_A``, ``g_OO_peak_height`` (and OH, HH) — first peak of each RDF (:func:`rdf_first_peak`);
    * ``hydrogens_changed_oxygen``, ``oxygen_changes`` — see :func:`hydrogen_owners`;
    * ``oxygen_changes_per_h_per_ps`` — hops lasting >= 20 fs per hydrogen per ps (:func:`lasting_owner_changes`);
    * ``closest_OO_A``, ``closest_OH_A``, ``closest_HH_A`` — shortest distances over the run (:func:`closest_pairs`);
    * ``n_frames``, ``duration_fs``.

    ``kwargs`` go to :func:`analyze`. Values that cannot be computed are NaN.
    """
    return analyze(dataset, **kwargs).summary()
