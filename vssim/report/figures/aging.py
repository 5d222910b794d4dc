"""Aging WIP of the board as it is now (a `BoardState` read from a state file): each item in
progress as a dot in its column at its age, over the percentiles of past cycle times when given.

The simulated counterpart (ages at the end of a run, over the bands of the done items) is
`flow.aging_wip`; this one reads real data, where "now" is a date.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from vssim.data.state import BoardState
from vssim.formatting import number
from vssim.report.figures.style import RC, color, figure, save

UNITS = {"day": 86400.0, "hour": 3600.0, "week": 7 * 86400.0}
PERCENTILES = (50, 70, 85, 95)


def ages_in(state: BoardState, now, unit: str) -> np.ndarray:
    """Each item's age at `now`, in `unit` (day, hour or week)."""
    return state.age(now).dt.total_seconds().to_numpy() / UNITS[unit]


def _spread(k: int, width: float = 0.56) -> np.ndarray:
    """Offsets of k dots within a column: evenly spread, centred, deterministic (no jitter draw)."""
    return np.zeros(1) if k == 1 else np.linspace(-width / 2, width / 2, k)


def _build_aging_wip(state: BoardState, now, *, cycle_times=None, unit: str = "day",
                     title: str | None = None) -> Figure:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    age = ages_in(state, now, unit)
    col = state.items["column"].to_numpy()
    started = state.items["started"].to_numpy(dtype=bool)
    columns = list(state.columns)
    at = {c: j for j, c in enumerate(columns)}
    x = np.empty(len(age))
    for c in columns:
        idx = np.flatnonzero(col == c)
        idx = idx[np.argsort(age[idx], kind="stable")]
        x[idx] = at[c] + _spread(len(idx)) if len(idx) else x[idx]
    ct = None if cycle_times is None else np.asarray(cycle_times, dtype=float)
    ct = ct[np.isfinite(ct)] if ct is not None else None
    with mpl.rc_context(RC):
        fig = figure(max(8.0, 1.5 * len(columns) + 2.5), 5.8)
        ax = fig.subplots()
        if ct is not None and len(ct):
            for q, style in zip(PERCENTILES, (":", "--", "-.", "-"), strict=True):
                v = float(np.percentile(ct, q))
                ax.axhline(v, color=color(3), linestyle=style, linewidth=1.6, alpha=0.8,
                           label=f"p{q} of past cycle times = {number(v)} {unit}s", gid=f"p{q}")
        if started.any():
            ax.scatter(x[started], age[started], s=40, color=color(0), edgecolor="white", linewidth=0.6, zorder=3,
                       label="started", gid="started")
        if (~started).any():
            ax.scatter(x[~started], age[~started], s=40, facecolor="white", edgecolor=color(0), linewidth=1.4,
                       zorder=3, label="not started (waiting)", gid="waiting")
        counts = [int((col == c).sum()) for c in columns]
        ax.set_xticks(range(len(columns)), [f"{c}\n({n})" for c, n in zip(columns, counts, strict=True)])
        ax.set_xlim(-0.6, len(columns) - 0.4)
        top = max([float(age.max()) if len(age) else 0.0]
                  + ([float(np.percentile(ct, PERCENTILES[-1]))] if ct is not None and len(ct) else []))
        ax.set_ylim(0, 1.1 * top if top > 0 else 1.0)
        ax.set_xlabel("column (items in it)")
        ax.set_ylabel(f"age in column ({unit}s)")
        when = now if isinstance(now, str) else str(now)
        ax.set_title(title or f"Aging WIP on {when}: {len(age)} items in progress")
        fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return fig


def aging_wip(state: BoardState, now, path, *, cycle_times=None, unit: str = "day",
              title: str | None = None) -> Path:
    """The aging-WIP chart of `state` at `now` (a timezone-aware time) written to `path`.

    `cycle_times`: past cycle times in `unit`s; their p50/p70/p85/p95 are drawn as lines, so that
    an item above the p85 line is older than 85 % of past items were when they finished.
    """
    return save(_build_aging_wip(state, now, cycle_times=cycle_times, unit=unit, title=title), path)
