"""`vssim.simulate`: replications of a stream, summarised (DESIGN.md §5, §6)."""
from __future__ import annotations

import json
import math
import numbers
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vssim.engine import Plan, run_replication
from vssim.errors import DeadlockError, SpecError
from vssim.metrics import summarize
from vssim.records import Records
from vssim.spec import StreamSpec

ENGINES = ("simpy", "fast", "auto")
"""`auto`: the fast engine (vssim/fast.py) when the stream qualifies, else the SimPy engine."""


@dataclass
class SimResult:
    """What `simulate` returns: the summary (as in summary.json) and tidy tables."""

    spec: StreamSpec
    summary: dict
    records: list[Records] = field(repr=False)
    steps: pd.DataFrame = field(repr=False)
    _items: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def items(self) -> pd.DataFrame:
        """One row per item per replication (DESIGN.md §6)."""
        if self._items is None:
            self._items = pd.concat([r.items_frame() for r in self.records], ignore_index=True)
        return self._items

    @property
    def visits(self) -> pd.DataFrame:
        """One row per visit of an item to a step, per replication."""
        return pd.concat([r.visits_frame() for r in self.records], ignore_index=True)

    def event_log(self) -> pd.DataFrame:
        """The process-mining event log (case, activity, lifecycle, timestamp, resource).

        A case is one item of one replication, named `replication-item` so that case ids are
        unique across the whole log.
        """
        log = pd.concat([r.event_log() for r in self.records], ignore_index=True)
        log["case"] = log["replication"].astype(str) + "-" + log["case"].astype(str)
        return log

    def save(self, directory: str | Path, *, event_log: bool = True) -> Path:
        """Write summary.json, items.parquet, steps.parquet and events.csv, each atomically."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        write_atomic(d / "summary.json", lambda p: p.write_text(json.dumps(self.summary, indent=2)))
        write_atomic(d / "items.parquet", lambda p: self.items.to_parquet(p, index=False))
        write_atomic(d / "steps.parquet", lambda p: self.steps.to_parquet(p, index=False))
        if event_log:
            write_atomic(d / "events.csv", lambda p: self.event_log().to_csv(p, index=False))
        return d


def write_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename: never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def check_settings(spec: StreamSpec, horizon, warmup, replications, seed, engine, planning_interval) -> None:
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
        from vssim.fast import qualifies

        ok, why = qualifies(spec)
        if not ok:
            raise SpecError("sim.engine", message=f"'fast' cannot run stream {spec.name!r}: {why} (use simpy or auto)")
    if planning_interval is not None and (isinstance(planning_interval, bool)
                                          or not isinstance(planning_interval, int | float)
                                          or not planning_interval > 0):
        raise SpecError("sim.planning_interval", "a positive number or null", planning_interval)


def simulate(spec: StreamSpec, horizon: float | None = None, warmup: float = 0.0, replications: int = 1,
             seed: int = 0, *, engine: str = "simpy", planning_interval: float | None = None,
             scenario: str = "baseline", progress: bool | None = None) -> SimResult:
    """Simulate `replications` independent replications of `spec` and summarise them.

    `horizon` is the simulated time of each replication (None: until every item is done, for
    backlog and trace arrivals). Statistics cover items arriving after `warmup` and time after
    it. Replication r draws from `SeedSequence(seed, spawn_key=(r, source))`, so the same seed
    gives the same result, bit for bit. `progress=None` shows a bar only on a terminal.
    """
    if not isinstance(spec, StreamSpec):
        spec = StreamSpec.from_dict(spec)
    check_settings(spec, horizon, warmup, replications, seed, engine, planning_interval)
    plan = Plan.of(spec)
    run = run_replication
    if engine == "auto":
        from vssim.fast import qualifies

        engine = "fast" if qualifies(spec)[0] else "simpy"
    if engine == "fast":
        from vssim.fast import run_fast

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
    if spec.arrivals.finite and warmup > 0 and all(warmup >= r.end for r in records):
        raise SpecError("sim.warmup", message=(
            f"must be below the end of the run ({max(r.end for r in records):g} {spec.time_unit}) for "
            f"{spec.arrivals.process} arrivals, got {warmup:g}: no item arrives after it (try sim.warmup=0)"))
    parts = summarize(records, planning_interval=planning_interval, steady_state=not spec.arrivals.finite)
    steps = parts.pop("_steps_frame")
    summary = {
        "stream": spec.name,
        "scenario": scenario,
        "time_unit": spec.time_unit,
        "sim": {"horizon": horizon, "warmup": warmup, "replications": replications, "seed": seed,
                "engine": engine, "planning_interval": parts["metrics"]["flow_predictability"]["planning_interval"],
                "end": [r.end for r in records],
                "random": "replication r, source s: SeedSequence(seed, spawn_key=(r, crc32(s)))"},
        **parts,
    }
    return SimResult(spec=spec, summary=summary, records=records, steps=steps)
