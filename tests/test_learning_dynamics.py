"""The paper's learning dynamics, eq. (3.4): tau q'' = -q' + (tau/M) F.

Large tau recovers Newtonian dynamics (NVE); small tau is gradient descent, so the
agents come to rest where the gradient of their losses vanishes."""
import numpy as np
import pytest

from mldyn import AgentLossModel, Basis, Simulation, maxwell_boltzmann

from test_simulation import AR_MASS, argon_like


def test_learning_trajectory_approaches_nve_as_tau_grows():
    """The deviation from the NVE trajectory falls like 1/tau (friction v/tau)."""
    model, pos, sp, L = argon_like(0)
    v0 = maxwell_boltzmann(np.full(len(pos), AR_MASS), 80.0, seed=3)
    nve = Simulation(model, pos, sp, L, velocities_nc=v0, dt=4.0)
    nve.run(50)
    deviations = []
    for tau in (1e3, 1e4, 1e5, 1e6):
        learn = Simulation(model, pos, sp, L, velocities_nc=v0, dt=4.0, tau=tau)
        learn.run(50)
        deviations.append(np.max(np.abs(learn.positions - nve.positions)))
    ratios = np.array(deviations[:-1]) / np.array(deviations[1:])
    assert np.all((ratios > 7) & (ratios < 13)), deviations
    assert deviations[-1] < 1e-4  # Å after 200 fs with tau = 1 ns


def test_learning_with_small_tau_settles_agents_at_a_minimum_of_their_losses():
    # An isolated cluster of a pair potential with a minimum: with tau (1 ps) much shorter
    # than the run (80 ps), the agents come to rest where every agent's loss gradient vanishes.
    model, pos, sp, _ = argon_like(1, n_side=3)
    sim = Simulation(model, pos, sp, None, dt=4.0, tau=1000.0)
    f0 = np.max(np.linalg.norm(sim.forces, axis=1))
    losses0 = sim.losses.copy()
    sim.run(20000)
    assert np.max(np.linalg.norm(sim.forces, axis=1)) < 1e-9 * f0
    assert np.max(np.linalg.norm(sim.velocities, axis=1)) < 1e-12
    assert np.sum(sim.losses) < np.sum(losses0)  # the losses went down on the way


def test_learning_dynamics_dissipates_kinetic_energy_at_rate_set_by_tau():
    # Free particles (zero forces): v(t) = v0 exp(-t / tau) exactly.
    model = AgentLossModel.pair_potential(["A"], Basis((("exp", 1.0),), r_cut=3.0), np.zeros((1, 1, 1)), masses=[2.0])
    pos = np.array([[0.0, 0, 0], [10.0, 0, 0]])
    v0 = np.array([[0.01, 0, 0], [0, -0.02, 0]])
    sim = Simulation(model, pos, [0, 0], None, velocities_nc=v0, dt=0.5, tau=30.0)
    sim.run(200)
    np.testing.assert_allclose(sim.velocities, v0 * np.exp(-100.0 / 30.0), rtol=1e-12)
    assert np.isnan(sim.conserved_energy)


@pytest.mark.parametrize("kwargs, message", [
    (dict(ensemble="learn"), "needs a memory time tau"),
    (dict(ensemble="nvt"), "needs a target temperature"),
    (dict(ensemble="nve", tau=10.0), "tau is the memory time"),
    (dict(tau=-1.0), "tau must be > 0"),
    (dict(ensemble="npt"), "ensemble must be one of"),
    (dict(max_displacement=0.0), "max_displacement must be positive"),
])
def test_bad_ensemble_options_raise(kwargs, message):
    model, pos, sp, L = argon_like(0)
    with pytest.raises(ValueError, match=message):
        Simulation(model, pos, sp, L, **kwargs)


def test_step_moving_an_atom_too_far_is_refused_and_state_kept():
    model, pos, sp, L = argon_like(0)
    v = np.zeros_like(pos)
    v[5] = [0.3, 0, 0]  # 1.2 Å per 4 fs step
    sim = Simulation(model, pos, sp, L, velocities_nc=v, dt=4.0, max_displacement=0.5)
    with pytest.raises(RuntimeError, match=r"step 1 failed \(atom 5 moved 1\.(2|19)\d* Å in one step"):
        sim.run(3)
    assert sim.step == 0
    np.testing.assert_array_equal(sim.positions, pos)
