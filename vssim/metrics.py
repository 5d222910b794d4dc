"""Flow metrics (DESIGN.md §6) computed from records, with confidence intervals.

Statistics cover items that arrive after the warmup and time after the warmup: the window is
[warmup, end]. A time average is the integral of a count over the window divided by its
length; each item contributes the overlap of its own interval with the window. `ci95` is a
Student-t interval over replication means; a single replication gets batch means instead
(the window cut into `BATCHES` equal parts), the textbook remedy of Law & Kelton.
"""
from __future__ import annotations

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


def ci95(values: Sequence[float]) -> list[float | None]:
    """Student-t 95 % interval of the mean of independent values; [null, null] if fewer than 2."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) < 2:
        return [None, None]
    m = float(v.mean())
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return [m - half, m + half]


def _overlap(start: np.ndarray, stop: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Length of [start, stop) ∩ [lo, hi), with NaN stop meaning "still open at hi"."""
    stop = np.where(np.isnan(stop), hi, stop)
    start = np.where(np.isnan(start), hi, start)
    return np.clip(np.minimum(stop, hi) - np.maximum(start, lo), 0.0, None)


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else math.nan


def window_metrics(rec: Records, lo: float, hi: float) -> dict[str, float]:
    """The scalar flow metrics of one replication over the window [lo, hi)."""
    span = hi - lo
    arrived = (rec.arrival >= lo) & (rec.arrival < hi)
    finished = arrived & ~np.isnan(rec.done)
    lead = rec.done[finished] - rec.arrival[finished]
    flow = rec.done[finished] - rec.commit[finished]
    done_in = (rec.done >= lo) & (rec.done < hi) if hi < rec.end else (rec.done >= lo) & (rec.done <= hi)
    flow_sum = float(flow.sum())
    rejected = rec.rejected_times
    return {
        "lead_time": _mean(lead),
        "flow_time": _mean(flow),
        "throughput": float(done_in.sum()) / span if span > 0 else math.nan,
        "wip": float(_overlap(rec.commit, rec.done, lo, hi).sum()) / span if span > 0 else math.nan,
        "backlog": float(_overlap(rec.arrival, rec.commit, lo, hi).sum()) / span if span > 0 else math.nan,
        "flow_efficiency": float(rec.touch[finished].sum()) / flow_sum if flow_sum > 0 else math.nan,
        "completed": int(done_in.sum()),
        "rejected": int(((rejected >= lo) & (rejected < hi)).sum()),
        "unfinished": int((arrived & np.isnan(rec.done)).sum()),
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


def step_metrics(rec: Records) -> pd.DataFrame:
    """Per-step statistics of one replication (one row per step), vectorised over all visits."""
    lo, hi = rec.warmup, rec.end
    span = hi - lo
    n = len(rec.step_names)
    vs = rec.visit_step
    enter, ready, start = rec.visit_enter, rec.visit_ready, rec.visit_start
    end, leave = rec.visit_end, rec.visit_leave
    fresh = enter >= lo
    started = fresh & ~np.isnan(start)
    ended = fresh & ~np.isnan(end)
    left = fresh & ~np.isnan(leave)
    checked = (end >= lo) & (end <= hi)

    def total(weights: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if mask is None:
            return np.bincount(vs, weights=weights, minlength=n)
        return np.bincount(vs[mask], weights=weights[mask], minlength=n)

    def mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        count = np.bincount(vs[mask], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total(values, mask) / np.maximum(count, 1), np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        per_span = (lambda x: x / span) if span > 0 else (lambda x: np.full(n, np.nan))
        busy = total(_overlap(start, end, lo, hi))
        n_checked = np.bincount(vs[checked], minlength=n)
        reworked = np.bincount(vs[checked & rec.visit_reworked], minlength=n)
        frame = pd.DataFrame({
            "replication": rec.replication,
            "step": rec.step_names,
            "utilization": per_span(busy) / rec.step_capacity,
            "queue_length": per_span(total(_overlap(ready, start, lo, hi))),
            "wip": per_span(total(_overlap(enter, leave, lo, hi))),
            "wait": mean(start - enter, started),
            "process_time": mean(end - start, ended),
            "blocked": mean(leave - end, left),
            "touch_time": mean(rec.visit_work, ended),
            "pct_complete_accurate": np.where(n_checked > 0, 1.0 - reworked / np.maximum(n_checked, 1), np.nan),
            "throughput": per_span(n_checked.astype(float)),
            "visits": n_checked.astype(np.int64),
        })
    return frame


def pool_utilization(rec: Records) -> dict[str, float]:
    lo, hi = rec.warmup, rec.end
    span = hi - lo
    busy = _overlap(rec.visit_start, rec.visit_end, lo, hi)
    person = rec.visit_person
    out = {}
    for p, name in enumerate(rec.pool_names):
        size = int((rec.person_pool == p).sum())
        mine = (person >= 0) & (rec.person_pool[np.maximum(person, 0)] == p)
        out[name] = float(busy[mine].sum() / (size * span)) if span > 0 and size else math.nan
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
    per_rep = []
    for rec in records:
        m = window_metrics(rec, rec.warmup, rec.end)
        interval = planning_interval or (rec.end - rec.warmup) / 10
        p = predictability(rec, interval)
        arrived = (rec.arrival >= rec.warmup) & ~np.isnan(rec.done)
        lead = rec.done[arrived] - rec.arrival[arrived]
        per_rep.append({"replication": rec.replication, "seed": rec.seed, **m,
                        "lead_time_p85": float(np.percentile(lead, 85)) if len(lead) else math.nan,
                        "flow_predictability": p["mean"], "predictability_in_band": p["in_band"],
                        "planning_interval": interval})
    # confidence intervals: across replications, or batch means within a single one
    if len(records) >= 2:
        units = {k: [r[k] for r in per_rep] for k in SCALARS + ("flow_predictability",)}
    elif not steady_state:
        units = {k: [] for k in SCALARS + ("flow_predictability",)}
    else:
        rec = records[0]
        batches = [window_metrics(rec, lo, hi) for lo, hi in _batch_windows(rec)]
        units = {k: [b[k] for b in batches] for k in SCALARS}
        units["flow_predictability"] = []
    metrics: dict = {}
    pooled = {}
    for key, start, stop in (("lead_time", "arrival", "done"), ("flow_time", "commit", "done")):
        vals = []
        for rec in records:
            ok = (rec.arrival >= rec.warmup) & ~np.isnan(rec.done)
            vals.append(getattr(rec, stop)[ok] - getattr(rec, start)[ok])
        pooled[key] = np.concatenate(vals) if vals else np.zeros(0)
    for key in SCALARS:
        mean = _finite(float(np.nanmean([r[key] for r in per_rep])) if per_rep else math.nan) \
            if any(math.isfinite(r[key]) for r in per_rep) else None
        entry = {"mean": mean, "ci95": [_finite(x) if x is not None else None for x in ci95(units[key])]}
        if key in pooled:
            x = pooled[key]
            entry.update({"min": _finite(x.min()) if len(x) else None,
                          **{f"p{q}": _finite(np.percentile(x, q)) if len(x) else None for q in PERCENTILES},
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

    steps = pd.concat([step_metrics(rec) for rec in records], ignore_index=True)
    cols = ["utilization", "queue_length", "wip", "wait", "process_time", "blocked", "touch_time",
            "pct_complete_accurate", "throughput"]
    means = steps.groupby("step", sort=False)[cols].mean()          # NaN replications are skipped
    step_summary = {name: {c: _finite(float(row[c])) for c in cols} for name, row in means.iterrows()}
    pools = [pool_utilization(rec) for rec in records]
    pool_summary = {p: {"utilization": _finite(float(np.nanmean([u[p] for u in pools])))}
                    for p in records[0].pool_names}
    reps = [{k: (_finite(v) if isinstance(v, float) else v) for k, v in r.items()} for r in per_rep]
    return {"metrics": metrics, "steps": step_summary, "pools": pool_summary,
            "replications": reps, "_steps_frame": steps}
