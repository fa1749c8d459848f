"""Per-agent force uncertainty (mldyn.uncertainty, force_covariance.hpp): exact against a numpy Bayesian
linear regression built from brute-force invariants, stored in the model file, calibrated on a toy
system whose truth is in the model class, and available in mldyn test, mldyn run and ASE."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from reference import model_features, water_box

from mldyn import cli
from mldyn.dataset import Dataset
from mldyn.descriptors import Angular, Radial
from mldyn.fit import fit_model
from mldyn.model import AgentLossModel, load_model

CELL = 7.0
RADIAL = Radial((("exp", 1.0), ("gauss", 1.5), ("power", 1.0)), r_cut=3.4)
ANGULAR = Angular((("gauss", 1.0),), l_max=2, r_cut=3.0)


def _truth(rng):
    """A model in the fitted class: the truth of the toy data."""
    S, F = 2, RADIAL.size(2) + ANGULAR.size(2)
    A = rng.normal(0, 0.3, (S, F))
    Fq = RADIAL.size(2)
    B = np.stack([0.02 * (m + m.T) for m in rng.normal(size=(S, Fq, Fq))])
    return AgentLossModel(["O", "H"], (RADIAL, ANGULAR), A, B)


def _frames(rng, n, jitter):
    pos, spec = [], None
    for _ in range(n):
        p, spec = water_box(8, CELL, rng, jitter=jitter, bond=(0.9, 1.1), angle_deg=(95, 115))
        pos.append(p)
    return np.array(pos), spec


@pytest.fixture(scope="module")
def toy():
    """Independent water-like frames, forces of a model in the fitted class plus Gaussian noise (0.05 eV/Å
    per component), and the fit (fixed ridge, every parameter, no walls)."""
    rng = np.random.default_rng(7)
    truth = _truth(rng)
    pos, spec = _frames(rng, 60, 0.12)
    forces = np.array([truth.forces(p, spec, CELL) for p in pos]) + rng.normal(0, 0.05, pos.shape)
    data = Dataset(["O", "H"], spec, [15.999 if s == 0 else 1.008 for s in spec], pos,
                   np.eye(3) * CELL, forces_fnc=forces)  # contiguous blocks: train frames 12-47
    report = fit_model(data, descriptors=(RADIAL, ANGULAR), quadratic_descriptors=1, ridge=1e-6, progress=False)
    return truth, data, report


def _design_rows(phi, dphi, Fq):
    """Numpy design rows (3, P) of one agent: F linear, then the upper triangle of B (design.hpp)."""
    rows = []
    for c in range(3):
        d = dphi[:, c]
        quad = [phi[e] * d[e] if e == f else phi[e] * d[f] + phi[f] * d[e] for e in range(Fq) for f in range(e, Fq)]
        rows.append(-np.concatenate([d, quad]))
    return np.array(rows)


def test_uncertainty_is_exact_bayesian_linear_regression(toy):
    """Posterior mean = the fitted coefficients; sqrt(noise x leverage) per agent = numpy's BLR to 1e-6."""
    _, data, report = toy
    model = report.model
    doc = model.to_dict()
    Fq = model.n_quadratic
    train = range(*report.split_frames["frame_ranges"]["train"])
    assert len(train) == report.split_frames["train"] == 36
    cov = model.covariance
    for s in (0, 1):
        X, y = [], []
        for t in train:
            phi, dphi = model_features(doc, data.positions_fnc[t], data.species_n, np.eye(3) * CELL)
            for k in np.flatnonzero(data.species_n == s):
                X.append(_design_rows(phi[k], dphi[k], Fq))
                y.append(data.forces_fnc[t][k])
        X, y = np.concatenate(X), np.concatenate(y)
        params = np.array(cov.params[s])
        Xs = X[:, params]
        d2 = np.sum(Xs ** 2, axis=0)
        precision = Xs.T @ Xs + 1e-6 * np.diag(d2)
        mean = np.linalg.solve(precision, Xs.T @ y)
        theta = np.concatenate([model.A[s], model.B[s][np.triu_indices(Fq)]])
        np.testing.assert_allclose(theta[params], mean, rtol=1e-6, atol=1e-9 * np.abs(mean).max())
        noise = np.sum((Xs @ mean - y) ** 2) / (len(y) - len(params))
        assert cov.noise_variances[s] == pytest.approx(noise, rel=1e-6)
        # a frame the fit never saw
        test_t = report.split_frames["frame_ranges"]["test"][0]
        phi, dphi = model_features(doc, data.positions_fnc[test_t], data.species_n, np.eye(3) * CELL)
        post = np.linalg.inv(precision)
        want = [math.sqrt(noise * np.einsum("ci,ij,cj->", x, post, x))
                for x in (_design_rows(phi[k], dphi[k], Fq)[:, params] for k in np.flatnonzero(data.species_n == s))]
        got = model.force_uncertainty(data.positions_fnc[test_t], data.species_n, np.eye(3) * CELL)[data.species_n == s]
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("float32", [False, True])
@pytest.mark.parametrize("m", [1, 5, 8, 13, 16, 17, 27, 32, 33])
def test_leverage_kernel_against_numpy_for_any_parameter_count(m, float32):
    """The kernel keeps the factor by blocks of 8 rows (16 in float32, MD's tracked steps on AVX-512): counts
    below, at and between multiples of 8 and 16, parameters in any order, two species, a short last block of
    agents. float64 to 1e-12; float32 to 1e-5 (3e-8 to 2e-7 measured on these well-conditioned factors)."""
    from mldyn import _core

    rng = np.random.default_rng(m)
    F, n = 30, 7  # linear: 30 parameters per species
    params = [list(rng.permutation(F)[:m]), list(rng.permutation(F)[: max(1, m // 2)])]
    factors = [rng.normal(size=len(p) * (len(p) + 1) // 2) for p in params]
    cov = _core.ForceCovariance(F, params, factors, [1.0, 1.0])
    phi, dphi = rng.normal(size=(n, F)), rng.normal(size=(n, F, 3))
    species = np.array([0, 1, 0, 0, 1, 0, 0], dtype=np.int32)
    h = np.asarray(cov.leverage(phi, dphi, species, 0, float32=float32))
    for k in range(n):
        p = params[species[k]]
        M = np.zeros((len(p), len(p)))
        M[np.tril_indices(len(p))] = factors[species[k]]  # packed row by row
        x = dphi[k][p]  # (m, 3): the design rows up to their sign
        assert h[k] == pytest.approx(np.sum((M @ x) ** 2), rel=1e-5 if float32 else 1e-12)


def test_model_file_round_trip_and_old_models(toy, tmp_path):
    _, data, report = toy
    path = report.model.save(tmp_path / "m.json")
    doc = json.loads(path.read_text())
    assert doc["uncertainty"]["method"] == "bayesian-linear-regression"
    assert set(doc["uncertainty"]["species"][0]) >= {"params", "factor", "noise_variance", "prior_ridge"}
    back = load_model(path)
    u0 = report.model.force_uncertainty(data.positions_fnc[0], data.species_n, CELL)
    np.testing.assert_array_equal(back.force_uncertainty(data.positions_fnc[0], data.species_n, CELL), u0)
    assert back.to_dict()["uncertainty"] == doc["uncertainty"]
    # a model without the section (older files) loads and says why it has no uncertainty
    del doc["uncertainty"]
    (tmp_path / "old.json").write_text(json.dumps(doc))
    old = load_model(tmp_path / "old.json")
    assert old.covariance is None
    with pytest.raises(ValueError, match="no force uncertainty.*fit it again"):
        old.force_uncertainty(data.positions_fnc[0], data.species_n, CELL)


@pytest.mark.parametrize("edit, message", [
    (lambda u: u["species"][0].update(factor=u["species"][0]["factor"][:-12]), "not a whole number of float64|n\\(n\\+1\\)/2"),
    (lambda u: u["species"][0].update(factor="#" + u["species"][0]["factor"][1:]), "not base64"),
    (lambda u: u["species"][1]["params"].append(10 ** 6), "out of range"),
    (lambda u: u["species"].pop(), "one per species"),
    (lambda u: u["species"][0].update(noise_variance=-1.0), "noise_variance"),
])
def test_damaged_uncertainty_section_is_refused_naming_the_file(toy, tmp_path, edit, message):
    doc = toy[2].model.to_dict()
    edit(doc["uncertainty"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=f"{path}.*({message})"):
        load_model(path)


def test_uncertainty_grows_outside_the_training_region(toy):
    """Squeezing one molecule (O-H at 55% of its length, far below the data) raises its agents' uncertainty
    more than fivefold (measured 9-15x); agents out of its reach do not change."""
    _, data, report = toy
    pos = data.positions_fnc[0].copy()
    base = report.model.force_uncertainty(pos, data.species_n, CELL)
    o, h1, h2 = pos[0], pos[1], pos[2]
    pos[1] = o + 0.55 * (h1 - o)
    pos[2] = o + 0.55 * (h2 - o)
    squeezed = report.model.force_uncertainty(pos, data.species_n, CELL)
    assert squeezed[:3].min() > 5 * base[:3].max()
    far = np.linalg.norm((pos - o + CELL / 2) % CELL - CELL / 2, axis=1) > 3.4 + 1.2  # cutoff + O-H
    np.testing.assert_allclose(squeezed[far], base[far], rtol=1e-9)


def test_calibration_on_a_toy_system_with_known_noise(toy):
    """The truth is in the model class and the noise is Gaussian, so BLR is calibrated: on new frames like the
    training ones the predicted error matches the actual one; on more distorted frames both grow (the
    prediction cautiously more), and agents the model is less sure of have larger errors (positive rank
    correlation)."""
    from mldyn.fit.calibration import calibration
    from mldyn.fit.metrics import evaluate_forces

    truth, data, report = toy
    rng = np.random.default_rng(11)
    out = {}
    for name, jitter in (("like training", 0.12), ("distorted", 0.3)):
        pos, spec = _frames(rng, 12, jitter)
        if name == "distorted":  # bonds and angles well outside the training ranges
            for p in pos:
                for m in range(8):
                    o = p[3 * m]
                    p[3 * m + 1: 3 * m + 3] = o + rng.uniform(0.75, 1.35) * (p[3 * m + 1: 3 * m + 3] - o)
        forces = np.array([truth.forces(p, spec, CELL) for p in pos]) + rng.normal(0, 0.05, pos.shape)
        new = Dataset(["O", "H"], spec, [15.999 if s == 0 else 1.008 for s in spec], pos, np.eye(3) * CELL,
                      forces_fnc=forces, provenance={"time_axis": False})
        res = evaluate_forces(report.model, new, progress=False, uncertainty=True)
        out[name] = (res, calibration(res["agents"], ["O", "H"]))
    res, cal = out["like training"]
    for sp in ("O", "H"):
        c = cal["species"][sp]
        assert 0.8 < c["rms_actual_error"] / c["rms_predicted_error"] < 1.25, c
    res_d, cal_d = out["distorted"]
    for sp in ("O", "H"):
        assert cal_d["species"][sp]["mean_uncertainty"] > 3 * cal["species"][sp]["mean_uncertainty"]
        assert cal_d["species"][sp]["rms_actual_error"] > 1.1 * cal["species"][sp]["rms_actual_error"]  # O 4x, H 1.15x
        assert cal_d["species"][sp]["spearman_predicted_vs_error"] > 0.15  # measured O 0.69, H 0.23
        # out of the training region the prior (the ridge: coefficients a priori as large as the data allow)
        # makes the prediction cautious: measured 0.35-0.6 of the predicted error; never overconfident
        ratio = cal_d["species"][sp]["rms_actual_error"] / cal_d["species"][sp]["rms_predicted_error"]
        assert 0.2 < ratio < 1.1, ratio


def test_mldyn_test_reports_uncertainty_per_species_and_frame(toy, tmp_path, capsys):
    _, data, report = toy
    model = report.model.save(tmp_path / "m.json")
    data.save(tmp_path / "data.npz")
    rc = cli.main(["test", str(model), str(tmp_path / "data.npz"), "--quiet", "--per-frame", str(tmp_path / "pf.txt"),
                   "--plot", str(tmp_path / "u.png")])
    out = capsys.readouterr().out
    assert rc == 0 and "pred. error" in out and "max unc." in out
    rows = [ln.split() for ln in (tmp_path / "pf.txt").read_text().splitlines() if not ln.startswith("#")]
    assert len(rows) == data.n_frames and all(float(r[2]) >= float(r[3]) > 0 for r in rows)
    assert (tmp_path / "u.png").stat().st_size > 10_000
    assert cli.main(["test", str(model), str(tmp_path / "data.npz"), "--json", "--uncertainty"]) == 0
    doc = json.loads(capsys.readouterr().out)
    u = doc["uncertainty"]["species"]["H"]
    assert u["max_uncertainty"] >= u["mean_uncertainty"] > 0 and -1 <= u["spearman_predicted_vs_error"] <= 1
    assert set(doc["species"]["H"]) == {"rmse", "rms_reference", "relative_rmse"}  # the figures of old, unchanged
    assert len(doc["systems"][0]["uncertainty"]["max_uncertainty_per_frame"]) == data.n_frames
    assert cli.main(["test", str(model), str(tmp_path / "data.npz"), "--json"]) == 0
    assert "uncertainty" not in json.loads(capsys.readouterr().out)  # only when asked


def test_ase_calculator_gives_force_uncertainty(toy):
    from ase import Atoms

    from mldyn.ase import MLDCalculator

    _, data, report = toy
    atoms = Atoms(["O" if s == 0 else "H" for s in data.species_n], positions=data.positions_fnc[3],
                  cell=np.eye(3) * CELL, pbc=True)
    atoms.calc = MLDCalculator(report.model)
    got = atoms.calc.get_property("force_uncertainty", atoms)
    np.testing.assert_allclose(got, report.model.force_uncertainty(data.positions_fnc[3], data.species_n, CELL))
    old = AgentLossModel(report.model.species, report.model.descriptors, report.model.A, report.model.B)
    atoms.calc = MLDCalculator(old)
    from ase.calculators.calculator import PropertyNotImplementedError

    with pytest.raises(PropertyNotImplementedError):
        atoms.calc.get_property("force_uncertainty", atoms)


def _run_files(toy, tmp_path):
    from mldyn.io.xyz import write_extxyz

    _, data, report = toy
    model = report.model.save(tmp_path / "m.json")
    write_extxyz(tmp_path / "start.extxyz", data.subset([0]))
    return str(model), str(tmp_path / "start.extxyz")


def test_simulation_records_the_uncertainty_with_the_forces_of_thermo_steps(toy):
    """A tracked run records at every thermo row the largest uncertainty of that configuration (as
    evaluated apart); the forces of those steps come from the invariants' gradients (one pass for both)
    and equal the plain forces to rounding, so the trajectory is the same."""
    from mldyn import _core
    from mldyn.md import Simulation

    _, data, report = toy
    model = report.model

    def start():
        return Simulation(model, data.positions_fnc[3], data.species_n, CELL, dt=0.1, temperature=300.0, seed=3)

    plain, tracked = start(), start()
    tracked.track_uncertainty()
    _, plain_thermo = plain.run_recording(30, thermo_every=10)
    _, thermo = tracked.run_recording(30, thermo_every=10)
    assert "uncertainty" not in plain_thermo
    assert list(thermo["step"]) == [10, 20, 30]
    assert np.all(thermo["uncertainty"] > 0)
    u = model.force_uncertainty(tracked.positions, tracked.species_n, CELL)
    assert thermo["uncertainty"][-1] == pytest.approx(u.max(), rel=1e-5)  # tracked steps: float32 on AVX-512
    assert thermo["uncertain_atom"][-1] == np.argmax(u)
    # step 30's forces came from the gradient pass (the toy model has a quadratic block: -(A + B phi) . dphi)
    scale = np.abs(plain.forces).max()
    np.testing.assert_allclose(tracked.forces, model.forces(tracked.positions, tracked.species_n, CELL),
                               rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(tracked.positions, plain.positions, rtol=0, atol=1e-10)
    np.testing.assert_allclose(tracked.forces, plain.forces, rtol=0, atol=1e-9 * scale)
    other = _core.ForceCovariance(5, [[0], [0]], [np.ones(1), np.ones(1)], [1.0, 1.0])
    with pytest.raises(ValueError, match="force covariance: made for 5 parameters per species, the model's invariants give"):
        tracked.core.set_force_covariance(other)


def test_run_writes_the_largest_uncertainty_at_every_thermo_line(toy, tmp_path, capsys):
    model, start = _run_files(toy, tmp_path)
    rc = cli.main(["run", model, "--init", start, "--steps", "45", "--temperature", "300", "-o", str(tmp_path / "r"), "--dt", "0.1",
                   "--uncertainty", "--quiet"])
    assert rc == 0
    assert "largest force uncertainty" in capsys.readouterr().out
    lines = (tmp_path / "r" / "thermo.log").read_text().splitlines()
    assert lines[0].split()[-1] == "max_force_uncertainty_eV_A"
    rows = [ln.split() for ln in lines[1:]]
    assert [int(r[0]) for r in rows] == [0, 10, 20, 30, 40, 45]
    values = np.array([float(r[-1]) for r in rows])
    assert np.all(np.isfinite(values)) and np.all(values > 0)
    # the column is the largest agent's uncertainty of the configuration at that step (here: step 0)
    first = load_model(model).force_uncertainty(toy[1].positions_fnc[0], toy[1].species_n, CELL).max()
    assert values[0] == pytest.approx(first, rel=1e-5)


def test_run_stops_or_flags_above_max_uncertainty(toy, tmp_path, capsys):
    model, start = _run_files(toy, tmp_path)
    base = ["run", model, "--init", start, "--steps", "40", "--dt", "0.1", "--temperature", "300", "--quiet", "--max-uncertainty",
            "1e-4"]
    assert cli.main(base + ["-o", str(tmp_path / "stop")]) == 1
    err = capsys.readouterr().err
    assert "left the trusted region at step 10" in err and "above --max-uncertainty 0.0001 eV/Å" in err
    assert "left the trusted region" in (tmp_path / "stop" / "stopped.txt").read_text()
    assert cli.main(base + ["-o", str(tmp_path / "flag"), "--on-uncertainty", "flag"]) == 0
    assert "ABOVE the limit 0.0001 eV/Å at 4 evaluations from step 10" in capsys.readouterr().out


def test_run_refuses_uncertainty_for_a_model_without_covariance(toy, tmp_path, capsys):
    model, start = _run_files(toy, tmp_path)
    doc = json.loads(open(model).read())
    del doc["uncertainty"]
    (tmp_path / "old.json").write_text(json.dumps(doc))
    rc = cli.main(["run", str(tmp_path / "old.json"), "--init", start, "--steps", "10", "--temperature", "300", "-o",
                   str(tmp_path / "r"), "--uncertainty"])
    assert rc == 2
    assert "has no force uncertainty" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
