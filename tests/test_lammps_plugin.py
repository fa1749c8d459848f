"""The LAMMPS plugin (plugins/lammps/): pair_style mldyn gives mldyn's own forces, on 1 and 2 MPI ranks.

Compares LAMMPS forces on the bundled 32-molecule water frame with `AgentLossModel.forces`. The
plugin build (session fixture ``plugin``), the LAMMPS driver (subprocesses: plain python for 1
rank, mpiexec for 2) and data files come from tests/lammps_support.py. Skipped only when the
`lammps` Python module, cmake or mpiexec is absent.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mldyn
import mldyn.fit
import mldyn.io
from lammps_support import lammps_env, relative_error, run_driver, write_data

L_BOX = 9.8528   # Å, the bundled @h2o32 cubic cell
TOL = 1e-10      # max |F_lammps - F_mldyn| / max |F_mldyn|


@pytest.fixture(scope="module")
def water(tmp_path_factory):
    """Fitted model file, the last @h2o32 frame and a LAMMPS data file of it."""
    tmp = tmp_path_factory.mktemp("water")
    data = mldyn.io.load_dataset("@h2o32")
    basis = mldyn.Basis((("exp", 1.0), ("gauss", 1.0), ("gauss", 2.0), ("power", 2.0)), r_on=4.0)
    model = mldyn.fit.fit_model(data.subset(range(0, 600, 10)), basis, "quadratic", progress=False).model
    model_path = model.save(tmp / "model.json")
    pos = np.array(data.positions_fnc[-1])
    symbols = data.symbols
    types = np.array([1 if s == "O" else 2 for s in symbols])
    assert set(symbols) == {"O", "H"} and model.species == ["O", "H"]
    write_data(tmp / "water.data", pos, types, np.eye(3) * L_BOX, 2)
    return {"model": model, "model_path": model_path, "positions": pos, "symbols": symbols, "types": types,
            "data_path": tmp / "water.data", "tmp": tmp}


def setup_commands(water, data_path=None, processors=None):
    m = water["model"]
    cmds = ["units metal", "atom_style atomic", "atom_modify map array", "boundary p p p"]
    if processors:
        cmds.append(f"processors {processors}")
    cmds += [f"read_data {data_path or water['data_path']}",
             f"mass 1 {float(m.masses[0])!r}", f"mass 2 {float(m.masses[1])!r}",
             "pair_style mldyn", f"pair_coeff * * {water['model_path']} O H",
             "neighbor 1.0 bin", "thermo_style custom step temp pe"]
    return cmds


def test_plugin_loads_and_registers_pair_style(plugin, water):
    # a failed `plugin load` is only logged by LAMMPS, so check the style registry explicitly
    tmp = water["tmp"]
    (tmp / "probe.py").write_text(
        "import sys, lammps\n"
        "l = lammps.lammps(cmdargs=['-log','none','-screen','none','-nocite'])\n"
        "l.command('plugin load ' + sys.argv[1])\n"
        "print('HAS_STYLE', l.has_style('pair', 'mldyn'))\n"
        "l.close()\n")
    r = subprocess.run([sys.executable, str(tmp / "probe.py"), str(plugin)], capture_output=True, text=True,
                       env=lammps_env(), timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "HAS_STYLE True" in r.stdout, r.stdout + r.stderr


def test_plugin_autoloads_from_lammps_plugin_path(plugin, water):
    """LAMMPS loads every *plugin.so in LAMMPS_PLUGIN_PATH at start-up."""
    tmp = water["tmp"]
    (tmp / "probe_path.py").write_text(
        "import lammps\n"
        "l = lammps.lammps(cmdargs=['-log','none','-screen','none','-nocite'])\n"
        "print('HAS_STYLE', l.has_style('pair', 'mldyn'))\n"
        "l.close()\n")
    env = lammps_env()
    env["LAMMPS_PLUGIN_PATH"] = str(plugin.parent)
    r = subprocess.run([sys.executable, str(tmp / "probe_path.py")], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "HAS_STYLE True" in r.stdout, r.stdout + r.stderr


def test_lammps_plugin_command_builds_and_prints_how_to_load_it(plugin, capsys):
    """`mldyn lammps-plugin` (the plugin fixture builds with the same function; here the command line
    rebuilds in the same directory, which is up to date) prints the plugin load line."""
    from mldyn.cli import main

    assert main(["lammps-plugin", "--build-dir", str(plugin.parent)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"plugin: {plugin}"
    assert out[1] == f"in a LAMMPS input:  plugin load {plugin}"
    assert out[2] == f"or load it at start: export LAMMPS_PLUGIN_PATH={plugin.parent}"


def test_forces_match_mldyn_one_rank(plugin, water):
    out = run_driver(plugin, water["tmp"], "serial", setup_commands(water), nprocs=1)
    assert out["has_style"] and out["nprocs"] == 1
    ref = water["model"].forces(water["positions"], water["symbols"], L_BOX)
    err = relative_error(out["f"], ref)
    assert err <= TOL, f"relative force error {err:.3e}"
    # the reported energy is 1/2 sum_k H_k
    _, losses = water["model"].compute(water["positions"], water["symbols"], L_BOX)
    assert out["pe"] == pytest.approx(0.5 * float(np.sum(losses)), rel=1e-10, abs=1e-10)


def test_forces_match_mldyn_two_ranks(plugin, water):
    out = run_driver(plugin, water["tmp"], "mpi2", setup_commands(water, processors="2 1 1"), nprocs=2)
    assert out["has_style"]
    assert out["nprocs"] == 2, "mpiexec did not give LAMMPS two ranks"
    ref = water["model"].forces(water["positions"], water["symbols"], L_BOX)
    err = relative_error(out["f"], ref)
    assert err <= TOL, f"relative force error {err:.3e}"


def test_bad_model_file_is_an_error(plugin, water):
    bad = water["tmp"] / "bad.json"
    d = json.loads(Path(water["model_path"]).read_text())
    d["schema_version"] = 99
    bad.write_text(json.dumps(d))
    cmds = [c if not c.startswith("pair_coeff") else f"pair_coeff * * {bad} O H" for c in setup_commands(water)]
    out = run_driver(plugin, water["tmp"], "bad", cmds, catch_errors=True)
    assert "schema_version" in out["error"]


def test_units_other_than_metal_are_refused(plugin, water):
    """The model's forces are eV/Å: `units real` would read them as kcal/mol/Å (23x off)."""
    cmds = [c if c != "units metal" else "units real" for c in setup_commands(water)]
    out = run_driver(plugin, water["tmp"], "real", cmds, catch_errors=True)
    assert "pair_style mldyn requires 'units metal' (the model is in Å and eV), not 'units real'" in out["error"]


def test_nvt_tracks_mldyn_simulation(plugin, water):
    """20 Nosé–Hoover-chain steps (dt 0.5 fs, 300 K, tdamp 50 fs, chain 3) from the same
    velocities: LAMMPS `fix nvt` with the plugin follows mldyn.Simulation."""
    from mldyn.md import Simulation, maxwell_boltzmann

    model, pos, symbols = water["model"], water["positions"], water["symbols"]
    masses = model.atom_masses(symbols, len(pos))
    vel = maxwell_boltzmann(masses, 300.0, seed=3)                      # Å/fs
    path = water["tmp"] / "water_vel.data"
    write_data(path, pos, water["types"], np.eye(3) * L_BOX, 2, velocities=vel * 1000.0)   # metal: Å/ps
    steps = 20
    # LAMMPS metal units use older constants than mldyn's CODATA 2018: boltz = 8.617343e-5 eV/K
    # (mldyn 8.617333262e-5) and ftm2v = 1/1.0364269e-4 (mldyn 1/1.036426965e-4, 6e-8 relative),
    # which alone moves the trajectories apart by ~2e-8 Å in 20 steps. To compare the force
    # field and integrator only, LAMMPS gets the target temperature with mldyn's k_B T and
    # masses scaled so that F/m * ftm2v (and so the kinetic energy) equals mldyn's.
    from mldyn.units import ACCEL_PER_FORCE_OVER_MASS, KB_EV_PER_K
    t_lmp = 300.0 * KB_EV_PER_K / 8.617343e-5
    mscale = (1e-6 / 1.0364269e-4) / ACCEL_PER_FORCE_OVER_MASS
    cmds = [c for c in setup_commands(water, data_path=path) if not c.startswith("mass ")]
    cmds.insert(cmds.index(f"read_data {path}") + 1, f"mass 1 {float(model.masses[0]) * mscale!r}")
    cmds.insert(cmds.index(f"read_data {path}") + 2, f"mass 2 {float(model.masses[1]) * mscale!r}")
    cmds = cmds + [
        "timestep 0.0005", f"fix nvt all nvt temp {t_lmp!r} {t_lmp!r} 0.05 tchain 3", "thermo 0"]
    out = run_driver(plugin, water["tmp"], "nvt", cmds, nprocs=1, steps=steps)
    sim = Simulation(model, pos, symbols, L_BOX, velocities_nc=vel, dt=0.5, temperature=300.0, tdamp=50.0, chain=3)
    sim.run(steps)
    d = out["x"] - np.asarray(sim.positions)
    d -= L_BOX * np.round(d / L_BOX)
    dev = float(np.max(np.abs(d)))
    moved = float(np.max(np.abs(np.asarray(sim.positions) - pos)))
    assert moved > 1e-2
    print(f"NVT: max position difference {dev:.3e} A after {steps} steps (max displacement {moved:.3f} A)")
    assert dev < 1e-10, f"LAMMPS and mldyn NVT trajectories differ by {dev:.3e} Å after {steps} steps"


def test_100k_atom_replicated_box_runs_on_two_ranks(plugin, water):
    """105,600 atoms (the 96-atom frame replicated 10 x 10 x 11) on 2 ranks: a few MD steps run,
    and at step 0 every replica feels exactly the forces of the original periodic frame."""
    r_cut = L_BOX / 2
    commands = setup_commands(water, processors="2 1 1")
    commands = [c if c != "pair_style mldyn" else f"pair_style mldyn {r_cut!r}" for c in commands]
    commands.insert(commands.index(next(c for c in commands if c.startswith("mass 1"))), "replicate 10 10 11")
    out = run_driver(plugin, water["tmp"], "big0", commands, nprocs=2, steps=0, timeout=900)
    assert out["nprocs"] == 2 and out["has_style"]
    f = out["f"]
    assert f.shape == (105_600, 3)
    ref = water["model"].forces(water["positions"], water["symbols"], L_BOX)
    # LAMMPS' replicate numbers the copies' atoms consecutively: ids 1..96 are the first copy.
    assert relative_error(f[:96], ref) <= 1e-10
    assert relative_error(f[-96:], ref) <= 1e-10
    moving = commands + ["velocity all create 500.0 4928 dist gaussian", "fix md all nve"]
    out = run_driver(plugin, water["tmp"], "big3", moving, nprocs=2, steps=3, timeout=900)
    assert np.all(np.isfinite(out["f"])) and np.isfinite(out["pe"])
    assert out["seconds"] > 0
