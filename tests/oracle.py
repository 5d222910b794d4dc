"""The oracle of the summary: the numbers of summary.json written as the plain numpy expressions
that define them (docs/metrics.md), slow and obvious.

The summary itself (vssim/analysis/summary.py) reads each replication once in compiled passes
(vssim/analysis/kernels.py) that do numpy's arithmetic themselves; tests/test_summary.py holds it
to this oracle bit for bit. Only the constants come from vssim.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from vssim.analysis.summary import BAND, BATCHES, PEOPLE_SHOWN, PERCENTILES, SCALARS, STEP_COLUMNS


def overlap(start: np.ndarray, stop: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Length of [start, stop) ∩ [lo, hi), with NaN stop meaning "still open at hi" (and NaN start
    "not yet begun": no overlap)."""
    stop = np.where(np.isnan(stop), hi, stop)
    start = np.where(np.isnan(start), hi, start)
    return np.clip(np.minimum(stop, hi) - np.maximum(start, lo), 0.0, None)


def ci95(values) -> list[float | None]:
    """Student-t 95 % interval of the mean of the finite values; [None, None] if fewer than 2."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) < 2:
        return [None, None]
    m = float(v.mean())
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return [m - half, m + half]


def window_metrics(rec, lo: float, hi: float) -> dict:
    """The scalar flow metrics of one replication over the window [lo, hi) ([lo, hi] when hi is
    the end of the run): the items arriving in it, the overlaps of every item with it."""
    span = hi - lo
    arrived = (rec.arrival >= lo) & (rec.arrival < hi)
    finished = arrived & ~np.isnan(rec.done)
    lead = rec.done[finished] - rec.arrival[finished]
    flow = rec.done[finished] - rec.commit[finished]
    done_in = (rec.done >= lo) & ((rec.done <= hi) if not hi < rec.end else (rec.done < hi))
    wip = float(overlap(rec.commit, rec.done, lo, hi).sum())
    backlog = float(overlap(rec.arrival, rec.commit, lo, hi).sum())
    flow_sum = float(flow.sum())
    rejected = rec.rejected_times
    return {
        "lead_time": float(lead.mean()) if len(lead) else math.nan,
        "flow_time": float(flow.mean()) if len(flow) else math.nan,
        "throughput": float(done_in.sum()) / span if span > 0 else math.nan,
        "wip": wip / span if span > 0 else math.nan,
        "backlog": backlog / span if span > 0 else math.nan,
        "flow_efficiency": float(rec.touch[finished].sum()) / flow_sum if flow_sum > 0 else math.nan,
        "completed": int(done_in.sum()),
        "rejected": int(((rejected >= lo) & (rejected < hi)).sum()),
        "unfinished": int((arrived & np.isnan(rec.done)).sum()),
    }


def batch_windows(rec) -> list[tuple[float, float]]:
    edges = np.linspace(rec.warmup, rec.end, BATCHES + 1)
    return list(zip(edges[:-1], edges[1:], strict=True))


def predictability(rec, interval: float) -> dict:
    """Delivered / planned value per whole planning interval of the window; the plan of interval
    i >= 1 is the mean value delivered by intervals 0..i-1."""
    lo, hi = rec.warmup, rec.end
    n = int(math.floor((hi - lo) / interval + 1e-9)) if interval > 0 else 0
    if n < 2:
        return {"mean": math.nan, "in_band": math.nan, "intervals": n}
    ok = ~np.isnan(rec.done)
    idx = np.floor((rec.done[ok] - lo) / interval).astype(np.int64)
    keep = (idx >= 0) & (idx < n)
    delivered = np.bincount(idx[keep], weights=rec.item_value[ok][keep], minlength=n)[:n]
    planned = np.cumsum(delivered)[:-1] / np.arange(1, n)
    valid = planned > 0
    ratio = delivered[1:][valid] / planned[valid]
    if not len(ratio):
        return {"mean": math.nan, "in_band": math.nan, "intervals": n}
    in_band = (ratio >= BAND[0] - 1e-12) & (ratio <= BAND[1] + 1e-12)
    return {"mean": float(ratio.mean()), "in_band": float(in_band.mean()), "intervals": n}


def step_columns(rec) -> dict:
    """Per-step statistics of one replication: np.bincount over the visits."""
    lo, hi = rec.warmup, rec.end
    span, n = hi - lo, len(rec.step_names)
    s = rec.visit_step
    fresh = rec.visit_enter >= lo

    def total(values, mask=None):
        mask = np.ones(len(s), dtype=bool) if mask is None else mask
        return np.bincount(s[mask], weights=values[mask], minlength=n)

    def mean(values, mask):
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.bincount(s[mask], minlength=n)
            return np.where(c > 0, total(values, mask) / np.maximum(c, 1), np.nan)

    started = fresh & ~np.isnan(rec.visit_start)
    ended = fresh & ~np.isnan(rec.visit_end)
    left = fresh & ~np.isnan(rec.visit_leave)
    checked = (rec.visit_end >= lo) & (rec.visit_end <= hi)
    n_checked = np.bincount(s[checked], minlength=n)
    reworked = np.bincount(s[checked & rec.visit_reworked], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_span = (lambda x: x / span) if span > 0 else (lambda x: np.full(n, np.nan))
        return {
            "replication": rec.replication,
            "step": rec.step_names,
            "utilization": per_span(total(overlap(rec.visit_start, rec.visit_end, lo, hi))) / rec.step_capacity,
            "queue_length": per_span(total(overlap(rec.visit_ready, rec.visit_start, lo, hi))),
            "wip": per_span(total(overlap(rec.visit_enter, rec.visit_leave, lo, hi))),
            "wait": mean(rec.visit_start - rec.visit_enter, started),
            "process_time": mean(rec.visit_end - rec.visit_start, ended),
            "blocked": mean(rec.visit_leave - rec.visit_end, left),
            "touch_time": mean(rec.visit_work, ended),
            "pct_complete_accurate": np.where(n_checked > 0, 1.0 - reworked / np.maximum(n_checked, 1), np.nan),
            "throughput": per_span(n_checked.astype(float)),
            "visits": n_checked.astype(np.int64),
        }


def pool_utilization(rec) -> dict:
    """Busy time of each pool's people (the visits they started) / (people x window); people
    time-averaged for a pool with a schedule."""
    lo, hi = rec.warmup, rec.end
    span = hi - lo
    busy = overlap(rec.visit_start, rec.visit_end, lo, hi)
    pool = np.where(rec.visit_person >= 0, rec.person_pool[np.maximum(rec.visit_person, 0)], -1)
    sizes = np.bincount(rec.person_pool, minlength=len(rec.pool_names)) if rec.pool_capacity is None \
        else rec.pool_capacity
    return {name: float(busy[pool == p].sum() / (sizes[p] * span)) if span > 0 and sizes[p] else math.nan
            for p, name in enumerate(rec.pool_names)}


def pool_columns(rec) -> dict:
    """Each pool's utilization, headcount, busy shares by step and, for small pools, each
    person's busy time / (their time on the pool)."""
    lo, hi = rec.warmup, rec.end
    span = hi - lo
    started = rec.visit_person >= 0
    busy = overlap(rec.visit_start, rec.visit_end, lo, hi)[started]
    person = rec.visit_person[started]
    n_pools, n_steps, n_people = len(rec.pool_names), len(rec.step_names), len(rec.person_pool)
    by_step = np.bincount(rec.person_pool[person] * n_steps + rec.visit_step[started], weights=busy,
                          minlength=n_pools * n_steps).reshape(n_pools, n_steps)
    by_person = np.bincount(person, weights=busy, minlength=n_people)
    present = (np.ones(n_people) if rec.person_presence is None else rec.person_presence) * span
    sizes = np.bincount(rec.person_pool, minlength=n_pools)
    util = pool_utilization(rec)
    out = {}
    for p, name in enumerate(rec.pool_names):
        total = by_step[p].sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            entry = {"utilization": util[name],
                     "headcount": float(sizes[p] if rec.pool_capacity is None else rec.pool_capacity[p]),
                     "busy": dict(zip(rec.step_names, (by_step[p] / total if total > 0 else by_step[p] * math.nan),
                                      strict=True))}
            if sizes[p] <= PEOPLE_SHOWN:
                mine = rec.person_pool == p
                entry["people"] = list(np.where(present[mine] > 0, by_person[mine] / present[mine], math.nan))
        out[name] = entry
    return out


def _nanmean(values) -> float | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _finite(float(np.nanmean(values)))


def pool_summary(records) -> dict:
    """summary.json's `pools`: the replications' means, the steps a pool worked, the utilization's interval."""
    per_rep = [pool_columns(rec) for rec in records]
    out = {}
    for name in records[0].pool_names:
        rows = [r[name] for r in per_rep]
        util = [r["utilization"] for r in rows]
        busy = {step: _nanmean([r["busy"][step] for r in rows]) for step in records[0].step_names}
        entry = {"utilization": _nanmean(util), "utilization_ci95": ci95(util),
                 "headcount": _nanmean([r["headcount"] for r in rows]),
                 "busy": {step: share for step, share in busy.items() if share is not None and share > 0}}
        if "people" in rows[0]:
            entry["people"] = {str(k + 1): _nanmean([r["people"][k] for r in rows])
                               for k in range(len(rows[0]["people"]))}
        out[name] = entry
    return out


def summarize(records, *, planning_interval=None, steady_state=True) -> dict:
    """`vssim.analysis.summary.summarize`: the same dict, steps frame included."""
    times = {"lead_time": [], "flow_time": []}
    for rec in records:
        ok = (rec.arrival >= rec.warmup) & ~np.isnan(rec.done)
        times["lead_time"].append(rec.done[ok] - rec.arrival[ok])
        times["flow_time"].append(rec.done[ok] - rec.commit[ok])
    pooled = {k: np.concatenate(v) for k, v in times.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pct = {k: np.percentile(x, PERCENTILES) if len(x) else None for k, x in pooled.items()}
    per_rep = []
    for rec, lead in zip(records, times["lead_time"], strict=True):
        m = window_metrics(rec, rec.warmup, rec.end)
        interval = planning_interval or (rec.end - rec.warmup) / 10
        p = predictability(rec, interval)
        p85 = float(np.percentile(lead, 85)) if len(lead) else math.nan
        per_rep.append({"replication": rec.replication, "seed": rec.seed, **m, "lead_time_p85": p85,
                        "flow_predictability": p["mean"], "predictability_in_band": p["in_band"],
                        "planning_interval": interval})
    if len(records) >= 2:
        units = {k: [r[k] for r in per_rep] for k in SCALARS}
    elif not steady_state:
        units = {k: [] for k in SCALARS}
    else:
        batches = [window_metrics(records[0], lo, hi) for lo, hi in batch_windows(records[0])]
        units = {k: [b[k] for b in batches] for k in SCALARS}
    out: dict = {}
    for key in SCALARS:
        values = [r[key] for r in per_rep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mean = _finite(float(np.nanmean(values))) if any(math.isfinite(x) for x in values) else None
        entry = {"mean": mean, "ci95": [_finite(x) for x in ci95(units[key])]}
        if key in pooled:
            x = pooled[key]
            entry.update({"min": _finite(x.min()) if len(x) else None,
                          **{f"p{q}": _finite(pct[key][i]) if len(x) else None for i, q in enumerate(PERCENTILES)},
                          "max": _finite(x.max()) if len(x) else None, "count": int(len(x))})
        out[key] = entry
    out["backlog"] = {"mean": out["backlog"]["mean"], "ci95": out["backlog"]["ci95"]}
    counts = np.zeros(len(records[0].type_names))
    for rec in records:
        done_in = (rec.done >= rec.warmup) & (rec.done <= rec.end)
        counts += np.bincount(rec.item_type[done_in], minlength=len(counts))
    total = counts.sum()
    out["flow_distribution"] = {t: (float(c / total) if total else 0.0)
                                for t, c in zip(records[0].type_names, counts, strict=True)}
    fp = [r["flow_predictability"] for r in per_rep if math.isfinite(r["flow_predictability"])]
    band = [r["predictability_in_band"] for r in per_rep if math.isfinite(r["predictability_in_band"])]
    out["flow_predictability"] = {"mean": _finite(float(np.mean(fp))) if fp else None, "ci95": ci95(fp),
                                  "in_band": _finite(float(np.mean(band))) if band else None, "band": list(BAND),
                                  "planning_interval": per_rep[0]["planning_interval"]}
    out |= {key: int(sum(r[key] for r in per_rep)) for key in ("completed", "rejected", "unfinished")}
    # Little's law, wip = throughput x flow time: the largest relative residual of a replication
    wip, throughput, flow_time = (np.array([r[k] for r in per_rep]) for k in ("wip", "throughput", "flow_time"))
    has = (wip > 0) & np.isfinite(flow_time)
    if has.any():
        out["littles_law_residual"] = max(float(x) for x in np.abs(wip - throughput * flow_time)[has] / wip[has])
    steps = pd.concat([pd.DataFrame(step_columns(rec)) for rec in records], ignore_index=True)
    cols = list(STEP_COLUMNS)
    means = steps.groupby("step", sort=False)[cols].mean()
    step_summary = {name: {c: _finite(float(row[c])) for c in cols} for name, row in means.iterrows()}
    reps = [{k: (_finite(v) if isinstance(v, float) else v) for k, v in r.items()} for r in per_rep]
    return {"metrics": out, "steps": step_summary, "pools": pool_summary(records), "replications": reps,
            "_steps_frame": steps}


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None
