"""A reorganisation in time: lead time and throughput per period of the baseline and of the
transition (common random numbers, paired 95 % bands), and the cumulative lead time saved (or the
deliveries gained) with the break-even marked (`vssim.analysis.transition`).
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from vssim.analysis.transition import TransitionEffect
from vssim.formatting import number, plural
from vssim.report.figures.style import BASELINE_GREY, RC, color, figure, save

_NEW = color(0)


def _band(ax, x, base, lo, hi, label: str | None, alpha: float = 0.25) -> None:
    """The transition's paired band: the baseline plus the interval of the paired difference (so the
    band leaves the baseline's line exactly where the difference is significant)."""
    ax.fill_between(x, base + lo, base + hi, color=_NEW, alpha=alpha, linewidth=0, label=label)


def _curve(effect: TransitionEffect, metric: str):
    c = effect.curves[effect.curves["metric"] == metric]
    x = ((c["start"] + c["end"]) / 2).to_numpy(float)
    return (x, c["baseline"].to_numpy(float), c["transition"].to_numpy(float), c["diff_lo"].to_numpy(float),
            c["diff_hi"].to_numpy(float))


def _change(ax, at: float, label: bool) -> None:
    ax.axvline(at, color="black", linestyle="--", linewidth=1.2)
    if label:
        ax.annotate("reorganisation", (at, 1.0), xycoords=("data", "axes fraction"), xytext=(4, -4),
                    textcoords="offset points", ha="left", va="top", fontsize=10)


def _build_transition(effect: TransitionEffect, title: str | None = None) -> Figure:
    unit = effect.time_unit
    per = "week" if effect.period == 7 and unit.startswith("day") else f"{number(effect.period)} {plural(unit)}"
    n = effect.replications
    with mpl.rc_context(RC):
        fig = figure(12, 12)
        ax_p85, ax_p50, ax_tput, ax_cum = fig.subplots(4, 1, sharex=True)
        panels = ((ax_p85, "lead_time_p85", f"lead time ({plural(unit)})",
                   f"Lead time p85 of the items done each {per} (mean over {n} replications)"),
                  (ax_p50, "lead_time_p50", f"lead time ({plural(unit)})",
                   f"Lead time p50 of the items done each {per} (mean over {n} replications)"),
                  (ax_tput, "throughput", f"items per {unit}", f"Throughput each {per}"))
        for ax, metric, ylabel, title in panels:
            x, b, new, lo, hi = _curve(effect, metric)
            ax.plot(x, b, color=BASELINE_GREY, linewidth=1.6, label="baseline")
            ax.plot(x, new, color=_NEW, linewidth=1.6, label="reorganised")
            _band(ax, x, b, lo, hi, "paired 95 % band")
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            ax.set_ylim(bottom=0)
        _cumulative(ax_cum, effect)
        for k, ax in enumerate((ax_p85, ax_p50, ax_tput, ax_cum)):
            _change(ax, effect.at, label=k == 0)
            ax.grid(axis="y", alpha=0.3)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=10)
        ax_cum.set_xlabel(f"time ({unit})")
        ax_cum.set_xlim(0, effect.horizon)
        if title:
            fig.suptitle(title)
    return fig


def _cumulative(ax, effect: TransitionEffect) -> None:
    """S(t) (open) or D(t) (saturated, backlog), its band, and the break-even."""
    c = effect.cumulative
    be = effect.break_even
    key = "saved" if be.measure == "lead_time_saved" else "delivered"
    t = c["time"].to_numpy(float)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.plot(t, c[key].to_numpy(float), color=_NEW, linewidth=1.6,
            label="mean over replications")
    ax.fill_between(t, c[f"{key}_lo"].to_numpy(float), c[f"{key}_hi"].to_numpy(float), color=_NEW, alpha=0.2,
                    linewidth=0, label="95 % band")
    unit = effect.time_unit
    if key == "saved":
        ax.set_ylabel("item-" + plural(unit))
        ax.set_title("Cumulative lead time saved since the reorganisation, ∫ (WIP baseline − WIP reorganised)")
    else:
        ax.set_ylabel("items")
        ax.set_title("Items delivered since the reorganisation: reorganised − baseline")
    when = be.mean.mean if be.mean else be.median
    if when is not None and math.isfinite(when):
        x = effect.at + when
        if be.mean and math.isfinite(be.mean.lo):
            ax.axvspan(effect.at + max(be.mean.lo, 0.0), effect.at + be.mean.hi, color=color(2), alpha=0.15,
                       linewidth=0, label="break-even, 95 % CI")
        what = "mean" if be.mean else f"median\n({be.n - be.reached} of {be.n} replications never)"
        ax.axvline(x, color=color(2), linewidth=1.6,
                   label=f"break-even, {what}:\n{number(when)} {plural(unit, when)} after")
    else:
        ax.annotate(f"no break-even within the horizon ({be.n - be.reached} of {be.n} replications never)",
                    (effect.at, 0.92), xycoords=("data", "axes fraction"), xytext=(6, 0), textcoords="offset points",
                    fontsize=10, va="top")
    values = np.concatenate([c[f"{key}_lo"].to_numpy(float), c[f"{key}_hi"].to_numpy(float),
                             c[key].to_numpy(float)])
    values = values[np.isfinite(values)]
    if len(values) and values.max() > values.min():
        pad = 0.08 * (values.max() - values.min())
        ax.set_ylim(min(values.min(), 0) - pad, max(values.max(), 0) + 3 * pad)


def transition_figure(effect: TransitionEffect, path, title: str | None = None) -> Path:
    """The transition figure: lead time (p50, p85) and throughput per period of both organisations
    with the paired 95 % bands, the cumulative lead time saved (or deliveries) with the break-even,
    and the reorganisation marked."""
    return save(_build_transition(effect, title), path)
