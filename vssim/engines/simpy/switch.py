"""A transition's switch: the board of one organisation becomes the board of another at time T.

The replication runs the plan before the change (`Plan.changeover.before`) until T, then replaces
its plan, its random sources (those of the same name go on: `Sources._draws`) and its board with
the new organisation's, and carries every item over by the rules of `vssim.model.transition`:

* an item keeps what it has done and its place: waiting, queued, in work or done at a step the new
  organisation keeps (or merged into another), it is so at that step; at a step that is gone it
  enters the next step of its board afresh (after the piece in hand, if someone works it);
* a person who moves finishes the item in hand (its finish event is kept, the person is counted
  as their new self), then takes work of their new pool; cadences and schedules are the new
  organisation's from T; hires join at T;
* counts are rebuilt from the items, so a column may hold more than its new limit right after T;
  limits bind admissions, so it admits nothing until it is below;
* the ledger's visits and items are renamed into the new organisation's steps, people and boards,
  so that the records are those of the stream after the change (a gone step's history under the
  step its items went to).
"""
from __future__ import annotations

import bisect
import heapq
import math

from vssim.engines.random import Draws
from vssim.engines.simpy.board import Board


class Switch:
    """The switch of a `Replication` (a mixin over the board, the ledger and the sources)."""

    def _init_switch(self, plan) -> None:
        """Run `plan`'s organisation before the change until its time, or `plan` from the start."""
        co = plan.changeover
        self.after = None
        self.learning = None                # by person: their ramp length while learning (None: full speed)
        if co is None:
            return
        if co.at > 0:
            self.after = plan
            self.plan, self.spec = co.before, co.before.spec

    def _start_switch(self) -> None:
        co = (self.after or self.plan).changeover
        if co is None:
            return
        if self.after is None:              # at 0: the new organisation from the start, its people learning
            self._start_learning(self.plan)
            return
        self.env.timeout(co.at).callbacks.append(self._switch)

    # ------------------------------------------------------------------ learning
    def _start_learning(self, plan) -> None:
        t = plan.changeover.transition
        if not t.learns:
            return
        if isinstance(t.ramp, float):       # one length for all, or each learner's own draw
            length = lambda r=t.ramp: r     # noqa: E731
        else:
            length = Draws(t.ramp, self._generator("transition/ramp")).next
        self.learning = [length() if learns else None for learns in plan.changeover.learner]
        self.learning_from = [t.at] * len(self.learning)    # a draining team's people: from when they join
        self.learning_factor = t.factor

    def _learned(self, person: int, now: float) -> float:
        """The share of full speed `person` works at from now (1 when not learning)."""
        r = self.learning[person]
        return 1.0 if r is None else self.learning_factor(now - self.learning_from[person], r)

    # ------------------------------------------------------------------ the switch
    def _switch(self, ev=None) -> None:
        old, new = self.plan, self.after
        co = new.changeover
        now = self.env._now
        n_old, n_new = old.n_steps, new.n_steps
        labels = _labels(old, new)          # [item type][old step]: where its items and history go
        label = labels[0]                   # (what is not an item's: a person's last step, a cadence)
        person_to = co.person_to

        def dest_of(d: int, t: int) -> int:     # a destination: a column, or done on a board
            return labels[t][d] if d < n_old else n_new + co.board_to[d - n_old]

        # the old organisation's pending events: work in hand and delays go on; cadences and schedules end
        finishing, delaying, ticks, resizes = {}, {}, [], []
        for _, _, _, event in self.env._queue:
            callbacks = event.callbacks
            f = getattr(callbacks[0], "__func__", None) if callbacks else None
            if f is Board._finish:
                finishing[event._value[1]] = event
            elif f is Board._delay_over:
                delaying[event._value] = event
            elif f is Board._tick:
                ticks.append(event)
            elif f is Board._resize:
                resizes.append(event)
        # a pool of the same name and schedule keeps its schedule's events and its people's presence
        same = {j: old.pool_names.index(name) for j, name in enumerate(new.pool_names)
                if name in old.pool_names and old.pool_schedule[old.pool_names.index(name)] == new.pool_schedule[j]}
        kept_pool = {p: j for j, p in same.items()}
        present = {person_to[q]: self.active[q] for q in range(len(old.person_pool))
                   if new.person_pool[person_to[q]] in same}
        leaving = {person_to[q] for q in self.leaving if new.person_pool[person_to[q]] in same}
        kept_resizes = 0
        for event in resizes:
            p, size = event._value
            if p in kept_pool:
                event._value = (kept_pool[p], size)
                kept_resizes += 1
            else:
                event.callbacks = []
        kept_ticks = []
        for event in ticks:                 # a cadence that stays ticks on, at its own place among events
            k = event._value
            if (all(not a[k] for a in co.ahead) and all(x[k] == label[k] for x in labels)
                    and new.cadence[label[k]] == old.cadence[k] and label[k] not in kept_ticks):
                event._value = label[k]
                kept_ticks.append(label[k])
            else:
                event.callbacks = []
        queued = {entry[2]: entry for q in self.queue for entry in q}     # (class, ticket, slot): keeps its place
        # done items, in the order they wait: to enter a column, at a cadence gate, in a partial batch
        waiting = [(d, group, src) for d, q in enumerate(self.waiting_to_enter) for group, src in q]
        gated = [(k, group) for k, g in enumerate(self.gate) for group in g]
        partial = [(k, list(out)) for k, out in enumerate(self.outgoing) if out]
        done = {i for _, group, _ in waiting for i in group}
        done.update(i for _, group in gated for i in group)
        done.update(i for _, group in partial for i in group)
        backlog = [entry for b in self.backlogs for entry in b]
        ns = self.n_slots
        committed = [i for i in range(ns) if self.commit_time[i] == self.commit_time[i]
                     and self.done_time[i] != self.done_time[i] and self.item_type[i] >= 0
                     and self.arrival[i] == self.arrival[i]]
        where = {i: self.visit_step[self.current_visit[i]] for i in committed}
        kept = dict(ticket=self.ticket, busy=self.busy, delays=self.delays, arrivals_done=self.arrivals_done,
                    asking=self.asking, board_wip=self.board_wip)
        # a person's interruptions go on while their pool's habits are the same (else they start afresh)
        habits = [(p.interruptions, p.switch_cost) for p in new.pools]
        interruptions = {person_to[q]: s for q, s in self.person_interruptions.items()
                         if (old.pools[old.person_pool[q]].interruptions, old.pools[old.person_pool[q]].switch_cost)
                         == habits[new.person_pool[person_to[q]]]}
        self.sources_after = "@transition"
        free_before = [person_to[q] for free in self.free_people for q in free]
        last_step = [-1] * len(new.person_pool)
        for q, k in enumerate(self.last_step_of):
            if k >= 0:
                last_step[person_to[q]] = label[k]
        board_items = [0] * len(new.board_names)
        for b, n in enumerate(self.board_items):
            board_items[co.board_to[b]] = n

        # the new organisation
        self.plan, self.spec, self.after = new, new.spec, None
        self._init_sources(self.seed, self.replication)
        self.person_interruptions = interruptions
        self._init_board()
        for c, on in present.items():
            self.active[c] = on
        self.leaving = leaving
        self.resizes_left = kept_resizes
        for k in kept_ticks:
            self.tick_pending[k] = True
        for free in self.free_people:       # the free people in the order they became free
            free.clear()
        for q in free_before:
            if self.active[q]:
                self.free_people[new.person_pool[q]].append(q)
        self.__dict__.pop("_flush", None)
        self.ticket, self.busy, self.delays = kept["ticket"], kept["busy"], kept["delays"]
        self.arrivals_done, self.asking = kept["arrivals_done"], kept["asking"]
        for b, n in enumerate(kept["board_wip"]):
            self.board_wip[co.board_to[b]] += n
        self.last_step_of = last_step
        self.board_items = board_items
        self._rename(labels, person_to, co.board_to)
        self._rename_levels(old, new)

        # the items, where the rules put them
        in_column, done_in_column = self.in_column, self.done_in_column
        entering, leaving = [], []
        item_type = self.item_type
        for i in committed:
            k, t = where[i], item_type[i]
            event = finishing.get(i)
            if co.ahead[t][k]:              # a step that is gone: on to the next one
                to = co.step_to[t][k]
                target = to if to >= 0 else labels[t][k]
                in_column[target] += 1
                if event is not None:       # the piece in hand first
                    q = person_to[event._value[3]]
                    event._value = (target, i, new.person_pool[q], q, to < 0)
                    event.callbacks = [self._finish_ahead]
                    self._busy_now(q)
                    continue
                if i in delaying:
                    delaying[i].callbacks = []
                    self.delays -= 1
                self.visit_leave[self.current_visit[i]] = now
                if to < 0:
                    done_in_column[target] += 1
                    leaving.append((target, i))
                else:
                    entering.append((target, i))
                continue
            to = labels[t][k]
            in_column[to] += 1
            if event is not None:
                _, _, _, person, first = event._value
                q = person_to[person]
                event._value = (to, i, new.person_pool[q], q, first)
                self._busy_now(q)
            elif i in queued:
                heapq.heappush(self.queue[to], queued[i])
            elif i in done:
                done_in_column[to] += 1
        gone = {i for _, i in entering} | {i for _, i in leaving}
        release = []
        for d, group, src in waiting:       # (a group of items the change sends to different steps splits)
            for (d2, src2), part in _parts(group, gone, lambda i, d=d, src=src: (dest_of(d, item_type[i]),
                                                                                  labels[item_type[i]][src])):
                if d2 < n_new:
                    self.waiting_to_enter[d2].append((part, src2))
                    self.blocked_to[src2][d2] += len(part)
                else:
                    release.append((src2, part))
        for k, group in gated:
            release.extend(_parts(group, gone, lambda i, k=k: labels[item_type[i]][k]))
        for k, group in partial:
            for k2, part in _parts(group, gone, lambda i, k=k: labels[item_type[i]][k]):
                self.outgoing[k2].extend(part)
        self.draining = set(co.draining)
        for c in co.counterpart:            # who a draining team's people become: not on their new pool yet
            if c >= 0:
                self.active[c] = False
                self.scheduled[new.person_pool[c]] = True
        for priority, ticket, i in sorted(backlog, key=lambda e: e[1]):
            b = self.board[i]               # (renamed)
            if b in self.draining:
                b = self._new_team(i, b)
            heapq.heappush(self.backlogs[new.route[self.item_type[i]][new.board_start[b]]], (priority, ticket, i))
            self.board_backlog[b] += 1
        self._start_schedules_from(now, set(same))
        self._start_learning(new)

        # then everything moves by the new organisation's rules
        for k, i in entering:
            self._enter(k, i, -1)
        for k, i in leaving:
            self._carry_done(k, i)
        for k, group in release:            # batches that had left k: by its cadence and route
            self._release(k, group)
        for k, out in enumerate(self.outgoing):
            if len(out) >= new.batch[k]:
                self.outgoing[k] = []
                self._release(k, out)
        for d in range(n_new):
            if self.waiting_to_enter[d]:
                self._fill(d)
        for p, free in enumerate(self.free_people):
            for person in list(reversed(free)):
                if person in free and any(self.queue[k] for k in new.pool_steps[p]):
                    free.remove(person)
                    self._dispatch(p, person)
        for b in range(len(new.board_names)):
            self._commit(b)
        for b in co.draining:
            if not self.board_wip[b] and not self.board_backlog[b]:
                self._drained(b)
        if not self.busy and not self.delays:
            self._check_frozen()

    def _new_team(self, i: int, b: int) -> int:
        """A child not started on team b, which the change dissolves, moves with its parent to the
        parent's new team: the one the parent's split now draws for it (`choose`, by the parent's
        number, as the new organisation alone would), renumbered there; a child its parent did not
        make at a split (a dependency) stays to be finished."""
        plan = self.plan
        j = self.parent_slot[i]
        k = self.visit_step[self.current_visit[j]]
        teams = plan.split_teams[k]
        if teams is None:
            return b
        choose = plan.split_choose[k]
        if choose is not None:
            listed, cumulative = choose
            t = teams[listed[bisect.bisect_right(cumulative, self.choose_draw[k].at(self.item_number[j]))]][0]
        else:
            t = next((t for t, _ in teams if t not in self.draining), b)
        self.board[i] = t
        self.item_number[i] = self.board_items[t]
        self.board_items[t] += 1
        return t

    def _drained(self, b: int) -> None:
        """Team b, dissolved at the change, has finished its work: its people join their new pools."""
        self.draining.discard(b)
        plan, now = self.plan, self.env._now
        counterpart = plan.changeover.counterpart
        for p in range(len(plan.pool_names)):
            if plan.pool_board[p] != b:
                continue
            for q in plan.pool_people[p]:
                c = counterpart[q]
                if c < 0 or not self.active[q]:
                    continue
                self.active[q] = False
                free = self.free_people[p]
                if q in free:
                    free.remove(q)
                self.absent.append((q, now, math.inf))
                self.absent.append((c, 0.0, now))
                self.active[c] = True
                if self.learning is not None:
                    self.learning_from[c] = now
                self._dispatch(plan.person_pool[c], c)

    def _busy_now(self, person: int) -> None:
        """`person` (of the new organisation) is at work on an item carried over."""
        free = self.free_people[self.plan.person_pool[person]]
        if person in free:
            free.remove(person)

    def _finish_ahead(self, ev) -> None:
        """The piece in hand at a step that is gone is done: the item enters the step its items go to
        (or, `out`, leaves its board), the person takes work of their new pool."""
        k, i, p, person, out = ev._value
        self.busy -= 1
        v = self.current_visit[i]
        now = self.env._now
        self.visit_end[v] = now
        self.event_order = order = self.event_order + 1
        self.visit_end_seq[v] = order
        self.visit_leave[v] = now
        if out:
            self.done_in_column[k] += 1
            self._carry_done(k, i)
        else:
            self._enter(k, i, -1)
        self._dispatch(p, person)
        if not self.busy and not self.delays:
            self._check_frozen()

    def _carry_done(self, k: int, i: int) -> None:
        """Item i, done at k before the switch (counted there), moves on by k's batch, cadence and route."""
        out = self.outgoing[k]
        out.append(i)
        if len(out) >= self.plan.batch[k]:
            self.outgoing[k] = []
            self._release(k, out)

    def _start_schedules_from(self, now: float, kept: set[int]) -> None:
        """The new organisation's pool schedules from now (changes at or before now at once), but for the
        `kept` pools, whose schedule's events go on."""
        for p, schedule in enumerate(self.plan.pool_schedule):
            if p in kept:
                continue
            self.resizes_left += len(schedule)
            for at, size in schedule:
                self.env.timeout(max(0.0, at - now), (p, size)).callbacks.append(self._resize)

    def _rename(self, labels: list[list[int]], person_to: tuple[int, ...], board_to: tuple[int, ...]) -> None:
        """The ledger in the new organisation's steps (by each item's type), people and boards."""
        nv, ns = self.n_visits, self.n_slots
        step, person, item, item_type = self.visit_step, self.visit_person, self.visit_item, self.item_type
        for v in range(nv):
            step[v] = labels[item_type[item[v]]][step[v]]
            if person[v] >= 0:
                person[v] = person_to[person[v]]
        bits_of = [[1 << k for k in label] for label in labels]

        def renamed(mask: int) -> int:
            out, k = 0, 0
            while mask:
                if mask & 1:
                    out |= bits[k]
                mask >>= 1
                k += 1
            return out

        for i in range(ns):
            t = item_type[i]
            if t < 0:                       # a slot freed, or an item refused at a full backlog
                continue
            bits, label = bits_of[t], labels[t]
            if self.started_steps[i]:
                self.started_steps[i] = renamed(self.started_steps[i])
            if self.entered_steps[i]:
                self.entered_steps[i] = renamed(self.entered_steps[i])
            self.board[i] = board_to[self.board[i]]
            if self.origin[i] >= 0:
                self.origin[i] = label[self.origin[i]]

    def _rename_unswitched(self) -> None:
        """The run ended before the change (a finite stream done before it): the records name the
        new organisation's steps all the same."""
        if self.after is None:
            return
        new = self.after
        co = new.changeover
        self._rename(_labels(self.plan, new), co.person_to, co.board_to)
        self._rename_levels(self.plan, new)
        self.plan, self.spec, self.after = new, new.spec, None

    def _rename_levels(self, old, new) -> None:
        """Each item's level by its name in the new plan (which keeps every old one)."""
        level_to = [new.level_names.index(name) for name in old.level_names]
        if level_to != list(range(len(level_to))):
            for i in range(self.n_slots):
                self.level[i] = level_to[self.level[i]]


def _labels(old, new) -> list[list[int]]:
    """[item type][old step]: the new step an item of that type at that step goes to, and its past
    visits there are named by (a step that leaves its board: the board's last step)."""
    co = new.changeover
    return [[k if k >= 0 else new.board_end[co.board_to[old.board_of[j]]] - 1 for j, k in enumerate(row)]
            for row in co.step_to]


def _parts(group: list[int], gone: set[int], key) -> list[tuple[object, list[int]]]:
    """The items of `group` not in `gone`, by `key` (in their order, the first key first)."""
    out: dict[object, list[int]] = {}
    for i in group:
        if i not in gone:
            out.setdefault(key(i), []).append(i)
    return list(out.items())
