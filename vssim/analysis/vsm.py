"""A value stream map per run: per step, process time against wait time, and the totals.

Everything is read from the run's summary (and, for the interval of the rolled %C&A, from the
per-replication step table), so the map of a saved run can be rebuilt from summary.json alone.
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
                "wait", "blocked", "overhead_time")


def num(x) -> float:
    """A summary value as a float, None and non-finite as NaN."""
    if x is None:
        return math.nan
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def step_visits(summary: Mapping, spec=None) -> dict[str, float]:
    """Visits per item to each step: the step's visit rate over the stream's done rate.

    Falls back on the spec's visit ratios (traffic equations) when the run has no throughput.
    """
    throughput = num(summary["metrics"]["throughput"]["mean"])
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
    process_lead_ratio: float = math.nan
    rolled_pct_complete_accurate_ci95: list = field(default_factory=lambda: [None, None])

    def to_dict(self) -> dict:
        """JSON-able (NaN → None)."""
        plain = json_value
        return {
            "time_unit": self.time_unit,
            "steps": [{k: plain(v) for k, v in r.items()} for r in self.steps.to_dict(orient="records")],
            "total_process_time": plain(self.total_process_time),
            "total_wait_time": plain(self.total_wait_time),
            "total_overhead_time": plain(self.total_overhead_time),
            "backlog_time": plain(self.backlog_time),
            "total_lead_time": plain(self.total_lead_time),
            "flow_efficiency": plain(self.flow_efficiency),
            "process_lead_ratio": plain(self.process_lead_ratio),
            "rolled_pct_complete_accurate": plain(self.rolled_pct_complete_accurate),
            "rolled_pct_complete_accurate_ci95": [plain(x) for x in self.rolled_pct_complete_accurate_ci95],
        }


def value_stream_map(result) -> ValueStreamMap:
    """The value stream map of a run (`result`: SimResult, or a summary dict)."""
    summary = getattr(result, "summary", result)
    spec = getattr(result, "spec", None)
    metrics = summary["metrics"]
    visits = step_visits(summary, spec)
    rows = []
    for name, s in summary["steps"].items():
        wait, blocked = num(s.get("wait")), num(s.get("blocked"))
        touch, work = num(s.get("touch_time")), num(s.get("process_time"))
        overhead = work - touch
        if abs(overhead) <= 1e-9 * max(1.0, abs(work)):     # same sums added in another order
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
    pca = steps["pct_complete_accurate"].to_numpy(float)
    rolled = float(np.prod(pca[np.isfinite(pca)]))
    return ValueStreamMap(
        steps=steps,
        total_process_time=process,
        total_wait_time=wait,
        total_lead_time=lead,
        flow_efficiency=num(metrics["flow_efficiency"]["mean"]),
        rolled_pct_complete_accurate=rolled,
        time_unit=str(summary.get("time_unit") or "day"),
        backlog_time=backlog,
        total_overhead_time=total("overhead_time"),
        process_lead_ratio=process / lead if lead > 0 else math.nan,
        rolled_pct_complete_accurate_ci95=_rolled_ci(getattr(result, "steps", None)),
    )


def _rolled_ci(frame) -> list:
    """t-interval over replications of the per-replication product of the steps' %C&A."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        return [None, None]
    per_rep = frame.groupby("replication")["pct_complete_accurate"].apply(
        lambda x: float(np.prod(x.to_numpy(float)[np.isfinite(x.to_numpy(float))])))
    return ci95(per_rep.tolist())
