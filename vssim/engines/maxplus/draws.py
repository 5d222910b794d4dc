"""The fast engine's random numbers, in bulk: the very numbers the SimPy engine's `Draws` hand out.

Every source is the SimPy engine's (`vssim.engines.random.generator`, by name), asked for the
same draws and drawn in the same calls (the block rule of `vssim.engines.random`), so the same
seed gives the same items: arrival times, the times of a trace, item types and sizes, the work
of each item at each step.
"""
from __future__ import annotations

import math

import numpy as np

from vssim.engines.maxplus.memory import Arena
from vssim.engines.random import BLOCK, SPLITTABLE, generator, in_blocks, interarrival
from vssim.model.distributions import Distribution
from vssim.model.plan import Plan
from vssim.model.profile import HOURS_PER_UNIT, Warp, cumulative, origin_of
from vssim.model.spec import Arrivals, StreamSpec

__all__ = ["arrival_times", "draw_gaps", "draw_work", "first_gaps", "gap_count", "item_work", "shaped_arrival_times",
           "trace_times", "types_and_sizes", "work_values"]


def arrival_times(arrivals: Arrivals, seed: int, replication: int, until: float) -> np.ndarray:
    """Open arrivals before `until`: the first one gap after 0, then one gap after another."""
    gap_dist = interarrival(arrivals)
    if gap_dist is None:                 # deterministic
        gap = 1.0 / arrivals.rate
        sample = lambda n: np.full(n, gap)  # noqa: E731
    else:
        rng = generator(seed, replication, "arrivals")
        sample = lambda n: gap_dist.sample(rng, n)  # noqa: E731
    chunk = BLOCK
    if gap_dist is None or gap_dist.name in SPLITTABLE:
        chunk = gap_count(arrivals, gap_dist, until) or BLOCK      # the same numbers in fewer calls
    chunks, last = [], 0.0
    while last < until:
        step = np.array(sample(chunk), dtype=np.float64)
        step[0] = last + step[0]
        times = np.cumsum(step)          # sequential sums: the engine's now + gap, one by one
        chunks.append(times)
        last = float(times[-1])
    times = np.concatenate(chunks)
    return times[: int(np.searchsorted(times, until, side="left"))]


def first_gaps(arrivals: Arrivals, seed: int, replication: int, n: int) -> np.ndarray:
    """The first n gaps of open arrivals, drawn by the block rule (the numbers the SimPy engine's `next_gap` gives)."""
    gap_dist = interarrival(arrivals)
    if gap_dist is None:
        return np.full(n, 1.0 / arrivals.rate)
    rng = generator(seed, replication, "arrivals")
    return in_blocks(lambda k: gap_dist.sample(rng, k), n, gap_dist.name in SPLITTABLE)[:n]


def shaped_arrival_times(spec: StreamSpec, seed: int, replication: int, until: float) -> np.ndarray:
    """Open arrivals before `until` with a rate profile or a `limit` (the first N): the flat process's times
    (sequential sums of its gaps), mapped through the profile's H⁻¹ as the SimPy engine does (its clock
    moves by the gap H⁻¹(u) - now, never back), then cut at the horizon and at N."""
    arrivals = spec.arrivals
    limit, profile = arrivals.limit, arrivals.profile
    if profile is None:
        if not math.isfinite(until):
            flat = np.cumsum(first_gaps(arrivals, seed, replication, limit))
        else:
            flat = arrival_times(arrivals, seed, replication, until)
        return flat[:limit] if limit is not None else flat
    if limit is not None:
        n = limit
    else:       # enough flat arrivals to pass the horizon: the profiled count has mean rate·H(until)
        mean = arrivals.rate * cumulative(until, profile, HOURS_PER_UNIT[spec.time_unit], origin_of(spec))
        n = BLOCK * (int(mean * 1.02 + 10 * math.sqrt(mean + 1.0)) // BLOCK + 1)
    while True:
        flat = np.cumsum(first_gaps(arrivals, seed, replication, n))     # exponential: the same prefix for any n
        warp = Warp(profile, HOURS_PER_UNIT[spec.time_unit], origin_of(spec))
        out, now = [], 0.0
        for u in flat.tolist():
            t = warp(u)
            if t == math.inf:
                return np.array(out)
            gap = t - now
            now = now + (gap if gap > 0.0 else 0.0)
            if not now < until:
                return np.array(out)
            out.append(now)
        if limit is not None:
            return np.array(out)
        n *= 2


def gap_count(arrivals: Arrivals, gap_dist: Distribution | None, until: float) -> int:
    """How many gaps (a whole number of blocks) open arrivals take to reach `until`, with a margin
    (0: the mean gap cannot say). `gap_dist`: `interarrival(arrivals)`."""
    mean = 1.0 / arrivals.rate if gap_dist is None else gap_dist.mean
    if not (math.isfinite(until) and math.isfinite(mean) and mean > 0):
        return 0
    return BLOCK * (int(until / mean * 1.02) // BLOCK + 1)


def draw_gaps(arrivals: Arrivals, gap_dist: Distribution | None, seed: int, replication: int, out: np.ndarray) -> float:
    """The first len(out) interarrival gaps of open arrivals into `out`; returns `gap_scale`: the
    gaps `arrival_times` adds up are ``gap_scale * out`` (as `draw_work`; deterministic: the
    interval x 1). `gap_dist`: `interarrival(arrivals)`."""
    if gap_dist is None:
        out.fill(1.0)
        return 1.0 / arrivals.rate
    rng = generator(seed, replication, "arrivals")
    if gap_dist.name == "exponential":
        rng.standard_exponential(out=out)
        return gap_dist.params["mean"]
    out[:] = in_blocks(lambda k: gap_dist.sample(rng, k), len(out), gap_dist.name in SPLITTABLE)[: len(out)]
    return 1.0


def trace_times(times: tuple[float, ...], until: float) -> np.ndarray:
    """The times the SimPy engine reaches on a trace: now + (next - now), as its timeouts compute them
    (a gap that rounds below 0 is 0: the clock never goes back)."""
    out, now = [], 0.0
    for t in times:
        gap = t - now
        now = now + (gap if gap > 0.0 else 0.0)
        if not now < until:
            break
        out.append(now)
    return np.array(out, dtype=np.float64)


def types_and_sizes(plan: Plan, seed: int, replication: int, n: int, given_type=None, given_size=None,
                    arena: Arena | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Item types (blocks of `rng.choice`) and sizes (item-indexed draws per type) of items 0..n-1;
    `given_*` (a trace): the type and size of each item, None where it is drawn."""
    spec = plan.spec
    shares = plan.type_shares
    arena = arena or Arena(None)
    if given_type is None:
        item_type = arena.zeros(n, dtype=np.int64)
        if len(shares) > 1 and n:
            rng = generator(seed, replication, "arrivals/type")
            item_type[:] = in_blocks(lambda k: rng.choice(len(shares), size=k, p=shares), n)[:n]
    else:
        item_type = np.array([-1 if t is None else t for t in given_type], dtype=np.int64)
        drawn_type = np.flatnonzero(item_type < 0)
        if len(drawn_type) and len(shares) > 1:
            rng = generator(seed, replication, "arrivals/type")
            item_type[drawn_type] = in_blocks(lambda k: rng.choice(len(shares), size=k, p=shares),
                                              drawn_type)[drawn_type].astype(np.int64)
        else:
            item_type[drawn_type] = 0
    size = arena.empty(n)
    if given_size is None and len(spec.item_types) == 1:      # every item: type 0, size drawn or fixed
        only, fixed = next(iter(spec.item_types.values())), plan.type_size[0]
        if fixed is not None:
            size.fill(fixed)
        elif n:
            rng = generator(seed, replication, f"size/{only.name}")
            size[:] = in_blocks(lambda k: only.size.sample(rng, k), n, only.size.name in SPLITTABLE)[:n]
        return item_type, size
    drawn_size = np.ones(n, dtype=bool)
    if given_size is not None:
        given = np.array([np.nan if s is None else s for s in given_size], dtype=np.float64)
        drawn_size = np.isnan(given)
        size[~drawn_size] = given[~drawn_size]
    for t, kind in enumerate(spec.item_types.values()):
        mine = np.flatnonzero((item_type == t) & drawn_size)
        if not len(mine):
            continue
        fixed = plan.type_size[t]
        if fixed is not None:
            size[mine] = fixed
        else:
            rng = generator(seed, replication, f"size/{kind.name}")
            values = in_blocks(lambda k, d=kind.size, r=rng: d.sample(r, k), mine, kind.size.name in SPLITTABLE)
            size[mine] = values[mine]
    return item_type, size


def work_values(step, seed: int, replication: int, requests: np.ndarray | int) -> np.ndarray:
    """The draws of `work/STEP` after these requests (item numbers, in the order items start there;
    an int n: items 0..n-1 in order)."""
    rng = generator(seed, replication, f"work/{step.name}")
    return in_blocks(lambda k: step.work.sample(rng, k), requests, step.work.name in SPLITTABLE)


def item_work(step, seed: int, replication: int, order: np.ndarray | int, size: np.ndarray, out=None) -> np.ndarray:
    """Work of each item at a step: its draw of `work/STEP` (asked in start order `order`) x its size."""
    return np.multiply(work_values(step, seed, replication, order)[: len(size)], size, out=out)


def draw_work(steps, seed: int, replication: int, n: int, out: np.ndarray) -> np.ndarray:
    """The work draws of items 0..n-1 at each step into `out` (m, n); returns `scale`: out[j] x
    scale[j] are `work_values`' draws.

    An exponential step draws standard exponentials, scale its mean (``rng.exponential(mean,
    k)`` is ``mean * rng.standard_exponential(k)``, the same numbers); the others draw their
    values, scale 1.
    """
    scale = np.ones(len(steps))
    for j, step in enumerate(steps):
        rng = generator(seed, replication, f"work/{step.name}")
        dist = step.work
        if not n:
            continue
        if dist.name == "exponential":
            rng.standard_exponential(out=out[j])
            scale[j] = dist.params["mean"]
        else:
            out[j] = in_blocks(lambda k, d=dist, r=rng: d.sample(r, k), n, dist.name in SPLITTABLE)[:n]
    return scale
