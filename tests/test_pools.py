"""summary.json's `pools` (issue 14: who is overloaded): utilisation and its interval, the
time-average headcount, the busy time by step and each person's utilisation, for full and
streaming statistics alike, and the report's "People" section that reads them."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_invariants import streams
from test_streaming import assert_same_summary

import vssim
from vssim.analysis.summary import PEOPLE_SHOWN
from vssim.errors import DeadlockError
from vssim.records import mean_people, person_presence
from vssim.report.people import OVERLOADED, people_section

HAND = {"name": "hand", "arrivals": {"process": "trace", "times": [0.0, 10.0, 10.0]},
        "pools": {"q": {"size": 1, "schedule": [{"at": 10, "size": 2}, {"at": 16, "size": 1}]}},
        "steps": {"a": {"pool": "q", "work": 2.0}, "b": {"pool": "q", "work": 1.0}}}


def test_pools_of_a_tiny_stream_by_hand():
    """One person until 10, two until 16, one after; items at 0, 10 and 10 take 2 at step a and 1
    at step b. Person 1 works item 0 over [0, 3], the two people one item each over [10, 13]; the
    run ends at 16 (the last change of the schedule), warmup 1: window [1, 16], 15 long.

    People present: 9 x 1 + 6 x 2 = 21 person-time, headcount 21/15 = 1.4. Busy in the window:
    a 1 + 2 + 2 = 5, b 1 + 1 + 1 = 3, so utilisation 8/21, shares 5/8 and 3/8. Person 1: busy
    1 + 1 + 2 + 1 = 5 over 15 present; person 2: 3 over 6."""
    r = vssim.simulate(vssim.StreamSpec.from_dict(HAND), horizon=None, warmup=1.0, replications=2, progress=False)
    assert r.summary["sim"]["end"] == [16.0, 16.0]
    q = r.summary["pools"]["q"]
    assert q["headcount"] == pytest.approx(1.4, rel=1e-15)
    assert q["utilization"] == pytest.approx(8 / 21, rel=1e-15)
    assert q["utilization_ci95"] == pytest.approx([8 / 21, 8 / 21], rel=1e-15)   # two identical replications
    assert q["busy"] == {"a": 5 / 8, "b": 3 / 8}
    assert q["people"] == pytest.approx({"1": 5 / 15, "2": 3 / 6}, rel=1e-15)
    # the person-time present weights the people's utilisations into the pool's
    assert (15 * q["people"]["1"] + 6 * q["people"]["2"]) / 21 == pytest.approx(q["utilization"], rel=1e-15)
    assert r.summary["steps"]["a"]["utilization"] == pytest.approx(5 / 21, rel=1e-15)


def test_person_presence_adds_up_to_the_pools_people():
    sizes, schedules = [3, 0], [((5.0, 1), (8.0, 4)), ((2.0, 2),)]
    person_pool = np.array([0, 0, 0, 0, 1, 1])
    got = person_presence(sizes, schedules, person_pool, 1.0, 11.0)
    # pool 0: 3 people on [1, 5), 1 on [5, 8), 4 on [8, 11]; pool 1: 0 until 2, then 2
    np.testing.assert_allclose(got, [1.0, 0.7, 0.7, 0.3, 0.9, 0.9], rtol=1e-15)
    for p, (size, schedule) in enumerate(zip(sizes, schedules, strict=True)):
        assert got[person_pool == p].sum() == pytest.approx(mean_people(size, schedule, 1.0, 11.0), rel=1e-15)


@pytest.mark.parametrize("people, shown", [(PEOPLE_SHOWN, True), (PEOPLE_SHOWN + 1, False)])
def test_people_are_shown_for_small_pools_only(people, shown):
    d = {"name": "big", "arrivals": {"process": "poisson", "rate": 2.0}, "pools": {"q": people},
         "steps": {"s": {"pool": "q", "work": {"dist": "exponential", "mean": 1.0}}}}
    q = vssim.simulate(vssim.StreamSpec.from_dict(d), horizon=300, warmup=20, progress=False).summary["pools"]["q"]
    assert ("people" in q) is shown
    if shown:
        assert list(q["people"]) == [str(k) for k in range(1, people + 1)]
        assert np.mean(list(q["people"].values())) == pytest.approx(q["utilization"], rel=1e-12)


SHARED = {"name": "shared", "arrivals": {"process": "poisson", "rate": 0.6},
          "pools": {"devs": {"size": 2, "schedule": [{"at": 300, "size": 4}, {"at": 700, "size": 3}]}, "ops": 1,
                    "crowd": 15},
          "steps": {"build": {"pool": ["devs", {"pool": "crowd", "speed": 0.2}], "work": {"dist": "gamma", "mean": 2.0,
                                                                                            "cv": 0.8}},
                    "test": {"pool": ["ops", "devs"], "work": {"dist": "exponential", "mean": 0.8},
                             "rework": {"probability": 0.2, "to": "build"}},
                    "release": {"pool": "ops", "work": 0.3}}}


@pytest.mark.parametrize("replications", [1, 3])
def test_streaming_pools_equal_the_full_runs(replications, monkeypatch):
    """A shared pool with a schedule, a pool on two steps, one too large for `people`."""
    from vssim.analysis.streaming import RunStats

    monkeypatch.setattr(RunStats, "flush_every", 5)
    kw = dict(horizon=1000.0, warmup=100.0, replications=replications, seed=2, progress=False)
    spec = vssim.StreamSpec.from_dict(SHARED)
    full, streaming = vssim.simulate(spec, **kw), vssim.simulate(spec, stats="streaming", **kw)
    assert_same_summary(full.summary, streaming.summary)
    for name, entry in full.summary["pools"].items():
        assert set(entry) == set(streaming.summary["pools"][name]), name
        assert set(entry["busy"]) == set(streaming.summary["pools"][name]["busy"]), name
    devs = full.summary["pools"]["devs"]
    assert set(devs["busy"]) == {"build", "test"} and sum(devs["busy"].values()) == pytest.approx(1.0, rel=1e-12)
    assert devs["headcount"] == pytest.approx((200 * 2 + 400 * 4 + 300 * 3) / 900, rel=1e-15)
    assert "people" not in full.summary["pools"]["crowd"]


def _check_people(summary: dict, records) -> None:
    """Per replication the people's utilisations, weighted by their time on the pool, are the
    pool's; the replications' means keep it (the weights are each replication's own)."""
    for p, (name, entry) in enumerate(summary["pools"].items()):
        people = entry.get("people")
        shares = [x for x in entry["busy"].values()]
        if shares:
            assert sum(shares) == pytest.approx(1.0, rel=1e-9), name
        if not people or entry["utilization"] is None:
            continue
        weights = np.mean([(np.ones(int((r.person_pool == p).sum())) if r.person_presence is None
                            else r.person_presence[r.person_pool == p]) for r in records], axis=0)
        u = np.array([math.nan if x is None else x for x in people.values()])
        keep = weights > 0
        assert np.sum(weights[keep] * u[keep]) / weights.sum() == pytest.approx(entry["utilization"], rel=1e-9), name


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_people_average_to_their_pool_on_random_streams(case):
    d, sim = case
    try:
        r = vssim.simulate(vssim.StreamSpec.from_dict(d), horizon=sim.get("horizon"), warmup=sim.get("warmup", 0.0),
                           replications=sim.get("replications", 1), seed=sim["seed"], progress=False)
    except DeadlockError:
        return
    _check_people(r.summary, r.records)


def test_people_average_to_their_pool_with_a_schedule():
    r = vssim.simulate(vssim.StreamSpec.from_dict(SHARED), horizon=1000.0, warmup=100.0, replications=2, seed=4,
                       progress=False)
    _check_people(r.summary, r.records)
    devs = r.summary["pools"]["devs"]["people"]
    assert len(devs) == 4 and all(u is not None for u in devs.values())


def test_a_teams_scheduled_pool_counts_its_own_people():
    """A team's pool with a schedule: its utilisation divides by its own time-averaged people (the
    step it alone works says the same), not another board's."""
    d = {"name": "t", "arrivals": {"process": "poisson", "rate": 0.3}, "pools": {"top": 1},
         "teams": {"a": {"pools": {"devs": {"size": 1, "schedule": [{"at": 1000, "size": 3}]}},
                         "steps": {"w": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0}}}}},
         "steps": {"r": {"pool": "top", "work": {"dist": "exponential", "mean": 0.5}},
                   "fork": {"split": {"into": "story", "teams": {"a": {"count": 1}}}}}}
    s = vssim.simulate(vssim.StreamSpec.from_dict(d), horizon=3000, warmup=0, seed=1, progress=False).summary
    devs = s["pools"]["a/devs"]
    assert devs == s["teams"]["a"]["pools"]["devs"]
    assert devs["headcount"] == pytest.approx((1000 * 1 + 2000 * 3) / 3000, rel=1e-15)
    assert devs["utilization"] == pytest.approx(s["teams"]["a"]["steps"]["w"]["utilization"], rel=1e-12)
    assert set(devs["busy"]) == {"w"} and list(devs["people"]) == ["1", "2", "3"]


# --------------------------------------------------------------------------- the report
def test_people_section_ranks_pools_and_flags_the_overloaded(tmp_path):
    summary = {"stream": "s", "scenario": "baseline", "pools": {
        "calm": {"utilization": 0.4, "utilization_ci95": [0.35, 0.45], "headcount": 2.0,
                 "busy": {"x": 0.25, "y": 0.75}, "people": {"1": 0.5, "2": 0.3}},
        "hot": {"utilization": 0.9, "utilization_ci95": [None, None], "headcount": 1.5, "busy": {"x": 1.0},
                "people": {"1": 0.95, "2": 0.8}},
        "edge": {"utilization": OVERLOADED, "utilization_ci95": [0.8, 0.9], "headcount": 1.0, "busy": {"y": 1.0},
                 "people": {"1": OVERLOADED}},
        "nobody": {"utilization": None, "utilization_ci95": [None, None], "headcount": 0.0, "busy": {}}}}
    lines = people_section(summary, tmp_path, figures=True)
    text = "\n".join(lines)
    rows = [line for line in lines if line.startswith("| **")]
    assert [row.split("**")[1] for row in rows] == ["hot", "edge", "calm", "nobody"]
    assert rows[0] == "| **hot** | 1.5 | 90 % | n/a | x 100 % | **overloaded** |"
    assert rows[2] == "| **calm** | 2 | 40 % | 35 % to 45 % | y 75 %, x 25 % |  |"
    assert "| hot/1 | | 95 % | | | **overloaded** |" in lines and "| hot/2 | | 80 % | | |  |" in lines
    assert not any(line.startswith("| edge/") for line in lines)       # one person: the pool's row says it
    assert "**Overloaded** (utilisation at or above 85 %): **hot** 90 %, **edge** 85 %." in text
    assert (tmp_path / "people.png").is_file()
    calm = {"calm": summary["pools"]["calm"]}
    assert "No pool is overloaded: every utilisation is below 85 %." in people_section(
        {**summary, "pools": calm}, tmp_path, figures=False)


def test_the_run_report_has_the_people_section(tmp_path):
    from vssim.report.markdown import write_report

    r = vssim.simulate(vssim.StreamSpec.from_dict(SHARED), horizon=400.0, warmup=50.0, replications=2, seed=1,
                       progress=False)
    text = write_report(r, tmp_path, figures=False).read_text()
    assert "## People" in text and text.index("## People") < text.index("## Bottleneck")
    assert "| devs/4 |" in text and "| crowd/1 |" not in text


def test_a_comparison_names_each_alternatives_overloaded_pools():
    from vssim.report.people import people_by_alternative

    summaries = {"baseline": {"pools": {"devs": {"utilization": 0.93}, "ops": {"utilization": 0.2}}},
                 "kaikaku": {"pools": {"team": {"utilization": 0.7}}},
                 "empty": {"pools": {"nobody": {"utilization": None}}}}
    lines = people_by_alternative(summaries)
    assert "- **baseline**: overloaded: **devs** 93 %." in lines
    assert "- **kaikaku**: none overloaded; the busiest is team at 70 %." in lines
    assert "- **empty**: none overloaded." in lines
