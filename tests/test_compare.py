"""`mldyn compare` end to end on slices of the bundled CP2K water run."""
import json
import re
import struct

import numpy as np
import pytest

from mldyn.descriptors import Basis
from mldyn.cli import COMMANDS, main
from mldyn.io.cp2k_writer import write_cp2k_run
from mldyn.dataset import Dataset
from mldyn.io import load_dataset
from mldyn.report.compare import FIGURES, ROWS
from mldyn.model import AgentLossModel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 200-frame CP2K slice and a 'learned' copy: velocities x1.05, positions jittered by 0.005 Å."""
    tmp = tmp_path_factory.mktemp("runs")
    ref = load_dataset("@h2o32").subset(slice(0, 200))
    rng = np.random.default_rng(0)
    learned = Dataset(ref.species_names, ref.species_n, ref.masses_n,
                      ref.positions_fnc + rng.normal(0, 0.005, ref.positions_fnc.shape), ref.cells_f33,
                      ref.velocities_fnc * 1.05, None, ref.steps_f, ref.times_f)
    ref.save(tmp / "ref.npz")
    learned.save(tmp / "learned.npz")
    return tmp / "ref.npz", tmp / "learned.npz", ref


def table(report_text):
    """{row label: (reference, run, difference) strings} from the report's Markdown table."""
    out = {}
    for line in report_text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in {label for _, label, _, _ in ROWS}:
            out[cells[0]] = tuple(cells[2:])
    return out


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_compare_is_registered():
    assert COMMANDS["compare"] == ("compare", "Compare a learned run with a reference run: figures and a Markdown report")


def test_compare_perturbed_copy_writes_figures_and_table(runs, tmp_path, capsys):
    ref, learned, ref_data = runs
    out = tmp_path / "report"
    assert main(["compare", str(ref), str(learned), "-o", str(out), "--labels", "CP2K,learned", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.md'}" in printed and "Mean temperature" in printed and "CP2K" in printed
    for fname, *_ in FIGURES.values():
        w, h = png_size(out / fname)
        assert w >= 800 and h >= 400 and (out / fname).stat().st_size > 20_000, fname
    text = (out / "report.md").read_text()
    for fname, *_ in FIGURES.values():
        assert f"]({fname})" in text
    rows = table(text)
    assert len(rows) == len(ROWS)
    assert "| quantity | unit | CP2K | learned | difference (learned − CP2K) |" in text
    for label, (a, b, d) in rows.items():
        decimals = len(a.split(".")[1]) if "." in a else 0
        assert abs((float(b) - float(a)) - float(d)) <= 10.0 ** -decimals + 1e-12, (label, a, b, d)
    t_ref, t_run, _ = (float(x) for x in rows["Mean temperature"])
    assert t_ref == pytest.approx(np.mean(ref_data.temperature_f), abs=0.06)
    assert t_run / t_ref == pytest.approx(1.05 ** 2, rel=2e-4)          # velocities x 1.05
    assert float(rows["O–H bond length, mean"][2]) != 0                   # the jitter changes the bonds a little
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labels"] == ["CP2K", "learned"]
    assert summary["run"]["mean_temperature_K"] / summary["reference"]["mean_temperature_K"] == pytest.approx(
        1.1025, rel=1e-9)
    assert "No force model given" in text


def test_identical_inputs_give_zero_differences(runs, tmp_path, capsys):
    ref, _, _ = runs
    out = tmp_path / "same"
    assert main(["compare", str(ref), str(ref), "-o", str(out), "--quiet"]) == 0
    rows = table((out / "report.md").read_text())
    assert len(rows) == len(ROWS)
    for label, (a, b, d) in rows.items():
        assert a == b and d == "0", (label, a, b, d)
        assert re.fullmatch(r"-?\d+(\.\d+)?", a), (label, a)        # numbers, not n/a
    summary = json.loads((out / "summary.json").read_text())
    assert all(v == 0 for v in summary["difference"].values())


def test_model_in_the_run_directory_is_evaluated_on_the_reference(runs, tmp_path, capsys):
    _, _, ref_data = runs
    ref = ref_data.subset(slice(0, 30))
    run_dir = tmp_path / "learned-run"
    write_cp2k_run(run_dir, ref.subset(slice(10, 30)))
    # like `mldyn run --thermo-every 5`: the .ener file has every 5th step only; the comparison keeps all 20 frames
    ener = run_dir / "mldyn-1.ener"
    lines = ener.read_text().splitlines(keepends=True)
    ener.write_text("".join(lines[:1] + lines[1::5]))
    # a model that predicts no force at all: its relative RMSE is exactly 1 and its RMSE the RMS force
    AgentLossModel(["O", "H"], Basis((("gauss", 1.0),), r_cut=4.0), np.zeros((2, 2))).save(run_dir / "model.json")
    ref_path = tmp_path / "ref30.npz"
    ref.save(ref_path)
    out = tmp_path / "with-model"
    assert main(["compare", str(ref_path), str(run_dir), "-o", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "force model" in printed and str(run_dir / "model.json") in printed
    text = (out / "report.md").read_text()
    assert "evaluated on 30 reference frames" in text
    assert "read without mldyn-1.ener" in printed and "20 frames instead of 4" in text
    assert f"`{run_dir}`: 20 frames, 96 atoms" in text
    oxygen = ref.species_n == 0
    for sp, mask in (("O", oxygen), ("H", ~oxygen)):
        rms = np.sqrt(np.mean(np.sum(ref.forces_fnc[:, mask] ** 2, axis=2)))
        m = re.search(rf"^\| {sp} \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", text, re.M)
        assert m, text
        assert int(m.group(1)) == 30 * mask.sum()
        assert float(m.group(2)) == pytest.approx(rms, abs=1e-4) and float(m.group(3)) == pytest.approx(rms, abs=1e-4)
        assert m.group(4) == "1.0000"
    # the learned run is a CP2K-style directory; its 20 frames start 5 fs later: different values, finite rows
    rows = table(text)
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", a) and re.fullmatch(r"-?\d+(\.\d+)?", b) for a, b, _ in rows.values())


def test_bad_labels_are_rejected(runs, tmp_path, capsys):
    ref, learned, _ = runs
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(ref), str(learned), "-o", str(tmp_path / "x"), "--labels", "only-one"])
    assert exc.value.code == 2 and "names separated by commas" in capsys.readouterr().err
    # one label per input: the reference and each run
    assert main(["compare", str(ref), str(learned), "-o", str(tmp_path / "y"), "--labels", "a,b,c", "--quiet"]) == 2
    assert "--labels names 3 runs, but there are 2" in capsys.readouterr().err


def test_two_runs_side_by_side(runs, tmp_path, capsys):
    """Several learned runs in one report: a column and a difference column for each."""
    ref, learned, _ = runs
    out = tmp_path / "two"
    assert main(["compare", str(ref), str(learned), str(learned), "-o", str(out), "--labels", "CP2K,one,two",
                 "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labels"] == ["CP2K", "one", "two"] and len(summary["runs"]) == 2
    assert summary["runs"][0] == summary["runs"][1] == summary["run"]
    head = next(line for line in (out / "report.md").read_text().splitlines() if line.startswith("| quantity"))
    assert head.split(" | ")[2:] == ["CP2K", "one", "two", "one − CP2K", "two − CP2K |"]


def test_importing_the_figures_leaves_the_users_matplotlib_backend_alone(tmp_path):
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg'); import mldyn.report.plots as p, mldyn.fit, mldyn.report.compare; "
            "import matplotlib.pyplot as plt; assert matplotlib.get_backend() == 'svg', matplotlib.get_backend(); "
            f"p.plot_selection_curves({{'O': [(2, 0.5, [0, 1]), (1, 0.6, [0])]}}, {str(tmp_path / 'c.png')!r}); "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    assert png_size(tmp_path / "c.png")[0] > 100
