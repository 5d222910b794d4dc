"""Simulation settings (`sim.*`): what to simulate of a stream, checked once, with the field named."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from vssim.errors import SpecError
from vssim.model.spec import StreamSpec

STATS = ("full", "streaming")
"""What a run keeps: `full`, every item and visit (items.parquet, the event log, the figures);
`streaming`, running totals and quantile sketches only (vssim/analysis/streaming.py): memory that
does not grow with the run, for very long runs (docs/metrics.md)."""
OPEN = ("poisson", "renewal", "deterministic", "saturated")
"""Arrival processes that run to a horizon (the ones a streaming run takes)."""
MAX_EVENTS = 100_000_000
"""`sim.max_events`' default: about 10 minutes of the SimPy engine (~1.2e5 events a second on
a loaded 2-core machine; seconds on the fast engine), so that a mistyped rate or horizon is
refused at once instead of running for days or until memory runs out (docs/model.md, "Run size")."""


@dataclass(frozen=True)
class Settings:
    """Simulation settings shared by every replication (and every alternative of an experiment).

    `horizon`: simulated time of each replication (None: until every item is done, for backlog
    and trace arrivals); statistics cover items arriving after `warmup` and time after it;
    replication r draws from `SeedSequence(seed, spawn_key=(r, source))`; `engine`: a name of
    `vssim.engines.registry` or `auto`; `planning_interval`: the PI of flow predictability
    (None: a tenth of the window); `progress`: a bar (None: only on a terminal); `max_events`:
    the most events (`RunSize`) the run may need (None: no limit).
    """

    horizon: float | None = 2000.0
    warmup: float = 200.0
    replications: int = 10
    seed: int = 1
    engine: str = "simpy"
    planning_interval: float | None = None
    progress: bool | None = None
    stats: str = "full"
    max_events: float | None = MAX_EVENTS

    @property
    def streaming(self) -> bool:
        return self.stats == "streaming"

    def check(self, spec: StreamSpec, engines: Sequence[str]) -> Settings:
        """Refuse impossible settings for this stream with the `sim.` field named; `engines`: the
        engine names allowed. Whether the chosen engine can run the stream is the registry's to say."""
        horizon, warmup = self.horizon, self.warmup
        finite = spec.arrivals.finite
        if horizon is None:
            if not finite:
                raise SpecError("sim.horizon", f"a positive number ({spec.arrivals.process} arrivals never end)",
                                horizon)
        elif not _real(horizon) or horizon <= 0:
            raise SpecError("sim.horizon", "a positive number" + (" or null" if finite else ""), horizon)
        if not _real(warmup) or warmup < 0:
            raise SpecError("sim.warmup", "a number >= 0", warmup)
        if horizon is not None and warmup >= horizon:
            raise SpecError("sim.warmup", f"a number below sim.horizon ({horizon:g})", warmup)
        if isinstance(self.replications, bool) or not isinstance(self.replications, numbers.Integral) \
                or self.replications < 1:
            raise SpecError("sim.replications", "a positive integer", self.replications)
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise SpecError("sim.seed", "a non-negative integer", self.seed)
        if self.engine not in engines:
            raise SpecError("sim.engine", "one of " + ", ".join(engines), self.engine)
        if self.stats not in STATS:
            raise SpecError("sim.stats", "one of " + ", ".join(STATS), self.stats)
        if self.streaming and spec.arrivals.process not in OPEN:
            raise SpecError("sim.stats", message=(
                f"'streaming' needs open arrivals ({', '.join(OPEN)}) run to a horizon, got {spec.arrivals.process} "
                "arrivals: a finite stream's run is a transient whose end is not known in advance (use full)"))
        if self.streaming and spec.arrivals.limit is not None:
            raise SpecError("sim.stats", message=(
                f"'streaming' runs open arrivals to a horizon; arrivals.limit {spec.arrivals.limit} makes the stream "
                "finite (its run lasts until every item is done): use sim.stats=full"))
        if self.streaming and spec.parts > 1:
            raise SpecError("sim.stats", f"full for a stream whose items arrive in parts (parts: {spec.parts}): "
                            "whole items are counted from the parts' rows, which a streaming run does not keep",
                            self.stats)
        pi = self.planning_interval
        if pi is not None and (isinstance(pi, bool) or not isinstance(pi, int | float) or not pi > 0):
            raise SpecError("sim.planning_interval", "a positive number or null", pi)
        limit = self.max_events
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
                raise SpecError("sim.max_events", "a positive number or null (no limit)", limit)
            size = RunSize.of(spec, horizon)
            if not _count(self.replications) * size.events <= limit:
                raise SpecError("sim.max_events", message=size.refusal(self.replications, limit, horizon))
        return self


def _real(x) -> bool:
    return not isinstance(x, bool) and isinstance(x, int | float) and math.isfinite(x)


@dataclass(frozen=True)
class RunSize:
    """About how many events one replication of a stream needs (docs/model.md, "Run size"):
    `items` x `visits` per item + `interruptions` + cadence `ticks` + `people` (every person is
    an entry of the engines' tables) + `items` x `joins` (helpers joining at swarming steps), so
    that a run too large to end, or to fit in memory, is refused before it starts (and before any
    engine allocates for it).

    An upper estimate from the means: items that arrive (open arrivals: rate x horizon; saturated:
    the bottleneck's capacity x horizon + the WIP it starts with), each visiting the steps as often
    as `StreamSpec.visit_ratios` says (rework included); interruptions: the pool's rate x its
    people's work time (at most people x horizon); ticks: horizon / cadence at a gate that a WIP
    limit downstream can hold shut (an open gate ticks only when a batch leaves).
    """

    items: float
    what: str                 # what the items are: "arrivals", "backlog items", ...
    visits: float
    interruptions: float
    ticks: float
    people: float
    joins: float = 0.0        # per item: the helpers joining its visits at swarming steps (a full swarm each)

    @property
    def events(self) -> float:
        return self.items * self.visits + self.interruptions + self.ticks + self.people + self.items * self.joins

    @classmethod
    def of(cls, spec: StreamSpec, horizon: float | None) -> RunSize:
        """The size of one replication of `spec` to `horizon` (None: until every item is done)."""
        a = spec.arrivals
        steps = list(spec.steps.values())
        # per item that arrives: the items each board receives (children included) and their visits
        flows = spec.flows(rate=1.0) if spec.teams else {
            "": {t.name: (t.share, t.mean_size) for t in spec.item_types.values()}}
        ratios = {b: {t: spec.visit_ratios(t, b) for t in types} for b, types in flows.items()}
        visits = sum(r * sum(ratios[b][t].values()) for b, types in flows.items() for t, (r, _) in types.items())
        # the mean work an item that arrives brings to each step of each board, over its visits
        work_on = {b: [_finite_sum(r * ratios[b][t][s.name] * (s.work.mean if s.work else 0.0) * size
                                   for t, (r, size) in types.items())
                       for s in spec.board(b)[0].values()] for b, types in flows.items()}
        work = work_on[""]
        capacity = [_count(sum(spec.pools[p].size for p in s.pools)) for s in steps]
        if a.process == "backlog":
            items, what = _count(a.count), "backlog items"
        elif a.process == "trace":
            items = float(sum(1 for t in a.times if horizon is None or t < horizon))
            what = "trace arrivals"
        elif a.process == "saturated":
            rate = min((c / w for c, w in zip(capacity, work, strict=True) if w > 0), default=math.inf)
            start = spec.release.conwip or steps[0].wip_limit or 0       # the WIP it starts with
            items = _product(rate, horizon) + _count(start)
            what = "items (saturated: the bottleneck's capacity x horizon)"
        else:
            items, what = _product(spec.arrival_rate(), horizon), "arrivals"
            if a.profile is not None and a.profile.trend > 0 and horizon is not None:
                items = _product(items, 1.0 + 0.5 * a.profile.trend * horizon)    # the trend's mean factor
            if a.limit is not None:
                items = min(items, _count(a.limit)) if horizon is not None else _count(a.limit)
        # how long the run lasts: the horizon, or the time to work every item off, one step after another
        span = horizon if horizon is not None else _finite_sum(
            _product(items, w / c) for w, c in zip(work, capacity, strict=True) if w)
        interruptions = 0.0
        for b, board_work in work_on.items():
            board_steps, pools = spec.board(b)
            for name, pool in pools.items():
                if pool.interruptions is not None:
                    busy = _product(items, _finite_sum(w for s, w in zip(board_steps.values(), board_work, strict=True)
                                                       if name in s.pools))
                    if horizon is not None:
                        busy = min(busy, _count(pool.size) * horizon)
                    interruptions += _product(pool.interruptions.rate, busy)
        ticks = 0.0
        for k, s in enumerate(steps):
            if s.cadence is not None and any(later.wip_limit is not None for later in steps[k + 1:]):
                ticks += span / s.cadence + 1.0
        people = _finite_sum(_count(pool.size) for b in work_on for pool in spec.board(b)[1].values())
        joins = 0.0                          # a swarm's helpers: each join is an event (the crew's end moves)
        for b, types in flows.items():
            for s in spec.board(b)[0].values():
                if s.swarm > 1:
                    helpers = min(s.swarm, sum(spec.board(b)[1][p].most for p in s.pools)) - 1
                    joins += helpers * sum(r * ratios[b][t][s.name] for t, (r, _) in types.items())
        return cls(items, what, visits, interruptions, ticks, people, joins)

    def refusal(self, replications: int, limit: float, horizon: float | None) -> str:
        """The one line that refuses a run of `replications` of this size above `limit`."""
        parts = [f"{_short(self.items)} {self.what} x {_short(self.visits)} visit{'s' if self.visits != 1 else ''}"]
        if self.interruptions:
            parts.append(f"{_short(self.interruptions)} interruptions")
        if self.ticks:
            parts.append(f"{_short(self.ticks)} cadence ticks")
        if self.joins:
            parts.append(f"{_short(self.items * self.joins)} swarm joins")
        if self.people > self.items * self.visits:       # worth naming when they are what is large
            parts.append(f"{_short(self.people)} people")
        per_run = " + ".join(parts)
        if replications > 1:
            per_run = f"{replications} replications x ({per_run})"
        if self.people > self.items * self.visits:
            remedies = ["fewer people in pools.*.size"]
        elif self.what == "backlog items":
            remedies = ["lower arrivals.count"]
        elif horizon is None:
            remedies = ["set a sim.horizon"]
        else:
            remedies = ["shorten sim.horizon"]
        if replications > 1:
            remedies.append("run fewer sim.replications")
        return (f"the run needs about {_sci(_count(replications) * self.events)} events ({per_run}); allowed: raise "
                f"sim.max_events (now {_short(limit)}; null: no limit), {' or '.join(remedies)}")


def _count(n: int) -> float:
    """An integer count as a float (infinite beyond the floats)."""
    return float(n) if n < 1e308 else math.inf


def _product(a: float | None, b: float | None) -> float:
    """a x b for counts: infinite when either is infinite or unknown (None, NaN), 0 when either is 0."""
    if a is None or b is None or a != a or b != b:
        return math.inf
    if a == 0 or b == 0:
        return 0.0
    return float(a) * float(b)


def _finite_sum(values) -> float:
    """A sum of non-negative means in which an unknown one (NaN) counts as infinite."""
    total = 0.0
    for v in values:
        total += math.inf if v != v else v
    return total


def _sci(x: float, digits: int = 1) -> str:
    """3.0e10, 1e8: a count in scientific notation without the exponent's sign and zeros."""
    if not math.isfinite(x):
        return "inf"
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _short(x: float) -> str:
    """Two significant digits, whole numbers from 100 to 99999: 4.3, 1, 1500, 3e10."""
    if not math.isfinite(x):
        return "inf"
    if 100 <= x < 99_999.5:
        return f"{x:.0f}"
    text = f"{x:.2g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return text
