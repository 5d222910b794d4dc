"""The objective an optimising sweep maximises (`objective:` in configs/config.yaml).

One objective: **throughput, with a penalty when the lead-time p85 exceeds a target**::

    objective_r = throughput_r - penalty * max(0, lead_time_p85_r - p85_target)

computed per replication r (from `summary.json`'s `replications`, or the rows of a sweep's
`runs.parquet`); a run's objective is the mean over its replications, with a Student-t 95 %
interval over them. Units: throughput in items per time unit, p85 and target in the stream's
time unit, so `penalty` is in items per time unit lost per time unit of p85 over the target
(the default, 1, makes one day over the target cost one item a day: a hard constraint for
streams that finish a few items a day, graded so that an optimiser can find its way back).
With `p85_target: null` the objective is the throughput alone. Higher is better
(`hydra.sweeper.direction: maximize`).

No Hydra here: the command line (`vssim/cli/app.py`) passes the `objective` mapping.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from vssim.analysis.intervals import ci95
from vssim.errors import SpecError

KEYS = ("p85_target", "penalty")


@dataclass(frozen=True)
class Objective:
    """Throughput minus `penalty` per time unit by which the lead-time p85 exceeds `p85_target`."""

    p85_target: float | None = None
    penalty: float = 1.0

    @classmethod
    def from_dict(cls, d: Mapping | None, path: str = "objective") -> Objective | None:
        """The objective of a config's `objective` mapping; None for null (the run returns its throughput)."""
        if d is None:
            return None
        if not isinstance(d, Mapping):
            raise SpecError(path, "a mapping {p85_target, penalty} or null", d)
        for key in d:
            if key not in KEYS:
                raise SpecError(f"{path}.{key}", message=f"unknown key; allowed: {', '.join(KEYS)}")
        target = d.get("p85_target")
        if target is not None and not (_number(target) and target > 0):
            raise SpecError(f"{path}.p85_target", "a positive number or null", target)
        penalty = d.get("penalty", 1.0)
        if not (_number(penalty) and penalty >= 0):
            raise SpecError(f"{path}.penalty", "a number >= 0", penalty)
        return cls(None if target is None else float(target), float(penalty))

    def per_replication(self, rows: Iterable[Mapping]) -> np.ndarray:
        """The objective of each replication (rows with `throughput` and `lead_time_p85`).

        A replication that finished no item in its window has no p85: it scores its throughput
        (0) minus the penalty for a p85 of infinity when a target is set, i.e. minus infinity.
        """
        out = []
        for row in rows:
            value = float(row["throughput"])
            if self.p85_target is not None:
                p85 = row.get("lead_time_p85")
                p85 = math.inf if p85 is None or not math.isfinite(float(p85)) else float(p85)
                excess = max(0.0, p85 - self.p85_target)
                if excess and self.penalty:
                    value -= self.penalty * excess
            out.append(value)
        return np.asarray(out, dtype=float)

    def value(self, summary: Mapping) -> float:
        """A run's objective: the mean of its replications' objectives (`summary.json`)."""
        return float(self.per_replication(summary["replications"]).mean())

    def ci(self, rows: Iterable[Mapping]) -> tuple[float, list[float | None]]:
        """Mean and 95 % interval of the objective over the replications of one run."""
        values = self.per_replication(rows)
        return float(values.mean()), ci95(values.tolist())

    def describe(self, unit: str = "time unit") -> str:
        """The objective in words, for reports."""
        if self.p85_target is None:
            return f"throughput (items/{unit}), maximised"
        return (f"throughput (items/{unit}) − {self.penalty:g} × max(0, lead-time p85 − {self.p85_target:g} {unit}), "
                "maximised")


def _number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
