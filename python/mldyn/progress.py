"""Progress bars for long work (tqdm on stderr; silent when disabled)."""
from __future__ import annotations

from tqdm.auto import tqdm

__all__ = ["progress_bar"]


def progress_bar(iterable=None, desc: str = "", enabled: bool = True, **kwargs):
    """Wrap ``iterable`` in a progress bar written to stderr, or return it unchanged when disabled."""
    if not enabled:
        return iterable if iterable is not None else tqdm(disable=True, **kwargs)
    return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True, **kwargs)
