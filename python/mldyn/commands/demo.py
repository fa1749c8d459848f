"""mldyn demo [-o DIR]: the whole story on the bundled CP2K water run.

1. fit the paper's quadratic agent loss with feature selection (7 weight functions);
2. run learned NVT MD from the last bundled CP2K frame at the reference run's mean temperature;
3. compare the learned run with the CP2K reference: figures, a Markdown report and a table.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

# Run settings of the demo. Why these: benchmarks/STABILITY.md (the stability study).
DEMO_STEPS = 4000        # 2 ps at 0.5 fs
DEMO_DT = 0.5            # fs, as CP2K
DEMO_TDAMP = 50.0        # fs
DEMO_CHAIN = 1           # a chain settles above the target for non-conservative forces; one thermostat does not
DEMO_CLIP = 10.0         # eV/Å; the paper clips forces
DEMO_SELECT = 7          # weight functions kept per species, as in the paper


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="mldyn-demo", help="directory for everything (default ./mldyn-demo)")
    p.add_argument("--steps", type=int, default=DEMO_STEPS, help=f"learned MD steps (default {DEMO_STEPS})")
    p.add_argument("--model", help="use this model file instead of fitting one (step 1 is skipped)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from ..io import load_dataset
    from ..md.run import RunConfig, run_md, summary_line
    from ..model import load_model
    from ..report.compare import compare_runs, format_table, load_run
    from .fit import fit_and_report

    if args.steps < 2000:
        raise ValueError(f"the demo runs at least 2000 steps, got --steps {args.steps}")
    t0 = time.perf_counter()
    out = Path(args.output)
    if (out / "run" / "run.json").exists():
        raise ValueError(f"{out} already holds a demo; remove it or pass another -o")
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet
    reference = load_dataset("@h2o32", require_forces=True)
    if args.model:
        print(f"== 1/3 model: {args.model} (given with --model; no fit)")
        model_path = Path(args.model)
        model = load_model(model_path)
    else:
        print("== 1/3 fit: quadratic agent loss, backward elimination to 7 functions (bundled CP2K run @h2o32)")
        model_path = out / "model.json"
        model = fit_and_report(reference, "@h2o32", model_path, loss="quadratic", select=DEMO_SELECT,
                               progress=progress, command="mldyn demo").model

    temperature = float(reference.temperature_f.mean())
    print(f"\n== 2/3 learned NVT MD: {args.steps} steps of {DEMO_DT} fs from the last CP2K frame at "
          f"{temperature:.1f} K (the reference mean), Nosé–Hoover tdamp {DEMO_TDAMP:g} fs, |F| <= {DEMO_CLIP:g} eV/Å")
    cfg = RunConfig(model=str(model_path), init="@h2o32@-1", steps=args.steps, dt=DEMO_DT, ensemble="nvt",
                    temperature=temperature, tdamp=DEMO_TDAMP, chain=DEMO_CHAIN, clip=DEMO_CLIP, traj_every=1,
                    thermo_every=10, checkpoint_every=1000, command="mldyn demo")
    summary = run_md(cfg, out / "run", progress=progress)
    print(summary_line(summary))

    print("\n== 3/3 compare the learned run with the CP2K reference")
    learned, notes = load_run(out / "run")
    result = compare_runs(reference, learned, out / "report", labels=("CP2K", "learned"), model=model,
                          names=("@h2o32 (bundled CP2K run, steps 200-799)", str(out / "run")), progress=progress,
                          model_source=str(model_path), notes=notes)
    print(format_table(result.rows, result.labels, markdown=False))
    if result.forces is not None:
        errs = ", ".join(f"{sp} {v['relative_rmse']:.3f}" for sp, v in result.forces["species"].items())
        print(f"force model relative RMSE on all CP2K frames: {errs}")
    print(f"\nreport: {result.report}")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")
    return 0
