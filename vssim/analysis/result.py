"""`SimResult`: what `vssim.simulate` returns, the summary of a run's replications with its records."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vssim.files import SCHEMA_VERSION, write_atomic
from vssim.model.spec import StreamSpec
from vssim.records import Records


@dataclass
class SimResult:
    """What `simulate` returns: the summary (as in summary.json) and tidy tables."""

    spec: StreamSpec
    summary: dict
    records: list[Records] = field(repr=False)
    steps: pd.DataFrame = field(repr=False)
    _items: pd.DataFrame | None = field(default=None, repr=False)
    stats: list = field(default_factory=list, repr=False)    # streaming: the RunStats of each replication

    @property
    def streaming(self) -> bool:
        """True for a `stats="streaming"` run: a summary, no item rows."""
        return bool(self.stats)

    def _rows(self, what: str) -> None:
        if self.streaming:
            raise ValueError(f"{what}: a run with sim.stats=streaming keeps no item or visit rows, only running "
                             "totals (summary and steps); rerun with sim.stats=full for them")

    @property
    def items(self) -> pd.DataFrame:
        """One row per item per replication (docs/metrics.md, "Files of a run")."""
        self._rows("items")
        if self._items is None:
            self._items = pd.concat([_items(r) for r in self.records], ignore_index=True)
        return self._items

    @property
    def visits(self) -> pd.DataFrame:
        """One row per visit of an item to a step, per replication."""
        self._rows("visits")
        return pd.concat([r.visits_frame() for r in self.records], ignore_index=True)

    def event_log(self) -> pd.DataFrame:
        """The process-mining event log (case, activity, lifecycle, timestamp, resource).

        A case is one item of one replication, named `replication-item` so that case ids are
        unique across the whole log.
        """
        self._rows("event_log")
        log = pd.concat([r.event_log() for r in self.records], ignore_index=True)
        log["case"] = log["replication"].astype(str) + "-" + log["case"].astype(str)
        if "parent" in log:                 # a child's case names its parent's
            parent = log["parent"]
            log["parent"] = (log["replication"].astype(str) + "-" + parent.astype(str)).where(parent.notna(), "")
        return log

    def save(self, directory: str | Path, *, event_log: bool = True) -> Path:
        """Write summary.json (with its `schema_version`), items.parquet, steps.parquet and events.csv,
        each atomically (a streaming run: summary.json and steps.parquet)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        summary = {"schema_version": SCHEMA_VERSION, **self.summary}
        write_atomic(d / "summary.json", lambda p: p.write_text(json.dumps(summary, indent=2)))
        if not self.streaming:
            write_atomic(d / "items.parquet", lambda p: self.items.to_parquet(p, index=False))
        write_atomic(d / "steps.parquet", lambda p: self.steps.to_parquet(p, index=False))
        if event_log and not self.streaming:
            write_atomic(d / "events.csv", lambda p: self.event_log().to_csv(p, index=False))
        return d


def _items(rec: Records) -> pd.DataFrame:
    """A replication's items frame; a parent's touch time is its family's (`levels.family_touch`),
    the time in which it or a descendant is worked, as its flow efficiency counts it."""
    frame = rec.items_frame()
    if rec.has_teams:
        from vssim.analysis.levels import family_touch

        frame["touch_time"] = family_touch(rec)
    return frame
