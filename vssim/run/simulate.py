"""`vssim.simulate`: replications of a stream, summarised (README, docs/metrics.md)."""
from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Mapping

from vssim.analysis import stability
from vssim.analysis.result import SimResult
from vssim.analysis.streaming import RunStats, summarize_streaming
from vssim.analysis.summary import summarize
from vssim.engines import registry
from vssim.engines.base import Engine
from vssim.errors import DeadlockError, SpecError
from vssim.model.initial import InitialState
from vssim.model.plan import Plan
from vssim.model.settings import MAX_EVENTS, Settings
from vssim.model.spec import StreamSpec
from vssim.model.transition import Transition, changeover
from vssim.records import RecordsBuilder, RecordSink

ENGINES = registry.choices()
"""What `sim.engine` accepts: the registry's engines and `auto` (the first that qualifies)."""
def check_settings(spec: StreamSpec, settings: Settings) -> Engine:
    """Refuse impossible settings for `spec` (one line naming the `sim.` field); the engine that runs it."""
    return _checked(spec, settings)[1]


def _checked(spec: StreamSpec, settings: Settings, before: StreamSpec | None = None,
             transition: Transition | None = None,
             moves: Mapping[str, str | list[str]] | None = None,
             initial: InitialState | None = None) -> tuple[Plan, Engine]:
    """`spec`'s plan and engine, once the settings are checked: a run larger than
    `sim.max_events` is refused before anything is allocated for it (the plan's people included).
    With a `transition` from `before`, the plan switches from `before`'s organisation to `spec`'s.
    With an `initial` state (not empty), the plan starts from its items."""
    settings.check(spec, ENGINES)
    if initial:
        if transition is not None:
            raise SpecError("initial", message="cannot be given with a transition (start the run from the board "
                                               "now, or change the organisation, not both in one run)")
        return (plan := dataclasses.replace(Plan.of(spec), initial=initial)), registry.choose(plan, settings)
    if transition is not None:
        if before is None:
            raise SpecError("transition", message="needs the stream before the change (simulate(..., before=...))")
        settings.check(before, ENGINES)
        plan = changeover(before, spec, transition, moves)
    else:
        plan = Plan.of(spec)
    return plan, registry.choose(plan, settings)


def simulate(spec: StreamSpec, horizon: float | None = None, warmup: float = 0.0, replications: int = 1,
             seed: int = 0, *, engine: str = "simpy", planning_interval: float | None = None,
             scenario: str = "baseline", progress: bool | None = None, stats: str = "full",
             max_events: float | None = MAX_EVENTS, transition: Transition | None = None,
             before: StreamSpec | None = None, moves: Mapping[str, str | list[str]] | None = None,
             initial: InitialState | Iterable[Mapping] | None = None) -> SimResult:
    """Simulate `replications` independent replications of `spec` and summarise them.

    `horizon` is the simulated time of each replication (None: until every item is done, for
    backlog and trace arrivals). Statistics cover items arriving after `warmup` and time after
    it. Replication r draws from `SeedSequence(seed, spawn_key=(r, source))`, so the same seed
    gives the same result, bit for bit. `progress=None` shows a bar only on a terminal.
    `stats="streaming"` keeps running totals instead of rows (`vssim.analysis.streaming`): the same
    summary (percentiles within 0.1 %), memory independent of the run's length, no item tables.
    A run that needs more than `max_events` events (`vssim.model.settings.RunSize`; None: no
    limit) is refused before it starts.

    `transition` (with `before`, the stream as it is): each replication runs `before`'s organisation
    until `transition.at`, then `spec`'s, carrying the work in flight over (`vssim.model.transition`;
    `moves`: where a gone step's items go, by qualified name); the records are `spec`'s. A transition
    at or after the horizon never happens: the run is `before`'s.

    `initial` (an `InitialState`, or rows `InitialState.from_rows` reads, checked against `spec`):
    each replication starts from these items in progress at time 0 instead of an empty board
    (`vssim.model.initial`; docs/model.md "Starting from today's board"). Empty: as None, bit for bit.
    """
    if not isinstance(spec, StreamSpec):
        spec = StreamSpec.from_dict(spec)
    settings = Settings(horizon=horizon, warmup=warmup, replications=replications, seed=seed, engine=engine,
                        planning_interval=planning_interval, progress=progress, stats=stats, max_events=max_events)
    if transition is not None and horizon is not None and transition.at >= horizon:
        spec, transition = before if before is not None else spec, None
    if initial is not None:
        initial = InitialState.from_rows(initial, spec)
    plan, chosen = _checked(spec, settings, before, transition, moves, initial)
    if plan.changeover is not None:
        spec = plan.spec                    # what the records name: the new stream, dissolved teams still finishing
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=replications, desc=f"{spec.name}", unit="rep", leave=False,
                   bar_format="{l_bar}{bar}| {n:.1f}/{total} rep [{elapsed}<{remaining}]")
    runs = []
    try:
        for r in range(replications):
            try:
                runs.append(chosen.run(plan, settings, r, _sink(plan, settings, r),
                                       bar.update if bar is not None else None))
            except DeadlockError as e:
                raise DeadlockError(f"stream {spec.name!r}: {e}") from None
    finally:
        if bar is not None:
            bar.close()
    if settings.streaming:
        parts = summarize_streaming(runs)
        censuses = [s.census() for s in runs]
    else:
        if spec.arrivals.finite and warmup > 0 and all(warmup >= r.end for r in runs):
            raise SpecError("sim.warmup", message=(
                f"must be below the end of the run ({max(r.end for r in runs):g} {spec.time_unit}) for "
                f"{spec.arrivals.process} arrivals, got {warmup:g}: no item arrives after it (try sim.warmup=0)"))
        parts = summarize(runs, planning_interval=planning_interval, steady_state=not spec.arrivals.finite)
        censuses = [stability.census_of(r) for r in runs]
    return _result(spec, settings, chosen.name, scenario, {**stability.assess(spec, censuses), **parts}, runs)


def _sink(plan: Plan, settings: Settings, replication: int) -> RecordSink:
    """Where replication `replication` goes: its `Records`, or the running totals of a streaming run."""
    if settings.streaming:
        return RunStats.for_plan(plan, replication=replication, seed=int(settings.seed),
                                 warmup=float(settings.warmup), horizon=settings.horizon,
                                 batches=settings.replications == 1, planning_interval=settings.planning_interval)
    return RecordsBuilder(plan, replication=replication, seed=int(settings.seed), warmup=float(settings.warmup))


def _result(spec: StreamSpec, settings: Settings, engine: str, scenario: str, parts: dict, runs: list) -> SimResult:
    steps = parts.pop("_steps_frame")
    summary = {
        "stream": spec.name,
        "scenario": scenario,
        "time_unit": spec.time_unit,
        "sim": {"horizon": settings.horizon, "warmup": settings.warmup, "replications": settings.replications,
                "seed": settings.seed, "engine": engine, "stats": settings.stats,
                "planning_interval": parts["metrics"]["flow_predictability"]["planning_interval"],
                "end": [r.end for r in runs],
                "random": "replication r, source s: SeedSequence(seed, spawn_key=(r, crc32(s)))"},
        **parts,
    }
    streaming = settings.streaming
    return SimResult(spec=spec, summary=summary, records=[] if streaming else runs, steps=steps,
                     stats=runs if streaming else [])
