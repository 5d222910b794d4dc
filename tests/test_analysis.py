"""Value stream maps and bottleneck analysis (vssim/analysis/vsm.py, vssim/analysis/bottleneck.py, docs/analysis.md).

Deterministic streams give exact maps (worked out by hand); random ones are checked against
what theory says, within the run's own confidence interval.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import vssim
from vssim.analysis import bottleneck
from vssim.analysis.bottleneck import ACCELERATORS, analyse, handoff_delays
from vssim.analysis.vsm import value_stream_map
from vssim.formatting import percent

LEVEL = 0.999


def det(value: float) -> dict:
    return {"dist": "deterministic", "value": value}


def expo(mean: float) -> dict:
    return {"dist": "exponential", "mean": mean}


def sim(d: dict, **kw) -> vssim.SimResult:
    kw.setdefault("progress", False)
    return vssim.simulate(vssim.StreamSpec.from_dict(d), **kw)


def two_step_line(**s1) -> dict:
    """Deterministic work 1 then 2, a handoff of 0.5 between them; arrivals 10 apart: nobody queues."""
    return {"name": "line", "arrivals": {"process": "trace", "times": [0, 10, 20, 30, 40]},
            "pools": {"a": 1, "b": 1},
            "steps": {"s1": {"pool": "a", "work": det(1), "handoff": det(0.5), **s1},
                      "s2": {"pool": "b", "work": det(2)}}}


# --------------------------------------------------------------------------- value stream map
def test_vsm_of_a_deterministic_line_is_exact():
    r = sim(two_step_line(), replications=2)
    m = value_stream_map(r)
    s = m.steps.set_index("step")
    assert list(m.steps["step"]) == ["s1", "s2"]
    assert s["visits"].tolist() == [1.0, 1.0]
    assert s["process_time"].tolist() == [1.0, 2.0]
    assert s["wait_time"].tolist() == [0.0, 0.5]          # the handoff is waited in the next column
    assert s["lead_time"].tolist() == [1.0, 2.5]
    assert s["overhead_time"].tolist() == [0.0, 0.0]
    assert s["pct_complete_accurate"].tolist() == [1.0, 1.0]
    assert m.total_process_time == 3.0
    assert m.total_wait_time == 0.5
    assert m.backlog_time == 0.0
    assert m.total_lead_time == 3.5
    assert m.total_process_time + m.total_wait_time == m.total_lead_time
    assert m.flow_efficiency == pytest.approx(3.0 / 3.5, rel=1e-12)
    assert m.process_lead_ratio == pytest.approx(3.0 / 3.5, rel=1e-12)
    assert m.rolled_pct_complete_accurate == 1.0
    assert m.time_unit == "day"
    json.dumps(m.to_dict(), allow_nan=False)


def test_vsm_with_a_cadence_counts_the_gate_as_wait():
    """s1 releases at multiples of 5: done at 1, 11, 21, ... each item waits 4 in the column."""
    m = value_stream_map(sim(two_step_line(cadence=5), replications=2))
    s = m.steps.set_index("step")
    assert s.loc["s1", "blocked"] == 4.0 and s.loc["s1", "wait_time"] == 4.0
    assert s.loc["s1", "lead_time"] == 5.0
    assert m.total_wait_time == 4.5 and m.total_process_time == 3.0 and m.total_lead_time == 7.5
    assert m.flow_efficiency == pytest.approx(0.4, rel=1e-12)


def test_vsm_backlog_time_and_why_the_two_efficiencies_differ():
    """Three items at time 0, a column of one: they wait 0, 1, 2 in the backlog, then work 1 each."""
    d = {"name": "q", "arrivals": {"process": "trace", "times": [0, 0, 0]}, "pools": {"a": 1},
         "steps": {"s": {"pool": "a", "work": det(1), "wip_limit": 1}}}
    m = value_stream_map(sim(d, replications=2))
    assert m.total_lead_time == 2.0
    assert m.backlog_time == 1.0
    assert m.total_wait_time == 1.0 and m.total_process_time == 1.0
    # flow efficiency is touch / flow time (commit → done): the backlog is outside it
    assert m.flow_efficiency == 1.0
    assert m.process_lead_ratio == 0.5


def test_vsm_from_a_summary_dict_matches():
    r = sim(two_step_line(cadence=5), replications=2)
    a, b = value_stream_map(r), value_stream_map(json.loads(json.dumps(r.summary)))
    assert a.steps.equals(b.steps)
    assert (a.total_wait_time, a.total_lead_time) == (b.total_wait_time, b.total_lead_time)
    assert b.rolled_pct_complete_accurate_ci95 == [None, None]


def rework_stream() -> dict:
    return {"name": "rework", "arrivals": {"process": "poisson", "rate": 0.5},
            "pools": {"a": 2, "b": 2, "c": 2},
            "steps": {"s1": {"pool": "a", "work": expo(0.5)},
                      "s2": {"pool": "b", "work": expo(0.5), "rework": {"probability": 0.3, "to": "s1"}},
                      "s3": {"pool": "c", "work": expo(0.5), "rework": {"probability": 0.2, "to": "s3"}}}}


@pytest.fixture(scope="module")
def rework_run():
    return sim(rework_stream(), horizon=2000, warmup=100, replications=8, seed=3)


def t_interval(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + LEVEL / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return v.mean() - half, v.mean() + half


def test_rolled_pct_complete_accurate_is_the_product_of_first_pass_yields(rework_run):
    m = value_stream_map(rework_run)
    want = (1 - 0.3) * (1 - 0.2)
    per_rep = rework_run.steps.groupby("replication")["pct_complete_accurate"].prod()
    lo, hi = t_interval(per_rep)
    assert lo <= want <= hi and hi - lo < 0.05
    assert m.rolled_pct_complete_accurate == pytest.approx(np.prod(m.steps["pct_complete_accurate"]))
    assert abs(m.rolled_pct_complete_accurate - want) < (hi - lo)
    ci = m.rolled_pct_complete_accurate_ci95
    assert ci[0] <= want <= ci[1]


def routed_stream() -> dict:
    """Two routes: x (60 %) visits s1 and s2, y (40 %) s1 and s3; each step checks its own work."""
    return {"name": "routed", "arrivals": {"process": "poisson", "rate": 0.5},
            "item_types": {"x": {"share": 0.6}, "y": {"share": 0.4}},
            "pools": {"a": 2, "b": 2, "c": 2},
            "steps": {"s1": {"pool": "a", "work": expo(0.5), "rework": {"probability": 0.1, "to": "s1"}},
                      "s2": {"pool": "b", "work": expo(0.5), "types": ["x"],
                             "rework": {"probability": 0.3, "to": "s2"}},
                      "s3": {"pool": "c", "work": expo(0.5), "types": ["y"],
                             "rework": {"probability": 0.2, "to": "s3"}}}}


def test_rolled_pct_complete_accurate_per_route():
    """Each type meets only the checks of its own route: x passes 0.9 x 0.7 = 63 %, y 0.9 x 0.8 =
    72 %, the stream 0.6 x 63 % + 0.4 x 72 % = 66.6 % (not 0.9 x 0.7 x 0.8 = 50.4 % over every step)."""
    r = sim(routed_stream(), horizon=2000, warmup=100, replications=8, seed=3)
    m = value_stream_map(r)
    pca = dict(zip(m.steps["step"], m.steps["pct_complete_accurate"], strict=True))
    assert m.rolled_pct_complete_accurate == pytest.approx(
        0.6 * pca["s1"] * pca["s2"] + 0.4 * pca["s1"] * pca["s3"], rel=1e-12)
    # the bottleneck analysis's rework finding quotes the same figure
    (finding,) = [f for f in analyse(r).details if f.kind == "rework"]
    assert f"Only {percent(m.rolled_pct_complete_accurate)} of items pass" in finding.text
    assert [(route["types"], route["share"], route["steps"]) for route in m.routes] == [
        (["x"], 0.6, ["s1", "s2"]), (["y"], 0.4, ["s1", "s3"])]
    x, y = (route["rolled_pct_complete_accurate"] for route in m.routes)
    # a route's visits per item: its own traffic equations (x: 1/0.9 to s1, 1/0.7 to s2)
    assert m.routes[0]["visits"] == pytest.approx([1 / 0.9, 1 / 0.7], rel=0.04)
    assert m.routes[1]["visits"] == pytest.approx([1 / 0.9, 1 / 0.8], rel=0.04)
    assert x == pytest.approx(pca["s1"] * pca["s2"], rel=1e-12)
    assert y == pytest.approx(pca["s1"] * pca["s3"], rel=1e-12)
    assert m.rolled_pct_complete_accurate == pytest.approx(0.6 * x + 0.4 * y, rel=1e-12)
    want = 0.6 * 0.9 * 0.7 + 0.4 * 0.9 * 0.8
    frame = r.steps.pivot(index="replication", columns="step", values="pct_complete_accurate")
    per_rep = 0.6 * frame["s1"] * frame["s2"] + 0.4 * frame["s1"] * frame["s3"]
    lo, hi = t_interval(per_rep)
    assert lo <= want <= hi and not lo <= 0.9 * 0.7 * 0.8 <= hi      # the product over every step is refuted
    ci = m.rolled_pct_complete_accurate_ci95
    assert ci == pytest.approx(list(t_interval_95(per_rep)), rel=1e-9) and ci[0] <= want <= ci[1]
    # from summary.json and the stream: the same routes
    again = value_stream_map(json.loads(json.dumps(r.summary)), spec=r.spec)
    assert again.routes == m.routes and again.rolled_pct_complete_accurate == m.rolled_pct_complete_accurate
    json.dumps(m.to_dict(), allow_nan=False)


def test_the_report_gives_the_rolled_pct_complete_accurate_per_route(tmp_path):
    from vssim.report.markdown import write_report

    r = sim(routed_stream(), horizon=300, warmup=30, replications=2, seed=3)
    m = value_stream_map(r)
    text = write_report(r, tmp_path, figures=False).read_text()
    x, y = (percent(route["rolled_pct_complete_accurate"]) for route in m.routes)
    assert (f"Rolled %C&A per route (the steps its types visit): x (60 % of items) {x}; "
            f"y (40 % of items) {y}.") in text
    assert f"rolled %C&A {percent(m.rolled_pct_complete_accurate)}." in text


DOCS = Path(__file__).resolve().parent.parent / "docs"


def slug(heading: str) -> str:
    """A heading's anchor as GitHub renders it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", ["analysis.md", "metrics.md", "model.md", "scenarios.md", "experiments.md"])
def test_the_links_between_the_docs_resolve(doc):
    for target, anchor in re.findall(r"\]\(([\w./]*\.md)?#([^)]+)\)", (DOCS / doc).read_text()):
        text = (DOCS / (target or doc)).read_text()
        headings = {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
        assert anchor in headings, (doc, target, anchor)


def test_the_docs_give_the_rolled_pct_complete_accurate_per_route():
    """metrics.md has the formula; analysis.md names every key of a route of the map."""
    metrics = (DOCS / "metrics.md").read_text()
    assert "rolled(stream) = Σ_R share_R · rolled(R)" in metrics and "rolled(R)      = Π_{s ∈ R}" in metrics
    r = sim(routed_stream(), horizon=100, warmup=10, replications=1, seed=3)
    m = value_stream_map(r).to_dict()
    (line,) = [x for x in (DOCS / "analysis.md").read_text().split("\n- ") if x.startswith("`routes`")]
    for key in m["routes"][0]:
        assert f"`{key}`" in line, key
    assert "one lane per route" in line


def t_interval_95(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return v.mean() - half, v.mean() + half


def test_an_unrouted_stream_has_one_route(rework_run):
    m = value_stream_map(rework_run)
    assert m.routes == [{"types": ["item"], "share": 1.0, "steps": ["s1", "s2", "s3"],
                         "visits": m.steps["visits"].tolist(),
                         "rolled_pct_complete_accurate": m.rolled_pct_complete_accurate}]
    assert m.rolled_pct_complete_accurate == float(np.prod(m.steps["pct_complete_accurate"]))   # as before


def test_visits_follow_the_traffic_equations(rework_run):
    """Visits per item: 1/0.7 to s1 and s2 (loop back from s2), 1/0.8 to s3 (its own loop)."""
    m = value_stream_map(rework_run)
    want = rework_run.spec.visit_ratios()
    assert want == pytest.approx({"s1": 1 / 0.7, "s2": 1 / 0.7, "s3": 1 / 0.8})
    for step, v in zip(m.steps["step"], m.steps["visits"], strict=True):
        assert v == pytest.approx(want[step], rel=0.03)
    b = analyse(rework_run)
    assert "faster_feedback" in b.accelerators
    assert any(re.search(r"s2 sends (29|30|31) % of items back to s1", f) for f in b.findings)


# --------------------------------------------------------------------------- bottleneck
def overloaded() -> dict:
    """One pool at ρ = 0.95 between two at 0.4 and 0.3."""
    return {"name": "overloaded", "arrivals": {"process": "poisson", "rate": 1.0},
            "pools": {"front": 2, "experts": 1, "back": 2},
            "steps": {"intake": {"pool": "front", "work": expo(0.8)},
                      "expert": {"pool": "experts", "work": expo(0.95)},
                      "ship": {"pool": "back", "work": expo(0.6)}}}


def test_bottleneck_names_the_overloaded_pool_and_elevates_it():
    r = sim(overloaded(), horizon=3000, warmup=300, replications=3, seed=2)
    b = analyse(r)
    assert b.constraint_pool == "experts" and b.constraint_step == "expert"
    t = b.table.set_index("step")
    assert t.loc["expert", "utilization"] == pytest.approx(0.95, abs=0.03)
    assert t.loc["expert", "utilization"] == r.summary["pools"]["experts"]["utilization"]
    assert b.accelerators[:2] == ["elevate_constraint", "limit_wip"]
    assert "cross_functional_team" in b.accelerators      # two pools under half busy next to it
    assert b.findings[0].startswith("experts (1 person) are 9") and "expert is the constraint" in b.findings[0]
    assert set(b.accelerators) <= set(ACCELERATORS)
    # queue time per step: workable → started, from the records; M/M/1 at 0.95 queues long
    assert t.loc["expert", "queue_time"] > 5 * t.loc["intake", "queue_time"]
    assert list(b.table.columns[:11]) == ["step", "pools", "utilization", "step_utilization", "queue_length",
                                          "queue_time", "wait", "blocked", "process_time", "touch_time",
                                          "pct_complete_accurate"]
    json.dumps(b.to_dict(), allow_nan=False)


def test_constraint_step_is_where_the_shared_pool_queues_longest():
    d = {"name": "shared", "arrivals": {"process": "poisson", "rate": 1.0}, "pools": {"dev": 2, "qa": 1},
         "steps": {"code": {"pool": "dev", "work": expo(0.3)}, "check": {"pool": "qa", "work": expo(0.5)},
                   "fix": {"pool": "dev", "work": expo(1.5)}}}
    b = analyse(sim(d, horizon=1000, warmup=100, replications=2, seed=4))
    assert b.constraint_pool == "dev"
    t = b.table.set_index("step")
    assert b.constraint_step == t.loc[["code", "fix"], "queue_time"].idxmax()
    # a shared pool: the step's pool utilisation is the pool's, the step's own is its share
    assert t.loc["code", "utilization"] == t.loc["fix", "utilization"]
    assert t.loc["code", "step_utilization"] + t.loc["fix", "step_utilization"] == \
        pytest.approx(t.loc["fix", "utilization"])


def test_no_overload_no_elevation():
    d = overloaded()
    d["pools"]["experts"] = 2
    b = analyse(sim(d, horizon=500, warmup=50, replications=2, seed=1))
    assert b.findings[0].startswith("No pool is overloaded")
    assert "elevate_constraint" not in b.accelerators and "cross_functional_team" not in b.accelerators


def test_a_cadence_that_blocks_is_a_legacy_policy():
    b = analyse(sim(two_step_line(cadence=5), replications=2))
    assert "legacy_policies" in b.accelerators
    text = " ".join(b.findings)
    assert "5-day cadence" in text and "s1: finished items wait 4.0 days" in text


def test_a_batch_that_blocks_calls_for_smaller_batches():
    """Batches of 4 on arrivals 10 apart: items wait 30, 20, 10, 0 for their batch."""
    d = two_step_line(batch=4)
    d["arrivals"]["times"] = [0, 10, 20, 30, 40, 50, 60, 70]
    b = analyse(sim(d, replications=2))
    assert b.table.set_index("step").loc["s1", "blocked"] == 15.0
    assert "smaller_batches" in b.accelerators and "legacy_policies" not in b.accelerators
    assert any("batch of 4" in f for f in b.findings)


def test_a_full_column_downstream_calls_for_elevation_or_pull():
    d = {"name": "wall", "arrivals": {"process": "poisson", "rate": 0.9}, "pools": {"a": 1, "b": 1},
         "steps": {"s1": {"pool": "a", "work": det(0.5)},
                   "s2": {"pool": "b", "work": expo(1.0), "wip_limit": 2}}}
    b = analyse(sim(d, horizon=1000, warmup=100, replications=2, seed=5))
    assert "pull" in b.accelerators and "elevate_constraint" in b.accelerators
    assert any("for room in s2 (WIP limit 2)" in f for f in b.findings)


def test_handoffs_and_dependencies_larger_than_the_work():
    d = two_step_line()
    d["steps"]["s1"]["handoff"] = det(2.0)
    d["steps"]["s2"]["dependency"] = {"probability": 0.5, "delay": det(4.0)}
    r = sim(d, replications=2)
    spec = r.spec
    per_step, total = handoff_delays(spec, {"s1": 1.0, "s2": 1.0})
    assert per_step == {"s1": 0.0, "s2": 2.0 + 0.5 * 4.0} and total == 4.0
    b = analyse(r)
    assert "fewer_handoffs" in b.accelerators
    assert any("Handoffs and dependencies add about 4.0 days" in f for f in b.findings)
    # a handoff of 0.5 against 3.0 of work is below HANDOFF_RATIO
    assert 0.5 < bottleneck.HANDOFF_RATIO * 3.0
    d["steps"]["s1"]["handoff"] = det(0.5)
    del d["steps"]["s2"]["dependency"]
    assert "fewer_handoffs" not in analyse(sim(d, replications=2)).accelerators


def test_interruptions_cost_time_in_the_zone():
    d = {"name": "zone", "arrivals": {"process": "poisson", "rate": 0.5},
         "pools": {"a": {"size": 1, "interruptions": {"rate": 0.5, "duration": det(0.4)}}, "b": 1},
         "steps": {"s1": {"pool": "a", "work": expo(1.0)}, "s2": {"pool": "b", "work": expo(0.5)}}}
    r = sim(d, horizon=1000, warmup=100, replications=2, seed=6)
    b = analyse(r)
    assert "time_in_the_zone" in b.accelerators
    zone = next(f for f in b.findings if f.startswith("a: interruptions"))
    assert "17 %" in zone or "16 %" in zone or "18 %" in zone      # r·d / (1 + r·d) = 0.2 / 1.2
    m = value_stream_map(r)
    s1 = m.steps.set_index("step").loc["s1"]
    assert s1["overhead_time"] == pytest.approx(0.2 * s1["process_time"], rel=0.1)


def test_a_long_backlog_calls_for_shorter_queues():
    d = {"name": "q", "arrivals": {"process": "trace", "times": [0, 0, 0]}, "pools": {"a": 1},
         "steps": {"s": {"pool": "a", "work": det(1), "wip_limit": 1}}}
    b = analyse(sim(d, replications=2))
    assert "shorter_queues" in b.accelerators
    assert any("wait 1.0 day in the backlog" in f or "wait 1.0 days in the backlog" in f for f in b.findings)


def test_functional_silos_show_every_problem_of_the_silos():
    spec = vssim.load_stream("configs/stream/functional_silos.yaml")
    r = vssim.simulate(spec, horizon=1500, warmup=150, replications=2, seed=1, progress=False)
    b = analyse(r)
    assert b.constraint_pool == "developers"
    for key in ("legacy_policies", "fewer_handoffs", "faster_feedback", "time_in_the_zone", "elevate_constraint"):
        assert key in b.accelerators, key
    assert len(b.findings) == len(b.details) >= 5


def test_thresholds_are_module_constants():
    assert bottleneck.UTILIZATION_HIGH == 0.85 and bottleneck.UTILIZATION_LOW == 0.5
    assert bottleneck.PCA_LOW == 0.9 and bottleneck.BLOCKED_RATIO == 1.0
    assert len(ACCELERATORS) == 10
