"""Radial invariants phi and their self-gradients dphi against the numpy oracle.

phi[k, a, m] = sum_{i of species a, i != k, r_ki < r_cut} w_m(r_ki) S(r_ki),
dphi[k, a, m, :] = d phi[k, a, m] / d q_k, r the minimum-image distance (Å).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import mldyn
from mldyn import Basis, compute_invariants, make_cell

import reference as R

RTOL = 1e-10

# exp, Gaussian and power-law weights, including a non-integer power (std::pow path).
FUNCS = (("exp", 1.0), ("exp", 0.35), ("gauss", 1.2), ("gauss", 3.0), ("power", 1.0), ("power", 2.0),
         ("power", 1.5))
PAPER = mldyn.PAPER_FUNCTIONS

ORTHO = (11.0, 12.0, 13.0)
TRICLINIC = np.array([[10.0, 0.0, 0.0], [3.0, 9.0, 0.0], [-2.0, 2.5, 8.5]])


def assert_matches_oracle(pos, species, n_species, functions, cell, r_cut, r_on, neighbours="auto"):
    basis = Basis(functions, r_cut=r_cut, r_on=r_on)
    phi, dphi = compute_invariants(pos, species, cell, basis, n_species=n_species, neighbours=neighbours)
    ref_phi, ref_dphi = R.invariants(pos, species, functions, n_species, cell, r_cut, r_on)
    assert phi.shape == (len(pos), n_species, len(functions))
    assert dphi.shape == (len(pos), n_species, len(functions), 3)
    # Every agent must see some neighbours, or the comparison would be vacuous.
    assert np.all(ref_phi.sum(axis=(1, 2)) > 0)
    assert R.rel_diff(phi, ref_phi) <= RTOL
    assert R.rel_diff(dphi, ref_dphi) <= RTOL
    # Per-function scale too: the power laws dominate the global maximum.
    for m in range(len(functions)):
        assert R.rel_diff(phi[..., m], ref_phi[..., m]) <= RTOL
        assert R.rel_diff(dphi[..., m, :], ref_dphi[..., m, :]) <= RTOL


SWITCHING = [pytest.param(None, id="hard-cutoff"), pytest.param("smooth", id="smooth-switching")]


@pytest.mark.parametrize("n_species", [1, 2, 3])
@pytest.mark.parametrize("switching", SWITCHING)
def test_phi_dphi_match_oracle_random_orthorhombic(n_species, switching):
    rng = np.random.default_rng(10 + n_species)
    pos = R.random_configuration(70, ORTHO, rng, min_dist=0.9)
    sp = R.random_species(len(pos), n_species, rng)
    r_on = 3.5 if switching else None
    assert_matches_oracle(pos, sp, n_species, FUNCS, ORTHO, 5.0, r_on)


@pytest.mark.parametrize("n_species", [1, 2, 3])
@pytest.mark.parametrize("switching", SWITCHING)
def test_phi_dphi_match_oracle_random_triclinic(n_species, switching):
    rng = np.random.default_rng(20 + n_species)
    pos = R.random_configuration(60, TRICLINIC, rng, min_dist=0.9)
    sp = R.random_species(len(pos), n_species, rng)
    r_cut = 4.2
    assert r_cut <= make_cell(TRICLINIC).max_cutoff
    r_on = 2.8 if switching else None
    assert_matches_oracle(pos, sp, n_species, FUNCS, TRICLINIC, r_cut, r_on)


@pytest.mark.parametrize("neighbours", ["all_pairs", "cell_list"])
def test_phi_dphi_match_oracle_left_handed_triclinic_cell(neighbours):
    """Cell vectors with a negative determinant are as valid as right-handed ones."""
    cell = TRICLINIC * np.array([[1.0], [-1.0], [1.0]])
    assert np.linalg.det(cell) < 0
    rng = np.random.default_rng(25)
    pos = R.random_configuration(60, cell, rng, min_dist=0.9)
    sp = R.random_species(len(pos), 2, rng)
    assert_matches_oracle(pos, sp, 2, FUNCS, cell, 4.0, 3.0, neighbours=neighbours)


@pytest.mark.parametrize("n_species", [1, 2, 3])
@pytest.mark.parametrize("cutoff", [pytest.param((None, None), id="no-cutoff"),
                                    pytest.param((5.0, None), id="hard-cutoff"),
                                    pytest.param((5.0, 3.8), id="smooth-switching")])
def test_phi_dphi_match_oracle_isolated_cluster(n_species, cutoff):
    rng = np.random.default_rng(30 + n_species)
    pos = R.random_configuration(50, 9.0, rng, min_dist=0.9, periodic=False) - 4.5
    sp = R.random_species(len(pos), n_species, rng)
    r_cut, r_on = cutoff
    assert_matches_oracle(pos, sp, n_species, FUNCS, None, r_cut, r_on)


@pytest.mark.parametrize("cell", [pytest.param(9.3, id="cubic"), pytest.param(TRICLINIC * 0.95, id="triclinic")])
@pytest.mark.parametrize("r_on", [None, 3.0])
def test_phi_dphi_match_oracle_water_box_paper_basis_default_cutoff(cell, r_on):
    """Water at ~liquid density with the paper's 18 functions and the default cutoff
    (half the smallest perpendicular width)."""
    rng = np.random.default_rng(40)
    pos, sp = R.water_box(27, cell, rng)
    assert_matches_oracle(pos, sp, 2, PAPER, cell, None, r_on)


def test_phi_dphi_match_oracle_isolated_water_cluster_three_species():
    """Water cluster with a third species (an ion) and no cutoff."""
    rng = np.random.default_rng(41)
    pos, sp = R.water_box(8, 6.5, rng)
    pos = np.vstack([pos, [[3.25, 3.25, 3.25 + 0.2]]])
    sp = np.append(sp, 2).astype(np.int32)
    assert_matches_oracle(pos, sp, 3, PAPER, None, None, None)


def test_two_atoms_in_isolation_give_analytic_weight_and_gradient():
    r = 1.7
    pos = np.array([[0.0, 0.0, 0.0], [r, 0.0, 0.0]])
    funcs = (("exp", 0.8), ("gauss", 1.3), ("power", 3.0))
    phi, dphi = compute_invariants(pos, [0, 0], None, Basis(funcs), n_species=1)
    w = np.array([math.exp(-0.8 * r), math.exp(-r * r / (2 * 1.3**2)), r**-3])
    dw = np.array([-0.8 * w[0], -r / 1.3**2 * w[1], -3 * r**-4])
    np.testing.assert_allclose(phi[0, 0], w, rtol=1e-14)
    np.testing.assert_allclose(phi[1, 0], w, rtol=1e-14)
    # Moving atom 0 along +x shortens the bond: d phi / d x_0 = -dw/dr.
    np.testing.assert_allclose(dphi[0, 0, :, 0], -dw, rtol=1e-14)
    np.testing.assert_allclose(dphi[1, 0, :, 0], dw, rtol=1e-14)
    assert np.all(dphi[:, :, :, 1:] == 0.0)


def test_minimum_image_pairs_across_the_periodic_boundary():
    """Atoms at x = 0.5 and x = 9.5 in a 10 Å box are 1 Å apart, not 9 Å."""
    pos = np.array([[0.5, 5.0, 5.0], [9.5, 5.0, 5.0]])
    phi, dphi = compute_invariants(pos, [0, 0], 10.0, Basis((("exp", 1.0),), r_cut=2.0), n_species=1)
    np.testing.assert_allclose(phi[:, 0, 0], math.exp(-1.0), rtol=1e-14)
    # Atom 0's neighbour image is at x = -0.5: moving atom 0 along +x lengthens the bond.
    np.testing.assert_allclose(dphi[0, 0, 0], [-math.exp(-1.0), 0, 0], rtol=1e-14, atol=1e-300)


def test_species_channels_are_separated():
    """phi[k, a] only collects neighbours of species a."""
    pos = np.array([[0.0, 0, 0], [1.0, 0, 0], [0, 2.0, 0]])
    phi, _ = compute_invariants(pos, [0, 1, 2], None, Basis((("power", 1.0),)), n_species=3)
    np.testing.assert_allclose(phi[0, :, 0], [0.0, 1.0, 0.5], rtol=1e-15)
    np.testing.assert_allclose(phi[1, :, 0], [1.0, 0.0, 1 / math.sqrt(5)], rtol=1e-15)
    np.testing.assert_allclose(phi[2, :, 0], [0.5, 1 / math.sqrt(5), 0.0], rtol=1e-15)


@pytest.mark.parametrize("cell", [pytest.param(ORTHO, id="orthorhombic"), pytest.param(TRICLINIC, id="triclinic")])
def test_pair_sum_rules_phi_symmetric_and_dphi_sums_to_zero(cell):
    """Each pair feeds both agents: sum_{k in b} phi[k, a] = sum_{k in a} phi[k, b], and
    the self-gradients of a pair are opposite: sum_{k in b} dphi[k, a] + sum_{k in a} dphi[k, b] = 0."""
    rng = np.random.default_rng(5)
    pos = R.random_configuration(80, cell, rng, min_dist=0.9)
    sp = R.random_species(len(pos), 3, rng)
    phi, dphi = compute_invariants(pos, sp, cell, Basis(FUNCS, r_cut=4.2, r_on=3.0), n_species=3)
    for a in range(3):
        for b in range(3):
            lhs = phi[sp == b, a].sum(axis=0)
            rhs = phi[sp == a, b].sum(axis=0)
            np.testing.assert_allclose(lhs, rhs, rtol=1e-12)
            g = dphi[sp == b, a].sum(axis=0) + dphi[sp == a, b].sum(axis=0)
            assert np.max(np.abs(g)) <= 1e-12 * np.max(np.abs(dphi))


def test_gradients_false_returns_same_phi_and_no_dphi():
    rng = np.random.default_rng(6)
    pos = R.random_configuration(40, ORTHO, rng)
    sp = R.random_species(40, 2, rng)
    basis = Basis(FUNCS, r_cut=5.0, r_on=4.0)
    phi, dphi = compute_invariants(pos, sp, ORTHO, basis, n_species=2)
    phi2, none = compute_invariants(pos, sp, ORTHO, basis, n_species=2, gradients=False)
    assert none is None
    np.testing.assert_array_equal(phi, phi2)


def test_default_cutoff_is_half_smallest_perpendicular_width_and_infinite_when_isolated():
    from mldyn.cell import default_cutoff

    assert default_cutoff(TRICLINIC) == pytest.approx(R.max_cutoff(TRICLINIC), rel=1e-14)
    assert default_cutoff(ORTHO) == pytest.approx(5.5, rel=1e-15)
    assert default_cutoff(None) == math.inf
    # A pair at 4.20 Å in the skewed cell (max_cutoff 4.25) counts by default, one at 4.30 Å does not.
    for r, inside in ((4.20, True), (4.30, False)):
        pos = np.array([[5.0, 4.0, 4.0], [5.0 + r, 4.0, 4.0]])
        phi, _ = compute_invariants(pos, [0, 0], TRICLINIC, Basis((("exp", 1.0),)), n_species=1)
        ref, _ = R.invariants(pos, [0, 0], (("exp", 1.0),), 1, TRICLINIC)
        assert (phi[0, 0, 0] > 0) == inside
        np.testing.assert_allclose(phi, ref, rtol=1e-13)


def test_cell_volume_and_max_cutoff_match_geometry():
    c = make_cell(TRICLINIC)
    assert c.periodic and not c.orthorhombic
    assert c.volume == pytest.approx(abs(np.linalg.det(TRICLINIC)), rel=1e-14)
    assert c.max_cutoff == pytest.approx(R.max_cutoff(TRICLINIC), rel=1e-14)
    o = make_cell(ORTHO)
    assert o.orthorhombic and o.max_cutoff == pytest.approx(5.5)
    np.testing.assert_array_equal(o.vectors, np.diag(ORTHO))
    iso = make_cell(None)
    assert not iso.periodic and iso.max_cutoff == math.inf and iso.volume == 0.0


def test_cell_widths_are_perpendicular_face_distances():
    """Cell.widths (documented: volume / |b x c|, ...) for a skewed cell."""
    np.testing.assert_allclose(np.asarray(make_cell(TRICLINIC).widths), R.perpendicular_widths(TRICLINIC),
                               rtol=1e-14)


def test_basis_evaluate_matches_closed_forms_with_quintic_switching():
    r_cut, r_on = 5.0, 3.0
    core = mldyn._core.RadialBasis(list(FUNCS), r_cut, r_on)
    r = np.linspace(0.5, 4.999, 400)
    w, dw = core.evaluate(r)
    rw, rdw = R.weights(FUNCS, r, r_cut, r_on)
    # Near the cutoff S(r) = 1 - 10x^3 + 15x^4 - 6x^5 suffers cancellation, so the error
    # is measured against the size of the unswitched weight and its derivative.
    w_raw, dw_raw = R.weights(FUNCS, r)
    scale_w = np.abs(w_raw)
    scale_dw = np.abs(dw_raw) + np.abs(w_raw) / (r_cut - r_on)
    assert np.max(np.abs(w - rw) / scale_w) < 1e-13
    assert np.max(np.abs(dw - rdw) / scale_dw) < 1e-13
    # S = 1 below r_on; S and dS/dr vanish at the cutoff.
    below = r <= r_on
    w0, _ = R.weights(FUNCS, r[below])
    np.testing.assert_allclose(w[below], w0, rtol=1e-15)
    # Just inside the cutoff S ~ 1e-25 exactly; allow the rounding of the polynomial form.
    rc = np.array([r_cut * (1 - 1e-9)])
    wc, dwc = core.evaluate(rc)
    wraw, dwraw = R.weights(FUNCS, rc)
    assert np.all(np.abs(wc) <= 1e-15 * np.abs(wraw))
    assert np.all(np.abs(dwc) <= 1e-13 * (np.abs(dwraw) + np.abs(wraw)))


def test_switched_invariants_are_continuous_across_the_cutoff():
    """With switching, a neighbour just inside the cutoff contributes (almost) nothing."""
    basis = Basis((("exp", 0.5), ("power", 1.0)), r_cut=5.0, r_on=4.0)
    phis = []
    for r in (5.0 - 1e-6, 5.0 + 1e-6):
        pos = np.array([[0.0, 0, 0], [r, 0, 0]])
        phi, dphi = compute_invariants(pos, [0, 0], 20.0, basis, n_species=1)
        phis.append((phi, dphi))
    assert np.max(np.abs(phis[0][0] - phis[1][0])) < 1e-15
    assert np.max(np.abs(phis[0][1] - phis[1][1])) < 1e-9
