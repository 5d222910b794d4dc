"""Streaming statistics: the summary of a run from running totals, without keeping its rows.

`sim.stats=streaming` (docs/metrics.md, "Streaming statistics"). An engine hands finished items
and their visits to `RunStats` in blocks and forgets them; memory no longer grows with the
length of the run. Every metric of summary.json is a sum over items or visits over a window
known in advance ([warmup, horizon] and its batch-means windows), so running sums give the
same numbers as `vssim.analysis.summary.summarize` on the full records (up to the order of floating-
point additions); the percentiles come from a `QuantileSketch` (within 0.1 %, relative), min,
max and counts are exact.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vssim.analysis.sketch import QuantileSketch
from vssim.analysis.summary import (
    BATCHES,
    PERCENTILES,
    SCALARS,
    _finite,
    _predictability,
    _step_columns,
    ci95,
    flow_totals,
    visit_totals,
)

__all__ = ["RunStats", "summarize_streaming"]

# item sums: lead, flow, touch (finished items that arrived in the window), wip, backlog (overlaps)
# item counts: finished, completed (done in the window), unfinished (arrived in the window, not done)


_ov = None
"""`metrics._ov` (compiled), bound by `_kernels`: the overlap of [a, b) with [lo, hi)."""


def _items_pass(arrival, commit, done, touch, itype, value, lo, hi, edges, pi, n_pi, sums, counts, bsums, bcounts,
                by_type, delivered, lead, flow):  # pragma: no cover - compiled
    """Add a block of items to the totals; fill lead, flow with the values for the sketches."""
    nb = len(edges) - 1
    ns = 0
    for k in range(len(arrival)):
        a = arrival[k]
        c = commit[k]
        d = done[k]
        fin = d == d
        if a >= lo and a < hi:
            if fin:
                sums[0] += d - a
                sums[1] += d - c
                sums[2] += touch[k]
                counts[0] += 1
            else:
                counts[2] += 1
        if fin and a >= lo:
            lead[ns] = d - a
            flow[ns] = d - c
            ns += 1
        if d >= lo and d <= hi:
            counts[1] += 1
            by_type[itype[k]] += 1
        sums[3] += _ov(c, d, lo, hi)
        sums[4] += _ov(a, c, lo, hi)
        if fin and n_pi > 0:
            i = math.floor((d - lo) / pi)
            if i >= 0 and i < n_pi:
                delivered[i] += value[k]
        for b in range(nb):
            blo = edges[b]
            bhi = edges[b + 1]
            if a >= blo and a < bhi:
                if fin:
                    bsums[b, 0] += d - a
                    bsums[b, 1] += d - c
                    bsums[b, 2] += touch[k]
                    bcounts[b, 0] += 1
                else:
                    bcounts[b, 2] += 1
            if d >= blo and (d <= bhi if b == nb - 1 else d < bhi):
                bcounts[b, 1] += 1
            bsums[b, 3] += _ov(c, d, blo, bhi)
            bsums[b, 4] += _ov(a, c, blo, bhi)
    return ns


_KERNELS = None


def _kernels():
    """`_items_pass`, compiled by numba on first use (cache=True), calling `metrics._ov`."""
    global _KERNELS, _ov
    if _KERNELS is None:
        from vssim.analysis import summary as metrics
        from vssim.compiled import njit

        metrics._kernels()              # compiles metrics._ov
        _ov = metrics._ov
        _KERNELS = njit(cache=True)(_items_pass)
    return _KERNELS


def _f64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _i64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


class RunStats:
    """Running totals of one replication over the window [warmup, end] (end: the horizon): the
    `RecordSink` of a streaming run (`vssim.records`).

    `batches`: also keep the `BATCHES` batch-means windows (a single replication's intervals).
    `planning_interval`: the PI length for flow predictability (None: a tenth of the window).
    """

    flush_every = 1 << 13
    """An engine hands finished items over once about this many are done."""
    needs = frozenset({"arrival", "commit", "done", "touch", "item_type", "item_value", "visit_step", "visit_enter",
                       "visit_ready", "visit_start", "visit_end", "visit_leave", "visit_work", "visit_reworked",
                       "visit_person"})

    def __init__(self, *, replication: int, seed: int, warmup: float, end: float, step_names: list[str],
                 type_names: list[str], pool_names: list[str], person_pool: np.ndarray, step_capacity: np.ndarray,
                 batches: bool, planning_interval: float | None = None):
        self.replication, self.seed = replication, seed
        self.warmup, self.end = float(warmup), float(end)
        self.step_names, self.type_names, self.pool_names = step_names, type_names, pool_names
        self.person_pool = _i64(person_pool)
        self.step_capacity = np.asarray(step_capacity)
        span = self.end - self.warmup
        self.edges = np.linspace(self.warmup, self.end, BATCHES + 1) if batches else np.zeros(1)
        self.pi = float(planning_interval or span / 10)
        self.n_pi = int(math.floor(span / self.pi + 1e-9)) if self.pi > 0 else 0
        n, nb = len(step_names), len(self.edges) - 1
        self.sums = np.zeros(5)
        self.counts = np.zeros(3, dtype=np.int64)
        self.bsums = np.zeros((max(nb, 1), 5))
        self.bcounts = np.zeros((max(nb, 1), 3), dtype=np.int64)
        self.by_type = np.zeros(len(type_names), dtype=np.int64)
        self.delivered = np.zeros(max(self.n_pi, 1))
        self.step_sums = np.zeros((7, n))
        self.step_counts = np.zeros((5, n), dtype=np.int64)
        self.pool_busy = np.zeros(len(pool_names))
        self.rejected = 0
        self.lead = QuantileSketch()
        self.flow = QuantileSketch()

    @classmethod
    def for_plan(cls, plan, *, replication: int, seed: int, warmup: float, horizon: float, batches: bool,
                 planning_interval: float | None) -> RunStats:
        """The totals of one replication of `plan` (a `vssim.model.Plan`) over [warmup, horizon]."""
        spec = plan.spec
        return cls(replication=replication, seed=seed, warmup=warmup, end=float(horizon),
                   step_names=spec.step_names, type_names=list(spec.item_types), pool_names=list(spec.pools),
                   person_pool=plan.person_pool, step_capacity=plan.step_capacity, batches=batches,
                   planning_interval=planning_interval)

    def add_items(self, *, arrival, commit, done, touch, item_type, item_value, **_) -> None:
        """Items that will not change any more (done, rejected apart, or still open at the end)."""
        n = len(arrival)
        if not n:
            return
        lead, flow = np.empty(n), np.empty(n)
        ns = _kernels()(_f64(arrival), _f64(commit), _f64(done), _f64(touch), _i64(item_type), _f64(item_value),
                           self.warmup, self.end, self.edges, self.pi, self.n_pi, self.sums, self.counts,
                           self.bsums, self.bcounts, self.by_type, self.delivered, lead, flow)
        self.lead.add(lead[:ns])
        self.flow.add(flow[:ns])

    def add_visits(self, *, visit_step, visit_enter, visit_ready, visit_start, visit_end, visit_leave, visit_work,
                   visit_reworked, visit_person, **_) -> None:
        """Visits that will not change any more (their item is done, or the run is over)."""
        if not len(visit_step):
            return
        sums, counts, pools, _ = visit_totals(visit_step, visit_enter, visit_ready, visit_start, visit_end,
                                              visit_leave, visit_work, visit_reworked, visit_person,
                                              self.person_pool, len(self.step_names), len(self.pool_names),
                                              self.warmup, self.end)
        self.step_sums += sums
        self.step_counts += counts
        self.pool_busy += pools

    def add_rejected(self, times) -> None:
        t = np.asarray(times, dtype=np.float64)
        self.rejected += int(((t >= self.warmup) & (t < self.end)).sum())

    def close(self, end: float) -> RunStats:
        """The totals themselves (their window ends at the horizon, fixed before the run)."""
        return self

    # ------------------------------------------------------------------ results
    @staticmethod
    def _window(sums, counts, span: float, rejected: int) -> dict:
        nf = int(counts[0])
        return {
            "lead_time": sums[0] / nf if nf else math.nan,
            "flow_time": sums[1] / nf if nf else math.nan,
            "throughput": float(counts[1]) / span if span > 0 else math.nan,
            "wip": sums[3] / span if span > 0 else math.nan,
            "backlog": sums[4] / span if span > 0 else math.nan,
            "flow_efficiency": sums[2] / sums[1] if sums[1] > 0 else math.nan,
            "completed": int(counts[1]),
            "rejected": rejected,
            "unfinished": int(counts[2]),
        }

    def window_metrics(self) -> dict:
        """The scalar metrics over [warmup, end], as `metrics.window_metrics`."""
        return self._window(self.sums, self.counts, self.end - self.warmup, self.rejected)

    def batch_metrics(self) -> list[dict]:
        """The same over each batch-means window (empty unless `batches`)."""
        e = self.edges
        return [self._window(self.bsums[b], self.bcounts[b], e[b + 1] - e[b], 0) for b in range(len(e) - 1)]

    def predictability(self) -> dict:
        """Delivered / planned value per PI, as `metrics.predictability`."""
        if self.n_pi < 2:
            return {"mean": math.nan, "in_band": math.nan, "intervals": self.n_pi}
        return _predictability(self.delivered, self.n_pi)

    def step_columns(self) -> dict:
        """Per-step statistics (one row per step), as `metrics.step_metrics` (from these totals)."""
        return _step_columns(self, (self.step_sums, self.step_counts, self.pool_busy, None))

    def pool_utilization(self) -> dict[str, float]:
        span = self.end - self.warmup
        sizes = np.bincount(self.person_pool, minlength=len(self.pool_names))
        return {name: float(self.pool_busy[p] / (sizes[p] * span)) if span > 0 and sizes[p] else math.nan
                for p, name in enumerate(self.pool_names)}

    @property
    def nbytes(self) -> int:
        """Memory held by the totals (a few kilobytes plus the two sketches)."""
        arrays = (self.sums, self.counts, self.bsums, self.bcounts, self.by_type, self.delivered, self.step_sums,
                  self.step_counts, self.pool_busy)
        return sum(a.nbytes for a in arrays) + self.lead.nbytes + self.flow.nbytes


def summarize_streaming(stats: list[RunStats]) -> dict:
    """The `metrics`, `steps`, `pools` and `replications` parts of summary.json from running totals.

    The same structure and definitions as `vssim.analysis.summary.summarize` (streaming runs are open
    streams in steady state, so a single replication gets batch-means intervals).
    """
    per_rep = []
    for s in stats:
        m = s.window_metrics()
        p = s.predictability()
        per_rep.append({"replication": s.replication, "seed": s.seed, **m,
                        "lead_time_p85": s.lead.quantile(85) if s.lead.count else math.nan,
                        "flow_predictability": p["mean"], "predictability_in_band": p["in_band"],
                        "planning_interval": s.pi})
    if len(stats) >= 2:
        units = {k: [r[k] for r in per_rep] for k in SCALARS + ("flow_predictability",)}
    else:
        batches = stats[0].batch_metrics()
        units = {k: [b[k] for b in batches] for k in SCALARS}
        units["flow_predictability"] = []
    sketches = {"lead_time": QuantileSketch.merged([s.lead for s in stats]),
                "flow_time": QuantileSketch.merged([s.flow for s in stats])}
    metrics: dict = {}
    for key in SCALARS:
        vals = [r[key] for r in per_rep]
        mean = _finite(float(np.nanmean(vals))) if any(math.isfinite(v) for v in vals) else None
        entry = {"mean": mean, "ci95": [_finite(x) if x is not None else None for x in ci95(units[key])]}
        if key in sketches:
            sk = sketches[key]
            q = sk.quantiles(PERCENTILES)
            entry.update({"min": _finite(sk.min) if sk.count else None,
                          **{f"p{p}": _finite(q[i]) if sk.count else None for i, p in enumerate(PERCENTILES)},
                          "max": _finite(sk.max) if sk.count else None,
                          "count": int(sk.count),
                          "quantiles": f"sketch, relative accuracy {sk.alpha:g}"})
        metrics[key] = entry
    metrics["backlog"] = {"mean": metrics["backlog"]["mean"], "ci95": metrics["backlog"]["ci95"]}
    counts = sum((s.by_type for s in stats), np.zeros(len(stats[0].type_names), dtype=np.int64))
    metrics.update(flow_totals(per_rep, stats[0].type_names, counts))
    cols = ["utilization", "queue_length", "wip", "wait", "process_time", "blocked", "touch_time",
            "pct_complete_accurate", "throughput"]
    steps = pd.concat([pd.DataFrame(s.step_columns()) for s in stats], ignore_index=True)
    means = steps.groupby("step", sort=False)[cols].mean()
    step_summary = {name: {c: _finite(float(row[c])) for c in cols} for name, row in means.iterrows()}
    pools = [s.pool_utilization() for s in stats]
    pool_summary = {p: {"utilization": _finite(float(np.nanmean([u[p] for u in pools])))}
                    for p in stats[0].pool_names}
    reps = [{k: (_finite(v) if isinstance(v, float) else v) for k, v in r.items()} for r in per_rep]
    return {"metrics": metrics, "steps": step_summary, "pools": pool_summary,
            "replications": reps, "_steps_frame": steps}
