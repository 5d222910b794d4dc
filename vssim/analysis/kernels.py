"""The summary's compiled passes: one over a replication's items, one over its visits, and the
arithmetic numpy would do on what they read (sums, percentiles, the moments of an interval).

They hand numpy nothing and do its arithmetic themselves, on the same values in the same order,
so every number is the one the plain numpy expressions give (tests/oracle.py; tests/test_summary.py
holds the summary to it bit for bit):

* np.bincount(idx, weights) adds in index order, one value at a time: the loops do the same;
* a float sum or mean is numpy's pairwise summation (`pairwise_sum`);
* an overlap array with zeros (an item outside a window) is summed as the whole array: a block
  of zeros adds +0.0, so only the items that touch a window are written (`item_pass`'s rows);
* percentiles are numpy's "linear" method on order statistics found by selection (the k-th
  smallest value does not depend on how it is found), interpolated as np.percentile does.

Windows are finite (`vssim.analysis.summary` and `RunStats` check it). Importing this module
imports numba and compiles nothing: each pass compiles on its first call (cache=True). The
summary and the streaming totals import it on first use, so `import vssim` does not import numba.
"""
from __future__ import annotations

import math

import numpy as np

from vssim.compiled import njit

__all__ = ["finite_mean_std", "float64s", "int64s", "item_pass", "pairwise_sum", "percentiles", "predictability_ratios",
           "step_table", "streaming_item_totals", "union_lengths", "visit_pass"]


@njit(cache=True)
def overlap(a: float, b: float, lo: float, hi: float) -> float:  # pragma: no cover - compiled
    """Length of [a, b) ∩ [lo, hi) for a finite window: a NaN b (still open) is read as hi by the
    min, a NaN a (not yet begun) makes the difference NaN, read as 0; never -0."""
    v = (b if b < hi else hi) - (lo if a <= lo else a)
    return v if v > 0.0 else 0.0


@njit(cache=True)
def pairwise_sum(a, start, n, k0, k1):  # pragma: no cover - compiled
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
    # an iterative post-order walk of the halving tree: a node's first value, its length, its state
    # (0: visit the left half next, 1: the right half, 2: add them); the sums wait on their own stack
    node_start = np.empty(64, dtype=np.int64)
    node_len = np.empty(64, dtype=np.int64)
    node_state = np.empty(64, dtype=np.int64)
    partial = np.empty(64)
    n_partial = 0
    depth = 1
    node_start[0] = start
    node_len[0] = n
    node_state[0] = 0
    while depth > 0:
        top = depth - 1
        lo = node_start[top]
        cnt = node_len[top]
        if lo + cnt <= k0 or lo >= k1:
            partial[n_partial] = 0.0
            n_partial += 1
            depth -= 1
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
            partial[n_partial] = res
            n_partial += 1
            depth -= 1
        else:
            half = cnt // 2
            half -= half % 8
            state = node_state[top]
            if state == 0:
                node_state[top] = 1
                node_start[depth] = lo
                node_len[depth] = half
                node_state[depth] = 0
                depth += 1
            elif state == 1:
                node_state[top] = 2
                node_start[depth] = lo + half
                node_len[depth] = cnt - half
                node_state[depth] = 0
                depth += 1
            else:
                right = partial[n_partial - 1]
                left = partial[n_partial - 2]
                n_partial -= 2
                partial[n_partial] = left + right
                n_partial += 1
                depth -= 1
    return 0.0 + partial[0]


# --------------------------------------------------------------------------- percentiles
@njit(cache=True)
def select(x, n, ranks):  # pragma: no cover - compiled
    """Reorder x[:n] so that x[r] is its r-th smallest value for each r in `ranks` (sorted, no
    NaN in x): quickselect with three-way partitions (repeated values cost nothing), small
    segments sorted, and a sort when a segment does not shrink fast enough."""
    seg_lo = np.empty(256, dtype=np.int64)
    seg_hi = np.empty(256, dtype=np.int64)
    rank_lo = np.empty(256, dtype=np.int64)          # the segment's ranks: ranks[rank_lo:rank_hi]
    rank_hi = np.empty(256, dtype=np.int64)
    seg_depth = np.empty(256, dtype=np.int64)
    sp = 1
    seg_lo[0], seg_hi[0], rank_lo[0], rank_hi[0], seg_depth[0] = 0, n, 0, len(ranks), 0
    while sp > 0:
        sp -= 1
        lo, hi, r0, r1, depth = seg_lo[sp], seg_hi[sp], rank_lo[sp], rank_hi[sp], seg_depth[sp]
        if r0 >= r1 or hi - lo < 2:
            continue
        if hi - lo <= 24 or depth > 48 or sp > 250:
            x[lo:hi].sort()
            continue
        a, b, c = x[lo], x[(lo + hi) // 2], x[hi - 1]
        if a > b:
            a, b = b, a
        if b > c:
            b = c
            if a > b:
                b = a
        pivot = b                            # the median of three
        lt, i, gt = lo, lo, hi               # [lo, lt) < pivot, [lt, i) == pivot, [gt, hi) > pivot
        while i < gt:
            v = x[i]
            if v < pivot:
                x[i] = x[lt]
                x[lt] = v
                lt += 1
                i += 1
            elif v > pivot:
                gt -= 1
                x[i] = x[gt]
                x[gt] = v
            else:
                i += 1
        # ranks below lt go left, at or above gt right; those in [lt, gt) hold the pivot
        m0 = r0
        while m0 < r1 and ranks[m0] < lt:
            m0 += 1
        m1 = m0
        while m1 < r1 and ranks[m1] < gt:
            m1 += 1
        if r0 < m0:
            seg_lo[sp], seg_hi[sp], rank_lo[sp], rank_hi[sp], seg_depth[sp] = lo, lt, r0, m0, depth + 1
            sp += 1
        if m1 < r1:
            seg_lo[sp], seg_hi[sp], rank_lo[sp], rank_hi[sp], seg_depth[sp] = gt, hi, m1, r1, depth + 1
            sp += 1


@njit(cache=True)
def order_statistics(x, n, ranks, vals, buf):  # pragma: no cover - compiled
    """vals[i] = the ranks[i]-th smallest of x[:n] (ranks sorted), without reordering x: a
    histogram of 2048 buckets between the min and the max (the bucket of a value never decreases
    with it), then only the buckets holding a wanted rank are gathered (into `buf`, n long) and
    sorted. Returns -1, or the index of the first NaN in x[:n] (nothing in vals), or -2 when the
    values do not spread enough for buckets (the caller selects)."""
    mn = x[0]
    mx = x[0]
    for i in range(n):
        v = x[i]
        if v != v:
            return i
        mn = v if v < mn else mn
        mx = v if v > mx else mx
    span = mx - mn
    if not (span > 0.0 and span < np.inf):
        if span == 0.0:
            for i in range(len(ranks)):
                vals[i] = mn
            return -1
        return -2
    n_buckets = 2048
    scale = (n_buckets - 1) / span
    if not scale < np.inf:
        return -2
    before = np.zeros(n_buckets + 1, dtype=np.int64)     # counts, then the values in the buckets before b
    for i in range(n):
        before[int((x[i] - mn) * scale)] += 1
    total = 0
    for b in range(n_buckets + 1):
        c = before[b]
        before[b] = total
        total += c
    wanted = np.zeros(n_buckets + 1, dtype=np.bool_)
    bucket_of_rank = np.empty(len(ranks), dtype=np.int64)
    b = 0
    for i in range(len(ranks)):
        r = ranks[i]
        while b < n_buckets and before[b + 1] <= r:
            b += 1
        bucket_of_rank[i] = b
        wanted[b] = True
    # gather the wanted buckets, bucket by bucket, then sort each
    pos = np.empty(n_buckets + 1, dtype=np.int64)
    at = 0
    for b in range(n_buckets + 1):
        if wanted[b]:
            pos[b] = at
            at += (before[b + 1] if b < n_buckets else n) - before[b]
    fill = pos.copy()
    for i in range(n):
        v = x[i]
        b = int((v - mn) * scale)
        if wanted[b]:
            buf[fill[b]] = v
            fill[b] += 1
    for b in range(n_buckets + 1):
        if wanted[b]:
            buf[pos[b]:fill[b]].sort()
    for i in range(len(ranks)):
        b = bucket_of_rank[i]
        vals[i] = buf[pos[b] + ranks[i] - before[b]]
    return -1


@njit(cache=True)
def percentiles(x, n, q, out, buf):  # pragma: no cover - compiled
    """np.percentile(x[:n], 100 * q) ("linear"), then x[:n].min() and .max(), into out (len(q) + 2);
    `buf`: n values of scratch; n >= 1. x is not changed.

    As numpy: the virtual index v = (n - 1) * q; at or above n - 1 the last value (and gamma
    v + 1), else the values at floor(v) and floor(v) + 1 with gamma = v - floor(v); then
    ``a + (b - a) * gamma``, or ``b - (b - a) * (1 - gamma)`` when gamma >= 0.5. A NaN in x
    makes every number NaN (numpy's percentile, min and max propagate it): x's first NaN.
    """
    k = len(q)
    idx = np.empty(2 * k + 2, dtype=np.int64)
    gamma = np.empty(k)
    top = n - 1
    for j in range(k):
        v = top * q[j]
        if v >= top:
            idx[2 * j] = top
            idx[2 * j + 1] = top
            gamma[j] = v + 1.0               # numpy's previous index is -1 there
        else:
            f = np.floor(v)
            idx[2 * j] = int(f)
            idx[2 * j + 1] = int(f) + 1
            gamma[j] = v - f
    idx[2 * k] = 0
    idx[2 * k + 1] = top
    ranks = np.unique(idx)
    vals = np.empty(len(ranks))
    status = order_statistics(x, n, ranks, vals, buf)
    if status >= 0:
        out[:] = x[status]
        return
    if status == -2:
        buf[:n] = x[:n]
        select(buf, n, ranks)
        for i in range(len(ranks)):
            vals[i] = buf[ranks[i]]
    for j in range(k):
        a = vals[np.searchsorted(ranks, idx[2 * j])]
        b = vals[np.searchsorted(ranks, idx[2 * j + 1])]
        t = gamma[j]
        diff = b - a
        out[j] = b - diff * (1.0 - t) if t >= 0.5 else a + diff * t
    out[k] = vals[0]
    out[k + 1] = vals[len(ranks) - 1]


# --------------------------------------------------------------------------- the items
@njit(cache=True)
def batch_of(edges, x, strict, b):  # pragma: no cover - compiled
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


@njit(cache=True)
def item_pass(arrival, commit, done, touch, item_type, value, rejected, lo, hi, edges, interval, n_intervals,
              lead, flow, touch_done, rows, counts, sums, delivered, done_by_type):  # pragma: no cover - compiled
    """The windows of a replication in one pass over its items, and what else the summary reads
    from them. Windows: w = 0 is [lo, hi]; w = 1..B the batches [edges[w - 1], edges[w]) (closed
    at the top when edges[w] is not below hi), B = len(edges) - 1 (edges finite, not decreasing).

    lead, flow, touch_done: done - arrival, done - commit, touch of the items arriving at or after
    lo that are done (summarize's pooled times), in item order. counts[w]: finished (arrived in
    the window and done), completed (done in it), unfinished (arrived in it, not done), rejected.
    sums[w]: the pairwise sums of the finished items' lead, flow and touch, and of every item's
    wip and backlog overlap (zeros included: rows holds the items that touch a window).
    delivered: `predictability`'s value done per interval (n_intervals > 0); done_by_type: items
    done in [lo, hi] by type. Returns (items in lead, whether flow is lead bit for bit).

    A window's finished items are summed in item order: they are lead[:counts[0, 0]] and each
    batch's a segment of lead when the items arrive in order (as every engine makes them) and
    none that is done arrived at or after hi; otherwise they are first gathered (`regroup`).
    """
    n = len(arrival)
    n_batches = len(edges) - 1
    for b in range(n_batches):
        if not edges[b] <= edges[b + 1]:
            raise ValueError("batch edges must be finite and must not decrease")
    n_windows = n_batches + 1
    closed = np.empty(max(n_batches, 1), dtype=np.bool_)
    for b in range(n_batches):
        closed[b] = not edges[b + 1] < hi
    first = np.full((2, n_windows), -1, dtype=np.int64)   # the first and last item written in rows[q, w]
    last = np.full((2, n_windows), -1, dtype=np.int64)
    finished = np.zeros(n_windows, dtype=np.int64)
    completed = np.zeros(n_windows, dtype=np.int64)
    unfinished = np.zeros(n_windows, dtype=np.int64)
    segment = np.full(n_windows, -1, dtype=np.int64)     # where window w's finished items start in lead
    segment[0] = 0
    delivered[:] = 0.0
    done_by_type[:] = 0
    n_done = 0
    in_order = True
    past_window = False                  # an item that arrived at or after hi is done
    same = True
    last_batch = -1
    at_arrival = at_done = at_commit = 0  # the batches where the last searches ended
    for k in range(n):
        a = arrival[k]
        c = commit[k]
        d = done[k]
        fin = d == d
        arrived = a >= lo
        inside = arrived and a < hi
        b = 0
        if inside and n_batches > 0:
            b = at_arrival = batch_of(edges, a, False, at_arrival)
        if arrived and fin:
            lt = d - a
            ft = d - c
            lead[n_done] = lt
            flow[n_done] = ft
            touch_done[n_done] = touch[k]
            if not (ft == lt and (ft != 0.0 or math.copysign(1.0, ft) == math.copysign(1.0, lt))):
                same = False                 # (bit for bit: -0.0 is not 0.0 here)
            if inside:
                if past_window or b < last_batch:
                    in_order = False
                last_batch = b
                finished[0] += 1
                if n_batches > 0:
                    if segment[b + 1] < 0:
                        segment[b + 1] = n_done
                    finished[b + 1] += 1
            else:
                past_window = True
            n_done += 1
        elif inside and not fin:
            unfinished[0] += 1
            if n_batches > 0:
                unfinished[b + 1] += 1
        if fin:
            if d >= lo and d <= hi:
                completed[0] += 1
                done_by_type[item_type[k]] += 1
            if n_intervals > 0:
                x = np.floor((d - lo) / interval)
                if x >= 0.0 and x < n_intervals:
                    delivered[int(x)] += value[k]
            if n_batches > 0:
                bd = at_done = batch_of(edges, d, False, at_done)
                e1 = edges[bd + 1]
                if d >= edges[bd] and (d < e1 or (closed[bd] and d <= e1)):
                    completed[bd + 1] += 1
                while bd > 0 and d == edges[bd]:      # on an edge: the batch below if it is closed
                    bd -= 1
                    if closed[bd]:
                        completed[bd + 1] += 1
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
            v = overlap(x0, x1, lo, hi)
            if v > 0.0:
                lw = last[q, 0]
                if lw < 0:
                    first[q, 0] = k
                else:
                    for i in range(lw + 1, k):
                        rows[q, 0, i] = 0.0
                rows[q, 0, k] = v
                last[q, 0] = k
            if n_batches > 0:
                b0 = at_commit = batch_of(edges, x0, False, at_commit)
                b1 = n_batches - 1 if not x1 == x1 else batch_of(edges, x1, True, b0)
                for t in range(b0, b1 + 1):
                    v = overlap(x0, x1, edges[t], edges[t + 1])
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
    for w in range(n_windows):
        counts[w, 0] = finished[w]
        counts[w, 1] = completed[w]
        counts[w, 2] = unfinished[w]
        counts[w, 3] = 0
    for r in rejected:
        if r >= lo and r < hi:
            counts[0, 3] += 1
        for bb in range(n_batches):
            if r >= edges[bb] and r < edges[bb + 1]:
                counts[bb + 1, 3] += 1
    lead_of, flow_of, touch_of = lead, flow, touch_done
    if not in_order:
        grouped = np.empty((3, finished[0] * min(n_windows, 2)))
        regroup(arrival, done, lo, hi, edges, lead, flow, touch_done, finished, segment, grouped)
        lead_of, flow_of, touch_of = grouped[0], grouped[1], grouped[2]
    for w in range(n_windows):
        nf = finished[w]
        at = segment[w]
        if nf > 0:
            sums[w, 0] = pairwise_sum(lead_of, at, nf, at, at + nf)
            sums[w, 1] = pairwise_sum(flow_of, at, nf, at, at + nf) if not same else sums[w, 0]
            sums[w, 2] = pairwise_sum(touch_of, at, nf, at, at + nf)
        else:
            sums[w, 0] = sums[w, 1] = sums[w, 2] = 0.0
        for q in range(2):
            sums[w, 3 + q] = pairwise_sum(rows[q, w], 0, n, first[q, w], last[q, w] + 1) if first[q, w] >= 0 else 0.0
    return n_done, same


@njit(cache=True)
def regroup(arrival, done, lo, hi, edges, lead, flow, touch_done, finished, segment, out):  # pragma: no cover
    """`item_pass`'s windows when the items do not arrive in order: out[:, :finished[0]] holds
    the lead, flow and touch of window 0's finished items in item order, each batch's follow,
    contiguous and in item order; segment[w]: where window w's start in out."""
    n_batches = len(edges) - 1
    fill = np.empty(max(n_batches, 1), dtype=np.int64)
    at = finished[0]
    for b in range(n_batches):
        segment[b + 1] = at
        fill[b] = at
        at += finished[b + 1]
    i = 0                                 # the item's place in lead
    j = 0
    at_arrival = 0
    for k in range(len(arrival)):
        a = arrival[k]
        if a >= lo and done[k] == done[k]:
            if a < hi:
                out[0, j] = lead[i]
                out[1, j] = flow[i]
                out[2, j] = touch_done[i]
                j += 1
                if n_batches > 0:
                    b = at_arrival = batch_of(edges, a, False, at_arrival)
                    p = fill[b]
                    out[0, p] = lead[i]
                    out[1, p] = flow[i]
                    out[2, p] = touch_done[i]
                    fill[b] = p + 1
            i += 1


@njit(cache=True)
def predictability_ratios(delivered, n, low, high, out):  # pragma: no cover - compiled
    """`predictability` from the value delivered in each of its n >= 2 intervals, into out:
    (mean, in_band), NaN without a plan.

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
        out[0] = pairwise_sum(ratio, 0, k, 0, k) / k
        out[1] = inside / k


@njit(cache=True)
def streaming_item_totals(arrival, commit, done, touch, item_type, value, lo, hi, edges, interval, n_intervals,
                          sums, counts, batch_sums, batch_counts, done_by_type, delivered, lead,
                          flow):  # pragma: no cover - compiled
    """Add a block of items to a streaming run's running totals (sums: lead, flow, touch of the
    finished items arrived in the window, wip and backlog overlaps; counts: finished, completed,
    unfinished; the same per batch), one value at a time; fill lead, flow with the done items'
    times for the sketches. Returns how many."""
    n_batches = len(edges) - 1
    n_times = 0
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
            lead[n_times] = d - a
            flow[n_times] = d - c
            n_times += 1
        if d >= lo and d <= hi:
            counts[1] += 1
            done_by_type[item_type[k]] += 1
        sums[3] += overlap(c, d, lo, hi)
        sums[4] += overlap(a, c, lo, hi)
        if fin and n_intervals > 0:
            i = math.floor((d - lo) / interval)
            if i >= 0 and i < n_intervals:
                delivered[i] += value[k]
        for b in range(n_batches):
            blo = edges[b]
            bhi = edges[b + 1]
            if a >= blo and a < bhi:
                if fin:
                    batch_sums[b, 0] += d - a
                    batch_sums[b, 1] += d - c
                    batch_sums[b, 2] += touch[k]
                    batch_counts[b, 0] += 1
                else:
                    batch_counts[b, 2] += 1
            if d >= blo and (d <= bhi if b == n_batches - 1 else d < bhi):
                batch_counts[b, 1] += 1
            batch_sums[b, 3] += overlap(c, d, blo, bhi)
            batch_sums[b, 4] += overlap(a, c, blo, bhi)
    return n_times


# --------------------------------------------------------------------------- the visits
@njit(cache=True)
def visit_pass(step, enter, ready, start, end, leave, work, reworked, person, person_pool, lo, hi, sums, counts,
               pool_busy, pool_step_busy, person_busy, grouped):  # pragma: no cover - compiled
    """The visits' totals over the window [lo, hi] in one pass.

    sums[0..6, step]: busy, queue, wip (overlaps, every visit), wait, process, blocked, touch (the
    fresh visits', enter >= lo), added in visit order as np.bincount adds them; counts[0..4,
    step]: started, ended, left (fresh), checked (end in [lo, hi]), reworked among checked.
    pool_busy[p]: ``busy[mine].sum()``, mine = the visits pool p's people started: a count of
    each pool's started visits first, then each started visit's busy overlap in its pool's part
    of `grouped` (nv long) in visit order, each part summed pairwise. pool_step_busy[p, step] and
    person_busy[person] (zeros on entry): the same overlaps added in visit order, as np.bincount
    with weights adds them.
    """
    nv = len(step)
    n = sums.shape[1]
    n_pools = len(pool_busy)
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
        j = step[i]
        e0 = enter[i]
        s0 = start[i]
        f0 = end[i]
        l0 = leave[i]
        busy = overlap(s0, f0, lo, hi)
        acc[j, 0] += busy
        acc[j, 1] += overlap(ready[i], s0, lo, hi)
        acc[j, 2] += overlap(e0, l0, lo, hi)
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
            grouped[fill[p]] = busy
            fill[p] += 1
            pool_step_busy[p, j] += busy
            person_busy[g] += busy
    for j in range(n):
        for q in range(7):
            sums[q, j] = acc[j, q]
        for q in range(5):
            counts[q, j] = cnt[j, q]
    for p in range(n_pools):
        pool_busy[p] = pairwise_sum(grouped, at[p], at[p + 1] - at[p], at[p], at[p + 1])


@njit(cache=True, error_model="numpy")
def step_table(sums, counts, capacity, span, out):  # pragma: no cover - compiled
    """The steps table's float columns (utilization, queue_length, wip, wait, process_time,
    blocked, touch_time, pct_complete_accurate, throughput) from `visit_pass`'s totals into the
    rows of out, elementwise as numpy divides them."""
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


# --------------------------------------------------------------------------- intervals
@njit(cache=True)
def finite_mean_std(values, out):  # pragma: no cover - compiled
    """For each row of values: out[r] = (how many are finite, their mean, their standard deviation
    with ddof=1; NaN below 2), as numpy's mean and std compute them (pairwise sums)."""
    m = values.shape[1]
    x = np.empty(max(m, 1))
    sq = np.empty(max(m, 1))
    for r in range(values.shape[0]):
        n = 0
        for i in range(m):
            v = values[r, i]
            if v - v == 0.0:
                x[n] = v
                n += 1
        out[r, 0] = n
        out[r, 1] = out[r, 2] = np.nan
        if n >= 2:
            mean = pairwise_sum(x, 0, n, 0, n) / n
            for i in range(n):
                dv = x[i] - mean
                sq[i] = dv * dv
            out[r, 1] = mean
            out[r, 2] = math.sqrt(pairwise_sum(sq, 0, n, 0, n) / (n - 1))


# --------------------------------------------------------------------------- arguments
def float64s(x) -> np.ndarray:
    """x as the contiguous float64 array a pass reads (x itself when it is one)."""
    return np.ascontiguousarray(x, dtype=np.float64)


def int64s(x) -> np.ndarray:
    """x as a contiguous int64 array."""
    return np.ascontiguousarray(x, dtype=np.int64)


@njit(cache=True)
def union_lengths(group, start, end, out):  # pragma: no cover - compiled
    """out[g] = the length of the union of the intervals [start, end) of group g, the intervals
    sorted by group, then start."""
    n = len(group)
    i = 0
    while i < n:
        g = group[i]
        total = 0.0
        lo = start[i]
        hi = end[i]
        i += 1
        while i < n and group[i] == g:
            if start[i] > hi:               # a gap: the merged interval so far is complete
                total += hi - lo
                lo = start[i]
                hi = end[i]
            elif end[i] > hi:
                hi = end[i]
            i += 1
        out[g] = total + (hi - lo)
