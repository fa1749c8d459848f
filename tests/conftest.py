"""Shared pytest setup: make ``tests/reference.py`` and the helper modules importable, register the
shared build fixtures, and keep the core's thread count unchanged across tests."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
# The suite alternates many tiny core calls with numpy work; OpenMP threads that
# spin between parallel regions make that crawl on a busy 2-core machine. Results
# do not depend on the wait policy. Must be set before the core (libgomp) loads.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import mldyn  # noqa: E402

# Session fixtures shared by several test modules (each built once per session): the C++ package
# (cpp_package) and the LAMMPS plugin (lammps_dir, plugin).
pytest_plugins = ["cpp_build", "lammps_support"]


@pytest.fixture(scope="session")
def fitted_h2o32(tmp_path_factory):
    """`mldyn fit @h2o32 --select 7` run once for the whole session (the default, recommended recipe
    on the bundled CP2K water): (model path, what the command printed). Tests must not modify the files."""
    import contextlib
    import io

    from mldyn.cli import main

    out = tmp_path_factory.mktemp("fitted-h2o32") / "model.json"
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert main(["fit", "@h2o32", "-o", str(out), "--select", "7", "--quiet"]) == 0
    return out, text.getvalue()


@pytest.fixture(autouse=True)
def _restore_thread_count():
    """Every test leaves mldyn's thread count as it found it."""
    before = mldyn.get_num_threads()
    yield
    mldyn.set_num_threads(before)
