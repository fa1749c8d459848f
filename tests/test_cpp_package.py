"""The core installs as a C++ package that another CMake project finds and links without Python
(the install and the example build are the session fixture ``cpp_package``, tests/cpp_build.py)."""
import numpy as np

import mldyn
from cpp_build import run


def test_find_package_mldyn_builds_and_runs_the_example(cpp_package):
    prefix, example = cpp_package["prefix"], cpp_package["example"]
    assert (prefix / "include" / "mldyn" / "model.hpp").is_file()
    assert list(prefix.glob("lib*/cmake/mldyn/mldynConfig.cmake"))
    out = run(example / "water_forces").stdout
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
