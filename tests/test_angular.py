"""The angular (power-spectrum) descriptor: oracle, finite differences, invariances, meaning."""
from __future__ import annotations

import json

import numpy as np
import pytest

import mldyn
from mldyn import AgentLossModel, Angular, Radial, compute_features

import reference as R

TRICLINIC = np.array([[9.0, 0.0, 0.0], [1.5, 8.5, 0.0], [-1.0, 2.0, 8.0]])
FUNCS = (("gauss", 1.0), ("exp", 1.5), ("power", 1.0))


def configuration(n=40, cell=TRICLINIC, n_species=2, seed=1, periodic=True):
    rng = np.random.default_rng(seed)
    box = cell if cell is not None else np.eye(3) * 7.0
    pos = R.random_configuration(n, box, rng, min_dist=0.9, periodic=periodic)
    return pos, R.random_species(n, n_species, rng)


@pytest.mark.parametrize("cell", ["triclinic", "orthorhombic", "isolated"])
@pytest.mark.parametrize("l_max, r_on", [(1, None), (2, 3.0), (4, None), (4, 2.5)])
def test_phi_and_dphi_match_the_double_sum_over_neighbour_pairs(cell, l_max, r_on):
    """phi[l, a, b] = sum_ij w_i w_j P_l(u_i . u_j): the core's moments (spherical harmonics) against the
    oracle's direct double sum with Legendre polynomials, gradients included."""
    box = {"triclinic": TRICLINIC, "orthorhombic": np.diag([8.5, 9.0, 8.2]), "isolated": None}[cell]
    pos, sp = configuration(cell=box, n_species=3, periodic=box is not None)
    phi, dphi = compute_features(pos, sp, box, [Angular(FUNCS, l_max, 3.8, r_on)], n_species=3)
    rp, rdp = R.angular_invariants(pos, sp, FUNCS, l_max, 3, box, 3.8, r_on)
    assert phi.shape == (len(pos), l_max * 9 * 10 // 2)
    assert R.rel_diff(phi, rp) < 1e-13
    assert R.rel_diff(dphi, rdp) < 1e-13


@pytest.mark.parametrize("n_species, n_functions", [(2, 4), (2, 5), (2, 8), (3, 6)])
def test_phi_and_dphi_of_any_channel_count_match_the_oracle(n_species, n_functions):
    """8 channels (species x functions) take the kernels' one-vector rows, 10 and 16 two vectors, 18 the
    general loop."""
    funcs = tuple(("gauss", 0.5 + 0.25 * i) for i in range(n_functions))
    pos, sp = configuration(n_species=n_species, seed=7)
    phi, dphi = compute_features(pos, sp, TRICLINIC, [Angular(funcs, 3, 3.8)], n_species=n_species)
    rp, rdp = R.angular_invariants(pos, sp, funcs, 3, n_species, TRICLINIC, 3.8, None)
    C = n_species * n_functions
    assert phi.shape == (len(pos), 3 * C * (C + 1) // 2)
    assert R.rel_diff(phi, rp) < 1e-13
    assert R.rel_diff(dphi, rdp) < 1e-13


def test_dphi_is_the_central_finite_difference_of_phi_in_the_agents_own_position():
    pos, sp = configuration()
    desc = [Angular(FUNCS, 3, 3.8, 3.0)]
    phi, dphi = compute_features(pos, sp, TRICLINIC, desc, n_species=2)
    h = 1e-5
    for k in (0, 7, 23):
        for c in range(3):
            plus, minus = pos.copy(), pos.copy()
            plus[k, c] += h
            minus[k, c] -= h
            fd = (compute_features(plus, sp, TRICLINIC, desc, n_species=2, gradients=False)[0][k]
                  - compute_features(minus, sp, TRICLINIC, desc, n_species=2, gradients=False)[0][k]) / (2 * h)
            assert np.max(np.abs(fd - dphi[k, :, c])) < 1e-7 * max(1.0, np.max(np.abs(dphi[k])))


def mixed_model(seed=2):
    """Radial + angular descriptors, dense random quadratic loss."""
    rng = np.random.default_rng(seed)
    descs = [Radial((("exp", 1.0), ("gauss", 2.0)), r_cut=3.9, r_on=3.5), Angular((("gauss", 1.0), ("exp", 1.5)), 3, 3.5, 3.0)]
    F = sum(d.size(2) for d in descs)
    A = rng.normal(size=(2, F))
    B = np.stack([R.random_symmetric(F, rng, 0.01) for _ in range(2)])
    return AgentLossModel(["O", "H"], descs, A, B)


@pytest.mark.parametrize("neighbours", ["all_pairs", "cell_list"])
def test_forces_of_a_radial_plus_angular_model_match_the_oracle(neighbours):
    model = mixed_model()
    pos, sp = configuration(seed=3)
    f, losses = model.compute(pos, sp, TRICLINIC, neighbours)
    rp, rdp = R.model_features(model.to_dict(), pos, sp, TRICLINIC)
    rf, rl = R.forces_and_losses(rp, rdp, sp, model.A, model.B)
    assert R.rel_diff(f, rf) < 1e-13
    assert R.rel_diff(losses, rl) < 1e-13


@pytest.mark.parametrize("n_species, n_functions", [(3, 3), (2, 5), (2, 8), (3, 6)])
def test_forces_with_more_than_eight_channels_match_the_oracle(n_species, n_functions):
    """Channels = species x functions: 9, 10 and 16 take the kernels' two-vector path (9 to 16), 18 the
    general one; up to 8 the one-vector paths (the tests above)."""
    rng = np.random.default_rng(4)
    funcs = tuple(("gauss", 0.5 + 0.25 * i) for i in range(n_functions))
    descs = [Radial((("exp", 1.0),), r_cut=3.9), Angular(funcs, 2, 3.5)]
    F = sum(d.size(n_species) for d in descs)
    model = AgentLossModel(["O", "H", "Na"][:n_species], descs, rng.normal(size=(n_species, F)),
                           np.stack([R.random_symmetric(F, rng, 0.01) for _ in range(n_species)]))
    pos, sp = configuration(n_species=n_species, seed=6)
    f, losses = model.compute(pos, sp, TRICLINIC)
    rp, rdp = R.model_features(model.to_dict(), pos, sp, TRICLINIC)
    rf, rl = R.forces_and_losses(rp, rdp, sp, model.A, model.B)
    assert R.rel_diff(f, rf) < 1e-13
    assert R.rel_diff(losses, rl) < 1e-13


def test_force_is_minus_the_finite_difference_of_the_agents_own_loss():
    """F_k = -dH_k/dq_k (only the agent's own position moves)."""
    model = mixed_model(4)
    pos, sp = configuration(seed=5)
    f, _ = model.compute(pos, sp, TRICLINIC)
    h = 1e-5
    for k in (2, 11):
        fd = np.zeros(3)
        for c in range(3):
            plus, minus = pos.copy(), pos.copy()
            plus[k, c] += h
            minus[k, c] -= h
            fd[c] = -(model.compute(plus, sp, TRICLINIC)[1][k] - model.compute(minus, sp, TRICLINIC)[1][k]) / (2 * h)
        assert np.max(np.abs(fd - f[k])) < 1e-6 * max(1.0, np.max(np.abs(f[k])))


def test_rotating_an_isolated_cluster_rotates_forces_and_keeps_invariants():
    model = mixed_model(6)
    pos, sp = configuration(n=25, cell=None, seed=7, periodic=False)
    rot = R.random_rotation(np.random.default_rng(8))
    phi, _ = model.features(pos, sp, None)
    phi_r, _ = model.features(pos @ rot.T, sp, None)
    f, losses = model.compute(pos, sp, None)
    f_r, losses_r = model.compute(pos @ rot.T, sp, None)
    assert R.rel_diff(phi_r, phi) < 1e-12
    assert R.rel_diff(losses_r, losses) < 1e-12
    assert R.rel_diff(f_r, f @ rot.T) < 1e-12


def test_l1_is_the_product_of_dipole_moments_and_l2_of_quadrupoles():
    """Meaning of the first degrees: l = 1 gives c_a . c_b with c = sum w u; l = 2 gives
    3/2 T_a : T_b with T = sum w (u u^T - I/3)."""
    rng = np.random.default_rng(9)
    u = rng.normal(size=(5, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    r = rng.uniform(1.0, 3.0, size=5)
    pos = np.vstack([np.zeros(3), u * r[:, None]])
    sp = np.array([0, 0, 1, 0, 1, 1])
    fn = (("exp", 0.7),)
    phi, _ = compute_features(pos, sp, None, [Angular(fn, 2, 10.0)], n_species=2)
    w = np.exp(-0.7 * r)
    c = [np.sum((w * (sp[1:] == a))[:, None] * u, axis=0) for a in (0, 1)]
    T = [np.einsum("i,ij,ik->jk", w * (sp[1:] == a), u, u) - np.eye(3) / 3 * np.sum(w * (sp[1:] == a))
         for a in (0, 1)]
    # pairs (0,0), (0,1), (1,1) for l = 1, then l = 2
    want = [c[0] @ c[0], c[0] @ c[1], c[1] @ c[1], 1.5 * np.sum(T[0] * T[0]), 1.5 * np.sum(T[0] * T[1]),
            1.5 * np.sum(T[1] * T[1])]
    np.testing.assert_allclose(phi[0], want, rtol=1e-13, atol=1e-15)


def test_model_file_round_trip_with_an_angular_descriptor(tmp_path):
    model = mixed_model(10)
    path = model.save(tmp_path / "m.json")
    d = json.loads(path.read_text())
    assert [x["family"] for x in d["descriptors"]] == ["radial", "angular"] and d["descriptors"][1]["l_max"] == 3
    back = mldyn.model.load_model(path)
    assert back.descriptors == model.descriptors
    pos, sp = configuration(seed=11)
    np.testing.assert_array_equal(back.compute(pos, sp, TRICLINIC)[0], model.compute(pos, sp, TRICLINIC)[0])


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(l_max=0), "l_max must be between 1 and 6"),
    (lambda d: d.update(l_max=7), "l_max must be between 1 and 6"),
    (lambda d: d.update(l_max=1.5), "l_max must be a whole number"),
    (lambda d: d.pop("l_max"), "missing key 'l_max'"),
])
def test_bad_angular_descriptors_in_model_files_are_refused(mutate, message):
    d = mixed_model().to_dict()
    mutate(d["descriptors"][1])
    with pytest.raises(ValueError, match=f"bad.json: .*{message}"):
        AgentLossModel.from_text(json.dumps(d), "bad.json")
