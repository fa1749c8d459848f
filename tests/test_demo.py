"""`mldyn demo` end to end: fit with selection, learned NVT MD, comparison report."""
import json

from mldyn.cli import main
from mldyn.descriptors import Radial
from mldyn.model import load_model


def test_demo_runs_and_reports_with_the_fitted_model(fitted_h2o32, tmp_path, capsys):
    """The demo's recommended fit is `mldyn fit @h2o32 --select 7` (the same function; tested in
    test_cli_fit), so the session's fitted model stands in for it; the paper's model is fitted here."""
    model_path, fit_output = fitted_h2o32
    assert "Table 1" in fit_output and "quadratic" in fit_output and "kept 7 functions" in fit_output
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--steps", "2000", "--quiet", "--model", str(model_path)]) == 0
    text = capsys.readouterr().out
    assert f"model: {model_path}" in text
    assert "2000 steps (1.00 ps)" in text
    assert f"report: {out / 'report' / 'report.md'}" in text
    paper = load_model(out / "model-paper.json")  # the paper's recipe: one radial descriptor, 7 functions kept
    assert len(paper.descriptors) == 1 and isinstance(paper.descriptors[0], Radial) and paper.quadratic
    assert {len(v) for v in paper.metadata["selected_functions"].values()} == {7}
    assert "relative RMSE on the 600 reference CP2K frames" in text
    for name in ("run/trajectory.extxyz", "run/thermo.log", "run-paper/trajectory.extxyz",
                 "report/report.md", "report/summary.json", "report/kinetic_energy.png", "report/oh_spectrum.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["labels"] == ["CP2K", "recommended", "paper radial"] and len(summary["runs"]) == 2
    # NVT with a single Nosé–Hoover thermostat holds the reference mean temperature
    ref_t, run_t = summary["reference"]["mean_temperature_K"], summary["run"]["mean_temperature_K"]
    assert abs(run_t - ref_t) < 0.1 * ref_t
    # the learned water keeps O-H bonds near the reference length (molecules survive)
    assert abs(summary["run"]["oh_bond_mean_A"] - summary["reference"]["oh_bond_mean_A"]) < 0.05
    assert summary["forces"]["species"]["O"]["relative_rmse"] < 0.6
    # the point of the recommended recipe: the H-O-H angle of the reference (the paper's radial model
    # opens it by ~16 degrees)
    recommended, radial = (abs(d["hoh_angle_mean_deg"]) for d in summary["differences"])
    assert recommended < 3.0 < radial
