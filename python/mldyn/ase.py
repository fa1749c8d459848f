"""ASE calculator for agent-loss models (``pip install "mldyn[ase]"``).

    from mldyn.ase import MLDCalculator
    atoms.calc = MLDCalculator("model.json")
    forces = atoms.get_forces()                      # eV/Å

Species are mapped by chemical symbol to the model's species; the ASE cell is used when
all three directions are periodic, and the system is isolated when none is (mixed
periodicity is refused).

**Energies.** Agent-loss forces are *not* the gradient of a global energy: each agent k
moves down the gradient of its own loss H_k with respect to its own position only. So a
general agent-loss model has no potential energy, and ``get_potential_energy()`` raises
ASE's ``PropertyNotImplementedError``, as calculators do for a property they lack (so that
no tool takes 1/2 sum_k H_k for an energy). Only a conservative model (B = 0 and A
symmetric in the species pair, a pair potential: ``model.conservative``) has ``energy``
(= 1/2 sum_k H_k, eV) and per-atom ``energies``. Every model gives the per-agent losses H_k
(eV) as ``calc.get_property("agent_losses", atoms)`` and their half sum as
``"half_loss_sum"``. A fitted model also gives each agent's force uncertainty (eV/Å, from the fit's
covariance, see :mod:`mldyn.uncertainty`) as ``calc.get_property("force_uncertainty", atoms)``,
computed only when asked for. Do not optimise geometries on the loss: minimise forces (e.g. FIRE).
Stress is not implemented (no virial of a global energy exists).
"""
from __future__ import annotations

import numpy as np

try:
    from ase.calculators.calculator import Calculator, all_changes
except ImportError as exc:  # pragma: no cover - exercised only without ASE
    raise ImportError("mldyn.ase needs ASE: pip install 'mldyn[ase]'") from exc

from .model import AgentLossModel
from .model import load_model

__all__ = ["MLDCalculator"]


class MLDCalculator(Calculator):
    """ASE calculator: forces (eV/Å) and per-agent losses (eV) of an :class:`AgentLossModel`.

    model : an AgentLossModel or the path of a JSON model file.
    neighbours : "auto", "all_pairs" or "cell_list".
    """

    implemented_properties = ["forces", "agent_losses", "half_loss_sum", "force_uncertainty", "energy", "free_energy",
                              "energies"]
    ENERGY_PROPERTIES = ("energy", "free_energy", "energies")  # a conservative model's only

    def __init__(self, model, neighbours: str = "auto", **kwargs):
        super().__init__(**kwargs)
        self.model = model if isinstance(model, AgentLossModel) else load_model(model)
        self.neighbours = neighbours
        # ASE raises PropertyNotImplementedError for what is not listed
        lacking = (self.ENERGY_PROPERTIES if not self.model.conservative else ()) + (
            ("force_uncertainty",) if self.model.covariance is None else ())
        self.implemented_properties = [p for p in type(self).implemented_properties if p not in lacking]

    def calculate(self, atoms=None, properties=("forces",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pbc = np.asarray(self.atoms.pbc, dtype=bool)
        if pbc.all():
            cell = np.asarray(self.atoms.cell.array, dtype=float)
        elif not pbc.any():
            cell = None
        else:
            raise ValueError(f"MLDCalculator: periodic in some directions only (pbc={pbc.tolist()}); mldyn needs "
                             "all three periodic or none")
        symbols = self.atoms.get_chemical_symbols()
        forces, losses = self.model.compute(self.atoms.positions, symbols, cell, self.neighbours)
        self.results["forces"] = forces
        self.results["agent_losses"] = losses
        self.results["half_loss_sum"] = 0.5 * float(np.sum(losses))
        if "force_uncertainty" in properties:  # about 2.5 force evaluations: only when asked
            self.results["force_uncertainty"] = self.model.force_uncertainty(self.atoms.positions, symbols, cell)
        if self.model.conservative:  # then 1/2 sum H_k is the potential energy
            self.results["energies"] = losses
            self.results["energy"] = self.results["free_energy"] = self.results["half_loss_sum"]
