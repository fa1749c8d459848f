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


@pytest.fixture(autouse=True)
def _restore_thread_count():
    """Every test leaves mldyn's thread count as it found it."""
    before = mldyn.get_num_threads()
    yield
    mldyn.set_num_threads(before)
