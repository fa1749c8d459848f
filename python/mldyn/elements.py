"""Element data, in one place: standard atomic masses and element symbols of atom labels.

* :data:`ATOMIC_MASSES` — standard atomic masses (amu) as CP2K uses them by default;
* :data:`ELEMENT_SYMBOLS` — symbols of the elements 1 (H) to 20 (Ca), in atomic-number order;
* :func:`element_of` — the element of a CP2K kind label (``"H1"``, ``"O_w"``), or None;
* :func:`element_symbol` — the element of a structure-file atom label (``"OW"``, ``"CL"``);
* :func:`default_masses` — the mass (amu) of every species label.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

__all__ = ["ATOMIC_MASSES", "ELEMENT_SYMBOLS", "element_of", "element_symbol", "default_masses"]

#: Standard atomic masses (amu) of common elements, as CP2K uses them by default.
ATOMIC_MASSES = {
    "H": 1.00794, "He": 4.002602, "Li": 6.941, "C": 12.0107, "N": 14.0067, "O": 15.9994,
    "F": 18.9984032, "Na": 22.98977, "Mg": 24.305, "Si": 28.0855, "P": 30.973761,
    "S": 32.065, "Cl": 35.453, "K": 39.0983, "Ca": 40.078,
}

#: Symbols of the elements with atomic numbers 1 to 20, in that order.
ELEMENT_SYMBOLS = ("H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne",
                   "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar", "K", "Ca")

_KIND_RE = re.compile(r"^([A-Z][a-z]?)(?:[_\-\d].*)?$")


def element_of(label: str) -> str | None:
    """Element symbol of a CP2K kind label (``"O"`` → ``"O"``, ``"H1"``/``"H_w"`` → ``"H"``), or None if unknown.

    Only elements with a standard mass in :data:`ATOMIC_MASSES` are recognised.
    """
    if label in ATOMIC_MASSES:
        return label
    cap = label[:1].upper() + label[1:]
    if cap in ATOMIC_MASSES:
        return cap
    m = _KIND_RE.match(cap)
    if m and m.group(1) in ATOMIC_MASSES:
        return m.group(1)
    return None


def element_symbol(label: str) -> str:
    """Element symbol of an atom label in a structure file: ``'O'``, ``'o'``, ``'O1'``, ``'OW'`` → ``'O'``;
    ``'Cl'``, ``'CL'`` → ``'Cl'``. Elements 1-20 (:data:`ELEMENT_SYMBOLS`) are recognised; any other
    label comes back capitalised (``'Fe'``) so that errors can name it. ValueError without letters.
    """
    letters = re.match(r"[A-Za-z]+", str(label).strip())
    if not letters:
        raise ValueError(f"not an element symbol: {label!r}")
    s = letters.group(0)
    if s.capitalize() in ELEMENT_SYMBOLS:
        return s.capitalize()
    if len(s) >= 2 and s[1].islower() and s[:2] in ELEMENT_SYMBOLS:
        return s[:2]
    if s[0].upper() in ELEMENT_SYMBOLS and (len(s) == 1 or s[1].isupper()):
        return s[0].upper()
    return s.capitalize()


def default_masses(labels: Sequence[str], masses: Mapping[str, float] | None = None, source: str = "") -> dict:
    """Mass (amu) of every label: ``masses[label]``, else ``masses[element]``, else CP2K's default for the element.

    labels : species labels (CP2K kinds allowed, see :func:`element_of`); masses : overrides in amu
    by label or element; source : file named in errors. Returns {label: mass in amu}.
    ValueError for a label with no mass, a non-positive mass, or a ``masses`` key matching no label or element.
    """
    masses = dict(masses or {})
    out = {}
    for lab in labels:
        el = element_of(lab)
        if lab in masses:
            m = masses[lab]
        elif el is not None and el in masses:
            m = masses[el]
        elif el is not None:
            m = ATOMIC_MASSES[el]
        else:
            raise ValueError(f"{source}: no default mass for species {lab!r}; pass masses={{{lab!r}: ...}} (amu)")
        try:
            m = float(m)
        except (TypeError, ValueError):
            raise ValueError(f"masses[{lab!r}] must be a number (amu), got {m!r}") from None
        if not (m > 0 and np.isfinite(m)):
            raise ValueError(f"masses[{lab!r}] must be a positive number (amu), got {m!r}")
        out[lab] = m
    used = set(labels) | {element_of(x) for x in labels}
    unknown = sorted(k for k in masses if k not in used)
    if unknown:
        raise ValueError(f"masses= names {unknown} match no species of the data ({sorted(set(labels))})")
    return out
