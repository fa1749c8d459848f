"""Shared helpers for benchmark scripts: machine description and RESULTS.md sections."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine_info() -> str:
    """One line: CPU model, cores, memory, Python, numpy, git commit."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import numpy

    return (f"{model}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}, numpy {numpy.__version__}; "
            f"commit {git_commit()}")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=Path(__file__).parent).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MB: VmHWM of /proc/self/status (Linux), which belongs
    to this address space only; getrusage's ru_maxrss is kept across exec and so can report the
    parent's peak for a child process. Falls back to ru_maxrss elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_section(title: str, body: str) -> None:
    """Replace (or add) the section '## title' of RESULTS.md with body, stamped with date and machine."""
    stamp = f"_Measured {datetime.datetime.now():%Y-%m-%d %H:%M} on {machine_info()}._\n\n"
    section = f"## {title}\n\n{stamp}{body.rstrip()}\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nEach section is rewritten by the script named in it.\n"
    parts = text.split("\n## ")
    head, rest = parts[0], parts[1:]
    rest = [p for p in rest if not p.startswith(title + "\n")]
    text = "\n## ".join([head.rstrip() + "\n"] + [p.rstrip() + "\n" for p in rest])
    RESULTS.write_text(text.rstrip() + "\n\n" + section)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
