"""mldyn.elements (element data, label lookup, masses) and mldyn.cell (cell normalisation, the cutoff rule)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mldyn import Cell, analysis, make_cell
from mldyn.cell import cell_frames, cell_matrix, default_cutoff, max_cutoffs
from mldyn.dataset import Dataset
from mldyn.elements import ATOMIC_MASSES, ELEMENT_SYMBOLS, default_masses, element_of, element_symbol

TRICLINIC = np.array([[9.0, 0.0, 0.0], [2.0, 8.5, 0.0], [1.0, -1.5, 10.0]])


def test_cp2k_kind_labels():
    assert element_of("O") == "O" and element_of("h") == "H" and element_of("Cl") == "Cl"
    assert element_of("H1") == "H" and element_of("O_w") == "O" and element_of("Na-1") == "Na"
    assert element_of("OW") is None and element_of("Xx") is None  # no element
    assert element_of("Ne") == "Ne" and element_of("Co_up") == "Co" and element_of("Og") == "Og"  # all 118 have masses
    assert len(ATOMIC_MASSES) == 118 and ATOMIC_MASSES["O"] == 15.9994 and ATOMIC_MASSES["Co"] == 58.933194


def test_structure_file_labels():
    assert [element_symbol(s) for s in ("O", "o", "O1", "OW", "HW2", "CL", "Cl", " na ")] == \
        ["O", "O", "O", "O", "H", "Cl", "Cl", "Na"]
    assert element_symbol("Fe") == "Fe"  # unknown elements come back capitalised
    with pytest.raises(ValueError, match="not an element symbol"):
        element_symbol("12")
    assert len(ELEMENT_SYMBOLS) == 20 and ELEMENT_SYMBOLS[0] == "H" and ELEMENT_SYMBOLS[-1] == "Ca"


def test_default_masses():
    assert default_masses(["O1", "H"]) == {"O1": ATOMIC_MASSES["O"], "H": ATOMIC_MASSES["H"]}
    assert default_masses(["O", "H"], {"H": 2.014}) == {"O": ATOMIC_MASSES["O"], "H": 2.014}
    with pytest.raises(ValueError, match="f.xyz: no default mass for species 'Xx'"):
        default_masses(["Xx"], source="f.xyz")
    with pytest.raises(ValueError, match=r"masses= names \['D'\] match no species"):
        default_masses(["H"], {"D": 2.0})


@pytest.mark.parametrize("cell, expected", [
    (None, None),
    (5.0, 5.0 * np.eye(3)),
    ([5.0], 5.0 * np.eye(3)),
    ((5, 6, 7), np.diag([5.0, 6.0, 7.0])),
    (TRICLINIC.ravel().tolist(), TRICLINIC),
    (TRICLINIC, TRICLINIC),
    (Cell(TRICLINIC), TRICLINIC),
    (Cell(), None),
])
def test_cell_matrix_forms(cell, expected):
    h = cell_matrix(cell)
    if expected is None:
        assert h is None
        assert not make_cell(cell).periodic
    else:
        np.testing.assert_array_equal(h, expected)
        np.testing.assert_array_equal(np.asarray(make_cell(cell).vectors), expected)


def test_cell_matrix_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"cell= must be None, a length, three lengths or a \(3, 3\) matrix"):
        cell_matrix([1.0, 2.0], "cell=")
    with pytest.raises(ValueError, match="cell must be numbers"):
        cell_matrix("big")


def test_cell_frames():
    assert cell_frames(None, 4) is None
    assert cell_frames(TRICLINIC, 4).shape == (4, 3, 3)
    many = np.stack([TRICLINIC] * 2)
    assert cell_frames(many, 2) is not None and cell_frames(many, 2).shape == (2, 3, 3)


def test_default_cutoff_is_the_cores_max_cutoff():
    assert default_cutoff(TRICLINIC) == make_cell(TRICLINIC).max_cutoff
    assert default_cutoff(10.0) == 5.0 and default_cutoff(None) == math.inf
    cells = np.stack([np.eye(3) * 12.0, TRICLINIC, np.eye(3) * 12.0])
    np.testing.assert_array_equal(max_cutoffs(cells), [6.0, make_cell(TRICLINIC).max_cutoff, 6.0])
    assert default_cutoff(cells) == make_cell(TRICLINIC).max_cutoff
    ds = Dataset(["H"], [0], [1.0], np.zeros((3, 1, 3)), cells)
    assert analysis.half_min_width(ds) == default_cutoff(cells)
