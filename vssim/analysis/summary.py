"""Flow metrics (DESIGN.md §6) computed from records, with confidence intervals.

Statistics cover items that arrive after the warmup and time after the warmup: the window is
[warmup, end]. A time average is the integral of a count over the window divided by its
length; each item contributes the overlap of its own interval with the window. `ci95` is a
Student-t interval over replication means; a single replication gets batch means instead
(the window cut into `BATCHES` equal parts), the textbook remedy of Law & Kelton.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from vssim.compiled import njit
from vssim.records import Records
from vssim.scratch import scratch

BATCHES = 10
"""Batches for the batch-means interval of a single replication."""
BAND = (0.8, 1.0)
"""SAFe's predictability band for delivered / planned."""
PERCENTILES = (50, 85, 95)


@functools.lru_cache(maxsize=256)
def _t975(df: int) -> np.float64:
    """Student's t 0.975 quantile (scipy takes ~50 us a call; a summary asks for the same few)."""
    return stats.t.ppf(0.975, df)


def ci95(values: Sequence[float]) -> list[float | None]:
    """Student-t 95 % interval of the mean of independent values; [null, null] if fewer than 2."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) < 2:
        return [None, None]
    m = float(v.mean())
    half = float(_t975(len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return [m - half, m + half]


def _overlap(start: np.ndarray, stop: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Length of [start, stop) ∩ [lo, hi), with NaN stop meaning "still open at hi"."""
    stop = np.where(np.isnan(stop), hi, stop)
    start = np.where(np.isnan(start), hi, start)
    return np.clip(np.minimum(stop, hi) - np.maximum(start, lo), 0.0, None)


# --------------------------------------------------------------------------- compiled passes
# A summary reads every item and visit several times (windows, batch means, steps, pools). The
# passes below read them once each and hand numpy only what it sums, so every number is the
# one the plain numpy expressions give (kept beside each pass as the reference):
# * np.bincount(idx, weights) adds in index order, one value at a time: the loops do the same;
# * sums and means of float arrays (pairwise summation) stay numpy's, on arrays with the same
#   values in the same order (contiguous buffers; a sum depends only on the values and their order);
# * `_overlap` is elementwise: min, max, a difference and max(., 0) give the same float.
# numba compiles them on first use (`_kernels`, cache=True), so `import vssim` does not import numba.

def _ov(a: float, b: float, lo: float, hi: float) -> float:  # pragma: no cover - compiled
    """`_overlap` of one interval: [a, b) ∩ [lo, hi), NaN a or b read as hi; never -0."""
    if b != b:
        b = hi
    if a != a:
        a = hi
    v = (b if b < hi else hi) - (a if a > lo else lo)
    return 0.0 if v <= 0.0 else v      # np.clip(v, 0, None): 0 (not -0) at or below 0, NaN stays


def _window_pass(arrival, commit, done, touch, lo, hi, closed, lead, flow, tch, wip, backlog):  # pragma: no cover
    """One window of `window_metrics`: per item, in item order.

    Fills lead, flow, tch (the finished items': done - arrival, done - commit, touch; the first
    `finished` entries) and wip, backlog (each item's overlaps, all entries); returns
    (finished, done in the window, unfinished).
    """
    nf = 0
    completed = 0
    unfinished = 0
    for k in range(len(arrival)):
        a = arrival[k]
        c = commit[k]
        d = done[k]
        if a >= lo and a < hi:
            if d == d:
                lead[nf] = d - a
                flow[nf] = d - c
                tch[nf] = touch[k]
                nf += 1
            else:
                unfinished += 1
        if d >= lo and (d <= hi if closed else d < hi):
            completed += 1
        wip[k] = _ov(c, d, lo, hi)
        backlog[k] = _ov(a, c, lo, hi)
    return nf, completed, unfinished


def _visit_pass(vs, enter, ready, start, end, leave, work, reworked, person, person_pool, lo, hi, sums, counts,
                pool_busy, pool_start):  # pragma: no cover - compiled
    """Per-step totals of `step_metrics` and per-pool busy times of `pool_utilization`, one pass.

    sums[0..7, step]: busy, queue, wip (overlaps, every visit), wait, process, blocked, touch
    (the fresh visits': enter >= lo) in visit order, as np.bincount adds them; counts[0..5, step]:
    started, ended, left, checked (end in [lo, hi]), reworked among checked. pool_busy: each
    started visit's busy overlap, grouped by its person's pool in visit order, pool p in
    pool_busy[pool_start[p]:pool_start[p + 1]].
    """
    nv = len(vs)
    n_pools = len(pool_start) - 1
    fill = np.zeros(n_pools + 1, dtype=np.int64)
    for i in range(nv):
        j = vs[i]
        e0 = enter[i]
        s0 = start[i]
        f0 = end[i]
        l0 = leave[i]
        b = _ov(s0, f0, lo, hi)
        sums[0, j] += b
        sums[1, j] += _ov(ready[i], s0, lo, hi)
        sums[2, j] += _ov(e0, l0, lo, hi)
        if e0 >= lo:
            if s0 == s0:
                sums[3, j] += s0 - e0
                counts[0, j] += 1
            if f0 == f0:
                sums[4, j] += f0 - s0
                sums[6, j] += work[i]
                counts[1, j] += 1
            if l0 == l0:
                sums[5, j] += l0 - f0
                counts[2, j] += 1
        if f0 >= lo and f0 <= hi:
            counts[3, j] += 1
            if reworked[i]:
                counts[4, j] += 1
        g = person[i]
        if g >= 0:
            fill[person_pool[g] + 1] += 1
    for p in range(n_pools):
        fill[p + 1] += fill[p]
        pool_start[p + 1] = fill[p + 1]
    for i in range(nv):
        g = person[i]
        if g >= 0:
            p = person_pool[g]
            pool_busy[fill[p]] = _ov(start[i], end[i], lo, hi)
            fill[p] += 1


_KERNELS: tuple | None = None


def _kernels():
    """(_window_pass, _visit_pass) compiled by numba (cache=True); plain Python without numba."""
    global _KERNELS, _ov
    if _KERNELS is None:
        jit = njit(cache=True)
        _ov = jit(_ov)                  # a global the other two call: compiled first
        _KERNELS = (jit(_window_pass), jit(_visit_pass))
    return _KERNELS


# --------------------------------------------------------------------------- one pass for the whole summary
# The passes below compute a replication's summary without the intermediate arrays above: the
# windows (the full one and the BATCHES batch-means windows) in one pass over the items, the
# steps and pools in one pass over the visits, the percentiles from one selection. They hand
# nothing to numpy: they do numpy's arithmetic themselves, on the same values in the same order:
# * a float sum or mean is numpy's pairwise summation (`_pairwise`: blocks of 8 accumulators up
#   to 128 values, halves rounded to a multiple of 8 above, 0.0 + the total), checked against
#   np.sum bit for bit by tests/test_metrics.py;
# * an `_overlap` array with zeros (an item outside a window) is summed as the whole array: a
#   block of zeros adds +0.0, so only the items that touch a window are written (`_row`);
# * percentiles are numpy's "linear" method on order statistics found by selection (the k-th
#   smallest value does not depend on how it is found), interpolated as np.percentile does.
# The summary is the same bit for bit as the passes above give (tests/test_metrics.py compares
# them on random runs of both engines).

def _ovf(a: float, b: float, lo: float, hi: float) -> float:  # pragma: no cover - compiled
    """`_ov` for a finite window: NaN b is read as hi by the min; a NaN a makes v NaN, read as 0
    (as `_ov` reads it: the interval [hi, .) has no overlap)."""
    v = (b if b < hi else hi) - (lo if a <= lo else a)
    return v if v > 0.0 else 0.0


def _pairwise(a, start, n, k0, k1):  # pragma: no cover - compiled
    """np.add.reduce of the n values from a[start], reading a[i] as 0.0 outside [k0, k1).

    numpy's pairwise summation (numpy/_core/src/umath/loops_utils.h.src): fewer than 8 values
    one by one from -0.0; up to 128, eight accumulators then the rest one by one; above, the
    sums of two halves, the first rounded down to a multiple of 8. Subtrees outside [k0, k1)
    are +0.0 without reading them. The reduction adds the total to 0.0.
    """
    if n < 8:
        res = -0.0
        for i in range(start, start + n):
            res += a[i] if k0 <= i < k1 else 0.0
        return 0.0 + res
    # iterative post-order walk of the halving tree
    lo_s = np.empty(64, dtype=np.int64)
    n_s = np.empty(64, dtype=np.int64)
    st_s = np.empty(64, dtype=np.int64)
    vals = np.empty(64)
    nvals = 0
    sp = 1
    lo_s[0] = start
    n_s[0] = n
    st_s[0] = 0
    while sp > 0:
        t = sp - 1
        lo = lo_s[t]
        cnt = n_s[t]
        if lo + cnt <= k0 or lo >= k1:
            vals[nvals] = 0.0
            nvals += 1
            sp -= 1
        elif cnt <= 128:
            m8 = cnt - cnt % 8
            if lo >= k0 and lo + cnt <= k1:
                r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
                r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
                for i in range(lo + 8, lo + m8, 8):
                    r0 += a[i]
                    r1 += a[i + 1]
                    r2 += a[i + 2]
                    r3 += a[i + 3]
                    r4 += a[i + 4]
                    r5 += a[i + 5]
                    r6 += a[i + 6]
                    r7 += a[i + 7]
                res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
                for i in range(lo + m8, lo + cnt):
                    res += a[i]
            else:                           # a leaf across k0 or k1: the zeros read as zeros
                r = np.empty(8)
                for q in range(8):
                    i = lo + q
                    r[q] = a[i] if k0 <= i < k1 else 0.0
                for i0 in range(lo + 8, lo + m8, 8):
                    for q in range(8):
                        i = i0 + q
                        r[q] += a[i] if k0 <= i < k1 else 0.0
                res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
                for i in range(lo + m8, lo + cnt):
                    res += a[i] if k0 <= i < k1 else 0.0
            vals[nvals] = res
            nvals += 1
            sp -= 1
        else:
            n2 = cnt // 2
            n2 -= n2 % 8
            s = st_s[t]
            if s == 0:
                st_s[t] = 1
                lo_s[sp] = lo
                n_s[sp] = n2
                st_s[sp] = 0
                sp += 1
            elif s == 1:
                st_s[t] = 2
                lo_s[sp] = lo + n2
                n_s[sp] = cnt - n2
                st_s[sp] = 0
                sp += 1
            else:
                right = vals[nvals - 1]
                left = vals[nvals - 2]
                nvals -= 2
                vals[nvals] = left + right
                nvals += 1
                sp -= 1
    return 0.0 + vals[0]


def _select(x, n, ranks):  # pragma: no cover - compiled
    """Reorder x[:n] so that x[r] is its r-th smallest value for each r in `ranks` (sorted, no
    NaN in x): quickselect with three-way partitions (repeated values cost nothing), small
    segments sorted, and a sort when a segment does not shrink fast enough."""
    lo_s = np.empty(256, dtype=np.int64)
    hi_s = np.empty(256, dtype=np.int64)
    r0_s = np.empty(256, dtype=np.int64)
    r1_s = np.empty(256, dtype=np.int64)
    d_s = np.empty(256, dtype=np.int64)
    sp = 1
    lo_s[0], hi_s[0], r0_s[0], r1_s[0], d_s[0] = 0, n, 0, len(ranks), 0
    while sp > 0:
        sp -= 1
        lo, hi, r0, r1, d = lo_s[sp], hi_s[sp], r0_s[sp], r1_s[sp], d_s[sp]
        if r0 >= r1 or hi - lo < 2:
            continue
        if hi - lo <= 24 or d > 48 or sp > 250:
            x[lo:hi].sort()
            continue
        a, b, c = x[lo], x[(lo + hi) // 2], x[hi - 1]
        if a > b:
            a, b = b, a
        if b > c:
            b = c
            if a > b:
                b = a
        p = b                                # the median of three
        lt, i, gt = lo, lo, hi               # [lo, lt) < p, [lt, i) == p, [gt, hi) > p
        while i < gt:
            v = x[i]
            if v < p:
                x[i] = x[lt]
                x[lt] = v
                lt += 1
                i += 1
            elif v > p:
                gt -= 1
                x[i] = x[gt]
                x[gt] = v
            else:
                i += 1
        # ranks below lt go left, at or above gt right; those in [lt, gt) hold p
        m0 = r0
        while m0 < r1 and ranks[m0] < lt:
            m0 += 1
        m1 = m0
        while m1 < r1 and ranks[m1] < gt:
            m1 += 1
        if r0 < m0:
            lo_s[sp], hi_s[sp], r0_s[sp], r1_s[sp], d_s[sp] = lo, lt, r0, m0, d + 1
            sp += 1
        if m1 < r1:
            lo_s[sp], hi_s[sp], r0_s[sp], r1_s[sp], d_s[sp] = gt, hi, m1, r1, d + 1
            sp += 1


def _percentiles(x, n, q, out, buf):  # pragma: no cover - compiled
    """np.percentile(x[:n], 100 * q) ("linear"), then x[:n].min() and .max(), into out (len(q) + 2);
    `buf`: n values of scratch; n >= 1. False (and nothing in out) when x[:n] holds NaN.

    As numpy: the virtual index v = (n - 1) * q; at or above n - 1 the last value (and gamma
    v + 1), else the values at floor(v) and floor(v) + 1 with gamma = v - floor(v); then
    ``a + (b - a) * gamma``, or ``b - (b - a) * (1 - gamma)`` when gamma >= 0.5.
    """
    k = len(q)
    idx = np.empty(2 * k + 2, dtype=np.int64)
    gam = np.empty(k)
    top = n - 1
    for j in range(k):
        v = top * q[j]
        if v >= top:
            idx[2 * j] = top
            idx[2 * j + 1] = top
            gam[j] = v + 1.0                 # numpy's previous index is -1 there
        else:
            f = np.floor(v)
            idx[2 * j] = int(f)
            idx[2 * j + 1] = int(f) + 1
            gam[j] = v - f
    idx[2 * k] = 0
    idx[2 * k + 1] = top
    ranks = np.unique(idx)
    vals = np.empty(len(ranks))
    status = _order_stats(x, n, ranks, vals, buf)
    if status == 2:
        return False
    if status == 1:
        buf[:n] = x[:n]
        _select(buf, n, ranks)
        for i in range(len(ranks)):
            vals[i] = buf[ranks[i]]
    for j in range(k):
        a = vals[np.searchsorted(ranks, idx[2 * j])]
        b = vals[np.searchsorted(ranks, idx[2 * j + 1])]
        t = gam[j]
        diff = b - a
        out[j] = b - diff * (1.0 - t) if t >= 0.5 else a + diff * t
    out[k] = vals[0]
    out[k + 1] = vals[len(ranks) - 1]
    return True


def _order_stats(x, n, ranks, vals, buf):  # pragma: no cover - compiled
    """vals[i] = the ranks[i]-th smallest of x[:n] (ranks sorted), without
    reordering x: a histogram of 2048 buckets between the min and the max (the bucket of a value
    never decreases with it), then only the buckets holding a wanted rank are gathered (into
    `buf`, n long) and sorted. Returns 0, or 1 when the values do not spread (the caller selects),
    2 when x[:n] holds NaN."""
    mn = x[0]
    mx = x[0]
    nan = mn != mn
    for i in range(1, n):
        v = x[i]
        mn = v if v < mn else mn
        mx = v if v > mx else mx
        nan = nan or v != v
    if nan:
        return 2
    span = mx - mn
    if not (span > 0.0 and span < np.inf):
        if span == 0.0:
            for i in range(len(ranks)):
                vals[i] = mn
            return 0
        return 1
    B = 2048
    scale = (B - 1) / span
    if not scale < np.inf:
        return 1
    cnt = np.zeros(B + 1, dtype=np.int64)
    for i in range(n):
        cnt[int((x[i] - mn) * scale)] += 1
    # cumulative: start[b] = values in buckets before b
    s = 0
    for b in range(B + 1):
        c = cnt[b]
        cnt[b] = s
        s += c
    want = np.zeros(B + 1, dtype=np.bool_)
    bk = np.empty(len(ranks), dtype=np.int64)
    b = 0
    for i in range(len(ranks)):
        r = ranks[i]
        while b < B and cnt[b + 1] <= r:
            b += 1
        bk[i] = b
        want[b] = True
    # gather the wanted buckets, bucket by bucket, then sort each
    pos = np.empty(B + 1, dtype=np.int64)
    at = 0
    for b in range(B + 1):
        if want[b]:
            pos[b] = at
            at += (cnt[b + 1] if b < B else n) - cnt[b]
    fill = pos.copy()
    for i in range(n):
        v = x[i]
        b = int((v - mn) * scale)
        if want[b]:
            buf[fill[b]] = v
            fill[b] += 1
    for b in range(B + 1):
        if want[b]:
            buf[pos[b]:fill[b]].sort()
    for i in range(len(ranks)):
        b = bk[i]
        vals[i] = buf[pos[b] + ranks[i] - cnt[b]]
    return 0


def _edge_index(edges, x, strict, b):  # pragma: no cover - compiled
    """How many of the inner edges edges[1:-1] are <= x (< x when strict): the batch holding x,
    searched from batch b (the items' times mostly grow: a step or none)."""
    top = len(edges) - 2
    if strict:
        while b > 0 and not edges[b] < x:
            b -= 1
        while b < top and edges[b + 1] < x:
            b += 1
    else:
        while b > 0 and edges[b] > x:
            b -= 1
        while b < top and edges[b + 1] <= x:
            b += 1
    return b


def _item_pass(arrival, commit, done, touch, itype, value, rejected, lo, hi, edges, interval, n_int, lead, flow, tch,
               rows, nums, sums, delivered, tdone):  # pragma: no cover - compiled
    """The windows of a replication in one pass over its items, and what else the summary reads
    from them. Windows: w = 0 is [lo, hi] (`window_metrics` over [warmup, end]); w = 1..B the
    batches [edges[w - 1], edges[w]) (closed at the top when edges[w] is not below hi), B =
    len(edges) - 1 when the edges are finite and do not decrease, else 0 (none).

    lead, flow, tch: done - arrival, done - commit, touch of the items arriving at or after lo
    that are done (summarize's pooled times), in item order: the finished items of window 0
    when none of them arrived at or after hi, and those of each batch in a contiguous segment
    when the batches follow item order (flags). nums[w]: finished, completed, unfinished,
    rejected, first index in lead. sums[w]: the pairwise sums of lead, flow, touch, wip and
    backlog (`_overlap` of every item, zeros included: rows holds the items that touch a
    window). delivered: `predictability`'s value done per interval (n_int > 0); tdone: done
    items in [lo, hi] by type. Returns (items in lead, flags: 1 window 0 is lead[:nums[0, 0]],
    2 the batches are segments of lead, 4 flow == lead, 8 the batches were done).
    """
    n = len(arrival)
    B = len(edges) - 1
    for b in range(B):
        if not (edges[b] <= edges[b + 1] and edges[b] - edges[b] == 0.0 and edges[b + 1] - edges[b + 1] == 0.0):
            B = 0
    W = B + 1
    closed = np.empty(max(B, 1), dtype=np.bool_)
    for b in range(B):
        closed[b] = not edges[b + 1] < hi
    first = np.full((2, W), -1, dtype=np.int64)
    last = np.full((2, W), -1, dtype=np.int64)
    bfin = np.zeros(W, dtype=np.int64)     # per window: finished, completed, unfinished, first in lead
    bcomp = np.zeros(W, dtype=np.int64)
    bunf = np.zeros(W, dtype=np.int64)
    bseg = np.full(W, -1, dtype=np.int64)
    delivered[:] = 0.0
    tdone[:] = 0
    n_ok = 0
    full = True
    contiguous = True
    same = True
    lastb = -1
    ba = bd = bc = 0                      # where the last searches ended
    for k in range(n):
        a = arrival[k]
        c = commit[k]
        d = done[k]
        fin = d == d
        arrived = a >= lo
        inside = arrived and a < hi
        b = 0
        if inside and B > 0:
            b = ba = _edge_index(edges, a, False, ba)
        if arrived and fin:
            ld = d - a
            fl = d - c
            lead[n_ok] = ld
            flow[n_ok] = fl
            tch[n_ok] = touch[k]
            if not (fl == ld and (fl != 0.0 or math.copysign(1.0, fl) == math.copysign(1.0, ld))):
                same = False                 # (bit for bit: -0.0 is not 0.0 here)
            if inside:
                bfin[0] += 1
                if B > 0:
                    if b < lastb:
                        contiguous = False
                    lastb = b
                    if bseg[b + 1] < 0:
                        bseg[b + 1] = n_ok
                    bfin[b + 1] += 1
            else:
                full = False
                lastb = B
            n_ok += 1
        elif inside and not fin:
            bunf[0] += 1
            if B > 0:
                bunf[b + 1] += 1
        if fin:
            if d >= lo and d <= hi:
                bcomp[0] += 1
                tdone[itype[k]] += 1
            if n_int > 0:
                x = np.floor((d - lo) / interval)
                if x >= 0.0 and x < n_int:
                    delivered[int(x)] += value[k]
            if B > 0:
                bb = bd = _edge_index(edges, d, False, bd)
                e1 = edges[bb + 1]
                if d >= edges[bb] and (d < e1 or (closed[bb] and d <= e1)):
                    bcomp[bb + 1] += 1
                while bb > 0 and d == edges[bb]:      # on an edge: the batch below if it is closed
                    bb -= 1
                    if closed[bb]:
                        bcomp[bb + 1] += 1
        # wip: [commit, done); backlog: [arrival, commit) (NaN: still open at the window's end),
        # over window 0 and the batches the interval can touch (the others: no overlap). A row
        # holds the items that touch its window: rows[q, w, k] = v, zeros since the last one
        for q in range(2):
            if q == 0:
                x0 = c
                x1 = d
                if not c == c:
                    continue
            else:
                x0 = a
                x1 = c
                if c == a or not a == a:
                    continue
            v = _ovf(x0, x1, lo, hi)
            if v > 0.0:
                lw = last[q, 0]
                if lw < 0:
                    first[q, 0] = k
                else:
                    for i in range(lw + 1, k):
                        rows[q, 0, i] = 0.0
                rows[q, 0, k] = v
                last[q, 0] = k
            if B > 0:
                b0 = bc = _edge_index(edges, x0, False, bc)
                b1 = B - 1 if not x1 == x1 else _edge_index(edges, x1, True, b0)
                for t in range(b0, b1 + 1):
                    v = _ovf(x0, x1, edges[t], edges[t + 1])
                    if v > 0.0:
                        w = t + 1
                        lw = last[q, w]
                        if lw < 0:
                            first[q, w] = k
                        else:
                            for i in range(lw + 1, k):
                                rows[q, w, i] = 0.0
                        rows[q, w, k] = v
                        last[q, w] = k
    for w in range(W):
        nums[w, 0] = bfin[w]
        nums[w, 1] = bcomp[w]
        nums[w, 2] = bunf[w]
        nums[w, 3] = 0
        nums[w, 4] = bseg[w] if w > 0 else 0
    for r in rejected:
        if r >= lo and r < hi:
            nums[0, 3] += 1
        for bb in range(B):
            if r >= edges[bb] and r < edges[bb + 1]:
                nums[bb + 1, 3] += 1
    for w in range(W):
        nf = nums[w, 0]
        at = 0 if w == 0 else nums[w, 4]
        if nf > 0:
            sums[w, 0] = _pairwise(lead, at, nf, at, at + nf)
            sums[w, 1] = _pairwise(flow, at, nf, at, at + nf) if not same else sums[w, 0]
            sums[w, 2] = _pairwise(tch, at, nf, at, at + nf)
        else:
            sums[w, 0] = sums[w, 1] = sums[w, 2] = 0.0
        for q in range(2):
            sums[w, 3 + q] = _pairwise(rows[q, w], 0, n, first[q, w], last[q, w] + 1) if first[q, w] >= 0 else 0.0
    return n_ok, (1 if full else 0) | (2 if contiguous else 0) | (4 if same else 0) | (8 if B > 0 else 0)


def _visit_pass2(vs, enter, ready, start, end, leave, work, reworked, person, person_pool, lo, hi, sums, counts,
                 pool_sum, grouped):  # pragma: no cover - compiled
    """`_visit_pass` for a finite window, with the pools' busy sums: a count of each pool's started
    visits (who started them), then one pass over the visits: the per-step totals accumulated
    step by step in visit order (as np.bincount adds them), each started visit's busy overlap put
    in its pool's part of `grouped` in visit order; each part summed pairwise (``busy[mine].sum()``)."""
    nv = len(vs)
    n = sums.shape[1]
    n_pools = len(pool_sum)
    acc = np.zeros((n, 8))                  # step j's totals side by side: one cache line
    cnt = np.zeros((n, 8), dtype=np.int64)
    at = np.zeros(n_pools + 1, dtype=np.int64)
    for i in range(nv):                     # where each pool's part of `grouped` starts
        g = person[i]
        if g >= 0:
            at[person_pool[g] + 1] += 1
    for p in range(n_pools):
        at[p + 1] += at[p]
    fill = at[:n_pools].copy()
    for i in range(nv):
        j = vs[i]
        e0 = enter[i]
        s0 = start[i]
        f0 = end[i]
        l0 = leave[i]
        b = _ovf(s0, f0, lo, hi)
        acc[j, 0] += b
        acc[j, 1] += _ovf(ready[i], s0, lo, hi)
        acc[j, 2] += _ovf(e0, l0, lo, hi)
        if e0 >= lo:
            if s0 == s0:
                acc[j, 3] += s0 - e0
                cnt[j, 0] += 1
            if f0 == f0:
                acc[j, 4] += f0 - s0
                acc[j, 6] += work[i]
                cnt[j, 1] += 1
            if l0 == l0:
                acc[j, 5] += l0 - f0
                cnt[j, 2] += 1
        if f0 >= lo and f0 <= hi:
            cnt[j, 3] += 1
            if reworked[i]:
                cnt[j, 4] += 1
        g = person[i]
        if g >= 0:
            p = person_pool[g]
            grouped[fill[p]] = b
            fill[p] += 1
    for j in range(n):
        for q in range(7):
            sums[q, j] = acc[j, q]
        for q in range(5):
            counts[q, j] = cnt[j, q]
    for p in range(n_pools):
        pool_sum[p] = _pairwise(grouped, at[p], at[p + 1] - at[p], at[p], at[p + 1])


def _band(delivered, n, low, high, out):  # pragma: no cover - compiled
    """`_predictability` of delivered[:n] (n >= 2) into out: (mean, in_band), NaN without a plan.

    As numpy: planned = the running sums (one by one) / 1, 2, ...; the ratios where planned > 0;
    their mean (pairwise sum / count) and the share inside [low, high].
    """
    ratio = np.empty(n)
    k = 0
    cum = 0.0
    for i in range(n - 1):
        cum += delivered[i]
        planned = cum / (i + 1)
        if planned > 0:
            ratio[k] = delivered[i + 1] / planned
            k += 1
    out[0] = out[1] = np.nan
    if k:
        inside = 0
        for i in range(k):
            if ratio[i] >= low and ratio[i] <= high:
                inside += 1
        out[0] = _pairwise(ratio, 0, k, 0, k) / k
        out[1] = inside / k


def _step_table(sums, counts, capacity, span, out):  # pragma: no cover - compiled
    """`_step_columns`' float columns (utilization, queue_length, wip, wait, process_time, blocked,
    touch_time, pct_complete_accurate, throughput) into the rows of out, elementwise as numpy."""
    nan = np.nan
    for j in range(sums.shape[1]):
        ok = span > 0
        out[0, j] = sums[0, j] / span / capacity[j] if ok else nan
        out[1, j] = sums[1, j] / span if ok else nan
        out[2, j] = sums[2, j] / span if ok else nan
        for r, (t, c) in enumerate(((3, 0), (4, 1), (5, 2), (6, 1))):
            out[3 + r, j] = sums[t, j] / counts[c, j] if counts[c, j] > 0 else nan
        checked = counts[3, j]
        out[7, j] = 1.0 - counts[4, j] / checked if checked > 0 else nan
        out[8, j] = checked / span if ok else nan


def _ci_rows(V, out):  # pragma: no cover - compiled
    """For each row of V, `ci95`'s numbers: out[r] = (the finite values, their mean, their
    standard deviation with ddof=1), as numpy's mean and std compute them (pairwise sums)."""
    m = V.shape[1]
    x = np.empty(max(m, 1))
    sq = np.empty(max(m, 1))
    for r in range(V.shape[0]):
        n = 0
        for i in range(m):
            v = V[r, i]
            if v - v == 0.0:
                x[n] = v
                n += 1
        out[r, 0] = n
        out[r, 1] = out[r, 2] = np.nan
        if n >= 2:
            mean = _pairwise(x, 0, n, 0, n) / n
            for i in range(n):
                dv = x[i] - mean
                sq[i] = dv * dv
            out[r, 1] = mean
            out[r, 2] = math.sqrt(_pairwise(sq, 0, n, 0, n) / (n - 1))


_SUMMARY_KERNELS: tuple | None = None


def _summary_kernels():
    """(_item_pass, _visit_pass2, _percentiles, _ci_rows, _band, _step_table) compiled by numba
    (cache=True), with the functions they call; plain Python without numba."""
    global _SUMMARY_KERNELS, _ovf, _pairwise, _select, _order_stats, _edge_index, _percentiles
    if _SUMMARY_KERNELS is None:
        _kernels()
        jit = njit(cache=True)
        _ovf, _pairwise, _select, _order_stats = jit(_ovf), jit(_pairwise), jit(_select), jit(_order_stats)
        _edge_index, _percentiles = jit(_edge_index), jit(_percentiles)
        _SUMMARY_KERNELS = (jit(_item_pass), jit(_visit_pass2), _percentiles, jit(_ci_rows), jit(_band),
                            njit(cache=True, error_model="numpy")(_step_table))
    return _SUMMARY_KERNELS


def _quantiles(x: np.ndarray, percentiles) -> np.ndarray:
    """np.percentile(x, percentiles), then x.min() and x.max() (`_percentiles`; numpy itself
    when x holds NaN). x is not changed."""
    q = np.true_divide(percentiles, 100)            # np.percentile's quantiles
    out = np.empty(len(q) + 2)
    if not len(x):
        out.fill(np.nan)
    elif not _summary_kernels()[2](x, len(x), q, out, scratch("select", len(x))):
        out[:len(q)] = np.percentile(x, percentiles)
        out[len(q):] = x.min(), x.max()
    return out


def _ci95s(rows: list[list[float]]) -> list[list[float | None]]:
    """`ci95` of each row (rows of one length), in one compiled call."""
    if not rows or not len(rows[0]):
        return [[None, None] for _ in rows]
    out = np.empty((len(rows), 3))
    _summary_kernels()[3](np.array(rows, dtype=np.float64), out)
    cis = []
    for n, mean, std in out:
        n = int(n)
        if n < 2:
            cis.append([None, None])
        else:
            half = float(_t975(n - 1) * std / math.sqrt(n))
            cis.append([mean - half, mean + half])
    return cis


def _window(span, nums, sums) -> dict:
    """`window_metrics`'s dict from `_item_pass`'s counts and sums of one window."""
    nf, completed, unfinished, rejected = (int(x) for x in nums[:4])
    s_lead, s_flow, s_tch, s_wip, s_back = (float(x) for x in sums)
    return {
        "lead_time": s_lead / nf if nf else math.nan,
        "flow_time": s_flow / nf if nf else math.nan,
        "throughput": float(completed) / span if span > 0 else math.nan,
        "wip": s_wip / span if span > 0 else math.nan,
        "backlog": s_back / span if span > 0 else math.nan,
        "flow_efficiency": s_tch / s_flow if s_flow > 0 else math.nan,
        "completed": completed,
        "rejected": rejected,
        "unfinished": unfinished,
    }


def _replication(rec: Records, interval: float, batches: bool):
    """What summarize reads from one replication's items, in one pass (`_item_pass`):
    (window metrics over [warmup, end], the batch windows' metrics or None, lead times and flow
    times of the items arriving after the warmup that are done (scratch memory: valid until the
    next call; flow is lead when they are the same), predictability, done items by type).
    None when the window is not finite (then the functions above do it)."""
    lo, hi = rec.warmup, rec.end
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    n = rec.n_items
    n_int = int(math.floor((hi - lo) / interval + 1e-9)) if interval > 0 else 0
    edges = np.linspace(rec.warmup, rec.end, BATCHES + 1) if batches else np.array([float(lo)])
    w = len(edges)
    lead, flow, tch = scratch("items", 3 * n).reshape(3, n)
    # the wip (and backlog, unless every item committed when it arrived) overlaps per window
    q = 1 if rec.commit is rec.arrival or np.array_equal(rec.commit, rec.arrival) else 2
    rows = scratch("rows", q * w * n).reshape(q, w, n)
    nums = np.empty((w, 5), dtype=np.int64)
    sums = np.empty((w, 5))
    delivered = np.empty(max(n_int, 1))
    tdone = np.empty(len(rec.type_names), dtype=np.int64)
    n_ok, flags = _summary_kernels()[0](
        _f64(rec.arrival), _f64(rec.commit), _f64(rec.done), _f64(rec.touch), _i64(rec.item_type),
        _f64(rec.item_value), _f64(rec.rejected_times), float(lo), float(hi), edges, float(interval),
        n_int if n_int >= 2 else 0, lead, flow, tch, rows, nums, sums, delivered, tdone)
    m = _window(hi - lo, nums[0], sums[0]) if flags & 1 else window_metrics(rec, lo, hi)
    windows = None
    if batches:                                      # `_batch_windows`
        windows = [_window(edges[i + 1] - edges[i], nums[i + 1], sums[i + 1]) if (flags & 10) == 10
                   else window_metrics(rec, edges[i], edges[i + 1]) for i in range(BATCHES)]
    lead = lead[:n_ok]
    flow = lead if flags & 4 else flow[:n_ok]
    p = {"mean": math.nan, "in_band": math.nan}
    if n_int >= 2:
        out = np.empty(2)
        _summary_kernels()[4](delivered, n_int, BAND[0] - 1e-12, BAND[1] + 1e-12, out)
        p = {"mean": float(out[0]), "in_band": float(out[1])}
    return m, windows, lead, flow, p, tdone

def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else math.nan


def _f64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _i64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


def _window_buffers(n: int) -> tuple[np.ndarray, ...]:
    return tuple(np.empty(n) for _ in range(5))


def window_metrics(rec: Records, lo: float, hi: float, _buffers: tuple[np.ndarray, ...] | None = None
                   ) -> dict[str, float]:
    """The scalar flow metrics of one replication over the window [lo, hi).

    The numbers of the numpy expressions (the items arriving in the window; `_overlap` sums)::

        arrived = (arrival >= lo) & (arrival < hi);  finished = arrived & ~isnan(done)
        lead = done[finished] - arrival[finished];   flow = done[finished] - commit[finished]
        done_in = (done >= lo) & (done < hi)   (done <= hi when hi is the end of the run)
        wip = _overlap(commit, done, lo, hi).sum() / span;  backlog: _overlap(arrival, commit, ...)
        flow_efficiency = touch[finished].sum() / flow.sum()

    computed in one pass over the items (`_window_pass`); `_buffers` (from `_window_buffers`)
    are reused by the batch-means windows of one replication.
    """
    span = hi - lo
    bufs = _buffers if _buffers is not None else _window_buffers(rec.n_items)
    nf, completed, unfinished = _kernels()[0](_f64(rec.arrival), _f64(rec.commit), _f64(rec.done), _f64(rec.touch),
                                             float(lo), float(hi), not hi < rec.end, *bufs)
    lead, flow, tch, wip, backlog = bufs[0][:nf], bufs[1][:nf], bufs[2][:nf], bufs[3], bufs[4]
    flow_sum = float(flow.sum())
    rejected = rec.rejected_times
    return {
        "lead_time": _mean(lead),
        "flow_time": _mean(flow),
        "throughput": float(completed) / span if span > 0 else math.nan,
        "wip": float(wip.sum()) / span if span > 0 else math.nan,
        "backlog": float(backlog.sum()) / span if span > 0 else math.nan,
        "flow_efficiency": float(tch.sum()) / flow_sum if flow_sum > 0 else math.nan,
        "completed": int(completed),
        "rejected": int(((rejected >= lo) & (rejected < hi)).sum()),
        "unfinished": int(unfinished),
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
    return _predictability(np.bincount(idx[keep], weights=rec.item_value[ok][keep], minlength=n), n)


def _predictability(delivered: np.ndarray, n: int) -> dict[str, float]:
    """`predictability` from the value delivered in each of its n >= 2 intervals."""
    delivered = delivered[:n]
    planned = np.cumsum(delivered)[:-1] / np.arange(1, n)
    valid = planned > 0
    ratio = delivered[1:][valid] / planned[valid]
    if not len(ratio):
        return {"mean": math.nan, "in_band": math.nan, "intervals": n}
    in_band = (ratio >= BAND[0] - 1e-12) & (ratio <= BAND[1] + 1e-12)
    return {"mean": float(ratio.mean()), "in_band": float(in_band.mean()), "intervals": n}


def _visit_totals(rec: Records) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The visits' totals over the window [warmup, end]: (sums, counts, the pools' busy times,
    None) from `_visit_pass2` (a finite window), else (sums, counts, the busy overlaps grouped
    by pool, where each pool's group starts) from `_visit_pass`."""
    return visit_totals(rec.visit_step, rec.visit_enter, rec.visit_ready, rec.visit_start, rec.visit_end,
                        rec.visit_leave, rec.visit_work, rec.visit_reworked, rec.visit_person, rec.person_pool,
                        len(rec.step_names), len(rec.pool_names), rec.warmup, rec.end)


def visit_totals(step, enter, ready, start, end, leave, work, reworked, person, person_pool, n: int, n_pools: int,
                 lo: float, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """`_visit_totals` of any visits (a replication's, or a block of a streaming run's)."""
    nv = len(step)
    sums = np.zeros((7, n))
    counts = np.zeros((5, n), dtype=np.int64)
    args = (_i64(step), _f64(enter), _f64(ready), _f64(start), _f64(end), _f64(leave), _f64(work),
            np.ascontiguousarray(reworked, dtype=np.bool_), _i64(person), _i64(person_pool), float(lo), float(hi),
            sums, counts)
    if math.isfinite(lo) and math.isfinite(hi):
        pool_sum = np.empty(n_pools)
        _summary_kernels()[1](*args, pool_sum, scratch("grouped", nv))
        return sums, counts, pool_sum, None
    pool_busy = np.empty(nv)
    pool_start = np.zeros(n_pools + 1, dtype=np.int64)
    _kernels()[1](*args, pool_busy, pool_start)
    return sums, counts, pool_busy, pool_start


def step_metrics(rec: Records, _totals=None) -> pd.DataFrame:
    return pd.DataFrame(_step_columns(rec, _totals))


def _step_columns(rec: Records, _totals=None) -> dict:
    """Per-step statistics of one replication (one row per step), vectorised over all visits.

    The totals are those of np.bincount over the visits (`_visit_pass`, one pass)::

        fresh = enter >= lo;  started, ended, left = fresh & ~isnan(start / end / leave)
        checked = (end >= lo) & (end <= hi)
        busy = bincount(step, _overlap(start, end));  queue: _overlap(ready, start);  wip: _overlap(enter, leave)
        wait, process_time, blocked, touch_time: bincount(step[mask], values[mask]) / bincount(step[mask])
        with (start - enter, started), (end - start, ended), (leave - end, left), (work, ended)
    """
    lo, hi = rec.warmup, rec.end
    span = hi - lo
    n = len(rec.step_names)
    sums, counts, _, _ = _totals if _totals is not None else _visit_totals(rec)

    def mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    if _SUMMARY_KERNELS is not None:
        table = np.empty((9, n))
        _SUMMARY_KERNELS[5](sums, counts, _i64(rec.step_capacity), float(span), table)
        return {"replication": rec.replication, "step": rec.step_names,
                **dict(zip(("utilization", "queue_length", "wip", "wait", "process_time", "blocked", "touch_time",
                            "pct_complete_accurate", "throughput"), table, strict=True)),
                "visits": counts[3].astype(np.int64)}
    with np.errstate(invalid="ignore", divide="ignore"):
        per_span = (lambda x: x / span) if span > 0 else (lambda x: np.full(n, np.nan))
        busy = sums[0]
        n_checked = counts[3]
        reworked = counts[4]
        return {
            "replication": rec.replication,
            "step": rec.step_names,
            "utilization": per_span(busy) / rec.step_capacity,
            "queue_length": per_span(sums[1]),
            "wip": per_span(sums[2]),
            "wait": mean(sums[3], counts[0]),
            "process_time": mean(sums[4], counts[1]),
            "blocked": mean(sums[5], counts[2]),
            "touch_time": mean(sums[6], counts[1]),
            "pct_complete_accurate": np.where(n_checked > 0, 1.0 - reworked / np.maximum(n_checked, 1), np.nan),
            "throughput": per_span(n_checked.astype(float)),
            "visits": n_checked.astype(np.int64),
        }


def pool_utilization(rec: Records, _totals=None) -> dict[str, float]:
    """Busy time of each pool's people over the window / (people x window).

    A pool's busy time is ``_overlap(start, end)[mine].sum()``, mine = the visits its people
    started, in visit order (`_visit_pass2` sums them as numpy does, `_visit_pass` groups them).
    """
    lo, hi = rec.warmup, rec.end
    span = hi - lo
    _, _, busy, at = _totals if _totals is not None else _visit_totals(rec)
    sizes = np.bincount(_i64(rec.person_pool), minlength=len(rec.pool_names))
    out = {}
    for p, name in enumerate(rec.pool_names):
        size = int(sizes[p])
        total = busy[p] if at is None else busy[at[p]:at[p + 1]].sum()
        out[name] = float(total / (size * span)) if span > 0 and size else math.nan
    return out


@functools.lru_cache(maxsize=64)
def _frame_parts(names: tuple[str, ...], steps: tuple[str, ...]) -> tuple:
    """The column index, row index and step column of `pd.DataFrame(columns)` (immutable)."""
    ref = pd.DataFrame({name: list(steps) if name == "step" else [0] * len(steps) for name in names})
    return ref.columns, ref.index, ref["step"].array


def _frame(columns: dict) -> pd.DataFrame:
    """``pd.DataFrame(columns)`` of `_step_columns` (the same frame) from arrays, without pandas'
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


def _batch_windows(rec: Records) -> list[tuple[float, float]]:
    edges = np.linspace(rec.warmup, rec.end, BATCHES + 1)
    return list(zip(edges[:-1], edges[1:], strict=True))


def flow_totals(per_rep: list[dict], type_names: list[str], done_by_type: np.ndarray) -> dict:
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


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


SCALARS = ("lead_time", "flow_time", "throughput", "wip", "backlog", "flow_efficiency")


def summarize(records: list[Records], *, planning_interval: float | None = None,
              steady_state: bool = True) -> dict:
    """The `metrics`, `steps`, `pools` and `replications` parts of summary.json.

    With one replication, intervals come from batch means, which assume a steady state; a
    transient run (`steady_state=False`: backlog or trace arrivals) then gets no interval.
    """
    # one pass over each replication's items (`_replication`), the functions above when its
    # window is not finite: the same numbers
    single = len(records) == 1
    counts = np.zeros(len(records[0].type_names))
    times: dict[str, list[np.ndarray]] = {"lead_time": [], "flow_time": []}
    per_rep = []
    batches = None
    pct: dict = {}
    for rec in records:
        interval = planning_interval or (rec.end - rec.warmup) / 10
        stats = _replication(rec, interval, single and steady_state)
        if stats is None:
            ok = (rec.arrival >= rec.warmup) & ~np.isnan(rec.done)
            done = rec.done[ok]
            lead, flow = done - rec.arrival[ok], done - rec.commit[ok]
            m = window_metrics(rec, rec.warmup, rec.end)
            p = predictability(rec, interval)
            if single and steady_state:
                batches = [window_metrics(rec, lo, hi) for lo, hi in _batch_windows(rec)]
            done_in = (rec.done >= rec.warmup) & (rec.done <= rec.end)
            counts += np.bincount(rec.item_type[done_in], minlength=len(counts))
        else:
            m, batches, lead, flow, p, tdone = stats
            counts += tdone
        if single:                                    # the pooled times are this replication's
            pct = {"lead_time": _quantiles(lead, PERCENTILES)}
            pct["flow_time"] = pct["lead_time"] if flow is lead else _quantiles(flow, PERCENTILES)
            times = {"lead_time": [lead], "flow_time": [flow]}
        else:                                         # (copies: `_replication` reuses its memory)
            times["lead_time"].append(lead.copy())
            times["flow_time"].append(flow.copy())
        if not len(lead):
            p85 = math.nan
        elif single and 85 in PERCENTILES:
            p85 = float(pct["lead_time"][PERCENTILES.index(85)])
        else:
            p85 = float(_quantiles(lead, (85,))[0])
        per_rep.append({"replication": rec.replication, "seed": rec.seed, **m,
                        "lead_time_p85": p85,
                        "flow_predictability": p["mean"], "predictability_in_band": p["in_band"],
                        "planning_interval": interval})
    pooled = {key: vals[0] if single else np.concatenate(vals) for key, vals in times.items()}
    if not single:
        pct = {key: _quantiles(x, PERCENTILES) for key, x in pooled.items()}
    # confidence intervals: across replications, or batch means within a single one
    if len(records) >= 2:
        units = {k: [r[k] for r in per_rep] for k in SCALARS + ("flow_predictability",)}
    elif not steady_state:
        units = {k: [] for k in SCALARS + ("flow_predictability",)}
    else:
        units = {k: [b[k] for b in batches] for k in SCALARS}
        units["flow_predictability"] = []
    metrics: dict = {}
    cis = dict(zip(SCALARS, _ci95s([units[key] for key in SCALARS]), strict=True))
    for key in SCALARS:
        values = [r[key] for r in per_rep]
        if not any(math.isfinite(x) for x in values):
            mean = None
        elif single:                                  # np.nanmean of one finite value: 0.0 + it
            mean = _finite(0.0 + values[0])
        else:
            mean = _finite(float(np.nanmean(values)))
        entry = {"mean": mean, "ci95": [_finite(x) if x is not None else None for x in cis[key]]}
        if key in pooled:
            x, v = pooled[key], pct[key]
            k = len(PERCENTILES)
            entry.update({"min": _finite(v[k]) if len(x) else None,
                          **{f"p{p}": _finite(v[i]) if len(x) else None for i, p in enumerate(PERCENTILES)},
                          "max": _finite(v[k + 1]) if len(x) else None,
                          "count": int(len(x))})
        metrics[key] = entry
    metrics["backlog"] = {"mean": metrics["backlog"]["mean"], "ci95": metrics["backlog"]["ci95"]}
    metrics.update(flow_totals(per_rep, records[0].type_names, counts))

    totals = [_visit_totals(rec) for rec in records]
    columns = [_step_columns(rec, t) for rec, t in zip(records, totals, strict=True)]
    cols = ["utilization", "queue_length", "wip", "wait", "process_time", "blocked", "touch_time",
            "pct_complete_accurate", "throughput"]
    if len(columns) == 1:
        # the mean of one replication: what groupby's mean gives for one value per step (its
        # compensated sum starts at 0.0, so 0.0 + x: x, and -0.0 becomes 0.0; NaN stays NaN)
        steps = _frame(columns[0])
        values = {c: np.asarray(columns[0][c], dtype=np.float64) + 0.0 for c in cols}
        step_summary = {name: {c: _finite(float(values[c][i])) for c in cols}
                        for i, name in enumerate(records[0].step_names)}
    else:
        steps = pd.concat([_frame(c) for c in columns], ignore_index=True)
        means = steps.groupby("step", sort=False)[cols].mean()          # NaN replications are skipped
        step_summary = {name: {c: _finite(float(row[c])) for c in cols} for name, row in means.iterrows()}
    pools = [pool_utilization(rec, t) for rec, t in zip(records, totals, strict=True)]
    if single:                                       # np.nanmean of one value: 0.0 + it (NaN: NaN)
        pool_summary = {p: {"utilization": _finite(0.0 + pools[0][p])} for p in records[0].pool_names}
    else:
        pool_summary = {p: {"utilization": _finite(float(np.nanmean([u[p] for u in pools])))}
                        for p in records[0].pool_names}
    reps = [{k: (_finite(v) if isinstance(v, float) else v) for k, v in r.items()} for r in per_rep]
    return {"metrics": metrics, "steps": step_summary, "pools": pool_summary,
            "replications": reps, "_steps_frame": steps}
