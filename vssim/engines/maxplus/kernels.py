"""The fast engine's compiled loops (numba, `cache=True`): the recursions, the records they write,
the event-log keys, and the block kernel of the streaming mode.

They do the SimPy engine's floating-point operations (``start + work``, ``leave + handoff``; a
max picks one of its operands), so their times are the SimPy engine's numbers, not close to
them. In the loops, ``t_x`` is the time of event x of the item at hand and ``d_x`` its causal
depth: an event caused at the same time by another one has a larger depth (a start after the
end that freed its person, a commit after the exit that made room), which orders same-time
events as the SimPy engine's event log does. Events at or after `until` (the horizon) do not
happen: NaN in the records (inf inside the CONWIP event loop), -1 for their keys.
"""
from __future__ import annotations

import numpy as np

from vssim.compiled import njit

DEPTH_BITS = 5
"""Bits of an event-log key kept for the causal depth (the rest hold the time)."""


# --------------------------------------------------------------------------- several people, step by step
@njit(cache=True)
def step_pass(order, ready, ready_depth, work, people, start, start_depth, end, end_depth,
              person):  # pragma: no cover - compiled
    """`people` people at one step, items in FIFO order `order` (the order they became workable).

    A waiting item goes to the first person to free up (ties: the one who started first); an
    item that finds people free goes to the one freed last (the engine's stack of free people).
    Returns the largest depth.
    """
    free_at = np.full(people, -np.inf)
    free_key = np.empty(people, dtype=np.int64)
    free_depth = np.zeros(people, dtype=np.int64)
    for g in range(people):
        free_key[g] = -1 - g              # person 0 on top of the stack
    max_depth = 0
    for rank in range(len(order)):
        i = order[rank]
        t_ready = ready[i]
        first = 0
        for g in range(1, people):
            if free_at[g] < free_at[first] or (free_at[g] == free_at[first] and free_key[g] < free_key[first]):
                first = g
        if free_at[first] > t_ready:
            who = first
            t_start = free_at[who]
            d_start = free_depth[who] + 1
        else:
            who = -1
            for g in range(people):
                if free_at[g] <= t_ready and (who < 0 or free_at[g] > free_at[who]
                                              or (free_at[g] == free_at[who] and free_key[g] > free_key[who])):
                    who = g
            t_start = t_ready
            d_start = ready_depth[i] + 1
            if free_at[who] == t_ready and free_depth[who] + 1 > d_start:
                d_start = free_depth[who] + 1
        t_end = t_start + work[i]
        d_end = d_start + 1 if t_end == t_start else 0
        start[i] = t_start
        start_depth[i] = d_start
        end[i] = t_end
        end_depth[i] = d_end
        person[i] = who
        free_at[who] = t_end
        free_key[who] = rank
        free_depth[who] = d_end
        if d_start > max_depth:
            max_depth = d_start
        if d_end + 1 > max_depth:
            max_depth = d_end + 1
    return max_depth


@njit(cache=True)
def pack(until, base_bits, m, arrival, commit, keep_ready, ready, start, end, work, has_person, person, first_person,
         arrival_depth, commit_depth, start_depth, end_depth, enter, visit_item, visit_step, done, done_seq,
         touch):  # pragma: no cover - compiled
    """Records arrays from the recursion's item-indexed times, in place.

    What happened before `until` is kept, and the visits that exist (their item entered the
    column) are moved to the front of the flat (item, step) arrays: `ready`, `start`, `end`,
    `work`, `person` become visit arrays (without `has_person`, `person` is only written: person
    0 of each step's pool), `start_depth` and `end_depth` their event-log keys, `commit` is
    masked and `arrival_depth`, `commit_depth` become keys. A key is ``(bits(time) - base_bits)
    << DEPTH_BITS | depth`` (``depth`` for time 0): the bits of a non-negative float increase
    with it, so keys order events by time, then by depth, without a sort.
    Fills `done` (done times), `done_seq` (their keys) and `touch`; returns the number of visits.
    """
    n = len(arrival)
    nan = np.nan
    arrival_bits = arrival.view(np.int64)
    commit_bits = commit.view(np.int64)
    start_bits = start.view(np.int64)
    end_bits = end.view(np.int64)
    n_visits = 0
    for k in range(n):
        t_arrive = arrival[k]
        if t_arrive > 0.0:
            arrival_depth[k] = (arrival_bits[k] - base_bits) << DEPTH_BITS | arrival_depth[k]
        t_commit = commit[k]
        if t_commit < until:
            if t_commit > 0.0:
                commit_depth[k] = (commit_bits[k] - base_bits) << DEPTH_BITS | commit_depth[k]
        else:
            commit[k] = nan
            commit_depth[k] = -1
        t_enter = t_commit
        touched = 0.0
        for j in range(m):
            i = k * m + j
            if not t_enter < until:
                break
            t_start, t_end, duration, d_start, d_end = start[i], end[i], work[i], start_depth[i], end_depth[i]
            who = person[i] if has_person else 0
            bits_start, bits_end = start_bits[i], end_bits[i]
            visit_item[n_visits] = k
            visit_step[n_visits] = j
            enter[n_visits] = t_enter
            if keep_ready:
                t_ready = ready[i]
                ready[n_visits] = t_ready if t_ready < until else nan
            if t_start < until:
                start[n_visits] = t_start
                work[n_visits] = duration
                touched += duration
                person[n_visits] = who + first_person[j]
                start_depth[n_visits] = ((bits_start - base_bits) << DEPTH_BITS | d_start) if t_start > 0.0 else d_start
            else:
                start[n_visits] = nan
                work[n_visits] = 0.0
                person[n_visits] = -1
                start_depth[n_visits] = -1
            if t_end < until:
                end[n_visits] = t_end
                end_depth[n_visits] = ((bits_end - base_bits) << DEPTH_BITS | d_end) if t_end > 0.0 else d_end
            else:
                end[n_visits] = nan
                end_depth[n_visits] = -1
            if j == m - 1:
                if t_end < until:
                    done[k] = t_end
                    done_seq[k] = ((bits_end - base_bits) << DEPTH_BITS | (d_end + 1)) if t_end > 0.0 else d_end + 1
                else:
                    done[k] = nan
                    done_seq[k] = -1
            t_enter = t_end
            n_visits += 1
        touch[k] = touched
        if n_visits == 0 or visit_item[n_visits - 1] != k or visit_step[n_visits - 1] != m - 1:
            done[k] = nan
            done_seq[k] = -1
    return n_visits


@njit(cache=True)
def min_positive(x):  # pragma: no cover - compiled
    """The smallest value > 0 (inf if none; NaN is not > 0)."""
    lo = np.inf
    for v in x:
        if v > 0.0 and v < lo:
            lo = v
    return lo


@njit(cache=True)
def depths_to_keys(base_bits, times, seq):  # pragma: no cover - compiled
    """Depths in `seq` to `pack`'s keys, in place (-1: did not happen)."""
    time_bits = times.view(np.int64)
    for i in range(len(seq)):
        depth = seq[i]
        if depth >= 0 and times[i] > 0.0:
            seq[i] = (time_bits[i] - base_bits) << DEPTH_BITS | depth


# --------------------------------------------------------------------------- one person per step, fused
@njit(cache=True)
def line(saturated, arrival_times, draws, scale, size, handoff, conwip, until, keep_ready, first_person, base_bits,
         write_keys, item_floats, item_ints, visit_floats, visit_ints, ring_done,
         ring_depth):  # pragma: no cover - compiled
    """One person per step: the recursion item by item (`vssim.engines.maxplus.runs`), each visit
    written straight into the records as `pack` would write it (items never overtake: the FIFO
    order is item order at every step; a visit exists when its item entered the column before
    `until`), in one pass and without (n, m) intermediates.

    Work: ``(scale[j] * draws[j, k]) * size[k]`` (`draws`: the step's draws, `scale`: the
    exponential's mean, 1 for other distributions: the operations of ``rng.exponential(mean) *
    size``). Arrivals: the times in `arrival_times`, or saturated: item k arrives when item k -
    conwip is done, and the run stops at the first arrival at or after `until`, or returns items
    == -1 when it fills the room of the outputs before. `ring_*`: the done times and depths of
    the last conwip items. `write_keys`: every event time is >= the first arrival > 0, and the
    *_seq arrays get their keys (``(bits(time) - base_bits) << DEPTH_BITS | depth``) here; else
    they get the depths, for `depths_to_keys` (or a sort).
    Outputs, by rows: `item_floats` arrival, commit, done, touch; `item_ints` their keys
    (arrival, commit, done); `visit_floats` the visits' enter, start, end, work (and ready);
    `visit_ints` their item, step, person, start key, end key. Returns (items, visits, the
    largest depth, the smallest positive event time, the latest end, items done).
    """
    arrival, commit, done, touch = item_floats[0], item_floats[1], item_floats[2], item_floats[3]
    arrival_seq, commit_seq, done_seq = item_ints[0], item_ints[1], item_ints[2]
    enter, start, end, work = visit_floats[0], visit_floats[1], visit_floats[2], visit_floats[3]
    ready = visit_floats[4] if keep_ready else visit_floats[0]    # (written only with keep_ready)
    visit_item, visit_step, person, start_seq, end_seq = (visit_ints[0], visit_ints[1], visit_ints[2], visit_ints[3],
                                                          visit_ints[4])
    n = len(arrival)
    m = draws.shape[0]
    nan = np.nan
    free_at = np.full(m, -np.inf)         # each step's person: the end of the last item
    free_depth = np.zeros(m, dtype=np.int64)
    arrival_bits = arrival.view(np.int64)
    commit_bits = commit.view(np.int64)
    start_bits = start.view(np.int64)
    end_bits = end.view(np.int64)
    max_depth = 0
    min_time = np.inf
    latest_end = -np.inf
    n_visits = 0
    n_done = 0
    items = -1
    for k in range(n):
        if saturated:
            if k >= conwip:
                t_arrive = ring_done[k % conwip]
                d_arrive = ring_depth[k % conwip] + 2          # after done, which follows the end
            else:
                t_arrive = 0.0
                d_arrive = 0
            if not t_arrive < until:
                items = k
                break
            t_commit = t_arrive
            d_commit = d_arrive + 1
        else:
            t_arrive = arrival_times[k]
            d_arrive = 0
            t_commit = t_arrive
            d_commit = 1
            if conwip > 0 and k >= conwip:
                t_room = ring_done[k % conwip]
                if t_room > t_commit:
                    t_commit = t_room
                    d_commit = ring_depth[k % conwip] + 2
                elif t_room == t_commit:
                    d_room = ring_depth[k % conwip] + 2
                    if d_room > d_commit:
                        d_commit = d_room
        arrival[k] = t_arrive
        if write_keys:
            arrival_seq[k] = (arrival_bits[k] - base_bits) << DEPTH_BITS | d_arrive
        else:
            arrival_seq[k] = d_arrive
            if t_arrive > 0.0 and t_arrive < min_time:
                min_time = t_arrive
            if t_commit > 0.0 and t_commit < min_time:
                min_time = t_commit
        if t_commit < until:
            commit[k] = t_commit
            commit_seq[k] = ((commit_bits[k] - base_bits) << DEPTH_BITS | d_commit) if write_keys else d_commit
        else:
            commit[k] = nan
            commit_seq[k] = -1
        exists = t_commit < until
        t_ready = t_commit
        d_ready = d_commit
        t_enter = t_commit                    # the time the item entered the column
        t_end = t_commit
        d_end = 0
        touched = 0.0
        for j in range(m):
            if j > 0:
                t_enter = t_end
                t_ready = t_end + handoff[j - 1]
                d_ready = d_end + 1 if t_ready == t_end else 0
                exists = exists and t_end < until
            # start = max(ready, the person's previous end); its depth: one more than the
            # event(s) it waited for (both when they coincide). Selects, not branches: whether
            # an item waits is a coin toss that a branch predictor would lose
            t_free = free_at[j]
            d_free = free_depth[j]            # loaded either way: a conditional load is a branch
            ready_last = t_ready >= t_free
            ready_first = t_ready <= t_free
            t_start = t_ready if ready_last else t_free
            d_by_ready = d_ready + 1 if ready_last else 0
            d_by_person = d_free + 1 if ready_first else 0
            d_start = d_by_ready if d_by_ready > d_by_person else d_by_person
            duration = (scale[j] * draws[j, k]) * size[k]
            t_end = t_start + duration
            d_end = d_start + 1 if t_end == t_start else 0
            free_at[j] = t_end
            free_depth[j] = d_end
            max_depth = d_start if d_start > max_depth else max_depth
            if not write_keys and j == 0:
                if t_start > 0.0 and t_start < min_time:
                    min_time = t_start
                if t_end > 0.0 and t_end < min_time:
                    min_time = t_end
            if exists:
                visit_item[n_visits] = k
                visit_step[n_visits] = j
                enter[n_visits] = t_enter
                if keep_ready:
                    ready[n_visits] = t_ready if t_ready < until else nan
                if t_start < until:
                    start[n_visits] = t_start
                    work[n_visits] = duration
                    touched += duration
                    person[n_visits] = first_person[j]
                    start_seq[n_visits] = (((start_bits[n_visits] - base_bits) << DEPTH_BITS | d_start) if write_keys
                                           else d_start)
                else:
                    start[n_visits] = nan
                    work[n_visits] = 0.0
                    person[n_visits] = -1
                    start_seq[n_visits] = -1
                if t_end < until:
                    end[n_visits] = t_end
                    end_seq[n_visits] = (((end_bits[n_visits] - base_bits) << DEPTH_BITS | d_end) if write_keys
                                         else d_end)
                else:
                    end[n_visits] = nan
                    end_seq[n_visits] = -1
                n_visits += 1
        if d_end + 1 > max_depth:             # the deepest event of an item: its start or done
            max_depth = d_end + 1
        if exists and t_end < until:
            done[k] = t_end
            done_seq[k] = (((end_bits[n_visits - 1] - base_bits) << DEPTH_BITS | (d_end + 1)) if write_keys
                           else d_end + 1)
            n_done += 1
        else:
            done[k] = nan
            done_seq[k] = -1
        if t_end > latest_end:
            latest_end = t_end
        touch[k] = touched
        if conwip > 0:
            ring_done[k % conwip] = t_end
            ring_depth[k % conwip] = d_end
    if not saturated:
        items = n
    return items, n_visits, max_depth, min_time, latest_end, n_done


@njit(cache=True)
def times_from_gaps(gaps, gap_scale, until, out):  # pragma: no cover - compiled
    """Arrival times from gaps ``gap_scale * gaps`` into `out`, one after another from 0 (the
    sequential sums of `draws.arrival_times`): how many fall before `until`, -1 if all of them do."""
    t = 0.0
    for k in range(len(gaps)):
        t = t + gap_scale * gaps[k]
        if not t < until:
            return k
        out[k] = t
    return -1


# --------------------------------------------------------------------------- CONWIP, several people per step
@njit(cache=True)
def _heap_push(heap_time, heap_seq, heap_payload, heap_size, t, seq, payload):  # pragma: no cover - compiled
    """Push (t, seq) -> payload onto the binary min-heap of the first `heap_size` entries; returns
    heap_size + 1."""
    i = heap_size
    while i > 0:
        up = (i - 1) // 2
        if heap_time[up] < t or (heap_time[up] == t and heap_seq[up] < seq):
            break
        heap_time[i], heap_seq[i], heap_payload[i] = heap_time[up], heap_seq[up], heap_payload[up]
        i = up
    heap_time[i], heap_seq[i], heap_payload[i] = t, seq, payload
    return heap_size + 1


@njit(cache=True)
def _heap_pop(heap_time, heap_seq, heap_payload, heap_size):  # pragma: no cover - compiled
    """Remove the smallest (t, seq) entry (the caller read it at index 0); returns heap_size - 1."""
    heap_size -= 1
    t, seq, payload = heap_time[heap_size], heap_seq[heap_size], heap_payload[heap_size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= heap_size:
            break
        if child + 1 < heap_size and (heap_time[child + 1] < heap_time[child] or (
                heap_time[child + 1] == heap_time[child] and heap_seq[child + 1] < heap_seq[child])):
            child += 1
        if t < heap_time[child] or (t == heap_time[child] and seq < heap_seq[child]):
            break
        heap_time[i], heap_seq[i], heap_payload[i] = heap_time[child], heap_seq[child], heap_payload[child]
        i = child
    heap_time[i], heap_seq[i], heap_payload[i] = t, seq, payload
    return heap_size


@njit(cache=True)
def _begin(i, j, who, t_start, d_start, m, scale, draws, size, start, start_depth, end, end_depth, person, work,
           start_order, n_started, heap_time, heap_seq, heap_payload, heap_size,
           seq):  # pragma: no cover - compiled
    """Person `who` of step j starts item i at `t_start` (causal depth `d_start`): its records, its
    end event on the heap. Returns (the heap's new size, the deepest depth it made)."""
    duration = (scale[j] * draws[j, i]) * size[i]
    t_end = t_start + duration
    d_end = d_start + 1 if t_end == t_start else 0
    start[i, j] = t_start
    start_depth[i, j] = d_start
    end[i, j] = t_end
    end_depth[i, j] = d_end
    person[i, j] = who
    work[i, j] = duration
    start_order[j, n_started[j]] = i
    n_started[j] += 1
    return (_heap_push(heap_time, heap_seq, heap_payload, heap_size, t_end, seq, i * 2 * m + j),
            max(d_start, d_end + 1))


@njit(cache=True)
def conwip_line(saturated, arrival_times, draws, scale, size, handoff, people, conwip, until, keep_ready, arrival,
                arrival_depth, commit, commit_depth, work, ready, start, start_depth, end, end_depth, person,
                start_order, n_started):  # pragma: no cover - compiled
    """CONWIP N with people[j] people at step j: an event loop over the items, in time order.

    Item k commits at max(arrival[k], the (k - N)-th completion in completion order) (saturated:
    arrives then), items in item order; at each step items start in the order they became
    workable, at max(that time, the earliest time one of the people is free); they leave in
    the order they finish (ties: the order they started), which, a constant handoff later, is
    the next step's order. Events come off a heap in (time, the order they were scheduled) —
    SimPy's order — so same-time ties fall as in the event engine. Persons and depths as
    `step_pass`. Times at or after `until` do not happen (inf). `start_order[j]`: the items in
    the order they started at step j (`n_started[j]` of them: the requests for the work draws).
    Outputs (room for len(arrival) items) are item-indexed (room, m); returns (items, the
    largest depth), items -1 when saturated arrivals fill the room before `until`.
    """
    room, m = work.shape
    n = len(arrival_times)
    inf = np.inf
    cap = min(conwip, room) + 2                  # at most conwip items in the line
    most_people = 1
    for j in range(m):
        most_people = max(most_people, people[j])
    # events: END (step j done, payload i * 2m + j) and READY (after a handoff, + m)
    heap_time = np.empty(cap)
    heap_seq = np.empty(cap, dtype=np.int64)
    heap_payload = np.empty(cap, dtype=np.int64)
    ready_depth = np.zeros((room, m), dtype=np.int64)    # the depth a READY event carries
    heap_size = 0
    seq = 0
    # FIFO queues per step (ring buffers) and free people (a stack: the one freed last on top)
    queue_item = np.empty((m, cap), dtype=np.int64)
    queue_ready = np.empty((m, cap))
    queue_depth = np.empty((m, cap), dtype=np.int64)
    queue_head = np.zeros(m, dtype=np.int64)
    queue_len = np.zeros(m, dtype=np.int64)
    free_stack = np.empty((m, most_people), dtype=np.int64)
    n_free = np.zeros(m, dtype=np.int64)
    free_at = np.full((m, most_people), -inf)
    free_depth = np.zeros((m, most_people), dtype=np.int64)
    for j in range(m):
        for g in range(people[j] - 1, -1, -1):
            free_stack[j, n_free[j]] = g
            n_free[j] += 1
    # completions in completion order: times and done depths
    done_time = np.empty(room)
    done_depth = np.empty(room, dtype=np.int64)
    n_done = 0
    n_started[:] = 0
    if not saturated:
        arrival[:n] = arrival_times              # (an item committed after the horizon arrived all the same)
    commit[:] = inf
    start[:, :] = inf
    end[:, :] = inf
    if keep_ready:
        ready[:, :] = inf
    work[:, :] = 0.0
    person[:, :] = -1
    start_depth[:, :] = 0
    end_depth[:, :] = 0
    commit_depth[:] = 0
    max_depth = 1
    next_commit = 0                              # the next item to commit
    n_limit = room + 1 if saturated else n       # saturated: until an arrival at the horizon
    while True:
        # the next commit, once the completion it waits for has happened
        t_commit = inf
        t_arrive = 0.0
        d_arrive = 0
        d_commit = 0
        if next_commit < n_limit and (next_commit < conwip or n_done > next_commit - conwip):
            if saturated:
                if next_commit >= conwip:
                    t_arrive = done_time[next_commit - conwip]
                    d_arrive = done_depth[next_commit - conwip] + 1     # after done, which follows the end
                if not t_arrive < until:
                    n_limit = next_commit        # arrives at or after the horizon: no such item
                elif next_commit == room:
                    return -1, max_depth         # more items than room for them
                else:
                    t_commit = t_arrive
                    d_commit = d_arrive + 1
            else:
                t_arrive = arrival_times[next_commit]
                t_commit = t_arrive
                d_commit = 1
                if next_commit >= conwip:
                    t_room = done_time[next_commit - conwip]
                    d_room = done_depth[next_commit - conwip] + 1
                    if t_room > t_commit:
                        t_commit = t_room
                        d_commit = d_room
                    elif t_room == t_commit and d_room > d_commit:
                        d_commit = d_room
        t_heap = heap_time[0] if heap_size > 0 else inf
        t = t_commit if t_commit <= t_heap else t_heap
        if not t < until:
            break
        join = True
        if t_commit <= t_heap:                   # commit item next_commit: it joins the first step's queue
            i = next_commit
            next_commit += 1
            arrival[i] = t_arrive
            arrival_depth[i] = d_arrive
            commit[i] = t_commit
            commit_depth[i] = d_commit
            max_depth = max(max_depth, d_arrive, d_commit)
            j = 0
            t_ready = t_commit
            d_ready = d_commit
        else:
            payload = heap_payload[0]
            heap_size = _heap_pop(heap_time, heap_seq, heap_payload, heap_size)
            i = payload // (2 * m)
            j = payload % (2 * m)
            if j >= m:                           # READY: the handoff to step j - m is over
                j -= m
                t_ready = t
                d_ready = ready_depth[i, j]
            else:                                # END of step j: the item moves on, the person takes the next
                who = person[i, j]
                d_end = end_depth[i, j]
                t_ready = t
                d_ready = 0
                if j < m - 1:
                    t_ready = t + handoff[j]
                    d_ready = d_end + 1 if t_ready == t else 0
                    if handoff[j] > 0:           # workable after the handoff (an event, as in SimPy)
                        if keep_ready:
                            ready[i, j + 1] = t_ready
                        ready_depth[i, j + 1] = d_ready
                        heap_size = _heap_push(heap_time, heap_seq, heap_payload, heap_size, t_ready, seq,
                                               i * 2 * m + m + j + 1)
                        seq += 1
                        join = False
                else:
                    done_time[n_done] = t
                    done_depth[n_done] = d_end + 1
                    n_done += 1
                    join = False
                free_at[j, who] = t
                free_depth[j, who] = d_end
                if queue_len[j] > 0:
                    head = queue_head[j]
                    waiting = queue_item[j, head]
                    t_waited = queue_ready[j, head]
                    d_waited = queue_depth[j, head]
                    queue_head[j] = (head + 1) % cap
                    queue_len[j] -= 1
                    d_start = d_end + 1
                    if t_waited == t and d_waited + 1 > d_start:
                        d_start = d_waited + 1
                    heap_size, depth = _begin(waiting, j, who, t, d_start, m, scale, draws, size, start, start_depth,
                                              end, end_depth, person, work, start_order, n_started, heap_time,
                                              heap_seq, heap_payload, heap_size, seq)
                    seq += 1
                    max_depth = max(max_depth, depth)
                else:
                    free_stack[j, n_free[j]] = who
                    n_free[j] += 1
                j += 1                           # (no handoff: it joins the next step now)
        if not join:
            continue
        # item i becomes workable at step j at t_ready (depth d_ready)
        if keep_ready:
            ready[i, j] = t_ready
        if n_free[j] > 0 and queue_len[j] == 0:
            n_free[j] -= 1
            who = free_stack[j, n_free[j]]
            d_start = d_ready + 1
            if free_at[j, who] == t_ready and free_depth[j, who] + 1 > d_start:
                d_start = free_depth[j, who] + 1
            heap_size, depth = _begin(i, j, who, t_ready, d_start, m, scale, draws, size, start, start_depth, end,
                                      end_depth, person, work, start_order, n_started, heap_time, heap_seq,
                                      heap_payload, heap_size, seq)
            seq += 1
            max_depth = max(max_depth, depth)
        else:
            at = (queue_head[j] + queue_len[j]) % cap
            queue_item[j, at] = i
            queue_ready[j, at] = t_ready
            queue_depth[j, at] = d_ready
            queue_len[j] += 1
    return (next_commit if saturated else n), max_depth


# --------------------------------------------------------------------------- streaming, one person per step
@njit(cache=True)
def stream_block(first, arrival, work, handoff, conwip, saturated, until, free_at, ring_done, first_person, commit,
                 done, touch, visit_step, visit_enter, visit_ready, visit_start, visit_end, visit_work,
                 visit_person):  # pragma: no cover - compiled
    """The recursion of `line` over one block of items (global numbers first, first + 1, ...),
    without depths, and its records up to `until` (NaN: not happened). `free_at` (each step's
    last end) and `ring_done` (the done times of the last conwip items) carry over from block to
    block. Returns (items, visits); a saturated stream's block stops at the first arrival at or
    after `until`."""
    n, m = work.shape
    nan = np.nan
    n_visits = 0
    for row in range(n):
        k = first + row
        if saturated:
            t_arrive = ring_done[k % conwip] if k >= conwip else 0.0
            if not t_arrive < until:
                return row, n_visits
            arrival[row] = t_arrive
            t_commit = t_arrive
        else:
            t_arrive = arrival[row]
            t_commit = t_arrive
            if conwip > 0 and k >= conwip:
                t_room = ring_done[k % conwip]
                if t_room > t_commit:
                    t_commit = t_room
        touched = 0.0
        t_end = t_commit
        for j in range(m):
            t_enter = t_commit if j == 0 else t_end
            t_ready = t_commit if j == 0 else t_end + handoff[j - 1]
            t_free = free_at[j]
            t_start = t_ready if t_ready >= t_free else t_free
            duration = work[row, j]
            t_end = t_start + duration
            free_at[j] = t_end
            if t_enter < until:
                visit_step[n_visits] = j
                visit_enter[n_visits] = t_enter
                visit_ready[n_visits] = t_ready if t_ready < until else nan
                if t_start < until:
                    visit_start[n_visits] = t_start
                    visit_work[n_visits] = duration
                    visit_person[n_visits] = first_person[j]
                    touched += duration
                else:
                    visit_start[n_visits] = nan
                    visit_work[n_visits] = 0.0
                    visit_person[n_visits] = -1
                visit_end[n_visits] = t_end if t_end < until else nan
                n_visits += 1
        commit[row] = t_commit if t_commit < until else nan
        done[row] = t_end if t_end < until else nan
        touch[row] = touched
        if conwip > 0:
            ring_done[k % conwip] = t_end
    return n, n_visits
