"""Least-squares machinery: design rows reproduce model forces, the normal-equation
solver agrees with numpy.linalg.lstsq, and backward elimination finds the true functions."""
import numpy as np
import pytest

import mldyn
from mldyn import _core
from mldyn.fit.design import Parametrization
from mldyn.fit.normal_equations import NormalEquations, solve_normal_equations
from mldyn.fit.selection import backward_elimination


def coefficients_to_theta(A, B):
    """Inverse of Parametrization.coefficients for one species (all invariants in the quadratic block)."""
    e, f = np.triu_indices(len(A))
    return np.concatenate([A, B[e, f]])


def random_system(rng, n=60, box=9.0):
    pos = rng.uniform(0, box, (n, 3))
    species = rng.integers(0, 2, n).astype(np.int32)
    return pos, species, box


def test_design_rows_times_parameters_equal_model_forces():
    rng = np.random.default_rng(1)
    pos, species, box = random_system(rng)
    basis = mldyn.Basis((("exp", 0.5), ("gauss", 2.0), ("power", 1.0)), r_cut=4.0, r_on=3.0)
    S, F = 2, 6
    A = rng.normal(size=(S, F))
    B = rng.normal(size=(S, F, F))
    B = B + B.transpose(0, 2, 1)
    model = mldyn.AgentLossModel(["O", "H"], basis, A, B)
    forces = model.forces(pos, species, box)
    phi, dphi = mldyn.compute_invariants(pos, species, box, basis, 2)
    for s in range(S):
        X = _core.build_design(phi, dphi, species, s, F)
        assert X.shape == (3 * np.sum(species == s), _core.n_fit_parameters(F, F))
        pred = X @ coefficients_to_theta(A[s], B[s])
        np.testing.assert_allclose(pred, forces[species == s].ravel(), rtol=1e-11, atol=1e-11 * np.abs(forces).max())
        A2, B2 = Parametrization(basis, S).coefficients(coefficients_to_theta(A[s], B[s]))
        np.testing.assert_array_equal(A2, A[s])
        np.testing.assert_array_equal(B2, B[s])


def test_linear_design_is_the_first_columns_of_the_quadratic_one():
    rng = np.random.default_rng(2)
    pos, species, box = random_system(rng)
    phi, dphi = mldyn.compute_invariants(pos, species, box, mldyn.Basis.paper(r_cut=4.0), 2)
    Xq = _core.build_design(phi, dphi, species, 1, 36)
    Xl = _core.build_design(phi, dphi, species, 1, 0)
    Xh = _core.build_design(phi, dphi, species, 1, 18)  # quadratic block: the first 18 invariants
    assert Xl.shape[1] == 36 and Xh.shape[1] == 36 + 18 * 19 // 2
    np.testing.assert_array_equal(Xq[:, : Xl.shape[1]], Xl)
    # the block's quadratic columns are those of the full design whose pair (e, f) lies in it
    e, f = np.triu_indices(36)
    inside = (e < 18) & (f < 18)
    np.testing.assert_array_equal(Xh[:, 36:], Xq[:, 36:][:, inside])


def test_normal_equation_solver_matches_lstsq_to_1e_minus_8():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 25)) * np.logspace(-3, 3, 25)  # badly scaled columns
    y = X @ rng.normal(size=25) + 0.1 * rng.normal(size=400)
    ne = NormalEquations.zeros(25)
    for block in np.array_split(np.arange(400), 7):  # streamed in blocks, as over frames
        ne.add(X[block], y[block])
    theta = solve_normal_equations(ne)
    ref = np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.max(np.abs(theta - ref) / np.abs(ref)) < 1e-8
    # sse() = y.y - 2 theta.b + theta.G.theta cancels when the fit is good (here
    # SSE / y.y ~ 1e-7), so it is only as accurate as 1e-16 * y.y / SSE.
    assert ne.sse(theta) == pytest.approx(np.sum((X @ theta - y) ** 2), rel=1e-6)


def test_solver_on_real_design_matches_lstsq():
    rng = np.random.default_rng(4)
    pos, species, box = random_system(rng, n=80)
    basis = mldyn.Basis((("exp", 1.0), ("gauss", 1.5), ("power", 2.0)), r_cut=4.4)
    phi, dphi = mldyn.compute_invariants(pos, species, box, basis, 2)
    X = _core.build_design(phi, dphi, species, 0, 0)
    y = rng.normal(size=len(X))
    ne = NormalEquations.zeros(X.shape[1])
    ne.add(X, y)
    ref = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(solve_normal_equations(ne), ref, rtol=1e-8)


def test_ridge_shrinks_the_solution():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 10))
    y = rng.normal(size=50)
    ne = NormalEquations.zeros(10)
    ne.add(X, y)
    norms = [np.linalg.norm(solve_normal_equations(ne, lam)) for lam in (0.0, 1e-2, 1.0, 100.0)]
    assert all(a > b for a, b in zip(norms, norms[1:]))


def test_singular_problem_falls_back_to_pseudo_inverse():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30, 4))
    X = np.column_stack([X, X[:, 0] + X[:, 1]])  # exactly dependent column
    y = rng.normal(size=30)
    ne = NormalEquations.zeros(5)
    ne.add(X, y)
    theta = solve_normal_equations(ne)
    assert np.all(np.isfinite(theta))
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    assert ne.sse(theta) == pytest.approx(np.sum((X @ best - y) ** 2), rel=1e-8)


def test_backward_elimination_keeps_the_functions_that_made_the_forces():
    rng = np.random.default_rng(7)
    funcs = (("exp", 1.0), ("exp", 0.25), ("gauss", 1.0), ("gauss", 3.0), ("power", 1.0))
    basis = mldyn.Basis(funcs, r_cut=4.4)
    S, M = 2, len(funcs)
    truth = [1, 2]  # only these functions carry the forces
    A = np.zeros((S, S * M))
    for a in range(S):
        for m in truth:
            A[:, a * M + m] = rng.normal(size=S) * 3
    model = mldyn.AgentLossModel(["O", "H"], basis, A)
    P = _core.n_fit_parameters(S * M, 0)
    train, val = NormalEquations.zeros(P), NormalEquations.zeros(P)
    for frame in range(12):
        pos, species, box = random_system(rng, n=60)
        f = model.forces(pos, species, box) + 0.01 * rng.normal(size=(60, 3))
        phi, dphi = mldyn.compute_invariants(pos, species, box, basis, 2)
        X = _core.build_design(phi, dphi, species, 0, 0)
        (train if frame < 8 else val).add(X, f[species == 0].ravel())
    curve = backward_elimination(train, val, Parametrization(basis, S, quadratic=False).mask_for, M, 0.0)
    assert [c[0] for c in curve] == [5, 4, 3, 2, 1]
    two = next(c for c in curve if c[0] == 2)
    assert sorted(two[2]) == truth
    assert two[1] < 0.05  # the noise level, relative
