"""Sweeps: a CONWIP sweep against Factory Physics' curves, and the trials of an optimisation."""
from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vssim.formatting import finite
from vssim.report.figures.style import RC, color, figure, save


def _build_wip_curves(points: pd.DataFrame, curves, time_unit: str, vut: np.ndarray | None = None,
                      title: str | None = None) -> Figure:
    fig = figure(12, 5)
    ax_th, ax_ct = fig.subplots(1, 2)
    w = curves.w
    lines = [("best case", curves.best, "#009E73", "-"), ("practical worst case", curves.practical_worst,
                                                           "#E69F00", "--"),
             ("worst case", curves.worst, "#D55E00", ":")]
    if curves.mva is not None:
        lines.append(("exact MVA (exponential)", curves.mva, "#0072B2", "-."))
    for label, (th, ct), col, style in lines:
        ax_th.plot(w, th, style, color=col, linewidth=2, label=label)
        ax_ct.plot(w, ct, style, color=col, linewidth=2, label=label)
    x = points["level"].to_numpy()
    for ax, m in ((ax_th, "throughput"), (ax_ct, "flow_time")):
        y = points[m].to_numpy()
        err = np.vstack([y - points[f"{m}_lo"].to_numpy(), points[f"{m}_hi"].to_numpy() - y])
        ax.errorbar(x, y, yerr=np.nan_to_num(err), fmt="o", color="black", markersize=4, capsize=2,
                    label="simulated (95 % CI)", zorder=5)
    if vut is not None and np.isfinite(vut).any():
        ax_ct.plot(x, vut, "s", color="#CC79A7", markersize=4, label="VUT (Kingman), open-line approximation, u ≤ 0.8")
    ax_th.axvline(curves.w0, color="grey", linewidth=1)
    ax_ct.axvline(curves.w0, color="grey", linewidth=1)
    ax_th.annotate(f"W0 = {curves.w0:.3g}", (curves.w0, 0), xytext=(4, 4), textcoords="offset points",
                   fontsize=10, color="grey")
    ax_th.set_ylim(0, curves.rb * 1.15)
    ax_th.set_xlabel("WIP, CONWIP level (items)")
    ax_th.set_ylabel(f"throughput (items/{time_unit})")
    ax_th.set_title("Throughput against WIP")
    ax_ct.set_xlabel("WIP, CONWIP level (items)")
    ax_ct.set_ylabel(f"cycle time, commit → done ({time_unit})")
    ax_ct.set_title("Cycle time against WIP")
    ax_ct.set_ylim(0, max(float(np.nanmax(points["flow_time_hi"])) * 1.3, curves.t0 * 2))
    ax_th.legend(fontsize=10, loc="lower right")
    ax_ct.legend(fontsize=10, loc="upper left")
    for ax in (ax_th, ax_ct):
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"WIP sweep: r_b = {curves.rb:.3g}/{time_unit}, T0 = {curves.t0:.3g} {time_unit}",
                 fontsize=13, fontweight="bold")
    return fig


def wip_curves(points: pd.DataFrame, curves, time_unit: str, path, vut: np.ndarray | None = None,
               title: str | None = None) -> Path:
    """Throughput and cycle time of a CONWIP sweep against Factory Physics' best, worst and
    practical-worst cases (and exact MVA where it applies). `points`: vssim.analysis.wipcurve.sweep_points."""
    return save(_build_wip_curves(points, curves, time_unit, vut, title), path)


def _build_optimisation_trials(trials: pd.DataFrame) -> Figure:
    by_trial = trials.dropna(subset=["trial"]).sort_values("trial")
    shown = by_trial[by_trial["objective"].map(finite)]
    err = [(shown["objective"] - shown["objective_lo"]).fillna(0),
           (shown["objective_hi"] - shown["objective"]).fillna(0)]
    with mpl.rc_context(RC):
        fig = figure(7, 4)
        ax = fig.add_subplot()
        ax.errorbar(shown["trial"], shown["objective"], yerr=err, fmt="o", ms=4, capsize=2, color=color(0),
                    label="trial (95 % CI)")
        ax.step(shown["trial"], shown["objective"].cummax(), where="post", color=color(3), label="best so far")
        ax.set(xlabel="trial (job number)", ylabel="objective", title="Objective by trial")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="lower right")
    return fig


def optimisation_trials(trials: pd.DataFrame, path) -> Path:
    """The objective of each trial of an optimising sweep with its 95 % CI, and the best so far.

    `trials`: vssim.run.sweep.optimisation_table (trial, objective, objective_lo, objective_hi).
    """
    return save(_build_optimisation_trials(trials), path)
