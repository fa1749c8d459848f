"""Small starting structures for ab initio runs (units: Å, amu, g/cm³).

:func:`water_box` builds a periodic box of rigid water molecules at a given mass
density, so that a user without a structure of their own can make CP2K training data
(``mldyn cp2k-input --water N``). It is a starting point, not an equilibrated liquid:
the ab initio MD relaxes it within a few tens of fs.
"""
from __future__ import annotations

import math

import numpy as np

from .elements import ATOMIC_MASSES
from .units import AMU_KG

__all__ = ["water_box", "WATER_OH_A", "WATER_HOH_DEG", "min_image_distances"]

#: O-H bond length of the water molecules built here (Å; gas-phase experimental, as TIP3P/TIP4P).
WATER_OH_A: float = 0.9572
#: H-O-H angle of the water molecules built here (degrees).
WATER_HOH_DEG: float = 104.52

#: Smallest distance (Å) wanted between atoms of different molecules; orientations are
#: redrawn until it holds (the best of the tries is kept if none does).
_MIN_INTERMOLECULAR_A = 1.7
_ORIENTATION_TRIES = 300


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation matrix drawn uniformly from SO(3) (normalised Gaussian quaternion)."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _lattice_sites(n: int, length: float) -> np.ndarray:
    """At least ``n`` sites (fractional coordinates, shape (m, 3)) of the cubic lattice
    (simple, body-centred or face-centred cubic) whose nearest-neighbour distance in a
    cube of side ``length`` is largest."""
    bases = {
        "sc": (np.zeros((1, 3)), 1.0),
        "bcc": (np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), math.sqrt(3.0) / 2.0),
        "fcc": (np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]), 1.0 / math.sqrt(2.0)),
    }
    best = None
    for basis, nn_factor in bases.values():
        m = 1
        while m ** 3 * len(basis) < n:
            m += 1
        nn = length / m * nn_factor
        if best is None or nn > best[0] + 1e-12:
            best = (nn, basis, m)
    _, basis, m = best
    cells = np.array([(i, j, k) for i in range(m) for j in range(m) for k in range(m)], dtype=float)
    # A quarter-spacing offset keeps the atoms away from the box faces (cosmetic).
    return (cells[:, None, :] + basis[None, :, :] + 0.25).reshape(-1, 3) / m


def min_image_distances(a_ic: np.ndarray, b_jc: np.ndarray, lengths_c) -> np.ndarray:
    """Minimum-image distances (Å), shape (i, j), between points ``a_ic`` (i, 3) and
    ``b_jc`` (j, 3) in an orthorhombic periodic box of side lengths ``lengths_c`` (3,), Å."""
    lengths_c = np.asarray(lengths_c, dtype=float)
    d = np.asarray(a_ic, float)[:, None, :] - np.asarray(b_jc, float)[None, :, :]
    d -= lengths_c * np.round(d / lengths_c)
    return np.sqrt((d * d).sum(axis=-1))


def water_box(n_molecules: int, density: float = 1.0, seed: int = 0):
    """Build a cubic periodic box of ``n_molecules`` rigid water molecules.

    The molecules (O-H ``WATER_OH_A`` = 0.9572 Å, H-O-H ``WATER_HOH_DEG`` = 104.52°)
    have their oxygens on the sites of whichever cubic lattice (simple, bcc or fcc)
    keeps the oxygens farthest apart (a random subset of the sites when there are more
    sites than molecules) and random orientations, redrawn until no two atoms of
    different molecules are closer than 1.7 Å (minimum image). Molecules are kept
    whole, so hydrogens may lie slightly outside the box.

    Parameters
    ----------
    n_molecules : int
        Number of molecules, >= 1.
    density : float
        Mass density in g/cm³ (1.0: liquid water at ambient conditions). Masses are
        :data:`mldyn.elements.ATOMIC_MASSES` (18.01528 amu per molecule).
    seed : int
        Seed of the random site choice and orientations (same seed, same box).

    Returns
    -------
    symbols : list[str]
        Length 3 * n_molecules, per molecule ``"O", "H", "H"``.
    positions_nc : numpy.ndarray
        Shape (3 * n_molecules, 3), Cartesian positions in Å.
    cell_lengths : tuple[float, float, float]
        Side lengths (Å) of the cubic box (a = b = c).
    """
    if isinstance(n_molecules, bool) or not isinstance(n_molecules, (int, np.integer)):
        raise ValueError(f"n_molecules must be an integer, got {n_molecules!r}")
    if n_molecules < 1:
        raise ValueError(f"n_molecules must be >= 1, got {n_molecules}")
    density = float(density)
    if not math.isfinite(density) or density <= 0:
        raise ValueError(f"density must be a positive number of g/cm³, got {density}")

    molar_mass = ATOMIC_MASSES["O"] + 2 * ATOMIC_MASSES["H"]  # amu
    mass_g = n_molecules * molar_mass * AMU_KG * 1e3
    volume_a3 = mass_g / density * 1e24  # cm³ -> Å³
    length = volume_a3 ** (1.0 / 3.0)
    lengths = np.array([length, length, length])

    rng = np.random.default_rng(seed)
    sites = _lattice_sites(n_molecules, length)
    chosen = np.sort(rng.choice(len(sites), size=n_molecules, replace=False))
    oxygens = sites[chosen] * length

    half = math.radians(WATER_HOH_DEG) / 2.0
    # Molecule frame: O at the origin, H in the xz plane, bisector along +z.
    local_h = WATER_OH_A * np.array([[math.sin(half), 0.0, math.cos(half)], [-math.sin(half), 0.0, math.cos(half)]])

    placed = np.empty((0, 3))
    positions = []
    for o in oxygens:
        best_h, best_dmin = None, -1.0
        for _ in range(_ORIENTATION_TRIES):
            h = o + local_h @ _random_rotation(rng).T
            mol = np.vstack([o, h])
            dmin = min_image_distances(mol, placed, lengths).min() if len(placed) else np.inf
            if dmin > best_dmin:
                best_h, best_dmin = h, dmin
            if dmin >= _MIN_INTERMOLECULAR_A:
                break
        mol = np.vstack([o, best_h])
        positions.append(mol)
        placed = np.vstack([placed, mol])

    symbols = ["O", "H", "H"] * n_molecules
    return symbols, np.vstack(positions), (float(length), float(length), float(length))
