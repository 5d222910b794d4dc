"""Throughput and cycle time against WIP: a CONWIP sweep next to Factory Physics' curves.

For a closed line (saturated backlog under CONWIP w) Factory Physics bounds throughput and
cycle time between the best case (no variability), the worst case (all work in one batch)
and the practical worst case (exponential, balanced: the "as good as random" benchmark).
When every step is exponential, exact mean value analysis gives the curve itself; the VUT
(Kingman) approximation of an open line at the simulated throughput is shown where u < 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from vssim.analysis import theory
from vssim.model.distributions import distribution_variance
from vssim.model.spec import StreamSpec


@dataclass(frozen=True)
class Curves:
    """Theoretical throughput and cycle time against WIP levels `w`."""

    w: np.ndarray
    rb: float
    t0: float
    w0: float
    best: tuple[np.ndarray, np.ndarray]
    worst: tuple[np.ndarray, np.ndarray]
    practical_worst: tuple[np.ndarray, np.ndarray]
    mva: tuple[np.ndarray, np.ndarray] | None      # exact when every step is exponential and unbatched


def stations(spec: StreamSpec) -> tuple[list[float], list[int], list[float]]:
    """Per step: mean time per item (visits × work × size), people, and the work's SCV."""
    size = spec.mean_size()
    visits = spec.visit_ratios()
    times, people, scv = [], [], []
    for s in spec.steps.values():
        times.append(visits[s.name] * s.work.mean * size)
        people.append(sum(spec.pools[p].size for p in s.pools))
        sd = _sd(s.work, f"steps.{s.name}.work")
        scv.append((sd / s.work.mean) ** 2 if s.work.mean > 0 else 0.0)
    return times, people, scv


def _sd(dist, path: str) -> float:
    p = dist.to_dict()
    if p.get("dist") == "deterministic":
        return 0.0
    if "cv" in p:
        return p["cv"] * dist.mean
    if p.get("dist") == "exponential":
        return dist.mean
    return float(np.sqrt(distribution_variance(dist, path)))


def product_form(spec: StreamSpec) -> bool:
    """Exact MVA applies: exponential work, one pool per step not shared, no delays or batches."""
    seen = set()
    for s in spec.steps.values():
        d = s.work.to_dict()
        if not (d.get("dist") == "exponential" or (d.get("dist") == "gamma" and d.get("cv") == 1.0)):
            return False
        if len(s.pools) != 1 or s.pools[0] in seen or s.handoff or s.dependency or s.batch > 1 or s.cadence:
            return False
        seen.add(s.pools[0])
        if spec.pools[s.pools[0]].interruptions or spec.pools[s.pools[0]].switch_cost:
            return False
    return all(isinstance(t.size, float | int) and t.size == 1.0 for t in spec.item_types.values())


def curves(spec: StreamSpec, w_max: int) -> Curves:
    """Best, worst and practical-worst cases (and exact MVA where it applies) for w = 1..w_max."""
    times, people, _ = stations(spec)
    rb, t0, w0 = theory.line_parameters(mean_times=times, servers=people)
    w = np.arange(1, w_max + 1, dtype=float)
    mva = None
    if product_form(spec):
        r = theory.mva(times, int(w_max), servers=people)
        mva = (np.asarray(r.throughput), np.asarray(r.cycle_time))
    return Curves(w, rb, t0, w0, theory.best_case(w, rb, t0), theory.worst_case(w, rb, t0),
                  theory.practical_worst_case(w, rb, t0), mva)


VUT_MAX_UTILIZATION = 0.8
"""Above this bottleneck utilisation the open-line VUT formula says little about a closed line."""


def vut_cycle_time(spec: StreamSpec, throughput: np.ndarray, u_max: float = VUT_MAX_UTILIZATION) -> np.ndarray:
    """Kingman/VUT cycle time of the line as an open line at each throughput (NaN where u > u_max).

    CT = Σ_j (V·U·t_j + t_j) with V = (ca² + ce²)/2, ca² = 1 (Poisson-like arrivals), the
    Sakasegawa form for several people. It is an open-line approximation: under CONWIP the
    line is closed and queues cannot grow without bound, so it is shown only at moderate load.
    """
    times, people, scv = stations(spec)
    out = []
    for th in np.atleast_1d(throughput):
        total = 0.0
        for t, m, ce2 in zip(times, people, scv, strict=True):
            u = th * t / m
            if not 0 <= u <= u_max:
                total = np.nan
                break
            total += theory.kingman_wq(1.0, ce2, u, t, m) + t
        out.append(total)
    return np.asarray(out)


def sweep_points(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per WIP level of a sweep's tidy table: mean and 95 % CI of throughput, WIP, flow and lead time."""
    rows = []
    for level, g in table.groupby(column):
        row = {"level": float(level), "replications": len(g)}
        for m in ("throughput", "wip", "flow_time", "lead_time"):
            v = g[m].astype(float).dropna().to_numpy()
            mean = float(v.mean()) if len(v) else np.nan
            half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else np.nan
            row.update({m: mean, f"{m}_lo": mean - half, f"{m}_hi": mean + half})
        rows.append(row)
    return pd.DataFrame(rows).sort_values("level").reset_index(drop=True)
