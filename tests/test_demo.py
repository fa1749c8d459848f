"""`mldyn demo` end to end: fit with selection, learned NVT MD, comparison report."""
import json

from mldyn.cli import main


def test_demo_fits_runs_and_reports(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--steps", "2000", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Table 1" in text and "quadratic" in text
    assert "2000 steps (1.00 ps)" in text
    assert f"report: {out / 'report' / 'report.md'}" in text
    for name in ("model.json", "model-selection.png", "run/trajectory.extxyz", "run/thermo.log",
                 "report/report.md", "report/summary.json", "report/kinetic_energy.png", "report/oh_spectrum.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "report" / "summary.json").read_text())
    # NVT with a single Nosé–Hoover thermostat holds the reference mean temperature
    ref_t, run_t = summary["reference"]["mean_temperature_K"], summary["run"]["mean_temperature_K"]
    assert abs(run_t - ref_t) < 0.1 * ref_t
    # the learned water keeps O-H bonds near the reference length (molecules survive)
    assert abs(summary["run"]["oh_bond_mean_A"] - summary["reference"]["oh_bond_mean_A"]) < 0.05
    assert summary["forces"]["species"]["O"]["relative_rmse"] < 0.6
