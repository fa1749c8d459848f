#pragma once
/// Pinned physical constants (CODATA 2018) and mldyn's internal unit system.
///
/// Internal units: length Å, time fs, mass amu (Da), energy eV, force eV/Å,
/// velocity Å/fs, acceleration Å/fs², temperature K. This header is the one
/// place these numbers live; the Python module `mldyn.units` re-exports them.
namespace mldyn::units {

/// Electronvolt in joule (exact since the 2019 SI).
constexpr double eV_J = 1.602176634e-19;
/// Unified atomic mass unit (dalton) in kg, CODATA 2018.
constexpr double amu_kg = 1.66053906660e-27;
/// Boltzmann constant in eV/K (exact since the 2019 SI, rounded as CODATA 2018 prints it).
constexpr double kB_eV_per_K = 8.617333262e-5;
/// Hartree energy in eV, CODATA 2018.
constexpr double hartree_eV = 27.211386245988;
/// Bohr radius in Å, CODATA 2018.
constexpr double bohr_A = 0.529177210903;
/// Atomic unit of time (hbar / E_h) in fs, CODATA 2018.
constexpr double au_time_fs = 2.4188843265857e-2;

/// Acceleration in Å/fs² produced by a force of 1 eV/Å on a mass of 1 amu:
/// 1 eV/Å / 1 amu = eV_J / (1e-10 m * amu_kg) m/s², and 1 m/s² = 1e10 Å / 1e30 fs²,
/// so the factor is eV_J / amu_kg * 1e-10 (about 9.6485e-3).
constexpr double accel_per_force_over_mass = eV_J / amu_kg * 1e-10;
/// Kinetic energy in eV of 1 amu moving at 1 Å/fs: amu * (Å/fs)² in eV.
constexpr double kinetic_eV_per_amu_A2_fs2 = 1.0 / accel_per_force_over_mass;

}  // namespace mldyn::units
