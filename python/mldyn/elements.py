"""Element data, in one place: standard atomic masses and element symbols of atom labels.

* :data:`ATOMIC_MASSES` — standard atomic masses (amu) of all 118 elements;
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

#: Standard atomic masses (amu) of every element, H (1) to Og (118), in atomic-number order: CP2K's default
#: values for the light elements it has always used here (H 1.00794, C 12.0107, O 15.9994, ...), IUPAC 2016
#: standard atomic weights for the others (for elements without stable isotopes, the mass number of a
#: long-lived isotope, as IUPAC lists it). Fitting forces needs no masses; MD does (``mldyn run --masses``).
ATOMIC_MASSES = {
    "H": 1.00794, "He": 4.002602, "Li": 6.941, "Be": 9.0121831, "B": 10.81, "C": 12.0107, "N": 14.0067, "O": 15.9994,
    "F": 18.9984032, "Ne": 20.1797, "Na": 22.98977, "Mg": 24.305, "Al": 26.9815385, "Si": 28.0855, "P": 30.973761,
    "S": 32.065, "Cl": 35.453, "Ar": 39.948, "K": 39.0983, "Ca": 40.078, "Sc": 44.955908, "Ti": 47.867, "V": 50.9415,
    "Cr": 51.9961, "Mn": 54.938044, "Fe": 55.845, "Co": 58.933194, "Ni": 58.6934, "Cu": 63.546, "Zn": 65.38,
    "Ga": 69.723, "Ge": 72.63, "As": 74.921595, "Se": 78.971, "Br": 79.904, "Kr": 83.798, "Rb": 85.4678, "Sr": 87.62,
    "Y": 88.90584, "Zr": 91.224, "Nb": 92.90637, "Mo": 95.95, "Tc": 97.90721, "Ru": 101.07, "Rh": 102.9055,
    "Pd": 106.42, "Ag": 107.8682, "Cd": 112.414, "In": 114.818, "Sn": 118.71, "Sb": 121.76, "Te": 127.6,
    "I": 126.90447, "Xe": 131.293, "Cs": 132.90545196, "Ba": 137.327, "La": 138.90547, "Ce": 140.116,
    "Pr": 140.90766, "Nd": 144.242, "Pm": 144.91276, "Sm": 150.36, "Eu": 151.964, "Gd": 157.25, "Tb": 158.92535,
    "Dy": 162.5, "Ho": 164.93033, "Er": 167.259, "Tm": 168.93422, "Yb": 173.054, "Lu": 174.9668, "Hf": 178.49,
    "Ta": 180.94788, "W": 183.84, "Re": 186.207, "Os": 190.23, "Ir": 192.217, "Pt": 195.084, "Au": 196.966569,
    "Hg": 200.592, "Tl": 204.38, "Pb": 207.2, "Bi": 208.9804, "Po": 208.98243, "At": 209.98715, "Rn": 222.01758,
    "Fr": 223.01974, "Ra": 226.02541, "Ac": 227.02775, "Th": 232.0377, "Pa": 231.03588, "U": 238.02891,
    "Np": 237.04817, "Pu": 244.06421, "Am": 243.06138, "Cm": 247.07035, "Bk": 247.07031, "Cf": 251.07959,
    "Es": 252.083, "Fm": 257.09511, "Md": 258.09843, "No": 259.101, "Lr": 262.11, "Rf": 267.122, "Db": 268.126,
    "Sg": 271.134, "Bh": 270.133, "Hs": 269.1338, "Mt": 278.156, "Ds": 281.165, "Rg": 281.166, "Cn": 285.177,
    "Nh": 286.182, "Fl": 289.19, "Mc": 289.194, "Lv": 293.204, "Ts": 293.208, "Og": 294.214,
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
