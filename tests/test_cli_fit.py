"""`mldyn fit` and `mldyn test` end to end on the bundled CP2K water run."""
import json

import numpy as np
import pytest

from mldyn.cli import main
from mldyn.io import load_dataset
from mldyn.model import load_model


@pytest.fixture
def fitted(fitted_h2o32):
    """The recommended (linear) model with selection to 7 functions (the session's `mldyn fit @h2o32 --select 7`)."""
    return fitted_h2o32[0]


def test_fit_writes_model_table_and_selection_plot(fitted, capsys):
    model = load_model(fitted)
    assert model.species == ["O", "H"] and not model.quadratic and model.metadata["loss"] == "linear"
    # the recommended recipe: radial + angular invariants, walls below the training floors, checks passed
    assert [type(d).__name__ for d in model.descriptors] == ["Radial", "Angular", "Radial"]
    meta = model.metadata
    assert meta["walls"]["at"] == "closest training distance" and meta["stability"]["passed"]
    assert meta["walls"]["strength_eV"]["O-O"] == pytest.approx(8 * meta["walls"]["strength_eV"]["O-H"], rel=0.1)
    assert set(meta["closest_pairs_A"]) == {"O-O", "O-H", "H-H"} and meta["recipe"] == "recommended"
    assert {len(v) for v in meta["selected_functions"].values()} == {7}
    assert meta["split"]["frames"]["train"] == 360 and meta["split"]["frames"]["test"] == 60
    assert meta["data"]["provenance"]  # source files and hashes travel with the model
    # force changes between CP2K's consecutive 0.5 fs frames (each block loses one pair at its end)
    assert meta["force_changes"]["time_fs"] == 2.5
    assert meta["force_changes"]["agent_frame_pairs"] == {"train": 359 * 96, "validation": 59 * 96}
    png = fitted.with_name("model-selection.png")
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for kind in ("linear", "quadratic"):
        for sp in ("O", "H"):
            assert 0.1 < meta["table1_test_relative_rmse"][kind][sp] < 0.7


def test_test_json_on_the_test_block_agrees_with_fit_table(fitted, tmp_path, capsys):
    data = load_dataset("@h2o32")
    test_block = data.split().test
    path = tmp_path / "test.npz"
    test_block.save(path)
    capsys.readouterr()
    assert main(["test", str(fitted), str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 60 and set(result["species"]) == {"O", "H"}
    table = load_model(fitted).metadata["test_metrics"]
    for sp in ("O", "H"):
        got = result["species"][sp]
        assert set(got) == {"rmse", "rms_reference", "relative_rmse"}
        # direct force evaluation vs the normal-equation bookkeeping of the fit
        assert got["relative_rmse"] == pytest.approx(table[sp]["relative_rmse"], rel=1e-6)
        assert got["rms_reference"] == pytest.approx(table[sp]["rms_reference"], rel=1e-9)
        assert got["rmse"] == pytest.approx(got["relative_rmse"] * got["rms_reference"], rel=1e-12)


def test_test_table_output_states_the_definition(fitted, capsys):
    assert main(["test", str(fitted), "@h2o32", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "600 frames" in out and "sqrt(<|F_pred - F_ref|^2> / <|F_ref|^2>)" in out


@pytest.mark.parametrize("args, message", [
    (["--select", "0"], "--select must be at least 1"),
    (["--select", "many"], "--select takes a number"),
    (["--ridge", "-1"], "--ridge must be a finite number >= 0"),
    (["--split", "0.5,0.5,0.5,0.1"], "--split takes four fractions"),
    (["--loss", "cubic"], "invalid choice"),
    (["--force-changes", "-1"], "--force-changes must be a finite time >= 0 fs (0 turns it off), got '-1'"),
    (["--force-changes", "fast"], "--force-changes takes a time in fs (0 turns it off), got 'fast'"),
])
def test_fit_rejects_bad_options(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["fit", "@h2o32", "-o", str(tmp_path / "m.json")] + args)
    assert message in capsys.readouterr().err


def test_fit_without_forces_fails_with_a_clear_error(tmp_path, capsys):
    data = load_dataset("@h2o32").subset(range(20))
    data.forces_fnc = None
    data.save(tmp_path / "noforces.npz")
    assert main(["fit", str(tmp_path / "noforces.npz"), "-o", str(tmp_path / "m.json"), "--quiet"]) == 2
    assert "forces" in capsys.readouterr().err


def test_test_refuses_species_the_model_does_not_know(fitted, tmp_path, capsys):
    data = load_dataset("@h2o32").subset(range(3))
    data.species_names = ["O", "D"]
    data.save(tmp_path / "od.npz")
    assert main(["test", str(fitted), str(tmp_path / "od.npz"), "--json"]) == 2
    assert "does not know" in capsys.readouterr().err


def test_loss_quadratic_puts_the_radial_invariants_of_the_recommended_recipe_into_the_quadratic_block(tmp_path):
    out = tmp_path / "quadratic.json"
    assert main(["fit", "@h2o32", "-o", str(out), "--loss", "quadratic", "--no-checks", "--quiet"]) == 0
    model = load_model(out)
    radial = model.descriptors[0]
    assert model.quadratic and model.metadata["loss"] == "quadratic"
    assert model.n_quadratic == 2 * len(radial) < model.n_features  # angular invariants and walls stay linear
