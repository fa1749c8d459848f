"""Atom-steps/s of LAMMPS + pair_style mldyn on a replicated water box, on 1 and 2 MPI ranks.

    python plugins/lammps/benchmark.py PLUGIN_SO [--steps 200] [--replicate 4 4 2]

Uses the test helpers (tests/test_lammps_plugin.py): fits the small 4-function water model,
writes the last @h2o32 frame, replicates it in LAMMPS (4x4x2 -> 3,072 atoms) and runs NVT
(dt 0.5 fs) with the cutoff fixed at the 32-molecule half-box width, 4.9264 A. Also times
mldyn.Simulation on the same box with one thread for reference.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_lammps_plugin as T  # noqa: E402


class _TmpFactory:
    def mktemp(self, name):
        return Path(tempfile.mkdtemp(prefix=name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plugin")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--replicate", type=int, nargs=3, default=[4, 4, 2])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    water = T.water.__wrapped__(_TmpFactory())
    rep = " ".join(map(str, a.replicate))
    natoms = 96 * int(np.prod(a.replicate))
    rc = T.L_BOX / 2
    for n in a.ranks:
        cmds = [c if not c.startswith("pair_style") else f"pair_style mldyn {rc!r}"
                for c in T.setup_commands(water, processors="* * *")]
        cmds.insert([i for i, c in enumerate(cmds) if c.startswith("read_data")][0] + 1, f"replicate {rep}")
        cmds += ["velocity all create 300.0 4928459 mom yes rot yes dist gaussian", "timestep 0.0005",
                 "fix nvt all nvt temp 300.0 300.0 0.05", "thermo 0", "run 0"]
        out = T.run_driver(Path(a.plugin), water["tmp"], f"bench{n}", cmds, nprocs=n, steps=a.steps, timeout=3000)
        assert out["nprocs"] == n and len(out["f"]) == natoms
        print(f"LAMMPS + mldyn plugin, {natoms} atoms, {n} rank(s): {out['seconds']:.2f} s for {a.steps} steps "
              f"= {natoms * a.steps / out['seconds']:.3g} atom-steps/s")
    # mldyn itself on the same replicated box (one thread)
    import mldyn
    from mldyn.md import Simulation

    mldyn.set_num_threads(1)
    pos0, sym0 = water["positions"], water["symbols"]
    shifts = [np.array([i, j, k]) * T.L_BOX for i in range(a.replicate[0]) for j in range(a.replicate[1])
              for k in range(a.replicate[2])]
    pos = np.concatenate([pos0 + s for s in shifts])
    sym = list(sym0) * len(shifts)
    model = water["model"]
    from mldyn.descriptors import Radial as Basis
    b = model.basis
    model_rc = type(model)(model.species, Basis(b.functions, rc, b.r_on), model.A, model.B, model.masses)
    sim = Simulation(model_rc, pos, sym, T.L_BOX * np.array(a.replicate, float), dt=0.5, temperature=300.0, tdamp=50.0)
    sim.run(1)
    t0 = time.perf_counter()
    sim.run(a.steps)
    dt = time.perf_counter() - t0
    print(f"mldyn.Simulation (1 thread), {natoms} atoms: {dt:.2f} s for {a.steps} steps "
          f"= {natoms * a.steps / dt:.3g} atom-steps/s")


if __name__ == "__main__":
    main()
