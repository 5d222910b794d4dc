"""Lead times: their histogram with the percentiles a forecast is read from, the cycle-time
scatter of one run, and the distributions of several scenarios overlaid.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from vssim.formatting import number
from vssim.report.figures.style import RC, color, figure, save


# ---------------------------------------------------------------------------- histogram
def _build_lead_time_histogram(lead_times: np.ndarray, time_unit: str, title: str, *,
                               counts: np.ndarray | None = None,
                               quantiles: Mapping[int, float] | None = None) -> Figure:
    ok = np.isfinite(lead_times)
    x = lead_times[ok]
    w = None if counts is None else np.asarray(counts)[ok]
    n = len(x) if w is None else int(w.sum())
    with mpl.rc_context(RC):
        fig = figure(8, 4.5)
        ax = fig.subplots()
        ax.hist(x, bins=min(60, max(10, int(np.sqrt(n)))), weights=w, color=color(0), alpha=0.85)
        for q, style in ((50, ":"), (85, "--"), (95, "-.")):
            if len(x):
                v = quantiles[q] if quantiles is not None else np.percentile(x, q)
                ax.axvline(v, color=color(3), linestyle=style, linewidth=2, label=f"p{q} = {number(v)} {time_unit}")
        ax.set_xlabel(f"lead time ({time_unit})")
        ax.set_ylabel("items")
        ax.set_title(title)
        if len(x):
            ax.legend()
    return fig


def lead_time_histogram(lead_times: np.ndarray, time_unit: str, title: str, path, *,
                        counts: np.ndarray | None = None, quantiles: Mapping[int, float] | None = None) -> Path:
    """Histogram of lead times with the p50 / p85 / p95 lines a forecast is read from.

    `counts`: lead_times are distinct values each seen that many times (a quantile sketch's
    buckets, `QuantileSketch.buckets`), and `quantiles` gives the percentiles to draw.
    """
    return save(_build_lead_time_histogram(lead_times, time_unit, title, counts=counts, quantiles=quantiles), path)


# ---------------------------------------------------------------------------- cycle-time scatter
def _build_cycle_time_scatter(items: pd.DataFrame, time_unit: str, warmup: float = 0.0,
                              title: str | None = None) -> Figure:
    done = items[items["done"].notna() & items["lead_time"].notna()]
    arrival = done["arrival"] if "arrival" in done else done["done"] - done["lead_time"]
    after = done[arrival >= warmup]["lead_time"].to_numpy(dtype=float)
    with mpl.rc_context(RC):
        fig = figure(10, 5.2)
        ax = fig.subplots()
        if warmup > 0:
            ax.axvspan(0, warmup, color="#DDDDDD", alpha=0.7, linewidth=0, label="warmup (not in the percentiles)",
                       gid="warmup")
        types = done["type"]
        names = list(types.cat.categories) if isinstance(types.dtype, pd.CategoricalDtype) \
            else list(dict.fromkeys(types))
        big = len(done) > 5000
        for k, name in enumerate(names):
            g = done[types == name]
            if not len(g):
                continue
            ax.scatter(g["done"], g["lead_time"], s=8 if big else 16, alpha=0.5 if big else 0.75, color=color(k),
                       linewidths=0, label=f"{name} ({len(g)})", rasterized=big, gid=f"items:{name}")
        xmax = float(done["done"].max()) if len(done) else 1.0
        for q, style in ((50, ":"), (85, "--"), (95, "-.")):
            if not len(after):
                break
            v = float(np.percentile(after, q))
            ax.axhline(v, color="black", linestyle=style, linewidth=1.6, gid=f"p{q}")
            ax.annotate(f"p{q} = {number(v)} {time_unit}", xy=(1.0, v), xycoords=("axes fraction", "data"),
                        xytext=(4, 0), textcoords="offset points", va="center", ha="left", fontsize=10)
        ax.set_xlim(0, xmax * 1.01 if xmax > 0 else 1.0)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(f"done at ({time_unit})")
        ax.set_ylabel(f"lead time ({time_unit})")
        ax.set_title(title or "Cycle-time scatter: lead time of each done item")
        ax.legend(loc="upper left", markerscale=1.8, framealpha=0.9)
    return fig


def cycle_time_scatter(items: pd.DataFrame, time_unit: str, path, warmup: float = 0.0,
                       title: str | None = None) -> Path:
    """Done time against lead time of each done item, coloured by type, with the p50 / p85 / p95
    lines of the items that arrived after the warmup, and the warmup shaded.

    `items` has columns `done`, `lead_time`, `type` (and `arrival`; without it the arrival is
    `done − lead_time`): one replication or several pooled.
    """
    return save(_build_cycle_time_scatter(items, time_unit, warmup, title), path)


# ---------------------------------------------------------------------------- lead-time distributions
def _build_lead_time_distributions(items_by_scenario: Mapping[str, np.ndarray], time_unit: str,
                                   title: str | None = None) -> Figure:
    data = {}
    for name, v in items_by_scenario.items():
        v = np.asarray(v, dtype=float)
        data[name] = np.sort(v[np.isfinite(v)])
    tails = [np.percentile(v, 99.5) for v in data.values() if len(v)]
    with mpl.rc_context(RC):
        fig = figure(9, 5.2)
        ax = fig.subplots()
        ax.axhline(0.85, color="#BBBBBB", linewidth=1, linestyle="--")
        ax.annotate("85 %", xy=(0, 0.85), xycoords=("axes fraction", "data"), xytext=(2, 3),
                    textcoords="offset points", fontsize=10, color="#777777")
        for k, (name, v) in enumerate(data.items()):
            c = "#555555" if k == 0 else color(k - 1)
            if not len(v):
                ax.plot([], [], color=c, label=f"{name} (no items)")
                continue
            y = np.arange(1, len(v) + 1) / len(v)
            p85 = float(np.percentile(v, 85))
            ax.step(np.concatenate([[0.0], v]), np.concatenate([[0.0], y]), where="post", color=c,
                    linewidth=2.2 if k == 0 else 1.8, label=f"{name}: p85 {number(p85)} {time_unit}",
                    gid=f"ecdf:{name}")
            ax.plot([p85, p85], [0, 0.85], color=c, linestyle=":", linewidth=1.5)
            ax.plot([p85], [0.85], marker="o", markersize=8, color=c, markeredgecolor="white", linestyle="none",
                    gid=f"p85:{name}")
        ax.set_xlim(0, max(tails) * 1.03 if tails else 1.0)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        ax.set_xlabel(f"lead time ({time_unit})")
        ax.set_ylabel("items done within (cumulative %)")
        ax.set_title(title or "Lead-time distributions (ECDF) with p85 markers")
        ax.legend(loc="lower right", framealpha=0.9)
        ax.grid(color="#EEEEEE")
        ax.set_axisbelow(True)
    return fig


def lead_time_distributions(items_by_scenario: Mapping[str, np.ndarray], time_unit: str, path,
                            title: str | None = None) -> Path:
    """Overlaid empirical CDFs of lead time per scenario (the first grey, as the baseline) with
    a marker at each one's p85: "85 % of items are done within ...". The x axis stops at the
    largest p99.5 so that a few extreme items do not squash the rest."""
    return save(_build_lead_time_distributions(items_by_scenario, time_unit, title), path)

