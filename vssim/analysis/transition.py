"""What a reorganisation at time T costs and brings (docs/metrics.md, "Transitions").

A transition run simulates the stream as it is until T and the new organisation after; its
replication r uses the random numbers of the baseline's replication r (common random numbers),
so the two pair by replication. From the item rows of both (arrival, done) this module reads:

- per period (a week, or a planning interval) of each replication: p50 and p85 lead time of the
  items done in it, throughput, time-average WIP (`period_curves`), and their paired means and
  95 % intervals over replications (`paired_curves`);
- the dip: the worst period after T on the replication-averaged paired curve of p85 lead time and
  of throughput, chosen on one half of the replications and measured on the other, because the
  worst of many periods measured on the replications that chose it is biased away from 0 (`dip`);
- the break-even time: for open streams the first time after which the cumulative lead time saved
  S(t) = ∫_T^t (WIP_base − WIP_new) ds stays positive (by Little's law the item-time saved), for
  saturated and backlog streams the first time after which cumulative deliveries since T stay
  ahead (`break_even`);
- the gain a year after T (or at the horizon): the paired differences over the last quarter-year
  before it, and S there (`gain`);
- `sensitivity`: break-even and gain over a grid of the learning curve's p0 and R.

Analysis only: it reads `Records` and never runs an engine; `sensitivity` calls the caller's
function for each point. Differences are always transition − baseline, except S (saved: baseline −
transition), as in `vssim.analysis.compare`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vssim.analysis.intervals import ci95, ci95_rows
from vssim.errors import SpecError
from vssim.files import json_value
from vssim.records import Records

__all__ = ["CURVE_METRICS", "SENSITIVITY_COLUMNS", "WORSE", "BreakEven", "Dip", "Estimate", "Gain",
           "TransitionEffect", "break_even", "cumulative_paths", "default_period", "dip", "effect_of", "gain",
           "paired_curves", "period_curves", "sensitivity", "stream_kind", "transition_effect", "unit_name",
           "year_length"]

CURVE_METRICS = ("lead_time_p50", "lead_time_p85", "throughput", "wip")
"""The per-period curves, in the order of `PeriodCurves.values`."""
KINDS = ("open", "saturated", "backlog")
"""Stream kinds: an open stream breaks even on lead time saved, the others on deliveries."""
WEEK = {"day": 7.0, "week": 1.0}
_YEAR = {"day": 365.0, "week": 52.0}


def unit_name(time_unit: str) -> str:
    """A time unit in the singular, lower case ("Days" reads "day")."""
    u = str(time_unit).strip().lower()
    return u[:-1] if u.endswith("s") else u


def default_period(time_unit: str, planning_interval: float | None = None) -> float:
    """The period of the curves: the planning interval when there is one, else a week (7 for days,
    1 for weeks). Another unit has no week to assume: the caller must give a period."""
    if planning_interval is not None:
        return _positive("period", planning_interval)
    unit = unit_name(time_unit)
    if unit not in WEEK:
        raise SpecError("period", message=f"needed for time_unit {time_unit!r}: a week is known only for days "
                                          "and weeks; give a positive period (or a planning interval)")
    return WEEK[unit]


def year_length(time_unit: str) -> float | None:
    """A year in the stream's unit (365 days, 52 weeks); None for another unit (then the horizon)."""
    return _YEAR.get(unit_name(time_unit))


def stream_kind(spec) -> str:
    """`open`, `saturated` or `backlog` from a spec's arrivals (trace arrivals are open: they arrive
    over time, so deliveries follow the arrivals as in an open stream)."""
    process = spec.arrivals.process
    return process if process in ("saturated", "backlog") else "open"


def _positive(name: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if not (math.isfinite(x) and x > 0) or isinstance(value, bool):
        raise SpecError(name, "a positive number", value)
    return x


# --------------------------------------------------------------------------- estimates
@dataclass(frozen=True)
class Estimate:
    """A mean over replications and its 95 % Student-t interval (NaN bounds with fewer than 2)."""

    mean: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, values) -> Estimate:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        lo, hi = ci95(v.tolist()) if len(v) >= 2 else (None, None)
        return cls(float(v.mean()) if len(v) else math.nan, _nan(lo), _nan(hi), int(len(v)))

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return bool(self.lo > 0 or self.hi < 0)

    def covers(self, x: float = 0.0) -> bool:
        return bool(self.lo <= x <= self.hi)

    def to_dict(self) -> dict:
        return {"mean": json_value(self.mean), "ci95": [json_value(self.lo), json_value(self.hi)], "n": self.n}


def _nan(x) -> float:
    return math.nan if x is None else float(x)


# --------------------------------------------------------------------------- one replication
@dataclass(frozen=True)
class _Flow:
    """The items of one replication as read here: the stream's own items (a split stream's whole
    items), arrival and done (inf: not done), sorted by done, and the run's end."""

    arrival: np.ndarray
    done: np.ndarray
    end: float
    replication: int
    seed: int
    arrivals_sorted: np.ndarray = field(repr=False)
    sum_arrivals: np.ndarray = field(repr=False)
    sum_done: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, rec: Records) -> _Flow:
        if rec.parts > 1:
            from vssim.analysis.parts import whole_items

            rec = whole_items(rec)
        top = rec.item_parent < 0 if rec.has_teams else slice(None)     # (whole items keep the parts' item_parent)
        arrival = np.asarray(rec.arrival, dtype=float)[top]
        done = np.asarray(rec.done, dtype=float)[top]
        done = np.where(np.isnan(done), np.inf, done)
        order = np.argsort(done, kind="stable")
        arrival, done = arrival[order], done[order]
        a = np.sort(arrival)
        return cls(arrival, done, float(rec.end), int(rec.replication), int(rec.seed), a,
                   np.concatenate([[0.0], np.cumsum(a)]),
                   np.concatenate([[0.0], np.cumsum(np.where(np.isfinite(done), done, 0.0))]))

    def area(self, t) -> np.ndarray:
        """∫_0^t N(s) ds, N(s) = items arrived and not done at s, for each t: Σ_i min(t, done_i) −
        Σ_i min(t, arrival_i) (every item's time in the system before t)."""
        t = np.asarray(t, dtype=float)
        return _sum_min(self.done, self.sum_done, t) - _sum_min(self.arrivals_sorted, self.sum_arrivals, t)

    def delivered(self, t) -> np.ndarray:
        """Items done at or before each t."""
        return np.searchsorted(self.done, np.asarray(t, dtype=float), side="right").astype(float)


def _sum_min(x_sorted: np.ndarray, cumsum: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Σ_i min(t, x_i) for each t (x sorted; infinite x count t)."""
    k = np.searchsorted(x_sorted, t, side="right")
    return cumsum[k] + t * (len(x_sorted) - k)


@dataclass(frozen=True)
class PeriodCurves:
    """One replication's curves: `values[m, k]` is CURVE_METRICS[m] in period k = [edges[k],
    edges[k+1]); NaN for a period that ends after the run (or, for lead times, holds no item done)."""

    edges: np.ndarray
    values: np.ndarray


def _edges(period: float, end: float) -> np.ndarray:
    """Whole periods from 0 up to `end` (a trailing part shorter than a period is left out)."""
    n = int(math.floor(end / period + 1e-9)) if end > 0 else 0
    return period * np.arange(n + 1, dtype=float)


def period_curves(rec: Records, period: float, edges: np.ndarray | None = None) -> PeriodCurves:
    """p50 and p85 lead time of the items done in each period, throughput (items done / period
    length) and time-average WIP (items arrived and not done, from arrival and done)."""
    period = _positive("period", period)
    return _curves(_Flow.of(rec), _edges(period, rec.end) if edges is None else np.asarray(edges, dtype=float))


def _curves(flow: _Flow, edges: np.ndarray) -> PeriodCurves:
    k = len(edges) - 1
    out = np.full((len(CURVE_METRICS), max(k, 0)), np.nan)
    if k <= 0:
        return PeriodCurves(edges, out)
    inside = edges[1:] <= flow.end * (1 + 1e-12)
    width = np.diff(edges)
    cut = np.searchsorted(flow.done, edges, side="left")
    lead = (flow.done - flow.arrival)[cut[0]:cut[-1]]
    count = np.diff(cut)
    group = np.repeat(np.arange(k), count)
    lead = lead[np.lexsort((lead, group))]             # each period's lead times in order
    out[:2] = _grouped_percentiles(lead, cut[:-1] - cut[0], count, (0.50, 0.85))
    out[:2, ~inside] = np.nan
    out[2, inside] = np.diff(cut)[inside] / width[inside]
    out[3, inside] = np.diff(flow.area(edges))[inside] / width[inside]
    return PeriodCurves(edges, out)


def _grouped_percentiles(x: np.ndarray, start: np.ndarray, count: np.ndarray, quantiles) -> np.ndarray:
    """np.percentile's linear percentiles of each group x[start:start + count] (sorted within it), all
    groups at once (NaN for an empty group): one call per period would cost a run of many weeks dearly."""
    out = np.full((len(quantiles), len(count)), np.nan)
    some = count > 0
    s, m = start[some], count[some]
    for row, q in enumerate(quantiles):
        pos = q * (m - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, m - 1)
        a, b = x[s + lo], x[s + hi]
        out[row, some] = a + (b - a) * (pos - lo)
    return out


# --------------------------------------------------------------------------- pairs of replications
def _pairs(baseline: Sequence[Records], transition: Sequence[Records]) -> tuple[list[_Flow], list[_Flow], bool]:
    if not baseline or len(baseline) != len(transition):
        raise SpecError("transition", message=f"needs as many replications as the baseline to pair them, got "
                                              f"{len(transition)} and {len(baseline)}")
    base, new = [_Flow.of(r) for r in baseline], [_Flow.of(r) for r in transition]
    for b, n in zip(base, new, strict=True):
        if b.replication != n.replication:
            raise SpecError("transition", message=f"replication {n.replication} cannot pair with the baseline's "
                                                  f"replication {b.replication}: give them in the same order")
    return base, new, all(b.seed == n.seed for b, n in zip(base, new, strict=True))


def _paired_values(base: list[_Flow], new: list[_Flow], period: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The common edges and each run's curves, values[rep, metric, period], NaN where either is."""
    edges = _edges(period, max(min(b.end, n.end) for b, n in zip(base, new, strict=True)))
    b = np.stack([_curves(f, edges).values for f in base])
    n = np.stack([_curves(f, edges).values for f in new])
    missing = np.isnan(b) | np.isnan(n)
    b[missing] = np.nan
    n[missing] = np.nan
    return edges, b, n


def paired_curves(baseline: Sequence[Records], transition: Sequence[Records], period: float) -> pd.DataFrame:
    """Per metric and period: the mean of the baseline and of the transition over the replications
    where both have a value (`n` of them), and the mean paired difference (transition − baseline)
    with its 95 % t-interval. Over the same pairs, transition = baseline + diff exactly."""
    base, new, _ = _pairs(baseline, transition)
    edges, b, n = _paired_values(base, new, _positive("period", period))
    return _curve_frame(edges, b, n)


def _curve_frame(edges: np.ndarray, b: np.ndarray, n: np.ndarray) -> pd.DataFrame:
    k = len(edges) - 1
    frames = []
    with np.errstate(invalid="ignore"):
        for m, metric in enumerate(CURVE_METRICS):
            d = n[:, m, :] - b[:, m, :]
            count = np.isfinite(d).sum(axis=0)
            ci = np.array(ci95_rows(d.T.tolist()), dtype=float) if k else np.zeros((0, 2))
            frames.append(pd.DataFrame({
                "metric": metric, "period": np.arange(k), "start": edges[:-1], "end": edges[1:],
                "baseline": _nanmean(b[:, m, :]), "transition": _nanmean(n[:, m, :]), "diff": _nanmean(d),
                "diff_lo": ci[:, 0], "diff_hi": ci[:, 1], "n": count}))
    return pd.concat(frames, ignore_index=True)


def _nanmean(x: np.ndarray) -> np.ndarray:
    count = np.isfinite(x).sum(axis=0)
    total = np.where(np.isfinite(x), x, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


# --------------------------------------------------------------------------- the dip
@dataclass(frozen=True)
class Dip:
    """The worst period after T of a paired curve (p85 lead time: the largest increase; throughput:
    the largest fall). `estimate` is measured on replications that did not choose the period;
    `naive` is the chosen-and-measured-on-all value, biased away from 0."""

    metric: str
    period: int | None          # index of the period in the curves
    start: float
    end: float
    after: int | None           # the n-th period since T (1: the period T falls in)
    estimate: Estimate
    naive: Estimate
    split: bool                 # chosen on other replications than those that measure it
    method: str

    def to_dict(self) -> dict:
        return {"metric": self.metric, "period": self.period, "start": json_value(self.start),
                "end": json_value(self.end), "period_after_change": self.after, **self.estimate.to_dict(),
                "naive": self.naive.to_dict(), "split": self.split, "method": self.method}


WORSE = {"lead_time_p50": 1.0, "lead_time_p85": 1.0, "throughput": -1.0, "wip": 1.0}
"""The sign of a worse period: higher lead times and WIP, lower throughput."""


def _dip(edges: np.ndarray, b: np.ndarray, n: np.ndarray, at: float, metric: str) -> Dip:
    m = CURVE_METRICS.index(metric)
    d = (n[:, m, :] - b[:, m, :]) * WORSE[metric]          # larger: worse
    after = np.flatnonzero(edges[1:] > at)
    none = Estimate(math.nan, math.nan, math.nan, 0)
    reps = d.shape[0]
    half = reps // 2
    split = half >= 2 and reps - half >= 2
    method = (f"chosen on replications 1-{half} (the worst mean), measured on the other {reps - half}"
              if split else f"chosen and measured on all {reps} replications (fewer than 4 to split)")

    def worst(rows: np.ndarray) -> int | None:
        means = _nanmean(rows[:, after]) if len(after) else np.zeros(0)
        ok = np.isfinite(means)
        return int(after[np.flatnonzero(ok)[np.argmax(means[ok])]]) if ok.any() else None

    def measured(rows: np.ndarray, k: int | None) -> Estimate:
        if k is None:
            return none
        return Estimate.of(rows[:, k] * WORSE[metric])

    k_all = worst(d)
    naive = measured(d, k_all)
    k = worst(d[:half]) if split else k_all
    estimate = measured(d[half:], k) if split else naive
    if k is None:
        return Dip(metric, None, math.nan, math.nan, None, none, none, split, method)
    first = int(np.searchsorted(edges[1:], at, side="right"))    # the period T falls in
    return Dip(metric, k, float(edges[k]), float(edges[k + 1]), k - first + 1, estimate, naive, split, method)


def dip(baseline: Sequence[Records], transition: Sequence[Records], at: float, period: float,
        metric: str = "lead_time_p85") -> Dip:
    """The depth of the dip of `metric` after `at` (see `Dip`; docs/metrics.md, "Transitions")."""
    if metric not in CURVE_METRICS:
        raise SpecError("metric", "one of " + ", ".join(CURVE_METRICS), metric)
    base, new, _ = _pairs(baseline, transition)
    edges, b, n = _paired_values(base, new, _positive("period", period))
    return _dip(edges, b, n, float(at), metric)


# --------------------------------------------------------------------------- break-even
@dataclass(frozen=True)
class BreakEven:
    """Per replication the time after T from which the measure stays positive up to the horizon
    (None: not within the horizon); the mean and its interval only when every replication broke
    even; the median over all (one that did not counts as later than any), None unless more than
    half did."""

    measure: str                          # lead_time_saved (open) or deliveries (saturated, backlog)
    times: tuple[float | None, ...]
    mean: Estimate | None
    median: float | None

    @property
    def reached(self) -> int:
        return sum(t is not None for t in self.times)

    @property
    def n(self) -> int:
        return len(self.times)

    def to_dict(self) -> dict:
        return {"measure": self.measure, "mean": json_value(self.mean.mean) if self.mean else None,
                "ci95": [json_value(self.mean.lo), json_value(self.mean.hi)] if self.mean else [None, None],
                "median": json_value(self.median), "reached": self.reached, "replications": self.n,
                "per_replication": [json_value(t) for t in self.times]}


def _break_even_saved(b: _Flow, n: _Flow, at: float, horizon: float) -> float | None:
    """When S(t) = ∫_at^t (N_b − N_n) turns positive for good before `horizon` (time after `at`). S is
    linear between the events of both runs, so it is evaluated exactly at them and interpolated."""
    if horizon <= at:
        return None
    events = np.concatenate([b.arrival, b.done, n.arrival, n.done])
    t = np.unique(np.concatenate([[at, horizon], events[(events > at) & (events < horizon)]]))
    s = (b.area(t) - n.area(t)) - (b.area(at) - n.area(at))
    tol = 1e-12 * (abs(float(b.area(horizon))) + abs(float(n.area(horizon))) + 1.0)
    if s[-1] <= tol:
        return None
    k = int(np.flatnonzero(s <= tol)[-1])                      # s[0] = 0: there is one
    slope = (s[k + 1] - s[k]) / (t[k + 1] - t[k])
    cross = t[k] + min(max(-s[k] / slope, 0.0), t[k + 1] - t[k]) if slope > 0 else t[k + 1]
    return float(cross - at)


def _break_even_deliveries(b: _Flow, n: _Flow, at: float, horizon: float) -> float | None:
    """When deliveries since `at` of the transition overtake the baseline's for good before `horizon`."""
    if horizon <= at:
        return None
    events = np.concatenate([b.done, n.done])
    t = np.unique(np.concatenate([[at], events[(events > at) & (events <= horizon)]]))
    d = (n.delivered(t) - n.delivered(at)) - (b.delivered(t) - b.delivered(at))
    if d[-1] <= 0:
        return None
    k = int(np.flatnonzero(d <= 0)[-1])
    return float(t[k + 1] - at)


def _measure(kind: str) -> str:
    if kind not in KINDS:
        raise SpecError("kind", "one of " + ", ".join(KINDS), kind)
    return "lead_time_saved" if kind == "open" else "deliveries"


def _break_even(base: list[_Flow], new: list[_Flow], at: float, kind: str) -> BreakEven:
    measure = _measure(kind)
    find = _break_even_saved if measure == "lead_time_saved" else _break_even_deliveries
    times = tuple(find(b, n, at, min(b.end, n.end)) for b, n in zip(base, new, strict=True))
    reached = [t for t in times if t is not None]
    mean = Estimate.of(reached) if len(reached) == len(times) else None
    ordered = np.array(sorted(reached) + [math.inf] * (len(times) - len(reached)))
    median = float(np.median(ordered)) if len(reached) * 2 > len(times) else None
    return BreakEven(measure, times, mean, median if median is None or math.isfinite(median) else None)


def break_even(baseline: Sequence[Records], transition: Sequence[Records], at: float,
               kind: str = "open") -> BreakEven:
    """The break-even time after `at` per replication, on lead time saved (open streams) or on
    deliveries (saturated and backlog streams); see `BreakEven`."""
    base, new, _ = _pairs(baseline, transition)
    return _break_even(base, new, float(at), kind)


def cumulative_paths(baseline: Sequence[Records], transition: Sequence[Records], at: float,
                     times) -> tuple[np.ndarray, np.ndarray]:
    """S(t) (lead time saved, item-time) and D(t) (deliveries since `at`, transition − baseline) of
    each replication at `times` (rows: replications; NaN after a pair's horizon)."""
    base, new, _ = _pairs(baseline, transition)
    return _cumulative(base, new, float(at), np.asarray(times, dtype=float))


def _cumulative(base: list[_Flow], new: list[_Flow], at: float, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    saved = np.empty((len(base), len(t)))
    delivered = np.empty((len(base), len(t)))
    for r, (b, n) in enumerate(zip(base, new, strict=True)):
        saved[r] = (b.area(t) - n.area(t)) - (b.area(at) - n.area(at))
        delivered[r] = (n.delivered(t) - n.delivered(at)) - (b.delivered(t) - b.delivered(at))
        late = t > min(b.end, n.end)
        saved[r, late] = delivered[r, late] = np.nan
    return saved, delivered


# --------------------------------------------------------------------------- the gain
@dataclass(frozen=True)
class Gain:
    """The paired differences (transition − baseline) over the window [start, end) that ends a year
    after T (or at the horizon): mean and p85 lead time of the items done in it, throughput; and S
    and D at its end."""

    start: float
    end: float
    lead_time: Estimate
    lead_time_p85: Estimate
    throughput: Estimate
    saved: Estimate
    delivered: Estimate

    def to_dict(self) -> dict:
        return {"window": [json_value(self.start), json_value(self.end)],
                **{k: getattr(self, k).to_dict() for k in ("lead_time", "lead_time_p85", "throughput", "saved",
                                                            "delivered")}}


def _window_values(f: _Flow, lo: float, hi: float) -> tuple[float, float, float]:
    i, j = np.searchsorted(f.done, [lo, hi], side="left")
    lead = f.done[i:j] - f.arrival[i:j]
    if not len(lead):
        return math.nan, math.nan, 0.0
    return float(lead.mean()), float(np.percentile(lead, 85)), (j - i) / (hi - lo)


def _gain(base: list[_Flow], new: list[_Flow], at: float, year: float) -> Gain | None:
    horizon = min(min(b.end, n.end) for b, n in zip(base, new, strict=True))
    end = min(at + year, horizon)
    if end <= at:
        return None
    start = max(end - year / 4, at)
    b = np.array([_window_values(f, start, end) for f in base])
    n = np.array([_window_values(f, start, end) for f in new])
    saved, delivered = _cumulative(base, new, at, np.array([end]))
    return Gain(start, end, *(Estimate.of(n[:, m] - b[:, m]) for m in range(3)), Estimate.of(saved[:, 0]),
                Estimate.of(delivered[:, 0]))


def gain(baseline: Sequence[Records], transition: Sequence[Records], at: float, year: float) -> Gain | None:
    """The gain `year` after `at` (None when the runs end before `at`); see `Gain`."""
    base, new, _ = _pairs(baseline, transition)
    return _gain(base, new, float(at), _positive("year", year))


# --------------------------------------------------------------------------- all of it
@dataclass(frozen=True)
class TransitionEffect:
    """What the reorganisation at `at` did, for the report and summary.json (`to_dict`)."""

    at: float
    period: float
    year: float
    time_unit: str
    kind: str
    replications: int
    horizon: float                        # the shortest pair's horizon
    common_random_numbers: bool           # every pair shares its seed
    curves: pd.DataFrame = field(repr=False)       # `paired_curves`
    cumulative: pd.DataFrame = field(repr=False)   # time, saved and delivered: mean, lo, hi, n
    dip_lead_time: Dip
    dip_throughput: Dip
    break_even: BreakEven
    gain: Gain | None

    def to_dict(self) -> dict:
        """JSON-able, NaN as None (as summary.json writes it)."""
        return {"at": self.at, "period": self.period, "year": self.year, "time_unit": self.time_unit,
                "kind": self.kind, "replications": self.replications, "horizon": json_value(self.horizon),
                "common_random_numbers": self.common_random_numbers,
                "dip": {"lead_time_p85": self.dip_lead_time.to_dict(), "throughput": self.dip_throughput.to_dict()},
                "break_even": self.break_even.to_dict(),
                "gain": self.gain.to_dict() if self.gain else None,
                "curves": _records(self.curves), "cumulative": _records(self.cumulative)}


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: json_value(v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def transition_effect(baseline: Sequence[Records], transition: Sequence[Records], *, at: float,
                      time_unit: str = "day", kind: str = "open", period: float | None = None,
                      planning_interval: float | None = None, year: float | None = None) -> TransitionEffect:
    """The curves, the dip, the break-even and the gain of a transition at `at` against its baseline.

    `period`: the length of a period of the curves (default `default_period`); `year`: how long
    after `at` the gain is read (default a year: 365 days, 52 weeks; another unit: the horizon).
    """
    at = float(at)
    if not (math.isfinite(at) and at >= 0):
        raise SpecError("transition.at", "a time >= 0", at)
    _measure(kind)
    period = _positive("period", period) if period is not None else default_period(time_unit, planning_interval)
    base, new, crn = _pairs(baseline, transition)
    horizon = min(min(b.end, n.end) for b, n in zip(base, new, strict=True))
    year = _positive("year", year) if year is not None else (year_length(time_unit) or max(horizon - at, period))
    edges, b, n = _paired_values(base, new, period)
    times = np.unique(np.concatenate([[at], edges[(edges > at) & (edges <= horizon)], [max(horizon, at)]]))
    saved, delivered = _cumulative(base, new, at, times)
    s_ci = np.array(ci95_rows(saved.T.tolist()), dtype=float).reshape(-1, 2)
    d_ci = np.array(ci95_rows(delivered.T.tolist()), dtype=float).reshape(-1, 2)
    cumulative = pd.DataFrame({"time": times, "saved": _nanmean(saved), "saved_lo": s_ci[:, 0],
                               "saved_hi": s_ci[:, 1], "delivered": _nanmean(delivered),
                               "delivered_lo": d_ci[:, 0], "delivered_hi": d_ci[:, 1],
                               "n": np.isfinite(saved).sum(axis=0)})
    return TransitionEffect(at=at, period=period, year=year, time_unit=str(time_unit), kind=kind,
                            replications=len(base), horizon=horizon, common_random_numbers=crn,
                            curves=_curve_frame(edges, b, n), cumulative=cumulative,
                            dip_lead_time=_dip(edges, b, n, at, "lead_time_p85"),
                            dip_throughput=_dip(edges, b, n, at, "throughput"),
                            break_even=_break_even(base, new, at, kind), gain=_gain(base, new, at, year))


def effect_of(baseline, transition, *, at: float, period: float | None = None,
              year: float | None = None) -> TransitionEffect:
    """`transition_effect` of two `SimResult`s: their records, the stream's time unit and kind. Periods:
    `period`, else a week (days, weeks), else the planning interval the baseline ran with (by default a
    tenth of its window). A streaming run keeps no item rows: it cannot be read here."""
    for what, r in (("baseline", baseline), ("transition", transition)):
        if r.streaming:
            raise SpecError("sim.stats", message=f"the {what} ran with streaming statistics, which keep no item "
                                                 "rows: a transition needs sim.stats=full")
    unit = baseline.summary["time_unit"]
    if period is None and unit_name(unit) not in WEEK:
        period = baseline.summary["sim"]["planning_interval"]
    return transition_effect(baseline.records, transition.records, at=at, time_unit=unit,
                             kind=stream_kind(baseline.spec), period=period, year=year)


# --------------------------------------------------------------------------- sensitivity
SENSITIVITY_COLUMNS = ("productivity", "ramp", "break_even", "break_even_lo", "break_even_hi", "break_even_median",
                       "reached", "replications", "dip_lead_time_p85", "dip_lo", "dip_hi", "gain_lead_time",
                       "gain_lead_time_lo", "gain_lead_time_hi", "gain_lead_time_p85", "gain_lead_time_p85_lo",
                       "gain_lead_time_p85_hi", "saved", "saved_lo", "saved_hi")


def sensitivity(baseline: Sequence[Records], run: Callable[[float, float], Sequence[Records]],
                productivity: Sequence[float], ramp: Sequence[float], *, at: float, **options) -> pd.DataFrame:
    """Break-even, dip and gain for each (p0, R) of the grid: `run(p0, R)` gives the transition's
    records at that point (the run layer simulates it; the baseline is given once). One row per
    point (SENSITIVITY_COLUMNS), p0 slowest; `options` go to `transition_effect`."""
    rows = []
    for p0 in productivity:
        for r in ramp:
            e = transition_effect(baseline, list(run(p0, r)), at=at, **options)
            be, g, d = e.break_even, e.gain, e.dip_lead_time.estimate
            nan3 = (math.nan, math.nan, math.nan)
            rows.append((float(p0), float(r), *((be.mean.mean, be.mean.lo, be.mean.hi) if be.mean else nan3),
                         _nan(be.median), be.reached, be.n, d.mean, d.lo, d.hi,
                         *((g.lead_time.mean, g.lead_time.lo, g.lead_time.hi) if g else nan3),
                         *((g.lead_time_p85.mean, g.lead_time_p85.lo, g.lead_time_p85.hi) if g else nan3),
                         *((g.saved.mean, g.saved.lo, g.saved.hi) if g else nan3)))
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))
