"""The ASE calculator: ASE's VelocityVerlet with it follows mldyn's own NVE integrator."""
import numpy as np
import pytest

ase = pytest.importorskip("ase", reason="ASE is an optional extra: pip install 'mldyn[ase]'")
from ase import Atoms  # noqa: E402
from ase.calculators.calculator import PropertyNotImplementedError  # noqa: E402
from ase.md.verlet import VelocityVerlet  # noqa: E402

import mldyn  # noqa: E402
from mldyn.ase import MLDCalculator  # noqa: E402
from mldyn.fit import fit_model  # noqa: E402
from mldyn.io import load_dataset  # noqa: E402
from mldyn.io.xyz import ASE_TIME_FS  # noqa: E402


@pytest.fixture(scope="module")
def water():
    data = load_dataset("@h2o32")
    basis = mldyn.Basis((("exp", 1.0), ("gauss", 1.0), ("gauss", 2.0), ("power", 2.0)), r_on=4.0)
    model = fit_model(data.subset(range(0, 600, 10)), basis, "quadratic", progress=False).model
    return model, data


def test_ase_velocity_verlet_matches_mldyn_nve_over_100_steps(water):
    model, data = water
    pos, vel, cell = data.positions_fnc[-1], data.velocities_fnc[-1], data.cells_f33[-1]
    sim = mldyn.Simulation(model, pos, data.symbols, cell, velocities_nc=vel, dt=0.5, ensemble="nve",
                           neighbours="all_pairs")
    atoms = Atoms(data.symbols, positions=pos, cell=cell, pbc=True)
    atoms.set_masses(model.atom_masses(data.symbols, len(pos)))
    atoms.set_velocities(vel * ASE_TIME_FS)  # Å/fs -> Å per ASE time unit
    atoms.calc = MLDCalculator(model, neighbours="all_pairs")
    dyn = VelocityVerlet(atoms, timestep=0.5 / ASE_TIME_FS)  # the same 0.5 fs in ASE time units
    for _ in range(10):
        sim.run(10)
        dyn.run(10)
        scale = np.abs(sim.positions).max()
        assert np.max(np.abs(atoms.positions - sim.positions)) <= 1e-10 * scale
    assert np.max(np.abs(atoms.positions - pos)) > 0.01  # they really moved


def test_calculator_returns_forces_losses_and_half_loss_energy(water):
    model, data = water
    atoms = Atoms(data.symbols, positions=data.positions_fnc[0], cell=data.cells_f33[0], pbc=True)
    atoms.calc = MLDCalculator(model)
    forces, losses = model.compute(data.positions_fnc[0], data.symbols, data.cells_f33[0])
    np.testing.assert_array_equal(atoms.get_forces(), forces)
    np.testing.assert_array_equal(atoms.calc.get_property("agent_losses", atoms), losses)
    assert atoms.calc.get_property("half_loss_sum", atoms) == pytest.approx(0.5 * losses.sum(), rel=1e-14)
    # an agent-loss model has no potential energy: ASE's error for a missing property, not a fake number
    assert not model.conservative
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_potential_energy()
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_potential_energies()
    # a pair potential does: 1/2 sum_k H_k, per atom H_k
    pair = mldyn.AgentLossModel.pair_potential(["O", "H"], mldyn.Basis((("exp", 1.0), ("power", 2.0)), r_on=4.0),
                                               np.array([[[1.0, 0.5], [0.3, 0.2]], [[0.3, 0.2], [0.1, 0.4]]]))
    atoms.calc = MLDCalculator(pair)
    _, pair_losses = pair.compute(data.positions_fnc[0], data.symbols, data.cells_f33[0])
    assert atoms.get_potential_energy() == pytest.approx(0.5 * pair_losses.sum(), rel=1e-14)
    np.testing.assert_array_equal(atoms.get_potential_energies(), pair_losses)


def test_calculator_maps_species_by_symbol_and_refuses_mixed_pbc(water, tmp_path):
    model, data = water
    path = model.save(tmp_path / "m.json")
    # reversed atom order: H first, then O; forces follow the atoms
    order = np.arange(data.n_atoms)[::-1]
    atoms = Atoms([data.symbols[i] for i in order], positions=data.positions_fnc[0][order],
                  cell=data.cells_f33[0], pbc=True)
    atoms.calc = MLDCalculator(str(path))
    ref = model.forces(data.positions_fnc[0], data.symbols, data.cells_f33[0])
    np.testing.assert_allclose(atoms.get_forces(), ref[order], rtol=0, atol=1e-12 * np.abs(ref).max())
    atoms.pbc = [True, True, False]
    with pytest.raises(ValueError, match="periodic in some directions only"):
        atoms.get_forces()
