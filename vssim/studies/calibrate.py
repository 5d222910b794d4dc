"""`vssim.calibrate`: from a real log to a stream, and how close that stream comes to the months it
was not fitted on (docs/calibration.md).

The evaluation is Simod's, so that the figures compare with the field's: the log's cases are split
chronologically by their first event (the first `train` share fits the stream, the rest is held
out); the held-out period is simulated starting empty, with the held-out log's number of cases
arriving from its first arrival on (`arrivals.limit`, each run until its cases are done),
`replications` times; each simulated log is held against the held-out log by the five distances of
`log-distance-measures` (`vssim.analysis.fidelity.distances`). Two baselines are measured the same
way: the training log replayed into the test period, and a naive model (training cases resampled
whole at the training arrival rate). With `bootstrap=B`, the training cases are resampled B times
and each resample fitted again: the spread of a metric over those B streams is the input
uncertainty of the calibration, beside the simulation noise of each.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vssim.analysis.fidelity import (
    MEASURES,
    chronological_split,
    distances,
    naive_baseline,
    replay_baseline,
    simulated_log,
    write_log,
)
from vssim.analysis.result import SimResult
from vssim.data.discover import Discovery, discover
from vssim.data.log import EventLog
from vssim.data.read import read_log
from vssim.errors import SpecError
from vssim.files import json_value, write_atomic
from vssim.model.spec import StreamSpec
from vssim.run.simulate import simulate

__all__ = ["Calibration", "calibrate"]

BASELINE_SEED = 0x5EED
"""The naive baseline's random stream, apart from the simulation's seeds."""


@dataclass
class Calibration:
    """What `calibrate` found: the stream (`spec`, and `discovery` with its provenance), the held-out
    log and the simulated logs of its period, and the distances between them (`fidelity`, the five
    measures with mean and sd over the simulated logs; `baselines`, the same for replay and naive)."""

    spec: StreamSpec
    discovery: Discovery
    fidelity: dict
    heldout: pd.DataFrame
    simulated: list[pd.DataFrame]
    baselines: dict = field(default_factory=dict)
    split_at: pd.Timestamp | None = None
    n_train: int = 0
    n_test: int = 0
    source: str = ""
    results: SimResult | None = None
    bootstrap: list[dict] = field(default_factory=list)     # per resampled stream: its metrics
    warnings: list[str] = field(default_factory=list)

    def save(self, directory: str | Path) -> Path:
        """The calibration's folder: stream.yaml (commented), fidelity.json, heldout.csv,
        simulated/NN.csv, report.md with its figures (docs/calibration.md, "Outputs")."""
        from vssim.report.calibration import write_report

        out = Path(directory)
        (out / "simulated").mkdir(parents=True, exist_ok=True)
        text = self.discovery.to_yaml()
        write_atomic(out / "stream.yaml", lambda p: p.write_text(text, encoding="utf-8"))
        write_log(self.heldout, out / "heldout.csv")
        for k, log in enumerate(self.simulated):
            write_log(log, out / "simulated" / f"{k:02d}.csv")
        body = json.dumps(_plain(self.summary()), indent=2, allow_nan=False)
        write_atomic(out / "fidelity.json", lambda p: p.write_text(body + "\n", encoding="utf-8"))
        write_report(self, out)
        return out

    def summary(self) -> dict:
        """fidelity.json: the measures of the model and of the baselines, and what was compared."""
        strip = {name: {k: {"mean": v["mean"], "sd": v["sd"], "values": list(v["values"])} for k, v in d.items()}
                 for name, d in {"vssim": self.fidelity, **self.baselines}.items()}
        return {"source": self.source, "split_at": None if self.split_at is None else self.split_at.isoformat(),
                "train_cases": self.n_train, "test_cases": self.n_test, "replications": len(self.simulated),
                "measures": list(MEASURES), "models": strip, "warnings": list(self.warnings),
                "bootstrap": self.bootstrap}


def _plain(value):
    """A JSON-ready copy: NaN and infinities as null (an sd over one log), numpy numbers as Python's."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return json_value(value)


def calibrate(log: EventLog | str | Path, train: float = 0.8, replications: int = 10, *, seed: int = 0,
              activities: Callable[[str], bool] | Iterable[str] | None = None, format: str | None = None,
              mapping: Mapping | None = None, tz: str | None = None, baselines: bool = True,
              bootstrap: int = 0, progress: bool = False, **discover_options: Any) -> Calibration:
    """A stream fitted on the first `train` share of `log`'s cases, and its fidelity on the rest
    (module docstring). `log`: an `EventLog` or a path for `vssim.read_log` (with `format`,
    `mapping`, `tz`); `activities`: keep only these (a predicate or names, e.g. BPIC 2012's `W_`);
    `discover_options` go to `vssim.data.discover.discover`."""
    if not isinstance(train, (int, float)) or isinstance(train, bool) or not 0 < train < 1:
        raise SpecError("train", "a share of the cases strictly between 0 and 1", train)
    if not isinstance(replications, int) or isinstance(replications, bool) or replications < 1:
        raise SpecError("replications", "a positive integer", replications)
    if not isinstance(bootstrap, int) or isinstance(bootstrap, bool) or bootstrap < 0:
        raise SpecError("bootstrap", "a non-negative integer", bootstrap)
    if not isinstance(log, EventLog):
        log = read_log(log, format=format, mapping=mapping, tz=tz)
    if activities is not None:
        log = log.select(activities=activities)
    events = log.events()
    split = chronological_split(events, train)
    train_cases = set(split.train["case_id"])
    fitted = discover(log.select(cases=train_cases), **discover_options)
    test = split.test
    n_test = int(test["case_id"].nunique())
    start = test["timestamp"].min()
    stream = heldout_stream(fitted.stream, start, n_test)
    spec = StreamSpec.from_dict(stream)
    result = simulate(spec, horizon=None, warmup=0.0, replications=replications, seed=seed, progress=progress)
    unit = pd.Timedelta(seconds=spec.epoch.seconds)
    origin = spec.epoch.start_utc.tz_convert(spec.epoch.tz)
    sims = [simulated_log(r, origin, unit) for r in result.records]
    cal = Calibration(spec=spec, discovery=fitted, fidelity=distances(test, sims), heldout=test, simulated=sims,
                      split_at=split.at, n_train=len(train_cases), n_test=n_test, source=log.source,
                      results=result, warnings=list(fitted.warnings))
    if baselines:
        rng = np.random.default_rng(BASELINE_SEED)
        naive = [naive_baseline(split.train, n_test, rng, start) for _ in range(replications)]
        cal.baselines = {"replay": distances(test, [replay_baseline(split.train, test)]),
                         "naive": distances(test, naive)}
    if bootstrap:
        cal.bootstrap = _bootstrap(log, train_cases, start, n_test, bootstrap, seed, discover_options)
    return cal


def heldout_stream(stream: Mapping, start: pd.Timestamp, n: int) -> dict:
    """The discovered stream for the held-out period: its epoch at the period's first event (local
    time of the log's zone), its first `n` arrivals only (then every run lasts until they are done)."""
    out = copy.deepcopy(dict(stream))
    epoch = dict(out.get("epoch") or {})
    tz = epoch.get("tz") or (str(start.tzinfo) if start.tzinfo is not None else "UTC")
    local = pd.Timestamp(start).tz_convert(tz)
    out["epoch"] = {"start": local.tz_localize(None).isoformat(timespec="seconds"), "tz": tz}
    arrivals = dict(out["arrivals"])
    if arrivals.get("process") not in ("poisson", "renewal", "deterministic"):
        raise SpecError("arrivals.process", message=f"the discovered stream's arrivals are "
                                                    f"{arrivals.get('process')!r}: a held-out run needs an open "
                                                    "process")
    arrivals["limit"] = int(n)
    out["arrivals"] = arrivals
    return out


def _bootstrap(log: EventLog, train_cases: set, start: pd.Timestamp, n: int, b: int, seed: int,
               options: Mapping) -> list[dict]:
    """Input uncertainty: the training cases resampled with replacement (a case drawn twice counts
    twice) B times, a stream fitted to each, the held-out period simulated once per stream; the
    lead-time and throughput of each stream's run."""
    rng = np.random.default_rng([seed, 0xB007])
    train_log = log.select(cases=train_cases)
    cases = np.array(sorted(train_cases, key=str), dtype=object)
    out = []
    for k in range(b):
        picked = rng.choice(cases, size=len(cases), replace=True)
        resampled = _resample(train_log, picked)
        fitted = discover(resampled, **options)
        spec = StreamSpec.from_dict(heldout_stream(fitted.stream, start, n))
        r = simulate(spec, horizon=None, warmup=0.0, replications=1, seed=seed + 1 + k, progress=False)
        m = r.summary["metrics"]
        out.append({"resample": k, "lead_time_mean": m["lead_time"]["mean"], "lead_time_p85": m["lead_time"]["p85"],
                    "throughput": m["throughput"]["mean"]})
    return out


def _resample(log: EventLog, picked: np.ndarray) -> EventLog:
    """The log with cases `picked` (repeats renamed `id~2`, `id~3`, ...): a bootstrap sample of cases."""
    seen: dict[str, int] = {}
    acts, cases = [], []
    by_case = dict(tuple(log.activities.groupby(log.activities["case"].astype(str), sort=False)))
    case_rows = log.cases.assign(_c=log.cases["case"].astype(str)).set_index("_c")
    for c in picked:
        c = str(c)
        seen[c] = seen.get(c, 0) + 1
        name = c if seen[c] == 1 else f"{c}~{seen[c]}"
        acts.append(by_case[c].assign(case=name))
        cases.append(case_rows.loc[[c]].assign(case=name))
    a = pd.concat(acts, ignore_index=True)
    cs = pd.concat(cases, ignore_index=True).sort_values("first", kind="stable").reset_index(drop=True)
    return dataclasses.replace(log, activities=a, cases=cs)
