"""Figures drawn from records (a layer above them; the engine knows nothing of plots).

Matplotlib's object API (`Figure`) is used rather than pyplot: no global state, no backend
to choose, safe in worker processes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from vssim.records import Records
from vssim.report.figures import OKABE_ITO

STYLE = {"font.size": 11}


def _figure(width: float = 8.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def lead_time_histogram(lead_times: np.ndarray, time_unit: str, title: str, path: Path, *,
                        counts: np.ndarray | None = None, quantiles: dict[int, float] | None = None) -> Path:
    """Histogram of lead times with the p50 / p85 / p95 lines a forecast is read from.

    `counts`: lead_times are distinct values each seen that many times (a quantile sketch's
    buckets, `QuantileSketch.buckets`), and `quantiles` gives the percentiles to draw.
    """
    fig = _figure()
    ax = fig.subplots()
    ok = np.isfinite(lead_times)
    x = lead_times[ok]
    w = None if counts is None else np.asarray(counts)[ok]
    n = len(x) if w is None else int(w.sum())
    ax.hist(x, bins=min(60, max(10, int(np.sqrt(n)))), weights=w, color=OKABE_ITO[0], alpha=0.85)
    for q, style in ((50, ":"), (85, "--"), (95, "-.")):
        if len(x):
            v = quantiles[q] if quantiles is not None else np.percentile(x, q)
            ax.axvline(v, color=OKABE_ITO[3], linestyle=style, linewidth=2, label=f"p{q} = {v:.3g} {time_unit}")
    ax.set_xlabel(f"lead time ({time_unit})")
    ax.set_ylabel("items")
    ax.set_title(title)
    if len(x):
        ax.legend()
    fig.savefig(path)
    return path


def cumulative_flow(rec: Records, time_unit: str, title: str, path: Path, points: int = 800,
                    span: float | None = None) -> Path:
    """Cumulative flow diagram of one replication: arrived, entered each column, done.

    A band's height is the number of items in that state; its width is the time spent there.
    Entries count each item's first entry to a column, so the curves never cross. Over a long
    run the bands are too thin to see, so by default the diagram shows a stretch of about ten
    mean lead times after the warmup, counted from the items done at its start.
    """
    lo = rec.warmup
    if span is None:
        done_ok = ~np.isnan(rec.done)
        lead = float(np.mean(rec.done[done_ok] - rec.arrival[done_ok])) if done_ok.any() else rec.end
        span = max(10 * lead, 1e-9)
    end = min(rec.end, lo + span)
    if end - lo >= 0.8 * rec.end:      # short run: show all of it
        lo, end = 0.0, rec.end
    # the last point a little past the end, so that a jump at the very end is drawn
    t = np.append(np.linspace(lo, end, points), end + 1e-9 * max(1.0, end))
    curves = [("backlog", np.sort(rec.arrival))]
    first = {}
    for j, name in enumerate(rec.step_names):
        m = rec.visit_step == j
        items, enter = rec.visit_item[m], rec.visit_enter[m]
        order = np.lexsort((enter, items))
        items, enter = items[order], enter[order]
        keep = np.ones(len(items), dtype=bool)
        keep[1:] = items[1:] != items[:-1]
        first[name] = np.sort(enter[keep])
        curves.append((name, first[name]))
    done = np.sort(rec.done[~np.isnan(rec.done)])
    counts = [np.searchsorted(times, t, side="right") for _, times in curves]
    counts.append(np.searchsorted(done, t, side="right"))
    base = int(counts[-1][0])
    counts = [c - base for c in counts]
    fig = _figure(9, 5)
    ax = fig.subplots()
    colors = ["#BBBBBB", *[OKABE_ITO[k % len(OKABE_ITO)] for k in range(len(rec.step_names))]]
    for k, (name, _) in enumerate(curves):
        ax.fill_between(t, counts[k + 1], counts[k], step="post", color=colors[k], alpha=0.8, label=name,
                        linewidth=0)
    ax.plot(t, counts[-1], color="black", linewidth=1.2, drawstyle="steps-post", label="done")
    if 0 < rec.warmup and lo < rec.warmup:
        ax.axvline(rec.warmup, color="black", linestyle=":", linewidth=1, label="end of warmup")
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel("items (cumulative)" + (f", counted from the {base} done by {lo:g}" if base else ""))
    shown = "" if lo == 0.0 and end == rec.end else f" — {time_unit}s {lo:g} to {end:g} of {rec.end:g}"
    ax.set_title(title + shown)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="outside right upper", fontsize=9, frameon=False)
    ax.set_xlim(lo, end + 0.015 * (end - lo))   # room for a jump at the very end
    fig.savefig(path)
    return path


def step_times(steps: dict, time_unit: str, title: str, path: Path) -> Path:
    """Per step: wait, process and blocked time per visit (where the lead time goes)."""
    names = list(steps)
    parts = [("wait", OKABE_ITO[1]), ("process_time", OKABE_ITO[0]), ("blocked", OKABE_ITO[3])]
    fig = _figure(8, 0.6 * len(names) + 2)
    ax = fig.subplots()
    left = np.zeros(len(names))
    for key, color in parts:
        v = np.array([steps[n][key] or 0.0 for n in names])
        ax.barh(names, v, left=left, color=color, label=key.replace("_", " "))
        left += v
    ax.invert_yaxis()
    ax.set_xlabel(f"time per visit ({time_unit})")
    ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=len(parts), frameon=False)
    fig.savefig(path)
    return path
