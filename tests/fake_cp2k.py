"""A stand-in for CP2K in the tests of mldyn explore: ``python fake_cp2k.py -i sp.inp -o sp.out`` reads
the deck's coordinate file and cell, computes energy and forces with the mldyn model named by
$FAKE_CP2K_MODEL (the "true" forces of the test), and writes them as CP2K prints them (Hartree,
Hartree/Bohr), with the wavefunction file a real run leaves. $FAKE_CP2K_FAIL=<substring of the
directory> makes that frame's SCF "not converge"."""
import os
import sys

import numpy as np

from mldyn.model import load_model
from mldyn.units import BOHR_A, HARTREE_EV


def main(argv):
    inp, out = argv[argv.index("-i") + 1], argv[argv.index("-o") + 1]
    text = open(inp).read().splitlines()
    coord = next(ln.split()[1] for ln in text if ln.strip().startswith("COORD_FILE_NAME"))
    cell = [[float(x) for x in ln.split()[2:5]] for ln in text if ln.strip()[:2] in ("A ", "B ", "C ")]
    project = next(ln.split()[1] for ln in text if ln.strip().startswith("PROJECT"))
    rows = open(coord).read().splitlines()
    n = int(rows[0])
    symbols = [r.split()[0] for r in rows[2:2 + n]]
    pos = np.array([[float(x) for x in r.split()[1:4]] for r in rows[2:2 + n]])
    model = load_model(os.environ["FAKE_CP2K_MODEL"])
    forces, losses = model.compute(pos, symbols, np.array(cell))
    fail = os.environ.get("FAKE_CP2K_FAIL")
    lines = [" fake CP2K for mldyn's tests"]
    if fail and fail in os.getcwd():
        lines.append(" *** SCF run NOT converged ***")
    lines += [f" ENERGY| Total FORCE_EVAL ( QS ) energy [a.u.]:  {0.5 * losses.sum() / HARTREE_EV:.12f}", "",
              " ATOMIC FORCES in [a.u.]", "", " # Atom   Kind   Element          X              Y              Z"]
    conv = BOHR_A / HARTREE_EV
    for k, (s, f) in enumerate(zip(symbols, forces)):
        lines.append(f" {k + 1:6d} {1:6d}      {s:2s} {f[0] * conv:16.8f} {f[1] * conv:16.8f} {f[2] * conv:16.8f}")
    lines.append(" SUM OF ATOMIC FORCES   0 0 0 0")
    open(out, "w").write("\n".join(lines) + "\n")
    open(f"{project}-RESTART.wfn", "w").write("fake wavefunction\n")


if __name__ == "__main__":
    main(sys.argv[1:])
