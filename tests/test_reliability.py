"""Runs that never lose, duplicate or fake data (issue 12): every numbered case of the issue
reproduced, with the fixed behaviour asserted. Real signals and a real file-size limit (the way a
full disk fails a write) go to `mldyn run` subprocesses."""
from __future__ import annotations

import errno
import gzip
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import mldyn
from mldyn.cli import main
from mldyn.dataset import Dataset
from mldyn.fit import fit_model
from mldyn.io import load_dataset
from mldyn.io.cp2k_reader import read_cp2k
from mldyn.io.xyz import write_extxyz
from mldyn.md.run import RunConfig, restart_md, run_md
from mldyn.md.run_dir import OUTPUT_FILES, RunDirBusy, RunLock

MLDYN = [sys.executable, "-m", "mldyn"]
STEPS = 300


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A small quadratic radial water model with a 4 Å cutoff and walls: fast (also in a 2592-atom
    box) and stable for thousands of steps at 450 K."""
    data = load_dataset("@h2o32").subset(range(0, 600, 10))
    basis = mldyn.Basis((("exp", 1.0), ("gauss", 1.0), ("power", 1.0)), r_cut=4.0, r_on=3.0)
    path = tmp_path_factory.mktemp("model") / "water.json"
    fit_model(data, basis, "quadratic", progress=False, walls=1000.0).model.save(path)
    return path


@pytest.fixture(scope="module")
def boxes(tmp_path_factory):
    """The last bundled frame (96 atoms) and that frame replicated 2 x 2 x 3 (1152 atoms, 19.7 x 19.7
    x 29.6 Å, where auto picks the cell list), as extended XYZ files with velocities."""
    ref = load_dataset("@h2o32")
    cell = ref.cells_f33[-1]
    paths = {}
    for size, reps in (("small", (1, 1, 1)), ("large", (2, 2, 3))):
        shifts = np.array([[i, j, k] for i in range(reps[0]) for j in range(reps[1]) for k in range(reps[2])]) @ cell
        pos = (ref.positions_fnc[-1][None] + shifts[:, None]).reshape(-1, 3)
        m = len(shifts)
        data = Dataset(ref.species_names, np.tile(ref.species_n, m), np.tile(ref.masses_n, m), pos[None],
                       (np.diag(reps) @ cell)[None], velocities_fnc=np.tile(ref.velocities_fnc[-1], (m, 1))[None])
        paths[size] = tmp_path_factory.mktemp("boxes") / f"{size}.extxyz"
        write_extxyz(paths[size], data)
    return paths


@pytest.fixture(scope="module")
def run_args(boxes):
    """One run's settings, used by the reference run and by every run compared with it."""
    return ["--init", f"{boxes['small']}@0", "--temperature", "450", "--clip", "20", "--traj-every", "2",
            "--thermo-every", "5", "--checkpoint-every", "100", "--quiet"]


@pytest.fixture(scope="module")
def reference(model_path, run_args, tmp_path_factory):
    """An uninterrupted run of STEPS steps with run_args: what every interrupted run must end up as."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(["run", str(model_path), *run_args, "--steps", str(STEPS), "-o", str(out)]) == 0
    return out


def assert_same_outputs(a, b):
    for name in OUTPUT_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def whole_frames_step(rundir) -> int:
    """Every output file reads back, ends on a whole frame and holds each step once; returns the
    step of the last frame."""
    from ase.io import read as ase_read

    run = read_cp2k(rundir)  # refuses a truncated frame in any of the CP2K-style files
    counts = {}
    for kind in ("pos", "vel", "frc"):
        steps = [int(m) for m in re.findall(r"i =\s+(\d+)", (rundir / f"mldyn-{kind}-1.xyz").read_text())]
        assert steps == sorted(set(steps)), kind  # no step twice
        counts[kind] = len(steps)
    for name in ("mldyn-1.ener", "thermo.log"):
        steps = np.loadtxt(rundir / name, ndmin=2)[:, 0]
        assert np.all(np.diff(steps) > 0), name
    frames = ase_read(rundir / "trajectory.extxyz", index=":")
    assert len(frames) == run.n_frames == counts["pos"] == counts["vel"] == counts["frc"]
    assert [f.info["step"] for f in frames] == run.steps_f.tolist()
    return int(run.steps_f[-1])


def wait_for(predicate, timeout=60.0):
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.02)


# 1. Ctrl-C, SIGTERM, a failed write and a full disk leave whole files and no step twice ------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_with_whole_files_and_a_checkpoint_and_the_restart_is_bitwise(model_path, run_args, tmp_path,
                                                                                    capsys, sig):
    run = tmp_path / "run"
    proc = subprocess.Popen(MLDYN + ["run", str(model_path), *run_args, "--steps", "10000000", "-o", str(run)],
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (run / "thermo.log").exists() and len((run / "thermo.log").read_text().splitlines()) > 1)
        # 2. a second writer is refused while the first runs, whichever way it comes in
        assert main(["run", "--restart", str(run), "--quiet"]) == 2
        assert f"is in use by another mldyn (process {proc.pid}" in capsys.readouterr().err
        assert main(["run", str(model_path), *run_args, "--steps", "10", "-o", str(run)]) == 2
        assert f"is in use by another mldyn (process {proc.pid}" in capsys.readouterr().err
        proc.send_signal(sig)
        err = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    m = re.search(rf"interrupted \({sig.name}\) at step (\d+): the output files end on whole frames at step (\d+), "
                  rf"with a checkpoint at step (\d+); continue with: mldyn run --restart {run}", err)
    assert m and m[1] == m[2] == m[3], err
    assert whole_frames_step(run) == int(m[1])
    assert not (run / "mldyn.lock").exists()
    total = int(m[1]) + 50  # continued: the same bytes as a run that was never interrupted
    assert main(["run", "--restart", str(run), "--steps", str(total), "--quiet"]) == 0
    assert main(["run", str(model_path), *run_args, "--steps", str(total), "-o", str(tmp_path / "whole")]) == 0
    assert_same_outputs(run, tmp_path / "whole")


def test_a_write_that_fails_mid_run_leaves_whole_files_and_the_restart_is_bitwise(model_path, run_args, reference,
                                                                                tmp_path, monkeypatch, capsys):
    import mldyn.io.cp2k_writer as writer

    real, calls = writer.write_cp2k_ener, []

    def ener_fails_third_time(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:  # the frames of this flush are in the .xyz files already: they must go again
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(writer, "write_cp2k_ener", ener_fails_third_time)
    run = tmp_path / "run"
    assert main(["run", str(model_path), *run_args, "--steps", str(STEPS), "-o", str(run)]) == 1
    err = capsys.readouterr().err
    m = re.search(r"could not write \S+mldyn-1.ener: No space left on device. The output files end on whole frames "
                  r"at step (\d+); the last checkpoint is at step (\d+)\. .*mldyn run --restart", err)
    assert m, err
    assert whole_frames_step(run) == int(m[1]) < STEPS
    assert (run / "stopped.txt").read_text().startswith("could not write")
    monkeypatch.setattr(writer, "write_cp2k_ener", real)
    assert main(["run", "--restart", str(run), "--quiet"]) == 0
    assert_same_outputs(run, reference)
    assert not (run / "stopped.txt").exists()


def _file_size_limit(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    return apply


def test_a_full_disk_stops_the_run_with_whole_files_and_the_restart_is_bitwise(model_path, run_args, reference,
                                                                              tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(MLDYN + ["run", str(model_path), *run_args, "--steps", str(STEPS), "-o", str(run)],
                          capture_output=True, text=True, preexec_fn=_file_size_limit(150_000), timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    m = re.search(r"mldyn run: stopped: could not write \S+: File too large. The output files end on whole frames at "
                  r"step (\d+)", proc.stderr)
    assert m, proc.stderr
    assert whole_frames_step(run) == int(m[1]) < STEPS
    assert restart_md(run, progress=False)["total_steps"] == STEPS
    assert_same_outputs(run, reference)


# 2. one writer per run directory; stale locks -------------------------------------------------------

def test_a_stale_lock_is_taken_over_and_one_from_another_host_refuses(model_path, boxes, tmp_path, capsys):
    run = tmp_path / "run"
    run_md(RunConfig(model=str(model_path), init=f"{boxes['small']}@0", steps=10, temperature=450.0), run, progress=False)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = run / "mldyn.lock"
    lock.write_text(json.dumps({"pid": int(gone.stdout), "host": socket.gethostname(), "started": None}))
    assert restart_md(run, steps=20, progress=False)["total_steps"] == 20  # killed owner: taken over
    assert f"was left by process {int(gone.stdout)}, which has ended" in capsys.readouterr().err
    assert not lock.exists()
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": None}))
    with pytest.raises(RunDirBusy, match=r"process 1 on host elsewhere.example.*remove .*mldyn.lock"):
        restart_md(run, steps=30, progress=False)
    with RunLock(tmp_path):  # held by this very process: a second holder is refused too
        with pytest.raises(RunDirBusy, match=f"process {os.getpid()}"):
            RunLock(tmp_path).acquire()


# 3. forces depend on the configuration only; restarts are bitwise for every method and size ---------

@pytest.mark.parametrize("size", ["small", "large"])
def test_forces_depend_on_the_configuration_only(model_path, boxes, size):
    ref = load_dataset(boxes[size])
    pos, symbols, cell = ref.positions_fnc[-1], ref.symbols, ref.cells_f33[-1]
    nearby = pos + np.random.default_rng(0).normal(scale=0.05, size=pos.shape)
    first = {}
    for method in ("all_pairs", "cell_list", "auto"):
        fresh = mldyn.AgentLossModel.load(model_path).forces(pos, symbols, cell, neighbours=method)
        model = mldyn.AgentLossModel.load(model_path)
        model.forces(nearby, symbols, cell, neighbours=method)  # the list is built here and kept (skin)
        after = model.forces(pos, symbols, cell, neighbours=method)
        np.testing.assert_array_equal(after, fresh, err_msg=method)
        first[method] = fresh
    # and the methods agree bit for bit: the same neighbours in the same order
    np.testing.assert_array_equal(first["cell_list"], first["all_pairs"])
    np.testing.assert_array_equal(first["auto"], first["all_pairs"])


# Every ensemble with every method on the small box; on the large box each method and each ensemble once.
RESTART_CASES = [(e, m, "small") for e in ("nve", "nvt", "learn") for m in ("all_pairs", "cell_list", "auto")] + [
    ("nve", "all_pairs", "large"), ("nvt", "cell_list", "large"), ("learn", "auto", "large")]


@pytest.mark.parametrize("ensemble, neighbours, size", RESTART_CASES)
def test_restart_is_bitwise_for_every_ensemble_neighbour_method_and_size(model_path, boxes, tmp_path, size,
                                                                         neighbours, ensemble):
    init = f"{boxes[size]}@0"
    extra = {"nve": {}, "nvt": {"temperature": 450.0}, "learn": {"tau": 200.0}}[ensemble]
    cfg = dict(model=str(model_path), init=init, steps=30, ensemble=ensemble, clip=20.0, neighbours=neighbours,
               traj_every=10, thermo_every=5, checkpoint_every=10, **extra)
    run_md(RunConfig(**cfg), tmp_path / "whole", progress=False)
    with pytest.raises(RuntimeError, match="test crash"):  # as after kill -9: files past the checkpoint at 10
        run_md(RunConfig(**cfg), tmp_path / "cut", progress=False, _test_stop=("crash", 15))
    restart_md(tmp_path / "cut", progress=False)
    assert_same_outputs(tmp_path / "cut", tmp_path / "whole")


# 4. a refused restart changes nothing ------------------------------------------------------------------

def test_a_refused_restart_leaves_the_run_as_it_was(model_path, run_args, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(model_path), *run_args, "--steps", "20", "-o", str(run)]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for steps, message in (("-5", "--steps must be >= 0, got -5"),
                           ("10", "the checkpoint is at step 20, beyond --steps 10; nothing was changed")):
        assert main(["run", "--restart", str(run), "--steps", steps, "--quiet"]) == 2
        assert message in capsys.readouterr().err
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    thermo = run / "thermo.log"  # an output shorter than at the checkpoint: refused, and nothing changes either
    full = thermo.read_bytes()
    thermo.write_bytes(full[:-10])
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(["run", "--restart", str(run), "--steps", "30", "--quiet"]) == 2
    assert "is shorter than at the checkpoint; cannot continue (nothing was changed)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    thermo.write_bytes(full)
    assert main(["run", "--restart", str(run), "--steps", "30", "--quiet"]) == 0
    for name in ("checkpoint.npz", "run.json"):  # damaged bookkeeping: a message naming it, not a traceback
        path = run / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        assert main(["run", "--restart", str(run), "--steps", "40", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"{path} is" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


# 5. a run that dies before its first checkpoint can be restarted or run again ---------------------------

def test_a_run_killed_before_its_first_checkpoint_restarts_from_its_initial_state(model_path, boxes, reference,
                                                                                 tmp_path, monkeypatch, capsys):
    import mldyn.md.run as run_module

    class Killed(BaseException):
        pass

    def killed(*args, **kwargs):
        raise Killed

    cfg = RunConfig(model=str(model_path), init=f"{boxes['small']}@0", steps=STEPS, temperature=450.0, clip=20.0, traj_every=2,
                    thermo_every=5, checkpoint_every=100)
    for name in ("restarted", "again", "bare"):
        monkeypatch.setattr(run_module, "save_checkpoint", killed)
        with pytest.raises(Killed):
            run_md(cfg, tmp_path / name, progress=False)
        monkeypatch.undo()
        assert not (tmp_path / name / "checkpoint.npz").exists()
    restart_md(tmp_path / "restarted", progress=False)
    assert "has no checkpoint (the run stopped while starting): starting again from its initial state" in \
        capsys.readouterr().err
    run_md(cfg, tmp_path / "again", progress=False)  # no --force needed: the directory holds no step
    for name in ("initial.npz", "model.json", "command.txt") + OUTPUT_FILES:  # killed right after run.json
        (tmp_path / "bare" / name).unlink(missing_ok=True)
    restart_md(tmp_path / "bare", progress=False)
    for name in ("restarted", "again", "bare"):
        assert_same_outputs(tmp_path / name, reference)


# 6. output directories: nothing of the user's overwritten without --force ---------------------------------

def test_a_directory_with_other_files_or_a_run_is_refused_unless_forced(model_path, run_args, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thermo.log").write_text("my notes\n")
    (out / "model.json").write_text("{}")
    args = ["run", str(model_path), *run_args, "--steps", "10", "-o", str(out)]
    assert main(args) == 2
    assert f"-o {out} holds files mldyn did not write (model.json, thermo.log); choose a new or empty directory, or " \
           f"add --force" in capsys.readouterr().err
    assert (out / "thermo.log").read_text() == "my notes\n" and sorted(p.name for p in out.iterdir()) == \
        ["model.json", "thermo.log"]
    assert main(args + ["--force"]) == 0
    assert f"mldyn: replacing model.json, thermo.log in {out}" in capsys.readouterr().err
    assert main(args) == 2  # now it holds a run
    assert f"-o {out} already holds a run; continue it with --restart {out}" in capsys.readouterr().err
    (out / "notes.txt").write_text("kept")
    assert main(args + ["--force"]) == 0
    assert (out / "notes.txt").read_text() == "kept"


# 7, 11. one clear line naming the file or option, never a traceback, no work lost -------------------------

def test_bad_outputs_and_inputs_end_in_one_line_naming_them(model_path, boxes, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    xyz = tmp_path / "start.xyz"
    xyz.write_text("3\n\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n")
    run = ["run", str(model_path), "--init", f"{boxes['small']}@0", "--temperature", "300", "--steps", "5", "--quiet"]
    cases = [
        (run + ["-o", str(a_file)], 2, f"-o {a_file}: is a file, not a directory"),
        (run + ["-o", str(a_file / "run")], 1, f"{a_file / 'run'}: Not a directory"),
        (["run", str(model_path), "--init", str(xyz), "--cell", "10", "--temperature", "300", "--steps", "5",
          "--seed", "-1", "-o", str(tmp_path / "s")], 2, "--seed must be an integer in [0, 2^64), got -1"),
        (["fit", "@h2o32", "-o", str(tmp_path)], 2, f"-o {tmp_path}: is a directory; give the model file to write"),
        (["fit", "@h2o32", "-o", str(a_file / "m.json")], 2, f"-o {a_file / 'm.json'}: cannot write in {a_file}"),
        (["test", str(a_file), "@h2o32"], 2, f"{a_file}: not valid JSON"),
        (["test", str(tmp_path / "missing.json"), "@h2o32"], 2, "model file not found"),
        (["test", str(model_path), str(tmp_path / "missing.xyz")], 2, f"{tmp_path / 'missing.xyz'}: No such file"),
    ]
    for name, text, message in (("training.json", {"training": "x"}, "'training' must be an object"),
                                ("floors.json", {"training": {"closest_pairs_A": [1]}},
                                 "training.closest_pairs_A must map species pairs")):
        (tmp_path / name).write_text(json.dumps(json.loads(model_path.read_text()) | text))
        cases.append((["run", str(tmp_path / name), *run[2:], "-o", str(tmp_path / f"r-{name}")], 2,
                      f"{tmp_path / name}: {message}"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.json").write_text(model_path.read_text())
    cases.append((["run", "model.json", *run[2:], "-o", "."], 2, "-o . holds files mldyn did not write (a_file"))
    for argv, code, message in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, err
    # -o . holding the model: with --force the run uses it and leaves it whole
    assert main(["run", "model.json", *run[2:], "-o", ".", "--force"]) == 0
    assert (tmp_path / "model.json").read_text() == model_path.read_text()


def test_fit_checks_its_output_before_fitting_and_keeps_the_model_if_the_write_fails(tmp_path, monkeypatch, capsys):
    import mldyn.commands.fit as fit_command

    real_save = mldyn.AgentLossModel.save

    def fails_once(self, path):
        if os.path.basename(path) == "wanted.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(self, path)

    load_dataset("@h2o32").subset(range(0, 600, 30)).save(tmp_path / "data.npz")
    monkeypatch.setattr(mldyn.AgentLossModel, "save", fails_once)
    monkeypatch.setattr(fit_command.tempfile, "gettempdir", lambda: str(tmp_path))
    assert main(["fit", str(tmp_path / "data.npz"), "-o", str(tmp_path / "wanted.json"), "--recipe", "paper",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    m = re.search(r"could not write -o \S+wanted.json \(No space left on device\); the fitted model was saved to (\S+) "
                  r"instead", err)
    assert m, err
    assert mldyn.AgentLossModel.load(m[1]).species == ["O", "H"]


# 8. values that used to pass silently ------------------------------------------------------------------

def test_values_that_cannot_be_meant_are_refused(model_path, run_args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    assert main(["run", str(model_path), *run_args, "--steps", "10", "-o", str(run)]) == 0
    for argv, message in (
            (["fit", "@h2o32", "-o", "m.json", "--ridge", "inf"], "--ridge must be a finite number >= 0"),
            (["fit", "@h2o32", "-o", "m.json", "--split", "0.2,0.8,0,0"], "the test fraction is 0"),
            (["fit", "@h2o32", "-o", "m.json", "--split", "0.2,0.7,0,0.1"], "the validation fraction is 0"),
    ):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        assert code == 2 and message in capsys.readouterr().err, argv
    assert main(["run", "--restart", str(run), "--dt", "1.0", "--temp", "300", "-o", "x", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "it takes only --steps and --quiet, not --dt, -o, --temperature" in err and f"--init {run}@-1" in err


# 9. strict JSON ---------------------------------------------------------------------------------------

def test_test_json_is_strict_with_null_for_undefined_figures(model_path, tmp_path, capsys):
    ref = load_dataset("@h2o32").subset(range(3))
    forces = ref.forces_fnc.copy()
    forces[:, ref.species_n == ref.species_names.index("H")] = 0.0  # relative error of H: 0/0
    data = Dataset(ref.species_names, ref.species_n, ref.masses_n, ref.positions_fnc, ref.cells_f33,
                   forces_fnc=forces)
    data.save(tmp_path / "d.npz")
    assert main(["test", str(model_path), str(tmp_path / "d.npz"), "--json"]) == 0
    text = capsys.readouterr().out

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    out = json.loads(text, parse_constant=refuse)
    assert out["species"]["H"]["relative_rmse"] is None and out["species"]["O"]["relative_rmse"] > 0


# 10. inputs that never end or would fill the memory ---------------------------------------------------------

def test_fifos_devices_and_decompression_bombs_are_refused(model_path, run_args, tmp_path, monkeypatch, capsys):
    from mldyn.io.cp2k_input import input_lines

    fifo = tmp_path / "data.xyz"
    os.mkfifo(fifo)

    def timeout(*args):
        raise TimeoutError("the reader blocked on the FIFO")

    signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    try:
        assert main(["test", str(model_path), str(fifo)]) == 2
        assert main(["run", str(fifo), *run_args, "--steps", "1", "-o", str(tmp_path / "r")]) == 2
    finally:
        signal.alarm(0)
    refused = f"{fifo}: not a regular file (a FIFO, device or socket); mldyn reads data from regular files"
    assert capsys.readouterr().err.splitlines() == [f"mldyn test: error: {refused}", f"mldyn run: error: {refused}"]
    deck = tmp_path / "in.inp"
    deck.write_text("&GLOBAL\n  PROJECT x\n&END GLOBAL\n@INCLUDE /dev/zero\n")
    with pytest.raises(ValueError, match="/dev/zero: not a regular file"):
        input_lines(str(deck))
    deck.write_text("@INCLUDE missing.inc\n")
    with pytest.raises(ValueError, match=r"in.inp, line 1: @INCLUDE \S+missing.inc: no such file"):
        input_lines(str(deck))
    bomb = tmp_path / "bomb.xyz.gz"
    bomb.write_bytes(gzip.compress(b"0" * (64 << 20)))  # 64 MiB of zeros in ~64 kB
    monkeypatch.setenv("MLDYN_MAX_INPUT_BYTES", str(16 << 20))
    assert main(["test", str(model_path), str(bomb)]) == 2
    assert f"{bomb}: decompressed, more than 16 MiB, the most mldyn reads into memory" in capsys.readouterr().err
