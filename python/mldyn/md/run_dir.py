"""A run directory's rules: one writer at a time (a lock file), and never a user's file overwritten.

The lock is an exclusive ``flock`` on ``RUNDIR/mldyn.lock``, which holds the owner's PID, host and
process start time. The kernel drops the lock when its process dies (``kill -9`` included), so a
file left behind is stale and taken over (with a note); a live holder, or a file that names
another host (whose processes cannot be checked from here), refuses the second writer.
"""
from __future__ import annotations

import fcntl
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


class RunLock:
    """``with RunLock(rundir):`` holds the lock of ``rundir`` (which must exist) for the block.

    The lock is an exclusive ``flock`` on ``RUNDIR/mldyn.lock``, held while the process lives (the kernel
    drops it when the process dies, however it dies), and the file says who holds it. A file whose lock is
    free is stale and taken over with a note, unless it names another host (``flock`` may not reach
    across machines there: the message says to remove it)."""

    def __init__(self, rundir):
        self.path = Path(rundir) / LOCK_NAME
        self.fd: int | None = None

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": _start_time(os.getpid())}
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _owner(fd)
                os.close(fd)
                raise RunDirBusy(f"{self.path.parent} is in use by another mldyn (process {owner.get('pid', '?')}, "
                                 f"lock file {self.path}); wait for it to finish, or use another directory") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # released and removed between our open and our lock: take the new file
                os.close(fd)
                continue
            owner = _owner(fd)
            if owner and owner.get("host") != me["host"]:
                os.close(fd)
                raise RunDirBusy(f"{self.path.parent} is in use by another mldyn (process {owner.get('pid', '?')} on "
                                 f"host {owner.get('host')}, lock file {self.path}); wait for it to finish, or use "
                                 f"another directory; if that process no longer runs, remove {self.path}")
            if owner:
                print(f"mldyn: {self.path} was left by process {owner.get('pid', '?')}, which has ended (killed?); "
                      f"taking it over", file=sys.stderr)
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
            self.fd = fd
            return
        raise RunDirBusy(f"{self.path.parent}: could not take its lock {self.path}; another mldyn is starting there")

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still locked: a waiter then finds the file gone and retries
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _owner(fd: int) -> dict:
    """Who the lock file says holds it ({} when empty or unreadable)."""
    try:
        text = os.pread(fd, 4096, 0).decode()
        owner = json.loads(text) if text.strip() else {}
        return owner if isinstance(owner, dict) else {}
    except (OSError, ValueError):
        return {}


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
