"""End-to-end: ``mldyn cp2k-input`` writes a deck, the real CP2K (Debian's ``cp2k``
package) runs a few MD steps of 3 water molecules, and the files it prints agree with
each other and with the deck.

The check parses CP2K's xyz/ener files with a minimal numpy parser of its own, so it
does not depend on :mod:`mldyn.io`; when ``mldyn.io.cp2k_reader.read_cp2k`` exists it is
checked against that parse as well.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import pytest

from mldyn import cli, units
from mldyn.elements import ATOMIC_MASSES

CP2K_NAMES = ("cp2k.psmp", "cp2k.ssmp", "cp2k", "cp2k.popt", "cp2k.sopt")
PROJECT = "w3"
STEPS = 4
TIMESTEP_FS = 0.5
TEMPERATURE_K = 300.0
N_WATER = 3

# amu·Å²/fs² in eV (pinned in cpp/include/mldyn/units.hpp; checked in tests/test_units.py).
KINETIC_EV_PER_AMU_A2_FS2 = units.KINETIC_EV_PER_AMU_A2_FS2


def find_cp2k():
    for name in CP2K_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def read_frames(path, n_atoms):
    """Minimal CP2K xyz trajectory parser -> (symbols, comments, values (f, n, 3))."""
    lines = path.read_text().splitlines()
    block = n_atoms + 2
    assert len(lines) % block == 0, f"{path.name}: {len(lines)} lines is not a whole number of {n_atoms}-atom frames"
    comments, values, symbols = [], [], None
    for f in range(len(lines) // block):
        assert int(lines[f * block]) == n_atoms
        comments.append(lines[f * block + 1])
        rows = [ln.split() for ln in lines[f * block + 2:(f + 1) * block]]
        syms = [r[0] for r in rows]
        symbols = symbols or syms
        assert syms == symbols, f"{path.name}: atom order changed in frame {f}"
        values.append([[float(x) for x in r[1:4]] for r in rows])
    return symbols, comments, np.array(values)


def comment_field(comment, key):
    """Value of ``key = value`` in a CP2K xyz comment line ``i = 3, time = 1.5, E = -51.0``."""
    fields = dict(part.split("=") for part in comment.split(","))
    return float(fields[[k for k in fields if k.strip() == key][0]])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    exe = find_cp2k()
    if exe is None:
        pytest.skip("cp2k executable not found: install Debian's cp2k (apt-get install -y cp2k)")
    out = tmp_path_factory.mktemp("cp2k_run")
    rc = cli.main(["cp2k-input", "--water", str(N_WATER), "-o", str(out), "--project", PROJECT,
                   "--method", "pade-szv", "--cutoff", "150", "--rel-cutoff", "20", "--steps", str(STEPS),
                   "--timestep", str(TIMESTEP_FS), "--temperature", str(TEMPERATURE_K), "--seed", "11"])
    assert rc == 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # Debian's cp2k.psmp runs as a single MPI process without mpirun; as root, Open MPI wants these.
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "-i", f"{PROJECT}.inp", "-o", f"{PROJECT}.out"], cwd=out, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - t0
    log = (out / f"{PROJECT}.out").read_text() if (out / f"{PROJECT}.out").exists() else ""
    assert proc.returncode == 0, f"cp2k failed ({proc.returncode}):\n{proc.stderr[-3000:]}\n{log[-3000:]}"
    assert "PROGRAM ENDED" in log
    print(f"cp2k {STEPS} MD steps of {N_WATER} waters: {elapsed:.1f} s")
    init_symbols, _, init_pos = read_frames(out / f"{PROJECT}-init.xyz", 3 * N_WATER)
    return dict(dir=out, log=log, init_symbols=init_symbols, init_pos=init_pos[0])


@pytest.fixture(scope="module")
def parsed(run):
    out, n = run["dir"], 3 * N_WATER
    sym, pos_comments, pos = read_frames(out / f"{PROJECT}-pos-1.xyz", n)
    sym_v, _, vel = read_frames(out / f"{PROJECT}-vel-1.xyz", n)
    sym_f, frc_comments, frc = read_frames(out / f"{PROJECT}-frc-1.xyz", n)
    assert sym == sym_v == sym_f == run["init_symbols"]
    ener = np.loadtxt(out / f"{PROJECT}-1.ener", ndmin=2)
    cell = np.loadtxt(out / f"{PROJECT}-1.cell", ndmin=2)
    masses = np.array([ATOMIC_MASSES[s] for s in sym])
    return dict(symbols=sym, pos=pos, vel=vel, frc=frc, ener=ener, cell=cell, masses=masses,
                pos_comments=pos_comments, frc_comments=frc_comments)


def test_frame_counts_and_steps(parsed):
    for key in ("pos", "vel", "frc"):
        assert parsed[key].shape == (STEPS + 1, 3 * N_WATER, 3), key
    assert parsed["ener"].shape == (STEPS + 1, 7)
    assert parsed["cell"].shape == (STEPS + 1, 12)
    steps = np.arange(STEPS + 1)
    np.testing.assert_array_equal(parsed["ener"][:, 0], steps)
    np.testing.assert_allclose(parsed["ener"][:, 1], steps * TIMESTEP_FS, atol=1e-9)
    np.testing.assert_array_equal([comment_field(c, "i") for c in parsed["pos_comments"]], steps)
    np.testing.assert_allclose([comment_field(c, "time") for c in parsed["pos_comments"]], steps * TIMESTEP_FS)


def test_kinetic_energy_from_velocities_matches_ener(parsed):
    v_a_fs = parsed["vel"] * units.BOHR_PER_AU_TIME_A_PER_FS          # Bohr/a.u. time -> Å/fs
    ke_ev = 0.5 * np.einsum("n,fnc->f", parsed["masses"], v_a_fs**2) * KINETIC_EV_PER_AMU_A2_FS2
    ke_ener_ev = parsed["ener"][:, 2] * units.HARTREE_EV
    assert np.all(ke_ener_ev > 0)
    np.testing.assert_allclose(ke_ev, ke_ener_ev, rtol=1e-6)
    # CP2K draws the initial velocities at exactly the deck's temperature.
    assert parsed["ener"][0, 3] == pytest.approx(TEMPERATURE_K, abs=1e-6)


def test_potential_energy_in_trajectory_matches_ener(parsed):
    e_pos = np.array([comment_field(c, "E") for c in parsed["pos_comments"]])
    e_frc = np.array([comment_field(c, "E") for c in parsed["frc_comments"]])
    np.testing.assert_allclose(e_pos, parsed["ener"][:, 4], rtol=0, atol=2e-9)  # Hartree, printed to 1e-9/1e-10
    np.testing.assert_array_equal(e_pos, e_frc)
    # 3 waters, Pade/SZV: about -17 Hartree per molecule.
    assert -20 * N_WATER < e_pos[0] < -15 * N_WATER
    # The conserved quantity is kinetic + potential in NVE.
    np.testing.assert_allclose(parsed["ener"][:, 5], parsed["ener"][:, 2] + parsed["ener"][:, 4], atol=3e-9)


def test_forces_and_positions(parsed, run):
    frc = parsed["frc"]
    assert np.all(np.isfinite(frc))
    assert np.abs(frc).max() > 1e-4  # Hartree/Bohr: the rigid start is not a minimum
    assert np.abs(frc).max() < 1.0
    assert np.all(np.isfinite(parsed["pos"])) and np.all(np.isfinite(parsed["vel"]))
    # Step 0 is the deck's starting structure; the atoms then move.
    np.testing.assert_allclose(parsed["pos"][0], run["init_pos"], atol=1e-6)
    assert np.abs(parsed["pos"][-1] - parsed["pos"][0]).max() > 1e-4
    # The cell file holds the cubic water-box cell every step.
    length = np.cbrt(N_WATER * (ATOMIC_MASSES["O"] + 2 * ATOMIC_MASSES["H"]) * units.AMU_KG * 1e27)
    expected = np.array([length, 0, 0, 0, length, 0, 0, 0, length])
    np.testing.assert_allclose(parsed["cell"][:, 2:11], np.tile(expected, (STEPS + 1, 1)), atol=1e-8)
    assert "SCF run NOT converged" not in run["log"]


def test_read_cp2k_agrees_with_minimal_parse(run, parsed):
    try:
        from mldyn.io.cp2k_reader import read_cp2k
    except ImportError as exc:
        pytest.skip(f"mldyn.io.cp2k_reader.read_cp2k not available yet ({exc}); the minimal parse above still ran")
    ds = read_cp2k(run["dir"])
    np.testing.assert_array_equal(np.asarray(ds.steps_f), np.arange(STEPS + 1))
    np.testing.assert_allclose(ds.positions_fnc, parsed["pos"], atol=1e-9)
    np.testing.assert_allclose(ds.velocities_fnc, parsed["vel"] * units.BOHR_PER_AU_TIME_A_PER_FS, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ds.forces_fnc, parsed["frc"] * units.HARTREE_PER_BOHR_EV_PER_A, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ds.potential_energy_f, parsed["ener"][:, 4] * units.HARTREE_EV, rtol=1e-9)
    np.testing.assert_allclose(ds.kinetic_energy_f, parsed["ener"][:, 2] * units.HARTREE_EV, rtol=1e-6)
    np.testing.assert_allclose(ds.masses_n, parsed["masses"], rtol=1e-9)
    ke = 0.5 * np.einsum("n,fnc->f", np.asarray(ds.masses_n), np.asarray(ds.velocities_fnc) ** 2) * KINETIC_EV_PER_AMU_A2_FS2
    np.testing.assert_allclose(ke, ds.kinetic_energy_f, rtol=1e-6)
