"""Brute-force numpy oracle for the mldyn core, written from the method's definition.

Nothing here calls ``mldyn._core``: distances come from an explicit search over
lattice translations, weights from their closed forms, forces from (A, B).

Conventions (as in mldyn): cell vectors are the *rows* of a 3x3 matrix H (Å),
``cell=None`` is an isolated system, species ids are 0..S-1, invariants
``phi[k, a, m] = sum_{i of species a, i != k, r_ki < r_cut} w_m(r_ki) S(r_ki)`` and
``dphi[k, a, m, :] = d phi[k, a, m] / d q_k``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

# ----------------------------------------------------------------------------- cells


def cell_matrix(cell):
    """(3, 3) row-vector matrix from None / L / (a, b, c) / 3x3; None stays None."""
    if cell is None:
        return None
    arr = np.asarray(cell, dtype=float)
    if arr.ndim == 0:
        return np.eye(3) * float(arr)
    if arr.shape == (3,):
        return np.diag(arr)
    if arr.shape == (3, 3):
        return arr.copy()
    raise ValueError(f"bad cell shape {arr.shape}")


def perpendicular_widths(cell) -> np.ndarray:
    """Distances between opposite faces: V / |b x c|, V / |c x a|, V / |a x b|."""
    h = cell_matrix(cell)
    a, b, c = h
    vol = abs(np.dot(a, np.cross(b, c)))
    return np.array([vol / np.linalg.norm(np.cross(b, c)), vol / np.linalg.norm(np.cross(c, a)),
                     vol / np.linalg.norm(np.cross(a, b))])


def max_cutoff(cell) -> float:
    """Half the smallest perpendicular width (inf for an isolated system)."""
    if cell is None:
        return math.inf
    return 0.5 * float(perpendicular_widths(cell).min())


_SHIFTS = np.array(list(itertools.product(range(-2, 3), repeat=3)), dtype=float)  # (125, 3)


def minimum_image(d, cell) -> np.ndarray:
    """Shortest periodic image of displacement(s) ``d`` (..., 3).

    The displacement is first wrapped to fractional coordinates in [-1/2, 1/2]
    and then every lattice translation n·H with n in {-2..2}^3 is tried; the
    shortest candidate wins. Exact for orthorhombic and triclinic cells.
    """
    d = np.asarray(d, dtype=float)
    h = cell_matrix(cell)
    if h is None:
        return d.copy()
    flat = d.reshape(-1, 3)
    s = flat @ np.linalg.inv(h)
    s -= np.round(s)
    base = s @ h                                            # (P, 3)
    cands = base[:, None, :] + (_SHIFTS @ h)[None, :, :]    # (P, 125, 3)
    r2 = np.einsum("pqc,pqc->pq", cands, cands)
    best = np.argmin(r2, axis=1)
    return cands[np.arange(len(flat)), best].reshape(d.shape)


# ----------------------------------------------------------------------------- weights


def weights(functions, r, r_cut=math.inf, r_on=None):
    """w_m(r) S(r) and d/dr of it, for distances r (P,) -> two (P, M) arrays.

    ``functions`` is a sequence of (family, parameter); ``r_on=None`` means no switching.
    """
    r = np.asarray(r, dtype=float)
    w = np.empty((r.size, len(functions)))
    dw = np.empty_like(w)
    for m, (kind, p) in enumerate(functions):
        p = float(p)
        if kind == "exp":
            w[:, m] = np.exp(-p * r)
            dw[:, m] = -p * np.exp(-p * r)
        elif kind == "gauss":
            w[:, m] = np.exp(-r**2 / (2 * p * p))
            dw[:, m] = -(r / (p * p)) * w[:, m]
        elif kind == "power":
            w[:, m] = r**(-p)
            dw[:, m] = -p * r**(-p - 1)
        elif kind == "core":
            x = p / r
            t = np.maximum(0.0, x**4 - 1.0)
            w[:, m] = t**3 / 64.0
            dw[:, m] = -3.0 / 16.0 * t**2 * x**4 / r
        else:
            raise ValueError(kind)
    if r_on is not None and r_on < r_cut:
        x = np.clip((r - r_on) / (r_cut - r_on), 0.0, 1.0)
        s = 1 - 10 * x**3 + 15 * x**4 - 6 * x**5
        ds = (-30 * x**2 + 60 * x**3 - 30 * x**4) / (r_cut - r_on)
        dw = dw * s[:, None] + w * ds[:, None]
        w = w * s[:, None]
    return w, dw


# ----------------------------------------------------------------------------- invariants


def invariants(positions, species, functions, n_species, cell=None, r_cut=None, r_on=None):
    """phi (n, S, M) and dphi (n, S, M, 3) by brute force over all ordered pairs.

    ``r_cut=None`` means the default: half the smallest perpendicular width, or no
    cutoff for an isolated system.
    """
    q = np.asarray(positions, dtype=float)
    sp = np.asarray(species, dtype=int)
    n, M = len(q), len(functions)
    rc = max_cutoff(cell) if r_cut is None else float(r_cut)
    phi = np.zeros((n, n_species, M))
    dphi = np.zeros((n, n_species, M, 3))
    for k in range(n):
        others = np.flatnonzero(np.arange(n) != k)
        d = minimum_image(q[others] - q[k], cell)          # q_i - q_k
        r = np.linalg.norm(d, axis=1)
        inside = r < rc
        if not np.any(inside):
            continue
        idx, d, r = others[inside], d[inside], r[inside]
        w, dw = weights(functions, r, rc, r_on)
        grad = dw[:, :, None] * (-d / r[:, None])[:, None, :]   # d w(r_ki) / d q_k
        for a in range(n_species):
            sel = sp[idx] == a
            phi[k, a] = w[sel].sum(axis=0)
            dphi[k, a] = grad[sel].sum(axis=0)
    return phi, dphi


def angular_invariants(positions, species, functions, l_max, n_species, cell=None, r_cut=None, r_on=None):
    """Angular power spectrum phi (n, F) and dphi (n, F, 3), F = l_max * C (C + 1) / 2, C = S * M,
    from its definition as a double sum over neighbour pairs (no spherical harmonics):

        phi[l, alpha, beta] = sum_{i in a, j in b} w_m(r_i) w_n(r_j) P_l(u_i . u_j),  alpha = a M + m <= beta

    with i = j included, u = (q_j - q_k) / r, blocks l = 1..l_max, pairs in row-major upper-triangle order.
    """
    from numpy.polynomial import legendre

    q = np.asarray(positions, dtype=float)
    sp = np.asarray(species, dtype=int)
    n, M = len(q), len(functions)
    C = n_species * M
    rc = max_cutoff(cell) if r_cut is None else float(r_cut)
    alpha_i, beta_i = np.triu_indices(C)
    pairs = len(alpha_i)
    phi = np.zeros((n, l_max * pairs))
    dphi = np.zeros((n, l_max * pairs, 3))
    for k in range(n):
        others = np.flatnonzero(np.arange(n) != k)
        d = minimum_image(q[others] - q[k], cell)
        r = np.linalg.norm(d, axis=1)
        inside = r < rc
        if not np.any(inside):
            continue
        idx, d, r = others[inside], d[inside], r[inside]
        u = d / r[:, None]
        w, dw = weights(functions, r, rc, r_on)                 # (P, M)
        # channel weights: W[p, alpha] = w_m(r_p) if species(p) == a else 0
        W = np.zeros((len(r), C))
        dW = np.zeros((len(r), C))
        for a in range(n_species):
            sel = sp[idx] == a
            W[sel, a * M:(a + 1) * M] = w[sel]
            dW[sel, a * M:(a + 1) * M] = dw[sel]
        cos = np.clip(u @ u.T, -1.0, 1.0)                       # (P, P)
        # d cos_ij / d q_k = -[(u_j - cos u_i) / r_i + (u_i - cos u_j) / r_j]
        dcos = -((u[None, :, :] - cos[:, :, None] * u[:, None, :]) / r[:, None, None]
                 + (u[:, None, :] - cos[:, :, None] * u[None, :, :]) / r[None, :, None])
        for l in range(1, l_max + 1):
            c = np.zeros(l + 1)
            c[l] = 1.0
            P = legendre.legval(cos, c)
            dP = legendre.legval(cos, legendre.legder(c))
            # phi[alpha, beta] = sum_ij W_i,alpha W_j,beta P_ij
            Phi = W.T @ P @ W
            # d/dq_k: dW_i = dW (-u_i); terms from W_i, W_j and P_ij
            grad = (-np.einsum("ia,ic,ij,jb->abc", dW, u, P, W)
                    - np.einsum("ia,ij,jb,jc->abc", W, P, dW, u)
                    + np.einsum("ia,ij,ijc,jb->abc", W, dP, dcos, W))
            block = slice((l - 1) * pairs, l * pairs)
            phi[k, block] = Phi[alpha_i, beta_i]
            dphi[k, block] = grad[alpha_i, beta_i]
    return phi, dphi


def forces_and_losses(phi, dphi, species, A, B=None):
    """Agent losses H_k and forces F_k = -(A_s + B_s phi_k) . dphi_k from invariants."""
    n = phi.shape[0]
    F = int(np.prod(phi.shape[1:]))
    A = np.asarray(A, dtype=float)
    B = np.zeros((A.shape[0], F, F)) if B is None else np.asarray(B, dtype=float)
    if B.size == 0:                                          # a linear model's empty B (S x 0 x 0)
        B = np.zeros((A.shape[0], 0, 0))
    Fq = B.shape[1]                                          # B acts on the first Fq invariants
    p = phi.reshape(n, F)
    dp = dphi.reshape(n, F, 3)
    sp = np.asarray(species, dtype=int)
    As, Bs = A[sp], B[sp]                                    # (n, F), (n, Fq, Fq)
    Bphi = np.zeros((n, F))
    Bphi[:, :Fq] = np.einsum("nfg,ng->nf", Bs, p[:, :Fq])
    losses = np.einsum("nf,nf->n", As + 0.5 * Bphi, p)
    forces = -np.einsum("nf,nfc->nc", As + Bphi, dp)
    return forces, losses


def model_forces(positions, species, functions, n_species, A, B=None, cell=None, r_cut=None, r_on=None):
    """(forces (n, 3), losses (n,)) of the agent-loss model by brute force."""
    phi, dphi = invariants(positions, species, functions, n_species, cell, r_cut, r_on)
    return forces_and_losses(phi, dphi, species, A, B)


def radial_rows(descriptor, positions, species, n_species, cell=None):
    """Rows phi (n, S*M) and d phi / d q_k (n, S*M, 3) of a model file's "radial" descriptor entry
    (a dict with "functions", "r_cut" and "r_on"; None as in the file)."""
    phi, dphi = invariants(positions, species, descriptor["functions"], n_species, cell, descriptor["r_cut"],
                           descriptor["r_on"])
    n = len(phi)
    return phi.reshape(n, -1), dphi.reshape(n, -1, 3)


def angular_rows(descriptor, positions, species, n_species, cell=None):
    """Rows phi (n, F) and d phi / d q_k (n, F, 3) of a model file's "angular" descriptor entry."""
    return angular_invariants(positions, species, descriptor["functions"], descriptor["l_max"], n_species, cell,
                              descriptor["r_cut"], descriptor["r_on"])


#: The oracle of every descriptor family a model file can name: family -> rows(entry, positions,
#: species, n_species, cell). A new family adds its brute-force rows here.
DESCRIPTOR_ROWS = {"radial": radial_rows, "angular": angular_rows}


def model_features(model, positions, species, cell=None):
    """Concatenated rows phi (n, F) and d phi / d q_k (n, F, 3) of a model-file dict's descriptors."""
    S = len(model["species"])
    rows = [DESCRIPTOR_ROWS[d["family"]](d, positions, species, S, cell) for d in model["descriptors"]]
    return np.concatenate([r[0] for r in rows], axis=1), np.concatenate([r[1] for r in rows], axis=1)


def model_file_forces(model, positions, species, cell=None):
    """(forces (n, 3), losses (n,)) of a model-file dict (schema 2, as ``AgentLossModel.to_dict()``
    writes it) by brute force: the agent's row is its descriptors' rows concatenated in order.

    ``species`` are ids into ``model["species"]``; ``cell`` None (isolated) or 3x3 rows (Å).
    """
    phi, dphi = model_features(model, positions, species, cell)
    coefficients = model["coefficients"]
    return forces_and_losses(phi[:, None, :], dphi[:, None, :, :], species, coefficients["A"], coefficients["B"])


def pair_energy(positions, species, functions, coefficients, cell=None, r_cut=None, r_on=None):
    """sum_{i<j} sum_m c_sym[s_i, s_j, m] w_m(r_ij) S(r_ij) with c symmetrised in the species pair."""
    c = np.asarray(coefficients, dtype=float)
    c = 0.5 * (c + c.transpose(1, 0, 2))
    q = np.asarray(positions, dtype=float)
    sp = np.asarray(species, dtype=int)
    rc = max_cutoff(cell) if r_cut is None else float(r_cut)
    e = 0.0
    for i in range(len(q) - 1):
        d = minimum_image(q[i + 1:] - q[i], cell)
        r = np.linalg.norm(d, axis=1)
        inside = r < rc
        if np.any(inside):
            w, _ = weights(functions, r[inside], rc, r_on)
            e += float(np.einsum("pm,pm->", c[sp[i], sp[i + 1:][inside]], w))
    return e


# ----------------------------------------------------------------------------- configurations


def random_rotation(rng) -> np.ndarray:
    """A uniformly random proper rotation matrix (det +1)."""
    qm, rm = np.linalg.qr(rng.normal(size=(3, 3)))
    qm = qm * np.sign(np.diag(rm))
    if np.linalg.det(qm) < 0:
        qm[:, 0] = -qm[:, 0]
    return qm


def water_box(n_molecules, box, rng, jitter=0.15, bond=(0.96, 1.0), angle_deg=(102.0, 107.0)):
    """Water-like configuration: (positions (3n, 3) Å, species (3n,) with O = 0, H = 1).

    O atoms sit on a jittered grid filling the cell (``box``: L, (a, b, c) or 3x3
    rows; for an isolated cluster pass the cube edge); each O gets two H at a bond
    length in ``bond`` (Å) and an HOH angle in ``angle_deg``, randomly oriented.
    """
    h = cell_matrix(box)
    side = int(math.ceil(n_molecules ** (1 / 3) - 1e-9))
    grid = np.array(list(itertools.product(range(side), repeat=3)), dtype=float)[:n_molecules]
    frac = (grid + 0.5 + rng.uniform(-jitter, jitter, size=grid.shape)) / side
    oxygens = frac @ h
    pos, spec = [], []
    for o in oxygens:
        b1, b2 = rng.uniform(*bond, size=2)
        theta = math.radians(rng.uniform(*angle_deg))
        local = np.array([[b1, 0.0, 0.0], [b2 * math.cos(theta), b2 * math.sin(theta), 0.0]])
        hs = o + local @ random_rotation(rng).T
        pos += [o, hs[0], hs[1]]
        spec += [0, 1, 1]
    return np.array(pos), np.array(spec, dtype=np.int32)


def random_configuration(n, box, rng, min_dist=0.8, periodic=True, max_tries=200000):
    """n positions in ``box`` (L, (a, b, c) or 3x3 rows) at least ``min_dist`` Å apart.

    Periodic: distances are minimum-image ones (positions in the home cell).
    Isolated (``periodic=False``): plain distances, positions inside the box.
    """
    h = cell_matrix(box)
    cell = h if periodic else None
    # In an orthorhombic cell the wrapped displacement is already the minimum image (the shift
    # search of minimum_image finds nothing shorter), so the same points come out, much faster.
    orthorhombic = cell is not None and np.count_nonzero(h - np.diag(np.diag(h))) == 0
    inv = np.linalg.inv(h) if orthorhombic else None
    out = np.empty((n, 3))
    k = tries = 0
    while k < n:
        tries += 1
        if tries > max_tries:
            raise RuntimeError("random_configuration: box too crowded for min_dist")
        cand = rng.uniform(0.0, 1.0, size=3) @ h
        if k:
            d = out[:k] - cand
            if orthorhombic:
                s = d @ inv
                d = (s - np.round(s)) @ h
            else:
                d = minimum_image(d, cell)
            if np.min(np.einsum("ij,ij->i", d, d)) < min_dist**2:
                continue
        out[k] = cand
        k += 1
    return out


def random_species(n, n_species, rng) -> np.ndarray:
    """Species ids with every species present (for n >= n_species)."""
    sp = rng.integers(0, n_species, size=n).astype(np.int32)
    sp[:n_species] = np.arange(n_species)
    return rng.permutation(sp).astype(np.int32)


def random_symmetric(F, rng, scale=1.0) -> np.ndarray:
    m = rng.normal(scale=scale, size=(F, F))
    return 0.5 * (m + m.T)


def rel_diff(a, b) -> float:
    """max |a - b| / max |b| (0 when both are all zero)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    denom = float(np.max(np.abs(b))) if b.size else 0.0
    num = float(np.max(np.abs(a - b))) if a.size else 0.0
    if denom == 0.0:
        return num
    return num / denom
