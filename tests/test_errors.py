"""Bad input raises ValueError with a message naming the problem, both through the
Python API and directly at the C++ core's boundary (mldyn._core)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mldyn
from mldyn import AgentLossModel, Basis, Simulation, _core, compute_invariants, make_cell, maxwell_boltzmann
from mldyn.invariants import feature_evaluator

BASIS = Basis((("exp", 1.0), ("power", 1.0)))
POS = np.array([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [0.0, 1.5, 0.0]])
SP = np.array([0, 1, 1])


@pytest.fixture(scope="module")
def model():
    return AgentLossModel(["O", "H"], BASIS, np.ones((2, 4)))


# ----------------------------------------------------------------------------- configurations


@pytest.mark.parametrize("positions", [np.zeros((3, 2)), np.zeros(9), np.zeros((3, 3, 1))])
def test_wrong_positions_shape(model, positions):
    with pytest.raises(ValueError, match=r"positions must have shape \(n_atoms, 3\)"):
        model.compute(positions, [0, 1, 1])
    with pytest.raises(ValueError, match=r"positions must have shape \(n_atoms, 3\)"):
        compute_invariants(positions, [0, 1, 1], None, BASIS, n_species=2)


@pytest.mark.parametrize("bad, atom", [(2, 1), (-1, 2), (7, 0)])
def test_species_id_out_of_range(model, bad, atom):
    sp = SP.copy()
    sp[atom] = bad
    with pytest.raises(ValueError, match=rf"species id {bad} of atom {atom} is out of range \[0, 2\)"):
        model.compute(POS, sp)
    with pytest.raises(ValueError, match=rf"species id {bad} of atom {atom} is out of range"):
        compute_invariants(POS, sp, None, BASIS, n_species=2)


def test_species_id_out_of_range_rejected_by_core():
    calc = feature_evaluator(BASIS, 2)
    with pytest.raises(ValueError, match=r"species id 5 of atom 2 is out of range \[0, 2\)"):
        calc.features(make_cell(None), POS, np.array([0, 1, 5], dtype=np.int32))


def test_species_length_mismatch(model):
    with pytest.raises(ValueError, match=r"species must have shape \(3,\) to match the positions"):
        model.compute(POS, [0, 1])
    with pytest.raises(ValueError, match=r"species must have shape \(3,\) to match the positions"):
        compute_invariants(POS, [0, 1, 1, 0], None, BASIS, n_species=2)


def test_species_must_be_integer_ids_or_known_names(model):
    with pytest.raises(ValueError, match="species must be integer ids"):
        model.compute(POS, [0.0, 1.0, 0.5])
    with pytest.raises(ValueError, match=r"species \['N'\] are not in the model's species"):
        model.compute(POS, ["O", "H", "N"])


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_positions(model, value):
    pos = POS.copy()
    pos[2, 1] = value
    with pytest.raises(ValueError, match=r"position of atom 2 is not finite \(NaN or inf\)"):
        model.compute(pos, SP)
    with pytest.raises(ValueError, match=r"position of atom 2 is not finite"):
        compute_invariants(pos, SP, 10.0, BASIS, n_species=2)
    with pytest.raises(ValueError, match=r"position of atom 2 is not finite"):
        Simulation(model, pos, SP, None)


@pytest.mark.parametrize("cell, r_cut, limit", [(10.0, 6.0, "5"), ((12.0, 8.0, 20.0), 4.5, "4"),
                                                ([[10, 0, 0], [3, 9, 0], [-2, 2.5, 8.5]], 4.3, "4.25")])
def test_cutoff_above_half_the_cell_width(cell, r_cut, limit):
    basis = Basis((("exp", 1.0),), r_cut=r_cut)
    with pytest.raises(ValueError, match=rf"cutoff .* larger than half the smallest perpendicular cell width \({limit} Å\)"):
        compute_invariants(POS, SP, cell, basis, n_species=2)
    model = AgentLossModel(["O", "H"], basis, np.ones((2, 2)))
    with pytest.raises(ValueError, match="larger than half the smallest perpendicular cell width"):
        model.compute(POS, SP, cell)


def test_cutoff_exactly_half_the_cell_width_is_accepted():
    phi, _ = compute_invariants(POS, SP, 10.0, Basis((("exp", 1.0),), r_cut=5.0), n_species=2)
    assert np.all(phi.sum(axis=(1, 2)) > 0)


@pytest.mark.parametrize("cell", [None, 10.0])
def test_two_atoms_at_the_same_position_with_power_law(model, cell):
    pos = np.vstack([POS, POS[1]])
    with pytest.raises(ValueError, match=r"atoms 1 and 3 are at the same position \(distance 0\)"):
        model.compute(pos, [0, 1, 1, 1], cell)


def test_two_atoms_one_lattice_vector_apart_coincide():
    pos = np.array([[1.0, 1.0, 1.0], [11.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="atoms 0 and 1 are at the same position"):
        compute_invariants(pos, [0, 0], 10.0, Basis((("power", 2.0),), r_cut=4.0), n_species=1)


# ----------------------------------------------------------------------------- model coefficients


def test_non_symmetric_B():
    B = np.zeros((2, 4, 4))
    B[1, 0, 2] = 0.3
    with pytest.raises(ValueError, match=r"B of species 1 is not symmetric \(entry \[0,2\]"):
        AgentLossModel(["O", "H"], BASIS, np.ones((2, 4)), B)


def test_B_symmetric_to_rounding_is_accepted():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 4))
    B = np.stack([m + m.T, m.T + m])
    B[0, 0, 1] *= 1 + 1e-14
    assert AgentLossModel(["O", "H"], BASIS, np.ones((2, 4)), B).quadratic


@pytest.mark.parametrize("A, B, what", [
    (np.ones((2, 3)), None, r"A must have shape \(2, 4\), got \(2, 3\)"),
    (np.ones((1, 4)), None, r"A must have shape \(2, 4\)"),
    (np.ones(8), None, r"A must have shape \(2, 4\)"),
    (np.ones((2, 4)), np.zeros((2, 4, 3)), r"B must have shape \(2, 4, 4\), got \(2, 4, 3\)"),
    (np.ones((2, 4)), np.zeros((4, 4)), r"B must have shape \(2, 4, 4\)"),
])
def test_wrong_A_or_B_shape(A, B, what):
    with pytest.raises(ValueError, match=what):
        AgentLossModel(["O", "H"], BASIS, A, B)


def test_wrong_A_or_B_shape_rejected_by_core():
    specs = [BASIS.spec()]
    with pytest.raises(ValueError, match=r"A must have shape \(2, 4\)"):
        _core.ModelDefinition(["O", "H"], [16.0, 1.0], specs, True, np.ones((2, 5)), np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"B must have shape \(2, 4, 4\)"):
        _core.ModelDefinition(["O", "H"], [16.0, 1.0], specs, True, np.ones((2, 4)), np.zeros((2, 4, 5)))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_coefficients(bad):
    A = np.ones((2, 4))
    A[1, 2] = bad
    with pytest.raises(ValueError, match="A has a NaN or inf coefficient"):
        AgentLossModel(["O", "H"], BASIS, A)
    B = np.zeros((2, 4, 4))
    B[0, 1, 1] = bad
    with pytest.raises(ValueError, match="B has a NaN or inf coefficient"):
        AgentLossModel(["O", "H"], BASIS, np.ones((2, 4)), B)


def test_bad_species_names_and_masses():
    with pytest.raises(ValueError, match="species 'O' appears twice"):
        AgentLossModel(["O", "O"], BASIS, np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"no standard mass for species \['Xx'\]"):
        AgentLossModel(["O", "Xx"], BASIS, np.ones((2, 4)))
    with pytest.raises(ValueError, match="mass of species 'H' must be a positive number"):
        AgentLossModel(["O", "H"], BASIS, np.ones((2, 4)), masses=[16.0, -1.0])


# ----------------------------------------------------------------------------- basis


@pytest.mark.parametrize("family, param", [("exp", -1.0), ("exp", 0.0), ("gauss", -2.0), ("gauss", math.nan),
                                           ("power", 0.0), ("power", math.inf)])
def test_bad_basis_parameter(family, param):
    with pytest.raises(ValueError, match="radial descriptor: .*needs a finite, positive parameter"):
        Basis(((family, param),))
    with pytest.raises(ValueError, match="needs a finite, positive parameter"):
        _core.RadialBasis([(family, param)], 5.0, math.inf)


def test_unknown_weight_family():
    with pytest.raises(ValueError, match="unknown weight family 'yukawa'"):
        Basis((("exp", 1.0), ("yukawa", 1.0)))
    with pytest.raises(ValueError, match="unknown weight family 'yukawa'"):
        _core.RadialBasis([("yukawa", 1.0)], 5.0, math.inf)


def test_bad_cutoff_and_switching():
    with pytest.raises(ValueError, match="needs at least one weight function"):
        Basis(())
    with pytest.raises(ValueError, match="r_cut must be positive"):
        Basis(r_cut=-1.0)
    with pytest.raises(ValueError, match="r_cut must be positive"):
        Basis(r_cut=math.nan)
    with pytest.raises(ValueError, match=r"need r_on < r_cut"):
        Basis(r_cut=3.0, r_on=4.0)
    with pytest.raises(ValueError, match=r"r_on must be >= 0"):
        Basis(r_cut=3.0, r_on=-0.5)
    # Default cutoff resolved from the cell: r_on must still be below it.
    with pytest.raises(ValueError, match=r"r_on = 6 Å must be below the cutoff 5 Å"):
        compute_invariants(POS, SP, 10.0, Basis(r_on=6.0), n_species=2)
    with pytest.raises(ValueError, match="no periodic cell.*give r_cut"):
        compute_invariants(POS, SP, None, Basis(r_on=3.0), n_species=2)


# ----------------------------------------------------------------------------- cells and methods


@pytest.mark.parametrize("vectors", [[[1, 0, 0], [2, 0, 0], [0, 0, 1]], [[5, 0, 0], [0, 5, 0], [0, 0, 0]],
                                     [[5, 0, 0], [0, 5, 0], [5, 5, 0]], np.zeros((3, 3))])
def test_degenerate_cell(vectors):
    with pytest.raises(ValueError, match=r"degenerate \(zero volume\)"):
        make_cell(vectors)


def test_bad_cell_shape_or_values():
    with pytest.raises(ValueError, match=r"cell must be None, a length, three lengths or a \(3, 3\) matrix"):
        make_cell([1.0, 2.0])
    with pytest.raises(ValueError, match="cell vectors must be finite"):
        make_cell([[math.inf, 0, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="degenerate"):
        make_cell(0.0)


def test_unknown_neighbours_method(model):
    with pytest.raises(ValueError, match=r"neighbours must be one of .*got 'verlet'"):
        model.compute(POS, SP, neighbours="verlet")
    with pytest.raises(ValueError, match=r"neighbours must be one of .*got 'verlet'"):
        compute_invariants(POS, SP, None, BASIS, neighbours="verlet")
    with pytest.raises(ValueError, match=r"neighbours must be one of .*got 'fast'"):
        Simulation(model, POS, SP, None, neighbours="fast")
    calc = feature_evaluator(BASIS, 2)
    with pytest.raises(ValueError, match=r"unknown method 'verlet'"):
        calc.features(make_cell(None), POS, SP.astype(np.int32), "verlet")


def test_cell_list_needs_finite_cutoff():
    with pytest.raises(ValueError, match="cell list needs a finite cutoff"):
        compute_invariants(POS, SP, None, BASIS, n_species=2, neighbours="cell_list")


# ----------------------------------------------------------------------------- simulation


@pytest.mark.parametrize("dt", [0.0, -0.5, math.nan, math.inf])
def test_non_positive_or_non_finite_time_step(model, dt):
    with pytest.raises(ValueError, match=r"time step dt must be > 0 fs"):
        Simulation(model, POS, SP, None, dt=dt)


@pytest.mark.parametrize("mass", [0.0, -1.0, math.nan])
def test_non_positive_mass(model, mass):
    with pytest.raises(ValueError, match=r"mass of atom 1 must be positive \(amu\)"):
        Simulation(model, POS, SP, None, masses_n=[16.0, mass, 1.0])
    with pytest.raises(ValueError, match="masses must be > 0 amu"):
        maxwell_boltzmann([16.0, mass, 1.0], 300.0)


def test_simulation_array_shapes(model):
    with pytest.raises(ValueError, match=r"masses must have shape \(3,\) to match the positions"):
        Simulation(model, POS, SP, None, masses_n=[16.0, 1.0])
    with pytest.raises(ValueError, match="velocities must have the same shape as positions"):
        Simulation(model, POS, SP, None, velocities_nc=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"velocities must have shape \(n_atoms, 3\)"):
        Simulation(model, POS, SP, None, velocities_nc=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"velocities must be finite"):
        Simulation(model, POS, SP, None, velocities_nc=[[math.nan, 0, 0], [0, 0, 0], [0, 0, 0]])


def test_bad_thermostat_and_cap_parameters(model):
    with pytest.raises(ValueError, match="temperature must be finite and >= 0 K"):
        Simulation(model, POS, SP, None, temperature=-5.0)
    with pytest.raises(ValueError, match="target temperature must be > 0 K"):
        Simulation(model, POS, SP, None, velocities_nc=np.zeros((3, 3)), temperature=-5.0)
    with pytest.raises(ValueError, match="damping time must be > 0 fs"):
        Simulation(model, POS, SP, None, temperature=300.0, tdamp=0.0)
    with pytest.raises(ValueError, match="chain length must be >= 1"):
        Simulation(model, POS, SP, None, temperature=300.0, chain=0)
    with pytest.raises(ValueError, match="force_cap must be positive"):
        Simulation(model, POS, SP, None, force_cap=-1.0)
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        Simulation(model, POS, SP, None).run(-1)


def test_bad_maxwell_boltzmann_temperature():
    with pytest.raises(ValueError, match="temperature must be finite and >= 0 K"):
        maxwell_boltzmann([1.0, 2.0], -3.0)
    with pytest.raises(ValueError, match="temperature must be finite and >= 0 K"):
        maxwell_boltzmann([1.0, 2.0], math.nan)


def test_errors_leave_no_state_behind(model):
    """A failed call does not poison the next good one."""
    good = model.compute(POS, SP)[0]
    with pytest.raises(ValueError):
        model.compute(np.vstack([POS, POS[0]]), [0, 1, 1, 0])
    np.testing.assert_array_equal(model.compute(POS, SP)[0], good)
    assert mldyn.get_num_threads() >= 1
