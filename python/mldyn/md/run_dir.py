"""A run directory's rules: one writer at a time (a lock file), and never a user's file overwritten.

The lock is ``RUNDIR/mldyn.lock``, created exclusively and holding the owner's PID, host and
process start time. A lock whose process is gone on this host is stale and taken over (with a
note); one held by a live process, or by another host (whose processes cannot be checked from
here), refuses the second writer. ``kill -9`` leaves the file behind; the next writer detects it.
"""
from __future__ import annotations

import json
import os
import re
import socket
import sys
from pathlib import Path

from .run_files import OUTPUT_NAMES

__all__ = ["RunLock", "RunDirBusy", "RUN_FILES", "OUTPUT_FILES", "make_run_dir", "check_new_run_dir"]

LOCK_NAME = "mldyn.lock"

# What mldyn writes into a run directory (outputs, then its own bookkeeping).
OUTPUT_FILES = tuple(OUTPUT_NAMES.values())
RUN_FILES = OUTPUT_FILES + ("model.json", "run.json", "command.txt", "initial.npz", "initial.tmp.npz",
                            "checkpoint.npz", "checkpoint.tmp.npz", "stopped.txt", LOCK_NAME)
_TEMPORARY = re.compile(r"^\..+\.\d+\.tmp$")  # io.text.write_text_atomic's, left by a killed process


class RunDirBusy(ValueError):
    """Another process holds the run directory's lock."""


def _start_time(pid: int) -> str | None:
    """The process' start time in clock ticks since boot (Linux), to tell a reused PID apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    now = _start_time(pid)
    return started is None or now is None or now == started


class RunLock:
    """``with RunLock(rundir):`` holds the lock of ``rundir`` (which must exist) for the block."""

    def __init__(self, rundir):
        self.path = Path(rundir) / LOCK_NAME
        self.held = False

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": _start_time(os.getpid())}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._refuse_or_clear(me["host"])
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(me) + "\n")
            self.held = True
            return
        raise RunDirBusy(f"{self.path.parent}: could not take its lock {self.path}; another mldyn is starting there")

    def _refuse_or_clear(self, host: str) -> None:
        try:
            owner = json.loads(self.path.read_text())
            pid, owner_host = int(owner["pid"]), str(owner["host"])
        except FileNotFoundError:
            return  # released meanwhile: try again
        except (OSError, ValueError, KeyError, TypeError):
            raise RunDirBusy(f"{self.path.parent} is locked by {self.path}, which mldyn cannot read; if no mldyn is "
                             f"running there, remove that file") from None
        if owner_host == host and not _alive(pid, owner.get("started")):
            print(f"mldyn: {self.path} was left by process {pid}, which has ended (killed?); taking it over",
                  file=sys.stderr)
            self.path.unlink(missing_ok=True)
            return
        where = "" if owner_host == host else f" on host {owner_host}"
        raise RunDirBusy(f"{self.path.parent} is in use by another mldyn (process {pid}{where}, lock file "
                         f"{self.path}); wait for it to finish, or use another directory"
                         + (f"; if that process no longer runs, remove {self.path}" if where else ""))

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def make_run_dir(rundir: Path) -> None:
    """Create ``rundir`` (and its parents) if missing; ValueError if it names a file."""
    if rundir.exists() and not rundir.is_dir():
        raise ValueError(f"-o {rundir}: is a file, not a directory; give a directory for the run's files")
    rundir.mkdir(parents=True, exist_ok=True)


def check_new_run_dir(rundir: Path, force: bool) -> list[str]:
    """Check, holding its lock, that a new run may be written to ``rundir``; returns the names of
    mldyn's files there that the new run replaces (for a message). Raises ValueError when the
    directory holds a run, or files mldyn did not write, unless ``force``.

    A directory whose run.json has no checkpoint beside it holds a run that stopped while starting
    (no step was kept): it may be run again without --force."""
    present = sorted(p.name for p in rundir.iterdir() if p.name != LOCK_NAME)
    is_run = "run.json" in present
    started = is_run and "checkpoint.npz" in present
    foreign = [n for n in present if not (is_run and (n in RUN_FILES or _TEMPORARY.match(n)))]
    if not force:
        if started:
            raise ValueError(f"-o {rundir} already holds a run; continue it with --restart {rundir}, choose another "
                             f"-o, or replace it with --force")
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise ValueError(f"-o {rundir} holds files mldyn did not write ({shown}); choose a new or empty "
                             f"directory, or add --force to write beside them (files named like mldyn's outputs "
                             f"are then replaced)")
    return [n for n in present if n in RUN_FILES or _TEMPORARY.match(n)]
