"""The max-plus engine (`sim.engine=fast`): which streams it runs exactly, and its entry point.

The recursions themselves (and numba) are imported only when a replication runs, so that asking
whether a stream qualifies costs nothing.
"""
from __future__ import annotations

from vssim.model.plan import Plan
from vssim.model.settings import OPEN, Settings
from vssim.model.spec import StreamSpec
from vssim.records import RecordSink

MAX_CONWIP = 1 << 20
"""The largest CONWIP limit the recursions take: they keep the done times of the last `conwip`
items (16 bytes each); a larger limit, a release that hardly ever binds, runs on the SimPy
engine, which keeps no state per CONWIP slot."""


def why_not(spec: StreamSpec, streaming: bool = False) -> str | None:
    """None when the recursions compute this stream exactly (as the SimPy engine would); else the
    reason, in one line naming the field. `streaming`: in blocks of items (one person per step)."""
    if spec.teams:
        return (f"teams ({', '.join(spec.teams)}): splits and joins need the event engine (the fast engine runs "
                "one board; docs/engines.md)")
    for name, pool in spec.pools.items():
        if pool.schedule:
            return f"pools.{name}.schedule: capacity over time needs the event engine"
        if pool.calendar is not None:
            return f"pools.{name}.calendar: working hours need the event engine"
    rel = spec.release
    if rel.conwip is not None and rel.conwip > MAX_CONWIP:
        return f"release.conwip is {rel.conwip}: the recursions keep a done time per CONWIP slot, at most {MAX_CONWIP}"
    if rel.backlog_limit is not None:
        return f"release.backlog_limit is {rel.backlog_limit}: rejecting arrivals needs the event engine"
    classes = sorted({t.class_of_service for t in spec.item_types.values()})
    if len(classes) > 1:
        return f"item_types have several classes of service ({', '.join(classes)}): priority queues are not FIFO"
    users: dict[str, str] = {}
    for s in spec.steps.values():
        where = f"steps.{s.name}"
        if s.types is not None:
            return f"{where}.types: routing by item type"
        if len(s.pools) > 1:
            return f"{where}.pool: draws on several pools ({', '.join(s.pools)})"
        p = s.pools[0]
        if s.swarm > 1:
            return f"{where}.swarm: {s.swarm} people on one item (the recursions give each item one person)"
        if s.speeds is not None:
            return f"{where}.pool: {p} works it at speed {s.speeds[0]:g} (the recursions use the work as drawn)"
        if p in users:
            return f"pools.{p}: shared by steps {users[p]} and {s.name}"
        users[p] = s.name
        if s.rework is not None and s.rework.probability > 0:
            return f"{where}.rework: rework loops"
        if s.dependency is not None and s.dependency.probability > 0:
            return f"{where}.dependency: random dependency delays reorder items"
        if s.handoff is not None and not s.handoff.is_deterministic:
            return f"{where}.handoff: a random handoff ({s.handoff.name}) reorders items"
        if s.batch > 1:
            return f"{where}.batch: transfer batches"
        if s.cadence is not None:
            return f"{where}.cadence: release cadences"
        if s.wip_limit is not None and (rel.conwip is None or s.wip_limit < rel.conwip):
            return f"{where}.wip_limit: a column limit that can bind (blocking); limits >= release.conwip are fine"
    for p in users:
        if spec.pools[p].interruptions is not None:
            return f"pools.{p}.interruptions: interruptions"
    if streaming:
        if spec.arrivals.process not in OPEN:
            return f"arrivals.process is {spec.arrivals.process}: streaming runs open arrivals to a horizon"
        if spec.arrivals.profile is not None:
            return ("arrivals.profile: the streaming fast engine draws arrivals at a constant rate "
                    "(sim.stats=full runs it)")
        for s in spec.steps.values():
            c = spec.pools[s.pools[0]].size
            if c > 1:
                return f"steps.{s.name} has {c} people: the streaming fast engine runs one person per step"
    return None


class MaxPlusEngine:
    """Exact max-plus recursions for serial FIFO lines (docs/engines.md), compiled with numba."""

    name = "fast"

    def qualifies(self, plan: Plan, settings: Settings) -> str | None:
        if plan.changeover is not None:
            return "a transition: the recursions run one organisation (the event engine switches at its time)"
        if plan.initial is not None:
            return ("a start from the board now (initial): the recursions start from an empty board (the event "
                    "engine places the items in progress)")
        return why_not(plan.spec, settings.streaming)

    def run(self, plan: Plan, settings: Settings, replication: int, sink: RecordSink, progress=None) -> object:
        if sink.flush_every:
            from vssim.engines.maxplus.streaming import run_fast_streaming

            return run_fast_streaming(plan, sink, horizon=settings.horizon, seed=int(settings.seed),
                                      replication=replication, progress=progress)
        from vssim.engines.maxplus.runs import run_fast

        out = run_fast(plan, sink, settings.horizon, float(settings.warmup), int(settings.seed), replication)
        if progress is not None:
            progress(1.0)
        return out
