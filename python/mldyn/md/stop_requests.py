"""Ctrl-C and SIGTERM as requests to stop at the next safe point, not as exceptions mid-write.

While a :class:`StopRequests` block runs in the main thread, SIGINT and SIGTERM only set
``requested``; the run loop checks it between chunks of steps, when every buffer is consistent,
writes its output and a checkpoint, and raises :class:`Interrupted`. Elsewhere (another thread)
the block changes nothing.
"""
from __future__ import annotations

import signal
import threading

__all__ = ["StopRequests", "Interrupted"]


class Interrupted(KeyboardInterrupt):
    """A run stopped on request; the message says where its files end and how to continue."""


class StopRequests:
    def __init__(self):
        self.requested: str | None = None  # name of the first signal received
        self._saved = {}

    def _handler(self, signum, frame):
        if self.requested is None:
            self.requested = signal.Signals(signum).name

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._saved.items():
            signal.signal(sig, old)
        self._saved.clear()
