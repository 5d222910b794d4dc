"""The fast engine: exact max-plus recursions for serial FIFO lines (docs/engines.md).

For the streams that `qualifies` accepts, every time of the SimPy engine (`vssim/engines/simpy/engine.py`)
follows from a recursion over items, without an event calendar:

* one person per step (push or CONWIP N), item by item:
  ``commit[k] = max(arrival[k], done[k - N])``,
  ``ready[k][j] = done-at-step[k][j-1] + handoff[j-1]`` (``commit[k]`` at the first step),
  ``end[k][j] = max(end[k-1][j], ready[k][j]) + S[k][j]``;
* c people per step (push), step by step: items start in the order they became workable;
  ``start = max(ready, the earliest time one of the c people is free)``; they leave in the
  order they finish (ties: the order they started), which is the next step's FIFO order;
* c people per step under CONWIP N: the same steps, and item k commits at
  ``max(arrival[k], the (k - N)-th completion in completion order)``: an event loop over the
  items in time order (`_conwip_line`).

The recursions run in compiled loops (numba) on the same floating-point operations as the SimPy
engine (``start + work``, ``leave + handoff``, a max picks one operand), so the times are not
close to the SimPy engine's, they are the same numbers. The random numbers are the SimPy
engine's too: the same sources (`vssim.engines.random.generator`), drawn in the same blocks as
`vssim.engines.random.Draws` draws them for the same requests, so the same seed gives the same items.
"""
from __future__ import annotations

import math
import sys
import threading
from dataclasses import dataclass

import numpy as np

from vssim.compiled import njit
from vssim.engines.random import BLOCK, generator
from vssim.errors import SpecError
from vssim.model.distributions import parse_distribution
from vssim.model.plan import Plan
from vssim.model.spec import StreamSpec
from vssim.records import RecordSink
from vssim.scratch import release as release_scratch
from vssim.scratch import scratch

__all__ = ["run_fast"]


# --------------------------------------------------------------------------- random numbers
SPLITTABLE = frozenset({"exponential", "lognormal", "gamma", "weibull", "deterministic", "uniform", "triangular",
                        "pert"})
"""Distributions whose draws do not depend on how they are split into calls (numpy Generator
methods that keep no state between calls but the bit generator's): n + m draws in one call are
the n draws of one call followed by the m of the next. Checked by tests/test_fast.py."""


def _blocks(sample, requests: np.ndarray | int, splittable: bool = False) -> np.ndarray:
    """Draws as `vssim.engines.random.Draws.at` makes them for `requests` (item indices, in request order;
    an int n: 0, 1, ..., n - 1).

    Draws grows its buffer by max(BLOCK, k + 1 - len) when item k is asked for beyond it; the
    same calls to `sample` give the same numbers whatever the distribution. A `splittable`
    distribution's draws are made in one call, only as many as the largest request needs (the
    same numbers, faster; the rest of the last block would never be used).
    """
    if splittable:
        if isinstance(requests, int):
            need = requests
        else:
            need = int(np.max(requests)) + 1 if len(requests) else 0
        return np.asarray(sample(need), dtype=np.float64) if need else np.zeros(0)
    if isinstance(requests, int):
        if not requests:
            return np.zeros(0)
        sizes = [BLOCK] * -(-requests // BLOCK)
    else:
        if not len(requests):
            return np.zeros(0)
        top = np.maximum.accumulate(np.asarray(requests, dtype=np.int64))
        sizes, have = [], 0
        while True:
            p = int(np.searchsorted(top, have, side="left"))
            if p == len(top):
                break
            need = max(BLOCK, int(top[p]) + 1 - have)
            sizes.append(need)
            have += need
    return np.concatenate([np.asarray(sample(k), dtype=np.float64) for k in sizes])


def _arrival_times(spec: StreamSpec, seed: int, rep: int, horizon: float) -> np.ndarray:
    """Open arrivals before the horizon: the first after one gap, then one gap after another."""
    a = spec.arrivals
    if a.process == "deterministic":
        gap = 1.0 / a.rate
        sample = lambda n: np.full(n, gap)  # noqa: E731
    else:
        dist = (parse_distribution({"dist": "exponential", "mean": 1.0 / a.rate}, "")
                if a.process == "poisson" else a.interarrival)
        rng = generator(seed, rep, "arrivals")
        sample = lambda n: dist.sample(rng, n)  # noqa: E731
    chunk = BLOCK
    mean = 1.0 / a.rate if a.process in ("poisson", "deterministic") else a.interarrival.mean
    if (a.process == "deterministic" or dist.name in SPLITTABLE) and math.isfinite(horizon) and mean > 0:
        chunk = BLOCK * (int(horizon / mean * 1.02) // BLOCK + 1)     # the same numbers in fewer calls
    chunks, last = [], 0.0
    while last < horizon:
        g = np.array(sample(chunk), dtype=np.float64)
        g[0] = last + g[0]
        t = np.cumsum(g)                 # sequential sums: the engine's now + gap, one by one
        chunks.append(t)
        last = float(t[-1])
    times = np.concatenate(chunks)
    return times[: int(np.searchsorted(times, horizon, side="left"))]


def _trace_times(times: tuple[float, ...], horizon: float) -> np.ndarray:
    """The times the engine reaches: now + (next - now), as its timeouts compute them."""
    out, now = [], 0.0
    for t in times:
        now = now + (t - now)
        if not now < horizon:
            break
        out.append(now)
    return np.array(out, dtype=np.float64)


def _types_and_sizes(plan: Plan, seed: int, rep: int, n: int, given_type=None, given_size=None, arena=None):
    """Item types (blocks of `rng.choice`) and sizes (item-indexed draws per type)."""
    spec = plan.spec
    shares = plan.type_shares
    arena = arena or Arena(None)
    if given_type is None:
        itype = arena.zeros(n, dtype=np.int64)
        if len(shares) > 1 and n:
            rng = generator(seed, rep, "arrivals/type")
            itype[:] = _blocks(lambda k: rng.choice(len(shares), size=k, p=shares), n)[:n]
    else:
        itype = np.array([-1 if t is None else t for t in given_type], dtype=np.int64)
        need = np.flatnonzero(itype < 0)
        if len(need) and len(shares) > 1:
            rng = generator(seed, rep, "arrivals/type")
            itype[need] = _blocks(lambda k: rng.choice(len(shares), size=k, p=shares), need)[need].astype(np.int64)
        else:
            itype[need] = 0
    size = arena.empty(n)
    if given_size is None and len(spec.item_types) == 1:      # every item: type 0, size drawn or fixed
        ty, fixed = next(iter(spec.item_types.values())), plan.type_size[0]
        if fixed is not None:
            size.fill(fixed)
        elif n:
            rng = generator(seed, rep, f"size/{ty.name}")
            size[:] = _blocks(lambda k: ty.size.sample(rng, k), n, ty.size.name in SPLITTABLE)[:n]
        return itype, size
    drawn_size = np.ones(n, dtype=bool)
    if given_size is not None:
        gs = np.array([np.nan if s is None else s for s in given_size], dtype=np.float64)
        drawn_size = np.isnan(gs)
        size[~drawn_size] = gs[~drawn_size]
    for t, ty in enumerate(spec.item_types.values()):
        mine = np.flatnonzero((itype == t) & drawn_size)
        if not len(mine):
            continue
        fixed = plan.type_size[t]
        if fixed is not None:
            size[mine] = fixed
        else:
            rng = generator(seed, rep, f"size/{ty.name}")
            vals = _blocks(lambda k, d=ty.size, r=rng: d.sample(r, k), mine, ty.size.name in SPLITTABLE)
            size[mine] = vals[mine]
    return itype, size


def _work(step, seed: int, rep: int, order: np.ndarray | int, size: np.ndarray, out=None) -> np.ndarray:
    """Work of each item at a step: its draw of `work/STEP` (asked in start order) x its size."""
    rng = generator(seed, rep, f"work/{step.name}")
    vals = _blocks(lambda k: step.work.sample(rng, k), order, step.work.name in SPLITTABLE)
    return np.multiply(vals[: len(size)], size, out=out)


# --------------------------------------------------------------------------- memory
class Arena:
    """One block of memory that a run's arrays are carved from (views, 64-byte aligned).

    A run's records are ~10 arrays of n x m visits and ~12 of n items, about 100 bytes per
    visit. Allocated one by one, each is fresh memory that the operating system maps page by
    page on first touch: at ~1.5 us a page fault on a virtual machine, that was more than half
    of a fast run on the benchmark line. One block instead, and blocks are kept for the next
    runs (`KEEP` bytes of them at most, with 6 % headroom): a block is handed out again once no
    array of the run it served is alive (nothing but the cache refers to it), so a run whose
    records were dropped leaves its memory, mapped and warm, to the next one; left to the
    allocator, a freed block was often returned to the system (after a SimPy run's garbage, say)
    and the next run faulted hundreds of pages in again. The price: up to `KEEP` bytes stay
    allocated after the last run (`release` frees them). `None` sizes: ordinary allocations
    (`np.empty`).
    """

    ALIGN = 64
    KEEP = 64 << 20
    """Bytes of blocks kept for reuse (a larger block is not kept)."""
    _blocks: list[np.ndarray] = []
    _lock = threading.Lock()

    def __init__(self, nbytes: int | None):
        self.buf = None if nbytes is None else self._block(nbytes)
        self.at = 0

    @classmethod
    def _block(cls, nbytes: int) -> np.ndarray:
        """A view of a kept block that nothing else refers to (not more than 4 x as large), or a
        new block."""
        with cls._lock:
            blocks = cls._blocks
            for i in range(len(blocks)):
                # references: the list, this expression's argument
                if nbytes <= len(blocks[i]) <= 4 * nbytes + (1 << 20) and sys.getrefcount(blocks[i]) == 2:
                    block = blocks.pop(i)
                    blocks.append(block)                 # the most recently used last
                    return block[:nbytes]
            size = nbytes + nbytes // 16
            block = np.empty(size, dtype=np.uint8)
            if size <= cls.KEEP:
                while blocks and sum(len(b) for b in blocks) + size > cls.KEEP:
                    blocks.pop(0)                        # the least recently used first
                blocks.append(block)
            return block[:nbytes]

    @classmethod
    def release(cls) -> None:
        """Forget the kept blocks and this thread's scratch memory (a block still in use stays with
        its records): the next run allocates afresh."""
        with cls._lock:
            cls._blocks.clear()
        release_scratch()

    @classmethod
    def bytes_for(cls, *shapes: tuple[int, ...], itemsize: int = 8) -> int:
        """Bytes to hold arrays of these shapes (with the alignment padding)."""
        return sum(-(-math.prod(s) * itemsize // cls.ALIGN) * cls.ALIGN for s in shapes)

    def empty(self, shape, dtype=np.float64) -> np.ndarray:
        dt = np.dtype(dtype)
        if self.buf is None:
            return np.empty(shape, dtype=dt)
        nb = math.prod(shape if isinstance(shape, tuple) else (shape,)) * dt.itemsize
        if self.at + nb > len(self.buf):
            return np.empty(shape, dtype=dt)
        a = self.buf[self.at:self.at + nb].view(dt).reshape(shape)
        self.at += -(-nb // self.ALIGN) * self.ALIGN
        return a

    def zeros(self, shape, dtype=np.float64) -> np.ndarray:
        if self.buf is None:
            return np.zeros(shape, dtype=dtype)
        a = self.empty(shape, dtype)
        a.fill(0)
        return a


def _arena(n: int, m: int, keep_ready: bool) -> Arena:
    """The block for a run of n items through m steps with c > 1 people somewhere (`_run_multi`,
    `_run_conwip`, `_records`)."""
    visits = 9 + keep_ready            # S start end d_start d_end person enter v_item v_step [ready]
    items = 13                         # arrival commit d_arr d_com itype size done dseq touch priority value rework
    return Arena(Arena.bytes_for(*[(n, m)] * visits, *[(n,)] * items)
                 + Arena.bytes_for((n, m), itemsize=1))      # visit_reworked


# --------------------------------------------------------------------------- recursions
@njit(cache=True)
def _step_pass(order, ready, d_ready, S, c, start, d_start, end, d_end, person):  # pragma: no cover
    """c people at one step, items in FIFO order `order` (the order they became workable).

    A waiting item goes to the first person to free up (ties: the one who started first); an
    item that finds people free goes to the one freed last (the engine's stack of free people).
    """
    free = np.full(c, -np.inf)
    fkey = np.empty(c, dtype=np.int64)
    fdep = np.zeros(c, dtype=np.int64)
    for g in range(c):
        fkey[g] = -1 - g                  # person 0 on top of the stack
    deep = 0
    for mth in range(len(order)):
        i = order[mth]
        r = ready[i]
        first = 0
        for g in range(1, c):
            if free[g] < free[first] or (free[g] == free[first] and fkey[g] < fkey[first]):
                first = g
        if free[first] > r:
            g = first
            s = free[g]
            ds = fdep[g] + 1
        else:
            g = -1
            for h in range(c):
                if free[h] <= r and (g < 0 or free[h] > free[g] or (free[h] == free[g] and fkey[h] > fkey[g])):
                    g = h
            s = r
            ds = d_ready[i] + 1
            if free[g] == r and fdep[g] + 1 > ds:
                ds = fdep[g] + 1
        e = s + S[i]
        de = ds + 1 if e == s else 0
        start[i] = s
        d_start[i] = ds
        end[i] = e
        d_end[i] = de
        person[i] = g
        free[g] = e
        fkey[g] = mth
        fdep[g] = de
        if ds > deep:
            deep = ds
        if de + 1 > deep:
            deep = de + 1
    return deep


DEPTH_BITS = 5
"""Bits of an event-log key kept for the causal depth (the rest hold the time)."""


@njit(cache=True)
def _pack(h, lo_bits, m, arrival, commit, keep_ready, ready, start, end, S, has_person, person, first_person, d_arr,
          d_com, d_start, d_end, enter, v_item, v_step, done, dseq, touch):  # pragma: no cover - compiled
    """Records arrays from the recursion's item-indexed times, in place.

    What happened before the horizon is kept (an event at the horizon does not happen either:
    NaN), and the visits that exist (their item entered the column) are moved to the front of
    the flat (item, step) arrays: `ready`, `start`, `end`, `S` (work), `person` become visit
    arrays (without `has_person`, `person` is only written: person 0 of each step's pool),
    `d_start` and `d_end` their event-log keys, `commit` is masked and `d_arr`, `d_com` become
    keys. A key is ``(bits(time) - lo_bits) << DEPTH_BITS | depth`` (``depth`` for time
    0): the bits of a non-negative float increase with it, so keys order events by time, then
    by depth (an event caused at the same time by another has a larger depth: a start after the
    end that freed its person, a commit after the exit that made room), without a sort.
    Fills `done` (done times), `dseq` (their keys) and `touch`; returns the number of visits.
    """
    n = len(arrival)
    nan = np.nan
    ab = arrival.view(np.int64)
    cb = commit.view(np.int64)
    sb = start.view(np.int64)
    eb = end.view(np.int64)
    nv = 0
    for k in range(n):
        t = arrival[k]
        d_arr[k] = ((ab[k] - lo_bits) << DEPTH_BITS | d_arr[k]) if t > 0.0 else d_arr[k]
        c = commit[k]
        if c < h:
            d_com[k] = ((cb[k] - lo_bits) << DEPTH_BITS | d_com[k]) if c > 0.0 else d_com[k]
        else:
            commit[k] = nan
            d_com[k] = -1
        prev = c
        acc = 0.0
        for j in range(m):
            i = k * m + j
            if not prev < h:
                break
            s, e, w, ds, de = start[i], end[i], S[i], d_start[i], d_end[i]
            g = person[i] if has_person else 0
            sk, ek = sb[i], eb[i]
            v_item[nv] = k
            v_step[nv] = j
            enter[nv] = prev
            if keep_ready:
                r = ready[i]
                ready[nv] = r if r < h else nan
            if s < h:
                start[nv] = s
                S[nv] = w
                acc += w
                person[nv] = g + first_person[j]
                d_start[nv] = ((sk - lo_bits) << DEPTH_BITS | ds) if s > 0.0 else ds
            else:
                start[nv] = nan
                S[nv] = 0.0
                person[nv] = -1
                d_start[nv] = -1
            if e < h:
                end[nv] = e
                d_end[nv] = ((ek - lo_bits) << DEPTH_BITS | de) if e > 0.0 else de
            else:
                end[nv] = nan
                d_end[nv] = -1
            if j == m - 1:
                if e < h:
                    done[k] = e
                    dseq[k] = ((ek - lo_bits) << DEPTH_BITS | (de + 1)) if e > 0.0 else de + 1
                else:
                    done[k] = nan
                    dseq[k] = -1
            prev = e
            nv += 1
        touch[k] = acc
        if nv == 0 or v_item[nv - 1] != k or v_step[nv - 1] != m - 1:
            done[k] = nan
            dseq[k] = -1
    return nv


@njit(cache=True)
def _min_positive(x):  # pragma: no cover - compiled
    """The smallest value > 0 (inf if none; NaN is not > 0)."""
    lo = np.inf
    for v in x:
        if v > 0.0 and v < lo:
            lo = v
    return lo


def _key_base(run: Run, h: float) -> tuple[bool, int]:
    """(the keys of `_pack` fit, the bits of the smallest positive event time - 1)."""
    if not len(run.arrival):
        return True, 0
    lo = min(_min_positive(x) for x in (run.arrival, run.commit, run.start[:, 0], run.end[:, 0]))
    if lo == math.inf:
        lo = 1.0
    hi = h if math.isfinite(h) else float(run.end[:, -1].max())
    lo_bits = int(np.float64(lo).view(np.int64)) - 1
    span = int(np.float64(max(hi, lo)).view(np.int64)) - lo_bits
    return span < 1 << (63 - DEPTH_BITS) and run.deep < 1 << DEPTH_BITS, lo_bits


def _ranks(streams: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Event-log counters (1, 2, ...; -1: did not happen) by time, then depth, from a sort
    (when `_pack`'s keys do not fit)."""
    t_all = np.concatenate([t for t, _ in streams])
    d_all = np.concatenate([d for _, d in streams])
    order = np.lexsort((d_all, t_all))
    ok = ~np.isnan(t_all[order])
    rank = np.full(len(t_all), -1, dtype=np.int64)
    rank[order[ok]] = np.arange(1, int(ok.sum()) + 1)
    out, at = [], 0
    for t, _ in streams:
        out.append(rank[at:at + len(t)])
        at += len(t)
    return out


# --------------------------------------------------------------------------- one person per step, fused
@njit(cache=True)
def _line(saturated, arrival, W, scale, size, hand, conwip, h, keep_ready, first_person, lo_bits, direct, IF, II, VF,
          VI, ring_t, ring_d):  # pragma: no cover - compiled
    """One person per step: the recursion item by item (module docstring), each visit written
    straight into the records as `_pack` would write it (items never overtake: the FIFO order is
    item order at every step; a visit exists when its item entered the column before the
    horizon), in one pass and without (n, m) intermediates.

    Work: ``(scale[j] * W[j, k]) * size[k]`` (`W`: the step's draws, `scale`: the exponential's
    mean, 1 for other distributions: the operations of ``rng.exponential(mean) * size``).
    Arrivals: the times in `arrival` (len(arr) of them; it may be `arr` itself), or saturated:
    item k arrives when item k - conwip is done, and the run stops at the first arrival at or
    after the horizon, or returns items == -1 when it fills the capacity len(arr) before.
    `ring_*`: the done times and depths of the last conwip items. `direct`: every event time is
    >= arr[0] > 0, and the *_seq arrays get their keys (``(bits(time) - lo_bits) << DEPTH_BITS
    | depth``) here; else they get the depths, for `_keys` (or `_ranks`).
    Outputs, by rows: IF arrival, commit, done, touch; II their *_seq (arrival, commit, done); VF
    the visits' enter, start, end, work (and ready); VI their item, step, person, start_seq,
    end_seq. Returns (items, visits, the largest depth, the smallest positive event time, the
    largest done time, items done).
    """
    arr, commit, done, touch = IF[0], IF[1], IF[2], IF[3]
    aseq, cseq, dseq = II[0], II[1], II[2]
    enter, start, end, work = VF[0], VF[1], VF[2], VF[3]
    ready = VF[4] if keep_ready else VF[0]           # (written only with keep_ready)
    v_item, v_step, person, sseq, eseq = VI[0], VI[1], VI[2], VI[3], VI[4]
    n = len(arr)
    m = W.shape[0]
    nan = np.nan
    prev = np.full(m, -np.inf)
    dprev = np.zeros(m, dtype=np.int64)
    ab = arr.view(np.int64)
    cb = commit.view(np.int64)
    sb = start.view(np.int64)
    eb = end.view(np.int64)
    deep = 0
    lo = np.inf
    top = -np.inf
    nv = 0
    ndone = 0
    items = -1
    for k in range(n):
        if saturated:
            if k >= conwip:
                a = ring_t[k % conwip]
                da = ring_d[k % conwip] + 2          # after done, which follows the end
            else:
                a = 0.0
                da = 0
            if not a < h:
                items = k
                break
            c = a
            dc = da + 1
        else:
            a = arrival[k]
            da = 0
            c = a
            dc = 1
            if conwip > 0 and k >= conwip:
                x = ring_t[k % conwip]
                if x > c:
                    c = x
                    dc = ring_d[k % conwip] + 2
                elif x == c:
                    dx = ring_d[k % conwip] + 2
                    if dx > dc:
                        dc = dx
        arr[k] = a
        if direct:
            aseq[k] = (ab[k] - lo_bits) << DEPTH_BITS | da
        else:
            aseq[k] = da
            if a > 0.0 and a < lo:
                lo = a
            if c > 0.0 and c < lo:
                lo = c
        if c < h:
            commit[k] = c
            cseq[k] = ((cb[k] - lo_bits) << DEPTH_BITS | dc) if direct else dc
        else:
            commit[k] = nan
            cseq[k] = -1
        exists = c < h
        r = c
        dr = dc
        x = c                                 # the time the item entered the column
        e = c
        de = 0
        acc = 0.0
        for j in range(m):
            if j > 0:
                x = e
                r = e + hand[j - 1]
                dr = de + 1 if r == e else 0
                exists = exists and e < h
            # start = max(ready, the person's previous end); its depth: one more than the
            # event(s) it waited for (both when they coincide). Selects, not branches: whether
            # an item waits is a coin toss that a branch predictor would lose
            p = prev[j]
            dp = dprev[j]                     # loaded either way: a conditional load is a branch
            ge = r >= p
            le = r <= p
            s = r if ge else p
            d1 = dr + 1 if ge else 0
            d2 = dp + 1 if le else 0
            ds = d1 if d1 > d2 else d2
            w = (scale[j] * W[j, k]) * size[k]
            e = s + w
            de = ds + 1 if e == s else 0
            prev[j] = e
            dprev[j] = de
            deep = ds if ds > deep else deep
            if not direct and j == 0:
                if s > 0.0 and s < lo:
                    lo = s
                if e > 0.0 and e < lo:
                    lo = e
            if exists:
                v_item[nv] = k
                v_step[nv] = j
                enter[nv] = x
                if keep_ready:
                    ready[nv] = r if r < h else nan
                if s < h:
                    start[nv] = s
                    work[nv] = w
                    acc += w
                    person[nv] = first_person[j]
                    sseq[nv] = ((sb[nv] - lo_bits) << DEPTH_BITS | ds) if direct else ds
                else:
                    start[nv] = nan
                    work[nv] = 0.0
                    person[nv] = -1
                    sseq[nv] = -1
                if e < h:
                    end[nv] = e
                    eseq[nv] = ((eb[nv] - lo_bits) << DEPTH_BITS | de) if direct else de
                else:
                    end[nv] = nan
                    eseq[nv] = -1
                nv += 1
        if de + 1 > deep:                     # the deepest event of an item: its start or done
            deep = de + 1
        if exists and e < h:
            done[k] = e
            dseq[k] = ((eb[nv - 1] - lo_bits) << DEPTH_BITS | (de + 1)) if direct else de + 1
            ndone += 1
        else:
            done[k] = nan
            dseq[k] = -1
        if e > top:
            top = e
        touch[k] = acc
        if conwip > 0:
            ring_t[k % conwip] = e
            ring_d[k % conwip] = de
    if not saturated:
        items = n
    return items, nv, deep, lo, top, ndone


@njit(cache=True)
def _arrivals(G, gscale, h, arr):  # pragma: no cover - compiled
    """Arrival times from gaps ``gscale * G`` into arr, one after another from 0 (the sequential
    sums of `_arrival_times`): how many fall before the horizon, -1 if all of them do."""
    t = 0.0
    for k in range(len(G)):
        t = t + gscale * G[k]
        if not t < h:
            return k
        arr[k] = t
    return -1


@njit(cache=True)
def _keys(lo_bits, t, seq):  # pragma: no cover - compiled
    """Depths in `seq` to `_pack`'s keys, in place (-1: did not happen)."""
    tb = t.view(np.int64)
    for i in range(len(seq)):
        d = seq[i]
        if d >= 0 and t[i] > 0.0:
            seq[i] = (tb[i] - lo_bits) << DEPTH_BITS | d


# --------------------------------------------------------------------------- CONWIP, c people per step
@njit(cache=True)
def _heap_push(ht, hs, hp, size, t, s, payload):  # pragma: no cover - compiled
    """Push (t, s) -> payload onto the binary min-heap of the first `size` entries; returns size + 1."""
    i = size
    while i > 0:
        up = (i - 1) // 2
        if ht[up] < t or (ht[up] == t and hs[up] < s):
            break
        ht[i], hs[i], hp[i] = ht[up], hs[up], hp[up]
        i = up
    ht[i], hs[i], hp[i] = t, s, payload
    return size + 1


@njit(cache=True)
def _heap_pop(ht, hs, hp, size):  # pragma: no cover - compiled
    """Remove the smallest (t, s) entry (the caller read it at index 0); returns size - 1."""
    size -= 1
    t, s, p = ht[size], hs[size], hp[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and (ht[c + 1] < ht[c] or (ht[c + 1] == ht[c] and hs[c + 1] < hs[c])):
            c += 1
        if t < ht[c] or (t == ht[c] and s < hs[c]):
            break
        ht[i], hs[i], hp[i] = ht[c], hs[c], hp[c]
        i = c
    ht[i], hs[i], hp[i] = t, s, p
    return size


@njit(cache=True)
def _begin(i, j, g, t, ds, m, scale, W, size, start, d_start, end, d_end, person, S, sorder, nstart, ht, hs, hp, nh,
           seq):  # pragma: no cover - compiled
    """Person g of step j starts item i at time t (causal depth ds): its records, its end event
    on the heap. Returns (the heap's new size, the deepest depth it made)."""
    w = (scale[j] * W[j, i]) * size[i]
    e = t + w
    de = ds + 1 if e == t else 0
    start[i, j] = t
    d_start[i, j] = ds
    end[i, j] = e
    d_end[i, j] = de
    person[i, j] = g
    S[i, j] = w
    sorder[j, nstart[j]] = i
    nstart[j] += 1
    return _heap_push(ht, hs, hp, nh, e, seq, i * 2 * m + j), max(ds, de + 1)


@njit(cache=True)
def _conwip_line(saturated, arrival, W, scale, size, hand, people, conwip, h, keep_ready, arr, d_arr, commit, d_com,
                 S, ready, start, d_start, end, d_end, person, sorder, nstart):  # pragma: no cover - compiled
    """CONWIP N with c_j people at step j: an event loop over the items, in time order.

    Item k commits at max(arrival[k], the (k - N)-th completion in completion order) (saturated:
    arrives then), items in item order; at each step items start in the order they became
    workable, at max(that time, the earliest time one of the c people is free); they leave in
    the order they finish (ties: the order they started), which, a constant handoff later, is
    the next step's order. Events come off a heap in (time, the order they were scheduled) —
    SimPy's order — so same-time ties fall as in the event engine. Persons and depths as
    `_step_pass`. Times at or after the horizon h do not happen (inf). `sorder[j]`: the items
    in the order they started at step j (`nstart[j]` of them: the requests for the work draws).
    Outputs (n_cap items: len(arr)) are item-indexed (n_cap, m); returns (items, the largest
    depth), items -1 when saturated arrivals fill the capacity before the horizon.
    """
    n_cap, m = S.shape
    n = len(arrival)
    inf = np.inf
    cap = min(conwip, n_cap) + 2                 # at most conwip items in the line
    maxc = 1
    for j in range(m):
        maxc = max(maxc, people[j])
    # events: END (step j done, payload i * 2m + j) and READY (after a handoff, + m)
    ht = np.empty(cap)
    hs = np.empty(cap, dtype=np.int64)
    hp = np.empty(cap, dtype=np.int64)
    hd = np.zeros((n_cap, m), dtype=np.int64)    # the depth a READY event carries
    nh = 0
    seq = 0
    # FIFO queues per step (ring buffers) and free people (a stack: the one freed last on top)
    qi = np.empty((m, cap), dtype=np.int64)
    qr = np.empty((m, cap))
    qd = np.empty((m, cap), dtype=np.int64)
    qh = np.zeros(m, dtype=np.int64)
    qn = np.zeros(m, dtype=np.int64)
    fstack = np.empty((m, maxc), dtype=np.int64)
    fsz = np.zeros(m, dtype=np.int64)
    ftime = np.full((m, maxc), -inf)
    fdep = np.zeros((m, maxc), dtype=np.int64)
    for j in range(m):
        for g in range(people[j] - 1, -1, -1):
            fstack[j, fsz[j]] = g
            fsz[j] += 1
    # completions in completion order: times and done depths
    D = np.empty(n_cap)
    dD = np.empty(n_cap, dtype=np.int64)
    ndone = 0
    nstart[:] = 0
    if not saturated:
        arr[:n] = arrival                        # (an item committed after the horizon arrived all the same)
    commit[:] = inf
    start[:, :] = inf
    end[:, :] = inf
    if keep_ready:
        ready[:, :] = inf
    S[:, :] = 0.0
    person[:, :] = -1
    d_start[:, :] = 0
    d_end[:, :] = 0
    d_com[:] = 0
    deep = 1
    kc = 0                                       # the next item to commit
    n_lim = n_cap + 1 if saturated else n        # saturated: until an arrival at the horizon
    while True:
        # the next commit, once the completion it waits for has happened
        tc = inf
        a = 0.0
        da = 0
        dc = 0
        if kc < n_lim and (kc < conwip or ndone > kc - conwip):
            if saturated:
                if kc >= conwip:
                    a = D[kc - conwip]
                    da = dD[kc - conwip] + 1     # after done, which follows the end
                if not a < h:
                    n_lim = kc                   # arrives at or after the horizon: no such item
                elif kc == n_cap:
                    return -1, deep              # more items than room for them
                else:
                    tc = a
                    dc = da + 1
            else:
                a = arrival[kc]
                tc = a
                dc = 1
                if kc >= conwip:
                    x = D[kc - conwip]
                    dx = dD[kc - conwip] + 1
                    if x > tc:
                        tc = x
                        dc = dx
                    elif x == tc and dx > dc:
                        dc = dx
        th = ht[0] if nh > 0 else inf
        t = tc if tc <= th else th
        if not t < h:
            break
        join = True
        if tc <= th:                             # commit item kc: it joins the first step's queue
            i = kc
            kc += 1
            arr[i] = a
            d_arr[i] = da
            commit[i] = tc
            d_com[i] = dc
            deep = max(deep, da, dc)
            j = 0
            r = tc
            dr = dc
        else:
            p = hp[0]
            nh = _heap_pop(ht, hs, hp, nh)
            i = p // (2 * m)
            j = p % (2 * m)
            if j >= m:                           # READY: the handoff to step j - m is over
                j -= m
                r = t
                dr = hd[i, j]
            else:                                # END of step j: the item moves on, the person takes the next
                g = person[i, j]
                de = d_end[i, j]
                r = t
                dr = 0
                if j < m - 1:
                    r = t + hand[j]
                    dr = de + 1 if r == t else 0
                    if hand[j] > 0:              # workable after the handoff (an event, as in SimPy)
                        if keep_ready:
                            ready[i, j + 1] = r
                        hd[i, j + 1] = dr
                        nh = _heap_push(ht, hs, hp, nh, r, seq, i * 2 * m + m + j + 1)
                        seq += 1
                        join = False
                else:
                    D[ndone] = t
                    dD[ndone] = de + 1
                    ndone += 1
                    join = False
                ftime[j, g] = t
                fdep[j, g] = de
                if qn[j] > 0:
                    i2 = qi[j, qh[j]]
                    r2 = qr[j, qh[j]]
                    dr2 = qd[j, qh[j]]
                    qh[j] = (qh[j] + 1) % cap
                    qn[j] -= 1
                    ds = de + 1
                    if r2 == t and dr2 + 1 > ds:
                        ds = dr2 + 1
                    nh, dd = _begin(i2, j, g, t, ds, m, scale, W, size, start, d_start, end, d_end, person, S,
                                    sorder, nstart, ht, hs, hp, nh, seq)
                    seq += 1
                    deep = max(deep, dd)
                else:
                    fstack[j, fsz[j]] = g
                    fsz[j] += 1
                j += 1                           # (no handoff: it joins the next step now)
        if not join:
            continue
        # item i becomes workable at step j at time r (depth dr)
        if keep_ready:
            ready[i, j] = r
        if fsz[j] > 0 and qn[j] == 0:
            fsz[j] -= 1
            g = fstack[j, fsz[j]]
            ds = dr + 1
            if ftime[j, g] == r and fdep[j, g] + 1 > ds:
                ds = fdep[j, g] + 1
            nh, dd = _begin(i, j, g, r, ds, m, scale, W, size, start, d_start, end, d_end, person, S, sorder,
                            nstart, ht, hs, hp, nh, seq)
            seq += 1
            deep = max(deep, dd)
        else:
            at = (qh[j] + qn[j]) % cap
            qi[j, at] = i
            qr[j, at] = r
            qd[j, at] = dr
            qn[j] += 1
    return (kc if saturated else n), deep


# --------------------------------------------------------------------------- the run
def run_fast(plan_or_spec: Plan | StreamSpec, sink: RecordSink, horizon: float | None, warmup: float = 0.0,
             seed: int = 0, replication: int = 0) -> object:
    """One replication of a qualifying stream into `sink` (the same records as the SimPy engine's)."""
    plan = plan_or_spec if isinstance(plan_or_spec, Plan) else Plan.of(plan_or_spec)
    spec = plan.spec
    a = spec.arrivals
    if horizon is None and not a.finite:
        raise SpecError("sim.horizon", f"a positive number ({a.process} arrivals never end)", horizon)
    h = math.inf if horizon is None else float(horizon)
    steps = list(spec.steps.values())
    m = len(steps)
    people = np.array([plan.pool_sizes[plan.step_pools[j][0]] for j in range(m)], dtype=np.int64)
    hand = np.array([s.handoff.mean if s.handoff is not None else 0.0 for s in steps], dtype=np.float64)
    conwip = spec.release.conwip or 0
    rep = replication

    given_type = given_size = None
    saturated = a.process == "saturated"
    arrival = None                       # open arrivals: drawn by the run (or `_arrival_times`)
    if a.process == "backlog":
        arrival = np.zeros(a.count)
    elif a.process == "trace":
        arrival = _trace_times(a.times, h)
        names = list(spec.item_types)
        given_type = [None if t is None else names.index(t) for t in a.types[: len(arrival)]]
        given_size = list(a.sizes[: len(arrival)])

    if (people == 1).all():
        return _run_line(plan, sink, steps, seed, rep, arrival, hand, conwip, h, horizon, given_type, given_size)
    if arrival is None and not saturated:
        arrival = _arrival_times(spec, seed, rep, h)
    if conwip:
        out = _run_conwip(plan, steps, seed, rep, arrival, hand, people, conwip, h, given_type, given_size)
    else:
        out = _run_multi(plan, steps, seed, rep, arrival, hand, people, given_type, given_size)
    return _records(plan, sink, out, h, horizon)


def _draws(steps, seed: int, rep: int, n: int, W: np.ndarray) -> np.ndarray:
    """The work draws of items 0..n-1 at each step into W (m, n); returns `scale`: W[j] x
    scale[j] are `_work`'s draws.

    An exponential step draws standard exponentials, scale its mean (``rng.exponential(mean,
    k)`` is ``mean * rng.standard_exponential(k)``, the same numbers); the others draw their
    values, scale 1.
    """
    scale = np.ones(len(steps))
    for j, s in enumerate(steps):
        rng = generator(seed, rep, f"work/{s.name}")
        d = s.work
        if not n:
            continue
        if d.name == "exponential":
            rng.standard_exponential(out=W[j])
            scale[j] = d.params["mean"]
        else:
            W[j] = _blocks(lambda k, d=d, rng=rng: d.sample(rng, k), n, d.name in SPLITTABLE)[:n]
    return scale


def _gap_count(spec: StreamSpec, h: float) -> int:
    """How many interarrival gaps `_arrival_times` draws in its first call (0: it cannot say)."""
    a = spec.arrivals
    mean = a.interarrival.mean if a.process == "renewal" else 1.0 / a.rate
    if not (math.isfinite(h) and math.isfinite(mean) and mean > 0):
        return 0
    return BLOCK * (int(h / mean * 1.02) // BLOCK + 1)


def _gaps(spec: StreamSpec, seed: int, rep: int, G: np.ndarray) -> float:
    """The first len(G) interarrival gaps of open arrivals into G; returns `gscale`: the gaps
    of `_arrival_times` are ``gscale * G`` (as `_draws`; deterministic: gscale the interval)."""
    a = spec.arrivals
    if a.process == "deterministic":
        G.fill(1.0)
        return 1.0 / a.rate
    rng = generator(seed, rep, "arrivals")
    if a.process == "poisson":          # parse_distribution's exponential of mean 1 / rate
        rng.standard_exponential(out=G)
        return 1.0 / a.rate
    d = a.interarrival
    if d.name == "exponential":
        rng.standard_exponential(out=G)
        return d.params["mean"]
    G[:] = _blocks(lambda k: d.sample(rng, k), len(G), d.name in SPLITTABLE)[: len(G)]
    return 1.0


def _line_out(n: int, m: int, keep_ready: bool) -> tuple[Arena, tuple[np.ndarray, ...]]:
    """The arena of `_run_line`'s records (n items, up to n x m visits) and `_line`'s outputs
    (IF, II, VF, VI: rows of items' floats and ints, visits' floats and ints)."""
    nm = n * m
    vf = 4 + keep_ready
    arena = Arena(Arena.bytes_for((4, n), (3, n), (vf, nm), (5, nm), *[(n,)] * 5) + Arena.bytes_for((nm,), itemsize=1))
    return arena, (arena.empty((4, n)), arena.empty((3, n), np.int64), arena.empty((vf, nm)),
                   arena.empty((5, nm), np.int64))


def _run_line(plan: Plan, sink: RecordSink, steps, seed: int, rep: int, arrival, hand, conwip: int, h: float,
              horizon, given_type=None, given_size=None) -> object:
    """One person per step (push, CONWIP, saturated): `_line`, straight into the records.

    `arrival` None: open arrivals, drawn here as gaps when `_gap_count` can say how many (else
    `_arrival_times`), or saturated ones.
    """
    spec = plan.spec
    m = len(steps)
    keep_ready = bool(hand.any())        # without handoffs an item is workable when it enters
    first_person = np.array([plan.pool_people[plan.step_pools[j][0]][0] for j in range(m)], dtype=np.int64)
    ring = np.empty(max(conwip, 1)), np.empty(max(conwip, 1), dtype=np.int64)
    saturated = spec.arrivals.process == "saturated"
    count = 0                            # open arrivals: gaps to draw
    if saturated:
        n, arrival = _saturated_items(spec, np.ones(m, dtype=np.int64), conwip, h), np.zeros(0)
    elif arrival is None:
        count = _gap_count(spec, h)
        if not count:
            arrival = _arrival_times(spec, seed, rep, h)
    while count:
        G = scratch("maxplus", count)
        n = _arrivals(G, _gaps(spec, seed, rep, G), h, G)       # in place: the times
        if n >= 0:
            arrival = G[:n]
            break
        count *= 2                       # more arrivals before the horizon than gaps drawn: more gaps
    if not saturated:
        n = len(arrival)
    # keys straight away when every event time is >= the first arrival > 0 (each is >= its item's
    # arrival) and the span from there to the horizon fits; else depths first, keys after
    lo_bits, direct = 0, False
    if not saturated and n and arrival[0] > 0 and math.isfinite(h):
        lo_bits = int(np.float64(arrival[0]).view(np.int64)) - 1
        direct = int(np.float64(max(h, arrival[0])).view(np.int64)) - lo_bits < 1 << (63 - DEPTH_BITS)
    while True:
        W = scratch("maxplus", count + m * n)[count:].reshape(m, n)   # after the arrivals
        arena, out = _line_out(n, m, keep_ready)
        itype, size = _types_and_sizes(plan, seed, rep, n, given_type, given_size, arena)
        scale = _draws(steps, seed, rep, n, W)
        res = _line(saturated, arrival, W, scale, size, hand, conwip, h, keep_ready, first_person, lo_bits, direct,
                    *out, *ring)
        if direct and res[2] + 2 >= 1 << DEPTH_BITS:      # the depths do not fit in the keys: again, depths
            direct = False
            res = _line(saturated, arrival, W, scale, size, hand, conwip, h, keep_ready, first_person, 0, False,
                        *out, *ring)
        if res[0] >= 0:
            break
        n *= 4                           # saturated: more items arrive before the horizon than room for them
    items, nv, deep, lo, top, ndone = res
    IF, II, VF, VI = out
    arr, commit, done, touch = (x[:items] for x in IF)
    aseq, cseq, dseq = (x[:items] for x in II)
    enter, start, end, work = (x[:nv] for x in VF[:4])
    ready = VF[4][:nv] if keep_ready else None
    v_item, v_step, person, sseq, eseq = (x[:nv] for x in VI)
    if not direct:
        if lo == math.inf:
            lo = 1.0
        lo_bits = int(np.float64(lo).view(np.int64)) - 1
        hi = h if math.isfinite(h) else top
        fits = (int(np.float64(max(hi, lo)).view(np.int64)) - lo_bits < 1 << (63 - DEPTH_BITS)
                and deep + 2 < 1 << DEPTH_BITS)
        streams = [(arr, aseq), (commit, cseq), (start, sseq), (end, eseq), (done, dseq)]
        if fits:
            for t, seq in streams:
                _keys(lo_bits, t, seq)
        else:                            # ranks from a sort, on the depths
            aseq, cseq, sseq, eseq, dseq = _ranks(streams)
    if horizon is None:
        stop = float(top) if items else 0.0
    else:
        stop = float(horizon)
        a = spec.arrivals
        if a.finite and items and (a.process == "backlog" or items == len(a.times)) and ndone == items:
            stop = float(top)
    itype, size = itype[:items], size[:items]
    return _to_sink(sink, stop, dict(
        item_type=itype,
        item_priority=_by_type(plan.type_priority, itype, arena.empty(items, np.int64)),
        item_size=size,
        item_value=_by_type(plan.type_value, itype, arena.empty(items)),
        arrival=arr, commit=commit, done=done, touch=touch,
        rework_count=arena.zeros(items, dtype=np.int64),
        arrival_seq=aseq, commit_seq=cseq, done_seq=dseq,
        visit_item=v_item, visit_step=v_step,
        visit_enter=enter, visit_ready=ready if keep_ready else enter,   # no handoffs: workable on entering
        visit_start=start, visit_end=end,
        visit_leave=end,                       # nobody is blocked: an item leaves when its work ends
        visit_person=person, visit_work=work,
        visit_reworked=arena.zeros(nv, dtype=bool),
        visit_start_seq=sseq, visit_end_seq=eseq))


def _by_type(values, itype: np.ndarray, out: np.ndarray) -> np.ndarray:
    """values[itype] into out (one type: filled)."""
    if len(values) == 1:
        out.fill(values[0])
        return out
    return np.take(np.asarray(values, dtype=out.dtype), itype, out=out, mode="clip")   # (no bounds: no buffer)


def _run_multi(plan, steps, seed, rep, arrival, hand, people, given_type, given_size):
    n, m = len(arrival), len(steps)
    keep_ready = bool(hand.any())
    arena = _arena(n, m, keep_ready)
    itype, size = _types_and_sizes(plan, seed, rep, n, given_type, given_size, arena)
    commit = arena.empty(n)
    commit[:] = arrival
    d_arr = arena.zeros(n, dtype=np.int64)
    d_com = arena.empty(n, dtype=np.int64)
    d_com.fill(1)
    S, start, end = (arena.empty((n, m)) for _ in range(3))
    ready = arena.empty((n, m)) if keep_ready else None   # without handoffs: workable on entering
    d_start, d_end, person = (arena.empty((n, m), dtype=np.int64) for _ in range(3))
    deep = 1
    order = np.arange(n)
    r, dr = commit, d_com
    for j, s in enumerate(steps):
        work = _work(s, seed, rep, order, size)
        cols = [np.empty(n), np.empty(n, dtype=np.int64), np.empty(n), np.empty(n, dtype=np.int64),
                np.empty(n, dtype=np.int64)]
        deep = max(deep, _step_pass(order, r, dr, work, int(people[j]), *cols))
        S[:, j] = work
        if ready is not None:
            ready[:, j] = r
        start[:, j], d_start[:, j], end[:, j], d_end[:, j], person[:, j] = cols
        e, de = cols[2], cols[3]
        # they leave in the order they finish (ties: the order they started) and become
        # workable downstream in that order, a constant handoff later
        order = order[np.argsort(e[order], kind="stable")]
        r = e + hand[j]
        dr = np.where(r == e, de + 1, 0)
    return Run(arrival, itype, size, S, commit, d_arr, d_com, ready, start, d_start, end, d_end, person, deep, arena)


def _block_sizes(requests: np.ndarray) -> list[int]:
    """The block sizes `_blocks` draws for these requests (item indices, in request order)."""
    if not len(requests):
        return []
    top = np.maximum.accumulate(np.asarray(requests, dtype=np.int64))
    sizes, have = [], 0
    while True:
        p = int(np.searchsorted(top, have, side="left"))
        if p == len(top):
            return sizes
        need = max(BLOCK, int(top[p]) + 1 - have)
        sizes.append(need)
        have += need


def _saturated_items(spec: StreamSpec, people, conwip: int, h: float) -> int:
    """Room for the items of a saturated run to the horizon: its bottleneck's rate (people / mean
    work) x the horizon, with a margin (a run that needs more grows its room and runs again)."""
    size = sum(t.share * t.mean_size for t in spec.item_types.values())
    rate = math.inf
    for j, s in enumerate(spec.steps.values()):
        w = s.work.mean * size
        if w > 0 and math.isfinite(w):
            rate = min(rate, int(people[j]) / w)
    guess = h * rate * 1.05 + conwip + BLOCK
    return int(guess) if math.isfinite(guess) and guess < 1 << 28 else max(4 * conwip, BLOCK)


def _run_conwip(plan, steps, seed, rep, arrival, hand, people, conwip, h, given_type, given_size):
    """CONWIP with c > 1 people somewhere: `_conwip_line` (saturated arrivals: `arrival` None).

    The work draws of a step are asked for in the order items start there, which the run itself
    decides: drawn first in blocks of BLOCK, which is what `vssim.engines.random.Draws` draws unless a
    request runs more than a block ahead (never for a splittable distribution); if the run asked
    otherwise, it runs again on the draws of its requests, until they agree.
    """
    m = len(steps)
    saturated = arrival is None
    keep_ready = bool(hand.any())
    n = _saturated_items(plan.spec, people, conwip, h) if saturated else len(arrival)
    requests: list = [None] * m
    rounds = 0
    while True:
        arena = _arena(n, m, keep_ready)
        itype, size = _types_and_sizes(plan, seed, rep, n, given_type, given_size, arena)
        W = np.zeros((m, n))
        scale = _draws(steps, seed, rep, n, W)
        for j, s in enumerate(steps):
            if requests[j] is not None:
                rng = generator(seed, rep, f"work/{s.name}")
                vals = _blocks(lambda k, d=s.work, r=rng: d.sample(r, k), requests[j])
                W[j, :min(n, len(vals))] = vals[:n]
                scale[j] = 1.0
        arr, commit = arena.empty(n), arena.empty(n)
        d_arr, d_com = arena.zeros(n, dtype=np.int64), arena.empty(n, dtype=np.int64)
        S, start, end = (arena.empty((n, m)) for _ in range(3))
        ready = arena.empty((n, m)) if keep_ready else np.empty((1, 1))
        d_start, d_end, person = (arena.empty((n, m), dtype=np.int64) for _ in range(3))
        sorder = np.empty((m, n), dtype=np.int64)
        nstart = np.zeros(m, dtype=np.int64)
        items, deep = _conwip_line(saturated, np.zeros(0) if saturated else arrival, W, scale, size, hand, people,
                                   conwip, h, keep_ready, arr, d_arr, commit, d_com, S, ready, start, d_start, end,
                                   d_end, person, sorder, nstart)
        if items < 0:
            n *= 4
            continue
        again = False
        for j, s in enumerate(steps):
            if s.work.name in SPLITTABLE:
                continue
            asked = sorder[j, :nstart[j]]
            if requests[j] is None and all(b == BLOCK for b in _block_sizes(asked)):
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
    return Run(arr[cut], itype[cut], size[cut], S[cut], commit[cut], d_arr[cut], d_com[cut],
               ready[cut] if keep_ready else None, start[cut], d_start[cut], end[cut], d_end[cut], person[cut],
               deep, arena)


@dataclass
class Run:
    """Item-indexed results of a recursion ((n, m) arrays for visits; d_*: causal depths)."""

    arrival: np.ndarray
    itype: np.ndarray
    size: np.ndarray
    S: np.ndarray
    commit: np.ndarray
    d_arr: np.ndarray
    d_com: np.ndarray
    ready: np.ndarray | None            # None: no handoffs, ready = enter
    start: np.ndarray
    d_start: np.ndarray
    end: np.ndarray
    d_end: np.ndarray
    person: np.ndarray | None           # None: person 0 of each step's pool (one person per step)
    deep: int                           # a bound on the depths
    arena: Arena                        # the rest of the run's block, for the records


def _records(plan: Plan, sink: RecordSink, run: Run, h: float, horizon) -> object:
    spec = plan.spec
    n, m = run.S.shape
    done_t = run.end[:, -1].copy()
    ok, lo_bits = _key_base(run, h)
    if not ok:      # keys would not fit: ranks from a sort, on the depths saved before `_pack`
        depths = [run.d_arr.copy(), run.d_com.copy(), run.d_start.copy(), run.d_end.copy()]
    first_person = np.array([plan.pool_people[plan.step_pools[j][0]][0] for j in range(m)], dtype=np.int64)
    arena = run.arena
    has_person = run.person is not None
    person = run.person if has_person else arena.empty((n, m), dtype=np.int64)
    flat = lambda x: x.reshape(-1)  # noqa: E731
    enter = arena.empty(n * m)
    v_item = arena.empty(n * m, dtype=np.int64)
    v_step = arena.empty(n * m, dtype=np.int64)
    done, dseq, touch = arena.empty(n), arena.empty(n, dtype=np.int64), arena.empty(n)
    commit = run.commit
    keep_ready = run.ready is not None
    ready = run.ready if keep_ready else np.empty((1, 1))
    nv = _pack(h, lo_bits, m, run.arrival, commit, keep_ready, flat(ready), flat(run.start), flat(run.end),
               flat(run.S), has_person, flat(person), first_person, run.d_arr, run.d_com, flat(run.d_start),
               flat(run.d_end), enter, v_item, v_step, done, dseq, touch)
    v_enter, v_item, v_step = enter[:nv], v_item[:nv], v_step[:nv]
    v_start, v_end, v_work, v_person = (flat(x)[:nv] for x in (run.start, run.end, run.S, person))
    v_ready = flat(ready)[:nv] if keep_ready else v_enter     # no handoffs: workable on entering
    aseq, cseq, v_sseq, v_eseq = run.d_arr, run.d_com, flat(run.d_start)[:nv], flat(run.d_end)[:nv]
    if not ok:
        d_arr, d_com, d_start, d_end = depths
        exists = np.zeros((n, m), dtype=bool)
        exists[v_item, v_step] = True
        aseq, cseq, v_sseq, v_eseq, dseq = _ranks([
            (run.arrival, d_arr), (commit, d_com), (v_start, d_start[exists]), (v_end, d_end[exists]),
            (done, d_end[:, -1] + 1)])
    if horizon is None:
        stop = float(done_t.max()) if n else 0.0
    else:
        stop = float(horizon)
        a = spec.arrivals
        if a.finite and n and (a.process == "backlog" or n == len(a.times)) and bool((done_t < h).all()):
            stop = float(done_t.max())
    itype = run.itype
    return _to_sink(sink, stop, dict(
        item_type=itype,
        item_priority=np.take(np.array(plan.type_priority, dtype=np.int64), itype, out=arena.empty(n, np.int64)),
        item_size=run.size,
        item_value=np.take(np.array(plan.type_value, dtype=float), itype, out=arena.empty(n)),
        arrival=run.arrival, commit=commit, done=done, touch=touch,
        rework_count=arena.zeros(n, dtype=np.int64),
        arrival_seq=aseq, commit_seq=cseq, done_seq=dseq,
        visit_item=v_item, visit_step=v_step,
        visit_enter=v_enter, visit_ready=v_ready, visit_start=v_start, visit_end=v_end,
        visit_leave=v_end,                     # nobody is blocked: an item leaves when its work ends
        visit_person=v_person, visit_work=v_work,
        visit_reworked=arena.zeros(nv, dtype=bool),
        visit_start_seq=v_sseq, visit_end_seq=v_eseq))


def _to_sink(sink: RecordSink, end: float, columns: dict) -> object:
    """A whole run's items and visits to the sink, in one block each."""
    sink.add_items(**{k: v for k, v in columns.items() if not k.startswith("visit_")})
    sink.add_visits(**{k: v for k, v in columns.items() if k.startswith("visit_")})
    sink.add_rejected(np.zeros(0))
    return sink.close(end)
