"""`vssim.simulate`: replications of a stream, summarised (DESIGN.md §5, §6)."""
from __future__ import annotations

import math
import numbers
import sys

from vssim.analysis.result import SimResult
from vssim.analysis.summary import summarize
from vssim.engines.simpy.engine import Plan, run_replication
from vssim.errors import DeadlockError, SpecError
from vssim.model.spec import StreamSpec

ENGINES = ("simpy", "fast", "auto")
"""`auto`: the fast engine (vssim/engines/maxplus/runs.py) when the stream qualifies, else the SimPy engine."""
STATS = ("full", "streaming")
"""What a run keeps: `full`, every item and visit (items.parquet, the event log, the figures);
`streaming`, running totals and quantile sketches only (vssim/analysis/streaming.py): memory that does
not grow with the run, for very long runs (docs/metrics.md)."""
OPEN = ("poisson", "renewal", "deterministic", "saturated")


def check_settings(spec: StreamSpec, horizon, warmup, replications, seed, engine, planning_interval,
                   stats: str = "full") -> None:
    """Refuse impossible simulation settings with the `sim.` field named."""
    finite = spec.arrivals.finite
    if horizon is None:
        if not finite:
            raise SpecError("sim.horizon", f"a positive number ({spec.arrivals.process} arrivals never end)",
                            horizon)
    elif isinstance(horizon, bool) or not isinstance(horizon, int | float) or not math.isfinite(horizon) \
            or horizon <= 0:
        raise SpecError("sim.horizon", "a positive number" + (" or null" if finite else ""), horizon)
    if isinstance(warmup, bool) or not isinstance(warmup, int | float) or not math.isfinite(warmup) or warmup < 0:
        raise SpecError("sim.warmup", "a number >= 0", warmup)
    if horizon is not None and warmup >= horizon:
        raise SpecError("sim.warmup", f"a number below sim.horizon ({horizon:g})", warmup)
    if isinstance(replications, bool) or not isinstance(replications, numbers.Integral) or replications < 1:
        raise SpecError("sim.replications", "a positive integer", replications)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise SpecError("sim.seed", "a non-negative integer", seed)
    if engine not in ENGINES:
        raise SpecError("sim.engine", "one of " + ", ".join(ENGINES), engine)
    if engine == "fast":
        from vssim.engines.maxplus.runs import qualifies

        ok, why = qualifies(spec)
        if not ok:
            raise SpecError("sim.engine", message=f"'fast' cannot run stream {spec.name!r}: {why} (use simpy or auto)")
    if stats not in STATS:
        raise SpecError("sim.stats", "one of " + ", ".join(STATS), stats)
    if stats == "streaming" and spec.arrivals.process not in OPEN:
        raise SpecError("sim.stats", message=(
            f"'streaming' needs open arrivals ({', '.join(OPEN)}) run to a horizon, got {spec.arrivals.process} "
            "arrivals: a finite stream's run is a transient whose end is not known in advance (use full)"))
    if stats == "streaming" and engine == "fast":
        from vssim.engines.maxplus.streaming import streaming_qualifies

        ok, why = streaming_qualifies(spec)
        if not ok:
            raise SpecError("sim.engine", message=f"'fast' cannot stream {spec.name!r}: {why} (use simpy or auto)")
    if planning_interval is not None and (isinstance(planning_interval, bool)
                                          or not isinstance(planning_interval, int | float)
                                          or not planning_interval > 0):
        raise SpecError("sim.planning_interval", "a positive number or null", planning_interval)


def simulate(spec: StreamSpec, horizon: float | None = None, warmup: float = 0.0, replications: int = 1,
             seed: int = 0, *, engine: str = "simpy", planning_interval: float | None = None,
             scenario: str = "baseline", progress: bool | None = None, stats: str = "full") -> SimResult:
    """Simulate `replications` independent replications of `spec` and summarise them.

    `horizon` is the simulated time of each replication (None: until every item is done, for
    backlog and trace arrivals). Statistics cover items arriving after `warmup` and time after
    it. Replication r draws from `SeedSequence(seed, spawn_key=(r, source))`, so the same seed
    gives the same result, bit for bit. `progress=None` shows a bar only on a terminal.
    `stats="streaming"` keeps running totals instead of rows (`vssim.analysis.streaming`): the same
    summary (percentiles within 0.1 %), memory independent of the run's length, no item tables.
    """
    if not isinstance(spec, StreamSpec):
        spec = StreamSpec.from_dict(spec)
    check_settings(spec, horizon, warmup, replications, seed, engine, planning_interval, stats)
    plan = Plan.of(spec)
    run = run_replication
    streaming = stats == "streaming"
    if engine == "auto":
        from vssim.engines.maxplus.runs import qualifies

        engine = "fast" if qualifies(spec)[0] else "simpy"
        if streaming and engine == "fast":
            from vssim.engines.maxplus.streaming import streaming_qualifies

            engine = "fast" if streaming_qualifies(spec)[0] else "simpy"
    if engine == "fast":
        from vssim.engines.maxplus.runs import run_fast

        def run(plan, progress=None, **kw):
            rec = run_fast(plan, **kw)
            if progress is not None:
                progress(1.0)
            return rec
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=replications, desc=f"{spec.name}", unit="rep", leave=False,
                   bar_format="{l_bar}{bar}| {n:.1f}/{total} rep [{elapsed}<{remaining}]")
    records = []
    if streaming:
        run = _streaming_runner(plan, engine, replications, planning_interval)
    try:
        for r in range(replications):
            tick = bar.update if bar is not None else None
            try:
                records.append(run(plan, horizon=horizon, warmup=float(warmup), seed=int(seed),
                                   replication=r, progress=tick))
            except DeadlockError as e:
                raise DeadlockError(f"stream {spec.name!r}: {e}") from None
    finally:
        if bar is not None:
            bar.close()
    if streaming:
        from vssim.analysis.streaming import summarize_streaming

        parts = summarize_streaming(records)
        return _result(spec, parts, horizon, warmup, replications, seed, engine, scenario, records, stats=records)
    if spec.arrivals.finite and warmup > 0 and all(warmup >= r.end for r in records):
        raise SpecError("sim.warmup", message=(
            f"must be below the end of the run ({max(r.end for r in records):g} {spec.time_unit}) for "
            f"{spec.arrivals.process} arrivals, got {warmup:g}: no item arrives after it (try sim.warmup=0)"))
    parts = summarize(records, planning_interval=planning_interval, steady_state=not spec.arrivals.finite)
    return _result(spec, parts, horizon, warmup, replications, seed, engine, scenario, records)


def _result(spec, parts, horizon, warmup, replications, seed, engine, scenario, runs, stats=None) -> SimResult:
    steps = parts.pop("_steps_frame")
    summary = {
        "stream": spec.name,
        "scenario": scenario,
        "time_unit": spec.time_unit,
        "sim": {"horizon": horizon, "warmup": warmup, "replications": replications, "seed": seed,
                "engine": engine, "stats": "streaming" if stats else "full",
                "planning_interval": parts["metrics"]["flow_predictability"]["planning_interval"],
                "end": [r.end for r in runs],
                "random": "replication r, source s: SeedSequence(seed, spawn_key=(r, crc32(s)))"},
        **parts,
    }
    return SimResult(spec=spec, summary=summary, records=[] if stats else runs, steps=steps, stats=stats or [])


def _streaming_runner(plan: Plan, engine: str, replications: int, planning_interval):
    """run(plan, horizon=..., ...) -> the RunStats of one streaming replication, on `engine`."""
    from vssim.analysis.streaming import RunStats

    spec = plan.spec
    caps = [sum(plan.pool_sizes[p] for p in pools) for pools in plan.step_pools]

    def run(plan, *, horizon, warmup, seed, replication, progress=None):
        stats = RunStats(replication=replication, seed=seed, warmup=warmup, end=float(horizon),
                         step_names=spec.step_names, type_names=list(spec.item_types), pool_names=list(spec.pools),
                         person_pool=plan.person_pool, step_capacity=caps, batches=replications == 1,
                         planning_interval=planning_interval)
        if engine == "fast":
            from vssim.engines.maxplus.streaming import run_fast_streaming

            return run_fast_streaming(plan, stats, horizon=horizon, seed=seed, replication=replication,
                                      progress=progress)
        return run_replication(plan, horizon=horizon, warmup=warmup, seed=seed, replication=replication,
                               progress=progress, stats=stats)
    return run
