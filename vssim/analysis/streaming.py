"""Streaming statistics: the summary of a run from running totals, without keeping its rows.

`sim.stats=streaming` (docs/metrics.md, "Streaming statistics"). An engine hands finished items
and their visits to `RunStats` in blocks and forgets them; memory no longer grows with the
length of the run. Every metric of summary.json is a sum over items or visits over a window
known in advance ([warmup, horizon] and its batch-means windows), so running sums give the
same numbers as `vssim.analysis.summary.summarize` on the full records (up to the order of floating-
point additions); the percentiles come from a `QuantileSketch` (within 0.1 %, relative), min,
max and counts are exact. `summarize_streaming` makes the summary with the same `assemble`. The
stability test's census (items arrived and done by each time of a fixed grid of the window,
`vssim.analysis.stability`) is a running count too, so a streaming run gets the same verdict.
"""
from __future__ import annotations

import math

import numpy as np

from vssim.analysis.sketch import QuantileSketch
from vssim.analysis.stability import Census, census, grid
from vssim.analysis.summary import (
    BATCHES,
    PERCENTILES,
    VisitTotals,
    assemble,
    flow_metrics,
    interval_predictability,
    pool_columns,
    replication_entry,
    step_columns,
    visit_totals,
)
from vssim.records import people_present, person_presence

__all__ = ["RunStats", "summarize_streaming"]


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
                 batches: bool, planning_interval: float | None = None, pool_capacity: np.ndarray | None = None,
                 person_presence: np.ndarray | None = None):
        self.replication, self.seed = replication, seed
        self.pool_capacity = pool_capacity      # pools with a schedule: people, time-averaged over the window
        self.person_presence = person_presence  # and each person's share of the window on their pool
        self.warmup, self.end = float(warmup), float(end)
        if not (math.isfinite(self.warmup) and math.isfinite(self.end)):
            raise ValueError(f"streaming totals need a finite window, got [{warmup}, {end}]")
        self.step_names, self.type_names, self.pool_names = step_names, type_names, pool_names
        self.person_pool = np.ascontiguousarray(person_pool, dtype=np.int64)
        self.step_capacity = np.asarray(step_capacity)
        span = self.end - self.warmup
        self.edges = np.linspace(self.warmup, self.end, BATCHES + 1) if batches else np.zeros(1)
        self.planning_interval = float(planning_interval or span / 10)
        self.n_intervals = int(math.floor(span / self.planning_interval + 1e-9)) if self.planning_interval > 0 else 0
        n, n_batches = len(step_names), len(self.edges) - 1
        # items: sums of lead, flow, touch (finished items that arrived in the window), wip, backlog
        # (overlaps); counts of finished, completed (done in the window), unfinished (arrived, not done)
        self.sums = np.zeros(5)
        self.counts = np.zeros(3, dtype=np.int64)
        self.batch_sums = np.zeros((max(n_batches, 1), 5))
        self.batch_counts = np.zeros((max(n_batches, 1), 3), dtype=np.int64)
        self.done_by_type = np.zeros(len(type_names), dtype=np.int64)
        self.delivered = np.zeros(max(self.n_intervals, 1))
        # visits: `visit_totals`
        self.step_sums = np.zeros((7, n))
        self.step_counts = np.zeros((5, n), dtype=np.int64)
        self.pool_busy = np.zeros(len(pool_names))
        self.pool_step_busy = np.zeros((len(pool_names), n))
        self.person_busy = np.zeros(len(self.person_pool))
        self.rejected = 0
        self.lead = QuantileSketch()
        self.flow = QuantileSketch()
        # the stability census: items arrived by, and done by, each time of its grid
        self.census_times = grid(self.warmup, self.end)
        self.arrived_by = np.zeros(len(self.census_times), dtype=np.int64)
        self.done_by = np.zeros(len(self.census_times), dtype=np.int64)

    @classmethod
    def for_plan(cls, plan, *, replication: int, seed: int, warmup: float, horizon: float, batches: bool,
                 planning_interval: float | None) -> RunStats:
        """The totals of one replication of `plan` (a `vssim.model.Plan`) over [warmup, horizon]."""
        spec = plan.spec
        pools, steps, presence = None, plan.step_capacity, None
        if any(plan.pool_schedule):         # the people present, time-averaged
            pools = people_present(plan.pool_sizes, plan.pool_schedule, warmup, float(horizon))
            steps = np.array([pools[p].sum() for p in plan.step_pools])
            presence = person_presence(plan.pool_sizes, plan.pool_schedule, plan.person_pool, warmup, float(horizon))
        return cls(replication=replication, seed=seed, warmup=warmup, end=float(horizon),
                   step_names=spec.step_names, type_names=list(spec.item_types), pool_names=list(spec.pools),
                   person_pool=plan.person_pool, step_capacity=steps, batches=batches,
                   planning_interval=planning_interval, pool_capacity=pools, person_presence=presence)

    def add_items(self, *, arrival, commit, done, touch, item_type, item_value, **_) -> None:
        """Items that will not change any more (done, rejected apart, or still open at the end)."""
        n = len(arrival)
        if not n:
            return
        from vssim.analysis import kernels

        f64 = kernels.float64s
        lead, flow = np.empty(n), np.empty(n)
        n_times = kernels.streaming_item_totals(
            f64(arrival), f64(commit), f64(done), f64(touch), kernels.int64s(item_type), f64(item_value),
            self.warmup, self.end, self.edges, self.planning_interval, self.n_intervals, self.sums, self.counts,
            self.batch_sums, self.batch_counts, self.done_by_type, self.delivered, lead, flow)
        self.lead.add(lead[:n_times])
        self.flow.add(flow[:n_times])
        arrived, done_ = census(self.census_times, arrival, done)
        self.arrived_by += arrived
        self.done_by += done_

    def add_visits(self, *, visit_step, visit_enter, visit_ready, visit_start, visit_end, visit_leave, visit_work,
                   visit_reworked, visit_person, **_) -> None:
        """Visits that will not change any more (their item is done, or the run is over)."""
        if not len(visit_step):
            return
        totals = visit_totals(visit_step, visit_enter, visit_ready, visit_start, visit_end, visit_leave, visit_work,
                              visit_reworked, visit_person, self.person_pool, len(self.step_names),
                              len(self.pool_names), self.warmup, self.end)
        self.step_sums += totals.sums
        self.step_counts += totals.counts
        self.pool_busy += totals.pool_busy
        self.pool_step_busy += totals.pool_step_busy
        self.person_busy += totals.person_busy

    def add_rejected(self, times) -> None:
        t = np.asarray(times, dtype=np.float64)
        self.rejected += int(((t >= self.warmup) & (t < self.end)).sum())

    def close(self, end: float) -> RunStats:
        """The totals themselves (their window ends at the horizon, fixed before the run)."""
        return self

    # ------------------------------------------------------------------ results
    def window_metrics(self) -> dict:
        """The scalar metrics over [warmup, end] (`flow_metrics`)."""
        return flow_metrics(self.end - self.warmup, self.counts, self.rejected, self.sums)

    def batch_metrics(self) -> list[dict]:
        """The same over each batch-means window (empty unless `batches`; rejections not counted)."""
        e = self.edges
        return [flow_metrics(e[b + 1] - e[b], self.batch_counts[b], 0, self.batch_sums[b]) for b in range(len(e) - 1)]

    def predictability(self) -> dict:
        """Delivered / planned value per PI (mean, in_band), as `summary.predictability`."""
        return interval_predictability(self.delivered, self.n_intervals)

    def step_columns(self) -> dict:
        """Per-step statistics (one row per step), as `summary.step_columns`."""
        return step_columns(self.replication, self.step_names, self.step_capacity, self.end - self.warmup,
                            self.step_sums, self.step_counts)

    def pool_columns(self) -> dict:
        """Per-pool figures (utilisation, headcount, busy by step, per person), as `summary.pool_columns`."""
        totals = VisitTotals(self.step_sums, self.step_counts, self.pool_busy, self.pool_step_busy, self.person_busy)
        return pool_columns(self.pool_names, self.step_names, self.person_pool, totals, self.end - self.warmup,
                            self.pool_capacity, self.person_presence)

    def census(self) -> Census:
        """The stability census, as `stability.census_of` counts it from full records."""
        return Census(self.census_times, self.arrived_by, self.done_by)

    @property
    def nbytes(self) -> int:
        """Memory held by the totals (a few kilobytes plus the two sketches)."""
        arrays = (self.sums, self.counts, self.batch_sums, self.batch_counts, self.done_by_type, self.delivered,
                  self.step_sums, self.step_counts, self.pool_busy, self.pool_step_busy, self.person_busy,
                  self.census_times, self.arrived_by, self.done_by)
        return sum(a.nbytes for a in arrays) + self.lead.nbytes + self.flow.nbytes


def summarize_streaming(stats: list[RunStats]) -> dict:
    """The `metrics`, `steps`, `pools` and `replications` parts of summary.json from running totals:
    `vssim.analysis.summary.assemble`, with the percentiles of the merged sketches (streaming runs
    are open streams in steady state, so a single replication gets batch-means intervals)."""
    per_rep = [replication_entry(s.replication, s.seed, s.window_metrics(),
                                 s.lead.quantile(85) if s.lead.count else math.nan, s.predictability(),
                                 s.planning_interval) for s in stats]
    pooled = {}
    for key, sketch in (("lead_time", QuantileSketch.merged([s.lead for s in stats])),
                        ("flow_time", QuantileSketch.merged([s.flow for s in stats]))):
        pooled[key] = (np.array([*sketch.quantiles(PERCENTILES), sketch.min, sketch.max], dtype=np.float64),
                       sketch.count)
    done_by_type = sum((s.done_by_type for s in stats), np.zeros(len(stats[0].type_names), dtype=np.int64))
    return assemble(per_rep, stats[0].batch_metrics() if len(stats) == 1 else None, pooled, done_by_type,
                    stats[0].type_names, [s.step_columns() for s in stats], [s.pool_columns() for s in stats],
                    stats[0].pool_names, quantiles=f"sketch, relative accuracy {stats[0].lead.alpha:g}")
