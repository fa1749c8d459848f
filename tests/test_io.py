"""mldyn.io: extended XYZ (ASE layout, written by hand here), DeePMD-kit npy systems,
and the load_dataset dispatcher."""
from __future__ import annotations

import gzip
import re
import shutil

import numpy as np
import pytest

from mldyn.elements import ATOMIC_MASSES
from mldyn.io.cp2k_reader import read_cp2k
from mldyn.data import bundled_h2o32_path
from mldyn.dataset import Dataset
from mldyn.io import FORMATS, detect_format, load_dataset
from mldyn.io.deepmd import read_deepmd_npy, write_deepmd_npy
from mldyn.io.extxyz import read_extxyz
from mldyn.io.xyz import ASE_TIME_FS, parse_extxyz_comment, read_structure, write_extxyz

# Triclinic cell (rows a, b, c in Å) and two frames of a water molecule, as ASE's extxyz writer lays them out.
LATTICE = np.array([[6.0, 0.0, 0.0], [1.5, 7.0, 0.0], [-0.5, 0.8, 8.0]])
POS = np.array([[[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.24, 0.927, 0.0]],
                [[0.1, 0.0, 0.05], [1.0, 0.1, 0.0], [-0.2, 0.9, 0.1]]])
FRC = np.array([[[0.5, -0.25, 0.0], [-0.3, 0.1, 0.0], [-0.2, 0.15, 0.0]],
                [[0.4, -0.2, 0.01], [-0.35, 0.05, -0.01], [-0.05, 0.15, 0.0]]])
ENERGY = [-468.123456, -468.2]
SYMBOLS = ["O", "H", "H"]


def ase_style(frames=(0, 1), lattice=LATTICE, pbc='pbc="T T T"', extra_props="", extra_cols=None, energy=True):
    """Extended XYZ text in ASE's layout."""
    out = []
    lat = None if lattice is None else " ".join(f"{x:.8f}" for x in lattice.ravel())
    for f in frames:
        head = []
        if lattice is not None:
            head.append(f'Lattice="{lat}"')
        head.append(f"Properties=species:S:1:pos:R:3:forces:R:3{extra_props}")
        if energy:
            head.append(f"energy={ENERGY[f]}")
        if pbc:
            head.append(pbc)
        out += [str(len(SYMBOLS)), " ".join(head)]
        for a, s in enumerate(SYMBOLS):
            cols = [f"{x:16.8f}" for x in (*POS[f, a], *FRC[f, a])]
            if extra_cols:
                cols += extra_cols(f, a)
            out.append(f"{s:<2s}" + " ".join(cols))
    return "\n".join(out) + "\n"


def raises_at(path, line, match=""):
    return pytest.raises(ValueError, match=re.escape(str(path)) + rf", line {line}\b.*{match}")


# ------------------------------------------------------------------------------- extended XYZ
def test_comment_parser_handles_quotes_and_bare_keys():
    info = parse_extxyz_comment('Lattice="1 0 0 0 1 0 0 0 1" Properties=species:S:1:pos:R:3 energy=-1.5 '
                                'pbc="T T T" is_relaxed name=\'my cell\' tags={1 2}')
    assert info["Lattice"] == "1 0 0 0 1 0 0 0 1" and info["energy"] == "-1.5" and info["pbc"] == "T T T"
    assert info["is_relaxed"] == "T" and info["name"] == "my cell" and info["tags"] == "{1 2}"


def test_extxyz_triclinic_with_forces(tmp_path):
    path = tmp_path / "water.extxyz"
    path.write_text(ase_style())
    ds = read_extxyz(path)
    assert ds.n_frames == 2 and ds.n_atoms == 3
    assert ds.species_names == ["O", "H"] and list(ds.species_n) == [0, 1, 1]
    np.testing.assert_allclose(ds.cells_f33, np.broadcast_to(LATTICE, (2, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(ds.positions_fnc, POS, atol=1e-12)
    np.testing.assert_allclose(ds.forces_fnc, FRC, atol=1e-12)
    np.testing.assert_allclose(ds.potential_energy_f, ENERGY)
    np.testing.assert_allclose(ds.masses_n, [ATOMIC_MASSES[s] for s in SYMBOLS])
    assert ds.velocities_fnc is None and ds.kinetic_energy_f is None
    np.testing.assert_array_equal(ds.steps_f, [0, 1])
    assert ds.provenance["format"] == "extxyz" and len(ds.provenance["files"]["extxyz"]["sha256"]) == 64
    assert any("frame indices" in note for note in ds.provenance["notes"])
    assert not ds.has_times  # frame indices are not times: no force changes are fitted on them
    stepped = read_extxyz(path, timestep=2.0)  # a timestep makes the frames a trajectory with times
    assert np.allclose(stepped.times_f, [0.0, 2.0]) and stepped.has_time_axis and stepped.has_times
    with pytest.raises(ValueError, match=r"the timestep must be a time > 0 in fs, got 0"):
        read_extxyz(path, timestep=0)


def test_extxyz_general_properties_masses_and_momenta(tmp_path):
    masses = [16.0, 2.0, 2.0]
    momenta = np.arange(18, dtype=float).reshape(2, 3, 3) * 0.01  # ASE units: amu * Å / (Å sqrt(amu/eV))
    text = ase_style(extra_props=":Z:I:1:masses:R:1:momenta:R:3:fixed:L:1",
                     extra_cols=lambda f, a: [str([8, 1, 1][a]), f"{masses[a]}", *(f"{x}" for x in momenta[f, a]),
                                              "F"])
    path = tmp_path / "m.xyz"
    path.write_text(text.replace("energy=", "step=7 time=3.5 energy=", 1).replace("energy=-468.2",
                                                                                  "step=8 time=4.0 energy=-468.2"))
    ds = read_extxyz(path)
    np.testing.assert_array_equal(ds.masses_n, masses)
    np.testing.assert_allclose(ds.velocities_fnc, momenta / np.array(masses)[None, :, None] / ASE_TIME_FS)
    np.testing.assert_array_equal(ds.steps_f, [7, 8])
    np.testing.assert_array_equal(ds.times_f, [3.5, 4.0])
    assert ds.has_times
    assert any("['Z', 'fixed']" in note for note in ds.provenance["notes"])
    assert ASE_TIME_FS == pytest.approx(10.1805056, rel=1e-6)  # ASE's fs = 1e-15 * sqrt(eV / amu) / Å


def test_extxyz_velocities_in_a_per_fs_and_user_masses(tmp_path):
    vel = np.full((2, 3, 3), 0.01)
    path = tmp_path / "v.xyz"
    path.write_text(ase_style(extra_props=":vel:R:3", extra_cols=lambda f, a: ["0.01"] * 3))
    ds = read_extxyz(path, masses={"H": 2.014})
    np.testing.assert_allclose(ds.velocities_fnc, vel)
    assert ds.masses_n[1] == 2.014


def test_extxyz_isolated_and_gzip(tmp_path):
    path = tmp_path / "iso.xyz.gz"
    path.write_bytes(gzip.compress(ase_style(lattice=None, pbc='pbc="F F F"').encode()))
    ds = read_extxyz(path)
    assert ds.cells_f33 is None
    np.testing.assert_allclose(ds.positions_fnc, POS)
    no_pbc_key = tmp_path / "iso2.xyz"
    no_pbc_key.write_text(ase_style(lattice=None, pbc=""))
    assert read_extxyz(no_pbc_key).cells_f33 is None


def test_extxyz_atom_count_mismatch_between_frames(tmp_path):
    lines = ase_style().splitlines()
    lines[5] = "2"  # frame 1 header claims 2 atoms
    del lines[8]
    path = tmp_path / "bad.xyz"
    path.write_text("\n".join(lines) + "\n")
    with raises_at(path, 6, "frame 1 has 2 atoms but frame 0"):
        read_extxyz(path)


def test_extxyz_species_order_mismatch(tmp_path):
    lines = ase_style().splitlines()
    lines[7], lines[8] = "H " + lines[7][2:], "O " + lines[8][2:]  # frame 1 is H O H instead of O H H
    path = tmp_path / "order.xyz"
    path.write_text("\n".join(lines) + "\n")
    with raises_at(path, 8, "atom 0 of frame 1 is 'H' but 'O' in frame 0"):
        read_extxyz(path)


def test_extxyz_missing_column_and_non_numeric(tmp_path):
    lines = ase_style().splitlines()
    short = list(lines)
    short[4] = " ".join(short[4].split()[:-1])
    path = tmp_path / "short.xyz"
    path.write_text("\n".join(short) + "\n")
    with raises_at(path, 5, "expected 7 fields"):
        read_extxyz(path)
    bad = list(lines)
    bad[9] = bad[9].replace(bad[9].split()[2], "zz", 1)
    path = tmp_path / "nonnum.xyz"
    path.write_text("\n".join(bad) + "\n")
    with raises_at(path, 10, "non-numeric pos value 'zz'"):
        read_extxyz(path)
    nan = list(lines)
    nan[3] = nan[3].replace(nan[3].split()[5], "nan", 1)
    path = tmp_path / "nan.xyz"
    path.write_text("\n".join(nan) + "\n")
    with raises_at(path, 4, "non-finite forces value"):
        read_extxyz(path)


def test_extxyz_truncated_and_header_errors(tmp_path):
    path = tmp_path / "trunc.xyz"
    path.write_text("\n".join(ase_style().splitlines()[:-1]) + "\n")
    with raises_at(path, 6, "truncated frame 1"):
        read_extxyz(path)
    path = tmp_path / "lat.xyz"
    path.write_text(ase_style().replace('Lattice="6.00000000 ', 'Lattice="', 1))
    with raises_at(path, 2, "Lattice needs 9 numbers"):
        read_extxyz(path)
    path = tmp_path / "pbc.xyz"
    path.write_text(ase_style(pbc='pbc="T T F"'))
    with raises_at(path, 2, "partly periodic"):
        read_extxyz(path)
    path = tmp_path / "props.xyz"
    path.write_text(ase_style().replace("forces:R:3", "forces:Q:3"))
    with raises_at(path, 2, "bad Properties entry 'forces:Q:3'"):
        read_extxyz(path)
    path = tmp_path / "empty.xyz"
    path.write_text("")
    with pytest.raises(ValueError, match="empty.xyz: empty file, zero frames"):
        read_extxyz(path)


def test_extxyz_round_trip_of_real_frames(tmp_path):
    ds = read_cp2k(bundled_h2o32_path()).subset(slice(0, 5))
    write_extxyz(tmp_path / "h2o.extxyz", ds)
    back = read_extxyz(tmp_path / "h2o.extxyz")
    np.testing.assert_allclose(back.positions_fnc, ds.positions_fnc, atol=0.51e-10)
    np.testing.assert_allclose(back.forces_fnc, ds.forces_fnc, atol=0.51e-10)
    np.testing.assert_allclose(back.velocities_fnc, ds.velocities_fnc, atol=0.51e-10)
    np.testing.assert_allclose(back.potential_energy_f, ds.potential_energy_f, atol=0.51e-10)
    np.testing.assert_array_equal(back.steps_f, ds.steps_f)
    np.testing.assert_allclose(back.cells_f33, ds.cells_f33)


# ------------------------------------------------------------------------------- DeePMD npy
def write_deepmd_by_hand(root, nopbc=False, type_raw="0\n1\n1\n", type_map="O\nH\n"):
    """Two sets (1 + 1 frames) of the water molecule, DeePMD layout, flattened arrays."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "type.raw").write_text(type_raw)
    if type_map is not None:
        (root / "type_map.raw").write_text(type_map)
    if nopbc:
        (root / "nopbc").write_text("")
    for s, f in enumerate((0, 1)):
        sd = root / f"set.{s:03d}"
        sd.mkdir()
        np.save(sd / "coord.npy", POS[f:f + 1].reshape(1, 9))
        np.save(sd / "force.npy", FRC[f:f + 1].reshape(1, 9))
        np.save(sd / "box.npy", LATTICE.reshape(1, 9))
        np.save(sd / "energy.npy", np.array(ENERGY[f:f + 1]))
        np.save(sd / "virial.npy", np.zeros((1, 9)))
    return root


def test_deepmd_two_sets(tmp_path):
    ds = read_deepmd_npy(write_deepmd_by_hand(tmp_path / "sys"))
    assert ds.n_frames == 2 and ds.species_names == ["O", "H"] and list(ds.species_n) == [0, 1, 1]
    np.testing.assert_array_equal(ds.positions_fnc, POS)
    np.testing.assert_array_equal(ds.forces_fnc, FRC)
    np.testing.assert_array_equal(ds.cells_f33, np.broadcast_to(LATTICE, (2, 3, 3)))
    np.testing.assert_array_equal(ds.potential_energy_f, ENERGY)
    assert ds.provenance["sets"] == ["set.000", "set.001"]
    assert any("virial.npy" in note for note in ds.provenance["notes"])


def test_deepmd_type_map_order_and_nopbc(tmp_path):
    root = write_deepmd_by_hand(tmp_path / "sys", nopbc=True, type_raw="1 0 0\n", type_map="H\nO\n")
    ds = read_deepmd_npy(root)
    assert ds.species_names == ["O", "H"] and list(ds.species_n) == [0, 1, 1]  # order of first appearance
    assert ds.cells_f33 is None


def test_deepmd_errors(tmp_path):
    root = write_deepmd_by_hand(tmp_path / "a")
    np.save(root / "set.001" / "coord.npy", np.zeros((1, 6)))
    with pytest.raises(ValueError, match=re.escape(str(root / "set.001" / "coord.npy")) + r".*expected \(frames, 9\)"):
        read_deepmd_npy(root)
    root = write_deepmd_by_hand(tmp_path / "b")
    np.save(root / "set.000" / "force.npy", np.zeros((2, 9)))
    with pytest.raises(ValueError, match=re.escape(str(root / "set.000" / "force.npy")) + r".*expected \(1, 9\)"):
        read_deepmd_npy(root)
    root = write_deepmd_by_hand(tmp_path / "c", type_raw="0\n1\n2\n")
    with pytest.raises(ValueError, match=re.escape(str(root / "type.raw")) + ", line 3: type 2 has no name"):
        read_deepmd_npy(root)
    root = write_deepmd_by_hand(tmp_path / "d")
    (root / "set.000" / "box.npy").unlink()
    with pytest.raises(ValueError, match=r"set.000: no box.npy although other sets have one"):
        read_deepmd_npy(root)
    root = write_deepmd_by_hand(tmp_path / "e", type_map=None)
    with pytest.raises(ValueError, match="no default mass for species 'type_0'"):
        read_deepmd_npy(root)
    assert read_deepmd_npy(root, masses={"type_0": 16.0, "type_1": 1.0}).species_names == ["type_0", "type_1"]
    root = write_deepmd_by_hand(tmp_path / "f", type_raw="0\nx\n1\n")
    with pytest.raises(ValueError, match=re.escape(str(root / "type.raw")) + ", line 2: type index must be"):
        read_deepmd_npy(root)


def test_deepmd_round_trip(tmp_path):
    ds = read_cp2k(bundled_h2o32_path()).subset(slice(0, 7))
    write_deepmd_npy(tmp_path / "sys", ds, type_map=["H", "O"], set_size=3)
    back = read_deepmd_npy(tmp_path / "sys")
    assert back.provenance["sets"] == ["set.000", "set.001", "set.002"]
    np.testing.assert_array_equal(back.positions_fnc, ds.positions_fnc)
    np.testing.assert_array_equal(back.forces_fnc, ds.forces_fnc)
    np.testing.assert_array_equal(back.cells_f33, ds.cells_f33)
    np.testing.assert_array_equal(back.potential_energy_f, ds.potential_energy_f)
    assert back.species_names == ["O", "H"]


# ------------------------------------------------------------------------------- dispatcher
def test_load_dataset_dispatch(tmp_path):
    bundled = bundled_h2o32_path()
    assert load_dataset(bundled).provenance["reader"] == "mldyn.io.cp2k_reader.read_cp2k"
    run = tmp_path / "run"
    shutil.copytree(bundled, run)
    assert load_dataset(run / "H2O-32-pos-1.xyz.gz").n_frames == 600
    (tmp_path / "w.extxyz").write_text(ase_style())
    assert load_dataset(tmp_path / "w.extxyz").provenance["reader"] == "mldyn.io.extxyz.read_extxyz"
    root = write_deepmd_by_hand(tmp_path / "dp")
    assert load_dataset(root).provenance["reader"] == "mldyn.io.deepmd.read_deepmd_npy"
    ds = load_dataset(root)
    ds.save(tmp_path / "saved.npz")
    assert isinstance(load_dataset(tmp_path / "saved.npz"), Dataset)
    (tmp_path / "x.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match="unknown data format"):
        load_dataset(tmp_path / "x.csv")
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(ValueError, match="neither a CP2K run"):
        load_dataset(tmp_path / "emptydir")
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "nope.xyz")


def test_load_dataset_require_forces_for_every_format(tmp_path):
    (tmp_path / "noforce.xyz").write_text("2\nProperties=species:S:1:pos:R:3\nH 0 0 0\nH 0.74 0 0\n")
    assert load_dataset(tmp_path / "noforce.xyz").forces_fnc is None
    with pytest.raises(ValueError, match="noforce.xyz: the data has no forces"):
        load_dataset(tmp_path / "noforce.xyz", require_forces=True)
    assert load_dataset(bundled_h2o32_path(), require_forces=True).forces_fnc is not None


def test_detect_format_decides_before_reading(tmp_path):
    """The format is told from names alone; no reader runs and no error text is inspected."""
    bundled = bundled_h2o32_path()
    assert detect_format(bundled) == "cp2k"
    assert detect_format(bundled / "H2O-32-pos-1.xyz.gz") == "cp2k"
    assert detect_format(write_deepmd_by_hand(tmp_path / "dp")) == "deepmd"
    (tmp_path / "w.extxyz.gz").write_bytes(gzip.compress(ase_style().encode()))
    assert detect_format(tmp_path / "w.extxyz.gz") == "extxyz"
    (tmp_path / "d.npz").write_bytes(b"")
    assert detect_format(tmp_path / "d.npz") == "npz"
    assert set(FORMATS) == {"cp2k", "deepmd", "extxyz", "npz"}


def test_directory_that_is_neither_cp2k_nor_deepmd(tmp_path):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "notes.txt").write_text("not data\n")
    (odd / "RUN-vel-1.xyz").write_text("1\n i = 0\nO 0 0 0\n")  # a CP2K file, but no positions trajectory
    for call in (detect_format, load_dataset):
        with pytest.raises(ValueError) as exc:
            call(odd)
        message = str(exc.value)
        assert message.startswith(str(odd)) and "neither a CP2K run" in message
        assert "deepmd/npy" in message and "type.raw" in message


def test_directory_with_two_cp2k_projects(tmp_path):
    """Two projects: the CP2K reader's own error reaches the caller unchanged; project= chooses one."""
    run = tmp_path / "run"
    shutil.copytree(bundled_h2o32_path(), run)
    for f in sorted(run.glob("H2O-32-*")):
        shutil.copy(f, run / f.name.replace("H2O-32", "OTHER"))
    assert detect_format(run) == "cp2k"
    with pytest.raises(ValueError) as direct:
        read_cp2k(run)
    with pytest.raises(ValueError) as dispatched:
        load_dataset(run)
    assert str(dispatched.value) == str(direct.value)
    assert re.search(r"several CP2K projects \['H2O-32', 'OTHER'\]; choose one with project=", str(dispatched.value))
    assert load_dataset(run, project="OTHER").provenance["project"] == "OTHER"
    with pytest.raises(ValueError, match="no trajectory NOPE-pos-1.xyz"):
        load_dataset(run, project="NOPE")


def test_read_structure_frames_lattice_and_columns(tmp_path):
    path = tmp_path / "s.extxyz.gz"
    path.write_bytes(gzip.compress(ase_style().encode()))
    symbols, pos, lattice = read_structure(path, frame=-1)
    assert symbols == SYMBOLS
    np.testing.assert_array_equal(pos, POS[1])
    np.testing.assert_array_equal(lattice, LATTICE)
    (tmp_path / "labels.xyz").write_text("2\nBob's box\nOW 0 0 0\nHW1 1 0 0\n")  # free text, CP2K-style labels
    symbols, pos, lattice = read_structure(tmp_path / "labels.xyz")
    assert symbols == ["O", "H"] and lattice is None and pos.shape == (2, 3)
    (tmp_path / "bad.xyz").write_text("2\nplain\nO 0 0 0\nH 1 x 0\n")
    with raises_at(tmp_path / "bad.xyz", 4, "non-numeric pos value 'x'"):
        read_structure(tmp_path / "bad.xyz")
    with pytest.raises(ValueError, match="frame 3 requested, file has 1 frame"):
        read_structure(tmp_path / "bad.xyz", frame=3)
    with pytest.raises(FileNotFoundError, match="structure file not found"):
        read_structure(tmp_path / "missing.xyz")
    # velocities: none in a plain file; from ASE momenta divided by the masses column, which must be > 0
    assert read_structure(tmp_path / "labels.xyz", velocities=True)[3] is None
    props = 'Properties=species:S:1:pos:R:3:masses:R:1:momenta:R:3'
    (tmp_path / "m.xyz").write_text(f"2\n{props}\nO 0 0 0 16.0 0.16 0 0\nH 1 0 0 0.0 0 0 0\n")
    with raises_at(tmp_path / "m.xyz", 4, "mass 0 amu; masses must be > 0"):
        read_structure(tmp_path / "m.xyz", velocities=True)


def test_core_fixed_rows_writes_the_digits_of_printf():
    """The trajectory writers format numbers in the core; the text must be printf's to the byte."""
    from mldyn import _core

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(size=(40, 4)), rng.normal(scale=1e-11, size=(40, 2)),
                             rng.normal(scale=1e7, size=(40, 2)), np.full((40, 1), -0.0), np.full((40, 1), 5e-11),
                             np.full((40, 1), np.nan), np.full((40, 1), -np.inf)], axis=1)
    labels = [f"X{i % 7}" for i in range(40)]
    for width, sep in ((0, " "), (19, " "), (25, "\t")):
        expected = "".join(f"{lab:<3s}" + "".join(f"{sep}{x:{width}.10f}" for x in row) + "\n"
                           for lab, row in zip(labels, values))
        got = _core.fixed_rows([f"{lab:<3s}" for lab in labels], values, sep, width, 10).decode()
        assert got == expected
    with pytest.raises(ValueError, match="3 prefixes for 40 rows"):
        _core.fixed_rows(labels[:3], values, " ", 0, 10)
