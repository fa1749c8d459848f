"""Data as other tools write it: MACE/NequIP-style extended XYZ keys."""
from __future__ import annotations

import json

import numpy as np
import pytest

import mldyn
from mldyn.cli import main
from mldyn.io import load_dataset


@pytest.fixture(scope="module")
def frames():
    return load_dataset("@h2o32").subset(range(0, 600, 100))


@pytest.fixture(scope="module")
def pair_model(tmp_path_factory):
    basis = mldyn.Basis((("exp", 1.0), ("power", 2.0)), r_cut=4.5, r_on=4.0)
    model = mldyn.AgentLossModel.pair_potential(["O", "H"], basis, np.array([[[1.0, 0.5], [0.3, 0.2]],
                                                                            [[0.3, 0.2], [0.1, 0.4]]]))
    return model.save(tmp_path_factory.mktemp("model") / "pair.json")


def write_keyed_extxyz(path, data, columns: dict, info: dict):
    """An extended XYZ with the given per-atom columns {name: (F, n, 3)} and per-frame values {name: (F,)}."""
    names = list(columns)
    props = "species:S:1:pos:R:3" + "".join(f":{c}:R:3" for c in names)
    with open(path, "w") as fh:
        for k in range(data.n_frames):
            lattice = " ".join(f"{x:.10f}" for x in data.cells_f33[k].ravel())
            extra = " ".join(f"{key}={v[k]:.10f}" for key, v in info.items())
            fh.write(f'{data.n_atoms}\nLattice="{lattice}" Properties={props} {extra} pbc="T T T"\n')
            for i, s in enumerate(data.symbols):
                row = list(data.positions_fnc[k, i]) + [x for c in names for x in columns[c][k, i]]
                fh.write(f"{s} " + " ".join(f"{x:.10f}" for x in row) + "\n")


def test_reference_forces_under_mace_names_are_found_and_an_ambiguous_file_must_name_them(frames, pair_model,
                                                                                          tmp_path, capsys):
    f, e = frames.forces_fnc, np.arange(frames.n_frames, dtype=float)
    write_keyed_extxyz(tmp_path / "plain.extxyz", frames, {"forces": f}, {"energy": e})
    write_keyed_extxyz(tmp_path / "mace.extxyz", frames, {"MACE_forces": 0 * f, "REF_forces": f},
                       {"MACE_energy": e + 7, "REF_energy": e})
    write_keyed_extxyz(tmp_path / "both.extxyz", frames, {"forces": 0 * f, "REF_forces": f}, {})
    mace = load_dataset(tmp_path / "mace.extxyz")
    np.testing.assert_allclose(mace.forces_fnc, f, atol=1e-9)
    np.testing.assert_allclose(mace.potential_energy_f, e)
    results = []
    for name, extra in (("plain", []), ("mace", []), ("both", ["--forces-key", "REF_forces"])):
        assert main(["test", str(pair_model), str(tmp_path / f"{name}.extxyz"), "--json", *extra]) == 0
        out = json.loads(capsys.readouterr().out)
        results.append((out["frames"], out["species"]))
    assert results[0] == results[1] == results[2]
    assert main(["test", str(pair_model), str(tmp_path / "both.extxyz")]) == 2
    assert "several force columns (forces, REF_forces): say which holds the reference forces with --forces-key" in \
        capsys.readouterr().err
    assert main(["test", str(pair_model), "@h2o32", "--forces-key", "REF_forces"]) == 2
    assert "--forces-key is for extended XYZ files" in capsys.readouterr().err
    assert main(["test", str(pair_model), "@h2o32", "--timestep", "0.5"]) == 2
    assert "--timestep is for extended XYZ files" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["test", str(pair_model), str(tmp_path / "plain.extxyz"), "--timestep", "-1"])
    assert "--timestep must be a time > 0 in fs, got '-1'" in capsys.readouterr().err


def test_any_element_fits_and_runs_with_periodic_table_masses_and_masses_override(frames, tmp_path, capsys):
    """A CP2K run with cobalt (the water's oxygens relabelled): masses from the periodic table, --masses for MD."""
    from ase.io import read as ase_read

    from mldyn.dataset import Dataset
    from mldyn.elements import ATOMIC_MASSES
    from mldyn.io.cp2k_writer import write_cp2k_run

    ref = load_dataset("@h2o32").subset(range(0, 600, 20))
    cobalt = Dataset(["Co", "H"], ref.species_n, np.where(ref.species_n == 0, ATOMIC_MASSES["Co"], 1.00794),
                     ref.positions_fnc, ref.cells_f33, ref.velocities_fnc, ref.forces_fnc, ref.steps_f, ref.times_f)
    write_cp2k_run(tmp_path / "coh", cobalt, project="coh")
    data = load_dataset(tmp_path / "coh")
    assert data.species_names == ["Co", "H"] and data.masses_n[0] == pytest.approx(58.933194)
    model = tmp_path / "m.json"
    assert main(["fit", str(tmp_path / "coh"), "-o", str(model), "--recipe", "paper", "--quiet"]) == 0
    assert mldyn.AgentLossModel.load(model).masses[0] == pytest.approx(58.933194)
    run = tmp_path / "run"
    assert main(["run", str(model), "--init", f"{tmp_path / 'coh'}@-1", "--steps", "4", "--masses", "Co=60,H=2.014",
                 "--quiet", "-o", str(run)]) == 0
    atoms = ase_read(run / "trajectory.extxyz", index=0)
    np.testing.assert_allclose(atoms.get_masses(), np.where(data.species_n == 0, 60.0, 2.014))
    capsys.readouterr()
    assert main(["run", str(model), "--init", f"{tmp_path / 'coh'}@-1", "--steps", "4", "--masses", "Fe=55.8",
                 "--quiet", "-o", str(tmp_path / "r2")]) == 2
    assert "--masses Fe=55.8: Fe is neither a species of the model (['Co', 'H']) nor their element" in \
        capsys.readouterr().err


def test_frames_without_a_time_axis_are_shuffled_and_none_dropped(tmp_path, capsys):
    ref = load_dataset("@h2o32").subset(range(0, 600, 20))  # 30 frames
    write_keyed_extxyz(tmp_path / "independent.extxyz", ref, {"forces": ref.forces_fnc}, {})  # no step, no time
    data = load_dataset(tmp_path / "independent.extxyz")
    assert not data.has_time_axis and load_dataset("@h2o32").has_time_axis
    parts = data.shuffled_split(0.8, 0.1, 0.1, seed=0)
    used = np.concatenate([[int(s) for s in p.steps_f] for p in (parts.train, parts.validation, parts.test)])
    assert sorted(used.tolist()) == list(range(30))  # every frame in exactly one block, none dropped
    assert list(parts.train.steps_f) != list(range(24))  # shuffled, not the first 24
    out = tmp_path / "m.json"
    assert main(["fit", str(tmp_path / "independent.extxyz"), "-o", str(out), "--recipe", "paper"]) == 0
    text = capsys.readouterr().out
    assert ("data: 30 frames without a time axis: shuffled (seed 0) into train 24, validation 3, test 3 frames, none "
            "dropped") in text
    assert "Table 1: force errors on the test block (3 frames)" in text
    assert main(["fit", str(tmp_path / "independent.extxyz"), "-o", str(out), "--split", "0.2,0.6,0.1,0.1"]) == 2
    assert "the data have no time axis (independent frames), so there is no equilibration to drop" in \
        capsys.readouterr().err


def test_test_takes_several_systems_of_different_sizes_and_folders_of_systems(pair_model, tmp_path, capsys):
    from mldyn.dataset import Dataset
    from mldyn.io.deepmd import write_deepmd_npy

    ref = load_dataset("@h2o32").subset(range(0, 600, 60))  # 10 frames of 96 atoms
    cell = ref.cells_f33
    big = Dataset(ref.species_names, np.tile(ref.species_n, 2), np.tile(ref.masses_n, 2),
                  np.concatenate([ref.positions_fnc, ref.positions_fnc + cell[:, 0][:, None, :]], axis=1),
                  cell * np.array([2.0, 1.0, 1.0])[None, :, None], None,
                  np.concatenate([ref.forces_fnc, ref.forces_fnc * 0.5], axis=1))  # 192 atoms, other forces
    write_keyed_extxyz(tmp_path / "small.extxyz", ref, {"forces": ref.forces_fnc}, {})
    (tmp_path / "systems").mkdir()
    write_deepmd_npy(tmp_path / "systems" / "big", big)
    write_deepmd_npy(tmp_path / "systems" / "small", ref)
    (tmp_path / "systems" / "notes.txt").write_text("not a system")
    assert main(["test", str(pair_model), str(tmp_path / "small.extxyz"), str(tmp_path / "systems"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["data"].rsplit("/", 1)[-1] for s in out["systems"]] == ["small.extxyz", "big", "small"]
    assert [s["atoms"] for s in out["systems"]] == [96, 192, 96] and out["frames"] == 30
    for sp in ("O", "H"):  # the same frames as extended XYZ (10 decimals) and as deepmd/npy (exact)
        assert out["systems"][0]["species"][sp]["relative_rmse"] == \
            pytest.approx(out["systems"][2]["species"][sp]["relative_rmse"], rel=1e-9)
    model = mldyn.AgentLossModel.load(pair_model)
    for sp, s_id in (("O", 0), ("H", 1)):  # every agent of every system weighted alike
        sse = ref2 = 0.0
        for d in (ref, big, ref):
            for k in range(d.n_frames):
                f = model.forces(d.positions_fnc[k], d.species_n, d.cells_f33[k])
                sel = d.species_n == s_id
                sse += np.sum((f[sel] - d.forces_fnc[k][sel]) ** 2)
                ref2 += np.sum(d.forces_fnc[k][sel] ** 2)
        assert out["species"][sp]["relative_rmse"] == pytest.approx(np.sqrt(sse / ref2), rel=1e-9)
    assert main(["test", str(pair_model), str(tmp_path / "small.extxyz"), str(tmp_path / "systems")]) == 0
    text = capsys.readouterr().out
    assert "all 3 systems: 30 frames" in text and "big: 10 frames" in text



def test_fit_on_several_systems_adds_their_normal_equations(tmp_path, capsys):
    """A system and its periodic double (192 atoms, atoms in another order, species listed H first) give every
    agent the same environments, so fitting both together must give the model of the first alone."""
    from mldyn.dataset import Dataset
    from mldyn.fit import fit_model
    from mldyn.io.deepmd import write_deepmd_npy

    a = load_dataset("@h2o32").subset(range(0, 600, 10))  # 60 frames, 96 atoms
    cell = a.cells_f33
    order = np.argsort(-a.species_n, kind="stable")  # hydrogens first
    ids = np.where(a.species_n == 1, 0, 1)[order]  # species ids into ["H", "O"]
    pos = np.concatenate([a.positions_fnc[:, order], a.positions_fnc[:, order] + cell[:, 0][:, None, :]], axis=1)
    double = Dataset(["H", "O"], np.tile(ids, 2), np.tile(a.masses_n[order], 2), pos,
                     cell * np.array([2.0, 1.0, 1.0])[None, :, None], None,
                     np.tile(a.forces_fnc[:, order], (1, 2, 1)), a.steps_f, a.times_f,
                     provenance={"time_axis": True})
    basis = mldyn.Basis((("exp", 1.0), ("gauss", 1.0), ("power", 1.0)), r_on=4.0)
    one = fit_model(a, basis, "quadratic", ridge=1e-8, progress=False)
    both = fit_model([a, double], basis, "quadratic", ridge=1e-8, progress=False)
    assert both.model.species == ["O", "H"]
    np.testing.assert_allclose(both.model.A, one.model.A, rtol=1e-7, atol=1e-9 * np.abs(one.model.A).max())
    for kind in ("linear", "quadratic"):
        for sp in ("O", "H"):
            assert both.table[kind][sp]["relative_rmse"] == pytest.approx(one.table[kind][sp]["relative_rmse"],
                                                                          rel=1e-7)
    assert both.split_frames["train"] == 2 * one.split_frames["train"]
    # the command line: several data arguments, a line per system
    a.save(tmp_path / "a.npz")
    write_deepmd_npy(tmp_path / "double", double)
    assert main(["fit", str(tmp_path / "a.npz"), str(tmp_path / "double"), "-o", str(tmp_path / "m.json"),
                 "--recipe", "paper", "--split", "0,0.8,0.1,0.1"]) == 0
    out = capsys.readouterr().out
    assert "system 1 of 2 (96 atoms): data: 60 frames" in out and "system 2 of 2 (192 atoms): data: 60 frames" in out


def test_fit_weights_one_per_data_argument(tmp_path, capsys):
    """--weights: one per DATA argument, shown per system and kept in the model file; a wrong count or a
    weight <= 0 is refused before any work, naming the option."""
    a = load_dataset("@h2o32").subset(range(0, 600, 20))
    b = load_dataset("@h2o32").subset(range(5, 600, 20))
    a.save(tmp_path / "a.npz")
    b.save(tmp_path / "b.npz")
    fit = ["fit", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "-o", str(tmp_path / "m.json"), "--recipe",
           "paper", "--split", "0,0.8,0.1,0.1"]
    assert main(fit + ["--weights", "1"]) == 2
    assert "--weights: 1 given for 2 DATA arguments; give one per DATA argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(fit + ["--weights", "1", "0"])
    assert "--weights must be finite and > 0" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()
    assert main(fit + ["--weights", "1", "3"]) == 0
    out = capsys.readouterr().out
    assert "system 1 of 2 (96 atoms, weight 1): data: 30 frames" in out
    assert "system 2 of 2 (96 atoms, weight 3): data: 30 frames" in out
    assert json.loads((tmp_path / "m.json").read_text())["training"]["system_weights"] == [1.0, 3.0]


def test_a_cp2k_run_without_a_forces_file_says_what_is_missing_and_what_to_change(tmp_path, capsys):
    from mldyn.dataset import Dataset
    from mldyn.io.cp2k_writer import write_cp2k_run

    ref = load_dataset("@h2o32").subset(range(0, 600, 100))
    no_forces = Dataset(ref.species_names, ref.species_n, ref.masses_n, ref.positions_fnc, ref.cells_f33,
                        ref.velocities_fnc, None, ref.steps_f, ref.times_f)
    run = tmp_path / "run"
    write_cp2k_run(run, no_forces, project="w")
    (run / "w.log").write_text(" ATOMIC FORCES in [a.u.]\n\n # Atom   Kind   Element   X Y Z\n")
    (run / "in.inp").write_text("&FORCE_EVAL\n  &PRINT\n    &FORCES ON\n    &END FORCES\n  &END PRINT\n&END FORCE_EVAL\n"
                                "&MOTION\n  &PRINT\n    &TRAJECTORY\n    &END TRAJECTORY\n  &END PRINT\n&END MOTION\n")
    assert main(["fit", str(run), "-o", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'w-pos-1.xyz'}: no forces file w-frc-1.xyz, and forces are required" in err
    assert f"{run / 'w.log'} holds forces printed by &FORCE_EVAL/&PRINT/&FORCES: they are not marked with MD step " \
           f"numbers" in err
    assert "Add &FORCES ... &END FORCES inside &MOTION/&PRINT of the CP2K input" in err
    (run / "in.inp").write_text("&MOTION\n  &PRINT\n    &FORCES\n      FILENAME =elsewhere\n    &END FORCES\n"
                                "  &END PRINT\n&END MOTION\n")
    assert main(["fit", str(run), "-o", str(tmp_path / "m.json")]) == 2
    assert f"The input {run / 'in.inp'} has &MOTION/&PRINT/&FORCES: check its FILENAME" in capsys.readouterr().err


def test_cp2k_kinds_that_share_an_element_are_merged_with_a_warning_or_kept_apart(tmp_path, capsys):
    """Two spin kinds of Co in the input's &COORD: the trajectory files say only Co."""
    from mldyn.dataset import Dataset
    from mldyn.elements import ATOMIC_MASSES
    from mldyn.io.cp2k_reader import CP2KKindsWarning
    from mldyn.io.cp2k_writer import write_cp2k_run

    ref = load_dataset("@h2o32").subset(range(0, 600, 20))
    co = Dataset(["Co", "H"], ref.species_n, np.where(ref.species_n == 0, ATOMIC_MASSES["Co"], 1.00794),
                 ref.positions_fnc, ref.cells_f33, ref.velocities_fnc, ref.forces_fnc, ref.steps_f, ref.times_f)
    run = tmp_path / "coh"
    write_cp2k_run(run, co, project="coh")
    labels = []
    n_co = 0
    for s in co.symbols:
        if s == "Co":
            labels.append("Co_up" if n_co % 2 == 0 else "Co_dn")
            n_co += 1
        else:
            labels.append("H")
    coord = "\n".join(f"      {lab} 0.0 0.0 0.0" for lab in labels)
    (run / "in.inp").write_text("&FORCE_EVAL\n  &SUBSYS\n    &COORD\n" + coord + "\n    &END COORD\n"
                                "    &KIND Co_up\n      ELEMENT Co\n    &END KIND\n    &KIND Co_dn\n      ELEMENT Co\n"
                                "    &END KIND\n  &END SUBSYS\n&END FORCE_EVAL\n")
    with pytest.warns(CP2KKindsWarning, match="Co_up, Co_dn are all Co.*--cp2k-kinds separate"):
        merged = load_dataset(run)
    assert merged.species_names == ["Co", "H"]
    apart = load_dataset(run, kinds="separate")
    assert apart.species_names == list(dict.fromkeys(labels)) and apart.symbols == labels
    assert set(apart.masses_n[np.array(labels) != "H"]) == {ATOMIC_MASSES["Co"]}
    heavy = load_dataset(run, kinds="separate", masses={"Co": 60.0, "Co_dn": 61.0})  # by element, and by kind
    assert set(heavy.masses_n[np.array(labels) == "Co_up"]) == {60.0}
    assert set(heavy.masses_n[np.array(labels) == "Co_dn"]) == {61.0}
    from mldyn.fit import fit_model

    model = fit_model(apart, mldyn.Basis((("exp", 1.0), ("power", 1.0)), r_on=4.0), "quadratic",
                      progress=False).model.save(tmp_path / "m.json")
    assert mldyn.AgentLossModel.load(model).species == list(dict.fromkeys(labels))
    assert main(["test", str(model), str(run), "--cp2k-kinds", "separate", "--json"]) == 0  # the option reaches the reader
    assert set(json.loads(capsys.readouterr().out)["species"]) == {"Co_up", "Co_dn", "H"}
    write_keyed_extxyz(tmp_path / "water.extxyz", ref, {"forces": ref.forces_fnc}, {})
    assert main(["test", str(model), str(tmp_path / "water.extxyz"), "--cp2k-kinds", "separate"]) == 2
    assert "--cp2k-kinds is for CP2K runs; this is an .xyz/.extxyz[.gz] file" in capsys.readouterr().err


def test_an_extended_xyz_that_mixes_sizes_is_read_as_systems_for_test_and_fit(pair_model, tmp_path, capsys):
    """MACE/NequIP training files mix structures: runs of frames with the same atoms become systems."""
    from mldyn.dataset import Dataset

    ref = load_dataset("@h2o32").subset(range(0, 600, 40))  # 15 frames
    cell = ref.cells_f33
    big = Dataset(ref.species_names, np.tile(ref.species_n, 2), np.tile(ref.masses_n, 2),
                  np.concatenate([ref.positions_fnc, ref.positions_fnc + cell[:, 0][:, None, :]], axis=1),
                  cell * np.array([2.0, 1.0, 1.0])[None, :, None], None,
                  np.concatenate([ref.forces_fnc, ref.forces_fnc * 0.5], axis=1))
    parts = [ref.subset(range(0, 5)), big.subset(range(5, 10)), ref.subset(range(10, 15))]
    for k, part in enumerate(parts):
        write_keyed_extxyz(tmp_path / f"part{k}.extxyz", part, {"REF_forces": part.forces_fnc}, {})
    (tmp_path / "mixed.extxyz").write_text("".join((tmp_path / f"part{k}.extxyz").read_text() for k in range(3)))
    assert main(["test", str(pair_model), str(tmp_path / "mixed.extxyz"), "--json"]) == 0
    mixed = json.loads(capsys.readouterr().out)
    assert [(s["data"].rsplit("/", 1)[-1], s["atoms"]) for s in mixed["systems"]] == [
        ("mixed.extxyz frames 0-4", 96), ("mixed.extxyz frames 5-9", 192), ("mixed.extxyz frames 10-14", 96)]
    assert main(["test", str(pair_model), *(str(tmp_path / f"part{k}.extxyz") for k in range(3)), "--json"]) == 0
    separate = json.loads(capsys.readouterr().out)
    assert mixed["species"] == separate["species"] and mixed["frames"] == 15
    assert main(["fit", str(tmp_path / "mixed.extxyz"), "-o", str(tmp_path / "m.json"), "--recipe", "paper",
                 "--split", "0,0.6,0.2,0.2"]) == 0
    out = capsys.readouterr().out
    assert "system 2 of 3 (192 atoms)" in out and "Table 1" in out


def test_structures_that_change_every_frame_are_pooled_whole_and_models_of_unlike_systems_load(pair_model, tmp_path,
                                                                                                capsys):
    """A MACE-style file whose structure changes every frame: one-frame systems go whole into train, validation
    or test. Systems with different species leave pairs without a floor: the model file must still load."""
    from mldyn.dataset import Dataset

    ref = load_dataset("@h2o32").subset(range(0, 600, 15))  # 40 frames
    cell = ref.cells_f33
    big = Dataset(ref.species_names, np.tile(ref.species_n, 2), np.tile(ref.masses_n, 2),
                  np.concatenate([ref.positions_fnc, ref.positions_fnc + cell[:, 0][:, None, :]], axis=1),
                  cell * np.array([2.0, 1.0, 1.0])[None, :, None], None, np.tile(ref.forces_fnc, (1, 2, 1)))
    text = ""
    for k in range(ref.n_frames):
        write_keyed_extxyz(tmp_path / "one.extxyz", (ref if k % 2 else big).subset([k]),
                           {"REF_forces": (ref if k % 2 else big).forces_fnc[[k]]}, {})
        text += (tmp_path / "one.extxyz").read_text()
    (tmp_path / "alternating.extxyz").write_text(text)
    model = tmp_path / "m.json"
    assert main(["fit", str(tmp_path / "alternating.extxyz"), "-o", str(model), "--recipe", "paper"]) == 0
    assert "40 systems too small to split (40 frames): whole systems shuffled (seed 0) into train 32, validation 4, " \
           "test 4" in capsys.readouterr().out
    # species that never meet: an O/H system and an Na/Cl "system" (relabelled) give pairs without a floor
    salt = Dataset(["Na", "Cl"], ref.species_n, np.where(ref.species_n == 0, 22.99, 35.45), ref.positions_fnc,
                   ref.cells_f33, None, ref.forces_fnc, ref.steps_f, ref.times_f)
    from mldyn.fit import fit_model

    report = fit_model([ref, salt], mldyn.Basis((("exp", 1.0), ("power", 1.0)), r_on=4.0), "linear",
                       progress=False)
    assert "O-Na" not in report.model.metadata["closest_pairs_A"]
    report.model.save(tmp_path / "unlike.json")
    assert mldyn.AgentLossModel.load(tmp_path / "unlike.json").species == ["O", "H", "Na", "Cl"]
    # and files written before, with null for such a pair, load too
    text = json.loads((tmp_path / "unlike.json").read_text())
    text["training"]["closest_pairs_A"]["O-Na"] = None
    (tmp_path / "old.json").write_text(json.dumps(text))
    assert "O-Na" not in mldyn.AgentLossModel.load(tmp_path / "old.json").metadata["closest_pairs_A"]
