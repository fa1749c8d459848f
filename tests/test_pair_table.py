"""The force path's pair table (PairTable) and its loss-free MD steps.

Linear pair-sum descriptors are tabulated (one polynomial per interval and species pair for the
sum over all of them): forces and losses must equal the direct sums (``build(...,
pair_tables=False)``) to 1e-11 of the largest, also for pairs closer than the table's start (summed
directly), across switching onsets, core radii and a shorter descriptor's cutoff. Steps that skip
the losses (linear models between outputs) must give the same trajectory bit for bit, and the
losses a run leaves behind must be those of its final state.
"""
from __future__ import annotations

import numpy as np
import pytest

from mldyn import AgentLossModel, Angular, Radial, Simulation, _core
from mldyn.cell import make_cell

import reference as R

NAMES = ("O", "H")
EXP_GAUSS_POWER = (("exp", 1.0), ("exp", 0.5), ("exp", 0.25), ("gauss", 1.0), ("gauss", 2.5), ("power", 1.0),
                   ("power", 2.0))


def model_with(descriptors, rng, quadratic_block=0):
    S = len(NAMES)
    F = sum(d.size(S) for d in descriptors)
    A = rng.normal(scale=0.5, size=(S, F))
    B = np.stack([R.random_symmetric(quadratic_block, rng, 0.05) for _ in range(S)]) if quadratic_block else None
    return AgentLossModel(NAMES, descriptors, A, B)


def both(model, cell):
    """The core model with and without the table, for ``cell``."""
    r_cut = make_cell(cell).max_cutoff if model._definition.cutoff_from_cell else float("inf")
    return model._definition.build(r_cut), model._definition.build(r_cut, pair_tables=False)


def compare(model, pos, sp, cell):
    tab, direct = both(model, cell)
    c = make_cell(cell)
    f1, h1 = _core.Evaluator(tab).forces(c, pos, sp, "auto")
    f0, h0 = _core.Evaluator(direct).forces(c, pos, sp, "auto")
    return tab, np.abs(f1 - f0).max() / np.abs(f0).max(), np.abs(h1 - h0).max() / np.abs(h0).max()


CASES = {
    "hard cutoff": lambda: [Radial(EXP_GAUSS_POWER, r_cut=4.4)],
    "switching": lambda: [Radial(EXP_GAUSS_POWER, r_cut=4.4, r_on=3.1)],
    "two cutoffs and cores": lambda: [Radial(EXP_GAUSS_POWER, r_cut=4.4),
                                      Radial((("core", 1.3), ("core", 0.9), ("exp", 2.0)), r_cut=2.0)],
    "with angular": lambda: [Radial(EXP_GAUSS_POWER, r_cut=4.4), Angular(l_max=3, r_cut=3.2)],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_table_matches_direct_sums(case):
    rng = np.random.default_rng(11)
    pos, sp = R.water_box(27, 9.3, rng)
    descriptors = CASES[case]()
    model = model_with(descriptors, rng)
    tab, df, dh = compare(model, pos, sp, 9.3)
    assert list(tab.tabulated) == [d.family == "radial" for d in descriptors]
    spacing, intervals = tab.table_grid
    assert 0.0 < spacing <= 0.4 and 0 < intervals <= 4096
    assert df <= 1e-11, f"forces deviate by {df:.2e} of the largest"
    assert dh <= 1e-11, f"losses deviate by {dh:.2e} of the largest"


def test_pairs_closer_than_the_table_are_summed_directly():
    rng = np.random.default_rng(5)
    pos, sp = R.water_box(27, 9.3, rng)
    pos[1] = pos[0] + np.array([0.31, 0.12, 0.0])  # below PairTable::kMinDistance (0.5 Å)
    pos[5] = pos[4] + np.array([0.0, 0.45, 0.1])
    model = model_with([Radial(EXP_GAUSS_POWER, r_cut=4.4)], rng)
    tab, df, dh = compare(model, pos, sp, 9.3)
    assert tab.tabulated == [True]
    assert df <= 1e-13 and dh <= 1e-13


def test_only_linear_pair_sums_are_tabulated():
    rng = np.random.default_rng(2)
    radial = Radial(EXP_GAUSS_POWER, r_cut=4.4)
    quadratic = model_with([radial], rng, quadratic_block=radial.size(2))
    assert list(both(quadratic, 9.3)[0].tabulated) == [False]
    # the quadratic block over the first radial descriptor only: the second one is linear
    block = model_with([radial, Radial((("exp", 0.7), ("gauss", 1.5)), r_cut=3.0)], rng, quadratic_block=radial.size(2))
    assert list(both(block, 9.3)[0].tabulated) == [False, True]
    assert both(block, 9.3)[1].tabulated == [False, False]
    # no cutoff (an isolated system with a model that takes its cutoff from the cell): no table
    unbounded = model_with([Radial(EXP_GAUSS_POWER)], rng)
    assert unbounded._definition.build(float("inf")).table_grid is None


def test_steps_without_losses_give_the_same_trajectory():
    rng = np.random.default_rng(8)
    pos, sp = R.water_box(27, 9.3, rng)
    model = model_with([Radial(EXP_GAUSS_POWER, r_cut=4.4, r_on=3.5), Angular(l_max=2, r_cut=3.2)], rng)
    A = Simulation(model, pos, sp, 9.3, dt=0.25, temperature=300.0, seed=3)
    B = Simulation(model, pos, sp, 9.3, dt=0.25, temperature=300.0, seed=3)
    A.run(30)                                # losses only after the last step
    _, thermo = B.run_recording(30, thermo_every=1)  # losses after every step
    assert np.array_equal(A.positions, B.positions) and np.array_equal(A.forces, B.forces)
    assert np.array_equal(A.losses, B.losses)
    fresh = model.compute(A.positions, sp, 9.3)[1]
    np.testing.assert_allclose(A.losses, fresh, rtol=1e-12, atol=1e-12)
    assert np.isclose(thermo["half_loss"][-1], 0.5 * fresh.sum(), rtol=1e-12)


def test_a_refused_step_leaves_the_losses_of_the_kept_state():
    rng = np.random.default_rng(9)
    pos, sp = R.water_box(27, 9.3, rng)
    model = model_with([Radial(EXP_GAUSS_POWER, r_cut=4.4)], rng)
    sim = Simulation(model, pos, sp, 9.3, dt=0.5, temperature=900.0, seed=1, max_displacement=0.05)
    with pytest.raises(RuntimeError, match="moved"):
        sim.run(400)  # step 21 moves an atom more than 0.05 Å: refused after loss-free steps
    assert 0 < sim.step < 400
    np.testing.assert_allclose(sim.losses, model.compute(sim.positions, sp, 9.3)[1], rtol=1e-12, atol=1e-12)
