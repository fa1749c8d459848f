"""Figures (PNG). Each is a standalone matplotlib ``Figure`` rendered by Agg: no display is needed and
the user's pyplot state and backend are left alone (importing this module changes nothing)."""
from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_selection_curves", "plot_kinetic_energy", "plot_oh_bond", "plot_oh_bond_hydrogens", "plot_oh_spectrum",
           "plot_hoh_angle", "plot_rdfs", "plot_vdos", "plot_uncertainty", "RUN_STYLES", "style_name"]

#: Line styles of the runs in comparison figures, in order: the reference (first run) blue and dashed,
#: as in the paper (CP2K blue, dashed in Fig. 5), the learned run green and solid, then any others.
RUN_STYLES = (
    {"color": "tab:blue", "ls": "--"},
    {"color": "tab:green", "ls": "-"},
    {"color": "tab:red", "ls": "-."},
    {"color": "tab:purple", "ls": ":"},
)


def plot_selection_curves(curves: dict, path, labels=None, chosen: dict | None = None,
                          scored: str = "forces") -> Path:
    """The paper's Figure 2: validation relative RMSE against the number of weight functions.

    curves : {species: [(n_functions, relative_rmse, kept), ...]}; one panel per species.
    labels : names of the basis functions (to annotate the kept set); chosen : {species: n kept}; scored :
    what the validation error measures (the fit with force changes scores forces and force changes).
    """
    path = Path(path)
    fig, axes = _subplots((5 * len(curves), 4), 1, len(curves), squeeze=False)
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
        ax.set_ylabel(f"relative RMSE of {scored} (validation)")
        ax.set_title(f"{sp} agents")
        ax.grid(alpha=0.3)
    fig.suptitle("Backward elimination of weight functions")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


# ============================================================================ run comparison (paper Figs. 1, 3-7)
# Every function takes ``runs``: a sequence of (label, mldyn.analysis.TrajectoryAnalysis), the
# reference first, and writes one PNG. Times are shown from the start of each run unless
# ``absolute_time`` (then as recorded in the files).


def style_name(i: int) -> str:
    """How run ``i``'s lines look in the figures, in words (for captions)."""
    st = RUN_STYLES[i % len(RUN_STYLES)]
    ls = {"--": "dashed", "-": "solid", "-.": "dash-dotted", ":": "dotted"}[st["ls"]]
    return f"{st['color'].replace('tab:', '')}, {ls}"


def _style(i: int) -> dict:
    return dict(RUN_STYLES[i % len(RUN_STYLES)])


def _times(an, absolute_time: bool):
    t = an.times_f
    return t if absolute_time else t - t[0]


def _time_label(absolute_time: bool) -> str:
    return "time (fs)" if absolute_time else "time since start of run (fs)"


def _subplots(figsize, *args, **kwargs):
    """(figure, axes) like pyplot.subplots, but a standalone Figure: no pyplot state, no backend switch."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _save(fig, path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_kinetic_energy(runs, path, absolute_time: bool = False) -> Path:
    """Paper Figs. 1 and 3: kinetic energy (eV, top) and temperature (K, bottom) against time, runs overlaid."""
    fig, (ax1, ax2) = _subplots((9, 6.5), 2, 1, sharex=True)
    drawn = False
    for i, (label, an) in enumerate(runs):
        if an.kinetic_f is None:
            continue
        st = _style(i)
        t = _times(an, absolute_time)
        ax1.plot(t, an.kinetic_f, lw=1.2, label=label, **st)
        ax2.plot(t, an.temperature_f, lw=1.2, label=f"{label} (mean {an.temperature_f.mean():.0f} K)", **st)
        drawn = True
    if not drawn:
        _empty(ax1, "no velocities or kinetic energies in these runs")
    else:
        ax1.legend(loc="best")
        ax2.legend(loc="best")
    ax1.set_ylabel("kinetic energy (eV)")
    ax2.set_ylabel("temperature (K)\n(3N − 3 degrees of freedom)")
    ax2.set_xlabel(_time_label(absolute_time))
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.set_title("Kinetic energy and temperature (cf. paper Figs. 1, 3)")
    fig.tight_layout()
    return _save(fig, path)


def _headroom(ax, fraction: float = 0.22) -> None:
    """Extend the y range upwards so a legend at the top does not cover the data."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + fraction * (hi - lo))


def _mean_std_figure(runs, path, mean_attr, std_attr, ylabel, unit, over, title, absolute_time) -> Path:
    fig, (ax1, ax2) = _subplots((9, 6.5), 2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for i, (label, an) in enumerate(runs):
        st = _style(i)
        t = _times(an, absolute_time)
        m, s = getattr(an, mean_attr), getattr(an, std_attr)
        ax1.plot(t, m, lw=1.6, label=f"{label}: mean (time average {np.nanmean(m):.4g} {unit})", **st)
        ax1.plot(t, m + s, lw=0.7, alpha=0.8, label=f"{label}: mean ± std", **st)
        ax1.plot(t, m - s, lw=0.7, alpha=0.8, **st)
        ax1.fill_between(t, m - s, m + s, color=st["color"], alpha=0.07, lw=0)
        ax2.plot(t, s, lw=1.2, label=f"{label} (time average {np.nanmean(s):.3g} {unit})", **st)
    ax1.set_ylabel(f"{ylabel} ({unit})")
    ax2.set_ylabel(f"std over {over} ({unit})")
    ax2.set_xlabel(_time_label(absolute_time))
    _headroom(ax1, 0.25)
    _headroom(ax2, 0.3)
    ax1.legend(loc="upper left", fontsize=8, ncol=2)
    ax2.legend(loc="upper left", fontsize=8, ncol=2)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_oh_bond(runs, path, absolute_time: bool = False) -> Path:
    """Paper Fig. 4: mean O–H bond length over hydrogens ± its standard deviation (Å) against time."""
    return _mean_std_figure(runs, path, "bond_mean_f", "bond_std_f", "O–H bond length", "Å", "hydrogens",
                            "O–H bond: mean ± standard deviation over hydrogens (cf. paper Fig. 4)", absolute_time)


def plot_hoh_angle(runs, path, absolute_time: bool = False) -> Path:
    """Paper Fig. 7: mean H–O–H angle ± its standard deviation (degrees) against time."""
    return _mean_std_figure(runs, path, "angle_mean_f", "angle_std_f", "H–O–H angle", "deg", "molecules",
                            "H–O–H angle: mean ± standard deviation over molecules (cf. paper Fig. 7)",
                            absolute_time)


def plot_oh_bond_hydrogens(runs, path, absolute_time: bool = False) -> Path:
    """Paper Fig. 5: O–H bond length (Å) against time for the same four random hydrogens in every run.

    One panel per hydrogen; reference dashed, learned solid.
    """
    k = max(len(an.sample_hydrogens) for _, an in runs)
    ncol = 2 if k > 1 else 1
    nrow = (k + ncol - 1) // ncol
    fig, axes = _subplots((10, 2.9 * nrow + 0.6), nrow, ncol, sharex=True, squeeze=False)
    for j in range(nrow * ncol):
        ax = axes.flat[j]
        if j >= k:
            ax.set_visible(False)
            continue
        names = []
        for i, (label, an) in enumerate(runs):
            if j >= len(an.sample_hydrogens):
                continue
            h = int(an.sample_hydrogens[j])
            atom = int(an.geometry.hydrogen_atoms[h])
            names.append(f"atom index {atom}")
            ax.plot(_times(an, absolute_time), an.sample_bonds_fk[:, j], lw=1.1, label=label, **_style(i))
        ax.set_title(f"hydrogen {j + 1}: {', '.join(dict.fromkeys(names))}", fontsize=10)
        ax.set_ylabel("O–H distance (Å)")
        ax.grid(alpha=0.3)
        if j == 0:
            ax.legend(loc="upper right", fontsize=8)
        if j >= k - ncol:
            ax.set_xlabel(_time_label(absolute_time))
    fig.suptitle("O–H bond of four random hydrogens (distance to the nearest O; cf. paper Fig. 5)")
    fig.tight_layout()
    return _save(fig, path)


def plot_oh_spectrum(runs, path, absolute_time: bool = False, max_cm1: float = 5000.0) -> Path:
    """Paper Fig. 6: power spectrum of the O–H bond oscillations (left) and its peak in sliding windows (right).

    Left: mean over hydrogens of the bond-length power spectral density (Å²·cm) against
    wavenumber (cm⁻¹), the stretch peak marked. Right: the peak wavenumber (cm⁻¹) of the
    spectrum of each sliding time window, at the window centre.
    """
    fig, (ax1, ax2) = _subplots((12, 4.6), 1, 2, gridspec_kw={"width_ratios": [3, 2]})
    any_spec = False
    band = None
    top = max((float(np.max(an.oh_spectrum.power_k)) for _, an in runs if an.oh_spectrum is not None), default=1.0)
    exponent = int(np.floor(np.log10(top))) if top > 0 else 0
    scale = 10.0 ** -exponent
    for i, (label, an) in enumerate(runs):
        st = _style(i)
        if an.oh_spectrum is None:
            continue
        any_spec = True
        band = an.band
        k, p = an.oh_spectrum.wavenumber_k, an.oh_spectrum.power_k
        sel = k <= max_cm1
        peak = f"peak {an.oh_peak_cm1:.0f} cm⁻¹" if np.isfinite(an.oh_peak_cm1) else "no peak in the band"
        ax1.plot(k[sel], p[sel] * scale, lw=1.3, label=f"{label} ({peak})", **st)
        if np.isfinite(an.oh_peak_cm1):
            ax1.axvline(an.oh_peak_cm1, color=st["color"], lw=0.8, ls=":")
        if an.peak_w.size:
            t0 = 0.0 if absolute_time else an.times_f[0]
            ax2.plot(an.peak_times_w - t0, an.peak_w, marker="o", ms=3, lw=1.2, label=label, **st)
    if not any_spec:
        _empty(ax1, "no spectrum (frames not evenly spaced)")
        _empty(ax2, "")
    else:
        if band is not None:
            ax1.axvspan(band[0], band[1], color="0.85", alpha=0.4, lw=0, label="peak search band")
        ax1.set_xlim(0, max_cm1)
        ax1.set_ylim(bottom=0)
        ax1.legend(loc="upper right", fontsize=8)
        ax2.legend(loc="best", fontsize=8)
    ax1.set_xlabel("wavenumber (cm⁻¹)")
    unit = "Å²·cm" if exponent == 0 else f"10$^{{{exponent}}}$ Å²·cm"
    ax1.set_ylabel(f"O–H bond power spectral density ({unit})")
    ax1.set_title("Power spectrum of O–H bond oscillations")
    ax2.set_xlabel(_time_label(absolute_time) + ", window centre")
    ax2.set_ylabel("O–H stretch peak (cm⁻¹)")
    wins = sorted({f"{an.peak_window_fs:.0f}" for _, an in runs if np.isfinite(an.peak_window_fs)})
    ax2.set_title(f"Spectrum peak in sliding {'/'.join(wins) or ''} fs windows")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle("O–H vibrational power spectrum (cf. paper Fig. 6)")
    fig.tight_layout()
    return _save(fig, path)


def plot_rdfs(runs, path) -> Path:
    """Radial distribution functions g_OO, g_OH, g_HH (dimensionless) against r (Å), runs overlaid.

    The covalent O–H peak of g_OH (height ~20) is cut off so the hydrogen-bond structure stays
    visible; its height is written in the panel.
    """
    pairs = ("OO", "OH", "HH")
    fig, axes = _subplots((14, 4.4), 1, 3)
    from ..analysis import rdf_first_peak

    for ax, pair in zip(axes, pairs):
        tops, notes = [], []
        for i, (label, an) in enumerate(runs):
            g = an.rdfs.get(pair)
            if g is None:
                continue
            r0, h0 = rdf_first_peak(g)
            ax.plot(g.r_k, g.g_k, lw=1.2, label=f"{label} (1st peak {r0:.2f} Å, {h0:.2f})", **_style(i))
            tops.append(float(np.max(g.g_k[g.r_k > 1.3])) if np.any(g.r_k > 1.3) else float(np.max(g.g_k)))
            if pair == "OH":
                notes.append(f"{label}: {np.max(g.g_k):.1f}")
        if not tops:
            _empty(ax, "no periodic cell: no RDF")
            continue
        ax.axhline(1.0, color="0.5", lw=0.7, ls=":")
        if pair == "OH":
            ax.set_ylim(0, 1.6 * max(tops))
            ax.text(0.97, 0.83, "covalent peak cut off, height:\n" + "\n".join(notes), transform=ax.transAxes,
                    ha="right", va="top", fontsize=8, color="0.3")
        else:
            ax.set_ylim(0, 1.25 * max(tops))
        ax.set_xlabel("r (Å)")
        ax.set_ylabel(f"g$_{{{pair}}}$(r)")
        ax.set_title(f"{pair[0]}–{pair[1]} radial distribution")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("Radial distribution functions (minimum image, up to half the cell width)")
    fig.tight_layout()
    return _save(fig, path)


def plot_vdos(runs, path, max_cm1: float = 5000.0) -> Path:
    """Velocity autocorrelation (left, normalised, mass-weighted, against lag in fs) and the
    vibrational density of states (right, unit area, per cm⁻¹, against wavenumber in cm⁻¹)."""
    fig, (ax1, ax2) = _subplots((12, 4.4), 1, 2)
    drawn = False
    for i, (label, an) in enumerate(runs):
        if an.vacf is None:
            continue
        drawn = True
        st = _style(i)
        ax1.plot(an.vacf_lag, an.vacf, lw=1.2, label=label, **st)
        k, p = an.vdos.wavenumber_k, an.vdos.power_k
        sel = k <= max_cm1
        ax2.plot(k[sel], p[sel], lw=1.2, label=label, **st)
    if not drawn:
        _empty(ax1, "no velocities")
        _empty(ax2, "")
    else:
        ax1.axhline(0, color="0.5", lw=0.7)
        ax1.legend(fontsize=8)
        ax2.legend(fontsize=8)
        ax2.set_xlim(0, max_cm1)
        ax2.set_ylim(bottom=0)
    ax1.set_xlabel("lag τ (fs)")
    ax1.set_ylabel("C(τ) = ⟨Σ m v(0)·v(τ)⟩ / ⟨Σ m v²⟩")
    ax1.set_title("Velocity autocorrelation (mass-weighted)")
    ax2.set_xlabel("wavenumber (cm⁻¹)")
    ax2.set_ylabel("VDOS (per cm⁻¹, unit area)")
    ax2.set_title("Vibrational density of states")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_uncertainty(cal: dict, path, title: str = "") -> Path:
    """Per-frame force uncertainty beside the actual error (left) and the reliability curve per species
    (right: RMS actual error against predicted error of agents binned by prediction; calibrated = on the
    diagonal). ``cal`` from :func:`mldyn.fit.calibration.calibration`."""
    fig, (ax, bx) = _subplots((11, 4.2), 1, 2)
    frames = cal["per_frame"]
    x = np.arange(len(frames["max_uncertainty"]))
    ax.plot(x, frames["max_error"], color="0.55", lw=0.8, label="largest actual error")
    ax.plot(x, frames["max_uncertainty"], color="tab:red", lw=1.2, label="largest force uncertainty")
    ax.set_xlabel("frame")
    ax.set_ylabel("per frame, over its agents (eV/Å)")
    rho = cal.get("spearman_frame_max_uncertainty_vs_max_error")
    ax.set_title(f"per frame (Spearman {rho:.2f})" if rho == rho and rho is not None else "per frame")
    ax.legend(fontsize=8)
    top = 0.0
    for i, (name, v) in enumerate(cal["species"].items()):
        pred = [b["predicted"] for b in v["reliability"]]
        act = [b["actual_rms"] for b in v["reliability"]]
        top = max(top, max(pred), max(act))
        bx.plot(pred, act, "o-", color=RUN_STYLES[i % len(RUN_STYLES)]["color"],
                label=f"{name} (Spearman per agent {v['spearman_predicted_vs_error']:.2f})")
    bx.plot([0, top * 1.05], [0, top * 1.05], color="0.6", ls=":", lw=1, label="calibrated")
    bx.set_xlabel("predicted force error (eV/Å)")
    bx.set_ylabel("RMS actual force error (eV/Å)")
    bx.set_title("reliability: agents binned by prediction")
    bx.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
