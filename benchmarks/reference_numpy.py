"""A pure-numpy implementation of mldyn's agent-loss model and MD step, for comparison.

Same model as :class:`mldyn.AgentLossModel` (see its module docstring), written as plainly
as numpy allows, for an orthorhombic periodic box with the minimum-image convention:

    phi[k, a, m] = sum_{j of species a, j != k, r_kj < r_cut} w_m(r_kj) S(r_kj)
    H_k          = A_s . phi_k + 1/2 phi_k . B_s . phi_k
    F_k          = -(A_s + B_s phi_k) . d phi_k / d q_k

All pairs are tested (in blocks of rows, so memory stays bounded); the gradient is never
stored: per pair, c = sum_m g[k, a*M + m] dw_m/dr, and F_k += c (q_j - q_k) / r.

The step is velocity Verlet with one Nosé–Hoover thermostat, split as mldyn splits it
(thermostat half step, half kick, drift, forces, half kick, thermostat half step).

    python benchmarks/reference_numpy.py        # runs :func:`check` on the 384-atom paper system

Units: Å, fs, amu, eV (forces eV/Å, velocities Å/fs).
"""
from __future__ import annotations

import numpy as np

from mldyn.units import ACCEL_PER_FORCE_OVER_MASS, KB_EV_PER_K, KINETIC_EV_PER_AMU_A2_FS2

__all__ = ["NumpyModel", "NumpyMD", "check"]

ROW_BLOCK_PAIRS = 4_000_000  # candidate pairs tested per block of rows (bounds the temporaries)


def weights(functions, r, r_cut, r_on=None):
    """w (P, M) and dw/dr (P, M) of the weight functions at distances r (P,), Å, with switching."""
    w = np.empty((len(r), len(functions)))
    dw = np.empty_like(w)
    for m, (kind, p) in enumerate(functions):
        if kind == "exp":          # exp(-alpha r)
            w[:, m] = np.exp(-p * r)
            dw[:, m] = -p * w[:, m]
        elif kind == "gauss":      # exp(-r^2 / (2 sigma^2))
            w[:, m] = np.exp(-r * r / (2.0 * p * p))
            dw[:, m] = -r / (p * p) * w[:, m]
        elif kind == "power":      # r^-n
            w[:, m] = r ** -p
            dw[:, m] = -p * w[:, m] / r
        else:
            raise ValueError(f"unknown weight family {kind!r}")
    if r_on is not None and r_on < r_cut:  # quintic smoothstep between r_on and r_cut
        x = np.clip((r - r_on) / (r_cut - r_on), 0.0, 1.0)
        s = 1.0 - x ** 3 * (10.0 - 15.0 * x + 6.0 * x * x)
        ds = -30.0 * x * x * (1.0 - x) ** 2 / (r_cut - r_on)
        dw = dw * s[:, None] + w * ds[:, None]
        w = w * s[:, None]
    return w, dw


def pairs_within(positions, lengths, r_cut):
    """All ordered pairs (i, j), i != j, with minimum-image distance below r_cut.

    Returns i (P,), j (P,), d = q_j - q_i (P, 3) and r (P,), sorted by i.
    """
    n = len(positions)
    rows = max(1, ROW_BLOCK_PAIRS // max(n, 1))
    out_i, out_j, out_d = [], [], []
    for start in range(0, n, rows):
        d = positions[None, :, :] - positions[start:start + rows, None, :]   # (rows, n, 3)
        d -= lengths * np.round(d / lengths)                                 # minimum image
        r2 = np.einsum("ijc,ijc->ij", d, d)
        ii, jj = np.nonzero(r2 < r_cut * r_cut)
        keep = ii + start != jj
        ii, jj = ii[keep], jj[keep]
        out_i.append(ii + start)
        out_j.append(jj)
        out_d.append(d[ii, jj])
    i, j, d = np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)
    return i, j, d, np.sqrt(np.einsum("pc,pc->p", d, d))


class NumpyModel:
    """The agent-loss model of ``model`` (an :class:`mldyn.AgentLossModel`) in numpy, for an
    orthorhombic box of side lengths ``lengths`` (Å); the cutoff resolves as mldyn resolves it."""

    def __init__(self, model, lengths):
        self.lengths = np.asarray(lengths, dtype=float).reshape(-1)
        if self.lengths.shape == (1,):
            self.lengths = np.repeat(self.lengths, 3)
        self.functions = model.basis.functions
        self.r_cut = model.basis.r_cut if model.basis.r_cut is not None else 0.5 * float(self.lengths.min())
        self.r_on = model.basis.r_on
        self.A, self.B = np.asarray(model.A), np.asarray(model.B)
        self.S, self.M = model.n_species, model.n_functions

    def compute(self, positions, species):
        """Forces (n, 3) eV/Å and agent losses (n,) eV."""
        pos = np.asarray(positions, dtype=float)
        species = np.asarray(species)
        n, S, M = len(pos), self.S, self.M
        i, j, d, r = pairs_within(pos, self.lengths, self.r_cut)
        w, dw = weights(self.functions, r, self.r_cut, self.r_on)
        # phi[k, a, m]: scatter each pair's weights to (agent i, species of j).
        key = i * S + species[j]
        phi = np.stack([np.bincount(key, weights=w[:, m], minlength=n * S) for m in range(M)], axis=1)
        phi = phi.reshape(n, S * M)
        # g_k = A_s + B_s phi_k (the loss gradient w.r.t. phi), H_k = A_s.phi_k + 1/2 phi_k.B_s.phi_k.
        g = np.empty_like(phi)
        loss = np.empty(n)
        for s in range(S):
            mine = species == s
            bphi = phi[mine] @ self.B[s]                   # B symmetric: (B phi)^T = phi^T B
            g[mine] = self.A[s] + bphi
            loss[mine] = phi[mine] @ self.A[s] + 0.5 * np.einsum("kf,kf->k", phi[mine], bphi)
        # F_k = -sum_j c_kj d r_kj/d q_k = sum_j c_kj (q_j - q_k)/r, c = sum_m g[k, s_j, m] dw_m/dr.
        c = np.einsum("pm,pm->p", g.reshape(n, S, M)[i, species[j]], dw)
        cd = (c / r)[:, None] * d
        forces = np.stack([np.bincount(i, weights=cd[:, x], minlength=n) for x in range(3)], axis=1)
        return forces, loss


class NumpyMD:
    """Velocity Verlet + one Nosé–Hoover thermostat (temperature K, damping tdamp fs)."""

    def __init__(self, model, positions, species, lengths, velocities, masses, dt=0.5, temperature=300.0,
                 tdamp=50.0):
        self.model = NumpyModel(model, lengths)
        self.species = np.asarray(species)
        self.q = np.array(positions, dtype=float)
        self.v = np.array(velocities, dtype=float)
        self.masses = np.asarray(masses, dtype=float)
        self.inv_m = (ACCEL_PER_FORCE_OVER_MASS / self.masses)[:, None]   # (eV/Å)/amu -> Å/fs²
        self.dt = float(dt)
        n = len(self.q)
        self.ndof = 3.0 * n - 3.0
        self.kT = KB_EV_PER_K * temperature
        self.Q = self.ndof * self.kT * tdamp * tdamp  # thermostat mass, eV fs²
        self.eta = self.veta = 0.0
        self.f, self.loss = self.model.compute(self.q, self.species)

    def kinetic(self) -> float:
        return 0.5 * KINETIC_EV_PER_AMU_A2_FS2 * float(np.sum(self.masses[:, None] * self.v * self.v))

    def _thermostat(self, h):
        ke2 = 2.0 * self.kinetic()
        self.veta += 0.5 * h * (ke2 - self.ndof * self.kT) / self.Q
        scale = np.exp(-h * self.veta)
        self.v *= scale
        self.eta += h * self.veta
        self.veta += 0.5 * h * (ke2 * scale * scale - self.ndof * self.kT) / self.Q

    def step(self):
        half = 0.5 * self.dt
        self._thermostat(half)
        self.v += half * self.f * self.inv_m
        self.q += self.dt * self.v
        self.f, self.loss = self.model.compute(self.q, self.species)
        self.v += half * self.f * self.inv_m
        self._thermostat(half)

    def run(self, steps: int):
        for _ in range(int(steps)):
            self.step()


def check(steps: int = 10) -> dict:
    """Compare with mldyn on the 384-atom paper system (bench_forces.paper_system, 18 functions,
    dense random quadratic model): forces and losses of one configuration (all-pairs and cell
    list), and positions after ``steps`` NVT steps (one Nosé–Hoover thermostat, 1 thread)."""
    import mldyn

    from bench_forces import BOX, paper_system

    model, symbols, pos = paper_system()
    ids = model.species_ids(symbols, len(pos))
    ref = NumpyModel(model, BOX)
    f_np, l_np = ref.compute(pos, ids)
    out = {"atoms": len(pos), "functions": model.n_functions, "cutoff_A": ref.r_cut}
    for method in ("all_pairs", "cell_list"):
        f, l = model.compute(pos, ids, BOX, method)
        rel = np.linalg.norm(f_np - f, axis=1) / np.linalg.norm(f, axis=1)
        out[method] = {"max_rel_force_diff": float(rel.max()),
                       "max_abs_force_diff_over_max_force": float(np.abs(f_np - f).max() / np.abs(f).max()),
                       "max_rel_loss_diff": float(np.max(np.abs(l_np - l) / np.abs(l)))}
    # A short NVT trajectory from the same start (velocities drawn by mldyn).
    threads = mldyn.get_num_threads()
    mldyn.set_num_threads(1)
    try:
        sim = mldyn.Simulation(model, pos, ids, BOX, dt=0.5, temperature=300.0, tdamp=50.0, chain=1, seed=1,
                               neighbours="all_pairs")
        md = NumpyMD(model, pos, ids, BOX, sim.velocities, sim.masses, dt=0.5, temperature=300.0, tdamp=50.0)
        sim.run(steps)
        md.run(steps)
        out["trajectory"] = {"steps": steps, "dt_fs": 0.5,
                             "max_position_diff_A": float(np.abs(md.q - sim.positions).max()),
                             "max_rel_velocity_diff": float(np.abs(md.v - sim.velocities).max()
                                                            / np.abs(sim.velocities).max())}
    finally:
        mldyn.set_num_threads(threads)
    out["passed"] = bool(max(out[m]["max_rel_force_diff"] for m in ("all_pairs", "cell_list")) <= 1e-10)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(check(), indent=1))
