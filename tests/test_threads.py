"""OpenMP: forces and invariants are bitwise identical for every thread count (each
agent's row is computed on its own, in a fixed order), and MD is bitwise reproducible."""
from __future__ import annotations

import numpy as np
import pytest

import mldyn
from mldyn import AgentLossModel, Basis, Simulation, compute_invariants

import reference as R

pytestmark = pytest.mark.skipif(not mldyn.have_openmp(), reason="core built without OpenMP")

TOL = 1e-12


@pytest.fixture
def threads():
    """Set the thread count inside a test; the original count is restored afterwards."""
    original = mldyn.get_num_threads()

    def set_(n):
        mldyn.set_num_threads(n)
        assert mldyn.get_num_threads() == n

    yield set_
    mldyn.set_num_threads(original)
    assert mldyn.get_num_threads() == original


@pytest.fixture(scope="module")
def water_box():
    """810 atoms (more than 128 per thread for three threads, so all three get rows), the paper's
    18 functions, and the numpy oracle's forces (computed once: the brute force takes seconds)."""
    rng = np.random.default_rng(0)
    pos, sp = R.water_box(270, 20.1, rng)
    F = 2 * len(mldyn.PAPER_FUNCTIONS)
    A = rng.normal(size=(2, F))
    B = np.stack([R.random_symmetric(F, rng, 0.01) for _ in range(2)])
    model = AgentLossModel(["O", "H"], Basis.paper(r_cut=4.5, r_on=3.5), A, B)
    f_ref, _ = R.model_forces(pos, sp, model.basis.functions, 2, model.A, model.B, cell=20.1,
                              r_cut=model.basis.r_cut, r_on=model.basis.r_on)
    return model, pos, sp, 20.1, f_ref


@pytest.mark.parametrize("method", ["all_pairs", "cell_list"])
def test_forces_and_invariants_bitwise_identical_for_one_two_and_three_threads(threads, water_box, method):
    model, pos, sp, cell, f_ref = water_box
    results = []
    for n in (1, 2, 3):  # three threads on two cores: an uneven split of the rows
        threads(n)
        f, loss = model.compute(pos, sp, cell, neighbours=method)
        phi, dphi = compute_invariants(pos, sp, cell, model.basis, n_species=2, neighbours=method)
        results.append((f, loss, phi, dphi))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
    # and they are the right numbers (the numpy oracle), not just the same ones
    assert R.rel_diff(results[0][0], f_ref) <= TOL


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("method", ["all_pairs", "cell_list"])
def test_same_thread_count_twice_is_bitwise_identical(threads, water_box, method, n_threads):
    model, pos, sp, cell, _ = water_box
    threads(n_threads)
    fa, la = model.compute(pos, sp, cell, neighbours=method)
    pa, da = compute_invariants(pos, sp, cell, model.basis, n_species=2, neighbours=method)
    fb, lb = model.compute(pos, sp, cell, neighbours=method)
    pb, db = compute_invariants(pos, sp, cell, model.basis, n_species=2, neighbours=method)
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(la, lb)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(da, db)


def test_md_trajectory_bitwise_reproducible_with_two_threads(threads):
    threads(2)
    rng = np.random.default_rng(1)
    pos, sp = R.water_box(27, 9.3, rng)
    model = AgentLossModel.pair_potential(["O", "H"], Basis((("exp", 2.0), ("gauss", 2.0)), r_cut=4.5, r_on=3.5),
                                          np.array([[[50.0, -0.1], [20.0, 0.05]], [[20.0, 0.05], [5.0, 0.0]]]))
    runs = []
    for _ in range(2):
        sim = Simulation(model, pos, sp, 9.3, dt=0.25, temperature=300.0, seed=9)
        sim.run(200)
        runs.append((sim.positions, sim.velocities, sim.core.chain_velocities))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]
    assert np.max(np.abs(runs[0][0] - pos)) > 0


def test_set_num_threads_nonpositive_restores_default(threads):
    threads(1)
    mldyn.set_num_threads(0)
    default = mldyn.get_num_threads()
    assert default >= 1
    threads(3)
    mldyn.set_num_threads(-1)
    assert mldyn.get_num_threads() == default


# ----------------------------------------------------------------------------- Python threads


def _concurrent_configs():
    """Eight different water boxes of the same size (so buffers are never resized)."""
    return [R.water_box(100, 14.5, np.random.default_rng(100 + i)) for i in range(8)]


def test_model_compute_from_concurrent_python_threads_matches_serial(water_box):
    """The core releases the GIL: AgentLossModel.compute called from several Python
    threads on one model must give each caller its own, correct answer."""
    from concurrent.futures import ThreadPoolExecutor

    model = water_box[0]
    configs = _concurrent_configs()
    serial = [model.compute(p, s, 14.5)[0] for p, s in configs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            out = list(pool.map(lambda ps: model.compute(ps[0], ps[1], 14.5)[0], configs))
            for got, want in zip(out, serial):
                np.testing.assert_array_equal(got, want)


def test_core_model_compute_from_concurrent_python_threads_matches_serial(water_box):
    """Same as above on the core object itself (mldyn._core.Evaluator), whose
    forces release the GIL while they fill per-object scratch buffers."""
    from concurrent.futures import ThreadPoolExecutor

    model = water_box[0]
    cell = mldyn.make_cell(14.5)
    core = model.evaluator_for(cell)
    configs = [(np.ascontiguousarray(p), s.astype(np.int32)) for p, s in _concurrent_configs()]
    serial = [core.forces(cell, p, s, "auto")[0] for p, s in configs]
    mismatches = 0
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            out = list(pool.map(lambda ps: core.forces(cell, ps[0], ps[1], "auto")[0], configs))
            mismatches += sum(not np.array_equal(got, want) for got, want in zip(out, serial))
    assert mismatches == 0
