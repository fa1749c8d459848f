"""mldyn explore: frame selection, CP2K single-point decks and outputs, and the loop itself with a stand-in
for CP2K (tests/fake_cp2k.py: the "DFT" forces are a fixed mldyn model's) -- labels later, resume after a
failure, reports (the two-iteration loop and the labels-later round trip in the slow tier; one iteration in
the default one). The loop with the real CP2K is in test_explore_cp2k_real (slow tier)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mldyn import cli
from mldyn.data import bundled_h2o32_path
from mldyn.explore.loop import ExploreConfig, ExploreWaiting, explore
from mldyn.explore.selection import select_frames
from mldyn.io import load_dataset
from mldyn.io.cp2k_single_point import SinglePointError, read_single_point, single_point_deck
from mldyn.io.cp2k_writer import write_cp2k_run
from mldyn.md.run_dir import RunLock
from mldyn.model import load_model

FAKE = f"{sys.executable} {Path(__file__).with_name('fake_cp2k.py')}"


# ----------------------------------------------------------------------------- selection
def test_selection_takes_the_most_uncertain_frames_spread_out_in_time():
    times = [np.arange(10) * 10.0, np.arange(5) * 10.0]
    scores = [np.array([0.1, 0.9, 0.95, 0.8, 0.2, 0.1, 0.7, 0.1, 0.1, 0.3]), np.array([0.5, 0.1, 0.1, 0.1, 0.99])]
    # above 0.25; most uncertain first; frames of one run at least 25 fs apart (other runs do not block)
    assert select_frames(scores, times, 0.25, 10, 25.0) == [(1, 4), (0, 2), (0, 6), (1, 0), (0, 9)]
    assert select_frames(scores, times, 0.25, 2, 25.0) == [(1, 4), (0, 2)]
    assert select_frames(scores, times, 0.25, 10, 0.0) == [(1, 4), (0, 2), (0, 1), (0, 3), (0, 6), (1, 0), (0, 9)]
    assert select_frames(scores, times, 1.0, 10, 25.0) == []
    with pytest.raises(ValueError):
        select_frames(scores, times, 0.25, 10, -1.0)


# ----------------------------------------------------------------------------- decks and outputs
DECK = """@SET CUT 300
&GLOBAL
  PROJECT water ! the original
  RUN_TYPE MD
&END GLOBAL
&EXT_RESTART
  RESTART_FILE_NAME water-1.restart
&END EXT_RESTART
&MOTION
  &MD
    STEPS 10
  &END MD
&END MOTION
&FORCE_EVAL
  &DFT
    BASIS_SET_FILE_NAME my_basis
    &MGRID
      CUTOFF ${CUT}
    &END MGRID
    &SCF
      SCF_GUESS RESTART
    &END SCF
  &END DFT
  &SUBSYS
    &CELL
      ABC 4 4 4
      MULTIPLE_UNIT_CELL 2 2 2
      PERIODIC XYZ
    &END CELL
    &COORD
      O 0 0 0
      H 1 0 0
    &END COORD
    &TOPOLOGY
      MULTIPLE_UNIT_CELL 2 2 2
    &END TOPOLOGY
    &KIND O
      BASIS_SET DZVP-GTH
    &END KIND
  &END SUBSYS
&END FORCE_EVAL
"""


def test_single_point_deck_keeps_the_electronic_structure_and_takes_the_frame(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "in.inp").write_text(DECK)
    (tmp_path / "run" / "my_basis").write_text("basis\n")
    text = single_point_deck(tmp_path / "run" / "in.inp", "frame.xyz", np.diag([8.0, 8.5, 9.0]), project="sp")
    lines = [ln.strip() for ln in text.splitlines()]
    assert "RUN_TYPE ENERGY_FORCE" in lines and "PROJECT sp" in lines and "RUN_TYPE MD" not in lines
    for gone in ("&MOTION", "&EXT_RESTART", "&COORD", "MULTIPLE_UNIT_CELL 2 2 2", "ABC 4 4 4", "PROJECT water"):
        assert gone not in lines, gone
    assert "CUTOFF 300" in lines  # @SET applied; the method's settings kept
    assert "BASIS_SET DZVP-GTH" in lines and "PERIODIC XYZ" in lines
    assert f"BASIS_SET_FILE_NAME {tmp_path / 'run' / 'my_basis'}" in lines  # relative file made absolute
    assert "A [angstrom] 8.0000000000 0.0000000000 0.0000000000" in lines
    assert "C [angstrom] 0.0000000000 0.0000000000 9.0000000000" in lines
    assert "COORD_FILE_NAME frame.xyz" in lines and "COORD_FILE_FORMAT XYZ" in lines
    assert "SCF_GUESS ATOMIC" in lines  # not the original run's wavefunction
    assert "&FORCES ON" in lines
    guessed = single_point_deck(tmp_path / "run" / "in.inp", "frame.xyz", np.eye(3) * 8, wfn_guess="/x/sp-RESTART.wfn")
    assert "SCF_GUESS RESTART" in guessed and "WFN_RESTART_FILE_NAME /x/sp-RESTART.wfn" in guessed
    (tmp_path / "two.inp").write_text(DECK + "&FORCE_EVAL\n&END FORCE_EVAL\n")
    with pytest.raises(ValueError, match="two.inp: 2 &FORCE_EVAL sections"):
        single_point_deck(tmp_path / "two.inp", "frame.xyz", np.eye(3))


def test_read_single_point_converts_units_and_refuses_unconverged_or_missing_output(tmp_path):
    out = tmp_path / "sp.out"
    out.write_text(" ENERGY| Total FORCE_EVAL ( QS ) energy [a.u.]:   -17.5\n\n ATOMIC FORCES in [a.u.]\n\n"
                   " # Atom   Kind   Element          X              Y              Z\n"
                   "      1      1      O           0.01   0.0   -0.02\n      2      2      H   0.0   0.5  0.0\n")
    energy, forces = read_single_point(out, ["O", "H"])
    assert energy == pytest.approx(-17.5 * 27.211386245988)
    assert forces[1, 1] == pytest.approx(0.5 * 27.211386245988 / 0.529177210903, rel=1e-9)
    with pytest.raises(SinglePointError, match="not the frame's"):
        read_single_point(out, ["H", "O"])
    with pytest.raises(SinglePointError, match="no CP2K output"):
        read_single_point(tmp_path / "none.out", ["O", "H"])
    good = out.read_text()
    out.write_text(" *** SCF run NOT converged ***\n" + good)
    with pytest.raises(SinglePointError, match="did not converge"):
        read_single_point(out, ["O", "H"])
    # CP2K appends a second run to an existing output: only the last run counts
    out.write_text(" PROGRAM STARTED AT 1\n *** SCF run NOT converged ***\n PROGRAM STARTED AT 2\n" + good)
    assert read_single_point(out, ["O", "H"])[0] == pytest.approx(energy)
    out.write_text(" PROGRAM STARTED AT 1\n" + good + " PROGRAM STARTED AT 2\n *** SCF run NOT converged ***\n")
    with pytest.raises(SinglePointError, match="did not converge"):
        read_single_point(out, ["O", "H"])


# ----------------------------------------------------------------------------- the loop, fake CP2K
@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """The first 50 frames of the bundled run as a CP2K run directory with its deck."""
    path = tmp_path_factory.mktemp("original") / "run"
    write_cp2k_run(path, load_dataset("@h2o32").subset(range(50)), project="H2O-32")
    shutil.copy(Path(bundled_h2o32_path()) / "in.inp", path / "in.inp")
    return path


def _config(original, **kw):
    base = dict(data=[str(original)], temperatures=[550.0, 900.0], steps=300, traj_every=10, iterations=2, frames=4,
                min_separation_fs=20.0, fit={"checks": False})
    return ExploreConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def truth(fitted_h2o32):
    return fitted_h2o32[0]


@pytest.fixture(scope="module")
def explored(original, truth, tmp_path_factory):
    out = tmp_path_factory.mktemp("explore") / "x"
    os.environ["FAKE_CP2K_MODEL"] = str(truth)
    state = explore(_config(original, cp2k=FAKE, threshold=0.05, labels_weight=2.0), out, progress=False)
    return out, state


def test_labels_weight_must_be_positive(original, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"--labels-weight must be finite and > 0, got 0"):
        _config(original, labels_weight=0.0).validate()
    assert cli.main(["explore", str(original), "-o", str(tmp_path / "x"), "--labels-weight", "-1"]) == 2
    assert "--labels-weight must be finite and > 0, got -1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match=r"--seed must be an integer >= 0, got -5"):
        _config(original, seed=-5).validate()


@pytest.mark.slow
def test_loop_labels_the_selected_frames_with_the_decks_forces(explored, truth):
    out, state = explored
    assert state["finished"] == "2 iterations done"
    assert [r["index"] for r in state["iterations"]] == [1, 2] and all(r["done"] for r in state["iterations"])
    truth_model = load_model(truth)
    for rec in state["iterations"]:
        assert 1 <= len(rec["selected"]) <= 4
        assert all(s["uncertainty_eV_A"] > 0.05 for s in rec["selected"])
        by_run = {}
        for s in rec["selected"]:
            by_run.setdefault(s["run"], []).append(s["time_fs"])
        assert all(abs(a - b) >= 20.0 for ts in by_run.values() for a in ts for b in ts if a != b)
        labels = load_dataset(out / rec["labels"]["file"])
        assert labels.n_frames == len(rec["selected"]) == rec["labels"]["frames"]
        for t in range(labels.n_frames):  # Hartree/Bohr out of CP2K's table, eV/Å in the labels
            want = truth_model.forces(labels.positions_fnc[t], labels.symbols, labels.cells_f33[t])
            np.testing.assert_allclose(labels.forces_fnc[t], want, atol=2e-6 * np.abs(want).max())
        assert set(rec["errors_before"]) == {"O", "H"} and set(rec["errors_after"]) == {"O", "H"}
    decks = sorted((out / "iter-001" / "cp2k").glob("frame-*/sp.inp"))
    first, second = decks[0].read_text(), decks[1].read_text()
    assert "RUN_TYPE ENERGY_FORCE" in first and "CUTOFF 280" in first and "SCF_GUESS ATOMIC" in first
    assert "SCF_GUESS RESTART" in second and "frame-000/sp-RESTART.wfn" in second  # the previous frame's guess
    # model 2 was fitted on both iterations' labels and carries the uncertainty
    model = load_model(out / "model.json")
    assert model.covariance is not None
    assert state["fits"]["2"]["labelled_frames"] == sum(r["labels"]["frames"] for r in state["iterations"])
    assert model.metadata["system_weights"] == [1.0, 2.0]  # --labels-weight: the original run 1, the labels 2
    # every run starts from velocities drawn at its temperature, seeded per iteration and run
    for i, rec in enumerate(state["iterations"], start=1):
        for j, run in enumerate(rec["runs"]):
            origin = json.loads((out / run["rundir"] / "run.json").read_text())["initial_state"]
            assert f"velocities drawn at {run['temperature_K']:g} K (seed {1000 * i + j}) in place of the frame's" in origin


@pytest.mark.slow
def test_loop_writes_reports(explored):
    out, state = explored
    overall = (out / "report.md").read_text()
    assert "**Finished: 2 iterations done.**" in overall and "| model-002 |" in overall
    it1 = (out / "iter-001" / "report.md").read_text()
    assert "## Exploration runs" in it1 and "| 550 |" in it1 and "| 900 |" in it1
    assert "relative RMSE before the refit" in it1
    assert "H–O–H angle, mean" in it1 and "learned 900 K" in it1
    # the reference's sampling noise, from stretches as long as the original run (50 frames of 0.5 fs)
    assert state["reference_span_fs"] == pytest.approx(25.0)
    from mldyn.analysis.sampling_noise import stretch_spread
    from mldyn.report.compare import load_run

    run = state["iterations"][0]["runs"][0]
    want = stretch_spread(load_run(out / run["rundir"])[0], 25.0, skip_fs=25.0)  # the first stretch is the start-up
    assert run["fidelity_spread"]["stretches"] == want["stretches"] >= 3
    assert run["fidelity_spread"]["hoh_angle_mean_deg"] == pytest.approx(want["hoh_angle_mean_deg"])
    assert want["hoh_angle_mean_deg"] > 0
    assert "sampling noise of a 25 fs run (SD)" in it1 and "sampling noise of a 25 fs run (SD)" in overall
    assert "| model-000 (550 K) | model-001 (550 K) |" in overall


@pytest.mark.slow
def test_labels_later_writes_inputs_then_picks_up_the_outputs(original, truth, tmp_path, capsys):
    out = tmp_path / "later"
    rc = cli.main(["explore", str(original), "-o", str(out), "--labels-later", "--iterations", "1", "--frames", "2",
                   "--steps", "200", "--traj-every", "10", "--temperatures", "900", "--threshold", "0.01", "--min-separation", "20", "--quiet",
                   "--no-checks", "--densities", "0.9"])
    assert rc == 3
    assert "2 of 2 CP2K single points have no output yet" in capsys.readouterr().err
    # explored at 0.9 x the start's density: the cell of the frames to label is scaled by 0.9^(-1/3)
    start = load_dataset(original).cells_f33[-1]
    np.testing.assert_allclose(load_dataset(out / "iter-001" / "selected.extxyz").cells_f33[0], start * 0.9 ** (-1 / 3))
    frames = sorted((out / "iter-001" / "cp2k").glob("frame-*"))
    assert len(frames) == 2 and all((f / "sp.inp").exists() and not (f / "sp.out").exists() for f in frames)
    assert "cp2k.psmp -i sp.inp -o sp.out" in (out / "iter-001" / "cp2k" / "run_all.sh").read_text()
    # still missing: says so again and changes nothing
    assert cli.main(["explore", "--restart", str(out), "--quiet"]) == 3
    capsys.readouterr()
    env = dict(os.environ, FAKE_CP2K_MODEL=str(truth))
    for f in frames:  # "the batch system" runs the inputs
        subprocess.run(FAKE.split() + ["-i", "sp.inp", "-o", "sp.out"], cwd=f, env=env, check=True)
    state_before = json.loads((out / "explore.json").read_text())
    assert cli.main(["explore", "--restart", str(out), "--quiet"]) == 0
    state = json.loads((out / "explore.json").read_text())
    assert state["iterations"][0]["runs"][0]["density_factor"] == 0.9
    assert state["iterations"][0]["runs"] == state_before["iterations"][0]["runs"]  # MD not run again
    assert state["iterations"][0]["labels"]["frames"] == 2 and (out / "model.json").exists()
    assert "done" in capsys.readouterr().out


@pytest.mark.slow
def test_denser_than_the_cutoff_allows_is_refused_before_any_run(original, truth, tmp_path):
    with pytest.raises(ValueError, match="--densities 1.1: the compressed cell's half width .* below the model's "
                                         "4.926 Å cutoff.*densities up to 1.000"):
        explore(_config(original, densities=[1.0, 1.1], cp2k=FAKE), tmp_path / "dense", progress=False)
    assert not (tmp_path / "dense" / "iter-001" / "md-550K").exists()


def test_resume_after_failed_single_points_reuses_what_was_done(original, truth, tmp_path, monkeypatch):
    out = tmp_path / "resume"
    cfg = _config(original, iterations=1, frames=2, temperatures=[900.0], steps=200, threshold=0.05,
                  cp2k=f"{sys.executable} -c pass")  # a "CP2K" that writes nothing
    with pytest.raises(RuntimeError, match="none of the 2 CP2K single points of iteration 1 gave forces"):
        explore(cfg, out, progress=False)
    with pytest.raises(ValueError, match="not empty; continue an exploration there with --restart"):
        explore(_config(original), out, progress=False)
    with RunLock(out), pytest.raises(ValueError, match="in use by another mldyn"):  # one mldyn at a time
        explore(None, out, restart=True, progress=False, overrides={"cp2k": FAKE})
    md = out / "iter-001" / "md-900K" / "trajectory.extxyz"
    stamp = md.stat().st_mtime_ns
    stale = out / "iter-001" / "cp2k" / "frame-000" / "sp.out"  # a crashed attempt's output
    stale.write_text(" PROGRAM STARTED AT 1\n *** SCF run NOT converged ***\n")
    monkeypatch.setenv("FAKE_CP2K_MODEL", str(truth))
    monkeypatch.setenv("FAKE_CP2K_FAIL", "frame-001")  # the second frame's SCF "does not converge"
    state = explore(None, out, restart=True, progress=False, overrides={"cp2k": FAKE})
    assert md.stat().st_mtime_ns == stamp
    lab = state["iterations"][0]["labels"]
    assert lab["frames"] == 1 and "did not converge" in lab["failed"]["1"]
    assert "NOT converged" in (stale.parent / "sp.out.attempt-1").read_text()  # kept aside, not appended to
    assert state["finished"] == "1 iterations done"
    assert "frame 1: " in (out / "iter-001" / "report.md").read_text()
    # finished; asking again changes nothing, asking for more rounds would go on (here: says it is done)
    again = explore(None, out, restart=True, progress=False, overrides={"cp2k": FAKE})
    assert again["finished"] == "1 iterations done" and len(again["iterations"]) == 1


# ----------------------------------------------------------------------------- reports from explore.json alone
def _state_with_runs() -> dict:
    ref = {"mean_temperature_K": 540.0, "hoh_angle_mean_deg": 105.0, "hydrogens_changed_oxygen": 9.0}
    spread = {"mean_temperature_K": 20.0, "hoh_angle_mean_deg": 0.45, "hydrogens_changed_oxygen": 5.0, "stretches": 20}

    def runs(angle_550, angle_650):
        return [{"temperature_K": 550.0, "rundir": "r", "fidelity": {"hoh_angle_mean_deg": angle_550},
                 "fidelity_spread": spread},
                {"temperature_K": 650.0, "rundir": "r", "fidelity": {"hoh_angle_mean_deg": angle_650},
                 "fidelity_spread": {"error": "should not be used: 650 K is farther from the reference"}}]
    return {"config": {"data": ["d"], "cp2k_input": "in.inp", "temperatures": [550.0, 650.0], "steps": 10, "dt": 0.5,
                       "frames": 4}, "threshold": 0.2, "reference_observables": ref, "reference_span_fs": 250.0,
            "model": "models/model-002.json", "finished": "2 iterations done",
            "iterations": [{"index": 1, "model": "models/model-000.json", "runs": runs(105.4, 106.0), "selected": []},
                           {"index": 2, "model": "models/model-001.json", "runs": runs(105.2, 106.1), "selected": []}]}


def test_reports_show_each_models_dynamics_with_the_references_sampling_noise():
    from mldyn.explore.report import iteration_report, overall_report

    state = _state_with_runs()
    overall = overall_report(state)
    assert "## Learned dynamics of each model against the reference" in overall
    assert "| CP2K (original run) | model-000 (550 K) | model-001 (550 K) |" in overall
    assert "sampling noise of a 250 fs run (SD)" in overall and "over 20 consecutive stretches of 250 fs" in overall
    row = next(line for line in overall.splitlines() if line.startswith("| H–O–H angle, mean"))
    assert row.split("|")[3:-1] == [" 105.00 ", " 105.40 ", " 105.20 ", " +0.400 ", " +0.200 ", " 0.450 "]
    counts = next(line for line in overall.splitlines() if line.startswith("| Hydrogens that changed oxygen"))
    assert counts.rstrip().endswith("| n/a |")  # grows with the run's length: no noise figure
    assert "The final model (model-002) has had no exploration run" in overall
    it = iteration_report(state, state["iterations"][0])
    assert "sampling noise of a 250 fs run (SD)" in it and "| learned 550 K | learned 650 K |" in it
    # without an estimate the report says why instead of showing a column
    state["iterations"][0]["runs"][0]["fidelity_spread"] = {"error": "a run of 5 fs holds 0 whole stretches"}
    it = iteration_report(state, state["iterations"][0])
    assert "sampling noise of a" not in it and "Sampling noise of the reference not shown: a run of 5 fs" in it
    # the overall table then takes the noise of the next model's run, and says whose it is
    overall = overall_report(state)
    assert "sampling noise of a 250 fs run (SD)" in overall and "of the learned 550 K run of model-001" in overall
    # a run that stopped is not the one whose noise is shown, even at the nearest temperature
    state["iterations"][1]["runs"][0]["stopped"] = "contact"
    state["iterations"][1]["runs"][1]["fidelity_spread"] = dict(state["iterations"][1]["runs"][0]["fidelity_spread"])
    assert "of the learned 650 K run" in iteration_report(state, state["iterations"][1])
