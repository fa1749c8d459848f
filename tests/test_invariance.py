"""Symmetries of the agent-loss model: translations, relabelling atoms, rotations.

Losses are scalars built from distances: they must not change; forces are vectors
attached to atoms: they permute with the atoms and rotate with the frame.
"""
from __future__ import annotations

import numpy as np
import pytest

from mldyn import AgentLossModel, Basis, compute_invariants

import reference as R

TOL = 1e-12
FUNCS = (("exp", 0.8), ("gauss", 1.5), ("gauss", 3.0), ("power", 1.0), ("power", 2.0))
TRICLINIC = np.array([[10.0, 0.0, 0.0], [3.0, 9.0, 0.0], [-2.0, 2.5, 8.5]])


def quadratic_model(n_species, r_cut, r_on, rng):
    F = n_species * len(FUNCS)
    A = rng.normal(size=(n_species, F))
    B = np.stack([R.random_symmetric(F, rng, 0.05) for _ in range(n_species)])
    return AgentLossModel(["O", "H", "Na"][:n_species], Basis(FUNCS, r_cut=r_cut, r_on=r_on), A, B)


SYSTEMS = {
    "orthorhombic": dict(cell=(9.3, 9.3, 9.3), r_cut=4.5, r_on=3.0),
    "triclinic": dict(cell=TRICLINIC, r_cut=4.2, r_on=3.0),
    "isolated": dict(cell=None, r_cut=None, r_on=None),
    "isolated-cutoff": dict(cell=None, r_cut=5.0, r_on=4.0),
}


def configuration(kind, rng):
    p = SYSTEMS[kind]
    if p["cell"] is None:
        pos, sp = R.water_box(12, 7.0, rng)
    else:
        pos, sp = R.water_box(27, p["cell"], rng)
    sp[:2] = (0, 2)                       # three species
    return pos, sp, p


@pytest.mark.parametrize("kind", list(SYSTEMS))
def test_rigid_translation_leaves_forces_and_losses_unchanged(kind):
    rng = np.random.default_rng(1)
    pos, sp, p = configuration(kind, rng)
    model = quadratic_model(3, p["r_cut"], p["r_on"], rng)
    f0, l0 = model.compute(pos, sp, p["cell"])
    for shift in (rng.uniform(-20, 20, size=3), np.array([123.4, -56.7, 8.9])):
        f1, l1 = model.compute(pos + shift, sp, p["cell"])
        assert R.rel_diff(f1, f0) <= TOL
        assert R.rel_diff(l1, l0) <= TOL
    assert np.max(np.abs(f0)) > 0.1


@pytest.mark.parametrize("kind", list(SYSTEMS))
def test_permuting_atoms_permutes_forces_and_losses(kind):
    rng = np.random.default_rng(2)
    pos, sp, p = configuration(kind, rng)
    model = quadratic_model(3, p["r_cut"], p["r_on"], rng)
    f0, l0 = model.compute(pos, sp, p["cell"])
    perm = rng.permutation(len(pos))
    f1, l1 = model.compute(pos[perm], sp[perm], p["cell"])
    assert R.rel_diff(f1, f0[perm]) <= TOL
    assert R.rel_diff(l1, l0[perm]) <= TOL
    # Permuting positions without the species changes the physics (the test can fail).
    f2, _ = model.compute(pos[perm], sp, p["cell"])
    assert R.rel_diff(f2, f0[perm]) > 1e-3


@pytest.mark.parametrize("cutoff", [(None, None), (5.0, 4.0)], ids=["no-cutoff", "switched-cutoff"])
def test_rigid_rotation_of_isolated_cluster_rotates_forces_keeps_losses(cutoff):
    rng = np.random.default_rng(3)
    pos, sp = R.water_box(12, 7.0, rng)
    model = quadratic_model(2, *cutoff, rng)
    f0, l0 = model.compute(pos, sp, None)
    centre = pos.mean(axis=0)
    for _ in range(3):
        rot = R.random_rotation(rng)
        rotated = (pos - centre) @ rot.T + centre
        f1, l1 = model.compute(rotated, sp, None)
        assert R.rel_diff(l1, l0) <= TOL
        assert R.rel_diff(f1, f0 @ rot.T) <= TOL
    # Invariants are radial, so a mirror image has the same losses and mirrored forces.
    mirror = np.diag([1.0, -1.0, 1.0])
    f2, l2 = model.compute(pos @ mirror, sp, None)
    assert R.rel_diff(l2, l0) <= TOL
    assert R.rel_diff(f2, f0 @ mirror) <= TOL


@pytest.mark.parametrize("cell", [np.diag([9.0, 10.0, 11.0]), TRICLINIC], ids=["orthorhombic", "triclinic"])
def test_rotating_periodic_cell_with_atoms_rotates_forces_keeps_losses(cell):
    """A cell rotated in space together with its atoms (an orthorhombic box becomes a
    general cell matrix): losses unchanged, forces rotated."""
    rng = np.random.default_rng(4)
    pos, sp = R.water_box(27, cell, rng)
    model = quadratic_model(2, 4.2, 3.0, rng)
    f0, l0 = model.compute(pos, sp, cell)
    for _ in range(2):
        rot = R.random_rotation(rng)
        f1, l1 = model.compute(pos @ rot.T, sp, cell @ rot.T)
        assert R.rel_diff(l1, l0) <= 1e-11
        assert R.rel_diff(f1, f0 @ rot.T) <= 1e-11


@pytest.mark.parametrize("cell", [(9.3, 9.3, 9.3), TRICLINIC], ids=["orthorhombic", "triclinic"])
def test_translating_single_atoms_by_lattice_vectors_changes_nothing(cell):
    rng = np.random.default_rng(5)
    pos, sp = R.water_box(27, cell, rng)
    h = R.cell_matrix(cell)
    phi0, dphi0 = compute_invariants(pos, sp, cell, Basis(FUNCS, r_cut=4.2, r_on=3.0), n_species=2)
    moved = pos + rng.integers(-3, 4, size=(len(pos), 3)) @ h
    phi1, dphi1 = compute_invariants(moved, sp, cell, Basis(FUNCS, r_cut=4.2, r_on=3.0), n_species=2)
    assert R.rel_diff(phi1, phi0) <= TOL
    assert R.rel_diff(dphi1, dphi0) <= TOL
