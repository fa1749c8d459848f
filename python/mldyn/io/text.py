"""Low-level helpers shared by the readers and writers of :mod:`mldyn.io`.

Bytes and lines of plain or gzipped files (with the file's sha256), line-addressed access
to a byte buffer without a Python object per line, text handles for writing (gzip when the
name ends in ``.gz``), ``"file, line N"`` locations for error messages, number tests, and
species ids from per-atom labels.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
from typing import Sequence

import numpy as np

__all__ = ["read_bytes", "read_lines", "file_sha256", "LineIndex", "open_text_for_writing", "where", "is_int",
           "is_float", "species_ids"]


def read_bytes(path: str) -> tuple[bytes, str]:
    """Raw bytes of ``path`` (gunzipped when it starts with the gzip magic) and the sha256 of the file as stored.

    ValueError naming the file for a damaged gzip stream.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    sha = hashlib.sha256(raw).hexdigest()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: damaged gzip file: {exc}") from None
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
