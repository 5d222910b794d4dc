"""The `Engine` protocol: what every engine offers, and all that the rest of vssim knows of one."""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from vssim.model.plan import Plan
from vssim.model.settings import Settings
from vssim.records import RecordSink

Progress = Callable[[float], None]
"""Called with the share of a replication done since the last call (the shares add up to 1)."""


class Engine(Protocol):
    """An engine simulates one replication of a compiled stream into a `RecordSink`.

    Engines that run the same stream under the same settings must give the same records: the
    same random sources (`vssim.engines.random`), drawn by the same rule, give the same sample
    path (tests/test_maxplus.py holds the engines to it).
    """

    name: str
    """What `sim.engine` calls it."""

    def qualifies(self, plan: Plan, settings: Settings) -> str | None:
        """None when this engine runs `plan` under `settings` exactly; else why not, in one line
        naming the field (`steps.build.batch: transfer batches`)."""

    def run(self, plan: Plan, settings: Settings, replication: int, sink: RecordSink,
            progress: Progress | None = None) -> object:
        """Simulate replication `replication` into `sink`; returns what `sink.close` returns."""
