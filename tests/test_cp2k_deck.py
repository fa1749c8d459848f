"""Unit tests of the CP2K deck writer, the water-box builder and ``mldyn cp2k-input``
(no CP2K run; see test_cp2k_real.py for that)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mldyn import cli
from mldyn.io.cp2k_deck import METHODS, kinds_for, parse_cell, write_cp2k_input
from mldyn.io.xyz import read_structure
from mldyn.structures import WATER_HOH_DEG, WATER_OH_A, min_image_distances, water_box
from mldyn.elements import ATOMIC_MASSES
from mldyn.units import AMU_KG

CP2K_DATA = Path("/usr/share/cp2k")

WATER = (["O", "H", "H"], [[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.24, 0.9266, 0.0]])


def section(text: str, path: str) -> str:
    """Body of the first section ``&A`` ... ``&END A`` nested as ``A/B/C`` in a deck."""
    body = text
    for name in path.split("/"):
        m = re.search(rf"^\s*&{name}\b[^\n]*\n(.*?)^\s*&END {name}\b", body, flags=re.S | re.M)
        assert m, f"section {path} ({name}) not in deck"
        body = m.group(1)
    return body


def keyword(body: str, key: str) -> str:
    m = re.search(rf"^\s*{key}\s+(.+?)\s*$", body, flags=re.M)
    assert m, f"keyword {key} not found"
    return m.group(1)


def test_deck_prints_every_step_and_restarts_every_50(tmp_path):
    deck = write_cp2k_input(WATER, tmp_path, project="w", cell=10.0).read_text()
    for key in ("TRAJECTORY", "VELOCITIES", "FORCES", "CELL"):
        each = section(deck, f"MOTION/PRINT/{key}/EACH")
        assert keyword(each, "MD") == "1", key
    assert keyword(section(deck, "MOTION/PRINT/RESTART/EACH"), "MD") == "50"
    glob = section(deck, "GLOBAL")
    assert keyword(glob, "RUN_TYPE") == "MD"
    assert keyword(glob, "PROJECT") == "w"


def test_deck_md_parameters_and_files(tmp_path):
    path = write_cp2k_input(WATER, tmp_path / "new" / "dir", project="run1", steps=123, temperature=350.5,
                            timestep=0.25, ensemble="nve", cutoff=300, rel_cutoff=40, cell=10.0, seed=77)
    assert path == tmp_path / "new" / "dir" / "run1.inp"
    deck = path.read_text()
    md = section(deck, "MOTION/MD")
    assert keyword(md, "STEPS") == "123"
    assert float(keyword(md, "TEMPERATURE")) == 350.5
    assert float(keyword(md, "TIMESTEP")) == 0.25
    assert keyword(md, "ENSEMBLE") == "NVE"
    assert "THERMOSTAT" not in md
    mgrid = section(deck, "FORCE_EVAL/DFT/MGRID")
    assert float(keyword(mgrid, "CUTOFF")) == 300.0
    assert float(keyword(mgrid, "REL_CUTOFF")) == 40.0
    assert keyword(section(deck, "GLOBAL"), "SEED") == "77"
    topo = section(deck, "FORCE_EVAL/SUBSYS/TOPOLOGY")
    assert keyword(topo, "COORD_FILE_NAME") == "run1-init.xyz"
    symbols, pos, lattice = read_structure(path.parent / "run1-init.xyz")
    assert symbols == ["O", "H", "H"] and lattice is None
    np.testing.assert_allclose(pos, WATER[1], atol=1e-9)


def test_nvt_has_csvr_thermostat(tmp_path):
    deck = write_cp2k_input(WATER, tmp_path, ensemble="NVT", temperature=330, thermostat_timecon=50, cell=10).read_text()
    md = section(deck, "MOTION/MD")
    assert keyword(md, "ENSEMBLE") == "NVT"
    assert keyword(section(md, "THERMOSTAT"), "TYPE") == "CSVR"
    assert float(keyword(section(md, "THERMOSTAT/CSVR"), "TIMECON")) == 50.0


@pytest.mark.parametrize("method", list(METHODS))
def test_kinds_for_every_element(tmp_path, method):
    symbols = ["O", "H", "H", "C", "N", "H"]
    pos = np.arange(18, dtype=float).reshape(6, 3)
    deck = write_cp2k_input((symbols, pos), tmp_path, method=method, cell=[12, 13, 14]).read_text()
    kinds = dict(re.findall(r"^\s*&KIND (\w+)\n(.*?)&END KIND", deck, flags=re.S | re.M))
    assert sorted(kinds) == ["C", "H", "N", "O"]
    for el, basis, pot in kinds_for(symbols, method):
        assert keyword(kinds[el], "BASIS_SET") == basis
        assert keyword(kinds[el], "POTENTIAL") == pot
    assert keyword(section(deck, "FORCE_EVAL/DFT/XC"), "&XC_FUNCTIONAL") == METHODS[method]["xc"]
    assert ("DFTD3" in deck) == bool(METHODS[method]["d3"])


@pytest.mark.skipif(not (CP2K_DATA / "POTENTIAL").is_file(), reason="Debian's CP2K data files (/usr/share/cp2k) not installed")
@pytest.mark.parametrize("method", list(METHODS))
def test_basis_and_potential_names_exist_in_cp2k_data(method):
    """Every (element, basis, potential) the writer can emit is defined in Debian's data files."""
    spec = METHODS[method]
    basis_text = (CP2K_DATA / spec["basis_file"]).read_text(errors="replace")
    pot_text = (CP2K_DATA / spec["potential_file"]).read_text(errors="replace")
    for el in spec["elements"]:
        [(_, basis, pot)] = kinds_for([el], method)
        # An entry header is "<element> <name> [<alias> ...]" at the start of a line.
        assert re.search(rf"^[ \t]*{el}[ \t]+([^\s]+[ \t]+)*{re.escape(basis)}([ \t]|$)", basis_text, flags=re.M), (el, basis)
        assert re.search(rf"^[ \t]*{el}[ \t]+([^\s]+[ \t]+)*{re.escape(pot)}([ \t]|$)", pot_text, flags=re.M), (el, pot)


def test_cells(tmp_path):
    deck = write_cp2k_input(WATER, tmp_path / "a", cell=9.8528).read_text()
    assert [float(x) for x in keyword(section(deck, "FORCE_EVAL/SUBSYS/CELL"), r"ABC \[angstrom\]").split()] \
        == pytest.approx([9.8528] * 3)
    deck = write_cp2k_input(WATER, tmp_path / "b", cell=(10, 11, 12)).read_text()
    assert [float(x) for x in keyword(section(deck, "FORCE_EVAL/SUBSYS/CELL"), r"ABC \[angstrom\]").split()] \
        == pytest.approx([10, 11, 12])
    tri = [[10, 0, 0], [2, 11, 0], [1, 1, 12]]
    cell_body = section(write_cp2k_input(WATER, tmp_path / "c", cell=tri).read_text(), "FORCE_EVAL/SUBSYS/CELL")
    assert "ABC" not in cell_body
    for name, row in zip("ABC", tri):
        assert [float(x) for x in keyword(cell_body, rf"{name} \[angstrom\]").split()] == pytest.approx(row)
    np.testing.assert_allclose(parse_cell([3, 0, 0, 0, 4, 0, 0, 0, 5]), np.diag([3.0, 4.0, 5.0]))
    np.testing.assert_allclose(parse_cell(6), 6 * np.eye(3))


def test_extxyz_lattice_is_the_cell_unless_overridden(tmp_path):
    f = tmp_path / "in.xyz"
    f.write_text('3\nLattice="7.0 0.0 0.0 0.0 8.0 0.0 0.0 0.0 9.0" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
                 "O 0 0 0\nH 0.9572 0 0\nH -0.24 0.9266 0\n")
    deck = write_cp2k_input(f, tmp_path / "a").read_text()
    assert [float(x) for x in keyword(deck, r"ABC \[angstrom\]").split()] == pytest.approx([7, 8, 9])
    deck = write_cp2k_input(f, tmp_path / "b", cell=20).read_text()
    assert [float(x) for x in keyword(deck, r"ABC \[angstrom\]").split()] == pytest.approx([20, 20, 20])


def test_multi_frame_xyz_frame_choice(tmp_path):
    f = tmp_path / "traj.xyz"
    f.write_text("1\nframe 0\nO 0 0 0\n1\nframe 1\nO 1 2 3\n")
    _, pos0, _ = read_structure(f)
    _, pos_last, _ = read_structure(f, frame=-1)
    assert pos0.tolist() == [[0, 0, 0]] and pos_last.tolist() == [[1, 2, 3]]
    with pytest.raises(ValueError, match="frame 5"):
        read_structure(f, frame=5)


def test_missing_cell_is_a_clear_error(tmp_path):
    f = tmp_path / "plain.xyz"
    f.write_text("3\nplain water\nO 0 0 0\nH 0.9572 0 0\nH -0.24 0.9266 0\n")
    with pytest.raises(ValueError, match="no cell"):
        write_cp2k_input(f, tmp_path / "out")
    with pytest.raises(ValueError, match="cell"):
        write_cp2k_input(WATER, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="hf-qzvp"), "unknown method"),
    (dict(steps=-1), "steps must be >= 0"),
    (dict(steps=2.5), "steps must be an integer"),
    (dict(timestep=0), "timestep"),
    (dict(temperature=-5), "temperature"),
    (dict(ensemble="NPT"), "ensemble"),
    (dict(ensemble="NVT", temperature=0), "temperature"),
    (dict(cutoff=-280), "cutoff"),
    (dict(rel_cutoff=float("nan")), "rel_cutoff"),
    (dict(cell=[1, 2]), "cell"),
    (dict(cell=[[1, 0, 0], [0, 1, 0], [0, 0, -1]]), "positive volume"),
    (dict(cell=0), "positive"),
    (dict(project="my run"), "project"),
    (dict(project="../x"), "project"),
    (dict(seed=0), "seed"),
])
def test_bad_arguments_raise_value_error(tmp_path, kwargs, match):
    args = dict(cell=10.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        write_cp2k_input(WATER, tmp_path, **args)


def test_bad_structures(tmp_path):
    with pytest.raises(ValueError, match="'Fe' is not supported"):
        write_cp2k_input((["Fe"], [[0, 0, 0]]), tmp_path, cell=10)
    with pytest.raises(ValueError, match="K"):
        write_cp2k_input((["K"], [[0, 0, 0]]), tmp_path, cell=10, method="pade-dzvp")
    write_cp2k_input((["K"], [[0, 0, 0]]), tmp_path / "k", cell=10, method="pbe-dzvp")  # MOLOPT covers K
    with pytest.raises(ValueError, match="2 symbols but 3 positions"):
        write_cp2k_input((["O", "H"], np.zeros((3, 3))), tmp_path, cell=10)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        write_cp2k_input((["O"], np.zeros((1, 2))), tmp_path, cell=10)
    with pytest.raises(FileNotFoundError):
        write_cp2k_input(tmp_path / "nope.xyz", tmp_path, cell=10)
    with pytest.raises(ValueError, match="structure must be"):
        write_cp2k_input(42, tmp_path, cell=10)


def test_atom_labels_become_elements(tmp_path):
    deck = write_cp2k_input((["OW", "HW1", "HW2", "CL"], np.eye(4, 3) * 2), tmp_path, cell=10).read_text()
    assert re.findall(r"&KIND (\w+)", deck) == ["O", "H", "Cl"]
    assert read_structure(tmp_path / "mldyn-init.xyz")[0] == ["O", "H", "H", "Cl"]


def test_existing_deck_needs_overwrite(tmp_path):
    write_cp2k_input(WATER, tmp_path, cell=10, steps=5)
    with pytest.raises(ValueError, match="exists already"):
        write_cp2k_input(WATER, tmp_path, cell=10, steps=6)
    assert keyword((tmp_path / "mldyn.inp").read_text(), "STEPS") == "5"
    write_cp2k_input(WATER, tmp_path, cell=10, steps=6, overwrite=True)
    assert keyword((tmp_path / "mldyn.inp").read_text(), "STEPS") == "6"


# ----------------------------------------------------------------------------- water_box


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 17, 32, 64])
def test_water_box_counts_density_geometry(n):
    symbols, pos, lengths = water_box(n)
    assert symbols == ["O", "H", "H"] * n
    assert pos.shape == (3 * n, 3) and np.all(np.isfinite(pos))
    a, b, c = lengths
    assert a == b == c > 0
    mass_g = n * (ATOMIC_MASSES["O"] + 2 * ATOMIC_MASSES["H"]) * AMU_KG * 1e3
    assert mass_g / (a * b * c * 1e-24) == pytest.approx(1.0, rel=1e-12)
    o, h1, h2 = pos[0::3], pos[1::3], pos[2::3]
    np.testing.assert_allclose(np.linalg.norm(h1 - o, axis=1), WATER_OH_A, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(h2 - o, axis=1), WATER_OH_A, atol=1e-12)
    cos = np.einsum("ij,ij->i", h1 - o, h2 - o) / WATER_OH_A**2
    np.testing.assert_allclose(np.degrees(np.arccos(cos)), WATER_HOH_DEG, atol=1e-9)
    assert np.all((o >= 0) & (o < a))  # oxygens inside the box
    if n > 1:
        d_oo = min_image_distances(o, o, lengths)
        np.fill_diagonal(d_oo, np.inf)
        assert d_oo.min() > 2.5
        mol = np.repeat(np.arange(n), 3)
        d = min_image_distances(pos, pos, lengths)
        d[mol[:, None] == mol[None, :]] = np.inf
        assert d.min() >= 1.5  # no overlapping atoms between molecules


def test_water_box_density_and_seed():
    _, pos_a, (la, _, _) = water_box(10, density=0.5, seed=3)
    _, pos_b, _ = water_box(10, density=0.5, seed=3)
    _, pos_c, _ = water_box(10, density=0.5, seed=4)
    _, _, (l1, _, _) = water_box(10)
    np.testing.assert_array_equal(pos_a, pos_b)
    assert not np.allclose(pos_a, pos_c)
    assert la == pytest.approx(l1 * 2 ** (1 / 3), rel=1e-12)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_molecules"):
            water_box(bad)
    with pytest.raises(ValueError, match="density"):
        water_box(4, density=0)


# ----------------------------------------------------------------------------- CLI


def test_cli_water_box_deck(tmp_path, capsys):
    out = tmp_path / "deck"
    rc = cli.main(["cp2k-input", "--water", "4", "-o", str(out), "--project", "w4", "--method", "pade-szv",
                   "--steps", "7", "--temperature", "310", "--timestep", "0.4", "--ensemble", "nvt", "--cutoff", "200"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert re.search(r"cd \S*deck && cp2k\S* -i w4\.inp -o w4\.out", printed), printed
    deck = (out / "w4.inp").read_text()
    md = section(deck, "MOTION/MD")
    assert keyword(md, "STEPS") == "7" and float(keyword(md, "TEMPERATURE")) == 310.0
    assert float(keyword(md, "TIMESTEP")) == 0.4 and keyword(md, "ENSEMBLE") == "NVT"
    assert float(keyword(deck, "CUTOFF")) == 200.0
    symbols, pos, _ = read_structure(out / "w4-init.xyz")
    assert symbols.count("O") == 4 and symbols.count("H") == 8
    (length,) = {float(x) for x in keyword(deck, r"ABC \[angstrom\]").split()}
    assert length == pytest.approx(water_box(4, seed=2000)[2][0], rel=1e-9)


def test_cli_structure_file_and_cell(tmp_path, capsys):
    f = tmp_path / "w.xyz"
    f.write_text("3\nwater\nO 0 0 0\nH 0.9572 0 0\nH -0.24 0.9266 0\n")
    assert cli.main(["cp2k-input", str(f), "-o", str(tmp_path / "o"), "--cell", "8", "9", "10"]) == 0
    deck = (tmp_path / "o" / "mldyn.inp").read_text()
    assert [float(x) for x in keyword(deck, r"ABC \[angstrom\]").split()] == [8.0, 9.0, 10.0]
    assert "DZVP-GTH-q6" in deck  # default method pade-dzvp


@pytest.mark.parametrize("argv, message", [
    ([], "no structure"),
    (["--water", "2", "X.xyz"], "not both"),
    (["--water", "2", "--cell", "5"], "drop --cell"),
    (["X.xyz", "--cell", "5", "6"], "1, 3 or 9"),
    (["MISSING.xyz", "--cell", "5"], "not found"),
    (["--water", "0"], "n_molecules"),
    (["--water", "2", "--steps", "-3"], "steps"),
])
def test_cli_errors(tmp_path, capsys, argv, message):
    rc = cli.main(["cp2k-input", "-o", str(tmp_path / "o"), *argv])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "mldyn.inp").exists()


def test_cli_rejects_unknown_method(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["cp2k-input", "--water", "2", "-o", str(tmp_path), "--method", "nope"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
