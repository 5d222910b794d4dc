"""Discovery: from an `EventLog` to a stream mapping a person can read (docs/calibration.md, "Discovery").

Every number written comes with a sentence saying where it came from (`Discovery.provenance`, keyed by the
field path), and `Discovery.to_yaml()` writes those sentences as comments above the fields, so that the
file can be read, checked and edited. Decisions (what the model cannot say, what is assumed) go to
`Discovery.warnings`.
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats
from scipy.optimize import brentq, minimize_scalar
from scipy.special import gammaln

from vssim.data.log import EventLog
from vssim.errors import SpecError
from vssim.model.spec import StreamSpec

__all__ = ["Discovery", "calendar_of", "discover", "fit_duration"]

_UNIT_SECONDS = {"hour": 3600.0, "day": 86400.0}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLASSES = ("expedite", "fixed_date", "standard", "intangible")
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
_EMPIRICAL_POINTS = 200
_CALENDAR_MIN = 50      # starts a pool needs for a calendar of its own


# --------------------------------------------------------------------------- result
@dataclass
class Discovery:
    """What `discover` found: `stream` (a mapping `StreamSpec.from_dict` accepts when the switches for
    features not yet in the model are off), `provenance` (field path -> sentence), `rare_variants`
    (traces below the share threshold: {trace, cases, share}), `warnings` (decisions to check)."""

    stream: dict
    provenance: dict[str, str] = field(default_factory=dict)
    rare_variants: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_yaml(self) -> str:
        """The stream as YAML with each provenance sentence as a comment above its field;
        `yaml.safe_load(text) == stream`."""
        lines = ["# Discovered by vssim.data.discover (docs/calibration.md, \"Discovery\")."]
        for w in self.warnings:
            lines.append(_comment(f"warning: {w}", 0))
        if self.rare_variants:
            lines.append(_comment(f"{len(self.rare_variants)} rare variants (below the share threshold) are not "
                                  "modelled separately; see Discovery.rare_variants", 0))
        _emit(self.stream, "", 0, self.provenance, lines)
        return "\n".join(lines) + "\n"


def _comment(text: str, indent: int) -> str:
    return " " * indent + "# " + re.sub(r"\s+", " ", text).strip()


def _flow(value: Any) -> str:
    """`value` as one line of flow YAML that loads back equal: readable Unicode where PyYAML gets it right,
    else escaped (it writes a no-break space unquoted, which does not load back, and a line separator
    inside a quoted scalar, which breaks the line)."""
    import yaml
    for unicode in (True, False):
        text = yaml.safe_dump(value, default_flow_style=True, width=10 ** 9, allow_unicode=unicode, sort_keys=False)
        text = text.strip()
        if text.endswith("\n..."):
            text = text[:-4].strip()
        elif text.endswith("..."):
            text = text[:-3].strip()
        if len(text.splitlines()) == 1 and not re.search("[\x85\u2028\u2029]", text) \
                and yaml.safe_load(f"k: {text}") == {"k": value}:
            return text
    raise ValueError(f"cannot write {value!r} as one line of YAML")


def _is_leaf(path: str, value: Any) -> bool:
    if not isinstance(value, Mapping):
        return True
    if "dist" in value or path.endswith((".rework", ".calendar", "epoch")):
        return True
    if path.startswith("item_types.") or path.startswith("pools.") or path == "release" or path.endswith(".profile"):
        return True
    return False


def _emit(d: Mapping, prefix: str, indent: int, prov: Mapping[str, str], lines: list[str]) -> None:
    for key, value in d.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in prov:
            lines.append(_comment(prov[path], indent))
        if _is_leaf(path, value) or not value:
            lines.append(" " * indent + f"{_flow(key)}: {_flow(value)}")
        else:
            lines.append(" " * indent + f"{_flow(key)}:")
            _emit(value, path, indent + 2, prov, lines)


# --------------------------------------------------------------------------- fitting
def _sig(x: float, digits: int = 4) -> float:
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


def _weibull_cv(k: float) -> float:
    return math.sqrt(math.exp(gammaln(1 + 2 / k) - 2 * gammaln(1 + 1 / k)) - 1)


def fit_duration(x: np.ndarray, what: str) -> tuple[dict, str]:
    """Fit positive durations `x` with exponential, gamma, lognormal and weibull (location 0, maximum
    likelihood), choose by AIC; when a KS test rejects every fit at 1 %, an empirical distribution of
    (at most 200) quantiles. Returns the vssim distribution mapping and the sentence saying so."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    n = len(x)
    if n == 0:
        raise ValueError("no positive durations")
    if n < 3 or np.ptp(x) <= 1e-9 * float(np.max(x)):
        v = _sig(float(np.mean(x)))
        return {"dist": "deterministic", "value": v}, f"{n:,} {what}: too few or all equal, the mean as a constant"
    fits = {}
    scale = float(np.mean(x))
    lx = np.log(x)
    mu, s = float(lx.mean()), float(lx.std())

    def _gamma():
        a, _, sc = scipy.stats.gamma.fit(x, floc=0)
        return 2, scipy.stats.gamma(a, scale=sc), {"dist": "gamma", "mean": a * sc, "cv": 1 / math.sqrt(a)}

    def _weibull():
        k, _, lam = scipy.stats.weibull_min.fit(x, floc=0)
        cv = _weibull_cv(k)
        if not 0.01 <= cv <= 50:     # outside what vssim's weibull takes
            raise ValueError(cv)
        return 2, scipy.stats.weibull_min(k, scale=lam), {"dist": "weibull", "mean": lam * math.exp(gammaln(1 + 1 / k)),
                                                          "cv": cv}

    candidates = {
        "exponential": lambda: (1, scipy.stats.expon(scale=scale), {"dist": "exponential", "mean": scale}),
        "gamma": _gamma,
        "lognormal": lambda: (2, scipy.stats.lognorm(s, scale=math.exp(mu)),
                              {"dist": "lognormal", "mean": math.exp(mu + s * s / 2),
                               "cv": math.sqrt(math.expm1(s * s))}),
        "weibull": _weibull,
    }
    with np.errstate(all="ignore"):
        for fam, make in candidates.items():
            try:
                k, frozen, params = make()
            except (ValueError, RuntimeError, FloatingPointError, OverflowError, ZeroDivisionError):
                continue          # the family cannot be fitted to these data (e.g. gamma on near-constant values)
            ll = float(np.sum(frozen.logpdf(x)))
            if math.isfinite(ll) and all(math.isfinite(v) and v > 0 for v in params.values() if isinstance(v, float)):
                fits[fam] = (k, ll, params, frozen)
    aic = {name: 2 * kk - 2 * ll for name, (kk, ll, _, _) in fits.items() if math.isfinite(ll)}
    ranked = sorted(aic, key=aic.get)
    if not ranked:
        return ({"dist": "deterministic", "value": _sig(scale)},
                f"{n:,} {what}: no family could be fitted, the mean as a constant")
    best = ranked[0]
    pvals = {name: float(scipy.stats.kstest(x, fits[name][3].cdf).pvalue) for name in ranked}
    gap = f" (ΔAIC {aic[ranked[1]] - aic[best]:.1f} to {ranked[1]})" if len(ranked) > 1 else ""
    if max(pvals.values()) < 0.01:
        m = min(n, _EMPIRICAL_POINTS)
        q = np.quantile(x, (np.arange(m) + 0.5) / m)
        factor = float(np.mean(x) / np.mean(q))     # the grid misses the far tail's share of the mean
        out = {"dist": "empirical", "values": [_sig(float(v) * factor) for v in q]}
        return out, (f"fitted to {n:,} {what}: a KS test rejects every parametric fit at 1 % (best by AIC {best}, "
                     f"p = {pvals[best]:.2g}), so an empirical distribution of {m} quantiles, scaled by "
                     f"{factor:.4g} to the data's mean {np.mean(x):.4g}")
    params = {key: (_sig(v) if isinstance(v, float) else v) for key, v in fits[best][2].items()}
    return params, f"fitted to {n:,} {what}: {best} by AIC{gap}, KS p = {pvals[best]:.2g}"


# --------------------------------------------------------------------------- helpers
def _pool_name(text: str, taken: set[str]) -> str:
    base = _NAME_BAD.sub("_", str(text)).strip("._-")[:60] or "pool"
    if not re.match(r"[A-Za-z0-9_]", base):
        base = "p" + base
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _max_concurrent(starts: pd.Series, ends: pd.Series) -> int:
    """The most intervals [start, end) open at once (an end before a start at the same instant)."""
    both = starts.notna().to_numpy() & ends.notna().to_numpy()
    s = starts[both].astype("int64").to_numpy()
    e = ends[both].astype("int64").to_numpy()
    if len(s) == 0:
        return 0
    times = np.concatenate([s, e])
    delta = np.concatenate([np.ones(len(s), int), -np.ones(len(e), int)])
    order = np.lexsort((delta, times))
    return int(np.max(np.cumsum(delta[order])))


def _smallest_cover(counts: np.ndarray, share: float) -> list[int]:
    order = np.argsort(-counts, kind="stable")
    total, acc, chosen = counts.sum(), 0, []
    for i in order:
        if total == 0 or acc >= share * total:
            break
        chosen.append(int(i))
        acc += counts[i]
    return sorted(chosen)


def _runs(hours: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for h in hours:
        if out and out[-1][1] == h:
            out[-1][1] = h + 1
        else:
            out.append([h, h + 1])
    return out


def calendar_of(starts: pd.Series, share: float = 0.95) -> tuple[dict, str]:
    """Working days and hours (local time of the log): all of them when the weekday (hourly) counts of the
    starts are flat by a chi-square test at 1 % (a 95 % cover of flat counts would drop hours at random),
    else the smallest set of weekdays (hours) holding `share` of the starts."""
    s = starts.dropna()
    days = np.bincount(s.dt.dayofweek.to_numpy(), minlength=7)
    hours = np.bincount(s.dt.hour.to_numpy(), minlength=24)
    p_d = float(scipy.stats.chisquare(days).pvalue) if days.sum() else 1.0
    p_h = float(scipy.stats.chisquare(hours).pvalue) if hours.sum() else 1.0
    d = list(range(7)) if p_d >= 0.01 else _smallest_cover(days, share)
    h = list(range(24)) if p_h >= 0.01 else _smallest_cover(hours, share)
    cal = {"days": [_DAYS[i] for i in d], "hours": _runs(h)}
    held = hours[h].sum() / max(1, hours.sum())
    return cal, (f"{len(s):,} starts; weekdays {'flat' if p_d >= 0.01 else 'not flat'} (chi-square p = {p_d:.2g}), "
                 f"hours {'flat' if p_h >= 0.01 else 'not flat'} (p = {p_h:.2g}); where not flat, the smallest set "
                 f"holding {share:.0%} of the starts ({held:.1%} of starts fall in these hours)")


# --------------------------------------------------------------------------- arrivals
def _trend_fit(counts: np.ndarray, weight: np.ndarray, t: np.ndarray) -> tuple[float, float, float]:
    """MLE of g in counts_i ~ Poisson(A · weight_i · (1 + g t_i)), A profiled out, with its 95 %
    profile-likelihood interval."""
    c, w = counts.astype(float), weight.astype(float)
    tmax = float(t.max()) if len(t) else 1.0
    lo_g, hi_g = -1 / tmax * 0.999, 50.0 / max(tmax, 1e-12)

    def ll(g: float) -> float:
        lam = w * (1 + g * t)
        a = c.sum() / lam.sum()
        mu = a * lam
        keep = mu > 0
        return float(np.sum(c[keep] * np.log(mu[keep])) - mu.sum())

    res = minimize_scalar(lambda g: -ll(g), bounds=(lo_g, hi_g), method="bounded", options={"xatol": 1e-10})
    g, best = float(res.x), -float(res.fun)
    crit = scipy.stats.chi2.ppf(0.95, 1) / 2

    def gap(x: float) -> float:
        return best - ll(x) - crit

    lo = brentq(gap, lo_g, g) if gap(lo_g) > 0 else lo_g
    hi = brentq(gap, g, hi_g) if gap(hi_g) > 0 else hi_g
    return g, lo, hi


def _arrivals(first: pd.Series, epoch: pd.Timestamp, unit_s: float, unit: str, profile: bool,
              prov: dict, warns: list[str]) -> dict:
    times = first.dropna().sort_values()
    n = len(times)
    if n < 2:
        raise SpecError("log", message=f"{n} case(s) with a known first event; arrivals need at least 2")
    t = (times - epoch).dt.total_seconds().to_numpy() / unit_s
    gaps = np.diff(t)
    span = float(t[-1] - t[0])
    rate = (n - 1) / span if span > 0 else float("inf")
    ties = int(np.sum(gaps <= 0))
    # the time-varying rate: hourly and weekday counts against their exposure in the observed period
    lo_day = times.iloc[0].normalize()
    hi_day = times.iloc[-1].normalize()
    days = pd.date_range(lo_day, hi_day, freq="D")
    exposure_wd = np.bincount(days.dayofweek.to_numpy(), minlength=7).astype(float)
    wd = np.bincount(times.dt.dayofweek.to_numpy(), minlength=7).astype(float)
    hr = np.bincount(times.dt.hour.to_numpy(), minlength=24).astype(float)
    seen = exposure_wd > 0
    p_week = float(scipy.stats.chisquare(wd[seen], wd.sum() * exposure_wd[seen] / exposure_wd[seen].sum()).pvalue) \
        if seen.sum() > 1 else 1.0
    p_day = float(scipy.stats.chisquare(hr).pvalue)
    weekly = np.where(seen, wd / np.where(seen, exposure_wd, 1), 0.0)
    weekly = weekly / weekly[seen].mean() if weekly.sum() > 0 else np.ones(7)
    weekly[~seen] = 1.0       # a weekday the period does not hold: no evidence, the mean
    daily = hr / hr.mean()
    use_week, use_day = p_week < 0.01, p_day < 0.01
    # the trend, on daily counts with the shapes found as offsets
    day_idx = ((times.dt.normalize() - lo_day).dt.days).to_numpy()
    counts = np.bincount(day_idx, minlength=len(days)).astype(float)
    w = weekly[days.dayofweek.to_numpy()] if use_week else np.ones(len(days))
    mid = ((days - epoch).total_seconds().to_numpy() + 43200) / unit_s
    g, g_lo, g_hi = _trend_fit(counts, w, mid) if len(days) >= 3 else (0.0, -np.inf, np.inf)
    keep_trend = profile and (g_lo > 0 or g_hi < 0)
    trend_text = (f"trend {g:.3g} per {unit} (95 % CI {g_lo:.3g} to {g_hi:.3g}) "
                  + ("kept: significant" if keep_trend else "dropped: not significant"))
    if profile and (use_week or use_day or keep_trend):
        prof: dict[str, Any] = {}
        if use_week:
            prof["weekly"] = [round(float(v), 4) for v in weekly]
        if use_day:
            prof["daily"] = [round(float(v), 4) for v in daily]
        r = rate
        if keep_trend:
            prof["trend"] = _sig(g)
            # rate at the epoch: the mean over the period is R (1 + g · mean time)
            r = rate / (1 + g * float(np.mean(mid)))
        prov["arrivals"] = (f"{n:,} cases by first event over {span:.4g} {unit}s: the weekday counts "
                            f"(chi-square p = {p_week:.2g}) and the hourly counts (p = {p_day:.2g}) are "
                            f"{'not ' if (use_week or use_day) else ''}flat, so a Poisson process with a rate "
                            f"profile (shapes of mean 1: {'weekly ' if use_week else ''}"
                            f"{'daily' if use_day else ''}); {trend_text}; rate R = {r:.4g} per {unit}"
                            + (" at the epoch" if keep_trend else " (the mean rate)"))
        return {"process": "poisson", "rate": _sig(r), "profile": prof}
    if ties:
        warns.append(f"{ties:,} cases arrive at the same instant as the one before; the interarrival fit uses "
                     "the positive gaps only")
    dist, text = fit_duration(gaps, "interarrival times")
    flat = (f"weekday counts chi-square p = {p_week:.2g}, hourly p = {p_day:.2g}; "
            + ("flat at 1 %, so " if not (use_week or use_day) else "the profile switch is off, so "))
    if dist["dist"] == "exponential":
        prov["arrivals"] = (f"{n:,} cases by first event; {flat}a renewal process: the interarrival times are "
                            f"{text}, so a Poisson process of rate 1/mean; {trend_text}")
        return {"process": "poisson", "rate": _sig(1 / dist["mean"])}
    prov["arrivals"] = f"{n:,} cases by first event; {flat}a renewal process; {trend_text}"
    prov["arrivals.interarrival"] = text
    return {"process": "renewal", "interarrival": dist}


# --------------------------------------------------------------------------- control flow
def _order_from_dfg(traces: list[tuple], freq: Counter) -> list[str]:
    """The dominant order: a linear order of the directly-follows graph whose backward edges weigh least
    (a minimum feedback arc set, approximately). Eades, Lin and Smyth's greedy order on the edge counts,
    with a virtual start before every trace and end after it (so that how often an activity comes first
    or last counts): sinks go to the back, sources to the front, else the activity of largest
    out-weight minus in-weight to the front (ties: the more frequent, then the name); then adjacent swaps
    while one lowers the backward weight. Self-loops are ignored (rework in place). The result is a
    topological order of the DFG without its back edges."""
    start, end = "\x00start", "\x00end"
    w: Counter = Counter()
    for tr in traces:
        w[start, tr[0]] += 1
        w[tr[-1], end] += 1
        for x, y in zip(tr[:-1], tr[1:], strict=True):
            if x != y:
                w[x, y] += 1
    rank = {x: (-freq[x], str(x)) for x in freq}
    rank[start], rank[end] = (-math.inf, ""), (math.inf, "")
    left = set(rank)
    outs: dict[str, Counter] = defaultdict(Counter)
    ins: dict[str, Counter] = defaultdict(Counter)
    for (x, y), c in w.items():
        outs[x][y] += c
        ins[y][x] += c

    def weight(x: str, side: dict) -> int:
        return sum(c for o, c in side[x].items() if o in left)

    head: list[str] = []
    tail: list[str] = []
    while left:
        sinks = sorted((x for x in left if weight(x, outs) == 0), key=rank.get)
        if sinks:
            tail.insert(0, sinks[-1])
            left.discard(sinks[-1])
            continue
        sources = sorted((x for x in left if weight(x, ins) == 0), key=rank.get)
        if sources:
            head.append(sources[0])
            left.discard(sources[0])
            continue
        x = min(left, key=lambda x: (weight(x, ins) - weight(x, outs), rank[x]))
        head.append(x)
        left.discard(x)
    order = [x for x in head + tail if x not in (start, end)]

    def backward(seq: list[str]) -> int:
        pos = {x: i for i, x in enumerate(seq)}
        pos[start], pos[end] = -1, len(seq)
        return sum(c for (x, y), c in w.items() if pos[y] < pos[x])

    best, improved = backward(order), True
    while improved:
        improved = False
        for i in range(len(order) - 1):
            cand = order[:i] + [order[i + 1], order[i]] + order[i + 2:]
            cost = backward(cand)
            if cost < best:
                order, best, improved = cand, cost, True
    return order


def _traces(acts: pd.DataFrame) -> dict[Any, tuple]:
    key = acts["start"].fillna(acts["end"])
    a = acts.assign(_k=key).sort_values(["case", "_k", "end"], kind="stable")
    return {case: tuple(g["activity"]) for case, g in a.groupby("case", sort=False)}


# --------------------------------------------------------------------------- discover
def discover(log: EventLog, *, time_unit: str | None = None, headcount: Mapping[str, int] | None = None,
             wip_limits: str | Mapping[str, int | None] = "observed", by_type: bool = True,
             rare_share: float = 0.01, routes: bool = True, calendars: bool = True, profile: bool = True,
             epoch: bool = True, extraneous: bool = True,
             name: str = "discovered") -> Discovery:
    """A stream mapping from `log` (module docstring; docs/calibration.md, "Discovery").

    `time_unit`: "hour", "day" or None (hour when the median positive work time is below a day);
    `headcount`: people per step when the data has no resources (one pool per step; missing steps get the
    observed maximum of concurrent instances); `wip_limits`: "observed" (the maximum of items in each
    column), "none", or a mapping step -> limit; `by_type`: item types from the cases' `type`;
    `rare_share`: variants below it are reported; `routes`: without a type attribute, when cases skip
    steps, one item type per frequent set of visited steps (a route); `extraneous`: waits that neither a
    busy resource nor its calendar explains become each step's `dependency` delay; `calendars`, `profile`,
    `epoch`: write the keys of those model features."""
    if time_unit not in (None, "hour", "day"):
        raise SpecError("time_unit", "hour, day or null", time_unit)
    if not (isinstance(wip_limits, Mapping) or wip_limits in ("observed", "none")):
        raise SpecError("wip_limits", "observed, none or a mapping of steps to limits", wip_limits)
    if not isinstance(rare_share, (int, float)) or isinstance(rare_share, bool) or not 0 <= rare_share < 1:
        raise SpecError("rare_share", "a number in [0, 1)", rare_share)
    for arg, values, nullable in (("headcount", headcount or {}, False),
                                  ("wip_limits", wip_limits if isinstance(wip_limits, Mapping) else {}, True)):
        for key, v in values.items():
            whole = isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            if not ((v is None and nullable) or (whole and v >= 1)):
                raise SpecError(f"{arg}.{key}", "a positive integer" + (" or null" if nullable else ""), v)
    acts = log.activities.copy()
    if acts.empty:
        raise SpecError("log", message=f"{log.source or 'the log'}: no activity instances")
    prov: dict[str, str] = {}
    warns: list[str] = []
    board = log.kind in ("board", "transitions")
    tz = acts["start"].dt.tz if acts["start"].notna().any() else acts["end"].dt.tz

    # ---- steps
    if board:
        seen = set(acts["activity"])
        terminal = [s for s in log.stages if s not in log.queues and s in seen
                    and (acts.loc[acts["activity"] == s, "end"].isna().all())]
        order = [s for s in log.stages if s not in log.queues and s not in terminal and s in seen]
        unvisited = [s for s in log.stages if s not in seen]
        if unvisited:
            warns.append(f"stage(s) {', '.join(unvisited)}: no item was ever there, so no step")
        if terminal:
            warns.append(f"stage(s) {', '.join(terminal)}: items never leave them, so they are the board's exit, "
                         "not steps")
        if log.queues:
            warns.append(f"queue stage(s) {', '.join(s for s in log.stages if s in log.queues)}: time there is "
                         "waiting, not work")
        acts = acts[acts["activity"].isin(order)]
        if acts.empty:
            raise SpecError("log", message="no doing stages with items leaving them: nothing to discover")
    traces = _traces(acts)
    freq = Counter(acts["activity"])
    if not board:
        order = _order_from_dfg(list(traces.values()), freq)
    pos = {a: i for i, a in enumerate(order)}
    n_cases = len(traces)
    variants = Counter(traces.values())
    rare = [{"trace": list(v), "cases": c, "share": c / n_cases} for v, c in variants.most_common()
            if c / n_cases < rare_share]
    prov["steps"] = (f"{len(order)} steps: " + ("the board's doing stages in board order" if board else
                     "a topological order of the directly-follows graph of "
                     f"{n_cases:,} cases without its back edges") + f"; {len(variants):,} variants, "
                     f"{len(rare):,} below {rare_share:.0%} of cases")

    # back edges -> rework
    back: dict[str, Counter] = defaultdict(Counter)
    for tr in traces.values():
        for a, b in zip(tr[:-1], tr[1:], strict=True):
            if pos[b] <= pos[a]:
                back[a][b] += 1

    # time unit
    dur = (acts["end"] - acts["start"]).dt.total_seconds()
    pos_dur = dur[dur > 0]
    if time_unit is None:
        time_unit = "hour" if (len(pos_dur) and pos_dur.median() < 86400) else "day"
    unit_s = _UNIT_SECONDS[time_unit]

    # types
    cases = log.cases.set_index("case") if "case" in log.cases else log.cases
    types = cases["type"] if (by_type and "type" in cases and cases["type"].notna().any()) else None
    item_types: dict[str, dict] = {}
    if types is not None:
        tnames = types.fillna("unknown").astype(str)
        shares = tnames.value_counts(normalize=True).sort_index()
        cos = cases["class_of_service"] if "class_of_service" in cases else pd.Series(index=cases.index, dtype=object)
        for t, s in shares.items():
            c = cos[tnames == t].dropna()
            cls = str(c.mode().iloc[0]) if len(c) else "standard"
            if cls not in _CLASSES:
                warns.append(f"class of service {cls!r} of type {t!r} is not one of {', '.join(_CLASSES)}: standard")
                cls = "standard"
            item_types[t] = {"share": float(s), "class_of_service": cls}
            prov[f"item_types.{t}"] = (f"{int(round(s * len(tnames))):,} of {len(tnames):,} cases have type {t}; "
                                       f"class of service: the most frequent of its cases'")
        if len(item_types) > 1:
            _fix_shares(item_types)
        case_type = tnames.to_dict()
    elif routes:
        case_type = _routes(traces, order, rare_share, item_types, prov)
    else:
        case_type = {}

    steps: dict[str, dict] = {}
    for s in order:
        steps[s] = {}
        inst = acts[acts["activity"] == s]
        d = (inst["end"] - inst["start"]).dt.total_seconds() / unit_s
        measured = d.dropna()
        path = f"steps.{s}.work"
        no_starts = len(measured) == 0
        if no_starts:
            # completions only: the time since the case's previous event is an upper bound of the work
            d = _since_previous(acts, s) / unit_s
            measured = d.dropna()
            warns.append(f"step {s}: no start times, so its work is the time since the case's previous event "
                         "(waiting included: an upper bound)")
        negative = int((measured < 0).sum())
        if negative:
            measured = measured[measured >= 0]
            warns.append(f"step {s}: {negative:,} instances end before they start; left out")
        zeros = int((measured == 0).sum())
        if len(measured) and zeros == len(measured):
            steps[s]["work"] = {"dist": "deterministic", "value": 0.0}
            prov[path] = f"all {zeros:,} instances take no time: an instant activity"
            warns.append(f"step {s}: an instant activity (all {zeros:,} instances take no time)")
        elif len(measured) == 0 and not no_starts:
            raise SpecError(f"{log.source or 'log'}: activity {s}", message="no instance with a usable duration "
                            "(every one ends before it starts)")
        elif len(measured) == 0:
            # completions only, and the step always comes first: its completion is the case's arrival
            steps[s]["work"] = {"dist": "deterministic", "value": 0.0}
            prov[path] = ("no start times and always the case's first event: its completion is taken as the "
                          "arrival, so no work")
            warns.append(f"step {s}: no start times and never a previous event; taken as instant (its completion "
                         "is the case's arrival)")
        else:
            dist, text = fit_duration(measured.to_numpy(), f"{s} durations (in {time_unit}s)")
            if zeros:
                text += f"; {zeros:,} instances of no time left out ({zeros / len(measured):.1%})"
                if zeros / len(measured) > 0.05:
                    warns.append(f"step {s}: {zeros / len(measured):.1%} of instances take no time and are left "
                                 "out of the work fit (the model's work has no point mass at 0)")
            open_ = int(inst["end"].isna().sum())
            if open_:
                text += f"; {open_:,} instances still open left out"
            text += _by_type_note(inst, d, case_type, s, warns)
            steps[s]["work"] = dist
            prov[path] = text
        # rework
        if back.get(s):
            (to, c), *others = back[s].most_common()
            p = c / len(inst)
            if p >= 1:
                p = (len(inst) - 1) / len(inst)
                warns.append(f"step {s}: every instance is followed by {to}; rework probability capped below 1")
            lo, hi = _binomial_ci(c, len(inst))
            steps[s]["rework"] = {"probability": _sig(p), "to": to}
            prov[f"steps.{s}.rework"] = (f"{c:,} of {len(inst):,} instances of {s} are followed by {to} "
                                         f"(95 % CI {lo:.3g} to {hi:.3g})")
            for o, oc in others:
                warns.append(f"step {s}: {oc:,} instances are followed by the earlier {o}; the model has one rework "
                             f"target per step, so only {to} (the most frequent) is kept")
        # types and skips
        visits = {case for case in inst["case"]}
        share = len(visits) / n_cases
        if case_type and len(item_types) > 1:
            per = {t: _share_visiting(visits, case_type, t) for t in item_types}
            if all(v >= 0.9 or v <= 0.1 for v in per.values()) and any(v <= 0.1 for v in per.values()) \
                    and any(v >= 0.9 for v in per.values()):
                steps[s]["types"] = sorted(t for t, v in per.items() if v >= 0.9)
                prov[f"steps.{s}.types"] = "visited by " + ", ".join(
                    f"{v:.0%} of {t}" for t, v in sorted(per.items())) + ": the types above 90 %"
                share = None
        if share is not None and share < 0.95:
            warns.append(f"step {s}: {1 - share:.1%} of cases skip it and no attribute explains it; the model has no "
                         "probabilistic skip, so every item visits it")
        steps[s]["pool"] = None   # filled below

    # ---- pools
    pools: dict[str, Any] = {}
    taken: set[str] = set()
    has_res = acts["resource"].notna().any() and headcount is None
    step_pools: dict[str, list[str]] = defaultdict(list)
    pool_starts: dict[str, pd.Series] = {}
    if has_res:
        r = acts[acts["resource"].notna()]
        skill = r.groupby("resource")["activity"].agg(lambda x: frozenset(x))
        groups: dict[frozenset, list] = defaultdict(list)
        for res, acts_set in skill.items():
            groups[acts_set].append(res)
        for acts_set, members in sorted(groups.items(), key=lambda kv: [pos[a] for a in sorted(kv[0], key=pos.get)]):
            ordered = sorted(acts_set, key=pos.get)
            joined = "+".join(ordered)
            pname = _pool_name(joined if len(joined) <= 40 else f"pool_{len(taken) + 1}", taken)
            mine = r[r["resource"].isin(members)]
            t = mine["start"].fillna(mine["end"])
            week = t.dt.tz_localize(None).dt.to_period("W") if t.dt.tz is not None else t.dt.to_period("W")
            active = mine.assign(_w=week).groupby("_w")["resource"].nunique()
            size = max(1, int(round(active.mean())))
            pools[pname] = size
            pool_starts[pname] = t
            prov[f"pools.{pname}"] = (f"{len(members)} resources doing exactly {', '.join(ordered)}; size: the mean "
                                      f"number active per week ({active.mean():.2f} over {len(active)} weeks; "
                                      f"{len(members)} distinct)")
            for a in ordered:
                step_pools[a].append((len(mine[mine["activity"] == a]), pname))
    for s in order:
        if step_pools.get(s):
            steps[s]["pool"] = [p for _, p in sorted(step_pools[s], key=lambda x: (-x[0], x[1]))]
            if len(steps[s]["pool"]) == 1:
                steps[s]["pool"] = steps[s]["pool"][0]
            continue
        inst = acts[acts["activity"] == s]
        pname = _pool_name(s, taken)
        if headcount is not None and s in headcount:
            pools[pname] = int(headcount[s])
            prov[f"pools.{pname}"] = f"the headcount given for {s}"
        else:
            m = max(1, _max_concurrent(inst["start"], inst["end"].fillna(acts["end"].max())))
            pools[pname] = m
            prov[f"pools.{pname}"] = (f"the data names no resources for {s}: the observed maximum of concurrent "
                                      f"instances ({m})")
        steps[s]["pool"] = pname
        pool_starts[pname] = inst["start"].fillna(inst["end"])
    if headcount is not None:
        unknown = sorted(set(headcount) - set(order))
        if unknown:
            raise SpecError("headcount", f"steps of the log ({', '.join(order)})", unknown[0])
    if calendars:
        everyone = acts["start"].fillna(acts["end"])
        for pname in list(pools):
            few = pool_starts[pname].notna().sum() < _CALENDAR_MIN
            cal, text = calendar_of(everyone if few else pool_starts[pname])
            if few:
                text = (f"only {pool_starts[pname].notna().sum()} starts, fewer than {_CALENDAR_MIN}: the calendar "
                        f"of all the log's starts; {text}")
            if len(cal.get("days", ())) == 7 and [list(h) for h in cal.get("hours", ())] == [[0, 24]]:
                prov[f"pools.{pname}"] += f"; no calendar (work at every hour of every day): {text}"
                continue                # round the clock: no calendar, so the engines' fast paths stay open
            pools[pname] = {"size": pools[pname], "calendar": cal}
            prov[f"pools.{pname}"] += f"; calendar: {text}"

    # ---- waits that no queue explains: extraneous delays, as each step's dependency delay
    if extraneous:
        _extraneous(acts, order, steps, pools, unit_s, time_unit, prov, warns)

    # ---- WIP limits: items in the column, from the case's previous end (or arrival) to this end
    entry = _column_entry(acts)
    in_loop: dict[str, str] = {}        # steps between a rework target and its sender (another column)
    for s in order:
        rw = steps[s].get("rework")
        if rw and rw["to"] != s:
            for x in order[pos[rw["to"]]:pos[s] + 1]:
                in_loop.setdefault(x, f"{rw['to']} .. {s}")
    if wip_limits == "observed" and in_loop:
        warns.append("no observed WIP limit on the steps inside rework loops (" + ", ".join(sorted(
            set(in_loop.values()), key=lambda t: pos[t.split(" .. ")[0]])) + "): limits there can deadlock")
    for s in order:
        if isinstance(wip_limits, Mapping):
            steps[s]["wip_limit"] = wip_limits.get(s)
            prov[f"steps.{s}.wip_limit"] = "as configured"
        elif wip_limits == "none":
            steps[s]["wip_limit"] = None
        else:
            inst = acts[acts["activity"] == s]
            m = _max_concurrent(entry[inst.index], inst["end"].fillna(acts["end"].max()))
            if s in in_loop:
                steps[s]["wip_limit"] = None
                prov[f"steps.{s}.wip_limit"] = (f"no limit: the step is inside the rework loop {in_loop[s]}, where "
                                                "limits can deadlock (every column of the loop full of items waiting "
                                                f"for another); the observed maximum of items in the column is {m}")
            else:
                steps[s]["wip_limit"] = max(1, m)
                prov[f"steps.{s}.wip_limit"] = f"the observed maximum of items in the column ({m})"
    if isinstance(wip_limits, Mapping):
        unknown = sorted(set(wip_limits) - set(order))
        if unknown:
            raise SpecError("wip_limits", f"steps of the log ({', '.join(order)})", unknown[0])

    # ---- arrivals and epoch
    t0 = pd.concat([acts["start"], acts["end"]]).min()
    ep = t0.normalize()
    first = cases["first"] if "first" in cases else acts.groupby("case")["start"].min()
    arrivals = _arrivals(pd.Series(first), ep, unit_s, time_unit, profile, prov, warns)
    stream: dict[str, Any] = {"schema_version": 2, "name": name, "time_unit": time_unit}
    if epoch:
        stream["epoch"] = {"start": ep.tz_localize(None).isoformat(), "tz": str(tz) if tz is not None else "UTC"}
        prov["epoch"] = "the midnight before the log's first timestamp, in the log's time zone"
    stream["arrivals"] = arrivals
    if item_types:
        stream["item_types"] = item_types
    stream["pools"] = pools
    stream["steps"] = steps
    span = pd.concat([acts["start"], acts["end"]]).max() - t0
    _enough_people(stream, prov, warns, steady=span >= pd.Timedelta(weeks=_STEADY_WEEKS))
    return Discovery(stream=stream, provenance=prov, rare_variants=rare, warnings=warns)


_MAX_RAISES = 1000
_EXTRANEOUS_MIN = 60.0
"""Seconds: a wait shorter than a minute beyond the resource's availability is no delay (rounding)."""
_EXTRANEOUS_SHARE = 0.01
"""A step where fewer than 1 % of the instances wait so gets no delay."""


def _next_open(t: pd.Timestamp, calendar: Mapping | None) -> pd.Timestamp:
    """The first instant at or after t (local time) inside `calendar`'s days and hours (t itself
    without a calendar)."""
    if not calendar:
        return t
    days = [_DAYS.index(d) for d in calendar.get("days", _DAYS)]
    hours = [tuple(h) for h in calendar.get("hours", [[0, 24]])]
    day = t.normalize()
    for k in range(15):
        d = day + pd.Timedelta(days=k)
        if d.dayofweek not in days:
            continue
        for lo, hi in hours:
            a, b = d + pd.Timedelta(hours=lo), d + pd.Timedelta(hours=hi)
            if b > t:
                return max(a, t)
    return t


def _extraneous(acts: pd.DataFrame, order: list[str], steps: dict, pools: dict, unit_s: float, time_unit: str,
                prov: dict, warns: list) -> None:
    """Waits before a step that neither a busy resource nor its working hours explain (a customer who
    calls back in three days, an approval, a release window): for each instance, start − max(enabled,
    its resource's previous end, the next opening of its pool's calendar), where `enabled` is the end
    of the case's previous instance (Chapela-Campa and Dumas 2022, "Enhancing business process
    simulation models with extraneous activity delays", the idea Simod uses). A step where at least
    1 % of the instances wait so gets `dependency: {probability: share, delay: fitted}` (every entry
    into the step draws it again, rework too). Handoffs, dependencies and cadences of the system that
    made the log are found this way, as waits; queueing for a busy person is not: the resource's
    availability is the end of the busy stretch (its instances, merged) that holds `enabled`, so a
    person busy without a break from the moment the case was ready until they started it explains the
    whole wait, and one who had an idle moment in between leaves the rest of the wait unexplained."""
    a = acts[acts["start"].notna() & acts["end"].notna()].copy()
    if a.empty:
        return
    a = a.sort_values(["start", "end"], kind="stable")
    # enabled: the latest end of the case's earlier instances (ended at or before this start)
    a["_enabled"] = a.groupby("case")["end"].transform(lambda e: e.shift().cummax())
    a.loc[a["_enabled"] > a["start"], "_enabled"] = pd.NaT
    # the resource's availability at `enabled`: the end of its busy stretch that holds that instant
    # (its instances merged where they overlap or touch), or `enabled` itself when it was idle then
    a["_res_free"] = pd.Series(pd.NaT, index=a.index, dtype=a["end"].dtype)
    has = a["resource"].notna() & a["_enabled"].notna()
    if has.any():
        tz = a["end"].dt.tz
        ns = {c: a[c].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]").astype(np.int64)
              for c in ("start", "end")}
        enabled = a["_enabled"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
        free = np.full(len(a), np.iinfo(np.int64).min, dtype=np.int64)
        res = a["resource"].astype(str).to_numpy()
        for r in np.unique(res[a["resource"].notna().to_numpy()]):
            mine = np.flatnonzero(res == r)
            o = mine[np.argsort(ns["start"][mine], kind="stable")]
            st, en = ns["start"][o], np.maximum.accumulate(ns["end"][o])
            block = np.r_[True, st[1:] > en[:-1]]          # a new busy stretch starts after an idle gap
            bs, be = st[block], np.r_[en[np.flatnonzero(block)[1:] - 1], en[-1]]
            ask = mine[has.to_numpy()[mine]]
            e = enabled[ask].astype(np.int64)
            k = np.searchsorted(bs, e, side="right") - 1
            inside = (k >= 0) & (be[np.maximum(k, 0)] > e)
            free[ask] = np.where(inside, be[np.maximum(k, 0)], e)
        ok = free != np.iinfo(np.int64).min
        a.loc[a.index[ok], "_res_free"] = pd.to_datetime(free[ok]).tz_localize("UTC").tz_convert(tz)
    pool_of = {}
    for s in order:
        p = steps[s].get("pool")
        pool_of[s] = p[0] if isinstance(p, list) else p
    for s in order:
        if "split" in steps[s] or steps[s].get("work") is None:
            continue
        inst = a[(a["activity"] == s) & a["_enabled"].notna()]
        if len(inst) < 30:
            continue
        ready = inst["_enabled"].where(inst["_res_free"].isna(), inst["_res_free"])
        pool = pools.get(pool_of[s])
        cal = pool.get("calendar") if isinstance(pool, Mapping) else None
        if cal:
            ready = pd.Series([_next_open(t, cal) for t in ready], index=ready.index)
        wait = (inst["start"] - ready).dt.total_seconds().to_numpy()
        waited = wait > _EXTRANEOUS_MIN
        share = float(waited.mean())
        if share < _EXTRANEOUS_SHARE or waited.sum() < 3:
            continue
        dist, text = fit_duration(wait[waited] / unit_s, f"{s} extraneous delays (in {time_unit}s)")
        dep = {"probability": round(share, 4), "delay": dist}
        if "dependency" in steps[s]:
            warns.append(f"step {s}: an extraneous delay and a dependency: the delay replaces it")
        steps[s]["dependency"] = dep
        prov[f"steps.{s}.dependency"] = (
            f"{int(waited.sum()):,} of {len(inst):,} instances of {s} waited beyond their resource's availability "
            f"and working hours (extraneous delays: a customer, an approval, a window; waits for a busy person are "
            f"not counted); {text}")
_STEADY_WEEKS = 4
"""A log shorter than this is a burst, not a steady state: a load at or above 1 is only reported."""


def _enough_people(stream: dict, prov: dict, warns: list, steady: bool = True) -> None:
    """The log shows its work done: a pool that could not do it (offered load >= 1 over its calendar,
    with the steps' demand spread over their pools as the stability check spreads it) had more people
    than the weekly count of active resources says (part-timers, resources the log does not name, work
    outside the calendar's hours). Raise such a pool one person at a time, the most loaded first, until
    every load is below 1: the fewest people consistent with the work done, said in the provenance. In a
    log shorter than `_STEADY_WEEKS` weeks (`steady` false) the work may have been a burst that a long run
    could not sustain: the pools over 1 are then only named in a warning."""
    def size(name):
        v = stream["pools"][name]
        return v if isinstance(v, int) else v["size"]

    def set_size(name, n):
        if isinstance(stream["pools"][name], int):
            stream["pools"][name] = n
        else:
            stream["pools"][name]["size"] = n

    before = {name: size(name) for name in stream["pools"]}
    try:
        for _ in range(_MAX_RAISES):
            load = StreamSpec.from_dict(stream).offered_load()
            name, worst = max(load.items(), key=lambda kv: kv[1]) if load else (None, 0.0)
            if worst < 1.0 or name not in stream["pools"]:
                break
            if not steady:
                over = ", ".join(f"{p} {v:.2f}" for p, v in load.items() if v >= 1.0)
                warns.append(f"offered load at or above 1 ({over}) in a log of under {_STEADY_WEEKS} weeks: "
                             "sizes kept as counted")
                return
            set_size(name, size(name) + 1)
    except SpecError as e:          # a stream the model refuses is reported where it is built
        warns.append(f"the offered load could not be checked: {e}")
        return
    for name, n in before.items():
        if size(name) > n:
            prov[f"pools.{name}"] = prov.get(f"pools.{name}", "") + (
                f"; raised from {n} to {size(name)} people: with {n} the stream could not do the work the log "
                f"shows done (offered load at or above 1)")
            warns.append(f"pool {name}: {n} people by the weekly count of active resources, raised to "
                         f"{size(name)} so that the stream can do the work the log shows done")


def _routes(traces: Mapping[Any, tuple], order: list[str], rare_share: float, item_types: dict,
            prov: dict) -> dict:
    """Skips no attribute explains, as item types: one type per set of visited steps held by at least
    `rare_share` of the cases (and at least one case), most frequent first. A case with a rarer set joins
    the smallest frequent set containing it (it then visits a step or two more than it did), else the
    frequent set it shares most steps with. A step no frequent set visits adds its most frequent set as a
    route (else it would have no route). Nothing when every case visits every step."""
    visits = {case: frozenset(tr) for case, tr in traces.items()}
    counts = Counter(visits.values())
    n = len(visits)
    if len(counts) < 2:
        return {}
    frequent = [v for v, c in counts.most_common() if c / n >= rare_share] or [counts.most_common(1)[0][0]]
    for step in order:            # a step no frequent set visits: its most frequent set becomes a route too
        if not any(step in f for f in frequent):
            frequent.append(next(v for v, _ in counts.most_common() if step in v))
    if len(frequent) < 2:
        return {}

    def home(v: frozenset) -> frozenset:
        if v in frequent:
            return v
        supers = [f for f in frequent if v <= f]
        if supers:
            return min(supers, key=lambda f: (len(f), frequent.index(f)))
        return max(frequent, key=lambda f: (len(f & v) - len(f - v), -frequent.index(f)))

    names = {f: f"route_{i + 1}" for i, f in enumerate(frequent)}
    case_type = {case: names[home(v)] for case, v in visits.items()}
    share = Counter(case_type.values())
    for f in frequent:
        t = names[f]
        own = counts[f]
        item_types[t] = {"share": share[t] / n, "class_of_service": "standard"}
        prov[f"item_types.{t}"] = (f"a route: {own:,} of {n:,} cases visit exactly "
                                   + ", ".join(sorted(f, key=order.index))
                                   + (f", and {share[t] - own:,} with a rarer set of steps within or near it"
                                      if share[t] > own else ""))
    _fix_shares(item_types)
    return case_type


def _fix_shares(item_types: dict) -> None:
    for v in item_types.values():
        v["share"] = round(v["share"], 6)
    big = max(item_types, key=lambda t: item_types[t]["share"])
    item_types[big]["share"] = round(1 - sum(v["share"] for t, v in item_types.items() if t != big), 6)


def _binomial_ci(k: int, n: int) -> tuple[float, float]:
    ci = scipy.stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _share_visiting(visits: set, case_type: Mapping, t: str) -> float:
    of_type = [c for c, tt in case_type.items() if tt == t]
    return sum(c in visits for c in of_type) / len(of_type) if of_type else 0.0


def _by_type_note(inst: pd.DataFrame, d: pd.Series, case_type: Mapping, step: str, warns: list[str]) -> str:
    """Per-type means where every type has at least 30 instances; the model's work cannot depend on the type
    per step (an item type's `size` scales every step alike), so the pooled fit stays and a difference is
    reported."""
    if not case_type:
        return ""
    t = inst["case"].map(case_type)
    groups = {k: d[(t == k) & d.notna() & (d > 0)] for k in sorted(set(t.dropna()))}
    if len(groups) < 2 or any(len(g) < 30 for g in groups.values()):
        return ""
    if len({float(v) for g in groups.values() for v in g}) < 2:
        return ""      # every duration equal: nothing to compare
    p = float(scipy.stats.kruskal(*groups.values()).pvalue)
    if p < 0.01:
        warns.append(f"step {step}: work differs by type (Kruskal-Wallis p = {p:.2g}); the model's work cannot "
                     "depend on the type per step, so the pooled fit is used")
    return "; by type: " + ", ".join(f"{k} mean {g.mean():.4g}" for k, g in groups.items()) + \
        f" (Kruskal-Wallis p = {p:.2g})"


def _since_previous(acts: pd.DataFrame, step: str) -> pd.Series:
    a = acts.sort_values(["case", "end"], kind="stable")
    prev = a.groupby("case")["end"].shift(1)
    d = (a["end"] - prev).dt.total_seconds()
    return d[a["activity"] == step]


def _column_entry(acts: pd.DataFrame) -> pd.Series:
    key = acts["start"].fillna(acts["end"])
    a = acts.assign(_k=key).sort_values(["case", "_k", "end"], kind="stable")
    prev = a.groupby("case")["end"].shift(1)
    return prev.fillna(a["_k"]).reindex(acts.index)
