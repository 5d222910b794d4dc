"""Each engine feature against the queueing result it must reproduce.

Tolerances come from the run's own confidence interval: the theoretical value must lie in the
99.9 % Student-t interval of the replication means (a false alarm once in a thousand runs of a
correct engine), and that interval must be narrow enough for the check to have power.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import vssim
from vssim.analysis import theory

LEVEL = 0.999


def expo(mean: float) -> dict:
    return {"dist": "exponential", "mean": mean}


def det(value: float) -> dict:
    return {"dist": "deterministic", "value": value}


def run(d, horizon=20000.0, warmup=1000.0, replications=8, seed=11):
    return vssim.simulate(vssim.StreamSpec.from_dict(d), horizon=horizon, warmup=warmup,
                          replications=replications, seed=seed)


def assert_agrees(values, want: float, max_rel_halfwidth: float, what: str) -> None:
    """`want` lies in the LEVEL t-interval of the replication values, which is narrow."""
    v = np.asarray(values, dtype=float)
    mean = v.mean()
    half = stats.t.ppf(0.5 + LEVEL / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    assert half / abs(want) < max_rel_halfwidth, f"{what}: interval too wide ({half / abs(want):.1%})"
    assert abs(mean - want) <= half, f"{what}: simulated {mean:.4f} ± {half:.4f}, theory {want:.4f}"


def reps(result, key):
    return [r[key] for r in result.summary["replications"]]


def step_rep(result, step, column):
    s = result.steps
    return s[s.step == step][column].to_numpy()


def test_interruptions_match_pollaczek_khinchine():
    """Interruptions at rate r per unit of work, each of length d: S = w + d·N, N ~ Poisson(r·w).

    E[S] = m(1 + r d); E[S²] = E[w²](1 + r d)² + d² r m. M/G/1 with that S is exact.
    """
    lam, m, r, d = 0.5, 1.0, 0.5, 0.4
    stream = {"name": "intr", "arrivals": {"process": "poisson", "rate": lam},
              "pools": {"p": {"size": 1, "interruptions": {"rate": r, "duration": det(d)}}},
              "steps": {"s": {"pool": "p", "work": expo(m)}}}
    res = run(stream, horizon=40000.0)
    es = m * (1 + r * d)
    es2 = 2 * m * m * (1 + r * d) ** 2 + d * d * r * m
    wq = lam * es2 / (2 * (1 - lam * es))
    assert_agrees(step_rep(res, "s", "utilization"), lam * es, 0.03, "utilization")
    assert_agrees(reps(res, "lead_time"), wq + es, 0.06, "lead time")
    # touch time counts only the work, not the interruptions
    assert_agrees(reps(res, "flow_efficiency"), m / (wq + es), 0.06, "flow efficiency")


def interrupted(work: dict) -> dict:
    return {"name": "intr", "arrivals": {"process": "poisson", "rate": 0.5},
            "pools": {"p": {"size": 3, "interruptions": {"rate": 3.0, "duration": expo(0.1)},
                            "switch_cost": det(0.05)}},
            "steps": {"s": {"pool": "p", "work": work}, "t": {"pool": "p", "work": expo(0.5)}}}


def test_interruptions_of_work_that_outlasts_the_horizon_are_not_drawn():
    """Work of 1e12 with 3 interruptions per unit of work: the interruptions the horizon cuts
    off are not computed (issue 12: 3e12 draws up front, a run that never ended)."""
    from conftest import deadline

    with deadline(30):
        res = vssim.simulate(vssim.StreamSpec.from_dict(interrupted(det(1e12))), horizon=100.0, progress=False)
    assert res.summary["metrics"]["completed"] == 0
    assert res.records[0].visit_start[~np.isnan(res.records[0].visit_start)].size == 3   # 3 people, busy for ever


def test_interruptions_before_the_horizon_do_not_depend_on_it():
    """Each person draws their own interruptions: what happens before a horizon is the same for
    a longer one (the draws a piece of work cut off at the horizon leaves are nobody else's)."""
    spec = vssim.StreamSpec.from_dict(interrupted(expo(1.0)))
    short, long = (vssim.simulate(spec, horizon=h, seed=3, progress=False).records[0] for h in (300.0, 600.0))
    assert short.n_items > 100
    done = short.visit_end < 300.0

    def key(r, m):
        return sorted(zip(r.visit_item[m], r.visit_step[m], r.visit_start[m], r.visit_end[m], strict=True))

    assert key(short, done) == key(long, long.visit_end < 300.0)


def test_dependency_delay_adds_its_mean_and_keeps_the_queue_poisson():
    """Items delayed before they are workable pass an M/G/inf stage: the queue still sees Poisson."""
    lam, mu, p, delay = 0.6, 1.0, 0.3, 4.0
    stream = {"name": "dep", "arrivals": {"process": "poisson", "rate": lam}, "pools": {"p": 1},
              "steps": {"s": {"pool": "p", "work": expo(1 / mu),
                              "dependency": {"probability": p, "delay": {"dist": "uniform", "low": 2.0, "high": 6.0}}}}}
    res = run(stream)
    want = p * delay + theory.mm1(lam, mu).w
    assert_agrees(reps(res, "lead_time"), want, 0.06, "lead time")
    # the person is not held during the dependency: utilization stays lambda/mu
    assert_agrees(step_rep(res, "s", "utilization"), lam / mu, 0.03, "utilization")


def test_handoff_is_wait_not_touch():
    lam = 0.5
    stream = {"name": "hand", "arrivals": {"process": "poisson", "rate": lam}, "pools": {"a": 1, "b": 1},
              "steps": {"one": {"pool": "a", "work": expo(1.0), "handoff": expo(2.0)},
                        "two": {"pool": "b", "work": expo(1.0)}}}
    res = run(stream)
    w = theory.mm1(lam, 1.0).w
    assert_agrees(reps(res, "lead_time"), 2 * w + 2.0, 0.06, "lead time")
    assert_agrees(reps(res, "flow_efficiency"), 2.0 / (2 * w + 2.0), 0.06, "flow efficiency")


def test_a_step_with_two_pools_is_one_multi_server_queue():
    """`pool: [a, b]` with one person each serves like M/M/2 (Erlang C)."""
    lam = 1.5
    stream = {"name": "two_pools", "arrivals": {"process": "poisson", "rate": lam}, "pools": {"a": 1, "b": 1},
              "steps": {"s": {"pool": ["a", "b"], "work": expo(1.0)}}}
    res = run(stream)
    assert_agrees(reps(res, "lead_time"), theory.mmc(lam, 1.0, 2).w, 0.06, "lead time")


def test_item_size_multiplies_work():
    """Two types with sizes 0.5 and 2: an M/G/1 with a hyperexponential-like mix (P-K)."""
    lam = 0.4
    stream = {"name": "sizes", "arrivals": {"process": "poisson", "rate": lam},
              "item_types": {"small": {"share": 0.5, "size": 0.5}, "big": {"share": 0.5, "size": 2.0}},
              "pools": {"p": 1}, "steps": {"s": {"pool": "p", "work": expo(1.0)}}}
    res = run(stream)
    es = 0.5 * 0.5 + 0.5 * 2.0
    es2 = 0.5 * 2 * 0.5**2 + 0.5 * 2 * 2.0**2
    wq = lam * es2 / (2 * (1 - lam * es))
    assert_agrees(reps(res, "lead_time"), wq + es, 0.08, "lead time")


def test_cadence_holds_done_items_until_the_next_multiple():
    """Items finishing at a uniform phase wait T/2 on average for the release train."""
    period = 7.0
    stream = {"name": "cad", "arrivals": {"process": "poisson", "rate": 0.5}, "pools": {"p": 1},
              "steps": {"s": {"pool": "p", "work": expo(1.0), "cadence": period}}}
    res = run(stream)
    assert_agrees(step_rep(res, "s", "blocked"), period / 2, 0.03, "cadence wait")
    done = res.items["done"].dropna().to_numpy()
    np.testing.assert_allclose(np.mod(done + 1e-9, period), 1e-9, atol=1e-6)


def test_transfer_batch_of_deterministic_arrivals_waits_for_the_batch():
    """Deterministic arrivals every 1, instant work: item k of a batch of 4 waits 3-k."""
    stream = {"name": "batch", "arrivals": {"process": "deterministic", "interval": 1.0}, "pools": {"p": 1},
              "steps": {"s": {"pool": "p", "work": det(0.0), "batch": 4}}}
    res = vssim.simulate(vssim.StreamSpec.from_dict(stream), horizon=40.5, seed=1)
    lead = res.items["lead_time"].dropna().to_numpy()
    np.testing.assert_allclose(lead, np.tile([3.0, 2.0, 1.0, 0.0], len(lead) // 4))


def test_trace_file_with_types_and_sizes(tmp_path):
    (tmp_path / "trace.csv").write_text("time,type,size\n0,bug,1\n1,story,2\n1.5,,\n")
    stream = {"name": "trace", "arrivals": {"process": "trace", "file": "trace.csv"},
              "item_types": {"story": {"share": 0.5, "size": 3.0}, "bug": {"share": 0.5, "size": 1.0,
                                                                           "class_of_service": "expedite"}},
              "pools": {"p": 1}, "steps": {"s": {"pool": "p", "work": det(1.0)}}}
    spec = vssim.StreamSpec.from_dict(stream, base_dir=tmp_path)
    items = vssim.simulate(spec, horizon=None, seed=3).items
    assert items["arrival"].tolist() == [0.0, 1.0, 1.5]
    assert items["type"].tolist()[:2] == ["bug", "story"]
    assert items["size"].tolist()[:2] == [1.0, 2.0]
    assert items["done"].tolist()[:2] == [1.0, 3.0]
    third = items.iloc[2]
    assert third["size"] == (3.0 if third["type"] == "story" else 1.0)   # drawn from its type


def test_switch_cost_is_paid_only_when_a_person_changes_step():
    """One person serving two steps alternately pays the switch each time; alone on one, never."""
    stream = {"name": "switch", "arrivals": {"process": "trace", "times": [0.0]},
              "pools": {"p": {"size": 1, "switch_cost": det(0.25)}},
              "steps": {"a": {"pool": "p", "work": det(1.0)}, "b": {"pool": "p", "work": det(1.0)}}}
    res = vssim.simulate(vssim.StreamSpec.from_dict(stream), horizon=None, seed=1)
    assert res.items["done"].tolist() == [2.25]
    assert res.items["touch_time"].tolist() == [2.0]
    one = {**stream, "steps": {"a": {"pool": "p", "work": det(1.0)}}, "arrivals": {"process": "trace",
                                                                                   "times": [0.0, 0.0, 0.0]}}
    res = vssim.simulate(vssim.StreamSpec.from_dict(one), horizon=None, seed=1)
    assert res.items["done"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("rule, first_done", [("downstream_first", [2.0, 4.0]), ("upstream_first", [3.0, 4.0])])
def test_dispatch_rules_of_a_shared_pool(rule, first_done):
    """Item 0 is at step b when item 1 waits at step a: downstream_first finishes item 0 first."""
    stream = {"name": "dispatch", "arrivals": {"process": "trace", "times": [0.0, 0.5]},
              "pools": {"p": {"size": 1, "dispatch": rule}},
              "steps": {"a": {"pool": "p", "work": det(1.0)}, "b": {"pool": "p", "work": det(1.0)}}}
    res = vssim.simulate(vssim.StreamSpec.from_dict(stream), horizon=None, seed=1)
    assert res.items["done"].tolist() == first_done


def test_routing_by_type_is_a_jackson_network():
    """Features visit both steps, defects only the second: Burke's theorem makes each step M/M/1
    with its own arrival rate, so each type's lead time is the sum of the W of the steps it visits."""
    lam, share = 0.6, 0.5
    stream = {"name": "routes", "arrivals": {"process": "poisson", "rate": lam},
              "item_types": {"feature": {"share": share}, "defect": {"share": 1 - share}},
              "pools": {"a": 1, "b": 1},
              "steps": {"one": {"pool": "a", "work": expo(1.0), "types": ["feature"]},
                        "two": {"pool": "b", "work": expo(1.0)}}}
    spec = vssim.StreamSpec.from_dict(stream)
    assert spec.visit_ratios("defect") == {"one": 0.0, "two": 1.0}
    assert spec.offered_load() == pytest.approx({"a": lam * share, "b": lam})
    res = run(stream, horizon=40000.0)
    items = res.items[res.items.arrival >= 1000]
    by_type = items.groupby(["replication", "type"], observed=True)["lead_time"].mean().unstack()
    w1, w2 = theory.mm1(lam * share, 1.0).w, theory.mm1(lam, 1.0).w
    assert_agrees(by_type["feature"], w1 + w2, 0.08, "feature lead time")
    assert_agrees(by_type["defect"], w2, 0.08, "defect lead time")
    first = res.records[0]
    defects = set(np.flatnonzero(first.item_type == first.type_names.index("defect")))
    assert defects and not set(first.visit_item[first.visit_step == 0].tolist()) & defects


def test_split_streams_commit_independently():
    """Two types on disjoint steps with their own first columns: a full column of one stream
    does not hold back commits of the other."""
    stream = {"name": "split", "arrivals": {"process": "trace", "times": [0, 0, 0, 0]},
              "item_types": {"a": {"share": 0.5}, "b": {"share": 0.5}},
              "pools": {"pa": 1, "pb": 1},
              "steps": {"sa": {"pool": "pa", "work": det(1.0), "wip_limit": 1, "types": ["a"]},
                        "sb": {"pool": "pb", "work": det(1.0), "wip_limit": 1, "types": ["b"]}}}
    stream["arrivals"] = {"process": "trace", "times": [{"time": 0, "type": "a"}, {"time": 0, "type": "a"},
                                                        {"time": 0, "type": "b"}, {"time": 0, "type": "b"}]}
    res = vssim.simulate(vssim.StreamSpec.from_dict(stream), horizon=None, seed=1)
    assert res.items["done"].tolist() == [1.0, 2.0, 1.0, 2.0]
    assert res.items["commit"].tolist() == [0.0, 1.0, 0.0, 1.0]
