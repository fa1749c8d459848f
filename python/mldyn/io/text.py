"""Low-level helpers shared by the readers and writers of :mod:`mldyn.io`.

Bytes and lines of plain or gzipped files (with the file's sha256), line-addressed access
to a byte buffer without a Python object per line, text handles for writing (gzip when the
name ends in ``.gz``), whole-or-nothing text files, ``"file, line N"`` locations for error messages, number tests, and
species ids from per-atom labels.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["read_bytes", "check_input_file", "max_input_bytes",
           "read_lines", "file_sha256", "LineIndex", "open_text_for_writing", "write_text_atomic", "where", "is_int",
           "is_float", "species_ids"]


def max_input_bytes() -> int:
    """Largest input file mldyn reads into memory (bytes, after decompression): a quarter of the
    machine's memory, or ``MLDYN_MAX_INPUT_BYTES`` when set."""
    env = os.environ.get("MLDYN_MAX_INPUT_BYTES")
    if env:
        return int(float(env))
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def check_input_file(path) -> int:
    """The size of ``path`` (bytes); ValueError naming it unless it is a regular file (not a FIFO,
    device or socket, which could block or never end) within :func:`max_input_bytes`."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, device or socket)"
        raise ValueError(f"{path}: {kind}; mldyn reads data from regular files")
    _check_size(path, st.st_size)
    return st.st_size


def _check_size(path, size: int, what: str = "") -> None:
    limit = max_input_bytes()
    if size > limit:
        raise ValueError(f"{path}: {what}more than {limit / 2**20:.3g} MiB, the most mldyn reads into memory (a "
                         f"quarter of this machine's memory, or MLDYN_MAX_INPUT_BYTES); split the file, or raise "
                         f"that limit if it fits")


def read_bytes(path: str) -> tuple[bytes, str]:
    """Raw bytes of ``path`` (gunzipped when it starts with the gzip magic) and the sha256 of the file as stored.

    ValueError naming the file for a damaged gzip stream, a file that is not a regular file, or one
    larger than :func:`max_input_bytes` (compressed or not).
    """
    check_input_file(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    sha = hashlib.sha256(raw).hexdigest()
    if raw[:2] == b"\x1f\x8b":
        limit = max_input_bytes()
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                raw = gz.read(limit + 1)  # never more than the limit in memory, however well it compresses
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: damaged gzip file: {exc}") from None
        _check_size(path, len(raw), "decompressed, ")
    return raw, sha


def read_lines(path: str) -> tuple[list[str], str]:
    """Lines of a (possibly gzipped) text file, trailing blank lines removed, and the file's sha256."""
    raw, sha = read_bytes(path)
    lines = raw.decode("utf-8", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines, sha


def file_sha256(path: str) -> str:
    """sha256 (hex) of the bytes of ``path`` as stored (compressed or not)."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


class LineIndex:
    """Lines of a byte buffer located with numpy (no Python object per line until one is asked for).

    ``len()`` counts the lines without the trailing blank ones; ``index[i]`` is line i
    (0-based) as text; :meth:`block` gives the bytes of a range of lines.
    """

    def __init__(self, raw: bytes):
        if b"\r" in raw:
            raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self.raw = raw
        nl = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
        ends = nl if raw.endswith(b"\n") else np.append(nl, len(raw))
        self.starts = np.concatenate(([0], nl + 1))[:len(ends)]
        self.ends = ends
        count = len(ends)
        while count and not raw[self.starts[count - 1]:self.ends[count - 1]].strip():
            count -= 1  # trailing blank lines
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> str:
        return self.raw[self.starts[i]:self.ends[i]].decode("utf-8", errors="replace")

    def block(self, first: int, last: int) -> bytes:
        """Bytes of lines first..last (0-based, inclusive), newline-separated, no final newline."""
        return self.raw[self.starts[first]:self.ends[last]]


def open_text_for_writing(path, append: bool = False):
    """Text handle for writing (or appending); gzip-compressed (reproducibly, mtime 0) when ``path`` ends in .gz."""
    path = os.fspath(path)
    if path.endswith(".gz"):
        raw = open(path, "ab" if append else "wb")
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)

        class _Closing(io.TextIOWrapper):
            def close(self):  # close the gzip stream and the underlying file together
                super().close()
                raw.close()

        return _Closing(gz, encoding="ascii", newline="\n")
    return open(path, "a" if append else "w", encoding="ascii", newline="\n")


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: into a temporary file beside it, then renamed
    over it, so an interruption or a full disk never leaves half a file (the old one stays)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def where(path: str, line: int) -> str:
    """``"path, line N"`` (N 1-based): how every reader names a place in a file."""
    return f"{path}, line {line}"


def _converts(kind, s: str) -> bool:
    try:
        kind(s)
        return True
    except ValueError:
        return False


def is_int(s: str) -> bool:
    """True if ``int(s)`` works."""
    return _converts(int, s)


def is_float(s: str) -> bool:
    """True if ``float(s)`` works."""
    return _converts(float, s)


def species_ids(labels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Species names in order of first appearance and the (n,) int32 species id of every label."""
    names: list[str] = []
    index: dict[str, int] = {}
    ids = np.empty(len(labels), dtype=np.int32)
    for i, lab in enumerate(labels):
        if lab not in index:
            index[lab] = len(names)
            names.append(lab)
        ids[i] = index[lab]
    return names, ids
