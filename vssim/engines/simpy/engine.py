"""The SimPy engine: one replication of a stream, event by event, every feature of the model.

SimPy's `Environment` is the event calendar. A `Replication` is one object composed of parts,
each in its module: the board's rules (`board`), its random sources (`sources`), the item and
visit tables with their hand-over to the `RecordSink` (`ledger`), the stuck-state checks
(`deadlock`), a transition's switch (`switch`) and the placement of the board now at time 0
(`initial`). They are mixins of one class, so that the hot path reads every part as a plain
attribute of `self`. This module runs it: to the horizon (or until a finite stream is done) for a
full run, in slices for a streaming sink.
"""
from __future__ import annotations

import simpy

from vssim.engines.simpy.board import Board
from vssim.engines.simpy.deadlock import Deadlock
from vssim.engines.simpy.initial import Initial
from vssim.engines.simpy.ledger import Ledger
from vssim.engines.simpy.sources import Sources
from vssim.engines.simpy.switch import Switch
from vssim.model.plan import Plan
from vssim.model.settings import Settings
from vssim.records import RecordSink

PROGRESS_SLICES = 50
"""A full run with a progress bar runs to the horizon in this many slices, one report each."""


class Replication(Board, Deadlock, Initial, Ledger, Sources, Switch):
    """One replication of `plan` into `sink`; `run()` returns what `sink.close` returns."""

    def __init__(self, plan: Plan, settings: Settings, replication: int, sink: RecordSink, progress=None):
        self.plan = plan
        self.spec = plan.spec
        self.sink = sink
        self.horizon = settings.horizon
        self.replication = replication
        self.seed = int(settings.seed)
        self.progress = progress
        self.env = simpy.Environment()
        self.absent: list[tuple[int, float, float]] = []     # (person, from, to) off their pool (transitions)
        self._init_switch(plan)             # a transition: the organisation before the change first
        self._init_sources(self.seed, replication)
        self._init_ledger()
        self._init_board()

    def run(self) -> object:
        self._start_switch()
        self._start_initial()               # the board now (`Plan.initial`), before the first arrival
        self._start_arrivals()
        self._check_frozen()
        if self.sink.flush_every is not None:
            self._run_in_slices()
            return self.sink.close(float(self.horizon))
        end = self._run_to_end()
        self._rename_unswitched()
        if self.absent:
            self.sink.add_absence(*map(list, zip(*self.absent, strict=True)))
        self._hand_over(final=True)
        return self.sink.close(end)

    def _run_to_end(self) -> float:
        """Run a full replication; returns when it stopped (the horizon, or a finite stream's last event)."""
        env, progress = self.env, self.progress
        if self.horizon is None:
            env.run()
            if progress is not None:
                progress(1.0)
            if self.plan.swarms or any(self.calendar):  # later events that do nothing: a crew's ends scheduled
                # before someone joined, a pool's opening whose queued work another pool took
                return self._last_event()
            return float(env.now)
        slices = PROGRESS_SLICES if progress is not None else 1
        for s in range(1, slices + 1):
            env.run(until=self.horizon * s / slices)
            if progress is not None:
                progress(1.0 / slices)
        if self.spec.arrivals.finite and self.arrivals_done and self.board_wip[0] == 0 and not self.board_backlog[0]:
            return self._last_event()
        return float(self.horizon)             # (a float, as the fast engine's: summary.json says 2000.0 for both)

    def _run_in_slices(self) -> None:
        """Run to the horizon in slices; between two, finished items go to the sink.

        A slice is sized to finish about `sink.flush_every` items (it adapts to the stream's
        throughput), so the engine holds the items in progress and at most a few slices of
        finished ones.
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
                if self.done_pending / flush > 2.0:
                    dt /= 2.0
                self._hand_over(final=False)
            else:
                dt *= 2.0
        self._hand_over(final=True)


class SimPyEngine:
    """The reference engine (`sim.engine=simpy`): every stream, event by event."""

    name = "simpy"

    def qualifies(self, plan: Plan, settings: Settings) -> str | None:
        if plan.changeover is not None and settings.streaming:
            return ("sim.stats=streaming keeps running totals of one organisation; a transition needs its "
                    "records (sim.stats=full)")
        calendars = [p.name for p in plan.pools if p.calendar is not None]
        if calendars and settings.streaming:
            return (f"pools {', '.join(calendars)} have calendars: utilisation over working time needs the records "
                    "(sim.stats=full)")
        if calendars and plan.changeover is not None:
            return (f"pools {', '.join(calendars)} have calendars: a transition moves people between pools, and a "
                    "person's working hours across the switch have no rule yet (drop the calendars or the transition)")
        if plan.has_teams and settings.streaming:
            return ("sim.stats=streaming keeps running totals of one board; a stream with teams needs its "
                    "records (sim.stats=full)")
        return None

    def run(self, plan: Plan, settings: Settings, replication: int, sink: RecordSink, progress=None) -> object:
        return Replication(plan, settings, replication, sink, progress).run()
