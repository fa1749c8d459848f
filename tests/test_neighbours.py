"""Neighbour search: the O(N) cell list must give the same pairs as the O(N^2) loop.

Agreement is measured as max |x_cell - x_all| / max |x_all| <= 1e-12 on phi, dphi
and the model's forces; the small systems are also checked against the oracle.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import mldyn
from mldyn import AgentLossModel, Basis, _core, make_cell
from mldyn.invariants import feature_evaluator

import reference as R

TOL = 1e-12
FUNCS = (("exp", 1.0), ("gauss", 1.5), ("power", 1.0), ("power", 2.0))
TRICLINIC = np.array([[10.0, 0.0, 0.0], [3.0, 9.0, 0.0], [-2.0, 2.5, 8.5]])


def run_method(pos, sp, n_species, functions, cell, r_cut, r_on, method):
    """phi, dphi from a core calculator, and the method it reports."""
    c = make_cell(cell)
    calc = feature_evaluator(Basis(functions, r_cut=r_cut, r_on=r_on), n_species, c)
    phi, dphi = calc.features(c, np.ascontiguousarray(pos, dtype=float), np.asarray(sp, dtype=np.int32), method,
                              True)
    M = len(functions)
    phi, dphi = phi.reshape(len(pos), n_species, M), dphi.reshape(len(pos), n_species, M, 3)
    return phi, dphi, calc.last_method


def random_model(functions, n_species, r_cut, r_on, rng):
    F = n_species * len(functions)
    A = rng.normal(size=(n_species, F))
    B = np.stack([R.random_symmetric(F, rng, 0.1) for _ in range(n_species)])
    masses = [1.0] * n_species
    return AgentLossModel([f"X{i}" for i in range(n_species)], Basis(functions, r_cut=r_cut, r_on=r_on), A, B,
                          masses=masses)


def assert_methods_agree(pos, sp, n_species, functions, cell, r_cut, r_on, oracle=False, seed=0):
    phi_a, dphi_a, m_a = run_method(pos, sp, n_species, functions, cell, r_cut, r_on, "all_pairs")
    phi_c, dphi_c, m_c = run_method(pos, sp, n_species, functions, cell, r_cut, r_on, "cell_list")
    assert (m_a, m_c) == ("all_pairs", "cell_list")
    assert np.count_nonzero(phi_a) > 0
    assert R.rel_diff(phi_c, phi_a) <= TOL
    assert R.rel_diff(dphi_c, dphi_a) <= TOL
    model = random_model(functions, n_species, r_cut, r_on, np.random.default_rng(seed))
    f_a, l_a = model.compute(pos, sp, cell, neighbours="all_pairs")
    f_c, l_c = model.compute(pos, sp, cell, neighbours="cell_list")
    assert R.rel_diff(f_c, f_a) <= TOL
    assert R.rel_diff(l_c, l_a) <= TOL
    if oracle:
        ref_phi, ref_dphi = R.invariants(pos, sp, functions, n_species, cell, r_cut, r_on)
        assert R.rel_diff(phi_a, ref_phi) <= 1e-10
        assert R.rel_diff(dphi_a, ref_dphi) <= 1e-10
    return phi_a, dphi_a


def bins_along_axes(cell, r_cut):
    """Bins per axis the cell list uses: floor(perpendicular width / cutoff)."""
    return np.floor(R.perpendicular_widths(cell) / r_cut).astype(int)


# --------------------------------------------------------------------------- many bins


def test_cell_list_matches_all_pairs_2000_atom_water_box_many_bins():
    rng = np.random.default_rng(1)
    cell = 27.2
    pos, sp = R.water_box(667, cell, rng)
    assert len(pos) >= 2000
    assert np.all(bins_along_axes(cell, 4.0) >= 6)
    assert_methods_agree(pos, sp, 2, mldyn.PAPER_FUNCTIONS, cell, 4.0, 3.0)


def test_cell_list_matches_all_pairs_2000_atom_triclinic_box_many_bins():
    rng = np.random.default_rng(2)
    cell = TRICLINIC * 3.0
    pos, sp = R.water_box(667, cell, rng)
    assert np.all(bins_along_axes(cell, 4.0) >= 6)
    assert_methods_agree(pos, sp, 2, FUNCS, cell, 4.0, None)


# --------------------------------------------------------------------------- few bins


@pytest.mark.parametrize("box", [pytest.param((12.0, 12.0, 12.0), id="2x2x2-bins"),
                                 pytest.param((12.0, 21.0, 16.3), id="2x5x4-bins")])
@pytest.mark.parametrize("r_on", [None, 3.0])
def test_cell_list_matches_all_pairs_and_oracle_with_two_bins_along_an_axis(box, r_on):
    """Cutoff just above a third of the width: 2 bins, so bins -1 and +1 coincide."""
    r_cut = 4.01
    nb = bins_along_axes(box, r_cut)
    assert nb[0] == 2
    rng = np.random.default_rng(3)
    pos = R.random_configuration(150, box, rng, min_dist=0.9)
    sp = R.random_species(len(pos), 3, rng)
    assert_methods_agree(pos, sp, 3, FUNCS, box, r_cut, r_on, oracle=True)


def test_cell_list_matches_all_pairs_and_oracle_triclinic_two_bins():
    r_cut = 4.2                                                        # widths 9.05, 8.63, 8.5 -> 2 bins each
    assert np.all(bins_along_axes(TRICLINIC, r_cut) == 2)
    rng = np.random.default_rng(4)
    pos = R.random_configuration(80, TRICLINIC, rng, min_dist=0.9)
    sp = R.random_species(len(pos), 2, rng)
    assert_methods_agree(pos, sp, 2, FUNCS, TRICLINIC, r_cut, 3.0, oracle=True)


# --------------------------------------------------------------------------- isolated


@pytest.mark.parametrize("r_on", [None, 3.2])
def test_cell_list_matches_all_pairs_and_oracle_isolated_cluster_finite_cutoff(r_on):
    rng = np.random.default_rng(5)
    pos = R.random_configuration(300, 18.0, rng, min_dist=1.0, periodic=False) - 9.0
    sp = R.random_species(len(pos), 2, rng)
    assert_methods_agree(pos, sp, 2, FUNCS, None, 4.0, r_on, oracle=True)


def test_cell_list_matches_all_pairs_isolated_flat_cluster_single_bin_axis():
    """A slab thinner than the cutoff has one bin along z."""
    rng = np.random.default_rng(6)
    pos = R.random_configuration(120, (20.0, 20.0, 2.0), rng, min_dist=1.0, periodic=False)
    sp = R.random_species(len(pos), 2, rng)
    assert_methods_agree(pos, sp, 2, FUNCS, None, 3.5, None, oracle=True)


@pytest.mark.parametrize("cell", [pytest.param(None, id="isolated"), pytest.param(2.1e5, id="periodic")])
def test_cell_list_sparse_system_does_not_allocate_bins_for_empty_space(cell):
    """A few atoms spread over 1e5 Å (e.g. after evaporation, or a dilute gas) with a
    1.5 Å cutoff: the result is trivial (one bonded pair), so the cell list must not
    need ~(1e5/1.5)^3 bins for it."""
    pos = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1e5, 1e5, 1e5], [-1e5, 5e4, -1e5]])
    sp = np.zeros(4, dtype=np.int32)
    funcs = (("exp", 1.0),)
    phi_a, _, _ = run_method(pos, sp, 1, funcs, cell, 1.5, None, "all_pairs")
    phi_c, _, method = run_method(pos, sp, 1, funcs, cell, 1.5, None, "cell_list")
    assert method == "cell_list"
    np.testing.assert_array_equal(phi_c, phi_a)
    np.testing.assert_allclose(phi_a[:2, 0, 0], math.exp(-1.0), rtol=1e-15)
    assert np.all(phi_a[2:] == 0.0)


# --------------------------------------------------------------------------- images and edges


@pytest.mark.parametrize("cell", [pytest.param((12.0, 13.0, 14.0), id="orthorhombic"),
                                  pytest.param(TRICLINIC * 1.3, id="triclinic")])
def test_atoms_far_outside_home_cell_give_same_results_both_methods(cell):
    """Adding integer multiples of cell vectors to positions changes nothing."""
    rng = np.random.default_rng(7)
    h = R.cell_matrix(cell)
    pos = R.random_configuration(150, h, rng, min_dist=0.9)
    sp = R.random_species(len(pos), 2, rng)
    r_cut = 0.9 * R.max_cutoff(h)
    shifted = pos.copy()
    moved = rng.choice(len(pos), size=60, replace=False)
    shifts = rng.integers(-7, 8, size=(60, 3))
    shifts[0] = (7, -7, 7)
    shifted[moved] += shifts @ h
    # And a few atoms exactly on the faces of the home cell (fractional 0 and 1).
    shifted[moved[:3]] = np.array([[0.0, 0.3, 0.5], [1.0, 0.5, 0.0], [0.5, 1.0, 1.0]]) @ h
    pos[moved[:3]] = shifted[moved[:3]]
    phi_s, dphi_s = assert_methods_agree(shifted, sp, 2, FUNCS, cell, r_cut, r_cut - 1.0, oracle=True)
    phi_0, dphi_0, _ = run_method(pos, sp, 2, FUNCS, cell, r_cut, r_cut - 1.0, "cell_list")
    assert R.rel_diff(phi_s, phi_0) <= TOL
    assert R.rel_diff(dphi_s, dphi_0) <= TOL


@pytest.mark.parametrize("box", [pytest.param(12.0, id="3-bins"), pytest.param(8.0, id="2-bins-cutoff-half-box")])
def test_pair_exactly_at_cutoff_is_excluded_by_both_methods(box):
    """r < r_cut is inside: a pair at exactly r_cut (hard cutoff) is not counted, one a
    rounding step closer is, and both neighbour methods agree."""
    r_cut = 4.0
    funcs = (("exp", 1.0), ("power", 1.0))
    sp = np.zeros(3, dtype=np.int32)
    for x, inside in ((r_cut, False), (np.nextafter(r_cut, 0.0), True)):
        pos = np.array([[0.0, 1.0, 1.0], [x, 1.0, 1.0], [2.0, 1.0 + 0.5 * box, 1.0 + 0.5 * box]])
        phi_a, dphi_a, _ = run_method(pos, sp, 1, funcs, box, r_cut, None, "all_pairs")
        phi_c, dphi_c, _ = run_method(pos, sp, 1, funcs, box, r_cut, None, "cell_list")
        np.testing.assert_array_equal(phi_c, phi_a)
        np.testing.assert_array_equal(dphi_c, dphi_a)
        expected = np.array([math.exp(-x), 1.0 / x]) if inside else np.zeros(2)
        np.testing.assert_allclose(phi_a[0, 0], expected, rtol=1e-15)
        np.testing.assert_allclose(phi_a[1, 0], expected, rtol=1e-15)
    # The same pair seen through the periodic boundary: atoms at -r_cut/2 and +r_cut/2 wrapped.
    pos = np.array([[box - 0.5 * r_cut, 1.0, 1.0], [0.5 * r_cut, 1.0, 1.0]])
    phi_a, _, _ = run_method(pos, sp[:2], 1, funcs, box, r_cut, None, "all_pairs")
    phi_c, _, _ = run_method(pos, sp[:2], 1, funcs, box, r_cut, None, "cell_list")
    np.testing.assert_array_equal(phi_c, phi_a)
    assert np.all(phi_a == 0.0)


# --------------------------------------------------------------------------- method selection


def test_last_method_reports_explicit_methods():
    rng = np.random.default_rng(8)
    pos = R.random_configuration(50, 12.0, rng)
    sp = np.zeros(50, dtype=np.int32)
    for method in ("all_pairs", "cell_list"):
        _, _, used = run_method(pos, sp, 1, FUNCS, 12.0, 4.0, None, method)
        assert used == method


def test_auto_picks_cell_list_for_large_box_and_matches_it_bitwise():
    rng = np.random.default_rng(9)
    pos, sp = R.water_box(667, 27.2, rng)
    phi_auto, dphi_auto, used = run_method(pos, sp, 2, FUNCS, 27.2, 4.0, 3.0, "auto")
    assert used == "cell_list"
    phi_c, dphi_c, _ = run_method(pos, sp, 2, FUNCS, 27.2, 4.0, 3.0, "cell_list")
    np.testing.assert_array_equal(phi_auto, phi_c)
    np.testing.assert_array_equal(dphi_auto, dphi_c)


@pytest.mark.parametrize("case", ["small", "two-bins", "isolated-no-cutoff"])
def test_auto_picks_all_pairs_when_cell_list_does_not_pay_and_matches_it_bitwise(case):
    rng = np.random.default_rng(10)
    if case == "small":
        cell, r_cut = 27.2, 4.0
        pos, sp = R.water_box(100, cell, rng)
    elif case == "two-bins":
        cell, r_cut = (20.0, 20.0, 9.0), 4.4          # 2 bins along z, 2000+ atoms
        pos, sp = R.water_box(700, cell, rng, jitter=0.05)
    else:
        cell, r_cut = None, None
        pos, sp = R.water_box(27, 9.3, rng)
    phi_auto, dphi_auto, used = run_method(pos, sp, 2, FUNCS, cell, r_cut, None, "auto")
    assert used == "all_pairs"
    phi_a, dphi_a, _ = run_method(pos, sp, 2, FUNCS, cell, r_cut, None, "all_pairs")
    np.testing.assert_array_equal(phi_auto, phi_a)
    np.testing.assert_array_equal(dphi_auto, dphi_a)


def test_cell_list_without_cutoff_is_rejected():
    pos = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    with pytest.raises(ValueError, match="finite cutoff"):
        run_method(pos, [0, 0], 1, FUNCS, None, None, None, "cell_list")


# ----------------------------------------------------------------------------- Verlet list reuse in MD


def test_cell_list_verlet_list_is_reused_in_md_and_rebuilt_when_atoms_move():
    """In MD the cell-list method keeps its Verlet list (cutoff + skin) while atoms move
    less than skin/2, rebuilds it after, and every step's forces equal all-pairs forces."""
    rng = np.random.default_rng(11)
    L, n = 14.0, 1200
    pos = R.random_configuration(n, np.eye(3) * L, rng, min_dist=0.9)
    species = rng.integers(0, 2, n).astype(np.int32)
    basis = mldyn.Basis((("exp", 1.0), ("gauss", 1.5), ("power", 2.0)), r_cut=4.0, r_on=3.0)
    F = 2 * len(basis)
    # Positive A: every weight falls with distance, so agents repel and the hot run stays
    # stable (a random-sign model lets atoms collide, and where depends on rounding).
    A = np.abs(rng.normal(size=(2, F))) * 0.01
    B = rng.normal(size=(2, F, F)) * 1e-4
    model = mldyn.AgentLossModel(["A", "B"], basis, A, B + B.transpose(0, 2, 1), masses=[10.0, 10.0])
    sim = mldyn.Simulation(model, pos, species, L, dt=2.0, temperature=3000.0, seed=1, neighbours="cell_list")
    builds = []
    for _ in range(8):
        sim.run(25)
        ref = model.forces(sim.positions, species, L, neighbours="all_pairs")
        np.testing.assert_allclose(sim.forces, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
        builds.append(sim.core.neighbour_list_builds)
    assert builds[-1] < 8 * 25 / 2          # reused over many steps...
    assert builds[-1] > builds[0] >= 1       # ...and rebuilt once atoms had moved


def test_pair_at_exactly_half_the_box_counts_the_same_wherever_it_sits_in_a_simd_batch():
    """Two atoms half a box apart (the cutoff, up to the last bit): whether the pair counts is
    decided by rounding, but it must be decided the same way whatever else is in the system
    (the pair then lands in a SIMD body or in a scalar remainder) and by both methods.
    (A contracted FMA in the minimum-image rounding once made this depend on the batch.)"""
    L = 15.6404
    pair = np.array([[4.887625, 8.797725, 4.887625], [4.887625, 8.797725, 12.707825]])
    far = np.array([[1.0 + 0.37 * k, 1.0, 1.0] for k in range(20)])  # farther than L/2 from both
    basis = Basis((("exp", 1e-14),), r_cut=L / 2)  # weight 1 per neighbour: phi counts them
    counts = set()
    for method in ("all_pairs", "cell_list"):
        for extra in range(18):
            pos = np.vstack([pair, far[:extra]])
            phi, _ = mldyn.compute_invariants(pos, np.zeros(len(pos), np.int32), L, basis=basis, n_species=1,
                                              neighbours=method, gradients=False)
            counts.add((method == "all_pairs", round(phi[0, 0, 0]), round(phi[1, 0, 0])))
    assert {c[1:] for c in counts} in ({(0, 0)}, {(1, 1)}), counts
