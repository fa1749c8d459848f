"""The core installs as a C++ package that another CMake project finds and links without Python."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import mldyn

ROOT = Path(__file__).resolve().parents[1]
cmake = shutil.which("cmake")
pytestmark = pytest.mark.skipif(cmake is None, reason="cmake not found (pip install cmake)")


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def test_find_package_mldyn_builds_and_runs_the_example(tmp_path):
    build, prefix, example = tmp_path / "core", tmp_path / "prefix", tmp_path / "example"
    jobs = str(os.cpu_count() or 2)
    run(cmake, "-S", str(ROOT), "-B", str(build), "-DMLDYN_PYTHON=OFF", "-DCMAKE_BUILD_TYPE=Release",
        f"-DCMAKE_INSTALL_PREFIX={prefix}")
    run(cmake, "--build", str(build), "-j", jobs)
    run(cmake, "--install", str(build))
    assert (prefix / "include" / "mldyn" / "model.hpp").is_file()
    assert list(prefix.glob("lib*/cmake/mldyn/mldynConfig.cmake"))
    run(cmake, "-S", str(ROOT / "examples" / "cpp"), "-B", str(example), f"-DCMAKE_PREFIX_PATH={prefix}",
        "-DCMAKE_BUILD_TYPE=Release")
    run(cmake, "--build", str(example), "-j", jobs)
    out = run(str(example / "water_forces")).stdout
    first = out.splitlines()[0].split()
    assert first[:2] == ["atoms", "96"]
    # The same model through Python gives the same forces on atom 0.
    L = 9.8528
    pos, species = [], []
    for i in range(4):
        for j in range(4):
            for k in range(2):
                x, y, z = (i + 0.5) * L / 4, (j + 0.5) * L / 4, (k + 0.5) * L / 2
                pos += [[x, y, z], [x + 0.757, y + 0.586, z], [x - 0.757, y + 0.586, z]]
                species += [0, 1, 1]
    basis = mldyn.Basis((("exp", 1.0), ("gauss", 2.0), ("power", 2.0)), r_cut=4.9, r_on=4.0)
    F = 6
    A = 0.1 * np.cos(1.0 + np.arange(2 * F)).reshape(2, F)
    e, f = np.meshgrid(np.arange(F), np.arange(F), indexing="ij")
    B = np.stack([0.01 * np.cos(1.0 * (e + f + s)) for s in range(2)])
    forces = mldyn.AgentLossModel(["O", "H"], basis, A, B).forces(np.array(pos), np.array(species), L)
    np.testing.assert_allclose([float(x) for x in first[6:9]], forces[0], rtol=1e-8, atol=1e-9)
    assert "after 100 steps: T =" in out
