"""Element data (placeholder until the I/O restructure lands)."""
from .units import ATOMIC_MASSES

__all__ = ["ATOMIC_MASSES"]
