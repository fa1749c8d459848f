"""The C++ package, built once per test session: the core installed with CMake (no Python) and
examples/cpp built against it with find_package(mldyn).

Registered as a pytest plugin in conftest.py (so the session fixture exists once for every test
module; importing a fixture into two modules would build twice). Skips when cmake is absent.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="session")
def cpp_package(tmp_path_factory):
    """Paths of the installed core ("prefix") and of the built examples ("example": the build
    directory holding water_forces and case_forces)."""
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake not found (pip install cmake)")
    tmp = tmp_path_factory.mktemp("cpp-package")
    build, prefix, example = tmp / "core", tmp / "prefix", tmp / "example"
    jobs = str(os.cpu_count() or 2)
    run(cmake, "-S", ROOT, "-B", build, "-DMLDYN_PYTHON=OFF", "-DCMAKE_BUILD_TYPE=Release",
        f"-DCMAKE_INSTALL_PREFIX={prefix}")
    run(cmake, "--build", build, "-j", jobs)
    run(cmake, "--install", build)
    run(cmake, "-S", ROOT / "examples" / "cpp", "-B", example, f"-DCMAKE_PREFIX_PATH={prefix}",
        "-DCMAKE_BUILD_TYPE=Release")
    run(cmake, "--build", example, "-j", jobs)
    return {"prefix": prefix, "example": example}
