"""Forces are minus the derivative of each agent's own loss: F_k = -dH_k/dq_k.

H_k(q_k) is read from ``model.compute(...)[1][k]`` while only atom k moves; central
differences with h = 1e-5 Å must reproduce -F_k to 1e-6 relative. For a pair
potential the forces are also minus the gradient of the total energy 1/2 sum_k H_k.
"""
from __future__ import annotations

import numpy as np
import pytest

from mldyn import AgentLossModel, Basis, Simulation

import reference as R

H = 1e-5
RTOL = 1e-6
FUNCS = (("exp", 0.9), ("exp", 0.3), ("gauss", 1.4), ("power", 1.0), ("power", 2.0))
NAMES = ("O", "H", "Na")
TRICLINIC = np.array([[10.0, 0.0, 0.0], [3.0, 9.0, 0.0], [-2.0, 2.5, 8.5]])


def make_model(n_species, functions, r_cut, r_on, quadratic, rng):
    F = n_species * len(functions)
    A = rng.normal(scale=0.5, size=(n_species, F))             # not symmetric in the species pair
    B = np.stack([R.random_symmetric(F, rng, 0.05) for _ in range(n_species)]) if quadratic else None
    return AgentLossModel(NAMES[:n_species], Basis(functions, r_cut=r_cut, r_on=r_on), A, B)


def fd_agent_forces(model, pos, sp, cell, atoms):
    """-dH_k/dq_k by central differences, moving only atom k."""
    out = np.empty((len(atoms), 3))
    for row, k in enumerate(atoms):
        for c in range(3):
            plus, minus = pos.copy(), pos.copy()
            plus[k, c] += H
            minus[k, c] -= H
            hp = model.compute(plus, sp, cell)[1][k]
            hm = model.compute(minus, sp, cell)[1][k]
            out[row, c] = -(hp - hm) / (2 * H)
    return out


def system(kind, n_species, rng):
    if kind == "periodic-water":
        pos, sp = R.water_box(27, 9.3, rng)
        if n_species == 3:
            sp[rng.choice(np.flatnonzero(sp == 0), 4, replace=False)] = 2
        return pos, sp, 9.3, 4.5, 3.0
    if kind == "periodic-triclinic":
        pos = R.random_configuration(60, TRICLINIC, rng, min_dist=1.0)
        return pos, R.random_species(60, n_species, rng), TRICLINIC, 4.2, 2.5
    if kind == "isolated":
        pos, sp = R.water_box(8, 6.2, rng)
        if n_species == 3:
            sp[[0, 9]] = 2
        return pos, sp, None, None, None
    if kind == "isolated-switching":
        pos = R.random_configuration(50, 9.0, rng, min_dist=1.0, periodic=False)
        return pos, R.random_species(50, n_species, rng), None, 5.0, 3.5
    raise ValueError(kind)


def pick_atoms(sp, rng, n=8):
    """A few atoms including every species."""
    chosen = [int(np.flatnonzero(sp == s)[0]) for s in np.unique(sp)]
    rest = [i for i in rng.permutation(len(sp)) if i not in chosen]
    return chosen + rest[: n - len(chosen)]


@pytest.mark.parametrize("quadratic", [False, True], ids=["linear", "quadratic"])
@pytest.mark.parametrize("n_species", [2, 3])
@pytest.mark.parametrize("kind", ["periodic-water", "periodic-triclinic", "isolated", "isolated-switching"])
def test_force_is_minus_gradient_of_own_loss_central_differences(kind, n_species, quadratic):
    seed = ["periodic-water", "periodic-triclinic", "isolated", "isolated-switching"].index(kind)
    rng = np.random.default_rng(100 * seed + 10 * n_species + int(quadratic))
    pos, sp, cell, r_cut, r_on = system(kind, n_species, rng)
    assert len(np.unique(sp)) == n_species
    model = make_model(n_species, FUNCS, r_cut, r_on, quadratic, rng)
    assert model.quadratic == quadratic and not model.conservative
    forces, losses = model.compute(pos, sp, cell)
    atoms = pick_atoms(sp, rng)
    fd = fd_agent_forces(model, pos, sp, cell, atoms)
    exact = forces[atoms]
    assert np.max(np.abs(exact)) > 1e-3                      # a non-trivial comparison
    assert R.rel_diff(fd, exact) <= RTOL
    # And both agree with the oracle's (A, B) contraction.
    ref_f, ref_l = R.model_forces(pos, sp, FUNCS, n_species, model.A, model.B, cell, r_cut, r_on)
    assert R.rel_diff(forces, ref_f) <= 1e-10
    assert R.rel_diff(losses, ref_l) <= 1e-10


def pair_model(n_species, r_cut, r_on, rng):
    """Repulsive exp and r^-2 terms, a weak Gaussian attraction; species pair asymmetric input."""
    M = len(FUNCS)
    c = np.zeros((n_species, n_species, M))
    c[..., 0] = rng.uniform(20, 40, size=(n_species, n_species))
    c[..., 2] = -rng.uniform(0.05, 0.2, size=(n_species, n_species))
    c[..., 4] = rng.uniform(0.1, 0.5, size=(n_species, n_species))
    model = AgentLossModel.pair_potential(NAMES[:n_species], Basis(FUNCS, r_cut=r_cut, r_on=r_on), c)
    return model, c


def total_energy(model, pos, sp, cell):
    return 0.5 * float(np.sum(model.compute(pos, sp, cell)[1]))


@pytest.mark.parametrize("kind", ["periodic-water", "periodic-triclinic", "isolated", "isolated-switching"])
def test_pair_potential_forces_are_minus_gradient_of_total_energy(kind):
    rng = np.random.default_rng(77)
    n_species = 3 if kind == "periodic-triclinic" else 2
    pos, sp, cell, r_cut, r_on = system(kind, n_species, rng)
    model, c = pair_model(n_species, r_cut, r_on, rng)
    assert model.conservative
    forces, _ = model.compute(pos, sp, cell)
    atoms = pick_atoms(sp, rng)
    fd = np.empty((len(atoms), 3))
    for row, k in enumerate(atoms):
        for a in range(3):
            plus, minus = pos.copy(), pos.copy()
            plus[k, a] += H
            minus[k, a] -= H
            fd[row, a] = -(total_energy(model, plus, sp, cell) - total_energy(model, minus, sp, cell)) / (2 * H)
    assert R.rel_diff(fd, forces[atoms]) <= RTOL
    # Newton's third law: a pair potential exerts no net force.
    assert np.max(np.abs(forces.sum(axis=0))) <= 1e-11 * np.max(np.abs(forces))
    # The energy is the oracle's pair sum, and the simulation reports the same number.
    e = total_energy(model, pos, sp, cell)
    assert e == pytest.approx(R.pair_energy(pos, sp, FUNCS, c, cell, r_cut, r_on), rel=1e-11)
    sim = Simulation(model, pos, sp, cell, dt=0.5)
    assert sim.potential_energy == pytest.approx(e, rel=1e-13)


def test_agent_forces_of_asymmetric_model_are_not_a_global_gradient():
    """With A not symmetric in the species pair the forces differ from -grad(1/2 sum H_k):
    the finite-difference check above is not trivially satisfied by any energy."""
    rng = np.random.default_rng(3)
    pos, sp, cell, r_cut, r_on = system("isolated", 2, rng)
    model = make_model(2, FUNCS, r_cut, r_on, False, rng)
    forces, _ = model.compute(pos, sp, cell)
    k = 0
    fd = np.empty(3)
    for a in range(3):
        plus, minus = pos.copy(), pos.copy()
        plus[k, a] += H
        minus[k, a] -= H
        fd[a] = -(total_energy(model, plus, sp, cell) - total_energy(model, minus, sp, cell)) / (2 * H)
    assert np.max(np.abs(fd - forces[k])) > 1e-3 * np.max(np.abs(forces[k]))
