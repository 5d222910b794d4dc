"""The fast engine's streaming mode: the max-plus recursion in blocks of items, in constant memory.

For a line with one person per step (push or CONWIP; `vssim.engines.maxplus.runs` for the
recursion) the recursion needs, from the past, only the last end time at each step and the done
times of the last N items (CONWIP N). `run_fast_streaming` draws a block of items, runs the
recursion on it (`kernels.stream_block`), hands its items and visits to the sink (a `RunStats`)
and forgets them. The random numbers come from the same sources in the same calls as the full
engines draw them (the block rule of `vssim.engines.random`: whole `BLOCK`s, or any split for
the splittable distributions), so a streaming run has the same sample path as a full one with
the same seed.
"""
from __future__ import annotations

import math

import numpy as np

from vssim.engines.maxplus.kernels import stream_block
from vssim.engines.maxplus.runs import first_people, handoffs
from vssim.engines.random import BLOCK, SPLITTABLE, Draws, generator, in_blocks, interarrival
from vssim.model.plan import Plan
from vssim.records import RecordSink

__all__ = ["run_fast_streaming"]

CHUNK = 16 * BLOCK
"""Items per block: a multiple of BLOCK (so block-wise draws stay the same), ~3 MB of arrays."""


def run_fast_streaming(plan: Plan, sink: RecordSink, *, horizon: float, seed: int, replication: int,
                       progress=None) -> object:
    """One replication of a line with one person per step into `sink`, in blocks of `CHUNK` items
    (`vssim.engines.maxplus.engine.why_not` with streaming); returns what `sink.close` returns."""
    spec = plan.spec
    until = float(horizon)
    steps = list(spec.steps.values())
    m = len(steps)
    handoff = handoffs(steps)
    conwip = spec.release.conwip or 0
    arrivals = spec.arrivals
    saturated = arrivals.process == "saturated"
    first_person = first_people(plan)
    values = np.asarray(plan.type_value, dtype=np.float64)
    # random sources, each a function: the next n draws (the calls `vssim.engines.maxplus.draws` makes)
    gap_dist = interarrival(arrivals)
    if arrivals.process == "deterministic":
        gap = 1.0 / arrivals.rate
        gaps = lambda n: np.full(n, gap)  # noqa: E731
    elif not saturated:
        gaps = _source(gap_dist, generator(seed, replication, "arrivals"))
    work = [_source(step.work, generator(seed, replication, f"work/{step.name}")) for step in steps]
    shares = plan.type_shares
    types = None
    if len(shares) > 1:
        rng = generator(seed, replication, "arrivals/type")
        types = lambda n: in_blocks(lambda k: rng.choice(len(shares), size=k, p=shares), n)  # noqa: E731
    sizes = []
    for t, kind in enumerate(spec.item_types.values()):
        if plan.type_size[t] is not None:
            sizes.append(None)
        elif kind.size.name in SPLITTABLE:
            sizes.append(_source(kind.size, generator(seed, replication, f"size/{kind.name}")))
        else:                                    # drawn per item number, as the engines' Draws.at
            sizes.append(Draws(kind.size, generator(seed, replication, f"size/{kind.name}")))

    n = CHUNK
    free_at = np.full(m, -np.inf)
    ring_done = np.zeros(max(conwip, 1))
    arrival, commit, done, touch = (np.empty(n) for _ in range(4))
    visit_step, visit_person = np.empty(n * m, dtype=np.int64), np.empty(n * m, dtype=np.int64)
    visit_enter, visit_ready, visit_start, visit_end, visit_work = (np.empty(n * m) for _ in range(5))
    no_rework = np.zeros(n * m, dtype=bool)
    block_work = np.empty((n, m))
    last, first, reached = 0.0, 0, 0.0
    while True:
        if not saturated:
            step_gaps = gaps(n)
            step_gaps[0] = last + step_gaps[0]
            np.cumsum(step_gaps, out=arrival)    # sequential sums: the engines' now + gap
            last = float(arrival[-1])
        item_type = (types(n).astype(np.int64) if types is not None else np.zeros(n, dtype=np.int64))
        size = np.empty(n)
        for t, source in enumerate(sizes):
            mine = np.flatnonzero(item_type == t) if len(sizes) > 1 else slice(None)
            if source is None:
                size[mine] = plan.type_size[t]
            elif isinstance(source, Draws):
                numbers = np.arange(first, first + n)[mine]
                size[mine] = [source.at(int(k)) for k in numbers]
                source.trim(first + n)
            else:
                size[mine] = source(n)[mine]
        for j, source in enumerate(work):
            np.multiply(source(n), size, out=block_work[:, j])
        cut = n if saturated else int(np.searchsorted(arrival, until, side="left"))
        items, n_visits = stream_block(first, arrival[:cut], block_work[:cut], handoff, conwip, saturated, until,
                                       free_at, ring_done, first_person, commit, done, touch, visit_step,
                                       visit_enter, visit_ready, visit_start, visit_end, visit_work, visit_person)
        sink.add_items(arrival=arrival[:items], commit=commit[:items], done=done[:items], touch=touch[:items],
                       item_type=item_type[:items], item_value=values[item_type[:items]])
        sink.add_visits(visit_step=visit_step[:n_visits], visit_enter=visit_enter[:n_visits],
                        visit_ready=visit_ready[:n_visits], visit_start=visit_start[:n_visits],
                        visit_end=visit_end[:n_visits], visit_leave=visit_end[:n_visits],
                        visit_work=visit_work[:n_visits], visit_reworked=no_rework[:n_visits],
                        visit_person=visit_person[:n_visits])
        first += items
        now = float(arrival[items - 1]) if items else until
        if progress is not None and math.isfinite(now):
            advance = min(now, until) - reached
            if advance > 0:
                progress(advance / until)
                reached += advance
        if items < n or (not saturated and last >= until):
            break
    if progress is not None and reached < until:
        progress((until - reached) / until)
    return sink.close(until)


def _source(dist, rng):
    """The next n draws of `dist` from `rng`, a function of n (n a multiple of BLOCK: the whole
    blocks the full engines draw; any n for a splittable distribution)."""
    splittable = dist.name in SPLITTABLE
    return lambda n: in_blocks(lambda k: dist.sample(rng, k), n, splittable)
