"""The data arguments `mldyn fit` and `mldyn test` share: one or more systems and the reader options."""
from __future__ import annotations

import argparse


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="+",
                   help="one or more systems, each a CP2K run directory, extended XYZ with forces, deepmd/npy "
                        "system, dataset .npz or @h2o32 (the bundled CP2K water run), or a folder of such systems "
                        "(one per subdirectory, as DeePMD-kit keeps them); sizes and species may differ")
    p.add_argument("--forces-key", default=None,
                   help="extended XYZ: the column of reference forces (default: forces, or REF_forces/DFT_forces as "
                        "MACE and NequIP write them; a file with several must name one)")
    p.add_argument("--energy-key", default=None,
                   help="extended XYZ: the per-frame reference energy (default: REF_energy, DFT_energy, energy, ...)")
    p.add_argument("--timestep", type=_timestep, default=None, metavar="FS",
                   help="extended XYZ without a time on each frame: the frames are a trajectory, frame k (or its step) "
                        "at k x FS fs, so that --force-changes can pair consecutive frames")
    p.add_argument("--cp2k-kinds", choices=("merge", "separate"), default=None,
                   help="CP2K runs: kinds of the input's &COORD that share an element (two spin kinds of Co, ...) "
                        "are one species (merge, the default, with a warning) or a species each (separate)")


def _timestep(value: str) -> float:
    try:
        dt = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--timestep takes a time in fs, got {value!r}") from None
    if not 0 < dt < float("inf"):
        raise argparse.ArgumentTypeError(f"--timestep must be a time > 0 in fs, got {value!r}")
    return dt


def load_data(args, with_argument: bool = False) -> list:
    """[(label, Dataset)] for every system the data arguments name, with forces: folders expanded, an extended
    XYZ that mixes structures split into one system per run of frames (labelled with their frame range).
    With ``with_argument``, [(label, Dataset, index of the DATA argument it came from)]."""
    from ..io import expand_systems, load_systems

    out = []
    for arg, path in ((i, s) for i, d in enumerate(args.data) for s in expand_systems(d)):
        parts = load_systems(path, require_forces=True, forces_key=args.forces_key, energy_key=args.energy_key,
                             kinds=args.cp2k_kinds, timestep=getattr(args, "timestep", None))
        for dataset in parts:
            label = path
            if len(parts) > 1:
                a, b = dataset.provenance["frames_of_file"]
                label = f"{path} frames {a}-{b}"
            out.append((label, dataset, arg) if with_argument else (label, dataset))
    return out
