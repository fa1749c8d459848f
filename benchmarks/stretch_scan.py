"""The O-H stretch at fixed environment: O-H bonds scanned with CP2K and with the models.

    python benchmarks/stretch_scan.py [--frames 730 765] [--work DIR] [--write]

The models are fitted on steps 200-699 of the bundled CP2K run (the recommended recipe; the same fitted
to the forces alone, `--force-changes 0`; the paper's radial one with --select 7); frames from steps
700-799, which none saw, are the configurations. In
each frame one hydrogen is moved along its O-H bond by -0.10 ... +0.15 Å, everything else fixed, and
CP2K computes the forces with the run's own deck (`mldyn explore`'s single-point input and launcher;
~1 min per point on 2 cores). The table gives the force on that hydrogen along the bond (eV/Å) for
CP2K and both models, and the local stretch frequency of the O-H pair: the along-bond 2x2 force
constants of H and O from central differences (+-0.02 Å, H and O moved in turn), mass weighted
(cm-1). Results: benchmarks/STRETCH.md; CP2K outputs are kept in --work (rerun reuses them).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _results import machine_info, markdown_table  # noqa: E402

SCAN_A = (-0.10, -0.05, 0.05, 0.10, 0.15)
FD_A = 0.02
AMU_A2_PER_EV_FS2 = 9.64853321e-3  # 1 eV/(amu Å²) in fs⁻²
C_CM_PER_FS = 2.99792458e-5


def bond_of(data, frame: int, seed: int) -> tuple[int, int, np.ndarray, float]:
    """A hydrogen of ``frame`` (chosen with ``seed``), its nearest oxygen, the unit vector O -> H and the length (Å)."""
    sym = list(data.symbols)
    pos, L = data.positions_fnc[frame], np.diag(data.cells_f33[frame])
    hs = [i for i, s in enumerate(sym) if s == "H"]
    os_ = [i for i, s in enumerate(sym) if s == "O"]
    h = hs[np.random.default_rng(seed).integers(len(hs))]
    d = pos[h] - pos[os_]
    d -= L * np.round(d / L)
    o = os_[int(np.argmin((d ** 2).sum(1)))]
    v = pos[h] - pos[o]
    v -= L * np.round(v / L)
    return h, o, v / np.linalg.norm(v), float(np.linalg.norm(v))


def cp2k_forces(deck: str, command: str, work: Path, sym, pos, cell, wfn_guess: Path | None) -> np.ndarray:
    """CP2K forces (n, 3) eV/Å of one configuration; the output in ``work`` is reused if complete. The SCF
    starts from ``wfn_guess`` (a nearby configuration's wavefunction: ~25 SCF steps instead of ~100)."""
    from mldyn.explore.loop import _run_cp2k
    from mldyn.io.cp2k_single_point import SinglePointError, read_single_point, single_point_deck, write_xyz_frame

    work.mkdir(parents=True, exist_ok=True)
    try:
        return read_single_point(work / "sp.out", sym)[1]
    except SinglePointError:
        pass
    write_xyz_frame(work / "coords.xyz", sym, pos)
    guess = str(wfn_guess) if wfn_guess is not None and wfn_guess.exists() else None
    (work / "sp.inp").write_text(single_point_deck(deck, "coords.xyz", cell, wfn_guess=guess))
    (work / "sp.out").unlink(missing_ok=True)
    _run_cp2k(command, work)
    return read_single_point(work / "sp.out", sym)[1]


def stretch_cm1(K_22: np.ndarray, m_o: float, m_h: float) -> float:
    """Local stretch wavenumber (cm-1) of the along-bond force constants K[i, j] = dF_i/dx_j (eV/Å², i, j = H, O)."""
    lam = np.sort(np.linalg.eigvals(np.diag([1 / m_h, 1 / m_o]) @ K_22).real)[0]
    return float(np.sqrt(max(-lam, 0.0) * AMU_A2_PER_EV_FS2) / (2 * np.pi * C_CM_PER_FS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[730, 765], help="steps of the bundled run (>= 700)")
    ap.add_argument("--work", type=Path, default=Path("stretch-scan"))
    ap.add_argument("--write", action="store_true", help="write benchmarks/STRETCH.md")
    args = ap.parse_args()
    import mldyn
    from mldyn.commands.fit import recipe_options
    from mldyn.data import bundled_h2o32_path
    from mldyn.explore.loop import default_cp2k_command
    from mldyn.fit import fit_model

    command = default_cp2k_command()
    if command is None:
        raise SystemExit("no CP2K executable found (Debian: apt-get install cp2k)")
    deck = str(Path(bundled_h2o32_path()) / "in.inp")
    data = mldyn.load_dataset("@h2o32")
    steps = list(map(int, data.steps_f))
    train = data.subset([i for i, st in enumerate(steps) if st < 700])
    models = {"recommended": fit_model(train, progress=False, **recipe_options("recommended")).model,
              "recommended, forces alone": fit_model(train, progress=False,
                                                     **recipe_options("recommended", force_changes=0.0)).model,
              "paper radial": fit_model(train, progress=False, select=7, **recipe_options("paper")).model}
    sym = list(data.symbols)
    m_o, m_h = (float(data.masses_n[sym.index(s)]) for s in ("O", "H"))
    scan_rows, freq_rows, raw = [], [], []
    last_wfn: list[Path | None] = [None]
    for step in args.frames:
        if step < 700 or step not in steps:
            raise SystemExit(f"--frames: step {step} is not among the held-out steps 700-{steps[-1]} of the bundled run")
        frame = steps.index(step)
        h, o, u, r_oh = bond_of(data, frame, step)
        pos0, cell = data.positions_fnc[frame], data.cells_f33[frame]

        def forces(who: str, pos, tag: str) -> np.ndarray:
            if who == "CP2K":
                work = args.work / f"step{step}" / tag
                F = cp2k_forces(deck, command, work, sym, pos, cell, last_wfn[0])
                last_wfn[0] = (work / "sp-RESTART.wfn").resolve()
                return F
            return models[who].forces(pos, sym, cell)

        def moved(atom: int, d: float) -> np.ndarray:
            p = pos0.copy()
            p[atom] += d * u
            return p

        who_all = ["CP2K"] + list(models)
        for d in sorted(SCAN_A + (0.0,)):
            row = [step, f"{d:+.2f}"]
            for who in who_all:
                F = data.forces_fnc[frame] if (who == "CP2K" and d == 0.0) else forces(who, moved(h, d), f"scan{d:+.2f}")
                row.append(f"{F[h] @ u:.3f}")
                raw.append({"step": step, "who": who, "displacement_A": d, "force_h_along_eV_A": float(F[h] @ u)})
            scan_rows.append(row)
        row = [step, f"{r_oh:.3f}"]
        for who in who_all:
            K = np.zeros((2, 2))
            for col, atom in enumerate((h, o)):
                Fp = forces(who, moved(atom, FD_A), f"fd{'HO'[col]}+")
                Fm = forces(who, moved(atom, -FD_A), f"fd{'HO'[col]}-")
                K[:, col] = [(Fp[h] - Fm[h]) @ u / (2 * FD_A), (Fp[o] - Fm[o]) @ u / (2 * FD_A)]
            row.append(f"{stretch_cm1(K, m_o, m_h):.0f}")
            raw.append({"step": step, "who": who, "K_eV_A2": K.tolist()})
        freq_rows.append(row)
    (args.work / "stretch_scan.json").write_text(json.dumps(raw, indent=1))
    # How much restoring force each model adds when the bond is stretched from the frame by the largest step.
    top = max(SCAN_A)
    pull = {}
    for r in raw:
        if "displacement_A" in r and r["displacement_A"] in (0.0, top):
            pull.setdefault((r["step"], r["who"]), {})[r["displacement_A"]] = r["force_h_along_eV_A"]
    ratio_rows = [[step] + [f"{(pull[(step, w)][top] - pull[(step, w)][0.0]) / (pull[(step, 'CP2K')][top] - pull[(step, 'CP2K')][0.0]):.2f}"
                            for w in models] for step in args.frames]
    names = ["CP2K"] + list(models)
    local = np.array([[float(x) for x in r[2:]] for r in freq_rows])  # (frames, CP2K + models)
    summary = [["mean", ""] + [f"{local[:, j].mean():.0f}" for j in range(local.shape[1])],
               ["SD", ""] + [f"{local[:, j].std():.0f}" for j in range(local.shape[1])],
               ["RMS difference from CP2K", "", ""] + [f"{np.sqrt(np.mean((local[:, j] - local[:, 0]) ** 2)):.0f}"
                                                       for j in range(1, local.shape[1])]]
    text = (f"# O-H stretch: one bond scanned with CP2K and the models (stretch_scan.py)\n\n"
            f"_Measured on {machine_info()}; `python benchmarks/stretch_scan.py --frames {' '.join(map(str, args.frames))} --write`._\n\n"
            "Models fitted on steps 200-699 of the bundled CP2K run; configurations from steps 700-799. One hydrogen "
            "moved along its O-H bond, everything else fixed: force on it along the bond (eV/Å, negative = "
            "towards its oxygen).\n\n"
            + markdown_table(["step", "displacement (Å)"] + names, scan_rows)
            + "\nLocal O-H stretch wavenumber (cm⁻¹) at the unmoved frame, from the along-bond force constants of "
              "H and O (central differences, ±0.02 Å):\n\n"
            + markdown_table(["step", "O-H (Å)"] + names, freq_rows + summary)
            + f"\nRestoring force gained by stretching the bond {top:+.2f} Å from the frame, model / CP2K:\n\n"
            + markdown_table(["step"] + list(models), ratio_rows))
    print(text)
    if args.write:
        (HERE / "STRETCH.md").write_text(text)


if __name__ == "__main__":
    main()
