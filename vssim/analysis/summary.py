"""The summary of a run (summary.json's metrics, steps, pools and replications) from its records.

Statistics cover items that arrive after the warmup and time after the warmup: the window is
[warmup, end]. A time average is the integral of a count over the window divided by its
length; each item contributes the overlap of its own interval with the window. Intervals are
Student-t intervals over replication means (`vssim.analysis.intervals`); a single replication
gets batch means instead (the window cut into `BATCHES` equal parts), the textbook remedy of
Law & Kelton.

`summarize` reads each replication's items once and its visits once (`vssim.analysis.kernels`);
`assemble` makes the summary from what is read of each replication, for `summarize` and the
streaming summary (`vssim.analysis.streaming`) alike. The same definitions as plain numpy
expressions: tests/oracle.py.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from vssim.analysis.intervals import ci95, ci95_rows
from vssim.records import Records
from vssim.scratch import scratch

__all__ = ["BAND", "BATCHES", "PEOPLE_SHOWN", "PERCENTILES", "SCALARS", "STEP_COLUMNS", "VisitTotals", "assemble",
           "flow_metrics", "interval_predictability", "pool_columns", "pool_utilization", "pooled_entry",
           "predictability", "replication_entry", "step_columns", "summarize", "visit_totals"]

BATCHES = 10
"""Batches for the batch-means interval of a single replication."""
BAND = (0.8, 1.0)
"""SAFe's predictability band for delivered / planned."""
PERCENTILES = (50, 85, 95)
SCALARS = ("lead_time", "flow_time", "throughput", "wip", "backlog", "flow_efficiency")
"""The flow metrics of a window, each with a mean over replications and an interval."""
PEOPLE_SHOWN = 12
"""A pool of at most this many people gets `people` in summary.json (each person's utilisation):
one a manager can read person by person; a larger pool's list would be read by nobody."""
STEP_COLUMNS = ("utilization", "queue_length", "wip", "wait", "process_time", "blocked", "touch_time",
                "pct_complete_accurate", "throughput")


def summarize(records: list[Records], *, planning_interval: float | None = None,
              steady_state: bool = True) -> dict:
    """The `metrics`, `steps`, `pools` and `replications` parts of summary.json.

    With one replication, intervals come from batch means, which assume a steady state; a
    transient run (`steady_state=False`: backlog or trace arrivals) then gets no interval.
    """
    if records[0].has_teams:                 # per board and per level (`vssim.analysis.levels`)
        from vssim.analysis.levels import in_levels

        return in_levels(records, planning_interval=planning_interval, steady_state=steady_state)
    single = len(records) == 1
    done_by_type = np.zeros(len(records[0].type_names))
    per_rep = []
    lead_times, flow_times = [], []
    batches = None
    pooled: dict = {}
    for rec in records:
        interval = planning_interval or (rec.end - rec.warmup) / 10
        totals = _item_totals(rec, interval, batches=single and steady_state)
        lead, flow = totals.lead, totals.flow
        done_by_type += totals.done_by_type
        if single:                                    # the pooled times are this replication's
            batches = totals.batches
            lead_pct = _quantiles(lead, PERCENTILES)
            pooled = {"lead_time": (lead_pct, len(lead)),
                      "flow_time": (lead_pct if flow is lead else _quantiles(flow, PERCENTILES), len(flow))}
            p85 = float(lead_pct[PERCENTILES.index(85)]) if len(lead) else math.nan
        else:                                         # (copies: `_item_totals` reuses its memory)
            lead_times.append(lead.copy())
            flow_times.append(flow.copy())
            p85 = float(_quantiles(lead, (85,))[0]) if len(lead) else math.nan
        per_rep.append(replication_entry(rec.replication, rec.seed, totals.window, p85, totals.predictability,
                                         interval))
    if not single:
        pooled = {key: (_quantiles(x, PERCENTILES), len(x))
                  for key, x in (("lead_time", np.concatenate(lead_times)), ("flow_time", np.concatenate(flow_times)))}
    steps, pools = [], []
    for rec in records:
        span = rec.end - rec.warmup
        totals = visit_totals(
            rec.visit_step, rec.visit_enter, rec.visit_ready, rec.visit_start, rec.visit_end, rec.visit_leave,
            rec.visit_work, rec.visit_reworked, rec.visit_person, rec.person_pool, len(rec.step_names),
            len(rec.pool_names), *_window(rec))
        if len(rec.helper_step):            # a swarm's helpers are busy too
            add_helper_busy(totals, rec.helper_step, rec.helper_person, rec.helper_start, rec.helper_end,
                            rec.person_pool, *_window(rec))
        if rec.pool_calendar is not None:   # a calendar's pools are busy in their working time only
            working_busy(totals, rec, *_window(rec))
        steps.append(step_columns(rec.replication, rec.step_names, rec.step_capacity, span, totals.sums,
                                  totals.counts))
        pools.append(pool_columns(rec.pool_names, rec.step_names, rec.person_pool, totals, span, rec.pool_capacity,
                                  rec.person_presence))
    out = assemble(per_rep, batches, pooled, done_by_type, records[0].type_names, steps, pools,
                   records[0].pool_names)
    if records[0].parts > 1:                 # split items: counted in the items they were split from
        from vssim.analysis.parts import in_whole_items

        out = in_whole_items(out, records, planning_interval=planning_interval, steady_state=steady_state)
    return out


def assemble(per_rep: list[dict], batches: list[dict] | None, pooled: dict[str, tuple[np.ndarray, int]],
             done_by_type: np.ndarray, type_names: list[str], steps: list[dict], pools: list[dict[str, dict]],
             pool_names: list[str], quantiles: str | None = None) -> dict:
    """The `metrics`, `steps`, `pools` and `replications` parts of summary.json from what was read
    of each replication (of full records or of running totals).

    `per_rep`: each replication's `replication_entry`; `batches`: a single replication's batch
    windows (`flow_metrics` of each) for its intervals, None for no interval; `pooled[key]` for the
    lead and flow times of all replications: their `PERCENTILES`, min and max, and their count;
    `done_by_type`: the items done in the windows by type; `steps`: each replication's
    `step_columns`; `pools`: its `pool_columns`; `quantiles`: how the percentiles were found,
    when not exactly.
    """
    if len(per_rep) >= 2:                            # intervals across replications
        units = [[r[key] for r in per_rep] for key in SCALARS]
    else:                                            # or over the batches of one
        units = [[b[key] for b in batches or ()] for key in SCALARS]
    metrics: dict = {}
    for key, ci in zip(SCALARS, ci95_rows(units), strict=True):
        entry = {"mean": _mean([r[key] for r in per_rep]), "ci95": [_finite(x) for x in ci]}
        if key in pooled:
            values, count = pooled[key]
            k = len(PERCENTILES)
            entry.update({"min": _finite(values[k]) if count else None,
                          **{f"p{p}": _finite(values[i]) if count else None for i, p in enumerate(PERCENTILES)},
                          "max": _finite(values[k + 1]) if count else None,
                          "count": int(count)})
            if quantiles:
                entry["quantiles"] = quantiles
        metrics[key] = entry
    metrics["backlog"] = {"mean": metrics["backlog"]["mean"], "ci95": metrics["backlog"]["ci95"]}
    metrics.update(_flow_totals(per_rep, type_names, done_by_type))
    frame, step_summary = _steps(steps)
    pool_summary = {p: _pool_entry([u[p] for u in pools]) for p in pool_names}
    reps = [{k: (_finite(v) if isinstance(v, float) else v) for k, v in r.items()} for r in per_rep]
    return {"metrics": metrics, "steps": step_summary, "pools": pool_summary,
            "replications": reps, "_steps_frame": frame}


def replication_entry(replication: int, seed: int, window: dict, lead_time_p85: float, predictability: dict,
                      planning_interval: float) -> dict:
    """One replication's row of summary.json's `replications`: its `flow_metrics` over [warmup,
    end], its lead times' 85th percentile, its flow predictability (mean, in_band)."""
    return {"replication": replication, "seed": seed, **window, "lead_time_p85": lead_time_p85,
            "flow_predictability": predictability["mean"], "predictability_in_band": predictability["in_band"],
            "planning_interval": planning_interval}


def flow_metrics(span: float, counts, rejected: int, sums) -> dict:
    """The scalar flow metrics of one window of length `span` from its counts (finished: arrived
    in it and done, completed: done in it, unfinished: arrived in it and not done) and its sums
    (the finished items' lead, flow and touch times, the wip and backlog overlaps)."""
    finished, completed, unfinished = (int(x) for x in counts[:3])
    lead_sum, flow_sum, touch_sum, wip_sum, backlog_sum = (float(x) for x in sums)
    return {
        "lead_time": lead_sum / finished if finished else math.nan,
        "flow_time": flow_sum / finished if finished else math.nan,
        "throughput": float(completed) / span if span > 0 else math.nan,
        "wip": wip_sum / span if span > 0 else math.nan,
        "backlog": backlog_sum / span if span > 0 else math.nan,
        "flow_efficiency": touch_sum / flow_sum if flow_sum > 0 else math.nan,
        "completed": completed,
        "rejected": int(rejected),
        "unfinished": unfinished,
    }


def predictability(rec: Records, interval: float) -> dict[str, float]:
    """Delivered / planned value per planning interval, planned from the stream's own past.

    The window is cut into whole intervals; the plan of interval i >= 1 is the mean value
    delivered by intervals 0..i-1 (the stream forecasts from its past throughput, "yesterday's
    weather"); delivered is the business value of items done in it. Returns its mean, the share
    of intervals in `BAND` and how many intervals (NaN below two).
    """
    return {**_item_totals(rec, interval, batches=False).predictability, "intervals": _intervals(rec, interval)}


def interval_predictability(delivered: np.ndarray, n: int) -> dict[str, float]:
    """`predictability`'s mean and in_band from the value delivered in each of n intervals."""
    if n < 2:
        return {"mean": math.nan, "in_band": math.nan}
    from vssim.analysis import kernels

    out = np.empty(2)
    kernels.predictability_ratios(kernels.float64s(delivered), n, BAND[0] - 1e-12, BAND[1] + 1e-12, out)
    return {"mean": float(out[0]), "in_band": float(out[1])}


class VisitTotals(NamedTuple):
    """What a pass over visits adds up over a window (`visit_totals`)."""
    sums: np.ndarray              # (7, steps): busy, queue, wip, wait, process, blocked, touch
    counts: np.ndarray            # (5, steps): started, ended, left, checked, reworked
    pool_busy: np.ndarray         # (pools,): busy time of each pool's people
    pool_step_busy: np.ndarray    # (pools, steps): the same, per step worked
    person_busy: np.ndarray       # (people,): busy time of each person


def visit_totals(step, enter, ready, start, end, leave, work, reworked, person, person_pool, n_steps: int,
                 n_pools: int, lo: float, hi: float) -> VisitTotals:
    """The totals of visits (a replication's, or a block of a streaming run's) over the window
    [lo, hi]: per step the sums and counts `step_columns` reads, and the busy time of each pool,
    of each pool per step and of each person `pool_columns` reads
    (`vssim.analysis.kernels.visit_pass`)."""
    from vssim.analysis import kernels

    f64, i64 = kernels.float64s, kernels.int64s
    sums = np.zeros((7, n_steps))
    counts = np.zeros((5, n_steps), dtype=np.int64)
    pool_busy = np.empty(n_pools)
    pool_step_busy = np.zeros((n_pools, n_steps))
    person_busy = np.zeros(len(person_pool))
    kernels.visit_pass(i64(step), f64(enter), f64(ready), f64(start), f64(end), f64(leave), f64(work),
                       np.ascontiguousarray(reworked, dtype=np.bool_), i64(person), i64(person_pool), float(lo),
                       float(hi), sums, counts, pool_busy, pool_step_busy, person_busy, scratch("grouped", len(step)))
    return VisitTotals(sums, counts, pool_busy, pool_step_busy, person_busy)


def add_helper_busy(totals: VisitTotals, step, person, start, end, person_pool, lo: float, hi: float) -> None:
    """Add the busy time of a swarm's helpers (`records.HELPER_COLUMNS`) over [lo, hi] to `totals`: the
    steps' busy sums (sums[0]), their pools' busy time, per step and per person: each helper is busy
    from joining to the visit's end (an open end: the window's), so that utilisation is person-time /
    capacity-time."""
    end = np.asarray(end, dtype=np.float64)
    busy = np.maximum(np.where(end < hi, end, hi) - np.maximum(np.asarray(start, dtype=np.float64), lo), 0.0)
    step = np.asarray(step, dtype=np.int64)
    person = np.asarray(person, dtype=np.int64)
    n_steps = totals.sums.shape[1]
    totals.sums[0] += np.bincount(step, weights=busy, minlength=n_steps)
    pools = np.asarray(person_pool, dtype=np.int64)[person]
    totals.pool_busy[:] += np.bincount(pools, weights=busy, minlength=len(totals.pool_busy))
    np.add.at(totals.pool_step_busy, (pools, step), busy)
    totals.person_busy[:] += np.bincount(person, weights=busy, minlength=len(totals.person_busy))


def working_busy(totals: VisitTotals, rec: Records, lo: float, hi: float) -> None:
    """Count the visits of pools with a calendar (`rec.pool_calendar`) busy for their working time in
    [lo, hi] only, not for the nights and weekends an item spends in a person's hands: their pool's,
    person's and step's busy time over [lo, hi] becomes `Calendar.working_time` of the overlap (an
    open end: the window's, as `kernels.overlap`), so that utilisation is busy working person-time /
    working person-time (`records._working`)."""
    person = np.asarray(rec.visit_person, dtype=np.int64)
    started = person >= 0
    pool = np.full(len(person), -1, dtype=np.int64)
    pool[started] = np.asarray(rec.person_pool, dtype=np.int64)[person[started]]
    n_steps = totals.sums.shape[1]
    for p, calendar in enumerate(rec.pool_calendar):
        if calendar is None:
            continue
        mine = np.flatnonzero(pool == p)
        start = np.maximum(rec.visit_start[mine], lo)
        end = np.where(np.isnan(rec.visit_end[mine]), hi, np.minimum(rec.visit_end[mine], hi))
        end = np.maximum(end, start)
        held = end - start                              # what the pass counted: calendar time
        worked = calendar.working_time(start, end) if len(mine) else held
        step = np.asarray(rec.visit_step[mine], dtype=np.int64)
        totals.sums[0] += np.bincount(step, weights=worked - held, minlength=n_steps)
        totals.pool_busy[p] = float(np.sum(worked))
        totals.pool_step_busy[p] = np.bincount(step, weights=worked, minlength=n_steps)
        members = np.flatnonzero(np.asarray(rec.person_pool) == p)     # every visit of theirs is this pool's
        totals.person_busy[members] = np.bincount(person[mine], weights=worked,
                                                  minlength=len(totals.person_busy))[members]


def step_columns(replication: int, step_names: list[str], capacity, span: float, sums: np.ndarray,
                 counts: np.ndarray) -> dict:
    """Per-step statistics of one replication (one row per step) from its `visit_totals`: time
    averages over the window (utilization per person who may work the step), means over the
    visits that entered it in the window, the share of checks passed, the throughput."""
    from vssim.analysis import kernels

    table = np.empty((len(STEP_COLUMNS), len(step_names)))
    kernels.step_table(sums, counts, kernels.float64s(capacity), float(span), table)
    return {"replication": replication, "step": step_names, **dict(zip(STEP_COLUMNS, table, strict=True)),
            "visits": counts[3].astype(np.int64)}


def pool_utilization(pool_names: list[str], person_pool: np.ndarray, busy: np.ndarray, span: float,
                     capacity: np.ndarray | None = None) -> dict[str, float]:
    """Busy time of each pool's people over the window / (people x window); a pool with a schedule:
    over the people it has, time-averaged (`capacity`)."""
    sizes = (np.bincount(np.asarray(person_pool, dtype=np.int64), minlength=len(pool_names)) if capacity is None
             else capacity)
    return {name: float(busy[p] / (float(sizes[p]) * span)) if span > 0 and sizes[p] else math.nan
            for p, name in enumerate(pool_names)}


def pool_columns(pool_names: list[str], step_names: list[str], person_pool: np.ndarray, totals: VisitTotals,
                 span: float, capacity: np.ndarray | None = None, presence: np.ndarray | None = None) -> dict:
    """Each pool's figures in one replication (docs/metrics.md, "Pools"), from its `visit_totals`:
    `utilization` (`pool_utilization`), `headcount` (people on the pool, time-averaged over the
    window: `capacity`, or its size without a schedule), `busy` ({step: the share of the pool's
    busy time spent on it}; NaN for a pool never busy) and, for a pool of at most `PEOPLE_SHOWN`
    people, `people` (each person's busy time / (their share of the window on the pool, `presence`
    (None: all of it), x window); NaN for someone never on it)."""
    person_pool = np.asarray(person_pool, dtype=np.int64)
    sizes = np.bincount(person_pool, minlength=len(pool_names))
    utilization = pool_utilization(pool_names, person_pool, totals.pool_busy, span, capacity)
    out = {}
    for p, name in enumerate(pool_names):
        by_step = totals.pool_step_busy[p]
        busy = float(by_step.sum())         # (so that a pool working one step gives it exactly 1)
        shares = by_step / busy if busy > 0 else np.full(len(step_names), math.nan)
        entry = {"utilization": utilization[name],
                 "headcount": float(sizes[p] if capacity is None else capacity[p]),
                 "busy": dict(zip(step_names, shares.tolist(), strict=True))}
        if sizes[p] <= PEOPLE_SHOWN:
            mine = np.flatnonzero(person_pool == p)
            time = (np.ones(len(mine)) if presence is None else presence[mine]) * span
            with np.errstate(invalid="ignore", divide="ignore"):
                entry["people"] = np.where(time > 0, totals.person_busy[mine] / time, math.nan).tolist()
        out[name] = entry
    return out


def _pool_entry(per_rep: list[dict]) -> dict:
    """summary.json's entry of a pool from its `pool_columns` of each replication: the means over
    replications (NaN ones skipped), an interval for the utilisation, and only the steps it worked."""
    util = [r["utilization"] for r in per_rep]
    entry = {"utilization": _mean(util), "utilization_ci95": ci95(util),
             "headcount": _mean([r["headcount"] for r in per_rep])}
    busy = {step: _mean([r["busy"][step] for r in per_rep]) for step in per_rep[0]["busy"]}
    entry["busy"] = {step: share for step, share in busy.items() if share}
    if "people" in per_rep[0]:
        entry["people"] = {str(k + 1): _mean([r["people"][k] for r in per_rep])
                           for k in range(len(per_rep[0]["people"]))}
    return entry


# --------------------------------------------------------------------------- one replication's items
class _ItemTotals(NamedTuple):
    window: dict                    # `flow_metrics` over [warmup, end]
    batches: list[dict] | None      # over each batch-means window, when asked for
    lead: np.ndarray                # lead and flow times of the items arriving after the warmup that are
    flow: np.ndarray                # done (scratch memory, valid until the next call; flow is lead if equal)
    predictability: dict            # mean, in_band
    done_by_type: np.ndarray        # items done in the window by type


def _item_totals(rec: Records, interval: float, batches: bool) -> _ItemTotals:
    """What the summary reads from one replication's items, in one pass (`kernels.item_pass`).

    A window with an end before the warmup has no batch means: its batches would be empty, their
    metrics NaN and their interval none, as without batches.
    """
    from vssim.analysis import kernels

    lo, hi = _window(rec)
    n = rec.n_items
    n_intervals = _intervals(rec, interval)
    edges = np.linspace(rec.warmup, rec.end, BATCHES + 1) if batches and lo <= hi else np.array([lo])
    n_windows = len(edges)
    lead, flow, touch = scratch("items", 3 * n).reshape(3, n)
    # the wip (and backlog, unless every item committed when it arrived) overlaps per window
    planes = 1 if rec.commit is rec.arrival or np.array_equal(rec.commit, rec.arrival) else 2
    rows = scratch("rows", planes * n_windows * n).reshape(planes, n_windows, n)
    counts = np.empty((n_windows, 4), dtype=np.int64)
    sums = np.empty((n_windows, 5))
    delivered = np.empty(max(n_intervals, 1))
    done_by_type = np.empty(len(rec.type_names), dtype=np.int64)
    f64 = kernels.float64s
    n_done, same = kernels.item_pass(
        f64(rec.arrival), f64(rec.commit), f64(rec.done), f64(rec.touch), kernels.int64s(rec.item_type),
        f64(rec.item_value), f64(rec.rejected_times), lo, hi, edges, float(interval),
        n_intervals if n_intervals >= 2 else 0, lead, flow, touch, rows, counts, sums, delivered, done_by_type)
    window = flow_metrics(hi - lo, counts[0], counts[0, 3], sums[0])
    windows = None
    if n_windows > 1:
        windows = [flow_metrics(edges[w] - edges[w - 1], counts[w], counts[w, 3], sums[w]) for w in range(1, n_windows)]
    lead = lead[:n_done]
    return _ItemTotals(window, windows, lead, lead if same else flow[:n_done],
                       interval_predictability(delivered, n_intervals), done_by_type)


def _window(rec: Records) -> tuple[float, float]:
    """[warmup, end] of a replication, finite: every engine stops at a finite time (the horizon, or
    its last event), and the passes rely on it."""
    lo, hi = float(rec.warmup), float(rec.end)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"replication {rec.replication}: its window [warmup, end] = [{lo}, {hi}] is not finite")
    return lo, hi


def _intervals(rec: Records, interval: float) -> int:
    """How many whole planning intervals the window holds."""
    return int(math.floor((rec.end - rec.warmup) / interval + 1e-9)) if interval > 0 else 0


def _quantiles(x: np.ndarray, percentiles) -> np.ndarray:
    """np.percentile(x, percentiles), then x.min() and x.max() (`kernels.percentiles`). x is not changed."""
    q = np.true_divide(percentiles, 100)            # np.percentile's quantiles
    out = np.empty(len(q) + 2)
    if not len(x):
        out.fill(np.nan)
    else:
        from vssim.analysis import kernels

        kernels.percentiles(x, len(x), q, out, scratch("select", len(x)))
    return out


# --------------------------------------------------------------------------- what combines replications
def _flow_totals(per_rep: list[dict], type_names: list[str], done_by_type: np.ndarray) -> dict:
    """The summary's metrics that combine replications: flow distribution (shares of the items
    done in the window by type), flow predictability, the counts and Little's law's residual."""
    out: dict = {}
    total = done_by_type.sum()
    out["flow_distribution"] = {t: (float(c / total) if total else 0.0)
                                for t, c in zip(type_names, done_by_type, strict=True)}
    fp = [r["flow_predictability"] for r in per_rep if math.isfinite(r["flow_predictability"])]
    band = [r["predictability_in_band"] for r in per_rep if math.isfinite(r["predictability_in_band"])]
    out["flow_predictability"] = {
        "mean": _finite(float(np.mean(fp))) if fp else None,
        "ci95": ci95(fp),
        "in_band": _finite(float(np.mean(band))) if band else None,
        "band": list(BAND),
        "planning_interval": per_rep[0]["planning_interval"],
    }
    for key in ("completed", "rejected", "unfinished"):
        out[key] = int(sum(r[key] for r in per_rep))
    # Little's law per replication (wip = throughput x flow time); the worst one is reported
    residuals = [abs(r["wip"] - r["throughput"] * r["flow_time"]) / r["wip"] for r in per_rep
                 if r["wip"] > 0 and math.isfinite(r["flow_time"])]
    if residuals:
        out["littles_law_residual"] = max(residuals)
    return out


def _mean(values: list[float]) -> float | None:
    """np.nanmean of the replications' values, None unless finite; of one value 0.0 + it, which
    is what np.nanmean gives (its sum adds the value to 0.0), without its cost."""
    if not any(math.isfinite(x) for x in values):
        return None
    return _finite(0.0 + values[0]) if len(values) == 1 else _finite(float(np.nanmean(values)))


def _steps(columns: list[dict]) -> tuple[pd.DataFrame, dict]:
    """The steps frame (`step_columns` of each replication, one after the other) and each step's
    means over the replications (NaN replications skipped, as groupby's mean does)."""
    cols = list(STEP_COLUMNS)
    if len(columns) == 1:
        # the mean of one replication: what groupby's mean gives for one value per step (x; a
        # column of the table is never -0.0: sums from +0.0, divided by positive numbers)
        values = {c: np.asarray(columns[0][c], dtype=np.float64) + 0.0 for c in cols}
        return _frame(columns[0]), {name: {c: _finite(float(values[c][i])) for c in cols}
                                    for i, name in enumerate(columns[0]["step"])}
    frame = pd.concat([_frame(c) for c in columns], ignore_index=True)
    means = frame.groupby("step", sort=False)[cols].mean()
    return frame, {name: {c: _finite(float(row[c])) for c in cols} for name, row in means.iterrows()}


@functools.lru_cache(maxsize=64)
def _frame_parts(names: tuple[str, ...], steps: tuple[str, ...]) -> tuple:
    """The column index, row index and step column of `pd.DataFrame(columns)` (immutable)."""
    ref = pd.DataFrame({name: list(steps) if name == "step" else [0] * len(steps) for name in names})
    return ref.columns, ref.index, ref["step"].array


def _frame(columns: dict) -> pd.DataFrame:
    """``pd.DataFrame(columns)`` of `step_columns` (the same frame) from arrays, without pandas'
    inference: its column index and step column are kept per set of step names."""
    names, steps = tuple(columns), tuple(columns["step"])
    try:
        cols, index, step = _frame_parts(names, steps)
        n = len(steps)
        arrays = [step if k == "step" else np.full(n, v, dtype=np.int64) if k == "replication" else v
                  for k, v in columns.items()]
        return pd.DataFrame._from_arrays(arrays, columns=cols, index=index, verify_integrity=False)
    except (AttributeError, TypeError):      # pragma: no cover - a pandas without _from_arrays
        return pd.DataFrame(columns)


def pooled_entry(per_rep: list[np.ndarray]) -> tuple[dict, list[float]]:
    """A time measured per item, e.g. time to first value: {mean (of the replications' means), ci95
    (over them), p50, p85, p95 (pooled), count}, and each replication's mean (NaN without items)."""
    means = [float(x.mean()) if len(x) else math.nan for x in per_rep]
    pooled = np.concatenate(per_rep)
    pct = np.percentile(pooled, PERCENTILES) if len(pooled) else [math.nan] * len(PERCENTILES)
    finite = [m for m in means if math.isfinite(m)]
    entry = {"mean": _finite(float(np.mean(finite))) if finite else None, "ci95": ci95(finite),
             **{f"p{p}": _finite(float(v)) for p, v in zip(PERCENTILES, pct, strict=True)}, "count": len(pooled)}
    return entry, means


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None
