"""mldyn.dataset.Dataset: validation, properties, subset/split, and the .npz container."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from mldyn import units
from mldyn.dataset import Dataset, DatasetSplit
from mldyn.elements import ATOMIC_MASSES


def make(F=10, n=4, periodic=True, seed=0, **over):
    """A small consistent dataset: O H H H, steps 100.., times 0.5 fs apart."""
    rng = np.random.default_rng(seed)
    kw = dict(
        species_names=["O", "H"], species_n=[0, 1, 1, 1],
        masses_n=[ATOMIC_MASSES["O"]] + [ATOMIC_MASSES["H"]] * 3,
        positions_fnc=rng.uniform(0, 5, size=(F, n, 3)),
        cells_f33=np.broadcast_to(np.diag([5.0, 6.0, 7.0]), (F, 3, 3)) if periodic else None,
        velocities_fnc=rng.normal(scale=0.01, size=(F, n, 3)), forces_fnc=rng.normal(size=(F, n, 3)),
        steps_f=np.arange(100, 100 + F), times_f=0.5 * np.arange(100, 100 + F),
        potential_energy_f=rng.normal(size=F), kinetic_energy_f=rng.uniform(1, 2, size=F),
        temperature_f=rng.uniform(250, 350, size=F), provenance={"reader": "test", "notes": ["made by hand"]},
    )
    kw.update(over)
    return Dataset(**kw)


FIELDS = ("species_n", "masses_n", "positions_fnc", "cells_f33", "velocities_fnc", "forces_fnc", "steps_f", "times_f",
          "potential_energy_f", "kinetic_energy_f", "temperature_f")


def assert_same(a: Dataset, b: Dataset):
    assert a.species_names == b.species_names
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)
            assert x.dtype == y.dtype, name


# ------------------------------------------------------------------------------- basics
def test_properties_and_dtypes():
    ds = make()
    assert ds.n_frames == 10 and ds.n_atoms == 4 and len(ds) == 10
    assert ds.symbols == ["O", "H", "H", "H"]
    assert ds.species_n.dtype == np.int32 and ds.steps_f.dtype == np.int64 and ds.positions_fnc.dtype == np.float64
    np.testing.assert_allclose(ds.accelerations_fnc,
                               ds.forces_fnc / ds.masses_n[None, :, None] * units.ACCEL_PER_FORCE_OVER_MASS)
    assert "10 frames x 4 atoms" in repr(ds)


def test_accelerations_need_forces():
    with pytest.raises(ValueError, match="no forces"):
        make(forces_fnc=None).accelerations_fnc


def test_single_cell_is_broadcast_and_times_default_to_steps():
    ds = make(cells_f33=np.eye(3) * 4.0, times_f=None)
    assert ds.cells_f33.shape == (10, 3, 3)
    np.testing.assert_array_equal(ds.times_f, np.arange(100, 110))
    assert any("times_f are the step indices" in note for note in ds.provenance["notes"])


@pytest.mark.parametrize("override,message", [
    ({"positions_fnc": np.zeros((10, 4, 2))}, r"positions_fnc must have shape \(\?, \?, 3\)"),
    ({"species_n": [0, 1, 1]}, r"species_n must have shape \(4,\)"),
    ({"species_n": [0, 1, 2, 1]}, r"species id 2 of atom 2 is not in \[0, 2\)"),
    ({"species_n": [0.0, 1.0, 1.0, 1.0]}, "species_n must be integer"),
    ({"species_names": ["O", "O"]}, "species_names must be unique"),
    ({"masses_n": [16.0, 1.0, 0.0, 1.0]}, "masses_n must be > 0 amu, atom 2"),
    ({"forces_fnc": np.zeros((9, 4, 3))}, r"forces_fnc must have shape \(10, 4, 3\)"),
    ({"velocities_fnc": np.full((10, 4, 3), np.nan)}, r"velocities_fnc has a non-finite value nan at index \(0, 0, 0\)"),
    ({"cells_f33": np.zeros((10, 3, 3))}, "cell of frame 0 is singular"),
    ({"cells_f33": np.zeros((10, 3))}, r"cells_f33 must have shape \(10, 3, 3\)"),
    ({"steps_f": np.arange(9)}, r"steps_f must have shape \(10,\)"),
    ({"steps_f": np.arange(10) + 0.5}, "steps_f must be integers"),
    ({"times_f": ["a"] * 10}, "times_f must be numeric"),
    ({"potential_energy_f": np.r_[np.zeros(9), np.inf]}, r"potential_energy_f has a non-finite value inf at index \(9,\)"),
    ({"positions_fnc": np.zeros((0, 4, 3)), "velocities_fnc": None, "forces_fnc": None, "cells_f33": None,
      "steps_f": None, "times_f": None, "potential_energy_f": None, "kinetic_energy_f": None, "temperature_f": None},
     "needs at least one frame"),
    ({"provenance": {"x": object()}}, "provenance must be JSON-serialisable"),
])
def test_constructor_validation(override, message):
    with pytest.raises(ValueError, match="Dataset: " + message):
        make(**override)


# ------------------------------------------------------------------------------- subset and split
def test_subset_forms_and_copies():
    ds = make()
    a = ds.subset([2, 5, 7])
    np.testing.assert_array_equal(a.steps_f, [102, 105, 107])
    np.testing.assert_array_equal(a.forces_fnc, ds.forces_fnc[[2, 5, 7]])
    b = ds.subset(slice(1, 4))
    np.testing.assert_array_equal(b.steps_f, [101, 102, 103])
    mask = np.zeros(10, dtype=bool)
    mask[[0, 9]] = True
    np.testing.assert_array_equal(ds.subset(mask).steps_f, [100, 109])
    np.testing.assert_array_equal(ds.subset([-1]).steps_f, [109])
    b.positions_fnc[0, 0, 0] = 1e6  # a copy: the parent is untouched
    assert ds.positions_fnc[1, 0, 0] != 1e6
    assert b.provenance["subsets"] == ["frames 1..3 of 10"] and "subsets" not in ds.provenance


def test_subset_errors():
    ds = make()
    with pytest.raises(ValueError, match="out of range"):
        ds.subset([10])
    with pytest.raises(ValueError, match="no frames selected"):
        ds.subset([])
    with pytest.raises(ValueError, match="boolean mask must have shape"):
        ds.subset(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="must be integers"):
        ds.subset([0.5])


def test_split_sizes_and_contiguity():
    ds = make(F=100)
    parts = ds.split()
    assert isinstance(parts, DatasetSplit)
    assert (parts.train.n_frames, parts.validation.n_frames, parts.test.n_frames) == (60, 10, 10)
    assert parts.dropped_frames == 20
    np.testing.assert_array_equal(parts.train.steps_f, np.arange(120, 180))
    np.testing.assert_array_equal(parts.validation.steps_f, np.arange(180, 190))
    np.testing.assert_array_equal(parts.test.steps_f, np.arange(190, 200))
    assert parts.frame_ranges == {"equilibration": (0, 20), "train": (20, 80), "validation": (80, 90),
                                  "test": (90, 100)}
    np.testing.assert_array_equal(parts.test.positions_fnc, ds.positions_fnc[90:])
    assert any("train block" in s for s in parts.train.provenance["subsets"])


def test_split_positional_and_uneven():
    ds = make(F=37)
    parts = ds.split(0.1, 0.5, 0.2, 0.2)
    sizes = [parts.train.n_frames, parts.validation.n_frames, parts.test.n_frames]
    assert parts.dropped_frames == 4 and sum(sizes) == 33
    # Blocks follow each other without gaps or overlaps.
    assert parts.train.steps_f[0] == ds.steps_f[4]
    assert parts.validation.steps_f[0] == parts.train.steps_f[-1] + 1
    assert parts.test.steps_f[0] == parts.validation.steps_f[-1] + 1
    assert parts.test.steps_f[-1] == ds.steps_f[-1]


def test_split_with_zero_validation_and_leftover_frames():
    parts = make(F=20).split(equilibration=0.0, train=0.5, validation=0.0, test=0.25)
    assert parts.validation is None
    assert parts.train.n_frames == 10 and parts.test.n_frames == 5
    np.testing.assert_array_equal(parts.test.steps_f, np.arange(110, 115))


@pytest.mark.parametrize("fractions,message", [
    ((0.2, 0.7, 0.1, 0.1), "sum to 1.1 > 1"),
    ((-0.1, 0.6, 0.1, 0.1), r"equilibration must be in \[0, 1\]"),
    ((0.2, 1.5, 0.0, 0.0), r"train must be in \[0, 1\]"),
    ((0.2, 0.0, 0.1, 0.1), "train fraction must be > 0"),
    ((0.2, 0.6, "x", 0.1), "validation must be a number"),
])
def test_split_validation(fractions, message):
    with pytest.raises(ValueError, match=message):
        make(F=100).split(*fractions)


def test_split_too_few_frames_for_a_block():
    with pytest.raises(ValueError, match="the test block is empty"):
        make(F=4).split(0.2, 0.6, 0.1, 0.1)


# ------------------------------------------------------------------------------- persistence
@pytest.mark.parametrize("periodic", [True, False])
def test_npz_round_trip(tmp_path, periodic):
    ds = make(periodic=periodic)
    path = tmp_path / "ds.npz"
    ds.save(path)
    back = Dataset.load(path)
    assert_same(ds, back)
    assert back.provenance == ds.provenance


def test_npz_round_trip_without_optional_fields(tmp_path):
    ds = make(velocities_fnc=None, forces_fnc=None, potential_energy_f=None, kinetic_energy_f=None,
              temperature_f=None, periodic=False)
    ds.save(tmp_path / "bare.npz")
    back = Dataset.load(tmp_path / "bare.npz")
    assert_same(ds, back)
    assert back.forces_fnc is None and back.cells_f33 is None


def test_npz_is_plain_numeric_compressed_and_exact_name(tmp_path):
    path = tmp_path / "data.mldyn"  # no .npz suffix: the exact name is used
    make().save(path)
    assert path.exists() and not (tmp_path / "data.mldyn.npz").exists()
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            assert npz[key].dtype != object, key
        assert json.loads(str(npz["species_names_json"])) == ["O", "H"]
        assert json.loads(str(npz["provenance_json"]))["reader"] == "test"
    with zipfile.ZipFile(path) as zf:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in zf.infolist())


def test_load_refuses_non_dataset_files(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="notes.npz: not a readable .npz Dataset file"):
        Dataset.load(text)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz: not an mldyn Dataset file: missing"):
        Dataset.load(other)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="single.npy: not a .npz Dataset file"):
        Dataset.load(single)
    with pytest.raises(FileNotFoundError):
        Dataset.load(tmp_path / "missing.npz")


def rewrite(path, out, **changes):
    """Copy a saved Dataset with some arrays replaced (None removes them)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k, None)
        else:
            arrays[k] = v
    np.savez_compressed(out, **arrays)
    return out


def test_load_refuses_damaged_or_inconsistent_content(tmp_path):
    good = tmp_path / "good.npz"
    make().save(good)
    cases = [
        ({"format": np.array("something else")}, "format tag is 'something else'"),
        ({"format_version": np.array(99)}, "format version 99 is newer"),
        ({"positions_fnc": np.zeros((10, 5, 3))}, r"invalid Dataset: Dataset: species_n must have shape \(5,\)"),
        ({"forces_fnc": np.full((10, 4, 3), np.nan)}, "invalid Dataset: Dataset: forces_fnc has a non-finite"),
        ({"species_names_json": np.array("[not json")}, "damaged JSON metadata"),
        ({"provenance_json": np.array("[1, 2]")}, "provenance_json a dict"),
        ({"extra": np.zeros(2)}, r"unknown arrays \['extra'\]"),
        ({"masses_n": None}, r"missing \['masses_n'\]"),
        ({"species_n": np.array([None, 1, 1, 1], dtype=object)}, "damaged Dataset file"),
    ]
    for i, (change, message) in enumerate(cases):
        bad = rewrite(good, tmp_path / f"bad{i}.npz", **change)
        with pytest.raises(ValueError, match=rf"bad{i}\.npz: .*{message}"):
            Dataset.load(bad)
