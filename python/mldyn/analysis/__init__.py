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
Modules: :mod:`.frames` (atoms, minimum image), :mod:`.thermo`, :mod:`.water`, :mod:`.spectra`,
:mod:`.rdf`, :mod:`.dynamics` (VACF, VDOS), :mod:`.summary`, :mod:`.sampling_noise` (how precisely a
run of a given length pins each observable).
"""
from .contacts import closest_pairs
from .dynamics import velocity_autocorrelation, vibrational_dos
from .frames import atoms_of, half_min_width, minimum_image
from .rdf import RDF, rdf, rdf_first_peak
from .spectra import (OH_STRETCH_BAND_CM1, Spectrum, default_peak_window, oh_stretch_spectrum, peak_vs_time,
                      power_spectrum, spectrum_peak)
from .summary import SUMMARY_KEYS, TrajectoryAnalysis, analyze, summarize
from .thermo import degrees_of_freedom, kinetic_energy, species_temperatures, temperature
from .water import (HydrogenOwnership, WaterGeometry, hoh_angles, hydrogen_owners, lasting_owner_changes, mean_std,
                    oh_bond_lengths, random_hydrogens, water_geometry)

__all__ = [
    "kinetic_energy", "temperature", "species_temperatures", "degrees_of_freedom", "atoms_of", "minimum_image", "half_min_width",
    "WaterGeometry", "water_geometry", "HydrogenOwnership", "hydrogen_owners", "oh_bond_lengths", "mean_std",
    "random_hydrogens", "hoh_angles", "Spectrum", "power_spectrum", "spectrum_peak", "oh_stretch_spectrum",
    "peak_vs_time", "RDF", "rdf", "rdf_first_peak", "velocity_autocorrelation", "vibrational_dos",
    "TrajectoryAnalysis", "analyze", "summarize", "OH_STRETCH_BAND_CM1", "SUMMARY_KEYS", "default_peak_window",
    "lasting_owner_changes", "closest_pairs",
]
