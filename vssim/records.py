"""What one replication leaves behind: tidy per-item and per-visit arrays (ciw's "records out").

The engine fills these; metrics, reports and the event log are computed from them and never
from the engine's internal state, so any engine that produces the same records is
interchangeable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


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
    step_capacity: np.ndarray       # people who may work each step (sum of its pools' sizes)
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
    # visits of items to steps, in the order they entered a column
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
    class_names: list[str] = field(default_factory=list)
    flushed_batches: int = 0

    @property
    def n_items(self) -> int:
        return len(self.arrival)

    def items_frame(self) -> pd.DataFrame:
        """One row per item (DESIGN.md §6 columns)."""
        cos = np.asarray(self.class_names, dtype=object)[self.item_priority] if self.n_items else []
        return pd.DataFrame({
            "replication": np.full(self.n_items, self.replication, dtype=np.int32),
            "item": np.arange(self.n_items, dtype=np.int64),
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
        `done`. Resources are `pool/person`.
        """
        rep = self.replication
        case = np.arange(self.n_items)
        started = ~np.isnan(self.visit_start)
        ended = ~np.isnan(self.visit_end)
        person = self.visit_person
        pool_of = np.asarray(self.pool_names, dtype=object)[self.person_pool[np.maximum(person, 0)]] \
            if len(person) else np.array([], dtype=object)
        first = np.zeros(len(self.person_pool), dtype=np.int64)
        for p in range(len(self.pool_names)):
            members = np.flatnonzero(self.person_pool == p)
            if len(members):
                first[members] = members[0]
        resource = np.array([f"{pool}/{int(g - first[g]) + 1}" for pool, g in zip(pool_of, person, strict=True)],
                            dtype=object)
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
        log = pd.concat(parts, ignore_index=True)
        log = log.sort_values("_order", kind="stable").drop(columns="_order")
        log.insert(0, "replication", rep)
        return log.reset_index(drop=True)


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
