"""Fitting agent-loss models to reference forces (the paper's sections 4-5.2): the whole recipe.

Contiguous time blocks (equilibration dropped, train, validation, test), normal equations per
species on train and validation, the requested loss with ridge and selection chosen on
validation, Table 1 (linear and quadratic) measured directly on the test block, and a model that
stores and evaluates only the functions some species kept. Optionally (the recommended recipe,
:data:`RECOMMENDED`): short-range walls below the training floors and stability checks that
choose, among ridges in order of validation error, the first model that passes them
(:mod:`mldyn.fit.stability`).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace

import numpy as np
from threadpoolctl import threadpool_limits

from ..cell import default_cutoff
from ..dataset import Dataset, DatasetSplit, EmptyBlockError
from ..descriptors import Angular, Radial, as_descriptors
from ..model import AgentLossModel
from .design import FORCE_CHANGE_MAX_GAP_FS, Parametrization, accumulate, feature_keys
from .metrics import block_metrics, direct_metrics, evaluate_forces, pooled_metrics
from .normal_equations import NormalEquations
from .species_fit import RIDGE_GRID, fit_kept, fit_species
from .uncertainty import model_parameter_index, species_covariance
from .stability import (StabilityChecks, md_probe, scan_repulsion, training_floors, wall_descriptor,
                        wall_strengths, PROBE_HEAT, WALL_STRENGTH_EV_PER_AMU)

__all__ = ["fit_model", "fit_recommended", "FitReport", "resolve_cutoffs", "pruned_model", "RECOMMENDED",
           "RECOMMENDED_RADIAL", "RECOMMENDED_ANGULAR", "RECOMMENDED_FORCE_CHANGES"]

#: Candidates of the stability checks, in order: the ridge is chosen on validation among the grid's
#: values at or above each of these floors in turn, until a candidate passes.
RIDGE_FLOORS = (0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2)

#: The radial descriptor of the recommended recipe: the paper's three families at a coarser spacing
#: (10 of its 18 functions; on the bundled water the other 8 add nothing the angular invariants do not).
#: Shorter-range functions (exp 2, 4, 8 /Å; Gaussians of 0.35-0.7 Å) do not stiffen the stretched O-H
#: bond: learned stretch peak 3032-3060 cm-1 over 10 runs each against 3049 without them (CP2K 3217;
#: notes of issue 11). They would cost nothing in MD (PairTable folds all radial functions).
RECOMMENDED_RADIAL = Radial((("exp", 1.0), ("exp", 0.5), ("exp", 1 / 3), ("exp", 0.25), ("exp", 1 / 6),
                             ("gauss", 1.0), ("gauss", 2.0), ("gauss", 3.0), ("gauss", 5.0), ("power", 1.0)))

#: The angular descriptor of the recommended recipe: 5 Gaussian channels (0.5-2 Å), l = 1..4, 3.5 Å
#: cutoff (the first hydration shell; short, so cheap). Chosen with the force changes (RECOMMENDED_FORCE_CHANGES)
#: on learned MD of the bundled water against CP2K (10 runs each, notes of issue 11): 4 channels (0.7-2 Å)
#: at l_max 5, the same MD cost, stretch 3049 -> 3160 cm-1 with the force changes but hops 1.04 -> 1.44 per
#: H per ps (CP2K 3217, 0.73); these 5 channels at l_max 4: stretch 3107 -> 3185, hops 0.77 -> 0.59
#: (force changes of weight 50 in this comparison).
#: l_max 5 with 5 channels is 1.18x the MD step (slower than LAMMPS's SPC/Fw), for hops 0.70 and held-out
#: H error 0.264 (0.307 here). Cheaper angular parts raise the hopping 1.6-1.8x (3 channels, a 3.0 Å
#: cutoff); a first channel narrower than 0.5 Å is unstable in learned MD (0.4 Å: every run stopped).
RECOMMENDED_ANGULAR = Angular((("gauss", 0.5), ("gauss", 0.7), ("gauss", 1.0), ("gauss", 1.5), ("gauss", 2.0)),
                              l_max=4, r_cut=3.5)

#: Force changes of the recommended recipe (tau, fs; :func:`fit_model`'s ``force_changes``; weight
#: (tau / dt)^2 = 25 at CP2K's 0.5 fs). Learned O-H stretch peak against CP2K's 3217 cm-1 (bundled water,
#: 6-10 runs each, notes of issue 11), fitted on steps 0-799 / 0-599 / 300-799: tau 0: 3105 / 3165 / 3144;
#: 2.5: 3204 / 3197 / 3280; 3.5: 3185 / 3218 / 3324 (+3.3 %: too strong on some data). Held-out force
#: errors stay within 0.01; hops fall (0.72 -> 0.55-0.61 at 2.5; CP2K 0.73). Why: at fixed environment
#: (CP2K finite differences, 12 hydrogens) the local O-H stretch frequency spreads 2380-3710 cm-1 (SD 458);
#: the forces-only fit spreads it wider (SD 591: hydrogen-bonded O-H too soft, free ones too stiff) and the
#: force changes narrow it (weight 50: SD 550). The same tau at 1 fs spacing (weight 12.5 instead of 50)
#: gave 3203 against 3185: the weight in tau carries over between frame spacings.
RECOMMENDED_FORCE_CHANGES = 2.5

#: The recommended recipe (``mldyn fit DATA`` without options): radial and angular invariants in a
#: linear loss, walls below the training floors and the stability checks. Linear, because the
#: quadratic term extrapolates: its force coefficients A + B phi change with phi, and on the bundled
#: water the oxygens' quadratic term made an environment more crowded than any in the data attract
#: more the more crowded it got (1-3 of 10 learned 10 ps runs fell into a dense state, O-O piled up
#: below the closest training pair; none of 10 with the linear loss). The quadratic block lowers the
#: test force error by 0-5 %, less than one more angular l gains (benchmarks/RESULTS.md, Table 1;
#: benchmarks/FIDELITY.md). With ``loss="quadratic"`` only the radial invariants enter the quadratic
#: block (Table 1's quadratic row).
RECOMMENDED = {"descriptors": (RECOMMENDED_RADIAL, RECOMMENDED_ANGULAR), "loss": "linear",
               "quadratic_descriptors": 1, "walls": WALL_STRENGTH_EV_PER_AMU, "checks": True,
               "force_changes": RECOMMENDED_FORCE_CHANGES}


def resolve_cutoffs(descriptors, dataset) -> tuple:
    """``descriptors`` with explicit cutoffs: their own, or half the smallest perpendicular cell
    width over the frames of the dataset (or of every dataset in a list: the paper's minimum-image
    convention)."""
    systems = [dataset] if isinstance(dataset, Dataset) else list(dataset)
    out = []
    for d in as_descriptors(descriptors):
        if d.r_cut is None:
            if any(s.cells_f33 is None for s in systems):
                raise ValueError(f"{d.family} descriptor: an isolated dataset (no cell) needs an explicit cutoff r_cut (Å)")
            r_cut = min(default_cutoff(np.unique(s.cells_f33, axis=0)) for s in systems)
            if d.r_on is not None and not d.r_on < r_cut:
                raise ValueError(f"{d.family} descriptor: switching start r_on={d.r_on} Å must be below the cutoff "
                                 f"{r_cut:.6g} Å")
            d = d.with_cutoff(r_cut)
        out.append(d)
    return tuple(out)


@dataclass
class FitReport:
    """What ``fit_model`` did: the model, Table 1, the per-species fits and the parametrization."""

    model: AgentLossModel
    table: dict           # {"linear"|"quadratic": {species: {"rmse", "rms_reference", "relative_rmse"}}}
    species_fits: dict    # {species: SpeciesFit} for the requested loss (thetas in `parametrization`)
    split_frames: dict    # {"train": n, "validation": n, "test": n, "dropped": n}
    parametrization: Parametrization  # of the full (unpruned) descriptors
    stability: StabilityChecks | None = None   # of the returned model, when checked
    candidates: list = field(default_factory=list)  # every candidate checked, in order

    def kept_labels(self, species: str) -> list[str]:
        """Readable names of the units (functions) one species kept."""
        return [self.parametrization.unit_label(u) for u in self.species_fits[species].kept_units]


def kept_features(par: Parametrization, kept_units, quadratic: bool = True) -> tuple[Parametrization, np.ndarray]:
    """The parametrization over only the functions some species kept (the union over species of
    ``kept_units``) and, for each of its invariants, its index (F_small,) in ``par``'s row."""
    S = par.n_species
    used = [sorted({par.units[u][1] for k in kept_units for u in k if par.units[u][0] == d})
            for d in range(len(par.descriptors))]
    keep_d = [d for d in range(len(par.descriptors)) if used[d]]
    nq_full = len(par.descriptors) if par.quadratic_descriptors is None else par.quadratic_descriptors
    descriptors = tuple(par.descriptors[d].select(used[d]) for d in keep_d)
    small = Parametrization(descriptors, S, quadratic, sum(1 for d in keep_d if d < nq_full))
    where = {key: f for f, key in enumerate(feature_keys(par.descriptors, S))}
    index = np.array([where[key] for key in feature_keys(descriptors, S, [used[d] for d in keep_d], keep_d)],
                     dtype=int)
    return small, index


def pruned_model(par: Parametrization, names, masses, thetas, kept_units, quadratic: bool) -> AgentLossModel:
    """The model over only the functions some species kept (the union over species), with the
    coefficients of ``thetas`` (per species, in ``par``) moved to their invariants' new places."""
    S = len(names)
    small, index = kept_features(par, kept_units, quadratic)
    descriptors = small.descriptors
    Fq = small.n_quadratic
    A = np.zeros((S, small.n_features))
    B = np.zeros((S, Fq, Fq))
    for s in range(S):
        a, b = par.coefficients(thetas[s])
        A[s] = a[index]
        B[s] = b[np.ix_(index[:Fq], index[:Fq])]
    return AgentLossModel(names, descriptors, A, B if quadratic else None, masses)


def _split_system(dataset: Dataset, split):
    """Train, validation and test blocks of one system: contiguous time blocks after equilibration, or
    for independent frames (no time axis) shuffled with seed 0 and nothing dropped."""
    timed = dataset.has_time_axis
    if split is None:
        split = (0.2, 0.6, 0.1, 0.1) if timed else (0.0, 0.8, 0.1, 0.1)
    if timed:
        return dataset.split(*split)
    if split[0] > 0:
        raise ValueError(f"split: the data have no time axis (independent frames), so there is no equilibration to "
                         f"drop; give 0 as its fraction (got {split[0]:g})")
    return dataset.shuffled_split(*split[1:], seed=0)


def _whole_systems(small: list, split) -> list:
    """(index into ``small``, DatasetSplit) pairs that put each of the ``small`` systems whole into train,
    validation or test: the systems shuffled (seed 0), then cut by frame count in the split's proportions
    (structures of a MACE-style file)."""
    fr = np.array((0.8, 0.1, 0.1) if split is None else split[1:], dtype=float)
    cum = np.cumsum(fr) / fr.sum()
    order = np.random.default_rng(0).permutation(len(small))
    frames = np.array([small[k].n_frames for k in order], dtype=float)
    mid = (np.cumsum(frames) - frames / 2) / frames.sum()  # each system's middle, as a fraction of all frames
    out = []
    for k, m in zip(order, mid):
        block = int(np.searchsorted(cum, m, side="right"))
        b = [None, None, None]
        b[min(block, 2)] = small[k]
        out.append((int(k), DatasetSplit(b[0], b[1], b[2], 0, {})))
    return out


def system_weights(weights, n_systems: int) -> list:
    """One finite weight > 0 per system (None: 1 each), checked."""
    if weights is None:
        return [1.0] * n_systems
    weights = [float(w) for w in weights]
    if len(weights) != n_systems:
        raise ValueError(f"weights: {len(weights)} given for {n_systems} systems; give one per system")
    bad = [w for w in weights if not 0 < w < math.inf]
    if bad:
        raise ValueError(f"weights must be finite and > 0 (a system with weight 0 is better left out), got {bad[0]:g}")
    return weights


def _split_text(dataset: Dataset, blocks) -> str:
    if not dataset.has_time_axis:
        return (f"data: {dataset.n_frames} frames without a time axis: shuffled (seed 0) into " + ", ".join(
            f"{name} {b - a}" for name, (a, b) in blocks.frame_ranges.items() if b > a and name != "equilibration")
            + " frames, none dropped (--split sets the fractions)")
    return (f"data: {dataset.n_frames} frames; " + ", ".join(
        (f"{a}-{b - 1} dropped as equilibration" if name == "equilibration" else f"{name} {a}-{b - 1}")
        for name, (a, b) in blocks.frame_ranges.items() if b > a) + " (frame indices; --split sets the fractions)")


def fit_model(*args, **kwargs) -> FitReport:
    """:func:`_fit_model` with numpy's BLAS on one thread: the fit alternates the core's OpenMP kernels
    (design rows, probes) with BLAS calls, and two thread pools on the same cores fight, worst when
    another process is busy there too (benchmarks/bench_load.py: the paper fit of the bundled run under
    two busy processes 17.7 s with BLAS threads, 10.2 s without; quiet 6.2 s and 7.2 s)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_model(*args, **kwargs)


def _fit_model(dataset, descriptors=None, loss: str = "quadratic", select=None, ridge="auto",
               split=None, progress: bool = True, quadratic_descriptors: int | None = None,
               walls: float | None = None, checks: bool = False, probe_steps: int | None = None,
               weights=None, force_changes: float = 0.0) -> FitReport:
    """Fit an agent-loss model to ``dataset`` (a :class:`mldyn.dataset.Dataset` with forces, or a list of
    them: several systems of any sizes and species, each split on its own; their normal equations add
    up, the test figures pool every agent, the cutoff default and the training floors cover all, and
    the stability checks run on the system with the most validation frames).

    descriptors : one descriptor or a sequence (default: the paper's 18 radial functions).
    loss : "linear" or "quadratic"; with ``quadratic_descriptors`` = k only the first k descriptors'
        invariants enter the quadratic term (the others only linearly).
    select : None, K units or "auto" (backward elimination, see :func:`fit_species`).
    ridge : "auto" (chosen on validation) or a relative strength >= 0.
    split : fractions (equilibration dropped, train, validation, test) of contiguous time blocks
        (default 0.2, 0.6, 0.1, 0.1); for data without a time axis (:attr:`Dataset.has_time_axis`) the
        frames are shuffled (seed 0) and cut into train, validation and test, nothing dropped (default
        0, 0.8, 0.1, 0.1).
    walls : strength of short-range walls at the training floors, eV per amu of the pair's reduced
        mass (:func:`mldyn.fit.stability.wall_strengths`; None: no walls).
    checks : run the stability checks; the returned model is the first of the candidates (the
        ridge chosen on validation among those >= a floor of 0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2)
        that passes them; ``report.stability.passed`` is False when none did (the last is returned).
    probe_steps : steps of each MD probe run (default :data:`mldyn.fit.stability.PROBE_STEPS`).
    weights : one weight > 0 per system (default 1 each): each force component of a system counts that
        many times in the training and validation sums (the ridge is chosen on the weighted validation
        error); the test figures weight every agent alike. The force uncertainty takes the weights as
        precisions (a force of weight w has noise variance sigma^2 / w).
    force_changes : tau, fs (0: off): also fit the change of every force between consecutive frames at
        most 2 fs apart (:func:`mldyn.fit.design.accumulate`), each pair weighted (tau / dt)^2, in training
        and in choosing the ridge (and the selection) on validation; the reported validation and test errors are of the forces
        alone, and so is the force uncertainty. Frames without known times give no change rows.
    Table 1 (linear and quadratic relative RMSE per species on the test block) is always
    computed: the linear parameters are a subset of the quadratic ones.
    """
    if loss not in ("linear", "quadratic"):
        raise ValueError(f"loss must be 'linear' or 'quadratic', got {loss!r}")
    if ridge != "auto" and not (0 <= float(ridge) < math.inf):
        raise ValueError(f"ridge must be 'auto' or a finite number >= 0, got {ridge!r}")
    if not 0 <= float(force_changes) < math.inf:
        raise ValueError(f"force_changes must be a time >= 0 in fs (0: off), got {force_changes!r}")
    if walls is not None and not (float(walls) > 0):
        raise ValueError(f"walls must be a positive strength in eV per amu of reduced mass (or None), got {walls!r}")
    systems = [dataset] if isinstance(dataset, Dataset) else list(dataset)
    if not systems:
        raise ValueError("fit: no data")
    names = list(dict.fromkeys(sp for d in systems for sp in d.species_names))  # every system's species, in order
    systems = [d.with_species(names) for d in systems]
    weights = system_weights(weights, len(systems))
    descriptors = resolve_cutoffs(descriptors if descriptors is not None else Radial.paper(), systems)
    parts, part_weights, small = [], [], []  # one DatasetSplit per system; too small to split: whole into one block
    for d, w in zip(systems, weights):
        try:
            parts.append(_split_system(d, split))
            part_weights.append(w)
        except EmptyBlockError:
            if len(systems) == 1:
                raise
            small.append((d, w))
    if small:
        for k, blocks in _whole_systems([d for d, _ in small], split):
            parts.append(blocks)
            part_weights.append(small[k][1])
        small = [d for d, _ in small]
    if ridge == "auto" and all(b.validation is None for b in parts):
        raise ValueError("ridge 'auto' is chosen on the validation block, and the split gives it no frames "
                         "(validation fraction 0): give the validation block a fraction > 0, or a fixed ridge")
    S = len(names)
    par = Parametrization(descriptors, S, True, quadratic_descriptors)
    P = par.n_parameters
    _check_memory(par, S, 6 if force_changes else 2)
    if progress:
        split_systems = [d for d in systems if all(d is not x for x in small)]
        weighted = any(w != 1 for w in weights)
        for k, (d, blocks, w) in enumerate(zip(split_systems, parts, part_weights)):
            print(("" if len(systems) == 1 else f"system {k + 1} of {len(systems)} ({d.n_atoms} atoms"
                   + (f", weight {w:g}" if weighted else "") + "): ") + _split_text(d, blocks), flush=True)
        if small:
            counts = {name: sum(getattr(b, name) is not None for b in parts[len(split_systems):])
                      for name in ("train", "validation", "test")}
            print(f"{len(small)} systems too small to split ({sum(d.n_frames for d in small)} frames): whole systems "
                  f"shuffled (seed 0) into train {counts['train']}, validation {counts['validation']}, test "
                  f"{counts['test']}", flush=True)
    # per block and species: the forces' normal equations, and the force changes' (force_changes)
    kinds = ("forces", "changes") if force_changes else ("forces",)
    eqs = {(name, kind): [NormalEquations.zeros(P) for _ in names] for name in ("train", "validation") for kind in kinds}
    for blocks, w in zip(parts, part_weights):
        for name, blk in (("train", blocks.train), ("validation", blocks.validation)):
            if blk is not None:
                for kind, per_species in zip(kinds, accumulate(
                        blk, par, desc=f"invariants ({name})", progress=progress, change_time_fs=force_changes)):
                    for s_id, ne in enumerate(per_species):
                        eqs[name, kind][s_id] = eqs[name, kind][s_id].merged(ne if w == 1 else ne.scaled(w))
    change_rows = {name: sum(ne.n_rows for ne in eqs.get((name, "changes"), [])) // 3 for name in ("train", "validation")}
    if force_changes and progress:
        print(f"force changes (tau {force_changes:g} fs): {change_rows['train']} agent-frame pairs in training, "
              f"{change_rows['validation']} in validation" + ("" if change_rows["train"] else
              f" (no consecutive frames at most {FORCE_CHANGE_MAX_GAP_FS:g} fs apart with known times: forces "
              "alone; an extended XYZ needs time= in fs on each frame's comment line, or --timestep)"), flush=True)
    fitted = {name: ([f.merged(c) for f, c in zip(eqs[name, "forces"], eqs.pop((name, "changes")))]
                     if force_changes else eqs[name, "forces"]) for name in ("train", "validation")}
    allowed = {"linear": par.linear_mask(), "quadratic": np.ones(P, dtype=bool)}

    def blocks_for(s):
        tr, va = fitted["train"][s], fitted["validation"][s]
        return tr, (va if va.n_rows else None)

    def force_errors(fits_now):  # validation errors of the forces alone, whatever was fitted
        va = eqs["validation", "forces"]
        return {sp: replace(f, validation_relative_rmse=va[s].relative_rmse(f.theta) if va[s].n_rows else math.nan)
                for sp, f in fits_now.items() for s in [names.index(sp)]}

    # The requested loss, with feature selection if asked.
    fits = force_errors({sp: fit_species(*blocks_for(s), par, ridge, select, allowed[loss])
                         for s, sp in enumerate(names)})
    masses = [next(float(d.masses_n[np.flatnonzero(d.species_n == s)[0]]) for d in systems if np.any(d.species_n == s))
              for s in range(S)]
    floors = {}
    for blocks in parts:  # the closest training distance of each species pair over every system
        for pair, r in (training_floors(blocks.train).items() if blocks.train is not None else ()):
            floors[pair] = min(r, floors.get(pair, np.inf))
    floors = {pair: r for pair, r in floors.items() if np.isfinite(r)}  # a pair never seen has no floor
    # the stability checks run on one system: the one with the most validation (else training) frames
    check_blocks = max((b for b in parts if b.train is not None),
                       key=lambda b: (b.validation.n_frames if b.validation is not None else 0, b.train.n_frames))

    def candidate(fits_now):
        model = pruned_model(par, names, masses, [fits_now[sp].theta for sp in names],
                             [fits_now[sp].kept_units for sp in names], loss == "quadratic")
        return with_walls(model, floors, walls) if walls is not None else model

    model = candidate(fits)
    stability, tried = None, []
    if checks:
        check_data = check_blocks.validation or check_blocks.train
        probe_t = PROBE_HEAT * data_temperature(check_data)
        for floor in RIDGE_FLOORS if ridge == "auto" else [None]:
            if floor is not None:
                grid = tuple(g for g in RIDGE_GRID if g >= floor) or (floor,)
                fits = force_errors({sp: fit_kept(*blocks_for(s), par, fits[sp].kept_units, "auto",
                                                  fits[sp].selection_curve, allowed[loss], grid)
                                     for s, sp in enumerate(names)})
                model = candidate(fits)
            if progress:
                print(f"  stability checks, candidate {len(tried) + 1} (ridge >= {floor or 0:g}): ", end="", flush=True)
            scan = scan_repulsion(model, check_data, floors)
            probe = md_probe(model, check_data, floors, probe_t, **({"steps": probe_steps} if probe_steps else {}))
            stability = StabilityChecks(scan["passed"] and probe["passed"], floor or 0.0, scan, probe)
            tried.append({"ridge_floor": floor, "ridge": {sp: fits[sp].ridge for sp in names},
                          "validation_relative_rmse": {sp: fits[sp].validation_relative_rmse for sp in names},
                          "passed": stability.passed, "scan_passed": scan["passed"], "probe_passed": probe["passed"]})
            if progress:
                print("passed" if stability.passed else f"failed ({stability.summary()})", flush=True)
            if stability.passed:
                break

    # Table 1: both losses on the kept units, measured directly on the test block (without walls).
    thetas = {}
    for kind in ("linear", "quadratic"):
        for s, sp in enumerate(names):
            thetas[(kind, s)] = (fits[sp].theta if kind == loss else
                                 fit_kept(*blocks_for(s), par, fits[sp].kept_units, ridge, allowed=allowed[kind]).theta)
    tests = [b.test for b in parts if b.test is not None]
    if tests:  # every agent of every system's test block weighted alike
        per_system = [direct_metrics(t, par, thetas, progress=progress) for t in tests]
        measured = {key: pooled_metrics([m[key] for m in per_system]) for key in thetas}
    else:
        measured = {key: block_metrics(NormalEquations.zeros(P), theta) for key, theta in thetas.items()}
    table = {kind: {sp: {k: v for k, v in measured[(kind, s)].items() if k != "n_agents"}
                    for s, sp in enumerate(names)} for kind in ("linear", "quadratic")}
    test_metrics = table[loss]
    if tests and walls is not None:  # the model's own forces, walls included
        own = [evaluate_forces(model, t, progress=False)["species"] for t in tests]
        test_metrics = {sp: {k: v for k, v in pooled_metrics([o[sp] for o in own if sp in o]).items()
                             if k != "n_agents"} for sp in names}

    attach_covariance(model, par, names, fits, eqs["train", "forces"], allowed[loss])
    split_frames = {"dropped": sum(b.dropped_frames for b in parts),
                    "frame_ranges": parts[0].frame_ranges if len(parts) == 1 else [b.frame_ranges for b in parts]}
    split_frames.update({name: sum(getattr(b, name).n_frames for b in parts if getattr(b, name) is not None)
                         for name in ("train", "validation", "test")})
    report = FitReport(model, table, fits, split_frames, par, stability, tried)
    model.metadata = {
        "loss": loss,
        "selected_functions": {sp: report.kept_labels(sp) for sp in names},
        "ridge": {sp: fits[sp].ridge for sp in names},
        "validation_relative_rmse": {sp: fits[sp].validation_relative_rmse for sp in names},
        "test_metrics": test_metrics,
        "table1_test_relative_rmse": {k: {sp: v[sp]["relative_rmse"] for sp in names} for k, v in table.items()},
        "split": {"fractions": None if split is None else list(split), "frames": split_frames},
        "selection_curve": {sp: [[n, e] for n, e, _ in fits[sp].selection_curve] for sp in names},
        "selection_curve_scores": "forces and force changes" if change_rows["validation"] else "forces",
        "closest_pairs_A": floors,
        "system_weights": weights,
        "force_changes": {"time_fs": float(force_changes), "max_gap_fs": FORCE_CHANGE_MAX_GAP_FS,
                          "agent_frame_pairs": change_rows},
        "walls": None if walls is None else {"strength_eV_per_amu": float(walls), "strength_eV": wall_strengths(
            names, masses, walls), "at": "closest training distance"},
    }
    if stability is not None:
        model.metadata["stability"] = {**stability.as_dict(), "candidates": tried}
    return report


def _check_memory(par: Parametrization, n_species: int, copies: int = 2) -> None:
    """Refuse, before any work, a parametrization whose normal equations (``copies`` P x P matrices per
    species: training and validation, and with force changes their change rows and the sums; both losses
    are always fitted, so P counts the quadratic block) would not fit in half of this machine's memory."""
    need = copies * n_species * 8 * par.n_parameters ** 2
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return
    if need > total / 2:
        raise ValueError(
            f"fit: {par.n_features} invariants per agent, {par.n_quadratic} of them in the quadratic block, make "
            f"{par.n_parameters:,} parameters per species, whose normal equations need {need / 2**20:,.1f} MiB "
            f"(this machine has {total / 2**20:,.1f} MiB): put fewer invariants into the quadratic block "
            f"(quadratic_descriptors=1: only the first descriptor's, as the recommended recipe does) or use "
            f"fewer functions")


def attach_covariance(model: AgentLossModel, par: Parametrization, names, fits: dict, train: list, allowed) -> None:
    """Give ``model`` (pruned from ``par``, perhaps with walls) the posterior covariance of every species'
    fitted parameters (:mod:`mldyn.fit.uncertainty`), for its per-agent force uncertainty."""
    _, index = kept_features(par, [fits[sp].kept_units for sp in names], model.quadratic)
    to_model = model_parameter_index(index, par.n_features, par.n_quadratic, model.n_features, model.n_quadratic)
    params, factors, noises, priors = [], [], [], {}
    for s, sp in enumerate(names):
        mask = par.mask_for(fits[sp].kept_units) & allowed
        idx, factor, noise, prior = species_covariance(train[s], mask, fits[sp].ridge, fits[sp].theta)
        params.append([to_model[int(p)] for p in idx])
        factors.append(factor)
        noises.append(noise)
        priors[sp] = prior
    model.set_covariance(params, factors, noises, {"prior_ridge": priors, "training_rows": {
        sp: int(train[s].n_rows) for s, sp in enumerate(names)}})


def fit_recommended(dataset, **overrides) -> FitReport:
    """:func:`fit_model` with the recommended recipe (:data:`RECOMMENDED`), any of it overridden."""
    return fit_model(dataset, **{**RECOMMENDED, **overrides})


def with_walls(model: AgentLossModel, floors: dict, per_amu: float) -> AgentLossModel:
    """``model`` with short-range walls at ``floors`` (strength ``per_amu`` eV per amu of each pair's
    reduced mass) appended as a last, linear radial descriptor."""
    wall, A_wall = wall_descriptor(model.species, floors, wall_strengths(model.species, model.masses, per_amu))
    if wall is None:
        return model
    out = AgentLossModel(model.species, list(model.descriptors) + [wall], np.concatenate([model.A, A_wall], axis=1),
                         model.B if model.quadratic else None, model.masses)
    out.metadata = dict(model.metadata)
    return out


def data_temperature(dataset) -> float:
    """Mean temperature of ``dataset`` (K) from its velocities or its temperatures; 300 K if it has neither."""
    from ..analysis.thermo import temperature

    try:
        return float(np.mean(temperature(dataset)))
    except ValueError:
        return 300.0
