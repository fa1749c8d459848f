"""Stability: walls below the training floors, the scan and MD-probe checks, and a model that fails
them is refused (by fit_model and by `mldyn fit`)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import mldyn
from mldyn.cli import main
from mldyn.dataset import Dataset
from mldyn.fit import fit_model
from mldyn.fit.stability import (floor_matrix, md_probe, scan_repulsion, training_floors, wall_descriptor,
                                 wall_strengths, PROBE_HEAT, WALL_STRENGTH_EV_PER_AMU)
from mldyn.fit.model_fit import data_temperature

import reference as R

BOX = 11.0
ATTRACTIVE = mldyn.Radial((("exp", 0.8), ("gauss", 1.2)), r_cut=5.0, r_on=4.0)


def attractive_data(n_frames=30, n=50, seed=0):
    """Random configurations (no pair closer than 2 Å) with the forces of a pair potential that
    attracts at every distance: a fit reproduces the attraction below 2 Å, where it has no data."""
    rng = np.random.default_rng(seed)
    truth = mldyn.AgentLossModel.pair_potential(["C"], ATTRACTIVE, [[[-2.0, -1.0]]])
    pos = np.array([R.random_configuration(n, BOX, rng, min_dist=2.0) for _ in range(n_frames)])
    species = np.zeros(n, dtype=np.int32)
    forces = np.array([truth.forces(p, species, BOX) for p in pos])
    cells = np.repeat((np.eye(3) * BOX)[None], n_frames, axis=0)
    vel = np.array([mldyn.maxwell_boltzmann(np.full(n, 12.0107), 300.0, seed=seed + t) for t in range(n_frames)])
    return Dataset(["C"], species, np.full(n, 12.0107), pos, cells, vel, forces, np.arange(n_frames),
                   np.arange(n_frames) * 0.5)


def test_floors_are_the_closest_training_distances_per_species_pair():
    data = mldyn.load_dataset("@h2o32").subset(range(0, 100))
    floors = training_floors(data)
    assert set(floors) == {"O-O", "O-H", "H-H"}
    i, j = np.triu_indices(96, k=1)
    sp = np.asarray(data.species_n)
    best = {}
    for t in range(0, 100, 33):  # the oracle's minimum image on a few frames: floors can only be lower
        d = np.linalg.norm(R.minimum_image(data.positions_fnc[t][j] - data.positions_fnc[t][i], data.cells_f33[t]),
                           axis=1)
        for key, sel in (("O-O", (sp[i] == 0) & (sp[j] == 0)), ("H-H", (sp[i] == 1) & (sp[j] == 1))):
            best[key] = min(best.get(key, np.inf), d[sel].min())
    assert floors["O-O"] <= best["O-O"] and floors["H-H"] <= best["H-H"]
    assert 2.0 < floors["O-O"] < 2.6 and 0.8 < floors["O-H"] < 1.0 and 1.2 < floors["H-H"] < 1.6
    np.testing.assert_array_equal(floor_matrix(floors, ["O", "H"]),
                                  [[floors["O-O"], floors["O-H"]], [floors["O-H"], floors["H-H"]]])


def test_walls_are_a_pair_potential_that_is_zero_above_the_floor_and_repels_below():
    floors = {"O-O": 2.3, "O-H": 0.9, "H-H": 1.35}
    wall, A = wall_descriptor(["O", "H"], floors, WALL_STRENGTH_EV_PER_AMU)
    model = mldyn.AgentLossModel(["O", "H"], wall, A)
    assert model.conservative  # B = 0, radial, A symmetric in the species pair
    for a, b, floor in (("O", "O", 2.3), ("O", "H", 0.9), ("H", "H", 1.35)):
        for r, sign in ((floor * 1.001, 0), (floor * 0.95, -1), (floor * 0.7, -1)):
            f = model.forces(np.array([[0.0, 0, 0], [r, 0, 0]]), [a, b], None)
            if sign == 0:
                assert np.all(f == 0)
            else:
                assert f[0, 0] < 0 < f[1, 0]  # pushed apart
    # stronger closer: ~ strength * (1 - r/floor)^3 near the floor, (floor/r)^12 / 64 far below it
    _, e1 = model.compute(np.array([[0.0, 0, 0], [2.3 * 0.9, 0, 0]]), ["O", "O"], None)
    _, e2 = model.compute(np.array([[0.0, 0, 0], [2.3 * 0.6, 0, 0]]), ["O", "O"], None)
    assert 1e-3 * WALL_STRENGTH_EV_PER_AMU < e1[0] < 5e-3 * WALL_STRENGTH_EV_PER_AMU and e2[0] > 1000 * e1[0]


def test_wall_strengths_scale_with_the_reduced_mass_of_the_pair():
    """Equally stiff for every pair's motion: strength = eV/amu x reduced mass (water: O-O 8x H-H 16x)."""
    strengths = wall_strengths(["O", "H"], [15.999, 1.008], 1000.0)
    assert strengths == pytest.approx({"O-O": 7999.5, "O-H": 1000 * 15.999 * 1.008 / 17.007, "H-H": 504.0})
    wall, A = wall_descriptor(["O", "H"], {"O-O": 2.3, "O-H": 0.9, "H-H": 1.35}, strengths)
    assert len(wall) == 3 and A.shape == (2, 6)  # A[agent, neighbour species * 3 + pair]
    assert (A[0, 0], A[0, 3 + 1], A[1, 0 + 1], A[1, 3 + 2]) == pytest.approx(
        (strengths["O-O"], strengths["O-H"], strengths["O-H"], strengths["H-H"]))
    assert np.count_nonzero(A) == 4


def test_scan_and_probe_flag_an_attractive_fit_and_pass_with_walls():
    data = attractive_data()
    floors = training_floors(data)
    bare = fit_model(data, ATTRACTIVE, "linear", split=(0.0, 0.8, 0.2, 0.0), progress=False).model
    scan = scan_repulsion(bare, data, floors)
    assert not scan["passed"] and scan["attractive"] and scan["worst_along_force_eV_per_A"]["C-C"] > 0
    probe = md_probe(bare, data, floors, temperature=300.0, steps=1500, runs=1)
    assert not probe["passed"] and "contact limit" in probe["runs"][0]["error"]
    walled = fit_model(data, ATTRACTIVE, "linear", split=(0.0, 0.8, 0.2, 0.0), walls=WALL_STRENGTH_EV_PER_AMU,
                       progress=False).model
    assert scan_repulsion(walled, data, floors)["passed"]
    assert md_probe(walled, data, floors, temperature=300.0, steps=1500, runs=1)["passed"]


def test_fit_with_checks_returns_a_model_that_passes_or_says_none_did():
    data = attractive_data()
    report = fit_model(data, ATTRACTIVE, "linear", split=(0.0, 0.8, 0.2, 0.0), walls=None, checks=True,
                       probe_steps=800, progress=False)
    assert report.stability is not None and not report.stability.passed
    assert len(report.candidates) == 7 and not any(c["passed"] for c in report.candidates)  # every ridge floor tried
    assert report.model.metadata["stability"]["passed"] is False
    good = fit_model(data, ATTRACTIVE, "linear", split=(0.0, 0.8, 0.2, 0.0), walls=WALL_STRENGTH_EV_PER_AMU, checks=True,
                     probe_steps=800, progress=False)
    assert good.stability.passed and len(good.candidates) == 1
    meta = good.model.metadata
    assert meta["stability"]["passed"] and meta["walls"]["strength_eV_per_amu"] == WALL_STRENGTH_EV_PER_AMU
    assert meta["closest_pairs_A"]["C-C"] == pytest.approx(training_floors(data.split(0.0, 0.8, 0.2, 0.0).train)["C-C"])
    # the probe runs hotter than the data it starts from (its validation frames)
    validation = data.split(0.0, 0.8, 0.2, 0.0).validation
    assert meta["stability"]["probe"]["temperature_K"] == pytest.approx(PROBE_HEAT * data_temperature(validation))
    assert PROBE_HEAT > 1 and f"steps at {PROBE_HEAT * data_temperature(validation):.0f} K: passed" in good.stability.summary()


def test_mldyn_fit_refuses_a_model_that_fails_the_checks(tmp_path, capsys):
    data = attractive_data()
    path = tmp_path / "attractive.npz"
    data.save(path)
    out = tmp_path / "model.json"
    code = main(["fit", str(path), "-o", str(out), "--walls", "none", "--probe-steps", "800", "--split",
                 "0,0.7,0.2,0.1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "no candidate model passed the stability checks" in err and "attractive.unstable.json" not in err
    bad = tmp_path / "model.unstable.json"
    assert bad.is_file() and json.loads(bad.read_text())["training"]["stability"]["passed"] is False


def test_a_model_with_walls_round_trips_through_its_file(tmp_path):
    floors = {"O-O": 2.3, "O-H": 0.9, "H-H": 1.35}
    wall, A = wall_descriptor(["O", "H"], floors, WALL_STRENGTH_EV_PER_AMU)
    model = mldyn.AgentLossModel(["O", "H"], wall, A)
    model.metadata = {"walls": floors}
    model.save(tmp_path / "w.json")
    text = json.loads((tmp_path / "w.json").read_text())
    assert '"core"' in json.dumps(text["descriptors"])
    back = mldyn.AgentLossModel.load(tmp_path / "w.json")
    pos = np.array([[0.0, 0, 0], [0.8, 0.1, 0], [2.0, 0.3, 0.2], [1.1, 1.0, 0.0]])
    np.testing.assert_array_equal(back.forces(pos, ["O", "H", "O", "H"], None),
                                  model.forces(pos, ["O", "H", "O", "H"], None))
    assert back.metadata["walls"] == floors
