"""The slow tier: the default recipe's learned water against the CP2K reference (issue 11's targets).

`mldyn fit @h2o32 -o model.json` with no options, then `mldyn run` with no options but the start, the
steps and the temperature: 20,000 steps (10 ps) compared with the bundled CP2K run, and a 100 ps
run that must stay whole. About 5 minutes on 2 cores; `python -m pytest -q -m slow`.
benchmarks/FIDELITY.md has the same comparison with several seeds and the paper's model beside it.
"""
import numpy as np
import pytest

from mldyn.analysis import summarize
from mldyn.cli import main
from mldyn.io import load_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("fidelity") / "model.json"
    assert main(["fit", "@h2o32", "-o", str(path), "--quiet"]) == 0
    return path


@pytest.fixture(scope="module")
def reference():
    data = load_dataset("@h2o32")
    return data, summarize(data)


def test_default_fit_and_run_reproduce_cp2k_water(default_model, reference, tmp_path):
    data, ref = reference
    out = tmp_path / "run"
    assert main(["run", str(default_model), "--init", "@h2o32@-1", "--steps", "20000", "--temperature",
                 f"{ref['mean_temperature_K']:.1f}", "--traj-every", "2", "-o", str(out), "--quiet"]) == 0
    run = summarize(load_dataset(out))
    # issue 11's targets, measured on this run
    assert abs(run["hoh_angle_mean_deg"] - ref["hoh_angle_mean_deg"]) < 2.0
    assert run["hoh_angle_std_deg"] < 1.3 * ref["hoh_angle_std_deg"]
    assert 0.5 < run["oxygen_changes_per_h_per_ps"] / ref["oxygen_changes_per_h_per_ps"] < 2.0
    assert abs(run["g_OO_peak_r_A"] - ref["g_OO_peak_r_A"]) < 0.05
    assert run["closest_HH_A"] > 1.0
    assert abs(run["mean_temperature_K"] - ref["mean_temperature_K"]) < 0.03 * ref["mean_temperature_K"]
    # The stretch target is 3 %, which the recommended model misses: its peak sits 2-9 % low
    # over fits, start frames and seeds (10 runs of the bundled fit: -2.4 to -7.3 %; one CI run -8.6 %;
    # benchmarks/FIDELITY.md, benchmarks/STRETCH.md). This bound guards what it does reach against
    # regressions such as losing the band (the issue measured 2674 cm-1, -17 %, for the paper's model).
    assert abs(run["oh_stretch_peak_cm1"] / ref["oh_stretch_peak_cm1"] - 1) < 0.10


def test_default_run_stays_whole_for_100_ps(default_model, reference, tmp_path):
    _, ref = reference
    out = tmp_path / "long"
    assert main(["run", str(default_model), "--init", "@h2o32@-1", "--steps", "200000", "--temperature",
                 f"{ref['mean_temperature_K']:.1f}", "--traj-every", "1000", "--thermo-every", "100",
                 "-o", str(out), "--quiet"]) == 0
    with np.load(out / "checkpoint.npz") as z:
        assert int(z["step"]) == 200000
    # Finishing means no pair came below 0.75 x its training floor at any step (the run's contact
    # stop checks every step): H-H stayed above 0.75 x 1.355 Å. The sampled closest pairs agree.
    thermo = np.loadtxt(out / "thermo.log")
    names = open(out / "thermo.log").readline().split()[1:]
    closest = {p: thermo[:, names.index(f"closest_{p}_A")].min() for p in ("O-O", "O-H", "H-H")}
    assert closest["H-H"] > 1.0 and closest["O-H"] > 0.75 and closest["O-O"] > 2.0
    temperature = thermo[len(thermo) // 4:, names.index("temperature_K")].mean()
    assert abs(temperature - ref["mean_temperature_K"]) < 0.03 * ref["mean_temperature_K"]
