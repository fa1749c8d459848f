"""mldyn.io.cp2k_*: reading the bundled real CP2K run, units, cells, step alignment, damaged
inputs (each error names the file and the line), and the CP2K-style writers."""
from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import warnings

import numpy as np
import pytest

from mldyn import units
from mldyn.elements import ATOMIC_MASSES
from mldyn.io.cp2k_files import find_cp2k_files
from mldyn.io.cp2k_input import parse_cp2k_input_cell
from mldyn.io.cp2k_reader import CP2KAlignmentWarning, read_cp2k
from mldyn.io.cp2k_writer import write_cp2k_cell, write_cp2k_ener, write_cp2k_run, write_cp2k_xyz
from mldyn.io.cp2k_xyz import read_cp2k_xyz
from mldyn.data import bundled_h2o32_path
from mldyn.dataset import Dataset

BUNDLED = bundled_h2o32_path()
N_ATOMS = 96
FRAME_LINES = N_ATOMS + 2
PROJECT = "H2O-32"
BOX = 9.8528  # Å, the run's cubic cell (README and in.inp)


def header_line(frame: int) -> int:
    """1-based line of the atom-count line of ``frame`` in a CP2K xyz file of this run."""
    return frame * FRAME_LINES + 1


def atom_line(frame: int, atom: int) -> int:
    return frame * FRAME_LINES + 3 + atom


@pytest.fixture(scope="module")
def real():
    """The bundled run as text: xyz lines per kind, .ener and .cell lines, and the parsed Dataset."""
    xyz = {}
    for kind in ("pos", "vel", "frc"):
        with gzip.open(BUNDLED / f"{PROJECT}-{kind}-1.xyz.gz", "rt") as fh:
            xyz[kind] = fh.read().splitlines()
    ener = (BUNDLED / f"{PROJECT}-1.ener").read_text().splitlines()
    cell = (BUNDLED / f"{PROJECT}-1.cell").read_text().splitlines()
    return {"xyz": xyz, "ener": ener, "cell": cell, "ds": read_cp2k(BUNDLED)}


def make_run(directory, real, frames=4, kinds=("pos", "vel", "frc"), ener=True, cell=True, inp=False, edit=None,
             project=PROJECT):
    """Plain-text copy of the first ``frames`` frames of the real run in ``directory``.

    ``edit(kind, lines) -> lines`` may change any file's lines (kinds pos/vel/frc/ener/cell).
    Returns a dict kind -> path.
    """
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for kind in kinds:
        lines = list(real["xyz"][kind][:frames * FRAME_LINES])
        if edit:
            lines = edit(kind, lines)
        out[kind] = directory / f"{project}-{kind}-1.xyz"
        out[kind].write_text("\n".join(lines) + "\n")
    for kind, flag in (("ener", ener), ("cell", cell)):
        if flag:
            lines = list(real[kind][:frames + 1])  # header + frames rows
            if edit:
                lines = edit(kind, lines)
            out[kind] = directory / f"{project}-1.{kind}"
            out[kind].write_text("\n".join(lines) + "\n")
    if inp:
        out["inp"] = directory / "in.inp"
        shutil.copy(BUNDLED / "in.inp", out["inp"])
    return out


def raises_at(path, line, match=None):
    """pytest.raises(ValueError) whose message names ``path`` (file name) and ``line``."""
    pattern = re.escape(str(path)) + r".*\bline " + str(line) + r"\b"
    if match:
        pattern += ".*" + match
    return pytest.raises(ValueError, match=pattern)


# ------------------------------------------------------------------------------- the real run
def test_bundled_run_shape_species_steps(real):
    ds = real["ds"]
    assert ds.n_frames == 600 and ds.n_atoms == N_ATOMS
    assert ds.species_names == ["O", "H"]
    assert list(ds.species_n[:32]) == [0] * 32 and list(ds.species_n[32:]) == [1] * 64
    assert ds.symbols[:2] == ["O", "O"] and ds.symbols[-1] == "H"
    np.testing.assert_array_equal(ds.steps_f, np.arange(200, 800))
    np.testing.assert_allclose(ds.times_f, 0.5 * ds.steps_f)
    np.testing.assert_allclose(ds.masses_n[:32], ATOMIC_MASSES["O"])
    np.testing.assert_allclose(ds.masses_n[32:], ATOMIC_MASSES["H"])
    assert ds.velocities_fnc is not None and ds.forces_fnc is not None
    assert ds.positions_fnc.dtype == np.float64 and ds.species_n.dtype == np.int32 and ds.steps_f.dtype == np.int64


def test_bundled_run_provenance_hashes(real):
    prov = real["ds"].provenance
    assert prov["reader"] == "mldyn.io.cp2k_reader.read_cp2k" and prov["project"] == PROJECT
    for kind, name in (("pos", "H2O-32-pos-1.xyz.gz"), ("ener", "H2O-32-1.ener"), ("cell", "H2O-32-1.cell"),
                       ("inp", "in.inp")):
        assert prov["files"][kind]["sha256"] == hashlib.sha256((BUNDLED / name).read_bytes()).hexdigest()
    assert prov["alignment"]["first_step"] == 200 and prov["alignment"]["last_step"] == 799
    assert "H2O-32-1.cell" in prov["cell_source"]


def test_bundled_slice_is_the_documented_one():
    readme = (BUNDLED / "README.md").read_text()
    assert "200 to 799" in readme and "CP2K 2023.1" in readme
    total = sum(p.stat().st_size for p in BUNDLED.iterdir())
    assert total < 4_000_000, f"bundled data is {total} bytes"
    for kind in ("pos", "vel", "frc"):  # checksums of the decompressed slices are the README's
        digest = hashlib.sha256(gzip.decompress((BUNDLED / f"{PROJECT}-{kind}-1.xyz.gz").read_bytes())).hexdigest()
        assert f"{digest}  {PROJECT}-{kind}-1.xyz" in readme


def test_units_converted_from_the_raw_text(real):
    ds = real["ds"]
    frame, atom = 3, 40
    raw = {k: np.array(real["xyz"][k][atom_line(frame, atom) - 1].split()[1:], dtype=float) for k in real["xyz"]}
    np.testing.assert_array_equal(ds.positions_fnc[frame, atom], raw["pos"])
    np.testing.assert_allclose(ds.velocities_fnc[frame, atom], raw["vel"] * units.BOHR_PER_AU_TIME_A_PER_FS, rtol=1e-14)
    np.testing.assert_allclose(ds.forces_fnc[frame, atom], raw["frc"] * units.HARTREE_PER_BOHR_EV_PER_A, rtol=1e-14)
    row = np.array(real["ener"][1 + frame].split(), dtype=float)
    assert int(row[0]) == ds.steps_f[frame]
    assert ds.potential_energy_f[frame] == pytest.approx(row[4] * units.HARTREE_EV, rel=1e-14)
    assert ds.kinetic_energy_f[frame] == pytest.approx(row[2] * units.HARTREE_EV, rel=1e-14)
    assert ds.temperature_f[frame] == pytest.approx(row[3], rel=1e-14)
    # Conversion factors are the CODATA ones in mldyn.units.
    assert units.HARTREE_PER_BOHR_EV_PER_A == pytest.approx(51.422067476, rel=1e-9)
    assert units.BOHR_PER_AU_TIME_A_PER_FS == pytest.approx(21.876912636, rel=1e-9)


def test_kinetic_energy_from_velocities_matches_ener(real):
    ds = real["ds"]
    ke = 0.5 * units.KINETIC_EV_PER_AMU_A2_FS2 * np.einsum("n,fnc,fnc->f", ds.masses_n, ds.velocities_fnc,
                                                            ds.velocities_fnc)
    np.testing.assert_allclose(ke, ds.kinetic_energy_f, rtol=1e-6)


def test_temperature_from_kinetic_energy_with_3n_minus_3_dof(real):
    ds = real["ds"]
    dof = 3 * ds.n_atoms - 3
    temperature = 2.0 * ds.kinetic_energy_f / (dof * units.KB_EV_PER_K)
    np.testing.assert_allclose(temperature, ds.temperature_f, rtol=1e-5)
    # 3N dof would be off by 1 % -- the check can tell.
    assert not np.allclose(2.0 * ds.kinetic_energy_f / (3 * ds.n_atoms * units.KB_EV_PER_K), ds.temperature_f,
                           rtol=1e-3)


def test_accelerations(real):
    ds = real["ds"]
    acc = ds.accelerations_fnc
    np.testing.assert_allclose(acc[5, 7], ds.forces_fnc[5, 7] / ds.masses_n[7] * units.ACCEL_PER_FORCE_OVER_MASS)
    assert acc.shape == ds.forces_fnc.shape


def test_cells_from_cell_file(real):
    ds = real["ds"]
    assert ds.cells_f33.shape == (600, 3, 3)
    np.testing.assert_array_equal(ds.cells_f33, np.broadcast_to(np.eye(3) * BOX, (600, 3, 3)))


def test_gzip_and_plain_give_identical_data(tmp_path, real):
    make_run(tmp_path, real, frames=600)
    plain = read_cp2k(tmp_path)
    ds = real["ds"]
    for name in ("positions_fnc", "velocities_fnc", "forces_fnc", "cells_f33", "steps_f", "times_f",
                 "potential_energy_f", "kinetic_energy_f", "temperature_f"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(ds, name), err_msg=name)


def test_fast_and_general_parsers_agree(tmp_path, real):
    """Irregular spacing forces the general tokenising parser; values must equal the fixed-column parse."""
    files = make_run(tmp_path / "a", real, frames=3, kinds=("pos",))
    fast = read_cp2k_xyz(str(files["pos"]))

    def squash(kind, lines):
        return [" ".join(line.split()) if i % FRAME_LINES >= 2 else line for i, line in enumerate(lines)]

    files = make_run(tmp_path / "b", real, frames=3, kinds=("pos",), edit=squash)
    general = read_cp2k_xyz(str(files["pos"]))
    np.testing.assert_array_equal(fast.data, general.data)
    assert fast.symbols == general.symbols and list(fast.steps) == list(general.steps)
    reference = np.array([line.split()[1:] for i, line in enumerate(real["xyz"]["pos"][:3 * FRAME_LINES])
                          if i % FRAME_LINES >= 2], dtype=float)
    np.testing.assert_array_equal(fast.data.reshape(-1, 3), reference)


# ------------------------------------------------------------------------------- cells
def test_cell_from_input_file_when_no_cell_file(tmp_path, real):
    make_run(tmp_path, real, frames=3, cell=False, inp=True)
    ds = read_cp2k(tmp_path)
    np.testing.assert_array_equal(ds.cells_f33, np.broadcast_to(np.eye(3) * BOX, (3, 3, 3)))
    assert "in.inp" in ds.provenance["cell_source"]


def test_input_cell_matches_cell_file(real):
    cell, info = parse_cp2k_input_cell(BUNDLED / "in.inp")
    np.testing.assert_allclose(cell, real["ds"].cells_f33[0], atol=1e-12)
    assert info["project"] == PROJECT


def write_input(path, cell_body: str, extra: str = "") -> None:
    path.write_text(f"""{extra}&GLOBAL
  PROJECT {PROJECT}
&END GLOBAL
&MOTION
  &PRINT
    &CELL
      &EACH
        MD 1
      &END EACH
    &END CELL
  &END PRINT
&END MOTION
&FORCE_EVAL
  &SUBSYS
    &CELL   ! the cell
{cell_body}
    &END CELL
  &END SUBSYS
&END FORCE_EVAL
""")


def test_input_cell_abc_with_angles_is_triclinic(tmp_path):
    write_input(tmp_path / "t.inp", "      ABC [angstrom] 10.0 11.0 12.0\n      ALPHA_BETA_GAMMA 80.0 95.0 105.0")
    h, _ = parse_cp2k_input_cell(tmp_path / "t.inp")
    lengths = np.linalg.norm(h, axis=1)
    np.testing.assert_allclose(lengths, [10.0, 11.0, 12.0], rtol=1e-12)

    def angle(u, v):
        return np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))

    np.testing.assert_allclose([angle(h[1], h[2]), angle(h[0], h[2]), angle(h[0], h[1])], [80.0, 95.0, 105.0],
                               rtol=1e-12)
    assert h[0, 1] == 0.0 and h[0, 2] == 0.0 and h[1, 2] == 0.0  # a along x, b in the xy plane


def test_input_cell_vectors_in_bohr_with_set_variable(tmp_path):
    write_input(tmp_path / "v.inp", "      A [bohr] ${L} 0 0\n      B 0.0 5.0 0.0 # comment\n      C 1.0 0.0 6.0",
                extra="@SET L 10.0\n")
    h, _ = parse_cp2k_input_cell(tmp_path / "v.inp")
    np.testing.assert_allclose(h, [[10.0 * units.BOHR_A, 0, 0], [0, 5.0, 0], [1.0, 0.0, 6.0]], rtol=1e-14)


def test_input_cell_multiple_unit_cell(tmp_path):
    write_input(tmp_path / "m.inp", "      ABC 2.0 3.0 4.0\n      MULTIPLE_UNIT_CELL 2 1 3")
    h, _ = parse_cp2k_input_cell(tmp_path / "m.inp")
    np.testing.assert_allclose(h, np.diag([4.0, 3.0, 12.0]))


def test_input_cell_bad_value_names_file_and_line(tmp_path):
    write_input(tmp_path / "bad.inp", "      ABC 9.8 nine 9.8")
    with raises_at(tmp_path / "bad.inp", 16, "non-numeric"):
        parse_cp2k_input_cell(tmp_path / "bad.inp")


def test_no_cell_anywhere_is_an_error_unless_given(tmp_path, real):
    make_run(tmp_path, real, frames=2, cell=False)
    with pytest.raises(ValueError, match="no cell found.*cell='isolated'"):
        read_cp2k(tmp_path)
    assert read_cp2k(tmp_path, cell="isolated").cells_f33 is None
    ds = read_cp2k(tmp_path, cell=(9.0, 10.0, 11.0))
    np.testing.assert_array_equal(ds.cells_f33[1], np.diag([9.0, 10.0, 11.0]))
    assert ds.provenance["cell_source"].startswith("cell= argument")


def test_user_cell_disagreeing_with_files_is_warned_and_ignored(tmp_path, real):
    make_run(tmp_path, real, frames=2)
    with pytest.warns(UserWarning, match="cell= ignored"):
        ds = read_cp2k(tmp_path, cell=12.0)
    np.testing.assert_array_equal(ds.cells_f33[0], np.eye(3) * BOX)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_cp2k(tmp_path, cell=BOX)  # agreeing: silent


# ------------------------------------------------------------------------------- alignment
def keep_frames(lines, frames):
    out = []
    for f in frames:
        out += lines[f * FRAME_LINES:(f + 1) * FRAME_LINES]
    return out


def test_different_print_frequencies_are_intersected(tmp_path, real):
    def every_other_force(kind, lines):
        return keep_frames(lines, range(0, 6, 2)) if kind == "frc" else lines

    make_run(tmp_path, real, frames=6, edit=every_other_force)
    with pytest.warns(CP2KAlignmentWarning, match=r"H2O-32-pos-1\.xyz: 3 step\(s\) not printed by every file"):
        ds = read_cp2k(tmp_path)
    np.testing.assert_array_equal(ds.steps_f, [200, 202, 204])
    np.testing.assert_array_equal(ds.positions_fnc, real["ds"].positions_fnc[[0, 2, 4]])
    np.testing.assert_array_equal(ds.forces_fnc, real["ds"].forces_fnc[[0, 2, 4]])
    np.testing.assert_array_equal(ds.kinetic_energy_f, real["ds"].kinetic_energy_f[[0, 2, 4]])
    dropped = ds.provenance["alignment"]["steps_missing_elsewhere_dropped"]
    assert dropped["pos"] == [201, 203, 205] and dropped["ener"] == [201, 203, 205] and "frc" not in dropped


def test_restart_with_repeated_steps_keeps_the_last_copy(tmp_path, real):
    """Frames 0-5, then a restart from frame 3 (steps 203-205 again, with shifted positions), then frames 6-7."""
    def restarted(kind, lines):
        first = keep_frames(lines, range(0, 6))
        if kind in ("ener", "cell"):
            head, rows = lines[:1], lines[1:]
            return head + rows[0:6] + rows[3:8]
        again = keep_frames(lines, range(3, 8))
        if kind == "pos":  # mark the second copy: x + 1 Å (a line layout CP2K could write)
            for i in range(len(again)):
                if i % FRAME_LINES >= 2:
                    sym, x, y, z = again[i].split()
                    again[i] = f"{sym:>3s}  {float(x) + 1.0:19.10f} {float(y):19.10f} {float(z):19.10f}"
        return first + again

    make_run(tmp_path, real, frames=8, edit=restarted)
    with pytest.warns(CP2KAlignmentWarning, match="repeat an earlier step"):
        ds = read_cp2k(tmp_path)
    np.testing.assert_array_equal(ds.steps_f, np.arange(200, 208))
    ref = real["ds"].positions_fnc
    np.testing.assert_allclose(ds.positions_fnc[3:8, :, 0], ref[3:8, :, 0] + 1.0, atol=1e-9)  # the last copy
    np.testing.assert_array_equal(ds.positions_fnc[3:8, :, 1:], ref[3:8, :, 1:])
    np.testing.assert_array_equal(ds.positions_fnc[:3], ref[:3])
    np.testing.assert_array_equal(ds.velocities_fnc, real["ds"].velocities_fnc[:8])
    assert ds.provenance["alignment"]["repeated_steps_dropped"]["pos"] == [203, 204, 205]
    assert any("restarted run" in note for note in ds.provenance["notes"])


def test_no_common_step_is_an_error(tmp_path, real):
    def shift(kind, lines):
        return keep_frames(lines, range(0, 2)) if kind == "frc" else keep_frames(lines, range(2, 4)) \
            if kind in ("pos", "vel") else lines

    make_run(tmp_path, real, frames=4, ener=False, cell=False, edit=shift)
    with pytest.raises(ValueError, match="no step is printed by every file"):
        read_cp2k(tmp_path, cell=BOX)


# ------------------------------------------------------------------------------- file discovery
def test_several_projects_need_project(tmp_path, real):
    make_run(tmp_path, real, frames=2)
    make_run(tmp_path, real, frames=3, project="OTHER")
    with pytest.raises(ValueError, match=r"several CP2K projects \['H2O-32', 'OTHER'\]"):
        read_cp2k(tmp_path)
    assert read_cp2k(tmp_path, project="OTHER").n_frames == 3
    assert read_cp2k(tmp_path, project=PROJECT).n_frames == 2
    with pytest.raises(ValueError, match="no trajectory NOPE-pos-1.xyz"):
        read_cp2k(tmp_path, project="NOPE")


def test_explicit_files_pos_path_and_dict(tmp_path, real):
    files = make_run(tmp_path, real, frames=3)
    by_list = read_cp2k([files["pos"], files["frc"], files["cell"]])
    assert by_list.velocities_fnc is None and by_list.forces_fnc is not None and by_list.kinetic_energy_f is None
    np.testing.assert_allclose(by_list.potential_energy_f, real["ds"].potential_energy_f[:3], rtol=1e-12)  # from E =
    by_dict = read_cp2k({"pos": files["pos"], "vel": files["vel"]}, cell=BOX)
    assert by_dict.forces_fnc is None and by_dict.velocities_fnc is not None
    by_pos = read_cp2k(files["pos"])
    assert by_pos.forces_fnc is not None and by_pos.kinetic_energy_f is not None  # siblings found
    assert set(find_cp2k_files(tmp_path)) == {"pos", "vel", "frc", "ener", "cell"}


def test_masses_override(tmp_path, real):
    make_run(tmp_path, real, frames=2)
    ds = read_cp2k(tmp_path, masses={"H": 2.014})
    np.testing.assert_array_equal(ds.masses_n[32:], 2.014)
    np.testing.assert_array_equal(ds.masses_n[:32], ATOMIC_MASSES["O"])
    with pytest.raises(ValueError, match=r"masses= names \['D'\] match no species"):
        read_cp2k(tmp_path, masses={"D": 2.014})
    with pytest.raises(ValueError, match="positive"):
        read_cp2k(tmp_path, masses={"H": -1.0})


# ------------------------------------------------------------------------------- damaged inputs
def test_error_truncated_last_frame(tmp_path, real):
    files = make_run(tmp_path, real, frames=3, edit=lambda k, lines: lines[:-10] if k == "vel" else lines)
    with raises_at(files["vel"], header_line(2), "truncated frame 2"):
        read_cp2k(tmp_path)


def test_error_truncated_frame_in_the_middle(tmp_path, real):
    def drop_atom_line(kind, lines):
        if kind == "frc":
            del lines[atom_line(1, 50) - 1]
        return lines

    files = make_run(tmp_path, real, frames=3, edit=drop_atom_line)
    with raises_at(files["frc"], header_line(1), "truncated: a new frame starts at line"):
        read_cp2k(tmp_path)


def test_error_atom_count_differs_between_frames(tmp_path, real):
    def shrink_frame(kind, lines):
        if kind == "pos":
            lines[header_line(2) - 1] = "      95"
            del lines[atom_line(2, 95) - 1]
        return lines

    files = make_run(tmp_path, real, frames=3, edit=shrink_frame)
    with raises_at(files["pos"], header_line(2), "frame 2 has 95 atoms but frame 0"):
        read_cp2k(tmp_path)


def test_error_atom_count_differs_between_files(tmp_path, real):
    def drop_last_atom(kind, lines):
        if kind != "vel":
            return lines
        out = []
        for f in range(len(lines) // FRAME_LINES):
            block = lines[f * FRAME_LINES:(f + 1) * FRAME_LINES - 1]
            block[0] = "      95"
            out += block
        return out

    files = make_run(tmp_path, real, frames=2, edit=drop_last_atom)
    with raises_at(files["vel"], 1, "95 atoms, but .*pos-1.xyz"):
        read_cp2k(tmp_path)


def test_error_species_order_differs_between_files(tmp_path, real):
    def swap(kind, lines):
        if kind == "frc":
            for f in range(len(lines) // FRAME_LINES):
                i, j = atom_line(f, 0) - 1, atom_line(f, 40) - 1
                lines[i], lines[j] = lines[j], lines[i]
        return lines

    files = make_run(tmp_path, real, frames=2, edit=swap)
    with raises_at(files["frc"], atom_line(0, 0), "species order differs between files"):
        read_cp2k(tmp_path)


def test_error_species_order_differs_between_frames(tmp_path, real):
    def rename(kind, lines):
        if kind == "pos":
            lines[atom_line(2, 5) - 1] = lines[atom_line(2, 5) - 1].replace(" O ", " N ", 1)
        return lines

    files = make_run(tmp_path, real, frames=3, edit=rename)
    with raises_at(files["pos"], atom_line(2, 5), "species order must not change"):
        read_cp2k(tmp_path)


@pytest.mark.parametrize("bad,what", [("abc", "non-numeric field 'abc'"), ("NaN", "non-finite value 'NaN'"),
                                      ("inf", "non-finite value 'inf'"), ("1.2.3", "non-numeric")])
def test_error_bad_number_in_xyz(tmp_path, real, bad, what):
    def damage(kind, lines):
        if kind == "vel":
            sym, x, y, z = lines[atom_line(1, 17) - 1].split()
            lines[atom_line(1, 17) - 1] = f"  {sym} {x} {bad} {z}"
        return lines

    files = make_run(tmp_path, real, frames=3, edit=damage)
    with raises_at(files["vel"], atom_line(1, 17), re.escape(what)):
        read_cp2k(tmp_path)


def test_error_missing_field_in_xyz(tmp_path, real):
    def damage(kind, lines):
        if kind == "pos":
            lines[atom_line(0, 3) - 1] = " ".join(lines[atom_line(0, 3) - 1].split()[:3])
        return lines

    files = make_run(tmp_path, real, frames=2, edit=damage)
    with raises_at(files["pos"], atom_line(0, 3), "expected 4 fields"):
        read_cp2k(tmp_path)


def test_error_comment_without_step(tmp_path, real):
    def damage(kind, lines):
        if kind == "pos":
            lines[header_line(1)] = " time = 1.0, E = -550.0"
        return lines

    files = make_run(tmp_path, real, frames=2, edit=damage)
    with raises_at(files["pos"], header_line(1) + 1, "no step"):
        read_cp2k(tmp_path)


@pytest.mark.parametrize("kind,value,what", [("ener", "nan", "non-finite"), ("ener", "x1.0", "non-numeric"),
                                             ("cell", "inf", "non-finite"), ("cell", "9.85x", "non-numeric")])
def test_error_bad_number_in_tables(tmp_path, real, kind, value, what):
    def damage(k, lines):
        if k == kind:
            fields = lines[2].split()
            fields[2 if kind == "ener" else 4] = value  # .ener: kinetic (Pot. and Cons Qty may be NaN: "none")
            lines[2] = "   ".join(fields)
        return lines

    files = make_run(tmp_path, real, frames=3, edit=damage)
    with raises_at(files[kind], 3, what):
        read_cp2k(tmp_path)


def test_error_truncated_table_line(tmp_path, real):
    files = make_run(tmp_path, real, frames=3,
                     edit=lambda k, lines: lines[:-1] + [lines[-1][:40]] if k == "ener" else lines)
    with raises_at(files["ener"], 4, "expected 7 columns"):
        read_cp2k(tmp_path)


def test_error_zero_frames(tmp_path, real):
    files = make_run(tmp_path, real, frames=2)
    files["frc"].write_text("")
    with pytest.raises(ValueError, match=re.escape(str(files["frc"])) + ".*zero frames"):
        read_cp2k(tmp_path)
    files["frc"].write_text("\n\n")
    with pytest.raises(ValueError, match=re.escape(str(files["frc"])) + ".*zero frames"):
        read_cp2k(tmp_path)
    files["ener"].write_text("# header only\n")
    files["frc"].unlink()
    with pytest.raises(ValueError, match=re.escape(str(files["ener"])) + ".*zero frames"):
        read_cp2k(tmp_path)


def test_error_missing_forces_when_required(tmp_path, real):
    files = make_run(tmp_path, real, frames=2, kinds=("pos", "vel"))
    assert read_cp2k(tmp_path).forces_fnc is None
    with pytest.raises(ValueError, match=re.escape(str(files["pos"])) + ": no forces file H2O-32-frc-1.xyz, and forces "
                       "are required.*Add &FORCES"):
        read_cp2k(tmp_path, require_forces=True)


def test_error_cell_volume_inconsistent(tmp_path, real):
    def damage(kind, lines):
        if kind == "cell":
            lines[2] = lines[2].replace("9.8528000000", "9.9528000000", 1)
        return lines

    files = make_run(tmp_path, real, frames=3, edit=damage)
    with raises_at(files["cell"], 3, "volume"):
        read_cp2k(tmp_path)


# ------------------------------------------------------------------------------- writers
def test_writer_reproduces_cp2k_layout(tmp_path, real):
    ds = real["ds"].subset([0, 1])
    path = tmp_path / "X-pos-1.xyz"
    write_cp2k_xyz(path, ds.symbols, ds.positions_fnc, ds.steps_f, ds.times_f, ds.potential_energy_f, "pos")
    ours = path.read_text().splitlines()
    theirs = real["xyz"]["pos"][:2 * FRAME_LINES]
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if i % FRAME_LINES == 1:  # comment: same layout, energy through eV and back (last digit may differ)
            assert a[:35] == b[:35] and len(a) == len(b)
        else:
            assert a == b, f"line {i + 1}: {a!r} != {b!r}"


@pytest.mark.parametrize("compress", [False, True])
def test_write_read_round_trip(tmp_path, real, compress):
    ds = real["ds"].subset(slice(10, 30))
    written = write_cp2k_run(tmp_path, ds, project="learned", compress=compress)
    assert set(written) == {"pos", "vel", "frc", "cell", "ener"}
    assert all(str(p).endswith(".gz") == compress for p in written.values())
    back = read_cp2k(tmp_path)
    np.testing.assert_array_equal(back.steps_f, ds.steps_f)
    np.testing.assert_array_equal(back.positions_fnc, ds.positions_fnc)
    # Written with 10 decimals in CP2K units: the tolerance is half a unit of the last digit.
    np.testing.assert_allclose(back.velocities_fnc, ds.velocities_fnc, rtol=0,
                               atol=0.51e-10 * units.BOHR_PER_AU_TIME_A_PER_FS)
    np.testing.assert_allclose(back.forces_fnc, ds.forces_fnc, rtol=0, atol=0.51e-10 * units.HARTREE_PER_BOHR_EV_PER_A)
    np.testing.assert_allclose(back.potential_energy_f, ds.potential_energy_f, rtol=0, atol=0.51e-9 * units.HARTREE_EV)
    np.testing.assert_allclose(back.kinetic_energy_f, ds.kinetic_energy_f, rtol=0, atol=0.51e-9 * units.HARTREE_EV)
    np.testing.assert_allclose(back.temperature_f, ds.temperature_f, atol=0.51e-9)
    np.testing.assert_allclose(back.times_f, ds.times_f, atol=0.51e-3)
    np.testing.assert_array_equal(back.cells_f33, ds.cells_f33)


def test_write_read_round_trip_of_simulated_values(tmp_path):
    """A learned-MD style trajectory (no .ener kinetic given): kinetic and temperature derived on writing."""
    rng = np.random.default_rng(3)
    F, n = 5, 6
    symbols = ["O", "H", "H", "O", "H", "H"]
    pos = rng.uniform(0, 8, size=(F, n, 3))
    vel = rng.normal(scale=0.02, size=(F, n, 3))
    frc = rng.normal(scale=3.0, size=(F, n, 3))
    epot = rng.normal(size=F) - 400.0
    steps = np.arange(F) * 10
    masses = np.array([ATOMIC_MASSES[s] for s in symbols])
    ds = Dataset(["O", "H"], [0, 1, 1, 0, 1, 1], masses, pos, np.eye(3) * 8.0, vel, frc, steps, steps * 0.5, epot)
    write_cp2k_run(tmp_path, ds, project="md")
    back = read_cp2k(tmp_path)
    np.testing.assert_allclose(back.positions_fnc, pos, atol=0.51e-10)
    np.testing.assert_allclose(back.velocities_fnc, vel, atol=0.51e-10 * units.BOHR_PER_AU_TIME_A_PER_FS)
    ke = 0.5 * units.KINETIC_EV_PER_AMU_A2_FS2 * np.einsum("n,fnc,fnc->f", masses, vel, vel)
    np.testing.assert_allclose(back.kinetic_energy_f, ke, atol=0.51e-9 * units.HARTREE_EV)
    np.testing.assert_allclose(back.temperature_f, 2 * ke / ((3 * n - 3) * units.KB_EV_PER_K), atol=1e-8)


def test_write_ener_and_cell_formats(tmp_path):
    write_cp2k_ener(tmp_path / "p-1.ener", [7], [3.5], [1.0 * units.HARTREE_EV], [300.0], [-2.0 * units.HARTREE_EV])
    row = (tmp_path / "p-1.ener").read_text().splitlines()[1]
    assert row == f"{7:10d}{3.5:20.6f}{1.0:20.9f}{300.0:20.9f}{-2.0:20.9f}{-1.0:20.9f}{0.0:20.9f}"
    write_cp2k_cell(tmp_path / "p-1.cell", [7], [3.5], np.diag([2.0, 3.0, 4.0]))
    fields = (tmp_path / "p-1.cell").read_text().splitlines()[1].split()
    assert fields[0] == "7" and float(fields[2]) == 2.0 and float(fields[6]) == 3.0 and float(fields[-1]) == 24.0
    with pytest.raises(ValueError, match="kind must be one of"):
        write_cp2k_xyz(tmp_path / "x.xyz", ["H"], np.zeros((1, 1, 3)), kind="accel")
    with pytest.raises(ValueError, match="NaN or inf"):
        write_cp2k_xyz(tmp_path / "x.xyz", ["H"], np.full((1, 1, 3), np.nan))


def test_crlf_line_endings_and_tabs(tmp_path, real):
    files = make_run(tmp_path, real, frames=3)
    for kind in ("pos", "ener"):
        files[kind].write_bytes(files[kind].read_bytes().replace(b"\n", b"\r\n"))
    text = files["frc"].read_text().splitlines()
    text[atom_line(1, 7) - 1] = "\t".join(text[atom_line(1, 7) - 1].split())  # tabs: the general parser
    files["frc"].write_text("\n".join(text) + "\n")
    ds = read_cp2k(tmp_path)
    ref = real["ds"]
    np.testing.assert_array_equal(ds.positions_fnc, ref.positions_fnc[:3])
    np.testing.assert_array_equal(ds.forces_fnc, ref.forces_fnc[:3])
    np.testing.assert_array_equal(ds.kinetic_energy_f, ref.kinetic_energy_f[:3])


def test_progress_callback_gets_one_message_per_file(tmp_path, real):
    make_run(tmp_path, real, frames=2, inp=True)
    messages = []
    read_cp2k(tmp_path, progress=messages.append)
    assert [m.split(":")[0] for m in messages] == ["read inp", "read pos", "read vel", "read frc", "read ener",
                                                  "read cell"]
    assert read_cp2k(tmp_path, progress=True).n_frames == 2  # a progress bar on stderr


def test_input_periodic_none_is_isolated_and_partial_is_refused(tmp_path, real):
    make_run(tmp_path, real, frames=2)
    write_input(tmp_path / "in.inp", "      ABC 9.8528 9.8528 9.8528\n      PERIODIC NONE")
    ds = read_cp2k(tmp_path)
    assert ds.cells_f33 is None and "PERIODIC NONE" in ds.provenance["cell_source"]
    write_input(tmp_path / "in.inp", "      ABC 9.8528 9.8528 9.8528\n      PERIODIC XY")
    with raises_at(tmp_path / "in.inp", 17, "partly periodic"):
        read_cp2k(tmp_path)


def test_input_non_default_print_unit_is_refused(tmp_path, real):
    make_run(tmp_path, real, frames=2)
    text = (BUNDLED / "in.inp").read_text().replace("    &VELOCITIES\n", "    &VELOCITIES\n      UNIT angstrom*fs^-1\n")
    (tmp_path / "in.inp").write_text(text)
    line = text.splitlines().index("      UNIT angstrom*fs^-1") + 1
    with raises_at(tmp_path / "in.inp", line, "UNIT angstrom\\*fs\\^-1 is not supported"):
        read_cp2k(tmp_path)


def test_ener_columns_stay_separated_for_huge_values(tmp_path):
    """Agent-loss 'potential energies' can be enormous; the written .ener must still parse."""
    path = tmp_path / "big-1.ener"
    write_cp2k_ener(path, [0, 1], [0.0, 0.5], [1.0, 2.0], [300.0, 301.0], [3e12, -4e13], [5e12, 6e13])
    rows = [line.split() for line in path.read_text().splitlines()[1:]]
    assert all(len(r) == 7 for r in rows)
    assert float(rows[1][4]) * 27.211386245988 == pytest.approx(-4e13, rel=1e-12)
