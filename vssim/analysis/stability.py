"""Is the system stable? Before the run from the stream's offered load, after it from the run's
own evidence: summary.json's `stable` and `stability` (docs/metrics.md, "Stability").

A lead time of an overloaded stream only reflects the horizon: the items in the system grow
without bound and every figure of the run grows with its length. Two checks say so.

**Before the run** (open streams): the load of each pool, λ · visits · work · size / people
(`StreamSpec.offered_load`, interruptions included). Where a step draws on several pools, their
work is shared out as evenly as the pools allow (a small linear programme: the least possible
load of the busiest pool), so that a pool that can hand work to another is not called
overloaded. A load ≥ 1 means unstable, whatever the run shows.

**After the run**: a trend test on N(t) = items arrived and not done (the backlog of
arrived-not-committed items included: under CONWIP the WIP stays flat while the backlog grows).
N(t) of a stable but heavily loaded stream is strongly autocorrelated and a run that starts
empty is still filling up after the warmup, so N is not regressed on t within a run. Instead,
per replication r, over the later half (m, T] of the window [w, T] (m = (w + T) / 2, the first
half is more warm-up), with A_r arrivals and D_r items done in it:

    X_r = (1 − ε) · A_r − D_r        (ε = `MATERIALITY`: departures short of arrivals by ε)

The replications are independent, so the X_r are i.i.d. The null hypothesis "N does not grow
by more than ε of the arrivals", E[X] ≤ 0, is rejected by the one-sided Student t-test over the
R replications: growing when t = mean(X) · √R / sd(X) > t_{1−α, R−1}, α = `ALPHA`.

False-alarm rate (derived). X_r is a difference of counts of hundreds of events, close to
normal; for normal X with E[X] ≤ 0, P(t > t_{1−α, R−1}) ≤ α, with equality only at E[X] = 0.
A stable stream in steady state has E[N(T) − N(m)] = 0, so E[X] = −ε E[A] < 0: it sits inside
the null with a margin and its false-alarm rate is the noncentral-t tail P(t'_{R−1}(δ) >
t_{1−α, R−1}), δ = −ε E[A] √R / sd(X), far below α (M/M/1 at ρ = 0.95 over the default window:
sd(X) ≤ √2 sd(N) = 27.6, δ ≤ −1.96, a rate below 3 · 10⁻⁵). A stream started empty is still
filling up: E[N(T) − N(m)] > 0, and the rate stays ≤ α while the fill-up over the later half is
at most ε of its arrivals. For a stochastically monotone stream (its departure rate grows as it
fills, so E[N(t)] is concave, and E[N(t)] ≤ L = λW, Little's law) that holds when W ≤ ε · m:
the steady-state lead time is at most ε of the time from the start to the middle of the window
(22 time units with the defaults, horizon 2000 and warmup 200). So: false-alarm rate ≤ α = 1 %
under that condition; tests/test_stability.py measures it at ρ = 0.95 over hundreds of seeds.

One replication gives no independent copies to test against: the trend is not tested and a
stream whose offered loads are below 1 gets `stable: null`. Closed streams (saturated
arrivals: the backlog is full by construction), finite ones (backlog, trace: a transient that
ends when the items are done) and loss systems (`release.backlog_limit`: what does not fit is
rejected, so nothing grows without bound) get `stable: null` with the reason.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import optimize, stats

from vssim.analysis.intervals import ci95
from vssim.formatting import number, percent
from vssim.model.spec import Step, StreamSpec
from vssim.model.teams import qualify
from vssim.records import Records

__all__ = ["ALPHA", "GRID", "MATERIALITY", "Census", "assess", "census", "census_of", "grid", "headline", "peak_load",
           "trend"]

ALPHA = 0.01
"""Level of the trend test: the most of the runs of a stable stream it calls growing (given the
condition of the module docstring)."""
MATERIALITY = 0.02
"""ε: growth of the items in the system below this share of the arrivals is not called growing."""
GRID = 8
"""Intervals of the grid of [warmup, end] on which N(t) is counted; its middle point starts the later half."""
LOAD_TOLERANCE = 1e-9
"""A load within rounding of 1 (a deterministic stream at exactly its capacity) counts as 1."""
_NOT_STEADY = "lead time and WIP grow with the horizon and are not steady-state figures"


class Census(NamedTuple):
    """One replication's items arrived by, and items done by, each time of its grid."""

    times: np.ndarray       # GRID + 1 times from the warmup to the end
    arrived: np.ndarray     # items with arrival <= t
    done: np.ndarray        # items with done <= t


def grid(warmup: float, end: float) -> np.ndarray:
    """The times at which N is counted: GRID equal intervals of [warmup, end]."""
    return np.linspace(float(warmup), float(end), GRID + 1)


def census(times: np.ndarray, arrival, done) -> tuple[np.ndarray, np.ndarray]:
    """How many of these items had arrived, and how many were done, by each of `times` (a block of
    items, or all of them); items not done (NaN) are never counted done. One pass over the items."""
    def by(t: np.ndarray) -> np.ndarray:
        slot = np.searchsorted(times, np.asarray(t, dtype=np.float64), side="left")   # NaN: past the last
        return np.bincount(slot, minlength=len(times) + 1)[: len(times)].cumsum()

    return by(arrival), by(done)


def census_of(rec: Records) -> Census:
    """The census of a replication's records over its window [warmup, end]."""
    times = grid(rec.warmup, rec.end)
    return Census(times, *census(times, rec.arrival, rec.done))


# --------------------------------------------------------------------------- before the run
def peak_load(spec: StreamSpec) -> tuple[str, float] | None:
    """The busiest pool and its load (None for a closed or finite stream), over every board.

    With one pool per step, the highest offered load. Where steps draw on several pools (on any board:
    a team's `web/devs` too), the least possible load of the busiest pool over every way of sharing
    those steps' work out among their pools (min θ such that each pool's share of the work ≤ θ · its
    people): a necessary condition for stability is that it is below 1, whatever the dispatch rule does.
    """
    loads = spec.offered_load()
    if not loads:
        return None
    shared = [(b, s) for b in ("", *spec.teams) for s in spec.board(b)[0].values() if len(s.pools) > 1]
    if not shared:
        pool = max(loads, key=loads.get)
        return pool, loads[pool]
    return _least_peak(spec, loads, shared)


def _least_peak(spec: StreamSpec, loads: dict[str, float], shared: list[tuple[str, Step]]) -> tuple[str, float]:
    """`peak_load` with shared steps: a linear programme over x_k, the share of shared step s_k's
    work that pool p_k does (the shares of a step sum to 1), and θ, the load of the busiest pool."""
    pools = list(loads)
    demand = {(b, s.name, qualify(b, p)): _sole_load(spec, b, s, p, loads) for b, s in shared for p in s.pools}
    width = {(b, s.name): len(s.pools) for b, s in shared}
    keys = list(demand)
    # what each pool carries besides the shared steps (the offered load shares a step evenly)
    base = {p: loads[p] - sum(d / width[b, s] for (b, s, q), d in demand.items() if q == p) for p in pools}
    n = len(keys)
    a_ub = np.zeros((len(pools), n + 1))               # base_p + sum_k x_k demand_k (p_k = p) <= θ
    for k, (_b, _s, p) in enumerate(keys):
        a_ub[pools.index(p), k] = demand[keys[k]]
    a_ub[:, n] = -1.0
    a_eq = np.array([[float((kb, ks) == step) for kb, ks, _ in keys] + [0.0] for step in width])
    cost = np.zeros(n + 1)
    cost[n] = 1.0
    x = optimize.linprog(cost, A_ub=a_ub, b_ub=[-base[p] for p in pools], A_eq=a_eq, b_eq=np.ones(len(width)),
                         bounds=[(0, None)] * (n + 1), method="highs").x
    load = {p: base[p] + sum(x[k] * demand[key] for k, key in enumerate(keys) if key[2] == p) for p in pools}
    return max(pools, key=load.get), float(x[n])


def _sole_load(spec: StreamSpec, board: str, step: Step, pool: str, loads: dict[str, float]) -> float:
    """The load `pool` would get from `step` (of `board`) if it did all of the step's work. The offered
    load gives each of a step's k pools 1/k of it; with `pool` alone on the step it gets all of it, so
    the difference is (1 - 1/k) of it (the offered load's own formula, whatever it includes)."""
    k = len(step.pools)
    only = dataclasses.replace(step, pools=(pool,), speeds=None if step.speeds is None else (step.speed(pool),))
    if board:
        team = spec.teams[board]
        alone = dataclasses.replace(spec, teams={**spec.teams, board: dataclasses.replace(
            team, steps={**team.steps, step.name: only})})
    else:
        alone = dataclasses.replace(spec, steps={**spec.steps, step.name: only})
    q = qualify(board, pool)
    return (alone.offered_load()[q] - loads[q]) * k / (k - 1)


# --------------------------------------------------------------------------- after the run
def trend(censuses: Sequence[Census]) -> dict:
    """The trend test over the replications' censuses (all on one grid): the figures, and
    `growing` (None with fewer than two replications)."""
    times = censuses[0].times
    mid = GRID // 2
    start, end = float(times[mid]), float(times[-1])
    span = end - start
    arrived = np.array([float(c.arrived[-1] - c.arrived[mid]) for c in censuses])
    done = np.array([float(c.done[-1] - c.done[mid]) for c in censuses])
    x = (1.0 - MATERIALITY) * arrived - done
    growth = (arrived - done) / span if span > 0 else np.full(len(censuses), math.nan)
    r = len(censuses)
    statistic = p_value = growing = None
    if r >= 2:
        sd, mean = float(np.std(x, ddof=1)), float(np.mean(x))
        if sd > 0:
            statistic = mean * math.sqrt(r) / sd
            p_value = float(stats.t.sf(statistic, r - 1))
        else:                                   # every replication the same (a deterministic stream)
            p_value = 0.0 if mean > 0 else 1.0
        growing = p_value < ALPHA
    n_in = np.mean([c.arrived - c.done for c in censuses], axis=0)
    total = float(arrived.sum())
    return {
        "test": "one-sided Student t over the replications of (1 - materiality) x arrivals - items done "
                "in the later half of the window",
        "window": [start, end],
        "materiality": MATERIALITY,
        "alpha": ALPHA,
        "growth_rate": {"mean": _finite(float(np.mean(growth))), "ci95": ci95(growth.tolist())},
        "arrival_rate": _finite(float(np.mean(arrived)) / span) if span > 0 else None,
        "growth_share": _finite(float((arrived - done).sum()) / total) if total else None,
        "statistic": statistic,
        "p_value": p_value,
        "growing": growing,
        "items_in_system": {"times": times.tolist(), "mean": n_in.tolist()},
    }


# --------------------------------------------------------------------------- the verdict
def assess(spec: StreamSpec, censuses: Sequence[Census]) -> dict:
    """summary.json's `stable` (True, False or None) and `stability` (the reason in words, the
    busiest pool and its load, the offered loads, the trend test's figures). With a rate profile
    (`arrivals.profile`) the loads are at the long-run mean rate, and the reason says how the profile's
    peaks and its trend move them (`profile_note`)."""
    out = _assess(spec, censuses)
    s = out["stability"]
    if spec.arrivals.profile is not None and not spec.arrivals.finite and s.get("load") is not None:
        s["reason"] += "; " + profile_note(spec, s["pool"], s["load"])
    return out


def profile_note(spec: StreamSpec, pool: str, load: float) -> str:
    """What a rate profile does to the offered load of the busiest `pool` (at the mean rate: `load`):
    its peak within the week, and the time at which a trend brings it to 1 (or the rate to 0)."""
    p = spec.arrivals.profile
    peak = float(p.hour_shape().max())
    unit = spec.time_unit
    words = (f"the offered loads are at the long-run mean rate (arrivals.rate); the profile's busiest hour has "
             f"{number(peak)} x that rate (pool {pool} at {number(load * peak)} then): queues build in the peaks "
             "and drain in the troughs")
    g = p.trend
    if g > 0:
        reach = (f"reaches 1 at t = {number((1.0 / load - 1.0) / g)} {unit}" if 0 < load < 1
                 else "is >= 1 from the start")
        words += (f"; with the trend ({number(g)} of the rate per {unit}) the load grows without bound: pool {pool}'s "
                  f"{reach}, so a stable verdict holds for this horizon only")
    elif g < 0:
        words += (f"; with the trend ({number(g)} of the rate per {unit}) the load falls, and the arrivals stop at "
                  f"t = {number(-1.0 / g)} {unit}")
    return words


def _assess(spec: StreamSpec, censuses: Sequence[Census]) -> dict:
    a, limit = spec.arrivals, spec.release.backlog_limit
    if a.process == "saturated":
        return _verdict(None, "closed stream (saturated arrivals): the backlog is full by construction and the "
                              "work in process is capped, so nothing grows without bound; stability does not apply")
    if a.finite:
        what = f"the first {a.limit} {a.process} arrivals" if a.limit is not None else f"{a.process} arrivals"
        return _verdict(None, f"finite stream ({what}): its items flow through once, a transient "
                              "that ends when they are done, not a steady state; stability does not apply")
    pool, load = peak_load(spec)
    figures = {"pool": pool, "load": load, "offered_load": spec.offered_load()}
    if limit is not None:
        return _verdict(None, f"loss system (release.backlog_limit {limit}): arrivals beyond the limit are rejected, "
                              "so nothing grows without bound; the rejected arrivals measure any overload", **figures)
    tested = trend(censuses)
    figures["trend"] = tested
    if load >= 1 - LOAD_TOLERANCE:
        seen = {True: f"the run agrees: the items in the system grew by {percent(tested['growth_share'], 1)} of the "
                      "arrivals over the later half of the window",
                False: "the run's trend test did not see it over this horizon",
                None: "one replication gives no trend test"}[tested["growing"]]
        return _verdict(False, f"pool {pool} offered load {number(load)} >= 1: arrivals exceed its capacity ({seen})",
                        cause="offered_load", **figures)
    if tested["growing"]:
        return _verdict(False, f"the items in the system grew by {percent(tested['growth_share'], 1)} of the "
                               "arrivals over the later half of the window (trend test, p = "
                               f"{number(tested['p_value'], 2)}) although no pool's offered load reaches 1 "
                               f"(highest: {pool} {number(load)}): capacity lost to switching, blocking, batches or "
                               "cadences, or a start-up longer than the run (a longer sim.horizon and sim.warmup "
                               "tell them apart)", cause="trend", **figures)
    if tested["growing"] is None:
        return _verdict(None, f"every pool's offered load is below 1 (highest: {pool} {number(load)}), but one "
                              "replication gives no trend test (sim.replications >= 2 for one)", **figures)
    return _verdict(True, f"every pool's offered load is below 1 (highest: {pool} {number(load)}) and the items in "
                          "the system did not grow over the later half of the window", **figures)


def _verdict(stable: bool | None, reason: str, cause: str | None = None, **figures) -> dict:
    return {"stable": stable, "stability": {"reason": reason, "cause": cause, **figures}}


def headline(summary: dict) -> str | None:
    """One line for an unstable run (the terminal's warning, the top of the report); None otherwise."""
    if summary.get("stable") is not False:
        return None
    s = summary["stability"]
    if s.get("cause") == "offered_load":
        why = f"pool {s['pool']} offered load {number(s['load'])} >= 1"
    else:
        t = s["trend"]
        why = (f"the items in the system grew by {number(t['growth_rate']['mean'])} per {summary['time_unit']} "
               f"({percent(t['growth_share'], 1)} of the arrivals) over the later half of the window")
    return f"{why}; {_NOT_STEADY}"


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None
