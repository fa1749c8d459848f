"""End-to-end fitting: a model that made the forces is recovered; ridge, selection and
Table 1 behave; the model file round-trips exactly and refuses bad files."""
import json
import re

import numpy as np
import pytest

import mldyn
from mldyn.dataset import Dataset
from mldyn.fit import fit_model
from mldyn.model import AgentLossModel, load_model, save_model
from model_files import BAD_MODEL_FILES, model_file_text, schema_1_layout

BASIS = mldyn.Basis((("exp", 1.0), ("exp", 0.5), ("gauss", 1.5), ("power", 1.0)), r_cut=4.0, r_on=3.0)


def synthetic(model, n_frames=40, n=48, box=8.5, noise=0.0, seed=0):
    """Frames of random liquid-like configurations with forces from ``model`` (+ noise)."""
    rng = np.random.default_rng(seed)
    species = np.array([0, 1, 1] * (n // 3), dtype=np.int32)
    frames, forces = [], []
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n] * (box / 4)
    for _ in range(n_frames):
        pos = grid + rng.normal(scale=0.3, size=grid.shape)
        frames.append(pos)
        forces.append(model.forces(pos, species, box))
    forces = np.array(forces)
    forces += noise * forces.std() * rng.normal(size=forces.shape)
    return Dataset(["O", "H"], species, model.masses[species], np.array(frames), np.eye(3) * box,
                   forces_fnc=forces, times_f=np.arange(n_frames) * 0.5)


def true_model(quadratic=True, seed=1):
    rng = np.random.default_rng(seed)
    F = 2 * len(BASIS)
    A = rng.normal(size=(2, F))
    B = None
    if quadratic:
        B = rng.normal(size=(2, F, F)) * 0.05
        B = B + B.transpose(0, 2, 1)
    return mldyn.AgentLossModel(["O", "H"], BASIS, A, B)


def test_quadratic_fit_recovers_noise_free_forces():
    truth = true_model()
    data = synthetic(truth)
    report = fit_model(data, BASIS, "quadratic", ridge=0.0, progress=False)
    for sp in ("O", "H"):
        assert report.table["quadratic"][sp]["relative_rmse"] < 1e-6
        assert report.table["linear"][sp]["relative_rmse"] > 1e-3  # the linear loss cannot
    test = data.subset(range(36, 40))
    np.testing.assert_allclose(report.model.forces(test.positions_fnc[0], test.species_n, 8.5), test.forces_fnc[0],
                               atol=1e-6 * np.abs(test.forces_fnc).max())


def test_linear_fit_of_linear_truth_is_exact_and_reports_metrics():
    truth = true_model(quadratic=False)
    report = fit_model(synthetic(truth), BASIS, "linear", ridge=0.0, progress=False)
    assert not report.model.quadratic
    for sp in ("O", "H"):
        m = report.table["linear"][sp]
        assert m["relative_rmse"] < 1e-6  # limited by sse() cancellation (sqrt(eps)), not the fit
        assert m["rms_reference"] > 0
    assert report.split_frames == {**report.split_frames, "train": 24, "validation": 4, "test": 4, "dropped": 8}


def test_auto_ridge_is_chosen_on_validation_and_helps_with_noise():
    data = synthetic(true_model(), n_frames=30, noise=0.5, seed=3)
    report = fit_model(data, BASIS, "quadratic", ridge="auto", progress=False)
    plain = fit_model(data, BASIS, "quadratic", ridge=0.0, progress=False)
    for sp in ("O", "H"):
        assert report.species_fits[sp].ridge in mldyn.fit.RIDGE_GRID
        assert (report.species_fits[sp].validation_relative_rmse
                <= plain.species_fits[sp].validation_relative_rmse + 1e-12)


def test_selection_keeps_k_functions_and_records_the_curve():
    report = fit_model(synthetic(true_model(), noise=0.05), BASIS, "quadratic", select=2, progress=False)
    kept = {sp: report.species_fits[sp].kept_units for sp in ("O", "H")}
    for sp in ("O", "H"):
        fit = report.species_fits[sp]
        assert len(fit.kept_units) == 2
        assert [c[0] for c in fit.selection_curve] == [4, 3, 2, 1]
    # the model stores and evaluates only the functions some species kept ...
    used = sorted(set(kept["O"]) | set(kept["H"]))
    assert report.model.basis.functions == tuple(BASIS.functions[m] for m in used)
    # ... and a function only the other species kept carries no coefficient of this one
    M = len(used)
    for s, sp in enumerate(report.model.species):
        for i, m in enumerate(used):
            if m not in kept[sp]:
                assert np.all(report.model.A[s, [a * M + i for a in range(2)]] == 0)
    assert report.model.metadata["selected_functions"]["O"] == [BASIS.labels()[m] for m in kept["O"]]


def test_select_auto_picks_the_lowest_validation_error():
    report = fit_model(synthetic(true_model(), noise=0.2, seed=5), BASIS, "quadratic", select="auto",
                       progress=False)
    for sp in ("O", "H"):
        fit = report.species_fits[sp]
        best = min(c[1] for c in fit.selection_curve)
        chosen = next(c for c in fit.selection_curve if c[0] == len(fit.kept_units))
        assert chosen[1] == pytest.approx(best, rel=1e-9)


def test_model_file_round_trip_is_exact(tmp_path):
    report = fit_model(synthetic(true_model()), BASIS, "quadratic", progress=False)
    path = save_model(report.model, tmp_path / "m.json")
    back = load_model(path)
    np.testing.assert_array_equal(back.A, report.model.A)
    np.testing.assert_array_equal(back.B, report.model.B)
    assert back.basis == report.model.basis and back.species == ["O", "H"]
    np.testing.assert_array_equal(back.masses, report.model.masses)
    d = json.loads(path.read_text())
    assert d["schema_version"] == 2 and d["units"]["force"] == "eV/angstrom"
    assert d["training"]["split"]["frames"]["train"] == 24
    assert "mldyn_version" in d and d["loss"] == "quadratic"


@pytest.mark.parametrize("mutate, message", [f[1:] for f in BAD_MODEL_FILES], ids=[f[0] for f in BAD_MODEL_FILES])
def test_model_file_validation_refuses_bad_files(mutate, message):
    text = model_file_text(true_model().to_dict(), mutate)
    with pytest.raises(ValueError, match="bad.json: .*" + re.escape(message)):
        AgentLossModel.from_text(text, "bad.json")


def test_schema_version_1_files_still_load(tmp_path):
    """mldyn 0.1 wrote one radial basis under "basis"; such files load as that one descriptor."""
    model = true_model()
    path = tmp_path / "v1.json"
    path.write_text(model_file_text(model.to_dict(), schema_1_layout))
    back = load_model(path)
    assert back.basis == model.basis
    np.testing.assert_array_equal(back.A, model.A)
    np.testing.assert_array_equal(back.B, model.B)


def test_load_model_reports_invalid_json_with_line(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"format": \n oops')
    with pytest.raises(ValueError, match=r"broken.json: not valid JSON \(line 2"):
        load_model(p)


def test_fit_refuses_data_without_forces():
    data = synthetic(true_model(), n_frames=10)
    data.forces_fnc = None
    with pytest.raises(ValueError, match="needs reference forces"):
        fit_model(data, BASIS, progress=False)


def test_fit_refuses_normal_equations_larger_than_half_the_memory(monkeypatch):
    import mldyn.fit.model_fit as model_fit

    sizes = {"SC_PHYS_PAGES": 16, "SC_PAGE_SIZE": 4096}  # a 64 KiB machine: room for 32 KiB of equations
    monkeypatch.setattr(model_fit.os, "sysconf", lambda name: sizes[name])
    data = synthetic(true_model(), n_frames=8)
    with pytest.raises(ValueError, match=r"8 invariants per agent, 8 of them in the quadratic block, make 44 parameters"):
        fit_model(data, BASIS, "linear", progress=False)  # both losses are fitted: P counts the quadratic block
    angular = mldyn.Angular((("gauss", 1.0), ("gauss", 1.5)), 4, r_cut=4.0)
    with pytest.raises(ValueError, match=r"normal equations need [0-9.,]+ MiB \(this machine has 0.1 MiB\): .*"
                                         r"quadratic_descriptors=1"):
        fit_model(data, [BASIS, angular], "linear", progress=False)
    sizes["SC_PHYS_PAGES"] = 64  # 256 KiB: 44 parameters fit (62 KiB), the angular ones in the quadratic block do not
    assert fit_model(data, BASIS, "linear", progress=False).model is not None
    with pytest.raises(ValueError, match=r"make 44 parameters"):  # force changes: six matrices per species (186 KiB)
        fit_model(data, BASIS, "linear", progress=False, force_changes=2.5)


def test_a_system_weight_counts_its_rows_that_many_times():
    """Weight 2 on a system is that system listed twice (the same normal equations), and weights change the fit:
    with two systems whose forces disagree (noise), the weighted system's forces are followed more closely."""
    a = synthetic(true_model(), n_frames=20, noise=0.3, seed=2)
    b = synthetic(true_model(), n_frames=20, noise=0.3, seed=4)
    twice = fit_model([a, b, b], BASIS, "quadratic", ridge=1e-8, progress=False)
    weighted = fit_model([a, b], BASIS, "quadratic", ridge=1e-8, progress=False, weights=[1, 2])
    f_twice, f_weighted = (np.array([m.model.forces(p, b.species_n, 8.5) for p in b.positions_fnc])
                           for m in (twice, weighted))  # the quadratic fit amplifies rounding: compare forces
    np.testing.assert_allclose(f_weighted, f_twice, atol=1e-7 * np.abs(f_twice).max())
    assert weighted.model.metadata["system_weights"] == [1.0, 2.0]
    plain = fit_model([a, b], BASIS, "quadratic", ridge=1e-8, progress=False)
    heavy = fit_model([a, b], BASIS, "quadratic", ridge=1e-8, progress=False, weights=[1, 50])
    assert not np.allclose(heavy.model.A, plain.model.A, rtol=1e-3)
    train_b = b.subset(range(4, 16))  # b's training block (split 0.2, 0.6, 0.1, 0.1 of 20 frames)
    err = [np.sum((np.array([m.model.forces(p, b.species_n, 8.5) for p in train_b.positions_fnc])
                   - train_b.forces_fnc) ** 2) for m in (plain, heavy)]
    assert err[1] < err[0]
    with pytest.raises(ValueError, match=r"weights: 1 given for 2 systems; give one per system"):
        fit_model([a, b], BASIS, "linear", progress=False, weights=[1])
    with pytest.raises(ValueError, match=r"weights must be finite and > 0 .*got 0"):
        fit_model([a, b], BASIS, "linear", progress=False, weights=[1, 0])


def test_force_change_rows_are_weighted_differences_of_consecutive_frames():
    """Oracle for accumulate(change_time_fs=tau): the change rows are (tau/dt) (X(t') - X(t)), (tau/dt)
    (F(t') - F(t)) for consecutive frames at most 2 fs apart, built here from each frame's design rows."""
    from mldyn.fit.design import Parametrization, accumulate, design_blocks

    data = synthetic(true_model(), n_frames=6)
    data.times_f = np.array([0.0, 0.5, 1.5, 5.5, 6.0, 6.0 + 2.5])  # gaps 0.5, 1, 4 (too far), 0.5, 2.5 (too far)
    par = Parametrization((BASIS,), 2, True, None)
    rows = {}
    for i, s, (X, y) in design_blocks(data, par, range(6), "test", progress=False):
        rows[i, s] = (X, y)
    tau = 3.5
    forces, changes = accumulate(data, par, change_time_fs=tau, progress=False, batch_frames=2)
    plain, none = accumulate(data, par, progress=False)
    for s in range(2):
        X = np.concatenate([rows[i, s][0] for i in range(6)])
        y = np.concatenate([rows[i, s][1] for i in range(6)])
        np.testing.assert_allclose(forces[s].gram, X.T @ X, rtol=1e-12, atol=1e-12 * np.abs(X.T @ X).max())
        np.testing.assert_allclose(plain[s].gram, forces[s].gram, rtol=1e-12, atol=1e-12 * np.abs(X.T @ X).max())
        dX = np.concatenate([(tau / dt) * (rows[i + 1, s][0] - rows[i, s][0]) for i, dt in ((0, 0.5), (1, 1.0), (3, 0.5))])
        dy = np.concatenate([(tau / dt) * (rows[i + 1, s][1] - rows[i, s][1]) for i, dt in ((0, 0.5), (1, 1.0), (3, 0.5))])
        np.testing.assert_allclose(changes[s].gram, dX.T @ dX, rtol=1e-10, atol=1e-10 * np.abs(dX.T @ dX).max())
        np.testing.assert_allclose(changes[s].rhs, dX.T @ dy, rtol=1e-10, atol=1e-10 * np.abs(dX.T @ dy).max())
        assert changes[s].yy == pytest.approx(float(dy @ dy), rel=1e-12)
        assert changes[s].n_rows == len(dy)
    assert none == []  # tau 0: no change rows
    unknown = Dataset(data.species_names, data.species_n, data.masses_n, data.positions_fnc, data.cells_f33,
                      forces_fnc=data.forces_fnc)  # no times given: frame indices are not fs
    assert not unknown.has_times
    assert accumulate(unknown, par, change_time_fs=tau, progress=False)[1] == []
    older = Dataset(data.species_names, data.species_n, data.masses_n, data.positions_fnc, data.cells_f33,
                    forces_fnc=data.forces_fnc, times_f=data.times_f,
                    provenance={"notes": ["no time information: times_f are the frame indices"]})  # saved before times_known
    assert not older.has_times and data.has_times
    data.times_f = np.arange(6) * 0.0005  # 0.5 fs written as ps
    with pytest.raises(ValueError, match=r"consecutive frames 0.0005 fs apart; are the times in fs\?"):
        accumulate(data, par, change_time_fs=tau, progress=False)


def test_force_changes_follow_the_fast_part_of_the_forces():
    """A force error that does not change between consecutive frames (a fixed offset per agent) drops out of
    the force changes: with them weighted in, the fit comes closer to the true model. The validation error
    reported is that of the forces alone, and the metadata count the pairs."""
    truth = true_model(quadratic=False)
    data = synthetic(truth, n_frames=40)
    offset = 0.3 * data.forces_fnc.std() * np.random.default_rng(5).normal(size=data.forces_fnc.shape[1:])
    data.forces_fnc = data.forces_fnc + offset[None]
    plain = fit_model(data, BASIS, "linear", ridge=0.0, progress=False)
    changes = fit_model(data, BASIS, "linear", ridge=0.0, progress=False, force_changes=20.0)
    assert plain.model.metadata["force_changes"]["agent_frame_pairs"] == {"train": 0, "validation": 0}
    assert changes.model.metadata["force_changes"]["time_fs"] == 20.0
    assert changes.model.metadata["force_changes"]["agent_frame_pairs"] == {"train": 23 * 48, "validation": 3 * 48}
    err = [np.abs(m.model.A - truth.A).max() for m in (plain, changes)]
    assert err[1] < 0.01 * err[0]  # measured 0.41 -> 0.00085
    validation = data.subset(range(32, 36))
    for sp, s in (("O", 0), ("H", 1)):
        mask = validation.species_n == s
        pred = np.array([changes.model.forces(p, validation.species_n, 8.5) for p in validation.positions_fnc])
        direct = np.sqrt(np.sum((pred - validation.forces_fnc)[:, mask] ** 2) / np.sum(validation.forces_fnc[:, mask] ** 2))
        assert changes.species_fits[sp].validation_relative_rmse == pytest.approx(direct, rel=1e-6)
    with pytest.raises(ValueError, match=r"force_changes must be a time >= 0 in fs \(0: off\), got -1"):
        fit_model(data, BASIS, "linear", progress=False, force_changes=-1)
