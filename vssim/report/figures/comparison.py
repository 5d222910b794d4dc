"""Scenarios against a baseline, from the tidy comparison table (vssim.analysis.compare): a bar
per scenario and metric with its interval, and what common random numbers bought.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, PercentFormatter

from vssim.formatting import MISSING, change, finite, number
from vssim.report.figures.style import (
    BASELINE_GREY,
    FRACTIONS,
    RC,
    color,
    figure,
    metric_label,
    metric_name,
    metric_unit,
    panels,
    save,
)


def _baseline(table: pd.DataFrame) -> str:
    """The baseline scenario of a comparison table.

    The scenario named "baseline" if there is one; else one whose difference to the baseline is
    zero everywhere; else the first scenario of the table.
    """
    names = list(dict.fromkeys(table["scenario"]))
    if "baseline" in names:
        return "baseline"
    for name in names:
        rows = table[table["scenario"] == name]
        d = pd.to_numeric(rows["diff"], errors="coerce") if "diff" in rows else pd.Series(dtype=float)
        if len(d) and ((d.fillna(0.0).abs() < 1e-12) & (rows["mean"] == rows["baseline_mean"])).all():
            return name
    return names[0]


def _scenario_order(table: pd.DataFrame, baseline: str) -> list[str]:
    names = list(dict.fromkeys(table["scenario"]))
    return [baseline] + [n for n in names if n != baseline]


def _truthy(x) -> bool:
    try:
        return bool(x) and not (isinstance(x, float) and math.isnan(x))
    except (TypeError, ValueError):
        return False


def _small_multiples(table: pd.DataFrame, metrics: list[str], order: list[str], bottom: float) -> tuple[Figure, list]:
    """A figure of a panel per metric, a row per scenario in each, wide enough for the longest
    name and with `bottom` inches for what goes under the panels. The figure, and per metric its
    panel, the metric, its rows of `table` (indexed by scenario) and its scenarios in `order`."""
    nrows, ncols = panels(len(metrics))
    longest = max(len(s) for s in order)
    fig = figure(ncols * 3.9 + 0.09 * longest, nrows * (0.42 * len(order) + 1.5) + bottom)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    out = []
    for ax, metric in zip(axes, metrics, strict=False):
        rows = table[table["metric"] == metric].set_index("scenario")
        out.append((ax, metric, rows, [s for s in order if s in rows.index]))
    return fig, out


# ---------------------------------------------------------------------------- comparison bars
def _build_comparison_bars(table: pd.DataFrame, metrics=("lead_time", "lead_time_p85", "throughput", "wip",
                                                          "flow_efficiency"),
                           time_unit: str = "day", title: str | None = None) -> Figure:
    metrics = [m for m in metrics if (table["metric"] == m).any()]
    if not metrics:
        raise ValueError(f"comparison table has none of the metrics {list(metrics)!r}")
    base = _baseline(table)
    order = _scenario_order(table, base)
    colours = {s: (BASELINE_GREY if s == base else color(k)) for k, s in enumerate(order[1:], start=0)}
    colours[base] = BASELINE_GREY
    with mpl.rc_context(RC):
        fig, grid = _small_multiples(table, metrics, order, bottom=0.6)
        for ax, metric, rows, names in grid:
            y = np.arange(len(names))
            mean = rows.loc[names, "mean"].to_numpy(dtype=float)
            lo = rows.loc[names, "ci_lo"].to_numpy(dtype=float)
            hi = rows.loc[names, "ci_hi"].to_numpy(dtype=float)
            err = np.vstack([np.where(np.isfinite(lo), mean - lo, 0.0), np.where(np.isfinite(hi), hi - mean, 0.0)])
            ax.barh(y, mean, color=[colours[s] for s in names], height=0.7, gid=f"bars:{metric}")
            ax.errorbar(mean, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="black", elinewidth=1.3, capsize=3)
            reach = np.nanmax(np.where(np.isfinite(hi), hi, mean)) if len(mean) else 1.0
            reach = reach if np.isfinite(reach) and reach > 0 else 1.0
            for k, s in enumerate(names):
                if s == base:
                    ax.annotate("baseline", xy=(max(hi[k] if np.isfinite(hi[k]) else mean[k], 0), k),
                                xytext=(4, 0), textcoords="offset points", va="center", fontsize=10,
                                color="#555555")
                    continue
                pct = rows.loc[s, "pct_change"] if "pct_change" in rows else np.nan
                star = "*" if _truthy(rows.loc[s, "significant"] if "significant" in rows else False) else ""
                text = change(pct, digits=0) + (star if finite(pct) else "")
                ax.annotate(text, xy=(max(hi[k] if np.isfinite(hi[k]) else mean[k], 0), k), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize=10,
                            fontweight="bold" if star else "normal", gid=f"change:{metric}:{s}")
            ax.set_xlim(0, reach * 1.38)
            ax.set_yticks(y, names)
            ax.set_ylim(len(names) - 0.5, -0.5)       # baseline on top
            ax.set_xlabel(metric_label(metric, time_unit))
            ax.set_title(metric_name(metric))
            if metric in FRACTIONS:
                ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
            ax.grid(axis="x", color="#E5E5E5")
            ax.set_axisbelow(True)
        fig.suptitle(title or f"Scenarios against {base}: mean with 95 % CI", fontweight="bold")
        fig.text(0.5, 0.0, "Labels: % change from the baseline, paired over common random numbers; "
                 "* = the 95 % CI of the paired difference excludes 0.", ha="center", va="bottom", fontsize=10)
        fig.get_layout_engine().set(rect=(0, 0.05, 1, 0.95))
    return fig


def comparison_bars(table: pd.DataFrame, path, metrics=("lead_time", "lead_time_p85", "throughput", "wip",
                                                        "flow_efficiency"),
                    time_unit: str = "day", title: str | None = None) -> Path:
    """Small multiples, one panel per metric: a bar per scenario (baseline first, grey) with its
    95 % CI, annotated with the paired % change from the baseline and a star when significant.

    `table` is the tidy comparison table (scenario, metric, mean, ci_lo, ci_hi, pct_change,
    significant, ...). The baseline is the scenario called "baseline", else the one with zero
    differences, else the first.
    """
    return save(_build_comparison_bars(table, metrics, time_unit, title), path)


# ---------------------------------------------------------------------------- CRN widths
def crn_halfwidths(table: pd.DataFrame) -> pd.DataFrame:
    """Per (scenario, metric) except the baseline: paired and independent CI half-widths of the
    difference to the baseline and the variance-reduction factor (the table's, or the squared
    ratio of the widths when it has none)."""
    base = _baseline(table)
    t = table[table["scenario"] != base].copy()
    t["paired"] = (t["diff_hi"].astype(float) - t["diff_lo"].astype(float)) / 2
    t["independent"] = (t["indep_hi"].astype(float) - t["indep_lo"].astype(float)) / 2
    vr = t["variance_reduction"].astype(float) if "variance_reduction" in t else pd.Series(np.nan, index=t.index)
    t["factor"] = vr.where(np.isfinite(vr), (t["independent"] / t["paired"]) ** 2)
    return t[["scenario", "metric", "paired", "independent", "factor"]].reset_index(drop=True)


def _factor(f: float) -> str:
    """"×4.2", "×59", "×1,200": a variance-reduction factor, never in scientific notation."""
    if not finite(f):
        return MISSING
    return f"variance ×{number(f, 2)}" if f < 100 else f"variance ×{f:,.0f}"


def _build_crn_widths(table: pd.DataFrame, title: str | None = None, *, time_unit: str = "day") -> Figure:
    w = crn_halfwidths(table)
    metrics = list(dict.fromkeys(w["metric"]))
    scenarios = list(dict.fromkeys(w["scenario"]))
    if not metrics:
        raise ValueError("comparison table has no scenario besides the baseline")
    with mpl.rc_context(RC):
        fig, grid = _small_multiples(w, metrics, scenarios, bottom=0.8)
        for ax, metric, rows, names in grid:
            y = np.arange(len(names))
            p = rows.loc[names, "paired"].to_numpy(dtype=float)
            q = rows.loc[names, "independent"].to_numpy(dtype=float)
            for k in range(len(names)):
                if np.isfinite(p[k]) and np.isfinite(q[k]):
                    ax.plot([p[k], q[k]], [k, k], color="#AAAAAA", linewidth=2, zorder=1)
            ax.scatter(q, y, s=60, facecolor="white", edgecolor=color(1), linewidth=2, zorder=2,
                       label="independent seeds", gid=f"independent:{metric}")
            ax.scatter(p, y, s=60, color=color(0), zorder=3, label="common random numbers (paired)",
                       gid=f"paired:{metric}")
            both = np.concatenate([p, q])
            both = both[np.isfinite(both) & (both > 0)]
            if len(both):
                ax.set_xscale("log")
                lo, hi = both.min(), both.max()
                ax.set_xlim(lo / 1.6, hi * 2.6)
                decades = math.log10(hi * 2.6 / (lo / 1.6))
                subs = (1.0, 2.0, 5.0) if decades <= 2.2 else (1.0,)     # plain-number ticks, not 10^k
                ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=20))
                scale = 100.0 if metric in FRACTIONS else 1.0
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _, scale=scale: number(v * scale, 2)))
                ax.xaxis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 0.1, numticks=20))
                ax.xaxis.set_minor_formatter(NullFormatter())
            for k, s in enumerate(names):
                f = rows.loc[s, "factor"]
                right = np.nanmax([p[k], q[k]]) if np.isfinite([p[k], q[k]]).any() else np.nan
                if np.isfinite(right):
                    ax.annotate(_factor(f), xy=(right, k), xytext=(8, 0),
                                textcoords="offset points", va="center", fontsize=10, gid=f"factor:{metric}:{s}")
            ax.set_yticks(y, names)
            ax.set_ylim(len(names) - 0.5, -0.5)
            ax.set_title(metric_name(metric))
            unit = "% points" if metric in FRACTIONS else metric_unit(metric, time_unit)
            ax.set_xlabel("half-width" + (f" ({unit})" if unit else ""))
            ax.grid(axis="x", which="major", color="#E5E5E5")
            ax.set_axisbelow(True)
        handles, labels = grid[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
        fig.suptitle(title or "What common random numbers bought: 95 % CI half-width of the difference to "
                     "the baseline\n(log scale; × = variance reduction factor)", fontweight="bold")
    return fig


def crn_widths(table: pd.DataFrame, path, title: str | None = None, *, time_unit: str = "day") -> Path:
    """Per scenario and metric, the half-width of the paired (common random numbers) 95 % CI of
    the difference to the baseline against the independent-seeds one, on a log scale, with the
    variance-reduction factor annotated. Half-widths are in each metric's own unit (`time_unit`
    for times, percentage points for fractions)."""
    return save(_build_crn_widths(table, title, time_unit=time_unit), path)

