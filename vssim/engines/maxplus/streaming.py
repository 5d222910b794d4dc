"""The fast engine's streaming mode: the max-plus recursion in blocks of items, in constant memory.

For a line with one person per step (push or CONWIP; `vssim.engines.maxplus.runs` for the recursion) the
recursion needs, from the past, only the last end time at each step and the done times of the
last N items (CONWIP N). `run_fast_streaming` draws a block of items, runs the recursion on it,
hands its items and visits to a `RunStats` (`vssim.analysis.streaming`) and forgets them. The random
numbers come from the same sources in the same calls as the full engines draw them (whole
`BLOCK`s, or any split for the distributions whose draws do not depend on how they are split),
so a streaming run has the same sample path as a full one with the same seed.
"""
from __future__ import annotations

import math

import numpy as np

from vssim.compiled import njit
from vssim.engines.maxplus.runs import SPLITTABLE
from vssim.engines.random import BLOCK, Draws, generator
from vssim.model.distributions import parse_distribution
from vssim.model.plan import Plan
from vssim.records import RecordSink

__all__ = ["run_fast_streaming"]

CHUNK = 16 * BLOCK
"""Items per block: a multiple of BLOCK (so block-wise draws stay the same), ~3 MB of arrays."""

class _Source:
    """The next draws of one random source, in the calls the full engines make."""

    def __init__(self, dist_sample, splittable: bool):
        self.sample = dist_sample
        self.splittable = splittable

    def take(self, n: int) -> np.ndarray:
        """The next n draws (n a multiple of BLOCK unless the distribution is splittable)."""
        if self.splittable:
            return np.asarray(self.sample(n), dtype=np.float64)
        return np.concatenate([np.asarray(self.sample(BLOCK), dtype=np.float64) for _ in range(n // BLOCK)])


@njit(cache=True)
def _block(k0, arrival, S, hand, conwip, saturated, h, prev, ring, first_person, commit, done, touch,
           v_step, v_enter, v_ready, v_start, v_end, v_work, v_person):  # pragma: no cover - compiled
    """The recursion over one block of items (global numbers k0, k0 + 1, ...), in `vssim.engines.maxplus.runs`'s
    operations, and its records up to the horizon h (NaN: not happened). Returns (items, visits);
    a saturated stream's block stops at the first arrival at or after h."""
    n, m = S.shape
    nan = np.nan
    nv = 0
    for kk in range(n):
        k = k0 + kk
        if saturated:
            a = ring[k % conwip] if k >= conwip else 0.0
            if not a < h:
                return kk, nv
            arrival[kk] = a
            c = a
        else:
            a = arrival[kk]
            c = a
            if conwip > 0 and k >= conwip:
                x = ring[k % conwip]
                if x > c:
                    c = x
        acc = 0.0
        e = c
        for j in range(m):
            enter = c if j == 0 else e
            r = c if j == 0 else e + hand[j - 1]
            p = prev[j]
            s = r if r >= p else p
            w = S[kk, j]
            e = s + w
            prev[j] = e
            if enter < h:
                v_step[nv] = j
                v_enter[nv] = enter
                v_ready[nv] = r if r < h else nan
                if s < h:
                    v_start[nv] = s
                    v_work[nv] = w
                    v_person[nv] = first_person[j]
                    acc += w
                else:
                    v_start[nv] = nan
                    v_work[nv] = 0.0
                    v_person[nv] = -1
                v_end[nv] = e if e < h else nan
                nv += 1
        commit[kk] = c if c < h else nan
        done[kk] = e if e < h else nan
        touch[kk] = acc
        if conwip > 0:
            ring[k % conwip] = e
    return n, nv


def run_fast_streaming(plan: Plan, sink: RecordSink, *, horizon: float, seed: int, replication: int,
                       progress=None) -> object:
    """One replication of a line with one person per step into `sink`, in blocks of `CHUNK` items
    (`vssim.engines.maxplus.engine.why_not` with streaming); returns what `sink.close` returns."""
    spec = plan.spec
    rep = replication
    h = float(horizon)
    steps = list(spec.steps.values())
    m = len(steps)
    hand = np.array([s.handoff.mean if s.handoff is not None else 0.0 for s in steps], dtype=np.float64)
    conwip = spec.release.conwip or 0
    a = spec.arrivals
    saturated = a.process == "saturated"
    first_person = np.array([plan.pool_people[plan.step_pools[j][0]][0] for j in range(m)], dtype=np.int64)
    values = np.asarray(plan.type_value, dtype=np.float64)
    # random sources, as vssim.engines.maxplus.runs draws them
    if a.process == "deterministic":
        gap = 1.0 / a.rate
        gaps = _Source(lambda k: np.full(k, gap), True)
    elif not saturated:
        dist = (parse_distribution({"dist": "exponential", "mean": 1.0 / a.rate}, "")
                if a.process == "poisson" else a.interarrival)
        rng_a = generator(seed, rep, "arrivals")
        gaps = _Source(lambda k, d=dist, r=rng_a: d.sample(r, k), dist.name in SPLITTABLE)
    work = []
    for s in steps:
        r = generator(seed, rep, f"work/{s.name}")
        work.append(_Source(lambda k, d=s.work, r=r: d.sample(r, k), s.work.name in SPLITTABLE))
    shares = plan.type_shares
    types = None
    if len(shares) > 1:
        r = generator(seed, rep, "arrivals/type")
        types = _Source(lambda k, r=r: r.choice(len(shares), size=k, p=shares), False)
    sizes = []
    for t, ty in enumerate(spec.item_types.values()):
        if plan.type_size[t] is not None:
            sizes.append(None)
        else:
            r = generator(seed, rep, f"size/{ty.name}")
            split = ty.size.name in SPLITTABLE
            sizes.append(_Source(lambda k, d=ty.size, r=r: d.sample(r, k), True) if split else Draws(ty.size, r))

    n = CHUNK
    prev = np.full(m, -np.inf)
    ring = np.zeros(max(conwip, 1))
    arrival, commit, done, touch = (np.empty(n) for _ in range(4))
    v_step, v_person = np.empty(n * m, dtype=np.int64), np.empty(n * m, dtype=np.int64)
    v_enter, v_ready, v_start, v_end, v_work = (np.empty(n * m) for _ in range(5))
    no_rework = np.zeros(n * m, dtype=bool)
    S = np.empty((n, m))
    last, k0, reached = 0.0, 0, 0.0
    while True:
        if not saturated:
            g = gaps.take(n)
            g[0] = last + g[0]
            np.cumsum(g, out=arrival)            # sequential sums: the engines' now + gap
            last = float(arrival[-1])
        itype = (types.take(n).astype(np.int64) if types is not None else np.zeros(n, dtype=np.int64))
        size = np.empty(n)
        for t, src in enumerate(sizes):
            mine = np.flatnonzero(itype == t) if len(sizes) > 1 else slice(None)
            if src is None:
                size[mine] = plan.type_size[t]
            elif isinstance(src, Draws):        # drawn per item number, as the engines' Draws.at
                idx = np.arange(k0, k0 + n)[mine]
                size[mine] = [src.at(int(k)) for k in idx]
                src.trim(k0 + n)
            else:
                size[mine] = src.take(n)[mine]
        for j, src in enumerate(work):
            np.multiply(src.take(n), size, out=S[:, j])
        cut = n if saturated else int(np.searchsorted(arrival, h, side="left"))
        items, nv = _block(k0, arrival[:cut], S[:cut], hand, conwip, saturated, h, prev, ring, first_person,
                           commit, done, touch, v_step, v_enter, v_ready, v_start, v_end, v_work, v_person)
        sink.add_items(arrival=arrival[:items], commit=commit[:items], done=done[:items], touch=touch[:items],
                       item_type=itype[:items], item_value=values[itype[:items]])
        sink.add_visits(visit_step=v_step[:nv], visit_enter=v_enter[:nv], visit_ready=v_ready[:nv],
                        visit_start=v_start[:nv], visit_end=v_end[:nv], visit_leave=v_end[:nv],
                        visit_work=v_work[:nv], visit_reworked=no_rework[:nv], visit_person=v_person[:nv])
        k0 += items
        now = float(arrival[items - 1]) if items else h
        if progress is not None and math.isfinite(now):
            step = min(now, h) - reached
            if step > 0:
                progress(step / h)
                reached += step
        if items < n or (not saturated and last >= h):
            break
    if progress is not None and reached < h:
        progress((h - reached) / h)
    return sink.close(h)
