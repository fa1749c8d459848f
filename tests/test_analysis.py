"""mldyn.analysis against known answers: ideal gas, harmonic bonds, rigid molecules, sinusoidal velocities,
proton hops and the CP2K .ener file of the bundled run."""
import math

import numpy as np
import pytest

from mldyn import analysis as A
from mldyn.dataset import Dataset
from mldyn.io import load_dataset
from mldyn.units import SPEED_OF_LIGHT_CM_PER_FS, SPEED_OF_LIGHT_M_PER_S

M_O, M_H = 15.9994, 1.00794
TRICLINIC = np.array([[10.0, 0.0, 0.0], [3.0, 9.0, 0.0], [2.0, 2.5, 9.5]])


@pytest.fixture(scope="module")
def h2o32():
    return load_dataset("@h2o32")


def water_dataset(pos_fnc, symbols, cell, times=None, velocities=None):
    names = ["O", "H"]
    species = np.array([names.index(s) for s in symbols])
    masses = np.where(species == 0, M_O, M_H)
    return Dataset(names, species, masses, pos_fnc, cell, velocities, times_f=times)


# ---------------------------------------------------------------------------- units
def test_speed_of_light_is_the_exact_si_value():
    assert SPEED_OF_LIGHT_M_PER_S == 299792458.0
    assert SPEED_OF_LIGHT_CM_PER_FS == pytest.approx(SPEED_OF_LIGHT_M_PER_S * 1e2 * 1e-15, rel=1e-15)
    # 1 fs^-1 = 33356.40952 cm^-1
    assert 1.0 / SPEED_OF_LIGHT_CM_PER_FS == pytest.approx(33356.40952, rel=1e-9)


# ---------------------------------------------------------------------------- minimum image
def test_minimum_image_matches_brute_force_in_a_triclinic_cell():
    rng = np.random.default_rng(3)
    d = rng.uniform(-25, 25, size=(4, 200, 3))
    got = A.minimum_image(d, np.broadcast_to(TRICLINIC, (4, 3, 3)))
    shifts = np.array([(i, j, k) for i in range(-4, 5) for j in range(-4, 5) for k in range(-4, 5)]) @ TRICLINIC
    frac = d @ np.linalg.inv(TRICLINIC)
    base = (frac - np.floor(frac)) @ TRICLINIC                   # inside the cell, then search many images
    cand = base[..., None, :] + shifts
    best = np.min(np.linalg.norm(cand, axis=-1), axis=-1)
    np.testing.assert_allclose(np.linalg.norm(got, axis=-1), best, atol=1e-12)
    # got is a lattice translate of d
    n = (got - d) @ np.linalg.inv(TRICLINIC)
    np.testing.assert_allclose(n, np.round(n), atol=1e-9)


# ---------------------------------------------------------------------------- RDF of an ideal gas
@pytest.mark.parametrize("cell", [np.eye(3) * 10.0, TRICLINIC], ids=["cubic", "triclinic"])
def test_ideal_gas_rdf_is_one(cell):
    rng = np.random.default_rng(7)
    F, n_o, n_h = 300, 40, 40
    frac = rng.random((F, n_o + n_h, 3))
    pos = (frac + rng.integers(-2, 3, size=frac.shape)) @ cell      # unwrapped, like CP2K positions
    d = water_dataset(pos, ["O"] * n_o + ["H"] * n_h, cell)
    limit = A.half_min_width(d)
    widths = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    assert limit == pytest.approx(0.5 * widths.min(), rel=1e-12)
    for a, b in (("O", "O"), ("O", "H"), ("H", "H")):
        g = A.rdf(d, a, b, dr=0.1)
        assert g.r_k[-1] < limit and g.edges_k1[-1] == pytest.approx(limit)
        far = g.r_k > 1.5
        assert abs(np.mean(g.g_k[far]) - 1.0) < 0.02, (a, b, np.mean(g.g_k[far]))
        assert np.max(np.abs(g.g_k[far] - 1.0)) < 0.15, (a, b, g.g_k[far])
    with pytest.raises(ValueError, match="half the smallest cell width"):
        A.rdf(d, "O", "O", r_max=limit * 1.01)


def test_rdf_first_peak_of_a_known_curve():
    r = np.arange(0.01, 5.0, 0.02)
    g = 1.0 + 2.0 * np.exp(-0.5 * ((r - 2.8) / 0.15) ** 2) - np.exp(-((r / 1.5) ** 8))
    rdf = A.RDF(r, g, np.append(r - 0.01, r[-1] + 0.01), ("O", "O"), 1)
    pos, height = A.rdf_first_peak(rdf)
    assert pos == pytest.approx(2.8, abs=0.01)
    assert height == pytest.approx(3.0, rel=0.03)
    flat = A.RDF(r, np.ones_like(r) * 0.5, rdf.edges_k1, ("O", "O"), 1)
    assert all(math.isnan(x) for x in A.rdf_first_peak(flat))


# ---------------------------------------------------------------------------- O-H stretch spectrum
def test_harmonic_bond_peaks_at_its_frequency_across_the_boundary():
    L, F, dt, nu = 8.0, 2000, 0.5, 3000.0                      # cm^-1
    f = nu * SPEED_OF_LIGHT_CM_PER_FS                           # 1/fs
    t = np.arange(F) * dt
    amp = 0.05
    r = 1.0 + amp * np.sin(2 * np.pi * f * t)
    pos = np.zeros((F, 2, 3))
    pos[:, 0] = [0.2, 4.0, 4.0]                                 # O near the cell face
    pos[:, 1] = [0.2 - r[0], 4.0, 4.0]
    pos[:, 1, 0] = np.mod(0.2 - r, L)                           # H wrapped to the other side of the cell
    d = water_dataset(pos, ["O", "H"], np.eye(3) * L, times=t)
    bonds = A.oh_bond_lengths(d)
    np.testing.assert_allclose(bonds[:, 0], r, atol=1e-12)
    sp = A.oh_stretch_spectrum(d)
    assert sp.resolution_cm1 == pytest.approx(1 / (F * dt * SPEED_OF_LIGHT_CM_PER_FS))
    peak = A.spectrum_peak(sp)
    assert abs(peak - nu) < sp.resolution_cm1, peak
    # Parseval: the density (Å² cm) integrates over wavenumber to the variance amp²/2
    dk = sp.wavenumber_k[1] - sp.wavenumber_k[0]
    assert np.sum(sp.power_k) * dk == pytest.approx(amp ** 2 / 2, rel=0.02)
    tc, peaks = A.peak_vs_time(bonds, t, window_fs=150.0)
    assert len(tc) > 5 and np.all(np.abs(peaks - nu) < 20.0), peaks
    # no peak when the band is beyond the Nyquist wavenumber or holds no power
    assert math.isnan(A.spectrum_peak(sp, band=(1e6, 2e6)))
    zeroed = A.Spectrum(sp.wavenumber_k, np.where(sp.wavenumber_k > 3500, 0.0, sp.power_k), sp.resolution_cm1)
    assert math.isnan(A.spectrum_peak(zeroed, band=(3600.0, 4500.0)))


def test_power_spectrum_rejects_uneven_time_steps():
    t = np.array([0.0, 0.5, 1.0, 2.0, 2.5])
    pos = np.zeros((5, 2, 3))
    pos[:, 1, 0] = 1.0
    with pytest.raises(ValueError, match="evenly spaced"):
        A.oh_stretch_spectrum(water_dataset(pos, ["O", "H"], np.eye(3) * 6, times=t))


# ---------------------------------------------------------------------------- rigid molecules
def _rotations(rng, k):
    q = rng.normal(size=(k, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
                     np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
                     np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], -2)


@pytest.mark.parametrize("cell", [np.eye(3) * 9.0, TRICLINIC], ids=["cubic", "triclinic"])
def test_rigid_water_gives_exact_angle_and_bonds_across_boundaries(cell):
    rng = np.random.default_rng(11)
    F, n_mol, b, theta = 20, 8, 0.9572, 104.52
    half = np.radians(theta / 2)
    body = np.array([[0, 0, 0], [b * np.sin(half), b * np.cos(half), 0], [-b * np.sin(half), b * np.cos(half), 0]])
    # oxygens on a lattice in fractional coordinates, some right at the faces so hydrogens cross them
    o_frac = np.array([[i, j, k] for i in (0.01, 0.5) for j in (0.99, 0.5) for k in (0.02, 0.6)])
    pos = np.empty((F, 3 * n_mol, 3))
    for f in range(F):
        R = _rotations(rng, n_mol)
        mol = np.einsum("mij,aj->mai", R, body) + (o_frac @ cell)[:, None, :]
        pos[f, :n_mol] = mol[:, 0]
        pos[f, n_mol:] = mol[:, 1:].reshape(-1, 3)
    frac = pos @ np.linalg.inv(cell)
    pos = (frac - np.floor(frac)) @ cell                        # wrapped into the cell
    d = water_dataset(pos, ["O"] * n_mol + ["H"] * 2 * n_mol, cell)
    geo = A.water_geometry(d)
    np.testing.assert_array_equal(geo.owner_fh, np.repeat(np.arange(n_mol), 2)[None, :].repeat(F, 0))
    np.testing.assert_allclose(A.oh_bond_lengths(geo), b, atol=1e-12)
    ang = A.hoh_angles(geo)
    assert ang.shape == (F, n_mol)
    np.testing.assert_allclose(ang, theta, atol=1e-9)
    mean, std = A.mean_std(ang)
    np.testing.assert_allclose(mean, theta, atol=1e-9)
    np.testing.assert_allclose(std, 0.0, atol=1e-9)
    own = A.hydrogen_owners(geo)
    assert own.changed_hydrogens == 0 and own.n_changes == 0


# ---------------------------------------------------------------------------- owners
def test_hydrogen_moved_to_another_oxygen_is_counted():
    L, F = 10.0, 15
    pos = np.zeros((F, 6, 3))
    pos[:, 0] = [2.0, 5.0, 5.0]                                  # O0
    pos[:, 1] = [6.0, 5.0, 5.0]                                  # O1
    pos[:, 2] = [1.0, 5.0, 5.0]                                  # H0 on O0
    pos[:, 3] = [3.0, 5.0, 5.0]                                  # H1 on O0 ... moves to O1 in frames 5-9
    pos[5:10, 3] = [5.0, 5.0, 5.0]
    pos[:, 4] = [6.0, 6.0, 5.0]                                  # H2, H3 on O1
    pos[:, 5] = [6.0, 4.0, 5.0]
    pos[:, 2, 0] += L                                            # unwrapped copy: still owned by O0
    d = water_dataset(pos, ["O", "O", "H", "H", "H", "H"], np.eye(3) * L)
    own = A.hydrogen_owners(d)
    assert own.owner_fh.shape == (F, 4)
    expected = np.tile([0, 0, 1, 1], (F, 1))
    expected[5:10, 1] = 1
    np.testing.assert_array_equal(own.owner_fh, expected)
    assert own.changed_hydrogens == 1
    assert own.n_changes == 2                                    # there and back
    np.testing.assert_array_equal(own.oxygen_atoms, [0, 1])
    np.testing.assert_array_equal(own.hydrogen_atoms, [2, 3, 4, 5])
    ang = A.hoh_angles(d)
    assert np.all(np.isnan(ang[5:10]))                           # O0 owns one H, O1 three: no angle
    assert np.all(np.isfinite(ang[:5])) and ang[0, 0] == pytest.approx(180.0) and ang[0, 1] == pytest.approx(180.0)
    mean, _ = A.mean_std(ang)
    assert np.all(np.isnan(mean[5:10])) and mean[0] == pytest.approx(180.0)


def test_random_hydrogens_are_reproducible():
    a = A.random_hydrogens(64, 4, seed=5)
    assert len(set(a.tolist())) == 4 and np.all((a >= 0) & (a < 64))
    np.testing.assert_array_equal(a, A.random_hydrogens(64, 4, seed=5))
    assert not np.array_equal(a, A.random_hydrogens(64, 4, seed=6))


# ---------------------------------------------------------------------------- VACF and VDOS
def test_vdos_of_sinusoidal_velocities_peaks_at_their_frequency():
    rng = np.random.default_rng(2)
    F, dt, n_o, n_h = 1024, 0.5, 4, 8
    nu_o, nu_h = 1000.0, 3000.0
    t = np.arange(F) * dt
    freq = np.where(np.arange(n_o + n_h) < n_o, nu_o, nu_h) * SPEED_OF_LIGHT_CM_PER_FS
    phase = rng.uniform(0, 2 * np.pi, size=(n_o + n_h, 3))
    vel = 0.01 * np.cos(2 * np.pi * freq[None, :, None] * t[:, None, None] + phase[None])
    pos = rng.uniform(0, 10, size=(n_o + n_h, 3))[None].repeat(F, 0)
    d = water_dataset(pos, ["O"] * n_o + ["H"] * n_h, np.eye(3) * 10, times=t, velocities=vel)
    for element, nu in (("O", nu_o), ("H", nu_h)):
        sp = A.vibrational_dos(d, element=element)
        dk = sp.wavenumber_k[1] - sp.wavenumber_k[0]
        assert np.sum(sp.power_k) * dk == pytest.approx(1.0)
        assert abs(A.spectrum_peak(sp, band=(0, 5000)) - nu) < sp.resolution_cm1
        lag, c = A.velocity_autocorrelation(d, element=element)
        period = 1 / (nu * SPEED_OF_LIGHT_CM_PER_FS)
        assert c[0] == 1.0
        assert np.interp(period / 2, lag, c) == pytest.approx(-1.0, abs=0.05)
        assert np.interp(period, lag, c) == pytest.approx(1.0, abs=0.05)
    # mass weighting: the two bands share the kinetic energy (weighted) or the atom count (unweighted)
    for weighted, expected in ((True, n_o * M_O / (n_h * M_H)), (False, n_o / n_h)):
        sp = A.vibrational_dos(d, mass_weighted=weighted)
        low = np.sum(sp.power_k[sp.wavenumber_k < 2000])
        high = np.sum(sp.power_k[sp.wavenumber_k >= 2000])
        assert low / high == pytest.approx(expected, rel=0.02)


def test_vdos_without_velocities_uses_finite_differences():
    F, dt, nu = 800, 0.5, 2000.0
    t = np.arange(F) * dt
    f = nu * SPEED_OF_LIGHT_CM_PER_FS
    pos = np.zeros((F, 2, 3)) + 5.0
    pos[:, 1, 0] = 5.0 + 0.05 * np.sin(2 * np.pi * f * t) + 0.01 * t   # drifts across the boundary
    pos[:, 1, 0] = np.mod(pos[:, 1, 0], 10.0)
    d = water_dataset(pos, ["O", "H"], np.eye(3) * 10, times=t)
    sp = A.vibrational_dos(d, element="H")
    assert abs(A.spectrum_peak(sp, band=(500, 5000)) - nu) < 2 * sp.resolution_cm1


# ---------------------------------------------------------------------------- the bundled CP2K run
def test_temperature_and_kinetic_energy_match_the_cp2k_ener_file(h2o32):
    T = A.temperature(h2o32)
    K = A.kinetic_energy(h2o32)
    assert T.shape == K.shape == (600,)
    np.testing.assert_allclose(T, h2o32.temperature_f, rtol=1e-5)
    np.testing.assert_allclose(K, h2o32.kinetic_energy_f, rtol=1e-6)
    assert A.degrees_of_freedom(h2o32) == 3 * 96 - 3


def test_temperature_falls_back_to_the_dataset_columns(h2o32):
    d = h2o32.subset(slice(0, 10))
    d.velocities_fnc = None
    np.testing.assert_array_equal(A.temperature(d), d.temperature_f)
    np.testing.assert_array_equal(A.kinetic_energy(d), d.kinetic_energy_f)
    d.kinetic_energy_f = None
    np.testing.assert_allclose(A.kinetic_energy(d), h2o32.kinetic_energy_f[:10], rtol=1e-5)
    d.temperature_f = None
    with pytest.raises(ValueError, match="no velocities"):
        A.temperature(d)


def test_stretch_peak_of_frames_too_coarse_for_the_band_is_nan_with_a_note_not_an_alias():
    """A 3600 cm⁻¹ bond sampled every 5 fs (Nyquist 3336 cm⁻¹) would show up at 3072 cm⁻¹."""
    F, dt, nu = 400, 5.0, 3600.0
    t = np.arange(F) * dt
    r = 1.0 + 0.05 * np.sin(2 * np.pi * nu * SPEED_OF_LIGHT_CM_PER_FS * t)
    pos = np.zeros((F, 2, 3))
    pos[:, 0] = [4.0, 4.0, 4.0]
    pos[:, 1, 0], pos[:, 1, 1:] = 4.0 + r[:], 4.0
    d = water_dataset(pos, ["O", "H"], None, times=t)  # isolated: no RDFs
    aliased = A.spectrum_peak(A.oh_stretch_spectrum(d))
    assert abs(aliased - (2 * 1 / (2 * dt * SPEED_OF_LIGHT_CM_PER_FS) - nu)) < 40  # the alias the raw spectrum shows
    an = A.analyze(d)
    assert math.isnan(an.summary()["oh_stretch_peak_cm1"]) and an.peak_w.size == 0
    assert any("no O–H stretch peak: frames 5 fs apart resolve wavenumbers only up to 3336 cm⁻¹ (Nyquist)" in n
               and "at most 4.2 fs apart" in n for n in an.notes), an.notes


def test_summarize_bundled_water(h2o32):
    s = A.summarize(h2o32)
    assert set(A.SUMMARY_KEYS) <= set(s)
    assert s["n_frames"] == 600 and s["duration_fs"] == pytest.approx(299.5)
    assert s["mean_temperature_K"] == pytest.approx(np.mean(h2o32.temperature_f), rel=1e-5)
    # species temperatures: their atom-weighted mean is the temperature; in this (short, NVE) CP2K run
    # the oxygens are hotter than the hydrogens
    n_o, n_h = 32, 64
    assert (n_o * s["temperature_O_K"] + n_h * s["temperature_H_K"]) / 96 == pytest.approx(s["mean_temperature_K"],
                                                                                          rel=1e-5)
    assert s["temperature_O_K"] > s["temperature_H_K"]
    # by hand in SI: 1 Å/fs = 1e5 m/s; the oxygens' share of the 3n - 3 degrees of freedom
    o = np.asarray(h2o32.species_n) == h2o32.species_names.index("O")
    ke_j = 0.5 * h2o32.masses_n[o][None, :, None] * 1.66053906660e-27 * (h2o32.velocities_fnc[:, o] * 1e5) ** 2
    t_o = 2 * ke_j.sum(axis=(1, 2)) / ((3 * 96 - 3) * 32 / 96 * 1.380649e-23)
    assert s["temperature_O_K"] == pytest.approx(t_o.mean(), rel=1e-6)
    assert 0.98 < s["oh_bond_mean_A"] < 1.06 and 0.02 < s["oh_bond_std_A"] < 0.08
    assert 100 < s["hoh_angle_mean_deg"] < 110 and 3 < s["hoh_angle_std_deg"] < 12
    assert 2800 < s["oh_stretch_peak_cm1"] < 3600
    assert 2.45 < s["g_OO_peak_r_A"] < 2.85 and 2 < s["g_OO_peak_height"] < 4.5
    assert 0.97 < s["g_OH_peak_r_A"] < 1.05 and s["g_OH_peak_height"] > 10
    assert 1.5 < s["g_HH_peak_r_A"] < 1.7
    # proton hops of this LDA run (hydrogens at ~1.2 Å from both oxygens); regression values
    assert s["hydrogens_changed_oxygen"] == 12 and s["oxygen_changes"] == 37
    # the stretch peak of the bond spectrum is the high-frequency band of the VDOS
    an = A.analyze(h2o32)
    assert abs(A.spectrum_peak(an.vdos) - s["oh_stretch_peak_cm1"]) < an.vdos.resolution_cm1
    assert an.sample_bonds_fk.shape == (600, 4) and an.rdfs["OO"].n_frames == 600


def test_a_spectrum_highest_at_the_band_edge_has_no_peak_in_the_band():
    """A band that holds only the tail of a lower peak (no maximum inside it) gives NaN, not its edge."""
    k = np.linspace(0.0, 6000.0, 6001)
    power = np.exp(-0.5 * ((k - 1600.0) / 150.0) ** 2) + 1e-3 * np.exp(-0.5 * ((k - 3400.0) / 40.0) ** 2)
    sp = A.Spectrum(k, power, 1.0)
    assert math.isnan(A.spectrum_peak(sp, band=(2000.0, 3000.0)))  # falling from the lower peak: edge 2000
    assert A.spectrum_peak(sp, band=(3000.0, 4500.0)) == pytest.approx(3400.0, abs=1.0)  # an interior maximum
    assert math.isnan(A.spectrum_peak(A.Spectrum(k, k, 1.0), band=(2000.0, 4500.0)))  # rising: edge 4500


# ------------------------------------------------------------------ analysis at scale: pairs from the core
# all pairs below 1000 atoms (a triclinic box), the cell list above (orthorhombic: the brute-force minimum image
# of every pair in a triclinic box of 1000 atoms would take minutes)
@pytest.mark.parametrize("n_molecules, triclinic", [(40, True), (334, False)])
def test_analysis_pairs_from_the_core_match_all_pairs_brute_force(n_molecules, triclinic):
    import reference as R
    from mldyn.analysis.contacts import closest_pairs
    from mldyn.analysis.frames import frame_pairs

    rng = np.random.default_rng(n_molecules)
    L = 3.2 * n_molecules ** (1 / 3)
    h = np.array([[L, 0, 0], [0.2 * L, 0.95 * L, 0], [-0.1 * L, 0.15 * L, 0.9 * L]]) if triclinic else np.eye(3) * L

    def image(v):  # brute force: every lattice translation for a triclinic cell; wrapping is exact otherwise
        return R.minimum_image(v, h) if triclinic else v - L * np.round(v / L)

    frames = [R.water_box(n_molecules, h, rng) for _ in range(2)]
    pos = np.array([f[0] for f in frames])
    symbols = ["O" if s == 0 else "H" for s in frames[0][1]]
    d = water_dataset(pos, symbols, np.array([h, h]))
    n = len(symbols)
    iu, ju = np.triu_indices(n, 1)
    for k in range(2):
        dv = image(pos[k][ju] - pos[k][iu])
        r = np.linalg.norm(dv, axis=1)
        inside = r < 4.0
        i, j, dc, rc = frame_pairs(d, k, 4.0)
        assert (i.tolist(), j.tolist()) == (iu[inside].tolist(), ju[inside].tolist())
        np.testing.assert_allclose(dc, dv[inside], atol=1e-12)
        np.testing.assert_allclose(rc, r[inside], atol=1e-12)
    # owners, bonds and closest contacts against brute force
    geo = A.water_geometry(d)
    o_idx, h_idx = np.flatnonzero(d.species_n == 0), np.flatnonzero(d.species_n == 1)
    for k in range(2):
        dd = image(pos[k][h_idx][:, None] - pos[k][o_idx][None])
        r2 = np.einsum("hoc,hoc->ho", dd, dd)
        assert geo.owner_fh[k].tolist() == np.argmin(r2, axis=1).tolist()
        np.testing.assert_allclose(geo.bond_fh[k], np.sqrt(r2.min(axis=1)), atol=1e-12)
    closest = closest_pairs(d, per_frame=True)
    for k in range(2):
        r = np.linalg.norm(image(pos[k][ju] - pos[k][iu]), axis=1)
        for (x, y), name in (((0, 0), "O-O"), ((0, 1), "O-H"), ((1, 1), "H-H")):
            sel = (np.minimum(d.species_n[iu], d.species_n[ju]) == x) & (np.maximum(d.species_n[iu],
                                                                                     d.species_n[ju]) == y)
            assert closest[name][k] == pytest.approx(r[sel].min(), abs=1e-12)


def test_owners_and_contacts_beyond_the_search_radius_are_found_by_comparing_every_atom():
    from mldyn.analysis.contacts import closest_pairs

    pos = np.array([[[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [6.0, 5.0, 5.0], [6.5, 5.0, 5.0]]])
    d = water_dataset(pos, ["O", "O", "H", "H"], np.eye(3) * 20.0)
    geo = A.water_geometry(d)  # the hydrogens are 7.4 and 7.1 Å from the nearest oxygen (the second)
    assert geo.owner_fh[0].tolist() == [1, 1]
    np.testing.assert_allclose(geo.bond_fh[0], [np.sqrt(16 + 50), np.sqrt(12.25 + 50)], atol=1e-12)
    closest = closest_pairs(d)
    assert closest["O-O"] == pytest.approx(10.0) and closest["H-H"] == pytest.approx(0.5)
    assert closest["O-H"] == pytest.approx(np.sqrt(12.25 + 50))



# ----------------------------------------------------------------------------- sampling noise of a short run
def _stitched(d: Dataset, pieces) -> Dataset:
    """The frames of ``pieces`` (index ranges of ``d``) one after the other, on d's own even time step."""
    idx = np.concatenate([np.arange(a, b) for a, b in pieces])
    s = d.subset(idx)
    dt = float(np.median(np.diff(d.times_f)))
    return Dataset(s.species_names, s.species_n, s.masses_n, s.positions_fnc, s.cells_f33, s.velocities_fnc,
                   s.forces_fnc, None, d.times_f[0] + dt * np.arange(len(idx)))


def _sd_oracle(values) -> float:
    """The documented statistic, from its definition: SD (ddof 1) of the finite values; NaN for fewer than 2 or no spread."""
    v = [x for x in values if math.isfinite(x)]
    if len(v) < 2 or max(v) == min(v):
        return math.nan
    m = sum(v) / len(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


@pytest.mark.parametrize("every", [1, 2])
def test_stretch_spread_is_the_sd_over_whole_stretches_as_long_as_the_reference(h2o32, every):
    from mldyn.analysis.sampling_noise import GROWS_WITH_LENGTH, run_span_fs, stretch_spread
    from mldyn.analysis.summary import summarize

    dt = float(np.median(np.diff(h2o32.times_f)))
    assert run_span_fs(h2o32.subset(range(100))) == pytest.approx(100 * dt)
    # a start-up stretch to skip, then stretches A, B, A (every `every`-th frame, as a run saves them) and 50
    # frames too few for a fourth: 100 * dt fs stretches hold 100 / every frames at the run's own spacing
    run = _stitched(h2o32, [(500, 600), (0, 100), (100, 200), (0, 100), (300, 350)]).subset(
        range(0, 450, every))
    got = stretch_spread(run, 100 * dt, skip_fs=100 * dt)
    a, b = (summarize(h2o32.subset(range(lo, lo + 100, every))) for lo in (0, 100))
    assert got["stretches"] == 3
    assert "n_frames" not in got and "duration_fs" not in got and set(GROWS_WITH_LENGTH) <= set(got)
    finite = 0
    for key, value in got.items():
        if key == "stretches":
            continue
        want = _sd_oracle([a[key], b[key], a[key]])  # |a - b| / sqrt(3) where both are defined and differ
        if math.isfinite(want):
            assert value == pytest.approx(want, rel=1e-9, abs=1e-12), key
            finite += 1
        else:
            assert math.isnan(value), key
    assert finite >= 15 and got["hoh_angle_mean_deg"] > 0
    # the same stretch three times: no spread to estimate (NaN, not a perfect 0)
    same = stretch_spread(_stitched(h2o32, [(0, 100)] * 3), 100 * dt)
    assert math.isnan(same["hoh_angle_mean_deg"]) and math.isnan(same["g_OO_peak_height"])


def test_stretch_spread_refuses_a_run_too_short_for_three_stretches(h2o32):
    from mldyn.analysis.sampling_noise import stretch_spread

    dt = float(np.median(np.diff(h2o32.times_f)))
    with pytest.raises(ValueError, match=r"holds 2 whole stretches of 50 fs .* the spread needs 3: run longer"):
        stretch_spread(h2o32.subset(range(int(round(125 / dt)))), 50.0)
    with pytest.raises(ValueError, match=r"\(300 frames, 50 fs of them skipped\) holds 2 whole stretches"):
        stretch_spread(h2o32.subset(range(int(round(150 / dt)))), 50.0, skip_fs=50.0)
    with pytest.raises(ValueError, match="stretch length must be > 0 fs"):
        stretch_spread(h2o32, 0.0)
    with pytest.raises(ValueError, match="needs at least two frames for the sampling noise"):
        stretch_spread(h2o32.subset([0]), 10.0)
    with pytest.raises(ValueError, match="frames are not evenly spaced in time .* the sampling noise of a run's length"):
        stretch_spread(h2o32.subset(list(range(100)) + list(range(200, 400))), 20.0)
