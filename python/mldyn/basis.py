"""Weight-function bases for the radial invariants.

A basis is an ordered list of weight functions ``(family, parameter)``:

* ``("exp", alpha)``   w(r) = exp(-alpha r), alpha in 1/Å;
* ``("gauss", sigma)`` w(r) = exp(-r² / (2 sigma²)), sigma in Å;
* ``("power", n)``     w(r) = r^-n.

plus a cutoff ``r_cut`` (Å; ``None`` means half the smallest perpendicular cell
width, the paper's minimum-image convention, or no cutoff for an isolated system)
and an optional smooth switching start ``r_on`` (Å): between ``r_on`` and ``r_cut``
every weight is multiplied by the quintic smoothstep so forces stay continuous.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import _core
from .cell import make_cell

__all__ = ["Basis", "PAPER_FUNCTIONS"]

FAMILIES = ("exp", "gauss", "power")

#: The paper's 18 functions: alpha = 1, 1/2, ..., 1/8 Å^-1; sigma = 1..8 Å; n = 1, 2.
PAPER_FUNCTIONS: tuple = tuple(tuple(f) for f in _core.paper_default_functions())


@dataclass(frozen=True)
class Basis:
    """Weight functions, cutoff (Å) and switching start (Å). See the module docstring."""

    functions: tuple = PAPER_FUNCTIONS
    r_cut: float | None = None
    r_on: float | None = None
    _checked: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self):
        funcs = tuple((str(k), float(p)) for k, p in self.functions)
        if not funcs:
            raise ValueError("basis: needs at least one weight function")
        for kind, p in funcs:
            if kind not in FAMILIES:
                raise ValueError(f"basis: unknown weight family {kind!r} (expected one of {FAMILIES})")
            if not (math.isfinite(p) and p > 0):
                raise ValueError(f"basis: parameter of {kind} must be finite and positive, got {p}")
        object.__setattr__(self, "functions", funcs)
        if self.r_cut is not None and not (self.r_cut > 0):
            raise ValueError(f"basis: r_cut must be positive (Å), got {self.r_cut}")
        if self.r_on is not None and self.r_cut is not None and not (0 <= self.r_on < self.r_cut):
            raise ValueError(f"basis: need 0 <= r_on < r_cut, got r_on={self.r_on}, r_cut={self.r_cut}")

    @classmethod
    def paper(cls, r_cut: float | None = None, r_on: float | None = None) -> "Basis":
        """The paper's 18-function basis."""
        return cls(PAPER_FUNCTIONS, r_cut, r_on)

    def __len__(self) -> int:
        return len(self.functions)

    def labels(self) -> list[str]:
        """Readable names, e.g. ``exp(-r/2)``, ``gauss(3)``, ``r^-1``."""
        out = []
        for kind, p in self.functions:
            if kind == "exp":
                out.append(f"exp(-r/{1 / p:g})" if abs(1 / p - round(1 / p)) < 1e-9 else f"exp(-{p:g}r)")
            elif kind == "gauss":
                out.append(f"gauss({p:g})")
            else:
                out.append(f"r^-{p:g}")
        return out

    def cutoff_for(self, cell) -> float:
        """The cutoff (Å) used in ``cell``: ``r_cut`` or, if None, ``cell.max_cutoff``."""
        c = make_cell(cell)
        return float(self.r_cut) if self.r_cut is not None else float(c.max_cutoff)

    def to_core(self, cell) -> _core.Basis:
        """The core basis for ``cell`` (resolves the default cutoff)."""
        r_cut = self.cutoff_for(cell)
        r_on = math.inf if self.r_on is None else float(self.r_on)
        if r_on != math.inf and not r_on < r_cut:
            raise ValueError(f"basis: switching start r_on={r_on} Å must be below the cutoff {r_cut} Å")
        return _core.Basis(list(self.functions), r_cut, r_on)

    def select(self, indices) -> "Basis":
        """A basis with only the functions at ``indices`` (same cutoff and switching)."""
        return Basis(tuple(self.functions[i] for i in indices), self.r_cut, self.r_on)
