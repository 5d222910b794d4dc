"""Scenarios compared with common random numbers (docs/analysis.md).

Scenarios simulated with the same `sim.seed` draw the same random numbers replication by
replication (`SeedSequence(seed, spawn_key=(r, source))`), so replication r of a scenario and
replication r of the baseline are a *pair*: they see the same arrivals, the same work draws,
the same rework decisions wherever the change leaves them alone. The difference of a pair
then carries only the effect of the change plus the noise the change itself stirs up, and the
paired (Student-t on differences) interval is much narrower than the Welch interval two
independent sets of runs would give. `variance_reduction` reports what that bought.

Data only: `compare` returns a tidy table (one row per scenario and metric) and each scenario's
`stable` (an unstable one is marked in the table and in comparison.json); figures are drawn
elsewhere from it. Formulas and decisions: docs/analysis.md.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from vssim.analysis.vsm import num as _num
from vssim.errors import SpecError
from vssim.formatting import MISSING, change, finite, fixed, plural

METRICS = ("lead_time", "lead_time_p85", "flow_time", "throughput", "wip", "flow_efficiency")
"""Per-replication keys of summary["replications"] that are compared."""

LEVEL = 0.95
"""Confidence level of every interval in the table."""

LOWER_IS_BETTER = {"lead_time": True, "lead_time_p85": True, "flow_time": True, "throughput": False,
                   "wip": True, "flow_efficiency": False}
"""Direction of improvement of each metric (for the `better` column and the report)."""

COLUMNS = ("scenario", "metric", "mean", "ci_lo", "ci_hi", "baseline_mean", "diff", "diff_lo", "diff_hi",
           "pct_change", "significant", "better", "indep_lo", "indep_hi", "variance_reduction", "replications")


def _summary(result) -> dict:
    """The summary dict of a SimResult, or the dict itself."""
    summary = getattr(result, "summary", result)
    if not isinstance(summary, Mapping):
        raise TypeError(f"expected a SimResult or a summary dict, got {type(result).__name__}")
    return summary


def replication_values(result) -> pd.DataFrame:
    """One row per replication: `replication` and the per-replication value of each of METRICS.

    `result` is a SimResult or a summary dict (summary.json). Undefined values are NaN.
    """
    summary = _summary(result)
    reps = summary.get("replications")
    if not isinstance(reps, list | tuple):
        raise SpecError("replications", message="missing from the summary: not a result of vssim.simulate")
    rows = [{"replication": int(r.get("replication", k)), **{m: _num(r.get(m)) for m in METRICS}}
            for k, r in enumerate(reps)]
    frame = pd.DataFrame(rows, columns=["replication", *METRICS])
    return frame.sort_values("replication", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- statistics
def t_half_width(values: np.ndarray, level: float = LEVEL) -> float:
    """Half-width of the Student-t interval of the mean of `values` (NaN with fewer than 2)."""
    n = len(values)
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * np.std(values, ddof=1) / math.sqrt(n))


def welch_half_width(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> float:
    """Half-width of Welch's interval for mean(a) − mean(b) of two independent samples.

    Standard error sqrt(s_a²/n_a + s_b²/n_b), Welch–Satterthwaite degrees of freedom; the same
    interval as `scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval()`. Zero when
    both samples are constant.
    """
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return math.nan
    va, vb = np.var(a, ddof=1) / na, np.var(b, ddof=1) / nb
    se2 = va + vb
    if se2 == 0:
        return 0.0
    df = se2 ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    return float(stats.t.ppf(0.5 + level / 2, df) * math.sqrt(se2))


def _ci(values: np.ndarray) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if len(v) < 2:
        return math.nan, math.nan
    m, h = float(v.mean()), t_half_width(v)
    return m - h, m + h


# --------------------------------------------------------------------------- the comparison
@dataclass
class Comparison:
    """Each scenario against the baseline, per metric: a tidy table (see COLUMNS)."""

    baseline: str
    table: pd.DataFrame
    time_unit: str = "day"
    stable: Mapping[str, bool | None] = field(default_factory=dict)
    """Each scenario's `stable` (summary.json, docs/metrics.md "Stability"); False marks it unstable."""

    def unstable(self, scenario: str) -> bool:
        """True when the scenario's system is unstable: its figures grow with the horizon."""
        return self.stable.get(scenario) is False

    def _reductions(self) -> np.ndarray:
        v = self.table.loc[self.table["scenario"] != self.baseline, "variance_reduction"].to_numpy(float)
        return v[~np.isnan(v)]

    @property
    def median_variance_reduction(self) -> float:
        """Median over the scenario rows (baseline excluded) of the defined variance reductions.

        Infinite reductions (paired differences without spread) count, as very large values.
        """
        v = self._reductions()
        return float(np.median(v)) if len(v) else math.nan

    def to_dict(self) -> dict:
        """JSON-able: NaN and infinities become None, numpy scalars plain Python values."""
        rows = []
        for rec in self.table.to_dict(orient="records"):
            rows.append({k: _plain(v) for k, v in rec.items()})
        return {"baseline": self.baseline, "time_unit": self.time_unit, "level": LEVEL,
                "metrics": list(METRICS), "median_variance_reduction": _plain(self.median_variance_reduction),
                "stable": dict(self.stable), "rows": rows}

    def markdown(self, time_unit: str | None = None) -> str:
        """A readable table per metric: value ± CI, Δ vs baseline with CI, % change, significance;
        an unstable scenario is marked so."""
        unit = time_unit or self.time_unit
        t = self.table
        n = int(t["replications"].max()) if len(t) else 0
        lines = [f"Each scenario against **{self.baseline}**: 95 % confidence intervals over {n} replications; "
                 "Δ is the paired difference (scenario − baseline, common random numbers). Each interval stands "
                 "alone (no correction for multiple comparisons): among many rows, a few may be significant "
                 "by chance.", ""]
        if any(self.unstable(name) for name in self.stable):
            lines += ["**(unstable)**: the items in that system grow without bound, so its figures, and its "
                      "differences to the others, grow with the horizon (docs/metrics.md, \"Stability\").", ""]
        vr, k = self.median_variance_reduction, len(self._reductions())
        if math.isnan(vr):
            lines += ["Common random numbers: no variance reduction to report (no scenario besides the baseline).",
                      ""]
        elif math.isinf(vr):
            lines += [f"Common random numbers: median variance reduction unbounded over {k} scenario × metric "
                      "pairs — the paired differences do not vary at all.", ""]
        else:
            lines += [f"Common random numbers: median variance reduction **{vr:.1f}×** over {k} scenario × metric "
                      f"pairs — the paired intervals are {math.sqrt(vr):.1f}× narrower than the same runs with "
                      "independent seeds would give.", ""]
        for metric in METRICS:
            rows = t[t["metric"] == metric]
            if rows.empty:
                continue
            pct = metric == "flow_efficiency"
            lines += [f"### {_label(metric, unit)}", "",
                      "| scenario | value (95 % CI) | Δ vs baseline (95 % CI) | % change | significant |",
                      "|---|---|---|---|---|"]
            for r in rows.itertuples(index=False):
                value = _pm(r.mean, r.ci_lo, r.ci_hi, pct)
                name = r.scenario + (" **(unstable)**" if self.unstable(r.scenario) else "")
                if r.scenario == self.baseline:
                    tag = "" if r.scenario == "baseline" else " (baseline)"
                    lines.append(f"| {name}{tag} | {value} | — | — | |")
                    continue
                diff = f"{fixed(r.diff, in_percent=pct, signed=True)}{' pp' if pct else ''} " \
                       f"({fixed(r.diff_lo, in_percent=pct, signed=True)} to " \
                       f"{fixed(r.diff_hi, in_percent=pct, signed=True)})"
                mark = ("yes, " + ("better" if r.better else "worse")) if r.significant else "no"
                lines.append(f"| {name} | {value} | {diff} | {change(r.pct_change)} | {mark} |")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def compare(results: Mapping[str, object], baseline: str = "baseline") -> Comparison:
    """Compare scenarios run with common random numbers against `baseline`.

    `results` maps scenario name → SimResult or summary dict. Pairs are formed by replication
    index; all scenarios must share `sim.seed` and the number of replications (at least 2).
    """
    if not isinstance(results, Mapping) or not results:
        raise SpecError("scenarios", message="need a non-empty mapping of scenario name to result")
    if baseline not in results:
        raise SpecError("baseline", message=f"{baseline!r} is not one of the scenarios compared: "
                                            + ", ".join(map(str, results)))
    summaries = {name: _summary(r) for name, r in results.items()}
    values = {name: replication_values(s) for name, s in summaries.items()}
    counts = {name: len(v) for name, v in values.items()}
    if len(set(counts.values())) > 1:
        raise SpecError("sim.replications", message="every scenario needs the same number of replications to "
                                                    "pair them, got " + _listing(counts))
    if counts[baseline] < 2:
        raise SpecError("sim.replications", message=f"at least 2 replications are needed for paired confidence "
                                                    f"intervals, got {counts[baseline]}")
    seeds = {name: (s.get("sim") or {}).get("seed") for name, s in summaries.items()}
    if len(set(map(repr, seeds.values()))) > 1:
        raise SpecError("sim.seed", message="scenarios must share the seed to pair replications (common random "
                                            "numbers), got " + _listing(seeds))
    index = values[baseline]["replication"].tolist()
    for name, v in values.items():
        if v["replication"].tolist() != index:
            raise SpecError("replications", message=f"scenario {name!r} has replications "
                                                    f"{v['replication'].tolist()}, baseline {index}: cannot pair them")
    order = [baseline] + [n for n in results if n != baseline]
    rows = []
    base = values[baseline]
    for name in order:
        cur = values[name]
        for metric in METRICS:
            rows.append(_row(name, metric, cur[metric].to_numpy(float), base[metric].to_numpy(float),
                             name == baseline))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    time_unit = summaries[baseline].get("time_unit") or "day"
    return Comparison(baseline=baseline, table=table, time_unit=str(time_unit),
                      stable={name: summaries[name].get("stable") for name in order})


def _row(name: str, metric: str, x: np.ndarray, b: np.ndarray, is_baseline: bool) -> dict:
    finite_x = x[np.isfinite(x)]
    mean = float(finite_x.mean()) if len(finite_x) else math.nan
    lo, hi = _ci(x)
    finite_b = b[np.isfinite(b)]
    base_mean = float(finite_b.mean()) if len(finite_b) else math.nan
    both = np.isfinite(x) & np.isfinite(b)
    n = int(both.sum())
    row = {"scenario": name, "metric": metric, "mean": mean, "ci_lo": lo, "ci_hi": hi, "baseline_mean": base_mean,
           "replications": n}
    if is_baseline:
        # Decision: the baseline against itself is an exact 0 with a zero-width interval; the
        # variance reduction 0/0 is undefined (NaN) and left out of the median.
        row.update(diff=0.0, diff_lo=0.0, diff_hi=0.0, pct_change=0.0, significant=False, better=None,
                   indep_lo=0.0, indep_hi=0.0, variance_reduction=math.nan)
        return row
    d = x[both] - b[both]
    diff = float(d.mean()) if n else math.nan
    half = t_half_width(d)
    indep = welch_half_width(x[both], b[both])
    significant = bool(n >= 2 and (diff - half > 0 or diff + half < 0))
    if math.isnan(half) or math.isnan(indep):
        vr = math.nan
    elif half == 0:
        vr = math.inf if indep > 0 else math.nan
    else:
        vr = (indep / half) ** 2
    better = None
    if significant:
        better = bool(diff < 0) if LOWER_IS_BETTER[metric] else bool(diff > 0)
    row.update(diff=diff, diff_lo=diff - half, diff_hi=diff + half,
               pct_change=100.0 * diff / base_mean if base_mean and math.isfinite(base_mean) else math.nan,
               significant=significant, better=better, indep_lo=diff - indep, indep_hi=diff + indep,
               variance_reduction=vr)
    return row


# --------------------------------------------------------------------------- formatting
def _listing(d: Mapping) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items())


def _plain(v):
    if isinstance(v, np.bool_ | bool):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(v) else None
    if v is pd.NA:
        return None
    return v


def _label(metric: str, unit: str) -> str:
    return {
        "lead_time": f"Lead time, mean ({plural(unit)}, arrival to done)",
        "lead_time_p85": f"Lead time, 85th percentile ({plural(unit)}, mean over replications)",
        "flow_time": f"Flow time, mean ({plural(unit)}, commit to done)",
        "throughput": f"Throughput (items per {unit})",
        "wip": "WIP (items committed, not done; time average)",
        "flow_efficiency": "Flow efficiency (%; Δ in percentage points)",
    }[metric]


def _pm(mean, lo, hi, pct: bool) -> str:
    """"12.3 ± 0.450": the mean ± the half-width of its interval (" %" for a fraction in percent)."""
    if not finite(mean):
        return MISSING
    s = fixed(mean, in_percent=pct)
    if finite(lo) and finite(hi):
        s += f" ± {fixed((hi - lo) / 2, in_percent=pct)}"
    return s + (" %" if pct else "")
