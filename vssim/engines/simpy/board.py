"""The board's rules: how items arrive, are committed, move through the columns and leave.

The board's state (columns, queues, free people) lives in plain lists indexed by step (k), pool
(p), person and item slot (i); every transition is a callback on SimPy's event calendar, not a
process, so that an item-step costs one scheduled event.

Semantics, in the order an item meets them:

* it arrives into the backlog (priority: class of service, then arrival), or is rejected when
  the backlog is at `backlog_limit`;
* it is committed into the first column when the release policy allows (CONWIP count, the
  first column's limit; items returning to that column by rework go first);
* in a column it first waits the handoff of the step it came from and, with the step's
  dependency probability, the dependency delay; then it is workable and queues for a person of
  the step's pools (class of service, then first come);
* a person works it for draw x size (+ switch cost + interruptions); people are never
  blocked by done items; a pool with a calendar works only in its working time: the work ends
  when that much working time has passed (`Calendar.add`), and a person free outside working
  time, or an item workable then, waits for the pool's next opening, where dispatch picks
  (`_open`);
* after work, with the rework probability it returns to the rework step, else it joins the
  step's outgoing transfer batch; a full batch waits for the cadence, then for room in the next
  column (oldest first, whole batches only); leaving the last column is being done.

A column counts its waiting, in-progress and done-not-pulled items against its WIP limit; an
item counts in a column from the moment it is admitted (handoff and dependency waits included)
until it is admitted to the next one. With item types routed (`plan.routed`), an item's next
column and its rework column are those of its type's route.
"""
from __future__ import annotations

import bisect
import heapq
import math
from collections import deque

from vssim.model.teams import DEPENDENCY_LEVEL, child_counts


class Board:
    """The board of a `Replication` (a mixin: its sources, ledger and stuck-state checks are
    attributes and methods of the same object, read as plain `self.x` on the hot path)."""

    def _init_board(self) -> None:
        plan, n = self.plan, self.plan.n_steps
        self.in_column = [0] * n            # items in each column
        self.done_in_column = [0] * n       # of which done (batching, gated, or waiting to move)
        self.queue: list[list] = [[] for _ in range(n)]                  # workable items: (priority, ticket, slot)
        self.waiting_to_enter: list[deque] = [deque() for _ in range(n)]  # groups: (group, src)
        self.outgoing: list[list[int]] = [[] for _ in range(n)]          # partial transfer batch
        self.gate: list[deque] = [deque() for _ in range(n)]             # full batches waiting for the cadence
        self.tick_pending = [False] * n
        nb = len(plan.board_names)
        self.blocked_to = [[0] * (n + nb) for _ in range(n)]  # [src][dest]: done items waiting to move (n + b: done)
        self.free_people = [list(reversed(people[:size])) for people, size in zip(plan.pool_people, plan.pool_sizes,
                                                                                  strict=True)]
        # pools with a schedule: who is on the pool now, who leaves once the item in hand is done
        self.scheduled = [bool(s) for s in plan.pool_schedule]
        self.active = [True] * len(plan.person_pool)
        for people, size in zip(plan.pool_people, plan.pool_sizes, strict=True):
            for q in people[size:]:
                self.active[q] = False
        self.leaving: set[int] = set()
        self.resizes_left = sum(len(s) for s in plan.pool_schedule)
        self.last_step_of = [-1] * len(plan.person_pool)     # by person: the step worked last
        self.backlogs: list[list] = [[] for _ in range(n)]    # per first column: (priority, ticket, slot)
        self.board_backlog = [0] * nb       # items in each board's backlog (0: the stream's)
        self.board_wip = [0] * nb           # committed items not done, per board
        self.busy = 0                       # people at work
        self.delays = 0                     # handoff and dependency waits under way
        self.ticket = 0                     # queue entries so far: first come first served among equals
        self.arrivals_done = False          # a backlog or trace stream has made all its items
        self.saturated = self.spec.arrivals.process == "saturated"
        # per step and pool: which optional features apply (so the usual case skips them)
        self.plain_exit = [not plan.rework_p[k] and plan.batch[k] == 1 and plan.cadence[k] is None
                           and not plan.routed for k in range(n)]
        self.next_step = plan.after[0] if plan.after else list(range(1, n + 1))  # unrouted: the same for every type
        # split steps and steps that may ask a team: the item goes through `_special` before it is workable
        self.special = [t is not None or d >= 0 for t, d in zip(plan.split_teams, plan.dependency_team, strict=True)]
        self.asking: set[int] = set()       # items that wait for a team dependency's child before they are workable
        self.dependency_level = (plan.level_names.index(DEPENDENCY_LEVEL) if DEPENDENCY_LEVEL in plan.level_names
                                 else -1)
        # swarming steps (`swarm` > 1): the crews at work, by item slot; by step, the items whose crew has room
        # (in the order they started); by pool, its swarming steps in each of its speed tiers (none: it never joins)
        self.swarming = [c > 1 for c in plan.step_swarm]
        self.crews: dict[int, Crew] = {}
        self.open_crews: list[list[int]] = [[] for _ in range(n)]
        self.swarm_tiers = [[[k for k in tier if plan.step_swarm[k] > 1] for tier in tiers]
                            for tiers in plan.pool_tiers]
        self.swarms_of = [any(tiers) for tiers in self.swarm_tiers]
        self.plain_pool = [switch is None and not interrupted
                           for switch, interrupted in zip(self.switch_cost, self.interrupted, strict=True)]
        self.until = math.inf if self.horizon is None else float(self.horizon)
        self.draining: set[int] = set()     # a transition's dissolved teams still finishing their work
        # working calendars: by pool its Calendar (None: always at work) and whether an opening is awaited
        self.calendar = [pool.calendar for pool in plan.pools]
        self.opening = [False] * len(plan.pools)
        self.wakeups = 0                    # openings scheduled for people waiting with work queued

    # ------------------------------------------------------------------ capacity over time
    def _start_schedules(self) -> None:
        for p, schedule in enumerate(self.plan.pool_schedule):
            for at, size in schedule:
                self.env.timeout(at, (p, size)).callbacks.append(self._resize)

    def _resize(self, ev) -> None:
        """Pool p has `size` people from now: the first ones of the pool join (and take work), the last
        ones leave (at once when idle, else once the item in hand is done)."""
        p, size = ev._value
        self.resizes_left -= 1
        people, active, free = self.plan.pool_people[p], self.active, self.free_people[p]
        now = sum(active[q] for q in people)
        for q in people:                    # joining: the lowest numbers first
            if now >= size:
                break
            if not active[q]:
                active[q] = True
                now += 1
                if q in self.leaving:       # still at work on their last item: they stay
                    self.leaving.discard(q)
                else:
                    self._dispatch(p, q)
        for q in reversed(people):          # leaving: the highest numbers first
            if now <= size:
                break
            if active[q]:
                active[q] = False
                now -= 1
                if q in free:
                    free.remove(q)
                else:
                    self.leaving.add(q)
        if not self.busy and not self.delays:
            self._check_frozen()

    # ------------------------------------------------------------------ arrivals
    def _start_arrivals(self) -> None:
        """Schedule the first arrival (open and trace streams), or fill the backlog at time 0."""
        a, env = self.spec.arrivals, self.env
        self._start_schedules()
        if a.process in ("poisson", "renewal", "deterministic"):
            # the first arrival comes after one gap (a renewal process started at 0)
            self.open_arrived = 0
            gap = self.next_gap()
            if gap == math.inf:
                self.arrivals_done = True
            else:
                env.timeout(gap).callbacks.append(self._open_arrivals)
        elif a.process == "backlog":
            for _ in range(a.count):
                self._arrive(self._new_item(0.0))
            self.arrivals_done = True
        elif a.process == "trace":
            env.timeout(a.times[0], 0).callbacks.append(self._trace_arrival)
        else:  # saturated: items are made when the first column has room
            self._commit()

    def _open_arrivals(self, ev=None) -> None:
        """Poisson, renewal or deterministic arrivals: one item now, the next one scheduled."""
        i = self._new_item(self.env._now)
        self._arrive(i)
        self.open_arrived += 1
        limit = self.spec.arrivals.limit
        if limit is not None and self.open_arrived >= limit:
            self.arrivals_done = True           # `limit: N`: the first N only, the run goes on until they are done
            self._check_frozen()
            return
        self._schedule_open(self.next_gap())

    def _schedule_open(self, gap: float) -> None:
        """The next open arrival after `gap`, unless it falls beyond the horizon; an infinite gap (a profile
        whose falling trend has brought the rate to 0) ends the arrivals."""
        if gap == math.inf:
            self.arrivals_done = True
            self._check_frozen()
        elif self.horizon is None or self.env._now + gap <= self.horizon:
            self.env.timeout(gap).callbacks.append(self._open_arrivals)

    def _trace_arrival(self, ev) -> None:
        k = ev._value
        a = self.spec.arrivals
        type_name = a.types[k]
        type_index = None if type_name is None else list(self.spec.item_types).index(type_name)
        i = self._new_item(self.env._now, type_index, a.sizes[k])
        self._arrive(i)
        if k + 1 < len(a.times):
            # the clock is a sum of the gaps, which may round past the next time: never a negative gap
            gap = a.times[k + 1] - self.env._now
            self.env.timeout(gap if gap > 0.0 else 0.0, k + 1).callbacks.append(self._trace_arrival)
        else:
            self.arrivals_done = True
            self._check_frozen()

    def _arrive(self, i: int) -> None:
        """Item i has arrived in the backlog: commit it, keep it, or reject it."""
        entry = (self.priority[i], self.ticket, i)
        self.ticket += 1
        backlog = self.backlogs[self.plan.route[self.item_type[i]][0]]
        heapq.heappush(backlog, entry)
        self.board_backlog[0] += 1
        self._commit()
        limit = self.spec.release.backlog_limit
        if limit is not None and self.board_backlog[0] > limit:
            # the newcomer is the one that does not fit
            backlog.remove(entry)
            heapq.heapify(backlog)
            self.board_backlog[0] -= 1
            self.rejected_times.append(self.arrival[i])
            self.item_type[i] = -1 - self.item_type[i]      # marked rejected; kept apart in the records
            self.done_pending += 1

    # ------------------------------------------------------------------ release
    def _commit(self, b: int = 0) -> None:
        """Commit board b's backlog items, best class first, while its CONWIP and first column allow."""
        backlog_n = self.board_backlog
        saturated = self.saturated and not b
        if not backlog_n[b] and not saturated:
            return
        plan = self.plan
        in_column, limit, waiting, backlogs = self.in_column, plan.limit, self.waiting_to_enter, self.backlogs
        wip, conwip, firsts = self.board_wip, plan.board_conwip[b], plan.board_first_columns[b]
        while wip[b] < conwip:
            best = -1
            for c in firsts:
                q = backlogs[c]
                if q and in_column[c] < limit[c] and not waiting[c] and (best < 0 or q[0] < backlogs[best][0]):
                    best = c
            if best < 0:
                if saturated and not backlog_n[0]:
                    # the backlog never empties: the next item is made when it is needed
                    i = self._new_item(self.env._now)
                    heapq.heappush(backlogs[plan.route[self.item_type[i]][0]], (self.priority[i], self.ticket, i))
                    self.ticket += 1
                    backlog_n[0] += 1
                    continue
                return
            i = heapq.heappop(backlogs[best])[2]
            backlog_n[b] -= 1
            self.commit_time[i] = self.env._now
            self.commit_seq[i] = self._next_order()
            wip[b] += 1
            in_column[best] += 1
            self._enter(best, i, -1)

    # ------------------------------------------------------------------ columns
    def _new_visit(self, i: int, k: int, at: float) -> int:
        """Item i's visit of column k, entered at `at`: the visit's number."""
        v = self.n_visits
        if v == self.visit_capacity:
            self._grow_visits()
        self.n_visits = v + 1
        self.current_visit[i] = v
        self.visit_item[v] = i
        self.visit_step[v] = k
        self.visit_enter[v] = at
        return v

    def _enter(self, k: int, i: int, src: int) -> None:
        """Item i has been admitted to column k (already counted) from column src (-1: backlog)."""
        self._new_visit(i, k, self.env._now)
        delay = 0.0
        if src >= 0 and src != k:
            h = self.handoff[src]
            if h is not None:
                delay = h.next()
        p = self.plan.dependency_p[k]
        if p:
            bit = 1 << k
            if self.entered_steps[i] & bit:
                u = self.dependency_again_decision[k].next()
            else:
                u = self.dependency_decision[k].at(self.item_number[i])
                self.entered_steps[i] |= bit
            if u < p:
                if self.plan.dependency_team[k] >= 0:
                    self.asking.add(i)      # the team's child first (`_special`), its delay after
                else:
                    delay += self.dependency_delay[k].next()
        if delay > 0.0:
            self.delays += 1
            self.env.timeout(delay, i).callbacks.append(self._delay_over)
        elif self.special[k]:
            self._special(k, i)
        else:
            self._workable(k, i)

    def _delay_over(self, ev) -> None:
        self.delays -= 1
        i = ev._value
        k = self.visit_step[self.current_visit[i]]
        if self.special[k]:
            self._special(k, i)
        else:
            self._workable(k, i)
        if not self.busy and not self.delays:
            self._check_frozen()

    # ------------------------------------------------------------------ splits, joins, team dependencies
    def _special(self, k: int, i: int) -> None:
        """Item i has waited its handoff at k, a split step or a step that may ask a team: it makes
        its children (a split), or the one piece of work it asks a team for, and waits for them
        in the column; else it is workable."""
        plan = self.plan
        teams = plan.split_teams[k]
        if teams is not None:
            now = self.env._now
            v = self.current_visit[i]
            self.visit_ready[v] = now
            self.visit_start[v] = now
            self.event_order = order = self.event_order + 1
            self.visit_start_seq[v] = order
            bit = 1 << k
            again = self.started_steps[i] & bit
            if again:
                counts = [int(child_counts(d.next())) for d in self.split_again_count[k]]
            else:
                number = self.item_number[i]
                counts = [int(child_counts(d.at(number))) for d in self.split_count[k]]
                self.started_steps[i] |= bit
            choose = plan.split_choose[k]
            if choose is not None:          # one team of the list, drawn ∝ its mean count, makes children
                u = self.choose_again_draw[k].next() if again else self.choose_draw[k].at(number)
                listed, cumulative = choose
                drawn = listed[bisect.bisect_right(cumulative, u)]
                for t in listed:
                    if t != drawn:
                        counts[t] = 0
            total = sum(counts)
            if not total:
                self._join(i)               # no children: it passes
                return
            self.pending[i] = total         # before any child is made: a child may be done at once
            level, sizes, size = plan.split_level[k], self.split_size[k], self.size[i]
            for (b, _), c in zip(teams, counts, strict=True):
                for _ in range(c):
                    self._give(b, self._new_child(i, k, b, level, size if sizes is None else size * sizes.next()))
            return
        if i in self.asking:
            self.asking.discard(i)
            self.pending[i] = 1
            sizes = self.dependency_size[k]
            b = plan.dependency_team[k]
            size = self.size[i] if sizes is None else sizes.next()
            self._give(b, self._new_child(i, k, b, self.dependency_level, size))
            return
        self._workable(k, i)

    def _give(self, b: int, i: int) -> None:
        """Child i joins board b's backlog, and is committed if the board has room."""
        heapq.heappush(self.backlogs[self.plan.route[self.item_type[i]][self.plan.board_start[b]]],
                       (self.priority[i], self.ticket, i))
        self.ticket += 1
        self.board_backlog[b] += 1
        self._commit(b)

    def _join(self, j: int) -> None:
        """Parent j's last child is done: a team dependency's parent waits its delay (if any) and is
        workable; a split's parent has been worked at its split step and moves on."""
        v = self.current_visit[j]
        k = self.visit_step[v]
        if self.plan.split_teams[k] is None:
            d = self.dependency_delay[k]
            if d is not None:
                self.delays += 1
                self.env.timeout(d.next(), j).callbacks.append(self._delay_over)
            else:
                self._workable(k, j)
            return
        self.visit_end[v] = self.env._now
        self.event_order = order = self.event_order + 1
        self.visit_end_seq[v] = order
        self.done_in_column[k] += 1
        if self.plain_exit[k]:
            self._request(self.next_step[k], [j], k)
        else:
            self._after_work(k, j, v, True)
        if self.done_in_column[k] == self.in_column[k] and self.waiting_to_enter[k]:
            self._check_deadlock(k)

    def _workable(self, k: int, i: int) -> None:
        """Item i can be worked at k: a free person of the step's pools starts it, or it queues."""
        now = self.visit_ready[self.current_visit[i]] = self.env._now
        calendar = self.calendar
        closed = None
        for p in self.plan.step_pick[k]:
            free = self.free_people[p]
            if free:
                if calendar[p] is not None and not calendar[p].is_working(now):
                    closed = [*(closed or ()), p]
                    continue
                self._start(k, i, p, self._pick_person(free, k, p))
                return
        heapq.heappush(self.queue[k], (self.priority[i], self.ticket, i))
        self.ticket += 1
        for p in closed or ():              # free people off work: they pick at their next opening
            self._await_opening(p)

    def _await_opening(self, p: int) -> None:
        """Pool p has free people off work and work queued: its next opening is scheduled (once)."""
        if self.opening[p]:
            return
        self.opening[p] = True
        self.wakeups += 1
        now = self.env._now
        self.env.timeout(self.calendar[p].next_open(now) - now, p).callbacks.append(self._open)

    def _open(self, ev) -> None:
        """Pool p opens: its free people pick work as if each had just become free (the last freed first,
        as `free.pop` would take them); those who find none stay free, in the order they were."""
        p = ev._value
        self.opening[p] = False
        self.wakeups -= 1
        free = self.free_people[p]
        people = free[:]
        free.clear()
        for person in reversed(people):
            self._dispatch(p, person)
        free.reverse()
        if not self.busy and not self.delays:
            self._check_frozen()

    def _pick_person(self, free: list[int], k: int, p: int) -> int:
        """A free person of pool p for step k: one who last worked on k if switching costs."""
        if self.switch_cost[p] is not None:
            last = self.last_step_of
            for n in range(len(free) - 1, -1, -1):
                if last[free[n]] == k:
                    return free.pop(n)
        return free.pop()

    def _start(self, k: int, i: int, p: int, person: int) -> None:
        """`person` of pool p starts item i at step k."""
        now = self.env._now
        bit = 1 << k
        started = self.started_steps[i]
        first = not started & bit
        if first:
            w = self.work[k].at(self.item_number[i])
            self.started_steps[i] = started | bit
        else:
            w = self.rework_work[k].next()
        w *= self.size[i]
        if self.swarming[k]:
            self._start_crew(k, i, p, person, w, first)
            return
        speed = self.plan.step_speed[k]
        if speed is not None:               # this pool's people at this step: work time ÷ their speed
            w /= speed[p]
        if self.learning is not None and self.learning[person] is not None:
            w /= self._learned(person, now)     # after a transition: still learning
        duration = w
        if not self.plain_pool[p]:
            switch = self.switch_cost[p]
            if switch is not None and self.last_step_of[person] not in (-1, k):
                duration += switch.next()
            if self.interrupted[p]:
                gaps, lengths, refocus = (self.person_interruptions.get(person)
                                          or self._interruption_sources(p, person))
                next_interruption = gaps.next()    # after this much of the work
                # until the work is done, or it ends at or after the horizon whatever comes next
                # (the work does not end in the run: the draws left are the person's own)
                until = self.until
                while next_interruption < w and now + duration < until:
                    duration += lengths.next()
                    if refocus is not None:
                        duration += refocus.next()  # refocusing after the interruption
                    next_interruption += gaps.next()
        calendar = self.calendar[p]
        if calendar is not None:            # the work, switch and interruptions advance in working time only
            duration = calendar.add(now, duration) - now
        self.last_step_of[person] = k
        self.touch[i] += w
        v = self.current_visit[i]
        self.visit_start[v] = now
        self.visit_person[v] = person
        self.visit_work[v] = w
        self.event_order = order = self.event_order + 1
        self.visit_start_seq[v] = order
        self.busy += 1
        self.env.timeout(duration, (k, i, p, person, first)).callbacks.append(self._finish)

    def _finish(self, ev) -> None:
        """Work done: rework or on to the transfer batch; the person takes the next item."""
        k, i, p, person, first = ev._value
        self.busy -= 1
        v = self.current_visit[i]
        self.visit_end[v] = self.env._now
        self.event_order = order = self.event_order + 1
        self.visit_end_seq[v] = order
        self.done_in_column[k] += 1
        if self.plain_exit[k]:
            self._request(self.next_step[k], [i], k)
            self._dispatch(p, person)
            if self.waiting_to_enter[k] and self.done_in_column[k] == self.in_column[k]:
                self._check_deadlock(k)
            if not self.busy and not self.delays:
                self._check_frozen()
            return
        self._after_work(k, i, v, first)
        self._dispatch(p, person)
        if self.done_in_column[k] == self.in_column[k] and self.waiting_to_enter[k]:
            self._check_deadlock(k)
        if not self.busy and not self.delays:
            self._check_frozen()

    def _after_work(self, k: int, i: int, v: int, first: bool) -> None:
        """Item i (visit v) has been worked at k: back to its rework step, or into the transfer batch."""
        plan = self.plan
        rework_p = plan.rework_p[k]
        if rework_p and (self.rework_decision[k].at(self.item_number[i]) if first
                         else self.rework_again_decision[k].next()) < rework_p:
            self.visit_reworked[v] = 1
            self.rework_count[i] += 1
            to = plan.route[self.item_type[i]][plan.rework_to[k]] if plan.routed else plan.rework_to[k]
            if to == k:                     # redone in the same column: it never leaves
                self.done_in_column[k] -= 1
                self.visit_leave[v] = self.env._now
                self._enter(k, i, k)
            else:
                self._request(to, [i], k)
        else:
            out = self.outgoing[k]
            out.append(i)
            if len(out) >= plan.batch[k]:
                self.outgoing[k] = []
                self._release(k, out)

    def _dispatch(self, p: int, person: int) -> None:
        """`person` of pool p is free: the best queued item of the pool's steps, or idle. Own skill
        first: the steps where the pool works fastest, then the next speed, and so on (`pool_tiers`);
        within one speed the pool's dispatch rule, a crew with room before a queued item."""
        if self.scheduled[p] and not self.active[person]:
            self.leaving.discard(person)    # off the pool's schedule: gone
            return
        plan = self.plan
        calendar = self.calendar[p]
        if calendar is not None and not calendar.is_working(self.env._now):
            self.free_people[p].append(person)      # off work: they pick at the next opening
            if any(self.queue[k] for k in plan.pool_steps[p]):
                self._await_opening(p)
            return
        if self.swarms_of[p]:               # stop starting, start finishing: an item in progress first
            best_queued = self._best_queued if plan.pool_fifo[p] else self._first_queued
            for steps, swarm in zip(plan.pool_tiers[p], self.swarm_tiers[p], strict=True):
                if swarm and self._join_crew(p, person, swarm):
                    return
                k = best_queued(steps)
                if k >= 0:
                    self._start(k, heapq.heappop(self.queue[k])[2], p, person)
                    return
        elif plan.pool_fifo[p]:
            for steps in plan.pool_tiers[p]:
                k = self._best_queued(steps)
                if k >= 0:
                    self._start(k, heapq.heappop(self.queue[k])[2], p, person)
                    return
        else:                               # pool_steps: the tiers one after the other, each in dispatch order
            queue = self.queue
            for k in plan.pool_steps[p]:
                q = queue[k]
                if q:
                    self._start(k, heapq.heappop(q)[2], p, person)
                    return
        self.free_people[p].append(person)

    def _best_queued(self, steps: list[int]) -> int:
        """`fifo`: the step among `steps` whose queue head is best (class of service, then time), -1: none."""
        queue, best = self.queue, -1
        for k in steps:
            q = queue[k]
            if q and (best < 0 or q[0] < queue[best][0]):
                best = k
        return best

    def _first_queued(self, steps: list[int]) -> int:
        """`downstream_first`, `upstream_first`: the first of `steps` (in dispatch order) with a queue, -1: none."""
        queue = self.queue
        for k in steps:
            if queue[k]:
                return k
        return -1

    # ------------------------------------------------------------------ swarming
    def _start_crew(self, k: int, i: int, p: int, person: int, work: float, first: bool) -> None:
        """`person` of pool p starts item i at swarming step k (`work`: draw x size, at speed 1); the
        step's free people join at once, up to its swarm, pools in its pick order."""
        now = self.env._now
        v = self.current_visit[i]
        self.visit_start[v] = now
        self.visit_person[v] = person
        self.event_order = order = self.event_order + 1
        self.visit_start_seq[v] = order
        self.last_step_of[person] = k
        self.busy += 1
        crew = Crew(k, i, v, first, person, p, self._speed(k, p), work, now, order)
        self.crews[i] = crew
        size = self.plan.step_swarm[k]
        for q in self.plan.step_pick[k]:
            free = self.free_people[q]
            while free and len(crew.people) < size:
                self._add_to_crew(crew, q, self._pick_person(free, k, q))
        if len(crew.people) < size:
            self.open_crews[k].append(i)
        self._schedule_crew(crew)

    def _speed(self, k: int, p: int) -> float:
        """How fast pool p's people work step k (1 without speeds): each person's share of a crew's rate."""
        speed = self.plan.step_speed[k]
        return 1.0 if speed is None else speed[p]

    def _join_crew(self, p: int, person: int, steps: list[int]) -> bool:
        """`person` of pool p, free, joins the crew of an item in progress at one of `steps` (the pool's
        swarming steps of one speed tier) that has room: the first such step in the pool's dispatch
        order (`fifo`: the crew that started first), the crew that started first there. False when
        there is none."""
        best = -1
        for k in steps:
            if self.open_crews[k]:
                if not self.plan.pool_fifo[p]:
                    best = k
                    break
                if best < 0 or self.crews[self.open_crews[k][0]].order < self.crews[self.open_crews[best][0]].order:
                    best = k
        if best < 0:
            return False
        crews = self.open_crews[best]
        crew = self.crews[crews[0]]
        self._add_to_crew(crew, p, person)
        if len(crew.people) >= self.plan.step_swarm[best]:
            crews.pop(0)
        self._schedule_crew(crew)
        return True

    def _add_to_crew(self, crew: Crew, p: int, person: int) -> None:
        """`person` of pool p joins `crew` now: the work done so far at the old rate is taken off."""
        now = self.env._now
        crew.remaining = max(0.0, crew.remaining - crew.rate(self.plan.step_overhead[crew.step]) * (now - crew.since))
        crew.since = now
        crew.people.append(person)
        crew.pools.append(p)
        crew.speeds += self._speed(crew.step, p)
        self.last_step_of[person] = crew.step
        self.busy += 1
        self.event_order = order = self.event_order + 1
        self.helper_visit.append(crew.visit)
        self.helper_person.append(person)
        self.helper_start.append(now)
        self.helper_start_seq.append(order)

    def _schedule_crew(self, crew: Crew) -> None:
        """The crew's end at its present rate: a new generation, so that the end scheduled before is
        ignored (a SimPy timeout cannot be cancelled); the visit's work (its touch time) is the time
        from its start to that end."""
        now = self.env._now
        crew.generation += 1
        duration = crew.remaining / crew.rate(self.plan.step_overhead[crew.step])
        v, i = crew.visit, crew.item
        worked = now - self.visit_start[v] + duration
        self.touch[i] += worked - self.visit_work[v]
        self.visit_work[v] = worked
        self.env.timeout(duration, (crew, crew.generation)).callbacks.append(self._crew_done)

    def _crew_done(self, ev) -> None:
        """A crew's end, unless someone joined since it was scheduled: the item is done as one
        person's (`_finish`, its starter's), then every helper is free, in the order they joined."""
        crew, generation = ev._value
        if generation != crew.generation:
            return
        i, k = crew.item, crew.step
        del self.crews[i]
        crews = self.open_crews[k]
        if crews and i in crews:
            crews.remove(i)
        self._finish(_Due((k, i, crew.pools[0], crew.people[0], crew.first)))
        for p, person in zip(crew.pools[1:], crew.people[1:], strict=True):
            self.busy -= 1
            self._dispatch(p, person)
        if not self.busy and not self.delays:
            self._check_frozen()

    # ------------------------------------------------------------------ transfer batches, cadence, routing
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
            self._request(self.next_step[k], group, k)

    def _split(self, k: int, group: list[int]) -> list[tuple[int, list[int]]]:
        """Where the items of a group leaving step k go next, in first-come order."""
        if not self.plan.routed:
            return [(self.next_step[k], group)]
        after, item_type = self.plan.after, self.item_type
        parts: dict[int, list[int]] = {}
        for i in group:
            parts.setdefault(after[item_type[i]][k], []).append(i)
        return list(parts.items())

    def _fits(self, dest: int, m: int) -> bool:
        """A group of m items can enter column dest now (done always can)."""
        return dest >= self.plan.n_steps or (not self.waiting_to_enter[dest]
                                             and self.in_column[dest] + m <= self.plan.limit[dest])

    def _schedule_tick(self, k: int) -> None:
        """The gate of step k opens at its next tick (now, if now is one)."""
        now = self.env._now
        self.tick_pending[k] = True
        self.env.timeout(max(0.0, next_tick(now, self.plan.cadence[k]) - now), k).callbacks.append(self._tick)

    def _tick(self, ev) -> None:
        """The cadence of step k: its gated batches leave, oldest first, while they fit."""
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
        if not self.busy and not self.delays:
            self._check_frozen()

    # ------------------------------------------------------------------ entry into the next column
    def _request(self, k: int, group: list[int], src: int) -> None:
        """Group (done at src) asks to enter column k; k >= n_steps means done (on board k - n_steps)."""
        if k >= self.plan.n_steps:
            self._exit(group, src)
            return
        m = len(group)
        if not self.waiting_to_enter[k] and self.in_column[k] + m <= self.plan.limit[k]:
            # room at once: the usual case, without queueing for entry
            self.in_column[src] -= m
            self.done_in_column[src] -= m
            self.in_column[k] += m
            now = self.env._now
            for i in group:
                self.visit_leave[self.current_visit[i]] = now
                self._enter(k, i, src)
            if self.waiting_to_enter[src] or self.plan.is_first[src]:
                self._fill(src)
            return
        self.waiting_to_enter[k].append((group, src))
        self.blocked_to[src][k] += m
        self._fill(k)
        if self.waiting_to_enter[k]:
            self._check_deadlock(k)

    def _fill(self, k: int) -> None:
        """Admit waiting groups into column k, oldest first, while they fit."""
        waiting = self.waiting_to_enter[k]
        limit = self.plan.limit[k]
        in_column = self.in_column
        freed = []
        while waiting:
            group, src = waiting[0]
            m = len(group)
            if in_column[k] + m > limit:
                break
            waiting.popleft()
            self.blocked_to[src][k] -= m
            in_column[src] -= m
            self.done_in_column[src] -= m
            in_column[k] += m
            now = self.env._now
            for i in group:
                self.visit_leave[self.current_visit[i]] = now
                self._enter(k, i, src)
            freed.append(src)
        for src in freed:
            self._fill(src)
        if self.plan.is_first[k]:
            self._commit(self.plan.board_of[k])

    def _exit(self, group: list[int], src: int) -> None:
        """Group leaves the last column (its route's last) of its board: done; a child's parent
        may be joined."""
        now = self.env._now
        m = len(group)
        b = self.plan.board_of[src]
        self.in_column[src] -= m
        self.done_in_column[src] -= m
        self.board_wip[b] -= m
        self.done_pending += m
        for i in group:
            self.visit_leave[self.current_visit[i]] = now
            self.done_time[i] = now
            self.done_seq[i] = self._next_order()
        self._fill(src)
        if not self.plan.is_first[src]:
            self._commit(b)
        if b:
            if self.draining and b in self.draining and not self.board_wip[b] and not self.board_backlog[b]:
                self._drained(b)            # a team a transition dissolved has finished its work
            pending, parent_slot = self.pending, self.parent_slot
            for i in group:
                j = parent_slot[i]
                pending[j] -= 1
                if not pending[j]:
                    self._join(j)


class Crew:
    """The people working one item together at a swarming step, and its work left.

    `remaining` is the work (person-time at speed 1) left at `since`; n people work it at the sum
    of their speeds ÷ (1 + overhead·(n − 1)). The first person is the one who started it."""

    __slots__ = ("step", "item", "visit", "first", "people", "pools", "speeds", "remaining", "since", "generation",
                 "order")

    def __init__(self, step: int, item: int, visit: int, first: bool, person: int, pool: int, speed: float,
                 work: float, now: float, order: int):
        self.step, self.item, self.visit, self.first = step, item, visit, first
        self.people, self.pools, self.speeds = [person], [pool], speed
        self.remaining, self.since, self.generation = work, now, 0
        self.order = order                  # when it started (the event order): fifo joins the oldest

    def rate(self, overhead: float) -> float:
        n = len(self.people)
        return self.speeds / (1.0 + overhead * (n - 1)) if n > 1 else self.speeds


class _Due:
    """What `Board._finish` reads of its event (`_value`), for a crew's end that calls it directly."""

    __slots__ = ("_value",)

    def __init__(self, value: tuple):
        self._value = value


def next_tick(now: float, period: float) -> float:
    """The first tick n x period (n = 0, 1, ...) at or after `now`.

    A time within 1e-12 of a tick (relative to the time: the rounding of the sums that led to
    it) is at the tick. The tolerance is relative to `now`, not to the period, so that a long
    period (a cadence of 1e12) does not let a batch released at 5 through at tick 0. Ticks as
    dense as the floats near `now` (`now / period` beyond 2**52) tick at `now`.
    """
    q = now * (1.0 - 1e-12) / period
    if not q < 2.0 ** 52:
        return now
    return math.ceil(q) * period
