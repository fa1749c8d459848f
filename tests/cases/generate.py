"""Generator of the conformance cases in tests/cases/*.json (see README.md there).

This file owns the case definitions: each ``case_*`` function below builds one case's structure
(symbols, positions, cell, velocities) and model (an :class:`mldyn.AgentLossModel`, stored as
``to_dict()``) from its seed. The expected forces and losses are computed by the numpy oracle
``tests/reference.py`` (``model_file_forces``), never by the core.

Regenerate every case (after changing a definition or the oracle)::

    PYTHONPATH=python python tests/cases/generate.py            # rewrites tests/cases/*.json
    PYTHONPATH=python python tests/cases/generate.py NAME ...   # only these cases
    PYTHONPATH=python python tests/cases/generate.py --check    # compare with the files, write nothing

``--check`` exits 1 if a file is missing or differs from what its definition gives
(tests/test_conformance.py runs the same comparison).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))             # tests/: the oracle
try:
    import mldyn
except ImportError:                              # a source checkout without PYTHONPATH
    sys.path.insert(0, str(HERE.parents[1] / "python"))
    import mldyn

import reference  # noqa: E402
from mldyn.units import ACCEL_PER_FORCE_OVER_MASS, KB_EV_PER_K  # noqa: E402

#: Relative tolerance of every path (forces: max |F - F_ref| / max |F_ref|; losses likewise).
TOLERANCE = 1e-10
#: No pair may lie closer than this (Å) to a cutoff: a hard cutoff there would decide by rounding.
KNIFE_EDGE = 1e-6
#: Typical largest force (eV/Å) the random coefficients are scaled to.
FORCE_SCALE = 3.0


# ----------------------------------------------------------------------------- helpers

def thermal_velocities(masses_n, rng, temperature=300.0):
    """Gaussian velocities (n, 3) in Å/fs at about ``temperature`` K (inputs only)."""
    sigma = np.sqrt(KB_EV_PER_K * temperature * ACCEL_PER_FORCE_OVER_MASS / np.asarray(masses_n))
    return rng.normal(size=(len(masses_n), 3)) * sigma[:, None]


def random_quadratic(S, F, rng, b_scale):
    """Positive-ish A (S, F) and small symmetric B (S, F, F)."""
    A = rng.uniform(0.2, 1.0, size=(S, F)) * rng.choice([1.0, 1.0, 1.0, -1.0], size=(S, F))
    B = np.stack([reference.random_symmetric(F, rng, b_scale) for _ in range(S)])
    return A, B


def scaled(model_of, A, B, positions, species, cell):
    """The model ``model_of(A, B)`` with A and B scaled so that the largest oracle force is FORCE_SCALE."""
    f, _ = reference.model_file_forces(model_of(A, B).to_dict(), positions, species, cell)
    k = FORCE_SCALE / float(np.max(np.abs(f)))
    return model_of(k * A, None if B is None else k * B)


def lower_triangular(h):
    """Check that a cell is in LAMMPS' form: a = (xprd, 0, 0), b = (xy, yprd, 0), c = (xz, yz, zprd)."""
    h = np.asarray(h, dtype=float)
    assert h[0, 1] == h[0, 2] == h[1, 2] == 0.0 and np.all(np.diag(h) > 0), "cell must be lower triangular"
    assert abs(h[1, 0]) <= 0.5 * h[0, 0] and abs(h[2, 0]) <= 0.5 * h[0, 0] and abs(h[2, 1]) <= 0.5 * h[1, 1], \
        "tilts beyond LAMMPS' limits"
    return h


def case(description, seed, symbols, positions, cell, velocities, model):
    return {"description": description, "seed": seed, "symbols": list(symbols), "positions": positions,
            "cell": cell, "velocities": velocities, "model": model}


def random_model_case(description, seed, rng, names, descriptors, positions, species, cell, b_scale,
                      velocities=None):
    """A case with a random model on ``descriptors`` (quadratic with B of scale ``b_scale``, linear
    if it is 0) scaled by :func:`scaled`; thermal velocities unless given."""
    descriptors = mldyn.descriptors.as_descriptors(descriptors)
    A, B = random_quadratic(len(names), sum(d.size(len(names)) for d in descriptors), rng, b_scale)

    def model_of(a, b):
        return mldyn.AgentLossModel(names, descriptors, a, b)

    model = scaled(model_of, A, B if b_scale else None, positions, species, cell)
    if velocities is None:
        velocities = thermal_velocities(model.masses[species], rng)
    return case(description, seed, [names[s] for s in species], positions, cell, velocities, model)


# ----------------------------------------------------------------------------- the cases

def case_h2o32_paper_quadratic(seed=1):
    data = mldyn.load_dataset("@h2o32")
    return random_model_case(
        "The bundled 96-atom water frame (@h2o32, last frame, cubic 9.8528 Å cell) with a quadratic model on the "
        "paper's 18 functions, hard cutoff r_cut null (half the box); velocities from the data set.",
        seed, np.random.default_rng(seed), list(data.species_names), mldyn.Radial.paper(),
        np.array(data.positions_fnc[-1]), np.array(data.species_n), np.array(data.cells_f33[-1]), 2e-4,
        velocities=np.array(data.velocities_fnc[-1]))


def case_triclinic_3species_switching(seed=2):
    rng = np.random.default_rng(seed)
    cell = lower_triangular([[10.2, 0.0, 0.0], [3.1, 9.6, 0.0], [-2.4, 2.9, 9.9]])
    pos = reference.random_configuration(60, cell, rng, min_dist=1.0)
    species = reference.random_species(60, 3, rng)
    basis = mldyn.Radial((("exp", 0.8), ("gauss", 1.5), ("power", 1.0), ("power", 2.0)), r_cut=4.2, r_on=3.0)
    return random_model_case(
        "60 random atoms of 3 species in a triclinic cell (LAMMPS form, all three tilts non-zero); quadratic model "
        "with exp, gauss and power-law (r^-1, r^-2) functions, r_cut 4.2 Å switched off from r_on 3.0 Å.",
        seed, rng, ["Si", "O", "H"], basis, pos, species, cell, 0.02)


def case_isolated_water_cluster(seed=3):
    rng = np.random.default_rng(seed)
    pos, species = reference.water_box(12, 7.0, rng)
    basis = mldyn.Radial((("exp", 1.0), ("gauss", 2.0), ("power", 1.0)), r_cut=5.0)
    return random_model_case(
        "An isolated 12-molecule water cluster (cell null, ~7 Å across); quadratic model, explicit hard cutoff "
        "r_cut 5.0 Å (so some pairs are out of range).",
        seed, rng, ["O", "H"], basis, pos, species, None, 0.02)


def case_pair_potential_orthorhombic(seed=4):
    rng = np.random.default_rng(seed)
    cell = np.diag([11.0, 12.0, 13.0])
    names = ["Na", "Cl"]
    pos = reference.random_configuration(64, cell, rng, min_dist=1.8)
    species = reference.random_species(64, 2, rng)
    basis = mldyn.Radial((("exp", 1.2), ("power", 4.0), ("gauss", 1.0)), r_cut=5.0, r_on=4.0)
    c = rng.uniform(0.5, 2.0, size=(2, 2, len(basis)))

    def model_of(a, _b):
        return mldyn.AgentLossModel.pair_potential(names, basis, a.reshape(2, 2, len(basis)))

    model = scaled(model_of, c.reshape(2, -1), None, pos, species, cell)
    assert model.conservative
    _, losses = reference.model_file_forces(model.to_dict(), pos, species, cell)
    energy = reference.pair_energy(pos, species, basis.functions, model.A.reshape(2, 2, -1), cell, basis.r_cut,
                                   basis.r_on)
    assert abs(0.5 * losses.sum() - energy) <= 1e-12 * abs(energy), "oracle: 1/2 sum H_k is not the pair energy"
    return case("A conservative pair potential (B = 0, A symmetric in the species pair) on 64 random atoms of 2 "
                "species in an orthorhombic 11 x 12 x 13 Å cell; exp, r^-4 and gauss functions, r_cut 5.0 Å, "
                "r_on 4.0 Å; 1/2 sum H_k is the pair energy.",
                seed, [names[s] for s in species], pos, cell, thermal_velocities(model.masses[species], rng), model)


def case_linear_orthorhombic(seed=5):
    rng = np.random.default_rng(seed)
    cell = np.diag([10.5, 10.0, 11.0])
    pos = reference.random_configuration(50, cell, rng, min_dist=1.5)
    species = reference.random_species(50, 2, rng)
    basis = mldyn.Radial((("exp", 0.7), ("gauss", 2.5), ("power", 1.0)), r_cut=4.8)
    c = random_model_case(
        "A linear model (\"loss\": \"linear\", B = 0, A not symmetric in the species pair, so not a pair "
        "potential) on 50 random atoms of 2 species in an orthorhombic cell; hard cutoff r_cut 4.8 Å.",
        seed, rng, ["Li", "F"], basis, pos, species, cell, 0.0)
    assert not c["model"].quadratic and not c["model"].conservative
    return c


def case_two_radial_descriptors_triclinic(seed=6):
    rng = np.random.default_rng(seed)
    cell = lower_triangular([[9.0, 0.0, 0.0], [-2.0, 9.4, 0.0], [1.5, -3.0, 10.0]])
    pos, species = reference.water_box(16, cell, rng)
    short = mldyn.Radial((("exp", 2.0), ("power", 3.0)), r_cut=3.0, r_on=2.2)
    long = mldyn.Radial((("gauss", 1.2), ("gauss", 3.0), ("exp", 0.5)), r_cut=None, r_on=3.5)
    return random_model_case(
        "16 water molecules in a triclinic cell (negative tilts) with two radial descriptors: a short one (exp, "
        "r^-3; r_cut 3.0 Å, r_on 2.2 Å) and a long one (two gauss, exp; r_cut null = half the smallest "
        "perpendicular width, r_on 3.5 Å); quadratic model over the concatenated row.",
        seed, rng, ["O", "H"], [short, long], pos, species, cell, 0.01)


def case_water_radial_angular_quadratic_block(seed=7):
    rng = np.random.default_rng(seed)
    cell = lower_triangular([[9.6, 0.0, 0.0], [1.7, 9.2, 0.0], [-1.1, 2.2, 9.8]])
    pos, species = reference.water_box(18, cell, rng)
    radial = mldyn.Radial((("exp", 1.0), ("gauss", 1.5), ("power", 1.0)), r_cut=4.3, r_on=3.7)
    angular = mldyn.Angular((("gauss", 0.8), ("exp", 1.2)), 3, r_cut=3.4, r_on=2.9)
    names = ["O", "H"]
    Fq, F = radial.size(2), radial.size(2) + angular.size(2)
    A, B = random_quadratic(2, F, rng, 0.02)
    B = B[:, :Fq, :Fq]

    def model_of(a, b):
        return mldyn.AgentLossModel(names, [radial, angular], a, b)

    model = scaled(model_of, A, B, pos, species, cell)
    assert model.n_quadratic == Fq and model.n_features == F
    return case("18 water molecules in a triclinic cell with a radial descriptor (exp, gauss, r^-1; r_cut 4.3 Å, "
                "r_on 3.7 Å) in the quadratic block and an angular one (power spectrum, l = 1..3, gauss and exp "
                "channels; r_cut 3.4 Å, r_on 2.9 Å, shorter than the radial one) entering linearly.",
                seed, [names[s] for s in species], pos, cell, thermal_velocities(model.masses[species], rng), model)


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_") and callable(fn)}


# ----------------------------------------------------------------------------- building and writing

def resolved_cutoffs(model, cell):
    """Every descriptor's cutoff (Å) as the core resolves it for ``cell``."""
    return [reference.max_cutoff(cell) if d["r_cut"] is None else float(d["r_cut"]) for d in model["descriptors"]]


def check_knife_edges(positions, cell, cutoffs):
    """Refuse a structure with a pair within KNIFE_EDGE of a cutoff (or of another atom)."""
    q = np.asarray(positions)
    i, j = np.triu_indices(len(q), k=1)
    r = np.linalg.norm(reference.minimum_image(q[j] - q[i], cell), axis=1)
    assert r.min() > 0.5, f"atoms {r.min():.3f} Å apart"
    for rc in cutoffs:
        if math.isfinite(rc):
            gap = float(np.min(np.abs(r - rc)))
            assert gap > KNIFE_EDGE, f"a pair lies {gap:.2e} Å from the cutoff {rc} Å"


def build(name) -> dict:
    """The full case ``name``: its definition and the oracle's expected forces and losses."""
    c = CASES[name]()
    model = c["model"]
    model.metadata = {"source": "tests/cases/generate.py", "case": name}
    model_dict = json.loads(json.dumps(model.to_dict()))
    cell = None if c["cell"] is None else np.asarray(c["cell"], dtype=float)
    positions = np.asarray(c["positions"], dtype=float)
    species = np.array([model_dict["species"].index(s) for s in c["symbols"]])
    check_knife_edges(positions, cell, resolved_cutoffs(model_dict, cell))
    forces, losses = reference.model_file_forces(model_dict, positions, species, cell)
    return {
        "name": name,
        "description": c["description"],
        "seed": c["seed"],
        "structure": {
            "symbols": c["symbols"],
            "positions": positions.tolist(),
            "cell": None if cell is None else cell.tolist(),
            "velocities": np.asarray(c["velocities"], dtype=float).tolist(),
        },
        "model": model_dict,
        "expected": {"forces": forces.tolist(), "losses": losses.tolist()},
        "tolerance": TOLERANCE,
        "units": {"positions": "angstrom", "cell": "angstrom", "velocities": "angstrom/fs",
                  "forces": "eV/angstrom", "losses": "eV"},
    }


def dumps(obj, indent=0) -> str:
    """JSON with every list of scalars on one line (floats as Python's shortest round-trip repr)."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(x, (list, dict)) for x in obj):
        return "[\n" + ",\n".join(inner + dumps(x, indent + 1) for x in obj) + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False, ensure_ascii=False)


def path_of(name) -> Path:
    return HERE / f"{name}.json"


def _same(stored, fresh) -> bool:
    """Equal structure and values, floats to 1e-12 relative: the model's coefficients are scaled by the
    oracle's largest force, whose last bit depends on numpy's summation order (it changed with numpy)."""
    if isinstance(fresh, dict):
        return isinstance(stored, dict) and stored.keys() == fresh.keys() and all(_same(stored[k], fresh[k]) for k in fresh)
    if isinstance(fresh, list):
        return isinstance(stored, list) and len(stored) == len(fresh) and all(map(_same, stored, fresh))
    if isinstance(fresh, float) and isinstance(stored, (int, float)) and not isinstance(stored, bool):
        return abs(stored - fresh) <= 1e-12 * max(abs(fresh), 1e-300)
    return stored == fresh


def differences(name) -> list[str]:
    """What differs between the stored case ``name`` and a fresh build (empty if nothing does)."""
    path = path_of(name)
    if not path.exists():
        return [f"{path.name}: missing"]
    stored, fresh = json.loads(path.read_text(encoding="utf-8")), build(name)
    for case in (stored, fresh):       # the writer's version is informative only
        case.get("model", {}).pop("mldyn_version", None)
    out = [f"{name}: '{k}' differs" for k in fresh if k != "expected" and not _same(stored.get(k), fresh[k])]
    for k in ("forces", "losses"):
        ref = np.asarray(fresh["expected"][k])
        got = np.asarray(stored.get("expected", {}).get(k, []))
        if got.shape != ref.shape or reference.rel_diff(got, ref) > 1e-12:
            out.append(f"{name}: expected {k} differ from the oracle")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help=f"cases to write (default: all of {sorted(CASES)})")
    ap.add_argument("--check", action="store_true", help="compare the files with their definitions; write nothing")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.names) - set(CASES))
    if unknown:
        ap.error(f"unknown cases {unknown}; known: {sorted(CASES)}")
    names = args.names or sorted(CASES)
    if args.check:
        problems = [p for name in names for p in differences(name)]
        print("\n".join(problems) or f"{len(names)} cases up to date")
        return 1 if problems else 0
    for name in names:
        path_of(name).write_text(dumps(build(name)) + "\n", encoding="utf-8")
        print(f"wrote {path_of(name).relative_to(HERE.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
