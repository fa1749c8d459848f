"""Units and pinned physical constants (CODATA 2018).

mldyn works internally in Å, fs, amu (Da), eV, K: forces in eV/Å, velocities in Å/fs,
accelerations in Å/fs². The constants live in one place, the C++ header
``cpp/include/mldyn/units.hpp``, and are re-exported here. Conversions from CP2K's
atomic units happen only at the I/O edge (:mod:`mldyn.io`) with these numbers.
"""
from ._core import units as _u

#: Electronvolt in J (exact).
EV_J: float = _u.eV_J
#: Unified atomic mass unit in kg.
AMU_KG: float = _u.amu_kg
#: Boltzmann constant in eV/K.
KB_EV_PER_K: float = _u.kB_eV_per_K
#: Hartree in eV.
HARTREE_EV: float = _u.hartree_eV
#: Bohr radius in Å.
BOHR_A: float = _u.bohr_A
#: Atomic unit of time in fs.
AU_TIME_FS: float = _u.au_time_fs
#: Acceleration (Å/fs²) of 1 amu under 1 eV/Å.
ACCEL_PER_FORCE_OVER_MASS: float = _u.accel_per_force_over_mass
#: Kinetic energy (eV) of 1 amu at 1 Å/fs, i.e. amu·Å²/fs² in eV.
KINETIC_EV_PER_AMU_A2_FS2: float = _u.kinetic_eV_per_amu_A2_fs2

#: Speed of light in vacuum, m/s (exact: it defines the metre in the SI).
SPEED_OF_LIGHT_M_PER_S: float = 299792458.0
#: Speed of light in cm/fs (exact). A frequency f in 1/fs is the wavenumber f / SPEED_OF_LIGHT_CM_PER_FS in cm^-1.
#: Pinned here in Python only (spectra are analysis, not part of the C++ core).
SPEED_OF_LIGHT_CM_PER_FS: float = 2.99792458e-5

#: Hartree/Bohr in eV/Å (CP2K forces).
HARTREE_PER_BOHR_EV_PER_A: float = HARTREE_EV / BOHR_A
#: Bohr per atomic time unit in Å/fs (CP2K velocities).
BOHR_PER_AU_TIME_A_PER_FS: float = BOHR_A / AU_TIME_FS
