"""The side-by-side benchmark's pieces: the numpy reference agrees with the core, `mldyn bench` is wired."""
from __future__ import annotations

from pathlib import Path

import pytest

from mldyn.cli import COMMANDS, main

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.skipif(not (BENCHMARKS / "reference_numpy.py").exists(), reason="no benchmarks/ in this checkout")
def test_numpy_reference_matches_core(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import reference_numpy

    out = reference_numpy.check(steps=3)
    assert out["passed"]
    assert out["all_pairs"]["max_rel_force_diff"] <= 1e-10
    assert out["cell_list"]["max_rel_force_diff"] <= 1e-10
    assert out["all_pairs"]["max_rel_loss_diff"] <= 1e-10
    assert out["trajectory"]["max_position_diff_A"] <= 1e-10


def test_bench_command_registered_and_explains_missing_sources(monkeypatch, capsys, tmp_path):
    assert COMMANDS["bench"][0] == "bench"
    import mldyn.commands.bench as bench

    monkeypatch.setattr(bench, "SCRIPT", Path("/nonexistent/benchmarks/bench.py"))
    monkeypatch.chdir(tmp_path)  # no benchmarks/ here either
    assert main(["bench", "--quick"]) == 2
    assert "not available" in capsys.readouterr().err


def test_bench_command_finds_the_checkout_in_the_current_directory(monkeypatch, tmp_path):
    """After a plain `pip install .` the package has no checkout beside it; run from the
    repository root, `mldyn bench` uses ./benchmarks/bench.py."""
    import mldyn.commands.bench as bench

    monkeypatch.setattr(bench, "SCRIPT", Path("/nonexistent/benchmarks/bench.py"))
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "bench.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert bench.find_script() == tmp_path / "benchmarks" / "bench.py"
