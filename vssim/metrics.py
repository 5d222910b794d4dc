"""Flow metrics (DESIGN.md §6) computed from records, with confidence intervals.

Statistics cover items that arrive after the warmup and time after the warmup: the window is
[warmup, end]. A time average is the integral of a count over the window divided by its
length; each item contributes the overlap of its own interval with the window. `ci95` is a
Student-t interval over replication means; a single replication gets batch means instead
(the window cut into `BATCHES` equal parts), the textbook remedy of Law & Kelton.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from vssim.records import Records

BATCHES = 10
"""Batches for the batch-means interval of a single replication."""
BAND = (0.8, 1.0)
"""SAFe's predictability band for delivered / planned."""
PERCENTILES = (50, 85, 95)


@functools.lru_cache(maxsize=256)
def _t975(df: int) -> np.float64:
    """Student's t 0.975 quantile (scipy takes ~50 us a call; a summary asks for the same few)."""
    return stats.t.ppf(0.975, df)


def ci95(values: Sequence[float]) -> list[float | None]:
    """Student-t 95 % interval of the mean of independent values; [null, null] if fewer than 2."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) < 2:
        return [None, None]
    m = float(v.mean())
    half = float(_t975(len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return [m - half, m + half]


def _overlap(start: np.ndarray, stop: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Length of [start, stop) ∩ [lo, hi), with NaN stop meaning "still open at hi"."""
    stop = np.where(np.isnan(stop), hi, stop)
    start = np.where(np.isnan(start), hi, start)
    return np.clip(np.minimum(stop, hi) - np.maximum(start, lo), 0.0, None)


# --------------------------------------------------------------------------- compiled passes
# A summary reads every item and visit several times (windows, batch means, steps, pools). The
# passes below read them once each and hand numpy only what it sums, so every number is the
# one the plain numpy expressions give (kept beside each pass as the reference):
# * np.bincount(idx, weights) adds in index order, one value at a time: the loops do the same;
# * sums and means of float arrays (pairwise summation) stay numpy's, on arrays with the same
#   values in the same order (contiguous buffers; a sum depends only on the values and their order);
# * `_overlap` is elementwise: min, max, a difference and max(., 0) give the same float.
# numba compiles them on first use (`_kernels`, cache=True), so `import vssim` does not import numba.

def _ov(a: float, b: float, lo: float, hi: float) -> float:  # pragma: no cover - compiled
    """`_overlap` of one interval: [a, b) ∩ [lo, hi), NaN a or b read as hi; never -0."""
    if b != b:
        b = hi
    if a != a:
        a = hi
    v = (b if b < hi else hi) - (a if a > lo else lo)
    return 0.0 if v <= 0.0 else v      # np.clip(v, 0, None): 0 (not -0) at or below 0, NaN stays


def _window_pass(arrival, commit, done, touch, lo, hi, closed, lead, flow, tch, wip, backlog):  # pragma: no cover
    """One window of `window_metrics`: per item, in item order.

    Fills lead, flow, tch (the finished items': done - arrival, done - commit, touch; the first
    `finished` entries) and wip, backlog (each item's overlaps, all entries); returns
    (finished, done in the window, unfinished).
    """
    nf = 0
    completed = 0
    unfinished = 0
    for k in range(len(arrival)):
        a = arrival[k]
        c = commit[k]
        d = done[k]
        if a >= lo and a < hi:
            if d == d:
                lead[nf] = d - a
                flow[nf] = d - c
                tch[nf] = touch[k]
                nf += 1
            else:
                unfinished += 1
        if d >= lo and (d <= hi if closed else d < hi):
            completed += 1
        wip[k] = _ov(c, d, lo, hi)
        backlog[k] = _ov(a, c, lo, hi)
    return nf, completed, unfinished


def _visit_pass(vs, enter, ready, start, end, leave, work, reworked, person, person_pool, lo, hi, sums, counts,
                pool_busy, pool_start):  # pragma: no cover - compiled
    """Per-step totals of `step_metrics` and per-pool busy times of `pool_utilization`, one pass.

    sums[0..7, step]: busy, queue, wip (overlaps, every visit), wait, process, blocked, touch
    (the fresh visits': enter >= lo) in visit order, as np.bincount adds them; counts[0..5, step]:
    started, ended, left, checked (end in [lo, hi]), reworked among checked. pool_busy: each
    started visit's busy overlap, grouped by its person's pool in visit order, pool p in
    pool_busy[pool_start[p]:pool_start[p + 1]].
    """
    nv = len(vs)
    n_pools = len(pool_start) - 1
    fill = np.zeros(n_pools + 1, dtype=np.int64)
    for i in range(nv):
        j = vs[i]
        e0 = enter[i]
        s0 = start[i]
        f0 = end[i]
        l0 = leave[i]
        b = _ov(s0, f0, lo, hi)
        sums[0, j] += b
        sums[1, j] += _ov(ready[i], s0, lo, hi)
        sums[2, j] += _ov(e0, l0, lo, hi)
        if e0 >= lo:
            if s0 == s0:
                sums[3, j] += s0 - e0
                counts[0, j] += 1
            if f0 == f0:
                sums[4, j] += f0 - s0
                sums[6, j] += work[i]
                counts[1, j] += 1
            if l0 == l0:
                sums[5, j] += l0 - f0
                counts[2, j] += 1
        if f0 >= lo and f0 <= hi:
            counts[3, j] += 1
            if reworked[i]:
                counts[4, j] += 1
        g = person[i]
        if g >= 0:
            fill[person_pool[g] + 1] += 1
    for p in range(n_pools):
        fill[p + 1] += fill[p]
        pool_start[p + 1] = fill[p + 1]
    for i in range(nv):
        g = person[i]
        if g >= 0:
            p = person_pool[g]
            pool_busy[fill[p]] = _ov(start[i], end[i], lo, hi)
            fill[p] += 1


_KERNELS: tuple | None = None


def _kernels():
    """(_window_pass, _visit_pass) compiled by numba (cache=True); plain Python without numba."""
    global _KERNELS, _ov
    if _KERNELS is None:
        try:
            from numba import njit
        except ImportError:  # pragma: no cover
            def jit(f):
                return f
        else:
            jit = njit(cache=True)
        _ov = jit(_ov)                  # a global the other two call: compiled first
        _KERNELS = (jit(_window_pass), jit(_visit_pass))
    return _KERNELS


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else math.nan


def _f64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _i64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


def _window_buffers(n: int) -> tuple[np.ndarray, ...]:
    return tuple(np.empty(n) for _ in range(5))


def window_metrics(rec: Records, lo: float, hi: float, _buffers: tuple[np.ndarray, ...] | None = None
                   ) -> dict[str, float]:
    """The scalar flow metrics of one replication over the window [lo, hi).

    The numbers of the numpy expressions (the items arriving in the window; `_overlap` sums)::

        arrived = (arrival >= lo) & (arrival < hi);  finished = arrived & ~isnan(done)
        lead = done[finished] - arrival[finished];   flow = done[finished] - commit[finished]
        done_in = (done >= lo) & (done < hi)   (done <= hi when hi is the end of the run)
        wip = _overlap(commit, done, lo, hi).sum() / span;  backlog: _overlap(arrival, commit, ...)
        flow_efficiency = touch[finished].sum() / flow.sum()

    computed in one pass over the items (`_window_pass`); `_buffers` (from `_window_buffers`)
    are reused by the batch-means windows of one replication.
    """
    span = hi - lo
    bufs = _buffers if _buffers is not None else _window_buffers(rec.n_items)
    nf, completed, unfinished = _kernels()[0](_f64(rec.arrival), _f64(rec.commit), _f64(rec.done), _f64(rec.touch),
                                             float(lo), float(hi), not hi < rec.end, *bufs)
    lead, flow, tch, wip, backlog = bufs[0][:nf], bufs[1][:nf], bufs[2][:nf], bufs[3], bufs[4]
    flow_sum = float(flow.sum())
    rejected = rec.rejected_times
    return {
        "lead_time": _mean(lead),
        "flow_time": _mean(flow),
        "throughput": float(completed) / span if span > 0 else math.nan,
        "wip": float(wip.sum()) / span if span > 0 else math.nan,
        "backlog": float(backlog.sum()) / span if span > 0 else math.nan,
        "flow_efficiency": float(tch.sum()) / flow_sum if flow_sum > 0 else math.nan,
        "completed": int(completed),
        "rejected": int(((rejected >= lo) & (rejected < hi)).sum()),
        "unfinished": int(unfinished),
    }


def predictability(rec: Records, interval: float) -> dict[str, float]:
    """Delivered / planned value per planning interval, planned from the stream's own past.

    The window is cut into whole intervals; the plan of interval i >= 1 is the mean value
    delivered by intervals 0..i-1 (the stream forecasts from its past throughput, "yesterday's
    weather"); delivered is the business value of items done in it.
    """
    lo, hi = rec.warmup, rec.end
    n = int(math.floor((hi - lo) / interval + 1e-9)) if interval > 0 else 0
    if n < 2:
        return {"mean": math.nan, "in_band": math.nan, "intervals": n}
    done = rec.done
    ok = ~np.isnan(done)
    idx = np.floor((done[ok] - lo) / interval).astype(np.int64)
    keep = (idx >= 0) & (idx < n)
    delivered = np.bincount(idx[keep], weights=rec.item_value[ok][keep], minlength=n)
    planned = np.cumsum(delivered)[:-1] / np.arange(1, n)
    valid = planned > 0
    ratio = delivered[1:][valid] / planned[valid]
    if not len(ratio):
        return {"mean": math.nan, "in_band": math.nan, "intervals": n}
    in_band = (ratio >= BAND[0] - 1e-12) & (ratio <= BAND[1] + 1e-12)
    return {"mean": float(ratio.mean()), "in_band": float(in_band.mean()), "intervals": n}


def _visit_totals(rec: Records) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`_visit_pass` over the replication's visits, window [warmup, end]."""
    n, n_pools = len(rec.step_names), len(rec.pool_names)
    nv = len(rec.visit_step)
    sums = np.zeros((7, n))
    counts = np.zeros((5, n), dtype=np.int64)
    pool_busy = np.empty(nv)
    pool_start = np.zeros(n_pools + 1, dtype=np.int64)
    _kernels()[1](_i64(rec.visit_step), _f64(rec.visit_enter), _f64(rec.visit_ready), _f64(rec.visit_start),
                  _f64(rec.visit_end), _f64(rec.visit_leave), _f64(rec.visit_work),
                  np.ascontiguousarray(rec.visit_reworked, dtype=np.bool_), _i64(rec.visit_person),
                  _i64(rec.person_pool), float(rec.warmup), float(rec.end), sums, counts, pool_busy, pool_start)
    return sums, counts, pool_busy, pool_start


def step_metrics(rec: Records, _totals=None) -> pd.DataFrame:
    return pd.DataFrame(_step_columns(rec, _totals))


def _step_columns(rec: Records, _totals=None) -> dict:
    """Per-step statistics of one replication (one row per step), vectorised over all visits.

    The totals are those of np.bincount over the visits (`_visit_pass`, one pass)::

        fresh = enter >= lo;  started, ended, left = fresh & ~isnan(start / end / leave)
        checked = (end >= lo) & (end <= hi)
        busy = bincount(step, _overlap(start, end));  queue: _overlap(ready, start);  wip: _overlap(enter, leave)
        wait, process_time, blocked, touch_time: bincount(step[mask], values[mask]) / bincount(step[mask])
        with (start - enter, started), (end - start, ended), (leave - end, left), (work, ended)
    """
    lo, hi = rec.warmup, rec.end
    span = hi - lo
    n = len(rec.step_names)
    sums, counts, _, _ = _totals if _totals is not None else _visit_totals(rec)

    def mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        per_span = (lambda x: x / span) if span > 0 else (lambda x: np.full(n, np.nan))
        busy = sums[0]
        n_checked = counts[3]
        reworked = counts[4]
        return {
            "replication": rec.replication,
            "step": rec.step_names,
            "utilization": per_span(busy) / rec.step_capacity,
            "queue_length": per_span(sums[1]),
            "wip": per_span(sums[2]),
            "wait": mean(sums[3], counts[0]),
            "process_time": mean(sums[4], counts[1]),
            "blocked": mean(sums[5], counts[2]),
            "touch_time": mean(sums[6], counts[1]),
            "pct_complete_accurate": np.where(n_checked > 0, 1.0 - reworked / np.maximum(n_checked, 1), np.nan),
            "throughput": per_span(n_checked.astype(float)),
            "visits": n_checked.astype(np.int64),
        }


def pool_utilization(rec: Records, _totals=None) -> dict[str, float]:
    """Busy time of each pool's people over the window / (people x window).

    A pool's busy time is ``_overlap(start, end)[mine].sum()``, mine = the visits its people
    started, in visit order (`_visit_pass` groups them).
    """
    lo, hi = rec.warmup, rec.end
    span = hi - lo
    _, _, busy, at = _totals if _totals is not None else _visit_totals(rec)
    sizes = np.bincount(_i64(rec.person_pool), minlength=len(rec.pool_names))
    out = {}
    for p, name in enumerate(rec.pool_names):
        size = int(sizes[p])
        out[name] = float(busy[at[p]:at[p + 1]].sum() / (size * span)) if span > 0 and size else math.nan
    return out


def _batch_windows(rec: Records) -> list[tuple[float, float]]:
    edges = np.linspace(rec.warmup, rec.end, BATCHES + 1)
    return list(zip(edges[:-1], edges[1:], strict=True))


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


SCALARS = ("lead_time", "flow_time", "throughput", "wip", "backlog", "flow_efficiency")


def summarize(records: list[Records], *, planning_interval: float | None = None,
              steady_state: bool = True) -> dict:
    """The `metrics`, `steps`, `pools` and `replications` parts of summary.json.

    With one replication, intervals come from batch means, which assume a steady state; a
    transient run (`steady_state=False`: backlog or trace arrivals) then gets no interval.
    """
    # lead and flow times of the items arriving after the warmup that are done, per replication
    times: dict[str, list[np.ndarray]] = {"lead_time": [], "flow_time": []}
    for rec in records:
        ok = (rec.arrival >= rec.warmup) & ~np.isnan(rec.done)
        done = rec.done[ok]
        times["lead_time"].append(done - rec.arrival[ok])
        times["flow_time"].append(done - rec.commit[ok])
    pooled = {key: np.concatenate(vals) if vals else np.zeros(0) for key, vals in times.items()}
    # the pooled percentiles in one call (the same numbers as one call per percentile)
    pct = {key: np.percentile(x, PERCENTILES) if len(x) else None for key, x in pooled.items()}
    per_rep = []
    buffers = None
    for rec, lead in zip(records, times["lead_time"], strict=True):
        buffers = _window_buffers(rec.n_items)
        m = window_metrics(rec, rec.warmup, rec.end, buffers)
        interval = planning_interval or (rec.end - rec.warmup) / 10
        p = predictability(rec, interval)
        if not len(lead):
            p85 = math.nan
        elif len(records) == 1 and 85 in PERCENTILES:     # the pooled times are this replication's
            p85 = float(pct["lead_time"][PERCENTILES.index(85)])
        else:
            p85 = float(np.percentile(lead, 85))
        per_rep.append({"replication": rec.replication, "seed": rec.seed, **m,
                        "lead_time_p85": p85,
                        "flow_predictability": p["mean"], "predictability_in_band": p["in_band"],
                        "planning_interval": interval})
    # confidence intervals: across replications, or batch means within a single one
    if len(records) >= 2:
        units = {k: [r[k] for r in per_rep] for k in SCALARS + ("flow_predictability",)}
    elif not steady_state:
        units = {k: [] for k in SCALARS + ("flow_predictability",)}
    else:
        rec = records[0]
        batches = [window_metrics(rec, lo, hi, buffers) for lo, hi in _batch_windows(rec)]
        units = {k: [b[k] for b in batches] for k in SCALARS}
        units["flow_predictability"] = []
    metrics: dict = {}
    for key in SCALARS:
        mean = _finite(float(np.nanmean([r[key] for r in per_rep])) if per_rep else math.nan) \
            if any(math.isfinite(r[key]) for r in per_rep) else None
        entry = {"mean": mean, "ci95": [_finite(x) if x is not None else None for x in ci95(units[key])]}
        if key in pooled:
            x = pooled[key]
            entry.update({"min": _finite(x.min()) if len(x) else None,
                          **{f"p{q}": _finite(pct[key][i]) if len(x) else None for i, q in enumerate(PERCENTILES)},
                          "max": _finite(x.max()) if len(x) else None,
                          "count": int(len(x))})
        metrics[key] = entry
    metrics["backlog"] = {"mean": metrics["backlog"]["mean"], "ci95": metrics["backlog"]["ci95"]}
    # flow distribution: shares of done items by type
    counts = np.zeros(len(records[0].type_names))
    for rec in records:
        done_in = (rec.done >= rec.warmup) & (rec.done <= rec.end)
        counts += np.bincount(rec.item_type[done_in], minlength=len(counts))
    total = counts.sum()
    metrics["flow_distribution"] = {t: (float(c / total) if total else 0.0)
                                    for t, c in zip(records[0].type_names, counts, strict=True)}
    fp = [r["flow_predictability"] for r in per_rep if math.isfinite(r["flow_predictability"])]
    band = [r["predictability_in_band"] for r in per_rep if math.isfinite(r["predictability_in_band"])]
    metrics["flow_predictability"] = {
        "mean": _finite(float(np.mean(fp))) if fp else None,
        "ci95": ci95(fp),
        "in_band": _finite(float(np.mean(band))) if band else None,
        "band": list(BAND),
        "planning_interval": per_rep[0]["planning_interval"],
    }
    metrics["completed"] = int(sum(r["completed"] for r in per_rep))
    metrics["rejected"] = int(sum(r["rejected"] for r in per_rep))
    metrics["unfinished"] = int(sum(r["unfinished"] for r in per_rep))
    # Little's law per replication (wip = throughput x flow time); the worst one is reported
    residuals = [abs(r["wip"] - r["throughput"] * r["flow_time"]) / r["wip"] for r in per_rep
                 if r["wip"] > 0 and math.isfinite(r["flow_time"])]
    if residuals:
        metrics["littles_law_residual"] = max(residuals)

    totals = [_visit_totals(rec) for rec in records]
    columns = [_step_columns(rec, t) for rec, t in zip(records, totals, strict=True)]
    cols = ["utilization", "queue_length", "wip", "wait", "process_time", "blocked", "touch_time",
            "pct_complete_accurate", "throughput"]
    if len(columns) == 1:
        # the mean of one replication: what groupby's mean gives for one value per step (its
        # compensated sum starts at 0.0, so 0.0 + x: x, and -0.0 becomes 0.0; NaN stays NaN)
        steps = pd.DataFrame(columns[0])
        values = {c: np.asarray(columns[0][c], dtype=np.float64) + 0.0 for c in cols}
        step_summary = {name: {c: _finite(float(values[c][i])) for c in cols}
                        for i, name in enumerate(records[0].step_names)}
    else:
        steps = pd.concat([pd.DataFrame(c) for c in columns], ignore_index=True)
        means = steps.groupby("step", sort=False)[cols].mean()          # NaN replications are skipped
        step_summary = {name: {c: _finite(float(row[c])) for c in cols} for name, row in means.iterrows()}
    pools = [pool_utilization(rec, t) for rec, t in zip(records, totals, strict=True)]
    pool_summary = {p: {"utilization": _finite(float(np.nanmean([u[p] for u in pools])))}
                    for p in records[0].pool_names}
    reps = [{k: (_finite(v) if isinstance(v, float) else v) for k, v in r.items()} for r in per_rep]
    return {"metrics": metrics, "steps": step_summary, "pools": pool_summary,
            "replications": reps, "_steps_frame": steps}
