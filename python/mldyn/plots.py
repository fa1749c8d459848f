"""Figures (PNG, matplotlib's Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_selection_curves"]


def plot_selection_curves(curves: dict, path, labels=None, chosen: dict | None = None) -> Path:
    """The paper's Figure 2: validation relative RMSE against the number of weight functions.

    curves : {species: [(n_functions, relative_rmse, kept), ...]}; one panel per species.
    labels : names of the basis functions (to annotate the kept set); chosen : {species: n kept}.
    """
    path = Path(path)
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
    for ax, (sp, curve) in zip(axes[0], curves.items()):
        n = [c[0] for c in curve]
        err = [c[1] for c in curve]
        ax.plot(n, err, "o-", color="tab:blue")
        if chosen and sp in chosen:
            k = chosen[sp]
            point = next(c for c in curve if c[0] == k)
            ax.plot([k], [point[1]], "o", ms=12, mfc="none", mec="tab:red", label=f"kept {k}")
            if labels:
                ax.text(0.98, 0.97, "\n".join(labels[i] for i in point[2]), transform=ax.transAxes, ha="right",
                        va="top", fontsize=8, family="monospace")
            ax.legend(loc="upper center")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("number of weight functions")
        ax.set_ylabel("relative RMSE of forces (validation)")
        ax.set_title(f"{sp} agents")
        ax.grid(alpha=0.3)
    fig.suptitle("Backward elimination of weight functions")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
