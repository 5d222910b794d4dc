"""People and skills (issue 14, DESIGN.md §10): pools that work a step at a speed of their own."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import vssim
from vssim.engines.registry import run_records
from vssim.model.spec import DISPATCH_RULES


def stream(pool, mean: float = 2.0, pools=None) -> vssim.StreamSpec:
    return vssim.StreamSpec.from_dict({
        "name": "speed", "arrivals": {"process": "poisson", "rate": 0.5}, "pools": pools or {"q": 1, "r": 1},
        "steps": {"a": {"pool": pool, "work": {"dist": "exponential", "mean": mean}},
                  "b": {"pool": "r", "work": {"dist": "lognormal", "mean": 0.5, "cv": 0.5}}}})


def test_a_pool_at_speed_s_is_the_same_stream_with_work_divided_by_s():
    """Same random numbers: each work time is the draw x size ÷ s, to rounding."""
    fast = run_records("simpy", stream([{"pool": "q", "speed": 2.5}]), 3000.0, seed=3)
    plain = run_records("simpy", stream("q", mean=2.0 / 2.5), 3000.0, seed=3)
    assert fast.n_items == plain.n_items and len(fast.visit_item) == len(plain.visit_item)
    for name in ("visit_start", "visit_end", "visit_work"):
        np.testing.assert_allclose(getattr(fast, name), getattr(plain, name), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.done, plain.done, rtol=1e-9, atol=1e-9)


def test_speed_one_written_out_keeps_the_sample_path_bit_for_bit():
    a = run_records("simpy", stream([{"pool": "q", "speed": 1}]), 2000.0, seed=1)
    b = run_records("simpy", stream("q"), 2000.0, seed=1)
    for name in ("arrival", "done", "visit_start", "visit_end", "visit_person"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


def test_each_pool_of_a_step_works_it_at_its_own_speed():
    """Devs at speed 1 first, a tester at 0.5: the tester's visits take twice the draw."""
    spec = stream(["q", {"pool": "r", "speed": 0.5}], pools={"q": 1, "r": 2})
    rec = run_records("simpy", spec, 2000.0, seed=2)
    a = rec.visit_step == 0
    tester = np.isin(rec.visit_person, np.flatnonzero(rec.person_pool == 1)) & a
    dev = np.isin(rec.visit_person, np.flatnonzero(rec.person_pool == 0)) & a
    assert tester.sum() > 50 and dev.sum() > 50
    same = vssim.StreamSpec.from_dict({**spec.source, "steps": {**spec.source["steps"],
                                       "a": {**spec.source["steps"]["a"], "pool": ["q", "r"]}}})
    assert same.steps["a"].speeds is None
    assert spec.steps["a"].speed("r") == 0.5 and spec.steps["a"].speed("q") == 1.0
    # each visit's work is its item's draw x size ÷ the speed of whoever did it
    assert np.allclose((rec.visit_end - rec.visit_start)[tester], rec.visit_work[tester])
    loads = spec.offered_load()
    assert loads["r"] > vssim.StreamSpec.from_dict(same.source).offered_load()["r"]


@pytest.mark.parametrize("pool, message", [
    ([{"pool": "q", "speed": 0}], "steps.a.pool.0.speed: must be a number >= 0.001 and <= 1000, got 0"),
    ([{"pool": "x"}], "steps.a.pool.0.pool: must be one of the pools q, r, got 'x'"),
    ([{"pool": "q", "sped": 1}], "steps.a.pool.0.sped: unknown key; allowed: pool, speed"),
    ([{"pool": "q"}, "q"], "steps.a.pool: must be a list without repeated pools, got ['q', 'q']"),
    ({"pool": "q", "speed": 2}, "steps.a.pool: must be a pool name or a list of pool names and {pool: NAME, "
                                "speed: S}"),
])
def test_a_bad_speed_is_refused_in_one_line(pool, message):
    with pytest.raises(vssim.SpecError) as info:
        stream(pool)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_the_fast_engine_refuses_speeds_in_one_line():
    with pytest.raises(vssim.SpecError) as info:
        vssim.simulate(stream([{"pool": "q", "speed": 2.0}]), horizon=100.0, engine="fast", progress=False)
    assert "steps.a.pool: q works it at speed 2" in str(info.value)


@pytest.mark.parametrize("pick, done, pools", [("order", [1.0, 0.5], [0, 1]), ("fastest", [0.5, 1.0], [1, 0])])
def test_pick_fastest_starts_a_workable_item_with_the_fastest_free_person(pick, done, pools):
    """q (speed 1) is first in the list, r works the step twice as fast; two items at 0, work 1.
    `order`: the first item to q (done at 1), the second to r (done at 0.5); `fastest`: the first
    to r (0.5), the second to q (1)."""
    spec = vssim.StreamSpec.from_dict({
        "name": "pick", "arrivals": {"process": "trace", "times": [0.0, 0.0]}, "pools": {"q": 1, "r": 1},
        "steps": {"a": {"pool": ["q", {"pool": "r", "speed": 2.0}], "work": 1.0, "pick": pick}}})
    rec = run_records("simpy", spec, None)
    assert rec.done.tolist() == done
    assert rec.person_pool[rec.visit_person].tolist() == pools


# --------------------------------------------------------------------------- own skill first
def _three_steps(speed_y: float, dispatch: str, types: list[str]) -> vssim.StreamSpec:
    """One person of pool A works x, y and z (work 1 each) in board order, y at `speed_y`; items of
    `types` arrive at 0, each visiting one step (its type's)."""
    return vssim.StreamSpec.from_dict({
        "name": "own", "arrivals": {"process": "trace", "times": [{"time": 0, "type": t} for t in types]},
        "pools": {"A": {"size": 1, "dispatch": dispatch}},
        "item_types": {t: {"share": 1 / 3} for t in ("tx", "ty", "tz")},
        "steps": {k: {"pool": [{"pool": "A", "speed": speed_y if k == "y" else 1.0}], "work": 1.0, "types": [f"t{k}"]}
                  for k in ("x", "y", "z")}})


@pytest.mark.parametrize("speed_y, dispatch, done", [
    (0.5, "downstream_first", [1, 5, 3, 2]), (0.5, "upstream_first", [1, 5, 2, 3]), (0.5, "fifo", [1, 5, 2, 3]),
    (1.0, "downstream_first", [1, 3, 4, 2]), (1.0, "upstream_first", [1, 3, 2, 4]), (1.0, "fifo", [1, 2, 3, 4])])
def test_a_person_who_frees_up_takes_their_own_skill_s_work_first(speed_y, dispatch, done):
    """A starts the x item at 0; the y, x and z items queue (in that order). At 1 A is free, with an
    item queued at each step. At y's half speed A takes x's and z's first, in the dispatch order
    (downstream_first: z then x; upstream_first: x then z; fifo: the older first, x), whatever that
    rule says of y, and y's last (done at 3 + 1/0.5 = 5). At equal speeds, the dispatch rule alone:
    z, y, x; x, y, z; and fifo the oldest, y."""
    spec = _three_steps(speed_y, dispatch, ["tx", "ty", "tx", "tz"])
    plan = vssim.model.plan.Plan.of(spec)
    order = {"downstream_first": [2, 1, 0], "upstream_first": [0, 1, 2], "fifo": [0, 1, 2]}[dispatch]
    if speed_y < 1:
        assert plan.pool_tiers[0] == [[k for k in order if k != 1], [1]]
    else:
        assert plan.pool_tiers[0] == [order]
    assert plan.pool_steps[0] == [k for tier in plan.pool_tiers[0] for k in tier]
    rec = run_records("simpy", spec, None)
    assert rec.done.tolist() == done


@pytest.mark.parametrize("speed_a, done", [(0.5, [1.0, 2.0 + 2 / 1.5, 2.0]), (1.0, [1.0, 2.5, 3.5])])
def test_a_person_who_frees_up_joins_a_crew_of_their_own_skill_first(speed_a, done):
    """x starts the `a` item (work 4, swarm 2) at 0 alone, z the `c` item (work 1); the `b` item
    (work 1) queues. z works b and c at speed 1 and a at `speed_a`. At 1 z is free: at half speed z
    starts b's queued item (own skill first, done at 2), then joins a (2 left at rate 1.5); at equal
    speeds z joins a first (a crew before a queued item: 3 left at rate 2, done at 2.5), then b."""
    spec = vssim.StreamSpec.from_dict({
        "name": "own", "arrivals": {"process": "trace", "times": [{"time": 0, "type": t} for t in ("tc", "ta", "tb")]},
        "pools": {"x": 1, "z": 1},
        "item_types": {t: {"share": 1 / 3} for t in ("ta", "tb", "tc")},
        "steps": {"a": {"pool": ["x", {"pool": "z", "speed": speed_a}], "work": 4.0, "swarm": 2, "types": ["ta"]},
                  "b": {"pool": "z", "work": 1.0, "types": ["tb"]},
                  "c": {"pool": "z", "work": 1.0, "types": ["tc"]}}})
    rec = run_records("simpy", spec, None)
    assert rec.done.tolist() == pytest.approx(done)


@st.composite
def _skilled_stream(draw) -> vssim.StreamSpec:
    """2 to 4 steps, each worked by one or two of 2 or 3 pools at speeds 0.5, 1 or 2, any dispatch rule."""
    pools = {f"p{i}": {"size": draw(st.integers(1, 2)), "dispatch": draw(st.sampled_from(DISPATCH_RULES))}
             for i in range(draw(st.integers(2, 3)))}
    names = list(pools)
    steps = {}
    for j in range(draw(st.integers(2, 4))):
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        steps[f"s{j}"] = {"pool": [{"pool": p, "speed": draw(st.sampled_from([0.5, 1.0, 2.0]))} for p in chosen],
                          "work": {"dist": "exponential", "mean": draw(st.sampled_from([0.5, 1.0]))}}
    return vssim.StreamSpec.from_dict({"name": "skills", "pools": pools, "steps": steps,
                                       "arrivals": {"process": "poisson", "rate": draw(st.sampled_from([0.5, 1.0]))}})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_skilled_stream(), st.integers(0, 2**16))
def test_nobody_starts_slower_work_while_work_of_their_own_skill_waits(spec, seed):
    """Whenever a person starts an item at a step, no item waits (workable before, still unstarted
    after) at a step where their pool is faster: own skill first, whatever the dispatch rule."""
    plan = vssim.model.plan.Plan.of(spec)
    rec = run_records("simpy", spec, 150.0, seed=seed)
    pool = rec.person_pool[rec.visit_person[np.isfinite(rec.visit_start)]]
    started = np.flatnonzero(np.isfinite(rec.visit_start))
    ready, start = rec.visit_ready, np.where(np.isfinite(rec.visit_start), rec.visit_start, np.inf)

    def speed(k: int, p: int) -> float:
        return 1.0 if plan.step_speed[k] is None else plan.step_speed[k].get(p, 0.0)

    for v, p in zip(started, pool, strict=True):
        t, k = rec.visit_start[v], rec.visit_step[v]
        faster = [j for j in plan.pool_steps[p] if speed(j, p) > speed(k, p)]
        waiting = np.isin(rec.visit_step, faster) & (ready < t - 1e-9) & (start > t + 1e-9)
        assert not waiting.any(), (spec.source, v, t, k, p)


# --------------------------------------------------------------------------- capacity over time
def scheduled(schedule, size: int = 1, rate: float = 0.5, work=None) -> vssim.StreamSpec:
    return vssim.StreamSpec.from_dict({
        "name": "sched", "arrivals": {"process": "poisson", "rate": rate},
        "pools": {"q": {"size": size, "schedule": schedule}},
        "steps": {"s": {"pool": "q", "work": work or {"dist": "exponential", "mean": 1.0}}}})


def test_a_leaver_finishes_the_item_in_hand_and_a_joiner_takes_the_queue():
    """Work 4 each, items at 0, 1, 2. One person until 1, then two, none from 5, one from 9.
    Person 0 starts item 0 at 0 (done 4); person 1 joins at 1 and starts item 1 (done 5); item 2
    queues at 2 and person 0 takes it at 4; at 5 both leave: person 1 at once, person 0 once item 2
    is done at 8 (the item in hand is finished)."""
    spec = vssim.StreamSpec.from_dict({
        "name": "hand", "arrivals": {"process": "trace", "times": [0.0, 1.0, 2.0]},
        "pools": {"q": {"size": 1, "schedule": [{"at": 1, "size": 2}, {"at": 5, "size": 0}, {"at": 9, "size": 1}]}},
        "steps": {"s": {"pool": "q", "work": 4.0}}})
    rec = run_records("simpy", spec, None)
    assert rec.visit_start.tolist() == [0.0, 1.0, 4.0] and rec.done.tolist() == [4.0, 5.0, 8.0]
    assert rec.visit_person.tolist() == [0, 1, 0]


def test_before_and_after_a_change_of_capacity_the_queue_is_mm1_then_mm2():
    from vssim.analysis.theory import mmc

    change, end = 20_000.0, 40_000.0
    waits = {1: [], 2: []}
    for seed in range(6):
        rec = run_records("simpy", scheduled([{"at": change, "size": 2}]), end, seed=seed)
        lead = rec.done - rec.arrival
        for c, (lo, hi) in {1: (1_000.0, change - 100.0), 2: (change + 1_000.0, end - 100.0)}.items():
            keep = (rec.arrival >= lo) & (rec.arrival < hi) & np.isfinite(lead)
            waits[c].append(lead[keep].mean())
    for c, x in waits.items():
        x = np.array(x)
        half = stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))     # the 99 % interval
        assert abs(x.mean() - mmc(0.5, 1.0, c).w) < half, (c, x.mean(), half)


def test_capacity_that_returns_gives_the_long_run_figures_of_no_change():
    """Two people for a while, then one again: long after, the same figures as one person all along."""
    back, plain = [], []
    for seed in range(4):
        for out, spec in ((back, scheduled([{"at": 500, "size": 2}, {"at": 1000, "size": 1}])),
                          (plain, scheduled(None))):
            rec = run_records("simpy", spec, 30_000.0, seed=seed)
            keep = (rec.arrival > 3_000.0) & np.isfinite(rec.done)
            out.append((rec.done - rec.arrival)[keep].mean())
    d = np.array(back) - np.array(plain)                        # paired: the same arrivals and work
    assert abs(d.mean()) <= stats.t.ppf(0.995, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))


def test_utilisation_counts_the_people_present():
    for stats_kind in ("full", "streaming"):
        r = vssim.simulate(scheduled([{"at": 100, "size": 2}]), horizon=10_100.0, warmup=100.0, stats=stats_kind,
                           progress=False)
        busy = r.summary["pools"]["q"]["utilization"]
        assert abs(busy - 0.25) < 0.02                              # λ/(2μ): two people after 100
        assert r.summary["steps"]["s"]["utilization"] == pytest.approx(busy)   # the step's only pool


@pytest.mark.parametrize("schedule, message", [
    ([{"at": 5, "size": 2}, {"at": 5, "size": 1}], "pools.q.schedule.1.at: must be a time after the one before (5)"),
    ([{"at": 0, "size": 2}], "pools.q.schedule.0.at: must be a number"),
    ([{"at": 5}], "pools.q.schedule.0.size: required"),
    ([{"at": 5, "size": -1}], "pools.q.schedule.0.size: must be a non-negative integer <= 1000000, got -1"),
    ({"at": 5, "size": 1}, "pools.q.schedule: must be a non-empty list of {at: TIME, size: PEOPLE}, or null"),
])
def test_a_bad_schedule_is_refused_in_one_line(schedule, message):
    with pytest.raises(vssim.SpecError) as info:
        scheduled(schedule)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- two people, two speeds
@pytest.mark.parametrize("pick", ["order", "fastest"])
@pytest.mark.parametrize("rho", [0.3, 0.6])
def test_two_people_of_two_speeds_are_the_heterogeneous_mm2(pick, rho):
    """Pool a works the step at half speed and is listed first, pool b at full speed; one person
    each, exponential work of mean 1: the M/M/2 with rates 0.5 and 1 under the rule `pick`
    (vssim.analysis.theory.mm2_heterogeneous), W and each pool's share of the items, within the
    99 % t-interval over replications."""
    from vssim.analysis.theory import mm2_heterogeneous

    lam = rho * 1.5
    theory = mm2_heterogeneous(lam, 0.5, 1.0, rule=pick)
    spec = vssim.StreamSpec.from_dict({
        "name": "two", "arrivals": {"process": "poisson", "rate": lam}, "pools": {"a": 1, "b": 1},
        "steps": {"s": {"pool": [{"pool": "a", "speed": 0.5}, "b"], "work": {"dist": "exponential", "mean": 1.0},
                        "pick": pick}}})
    w, share = [], []
    for seed in range(8):
        rec = run_records("simpy", spec, 20_000.0, warmup=0.0, seed=seed)
        keep = (rec.arrival > 500.0) & np.isfinite(rec.done)
        w.append((rec.done - rec.arrival)[keep].mean())
        share.append((rec.person_pool[rec.visit_person[keep[rec.visit_item]]] == 0).mean())
    for measured, exact in ((np.array(w), theory.w), (np.array(share), theory.share[0])):
        half = stats.t.ppf(0.995, len(measured) - 1) * measured.std(ddof=1) / np.sqrt(len(measured))
        assert abs(measured.mean() - exact) < half, (pick, rho, measured.mean(), exact, half)
    other = mm2_heterogeneous(lam, 0.5, 1.0, rule="fastest" if pick == "order" else "order")
    assert abs(np.mean(share) - other.share[0]) > 3 * half       # the test tells the two rules apart


# --------------------------------------------------------------------------- scenarios keep speeds
CONFIGS = __import__("pathlib").Path(__file__).resolve().parents[1] / "configs"


def _skilled() -> dict:
    """dvs_basic where testers help build at half speed and developers validate at 0.8."""
    spec = vssim.load_stream(CONFIGS / "stream" / "dvs_basic.yaml")
    d = __import__("copy").deepcopy(spec.source)
    d["steps"]["build"]["pool"] = ["devs", {"pool": "testers", "speed": 0.5}]
    d["steps"]["validate"]["pool"] = ["testers", {"pool": "devs", "speed": 0.8}]
    return d


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONFIGS / "scenario").glob("*.yaml")))
def test_every_shipped_scenario_runs_on_a_stream_with_speeds(name):
    from vssim.scenarios.scenario import load_scenario

    scenario = load_scenario(CONFIGS / "scenario" / f"{name}.yaml")
    try:
        out = scenario.apply(vssim.StreamSpec.from_dict(_skilled()))
    except vssim.SpecError as e:                  # a refusal must be one line naming the field
        assert "\n" not in str(e) and ":" in str(e)
        return
    assert vssim.StreamSpec.from_dict(out.to_dict()) == out


def test_merged_pools_work_a_step_at_their_best_speed_and_renamed_pools_keep_theirs():
    from vssim.scenarios.transforms import apply_transform

    out = apply_transform(_skilled(), {"op": "merge_pools", "pools": ["devs", "testers"], "name": "team",
                                       "speed": 1})
    assert out["steps"]["build"]["pool"] == "team" and out["steps"]["validate"]["pool"] == "team"
    out = apply_transform(_skilled(), {"op": "merge_pools", "pools": ["analysts", "devs"], "name": "makers",
                                       "speed": 1})
    assert out["steps"]["build"]["pool"] == ["makers", {"pool": "testers", "speed": 0.5}]
    assert out["steps"]["validate"]["pool"] == ["testers", {"pool": "makers", "speed": 0.8}]


KAIKAKU = ("cross_functional_team", "value_stream_team", "split_by_type", "stream_aligned_teams")
"""The presets that reorganise people (configs/scenario/)."""


def _people_by_skill(spec: vssim.StreamSpec) -> dict[str, int]:
    """People per pool of each board, a team's named TEAM/POOL (component teams: their skills)."""
    return {f"{b}/{p}" if b else p: pool.size for b in ("", *spec.teams) for p, pool in spec.board(b)[1].items()}


@pytest.mark.parametrize("stream_name", ["functional_silos", "art_component_teams"])
@pytest.mark.parametrize("name", KAIKAKU)
def test_the_kaikaku_presets_keep_people_and_skills_and_run(name, stream_name):
    """Each preset on the two kaikaku streams: every person kept in their skill (below speed 1 a pool per
    original pool, of its size), the stream runs and delivers; a preset written for the other stream is
    refused in one line."""
    from vssim.model.teams import expand, files_in
    from vssim.scenarios.scenario import load_scenario

    raw = __import__("yaml").safe_load((CONFIGS / "stream" / f"{stream_name}.yaml").read_text())
    base = vssim.StreamSpec.from_dict(expand(raw, files_in(CONFIGS / "stream")))
    scenario = load_scenario(CONFIGS / "scenario" / f"{name}.yaml")
    if (name, stream_name) in (("split_by_type", "art_component_teams"), ("stream_aligned_teams", "functional_silos")):
        with pytest.raises(vssim.SpecError) as e:
            scenario.apply(base)
        assert "\n" not in str(e.value)
        return
    spec = scenario.apply(base)
    before, after = _people_by_skill(base), _people_by_skill(spec)
    assert sum(after.values()) == sum(before.values())
    if name in ("cross_functional_team", "value_stream_team"):        # merge_pools at 0.5: each pool a sub-pool
        single = {b for b in {k.rpartition("/")[0] for k in before}
                  if sum(k.rpartition("/")[0] == b for k in before) == 1}
        renamed = {}
        for k, n in before.items():
            b, _, p = k.rpartition("/")
            renamed[(f"{b}/" if b else "") + ("team" if b in single else f"team_{p}")] = n
        assert after == renamed
    elif name == "stream_aligned_teams":
        skills: dict[str, int] = {}
        for k, n in after.items():
            if k.startswith("sa"):
                skills[k.partition("/")[2]] = skills.get(k.partition("/")[2], 0) + n
        assert skills == {"web_devs": 5, "web_testers": 1, "api_devs": 4, "data_devs": 2}
    result = vssim.simulate(spec, horizon=300.0, warmup=30.0, replications=1, seed=2)
    assert result.summary["metrics"]["throughput"]["mean"] > 0


def test_the_offered_load_counts_the_people_of_the_long_run():
    spec = scheduled([{"at": 100, "size": 2}], rate=1.5)            # overloaded until 100, then 75 %
    assert spec.offered_load() == {"q": pytest.approx(0.75)}
    assert scheduled([{"at": 100, "size": 0}], rate=0.5).offered_load() == {"q": math.inf}
