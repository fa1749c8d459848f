"""Pinned constants and derived conversion factors against independently known values."""
import pytest

from mldyn import units


def test_codata_2018_constants():
    assert units.HARTREE_EV == 27.211386245988
    assert units.BOHR_A == 0.529177210903
    assert units.AU_TIME_FS == 2.4188843265857e-2
    assert units.KB_EV_PER_K == 8.617333262e-5


def test_amu_angstrom2_per_fs2_is_103_6427_ev():
    # 1 amu (Å/fs)² = 1.66053906660e-27 kg * 1e10 m²/s² = 1.0364269652e-17 J = 103.6427 eV
    assert units.KINETIC_EV_PER_AMU_A2_FS2 == pytest.approx(103.64269652, rel=1e-9)
    assert units.ACCEL_PER_FORCE_OVER_MASS * units.KINETIC_EV_PER_AMU_A2_FS2 == pytest.approx(1.0, rel=1e-15)


def test_cp2k_conversions():
    # Hartree/Bohr = 51.4220674763 eV/Å (the atomic unit of electric field, V/Å); Bohr per atomic time unit = 21.876912636 Å/fs
    assert units.HARTREE_PER_BOHR_EV_PER_A == pytest.approx(51.4220674763, rel=1e-10)
    assert units.BOHR_PER_AU_TIME_A_PER_FS == pytest.approx(21.876912636, rel=1e-9)
