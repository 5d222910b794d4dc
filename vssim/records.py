"""What one replication leaves behind: tidy per-item and per-visit arrays (ciw's "records out").

An engine hands its items and visits to a `RecordSink`: a `RecordsBuilder`, which makes the
`Records` of a full run, or the running totals of a streaming run
(`vssim.analysis.streaming.RunStats`). Metrics, reports and the event log are computed from
`Records` and never from an engine's state, so engines that produce the same records are
interchangeable; an engine never knows which sink it feeds, only how often the sink wants
blocks (`flush_every`) and which columns it reads (`needs`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from vssim.model.plan import Plan

ITEM_COLUMNS: Mapping[str, type] = {
    "item_type": np.int64, "item_priority": np.int64, "item_size": np.float64, "item_value": np.float64,
    "arrival": np.float64, "commit": np.float64, "done": np.float64, "touch": np.float64,
    "rework_count": np.int64, "arrival_seq": np.int64, "commit_seq": np.int64, "done_seq": np.int64,
}
"""The item columns of `Records` and their types: one row per item, in item order (arrival order)."""
FAMILY_COLUMNS: Mapping[str, type] = {"item_parent": np.int64, "item_level": np.int64, "item_team": np.int64,
                                      "item_origin": np.int64}
"""The item columns of a stream with teams: the parent's row (-1: an item that arrived), the
level (`Records.level_names`), the board (`Records.team_names`, 0: the stream's own) and the
parent's step that made the child (-1: none). An engine passes them when its plan has teams; a
flat stream's are filled in (-1, 0, 0, -1)."""
VISIT_COLUMNS: Mapping[str, type] = {
    "visit_item": np.int64, "visit_step": np.int64, "visit_enter": np.float64, "visit_ready": np.float64,
    "visit_start": np.float64, "visit_end": np.float64, "visit_leave": np.float64, "visit_person": np.int64,
    "visit_work": np.float64, "visit_reworked": np.bool_, "visit_start_seq": np.int64, "visit_end_seq": np.int64,
}
"""The visit columns: one row per visit of an item to a step, item by item (in the order of `ITEM_COLUMNS`' rows),
each item's visits in the order it made them."""

HELPER_COLUMNS: Mapping[str, type] = {
    "helper_visit": np.int64, "helper_step": np.int64, "helper_person": np.int64, "helper_start": np.float64,
    "helper_end": np.float64, "helper_start_seq": np.int64,
}
"""The helpers of a swarming step (`swarm` > 1): one row per person who joined a visit someone
else started (`visit_person`), visit by visit in the order of the visits, each visit's in the order
they joined: the visit's row, its step, the person, when they joined and when the visit ended
(NaN: still at work), so that each person's busy time is [helper_start, helper_end). Empty for a
stream that does not swarm."""


class RecordSink(Protocol):
    """Where an engine puts what a replication leaves behind.

    `flush_every`: items the sink takes at a time (None: all of them once, when the run is over);
    an engine may hand over finished items in blocks of about this many and forget them.
    `needs`: the columns the sink reads (an engine may leave the others out). Columns are passed
    by name (`ITEM_COLUMNS`, `VISIT_COLUMNS`); a block's `visit_item` numbers its items in the
    order the engine added them.
    """

    flush_every: int | None
    needs: frozenset[str]

    def add_items(self, **columns: np.ndarray) -> None:
        """Items that will not change any more (their rows, by column name)."""

    def add_visits(self, **columns: np.ndarray) -> None:
        """Visits that will not change any more."""

    def add_helpers(self, **columns: np.ndarray) -> None:
        """The helpers (`HELPER_COLUMNS`, all of them) of the visits of the `add_visits` just before,
        `helper_visit` a row of that block; only a stream that swarms has any."""

    def add_rejected(self, times: np.ndarray) -> None:
        """Arrival times of items refused at a full backlog."""

    def close(self, end: float) -> object:
        """The run is over at time `end`: what the sink made of it (`Records`, running totals)."""


@dataclass
class Records:
    """Records of one replication. Times are in the stream's time unit; NaN means "not yet"."""

    replication: int
    seed: int
    warmup: float
    end: float                      # the time the replication stopped (horizon, or last completion)
    step_names: list[str]
    type_names: list[str]
    pool_names: list[str]
    person_pool: np.ndarray         # pool index of each person
    step_capacity: np.ndarray       # people who may work each step (its pools' sizes; with schedules time-averaged)
    # items, indexed by item id (arrival order)
    item_type: np.ndarray
    item_priority: np.ndarray
    item_size: np.ndarray
    item_value: np.ndarray
    arrival: np.ndarray
    commit: np.ndarray
    done: np.ndarray
    touch: np.ndarray
    rework_count: np.ndarray
    # visits of items to steps, item by item, each item's visits in the order it made them
    visit_item: np.ndarray
    visit_step: np.ndarray
    visit_enter: np.ndarray
    visit_ready: np.ndarray         # workable (after handoff and dependency waits)
    visit_start: np.ndarray
    visit_end: np.ndarray
    visit_leave: np.ndarray
    visit_person: np.ndarray        # -1 while not started
    visit_work: np.ndarray          # value-adding work time (draw x size)
    visit_reworked: np.ndarray      # True if the visit ended in a failed check
    rejected_times: np.ndarray      # arrival times of rejected arrivals
    # causal order of events (a counter the engine increments), to order ties in the event log
    arrival_seq: np.ndarray
    commit_seq: np.ndarray
    done_seq: np.ndarray
    visit_start_seq: np.ndarray
    visit_end_seq: np.ndarray
    class_names: list[str]
    parts: int = 1                  # a split stream's items arrive in parts of this many (1: whole items)
    # the hierarchy (a stream with teams; a flat stream: one level, one board, every item at the top)
    item_parent: np.ndarray | None = None    # the parent's row, -1 at the top (None: all -1)
    item_level: np.ndarray | None = None     # index into level_names (None: all 0)
    item_team: np.ndarray | None = None      # the board the item is worked on, index into team_names (None: all 0)
    item_origin: np.ndarray | None = None    # the parent's step that made the item, -1 at the top (None: all -1)
    level_names: list[str] = field(default_factory=lambda: ["item"])
    team_names: list[str] = field(default_factory=lambda: [""])    # "": the stream's own board
    step_team: np.ndarray | None = None      # the board of each step (None: all 0)
    pool_team: np.ndarray | None = None      # the board of each pool (None: all 0)
    step_split: np.ndarray | None = None     # True for a split step (None: none)
    pool_capacity: np.ndarray | None = None  # each pool's people, time-averaged over the window (None: constant)
    person_presence: np.ndarray | None = None  # each person's share of the window on their pool (None: all of it)
    # working calendars (`vssim.model.calendar`): by pool its Calendar or None (None: no pool has one); with them
    # pool_capacity and person_presence count working time only, and a visit's busy time is its working time
    pool_calendar: list | None = None
    epoch: object | None = None              # the stream's Epoch: the event log's `date` (None: no dates)
    # the people who joined visits others started (swarming steps; `HELPER_COLUMNS`; None: nobody)
    helper_visit: np.ndarray | None = None
    helper_step: np.ndarray | None = None
    helper_person: np.ndarray | None = None
    helper_start: np.ndarray | None = None
    helper_end: np.ndarray | None = None
    helper_start_seq: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.arrival)
        if self.item_parent is None:
            self.item_parent = np.full(n, -1, dtype=np.int64)
        if self.item_level is None:
            self.item_level = np.zeros(n, dtype=np.int64)
        if self.item_team is None:
            self.item_team = np.zeros(n, dtype=np.int64)
        if self.item_origin is None:
            self.item_origin = np.full(n, -1, dtype=np.int64)
        if self.step_team is None:
            self.step_team = np.zeros(len(self.step_names), dtype=np.int64)
        if self.pool_team is None:
            self.pool_team = np.zeros(len(self.pool_names), dtype=np.int64)
        if self.step_split is None:
            self.step_split = np.zeros(len(self.step_names), dtype=bool)
        for name, dtype in HELPER_COLUMNS.items():
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(0, dtype=dtype))

    @property
    def has_teams(self) -> bool:
        return len(self.team_names) > 1

    @property
    def parent(self) -> np.ndarray | None:
        """A split stream's items: the item each is a part of (None: not split). The parts of an
        item arrive one after another, so item i is a part of item i // parts."""
        return np.arange(self.n_items, dtype=np.int64) // self.parts if self.parts > 1 else None

    @property
    def n_items(self) -> int:
        return len(self.arrival)

    def family_columns(self) -> dict[str, object]:
        """A stream with teams' `parent` (the parent's item id, empty at the top), `level` and `team`
        ("": the stream's own board) per item; {} for a flat stream."""
        if not self.has_teams:
            return {}
        parent = pd.array(self.item_parent, dtype="Int64")
        parent[self.item_parent < 0] = pd.NA
        return {"parent": parent,
                "level": pd.Categorical.from_codes(self.item_level, categories=self.level_names),
                "team": pd.Categorical.from_codes(self.item_team, categories=self.team_names)}

    def items_frame(self) -> pd.DataFrame:
        """One row per item (the columns of docs/metrics.md, "Files of a run")."""
        cos = np.asarray(self.class_names, dtype=object)[self.item_priority] if self.n_items else []
        return pd.DataFrame({
            "replication": np.full(self.n_items, self.replication, dtype=np.int32),
            "item": np.arange(self.n_items, dtype=np.int64),
            **({"parent": self.parent} if self.parts > 1 else {}),
            **self.family_columns(),
            "type": pd.Categorical.from_codes(self.item_type, categories=self.type_names),
            "class_of_service": pd.Categorical(cos, categories=self.class_names),
            "size": self.item_size,
            "business_value": self.item_value,
            "arrival": self.arrival,
            "commit": self.commit,
            "done": self.done,
            "lead_time": self.done - self.arrival,
            "flow_time": self.done - self.commit,
            "touch_time": self.touch,
            "rework_count": self.rework_count,
        })

    def visits_frame(self) -> pd.DataFrame:
        """One row per visit of an item to a step."""
        return pd.DataFrame({
            "replication": np.full(len(self.visit_item), self.replication, dtype=np.int32),
            "item": self.visit_item,
            "step": pd.Categorical.from_codes(self.visit_step, categories=self.step_names),
            "enter": self.visit_enter,
            "ready": self.visit_ready,
            "start": self.visit_start,
            "end": self.visit_end,
            "leave": self.visit_leave,
            "person": self.visit_person,
            "work": self.visit_work,
            "reworked": self.visit_reworked,
        })

    def event_log(self) -> pd.DataFrame:
        """The process-mining event log: case, activity, lifecycle, timestamp, resource.

        Activities are `arrive`, `commit`, each step (lifecycle `start` and `complete`) and
        `done`. Resources are `pool/person`. `timestamp` is the simulated time (in the stream's
        unit); a stream with an `epoch` also gets `date`, that time as a date in the epoch's zone.
        """
        rep = self.replication
        case = np.arange(self.n_items)
        started = ~np.isnan(self.visit_start)
        ended = ~np.isnan(self.visit_end)
        person = self.visit_person
        resource = self._resources(person)
        steps = np.asarray(self.step_names, dtype=object)
        committed = ~np.isnan(self.commit)
        finished = ~np.isnan(self.done)
        parts = [
            _log(case, "arrive", "complete", self.arrival, "", self.arrival_seq),
            _log(case[committed], "commit", "complete", self.commit[committed], "", self.commit_seq[committed]),
            _log(self.visit_item[started], steps[self.visit_step[started]], "start",
                 self.visit_start[started], resource[started], self.visit_start_seq[started]),
            _log(self.visit_item[ended], steps[self.visit_step[ended]], "complete",
                 self.visit_end[ended], resource[ended], self.visit_end_seq[ended]),
            _log(case[finished], "done", "complete", self.done[finished], "", self.done_seq[finished]),
        ]
        if len(self.helper_visit):          # a swarm's helpers: their own start, the visit's complete
            h = self.helper_visit
            helper = self._resources(self.helper_person)
            over = ~np.isnan(self.helper_end)
            parts += [_log(self.visit_item[h], steps[self.helper_step], "start", self.helper_start, helper,
                           self.helper_start_seq),
                      _log(self.visit_item[h][over], steps[self.helper_step[over]], "complete",
                           self.helper_end[over], helper[over], self.visit_end_seq[h][over])]
        log = pd.concat(parts, ignore_index=True)
        log = log.sort_values("_order", kind="stable").drop(columns="_order")
        log.insert(0, "replication", rep)
        log = log.reset_index(drop=True)
        for name, column in self.family_columns().items():      # children: cases of their own
            log[name] = column[log["case"].to_numpy()]
        if self.epoch is not None:          # a stream with an epoch: each time as a date too
            log.insert(log.columns.get_loc("timestamp") + 1, "date", self.epoch.to_datetime(log["timestamp"]))
        return log

    def _resources(self, person: np.ndarray) -> np.ndarray:
        """Each person as the event log names them, `pool/n` (n from 1 in the pool); -1: "" (nobody)."""
        pool_of = np.asarray(self.pool_names, dtype=object)[self.person_pool[np.maximum(person, 0)]] \
            if len(person) else np.array([], dtype=object)
        first = np.zeros(len(self.person_pool), dtype=np.int64)
        for p in range(len(self.pool_names)):
            members = np.flatnonzero(self.person_pool == p)
            if len(members):
                first[members] = members[0]
        return np.array([f"{pool}/{int(g - first[g]) + 1}" if g >= 0 else ""      # a split step: nobody
                         for pool, g in zip(pool_of, person, strict=True)], dtype=object)


class RecordsBuilder:
    """The `RecordSink` of a full run: the one place `Records` are made.

    One block of items and one of visits (an engine that flushes once) are kept as they are,
    without a copy; several blocks are joined in the order they came.
    """

    flush_every = None
    needs = frozenset(ITEM_COLUMNS) | frozenset(FAMILY_COLUMNS) | frozenset(VISIT_COLUMNS)

    def __init__(self, plan: Plan, *, replication: int, seed: int, warmup: float):
        from vssim.model.spec import CLASSES_OF_SERVICE

        spec = plan.spec
        self._fixed = dict(
            replication=replication, seed=seed, warmup=float(warmup),
            step_names=list(plan.step_names), type_names=list(spec.item_types), pool_names=list(plan.pool_names),
            person_pool=np.array(plan.person_pool, dtype=np.int64),
            step_capacity=np.array(plan.step_capacity, dtype=np.int64), epoch=spec.epoch,
            class_names=list(CLASSES_OF_SERVICE), parts=spec.parts,
            level_names=list(plan.level_names), team_names=list(plan.board_names),
            step_team=np.array(plan.board_of, dtype=np.int64),
            pool_team=np.array(plan.pool_board, dtype=np.int64),
            step_split=np.array([t is not None for t in plan.split_teams], dtype=bool))
        self._schedules = (plan.pool_sizes, plan.pool_schedule, plan.step_pools) if any(plan.pool_schedule) else None
        calendars = [pool.calendar for pool in plan.pools]
        self._calendars = calendars if any(c is not None for c in calendars) else None
        self._sizes, self._pool_schedules = plan.pool_sizes, plan.pool_schedule
        self._step_pools = plan.step_pools
        self._absent: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._family = plan.has_teams
        self._items: list[dict] = []
        self._visits: list[dict] = []
        self._helpers: list[dict] = []
        self._visit_rows = self._block_rows = 0     # visits of the blocks before the last one, and of the last
        self._rejected: list[np.ndarray] = []

    def add_items(self, **columns: np.ndarray) -> None:
        self._items.append(_only(columns, {**ITEM_COLUMNS, **FAMILY_COLUMNS} if self._family else ITEM_COLUMNS,
                                 "item"))

    def add_visits(self, **columns: np.ndarray) -> None:
        self._visits.append(_only(columns, VISIT_COLUMNS, "visit"))
        self._visit_rows, self._block_rows = self._visit_rows + self._block_rows, len(columns["visit_item"])

    def add_helpers(self, **columns: np.ndarray) -> None:
        block = _only(columns, HELPER_COLUMNS, "helper")
        if self._visit_rows:                # rows of the block as rows of all the visits
            block["helper_visit"] = block["helper_visit"] + self._visit_rows
        self._helpers.append(block)

    def add_rejected(self, times: np.ndarray) -> None:
        self._rejected.append(np.asarray(times, dtype=np.float64))

    def add_absence(self, person: list[int], since: list[float], until: list[float]) -> None:
        """Intervals people are off their pool beyond its schedule (an engine's, for a transition that
        dissolves teams: their people join their new pools when the team has finished its work)."""
        self._absent = (np.asarray(person, dtype=np.int64), np.asarray(since, dtype=np.float64),
                        np.asarray(until, dtype=np.float64))

    def close(self, end: float) -> Records:
        rejected = (self._rejected[0] if len(self._rejected) == 1
                    else np.concatenate(self._rejected) if self._rejected else np.zeros(0))
        items = {**ITEM_COLUMNS, **FAMILY_COLUMNS} if self._family else ITEM_COLUMNS
        fixed = self._fixed
        if self._schedules is not None:     # pools with a schedule: the people present, time-averaged
            sizes, schedules, step_pools = self._schedules
            capacity = people_present(sizes, schedules, self._fixed["warmup"], end)
            fixed = {**fixed, "pool_capacity": capacity,
                     "step_capacity": np.array([capacity[pools].sum() for pools in step_pools]),
                     "person_presence": person_presence(sizes, schedules, fixed["person_pool"], fixed["warmup"], end)}
        if self._absent is not None:        # people off their pool for a while (a transition's dissolved teams)
            lo, people = fixed["warmup"], fixed["person_pool"]
            presence = fixed.get("person_presence")
            presence = np.ones(len(people)) if presence is None else presence.copy()
            who, since, until = self._absent
            if end > lo:
                np.subtract.at(presence, who, (np.minimum(until, end) - np.maximum(since, lo)).clip(0) / (end - lo))
            capacity = np.bincount(people, weights=presence, minlength=len(fixed["pool_names"]))
            fixed = {**fixed, "pool_capacity": capacity, "person_presence": presence,
                     "step_capacity": np.array([capacity[pools].sum() for pools in self._step_pools])}
        if self._calendars is not None:     # working time only: the people present while they work
            fixed = _working(fixed, self._calendars, self._sizes, self._pool_schedules, self._step_pools, end)
        helpers = _joined(self._helpers, HELPER_COLUMNS) if self._helpers else {}
        return Records(end=end, **fixed, **_joined(self._items, items),
                       **_joined(self._visits, VISIT_COLUMNS), rejected_times=rejected, **helpers)


def _working(fixed: dict, calendars: list, sizes: list[int], schedules: list, step_pools: list[list[int]],
             end: float) -> dict:
    """`fixed` with each calendar pool's capacity (its working person-time over the window ÷ the window)
    and its people's presence (each one's working time on the pool ÷ the window): utilisation is then
    busy working person-time / working person-time. A schedule counts too: the k-th person of a pool
    (from 0) is on it while it has more than k people (`person_presence`)."""
    people = np.asarray(fixed["person_pool"], dtype=np.int64)
    lo = fixed["warmup"]
    n_pools = len(fixed["pool_names"])
    capacity = fixed.get("pool_capacity")
    capacity = (np.bincount(people, minlength=n_pools).astype(float) if capacity is None
                else np.asarray(capacity, dtype=float).copy())
    presence = fixed.get("person_presence")
    presence = np.ones(len(people)) if presence is None else np.asarray(presence, dtype=float).copy()
    span = end - lo
    for p, calendar in enumerate(calendars):
        if calendar is None or not span > 0:
            continue
        mine = np.flatnonzero(people == p)
        for k, person in enumerate(mine):
            on = [(0.0, int(sizes[p] > k)), *((at, int(n > k)) for at, n in schedules[p])]
            worked = 0.0
            for (t0, n), (t1, _) in zip(on, [*on[1:], (math.inf, 0)], strict=True):
                a, b = max(t0, lo), min(t1, end)
                if n and b > a:
                    worked += calendar.working_time(a, b)
            presence[person] = worked / span
        capacity[p] = presence[mine].sum()
    return {**fixed, "pool_capacity": capacity, "person_presence": presence, "pool_calendar": list(calendars),
            "step_capacity": np.array([capacity[pools].sum() for pools in step_pools])}


def people_present(sizes, schedules, lo: float, hi: float) -> np.ndarray:
    """Each pool's people averaged over [lo, hi] (`mean_people`)."""
    return np.array([mean_people(n, s, lo, hi) for n, s in zip(sizes, schedules, strict=True)])


def person_presence(sizes, schedules, person_pool, lo: float, hi: float) -> np.ndarray:
    """Each person's share of [lo, hi] on their pool: the k-th person of a pool (from 0) is on it
    while it has more than k people (people join lowest number first and leave highest first),
    so the shares of a pool's people add up to its `mean_people`. People between two of the sizes
    the pool takes share one figure: one `mean_people` per size, not per person."""
    person_pool = np.asarray(person_pool, dtype=np.int64)
    out = np.empty(len(person_pool))
    for p, (size, schedule) in enumerate(zip(sizes, schedules, strict=True)):
        people = np.flatnonzero(person_pool == p)
        cuts = np.array(sorted({0, size, *(n for _, n in schedule)}))
        shares = np.array([mean_people(int(size > k), [(at, int(n > k)) for at, n in schedule], lo, hi)
                           for k in cuts])
        out[people] = shares[np.searchsorted(cuts, np.arange(len(people)), side="right") - 1]
    return out


def mean_people(size: int, schedule, lo: float, hi: float) -> float:
    """A pool's people averaged over [lo, hi]: `size` from 0, then each (at, size) of its schedule."""
    if not hi > lo:
        return float(size)
    total, t, n = 0.0, lo, size
    for at, new in schedule:
        if at > t:
            total += n * (min(at, hi) - t)
            t = min(at, hi)
        n = new
    total += n * (hi - t)
    return total / (hi - lo)


def _only(columns: dict, schema: Mapping[str, type], what: str) -> dict:
    missing = set(schema) - set(columns)
    if missing:
        raise TypeError(f"{what} columns missing: {', '.join(sorted(missing))}")
    return {k: columns[k] for k in schema}


def _joined(blocks: list[dict], schema: Mapping[str, type]) -> dict:
    if len(blocks) == 1:
        return blocks[0]
    if not blocks:
        return {k: np.zeros(0, dtype=t) for k, t in schema.items()}
    return {k: np.concatenate([b[k] for b in blocks]) for k in schema}


def _log(case, activity, lifecycle, timestamp, resource, seq) -> pd.DataFrame:
    n = len(case)
    return pd.DataFrame({
        "case": np.asarray(case, dtype=np.int64),
        "activity": activity if not isinstance(activity, str) else np.full(n, activity, dtype=object),
        "lifecycle": np.full(n, lifecycle, dtype=object),
        "timestamp": np.asarray(timestamp, dtype=float),
        "resource": resource if not isinstance(resource, str) else np.full(n, resource, dtype=object),
        "_order": np.asarray(seq, dtype=np.int64),
    })
