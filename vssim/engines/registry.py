"""The engines vssim has, and the choice `engine="auto"` makes among them."""
from __future__ import annotations

from vssim.engines.base import Engine
from vssim.errors import SpecError
from vssim.model.plan import Plan
from vssim.model.settings import Settings

AUTO = "auto"
"""`sim.engine=auto`: the first engine of `PREFERENCE` that qualifies."""


def _engines() -> dict[str, Engine]:
    from vssim.engines.maxplus import MaxPlusEngine
    from vssim.engines.simpy import SimPyEngine

    return {e.name: e for e in (SimPyEngine(), MaxPlusEngine())}


ENGINES: dict[str, Engine] = _engines()
"""By name; the first is the reference, which runs every stream."""
PREFERENCE = ("fast", "simpy")
"""The order `auto` tries them in: fastest first; the reference last."""


def names() -> tuple[str, ...]:
    """The engine names (without `auto`)."""
    return tuple(ENGINES)


def choices() -> tuple[str, ...]:
    """What `sim.engine` accepts."""
    return (*ENGINES, AUTO)


def get(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        raise SpecError("sim.engine", "one of " + ", ".join(choices()), name) from None


def choose(plan: Plan, settings: Settings) -> Engine:
    """The engine that runs `plan` under `settings`: the one named, refused with its reason when
    it cannot; for `auto`, the first of `PREFERENCE` that can."""
    if settings.engine == AUTO:
        for name in PREFERENCE:
            if ENGINES[name].qualifies(plan, settings) is None:
                return ENGINES[name]
        why = "; ".join(f"{name}: {ENGINES[name].qualifies(plan, settings)}" for name in PREFERENCE)
        raise SpecError("sim.engine", message=f"no engine runs stream {plan.spec.name!r} ({why})")
    engine = get(settings.engine)
    why = engine.qualifies(plan, settings)
    if why is not None:
        what = "stream" if settings.streaming else "run stream"
        others = " or ".join(n for n in choices() if n != engine.name)
        raise SpecError("sim.engine", message=f"{engine.name!r} cannot {what} {plan.spec.name!r}: {why} (use {others})")
    return engine


def run_records(engine: str, plan: Plan, horizon: float | None, warmup: float = 0.0, seed: int = 0,
                replication: int = 0):
    """The `Records` of one replication on the named engine, no summary (what the engine
    equality tests and the benchmarks time). `plan` may also be a `StreamSpec`."""
    from vssim.records import RecordsBuilder

    if not isinstance(plan, Plan):
        plan = Plan.of(plan)
    settings = Settings(horizon=horizon, warmup=warmup, replications=1, seed=seed, engine=engine)
    chosen = choose(plan, settings)
    return chosen.run(plan, settings, replication, RecordsBuilder(plan, replication=replication, seed=seed,
                                                                   warmup=warmup))
