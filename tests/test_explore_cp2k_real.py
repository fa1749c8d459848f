"""The whole active-learning loop with the real CP2K (Debian's cp2k) on a tiny system: `mldyn cp2k-input`
writes a deck for 8 waters (Pade/SZV, 150 Ry, expanded to 0.5 g/cm^3 so that the recommended descriptors'
3.5 Å angular cutoff fits in half the cell), CP2K runs 40 MD steps of it, and `mldyn explore` takes that
run through two iterations of learned MD, CP2K single points with the deck's electronic structure, and
refits. Slow tier (about two minutes on 2 cores)."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from mldyn import cli
from mldyn.explore.loop import default_cp2k_command
from mldyn.io import load_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    command = default_cp2k_command()
    if command is None:
        pytest.skip("cp2k executable not found: install Debian's cp2k (apt-get install -y cp2k)")
    out = tmp_path_factory.mktemp("w8") / "run"
    assert cli.main(["cp2k-input", "--water", "8", "--water-density", "0.5", "-o", str(out), "--project", "w8",
                     "--method", "pade-szv", "--cutoff", "150", "--rel-cutoff", "20", "--steps", "40",
                     "--temperature", "400", "--seed", "3"]) == 0
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    proc = subprocess.run(command.split() + ["-i", "w8.inp", "-o", "w8.out"], cwd=out, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_two_iterations_with_real_cp2k(original, tmp_path, capsys):
    out = tmp_path / "explore"
    rc = cli.main(["explore", str(original), "-o", str(out), "--iterations", "2", "--frames", "3", "--steps", "400",
                   "--traj-every", "10", "--temperatures", "400", "700", "--min-separation", "20", "--quiet",
                   "--threshold", "0.02"])  # below every frame: both iterations label (the auto one is the
    # data's own scale; a model of 24 training frames of 24 atoms is unsure everywhere, so it may stop early)
    assert rc == 0, capsys.readouterr().err
    state = json.loads((out / "explore.json").read_text())
    assert state["config"]["cp2k_input"].endswith("w8.inp")
    its = state["iterations"]
    assert its and all(r.get("done") for r in its)
    assert state["finished"] == "2 iterations done" and len(its) == 2
    for rec in its:
        assert rec["labels"]["frames"] >= 1 and not rec["labels"]["failed"], rec["labels"]
        deck = (out / f"iter-{rec['index']:03d}" / "cp2k" / "frame-000" / "sp.inp").read_text()
        assert "RUN_TYPE ENERGY_FORCE" in deck and "CUTOFF 150" in deck and "SZV-GTH" in deck
        labels = load_dataset(out / rec["labels"]["file"])
        assert np.all(np.isfinite(labels.forces_fnc)) and np.abs(labels.forces_fnc).max() > 0.05  # eV/Å
        # the refit learns the new frames: their error after is below their error before
        for sp in ("O", "H"):
            assert rec["errors_after"][sp]["rmse_eV_A"] < rec["errors_before"][sp]["rmse_eV_A"]
    assert state["fits"]["2"]["labelled_frames"] == sum(r["labels"]["frames"] for r in its)
    assert (out / "model.json").exists() and "**Finished: 2 iterations done.**" in (out / "report.md").read_text()
