"""The figures of a report: flow-metric dashboard, cycle-time scatter, throughput run chart,
aging WIP, value stream map timeline, and the comparison figures of several scenarios.

A layer above the records (DESIGN.md §7): every function takes plain data (a summary dict, a
DataFrame, a `Records`, an array per scenario), draws with matplotlib's object API (`Figure`,
no pyplot: no global state, safe in worker processes), writes a PNG to `path` and returns the
path. Each public function builds its figure with a `_build_xxx(...) -> Figure` helper that
tests can inspect before anything is saved.

Conventions: 110 dpi, fonts of at least 10 pt, the Okabe–Ito colour-blind-safe palette, a title
and axis labels with the time unit on every figure.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import patches
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, PercentFormatter

from vssim.records import Records

DPI = 110
BASE_FONT = 11
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
"""Okabe & Ito's palette for colour-blind readers (blue first; yellow late: weak on white)."""
BASELINE_GREY = "#7F7F7F"
RC = {
    "font.size": BASE_FONT,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 14,
    "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
    "axes.spines.top": False,
    "axes.spines.right": False,
}
METRIC_LABELS = {
    "lead_time": ("lead time, mean", "{unit}"),
    "lead_time_p85": ("lead time, p85", "{unit}"),
    "flow_time": ("flow time, mean", "{unit}"),
    "flow_time_p85": ("flow time, p85", "{unit}"),
    "throughput": ("throughput", "items/{unit}"),
    "wip": ("WIP", "items"),
    "backlog": ("backlog", "items"),
    "flow_efficiency": ("flow efficiency", "%"),
    "flow_predictability": ("flow predictability", "%"),
}
FRACTIONS = {"flow_efficiency", "flow_predictability"}
"""Metrics held as fractions and shown as percentages."""


# ---------------------------------------------------------------------------- helpers
def color(k: int) -> str:
    """The k-th colour of the palette (cycling)."""
    return OKABE_ITO[k % len(OKABE_ITO)]


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with mpl.rc_context(RC):
        fig.savefig(path, dpi=DPI)
    return path


def fmt(x, digits: int = 3) -> str:
    """A number with `digits` significant digits, or "n/a" for None / NaN."""
    if x is None:
        return "n/a"
    x = float(x)
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def pct(x, digits: int = 0) -> str:
    """A fraction as a percentage ("36 %"), or "n/a"."""
    if x is None or not math.isfinite(float(x)):
        return "n/a"
    return f"{100 * float(x):.{digits}f} %"


def _ci_text(ci, percent: bool = False, unit: str = "") -> str:
    if ci is None or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return "95 % CI n/a"
    f = pct if percent else fmt
    return f"95 % CI {f(ci[0])} to {f(ci[1])}" + (f" {unit}" if unit else "")


def _per(period: float, time_unit: str) -> str:
    """"per day" for a period of one time unit, else "per 5 day"."""
    return f"per {time_unit}" if period == 1 else f"per {fmt(period)} {time_unit}"


def metric_label(metric: str, time_unit: str) -> str:
    """"lead time, mean (day)" for a metric key of the comparison table."""
    name, unit = METRIC_LABELS.get(metric, (metric.replace("_", " "), ""))
    unit = unit.format(unit=time_unit)
    return f"{name} ({unit})" if unit else name


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


# ---------------------------------------------------------------------------- dashboard
def _tile(ax, heading: str, big: str, lines: Sequence[str], accent: str) -> None:
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.add_patch(patches.FancyBboxPatch((0.01, 0.01), 0.98, 0.98, boxstyle="round,pad=0,rounding_size=0.04",
                                            facecolor="#F7F7F7", edgecolor=accent, linewidth=2,
                                            transform=ax.transAxes))
    ax.text(0.06, 0.88, heading, fontsize=13, fontweight="bold", color="#222222", va="top", ha="left")
    if big:
        ax.text(0.5, 0.56, big, fontsize=28, fontweight="bold", color=accent, ha="center", va="center")
    for k, line in enumerate(lines):
        ax.text(0.5, 0.27 - 0.13 * k, line, fontsize=11, color="#333333", ha="center", va="center")


def _build_dashboard(summary: dict, title: str | None = None) -> Figure:
    m = summary["metrics"]
    unit = summary.get("time_unit", "day")
    with mpl.rc_context(RC):
        fig = _figure(11, 6.2)
        axes = fig.subplots(2, 3)
        # distribution: a stacked bar of the shares by type
        ax = axes[0, 0]
        dist = {k: v for k, v in (m.get("flow_distribution") or {}).items()}
        _tile(ax, "Flow distribution", "", [], color(0))
        ax.text(0.06, 0.78, "share of done items by type", fontsize=11, color="#333333", va="top")
        left = 0.0
        shares = [(k, float(v)) for k, v in dist.items() if v is not None]
        y0, h = 0.50, 0.20
        for k, (name, share) in enumerate(shares):
            if share > 0:
                ax.barh(y0 + h / 2, share * 0.88, left=0.06 + left * 0.88, height=h, color=color(k),
                        edgecolor="white", gid=f"distribution:{name}")
            left += share
        ncol = 2 if len(shares) <= 4 else 3
        for k, (name, share) in enumerate(shares):
            x = 0.06 + 0.88 * (k % ncol) / ncol
            yy = 0.40 - 0.095 * (k // ncol)
            ax.add_patch(patches.Rectangle((x, yy - 0.03), 0.035, 0.06, color=color(k)))
            ax.text(x + 0.05, yy, f"{name} {pct(share)}", fontsize=11 if ncol == 2 else 10, va="center")
        if not shares:
            ax.text(0.5, 0.5, "n/a", fontsize=28, ha="center", va="center", color=color(0))
        # velocity
        th = m.get("throughput", {})
        _tile(axes[0, 1], "Flow velocity", fmt(th.get("mean")),
              [f"items done per {unit} (throughput)", _ci_text(th.get("ci95"))], color(0))
        # time
        lt = m.get("lead_time", {})
        _tile(axes[0, 2], "Flow time", f"{fmt(lt.get('mean'))} {unit}",
              [f"mean lead time, p85 {fmt(lt.get('p85'))} {unit}", _ci_text(lt.get("ci95"), unit=unit)], color(0))
        # load
        wip = m.get("wip", {})
        _tile(axes[1, 0], "Flow load", fmt(wip.get("mean")),
              ["items in progress (WIP), time average", _ci_text(wip.get("ci95"))], color(0))
        # efficiency
        fe = m.get("flow_efficiency", {})
        _tile(axes[1, 1], "Flow efficiency", pct(fe.get("mean")),
              ["touch time / flow time", _ci_text(fe.get("ci95"), percent=True)], color(0))
        # predictability
        fp = m.get("flow_predictability", {})
        band = fp.get("band") or [0.8, 1.0]
        in_band = fp.get("in_band")
        band_text = (f"{pct(in_band)} of PIs within {pct(band[0])}–{pct(band[1])}" if in_band is not None
                     else "in-band share n/a")
        _tile(axes[1, 2], "Flow predictability", pct(fp.get("mean")),
              ["delivered / planned per PI, mean", band_text], color(0))
        if title is None:
            title = f"{summary.get('stream', '')} — {summary.get('scenario', '')}: the six flow metrics".strip(" —:")
        fig.suptitle(title, fontweight="bold")
    return fig


def dashboard(summary: dict, path, title: str | None = None) -> Path:
    """The six SAFe flow metrics of a run's summary as six tiles with big numbers."""
    return _save(_build_dashboard(summary, title), path)


# ---------------------------------------------------------------------------- cycle-time scatter
def _build_cycle_time_scatter(items: pd.DataFrame, time_unit: str, warmup: float = 0.0,
                              title: str | None = None) -> Figure:
    done = items[items["done"].notna() & items["lead_time"].notna()]
    arrival = done["arrival"] if "arrival" in done else done["done"] - done["lead_time"]
    after = done[arrival >= warmup]["lead_time"].to_numpy(dtype=float)
    with mpl.rc_context(RC):
        fig = _figure(10, 5.2)
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
            ax.annotate(f"p{q} = {fmt(v)} {time_unit}", xy=(1.0, v), xycoords=("axes fraction", "data"),
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
    return _save(_build_cycle_time_scatter(items, time_unit, warmup, title), path)


# ---------------------------------------------------------------------------- throughput run chart
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
        fig = _figure(10, 4.8)
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
                       label=f"5–95 % of periods: {fmt(lo)} to {fmt(hi)}", gid="band", zorder=1)
            ax.axhline(mean, color="black", linewidth=2, label=f"mean {fmt(mean)} per period", gid="mean", zorder=3)
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
    return _save(_build_throughput_run_chart(items, time_unit, period, warmup, end, title), path)


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
        fig = _figure(max(7.0, 1.6 * n + 2.5), 5.2)
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
            ax.text(j + 0.45, p50, f"p50 {fmt(p50)}", fontsize=10, ha="right", va="bottom", color="#333333")
            ax.text(j + 0.45, p85, f"p85 {fmt(p85)}", fontsize=10, ha="right", va="bottom", color="#333333")
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
            ax.text(0.5, 0.5, f"no item in progress at t = {fmt(rec.end)} {time_unit}", transform=ax.transAxes,
                    ha="center", va="center", fontsize=12, bbox=dict(facecolor="white", edgecolor="#999999"))
        counts = np.bincount(wip["column"].to_numpy(dtype=np.int64), minlength=n) if len(wip) else np.zeros(n, int)
        ax.set_xticks(range(n), [f"{s}\n({c} in progress)" for s, c in zip(steps, counts, strict=True)])
        ax.set_xlim(-0.55, n - 0.45)
        ax.set_ylim(0, ymax)
        ax.set_xlabel("column (step)")
        ax.set_ylabel(f"age since commit ({time_unit})")
        ax.set_title(title or f"Aging WIP at t = {fmt(rec.end)} {time_unit} (replication {rec.replication})")
        fig.legend(loc="outside lower center", ncol=3, frameon=False, fontsize=10)
    return fig


def aging_wip(rec: Records, time_unit: str, path, title: str | None = None) -> Path:
    """Kanban aging-WIP chart at `rec.end`: the age (end − commit) of each item in progress, per
    column, over bands of the done items' time up to leaving that column (p50, p85): a dot above
    its column's p85 band is at risk of a long lead time.
    """
    return _save(_build_aging_wip(rec, time_unit, title), path)


# ---------------------------------------------------------------------------- VSM timeline
def _build_vsm_timeline(vsm, title: str | None = None) -> Figure:
    steps = vsm.steps.reset_index(drop=True)
    unit = getattr(vsm, "time_unit", "day")
    n = len(steps)
    with mpl.rc_context(RC):
        fig = _figure(max(9.0, 2.3 * n + 4.2), 4.8)
        grid = fig.add_gridspec(1, 2, width_ratios=[max(2.3 * n, 4.0), 3.4])
        ax = fig.add_subplot(grid[0, 0])
        box = fig.add_subplot(grid[0, 1])
        up, low = 1.0, 0.0
        x = 0.0
        for i, row in steps.iterrows():
            name = str(row["step"])
            # per item: a step visited 1.25 times costs 1.25 x its per-visit times, so the ladder
            # adds up to the totals (with the backlog's wait)
            per = row.get("visits")
            per = float(per) if per is not None and np.isfinite(per) else 1.0
            # wait (upper level) then process (lower level): not to scale, as on a paper VSM
            ax.plot([x, x + 1], [up, up], color=color(3), linewidth=3, solid_capstyle="butt", gid=f"wait:{name}")
            ax.text(x + 0.5, up + 0.08, f"{fmt(per * row['wait_time'])} {unit}", ha="center", va="bottom", fontsize=11,
                    color=color(3), fontweight="bold")
            ax.plot([x + 1, x + 1], [up, low], color="#555555", linewidth=1.2)
            ax.plot([x + 1, x + 2], [low, low], color=color(0), linewidth=3, solid_capstyle="butt",
                    gid=f"process:{name}")
            ax.text(x + 1.5, low - 0.08, f"{fmt(per * row['process_time'])} {unit}", ha="center", va="top",
                    fontsize=11,
                    color=color(0), fontweight="bold")
            if i < n - 1:
                ax.plot([x + 2, x + 2], [low, up], color="#555555", linewidth=1.2)
            # the process box above its lower segment
            ca = row.get("pct_complete_accurate")
            visits = row.get("visits")
            lines = [name]
            details = []
            if ca is not None and np.isfinite(ca):
                details.append(f"%C&A {pct(ca)}")
            if visits is not None and np.isfinite(visits):
                details.append(f"{fmt(visits)} visits" if float(visits) != 1 else "1 visit")
            ax.text(x + 1.5, 1.62, "\n".join(lines + ([" · ".join(details)] if details else [])), ha="center",
                    va="center", fontsize=10.5, bbox=dict(boxstyle="square,pad=0.4", facecolor="white",
                                                          edgecolor="#333333"), gid=f"box:{name}")
            x += 2
        ax.text(-0.1, up, "wait", ha="right", va="center", fontsize=11, color=color(3))
        ax.text(-0.1, low, "process", ha="right", va="center", fontsize=11, color=color(0))
        ax.set_xlim(-1.3, 2 * n + 0.1)
        ax.set_ylim(-0.55, 2.05)
        ax.set_axis_off()
        backlog = getattr(vsm, "backlog_time", None)
        extra = f"; plus {fmt(backlog)} {unit} in the backlog" if backlog is not None and backlog > 0.005 else ""
        ax.set_title(f"per step, {unit} per item, visits included (not to scale){extra}", fontsize=11, loc="left")
        box.set_axis_off()
        box.set_xlim(0, 1)
        box.set_ylim(0, 1)
        totals = [
            ("Lead time", f"{fmt(vsm.total_lead_time)} {unit}"),
            ("Process time", f"{fmt(vsm.total_process_time)} {unit}"),
            ("Wait time", f"{fmt(vsm.total_wait_time)} {unit}"),
            ("Flow efficiency", pct(vsm.flow_efficiency)),
            ("Rolled %C&A", pct(vsm.rolled_pct_complete_accurate)),
        ]
        box.add_patch(patches.FancyBboxPatch((0.03, 0.08), 0.94, 0.84, boxstyle="round,pad=0,rounding_size=0.03",
                                                 facecolor="#F7F7F7", edgecolor="#333333", linewidth=1.5))
        box.text(0.5, 0.85, "Totals", ha="center", va="center", fontsize=13, fontweight="bold")
        for k, (label, value) in enumerate(totals):
            y = 0.7 - 0.13 * k
            box.text(0.09, y, label, ha="left", va="center", fontsize=11)
            box.text(0.91, y, value, ha="right", va="center", fontsize=12, fontweight="bold", gid=f"total:{label}")
        fig.suptitle(title or "Value stream map: timeline", fontweight="bold")
    return fig


def vsm_timeline(vsm, path, title: str | None = None) -> Path:
    """The value stream map's timeline ladder: per step a wait segment (upper level, time in the
    column outside the work) and a process segment (lower level, value-adding time), labelled,
    with a totals box: lead time, process time, wait time, flow efficiency and rolled %C&A.

    `vsm` has `steps` (DataFrame: step, visits, process_time, wait_time, lead_time,
    pct_complete_accurate), `total_process_time`, `total_wait_time`, `total_lead_time`,
    `flow_efficiency`, `rolled_pct_complete_accurate` and `time_unit`.
    """
    return _save(_build_vsm_timeline(vsm, title), path)


# ---------------------------------------------------------------------------- comparison bars
def _panels(n: int, ncols_max: int = 3) -> tuple[int, int]:
    ncols = min(ncols_max, n)
    return math.ceil(n / ncols), ncols


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
    nrows, ncols = _panels(len(metrics))
    longest = max(len(s) for s in order)
    with mpl.rc_context(RC):
        fig = _figure(ncols * 3.9 + 0.09 * longest, nrows * (0.42 * len(order) + 1.5) + 0.6)
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, metric in zip(axes, metrics, strict=False):
            rows = table[table["metric"] == metric].set_index("scenario")
            names = [s for s in order if s in rows.index]
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
                change = rows.loc[s, "pct_change"] if "pct_change" in rows else np.nan
                star = "*" if _truthy(rows.loc[s, "significant"] if "significant" in rows else False) else ""
                text = "n/a" if change is None or not np.isfinite(change) else f"{change:+.0f} %{star}"
                ax.annotate(text, xy=(max(hi[k] if np.isfinite(hi[k]) else mean[k], 0), k), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize=10,
                            fontweight="bold" if star else "normal", gid=f"change:{metric}:{s}")
            ax.set_xlim(0, reach * 1.38)
            ax.set_yticks(y, names)
            ax.set_ylim(len(names) - 0.5, -0.5)       # baseline on top
            ax.set_xlabel(metric_label(metric, time_unit))
            ax.set_title(METRIC_LABELS.get(metric, (metric.replace("_", " "), ""))[0])
            if metric in FRACTIONS:
                ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
            ax.grid(axis="x", color="#E5E5E5")
            ax.set_axisbelow(True)
        for ax in axes[len(metrics):]:
            ax.set_axis_off()
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
    return _save(_build_comparison_bars(table, metrics, time_unit, title), path)


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
    if f is None or not np.isfinite(f):
        return "n/a"
    return f"variance ×{fmt(f, 2)}" if f < 100 else f"variance ×{f:,.0f}"


def _build_crn_widths(table: pd.DataFrame, title: str | None = None, *, time_unit: str = "day") -> Figure:
    w = crn_halfwidths(table)
    metrics = list(dict.fromkeys(w["metric"]))
    scenarios = list(dict.fromkeys(w["scenario"]))
    if not metrics:
        raise ValueError("comparison table has no scenario besides the baseline")
    nrows, ncols = _panels(len(metrics))
    longest = max(len(s) for s in scenarios)
    with mpl.rc_context(RC):
        fig = _figure(ncols * 3.9 + 0.09 * longest, nrows * (0.42 * len(scenarios) + 1.5) + 0.8)
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, metric in zip(axes, metrics, strict=False):
            rows = w[w["metric"] == metric].set_index("scenario")
            names = [s for s in scenarios if s in rows.index]
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
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _, scale=scale: fmt(v * scale, 2)))
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
            ax.set_title(METRIC_LABELS.get(metric, (metric.replace("_", " "), ""))[0])
            unit = METRIC_LABELS.get(metric, ("", ""))[1].format(unit=time_unit)
            unit = "% points" if metric in FRACTIONS else unit
            ax.set_xlabel("half-width" + (f" ({unit})" if unit else ""))
            ax.grid(axis="x", which="major", color="#E5E5E5")
            ax.set_axisbelow(True)
        for ax in axes[len(metrics):]:
            ax.set_axis_off()
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
        fig.suptitle(title or "What common random numbers bought: 95 % CI half-width of the difference to "
                     "the baseline\n(log scale; × = variance reduction factor)", fontweight="bold")
    return fig


def crn_widths(table: pd.DataFrame, path, title: str | None = None, *, time_unit: str = "day") -> Path:
    """Per scenario and metric, the half-width of the paired (common random numbers) 95 % CI of
    the difference to the baseline against the independent-seeds one, on a log scale, with the
    variance-reduction factor annotated. Half-widths are in each metric's own unit (`time_unit`
    for times, percentage points for fractions)."""
    return _save(_build_crn_widths(table, title, time_unit=time_unit), path)


# ---------------------------------------------------------------------------- lead-time distributions
def _build_lead_time_distributions(items_by_scenario: Mapping[str, np.ndarray], time_unit: str,
                                   title: str | None = None) -> Figure:
    data = {}
    for name, v in items_by_scenario.items():
        v = np.asarray(v, dtype=float)
        data[name] = np.sort(v[np.isfinite(v)])
    tails = [np.percentile(v, 99.5) for v in data.values() if len(v)]
    with mpl.rc_context(RC):
        fig = _figure(9, 5.2)
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
                    linewidth=2.2 if k == 0 else 1.8, label=f"{name}: p85 {fmt(p85)} {time_unit}", gid=f"ecdf:{name}")
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
    return _save(_build_lead_time_distributions(items_by_scenario, time_unit, title), path)


def _build_wip_curves(points: pd.DataFrame, curves, time_unit: str, vut: np.ndarray | None = None,
                      title: str | None = None) -> Figure:
    fig = _figure(12, 5)
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
    return _save(_build_wip_curves(points, curves, time_unit, vut, title), path)
