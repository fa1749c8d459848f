"""Model files for the readers' verdicts: valid ones and mutated, bad ones.

Each entry of MODEL_FILES is (name, mutate, message). ``mutate`` changes a model-file dict (schema
2, as ``AgentLossModel.to_dict()`` writes it, of a quadratic model with B != 0 and explicit
cutoffs) in place, or returns the file's text instead when the damage is below the JSON level.
``message`` is a fragment every reader's error must contain, or None for a file every reader
must accept. Used by tests/test_fit.py (the Python loader) and tests/test_conformance.py (Python,
the C++ package and LAMMPS `pair_coeff`).
"""
from __future__ import annotations

import json


def _nan_literal(d):
    d["coefficients"]["A"][0][0] = float("nan")
    return json.dumps(d)            # writes the (non-JSON) literal NaN


def schema_1_layout(d):
    """The mldyn 0.1 layout: one radial family under "basis"."""
    d["schema_version"] = 1
    d["basis"] = {k: v for k, v in d.pop("descriptors")[0].items() if k != "family"}


def _r_on_at_r_cut(d):
    d["descriptors"][0].update(r_cut=3.0, r_on=3.0)


def _duplicate_species(d):
    d["species"][1] = d["species"][0]


MODEL_FILES = [
    ("schema_2", lambda d: None, None),
    ("schema_1", schema_1_layout, None),
    ("schema_version_99", lambda d: d.update(schema_version=99), "unsupported schema_version 99"),
    ("schema_version_3", lambda d: d.update(schema_version=3), "unsupported schema_version 3"),
    ("not_a_model_file", lambda d: d.update(format="something"), "not an mldyn model file"),
    ("malformed_json", lambda d: json.dumps(d)[:-40], "not valid JSON"),
    ("nan_literal", _nan_literal, "not valid JSON"),
    ("A_1x1", lambda d: d["coefficients"].update(A=[[1.0]]), "A has shape"),
    ("A_missing_row", lambda d: d["coefficients"]["A"].pop(), "A has shape"),
    ("B_not_symmetric", lambda d: d["coefficients"]["B"][0][0].__setitem__(1, 123.0), "not symmetric"),
    ("bad_weight_parameter", lambda d: d["descriptors"][0].update(functions=[["exp", -1.0]]),
     "invalid descriptor 1"),
    ("unknown_descriptor_family", lambda d: d["descriptors"][0].update(family="no-such-family"),
     "unknown descriptor family 'no-such-family'"),
    ("negative_r_cut", lambda d: d["descriptors"][0].update(r_cut=-1.0), "r_cut must be positive"),
    ("r_on_not_below_r_cut", _r_on_at_r_cut, "need r_on < r_cut"),
    ("missing_species", lambda d: d.pop("species"), "missing key 'species'"),
    ("duplicate_species", _duplicate_species, "appears twice"),
    ("zero_mass", lambda d: d["masses"].__setitem__(0, 0.0), "must be a positive number"),
    ("units_bohr", lambda d: d.update(units={"length": "bohr"}), "units must be"),
    ("loss_cubic", lambda d: d.update(loss="cubic"), "'loss' must be"),
    ("linear_with_B", lambda d: d.update(loss="linear"), "a linear model must have B = 0"),
    ("missing_coefficients", lambda d: d.pop("coefficients"), "missing key 'coefficients'"),
]

BAD_MODEL_FILES = [f for f in MODEL_FILES if f[2] is not None]


def model_file_text(model_dict, mutate) -> str:
    """The text of ``model_dict`` (not modified) after ``mutate``."""
    d = json.loads(json.dumps(model_dict))
    text = mutate(d)
    return text if isinstance(text, str) else json.dumps(d)
