"""Molecular dynamics: velocity Verlet (NVE), Nosé–Hoover chains (NVT), force clipping,
Maxwell–Boltzmann velocities, blow-up handling and callbacks.

Units are Å, fs, amu, eV, K. Where a test needs the force-to-acceleration factor it
derives it from SI constants here, independently of mldyn.units.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import mldyn
from mldyn import AgentLossModel, Basis, Simulation, maxwell_boltzmann
from mldyn import units as U

import reference as R

# SI (exact 2019 values; amu CODATA 2018) -> Å/fs² for 1 eV/Å on 1 amu:
# (1.602176634e-19 J / 1e-10 m) / 1.66053906660e-27 kg in m/s², times 1e-20 (Å/fs² per m/s²).
EV_J, AMU_KG, KB_J = 1.602176634e-19, 1.66053906660e-27, 1.380649e-23
ACCEL_SI = EV_J / 1e-10 / AMU_KG * 1e-20          # = 9.6485332e-3 Å/fs² per (eV/Å/amu)
KB_EV = KB_J / EV_J

# ----------------------------------------------------------------------------- a liquid-like pair potential

AR_MASS = 39.948
LJ_FUNCS = (("exp", 3.0), ("gauss", 2.5))
# u(r) = 1000 exp(-3 r) - 0.05 exp(-r²/(2·2.5²)) eV: repulsive wall, well of ~9 meV at 4.3 Å.
LJ_COEFFS = np.array([[[1000.0, -0.05]]])


def argon_like(seed, n_side=4, spacing=4.2, r_cut=7.0, r_on=5.5):
    """64 atoms on a jittered simple-cubic lattice in a periodic box, and the model."""
    rng = np.random.default_rng(seed)
    L = n_side * spacing
    grid = np.array([(i, j, k) for i in range(n_side) for j in range(n_side) for k in range(n_side)], float)
    pos = (grid + 0.5) * spacing + rng.normal(scale=0.1, size=grid.shape)
    model = AgentLossModel.pair_potential(["Ar"], Basis(LJ_FUNCS, r_cut=r_cut, r_on=r_on), LJ_COEFFS,
                                          masses=[AR_MASS])
    return model, pos, np.zeros(len(pos), dtype=np.int32), L


# ----------------------------------------------------------------------------- units and single steps


def test_units_force_over_mass_to_acceleration_matches_si():
    """1 eV/Å acting on 1 amu accelerates by 9.6485e-3 Å/fs²; kinetic energy of 1 amu at
    1 Å/fs is 103.64 eV."""
    assert U.ACCEL_PER_FORCE_OVER_MASS == pytest.approx(ACCEL_SI, rel=1e-12)
    assert U.KINETIC_EV_PER_AMU_A2_FS2 == pytest.approx(1.0 / ACCEL_SI, rel=1e-12)
    assert U.KB_EV_PER_K == pytest.approx(KB_EV, rel=1e-9)


def two_atom_model():
    basis = Basis((("exp", 1.0),))
    return AgentLossModel.pair_potential(["A"], basis, np.full((1, 1, 1), 5.0), masses=[2.0])


def test_first_velocity_verlet_step_matches_si_kinematics():
    """q1 = q0 + dt v0 + dt²/2 F0/m, v1 = v0 + dt/2 (F0 + F1)/m with the SI-derived factor."""
    model = two_atom_model()
    q0 = np.array([[0.0, 0.0, 0.0], [1.5, 0.2, -0.1]])
    v0 = np.array([[0.01, 0.0, 0.0], [-0.02, 0.005, 0.0]])
    dt = 0.5
    sim = Simulation(model, q0, [0, 0], None, velocities_nc=v0, dt=dt)
    f0, _ = model.compute(q0, [0, 0])
    assert np.max(np.abs(f0)) > 0.1
    sim.run(1)
    q1 = q0 + dt * v0 + 0.5 * dt**2 * f0 * ACCEL_SI / 2.0
    np.testing.assert_allclose(sim.positions, q1, rtol=1e-12, atol=1e-15)
    f1, _ = model.compute(q1, [0, 0])
    v1 = v0 + 0.5 * dt * (f0 + f1) * ACCEL_SI / 2.0
    np.testing.assert_allclose(sim.velocities, v1, rtol=1e-10, atol=1e-15)
    assert sim.step == 1 and sim.time == pytest.approx(dt)


def test_kinetic_energy_and_temperature_definitions():
    masses = np.array([1.0, 2.0, 16.0, 4.0])
    v = np.array([[0.01, 0.0, 0.0], [0.0, -0.02, 0.0], [0.001, 0.002, 0.003], [0.0, 0.0, 0.0]])
    pos = np.array([[0.0, 0, 0], [3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0]])
    model = AgentLossModel.pair_potential(["A"], Basis((("exp", 1.0),)), np.zeros((1, 1, 1)), masses=[1.0])
    sim = Simulation(model, pos, [0] * 4, None, velocities_nc=v, masses_n=masses)
    ke = 0.5 * np.sum(masses[:, None] * v**2) / ACCEL_SI
    assert sim.kinetic_energy == pytest.approx(ke, rel=1e-12)
    assert sim.temperature == pytest.approx(2 * ke / ((3 * 4 - 3) * KB_EV), rel=1e-9)
    np.testing.assert_array_equal(sim.masses, masses)


def test_velocity_verlet_is_time_reversible():
    model, pos, sp, L = argon_like(0)
    v0 = maxwell_boltzmann(np.full(len(pos), AR_MASS), 100.0, seed=3)
    sim = Simulation(model, pos, sp, L, velocities_nc=v0, dt=4.0)
    sim.run(300)
    moved = np.max(np.abs(sim.positions - pos))
    sim.core.set_state(sim.positions, -sim.velocities, sim.step, sim.time)
    sim.run(300)
    assert moved > 0.5                                     # atoms really travelled
    assert np.max(np.abs(sim.positions - pos)) < 1e-8
    assert np.max(np.abs(sim.velocities + v0)) < 1e-8 * np.max(np.abs(v0))


# ----------------------------------------------------------------------------- (a) NVE


def test_nve_relative_energy_drift_below_1e_4_over_10k_steps():
    """64 argon-like atoms (liquid-like, ~70 K), dt = 4 fs, smooth switching 5.5-7 Å.

    Drift is max_t |E_t - E_0| over the run divided by the mean kinetic energy (here
    ~0.56 eV, smaller than |E_0| ~ 1.95 eV, so this is the stricter scale); |E_0| is
    checked as well."""
    model, pos, sp, L = argon_like(0)
    assert model.conservative
    v0 = maxwell_boltzmann(np.full(len(pos), AR_MASS), 80.0, seed=1)
    sim = Simulation(model, pos, sp, L, velocities_nc=v0, dt=4.0)
    sim.run(1000)                                           # leave the lattice
    e, k, p = [], [], []

    def record(s):
        e.append(s.conserved_energy)
        k.append(s.kinetic_energy)
        p.append(s.velocities.T @ s.masses)

    record(sim)
    sim.run(10_000, record, every=10)
    e, k, p = np.array(e), np.array(k), np.array(p)
    assert sim.step == 11_000 and len(e) == 1001
    # Energy really flows between kinetic and potential (a frozen system conserves trivially).
    assert np.std(k) > 0.02 * np.mean(k)
    drift = np.max(np.abs(e - e[0]))
    assert abs(e[0]) > np.mean(k) > 0
    assert drift / np.mean(k) <= 1e-4
    assert drift / abs(e[0]) <= 1e-4
    # A pair potential exerts no net force: total momentum stays at its initial ~0.
    p_scale = np.sum(sim.masses * np.linalg.norm(sim.velocities, axis=1))
    assert np.max(np.abs(p)) <= 1e-10 * p_scale


# ----------------------------------------------------------------------------- (b) NVT


def test_nose_hoover_chain_mean_temperature_within_2_percent_and_extended_energy_conserved():
    """Start at 40 K, thermostat to 120 K (tdamp 100 fs, chain 3), 10 ps equilibration,
    60 ps production. The mean temperature must be within 2 % of the target, its
    fluctuation canonical (std/T = sqrt(2/N_f)) within 25 %, and the extended energy
    conserved to 1e-3 of the mean kinetic energy."""
    model, pos, sp, L = argon_like(1)
    target = 120.0
    v0 = maxwell_boltzmann(np.full(len(pos), AR_MASS), 40.0, seed=2)
    sim = Simulation(model, pos, sp, L, velocities_nc=v0, dt=4.0, temperature=target, tdamp=100.0, chain=3)
    assert sim.core.thermostatted
    sim.run(2500)
    temps, ext, kin, thermo = [], [], [], []

    def record(s):
        temps.append(s.temperature)
        ext.append(s.conserved_energy)
        kin.append(s.kinetic_energy)
        thermo.append(s.thermostat_energy)

    record(sim)
    sim.run(15_000, record, every=10)
    temps, ext, kin, thermo = map(np.array, (temps, ext, kin, thermo))
    assert abs(temps.mean() / target - 1) <= 0.02
    n_f = 3 * len(pos) - 3
    assert temps.std() / target == pytest.approx(math.sqrt(2 / n_f), rel=0.25)
    assert np.max(np.abs(ext - ext[0])) / kin.mean() < 1e-3
    # The thermostat is doing work: its energy changes by far more than the drift.
    assert np.ptp(thermo) > 100 * np.max(np.abs(ext - ext[0]))


def test_nve_thermostat_energy_is_zero_and_nvt_reports_chain_state():
    model, pos, sp, L = argon_like(2)
    nve = Simulation(model, pos, sp, L, dt=4.0)
    assert nve.thermostat_energy == 0.0 and not nve.core.thermostatted
    nvt = Simulation(model, pos, sp, L, dt=4.0, temperature=100.0, chain=4)
    nvt.run(20)
    assert len(nvt.core.chain_positions) == 4 and len(nvt.core.chain_velocities) == 4
    assert np.isfinite(nvt.thermostat_energy) and nvt.thermostat_energy != 0.0


def test_single_nose_hoover_thermostat_conserves_extended_energy():
    """Chain length 1 (plain Nosé–Hoover): the extended energy is still conserved."""
    model, pos, sp, L = argon_like(3)
    sim = Simulation(model, pos, sp, L, dt=4.0, temperature=100.0, tdamp=100.0, chain=1, seed=5)
    ext, kin = [sim.conserved_energy], [sim.kinetic_energy]
    sim.run(3000, lambda s: (ext.append(s.conserved_energy), kin.append(s.kinetic_energy)), every=10)
    ext = np.array(ext)
    assert np.max(np.abs(ext - ext[0])) / np.mean(kin) < 1e-3
    assert np.ptp(kin) > 0.05 * np.mean(kin)


def two_species_argon(cross_ba: float):
    """argon_like with every other atom of a second species of the same mass; the wall coefficient of
    species B's loss for A neighbours is ``cross_ba`` (1000 as A's for B: a pair potential; else the
    forces are not reciprocal)."""
    _, pos, _, L = argon_like(3)
    sp = (np.arange(len(pos)) % 2).astype(np.int32)
    A = np.array([[1000.0, -0.05, 1000.0, -0.05], [cross_ba, -0.05, 1000.0, -0.05]])
    model = AgentLossModel(["Ar", "Kr"], Basis(LJ_FUNCS, r_cut=7.0, r_on=5.5), A, masses=[AR_MASS, AR_MASS])
    return model, pos, sp, L


def species_temperatures(sim, sp, steps):
    """Mean kinetic temperature (K) of each species over the last 3/4 of ``steps``."""
    t = []

    def record(s):
        ke = 0.5 * s.masses[:, None] * s.velocities ** 2 / ACCEL_SI  # eV per component (amu Å²/fs² -> eV)
        t.append([2 * ke[sp == g].sum() / (3 * np.count_nonzero(sp == g) * KB_EV) for g in (0, 1)])

    sim.run(steps, record, every=10)
    return np.array(t[len(t) // 4:]).mean(axis=0)


def test_per_species_thermostat_holds_each_species_where_one_chain_lets_them_drift_apart():
    """Non-reciprocal agent forces (B's loss pushes weakly on A, A's strongly on B) move kinetic
    energy from B to A: one thermostat holds only the total; one chain per species holds both."""
    model, pos, sp, L = two_species_argon(200.0)
    assert not model.conservative
    kw = dict(dt=4.0, temperature=100.0, tdamp=100.0, chain=1, seed=5)
    t_global = species_temperatures(Simulation(model, pos, sp, L, **kw), sp, 4000)
    t_split = species_temperatures(Simulation(model, pos, sp, L, per_species_thermostat=True, **kw), sp, 4000)
    assert t_global[0] > 130.0 and t_global[1] < 70.0  # measured 159 / 37 K
    np.testing.assert_allclose(t_split, 100.0, rtol=0.05)


def test_per_species_chains_conserve_extended_energy_and_checkpoint_one_chain_per_species():
    model, pos, sp, L = two_species_argon(1000.0)
    assert model.conservative
    sim = Simulation(model, pos, sp, L, dt=4.0, temperature=100.0, tdamp=100.0, chain=3, seed=5,
                     per_species_thermostat=True)
    assert len(sim.core.chain_positions) == 2 * 3 and len(sim.core.chain_velocities) == 2 * 3
    ext, kin = [sim.conserved_energy], [sim.kinetic_energy]
    sim.run(3000, lambda s: (ext.append(s.conserved_energy), kin.append(s.kinetic_energy)), every=10)
    assert np.max(np.abs(np.array(ext) - ext[0])) / np.mean(kin) < 1e-3
    assert np.all(np.array(sim.core.chain_positions) != 0.0)  # every chain moved
    with pytest.raises(ValueError, match=r"chain state of 3 positions and 3 velocities, expected 6 each \(chain "
                                         r"length 3 x one chain per species\)"):
        sim.core.set_chain_state([0.0] * 3, [0.0] * 3)  # a single chain's state
    with pytest.raises(ValueError, match="per_species_thermostat is for the 'nvt' ensemble"):
        Simulation(model, pos, sp, L, dt=4.0, per_species_thermostat=True)


def test_checkpoint_restart_continues_nvt_trajectory_bitwise():
    """100 steps in one go equal 50 steps, then a new simulation restored from the
    positions, velocities, chain state, step and time, then 50 more steps."""
    model, pos, sp, L = argon_like(3)
    ref = Simulation(model, pos, sp, L, dt=4.0, temperature=100.0, seed=5)
    ref.run(100)
    first = Simulation(model, pos, sp, L, dt=4.0, temperature=100.0, seed=5)
    first.run(50)
    again = Simulation(model, first.positions, sp, L, velocities_nc=first.velocities, dt=4.0, temperature=100.0)
    again.core.set_chain_state(first.core.chain_positions, first.core.chain_velocities)
    again.core.set_state(first.positions, first.velocities, first.step, first.time)
    again.run(50)
    assert again.step == 100 and again.time == pytest.approx(400.0)
    np.testing.assert_array_equal(again.positions, ref.positions)
    np.testing.assert_array_equal(again.velocities, ref.velocities)
    assert again.conserved_energy == ref.conserved_energy
    assert np.max(np.abs(ref.positions - pos)) > 0.01


# ----------------------------------------------------------------------------- (c) force clipping


def clipping_system():
    rng = np.random.default_rng(11)
    model, _, _, _ = argon_like(0)
    L = 15.0
    pos = R.random_configuration(60, L, rng, min_dist=2.2)
    sp = np.zeros(len(pos), dtype=np.int32)
    raw, _ = model.compute(pos, sp, L)
    cap = float(np.median(np.linalg.norm(raw, axis=1)))     # about half the atoms above the cap
    return model, pos, sp, L, cap


def clip(forces, cap):
    norm = np.linalg.norm(forces, axis=1)
    scale = np.where(norm > cap, cap / np.where(norm > 0, norm, 1.0), 1.0)
    return forces * scale[:, None], int(np.count_nonzero(norm > cap))


def test_force_cap_clips_forces_each_step_and_counts_clipped_atoms():
    model, pos, sp, L, cap = clipping_system()
    v0 = maxwell_boltzmann(np.full(len(pos), AR_MASS), 100.0, seed=4)
    sim = Simulation(model, pos, sp, L, velocities_nc=v0, dt=2.0, force_cap=cap)
    total_above = 0
    for _ in range(30):
        before = sim.clipped_count
        sim.run(1)
        raw, _ = model.compute(sim.positions, sp, L)
        expected, above = clip(raw, cap)
        total_above += above
        assert np.all(np.linalg.norm(sim.forces, axis=1) <= cap * (1 + 1e-12))
        # Clipping rescales the magnitude and keeps the direction.
        assert R.rel_diff(sim.forces, expected) <= 1e-12
        assert sim.clipped_count - before == above
    assert total_above > 30                                   # clipping really happened


def test_force_cap_applies_to_the_initial_forces():
    """The forces reported right after construction, which the first half kick uses,
    must already respect the cap, and those clips are counted."""
    model, pos, sp, L, cap = clipping_system()
    sim = Simulation(model, pos, sp, L, dt=2.0, force_cap=cap)
    raw, _ = model.compute(pos, sp, L)
    expected, above = clip(raw, cap)
    assert above > 5
    assert np.all(np.linalg.norm(sim.forces, axis=1) <= cap * (1 + 1e-12))
    assert R.rel_diff(sim.forces, expected) <= 1e-12
    assert sim.clipped_count == above


def test_first_step_with_force_cap_uses_clipped_forces():
    model, pos, sp, L, cap = clipping_system()
    dt = 2.0
    sim = Simulation(model, pos, sp, L, dt=dt, force_cap=cap)
    f0, _ = clip(model.compute(pos, sp, L)[0], cap)
    sim.run(1)
    f1 = sim.forces
    a = U.ACCEL_PER_FORCE_OVER_MASS / AR_MASS      # the build's own factor: this test is about clipping
    np.testing.assert_allclose(sim.positions - pos, 0.5 * dt**2 * f0 * a, rtol=1e-9,
                               atol=1e-12 * np.max(np.abs(f0 * a * dt**2)))
    np.testing.assert_allclose(sim.velocities, 0.5 * dt * (f0 + f1) * a, rtol=1e-10,
                               atol=1e-12 * np.max(np.abs(f0 * a * dt)))


# ----------------------------------------------------------------------------- (d) Maxwell–Boltzmann


def test_maxwell_boltzmann_reproducible_per_seed():
    m = np.full(100, 15.9994)
    a = maxwell_boltzmann(m, 300.0, seed=7)
    np.testing.assert_array_equal(a, maxwell_boltzmann(m, 300.0, seed=7))
    assert not np.array_equal(a, maxwell_boltzmann(m, 300.0, seed=8))
    assert a.shape == (100, 3)


def test_maxwell_boltzmann_zero_total_momentum_and_exact_temperature_with_rescale():
    rng = np.random.default_rng(0)
    m = rng.uniform(1.0, 40.0, size=500)
    v = maxwell_boltzmann(m, 250.0, seed=3, rescale=True)
    p = m @ v
    assert np.max(np.abs(p)) <= 1e-12 * np.sum(m * np.linalg.norm(v, axis=1))
    ke = 0.5 * np.sum(m[:, None] * v**2) * U.KINETIC_EV_PER_AMU_A2_FS2   # the build's own units
    assert 2 * ke / ((3 * len(m) - 3) * U.KB_EV_PER_K) == pytest.approx(250.0, rel=1e-12)


def test_maxwell_boltzmann_equipartition_heavier_atoms_slower():
    """Half hydrogen, half mass-100 atoms: <m v²> equal, <v²> in the mass ratio;
    without rescaling the temperature is still right to sampling accuracy."""
    m = np.tile([1.008, 100.0], 2000)
    v = maxwell_boltzmann(m, 300.0, seed=5, rescale=False)
    v2 = np.sum(v**2, axis=1)
    light, heavy = v2[m < 50].mean(), v2[m > 50].mean()
    assert light / heavy == pytest.approx(100.0 / 1.008, rel=0.1)
    assert (m * v2)[m < 50].mean() == pytest.approx((m * v2)[m > 50].mean(), rel=0.1)
    t = np.sum(m * v2) * U.KINETIC_EV_PER_AMU_A2_FS2 / ((3 * len(m) - 3) * U.KB_EV_PER_K)
    assert t == pytest.approx(300.0, rel=0.05)


def test_maxwell_boltzmann_rms_speed_matches_si_value():
    """Hydrogen at 300 K: v_rms = sqrt(3 k_B T / m) = 2.72 km/s = 0.0272 Å/fs."""
    m = np.full(2000, 1.008)
    v = maxwell_boltzmann(m, 300.0, seed=6, rescale=True)
    v_rms_si = math.sqrt(3 * KB_J * 300.0 / (1.008 * AMU_KG))          # m/s
    expected = v_rms_si * 1e10 / 1e15 * math.sqrt((3 * 2000 - 3) / (3 * 2000))   # Å/fs, 3n-3 dof
    assert math.sqrt(np.mean(np.sum(v**2, axis=1))) == pytest.approx(expected, rel=1e-9)


def test_simulation_with_temperature_starts_at_exactly_that_temperature():
    model, pos, sp, L = argon_like(4)
    sim = Simulation(model, pos, sp, L, dt=4.0, temperature=150.0, seed=12)
    assert sim.temperature == pytest.approx(150.0, rel=1e-12)
    assert np.max(np.abs(sim.velocities.T @ sim.masses)) < 1e-12
    cold = Simulation(model, pos, sp, L, dt=4.0)
    assert cold.kinetic_energy == 0.0


# ----------------------------------------------------------------------------- (e) non-conservative


def test_non_conservative_quadratic_model_reports_nan_potential_and_conserved_energy():
    rng = np.random.default_rng(0)
    pos, sp = R.water_box(8, 6.2, rng)
    F = 2 * 2
    basis = Basis((("exp", 1.0), ("power", 1.0)))
    quad = AgentLossModel(["O", "H"], basis, rng.normal(size=(2, F)),
                          np.stack([R.random_symmetric(F, rng, 0.01) for _ in range(2)]))
    asym = AgentLossModel(["O", "H"], basis, np.array([[1.0, 0.0, 2.0, 0.0], [0.5, 0.0, 1.0, 0.0]]))
    pair = AgentLossModel(["O", "H"], basis, np.array([[1.0, 0.0, 2.0, 0.0], [2.0, 0.0, 1.0, 0.0]]))
    for model, conservative in ((quad, False), (asym, False), (pair, True)):
        assert model.conservative == conservative
        sim = Simulation(model, pos, sp, None, dt=0.1)
        sim.run(3)
        assert np.isfinite(sim.kinetic_energy)
        if conservative:
            assert sim.potential_energy == pytest.approx(0.5 * np.sum(sim.losses), rel=1e-14)
            assert np.isfinite(sim.conserved_energy)
        else:
            assert math.isnan(sim.potential_energy)
            assert math.isnan(sim.conserved_energy)


# ----------------------------------------------------------------------------- (f) blow-ups


def test_run_that_blows_up_raises_naming_step_and_keeps_last_good_state():
    """Atom 1 flies at atom 0 with a weight r^-400: harmless at 0.2 Å (1e280), but at
    0.1 Å the weight overflows to inf and the forces become NaN/inf."""
    basis = Basis((("power", 400.0),))
    model = AgentLossModel.pair_potential(["A"], basis, np.full((1, 1, 1), 1e-300), masses=[1.0])
    pos = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    vel = np.array([[0.0, 0.0, 0.0], [-0.1, 0.0, 0.0]])
    sim = Simulation(model, pos, [0, 0], None, velocities_nc=vel, dt=1.0)
    states = {}

    def record(s):
        states[s.step] = (s.positions.copy(), s.velocities.copy(), s.forces.copy(), s.time)

    with pytest.raises(RuntimeError, match=r"step (\d+)") as err:
        sim.run(100, record, every=1)
    last = sim.step
    assert 40 <= last < 100
    assert f"step {last + 1}" in str(err.value)
    q, v, f, t = states[last]
    np.testing.assert_array_equal(sim.positions, q)
    np.testing.assert_array_equal(sim.velocities, v)
    np.testing.assert_array_equal(sim.forces, f)
    assert sim.time == t
    assert np.all(np.isfinite(sim.positions)) and np.all(np.isfinite(sim.forces))


def test_run_with_enormous_forces_fails_at_first_step_and_keeps_initial_state():
    basis = Basis((("power", 1.0),))
    model = AgentLossModel.pair_potential(["A"], basis, np.full((1, 1, 1), 1e300), masses=[1.0])
    pos = np.array([[0.0, 0.0, 0.0], [1e-3, 0.0, 0.0]])
    sim = Simulation(model, pos, [0, 0], None, dt=1e6)
    with pytest.raises(RuntimeError, match="step 1"):
        sim.run(10)
    assert sim.step == 0 and sim.time == 0.0
    np.testing.assert_array_equal(sim.positions, pos)
    np.testing.assert_array_equal(sim.velocities, np.zeros((2, 3)))


def test_run_in_which_two_atoms_collide_keeps_last_good_state():
    """Two atoms meet head-on at exactly the same point (distance 0) during run(), where
    the r^-1 invariant is undefined. (Zero coefficients: exactly straight-line motion,
    so they land on x = 0 together at step 4.) The error must leave the simulation at
    the last completed step, not half-way through step 4."""
    basis = Basis((("power", 1.0),))
    model = AgentLossModel.pair_potential(["A"], basis, np.zeros((1, 1, 1)), masses=[1.0])
    pos = np.array([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    vel = np.array([[0.25, 0.0, 0.0], [-0.25, 0.0, 0.0]])
    sim = Simulation(model, pos, [0, 0], None, velocities_nc=vel, dt=1.0)
    states = {}
    with pytest.raises((RuntimeError, ValueError), match="step 4|same position"):
        sim.run(10, lambda s: states.update({s.step: s.positions.copy()}), every=1)
    assert sim.step == 3
    np.testing.assert_array_equal(sim.positions, states[3])


# ----------------------------------------------------------------------------- (g) callbacks


@pytest.mark.parametrize("n, every, expected", [(100, 10, list(range(10, 101, 10))), (25, 10, [10, 20, 25]),
                                                (7, 0, [7]), (6, 1, [1, 2, 3, 4, 5, 6])])
def test_run_calls_callback_every_k_steps_with_right_step_numbers(n, every, expected):
    model = two_atom_model()
    sim = Simulation(model, [[0.0, 0, 0], [2.0, 0, 0]], [0, 0], None, dt=0.25)
    seen = []
    sim.run(n, lambda s: seen.append((s.step, s.time)), every=every)
    assert [st for st, _ in seen] == expected
    assert [t for _, t in seen] == pytest.approx([0.25 * st for st in expected])
    assert sim.step == n


def test_run_callback_receives_the_simulation_and_continues_counting():
    model = two_atom_model()
    sim = Simulation(model, [[0.0, 0, 0], [2.0, 0, 0]], [0, 0], None, dt=0.25)
    sim.run(4)
    got = []
    sim.run(6, lambda s: got.append(s), every=3)
    assert got == [sim, sim] and sim.step == 10
