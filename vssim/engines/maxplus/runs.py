"""One replication of the fast engine: exact max-plus recursions for serial FIFO lines (docs/engines.md).

For the streams that `vssim.engines.maxplus.engine.why_not` accepts, every time of the SimPy
engine follows from a recursion over items, without an event calendar. Three shapes of run:

* one person per step (push or CONWIP N), item by item (`kernels.line`):
  ``commit[k] = max(arrival[k], done[k - N])``,
  ``ready[k][j] = done-at-step[k][j-1] + handoff[j-1]`` (``commit[k]`` at the first step),
  ``end[k][j] = max(end[k-1][j], ready[k][j]) + work[k][j]``;
* several people per step (push), step by step (`kernels.step_pass`): items start in the order
  they became workable; ``start = max(ready, the earliest time one of the people is free)``;
  they leave in the order they finish (ties: the order they started), which is the next step's
  FIFO order;
* several people per step under CONWIP N: the same steps, and item k commits at
  ``max(arrival[k], the (k - N)-th completion in completion order)``: an event loop over the
  items in time order (`kernels.conwip_line`).

The random numbers are the SimPy engine's (`draws`), the arrays live in a kept block of memory
(`memory`), and this module assembles the records and the event-log keys that order same-time
events as the SimPy engine's log does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vssim.engines.maxplus import kernels
from vssim.engines.maxplus.draws import (
    arrival_times,
    draw_gaps,
    draw_work,
    gap_count,
    item_work,
    shaped_arrival_times,
    trace_times,
    types_and_sizes,
    work_values,
)
from vssim.engines.maxplus.kernels import DEPTH_BITS
from vssim.engines.maxplus.memory import Arena, line_block, saturated_room, step_block
from vssim.engines.random import BLOCK, SPLITTABLE, block_sizes, interarrival
from vssim.errors import SpecError
from vssim.model.plan import Plan
from vssim.model.spec import Arrivals, StreamSpec
from vssim.records import RecordSink
from vssim.scratch import scratch

__all__ = ["first_people", "handoffs", "run_fast"]


def run_fast(plan_or_spec: Plan | StreamSpec, sink: RecordSink, horizon: float | None, warmup: float = 0.0,
             seed: int = 0, replication: int = 0) -> object:
    """One replication of a qualifying stream into `sink` (the same records as the SimPy engine's)."""
    plan = plan_or_spec if isinstance(plan_or_spec, Plan) else Plan.of(plan_or_spec)
    spec = plan.spec
    arrivals = spec.arrivals
    if horizon is None and not arrivals.finite:
        raise SpecError("sim.horizon", f"a positive number ({arrivals.process} arrivals never end)", horizon)
    until = math.inf if horizon is None else float(horizon)
    steps = list(spec.steps.values())
    m = len(steps)
    people = np.array([plan.pool_sizes[plan.step_pools[j][0]] for j in range(m)], dtype=np.int64)
    handoff = handoffs(steps)
    conwip = spec.release.conwip or 0

    given_type = given_size = None
    saturated = arrivals.process == "saturated"
    arrival = None                       # open arrivals: drawn by the run (or `arrival_times`)
    if arrivals.profile is not None or arrivals.limit is not None:
        arrival = shaped_arrival_times(spec, seed, replication, until)
    elif arrivals.process == "backlog":
        arrival = np.zeros(arrivals.count)
    elif arrivals.process == "trace":
        arrival = trace_times(arrivals.times, until)
        names = list(spec.item_types)
        given_type = [None if t is None else names.index(t) for t in arrivals.types[: len(arrival)]]
        given_size = list(arrivals.sizes[: len(arrival)])

    if (people == 1).all():
        return _run_line(plan, sink, steps, seed, replication, arrival, handoff, conwip, until, horizon, given_type,
                         given_size)
    if arrival is None and not saturated:
        arrival = arrival_times(arrivals, seed, replication, until)
    if conwip:
        run = _run_conwip(plan, steps, seed, replication, arrival, handoff, people, conwip, until, given_type,
                          given_size)
    else:
        run = _run_multi(plan, steps, seed, replication, arrival, handoff, people, given_type, given_size)
    return _records(plan, sink, run, until, horizon)


def handoffs(steps) -> np.ndarray:
    """The (deterministic) handoff after each step, 0 without one."""
    return np.array([s.handoff.mean if s.handoff is not None else 0.0 for s in steps], dtype=np.float64)


def first_people(plan: Plan) -> np.ndarray:
    """The number of the first person of each step's pool (a visit's person: this + the one of the pool)."""
    return np.array([plan.pool_people[pools[0]][0] for pools in plan.step_pools], dtype=np.int64)


# --------------------------------------------------------------------------- one person per step
def _run_line(plan: Plan, sink: RecordSink, steps, seed: int, replication: int, arrival, handoff, conwip: int,
              until: float, horizon, given_type=None, given_size=None) -> object:
    """One person per step (push, CONWIP, saturated): `kernels.line`, straight into the records.

    `arrival` None: open arrivals, drawn here as gaps when `gap_count` can say how many (else
    `arrival_times`), or saturated ones.
    """
    spec = plan.spec
    m = len(steps)
    keep_ready = bool(handoff.any())     # without handoffs an item is workable when it enters
    first_person = first_people(plan)
    ring = np.empty(max(conwip, 1)), np.empty(max(conwip, 1), dtype=np.int64)
    saturated = spec.arrivals.process == "saturated"
    count = 0                            # open arrivals: gaps to draw
    if saturated:
        n, arrival = saturated_room(spec, np.ones(m, dtype=np.int64), conwip, until), np.zeros(0)
    elif arrival is None:
        gap_dist = interarrival(spec.arrivals)
        count = gap_count(spec.arrivals, gap_dist, until)
        if not count:
            arrival = arrival_times(spec.arrivals, seed, replication, until)
    while count:
        gaps = scratch("maxplus", count)
        gap_scale = draw_gaps(spec.arrivals, gap_dist, seed, replication, gaps)
        n = kernels.times_from_gaps(gaps, gap_scale, until, gaps)        # in place: the times
        if n >= 0:
            arrival = gaps[:n]
            break
        count *= 2                       # more arrivals before the horizon than gaps drawn: more gaps
    if not saturated:
        n = len(arrival)
    # keys straight away when every event time is >= the first arrival > 0 (each is >= its item's
    # arrival) and the span from there to the horizon fits; else depths first, keys after
    base_bits, write_keys = 0, False
    if not saturated and n and arrival[0] > 0 and math.isfinite(until):
        base_bits, write_keys = _key_base(arrival[0], until)
    while True:
        work_draws = scratch("maxplus", count + m * n)[count:].reshape(m, n)   # after the arrivals
        arena, rows = line_block(n, m, keep_ready)
        item_type, size = types_and_sizes(plan, seed, replication, n, given_type, given_size, arena)
        scale = draw_work(steps, seed, replication, n, work_draws)
        out = kernels.line(saturated, arrival, work_draws, scale, size, handoff, conwip, until, keep_ready,
                           first_person, base_bits, write_keys, *rows, *ring)
        if write_keys and out[2] + 2 >= 1 << DEPTH_BITS:      # the depths do not fit in the keys: again, depths
            write_keys = False
            out = kernels.line(saturated, arrival, work_draws, scale, size, handoff, conwip, until, keep_ready,
                               first_person, 0, False, *rows, *ring)
        if out[0] >= 0:
            break
        n *= 4                           # saturated: more items arrive before the horizon than room for them
    items, n_visits, max_depth, min_time, latest_end, n_done = out
    item_floats, item_ints, visit_floats, visit_ints = rows
    arrival, commit, done, touch = (x[:items] for x in item_floats)
    arrival_seq, commit_seq, done_seq = (x[:items] for x in item_ints)
    enter, start, end, work = (x[:n_visits] for x in visit_floats[:4])
    ready = visit_floats[4][:n_visits] if keep_ready else enter     # no handoffs: workable on entering
    visit_item, visit_step, person, start_seq, end_seq = (x[:n_visits] for x in visit_ints)
    if not write_keys:
        base_bits, fits = _key_base(min_time, until if math.isfinite(until) else latest_end)
        streams = [(arrival, arrival_seq), (commit, commit_seq), (start, start_seq), (end, end_seq),
                   (done, done_seq)]
        if fits and max_depth + 2 < 1 << DEPTH_BITS:
            for times, seq in streams:
                kernels.depths_to_keys(base_bits, times, seq)
        else:                            # ranks from a sort, on the depths
            arrival_seq, commit_seq, start_seq, end_seq, done_seq = _ranks(streams)
    stop = _stop(spec.arrivals, horizon, items, lambda: n_done == items, lambda: latest_end)
    return _deliver(sink, plan, arena, stop, dict(
        item_type=item_type[:items], item_size=size[:items], arrival=arrival, commit=commit, done=done, touch=touch,
        arrival_seq=arrival_seq, commit_seq=commit_seq, done_seq=done_seq), dict(
        visit_item=visit_item, visit_step=visit_step, visit_enter=enter, visit_ready=ready, visit_start=start,
        visit_end=end, visit_person=person, visit_work=work, visit_start_seq=start_seq, visit_end_seq=end_seq))


# --------------------------------------------------------------------------- several people per step
@dataclass
class Run:
    """Item-indexed results of a recursion with several people somewhere ((n, m) arrays for
    visits; *_depth: causal depths), for `_records`."""

    arrival: np.ndarray
    item_type: np.ndarray
    size: np.ndarray
    work: np.ndarray
    commit: np.ndarray
    arrival_depth: np.ndarray
    commit_depth: np.ndarray
    ready: np.ndarray | None            # None: no handoffs, ready = enter
    start: np.ndarray
    start_depth: np.ndarray
    end: np.ndarray
    end_depth: np.ndarray
    person: np.ndarray | None           # None: person 0 of each step's pool (one person per step)
    max_depth: int                      # a bound on the depths
    arena: Arena                        # the rest of the run's block, for the records


def _run_multi(plan, steps, seed, replication, arrival, handoff, people, given_type, given_size) -> Run:
    """Push with several people somewhere: `kernels.step_pass` step by step, each step's items in
    the order they left the step before."""
    n, m = len(arrival), len(steps)
    keep_ready = bool(handoff.any())
    arena = step_block(n, m, keep_ready)
    item_type, size = types_and_sizes(plan, seed, replication, n, given_type, given_size, arena)
    commit = arena.empty(n)
    commit[:] = arrival
    arrival_depth = arena.zeros(n, dtype=np.int64)
    commit_depth = arena.empty(n, dtype=np.int64)
    commit_depth.fill(1)
    work, start, end = (arena.empty((n, m)) for _ in range(3))
    ready = arena.empty((n, m)) if keep_ready else None   # without handoffs: workable on entering
    start_depth, end_depth, person = (arena.empty((n, m), dtype=np.int64) for _ in range(3))
    max_depth = 1
    order = np.arange(n)
    ready_now, ready_depth = commit, commit_depth         # when and how deep each item became workable
    for j, step in enumerate(steps):
        step_work = item_work(step, seed, replication, order, size)
        step_start, step_start_depth, step_end, step_end_depth, step_person = columns = (
            np.empty(n), np.empty(n, dtype=np.int64), np.empty(n), np.empty(n, dtype=np.int64),
            np.empty(n, dtype=np.int64))
        max_depth = max(max_depth, kernels.step_pass(order, ready_now, ready_depth, step_work, int(people[j]),
                                                     *columns))
        work[:, j] = step_work
        if ready is not None:
            ready[:, j] = ready_now
        start[:, j], start_depth[:, j], end[:, j], end_depth[:, j], person[:, j] = columns
        # they leave in the order they finish (ties: the order they started) and become
        # workable downstream in that order, a constant handoff later
        order = order[np.argsort(step_end[order], kind="stable")]
        ready_now = step_end + handoff[j]
        ready_depth = np.where(ready_now == step_end, step_end_depth + 1, 0)
    return Run(arrival, item_type, size, work, commit, arrival_depth, commit_depth, ready, start, start_depth, end,
               end_depth, person, max_depth, arena)


def _run_conwip(plan, steps, seed, replication, arrival, handoff, people, conwip, until, given_type,
                given_size) -> Run:
    """CONWIP with several people somewhere: `kernels.conwip_line` (saturated arrivals: `arrival` None).

    The work draws of a step are asked for in the order items start there, which the run itself
    decides: drawn first in blocks of BLOCK, which is what `vssim.engines.random.Draws` draws
    unless a request runs more than a block ahead (never for a splittable distribution); if the
    run asked otherwise, it runs again on the draws of its requests, until they agree.
    """
    m = len(steps)
    saturated = arrival is None
    keep_ready = bool(handoff.any())
    n = saturated_room(plan.spec, people, conwip, until) if saturated else len(arrival)
    requests: list = [None] * m
    rounds = 0
    while True:
        arena = step_block(n, m, keep_ready)
        item_type, size = types_and_sizes(plan, seed, replication, n, given_type, given_size, arena)
        work_draws = np.zeros((m, n))
        scale = draw_work(steps, seed, replication, n, work_draws)
        for j, step in enumerate(steps):
            if requests[j] is not None:
                values = work_values(step, seed, replication, requests[j])
                work_draws[j, :min(n, len(values))] = values[:n]
                scale[j] = 1.0
        arrival_out, commit = arena.empty(n), arena.empty(n)
        arrival_depth, commit_depth = arena.zeros(n, dtype=np.int64), arena.empty(n, dtype=np.int64)
        work, start, end = (arena.empty((n, m)) for _ in range(3))
        ready = arena.empty((n, m)) if keep_ready else np.empty((1, 1))
        start_depth, end_depth, person = (arena.empty((n, m), dtype=np.int64) for _ in range(3))
        start_order = np.empty((m, n), dtype=np.int64)
        n_started = np.zeros(m, dtype=np.int64)
        items, max_depth = kernels.conwip_line(saturated, np.zeros(0) if saturated else arrival, work_draws, scale,
                                               size, handoff, people, conwip, until, keep_ready, arrival_out,
                                               arrival_depth, commit, commit_depth, work, ready, start, start_depth,
                                               end, end_depth, person, start_order, n_started)
        if items < 0:
            n *= 4
            continue
        again = False
        for j, step in enumerate(steps):
            if step.work.name in SPLITTABLE:
                continue
            asked = start_order[j, :n_started[j]]
            if requests[j] is None and all(b == BLOCK for b in block_sizes(asked)):
                continue                         # blocks of BLOCK: the draws used are Draws' draws
            if requests[j] is None or not np.array_equal(requests[j], asked):
                requests[j] = asked.copy()
                again = True
        if not again:
            break
        rounds += 1
        if rounds > 8:  # pragma: no cover - the order of requests would not settle
            raise RuntimeError("fast engine: the order the work draws are asked for did not settle")
    cut = slice(0, items)
    return Run(arrival_out[cut], item_type[cut], size[cut], work[cut], commit[cut], arrival_depth[cut],
               commit_depth[cut], ready[cut] if keep_ready else None, start[cut], start_depth[cut], end[cut],
               end_depth[cut], person[cut], max_depth, arena)


def _records(plan: Plan, sink: RecordSink, run: Run, until: float, horizon) -> object:
    """A `Run`'s records to the sink: `kernels.pack`, and the keys or, when they do not fit, ranks."""
    n, m = run.work.shape
    last_end = run.end[:, -1].copy()
    if not len(run.arrival):
        keys_fit, base_bits = True, 0
    else:
        min_time = min(kernels.min_positive(x) for x in (run.arrival, run.commit, run.start[:, 0], run.end[:, 0]))
        base_bits, keys_fit = _key_base(min_time, until if math.isfinite(until) else float(last_end.max()))
        keys_fit = keys_fit and run.max_depth < 1 << DEPTH_BITS
    if not keys_fit:    # ranks from a sort, on the depths saved before `pack`
        depths = [run.arrival_depth.copy(), run.commit_depth.copy(), run.start_depth.copy(), run.end_depth.copy()]
    first_person = first_people(plan)
    arena = run.arena
    has_person = run.person is not None
    person = run.person if has_person else arena.empty((n, m), dtype=np.int64)
    flat = lambda x: x.reshape(-1)  # noqa: E731
    enter = arena.empty(n * m)
    visit_item = arena.empty(n * m, dtype=np.int64)
    visit_step = arena.empty(n * m, dtype=np.int64)
    done, done_seq, touch = arena.empty(n), arena.empty(n, dtype=np.int64), arena.empty(n)
    commit = run.commit
    keep_ready = run.ready is not None
    ready = run.ready if keep_ready else np.empty((1, 1))
    n_visits = kernels.pack(until, base_bits, m, run.arrival, commit, keep_ready, flat(ready), flat(run.start),
                            flat(run.end), flat(run.work), has_person, flat(person), first_person, run.arrival_depth,
                            run.commit_depth, flat(run.start_depth), flat(run.end_depth), enter, visit_item,
                            visit_step, done, done_seq, touch)
    enter, visit_item, visit_step = enter[:n_visits], visit_item[:n_visits], visit_step[:n_visits]
    start, end, work, person = (flat(x)[:n_visits] for x in (run.start, run.end, run.work, person))
    ready = flat(ready)[:n_visits] if keep_ready else enter     # no handoffs: workable on entering
    arrival_seq, commit_seq = run.arrival_depth, run.commit_depth
    start_seq, end_seq = flat(run.start_depth)[:n_visits], flat(run.end_depth)[:n_visits]
    if not keys_fit:
        arrival_depth, commit_depth, start_depth, end_depth = depths
        exists = np.zeros((n, m), dtype=bool)
        exists[visit_item, visit_step] = True
        arrival_seq, commit_seq, start_seq, end_seq, done_seq = _ranks([
            (run.arrival, arrival_depth), (commit, commit_depth), (start, start_depth[exists]),
            (end, end_depth[exists]), (done, end_depth[:, -1] + 1)])
    stop = _stop(plan.spec.arrivals, horizon, n, lambda: bool((last_end < until).all()), lambda: last_end.max())
    return _deliver(sink, plan, arena, stop, dict(
        item_type=run.item_type, item_size=run.size, arrival=run.arrival, commit=commit, done=done, touch=touch,
        arrival_seq=arrival_seq, commit_seq=commit_seq, done_seq=done_seq), dict(
        visit_item=visit_item, visit_step=visit_step, visit_enter=enter, visit_ready=ready, visit_start=start,
        visit_end=end, visit_person=person, visit_work=work, visit_start_seq=start_seq, visit_end_seq=end_seq))


# --------------------------------------------------------------------------- event-log keys and the records
def _bits(t: float) -> int:
    """The bits of a float64 as an integer (they increase with a non-negative float)."""
    return int(np.float64(t).view(np.int64))


def _key_base(min_time: float, max_time: float) -> tuple[int, bool]:
    """(the base of the event-log keys: the bits of the smallest positive event time - 1 (of 1
    when there is none), whether every time up to `max_time` fits in a key beside its depth)."""
    if min_time == math.inf:
        min_time = 1.0
    base_bits = _bits(min_time) - 1
    return base_bits, _bits(max(max_time, min_time)) - base_bits < 1 << (63 - DEPTH_BITS)


def _ranks(streams: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Event-log counters (1, 2, ...; -1: did not happen) by time, then depth, from a sort
    (when the keys do not fit)."""
    t_all = np.concatenate([t for t, _ in streams])
    d_all = np.concatenate([d for _, d in streams])
    order = np.lexsort((d_all, t_all))
    happened = ~np.isnan(t_all[order])
    rank = np.full(len(t_all), -1, dtype=np.int64)
    rank[order[happened]] = np.arange(1, int(happened.sum()) + 1)
    out, at = [], 0
    for t, _ in streams:
        out.append(rank[at:at + len(t)])
        at += len(t)
    return out


def _stop(arrivals: Arrivals, horizon, items: int, all_done, last_done) -> float:
    """When the run ends: the horizon, or the last done time (`last_done()`) without one or when a
    finite stream's items have all arrived and all are done (`all_done()`) before it."""
    if horizon is None:
        return float(last_done()) if items else 0.0
    if arrivals.finite and items and _all_arrived(arrivals, items, horizon) and all_done():
        return float(last_done())
    return float(horizon)


def _all_arrived(arrivals: Arrivals, items: int, horizon: float) -> bool:
    """Whether a finite stream's arrivals are all in: a backlog, a whole trace, the `limit` reached, or a
    falling trend's rate at 0 before the horizon (no item arrives after; `items` arrived before)."""
    if arrivals.process == "backlog":
        return True
    if arrivals.process == "trace":
        return items == len(arrivals.times)
    if items == arrivals.limit:
        return True
    p = arrivals.profile
    return p is not None and p.trend < 0 and -1.0 / p.trend < horizon


def _by_type(values, item_type: np.ndarray, out: np.ndarray) -> np.ndarray:
    """values[item_type] into out (one type: filled)."""
    if len(values) == 1:
        out.fill(values[0])
        return out
    return np.take(np.asarray(values, dtype=out.dtype), item_type, out=out, mode="clip")   # (no bounds: no buffer)


def _deliver(sink: RecordSink, plan: Plan, arena: Arena, stop: float, items: dict, visits: dict) -> object:
    """A whole run's items and visits to the sink, in one block each, with the columns that follow
    from the item types and from a run without rework or blocking."""
    item_type = items["item_type"]
    n, n_visits = len(item_type), len(visits["visit_item"])
    sink.add_items(**items, item_priority=_by_type(plan.type_priority, item_type, arena.empty(n, np.int64)),
                   item_value=_by_type(plan.type_value, item_type, arena.empty(n)),
                   rework_count=arena.zeros(n, dtype=np.int64))
    sink.add_visits(**visits,
                    visit_leave=visits["visit_end"],        # nobody is blocked: an item leaves when its work ends
                    visit_reworked=arena.zeros(n_visits, dtype=bool))
    sink.add_rejected(np.zeros(0))
    return sink.close(stop)
