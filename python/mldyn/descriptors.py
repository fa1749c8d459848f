"""Descriptor families: the invariants an agent's loss is a function of.

A model's invariant row is the concatenation of the rows of its descriptors (see
``cpp/include/mldyn/descriptor.hpp``). Each family here is a small immutable spec that the
C++ core turns into the descriptor (``spec()``); the model file stores the same fields.

:class:`Radial` — the paper's radial invariants (eq. 4.1),
``phi[k, a, m] = sum_{i of species a, i != k} w_m(r_ki) S(r_ki)``, with weight functions

* ``("exp", alpha)``   w(r) = exp(-alpha r), alpha in 1/Å;
* ``("gauss", sigma)`` w(r) = exp(-r² / (2 sigma²)), sigma in Å;
* ``("power", n)``     w(r) = r^-n;
* ``("core", r_w)``    w(r) = ((r_w / r)^4 - 1)^3 / 64 below r_w, 0 beyond (a short-range wall: ~(1 - r/r_w)^3
  just below r_w, ~(r_w / r)^12 / 64 at short range), r_w in Å;

a cutoff ``r_cut`` (Å; ``None`` means half the smallest perpendicular cell width, the paper's
minimum-image convention) and an optional smooth switching start ``r_on`` (Å): between
``r_on`` and ``r_cut`` every weight is multiplied by the quintic smoothstep so forces stay
continuous. S * M invariants per agent for S species and M functions, index ``a * M + m``.

:class:`Angular` — angular invariants of the power-spectrum kind (see
``cpp/include/mldyn/angular_descriptor.hpp``): with its own M radial functions (same families),
channels alpha = a * M + m and degrees l = 1..l_max,
``phi[l, alpha, beta] = sum_{i in a, j in b} w_m(r_i) w_n(r_j) P_l(cos theta_ij)`` (alpha <= beta):
rotation invariant, O(neighbours) per agent, l_max * C (C + 1) / 2 invariants, C = S * M. A
short cutoff (3-4 Å) keeps them cheap.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from . import _core

__all__ = ["Radial", "Angular", "Basis", "PAPER_FUNCTIONS", "as_descriptors", "function_labels"]

#: The paper's 18 functions: alpha = 1, 1/2, ..., 1/8 Å^-1; sigma = 1..8 Å; n = 1, 2.
PAPER_FUNCTIONS: tuple = tuple(tuple(f) for f in _core.paper_default_functions())


class _Family:
    """What every descriptor spec shares: radial weight functions, a cutoff ``r_cut`` (Å; None: half
    the smallest perpendicular cell width) and a switching start ``r_on`` (Å; None: hard cutoff).
    Subclasses are frozen dataclasses with these fields (and their own, e.g. ``l_max``)."""

    family = ""

    def _normalise(self):
        object.__setattr__(self, "functions", tuple((str(k), float(p)) for k, p in self.functions))
        # None is how "half the smallest cell width" is written here (the core's spec uses NaN).
        if self.r_cut is not None and not (math.isfinite(self.r_cut) and self.r_cut > 0):
            raise ValueError(f"{self.family} descriptor: r_cut must be positive (Å) or None, got {self.r_cut}")
        self.spec()  # the core validates (ValueError names the problem)

    def __len__(self) -> int:
        return len(self.functions)

    def labels(self) -> list[str]:
        """Readable names of the functions, e.g. ``exp(-r/2)``, ``gauss(3)``, ``r^-1``."""
        return function_labels(self.functions)

    def spec(self) -> _core.DescriptorSpec:
        """The core's spec (cutoff NaN = half the smallest cell width, r_on inf = hard cutoff)."""
        try:
            return _core.DescriptorSpec(self.family, list(self.functions),
                                        math.nan if self.r_cut is None else float(self.r_cut),
                                        math.inf if self.r_on is None else float(self.r_on), getattr(self, "l_max", 0))
        except ValueError as exc:
            raise ValueError(f"{self.family} descriptor: {exc}") from None

    @classmethod
    def from_spec(cls, spec: _core.DescriptorSpec):
        extra = {"l_max": spec.l_max} if "l_max" in cls.__dataclass_fields__ else {}
        return cls(functions=tuple(spec.functions), r_cut=None if math.isnan(spec.r_cut) else spec.r_cut,
                   r_on=None if math.isinf(spec.r_on) else spec.r_on, **extra)

    def to_dict(self) -> dict:
        """The descriptor's entry in a model file (schema 2, see model_file.hpp)."""
        out = {"family": self.family, "functions": [[k, float(p)] for k, p in self.functions]}
        if hasattr(self, "l_max"):
            out["l_max"] = self.l_max
        out.update(r_cut=self.r_cut, r_on=self.r_on)
        return out

    def with_cutoff(self, r_cut: float):
        """The same descriptor with an explicit cutoff (Å)."""
        return dataclasses.replace(self, r_cut=float(r_cut))

    def select(self, indices):
        """The same descriptor with only the functions at ``indices``."""
        return dataclasses.replace(self, functions=tuple(self.functions[i] for i in indices))


@dataclass(frozen=True)
class Radial(_Family):
    """Radial weight functions, cutoff (Å) and switching start (Å). See the module docstring."""

    functions: tuple = PAPER_FUNCTIONS
    r_cut: float | None = None
    r_on: float | None = None

    family = "radial"

    def __post_init__(self):
        self._normalise()

    @classmethod
    def paper(cls, r_cut: float | None = None, r_on: float | None = None) -> "Radial":
        """The paper's 18-function basis."""
        return cls(PAPER_FUNCTIONS, r_cut, r_on)

    def size(self, n_species: int) -> int:
        """Invariants per agent: n_species * M."""
        return n_species * len(self.functions)


@dataclass(frozen=True)
class Angular(_Family):
    """Angular power-spectrum invariants: radial functions, degrees 1..l_max, cutoff and switching (Å)."""

    functions: tuple = (("gauss", 1.0), ("gauss", 1.5), ("gauss", 2.0))
    l_max: int = 2
    r_cut: float | None = 3.5
    r_on: float | None = None

    family = "angular"

    def __post_init__(self):
        object.__setattr__(self, "l_max", int(self.l_max))
        self._normalise()

    def size(self, n_species: int) -> int:
        """Invariants per agent: l_max * C (C + 1) / 2 with C = n_species * M channels."""
        C = n_species * len(self.functions)
        return self.l_max * C * (C + 1) // 2


def function_labels(functions) -> list[str]:
    """Readable names of radial functions, e.g. ``exp(-r/2)``, ``gauss(3)``, ``r^-1``."""
    out = []
    for kind, p in functions:
        if kind == "exp":
            out.append(f"exp(-r/{1 / p:g})" if abs(1 / p - round(1 / p)) < 1e-9 else f"exp(-{p:g}r)")
        elif kind == "gauss":
            out.append(f"gauss({p:g})")
        elif kind == "core":
            out.append(f"core({p:g})")
        else:
            out.append(f"r^-{p:g}")
    return out


#: The paper's name for the radial family (a set of weight functions).
Basis = Radial

DESCRIPTOR_FAMILIES = {"radial": Radial, "angular": Angular}


def as_descriptors(descriptors) -> tuple:
    """A tuple of descriptor specs from one descriptor or a sequence of them."""
    if isinstance(descriptors, tuple(DESCRIPTOR_FAMILIES.values())):
        return (descriptors,)
    out = tuple(descriptors)
    if not out or not all(isinstance(d, tuple(DESCRIPTOR_FAMILIES.values())) for d in out):
        raise ValueError(f"descriptors must be one or more of {sorted(DESCRIPTOR_FAMILIES)}, got {descriptors!r}")
    return out


def from_spec(spec: _core.DescriptorSpec):
    """The Python descriptor for a core spec (as the model-file reader returns them)."""
    return DESCRIPTOR_FAMILIES[spec.family].from_spec(spec)
