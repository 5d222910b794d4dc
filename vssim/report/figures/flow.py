"""How work flows through the board over time: the cumulative flow diagram, the throughput run
chart and the aging WIP chart, each from one replication.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vssim.formatting import number
from vssim.records import Records
from vssim.report.figures.style import RC, color, figure, save


# ---------------------------------------------------------------------------- cumulative flow
def cfd_counts(rec: Records, t: np.ndarray) -> tuple[list[str], list[np.ndarray], int]:
    """Cumulative counts at times t: arrived, reached each column, done (less those done before
    t[0]). Returns the band names, the counts (one more array than names) and that base.

    An item has reached a column when it first entered it or a later column, or is done: an item
    whose route skips a column (steps visited by some types only) counts as past it, so each curve
    is at or below the one before and every band is a count. Without routing this is the first
    entry to the column (an item enters every column before the next).
    """
    n, m = rec.n_items, len(rec.step_names)
    first = np.full((n, m), np.inf)
    np.fmin.at(first, (rec.visit_item, rec.visit_step), rec.visit_enter)
    reached = np.fmin(np.minimum.accumulate(first[:, ::-1], axis=1)[:, ::-1], rec.done[:, None])
    curves = [np.sort(rec.arrival), *np.sort(reached, axis=0).T, np.sort(rec.done[~np.isnan(rec.done)])]
    counts = [np.searchsorted(c, t, side="right") for c in curves]
    base = int(counts[-1][0])
    return ["backlog", *rec.step_names], [c - base for c in counts], base


def _build_cumulative_flow(rec: Records, time_unit: str, title: str, points: int = 800,
                           span: float | None = None) -> Figure:
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
    names, counts, base = cfd_counts(rec, t)
    with mpl.rc_context(RC):
        fig = figure(9, 5)
        ax = fig.subplots()
        colors = ["#BBBBBB", *[color(k) for k in range(len(rec.step_names))]]
        for k, name in enumerate(names):
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
        fig.legend(handles[::-1], labels[::-1], loc="outside right upper", frameon=False)
        ax.set_xlim(lo, end + 0.015 * (end - lo))   # room for a jump at the very end
    return fig


def cumulative_flow(rec: Records, time_unit: str, title: str, path, points: int = 800,
                    span: float | None = None) -> Path:
    """Cumulative flow diagram of one replication: arrived, reached each column, done.

    A band's height is the number of items in that state; its width is the time spent there.
    A curve counts the items that have reached its column (`cfd_counts`: entered it or a later
    column of their route, or done), so the curves never cross. Over a long
    run the bands are too thin to see, so by default the diagram shows a stretch of about ten
    mean lead times after the warmup, counted from the items done at its start.
    """
    return save(_build_cumulative_flow(rec, time_unit, title, points, span), path)


# ---------------------------------------------------------------------------- throughput run chart
def _per(period: float, time_unit: str) -> str:
    """"per day" for a period of one time unit, else "per 5 day"."""
    return f"per {time_unit}" if period == 1 else f"per {number(period)} {time_unit}"


def nice_period(span: float, lo: int = 30, hi: int = 60) -> float:
    """A round period (1, 2, 2.5, 5 × 10^k) cutting `span` into between `lo` and `hi` periods.

    The ratio between neighbouring candidates is at most 2 = hi / lo, so the smallest period
    giving at most `hi` periods gives at least `lo` of them (for spans long enough).
    """
    if not span > 0:
        return 1.0
    k = math.floor(math.log10(span / hi)) - 1
    while True:
        for m in (1.0, 2.0, 2.5, 5.0):
            p = m * 10.0 ** k
            if span / p <= hi + 1e-9:
                return p
        k += 1


def throughput_counts(done: np.ndarray, period: float, warmup: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Items done per whole period from `warmup` to `end`: (period starts, counts).

    Periods before the warmup are aligned on it too; a partial period at either end is left out.
    """
    done = np.asarray(done, dtype=float)
    done = done[np.isfinite(done)]
    before = int(math.floor(warmup / period + 1e-9))
    after = int(math.floor((end - warmup) / period + 1e-9))
    edges = warmup + period * np.arange(-before, after + 1)
    if len(edges) < 2:
        return np.zeros(0), np.zeros(0, dtype=int)
    counts, _ = np.histogram(done, bins=edges)
    return edges[:-1], counts


def _build_throughput_run_chart(items: pd.DataFrame, time_unit: str, period: float | None = None,
                                warmup: float = 0.0, end: float | None = None,
                                title: str | None = None) -> Figure:
    rep = None
    if "replication" in items and items["replication"].nunique() > 1:
        rep = int(items["replication"].min())
        items = items[items["replication"] == rep]
    done = items["done"].to_numpy(dtype=float)
    finite = done[np.isfinite(done)]
    if end is None:
        end = float(finite.max()) if len(finite) else warmup + 1.0
    if period is None:
        period = nice_period(end - warmup)
    if end - warmup < period:                # too short for one whole period: one period of it all
        period = max(end - warmup, 1e-9)
    starts, counts = throughput_counts(done, period, warmup, end)
    post = starts >= warmup - 1e-9
    stat = counts[post]
    with mpl.rc_context(RC):
        fig = figure(10, 4.8)
        ax = fig.subplots()
        if (~post).any():
            ax.bar(starts[~post], counts[~post], width=period, align="edge", color="#CCCCCC", edgecolor="white",
                   linewidth=0.5, label="warmup (not in the statistics)", gid="bars:warmup", zorder=2)
        ax.bar(starts[post], stat, width=period, align="edge", color=color(0), edgecolor="white", linewidth=0.5,
               label=f"items done {_per(period, time_unit)}", gid="bars", zorder=2)
        if len(stat):
            mean = float(stat.mean())
            lo, hi = (float(x) for x in np.percentile(stat, [5, 95]))
            ax.axhspan(lo, hi, xmin=0, xmax=1, color=color(1), alpha=0.18, linewidth=0,
                       label=f"5–95 % of periods: {number(lo)} to {number(hi)}", gid="band", zorder=1)
            ax.axhline(mean, color="black", linewidth=2, label=f"mean {number(mean)} per period", gid="mean", zorder=3)
        ax.set_xlim(starts[0] if len(starts) else 0, (starts[-1] + period) if len(starts) else end)
        ax.set_ylim(0, max(float(counts.max()) if len(counts) else 1.0, 1.0) * 1.3)
        ax.set_xlabel(f"time ({time_unit})")
        ax.set_ylabel(f"items done {_per(period, time_unit)}")
        suffix = f" (replication {rep})" if rep is not None else ""
        ax.set_title(title or f"Throughput run chart{suffix}")
        handles, labels = ax.get_legend_handles_labels()
        rank = {"items": 0, "mean": 1, "5–95": 2, "warmu": 3}
        pairs = sorted(zip(handles, labels, strict=True), key=lambda hl: rank.get(hl[1].split(" ")[0][:5], 4))
        ax.legend([h for h, _ in pairs], [lab for _, lab in pairs], loc="upper left", ncol=2, framealpha=0.9)
    return fig


def throughput_run_chart(items: pd.DataFrame, time_unit: str, path, period: float | None = None,
                         warmup: float = 0.0, end: float | None = None, title: str | None = None) -> Path:
    """Items done per period over time in one replication (the first if `items` holds several),
    with the mean and the 5–95 % band of the per-period counts after the warmup.

    `period` defaults to a round number giving 30–60 periods between `warmup` and `end` (default:
    the last completion).
    """
    return save(_build_throughput_run_chart(items, time_unit, period, warmup, end, title), path)

# ---------------------------------------------------------------------------- aging WIP
def in_progress(rec: Records) -> pd.DataFrame:
    """The items committed and not done at `rec.end`: item, column (step index), age = end − commit."""
    end = rec.end
    committed = ~np.isnan(rec.commit) & (rec.commit <= end)
    open_ = committed & (np.isnan(rec.done) | (rec.done > end))
    items = np.flatnonzero(open_)
    # the column of an item is the step of its last visit entered by `end`
    entered = rec.visit_enter <= end
    vi, vs = rec.visit_item[entered], rec.visit_step[entered]
    last = np.full(rec.n_items, -1, dtype=np.int64)
    last[vi] = vs                                     # visits are in entry order: the last write wins
    column = last[items]
    keep = column >= 0
    return pd.DataFrame({"item": items[keep], "column": column[keep],
                         "age": end - rec.commit[items[keep]], "type": rec.item_type[items[keep]]})


def column_age_percentiles(rec: Records, qs=(50, 85)) -> np.ndarray:
    """Per step, percentiles of the done items' time from commit to leaving that column (its
    last visit, after any rework). Items arriving after the warmup; all done items if none did.
    NaN for a column no done item visited. Shape (steps, len(qs)).
    """
    done = ~np.isnan(rec.done) & (rec.done <= rec.end)
    pick = done & (rec.arrival >= rec.warmup)
    if not pick.any():
        pick = done
    out = np.full((len(rec.step_names), len(qs)), np.nan)
    ok = pick[rec.visit_item] & ~np.isnan(rec.visit_leave)
    for j in range(len(rec.step_names)):
        m = ok & (rec.visit_step == j)
        if not m.any():
            continue
        last = pd.Series(rec.visit_leave[m]).groupby(rec.visit_item[m]).max()
        t = last.to_numpy() - rec.commit[last.index.to_numpy()]
        out[j] = np.percentile(t, qs)
    return out


def _build_aging_wip(rec: Records, time_unit: str, title: str | None = None) -> Figure:
    wip = in_progress(rec)
    bands = column_age_percentiles(rec)
    steps = rec.step_names
    n = len(steps)
    ymax = max(float(np.nanmax(bands)) if np.isfinite(bands).any() else 0.0,
               float(wip["age"].max()) if len(wip) else 0.0, 1e-9) * 1.12
    rng = np.random.default_rng(0)                # jitter only; never the global generator
    with mpl.rc_context(RC):
        fig = figure(max(7.0, 1.6 * n + 2.5), 5.2)
        ax = fig.subplots()
        fills = (("#009E73", 0.22, "below p50 of done items"), ("#F0E442", 0.40, "p50 to p85"),
                 ("#D55E00", 0.18, "above p85: at risk"))
        for j in range(n):
            p50, p85 = bands[j]
            if not np.isfinite(p50):
                continue
            for (c, a, lab), (y0, y1) in zip(fills, ((0, p50), (p50, p85), (p85, ymax)), strict=True):
                ax.bar(j, y1 - y0, bottom=y0, width=0.94, color=c, alpha=a, linewidth=0,
                       label=lab if j == int(np.flatnonzero(np.isfinite(bands[:, 0]))[0]) else None,
                       gid=f"band:{steps[j]}")
            ax.text(j + 0.45, p50, f"p50 {number(p50)}", fontsize=10, ha="right", va="bottom", color="#333333")
            ax.text(j + 0.45, p85, f"p85 {number(p85)}", fontsize=10, ha="right", va="bottom", color="#333333")
        if len(wip):
            x = wip["column"].to_numpy() + rng.uniform(-0.28, 0.28, len(wip))
            y = wip["age"].to_numpy()
            p85_of = bands[wip["column"].to_numpy(), 1]
            risk = np.isfinite(p85_of) & (y > p85_of)
            ax.scatter(x[~risk], y[~risk], s=36, color=color(0), edgecolor="white", linewidth=0.6, zorder=3,
                       label="item in progress", gid="items")
            ax.scatter(x[risk], y[risk], s=44, marker="D", color="black", edgecolor="white", linewidth=0.6,
                       zorder=3, label="item older than p85", gid="items:at_risk")
        else:
            ax.text(0.5, 0.5, f"no item in progress at t = {number(rec.end)} {time_unit}", transform=ax.transAxes,
                    ha="center", va="center", fontsize=12, bbox=dict(facecolor="white", edgecolor="#999999"))
        counts = np.bincount(wip["column"].to_numpy(dtype=np.int64), minlength=n) if len(wip) else np.zeros(n, int)
        ax.set_xticks(range(n), [f"{s}\n({c} in progress)" for s, c in zip(steps, counts, strict=True)])
        ax.set_xlim(-0.55, n - 0.45)
        ax.set_ylim(0, ymax)
        ax.set_xlabel("column (step)")
        ax.set_ylabel(f"age since commit ({time_unit})")
        ax.set_title(title or f"Aging WIP at t = {number(rec.end)} {time_unit} (replication {rec.replication})")
        fig.legend(loc="outside lower center", ncol=3, frameon=False, fontsize=10)
    return fig


def aging_wip(rec: Records, time_unit: str, path, title: str | None = None) -> Path:
    """Kanban aging-WIP chart at `rec.end`: the age (end − commit) of each item in progress, per
    column, over bands of the done items' time up to leaving that column (p50, p85): a dot above
    its column's p85 band is at risk of a long lead time.
    """
    return save(_build_aging_wip(rec, time_unit, title), path)

