"""Swarming (issue 14, DESIGN.md §10): `swarm: k` lets up to k people work one item together."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import vssim
from vssim.analysis.summary import summarize
from vssim.analysis.theory import mm1
from vssim.engines.registry import run_records


def spec(steps: dict, pools=None, arrivals=None, **top) -> vssim.StreamSpec:
    return vssim.StreamSpec.from_dict({"name": "swarm", "arrivals": arrivals or {"process": "poisson", "rate": 0.5},
                                       "pools": pools or {"devs": 2}, "steps": steps, **top})


def _half(x) -> float:
    """The half-width of the 99 % t-interval of the mean of x."""
    x = np.asarray(x, dtype=float)
    return float(stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))


# --------------------------------------------------------------------------- theory
@pytest.mark.parametrize("k, overhead, rho", [(3, 0.0, 0.6), (3, 0.25, 0.6), (2, 0.0, 0.8)])
def test_k_people_swarming_one_step_are_the_mm1_of_a_k_times_faster_server(k, overhead, rho):
    """k people, all free whenever an item starts (one step, swarm k): they all start it, so the
    step is one server of rate kμ/(1 + c(k − 1)); lead time 1/(rate − λ) and utilisation λ/rate
    (person-time over k people's time) within the 99 % t-interval over replications."""
    mu = 1.0
    rate = k * mu / (1.0 + overhead * (k - 1))
    lam = rho * rate
    s = spec({"s": {"pool": "devs", "work": {"dist": "exponential", "mean": 1 / mu},
                    "swarm": {"people": k, "overhead": overhead}}},
             pools={"devs": k}, arrivals={"process": "poisson", "rate": lam})
    theory = mm1(lam, rate)
    w, busy = [], []
    for seed in range(16):
        rec = run_records("simpy", s, 10_000.0, warmup=500.0, seed=seed)
        summary = summarize([rec])
        w.append(summary["metrics"]["lead_time"]["mean"])
        busy.append(summary["pools"]["devs"]["utilization"])
        assert summary["steps"]["s"]["utilization"] == pytest.approx(busy[-1])
        # every item had the whole swarm: k - 1 helpers per visit, all from its start
        assert len(rec.helper_visit) == (k - 1) * np.isfinite(rec.visit_start).sum()
        assert np.array_equal(rec.helper_start, rec.visit_start[rec.helper_visit])
    for measured, exact in ((w, theory.w), (busy, theory.rho)):
        assert abs(np.mean(measured) - exact) < _half(measured), (k, overhead, np.mean(measured), exact)


@pytest.mark.parametrize("k, overhead", [(3, 0.0), (3, 0.25), (4, 1.0)])
def test_a_full_swarm_is_one_person_working_faster_on_the_same_random_numbers(k, overhead):
    """The M/M/1 equivalence sample path by sample path: k people who always all start an item
    give the lead times of one person whose work is divided by k / (1 + c(k − 1)), to rounding."""
    work = {"dist": "exponential", "mean": 1.0}
    crew = spec({"s": {"pool": "devs", "work": work, "swarm": {"people": k, "overhead": overhead}}},
                pools={"devs": k}, arrivals={"process": "poisson", "rate": 0.8})
    one = spec({"s": {"pool": [{"pool": "devs", "speed": k / (1.0 + overhead * (k - 1))}], "work": work}},
               pools={"devs": 1}, arrivals={"process": "poisson", "rate": 0.8})
    a, b = run_records("simpy", crew, 5000.0, seed=7), run_records("simpy", one, 5000.0, seed=7)
    assert a.n_items == b.n_items > 3000
    for name in ("done", "visit_start", "visit_end", "visit_work", "touch"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-9, err_msg=name)


# --------------------------------------------------------------------------- exact small cases
def test_a_second_person_who_frees_at_1_halves_the_work_left():
    """Work 4 (deterministic), one person from 0, a second from t = 1 (the pool's schedule): the
    item is done at 1 + 3/2 = 2.5; the visit is the starter's, the helper joined at 1; both busy
    to the end, 4 person-time of 4 people-present-time: utilisation 1."""
    s = spec({"build": {"pool": "devs", "work": {"dist": "deterministic", "value": 4}, "swarm": 2}},
             pools={"devs": {"size": 1, "schedule": [{"at": 1, "size": 2}]}},
             arrivals={"process": "backlog", "count": 1})
    rec = run_records("simpy", s, None)
    assert rec.end == 2.5 and rec.done.tolist() == [2.5]
    assert (rec.visit_start.tolist(), rec.visit_end.tolist(), rec.visit_person.tolist()) == ([0.0], [2.5], [0])
    assert rec.visit_work.tolist() == [2.5] and rec.touch.tolist() == [2.5]     # the time it was worked
    assert (rec.helper_visit.tolist(), rec.helper_person.tolist(), rec.helper_start.tolist(),
            rec.helper_end.tolist()) == ([0], [1], [1.0], [2.5])
    summary = summarize([rec], steady_state=False)
    assert summary["pools"]["devs"]["utilization"] == 1.0 and summary["steps"]["build"]["utilization"] == 1.0
    log = rec.event_log()
    build = log[log["activity"] == "build"]
    assert build[["lifecycle", "timestamp", "resource"]].values.tolist() == [
        ["start", 0.0, "devs/1"], ["start", 1.0, "devs/2"], ["complete", 2.5, "devs/1"], ["complete", 2.5, "devs/2"]]


def test_a_person_who_finishes_elsewhere_joins_before_starting_a_queued_item():
    """Two items at 0: one needs `a` (deterministic 1, y's only), one only `b` (work 4, swarm 2, x and
    y). x starts the `b` item at 0; y does `a` until 1, then joins x at `b` (3 left, rate 2: done at
    2.5) before the item it finished, which queues at b; at 2.5 x starts that one, y joins: 4.5."""
    s = spec({"a": {"pool": "y", "work": {"dist": "deterministic", "value": 1}, "types": ["full"]},
              "b": {"pool": ["x", "y"], "work": {"dist": "deterministic", "value": 4}, "swarm": 2}},
             pools={"x": 1, "y": 1}, arrivals={"process": "trace", "times": [{"time": 0, "type": "full"},
                                                                              {"time": 0, "type": "only_b"}]},
             item_types={"full": {"share": 0.5}, "only_b": {"share": 0.5}})
    rec = run_records("simpy", s, None)
    assert rec.done.tolist() == [4.5, 2.5]
    b = rec.visit_step == 1
    assert rec.visit_item[b].tolist() == [0, 1]
    assert rec.visit_start[b].tolist() == [2.5, 0.0] and rec.visit_end[b].tolist() == [4.5, 2.5]
    assert rec.visit_person[b].tolist() == [0, 0]                    # x started both
    assert rec.helper_person.tolist() == [1, 1] and rec.helper_start.tolist() == [2.5, 1.0]
    summary = summarize([rec], steady_state=False)
    assert summary["pools"]["x"]["utilization"] == pytest.approx(4.5 / 4.5)
    assert summary["pools"]["y"]["utilization"] == pytest.approx((1 + 1.5 + 2) / 4.5)


@pytest.mark.parametrize("dispatch, first, joined", [("downstream_first", "ta", "b"), ("upstream_first", "ta", "a"),
                                                     ("fifo", "ta", "a"), ("fifo", "tb", "b")])
def test_a_person_who_frees_up_joins_the_crew_its_dispatch_rule_points_to(dispatch, first, joined):
    """x works only `a`, y only `b`, z `c` (work 1) and both others; work 4 at a and b, swarm 3. At 0 z
    starts the `c` item, x the `a` item, y the `b` item (in the order `first`), each alone; at 1 z
    joins one crew: the downstream step's (downstream_first), the upstream one's (upstream_first),
    the one that started first (fifo). That item is done at 1 + 3/2 = 2.5; then z joins the other,
    which has 4 − 2.5 left: done at 2.5 + 1.5/2 = 3.25."""
    work = {"dist": "deterministic", "value": 4}
    s = spec({"a": {"pool": ["x", "z"], "work": work, "swarm": 3, "types": ["ta"]},
              "b": {"pool": ["y", "z"], "work": work, "swarm": 3, "types": ["tb"]},
              "c": {"pool": "z", "work": {"dist": "deterministic", "value": 1}, "types": ["tc"]}},
             pools={"x": 1, "y": 1, "z": {"size": 1, "dispatch": dispatch}},
             arrivals={"process": "trace", "times": [{"time": 0, "type": "tc"}, {"time": 0, "type": first},
                                                     {"time": 0, "type": "tb" if first == "ta" else "ta"}]},
             item_types={"ta": {"share": 0.3}, "tb": {"share": 0.3}, "tc": {"share": 0.4}})
    rec = run_records("simpy", s, None)
    done = {s.step_names[rec.visit_step[v]]: rec.visit_end[v] for v in range(len(rec.visit_item))}
    other = "b" if joined == "a" else "a"
    assert done == {"c": 1.0, joined: 2.5, other: 3.25}
    assert rec.person_pool[rec.helper_person].tolist() == [2, 2]
    assert {s.step_names[k]: t for k, t in zip(rec.helper_step, rec.helper_start, strict=True)} == {joined: 1.0,
                                                                                                     other: 2.5}


def test_speeds_count_per_person_and_the_overhead_slows_the_crew():
    """Work 6; a dev (speed 1) and a tester (speed 0.5) from 0, overhead 0.5: rate 1.5/1.5 = 1, done at 6;
    without the overhead 1.5: done at 4."""
    for overhead, done in ((0.5, 6.0), (0.0, 4.0)):
        s = spec({"s": {"pool": ["devs", {"pool": "testers", "speed": 0.5}],
                        "work": {"dist": "deterministic", "value": 6},
                        "swarm": {"people": 3, "overhead": overhead}}},
                 pools={"devs": 1, "testers": 1}, arrivals={"process": "backlog", "count": 1})
        rec = run_records("simpy", s, None)
        assert rec.done.tolist() == [done] and rec.helper_person.tolist() == [1]


def test_swarm_1_and_a_stream_without_swarm_keep_the_sample_path_bit_for_bit():
    steps = {"a": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.5}},
             "b": {"pool": "devs", "work": {"dist": "lognormal", "mean": 1.0, "cv": 0.5}, "rework":
                   {"probability": 0.2, "to": "a"}}}
    plain = run_records("simpy", spec(steps), 3000.0, seed=4)
    one = run_records("simpy", spec({**steps, "a": {**steps["a"], "swarm": 1}}), 3000.0, seed=4)
    for name in ("arrival", "done", "touch", "visit_start", "visit_end", "visit_person", "visit_work"):
        assert np.array_equal(getattr(plain, name), getattr(one, name), equal_nan=True), name
    assert len(one.helper_visit) == 0


@pytest.mark.parametrize("flush", [7, 8192])
def test_streaming_gives_the_full_run_s_utilisation(monkeypatch, flush):
    """Flushing every 7 items reuses slots and compacts visits (and helpers) many times a run."""
    from vssim.analysis.streaming import RunStats

    monkeypatch.setattr(RunStats, "flush_every", flush)
    s = spec({"a": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0}, "swarm": 2},
              "b": {"pool": "devs", "work": {"dist": "exponential", "mean": 0.5}}},
             pools={"devs": 3}, arrivals={"process": "poisson", "rate": 1.0})
    full = vssim.simulate(s, horizon=5_000.0, warmup=200.0, seed=2, progress=False)
    streaming = vssim.simulate(s, horizon=5_000.0, warmup=200.0, seed=2, stats="streaming", progress=False)
    for part in ("pools", "steps"):
        for name, entry in full.summary[part].items():
            assert streaming.summary[part][name]["utilization"] == pytest.approx(entry["utilization"], rel=1e-9)
    assert streaming.summary["metrics"]["lead_time"]["mean"] == pytest.approx(
        full.summary["metrics"]["lead_time"]["mean"], rel=1e-9)


def test_a_team_s_swarm_counts_its_helpers_in_the_team_s_utilisation():
    """A team whose one step swarms: its step's and pool's utilisation in `teams` are its people's
    person-time (starters' and helpers') over 3 people x the window, from the records by hand."""
    s = vssim.StreamSpec.from_dict({
        "name": "t", "arrivals": {"process": "poisson", "rate": 0.3}, "pools": {"pm": 1},
        "teams": {"web": {"pools": {"devs": 3},
                          "steps": {"build": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0},
                                              "swarm": 3}}}},
        "steps": {"refine": {"pool": "pm", "work": {"dist": "exponential", "mean": 1.0}},
                  "impl": {"split": {"into": "story", "teams": {"web": {"count": 3}}}}}})
    r = vssim.simulate(s, horizon=3000.0, warmup=100.0, seed=1, progress=False)
    rec = r.records[0]
    web = rec.visit_step == 2
    end = np.where(np.isnan(rec.visit_end), rec.end, rec.visit_end)
    busy = np.nansum((np.minimum(end, rec.end) - np.maximum(rec.visit_start, rec.warmup)).clip(0)[web])  # NaN: queued
    hend = np.where(np.isnan(rec.helper_end), rec.end, rec.helper_end)
    busy += (hend - np.maximum(rec.helper_start, rec.warmup)).clip(0).sum()
    assert len(rec.helper_visit) > 1000 and (rec.helper_step == 2).all()
    expected = busy / (3 * (rec.end - rec.warmup))
    assert r.summary["teams"]["web"]["steps"]["build"]["utilization"] == pytest.approx(expected, rel=1e-9)
    assert r.summary["pools"]["web/devs"]["utilization"] == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- invariants
@st.composite
def swarming_streams(draw):
    n = draw(st.integers(1, 3))
    pools = {f"p{j}": draw(st.integers(1, 3)) for j in range(draw(st.integers(1, 2)))}
    names = list(pools)
    steps = {}
    for k in range(n):
        listed = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        pool = [p if draw(st.booleans()) else {"pool": p, "speed": draw(st.sampled_from([0.5, 1.0, 2.0]))}
                for p in listed]
        steps[f"s{k}"] = {"pool": pool, "work": {"dist": draw(st.sampled_from(["exponential", "deterministic"])),
                                                 "mean": draw(st.sampled_from([0.5, 1.0, 2.0]))},
                          "swarm": {"people": draw(st.integers(1, 4)),
                                    "overhead": draw(st.sampled_from([0.0, 0.3]))},
                          "wip_limit": draw(st.sampled_from([None, 2, 4]))}
        if draw(st.booleans()):             # (to the same step: rework to an earlier full column may jam)
            steps[f"s{k}"]["rework"] = {"probability": 0.3, "to": f"s{k}"}
    dispatch = draw(st.sampled_from(["downstream_first", "upstream_first", "fifo"]))
    pools = {p: {"size": c, "dispatch": dispatch} for p, c in pools.items()}
    for p in pools:                          # capacity over time: leavers stay on their crew to its end
        if draw(st.booleans()):
            times = sorted(draw(st.lists(st.sampled_from([20.0, 50.0, 90.0, 150.0]), min_size=1, max_size=3,
                                         unique=True)))
            pools[p]["schedule"] = [{"at": t, "size": draw(st.integers(0 if t != times[-1] else 1, 4))}
                                    for t in times]     # (nobody for good: the stream would stop)
    return spec(steps, pools=pools, arrivals={"process": "poisson", "rate": draw(st.sampled_from([0.3, 0.8]))})


def _intervals(rec):
    """Each person's work intervals: (person, start, end, visit), the starters' and the helpers'."""
    end = np.where(np.isnan(rec.visit_end), rec.end, rec.visit_end)
    started = np.flatnonzero(rec.visit_person >= 0)
    rows = [(int(rec.visit_person[v]), rec.visit_start[v], end[v], int(v)) for v in started]
    hend = np.where(np.isnan(rec.helper_end), rec.end, rec.helper_end)
    rows += [(int(g), s, e, int(v)) for g, s, e, v in zip(rec.helper_person, rec.helper_start, hend,
                                                           rec.helper_visit, strict=True)]
    return rows


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(swarming_streams(), st.integers(0, 3))
def test_a_crew_never_exceeds_its_swarm_a_person_works_one_item_at_a_time_nothing_is_lost(s, seed):
    rec = run_records("simpy", s, 300.0, seed=seed)
    swarm = [st_.swarm for st_ in s.steps.values()]
    # never more than k people on an item: the starter and at most k - 1 helpers per visit
    helpers = np.bincount(rec.helper_visit, minlength=len(rec.visit_item))
    assert (helpers + 1 <= np.array(swarm)[rec.visit_step]).all()
    # helpers are people of the step's pools, who joined after the start and before the end
    pools = [[list(s.pools).index(p) for p in st_.pools] for st_ in s.steps.values()]
    for g, k in zip(rec.helper_person, rec.helper_step, strict=True):
        assert rec.person_pool[g] in pools[k]
    assert (rec.helper_start >= rec.visit_start[rec.helper_visit]).all()
    assert np.array_equal(rec.helper_end, rec.visit_end[rec.helper_visit], equal_nan=True)
    assert (rec.helper_person != rec.visit_person[rec.helper_visit]).all()
    # a person is never on two items at once
    by_person: dict[int, list] = {}
    for g, a, b, _ in _intervals(rec):
        by_person.setdefault(g, []).append((a, b))
    for spans in by_person.values():
        spans.sort()
        for (_, b0), (a1, _) in itertools.pairwise(spans):
            assert a1 >= b0 - 1e-9
    # nobody starts or joins while off their pool's schedule (at a change: the size before or after)
    first = {p: int(np.flatnonzero(rec.person_pool == j)[0]) for j, p in enumerate(s.pools)}
    for g, a, _, _ in _intervals(rec):
        pool = s.pools[list(s.pools)[rec.person_pool[g]]]
        sizes = [pool.size] + [n for t, n in pool.schedule if t <= a]
        before = [pool.size] + [n for t, n in pool.schedule if t < a]
        assert g - first[pool.name] < max(sizes[-1], before[-1])
    # nothing lost: every item committed is done or still in a column; touch is the visits' work
    committed = np.isfinite(rec.commit)
    last_visit = np.zeros(rec.n_items, dtype=bool)
    last_visit[rec.visit_item] = True
    assert (last_visit == committed).all()
    done = np.isfinite(rec.done)
    assert np.isfinite(rec.visit_end[done[rec.visit_item]]).all()
    last = np.full(rec.n_items, -1)
    last[rec.visit_item] = np.arange(len(rec.visit_item))        # each item's visits come in order
    assert np.array_equal(rec.visit_leave[last[done]], rec.done[done])
    np.testing.assert_allclose(np.bincount(rec.visit_item, weights=rec.visit_work, minlength=rec.n_items),
                               rec.touch, rtol=1e-9, atol=1e-9)
    # the same seed, the same run
    again = run_records("simpy", s, 300.0, seed=seed)
    for name in ("done", "visit_start", "visit_end", "helper_person", "helper_start"):
        assert np.array_equal(getattr(rec, name), getattr(again, name), equal_nan=True), name


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("swarm, pools, message", [
    (0, None, "steps.s.swarm: must be a positive integer <= 1000000 or {people: K, overhead: C}, got 0"),
    (1.5, None, "steps.s.swarm: must be a positive integer <= 1000000 or {people: K, overhead: C}, got 1.5"),
    ("all", None, "steps.s.swarm: must be a positive integer <= 1000000 or {people: K, overhead: C}, got 'all'"),
    ({"overhead": 0.1}, None, "steps.s.swarm.people: required"),
    ({"people": 2, "overhead": -1}, None, "steps.s.swarm.overhead: must be a number >= 0 and <= 1000, got -1"),
    ({"people": 2, "cost": 1}, None, "steps.s.swarm.cost: unknown key; allowed: people, overhead"),
    (2, {"devs": {"size": 2, "switch_cost": {"dist": "deterministic", "value": 1}}},
     "steps.s.swarm: must be 1 while pool devs has switch_cost, got 2"),
    (2, {"devs": {"size": 2, "interruptions": {"rate": 0.1, "duration": {"dist": "deterministic", "value": 1}}}},
     "steps.s.swarm: must be 1 while pool devs has interruptions, got 2"),
])
def test_a_bad_swarm_is_refused_in_one_line(swarm, pools, message):
    with pytest.raises(vssim.SpecError) as info:
        spec({"s": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0}, "swarm": swarm}}, pools=pools)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_the_fast_engine_refuses_swarm_in_one_line():
    s = spec({"s": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0}, "swarm": 2}})
    with pytest.raises(vssim.SpecError) as info:
        vssim.simulate(s, horizon=100.0, engine="fast", progress=False)
    assert "steps.s.swarm: 2 people on one item" in str(info.value) and "\n" not in str(info.value)


def test_the_offered_load_counts_the_overhead_of_a_full_swarm():
    base = {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0}}
    plain = spec({"s": base}, pools={"devs": 3}).offered_load()["devs"]
    free = spec({"s": {**base, "swarm": 3}}, pools={"devs": 3}).offered_load()["devs"]
    slow = spec({"s": {**base, "swarm": {"people": 5, "overhead": 0.5}}}, pools={"devs": 3}).offered_load()["devs"]
    assert free == plain and slow == pytest.approx(plain * 2.0)     # 1 + 0.5 (3 - 1): the pool has 3


def test_the_run_size_counts_a_full_swarm_s_joins():
    from vssim.model.settings import RunSize

    base = {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0}}
    plain = RunSize.of(spec({"s": base}, pools={"devs": 3}), 1000.0)
    crew = RunSize.of(spec({"s": {**base, "swarm": 5}}, pools={"devs": 3}), 1000.0)
    assert plain.joins == 0.0 and crew.joins == 2.0            # 3 people: 2 join each item
    assert crew.events == plain.events + 2.0 * plain.items
    assert "1000 swarm joins" in crew.refusal(1, 10.0, 1000.0)


def test_merged_steps_swarm_as_the_largest_crew_of_their_steps():
    from vssim.scenarios.transforms import apply_transform

    stream = {"name": "m", "arrivals": {"process": "poisson", "rate": 0.3}, "pools": {"devs": 3},
              "steps": {"a": {"pool": "devs", "work": 1.0, "swarm": {"people": 3, "overhead": 0.2}},
                        "b": {"pool": "devs", "work": 1.0, "swarm": 2}, "c": {"pool": "devs", "work": 1.0}}}
    out = apply_transform(stream, {"op": "merge_steps", "steps": ["a", "b"]})
    merged = vssim.StreamSpec.from_dict(out).steps["a_b"]
    assert (merged.swarm, merged.overhead) == (3, 0.2)
    out = apply_transform(stream, {"op": "merge_steps", "steps": ["b", "c"], "name": "bc"})
    assert vssim.StreamSpec.from_dict(out).steps["bc"].swarm == 2
