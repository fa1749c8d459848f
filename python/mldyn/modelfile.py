"""Model files: versioned JSON, validated on load (no pickle).

Layout (schema version 1)::

    {"format": "mldyn-agent-loss-model", "schema_version": 1, "mldyn_version": "...",
     "units": {"length": "angstrom", "energy": "eV", "force": "eV/angstrom", "mass": "amu", "time": "fs"},
     "species": ["O", "H"], "masses": [15.9994, 1.00794],
     "basis": {"functions": [["exp", 1.0], ...], "r_cut": 4.9264, "r_on": null},
     "loss": "quadratic",
     "coefficients": {"A": S x F, "B": S x F x F},     # F = S * M, index a*M + m
     "training": {...}}                                  # provenance, split, metrics, selection

Floats are written with Python's shortest round-trip repr, so a save/load cycle is exact.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .basis import Basis
from .model import AgentLossModel

__all__ = ["save_model", "load_model", "model_to_dict", "model_from_dict", "SCHEMA_VERSION", "FORMAT"]

FORMAT = "mldyn-agent-loss-model"
SCHEMA_VERSION = 1
UNITS = {"length": "angstrom", "energy": "eV", "force": "eV/angstrom", "mass": "amu", "time": "fs"}


def _clean(obj):
    """JSON-safe copy: numpy scalars/arrays to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def model_to_dict(model: AgentLossModel) -> dict:
    """The model as a JSON-ready dict (schema version 1)."""
    from . import __version__

    meta = dict(getattr(model, "metadata", {}) or {})
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "mldyn_version": __version__,
        "units": UNITS,
        "species": list(model.species),
        "masses": [float(m) for m in model.masses],
        "basis": {"functions": [[k, float(p)] for k, p in model.basis.functions],
                  "r_cut": model.basis.r_cut, "r_on": model.basis.r_on},
        "loss": "quadratic" if model.quadratic else "linear",
        "coefficients": {"A": model.A.tolist(), "B": model.B.tolist()},
        "training": _clean(meta),
    }


def save_model(model: AgentLossModel, path) -> Path:
    """Write ``model`` to ``path`` as JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model_to_dict(model), indent=1, allow_nan=False) + "\n")
    return path


def _require(d: dict, key: str, where: str):
    if key not in d:
        raise ValueError(f"{where}: missing key {key!r}")
    return d[key]


def model_from_dict(d: dict, source: str = "model") -> AgentLossModel:
    """Validate a model dict and build the model; ValueError names what is wrong."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ValueError(f"{source}: not an mldyn model file (expected \"format\": \"{FORMAT}\")")
    version = d.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"{source}: unsupported schema_version {version!r}; this mldyn reads version {SCHEMA_VERSION}")
    units = _require(d, "units", source)
    if units != UNITS:
        raise ValueError(f"{source}: units must be {UNITS}, got {units}")
    species = _require(d, "species", source)
    if not isinstance(species, list) or not all(isinstance(s, str) for s in species) or not species:
        raise ValueError(f"{source}: 'species' must be a non-empty list of names")
    masses = _require(d, "masses", source)
    basis_d = _require(d, "basis", source)
    funcs = _require(basis_d, "functions", f"{source}: basis")
    try:
        basis = Basis(tuple((str(k), float(p)) for k, p in funcs), basis_d.get("r_cut"), basis_d.get("r_on"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: invalid basis: {exc}") from None
    coeffs = _require(d, "coefficients", source)
    S, F = len(species), len(species) * len(basis)
    try:
        A = np.array(_require(coeffs, "A", f"{source}: coefficients"), dtype=float)
        B = np.array(_require(coeffs, "B", f"{source}: coefficients"), dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: coefficients must be numeric arrays") from None
    if A.shape != (S, F):
        raise ValueError(f"{source}: A has shape {A.shape}, expected ({S}, {F}) for {S} species x {len(basis)} functions")
    if B.shape != (S, F, F):
        raise ValueError(f"{source}: B has shape {B.shape}, expected ({S}, {F}, {F})")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
        raise ValueError(f"{source}: coefficients contain NaN or inf")
    loss = d.get("loss")
    if loss not in ("linear", "quadratic"):
        raise ValueError(f"{source}: 'loss' must be 'linear' or 'quadratic', got {loss!r}")
    if loss == "linear" and np.any(B != 0):
        raise ValueError(f"{source}: a linear model must have B = 0")
    try:
        model = AgentLossModel(species, basis, A, B, masses)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    model.metadata = d.get("training", {}) or {}
    return model


def load_model(path) -> AgentLossModel:
    """Read and validate a model file written by :func:`save_model`."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"model file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return model_from_dict(d, str(path))
