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


@dataclass(frozen=True)
class Settings:
    """Simulation settings shared by every replication (and every alternative of an experiment).

    `horizon`: simulated time of each replication (None: until every item is done, for backlog
    and trace arrivals); statistics cover items arriving after `warmup` and time after it;
    replication r draws from `SeedSequence(seed, spawn_key=(r, source))`; `engine`: a name of
    `vssim.engines.registry` or `auto`; `planning_interval`: the PI of flow predictability
    (None: a tenth of the window); `progress`: a bar (None: only on a terminal).
    """

    horizon: float | None = 2000.0
    warmup: float = 200.0
    replications: int = 10
    seed: int = 1
    engine: str = "simpy"
    planning_interval: float | None = None
    progress: bool | None = None
    stats: str = "full"

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
        if self.streaming and spec.parts > 1:
            raise SpecError("sim.stats", f"full for a stream whose items arrive in parts (parts: {spec.parts}): "
                            "whole items are counted from the parts' rows, which a streaming run does not keep",
                            self.stats)
        pi = self.planning_interval
        if pi is not None and (isinstance(pi, bool) or not isinstance(pi, int | float) or not pi > 0):
            raise SpecError("sim.planning_interval", "a positive number or null", pi)
        return self


def _real(x) -> bool:
    return not isinstance(x, bool) and isinstance(x, int | float) and math.isfinite(x)
