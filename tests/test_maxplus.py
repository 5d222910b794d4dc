"""The fast engine (vssim/engines/maxplus/) against the SimPy engine, on the same random numbers.

On random qualifying streams (hypothesis) every per-item and per-visit time of the fast engine
equals the SimPy engine's to 1e-9, and so do the summary metrics; the records pass the same
invariants (tests/test_invariants.py). Each feature the fast engine does not do is refused by
`qualifies` with its reason, and `engine="auto"` / `engine="fast"` behave as documented in
docs/engines.md.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_invariants import HypothesisChooser, check_replication

import vssim
from vssim.engines.maxplus import why_not
from vssim.engines.random import BLOCK, SPLITTABLE, Draws, generator, in_blocks
from vssim.engines.registry import ENGINES, run_records
from vssim.errors import SpecError
from vssim.model.distributions import parse_distribution
from vssim.model.plan import Plan
from vssim.model.settings import Settings
from vssim.model.spec import CLASSES_OF_SERVICE

TOL = 1e-9


# --------------------------------------------------------------------------- random qualifying streams
def _work(c) -> dict:
    kind = c.pick(["exponential", "lognormal", "gamma", "deterministic"])
    mean = c.real(0.3, 1.5)
    if kind == "exponential":
        return {"dist": "exponential", "mean": mean}
    if kind in ("lognormal", "gamma"):
        return {"dist": kind, "mean": mean, "cv": c.real(0.2, 1.5)}
    return {"dist": "deterministic", "value": c.pick([mean, 0.5, 1.0])}


def build_qualifying(c) -> tuple[dict, dict]:
    """A random stream the fast engine qualifies for, and simulation settings."""
    n_steps = c.integer(1, 5)
    single = c.chance(0.5)
    people = [1 if single else c.integer(1, 3) for _ in range(n_steps)]
    conwip = c.integer(1, 6) if c.chance(0.4) else None   # CONWIP with one or several people per step
    pools, steps = {}, {}
    for j in range(n_steps):
        pool = {"size": people[j]}
        if c.chance(0.15):
            pool["switch_cost"] = {"dist": "deterministic", "value": 0.5}  # never paid: one step per pool
        pools[f"p{j}"] = pool if len(pool) > 1 or c.chance(0.5) else people[j]
        s: dict = {"pool": f"p{j}", "work": _work(c)}
        if c.chance(0.3):
            s["handoff"] = {"dist": "deterministic", "value": c.pick([0.0, 0.25, 0.5, c.real(0.01, 1.0)])}
        if conwip is not None and c.chance(0.2):
            s["wip_limit"] = conwip + c.integer(0, 2)      # never binds under CONWIP
        if c.chance(0.1):
            s["rework"] = {"probability": 0.0, "to": f"s{c.integer(0, j)}"}
        if c.chance(0.1):
            s["dependency"] = {"probability": 0.0, "delay": {"dist": "exponential", "mean": 1.0}}
        steps[f"s{j}"] = s
    cos = c.pick(CLASSES_OF_SERVICE)
    n_types = c.integer(1, 3)
    weights = [c.integer(1, 4) for _ in range(n_types)]
    item_types = {}
    for t in range(n_types):
        ty: dict = {"share": weights[t] / sum(weights), "class_of_service": cos}
        if c.chance(0.5):
            ty["size"] = c.pick([0.5, 1.5, {"dist": "lognormal", "mean": 1.0, "cv": 0.5},
                                 {"dist": "gamma", "mean": 1.2, "cv": 0.8}])
        item_types[f"t{t}"] = ty
    if n_types > 1:
        item_types["t0"]["share"] = 1.0 - sum(item_types[f"t{t}"]["share"] for t in range(1, n_types))
    release: dict = {"policy": "conwip", "conwip": conwip} if conwip is not None else {"policy": "push"}
    d = {"name": "fastline", "item_types": item_types, "pools": pools, "release": release, "steps": steps,
         "arrivals": {"process": "poisson", "rate": 1.0}}
    spec = vssim.StreamSpec.from_dict(d)
    bottleneck = max(spec.offered_load().values())
    items = c.integer(20, 120)
    processes = ["poisson", "poisson", "backlog", "deterministic", "renewal", "trace"]
    if conwip is not None:
        processes.append("saturated")
    process = c.pick(processes)
    sim: dict = {"seed": c.integer(0, 2**16), "replications": c.pick([1, 1, 2])}
    rate = c.real(0.3, 1.2) / bottleneck
    if process == "poisson":
        d["arrivals"] = {"process": "poisson", "rate": rate}
    elif process == "deterministic":
        d["arrivals"] = {"process": "deterministic", "interval": round(1.0 / rate, 3)}
    elif process == "renewal":
        d["arrivals"] = {"process": "renewal",
                         "interarrival": {"dist": "gamma", "mean": 1.0 / rate, "cv": c.real(0.3, 2.0)}}
    elif process == "trace":
        rng = np.random.default_rng(c.integer(0, 1000))
        times = np.round(np.cumsum(rng.exponential(1.0 / rate, items)), c.pick([1, 3]))
        rows = []
        for t in times:
            row: dict = {"time": float(t)}
            if c.chance(0.2):
                row["type"] = c.pick(list(item_types))
            if c.chance(0.2):
                row["size"] = c.pick([0.5, 2.0])
            rows.append(row)
        d["arrivals"] = {"process": "trace", "times": rows}
    elif process == "backlog":
        d["arrivals"] = {"process": "backlog", "count": items}
    else:
        d["arrivals"] = {"process": "saturated"}
    finite = process in ("backlog", "trace")
    if finite and c.chance(0.6):
        sim["horizon"] = None
    else:
        sim["horizon"] = round(items / rate * c.pick([0.5, 1.0, 1.5]), c.pick([0, 3]))
    if sim["horizon"] is not None and c.chance(0.4):
        sim["warmup"] = round(0.1 * sim["horizon"], 3)
    return d, sim


@st.composite
def qualifying(draw):
    return build_qualifying(HypothesisChooser(draw))


# --------------------------------------------------------------------------- comparisons
def assert_same_records(a, b) -> None:
    """SimPy records a and fast records b describe the same sample path (persons aside)."""
    assert a.n_items == b.n_items
    for f in ("item_type", "item_priority", "rework_count"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    for f in ("arrival", "commit", "done", "item_size", "item_value", "touch"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=0, atol=TOL, err_msg=f)
    assert len(a.visit_item) == len(b.visit_item)
    oa = np.lexsort((a.visit_step, a.visit_item))
    ob = np.lexsort((b.visit_step, b.visit_item))
    np.testing.assert_array_equal(a.visit_item[oa], b.visit_item[ob])
    np.testing.assert_array_equal(a.visit_step[oa], b.visit_step[ob])
    for f in ("visit_enter", "visit_ready", "visit_start", "visit_end", "visit_leave", "visit_work"):
        np.testing.assert_allclose(getattr(a, f)[oa], getattr(b, f)[ob], rtol=0, atol=TOL, err_msg=f)
    np.testing.assert_array_equal(a.visit_person[oa] >= 0, b.visit_person[ob] >= 0)
    assert len(b.rejected_times) == 0
    assert a.end == pytest.approx(b.end, abs=TOL)


def without_persons(summary: dict) -> dict:
    """A summary but for `sim` and each pool's per-person split (`pools.*.people`): which person takes an
    item when one frees up at the instant it becomes workable and others are free too is the engines'
    own tie-break (docs/engines.md, "Persons"); every time, and every pool's figure, is the same."""
    out = {k: v for k, v in summary.items() if k != "sim"}
    if "pools" in out:
        out["pools"] = {p: {k: v for k, v in d.items() if k != "people"} for p, d in out["pools"].items()}
    return out


def assert_close_tree(x, y, path="summary") -> None:
    if isinstance(x, dict):
        assert set(x) == set(y), path
        for k in x:
            assert_close_tree(x[k], y[k], f"{path}.{k}")
    elif isinstance(x, list | tuple):
        assert len(x) == len(y), path
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            assert_close_tree(u, v, f"{path}[{i}]")
    elif isinstance(x, float) or isinstance(y, float):
        if x is None or y is None:
            assert x is None and y is None, path
        elif math.isnan(x):
            assert math.isnan(y), path
        else:
            assert y == pytest.approx(x, rel=1e-9, abs=1e-9), path
    else:
        assert x == y, path


def assert_causal_log(rec) -> None:
    """The fast engine's event log: times never go back, and each item's events in order."""
    log = rec.event_log()
    assert (np.diff(log["timestamp"].to_numpy()) >= 0).all()
    for _, events in log.groupby("case", sort=False):
        acts = list(zip(events["activity"], events["lifecycle"], strict=True))
        assert acts[0] == ("arrive", "complete")
        expected = [("arrive", "complete"), ("commit", "complete")]
        for name in rec.step_names:
            expected += [(name, "start"), (name, "complete")]
        expected.append(("done", "complete"))
        assert acts == expected[: len(acts)]


def assert_same_log(slow, fast) -> None:
    """The two engines' event logs hold the same events in the same order, but for the order of
    events at one instant (docs/engines.md: the fast log orders those causally) and persons."""
    a, b = slow.event_log(), fast.event_log()
    assert len(a) == len(b)
    ta, tb = a["timestamp"].to_numpy(), b["timestamp"].to_numpy()
    np.testing.assert_allclose(ta, tb, rtol=0, atol=TOL)
    key = ["timestamp", "case", "activity", "lifecycle"]
    a = a[key].assign(timestamp=np.round(ta, 6))
    b = b[key].assign(timestamp=np.round(tb, 6))
    pd.testing.assert_frame_equal(a.sort_values(key, kind="stable").reset_index(drop=True),
                                  b.sort_values(key, kind="stable").reset_index(drop=True))


def check_people(spec, rec) -> None:
    """Persons of each step belong to its pool and work one item at a time."""
    plan = Plan.of(spec)
    for j in range(len(spec.steps)):
        m = (rec.visit_step == j) & (rec.visit_person >= 0)
        assert set(rec.visit_person[m]) <= set(plan.pool_people[plan.step_pools[j][0]])
        for g in set(rec.visit_person[m]):
            w = m & (rec.visit_person == g)
            order = np.argsort(rec.visit_start[w], kind="stable")
            s, e = rec.visit_start[w][order], rec.visit_end[w][order]
            e = np.where(np.isnan(e), np.inf, e)
            assert (s[1:] >= e[:-1] - TOL).all()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(qualifying())
def test_fast_equals_simpy_on_random_qualifying_streams(case):
    d, sim = case
    spec = vssim.StreamSpec.from_dict(d)
    why = why_not(spec)
    assert why is None, why
    kw = {"progress": False, **sim}
    slow = vssim.simulate(spec, engine="simpy", **kw)
    fast = vssim.simulate(spec, engine="fast", **kw)
    assert fast.summary["sim"]["engine"] == "fast" and slow.summary["sim"]["engine"] == "simpy"
    for a, b in zip(slow.records, fast.records, strict=True):
        assert_same_records(a, b)
        assert_causal_log(b)
        assert_same_log(a, b)
        check_people(spec, b)
        check_replication(spec, b, sim)
    s1, s2 = (without_persons(r.summary) for r in (slow, fast))
    assert_close_tree(s1, s2)
    assert slow.summary["sim"]["end"] == pytest.approx(fast.summary["sim"]["end"], abs=TOL)
    assert json.dumps(s1) == json.dumps(s2)          # bit for bit (docs/engines.md)


# --------------------------------------------------------------------------- fixed cases
def line(people=(1, 1, 1, 1, 1), rate=0.8, **extra) -> dict:
    d = {"name": "line", "arrivals": {"process": "poisson", "rate": rate},
         "pools": {f"p{j}": c for j, c in enumerate(people)},
         "steps": {f"s{j}": {"pool": f"p{j}", "work": {"dist": "exponential", "mean": 1.0}}
                   for j in range(len(people))}}
    d.update(extra)
    return d


@pytest.mark.parametrize("people", [(1, 1, 1, 1, 1), (2, 1, 3), (3,)])
def test_long_line_equal(people):
    spec = vssim.StreamSpec.from_dict(line(people, rate=0.8 * min(people)))
    plan = Plan.of(spec)
    a = run_records("simpy", plan, horizon=1500.0, warmup=0.0, seed=4, replication=1)
    b = run_records("fast", plan, 1500.0, 0.0, 4, 1)
    assert a.n_items > 1000
    assert_same_records(a, b)


def test_conwip_line_equal():
    d = line(rate=0.95, release={"policy": "conwip", "conwip": 3})
    spec = vssim.StreamSpec.from_dict(d)
    a = run_records("simpy", Plan.of(spec), horizon=1000.0, warmup=0.0, seed=2, replication=0)
    b = run_records("fast", spec, 1000.0, 0.0, 2, 0)
    assert_same_records(a, b)
    assert np.nanmax(b.commit - b.arrival) > 0        # the CONWIP limit held items back


def test_penny_game_one_by_one(run):
    """Backlog of 20 pennies, four single-person steps of 1: item k done at 4 + k (exactly)."""
    d = {"name": "penny", "arrivals": {"process": "backlog", "count": 20},
         "pools": {f"p{j}": 1 for j in range(4)},
         "steps": {f"s{j}": {"pool": f"p{j}", "work": {"dist": "deterministic", "value": 1}} for j in range(4)}}
    r = run(d, horizon=None, engine="auto")
    assert r.summary["sim"]["engine"] == "fast"
    assert r.items.sort_values("item")["done"].tolist() == [4.0 + k for k in range(20)]
    assert r.summary["sim"]["end"] == [23.0]


def test_ties_with_several_people(run):
    """Deterministic work with two people: many events at equal times, same path as SimPy."""
    d = {"name": "ties", "arrivals": {"process": "backlog", "count": 30},
         "pools": {"a": 2, "b": 3, "c": 1},
         "steps": {"one": {"pool": "a", "work": {"dist": "deterministic", "value": 1.0}},
                   "two": {"pool": "b", "work": {"dist": "deterministic", "value": 2.0},
                           "handoff": {"dist": "deterministic", "value": 0.5}},
                   "three": {"pool": "c", "work": {"dist": "deterministic", "value": 0.5}}}}
    for horizon in (None, 10.0, 10.5):
        slow = run(d, horizon=horizon, engine="simpy")
        fast = run(d, horizon=horizon, engine="fast")
        assert_same_records(slow.records[0], fast.records[0])
        assert_causal_log(fast.records[0])


@pytest.mark.parametrize("arrivals", [{"process": "backlog", "count": 40}, {"process": "saturated"},
                                      {"process": "deterministic", "interval": 0.5}])
@pytest.mark.parametrize("conwip", [1, 3, 7])
def test_conwip_with_several_people_and_ties(run, arrivals, conwip):
    """CONWIP with several people per step (items overtake): deterministic work makes many events
    at one instant; the same path as SimPy, the release waiting for the (k - N)-th completion."""
    d = {"name": "ties", "arrivals": arrivals, "release": {"policy": "conwip", "conwip": conwip},
         "pools": {"a": 2, "b": 3, "c": 1},
         "steps": {"one": {"pool": "a", "work": {"dist": "deterministic", "value": 1.0}},
                   "two": {"pool": "b", "work": {"dist": "deterministic", "value": 2.0},
                           "handoff": {"dist": "deterministic", "value": 0.5}},
                   "three": {"pool": "c", "work": {"dist": "deterministic", "value": 0.5}}}}
    assert why_not(vssim.StreamSpec.from_dict(d)) is None
    finite = arrivals["process"] == "backlog"
    for horizon in ((None, 12.0, 12.5) if finite else (12.0, 30.0)):
        slow = run(d, horizon=horizon, engine="simpy")
        fast = run(d, horizon=horizon, engine="fast")
        assert_same_records(slow.records[0], fast.records[0])
        assert_causal_log(fast.records[0])
        assert_same_log(slow.records[0], fast.records[0])
        check_people(vssim.StreamSpec.from_dict(d), fast.records[0])


def test_conwip_with_several_people_and_empirical_work():
    """Work drawn in blocks (empirical: not splittable) is asked for in the order items start,
    which under CONWIP with several people the run decides: the same draws as SimPy's."""
    d = line((2, 3, 1), rate=0.7, release={"policy": "conwip", "conwip": 6})
    d["steps"]["s0"]["work"] = {"dist": "empirical", "values": [0.2, 0.5, 1.0, 2.5]}
    d["steps"]["s1"]["work"] = {"dist": "empirical", "values": [0.5, 1.0, 4.0]}
    spec = vssim.StreamSpec.from_dict(d)
    plan = Plan.of(spec)
    a = run_records("simpy", plan, horizon=4000.0, warmup=0.0, seed=9, replication=0)
    b = run_records("fast", plan, 4000.0, 0.0, 9, 0)
    assert a.n_items > 2 * BLOCK
    assert_same_records(a, b)
    assert_same_log(a, b)


def test_penny_fab_runs_on_the_fast_engine(run):
    """The packaged Penny Fab (saturated CONWIP, 1, 2, 6 and 2 people) qualifies and equals SimPy."""
    from vssim.model.spec import load_stream

    spec = load_stream(Path(__file__).parent.parent / "configs" / "stream" / "penny_fab.yaml")
    assert why_not(spec) is None
    for conwip in (1, 8, 20):
        spec_n = vssim.StreamSpec.from_dict({**spec.to_dict(), "release": {"policy": "conwip", "conwip": conwip}})
        plan = Plan.of(spec_n)
        a = run_records("simpy", plan, horizon=3000.0, warmup=0.0, seed=5, replication=0)
        b = run_records("fast", plan, 3000.0, 0.0, 5, 0)
        assert a.n_items > 100
        assert_same_records(a, b)
        check_people(spec_n, b)


QUALIFYING_SHIPPED = sorted(p.stem for p in (Path(__file__).parent.parent / "configs" / "stream").glob("*.yaml")
                            if why_not(vssim.load_stream(p)) is None)


@pytest.mark.parametrize("stats", ["full", "streaming"])
@pytest.mark.parametrize(("name", "horizon"), [(n, h) for n in QUALIFYING_SHIPPED for h in (2000, 2000.0)])
def test_the_summaries_are_the_same_bit_for_bit(name, horizon, stats):
    """docs/engines.md: on a qualifying stream both engines give the same summary, every number
    to the last bit (`sim.end` a float whatever the horizon was given as; the steps' sums over
    visits in one order, item by item, also where several people let items overtake)."""
    spec = vssim.load_stream(Path(__file__).parent.parent / "configs" / "stream" / f"{name}.yaml")
    finite = spec.arrivals.finite
    kw = dict(horizon=None, warmup=0.0) if finite else dict(horizon=horizon, warmup=200.0)
    if ENGINES["fast"].qualifies(Plan.of(spec), Settings(stats=stats, **kw)) is not None:
        pytest.skip(f"the fast engine does not run {name} with stats={stats}")
    slow, fast = (vssim.simulate(spec, engine=e, replications=2, seed=7, progress=False, stats=stats, **kw).summary
                  for e in ("simpy", "fast"))
    assert slow["sim"].pop("engine") == "simpy" and fast["sim"].pop("engine") == "fast"
    assert json.dumps(slow) == json.dumps(fast)


def test_horizon_cuts_events_at_the_horizon(run):
    """An event exactly at the horizon does not happen, in either engine."""
    d = {"name": "cut", "arrivals": {"process": "deterministic", "interval": 1.0},
         "pools": {"a": 1}, "steps": {"s": {"pool": "a", "work": {"dist": "deterministic", "value": 1.0}}}}
    slow = run(d, horizon=5.0, engine="simpy")
    fast = run(d, horizon=5.0, engine="fast")
    assert_same_records(slow.records[0], fast.records[0])
    assert fast.items["arrival"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert fast.items["done"].tolist()[:3] == [2.0, 3.0, 4.0] and math.isnan(fast.items["done"].iloc[3])


def test_event_log_of_tiny_trace(run):
    """The trace of tests/test_exact.py: the same events, timestamps and resources as SimPy."""
    d = {"name": "tiny", "arrivals": {"process": "trace", "times": [0, 1, 2]}, "pools": {"a": 1, "b": 1},
         "steps": {"one": {"pool": "a", "work": {"dist": "deterministic", "value": 1.5},
                           "handoff": {"dist": "deterministic", "value": 0.25}},
                   "two": {"pool": "b", "work": {"dist": "deterministic", "value": 0.5}}}}
    slow = run(d, horizon=None, engine="simpy").event_log()
    fast = run(d, horizon=None, engine="fast").event_log()
    pd.testing.assert_frame_equal(slow, fast)


# --------------------------------------------------------------------------- random numbers
@pytest.mark.parametrize("dist", [{"dist": "gamma", "mean": 1.0, "cv": 0.7},
                                  {"dist": "lognormal", "mean": 2.0, "cv": 1.0},
                                  {"dist": "empirical", "values": [1, 2, 3, 5]}])
def test_blocks_are_the_draws_of_draws_at(dist):
    """`in_blocks` draws what `Draws.at` draws for the same requests, jumps beyond a block too."""
    d = parse_distribution(dist, "work")
    rng = np.random.default_rng(0)
    requests = np.concatenate([rng.permutation(300), [5000, 10], 5001 + rng.permutation(3 * BLOCK)])
    draws = Draws(d, generator(1, 2, "work/x"))
    expected = [draws.at(int(k)) for k in requests]
    g = generator(1, 2, "work/x")
    got = in_blocks(lambda n: d.sample(g, n), requests)
    np.testing.assert_array_equal(got[requests], expected)


# --------------------------------------------------------------------------- what does not qualify
BASE = {"name": "base", "arrivals": {"process": "poisson", "rate": 0.5}, "pools": {"a": 1, "b": 2},
        "steps": {"one": {"pool": "a", "work": {"dist": "exponential", "mean": 1.0}},
                  "two": {"pool": "b", "work": {"dist": "exponential", "mean": 1.0}}}}


def variant(**changes) -> dict:
    import copy

    d = copy.deepcopy(BASE)
    for path, value in changes.items():
        *keys, last = path.split("__")
        node = d
        for k in keys:
            node = node.setdefault(k, {})
        node[last] = value
    return d


NOT_QUALIFYING = [
    ("backlog_limit", variant(release={"policy": "push", "backlog_limit": 3}), "release.backlog_limit"),
    ("classes", variant(item_types={"f": {"share": 0.5}, "d": {"share": 0.5, "class_of_service": "expedite"}}),
     "classes of service"),
    ("types", variant(item_types={"f": {"share": 0.5}, "d": {"share": 0.5}}, steps__two__types=["f"]),
     "steps.two.types"),
    ("several pools", variant(steps__two__pool=["b", "a"]), "steps.two.pool"),
    ("shared pool", variant(steps__two__pool="a"), "pools.a: shared by steps one and two"),
    ("rework", variant(steps__two__rework={"probability": 0.1, "to": "one"}), "steps.two.rework"),
    ("dependency", variant(steps__one__dependency={"probability": 0.3, "delay": {"dist": "deterministic",
                                                                                 "value": 1}}),
     "steps.one.dependency"),
    ("random handoff", variant(steps__one__handoff={"dist": "exponential", "mean": 0.5}), "steps.one.handoff"),
    ("batch", variant(steps__one__batch=2), "steps.one.batch"),
    ("cadence", variant(steps__two__cadence=5), "steps.two.cadence"),
    ("wip_limit", variant(steps__two__wip_limit=3), "steps.two.wip_limit"),
    ("binding wip_limit under conwip", variant(release={"policy": "conwip", "conwip": 4}, pools={"a": 1, "b": 1},
                                               steps__two__wip_limit=2), "steps.two.wip_limit"),
    ("interruptions", variant(pools={"a": {"size": 1, "interruptions": {"rate": 0.5, "duration": {
        "dist": "deterministic", "value": 0.1}}}, "b": 2}), "pools.a.interruptions"),
    ("a CONWIP limit beyond the recursions' memory", variant(release={"policy": "conwip", "conwip": 10**9}),
     "release.conwip is 1000000000"),                 # issue 12: 7.45 GiB allocated for the done times
]


@pytest.mark.parametrize(("what", "d", "reason"), NOT_QUALIFYING, ids=[c[0] for c in NOT_QUALIFYING])
def test_not_qualifying(what, d, reason, run):
    spec = vssim.StreamSpec.from_dict(d)
    why = why_not(spec)
    assert why is not None
    assert reason in why and "\n" not in why
    with pytest.raises(SpecError) as e:
        run(d, horizon=50, engine="fast")
    assert e.value.path == "sim.engine"
    assert reason in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith("sim.engine: ")
    r = run(d, horizon=50, engine="auto")
    assert r.summary["sim"]["engine"] == "simpy"


def test_auto_picks_fast_when_it_qualifies(run):
    r = run(BASE, horizon=200, engine="auto", seed=3)
    assert r.summary["sim"]["engine"] == "fast"
    s = run(BASE, horizon=200, engine="simpy", seed=3)
    assert s.summary["sim"]["engine"] == "simpy"
    assert_same_records(s.records[0], r.records[0])


def test_unknown_engine_names_the_choices(run):
    with pytest.raises(SpecError, match="sim.engine: must be one of simpy, fast, auto"):
        run(BASE, horizon=10, engine="warp")


def test_event_log_when_keys_do_not_fit(run):
    """Times spanning more floats than a key holds: the counters come from a sort, still causal."""
    d = {"name": "span", "arrivals": {"process": "trace", "times": [1e-300, 1.0, 1.0, 2.5]},
         "pools": {"a": 2, "b": 1},
         "steps": {"one": {"pool": "a", "work": {"dist": "deterministic", "value": 1.0}},
                   "two": {"pool": "b", "work": {"dist": "deterministic", "value": 0.5}}}}
    for horizon in (None, 3.0):
        slow = run(d, horizon=horizon, engine="simpy")
        fast = run(d, horizon=horizon, engine="fast")
        rec = fast.records[0]
        assert_same_records(slow.records[0], rec)
        assert_causal_log(rec)
        seqs = np.concatenate([rec.arrival_seq, rec.commit_seq, rec.visit_start_seq, rec.visit_end_seq,
                               rec.done_seq])
        happened = seqs[seqs >= 0]
        assert sorted(happened) == list(range(1, len(happened) + 1))   # dense ranks


@pytest.mark.parametrize("dist", [{"dist": "exponential", "mean": 2.0}, {"dist": "lognormal", "mean": 1.0, "cv": 2.0},
                                  {"dist": "gamma", "mean": 1.0, "cv": 0.3}, {"dist": "gamma", "mean": 1.0, "cv": 3.0},
                                  {"dist": "weibull", "mean": 1.0, "cv": 0.5},
                                  {"dist": "uniform", "low": 1, "high": 2},
                                  {"dist": "triangular", "low": 1, "mode": 2, "high": 4},
                                  {"dist": "pert", "low": 1, "mode": 2, "high": 4},
                                  {"dist": "deterministic", "value": 1.5}])
def test_splittable_distributions_draw_the_same_in_one_call(dist):
    """The fast engine draws SPLITTABLE distributions in one call instead of blocks of 1024."""
    d = parse_distribution(dist, "work")
    assert d.name in SPLITTABLE
    one = d.sample(generator(3, 0, "x"), 3 * BLOCK + 7)
    g = generator(3, 0, "x")
    blocks = np.concatenate([d.sample(g, BLOCK), d.sample(g, 7), d.sample(g, 2 * BLOCK)])
    np.testing.assert_array_equal(one, blocks)


def test_a_run_never_reuses_the_memory_of_live_records():
    """Runs carve their arrays from blocks kept for reuse (`Arena`): a block goes to the next run
    only when nothing refers to the records of the run it served."""
    from vssim.engines.maxplus.memory import Arena

    spec = vssim.StreamSpec.from_dict(line(rate=0.8))
    kept = [run_records("fast", spec, 300.0, 0.0, seed, 0) for seed in range(3)]
    copies = [(r.visit_end.copy(), r.arrival_seq.copy()) for r in kept]
    for seed in range(3, 8):
        run_records("fast", spec, 300.0, 0.0, seed, 0)              # dropped at once: its block is free again
    for r, (end, seq) in zip(kept, copies, strict=True):
        np.testing.assert_array_equal(r.visit_end, end)
        np.testing.assert_array_equal(r.arrival_seq, seq)
    blocks = len(Arena._blocks)
    for seed in range(8, 12):
        run_records("fast", spec, 300.0, 0.0, seed, 0)
    assert len(Arena._blocks) <= blocks                  # dropped runs' blocks were handed out again
    b = run_records("fast", spec, 300.0, 0.0, 0, 0)                 # the same run again: the same numbers
    np.testing.assert_array_equal(b.visit_end, copies[0][0])
    Arena.release()                                      # forgets the kept blocks: the next run allocates
    assert Arena._blocks == []
    c = run_records("fast", spec, 300.0, 0.0, 0, 0)
    np.testing.assert_array_equal(c.visit_end, copies[0][0])
    np.testing.assert_array_equal(b.visit_end, copies[0][0])     # a released block stays with its records


def test_a_trace_whose_clock_rounds_past_a_repeated_time_runs_on_both_engines():
    """0.3 + (0.9 − 0.3) is 0.9 + 1.1e-16: the next gap to the repeated 0.9 rounds below 0, which
    SimPy refuses (a negative delay). Both engines wait 0 instead, the clock never goes back, and
    they agree bit for bit."""
    d = line((1, 1), arrivals={"process": "trace", "times": [0.3, 0.9, 0.9, 0.9, 1.1]})
    spec = vssim.StreamSpec.from_dict(d)
    runs = [vssim.simulate(spec, engine=e, progress=False) for e in ("simpy", "fast")]
    for r in runs:
        arrival = r.records[0].arrival
        assert (np.diff(arrival) >= 0).all() and arrival[1] == arrival[3] and r.summary["metrics"]["completed"] == 5
    assert_same_records(*(r.records[0] for r in runs))
