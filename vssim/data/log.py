"""`EventLog`: what every importer gives, whatever the format it read.

One row per activity instance (a case at a step, from its start to its end) and one row per case.
Times are timezone-aware pandas timestamps (`datetime64[ns, tz]`): a log never holds naive times,
so that a week's profile or a working calendar means the same hours for every reader.

For board data (a board export or a status-transition log) an activity instance is a stay in a
stage: it starts when the item entered the stage and ends when it entered the next one (NaT while
it is still there); `queues` names the stages that are waiting (a `... done` or `ready` column),
the others are doing. For an event log with start and complete events both are known; a log of
completions only has NaT starts.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ACTIVITY_COLUMNS", "CASE_COLUMNS", "EVENT_COLUMNS", "EventLog"]

ACTIVITY_COLUMNS = ("case", "activity", "start", "end", "resource")
"""Columns of `EventLog.activities`, in order (attributes of an instance may follow)."""
CASE_COLUMNS = ("case", "first", "type", "class_of_service", "team", "size")
"""Columns of `EventLog.cases`: id, time of its first event, and its attributes (NA where unknown)."""
EVENT_COLUMNS = ("case_id", "activity", "timestamp", "lifecycle", "resource")
"""The event layout of DESIGN.md §11 (held-out and simulated logs): ISO 8601 with offset,
lifecycle `start`/`complete`, step activities only."""


@dataclass(frozen=True)
class EventLog:
    """An imported log (module docstring). `kind`: "board", "transitions" or "events"."""

    activities: pd.DataFrame
    cases: pd.DataFrame
    kind: str
    stages: tuple[str, ...]                 # board order, or activities by their dominant order
    queues: frozenset[str] = frozenset()    # stages where items wait (board data)
    backward_moves: int = 0                 # moves to an earlier stage: rework, counted
    source: str = ""
    notes: tuple[str, ...] = field(default=())   # what the reader decided (skipped rows, assumed zones)

    @property
    def n_cases(self) -> int:
        return len(self.cases)

    def events(self) -> pd.DataFrame:
        """The log in the event layout (EVENT_COLUMNS): a start and a complete row per instance
        where the time is known, sorted by time (a start before a complete at the same instant)."""
        a = self.activities
        parts = []
        for lifecycle, col in (("start", "start"), ("complete", "end")):
            known = a[a[col].notna()]
            parts.append(pd.DataFrame({"case_id": known["case"].astype(str), "activity": known["activity"],
                                       "timestamp": known[col], "lifecycle": lifecycle,
                                       "resource": known["resource"]}))
        out = pd.concat(parts, ignore_index=True)
        order = out.assign(_l=(out["lifecycle"] == "complete").astype(int)).sort_values(
            ["timestamp", "_l"], kind="stable").index
        return out.loc[order].reset_index(drop=True)

    def select(self, *, activities=None, cases=None) -> EventLog:
        """The log restricted to some activities (a callable on the activity name, or a collection of
        names) and/or some cases: a case's `first` becomes its first remaining event, and a case left
        without instances is dropped (BPIC 2012's `W_` work items are `select(activities=lambda a:
        a.startswith("W_"))`)."""
        a = self.activities
        keep = np.ones(len(a), dtype=bool)
        if activities is not None:
            names = a["activity"].astype(str)
            keep &= (names.map(activities) if callable(activities) else names.isin(set(activities))).to_numpy(bool)
        if cases is not None:
            keep &= a["case"].astype(str).isin({str(c) for c in cases}).to_numpy(bool)
        a = a[keep].reset_index(drop=True)
        first = pd.concat([a["start"], a["end"]], axis=1).min(axis=1).groupby(a["case"].astype(str)).min()
        c = self.cases[self.cases["case"].astype(str).isin(first.index)].copy()
        c["first"] = c["case"].astype(str).map(first).to_numpy()
        stages = tuple(s for s in self.stages if s in set(a["activity"]))
        return dataclasses.replace(self, activities=a, cases=c.sort_values("first", kind="stable")
                                   .reset_index(drop=True), stages=stages,
                                   queues=frozenset(q for q in self.queues if q in stages))
