"""`mldyn run`: outputs readable by ASE and by mldyn's CP2K reader, exact restarts,
blow-ups that stop cleanly, and the learning ensemble from the command line."""
import json
import re

import numpy as np
import pytest

import mldyn
from mldyn.cli import main
from mldyn.fit import fit_model
from mldyn.io import load_dataset
from mldyn.io.cp2k_reader import read_cp2k
from mldyn.md.run import RunConfig, RunFailed, restart_md, run_md

OUTPUTS = ("trajectory.extxyz", "mldyn-pos-1.xyz", "mldyn-vel-1.xyz", "mldyn-frc-1.xyz", "mldyn-1.ener",
           "mldyn-1.cell", "thermo.log")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A quadratic water model fitted on part of the bundled run (small basis: fast)."""
    data = load_dataset("@h2o32").subset(range(0, 600, 4))
    basis = mldyn.Basis((("exp", 1.0), ("exp", 0.5), ("gauss", 1.0), ("gauss", 2.0), ("power", 1.0)), r_on=4.0)
    report = fit_model(data, basis, "quadratic", progress=False)
    path = tmp_path_factory.mktemp("model") / "water.json"
    report.model.save(path)
    return path


def config(model_path, **kw):
    base = dict(model=str(model_path), init="@h2o32@-1", steps=60, temperature=450.0, tdamp=20.0, chain=1,
                clip=20.0, traj_every=2, thermo_every=5, checkpoint_every=25)
    base.update(kw)
    return RunConfig(**base)


def test_cli_run_writes_every_output_and_a_summary(model_path, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(model_path), "--init", "@h2o32@-1", "--steps", "40", "--temperature", "450",
                 "--clip", "20", "--traj-every", "4", "--thermo-every", "10", "-o", str(out), "--quiet"]) == 0
    line = capsys.readouterr().out
    assert "40 steps (0.02 ps)" in line and "ns/day" in line and "clipped forces" in line
    for name in OUTPUTS + ("model.json", "run.json", "command.txt", "checkpoint.npz"):
        assert (out / name).is_file(), name
    assert "mldyn run" in (out / "command.txt").read_text()
    thermo = np.loadtxt(out / "thermo.log")
    assert thermo[:, 0].tolist() == [0, 10, 20, 30, 40]
    assert json.loads((out / "run.json").read_text())["config"]["steps"] == 40


def test_seed_is_refused_where_nothing_is_drawn_and_draw_velocities_draws(model_path, tmp_path, capsys):
    # the bundled frame has velocities: a seed would change nothing, and the run says so before it starts
    with pytest.raises(ValueError, match=r"--seed 3: --init @h2o32@-1 has velocities.*add --draw-velocities"):
        run_md(config(model_path, seed=3), tmp_path / "refused", progress=False)
    assert not (tmp_path / "refused").exists()
    assert main(["run", str(model_path), "--init", "@h2o32@-1", "--steps", "2", "--temperature", "450", "--seed", "3",
                 "-o", str(tmp_path / "cli"), "--quiet"]) == 2
    assert "add --draw-velocities to draw them at --temperature" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--draw-velocities needs --temperature K"):
        config(model_path, temperature=None, ensemble="nve", draw_velocities=True).validate()
    # drawn: from the seed, at the temperature, whatever the frame had
    starts = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        run_md(config(model_path, steps=2, seed=seed, draw_velocities=True), tmp_path / name, progress=False)
        starts[name] = read_cp2k(tmp_path / name).velocities_fnc[0]
        origin = json.loads((tmp_path / name / "run.json").read_text())["initial_state"]
        assert f"velocities drawn at 450 K (seed {seed}) in place of the frame's" in origin
    np.testing.assert_array_equal(starts["a"], starts["b"])
    assert np.abs(starts["a"] - starts["c"]).max() > 1e-3
    assert np.abs(starts["a"] - load_dataset("@h2o32").velocities_fnc[-1]).max() > 1e-3
    # the message names every option the way out needs
    with pytest.raises(ValueError, match=r"add --draw-velocities and --temperature K to draw them at K from the seed, "
                                         r"or leave out --seed"):
        run_md(config(model_path, seed=3, temperature=None, ensemble="nve"), tmp_path / "nve", progress=False)
    # a start without velocities draws from the seed, with or without --draw-velocities
    xyz = tmp_path / "start.xyz"
    ref = load_dataset("@h2o32")
    lines = [str(ref.n_atoms), "start"] + [f"{s} {x:.10f} {y:.10f} {z:.10f}"
                                          for s, (x, y, z) in zip(ref.symbols, ref.positions_fnc[-1])]
    xyz.write_text("\n".join(lines) + "\n")
    cell = [float(x) for x in np.diag(ref.cells_f33[-1])]
    for name, draw in (("x1", False), ("x2", True)):
        run_md(config(model_path, init=str(xyz), cell=cell, steps=2, seed=7, draw_velocities=draw), tmp_path / name,
               progress=False)
        origin = json.loads((tmp_path / name / "run.json").read_text())["initial_state"]
        assert "velocities drawn at 450 K (seed 7)" in origin and "in place of" not in origin
    np.testing.assert_array_equal(read_cp2k(tmp_path / "x1").velocities_fnc[0],
                                  read_cp2k(tmp_path / "x2").velocities_fnc[0])


def test_restart_before_the_initial_state_was_saved_draws_the_same_velocities(model_path, tmp_path):
    cfg = dict(seed=5, draw_velocities=True)
    whole, crashed = tmp_path / "whole", tmp_path / "crashed"
    run_md(config(model_path, **cfg), whole, progress=False)
    with pytest.raises(RuntimeError, match="test crash"):
        run_md(config(model_path, **cfg), crashed, progress=False, _test_stop=("crash", 15))
    for name in ("checkpoint.npz", "initial.npz"):  # as if killed between run.json and the initial state
        (crashed / name).unlink()
    restart_md(crashed, progress=False)
    for name in OUTPUTS:
        assert (crashed / name).read_bytes() == (whole / name).read_bytes(), name


def test_learned_run_reads_back_like_a_cp2k_run(model_path, tmp_path):
    out = tmp_path / "run"
    run_md(config(model_path, steps=20, traj_every=1, thermo_every=7), out, progress=False)
    run = read_cp2k(out)  # every frame survives: .ener is written with the trajectory
    ref = load_dataset("@h2o32")
    assert run.n_frames == 21 and run.symbols == ref.symbols
    np.testing.assert_array_equal(run.steps_f, np.arange(21))
    np.testing.assert_allclose(run.times_f, 0.5 * np.arange(21))
    # frame 0 is the initial state: the last bundled CP2K frame (positions and velocities)
    np.testing.assert_allclose(run.positions_fnc[0], ref.positions_fnc[-1], atol=1e-9)
    np.testing.assert_allclose(run.velocities_fnc[0], ref.velocities_fnc[-1], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(run.cells_f33[0], ref.cells_f33[-1])
    # the kinetic energy in .ener agrees with the velocities in -vel-1.xyz (units round trip)
    ke = 0.5 * np.einsum("n,fnc,fnc->f", run.masses_n, run.velocities_fnc, run.velocities_fnc)
    np.testing.assert_allclose(ke * mldyn.units.KINETIC_EV_PER_AMU_A2_FS2, run.kinetic_energy_f, rtol=1e-6)
    # forces in -frc-1.xyz are the model's forces (after clipping) at those positions
    model = mldyn.AgentLossModel.load(out / "model.json")
    f = model.forces(run.positions_fnc[7], run.symbols, run.cells_f33[7])
    clipped = f * np.minimum(1.0, 20.0 / np.linalg.norm(f, axis=1))[:, None]  # the run caps |F| at 20 eV/Å
    np.testing.assert_allclose(run.forces_fnc[7], clipped, atol=1e-6)  # positions carry 10 decimals


def test_extxyz_trajectory_reads_in_ase_with_cell_velocities_and_forces(model_path, tmp_path):
    ase_io = pytest.importorskip("ase.io", reason="ASE is an optional extra (pip install 'mldyn[ase]')")
    out = tmp_path / "run"
    run_md(config(model_path, steps=10, traj_every=5), out, progress=False)
    frames = ase_io.read(out / "trajectory.extxyz", index=":")
    run = read_cp2k(out)
    assert len(frames) == 3
    for atoms, k in zip(frames, range(3)):
        np.testing.assert_allclose(atoms.cell.array, run.cells_f33[k], atol=1e-9)
        np.testing.assert_allclose(atoms.positions, run.positions_fnc[k], atol=1e-9)
        np.testing.assert_allclose(atoms.get_forces(), run.forces_fnc[k], atol=1e-8)
        # the CP2K file holds 10 decimals in Bohr/a.u. time (2.2e-9 Å/fs): that sets the tolerance
        np.testing.assert_allclose(atoms.get_velocities() / mldyn.io.xyz.ASE_TIME_FS, run.velocities_fnc[k],
                                   rtol=0, atol=3e-9)
        assert np.abs(atoms.get_velocities()).max() > 1e-3  # velocities really arrived
        # an agent-loss model has no potential energy: ½ Σ H_k is there under its own name, not as ASE's energy
        assert "energy" not in atoms.calc.results
        thermo = np.loadtxt(out / "thermo.log")
        assert atoms.info["half_loss_sum"] == pytest.approx(thermo[thermo[:, 0] == 5 * k, 4][0], rel=1e-9)
    # nor in CP2K's files: no "E =" in the positions file, NaN for Pot. and Cons Qty in .ener, which mldyn's reader
    # reports as no potential energy
    assert run.potential_energy_f is None
    assert "E =" not in (out / "mldyn-pos-1.xyz").read_text()
    ener = np.loadtxt(out / "mldyn-1.ener")
    assert np.isnan(ener[:, 4:6]).all() and np.isfinite(ener[:, :4]).all()


@pytest.mark.parametrize("ensemble", ["nvt", "nvt-per-species", "nve", "learn"])
def test_restart_after_interruption_is_bitwise_identical(model_path, tmp_path, ensemble):
    extra = {"nve": dict(temperature=None), "learn": dict(temperature=None, tau=200.0),
             "nvt-per-species": dict(thermostat="per-species")}.get(ensemble, {})
    ensemble = ensemble.split("-")[0]
    whole, cut, crashed = tmp_path / "whole", tmp_path / "cut", tmp_path / "crashed"
    run_md(config(model_path, ensemble=ensemble, **extra), whole, progress=False)
    # Ctrl-C at step 40 (checkpoints every 25): output and a checkpoint at 40, the restart goes on from there
    with pytest.raises(KeyboardInterrupt, match="at step 40: the output files end on whole frames at step 40"):
        run_md(config(model_path, ensemble=ensemble, **extra), cut, progress=False, _test_stop=("interrupt", 40))
    summary = restart_md(cut, progress=False)
    assert summary["total_steps"] == 60 and summary["steps"] == 20
    # a crash at 40 (no checkpoint written, as after kill -9): the output past the checkpoint at 25...
    with pytest.raises(RuntimeError, match="test crash"):
        run_md(config(model_path, ensemble=ensemble, **extra), crashed, progress=False, _test_stop=("crash", 40))
    assert np.loadtxt(crashed / "thermo.log")[-1, 0] == 40
    summary = restart_md(crashed, progress=False)  # ...is cut off and replaced by the continuation from 25
    assert summary["total_steps"] == 60 and summary["steps"] == 35
    for name in OUTPUTS:
        assert (cut / name).read_bytes() == (whole / name).read_bytes(), name
        assert (crashed / name).read_bytes() == (whole / name).read_bytes(), name


def test_restart_can_extend_a_finished_run(model_path, tmp_path):
    whole, part = tmp_path / "whole", tmp_path / "part"
    run_md(config(model_path, steps=60), whole, progress=False)
    run_md(config(model_path, steps=50), part, progress=False)
    restart_md(part, steps=60, progress=False)
    for name in OUTPUTS:
        assert (part / name).read_bytes() == (whole / name).read_bytes(), name


@pytest.mark.parametrize("contact_limit, message", [
    # without the contact stop the run goes on until an atom jumps more than the allowed 1 Å in one step
    (0.0, r"step \d+ failed \(atom \d+ moved [\d.]+ Å in one step"),
    # with it (the default) the run stops earlier, as soon as a pair comes closer than 0.75 x its training floor
    (0.75, r"step \d+ failed \(atoms \d+ and \d+ \(species \d and \d\) came [\d.]+ Å apart, closer than the "
           r"contact limit [\d.]+ Å\).*fitted on pairs no closer than O-O [\d.]+ Å, O-H [\d.]+ Å, H-H [\d.]+ Å.*"
           r"--contact-limit 0.75"),
])
def test_blow_up_stops_with_step_and_keeps_checkpoint_and_output(model_path, tmp_path, contact_limit, message):
    out = tmp_path / "hot"
    # NVE with 2 fs steps and unclipped forces: this model pumps energy in until atoms collide
    cfg = config(model_path, steps=400, dt=2.0, clip=None, checkpoint_every=7, thermo_every=1, traj_every=1,
                 temperature=None, ensemble="nve", contact_limit=contact_limit)
    with pytest.raises(RunFailed, match=message + r".*last good checkpoint is at step \d+, but a restart from it "
                                              r"repeats the same steps") as failure:
        run_md(cfg, out, progress=False)
    thermo = np.loadtxt(out / "thermo.log")
    last = int(thermo[-1, 0])
    assert 10 < last < 400 and np.all(np.isfinite(thermo[:, 1:6]))
    with np.load(out / "checkpoint.npz") as z:
        assert last - 7 < int(z["step"]) <= last and int(z["step"]) % 7 == 0
        assert np.all(np.isfinite(z["positions"]))
    assert read_cp2k(out).n_frames == last + 1
    # why it stopped stays with the run, and `mldyn compare` says so
    assert str(failure.value) in (out / "stopped.txt").read_text()
    from mldyn.report.compare import load_run
    assert any(f"the run ended at step {last} of the 400 in its run.json (stopped: simulation: step" in n
               for n in load_run(out)[1])
    if contact_limit:
        # thermo.log has the closest distance per species pair; in the last good step every one is
        # still above its limit, 0.75 x the training floor the message names
        floors = [float(x) for x in re.search(r"O-O ([\d.]+) Å, O-H ([\d.]+) Å, H-H ([\d.]+) Å",
                                               str(failure.value)).groups()]
        names = open(out / "thermo.log").readline().split()[1:]
        closest = thermo[-1, [names.index(f"closest_{p}_A") for p in ("O-O", "O-H", "H-H")]]
        assert np.all(closest > 0.75 * np.array(floors) - 0.01)


def test_cli_reports_a_blow_up_with_exit_code_1(model_path, tmp_path, capsys):
    code = main(["run", str(model_path), "--init", "@h2o32@-1", "--steps", "100", "--dt", "20",
                 "--temperature", "5000", "-o", str(tmp_path / "x"), "--quiet"])
    assert code == 1
    assert "mldyn run: stopped: simulation: step" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--steps", "10"], "missing --init"),
    (["--init", "@h2o32", "--steps", "10", "--ensemble", "learn"], "needs --tau"),
    (["--init", "@h2o32@5000", "--steps", "10"], "frame 5000 does not exist"),
    (["--init", "@h2o32", "--steps", "10", "--cell", "1", "2"], "--cell takes 1, 3 or 9 numbers"),
    (["--init", "@h2o32", "--steps", "10", "--ensemble", "nve", "--thermostat", "global"],
     "--thermostat is for --ensemble nvt, not 'nve'"),
])
def test_cli_run_bad_options(model_path, tmp_path, capsys, args, message):
    argv = ["run", str(model_path), "-o", str(tmp_path / "r"), "--quiet"] + args
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_run_refuses_to_overwrite_a_run(model_path, tmp_path):
    run_md(config(model_path, steps=5), tmp_path / "r", progress=False)
    with pytest.raises(ValueError, match="already holds a run"):
        run_md(config(model_path, steps=5), tmp_path / "r", progress=False)


def test_xyz_structure_start_draws_velocities_at_the_temperature(model_path, tmp_path):
    ref = load_dataset("@h2o32")
    xyz = tmp_path / "start.xyz"
    lattice = " ".join(f"{x:.6f}" for x in ref.cells_f33[0].ravel())
    lines = [str(ref.n_atoms), f'Lattice="{lattice}" Properties=species:S:1:pos:R:3']
    lines += [f"{s} {x:.8f} {y:.8f} {z:.8f}" for s, (x, y, z) in zip(ref.symbols, ref.positions_fnc[0])]
    xyz.write_text("\n".join(lines) + "\n")
    run_md(config(model_path, init=str(xyz), steps=4, temperature=300.0), tmp_path / "r", progress=False)
    thermo = np.loadtxt(tmp_path / "r" / "thermo.log")
    assert thermo[0, 3] == pytest.approx(300.0, rel=1e-9)


def test_extxyz_start_takes_the_velocities_of_the_frame_and_says_so(model_path, tmp_path, capsys):
    first = tmp_path / "first"
    run_md(config(model_path, steps=10), first, progress=False)
    last = read_cp2k(first)
    with np.load(first / "checkpoint.npz") as z:
        v_end = z["velocities"]
    second = tmp_path / "second"
    run_md(config(model_path, init=f"{first / 'trajectory.extxyz'}@-1", steps=2, temperature=300.0), second)
    assert "start: " in capsys.readouterr().err
    meta = json.loads((second / "run.json").read_text())
    assert "trajectory.extxyz frame -1 (positions and velocities); start temperature " in meta["initial_state"]
    with np.load(second / "initial.npz") as z:
        np.testing.assert_allclose(z["velocities"], v_end, rtol=0, atol=1e-9)  # taken, not drawn at 300 K
        np.testing.assert_allclose(z["positions"], last.positions_fnc[-1], rtol=0, atol=1e-7)
    # a file with ASE momenta instead of a vel column gives the same velocities
    ase_io = pytest.importorskip("ase.io")
    atoms = ase_io.read(first / "trajectory.extxyz", index=-1)
    del atoms.arrays["vel"], atoms.arrays["masses"]  # momenta only (masses from the elements)
    ase_io.write(tmp_path / "ase.extxyz", atoms)
    from mldyn.io.xyz import read_structure
    _, _, _, v = read_structure(tmp_path / "ase.extxyz", -1, velocities=True)
    np.testing.assert_allclose(v, v_end, rtol=1e-4, atol=1e-7)  # ASE writes 8 decimals
    # and a structure without velocities says that they were drawn
    del atoms.arrays["momenta"]
    ase_io.write(tmp_path / "still.extxyz", atoms)
    run_md(config(model_path, init=str(tmp_path / "still.extxyz"), steps=2), tmp_path / "third", progress=False)
    assert "velocities drawn at 450 K (seed 0)" in json.loads((tmp_path / "third" / "run.json").read_text())[
        "initial_state"]


def test_default_thermostat_is_one_on_all_atoms_and_the_summary_reports_each_species(model_path, tmp_path):
    from mldyn.fit.stability import wall_descriptor
    from mldyn.md.run import default_chain, default_thermostat, summary_line

    out = tmp_path / "r"
    summary = run_md(config(model_path, steps=10, chain=None), out, progress=False)
    assert json.loads((out / "run.json").read_text())["config"]["thermostat"] == "global"  # stored resolved
    with np.load(out / "checkpoint.npz") as z:
        assert len(z["chain_positions"]) == 1  # a chain would settle above the target with these forces
    wall, A = wall_descriptor(["O", "H"], {"O-O": 2.3, "O-H": 0.9, "H-H": 1.35}, 1.0)
    pair = mldyn.AgentLossModel(["O", "H"], wall, A)
    assert default_chain(pair) == 3 and default_thermostat(pair) == "global"
    # the species temperatures of the written frames, weighted by atoms, give the mean temperature
    t = summary["species_temperature_K"]
    run = read_cp2k(out)
    assert (32 * t["O"] + 64 * t["H"]) / 96 == pytest.approx(np.mean(run.temperature_f[1:]), rel=1e-3)
    line = summary_line(summary)
    assert f"(O {t['O']:.0f}, H {t['H']:.0f} K" in line
    split = dict(summary, species_temperature_K={"O": 820.0, "H": 410.0})
    assert ("(O 820, H 410 K: one thermostat holds only the total; --thermostat per-species holds each species)"
            in summary_line(split))
    # the hint names an option only where it applies: NVT with one thermostat
    for other in ({"thermostat": "per-species"}, {"ensemble": "nve", "thermostat": None}):
        assert "(O 820, H 410 K); clipped" in summary_line(dict(split, **other))


def test_per_species_thermostat_from_the_command_line_holds_both_species(model_path, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", str(model_path), "--init", "@h2o32@-1", "--steps", "400", "--temperature", "450",
                 "--tdamp", "20", "--thermostat", "per-species", "-o", str(out), "--quiet"]) == 0
    assert json.loads((out / "run.json").read_text())["config"]["thermostat"] == "per-species"
    with np.load(out / "checkpoint.npz") as z:
        assert len(z["chain_positions"]) == 2  # one thermostat per species (O, H)
    from mldyn.analysis import species_temperatures
    temps = species_temperatures(read_cp2k(out).subset(range(200, 401)))
    for name in ("O", "H"):
        assert abs(np.mean(temps[name]) - 450.0) < 0.1 * 450.0, (name, np.mean(temps[name]))


def test_run_written_before_per_species_thermostats_restarts_with_its_single_chain(model_path, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_md(config(model_path, thermostat="global"), whole, progress=False)
    with pytest.raises(KeyboardInterrupt):
        run_md(config(model_path, thermostat="global"), cut, progress=False, _test_stop=("interrupt", 40))
    meta = json.loads((cut / "run.json").read_text())
    del meta["config"]["thermostat"]  # as an older mldyn wrote it
    (cut / "run.json").write_text(json.dumps(meta))
    restart_md(cut, progress=False)
    for name in OUTPUTS:
        assert (cut / name).read_bytes() == (whole / name).read_bytes(), name


def test_contact_limits_come_from_the_training_record_and_vanish_without_one(model_path):
    from mldyn.md.run import contact_limits

    model = mldyn.AgentLossModel.load(model_path)
    floors = model.metadata["closest_pairs_A"]
    np.testing.assert_allclose(contact_limits(model, 0.75),
                               0.75 * np.array([[floors["O-O"], floors["O-H"]], [floors["O-H"], floors["H-H"]]]))
    assert np.all(contact_limits(model, 0.0) == 0)
    bare = mldyn.AgentLossModel(model.species, model.descriptors, model.A, model.B)  # metadata empty
    assert np.all(contact_limits(bare, 0.75) == 0)  # older model files: no stop, nothing to compare with


def test_compare_notes_a_run_that_ended_before_its_steps(model_path, tmp_path):
    from mldyn.report.compare import load_run

    done, cut = tmp_path / "done", tmp_path / "cut"
    run_md(config(model_path, steps=30), done, progress=False)
    with pytest.raises(KeyboardInterrupt):
        run_md(config(model_path), cut, progress=False, _test_stop=("interrupt", 40))
    assert load_run(done)[1] == []
    _, notes = load_run(cut)
    assert any("the run ended at step 40 of the 60 in its run.json" in n for n in notes), notes


def test_restart_refuses_a_run_file_from_a_newer_mldyn(model_path, tmp_path):
    run_md(config(model_path, steps=5), tmp_path / "r", progress=False)
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    meta["version"] = 99
    (tmp_path / "r" / "run.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"written by a newer mldyn \(run file version 99, this one reads up to 3\)"):
        restart_md(tmp_path / "r", steps=10, progress=False)


def test_default_frame_interval_keeps_long_runs_on_an_ordinary_disk_and_the_run_says_the_size(model_path, tmp_path,
                                                                                           capsys):
    from mldyn.md.run_config import TRAJECTORY_BUDGET_BYTES, default_traj_every, trajectory_bytes

    every = default_traj_every(10_000, 2_000_000)  # 1 ns of 10,000 atoms at 0.5 fs
    assert trajectory_bytes(10_000, 2_000_000 // every + 1) <= TRAJECTORY_BUDGET_BYTES
    assert trajectory_bytes(10_000, 2_000_000 // (every - 1) + 1) > TRAJECTORY_BUDGET_BYTES  # the finest that fits
    assert default_traj_every(96, 2000) == 1  # the demo keeps every step
    out = tmp_path / "run"
    assert main(["run", str(model_path), "--init", "@h2o32@-1", "--steps", "40", "--temperature", "450", "--clip",
                 "20", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    m = re.search(r"output: a frame every 1 step \(0.5 fs\): 41 frames, about ([\d.]+) MB \(--traj-every sets it\)",
                  err)
    assert m, err
    written = sum((out / name).stat().st_size for name in OUTPUTS if name != "thermo.log")
    assert abs(float(m[1]) * 1e6 - written) < 0.1 * written  # the estimate is within 10% of what was written
    assert json.loads((out / "run.json").read_text())["config"]["traj_every"] == 1  # stored resolved
