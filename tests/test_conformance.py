"""Conformance: every case of tests/cases/ through every path gives the oracle's forces and losses.

A case (tests/cases/*.json, see the README there) holds a structure, a complete model file and the
forces and agent losses the numpy oracle (tests/reference.py) computed for them. Paths:

* ``all_pairs``, ``cell_list``: ``AgentLossModel.from_text(...).compute(..., neighbours=...)``;
* ``md_step``: ``mldyn.Simulation`` (NVE): forces and losses at step 0, and after one step the
  positions of velocity Verlet, q + v dt + 1/2 (F/m) dt², from the expected forces;
* ``ase``: ``mldyn.ase.MLDCalculator`` (forces, ``get_property("agent_losses")``);
* ``cpp``: examples/cpp/case_forces (the installed C++ package, no Python);
* ``lammps_1``, ``lammps_2``: pair_style mldyn on 1 and 2 MPI ranks (losses from 2 x pe/atom);
  all cases of one rank count run in one LAMMPS subprocess.

Deviations are max |x - x_ref| / max |x_ref| (forces, losses; positions relative to the largest
displacement of the step), at most the case's "tolerance". Then the model-file readers (Python,
the C++ program, LAMMPS pair_coeff) must agree on the files of tests/model_files.py: accept the
valid ones (with the case's forces) and refuse the bad ones naming the problem.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import mldyn
from lammps_support import run_lammps, write_data
from model_files import MODEL_FILES, model_file_text
from reference import rel_diff

CASES_DIR = Path(__file__).resolve().parent / "cases"
CASE_NAMES = sorted(p.stem for p in CASES_DIR.glob("*.json"))
PATHS = ("all_pairs", "cell_list", "md_step", "ase", "cpp", "lammps_1", "lammps_2")
DT = 0.5  # fs

#: Cases a known core bug makes fail on every path (strict: a fix turns them into failures here,
#: so the entry is removed with the fix).
KNOWN_BUGS: dict = {}  # case name -> why it is expected to fail (a strict xfail: it must start passing when fixed)
#: The case whose model the model-file checks mutate (quadratic, B != 0, explicit cutoffs) and
#: whose expected forces the valid model files must give.
MODEL_FILE_BASE = "triclinic_3species_switching"


@functools.lru_cache(maxsize=None)
def load_case(name) -> dict:
    return json.loads((CASES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def structure(case):
    s = case["structure"]
    cell = None if s["cell"] is None else np.array(s["cell"], dtype=float)
    return np.array(s["positions"], dtype=float), list(s["symbols"]), cell, np.array(s["velocities"], dtype=float)


def model_of(case) -> mldyn.AgentLossModel:
    return mldyn.AgentLossModel.from_text(json.dumps(case["model"]), case["name"])


# ----------------------------------------------------------------------------- paths

def python_api(neighbours):
    def run(case, request):
        pos, symbols, cell, _ = structure(case)
        forces, losses = model_of(case).compute(pos, symbols, cell, neighbours=neighbours)
        return {"forces": forces, "losses": losses}
    return run


def md_step(case, request):
    pos, symbols, cell, vel = structure(case)
    model = model_of(case)
    sim = mldyn.Simulation(model, pos, symbols, cell, velocities_nc=vel, dt=DT, ensemble="nve")
    out = {"forces": np.array(sim.forces), "losses": np.array(sim.losses)}
    sim.run(1)
    accel = (np.asarray(case["expected"]["forces"]) / model.atom_masses(symbols, len(pos))[:, None]
             * mldyn.units.ACCEL_PER_FORCE_OVER_MASS)
    step = vel * DT + 0.5 * accel * DT**2
    out["positions"] = (np.array(sim.positions) - pos, step)   # displacements: simulated, velocity Verlet's
    return out


def ase_calculator(case, request):
    pytest.importorskip("ase", reason="ASE is not installed (pip install 'mldyn[ase]')")
    import ase
    from mldyn.ase import MLDCalculator

    pos, symbols, cell, _ = structure(case)
    atoms = ase.Atoms(symbols, positions=pos, cell=np.zeros((3, 3)) if cell is None else cell, pbc=cell is not None)
    atoms.calc = MLDCalculator(model_of(case))
    return {"forces": atoms.get_forces(), "losses": atoms.calc.get_property("agent_losses", atoms)}


def case_forces(cpp_package, case_path, model_path=None):
    """(returncode, stdout, stderr) of examples/cpp/case_forces."""
    cmd = [str(cpp_package["example"] / "case_forces"), str(case_path)] + ([str(model_path)] if model_path else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def cpp_program(case, request):
    code, out, err = case_forces(request.getfixturevalue("cpp_package"), CASES_DIR / f"{case['name']}.json")
    assert code == 0, err
    return {k: np.array(v) for k, v in json.loads(out).items()}


def lammps(nprocs):
    def run(case, request):
        out = request.getfixturevalue("lammps_runs")(nprocs)[case["name"]]
        assert out["has_style"] and out["nprocs"] == nprocs and "error" not in out, out
        return {"forces": out["f"], "losses": 2.0 * out["e"]}
    return run


RUNNERS = {"all_pairs": python_api("all_pairs"), "cell_list": python_api("cell_list"), "md_step": md_step,
           "ase": ase_calculator, "cpp": cpp_program, "lammps_1": lammps(1), "lammps_2": lammps(2)}


# ----------------------------------------------------------------------------- LAMMPS, batched

def lammps_commands(case, data_path, model_path, nprocs):
    """The input of one case: its cell (periodic, or `boundary f f f` for an isolated one), masses, model."""
    model = case["model"]
    isolated = case["structure"]["cell"] is None
    cmds = ["units metal", "atom_style atomic", "atom_modify map array", f"boundary {'f f f' if isolated else 'p p p'}"]
    if nprocs > 1:
        cmds.append(f"processors {nprocs} 1 1")
    cmds.append(f"read_data {data_path}")
    cmds += [f"mass {t} {float(m)!r}" for t, m in enumerate(model["masses"], start=1)]
    # an isolated system has no cell to take a null r_cut from: give the largest explicit one
    r_cut = max(d["r_cut"] for d in model["descriptors"]) if isolated else None
    cmds += ["pair_style mldyn" + (f" {float(r_cut)!r}" if r_cut else ""),
             f"pair_coeff * * {model_path} " + " ".join(model["species"]), "neighbor 1.0 bin"]
    return cmds


@pytest.fixture(scope="module")
def lammps_runs(plugin, tmp_path_factory, model_files):
    """nprocs -> {case name: driver result}: every case (and, on 1 rank, every model file of
    tests/model_files.py on the base case) in one LAMMPS subprocess per rank count."""
    tmp = tmp_path_factory.mktemp("lammps-cases")
    inputs = {}
    for name in CASE_NAMES:
        case = load_case(name)
        pos, symbols, cell, _ = structure(case)
        species = case["model"]["species"]
        write_data(tmp / f"{name}.data", pos, [species.index(s) + 1 for s in symbols], cell, len(species))
        (tmp / f"{name}.model.json").write_text(json.dumps(case["model"]))
        inputs[name] = (tmp / f"{name}.data", tmp / f"{name}.model.json")
    results = {}

    def get(nprocs):
        if nprocs not in results:
            runs = [{"name": name, "commands": lammps_commands(load_case(name), *inputs[name], nprocs),
                     "per_atom_energy": True, "catch_errors": True} for name in CASE_NAMES]
            if nprocs == 1:
                data_path = inputs[MODEL_FILE_BASE][0]
                runs += [{"name": f"model-file:{file}",
                          "commands": lammps_commands(load_case(MODEL_FILE_BASE), data_path, path, 1),
                          "catch_errors": True} for file, path in model_files.items()]
            results[nprocs] = {out["name"]: out for out in run_lammps(plugin, tmp, f"np{nprocs}", runs, nprocs)}
        return results[nprocs]

    return get


# ----------------------------------------------------------------------------- the cases

def case_params():
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name]))
            if name in KNOWN_BUGS else name for name in CASE_NAMES]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", case_params())
def test_case(name, path, request):
    case = load_case(name)
    got = RUNNERS[path](case, request)
    tol = case["tolerance"]
    deviations = {k: rel_diff(got[k], case["expected"][k]) for k in ("forces", "losses")}
    if "positions" in got:
        deviations["positions"] = rel_diff(*got["positions"])
    print(f"{name} {path}: " + ", ".join(f"{k} {v:.2e}" for k, v in deviations.items()))
    for k, dev in deviations.items():
        assert dev <= tol, f"{name} via {path}: {k} deviate by {dev:.3e} (relative; tolerance {tol:g})"


def test_cases_match_their_generator():
    """The folder holds exactly the generator's cases, and each file is what its definition gives
    (structure and model exactly, expected values to 1e-12): `generate.py --check`."""
    spec = importlib.util.spec_from_file_location("cases_generate", CASES_DIR / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert sorted(generate.CASES) == CASE_NAMES
    assert len(CASE_NAMES) >= 5
    problems = [p for name in CASE_NAMES for p in generate.differences(name)]
    assert not problems, "\n".join(problems) + "\nrun: python tests/cases/generate.py"


# ----------------------------------------------------------------------------- model files, every reader

@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """name -> path of each file of tests/model_files.py, made from the base case's model."""
    tmp = tmp_path_factory.mktemp("model-files")
    base = load_case(MODEL_FILE_BASE)["model"]
    paths = {}
    for name, mutate, _ in MODEL_FILES:
        paths[name] = tmp / f"{name}.json"
        paths[name].write_text(model_file_text(base, mutate))
    return paths


def read_with_python(path, request):
    try:
        model = mldyn.AgentLossModel.load(path)
    except ValueError as exc:
        return str(exc), None
    pos, symbols, cell, _ = structure(load_case(MODEL_FILE_BASE))
    return None, model.forces(pos, symbols, cell)


def read_with_cpp(path, request):
    code, out, err = case_forces(request.getfixturevalue("cpp_package"), CASES_DIR / f"{MODEL_FILE_BASE}.json", path)
    return (None, np.array(json.loads(out)["forces"])) if code == 0 else (err or f"exit status {code}", None)


def read_with_lammps(path, request):
    out = request.getfixturevalue("lammps_runs")(1)[f"model-file:{path.stem}"]
    assert out["has_style"]
    return (out["error"], None) if "error" in out else (None, out["f"])


READERS = {"python": read_with_python, "cpp": read_with_cpp, "lammps": read_with_lammps}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("name, message", [(f[0], f[2]) for f in MODEL_FILES], ids=[f[0] for f in MODEL_FILES])
def test_model_file_verdict(name, message, reader, model_files, request):
    """Every reader accepts the valid files (and gives the base case's forces) and refuses the bad
    ones with an error that names the problem: the same verdict everywhere."""
    error, forces = READERS[reader](model_files[name], request)
    if message is None:
        assert error is None, f"{reader} refused the valid model file {name}: {error}"
        case = load_case(MODEL_FILE_BASE)
        assert rel_diff(forces, case["expected"]["forces"]) <= case["tolerance"]
    else:
        assert error is not None, f"{reader} accepted the bad model file {name}"
        assert message in error, f"{reader} refused {name} without naming the problem ({message!r}): {error}"
