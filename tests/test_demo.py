"""`mldyn demo` end to end: fit with selection, learned NVT MD, comparison report."""
import json

from mldyn.cli import main


def test_demo_runs_and_reports_with_the_fitted_model(fitted_h2o32, tmp_path, capsys):
    """The demo's step 1 is `mldyn fit @h2o32 --select 7` (the same function; tested in test_cli_fit),
    so the session's fitted model stands in for it here."""
    model_path, fit_output = fitted_h2o32
    assert "Table 1" in fit_output and "quadratic" in fit_output and "kept 7 functions" in fit_output
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--steps", "2000", "--quiet", "--model", str(model_path)]) == 0
    text = capsys.readouterr().out
    assert f"model: {model_path}" in text
    assert "2000 steps (1.00 ps)" in text
    assert f"report: {out / 'report' / 'report.md'}" in text
    for name in ("run/trajectory.extxyz", "run/thermo.log",
                 "report/report.md", "report/summary.json", "report/kinetic_energy.png", "report/oh_spectrum.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "report" / "summary.json").read_text())
    # NVT with a single Nosé–Hoover thermostat holds the reference mean temperature
    ref_t, run_t = summary["reference"]["mean_temperature_K"], summary["run"]["mean_temperature_K"]
    assert abs(run_t - ref_t) < 0.1 * ref_t
    # the learned water keeps O-H bonds near the reference length (molecules survive)
    assert abs(summary["run"]["oh_bond_mean_A"] - summary["reference"]["oh_bond_mean_A"]) < 0.05
    assert summary["forces"]["species"]["O"]["relative_rmse"] < 0.6
