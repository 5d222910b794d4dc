"""The item and visit tables of one SimPy replication, and their hand-over to the `RecordSink`.

Both tables are typed arrays (`array`) grown in chunks and filled by index, their fresh rows
preset. Items live in slots, one per item; `item_number[slot]` is the item's number (its rank by
arrival), which the sources tie draws to. A full run gives slot i to item i; a streaming run gives
the slots of items handed over to new ones. Visits are one per item and column entered.

`_hand_over` is the one place items leave the engine: once at the end of a full run
(`sink.flush_every is None`), between slices and at the end of a streaming run, which then frees
the slots and visits it handed over.
"""
from __future__ import annotations

import math
from array import array

import numpy as np

from vssim.records import FAMILY_COLUMNS, HELPER_COLUMNS, ITEM_COLUMNS, VISIT_COLUMNS

CHUNK = 4096
"""Rows a table grows by at the least (it doubles beyond), its new rows preset to their defaults."""


def _grown(columns: tuple[tuple[str, array | list, float], ...], capacity: int) -> int:
    """Grow every column of a table by a chunk of its default; returns the new capacity."""
    chunk = max(CHUNK, capacity)
    for _, a, default in columns:
        a.extend(array(a.typecode, [default]) * chunk if isinstance(a, array) else [default] * chunk)
    return capacity + chunk


def _head(a: array, n: int) -> np.ndarray:
    """The first n entries of a typed array as numpy (a copy, so that the array stays free to grow)."""
    return np.array(memoryview(a)[:n])


class Ledger:
    """The item and visit tables of a `Replication` (a mixin: the board writes them as plain attributes)."""

    def _init_ledger(self) -> None:
        self.event_order = 0                # causal event counter, to order ties in the event log
        self.n_items = 0                    # items made so far: the next item's number
        self.done_pending = 0               # items done (or rejected) since the last hand-over
        self.rejected_times = array("d")    # arrival times of rejected items, since the last hand-over
        # items, by slot
        self.n_slots = 0                    # slots in use or freed; those beyond are fresh
        self.slot_capacity = 0
        self.free_slots: list[int] = []
        self.item_number: list[int] = []
        self.arrival = array("d")           # NaN: a free slot
        self.commit_time = array("d")
        self.done_time = array("d")
        self.item_type = array("l")         # -1 - type: rejected at a full backlog
        self.priority = array("l")
        self.size = array("d")
        self.touch = array("d")
        self.rework_count = array("l")
        self.current_visit = array("l")
        self.started_steps: list[int] = []  # bitmask of the steps each item has started once
        self.entered_steps: list[int] = []  # bitmask of the steps each item has entered once
        # the hierarchy (teams): the parent's slot (-1: arrived), level, board, children not yet done
        self.parent_slot = array("l")
        self.level = array("l")
        self.board = array("l")
        self.origin = array("l")            # the parent's step that made the child (-1: arrived)
        self.pending = array("l")
        self.board_items = [0] * len(self.plan.board_names)   # children made per board: their numbers there
        self.arrival_seq = array("q")
        self.commit_seq = array("q")
        self.done_seq = array("q")
        # visits, by number
        self.n_visits = 0
        self.visit_capacity = 0
        self.visit_item = array("l")        # the item's slot
        self.visit_step = array("l")
        self.visit_enter = array("d")
        self.visit_ready = array("d")
        self.visit_start = array("d")
        self.visit_end = array("d")
        self.visit_leave = array("d")
        self.visit_person = array("l")
        self.visit_work = array("d")
        self.visit_reworked = array("b")
        self.visit_start_seq = array("q")
        self.visit_end_seq = array("q")
        # helpers: the people who joined a visit another started (swarming steps), one row per join
        self.helper_visit = array("l")      # the visit's number
        self.helper_person = array("l")
        self.helper_start = array("d")      # when they joined
        self.helper_start_seq = array("q")

    def _next_order(self) -> int:
        self.event_order += 1
        return self.event_order

    # ------------------------------------------------------------------ items
    def _item_columns(self) -> tuple[tuple[str, array | list, float], ...]:
        """The item arrays, the records' ones by their `ITEM_COLUMNS` name (`item_value` follows
        from the type), with the value a fresh slot holds."""
        nan = math.nan
        return (("item_type", self.item_type, 0), ("item_priority", self.priority, 0), ("item_size", self.size, 0.0),
                ("arrival", self.arrival, nan), ("commit", self.commit_time, nan), ("done", self.done_time, nan),
                ("touch", self.touch, 0.0), ("rework_count", self.rework_count, 0),
                ("arrival_seq", self.arrival_seq, -1), ("commit_seq", self.commit_seq, -1),
                ("done_seq", self.done_seq, -1), ("number", self.item_number, -1),
                ("current_visit", self.current_visit, -1), ("started_steps", self.started_steps, 0),
                ("entered_steps", self.entered_steps, 0), ("item_parent", self.parent_slot, -1),
                ("item_level", self.level, 0), ("item_team", self.board, 0), ("item_origin", self.origin, -1),
                ("pending", self.pending, 0))

    def _new_item(self, t: float, type_index: int | None = None, size: float | None = None) -> int:
        """The slot of a new item arriving at t (its type and size drawn unless given)."""
        n = self.n_items
        self.n_items = n + 1
        if type_index is None:
            type_index = self.item_type_draws.at(n)
        if size is None:
            size = self.plan.type_size[type_index]
            if size is None:
                size = self.size_draws[type_index].at(n)
        return self._fill_slot(n, t, type_index, self.plan.type_priority[type_index], size, -1, 0, 0)

    def _new_child(self, parent: int, step: int, board: int, level: int, size: float) -> int:
        """The slot of a child that `parent`'s `step` makes now for `board`: the parent's type and class of
        service, numbered in the order the board's children are made (the number its draws are tied to)."""
        n = self.board_items[board]
        self.board_items[board] = n + 1
        i = self._fill_slot(n, self.env._now, self.item_type[parent], self.priority[parent], size, parent, level,
                            board)
        self.origin[i] = step
        return i

    def _fill_slot(self, n: int, t: float, type_index: int, priority: int, size: float, parent: int, level: int,
                   board: int) -> int:
        """A slot for item number n (on its board): the last slot freed by a hand-over (streaming runs),
        else the next fresh one."""
        if self.free_slots:
            i = self.free_slots.pop()
        else:
            i = self.n_slots
            if i == self.slot_capacity:
                self.slot_capacity = _grown(self._item_columns(), self.slot_capacity)
            self.n_slots = i + 1
        nan = math.nan
        self.item_number[i] = n
        self.arrival[i] = t
        self.commit_time[i] = nan
        self.done_time[i] = nan
        self.item_type[i] = type_index
        self.priority[i] = priority
        self.size[i] = size
        self.touch[i] = 0.0
        self.rework_count[i] = 0
        self.current_visit[i] = -1
        self.started_steps[i] = 0
        self.entered_steps[i] = 0
        self.parent_slot[i] = parent
        self.level[i] = level
        self.board[i] = board
        self.origin[i] = -1
        self.pending[i] = 0
        self.event_order = order = self.event_order + 1
        self.arrival_seq[i] = order
        self.commit_seq[i] = -1
        self.done_seq[i] = -1
        return i

    def _last_event(self) -> float:
        """When a finite stream finished: its last completion (or arrival, if none was done)."""
        ns = self.n_slots
        done = [t for t in self.done_time[:ns] if t == t]
        return max(done) if done else max(self.arrival[:ns], default=0.0)

    # ------------------------------------------------------------------ visits
    def _visit_columns(self) -> tuple[tuple[str, array, float], ...]:
        """The visit arrays by their `VISIT_COLUMNS` name, with the value an entry holds until it is set."""
        nan = math.nan
        return (("visit_item", self.visit_item, 0), ("visit_step", self.visit_step, 0),
                ("visit_enter", self.visit_enter, nan), ("visit_ready", self.visit_ready, nan),
                ("visit_start", self.visit_start, nan), ("visit_end", self.visit_end, nan),
                ("visit_leave", self.visit_leave, nan), ("visit_person", self.visit_person, -1),
                ("visit_work", self.visit_work, 0.0), ("visit_reworked", self.visit_reworked, 0),
                ("visit_start_seq", self.visit_start_seq, -1), ("visit_end_seq", self.visit_end_seq, -1))

    def _grow_visits(self) -> None:
        self.visit_capacity = _grown(self._visit_columns(), self.visit_capacity)

    # ------------------------------------------------------------------ hand-over
    def _hand_over(self, final: bool) -> None:
        """Give the sink the items that will not change any more, with their visits: the done ones,
        every item when `final` (the run is over); rejected arrivals only as their times. Then,
        unless `final`, free their slots and visits and forget the draws no live item can ask for.

        Only the columns the sink `needs` are made; a block's `visit_item` numbers its items in
        slot order (in a full run, item order), and its visits come item by item.
        """
        sink = self.sink
        needs = sink.needs
        self.done_pending = 0
        ns = self.n_slots
        live = ~np.isnan(_head(self.arrival, ns))
        item_type = _head(self.item_type, ns)
        out = live if final else live & (~np.isnan(_head(self.done_time, ns)) | (item_type < 0))
        gone = out & (item_type >= 0)
        columns = {**ITEM_COLUMNS, **FAMILY_COLUMNS} if self.plan.has_teams else ITEM_COLUMNS
        items = {name: np.asarray(_head(a, ns)[gone], dtype=columns[name])
                 for name, a, _ in self._item_columns() if name in columns and name in needs}
        if "item_parent" in items:          # slots, as rows among the items handed over (a full run: all)
            row = np.cumsum(gone) - 1
            parent = items["item_parent"]
            items["item_parent"] = np.where(parent >= 0, row[np.maximum(parent, 0)], -1)
        if "item_value" in needs:
            items["item_value"] = np.asarray(self.plan.type_value, dtype=np.float64)[item_type[gone]]
        sink.add_items(**items)
        sink.add_rejected(_head(self.rejected_times, len(self.rejected_times)))
        del self.rejected_times[:]
        nv = self.n_visits
        visits = {name: _head(a, nv) for name, a, _ in self._visit_columns()}
        leaving = out[visits["visit_item"]]
        # item by item, each item's visits in the order it made them: the fast engine's order, so
        # that sums over visits (a step's busy time, its WIP) add the same numbers in the same order
        rows = np.flatnonzero(leaving)
        rows = rows[np.argsort(visits["visit_item"][rows], kind="stable")]
        block = {name: np.asarray(visits[name][rows], dtype=dtype) for name, dtype in VISIT_COLUMNS.items()
                 if name in needs}
        if "visit_item" in block:           # slots, as ranks among the items handed over
            block["visit_item"] = (np.cumsum(gone) - 1)[block["visit_item"]]
        sink.add_visits(**block)
        if self.plan.swarms:
            self._hand_over_helpers(leaving, rows, visits)
        if not final:
            self._free(live & ~out, out, leaving, visits)

    def _hand_over_helpers(self, leaving: np.ndarray, rows: np.ndarray, visits: dict[str, np.ndarray]) -> None:
        """The helpers of the visits just handed over (`rows`, in block order), visit by visit, each
        visit's in the order they joined; `helper_visit` is the visit's row in the block."""
        visit = _head(self.helper_visit, len(self.helper_visit))
        row = np.full(len(leaving), -1, dtype=np.int64)
        row[rows] = np.arange(len(rows))
        mine = np.flatnonzero(leaving[visit])
        mine = mine[np.argsort(row[visit[mine]], kind="stable")]
        v = visit[mine]
        columns = {"helper_visit": row[v], "helper_step": visits["visit_step"][v],
                   "helper_person": _head(self.helper_person, len(visit))[mine],
                   "helper_start": _head(self.helper_start, len(visit))[mine],
                   "helper_end": visits["visit_end"][v],
                   "helper_start_seq": _head(self.helper_start_seq, len(visit))[mine]}
        self.sink.add_helpers(**{name: np.asarray(columns[name], dtype=t) for name, t in HELPER_COLUMNS.items()})

    def _keep_helpers(self, leaving: np.ndarray, renumber: np.ndarray) -> None:
        """After a hand-over (streaming): the helpers of the visits that stay, renumbered as their visits;
        the crews at work follow their visits."""
        visit = _head(self.helper_visit, len(self.helper_visit))
        keep = ~leaving[visit]
        for a, values in ((self.helper_visit, renumber[visit[keep]]),
                          (self.helper_person, _head(self.helper_person, len(visit))[keep]),
                          (self.helper_start, _head(self.helper_start, len(visit))[keep]),
                          (self.helper_start_seq, _head(self.helper_start_seq, len(visit))[keep])):
            del a[:]
            a.extend(array(a.typecode, np.asarray(values, dtype=a.typecode).tobytes()))
        for crew in self.crews.values():
            crew.visit = int(renumber[crew.visit])

    def _free(self, staying: np.ndarray, out: np.ndarray, leaving: np.ndarray, visits: dict[str, np.ndarray]) -> None:
        """After a hand-over (streaming): the visits that stay move to the front, in their order;
        the slots handed over are freed; the draws before the oldest item that stays are forgotten."""
        nv = self.n_visits
        keep = ~leaving
        nk = int(keep.sum())
        for name, a, default in self._visit_columns():
            a[:nk] = array(a.typecode, visits[name][keep].tobytes())
            a[nk:nv] = array(a.typecode, [default]) * (nv - nk)
        self.n_visits = nk
        renumber = np.cumsum(keep) - 1
        if self.plan.swarms:
            self._keep_helpers(leaving, renumber)
        slots = np.flatnonzero(staying).tolist()
        current = _head(self.current_visit, self.n_slots)
        for i in slots:
            c = current[i]
            if c >= 0:
                self.current_visit[i] = int(renumber[c])
        nan = math.nan
        freed = np.flatnonzero(out).tolist()
        for i in freed:
            self.arrival[i] = nan
            self.done_time[i] = nan
            self.item_type[i] = 0
            self.current_visit[i] = -1
        self.free_slots.extend(reversed(freed))
        self._forget_draws(min((self.item_number[i] for i in slots), default=self.n_items))
