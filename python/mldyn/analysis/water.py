"""Water geometry: each hydrogen's nearest oxygen, O–H bonds, hydrogen hops, H–O–H angles.

Conventions: a hydrogen belongs, in every frame, to its nearest oxygen (minimum image); the
O–H "bond" of a hydrogen is the distance to that oxygen; an H–O–H angle is measured for each
oxygen that owns exactly two hydrogens in that frame. Units: Å, degrees, fs.
"""
from __future__ import annotations

from typing import NamedTuple, Union

import numpy as np

from ..dataset import Dataset
from .frames import frame_pairs, half_min_width, minimum_image, require_atoms

__all__ = ["WaterGeometry", "water_geometry", "as_geometry", "HydrogenOwnership", "hydrogen_owners",
           "lasting_owner_changes", "oh_bond_lengths", "mean_std", "random_hydrogens", "hoh_angles",
           "LASTING_CHANGE_FS"]

#: A change of a hydrogen's oxygen counts as a hop when the new owner keeps it this long (fs).
LASTING_CHANGE_FS = 20.0

#: Radius (Å) within which the owner of a hydrogen is looked for first (every oxygen is compared beyond it).
BOND_SEARCH_A = 2.5


class WaterGeometry(NamedTuple):
    """Nearest-oxygen geometry of every hydrogen in every frame (see :func:`water_geometry`).

    oxygen_atoms : (n_O,) atom indices of the oxygens; hydrogen_atoms : (n_H,) of the hydrogens.
    owner_fh : (F, n_H) index into ``oxygen_atoms`` of each hydrogen's nearest oxygen.
    bond_fh : (F, n_H) distance to that oxygen, Å.
    bond_vec_fhc : (F, n_H, 3) minimum-image vector from that oxygen to the hydrogen, Å.
    times_f : (F,) times, fs.
    """

    oxygen_atoms: np.ndarray
    hydrogen_atoms: np.ndarray
    owner_fh: np.ndarray
    bond_fh: np.ndarray
    bond_vec_fhc: np.ndarray
    times_f: np.ndarray


def water_geometry(dataset: Dataset) -> WaterGeometry:
    """Assign each hydrogen to its nearest oxygen (minimum image) in every frame.

    Returns a :class:`WaterGeometry` with owners (F, n_H), O–H distances (F, n_H) in Å and
    O→H vectors (F, n_H, 3) in Å. ValueError if the dataset has no O or no H atoms.
    """
    o_idx = require_atoms(dataset, "O")
    h_idx = require_atoms(dataset, "H")
    F, nO, nH = dataset.n_frames, o_idx.size, h_idx.size
    owner = np.empty((F, nH), dtype=np.int64)
    bond = np.empty((F, nH))
    vec = np.empty((F, nH, 3))
    pos = dataset.positions_fnc
    cells = dataset.cells_f33
    # O-H pairs within a bond search radius from the core's neighbour search (O(n) per frame); a hydrogen
    # with no oxygen that close (dissociated) is compared with every oxygen.
    reach = BOND_SEARCH_A if cells is None else min(BOND_SEARCH_A, half_min_width(dataset))
    o_rank = np.full(dataset.n_atoms, -1)
    o_rank[o_idx] = np.arange(nO)
    h_rank = np.full(dataset.n_atoms, -1)
    h_rank[h_idx] = np.arange(nH)
    for k in range(F):
        i, j, d, r = frame_pairs(dataset, k, reach)
        oh = (o_rank[i] >= 0) & (h_rank[j] >= 0)
        ho = (h_rank[i] >= 0) & (o_rank[j] >= 0)
        h = np.concatenate([h_rank[j[oh]], h_rank[i[ho]]])
        o = np.concatenate([o_rank[i[oh]], o_rank[j[ho]]])
        dv = np.concatenate([d[oh], -d[ho]])  # O -> H
        rr = np.concatenate([r[oh], r[ho]])
        order = np.lexsort((o, rr, h))  # per hydrogen: the nearest oxygen first (ties: the lower index)
        h, o, dv, rr = h[order], o[order], dv[order], rr[order]
        first = np.flatnonzero(np.r_[True, h[1:] != h[:-1]]) if h.size else np.empty(0, dtype=np.int64)
        found = np.zeros(nH, dtype=bool)
        found[h[first]] = True
        owner[k, h[first]], bond[k, h[first]], vec[k, h[first]] = o[first], rr[first], dv[first]
        lost = np.flatnonzero(~found)
        if lost.size:
            dd = pos[k][h_idx[lost], None, :] - pos[k][None, o_idx, :]  # (lost, nO, 3): O -> H
            dd = minimum_image(dd[None], None if cells is None else cells[k:k + 1])[0]
            r2 = np.einsum("hoc,hoc->ho", dd, dd)
            own = np.argmin(r2, axis=1)
            owner[k, lost] = own
            bond[k, lost] = np.sqrt(r2[np.arange(lost.size), own])
            vec[k, lost] = dd[np.arange(lost.size), own]
    return WaterGeometry(o_idx, h_idx, owner, bond, vec, dataset.times_f.copy())


def as_geometry(data: Union[Dataset, WaterGeometry]) -> WaterGeometry:
    """``data`` itself if it is a :class:`WaterGeometry`, else :func:`water_geometry` of the Dataset."""
    return data if isinstance(data, WaterGeometry) else water_geometry(data)


class HydrogenOwnership(NamedTuple):
    """Which oxygen owns each hydrogen over time (see :func:`hydrogen_owners`).

    owner_fh : (F, n_H) index into ``oxygen_atoms`` of each hydrogen's nearest oxygen.
    oxygen_atoms, hydrogen_atoms : atom indices (n_O,), (n_H,).
    changed_hydrogens : number of hydrogens whose owner differs from their frame-0 owner in at
        least one frame (equivalently, that changed owner at least once).
    n_changes : total number of owner changes between consecutive frames, over all hydrogens.
    """

    owner_fh: np.ndarray
    oxygen_atoms: np.ndarray
    hydrogen_atoms: np.ndarray
    changed_hydrogens: int
    n_changes: int


def hydrogen_owners(data: Union[Dataset, WaterGeometry]) -> HydrogenOwnership:
    """Owner oxygen of every hydrogen in every frame, and how often hydrogens changed oxygen.

    ``data`` is a Dataset or a :class:`WaterGeometry` already computed from one.
    A change is counted whenever a hydrogen's nearest oxygen differs between two consecutive
    frames (a hydrogen hopping back and forth counts every hop).
    """
    g = as_geometry(data)
    jumps = g.owner_fh[1:] != g.owner_fh[:-1]                          # (F-1, n_H)
    return HydrogenOwnership(g.owner_fh, g.oxygen_atoms, g.hydrogen_atoms, int(np.count_nonzero(jumps.any(axis=0))),
                             int(np.count_nonzero(jumps)))


def lasting_owner_changes(data: Union[Dataset, WaterGeometry], min_duration_fs: float = LASTING_CHANGE_FS) -> float:
    """Hydrogens changing oxygen, per hydrogen per ps: owner changes after which the new owner keeps
    the hydrogen for at least ``min_duration_fs`` (fs; a stay that runs into the end of the
    trajectory counts only if it lasted that long). Flickers shorter than that are not counted,
    but the return after a flicker is when the old owner then keeps the hydrogen that long.
    NaN for fewer than two frames.
    """
    g = as_geometry(data)
    F, nH = g.owner_fh.shape
    if F < 2 or nH == 0:
        return float("nan")
    t = np.asarray(g.times_f, dtype=float)
    count = 0
    for h in range(nH):
        own = g.owner_fh[:, h]
        start = np.flatnonzero(own[1:] != own[:-1]) + 1               # frames where a new owner begins
        if start.size == 0:
            continue
        # a stay lasts from its first frame to the first frame of the next stay (or the last frame)
        end_t = np.concatenate([t[start[1:]], [t[-1]]])
        count += int(np.count_nonzero(end_t - t[start] >= min_duration_fs - 1e-9))
    duration_ps = (t[-1] - t[0]) / 1000.0
    return count / (nH * duration_ps) if duration_ps > 0 else float("nan")


def oh_bond_lengths(data: Union[Dataset, WaterGeometry]) -> np.ndarray:
    """O–H bond lengths (F, n_H), Å: each hydrogen's minimum-image distance to its nearest oxygen."""
    return as_geometry(data).bond_fh


def mean_std(values_fk) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame mean and (population) standard deviation over axis 1, ignoring NaN.

    values_fk : (F, k) values (any unit); returns ``(mean_f, std_f)``, each (F,), same unit;
    NaN for a frame without any finite value.
    """
    v = np.asarray(values_fk, dtype=float)
    ok = np.isfinite(v)
    n = ok.sum(axis=1)
    s = np.where(ok, v, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        var = np.where(ok, (v - mean[:, None]) ** 2, 0.0).sum(axis=1) / n
    return mean, np.sqrt(var)


def random_hydrogens(n_hydrogens: int, k: int = 4, seed: int = 0) -> np.ndarray:
    """``k`` distinct hydrogen indices (into the hydrogen list, sorted) drawn with ``numpy.random.default_rng(seed)``.

    The same ``n_hydrogens`` and ``seed`` always give the same choice, so a reference and a
    learned run of the same system show the same hydrogens.
    """
    k = min(int(k), int(n_hydrogens))
    return np.sort(np.random.default_rng(seed).choice(int(n_hydrogens), size=k, replace=False))


def hoh_angles(data: Union[Dataset, WaterGeometry]) -> np.ndarray:
    """H–O–H angles (F, n_O) in degrees; NaN where the oxygen does not own exactly two hydrogens.

    The angle is between the two minimum-image O→H vectors of an oxygen's two hydrogens
    (owners as in :func:`water_geometry`). Per-frame mean and std: :func:`mean_std`.
    """
    g = as_geometry(data)
    F, nH = g.owner_fh.shape
    nO = g.oxygen_atoms.size
    flat = (g.owner_fh + nO * np.arange(F)[:, None]).ravel()
    counts = np.bincount(flat, minlength=F * nO).reshape(F, nO)
    order = np.argsort(g.owner_fh, axis=1, kind="stable")                # hydrogens grouped by owner
    start = np.cumsum(counts, axis=1) - counts                           # (F, nO) first slot of each oxygen
    two = counts == 2
    h1 = np.take_along_axis(order, np.minimum(start, nH - 1), axis=1)
    h2 = np.take_along_axis(order, np.minimum(start + 1, nH - 1), axis=1)
    v1 = np.take_along_axis(g.bond_vec_fhc, h1[:, :, None], axis=1)
    v2 = np.take_along_axis(g.bond_vec_fhc, h2[:, :, None], axis=1)
    cross = np.linalg.norm(np.cross(v1, v2), axis=2)
    dot = np.einsum("foc,foc->fo", v1, v2)
    ang = np.degrees(np.arctan2(cross, dot))
    return np.where(two, ang, np.nan)
