"""Strict JSON out: what every JSON parser reads. NaN and infinities become ``null`` (undefined),
numpy scalars and arrays plain numbers and lists; ``allow_nan=False`` makes a miss an error here,
not in the reader's parser."""
from __future__ import annotations

import json
import math

import numpy as np

__all__ = ["json_safe", "dumps"]


def json_safe(obj):
    """A copy of ``obj`` with numpy values as Python ones and every non-finite float as None."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def dumps(obj, **kwargs) -> str:
    """``json.dumps`` of :func:`json_safe` (obj), strict: no NaN, Infinity or -Infinity tokens."""
    return json.dumps(json_safe(obj), allow_nan=False, **kwargs)
