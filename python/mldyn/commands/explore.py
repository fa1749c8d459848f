"""mldyn explore DATA -o DIR: active learning with CP2K in the loop (see mldyn.explore.loop)."""
from __future__ import annotations

import argparse
import sys


def _threshold(value: str):
    if value == "auto":
        return None
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a force in eV/Å, got {value!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 eV/Å, got {value}")
    return x


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="*", metavar="DATA",
                   help="the original ab initio run(s), as for mldyn fit (a CP2K run directory with its input deck)")
    p.add_argument("-o", "--output", metavar="DIR", help="exploration directory to create (explore.json, models/, "
                                                         "iter-NNN/, labels/, report.md, model.json)")
    p.add_argument("--restart", metavar="DIR", help="continue the exploration in DIR from its last finished stage "
                                                    "(also: pick up CP2K outputs made with --labels-later)")
    p.add_argument("--cp2k-input", metavar="FILE",
                   help="the CP2K deck of the original run; its electronic structure (method, basis, cutoffs, SCF) is "
                        "reused for the single points (default: the *.inp file in the first DATA directory)")
    p.add_argument("--cp2k", metavar="COMMAND",
                   help="command that runs CP2K, '-i sp.inp -o sp.out' appended, e.g. \"mpirun -np 2 cp2k.psmp\" "
                        "(default: the cp2k found, with the mpirun of its own directory when there is one)")
    p.add_argument("--temperatures", type=float, nargs="+", default=[550.0, 650.0], metavar="K",
                   help="learned NVT runs of each iteration (default: 550 650)")
    p.add_argument("--densities", type=float, nargs="+", default=[1.0], metavar="X",
                   help="explore at these densities, as factors of the start frame's (cell and positions scaled; a "
                        "run per temperature and density; default 1, e.g. 0.9 1 adds an expanded box)")
    p.add_argument("--steps", type=int, default=10000, help="MD steps per run (default 10000 = 5 ps at 0.5 fs)")
    p.add_argument("--dt", type=float, default=0.5, help="time step, fs (default 0.5)")
    p.add_argument("--traj-every", type=int, default=4, help="a frame every K steps, each scored (default 4: 2 fs, which resolves the O-H stretch in the report)")
    p.add_argument("--iterations", type=int, default=None,
                   help="at most this many label-and-refit rounds (default 3; with --restart: a new total)")
    p.add_argument("--frames", type=int, default=24, help="at most this many CP2K single points per iteration "
                                                          "(default 24)")
    p.add_argument("--threshold", type=_threshold, default=None, metavar="EV_A",
                   help="a frame is a candidate when an agent's force uncertainty exceeds this, eV/Å (default auto: "
                        "twice the largest frame uncertainty of the first model on the original run)")
    p.add_argument("--min-separation", type=float, default=100.0, metavar="FS",
                   help="frames taken from one run are at least this far apart in time (default 100 fs)")
    p.add_argument("--labels-later", action="store_true",
                   help="write the CP2K inputs and stop (for a batch system); run them, then --restart DIR")
    p.add_argument("--no-checks", action="store_true",
                   help="fit without the stability checks (faster; the default fit returns only a model that passes "
                        "them, see mldyn fit)")
    p.add_argument("--init", help="start of every run (default: the last frame of the first DATA)")
    p.add_argument("--labels-weight", type=float, default=1.0, metavar="W",
                   help="weight of the CP2K-labelled frames in each refit, the original run's being 1 (default 1: "
                        "every force alike; see mldyn fit --weights). The force uncertainty takes weights as "
                        "precisions, so W > 1 on frames the model fits worse makes it more conservative")
    p.add_argument("--seed", type=int, default=0, help="seed of the runs' initial velocities, drawn at each run's "
                   "temperature (default 0; run j of iteration i draws from SEED + 1000 i + j)")
    p.add_argument("--quiet", action="store_true", help="no progress display")


def run(args) -> int:
    from ..explore.loop import ExploreConfig, ExploreWaiting, explore

    try:
        if args.restart:
            # --cp2k on a restart runs the single points here (ending a --labels-later exploration's waiting)
            given = {"cp2k": args.cp2k, "labels_later": True if args.labels_later else False if args.cp2k else None,
                     "iterations": args.iterations}
            if args.data or args.output:
                print("mldyn explore: error: --restart DIR continues with the settings in DIR/explore.json; it takes "
                      "no DATA or -o (and of the options only --iterations, --cp2k, --labels-later, --quiet; "
                      "others are ignored)",
                      file=sys.stderr)
                return 2
            state = explore(None, args.restart, restart=True, progress=not args.quiet, overrides=given)
            outdir = args.restart
        else:
            if not args.data or not args.output:
                print("mldyn explore: error: give DATA and -o DIR (or --restart DIR)", file=sys.stderr)
                return 2
            cfg = ExploreConfig(data=list(args.data), cp2k_input=args.cp2k_input, cp2k=args.cp2k,
                                temperatures=list(args.temperatures), densities=list(args.densities),
                                steps=args.steps, dt=args.dt,
                                traj_every=args.traj_every, iterations=args.iterations or 3, frames=args.frames,
                                threshold=args.threshold, min_separation_fs=args.min_separation,
                                labels_later=args.labels_later, init=args.init, seed=args.seed,
                                labels_weight=args.labels_weight,
                                fit={"checks": False} if args.no_checks else {})
            state = explore(cfg, args.output, progress=not args.quiet)
            outdir = args.output
    except ExploreWaiting as exc:
        print(f"mldyn explore: waiting for CP2K: {exc}", file=sys.stderr)
        return 3
    print(f"mldyn explore: {state['finished']}; model: {outdir}/model.json; report: {outdir}/report.md")
    return 0
