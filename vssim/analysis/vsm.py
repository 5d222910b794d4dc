"""A value stream map per run: per step, process time against wait time, and the totals.

Everything is read from the run's summary (and, for the interval of the rolled %C&A, from the
per-replication step table), so the map of a saved run can be rebuilt from summary.json alone
(with the stream's spec for its routes, when steps are visited by some item types only). The
rolled %C&A is per route: each type meets only the checks of the steps it visits.
Data only: the VSM timeline ladder is drawn elsewhere from `ValueStreamMap.steps`.
Formulas and decisions: docs/analysis.md.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vssim.analysis.intervals import ci95
from vssim.files import json_value

STEP_COLUMNS = ("step", "visits", "process_time", "wait_time", "lead_time", "pct_complete_accurate",
                "wait", "blocked", "overhead_time", "team_time")


def num(x) -> float:
    """A summary value as a float, None and non-finite as NaN."""
    if x is None:
        return math.nan
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def item_metrics(summary: Mapping) -> Mapping:
    """The metrics of the items that visit the steps: a split stream's parts (summary `parts`), whose
    visits, waits and lead times add up as those of an unsplit item; else `metrics`."""
    return (summary.get("parts") or summary)["metrics"]


def step_visits(summary: Mapping, spec=None) -> dict[str, float]:
    """Visits per item to each step: the step's visit rate over the stream's done rate (of a split
    stream: per part, see `item_metrics`).

    Falls back on the spec's visit ratios (traffic equations) when the run has no throughput.
    """
    throughput = num(item_metrics(summary)["throughput"]["mean"])
    out = {}
    for name, s in summary["steps"].items():
        rate = num(s.get("throughput"))
        out[name] = rate / throughput if throughput > 0 and math.isfinite(rate) else math.nan
    if spec is not None and not all(math.isfinite(v) for v in out.values()):
        ratios = spec.visit_ratios()
        out = {k: (v if math.isfinite(v) else ratios.get(k, math.nan)) for k, v in out.items()}
    return out


@dataclass
class ValueStreamMap:
    """The value stream map of one run (per item, in the run's time unit)."""

    steps: pd.DataFrame
    total_process_time: float
    total_wait_time: float
    total_lead_time: float
    flow_efficiency: float
    rolled_pct_complete_accurate: float
    time_unit: str
    backlog_time: float = math.nan
    total_overhead_time: float = 0.0
    total_team_time: float = 0.0     # in split steps: from the split to the join, on the teams' boards
    process_lead_ratio: float = math.nan
    rolled_pct_complete_accurate_ci95: list = field(default_factory=lambda: [None, None])
    routes: list[dict] = field(default_factory=list)
    parts: int = 1                   # a split stream: the map is per part, each item arriving in this many

    def to_dict(self) -> dict:
        """JSON-able (NaN → None)."""
        plain = json_value
        return {
            "time_unit": self.time_unit,
            "steps": [{k: plain(v) for k, v in r.items()} for r in self.steps.to_dict(orient="records")],
            "total_process_time": plain(self.total_process_time),
            "total_wait_time": plain(self.total_wait_time),
            "total_overhead_time": plain(self.total_overhead_time),
            "total_team_time": plain(self.total_team_time),
            "backlog_time": plain(self.backlog_time),
            "total_lead_time": plain(self.total_lead_time),
            "flow_efficiency": plain(self.flow_efficiency),
            "process_lead_ratio": plain(self.process_lead_ratio),
            "rolled_pct_complete_accurate": plain(self.rolled_pct_complete_accurate),
            "rolled_pct_complete_accurate_ci95": [plain(x) for x in self.rolled_pct_complete_accurate_ci95],
            "parts": self.parts,
            "routes": [{**r, "share": plain(r["share"]), "visits": [plain(x) for x in r["visits"]],
                        "rolled_pct_complete_accurate": plain(r["rolled_pct_complete_accurate"])}
                       for r in self.routes],
        }


def routes(summary: Mapping, spec=None, visits: Mapping[str, float] | None = None) -> list[dict]:
    """The distinct routes through the board: the item types that visit the same steps, their share
    of the arrivals, those steps and the visits per item of the route to each.

    A route's visits are the run's visits per item scaled by the route's own traffic equations
    against the stream's (`spec.visit_ratios`). Without the spec (a summary alone) every type is
    taken to visit every step: one route.
    """
    names = list(summary["steps"])
    visits = visits if visits is not None else step_visits(summary, spec)
    if spec is None:
        return [{"types": list(summary["metrics"]["flow_distribution"]), "share": 1.0, "steps": names,
                 "visits": [visits[s] for s in names]}]
    pooled = spec.visit_ratios()
    out: dict[tuple[str, ...], dict] = {}
    for t in spec.item_types.values():
        steps = tuple(s.name for s in spec.steps.values() if s.visited_by(t.name))
        if steps in out:
            out[steps]["types"].append(t.name)
            out[steps]["share"] += t.share
            continue
        own = spec.visit_ratios(t.name)
        out[steps] = {"types": [t.name], "share": t.share, "steps": list(steps),
                      "visits": [visits[s] * (own[s] / pooled[s]) if pooled[s] > 0 else own[s] for s in steps]}
    return list(out.values())


def rolled(pct_complete_accurate: Mapping[str, float], routes: list[dict]) -> float:
    """Rolled %C&A: over the routes, share × the product of the %C&A of the route's steps (steps
    without data skipped)."""
    total = 0.0
    for route in routes:
        pca = np.array([pct_complete_accurate[s] for s in route["steps"]], dtype=float)
        total += route["share"] * float(np.prod(pca[np.isfinite(pca)]))
    return total


def value_stream_map(result, spec=None) -> ValueStreamMap:
    """The value stream map of a run (`result`: SimResult, or a summary dict with, for a stream
    routed by type, its `spec`)."""
    summary = getattr(result, "summary", result)
    spec = spec if spec is not None else getattr(result, "spec", None)
    metrics = item_metrics(summary)
    visits = step_visits(summary, spec)
    rows = []
    for name, s in summary["steps"].items():
        wait, blocked = num(s.get("wait")), num(s.get("blocked"))
        touch, work = num(s.get("touch_time")), num(s.get("process_time"))
        overhead = work - touch
        team = 0.0
        if "join_wait" in s:                 # a split step: its time is spent on the teams' boards
            team, overhead = work, 0.0
        elif abs(overhead) <= 1e-9 * max(1.0, abs(work)):     # same sums added in another order
            overhead = 0.0
        rows.append({
            "step": name,
            "visits": visits[name],
            "process_time": touch,
            "wait_time": wait + blocked,
            "lead_time": wait + work + blocked,
            "pct_complete_accurate": num(s.get("pct_complete_accurate")),
            "wait": wait,
            "blocked": blocked,
            "overhead_time": overhead,
            "team_time": team,
        })
    steps = pd.DataFrame(rows, columns=list(STEP_COLUMNS))

    def total(column: str) -> float:
        v = steps["visits"].to_numpy(float)
        x = steps[column].to_numpy(float)
        ok = np.isfinite(v) & (v > 0)          # a step nobody visited adds nothing
        return float(np.sum(v[ok] * np.nan_to_num(x[ok], nan=0.0)))

    lead = num(metrics["lead_time"]["mean"])
    flow = num(metrics["flow_time"]["mean"])
    backlog = lead - flow
    if math.isfinite(backlog) and abs(backlog) < 1e-12 * max(1.0, abs(lead)):
        backlog = 0.0
    process = total("process_time")
    wait = total("wait_time") + (backlog if math.isfinite(backlog) else 0.0)
    pca = dict(zip(steps["step"], steps["pct_complete_accurate"].to_numpy(float), strict=True))
    paths = routes(summary, spec, visits)
    for route in paths:
        route["rolled_pct_complete_accurate"] = rolled(pca, [{**route, "share": 1.0}])
    return ValueStreamMap(
        steps=steps,
        total_process_time=process,
        total_wait_time=wait,
        total_lead_time=lead,
        flow_efficiency=num(metrics["flow_efficiency"]["mean"]),
        rolled_pct_complete_accurate=rolled(pca, paths),
        time_unit=str(summary.get("time_unit") or "day"),
        backlog_time=backlog,
        total_overhead_time=total("overhead_time"),
        total_team_time=total("team_time"),
        process_lead_ratio=process / lead if lead > 0 else math.nan,
        rolled_pct_complete_accurate_ci95=_rolled_ci(getattr(result, "steps", None), paths),
        routes=paths,
        parts=int((summary.get("parts") or {}).get("factor", 1)),
    )


def _rolled_ci(frame, paths: list[dict]) -> list:
    """t-interval over replications of each replication's rolled %C&A."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        return [None, None]
    per_rep = [rolled(dict(zip(rep["step"], rep["pct_complete_accurate"].to_numpy(float), strict=True)), paths)
               for _, rep in frame.groupby("replication")]
    return ci95(per_rep)
