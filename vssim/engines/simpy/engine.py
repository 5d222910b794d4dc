"""The SimPy engine: one replication of a stream, event by event.

SimPy's `Environment` is the event calendar; the board's state (columns, queues, free people)
lives in plain lists indexed by step, pool and item number, and every transition is a callback,
not a process, so that an item-step costs one scheduled event. Records go into typed arrays.

Semantics (DESIGN.md §2), in the order an item meets them:

* it arrives into the backlog (priority: class of service, then arrival), or is rejected when
  the backlog is at `backlog_limit`;
* it is committed into the first column when the release policy allows (CONWIP count, the
  first column's limit; items returning to that column by rework go first);
* in a column it first waits the handoff of the step it came from and, with the step's
  dependency probability, the dependency delay; then it is workable and queues for a person of
  the step's pools (class of service, then first come);
* a person works it for draw x size (+ switch cost + interruptions); people are never
  blocked by done items;
* after work, with the rework probability it returns to the rework step, else it joins the
  step's outgoing transfer batch; a full batch waits for the cadence, then for room in the next
  column (oldest first, whole batches only); leaving the last column is being done.

A column counts its waiting, in-progress and done-not-pulled items against its WIP limit; an
item counts in a column from the moment it is admitted (handoff and dependency waits included)
until it is admitted to the next one.
"""
from __future__ import annotations

import heapq
import math
from array import array
from collections import deque

import numpy as np
import simpy

from vssim.engines.random import Draws, Uniforms, generator
from vssim.errors import DeadlockError
from vssim.model.plan import UNLIMITED, Plan
from vssim.model.settings import Settings
from vssim.records import RecordSink


class Replication:
    """One replication. `run()` returns its `Records`."""

    def __init__(self, plan: Plan, settings: Settings, replication: int, sink: RecordSink, progress=None):
        self.plan = plan
        self.sink = sink                    # flush_every: finished items go there in slices, their slots reused
        self.spec = spec = plan.spec
        self.horizon = settings.horizon
        self.warmup = float(settings.warmup)
        self.seed = seed = int(settings.seed)
        self.rep = replication
        self.progress = progress
        self.env = simpy.Environment()
        n = plan.n_steps
        rng = lambda name: generator(seed, replication, name)  # noqa: E731
        steps = list(spec.steps.values())
        # random sources, one per purpose and step/pool (common random numbers across scenarios)
        self.work = [Draws(s.work, rng(f"work/{s.name}")) for s in steps]
        self.rework_work = [Draws(s.work, rng(f"rework_work/{s.name}")) for s in steps]
        # decisions at an item's first visit are tied to the item; later ones come in order
        self.rework_u = [Uniforms(rng(f"rework/{s.name}")) for s in steps]
        self.rework_again_u = [Uniforms(rng(f"rework_again/{s.name}")) for s in steps]
        self.handoff = [Draws(s.handoff, rng(f"handoff/{s.name}")) if s.handoff else None for s in steps]
        self.dep_u = [Uniforms(rng(f"dependency/{s.name}")) for s in steps]
        self.dep_again_u = [Uniforms(rng(f"dependency_again/{s.name}")) for s in steps]
        self.dep_delay = [Draws(s.dependency.delay, rng(f"dependency_delay/{s.name}")) if s.dependency else None
                          for s in steps]
        pools = list(spec.pools.values())
        self.switch = [Draws(p.switch_cost, rng(f"switch/{p.name}")) if p.switch_cost else None for p in pools]
        self.intr_gap = [None] * len(pools)
        self.intr_len = [None] * len(pools)
        for k, p in enumerate(pools):
            if p.interruptions is not None:
                from vssim.model.distributions import parse_distribution
                gap = parse_distribution({"dist": "exponential", "mean": 1.0 / p.interruptions.rate}, "")
                self.intr_gap[k] = Draws(gap, rng(f"interruptions/{p.name}"))
                self.intr_len[k] = Draws(p.interruptions.duration, rng(f"interruption_length/{p.name}"))
        self.type_rng = rng("arrivals/type")
        self.type_buf: list[int] = []
        self.type_off = 0                   # item number of type_buf[0]
        self.size_draws = [Draws(t.size, rng(f"size/{t.name}")) if plan.type_size[i] is None else None
                           for i, t in enumerate(spec.item_types.values())]
        self.arrival_rng = rng("arrivals")

        # board state
        self.count = [0] * n                # items in each column
        self.done_in = [0] * n              # of which done (batching, gated, or waiting to move)
        self.queue: list[list] = [[] for _ in range(n)]          # workable items: (priority, seq, item)
        self.entry: list[deque] = [deque() for _ in range(n)]    # groups waiting to enter: (group, src)
        self.outgoing: list[list[int]] = [[] for _ in range(n)]  # partial transfer batch
        self.gate: list[deque] = [deque() for _ in range(n)]     # full batches waiting for the cadence
        self.tick_pending = [False] * n
        self.blocked_to = [[0] * (n + 1) for _ in range(n)]  # [src][dest]: done items waiting to move
        self.free = [list(reversed(people)) for people in plan.pool_people]
        self.last_step = [-1] * len(plan.person_pool)
        self.backlogs: list[list] = [[] for _ in range(n)]  # per first column: (priority, seq, item)
        self.backlog_n = 0
        self.wip = 0
        self.busy = 0
        self.timers = 0
        self.seq = 0
        self.order = 0                      # causal event counter for the event log
        self.arrivals_done = False

        # item records, by slot: the item number of slot i is ident[i] (the same number in a full
        # run; a streaming run gives the slots of finished items to new ones)
        self.n_items = 0
        self.ident: list[int] = []
        self.free_slots: list[int] = []
        self.done_pending = 0               # items done (or rejected) since the last flush
        self.arrival = array("d")
        self.commit_t = array("d")
        self.done_t = array("d")
        self.itype = array("l")
        self.prio = array("l")
        self.size = array("d")
        self.touch = array("d")
        self.reworks = array("l")
        self.cur_visit = array("l")
        self.first_done: list[int] = []    # bitmask of the steps each item has started once
        self.first_enter: list[int] = []   # bitmask of the steps each item has entered once
        self.arrival_seq = array("q")
        self.commit_seq = array("q")
        self.done_seq = array("q")
        self.rejected = array("d")
        # visit records: typed arrays grown in chunks, filled by index (defaults preset)
        self.n_visits = 0
        self.v_cap = 0
        self.v_item = array("l")
        self.v_step = array("l")
        self.v_enter = array("d")
        self.v_ready = array("d")
        self.v_start = array("d")
        self.v_end = array("d")
        self.v_leave = array("d")
        self.v_person = array("l")
        self.v_work = array("d")
        self.v_rew = array("b")
        self.v_sseq = array("q")
        self.v_eseq = array("q")
        # per step and pool: which optional features apply (so the usual case skips them)
        self.plain_exit = [not plan.rework_p[k] and plan.batch[k] == 1 and plan.cadence[k] is None
                           and not plan.routed for k in range(n)]
        self.plain_pool = [self.switch[p] is None and self.intr_gap[p] is None for p in range(len(pools))]
        self.saturated = spec.arrivals.process == "saturated"
        self._gaps = None

    def _visit_columns(self) -> tuple[tuple[str, array, float], ...]:
        """The visit arrays, by name, with the value an entry holds until it is set."""
        nan = math.nan
        return (("item", self.v_item, 0), ("step", self.v_step, 0), ("enter", self.v_enter, nan),
                ("ready", self.v_ready, nan), ("start", self.v_start, nan), ("end", self.v_end, nan),
                ("leave", self.v_leave, nan), ("person", self.v_person, -1), ("work", self.v_work, 0.0),
                ("reworked", self.v_rew, 0), ("sseq", self.v_sseq, -1), ("eseq", self.v_eseq, -1))

    def _grow_visits(self) -> None:
        chunk = max(4096, self.v_cap)
        for _, a, default in self._visit_columns():
            a.extend(array(a.typecode, [default]) * chunk)
        self.v_cap += chunk

    # ------------------------------------------------------------------ arrivals
    def _new_item(self, t: float, type_index: int | None = None, size: float | None = None) -> int:
        n = self.n_items
        self.n_items = n + 1
        if type_index is None:
            at = n - self.type_off
            if at >= len(self.type_buf):
                shares = self.plan.type_shares
                self.type_buf.extend(
                    self.type_rng.choice(len(shares), size=max(1024, at + 1 - len(self.type_buf)), p=shares).tolist())
            type_index = self.type_buf[at]
        if size is None:
            size = self.plan.type_size[type_index]
            if size is None:
                size = self.size_draws[type_index].at(n)
        if self.free_slots:
            return self._reuse_slot(n, t, type_index, size)
        nan = math.nan
        i = len(self.arrival)
        self.ident.append(n)
        self.arrival.append(t)
        self.commit_t.append(nan)
        self.done_t.append(nan)
        self.itype.append(type_index)
        self.prio.append(self.plan.type_priority[type_index])
        self.size.append(size)
        self.touch.append(0.0)
        self.reworks.append(0)
        self.cur_visit.append(-1)
        self.first_done.append(0)
        self.first_enter.append(0)
        self.arrival_seq.append(self._next_order())
        self.commit_seq.append(-1)
        self.done_seq.append(-1)
        return i

    def _reuse_slot(self, n: int, t: float, type_index: int, size: float) -> int:
        """Item number n in the slot of a finished item (streaming runs)."""
        i = self.free_slots.pop()
        nan = math.nan
        self.ident[i] = n
        self.arrival[i] = t
        self.commit_t[i] = nan
        self.done_t[i] = nan
        self.itype[i] = type_index
        self.prio[i] = self.plan.type_priority[type_index]
        self.size[i] = size
        self.touch[i] = 0.0
        self.reworks[i] = 0
        self.cur_visit[i] = -1
        self.first_done[i] = 0
        self.first_enter[i] = 0
        self.arrival_seq[i] = self._next_order()
        self.commit_seq[i] = -1
        self.done_seq[i] = -1
        return i

    def _next_order(self) -> int:
        self.order += 1
        return self.order

    def _arrive(self, i: int) -> None:
        """Item i has arrived in the backlog: commit it, keep it, or reject it."""
        entry = (self.prio[i], self.seq, i)
        self.seq += 1
        backlog = self.backlogs[self.plan.route[self.itype[i]][0]]
        heapq.heappush(backlog, entry)
        self.backlog_n += 1
        self._commit()
        limit = self.spec.release.backlog_limit
        if limit is not None and self.backlog_n > limit:
            # the newcomer is the one that does not fit
            backlog.remove(entry)
            heapq.heapify(backlog)
            self.backlog_n -= 1
            self.rejected.append(self.arrival[i])
            self.itype[i] = -1 - self.itype[i]      # marked rejected; kept apart in the records
            self.done_pending += 1

    def _open_arrivals(self, ev=None) -> None:
        """Poisson, renewal or deterministic arrivals: one item now, the next one scheduled."""
        i = self._new_item(self.env._now)
        self._arrive(i)
        gap = self._gap()
        if self.horizon is None or self.env._now + gap <= self.horizon:
            self.env.timeout(gap).callbacks.append(self._open_arrivals)

    def _make_gaps(self):
        a = self.spec.arrivals
        if a.process == "poisson":
            from vssim.model.distributions import parse_distribution
            return Draws(parse_distribution({"dist": "exponential", "mean": 1.0 / a.rate}, ""), self.arrival_rng)
        if a.process == "renewal":
            return Draws(a.interarrival, self.arrival_rng)
        return None

    def _trace_arrival(self, ev) -> None:
        k = ev._value
        a = self.spec.arrivals
        tname = a.types[k]
        t_index = None if tname is None else list(self.spec.item_types).index(tname)
        i = self._new_item(self.env._now, t_index, a.sizes[k])
        self._arrive(i)
        if k + 1 < len(a.times):
            self.env.timeout(a.times[k + 1] - self.env._now, k + 1).callbacks.append(self._trace_arrival)
        else:
            self.arrivals_done = True
            self._check_frozen()

    # ------------------------------------------------------------------ release
    def _commit(self) -> None:
        """Commit backlog items, best class first, while CONWIP and their first column allow."""
        if not self.backlog_n and not self.saturated:
            return
        plan = self.plan
        count, limit, entry, backlogs = self.count, plan.limit, self.entry, self.backlogs
        saturated = self.saturated
        while self.wip < plan.conwip:
            best = -1
            for c in plan.first_columns:
                b = backlogs[c]
                if b and count[c] < limit[c] and not entry[c] and (best < 0 or b[0] < backlogs[best][0]):
                    best = c
            if best < 0:
                if saturated and not self.backlog_n:
                    # the backlog never empties: the next item is made when it is needed
                    i = self._new_item(self.env._now)
                    heapq.heappush(backlogs[plan.route[self.itype[i]][0]], (self.prio[i], self.seq, i))
                    self.seq += 1
                    self.backlog_n += 1
                    continue
                return
            i = heapq.heappop(backlogs[best])[2]
            self.backlog_n -= 1
            self.commit_t[i] = self.env._now
            self.commit_seq[i] = self._next_order()
            self.wip += 1
            count[best] += 1
            self._enter(best, i, -1)

    # ------------------------------------------------------------------ columns
    def _enter(self, k: int, i: int, src: int) -> None:
        """Item i has been admitted to column k (already counted) from column src (-1: backlog)."""
        v = self.n_visits
        if v == self.v_cap:
            self._grow_visits()
        self.n_visits = v + 1
        self.cur_visit[i] = v
        self.v_item[v] = i
        self.v_step[v] = k
        self.v_enter[v] = self.env._now
        delay = 0.0
        if src >= 0 and src != k:
            h = self.handoff[src]
            if h is not None:
                delay = h.next()
        p = self.plan.dependency_p[k]
        if p:
            bit = 1 << k
            if self.first_enter[i] & bit:
                u = self.dep_again_u[k].next()
            else:
                u = self.dep_u[k].at(self.ident[i])
                self.first_enter[i] |= bit
            if u < p:
                delay += self.dep_delay[k].next()
        if delay > 0.0:
            self.timers += 1
            self.env.timeout(delay, i).callbacks.append(self._delay_over)
        else:
            self._workable(k, i)

    def _delay_over(self, ev) -> None:
        self.timers -= 1
        i = ev._value
        self._workable(self.v_step[self.cur_visit[i]], i)
        if not self.busy and not self.timers:
            self._check_frozen()

    def _workable(self, k: int, i: int) -> None:
        self.v_ready[self.cur_visit[i]] = self.env._now
        for p in self.plan.step_pools[k]:
            free = self.free[p]
            if free:
                self._start(k, i, p, self._pick_person(free, k, p))
                return
        heapq.heappush(self.queue[k], (self.prio[i], self.seq, i))
        self.seq += 1

    def _pick_person(self, free: list[int], k: int, p: int) -> int:
        """A free person of pool p for step k: one who last worked on k if switching costs."""
        if self.switch[p] is not None:
            last = self.last_step
            for n in range(len(free) - 1, -1, -1):
                if last[free[n]] == k:
                    return free.pop(n)
        return free.pop()

    def _start(self, k: int, i: int, p: int, g: int) -> None:
        now = self.env._now
        bit = 1 << k
        seen = self.first_done[i]
        first = not seen & bit
        if first:
            w = self.work[k].at(self.ident[i])
            self.first_done[i] = seen | bit
        else:
            w = self.rework_work[k].next()
        w *= self.size[i]
        dur = w
        if not self.plain_pool[p]:
            sw = self.switch[p]
            if sw is not None and self.last_step[g] not in (-1, k):
                dur += sw.next()
            gap = self.intr_gap[p]
            if gap is not None:
                acc = gap.next()
                lengths = self.intr_len[p]
                while acc < w:
                    dur += lengths.next()
                    if sw is not None:
                        dur += sw.next()          # refocusing after the interruption
                    acc += gap.next()
        self.last_step[g] = k
        self.touch[i] += w
        v = self.cur_visit[i]
        self.v_start[v] = now
        self.v_person[v] = g
        self.v_work[v] = w
        self.order = order = self.order + 1
        self.v_sseq[v] = order
        self.busy += 1
        self.env.timeout(dur, (k, i, p, g, first)).callbacks.append(self._finish)

    def _finish(self, ev) -> None:
        k, i, p, g, first = ev._value
        self.busy -= 1
        v = self.cur_visit[i]
        self.v_end[v] = self.env._now
        self.order = order = self.order + 1
        self.v_eseq[v] = order
        plan = self.plan
        self.done_in[k] += 1
        if self.plain_exit[k]:
            self._request(k + 1, [i], k)
            self._dispatch(p, g)
            if self.entry[k] and self.done_in[k] == self.count[k]:
                self._check_deadlock(k)
            if not self.busy and not self.timers:
                self._check_frozen()
            return
        pr = plan.rework_p[k]
        if pr and (self.rework_u[k].at(self.ident[i]) if first else self.rework_again_u[k].next()) < pr:
            self.v_rew[v] = 1
            self.reworks[i] += 1
            to = plan.route[self.itype[i]][plan.rework_to[k]] if plan.routed else plan.rework_to[k]
            if to == k:                     # redone in the same column: it never leaves
                self.done_in[k] -= 1
                self.v_leave[v] = self.env._now
                self._enter(k, i, k)
            else:
                self._request(to, [i], k)
        else:
            out = self.outgoing[k]
            out.append(i)
            if len(out) >= plan.batch[k]:
                self.outgoing[k] = []
                self._release(k, out)
        # the person takes the next item
        self._dispatch(p, g)
        if self.done_in[k] == self.count[k] and self.entry[k]:
            self._check_deadlock(k)
        if not self.busy and not self.timers:
            self._check_frozen()

    def _dispatch(self, p: int, g: int) -> None:
        queue = self.queue
        if self.plan.pool_fifo[p]:
            best = None
            for k in self.plan.pool_steps[p]:
                q = queue[k]
                if q and (best is None or q[0] < queue[best][0]):
                    best = k
            if best is not None:
                self._start(best, heapq.heappop(queue[best])[2], p, g)
                return
        else:
            for k in self.plan.pool_steps[p]:
                q = queue[k]
                if q:
                    self._start(k, heapq.heappop(q)[2], p, g)
                    return
        self.free[p].append(g)

    def _release(self, k: int, group: list[int]) -> None:
        """A full transfer batch leaves step k: through the cadence gate if any, then onward."""
        if self.plan.cadence[k] is not None:
            self.gate[k].append(group)
            for dest, sub in self._split(k, group):
                self.blocked_to[k][dest] += len(sub)
            if not self.tick_pending[k]:
                self._schedule_tick(k)
        elif self.plan.routed:
            for dest, sub in self._split(k, group):
                self._request(dest, sub, k)
        else:
            self._request(k + 1, group, k)

    def _split(self, k: int, group: list[int]) -> list[tuple[int, list[int]]]:
        """Where the items of a group leaving step k go next, in first-come order."""
        if not self.plan.routed:
            return [(k + 1, group)]
        route, itype = self.plan.route, self.itype
        parts: dict[int, list[int]] = {}
        for i in group:
            parts.setdefault(route[itype[i]][k + 1], []).append(i)
        return list(parts.items())

    def _fits(self, dest: int, m: int) -> bool:
        """A group of m items can enter column dest now (done always can)."""
        return dest == self.plan.n_steps or (not self.entry[dest] and self.count[dest] + m <= self.plan.limit[dest])

    def _schedule_tick(self, k: int) -> None:
        period = self.plan.cadence[k]
        now = self.env._now
        n = math.ceil(now / period - 1e-9)
        self.tick_pending[k] = True
        self.env.timeout(max(0.0, n * period - now), k).callbacks.append(self._tick)

    def _tick(self, ev) -> None:
        k = ev._value
        self.tick_pending[k] = False
        gate = self.gate[k]
        blocked_at = -1
        while gate:
            parts = self._split(k, gate[0])
            stuck = [dest for dest, sub in parts if not self._fits(dest, len(sub))]
            if stuck:
                blocked_at = stuck[0]
                break
            gate.popleft()
            for dest, sub in parts:
                self.blocked_to[k][dest] -= len(sub)
                self._request(dest, sub, k)
        if gate:
            self.tick_pending[k] = True
            self.env.timeout(self.plan.cadence[k], k).callbacks.append(self._tick)
            if 0 <= blocked_at < self.plan.n_steps:
                self._check_deadlock(blocked_at)
        if not self.busy and not self.timers:
            self._check_frozen()

    def _request(self, k: int, group: list[int], src: int) -> None:
        """Group (done at src) asks to enter column k; k == n_steps means done."""
        if k == self.plan.n_steps:
            self._exit(group, src)
            return
        m = len(group)
        if not self.entry[k] and self.count[k] + m <= self.plan.limit[k]:
            # room at once: the usual case, without queueing for entry
            self.count[src] -= m
            self.done_in[src] -= m
            self.count[k] += m
            now = self.env._now
            for i in group:
                self.v_leave[self.cur_visit[i]] = now
                self._enter(k, i, src)
            if self.entry[src] or self.plan.is_first[src]:
                self._fill(src)
            return
        self.entry[k].append((group, src))
        self.blocked_to[src][k] += len(group)
        self._fill(k)
        if self.entry[k]:
            self._check_deadlock(k)

    def _fill(self, k: int) -> None:
        """Admit waiting groups into column k, oldest first, while they fit."""
        q = self.entry[k]
        lim = self.plan.limit[k]
        count = self.count
        freed = []
        while q:
            group, src = q[0]
            m = len(group)
            if count[k] + m > lim:
                break
            q.popleft()
            self.blocked_to[src][k] -= m
            count[src] -= m
            self.done_in[src] -= m
            count[k] += m
            now = self.env._now
            for i in group:
                self.v_leave[self.cur_visit[i]] = now
                self._enter(k, i, src)
            freed.append(src)
        for src in freed:
            self._fill(src)
        if self.plan.is_first[k]:
            self._commit()

    def _exit(self, group: list[int], src: int) -> None:
        now = self.env._now
        m = len(group)
        self.count[src] -= m
        self.done_in[src] -= m
        self.wip -= m
        self.done_pending += m
        for i in group:
            self.v_leave[self.cur_visit[i]] = now
            self.done_t[i] = now
            self.done_seq[i] = self._next_order()
        self._fill(src)
        if not self.plan.is_first[src]:
            self._commit()

    # ------------------------------------------------------------------ stuck states
    def _check_deadlock(self, k: int) -> None:
        """Column k cannot admit the group first in line. If a partial batch alone fills it,
        send the batch on; if k is in a cycle of full columns whose items are all done and
        waiting to enter another column of the cycle, raise."""
        count, done_in, blocked = self.count, self.done_in, self.blocked_to
        if self.outgoing[k] and count[k] == len(self.outgoing[k]) and self._full(k):
            # a partial batch fills its column and its mates cannot get in: it can never
            # grow, so it leaves as it is
            group, self.outgoing[k] = self.outgoing[k], []
            self._release(k, group)
            return
        seen = {k}
        stack = [k]
        while stack:
            x = stack.pop()
            if not self._full(x) or done_in[x] != count[x] or self.outgoing[x]:
                return
            for dest, waiting in enumerate(blocked[x]):
                if not waiting:
                    continue
                if dest == self.plan.n_steps:
                    return
                if dest not in seen:
                    seen.add(dest)
                    stack.append(dest)
        raise DeadlockError(self._describe_stuck(sorted(seen)))

    def _full(self, x: int) -> bool:
        """Column x cannot admit the group first in line for it (from upstream or a cadence gate)."""
        need = len(self.entry[x][0][0]) if self.entry[x] else UNLIMITED
        if x > 0 and self.gate[x - 1]:
            need = min(need, len(self.gate[x - 1][0]))
        return need < UNLIMITED and self.count[x] + need > self.plan.limit[x]

    def _check_frozen(self) -> None:
        """Called when no work or delay is under way: finish partial batches that can never
        fill, or report a stream that stopped moving."""
        if self.wip == 0 or self.busy or self.timers:
            return
        n = self.plan.n_steps
        for k in range(n):
            if self.gate[k] and all(self._fits(dest, len(sub)) for dest, sub in self._split(k, self.gate[k][0])):
                return                       # the next tick moves it
        can_commit = self.wip < self.plan.conwip and any(
            self.count[c] < self.plan.limit[c] and not self.entry[c] for c in self.plan.first_columns)
        if not self.arrivals_done and can_commit:
            return                          # new arrivals can still fill partial batches
        if self.spec.arrivals.process == "saturated" and can_commit:
            return
        for k in range(n - 1, -1, -1):
            if self.outgoing[k]:
                group, self.outgoing[k] = self.outgoing[k], []
                self._release(k, group)
                if not self.busy and not self.timers:
                    self._check_frozen()
                return
        raise DeadlockError(self._describe_stuck([k for k in range(n) if self.count[k]]))

    def _describe_stuck(self, columns: list[int]) -> str:
        names = self.spec.step_names
        parts = []
        for x in columns:
            lim = self.plan.limit[x]
            waits = ", ".join(f"{m} waiting to enter {names[d] if d < len(names) else 'done'}"
                              for d, m in enumerate(self.blocked_to[x]) if m)
            parts.append(f"{names[x]} (wip_limit {lim if lim < UNLIMITED else 'null'}) holds "
                         f"{self.count[x]} done item(s){': ' + waits if waits else ''}")
        return (f"deadlock at t={self.env._now:g} in replication {self.rep}: " + "; ".join(parts)
                + ". Every column in this cycle is full of items that wait for room in another one;"
                  " raise a wip_limit in the cycle or send rework to a column with room.")

    # ------------------------------------------------------------------ run
    def run(self) -> object:
        spec, env = self.spec, self.env
        a = spec.arrivals
        if a.process in ("poisson", "renewal", "deterministic"):
            gaps = self._gaps = self._make_gaps()
            if gaps is None:
                self._gap = lambda: 1.0 / a.rate
            else:
                self._gap = gaps.next
            # the first arrival comes after one gap (a renewal process started at 0)
            env.timeout(self._gap()).callbacks.append(self._open_arrivals)
        elif a.process == "backlog":
            for _ in range(a.count):
                self._arrive(self._new_item(0.0))
            self.arrivals_done = True
        elif a.process == "trace":
            env.timeout(a.times[0], 0).callbacks.append(self._trace_arrival)
        else:  # saturated
            self._commit()
        self._check_frozen()
        if self.sink.flush_every:
            self._run_streaming()
            return self.sink.close(float(self.horizon))
        if self.horizon is None:
            env.run()
            end = env.now
        else:
            steps = 50 if self.progress is not None else 1
            for s in range(1, steps + 1):
                env.run(until=self.horizon * s / steps)
                if self.progress is not None:
                    self.progress(1.0 / steps)
            end = self.horizon
            if a.finite and self.arrivals_done and self.wip == 0 and not self.backlog_n:
                end = self._last_event()
        if self.horizon is None and self.progress is not None:
            self.progress(1.0)
        return self._records(end)

    # ------------------------------------------------------------------ streaming
    def _run_streaming(self) -> None:
        """Run to the horizon in slices; between two, finished items leave for the running totals.

        A slice is sized to finish about `FLUSH` items (it adapts to the stream's throughput), so
        the engine holds the items in progress and at most a few slices of finished ones.
        """
        env, horizon = self.env, float(self.horizon)
        flush = self.sink.flush_every
        dt = horizon / 1000.0
        t = 0.0
        while t < horizon:
            nxt = min(horizon, t + dt)
            env.run(until=nxt)
            if self.progress is not None:
                self.progress((nxt - t) / horizon)
            t = nxt
            if self.done_pending >= flush:
                ratio = self.done_pending / flush
                if ratio > 2.0:
                    dt /= 2.0
                self._flush()
            else:
                dt *= 2.0
        self._flush(final=True)

    def _flush(self, final: bool = False) -> None:
        """Give done and rejected items (all items when `final`) and their visits to the stats,
        free their slots, compact the visit arrays and forget the draws no item can ask for."""
        sink, plan = self.sink, self.plan
        self.done_pending = 0
        arrival = np.array(self.arrival)
        live = ~np.isnan(arrival)
        itype = np.array(self.itype, dtype=np.int64)
        done = np.array(self.done_t)
        out = live & (~np.isnan(done) | (itype < 0)) if not final else live
        gone = out & (itype >= 0)                        # rejected items are only counted
        idx = np.flatnonzero(gone)
        sink.add_items(arrival=arrival[idx], commit=np.array(self.commit_t)[idx], done=done[idx],
                       touch=np.array(self.touch)[idx], item_type=itype[idx],
                       item_value=np.asarray(plan.type_value, dtype=float)[itype[idx]])
        sink.add_rejected(np.frombuffer(self.rejected, dtype=np.float64) if len(self.rejected) else [])
        del self.rejected[:]
        # visits of the items that leave; the rest move to the front, in their order
        nv = self.n_visits
        columns = self._visit_columns()
        v = {name: np.array(a[:nv]) for name, a, _ in columns}
        leaving = out[v["item"]] if nv else np.zeros(0, dtype=bool)
        sink.add_visits(**{f"visit_{k}": v[k][leaving] for k in ("step", "enter", "ready", "start", "end", "leave",
                                                                  "work", "reworked", "person")})
        keep = ~leaving
        nk = int(keep.sum())
        for name, a, default in columns:
            a[:nk] = array(a.typecode, v[name][keep].tobytes())
            a[nk:nv] = array(a.typecode, [default]) * (nv - nk)
        self.n_visits = nk
        renumber = np.cumsum(keep) - 1
        slots = np.flatnonzero(live & ~out)
        cur = np.array(self.cur_visit, dtype=np.int64)
        for i in slots.tolist():
            c = cur[i]
            if c >= 0:
                self.cur_visit[i] = int(renumber[c])
        # free the slots; forget the draws of items before the oldest one left
        nan = math.nan
        freed = np.flatnonzero(out).tolist()
        for i in freed:
            self.arrival[i] = nan
            self.done_t[i] = nan
            self.itype[i] = 0
            self.cur_visit[i] = -1
        self.free_slots.extend(reversed(freed))
        oldest = min((self.ident[i] for i in slots.tolist()), default=self.n_items)
        for d in (*self.work, *self.dep_u, *self.rework_u, *self.size_draws):
            if d is not None:
                d.trim(oldest)
        for d in (*self.rework_work, *self.rework_again_u, *self.handoff, *self.dep_again_u, *self.dep_delay,
                  *self.switch, *self.intr_gap, *self.intr_len, self._gaps):
            if d is not None:
                d.trim()
        cut = min(oldest - self.type_off, len(self.type_buf))
        if cut > 0:
            del self.type_buf[:cut]
            self.type_off += cut

    def _last_event(self) -> float:
        """When a finite stream finished: its last completion (or arrival, if none was done)."""
        done = [t for t in self.done_t if t == t]
        return max(done) if done else max(self.arrival, default=0.0)

    def _records(self, end: float) -> object:
        """Every item and visit to the sink, once (a full run), rejected arrivals apart."""
        plan, sink = self.plan, self.sink
        f = lambda a, dt=float: np.frombuffer(a, dtype=dt) if len(a) else np.zeros(0, dtype=dt)  # noqa: E731
        itype = np.array(self.itype, dtype=np.int64)
        keep = itype >= 0                  # rejected arrivals are kept apart
        remap = np.cumsum(keep) - 1
        nv = self.n_visits
        for _, a, _ in self._visit_columns():
            del a[nv:]
        vi = np.array(self.v_item, dtype=np.int64)
        sink.add_items(
            item_type=itype[keep],
            item_priority=np.array(self.prio, dtype=np.int64)[keep],
            item_size=f(self.size)[keep],
            item_value=np.array(plan.type_value, dtype=float)[itype[keep]] if keep.any() else np.zeros(0),
            arrival=f(self.arrival)[keep],
            commit=f(self.commit_t)[keep],
            done=f(self.done_t)[keep],
            touch=f(self.touch)[keep],
            rework_count=np.array(self.reworks, dtype=np.int64)[keep],
            arrival_seq=np.array(self.arrival_seq, dtype=np.int64)[keep],
            commit_seq=np.array(self.commit_seq, dtype=np.int64)[keep],
            done_seq=np.array(self.done_seq, dtype=np.int64)[keep])
        sink.add_visits(
            visit_item=remap[vi] if len(vi) else vi,
            visit_step=np.array(self.v_step, dtype=np.int64),
            visit_enter=f(self.v_enter).copy(), visit_ready=f(self.v_ready).copy(),
            visit_start=f(self.v_start).copy(), visit_end=f(self.v_end).copy(),
            visit_leave=f(self.v_leave).copy(),
            visit_person=np.array(self.v_person, dtype=np.int64),
            visit_work=f(self.v_work).copy(),
            visit_reworked=np.array(self.v_rew, dtype=bool),
            visit_start_seq=np.array(self.v_sseq, dtype=np.int64),
            visit_end_seq=np.array(self.v_eseq, dtype=np.int64))
        sink.add_rejected(f(self.rejected).copy())
        return sink.close(end)


class SimPyEngine:
    """The reference engine (`sim.engine=simpy`): every stream, event by event."""

    name = "simpy"

    def qualifies(self, plan: Plan, settings: Settings) -> str | None:
        return None

    def run(self, plan: Plan, settings: Settings, replication: int, sink: RecordSink, progress=None) -> object:
        return Replication(plan, settings, replication, sink, progress).run()
