"""Who is overloaded: each pool's utilisation with its interval, and under it each of its people's
(summary.json's `pools`, docs/metrics.md "Pools"), against the line at which a pool is overloaded.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from vssim.formatting import finite, percent
from vssim.report.figures.style import BASELINE_GREY, RC, color, figure, save


def ranked(pools: dict) -> list[str]:
    """The pools by utilisation, busiest first (pools without one last, in their order)."""
    return sorted(pools, key=lambda p: -pools[p]["utilization"] if finite(pools[p]["utilization"]) else math.inf)


def _rows(pools: dict) -> list[tuple[str, float, list | None, bool]]:
    """(label, utilisation, interval or None, is a pool) per bar, top to bottom: each pool, then its
    people when it has more than one."""
    rows = []
    for name in ranked(pools):
        v = pools[name]
        ci = v.get("utilization_ci95") or [None, None]
        rows.append((name, v["utilization"], ci if all(finite(x) for x in ci) else None, True))
        people = v.get("people") or {}
        if len(people) > 1:
            rows += [(f"{name}/{k}", u, None, False) for k, u in people.items()]
    return rows


def _build_utilization_bars(pools: dict, overloaded: float, title: str) -> Figure:
    rows = _rows(pools)
    with mpl.rc_context(RC):
        fig = figure(8, 0.32 * len(rows) + 1.8)
        ax = fig.subplots()
        y = np.arange(len(rows))
        for k, (label, u, ci, is_pool) in enumerate(rows):
            value = u if finite(u) else 0.0
            hot = finite(u) and u >= overloaded
            ax.barh(k, value, height=0.75 if is_pool else 0.45, color=color(3) if hot else color(0),
                    alpha=1.0 if is_pool else 0.55, gid=f"{'pool' if is_pool else 'person'}:{label}")
            if ci is not None:
                ax.errorbar(value, k, xerr=[[value - ci[0]], [ci[1] - value]], color="#333333", capsize=3,
                            linewidth=1)
            ax.text(max(value, ci[1] if ci else 0.0) + 0.01, k, percent(u), va="center", fontsize=10)
        ax.axvline(overloaded, color=BASELINE_GREY, linestyle="--", linewidth=1)
        ax.text(overloaded, -0.9, f"overloaded ≥ {percent(overloaded)}", color=BASELINE_GREY, fontsize=10,
                ha="center", va="bottom")
        ax.set_yticks(y, [("" if is_pool else "   ") + label for label, _, _, is_pool in rows])
        for tick, (_, _, _, is_pool) in zip(ax.get_yticklabels(), rows, strict=True):
            tick.set_fontweight("bold" if is_pool else "normal")
        ax.set_ylim(len(rows) - 0.5, -1.2)
        top = max([1.0, *(r[1] for r in rows if finite(r[1])), *(r[2][1] for r in rows if r[2])])
        ax.set_xlim(0, top * 1.12)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("utilisation: busy person-time / person-time present\n(bold: pools; under each, its people)")
        ax.set_title(textwrap.fill(title, 50))       # beside long pool names the axes are narrow
    return fig


def utilization_bars(pools: dict, path, *, overloaded: float, title: str) -> Path:
    """Each pool's utilisation (95 % CI when there is one), busiest first, its people's under it,
    red from `overloaded` on.

    `pools`: the summary's `pools` (pool name -> utilization, utilization_ci95, people).
    """
    return save(_build_utilization_bars(pools, overloaded, title), path)
