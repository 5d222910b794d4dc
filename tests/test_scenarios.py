"""Scenarios and transforms (docs/scenarios.md): exact results on small streams, invariance,
composition, every invalid use, and every scenario file applied to the streams it is meant for."""
from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import vssim
from vssim import DeadlockError, SpecError, StreamSpec
from vssim.model.distributions import distribution_variance, parse_distribution
from vssim.model.teams import expand, files_in
from vssim.run.experiment import Pilot
from vssim.scenarios.scenario import ACCELERATORS, BASELINE, Scenario, compose, load_scenario
from vssim.scenarios.transforms import (
    TRANSFORMS,
    Context,
    apply_transform,
    critical_wip,
    deep_merge,
)

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
STREAMS = {p.stem: expand(yaml.safe_load(p.read_text()), files_in(p.parent))
           for p in sorted((CONFIGS / "stream").glob("*.yaml"))}
"""The shipped streams as mappings, their team references expanded (as the command line composes them)."""
SCENARIO_FILES = sorted((CONFIGS / "scenario").glob("*.yaml"))
ONLY_FOR = {"split_by_type": ["functional_silos"], "stream_aligned_teams": ["art_component_teams"]}
"""Scenarios written for one stream."""
# a closed stream (saturated backlog) needs CONWIP and has no backlog to limit: push and
# shorter_queues (a backlog limit) are for open streams
OPEN_ONLY = {"push", "shorter_queues"}
TINY = Context(pilot=Pilot(seed=3, horizon=150.0, warmup=20.0, replications=1))

SMALL = {
    "name": "small",
    "arrivals": {"process": "poisson", "rate": 0.5},
    "pools": {"a": 2, "b": {"size": 3, "interruptions": {"rate": 0.4, "duration": {"dist": "exponential", "mean": 0.1}},
                            "switch_cost": 0.05}},
    "steps": {
        "s1": {"pool": "a", "work": {"dist": "lognormal", "mean": 1.0, "cv": 0.5},
               "handoff": {"dist": "exponential", "mean": 2.0}, "wip_limit": 4},
        "s2": {"pool": "b", "work": {"dist": "gamma", "mean": 2.0, "cv": 1.0},
               "dependency": {"probability": 0.4, "delay": {"dist": "deterministic", "value": 3.0}}, "batch": 2,
               "handoff": {"dist": "triangular", "low": 1.0, "mode": 2.0, "high": 4.0}},
        "s3": {"pool": "b", "work": {"dist": "uniform", "low": 0.5, "high": 1.5},
               "rework": {"probability": 0.25, "to": "s2"}, "cadence": 5.0},
    },
}


def op(stream: dict, opname: str, /, **args) -> dict:
    return apply_transform(stream, {"op": opname, **args}, context=TINY, path="t")


def err(stream: dict, opname: str, /, **args) -> str:
    with pytest.raises(SpecError) as e:
        op(stream, opname, **args)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("t"), msg
    return msg


def valid(d: dict) -> StreamSpec:
    return StreamSpec.from_dict(d)


# --------------------------------------------------------------------------- scale
def test_scale_distributions_by_family():
    out = op(SMALL, "scale", path="steps.*.work", factor=2)
    assert out["steps"]["s1"]["work"] == {"dist": "lognormal", "mean": 2.0, "cv": 0.5}
    assert out["steps"]["s2"]["work"] == {"dist": "gamma", "mean": 4.0, "cv": 1.0}
    assert out["steps"]["s3"]["work"] == {"dist": "uniform", "low": 1.0, "high": 3.0}
    out = op(SMALL, "scale", path="steps.*.handoff", factor=0.5)
    assert out["steps"]["s1"]["handoff"] == {"dist": "exponential", "mean": 1.0}
    assert out["steps"]["s2"]["handoff"] == {"dist": "triangular", "low": 0.5, "mode": 1.0, "high": 2.0}
    assert "handoff" not in out["steps"]["s3"]           # absent optional field: skipped, not created
    valid(out)


@pytest.mark.parametrize("dist, scaled", [
    ({"dist": "deterministic", "value": 2.0}, {"dist": "deterministic", "value": 6.0}),
    ({"dist": "deterministic", "mean": 2.0}, {"dist": "deterministic", "mean": 6.0}),
    ({"dist": "uniform", "mean": 2.0, "cv": 0.2}, {"dist": "uniform", "mean": 6.0, "cv": 0.2}),
    ({"dist": "pert", "low": 1, "mode": 2, "high": 4, "lambda": 3},
     {"dist": "pert", "low": 3, "mode": 6, "high": 12, "lambda": 3}),
    ({"dist": "weibull", "mean": 1.0, "cv": 0.5}, {"dist": "weibull", "mean": 3.0, "cv": 0.5}),
    ({"dist": "empirical", "values": [1, 2]}, {"dist": "empirical", "values": [3, 6]}),
    ({"dist": "invgauss", "mu": 0.5, "scale": 2.0}, {"dist": "invgauss", "mu": 0.5, "scale": 6.0}),
    ({"dist": "lomax", "c": 3.0, "loc": 1.0}, {"dist": "lomax", "c": 3.0, "loc": 3.0, "scale": 3.0}),
    (2.5, 7.5),
])
def test_scale_every_distribution_form(dist, scaled):
    d = copy.deepcopy(SMALL)
    d["steps"]["s1"]["work"] = dist
    out = op(d, "scale", path="steps.s1.work", factor=3)
    assert out["steps"]["s1"]["work"] == scaled
    before, after = parse_distribution(dist, "x"), parse_distribution(scaled, "x")
    assert after.mean == pytest.approx(3 * before.mean)


def test_scale_integers_probabilities_and_pools():
    out = op(SMALL, "scale", path="pools.*", factor=2)
    assert out["pools"]["a"] == 4 and out["pools"]["b"]["size"] == 6
    assert out["pools"]["b"]["interruptions"] == SMALL["pools"]["b"]["interruptions"]
    assert op(SMALL, "scale", path="pools.a", factor=1.4)["pools"]["a"] == 3          # 2.8 -> 3
    out = op(SMALL, "scale", path="pools.*.size", factor=0.1)                         # plain and mapping pools
    assert out["pools"]["a"] == 1 and out["pools"]["b"]["size"] == 1                 # at least 1
    out = op(SMALL, "scale", path="steps.*.wip_limit", factor=0.6)
    assert out["steps"]["s1"]["wip_limit"] == 2 and "wip_limit" not in out["steps"]["s2"]
    assert op(SMALL, "scale", path="steps.*.batch", factor=0.5)["steps"]["s2"]["batch"] == 1
    assert op(SMALL, "scale", path="steps.*.rework.probability", factor=10)["steps"]["s3"]["rework"] == \
        {"probability": 0.99, "to": "s2"}                                            # capped below 1
    assert op(SMALL, "scale", path="steps.*.dependency.probability", factor=5)["steps"]["s2"]["dependency"][
        "probability"] == 1.0
    assert op(SMALL, "scale", path="steps.*.rework.probability", factor=0.5)["steps"]["s3"]["rework"][
        "probability"] == 0.125
    assert op(SMALL, "scale", path="arrivals.rate", factor=2)["arrivals"]["rate"] == 1.0
    assert op(SMALL, "scale", path="pools.*.interruptions.rate", factor=0.5)["pools"]["b"]["interruptions"][
        "rate"] == 0.2
    assert op(SMALL, "scale", path="pools.*.switch_cost", factor=0.5)["pools"]["b"]["switch_cost"] == 0.025
    assert op(SMALL, "scale", path="steps.*.cadence", factor=2)["steps"]["s3"]["cadence"] == 10.0


def test_scale_absent_optional_fields_is_a_no_op():
    mm1 = STREAMS["mm1"]
    for path in ("steps.*.handoff", "steps.*.dependency.probability", "steps.*.rework.probability",
                 "pools.*.interruptions.rate", "pools.*.switch_cost", "steps.*.batch"):
        assert op(mm1, "scale", path=path, factor=0.5) == mm1


@pytest.mark.parametrize("args, where, text", [
    ({"path": "steps.*.handoff", "factor": 0}, "t.factor", "a number > 0"),
    ({"path": "steps.*.handoff", "factor": -1}, "t.factor", "got -1"),
    ({"path": "steps.*.handoff", "factor": "x"}, "t.factor", "got 'x'"),
    ({"path": "steps.*.handoff", "factor": True}, "t.factor", "got true"),
    ({"path": "steps.*.handof", "factor": 2}, "t.path", "'handof' is not a field of steps.*"),
    ({"path": "stepz.*", "factor": 2}, "t.path", "'stepz' is not a field of the stream"),
    ({"path": "steps.nosuch.work", "factor": 2}, "t.path", "existing step (s1, s2, s3)"),
    ({"path": "pools.nosuch", "factor": 2}, "t.path", "existing pool"),
    ({"path": "steps.*.pool", "factor": 2}, "t.path", "steps.s1.pool is not a number or a distribution"),
    ({"path": "steps..work", "factor": 2}, "t.path", "a dotted path"),
    ({"path": "steps.*.wip_limit.x", "factor": 2}, "t.path", "is a value"),
    ({"path": "steps.*.work"}, "t.factor", "required"),
    ({"path": "steps.*.work", "factor": 2, "by": 1}, "t.by", "unknown argument"),
])
def test_scale_invalid(args, where, text):
    msg = err(SMALL, "scale", **args)
    assert msg.startswith(f"{where}: ") and text in msg, msg


def test_scale_unscalable_distributions(tmp_path):
    d = copy.deepcopy(SMALL)
    (tmp_path / "w.txt").write_text("1\n2\n")
    d["steps"]["s1"]["work"] = {"dist": "empirical", "file": str(tmp_path / "w.txt")}
    with pytest.raises(SpecError, match=r"^t.path: steps.s1.work: an empirical distribution read from a file is not"):
        op(d, "scale", path="steps.s1.work", factor=2)
    d["steps"]["s1"]["work"] = {"dist": "poisson", "mu": 2}
    with pytest.raises(SpecError, match="discrete scipy.stats distribution is not scalable"):
        op(d, "scale", path="steps.s1.work", factor=2)
    d["steps"]["s1"]["work"] = {"dist": "gamma", "mean": 1.0, "cv": -1}       # invalid in the stream itself
    with pytest.raises(SpecError, match=r"^steps.s1.work.cv: "):
        op(d, "scale", path="steps.s1.work", factor=2)


# --------------------------------------------------------------------------- set / remove
def test_set_creates_the_last_key_everywhere():
    out = op(SMALL, "set", path="steps.*.cadence", value=None)
    assert all(s["cadence"] is None for s in out["steps"].values())
    out = op(SMALL, "set", path="pools.*.dispatch", value="fifo")
    assert out["pools"]["a"] == {"size": 2, "dispatch": "fifo"}                  # plain pool expanded
    assert out["pools"]["b"]["dispatch"] == "fifo" and out["pools"]["b"]["size"] == 3
    out = op(SMALL, "set", path="steps.*.rework.probability", value=0.1)         # only where rework exists
    assert "rework" not in out["steps"]["s1"] and out["steps"]["s3"]["rework"]["probability"] == 0.1
    assert op(SMALL, "set", path="pools.a.size", value=7)["pools"]["a"] == 7
    valid(out)


def test_set_and_remove_invalid():
    assert "existing step" in err(SMALL, "set", path="steps.nosuch.cadence", value=None)
    assert "t.value: required" in err(SMALL, "set", path="steps.*.cadence")
    assert "'foo' is not a field" in err(SMALL, "remove", path="steps.*.foo")
    assert "use remove_step" in err(SMALL, "remove", path="steps.s1")
    assert "existing step" in err(SMALL, "remove", path="steps.nosuch.handoff")


def test_remove_deletes_keys_and_ignores_absent_ones():
    out = op(SMALL, "remove", path="steps.*.handoff")
    assert not any("handoff" in s for s in out["steps"].values())
    assert op(STREAMS["mm1"], "remove", path="steps.*.handoff") == STREAMS["mm1"]
    valid(out)


# --------------------------------------------------------------------------- merge_steps
def test_merge_steps_exact():
    out = op(SMALL, "merge_steps", steps=["s2", "s3"])
    var = 4.0 + 1.0 / 12                                   # gamma(2, cv 1) + uniform(0.5, 1.5)
    assert out["steps"] == {
        "s1": SMALL["steps"]["s1"],
        "s2_s3": {"pool": "b", "work": {"dist": "gamma", "mean": 3.0, "cv": pytest.approx(math.sqrt(var) / 3)},
                  "wip_limit": None,
                  "dependency": {"probability": 0.4, "delay": {"dist": "deterministic", "value": 3.0}},
                  "rework": {"probability": 0.25, "to": "s2_s3"},      # rework inside the group: to itself
                  "cadence": 5.0, "description": "merged: s2 + s3"},
    }
    valid(out)
    out = op(SMALL, "merge_steps", steps=["s1", "s2"], name="front", pool=["a", "b"])
    front = out["steps"]["front"]
    assert list(out["steps"]) == ["front", "s3"]
    assert front["pool"] == ["a", "b"] and front["wip_limit"] is None and front["batch"] == 2
    assert front["handoff"] == SMALL["steps"]["s2"]["handoff"]       # the last step's handoff stays
    assert out["steps"]["s3"]["rework"] == {"probability": 0.25, "to": "front"}   # rework from outside
    valid(out)


def test_merge_steps_rework_limits_and_dependencies():
    d = {"arrivals": {"process": "poisson", "rate": 0.1},
         "pools": {"p": 4},
         "steps": {
             "a": {"pool": "p", "work": 1.0},
             "b": {"pool": "p", "work": 1.0, "wip_limit": 3,
                   "dependency": {"probability": 0.5, "delay": {"dist": "exponential", "mean": 2.0}}},
             "c": {"pool": "p", "work": 2.0, "wip_limit": 4, "rework": {"probability": 0.2, "to": "a"},
                   "dependency": {"probability": 0.5, "delay": {"dist": "exponential", "mean": 9.0}}},
             "d": {"pool": "p", "work": {"dist": "exponential", "mean": 1.0}, "wip_limit": 1,
                   "rework": {"probability": 0.5, "to": "b"}},
         }}
    out = op(d, "merge_steps", steps=["b", "c", "d"], name="m")
    m = out["steps"]["m"]
    assert m["work"] == {"dist": "gamma", "mean": 4.0, "cv": 0.25}            # var 0 + 0 + 1
    assert m["wip_limit"] == 8 and "types" not in m
    assert m["dependency"] == {"probability": 0.75, "delay": {"dist": "exponential", "mean": 2.0}}
    assert m["rework"] == {"probability": 1 - 0.8 * 0.5, "to": "a"}          # 1 - Π(1 - p), earliest target
    assert op(d, "merge_steps", steps=["a", "b"])["steps"]["a_b"]["work"] == {"dist": "deterministic", "value": 2.0}
    valid(out)


ROUTED = {
    "arrivals": {"process": "poisson", "rate": 0.1},
    "item_types": {"x": {"share": 0.5}, "y": {"share": 0.3}, "z": {"share": 0.2}},
    "pools": {"p": 4, "q": 2},
    "steps": {
        "a": {"pool": "p", "work": 1.0},
        "b": {"pool": "q", "work": {"dist": "gamma", "mean": 2.0, "cv": 0.5}, "wip_limit": 3, "types": ["x"],
              "handoff": {"dist": "exponential", "mean": 1.0},
              "dependency": {"probability": 0.5, "delay": {"dist": "exponential", "mean": 2.0}}},
        "c": {"pool": "p", "work": {"dist": "lognormal", "mean": 3.0, "cv": 0.2}, "wip_limit": 4, "types": ["y"],
              "rework": {"probability": 0.2, "to": "a"}},
        "d": {"pool": "p", "work": {"dist": "exponential", "mean": 1.0}, "wip_limit": 2, "types": ["x", "y"],
              "rework": {"probability": 0.5, "to": "b"}, "handoff": {"dist": "deterministic", "value": 0.5}},
        "e": {"pool": "p", "work": 0.5, "rework": {"probability": 0.1, "to": "c"}},
    },
}
"""Routing by type through the merged group b, c, d: x visits b and d, y visits c and d, z none."""


def type_work(d: dict) -> dict[str, tuple[float, float]]:
    """Per item type: the mean and variance of the sum of the work of the steps it visits."""
    spec = valid(d)
    out = {}
    for t in spec.item_types:
        steps = [s for s in spec.steps.values() if s.visited_by(t)]
        out[t] = (math.fsum(s.work.mean for s in steps),
                  math.fsum(distribution_variance(s.work, s.name) for s in steps))
    return out


def test_merge_steps_keeps_each_types_work():
    """Each type keeps the work of the steps it visited: one merged step per distinct set of the
    group's steps a type visits, in board order, each visited by its types only."""
    out = op(ROUTED, "merge_steps", steps=["b", "c", "d"], name="m")
    assert list(out["steps"]) == ["a", "m_x", "m_y", "e"]
    mx, my = out["steps"]["m_x"], out["steps"]["m_y"]
    assert mx["types"] == ["x"] and my["types"] == ["y"]
    # the work of each type, exactly: mean Σ means, variance Σ variances of the steps it visited
    before, after = type_work(ROUTED), type_work(out)
    for t in ("x", "y", "z"):
        assert after[t][0] == pytest.approx(before[t][0], rel=1e-15, abs=0), t
        assert after[t][1] == pytest.approx(before[t][1], rel=1e-12, abs=0), t
    assert parse_distribution(mx["work"], "x").mean == 3.0                      # b + d
    assert distribution_variance(parse_distribution(mx["work"], "x"), "x") == pytest.approx(1.0 + 1.0)
    assert parse_distribution(my["work"], "y").mean == 4.0                      # c + d
    assert distribution_variance(parse_distribution(my["work"], "y"), "y") == pytest.approx(0.36 + 1.0)
    # each merged step keeps what its own steps had
    assert mx["pool"] == "q" and my["pool"] == "p"                             # the first step each visits
    assert mx["wip_limit"] == 3 + 2 and my["wip_limit"] == 4 + 2
    assert mx["handoff"] == my["handoff"] == {"dist": "deterministic", "value": 0.5}     # d's: the last
    assert mx["dependency"] == ROUTED["steps"]["b"]["dependency"] and "dependency" not in my
    # rework inside the group returns to the type's own merged step; to a step before it, kept
    assert mx["rework"] == {"probability": 0.5, "to": "m_x"}
    assert my["rework"] == {"probability": 1 - 0.8 * 0.5, "to": "a"}
    # rework into the group from outside: to the first merged step, which each type's route turns
    # into its own (z, which visits none of them, goes on to e)
    assert out["steps"]["e"]["rework"] == {"probability": 0.1, "to": "m_x"}
    spec = valid(out)
    names = spec.step_names
    for t, own in (("x", "m_x"), ("y", "m_y"), ("z", "e")):
        assert names[spec.route(t)[names.index("m_x")]] == own
    assert mx["description"] == "merged: b + d" and my["description"] == "merged: c + d"


def test_merge_steps_of_one_type_set_is_one_step():
    """Steps that the same types visit merge into one step, named as asked, with their types."""
    d = copy.deepcopy(ROUTED)
    d["steps"]["c"]["types"] = ["x", "y"]
    d["steps"]["b"]["types"] = ["x", "y"]
    out = op(d, "merge_steps", steps=["b", "c", "d"], name="m")
    assert list(out["steps"]) == ["a", "m", "e"]
    assert out["steps"]["m"]["types"] == ["x", "y"]
    before, after = type_work(d), type_work(out)
    for t in ("x", "y", "z"):
        assert after[t] == pytest.approx(before[t], rel=1e-12, abs=0), t
    valid(out)


@pytest.mark.parametrize("args, where, text", [
    ({"steps": ["s1", "nosuch"]}, "t.steps", "got 'nosuch'"),
    ({"steps": ["s1"]}, "t.steps", "at least 2 step names"),
    ({"steps": "s1"}, "t.steps", "at least 2 step names"),
    ({"steps": ["s1", "s1"]}, "t.steps", "without repeats"),
    ({"steps": ["s1", "s3"]}, "t.steps", "adjacent steps in board order"),
    ({"steps": ["s2", "s1"]}, "t.steps", "adjacent steps in board order"),
    ({"steps": ["s2", "s3"], "name": "s1"}, "t.name", "a name not used by another step"),
    ({"steps": ["s2", "s3"], "pool": "zz"}, "t.pool", "one of the pools a, b, got 'zz'"),
    ({"steps": ["s2", "s3"], "name": ""}, "t.name", "non-empty"),
    ({}, "t.steps", "required"),
])
def test_merge_steps_invalid(args, where, text):
    msg = err(SMALL, "merge_steps", **args)
    assert msg.startswith(f"{where}: ") and text in msg, msg


@pytest.mark.parametrize("dist", [
    {"dist": "exponential", "mean": 2.0}, {"dist": "lognormal", "mean": 2.0, "cv": 0.7},
    {"dist": "weibull", "mean": 2.0, "cv": 1.5}, {"dist": "uniform", "low": 1, "high": 4},
    {"dist": "triangular", "low": 0, "mode": 1, "high": 5}, {"dist": "pert", "low": 0, "mode": 1, "high": 5},
    {"dist": "empirical", "values": [1, 2, 6]}, {"dist": "invgauss", "mu": 0.5, "scale": 2.0},
    {"dist": "deterministic", "value": 3},
])
def test_distribution_variance_matches_samples(dist):
    d = parse_distribution(dist, "x")
    draws = d.sample(np.random.default_rng(1), 400_000)
    assert distribution_variance(d, "x") == pytest.approx(draws.var(), rel=0.03, abs=1e-12)


# --------------------------------------------------------------------------- merge_pools / add_people
def test_merge_pools_exact():
    d = copy.deepcopy(SMALL)
    d["pools"]["c"] = 1
    d["steps"]["s3"]["pool"] = ["b", "c", "a"]
    out = op(d, "merge_pools", pools=["a", "b"], name="team", dispatch="fifo", speed=1)
    assert out["pools"] == {"team": {"size": 5, "dispatch": "fifo",
                                     "interruptions": SMALL["pools"]["b"]["interruptions"],   # from the largest
                                     "switch_cost": 0.05}, "c": 1}
    assert [s["pool"] for s in out["steps"].values()] == ["team", "team", ["team", "c"]]
    valid(out)
    out = op(d, "merge_pools", pools="all", name="everyone", speed=1)
    assert out["pools"]["everyone"]["size"] == 6 and list(out["pools"]) == ["everyone"]
    assert [s["pool"] for s in out["steps"].values()] == ["everyone"] * 3
    same = op(STREAMS["functional_silos"], "merge_pools", pools=["business_analysts", "testers"], name="x",
              speed=1)
    assert same["pools"]["x"] == 4                                           # identical (none): plain size


def test_merge_pools_all_with_one_pool_renames_it():
    out = op(STREAMS["mm1"], "merge_pools", pools="all", name="team", dispatch="fifo", speed=0.5)
    assert out["pools"] == {"team": {"size": 1, "dispatch": "fifo"}} and out["steps"]["serve"]["pool"] == "team"


@pytest.mark.parametrize("args, where, text", [
    ({"pools": ["a", "zz"], "name": "t", "speed": 1}, "t.pools", "got 'zz'"),
    ({"pools": ["a"], "name": "t", "speed": 1}, "t.pools", "at least 2 pool names"),
    ({"pools": "some", "name": "t", "speed": 1}, "t.pools", 'or "all"'),
    ({"pools": ["a", "b"], "speed": 1}, "t.name", "required"),
    ({"pools": ["a", "b"], "name": "t", "dispatch": "random", "speed": 1}, "t.dispatch", "one of downstream_first"),
])
def test_merge_pools_invalid(args, where, text):
    msg = err(SMALL, "merge_pools", **args)
    assert msg.startswith(f"{where}: ") and text in msg, msg


@pytest.mark.parametrize("speed, message", [
    (None, "t.speed: required: speed: 1 for everyone working every step at full speed, or < 1 for people outside "
           "their skill"),
    (0, "t.speed: must be a number in (0, 1] (speed: 1 for everyone working every step at full speed, or < 1 for "
        "people outside their skill), got 0"),
    (1.5, "t.speed: must be a number in (0, 1] (speed: 1 for everyone working every step at full speed, or < 1 for "
          "people outside their skill), got 1.5"),
    ("half", "t.speed: must be a number in (0, 1] (speed: 1 for everyone working every step at full speed, or < 1 "
             "for people outside their skill), got 'half'"),
])
def test_merge_pools_speed_is_required_and_at_most_1(speed, message):
    args = {"pools": ["a", "b"], "name": "t"} | ({} if speed is None else {"speed": speed})
    assert err(SMALL, "merge_pools", **args) == message


def test_merge_pools_name_clash():
    d = copy.deepcopy(SMALL)
    d["pools"]["c"] = 1
    msg = err(d, "merge_pools", pools=["a", "b"], name="c", speed=1)
    assert msg.startswith("t.name: ") and "not used by a remaining pool" in msg
    d["pools"]["team_b"] = d["pools"].pop("c")
    d["steps"]["s3"]["pool"] = "team_b"
    assert err(d, "merge_pools", pools=["a", "b"], name="team", speed=0.5) == \
        "t.name: must be a name not used by a remaining pool (a, b, team_b), got 'team_b'"     # a skill's sub-pool
    assert valid(op(d, "merge_pools", pools=["a", "b"], name="team", speed=1))                  # one pool: no clash


SPEED_1_IS_THE_OLD_MERGE = {
    "art_component_teams": "40b59907a3c790f0", "balanced_line": "8f615025bc960238", "dvs_basic": "5215e292668f1587",
    "functional_silos": "926d0785f1cdf109", "mm1": "f8b516bc3af3bf7d", "penny_fab": "34091d66433a8b51",
    "penny_game": "8f0a2ec3193d37cc", "portfolio": "abb07c5cbee3cdc4", "team_api": "46cae401cde5a78d",
    "team_data": "4ea4fa91d4c42284", "team_kanban": "42652707c3f411d0", "team_system": "98511457b4b00592",
    "team_web": "442192036e7befc1",
}
"""`merge_pools: all, name: team, dispatch: downstream_first` on each shipped stream before `speed` existed:
sha256 (first 16 hex) of the result's JSON, in the result's key order."""


def digest(d: dict) -> str:
    return hashlib.sha256(json.dumps(d).encode()).hexdigest()[:16]


def test_merge_pools_at_speed_1_is_the_old_merge_bit_for_bit():
    """The same stream dicts as before `speed`, so the same sample paths (a run is a function of the dict and
    the seed; the golden digests of the streams that use speed 1 did not move)."""
    got = {n: digest(op(s, "merge_pools", pools="all", name="team", dispatch="downstream_first", speed=1))
           for n, s in STREAMS.items()}
    assert got == SPEED_1_IS_THE_OLD_MERGE


def test_merge_pools_below_speed_1_keeps_a_pool_per_skill_exact():
    d = copy.deepcopy(SMALL)
    d["pools"]["c"] = 1
    d["steps"]["s3"]["pool"] = ["b", "c", "a"]
    out = op(d, "merge_pools", pools=["a", "b"], name="team", dispatch="fifo", speed=0.5)
    habits = {"dispatch": "fifo", "interruptions": SMALL["pools"]["b"]["interruptions"], "switch_cost": 0.05}
    assert out["pools"] == {"team_a": {"size": 2, **habits}, "team_b": {"size": 3, **habits}, "c": 1}
    assert {n: s["pool"] for n, s in out["steps"].items()} == {
        "s1": ["team_a", {"pool": "team_b", "speed": 0.5}],       # own skill first at 1, the other at 0.5
        "s2": ["team_b", {"pool": "team_a", "speed": 0.5}],
        "s3": ["team_b", "c", "team_a"],                           # both skills worked it already: as it was
    }
    assert {k: v for k, v in out["steps"]["s1"].items() if k != "pool"} == \
        {k: v for k, v in SMALL["steps"]["s1"].items() if k != "pool"}
    spec = valid(out)
    assert spec.steps["s1"].pick == "order" and spec.steps["s1"].speeds == (1.0, 0.5)


def test_a_scenario_sets_pick_fastest_on_the_steps_of_a_merged_team():
    out = op(op(SMALL, "merge_pools", pools="all", name="team", speed=0.5), "set", path="steps.*.pick",
             value="fastest")
    spec = valid(out)
    assert {s.pick for s in spec.steps.values()} == {"fastest"}


def test_merge_pools_all_below_speed_1_on_every_board_and_a_lone_pool_is_renamed():
    out = op(STREAMS["art_component_teams"], "merge_pools", pools="all", name="team", speed=0.5)
    assert out["pools"] == {"team_product_management": 2, "team_release_train": 1}
    assert out["steps"]["refine"]["pool"] == ["team_product_management", {"pool": "team_release_train", "speed": 0.5}]
    assert out["teams"]["web"]["pools"] == {"team_web_devs": 5, "team_web_testers": 1}
    assert out["teams"]["web"]["steps"]["test"]["pool"] == ["team_web_testers", {"pool": "team_web_devs", "speed": 0.5}]
    assert out["teams"]["api"]["pools"] == {"team": 4}                     # one skill: nobody is outside it
    assert out["teams"]["api"]["steps"]["build"]["pool"] == "team"
    spec = valid(out)
    assert sum(p.size for b in ("", *spec.teams) for p in spec.board(b)[1].values()) == 18


def test_merge_pools_keeps_schedules_summed_at_speed_1_and_each_its_own_below():
    d = copy.deepcopy(SMALL)
    d["pools"]["a"] = {"size": 2, "schedule": [{"at": 10, "size": 4}, {"at": 30, "size": 1}]}
    d["pools"]["b"]["schedule"] = [{"at": 20, "size": 0}]
    one = op(d, "merge_pools", pools=["a", "b"], name="team", speed=1)["pools"]["team"]
    assert one["size"] == 5 and one["schedule"] == [{"at": 10.0, "size": 7}, {"at": 20.0, "size": 4},
                                                    {"at": 30.0, "size": 1}]
    two = op(d, "merge_pools", pools=["a", "b"], name="team", speed=0.5)["pools"]
    assert two["team_a"]["schedule"] == d["pools"]["a"]["schedule"]
    assert two["team_b"]["schedule"] == d["pools"]["b"]["schedule"]
    valid(op(d, "merge_pools", pools=["a", "b"], name="team", speed=1))


@st.composite
def _pooled_streams(draw):
    """A line of 1-5 steps over 2-4 pools of 1-5 people, each step worked by one to all of them (a list in
    order of preference, each at a speed), and the pools a merge takes (at least 2) with its speed."""
    pools = {f"p{i}": draw(st.integers(1, 5)) for i in range(draw(st.integers(2, 4)))}
    names = list(pools)
    steps = {}
    for j in range(draw(st.integers(1, 5))):
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        refs = [p if draw(st.booleans()) else {"pool": p, "speed": draw(st.sampled_from([0.25, 0.5, 0.8]))}
                for p in chosen]
        steps[f"s{j}"] = {"pool": refs, "work": {"dist": "exponential", "mean": 1.0}}
    group = draw(st.lists(st.sampled_from(names), min_size=2, max_size=len(names), unique=True))
    speed = draw(st.sampled_from([0.1, 0.5, 0.75, 1.0]))
    return {"name": "x", "arrivals": {"process": "poisson", "rate": 0.1}, "pools": pools, "steps": steps}, group, speed


@settings(max_examples=150, deadline=None)
@given(_pooled_streams())
def test_merge_pools_keeps_every_person_and_every_skill(case):
    """Invariants: every person kept; below 1 every member a sub-pool of its own size, and every step a member
    worked lists its own pools in their places at their speeds, then the team's other skills at `speed`."""
    d, group, speed = case
    out = op(d, "merge_pools", pools=group, name="team", speed=speed)
    spec = valid(out)
    assert sum(p.size for p in spec.pools.values()) == sum(d["pools"].values())
    if speed == 1.0:
        assert spec.pools["team"].size == sum(d["pools"][p] for p in group)
        return
    sub = {p: f"team_{p}" for p in group}
    assert {sub[p]: spec.pools[sub[p]].size for p in group} == {sub[p]: d["pools"][p] for p in group}
    for name, step in d["steps"].items():
        before = [(r, 1.0) if isinstance(r, str) else (r["pool"], r["speed"]) for r in step["pool"]]
        own = [(sub.get(p, p), v) for p, v in before]
        if any(p in sub for p, _ in before):
            own += [(sub[p], speed) for p in group if all(q != p for q, _ in before)]
        assert list(zip(spec.steps[name].pools, spec.steps[name].speeds or [1.0] * len(own), strict=True)) == own


def test_add_people():
    out = op(SMALL, "add_people", pool="a", amount=2)
    assert out["pools"]["a"] == 4
    assert op(SMALL, "add_people", pool="b")["pools"]["b"]["size"] == 4
    assert err(SMALL, "add_people", pool="zz").startswith("t.pool: must be one of the pools a, b")
    assert err(SMALL, "add_people", pool="a", amount=0).startswith("t.amount: must be an integer >= 1")


# --------------------------------------------------------------------------- remove_step
def test_remove_step():
    out = op(SMALL, "remove_step", step="s2")
    assert list(out["steps"]) == ["s1", "s3"]
    assert out["steps"]["s3"]["rework"] == {"probability": 0.25, "to": "s3"}   # retargeted to the step after
    valid(out)
    out = op(SMALL, "remove_step", step="s1")
    assert list(out["steps"]) == ["s2", "s3"] and out["pools"] == SMALL["pools"]   # the people stay
    valid(out)


def test_remove_step_invalid():
    assert err(SMALL, "remove_step", step="zz").startswith("t.step: must be one of the steps s1, s2, s3, got 'zz'")
    msg = err(STREAMS["mm1"], "remove_step", step="serve")
    assert msg == "t.step: cannot remove 'serve': it is the only step left"
    with pytest.raises(SpecError, match=r"^scenario.x.transforms\[0\].step: cannot remove"):
        Scenario("x", transforms=({"op": "remove_step", "step": "serve"},)).apply(STREAMS["mm1"])


# --------------------------------------------------------------------------- elevate_constraint
BOTTLENECK = {
    "name": "bn", "description": "obvious bottleneck",
    "arrivals": {"process": "poisson", "rate": 1.0},
    "pools": {"fast": 3, "slow": 1, "idle": 2},
    "steps": {"a": {"pool": "fast", "work": {"dist": "exponential", "mean": 0.6}},
              "b": {"pool": "slow", "work": {"dist": "exponential", "mean": 0.85}},
              "c": {"pool": "idle", "work": {"dist": "exponential", "mean": 0.3}}},
}


def test_elevate_constraint_finds_the_bottleneck_from_a_run():
    out = op(BOTTLENECK, "elevate_constraint", amount=2)
    assert out["pools"] == {"fast": 3, "slow": 3, "idle": 2}
    assert out["description"] == "obvious bottleneck (+2 slow: the constraint)"
    d = copy.deepcopy(BOTTLENECK)                    # a finite (backlog) stream: the pilot runs until done
    d["arrivals"] = {"process": "backlog", "count": 30}
    d["steps"]["a"]["work"] = {"dist": "deterministic", "value": 3.0}
    out = apply_transform(d, {"op": "elevate_constraint"}, context=Context(pilot=Pilot(horizon=10.0, warmup=5.0)),
                          path="t")
    assert out["pools"]["fast"] == 4 and out["pools"]["slow"] == 1
    assert err(BOTTLENECK, "elevate_constraint", amount=0).startswith("t.amount:")
    with pytest.raises(SpecError, match=r"^t: needs a pilot run"):       # scenarios run nothing themselves
        apply_transform(BOTTLENECK, {"op": "elevate_constraint"}, path="t")


def test_the_pilot_of_an_experiment_runs_with_its_settings():
    """elevate_constraint's pilot: the experiment's seed, horizon, warmup and stats, at most 3
    replications, SimPy; a finite stream runs until done, from 0, with full statistics."""
    from vssim.model.settings import Settings
    from vssim.run.experiment import context

    settings = Settings(horizon=500.0, warmup=50.0, replications=10, seed=7, engine="fast", stats="streaming")
    pilot = context(settings).pilot
    assert pilot == Pilot(seed=7, horizon=500.0, warmup=50.0, replications=3, stats="streaming")
    spec = StreamSpec.from_dict(BOTTLENECK)
    summary = pilot(spec)
    assert summary == vssim.simulate(spec, horizon=500.0, warmup=50.0, replications=3, seed=7, progress=False,
                                     stats="streaming").summary
    assert summary["sim"]["engine"] == "simpy"
    finite = copy.deepcopy(BOTTLENECK)
    finite["arrivals"] = {"process": "backlog", "count": 20}
    spec = StreamSpec.from_dict(finite)
    ran = pilot(spec)["sim"]
    assert (ran["horizon"], ran["warmup"], ran["stats"], ran["replications"]) == (None, 0.0, "full", 3)


# --------------------------------------------------------------------------- limit_wip
def test_limit_wip_exact():
    out = op(SMALL, "limit_wip", per_person=2)
    assert out["steps"]["s1"]["wip_limit"] == 4          # ceil(2 × 2 people), the existing 4 kept
    # s2: 3 people, work 2.0, delay in the column = s1's handoff 2.0 + 0.4 × 3.0 -> ceil(2·3·5.2/2) + batch 2 - 1
    assert out["steps"]["s2"]["wip_limit"] == 17
    assert "wip_limit" not in out["steps"]["s3"]         # sends rework back (and has a cadence): no limit
    tight = copy.deepcopy(SMALL)
    tight["steps"]["s2"]["wip_limit"] = 5
    assert op(tight, "limit_wip")["steps"]["s2"]["wip_limit"] == 5      # a tighter existing limit stays
    assert err(SMALL, "limit_wip", per_person=0).startswith("t.per_person: must be a number > 0")


def test_limit_wip_respects_batches():
    out = op(STREAMS["penny_game"], "limit_wip", per_person=1)
    assert [s["wip_limit"] for s in out["steps"].values()] == [20, 20, 20, 20]   # ceil(1 · 1) + 20 - 1
    valid(out)


@pytest.mark.parametrize("name", ["dvs_basic", "team_kanban", "functional_silos"])
def test_limit_wip_never_deadlocks(name):
    spec = Scenario("lw", transforms=({"op": "limit_wip", "per_person": 1},)).apply(STREAMS[name])
    try:
        result = vssim.simulate(spec, horizon=400, warmup=0, replications=2, seed=5, progress=False)
    except DeadlockError as e:  # pragma: no cover - the failure this test exists for
        pytest.fail(f"limit_wip deadlocks {name}: {e}")
    assert result.summary["metrics"]["completed"] > 0


# --------------------------------------------------------------------------- set_policy
LINE = {"arrivals": {"process": "poisson", "rate": 0.5}, "pools": {"a": 1, "b": 2},
        "steps": {"x": {"pool": "a", "work": 1.0}, "y": {"pool": "b", "work": {"dist": "exponential", "mean": 3.0}}}}


def test_critical_wip_of_a_line():
    rb, t0, w0 = critical_wip(valid(LINE))
    assert (rb, t0, w0) == pytest.approx((2 / 3, 4.0, 8 / 3))
    d = copy.deepcopy(LINE)                 # delays add to T0, not to r_b; rework multiplies visits
    d["steps"]["x"]["handoff"] = {"dist": "exponential", "mean": 0.5}
    d["steps"]["y"]["rework"] = {"probability": 0.5, "to": "y"}
    rb, t0, w0 = critical_wip(valid(d))
    assert (rb, t0) == pytest.approx((1 / 3, 1 + 0.5 + 6.0))
    rb, t0, w0 = critical_wip(valid(STREAMS["mm1"]))
    assert (rb, t0, w0) == (1.0, 1.0, 1.0)


def test_set_policy():
    out = op(LINE, "set_policy", policy="conwip", conwip={"critical_wip": 2}, backlog_limit={"critical_wip": 1})
    assert out["release"] == {"policy": "conwip", "conwip": 6, "backlog_limit": 3}   # ceil(2 · 8/3), ceil(8/3)
    out = op(out, "set_policy", policy="push")
    assert out["release"] == {"policy": "push", "conwip": None, "backlog_limit": 3}
    out = op(LINE, "set_policy", policy="conwip", conwip=4, backlog_limit=0)
    assert out["release"] == {"policy": "conwip", "conwip": 4, "backlog_limit": 0}
    assert op(out, "set_policy", policy="push", backlog_limit=None)["release"]["backlog_limit"] is None
    penny = op(STREAMS["penny_game"], "set_policy", policy="conwip", conwip={"critical_wip": 1})
    assert penny["release"]["conwip"] == 20                    # never below a batch that must fit
    valid(penny)


@pytest.mark.parametrize("args, where", [
    ({"policy": "kanban"}, "t.policy"),
    ({"policy": "conwip"}, "t.conwip"),
    ({"policy": "conwip", "conwip": 0}, "t.conwip"),
    ({"policy": "conwip", "conwip": {"critical_wip": 0}}, "t.conwip.critical_wip"),
    ({"policy": "conwip", "conwip": {"wip": 2}}, "t.conwip"),
    ({"policy": "push", "conwip": 3}, "t.conwip"),
    ({"policy": "push", "backlog_limit": -1}, "t.backlog_limit"),
])
def test_set_policy_invalid(args, where):
    assert err(LINE, "set_policy", **args).startswith(f"{where}: ")


# --------------------------------------------------------------------------- split_items
def test_split_items():
    out = op(STREAMS["dvs_basic"], "split_items", factor=2)
    assert out["arrivals"]["rate"] == 1.8
    assert {t: v["size"] for t, v in out["item_types"].items()} == {"feature": 0.5, "defect": 0.25, "enabler": 0.75}
    out = op(STREAMS["mm1"], "split_items", factor=4)
    assert out["item_types"] == {"item": {"share": 1.0, "size": 0.25}} and out["arrivals"]["rate"] == 3.0
    assert op(STREAMS["penny_game"], "split_items", factor=2)["arrivals"]["count"] == 40
    d = copy.deepcopy(LINE)
    d["arrivals"] = {"process": "deterministic", "interval": 2.0}
    d["item_types"] = {"x": {"share": 1.0, "size": {"dist": "gamma", "mean": 2.0, "cv": 0.5}}}
    out = op(d, "split_items", factor=2)
    assert out["arrivals"]["interval"] == 1.0 and out["item_types"]["x"]["size"] == {"dist": "gamma", "mean": 1.0,
                                                                                       "cv": 0.5}
    d["arrivals"] = {"process": "renewal", "interarrival": {"dist": "uniform", "low": 1.0, "high": 3.0}}
    assert op(d, "split_items", factor=2)["arrivals"]["interarrival"] == {"dist": "uniform", "low": 0.5, "high": 1.5}
    d["arrivals"] = {"process": "trace", "times": [1, 2]}
    assert "trace arrivals" in err(d, "split_items", factor=2)
    assert err(LINE, "split_items", factor=1).startswith("t.factor: must be an integer >= 2")
    assert err(LINE, "split_items", factor=2.5).startswith("t.factor:")


# --------------------------------------------------------------------------- split_by_type
TYPED = {
    "arrivals": {"process": "poisson", "rate": 0.4},
    "item_types": {"A": {"share": 0.5}, "B": {"share": 0.25, "size": 2.0}, "C": {"share": 0.25}},
    "pools": {"p": 4, "q": {"size": 3, "dispatch": "fifo"}},
    "steps": {"x": {"pool": "p", "work": 1.0, "wip_limit": 6},
              "y": {"pool": "q", "work": 1.0, "rework": {"probability": 0.2, "to": "x"}},
              "z": {"pool": "q", "work": 1.0, "types": ["A"]}},
}


def test_split_by_type_exact():
    out = op(TYPED, "split_by_type", streams={"one": ["A"], "two": ["B", "C"]})
    # load of p: A 0.5·1.25·1, B+C 0.25·1.25·2 + 0.25·1.25·1 -> A:0.625 vs 0.9375 of 4 people -> 2 / 2
    # q: A (y 0.625 + z 0.5) = 1.125 vs 0.9375 of 3 -> 2 / 1
    assert out["pools"] == {"p_one": 2, "p_two": 2, "q_one": {"size": 2, "dispatch": "fifo"},
                            "q_two": {"size": 1, "dispatch": "fifo"}}
    assert list(out["steps"]) == ["x_one", "y_one", "z_one", "x_two", "y_two"]   # z: only A visits it
    assert out["steps"]["y_two"] == {"pool": "q_two", "work": 1.0, "rework": {"probability": 0.2, "to": "x_two"},
                                     "types": ["B", "C"]}
    assert out["steps"]["x_one"]["wip_limit"] == 3 and out["steps"]["x_two"]["wip_limit"] == 3   # by visits
    spec = valid(out)
    assert spec.visit_ratios("A")["x_two"] == 0 and spec.visit_ratios("B")["x_one"] == 0


@pytest.mark.parametrize("streams, where, text", [
    ({"one": ["A"], "two": ["B"]}, "t.streams", "no stream for 'C'"),
    ({"one": ["A"], "two": ["B", "Z"]}, "t.streams.two", "got 'Z'"),
    ({"one": ["A", "B"], "two": ["B", "C"]}, "t.streams.two", "already in stream 'one'"),
    ({"one": ["A", "B", "C"]}, "t.streams", "at least 2"),
    ({"one": ["A"], "two": []}, "t.streams.two", "non-empty list"),
])
def test_split_by_type_invalid(streams, where, text):
    msg = err(TYPED, "split_by_type", streams=streams)
    assert msg.startswith(f"{where}: ") and text in msg, msg


def test_split_by_type_pool_too_small():
    d = copy.deepcopy(TYPED)
    d["pools"]["q"]["size"] = 1
    msg = err(d, "split_by_type", streams={"one": ["A"], "two": ["B", "C"]})
    assert "pool 'q' has 1 person(s) but 2 streams (one, two) need it" in msg


def test_split_by_type_groups_share_no_step_and_no_person():
    spec = load_scenario(CONFIGS / "scenario" / "split_by_type.yaml").apply(STREAMS["functional_silos"])
    groups = {"features": ["feature"], "fixes": ["defect", "risk"]}
    result = vssim.simulate(spec, horizon=300, warmup=0, replications=1, seed=2, progress=False)
    visits = result.visits.merge(result.items[["replication", "item", "type"]], on=["replication", "item"])
    people = {}
    for g, types in groups.items():
        mine = visits[visits["type"].isin(types)]
        assert mine["step"].astype(str).str.endswith("_" + g).all()
        people[g] = set(mine.loc[mine["person"] >= 0, "person"])
        assert people[g]
    assert not people["features"] & people["fixes"]
    assert sum(p.size for p in spec.pools.values()) == 11               # the same people, reorganised


# --------------------------------------------------------------------------- invariance
ALL_OPS = [
    (SMALL, {"op": "scale", "path": "steps.*.work", "factor": 2}),
    (SMALL, {"op": "set", "path": "pools.*.dispatch", "value": "fifo"}),
    (SMALL, {"op": "remove", "path": "steps.*.handoff"}),
    (SMALL, {"op": "patch", "values": {"pools": {"a": {"dispatch": "fifo"}}}}),
    (SMALL, {"op": "merge_steps", "steps": ["s2", "s3"]}),
    (SMALL, {"op": "merge_pools", "pools": "all", "name": "t", "speed": 0.5}),
    (SMALL, {"op": "remove_step", "step": "s2"}),
    (SMALL, {"op": "add_people", "pool": "a", "amount": 1}),
    (BOTTLENECK, {"op": "elevate_constraint"}),
    (SMALL, {"op": "limit_wip"}),
    (LINE, {"op": "set_policy", "policy": "conwip", "conwip": {"critical_wip": 2}}),
    (LINE, {"op": "split_items", "factor": 2}),
    (TYPED, {"op": "split_by_type", "streams": {"one": ["A"], "two": ["B", "C"]}}),
    (SMALL, {"op": "split_work", "factor": 2}),
    (STREAMS["art_component_teams"], {"op": "minimize_dependencies"}),
    (STREAMS["art_component_teams"], {"op": "stream_aligned_teams", "keep": ["system"], "speed": 0.5}),
]


def test_every_transform_is_covered():
    assert {o["op"] for _, o in ALL_OPS} == set(TRANSFORMS)


@pytest.mark.parametrize("stream, o", ALL_OPS, ids=[o["op"] for _, o in ALL_OPS])
def test_transforms_never_mutate_their_input(stream, o):
    before = copy.deepcopy(stream)
    out = apply_transform(stream, o, context=TINY, path="t")
    assert stream == before and out != before
    valid(out)
    # nothing in the result is shared with the input
    out2 = apply_transform(stream, o, context=TINY, path="t")
    out2["steps"][next(iter(out2["steps"]))]["work"] = 123.0
    assert stream == before


def test_unknown_op():
    with pytest.raises(SpecError, match=r"^t\.op: must be one of scale, set, .*, got 'explode'$"):
        apply_transform(SMALL, {"op": "explode"}, path="t")
    with pytest.raises(SpecError, match=r"^t: must be a mapping"):
        apply_transform(SMALL, ["scale"], path="t")


# --------------------------------------------------------------------------- Scenario
def test_scenario_from_dict_validates_without_a_stream():
    s = Scenario.from_dict({"description": "d", "accelerator": "get_faster_feedback",
                            "transforms": [{"op": "scale", "path": "steps.*.rework.probability", "factor": 0.5}]}, "ff")
    assert s.name == "ff" and s.accelerator == "get_faster_feedback" and s.patch == {} and len(s.transforms) == 1
    cases = [
        ({"transforms": [{"op": "scale", "path": "steps.*.work", "factor": 2}, {"op": "nope"}]},
         "scenario.x.transforms[1].op: must be one of"),
        ({"transforms": [{"op": "scale", "path": "steps.*.work", "factor": -2}]},
         "scenario.x.transforms[0].factor: must be a number > 0, got -2"),
        ({"transforms": [{"op": "merge_steps", "steps": ["a"]}]}, "scenario.x.transforms[0].steps:"),
        ({"transforms": [{"op": "scale", "path": "steps.*.hand", "factor": 2}]}, "scenario.x.transforms[0].path:"),
        ({"accelerator": "go_faster"}, "scenario.x.accelerator: must be null or one of visualize_and_limit_wip"),
        ({"patches": {}}, "scenario.x.patches: unknown key"),
        ({"patch": [1]}, "scenario.x.patch: must be a mapping"),
        ({"transforms": {"op": "scale"}}, "scenario.x.transforms: must be a list"),
    ]
    for d, text in cases:
        with pytest.raises(SpecError) as e:
            Scenario.from_dict(d, "x")
        assert str(e.value).startswith(text), str(e.value)


def test_scenario_apply_patch_then_transforms_and_keeps_the_name():
    spec = vssim.load_stream(CONFIGS / "stream" / "dvs_basic.yaml")
    before = spec.to_dict()
    s = Scenario("p", patch={"name": "renamed", "pools": {"devs": {"dispatch": "fifo"}},
                             "steps": {"build": {"work": {"mean": 3.0}}, "release": {"cadence": None}}},
                 transforms=({"op": "add_people", "pool": "devs", "amount": 1},))
    new = s.apply(spec)
    assert new.name == "dvs_basic" and new.pools["devs"].size == 6 and new.pools["devs"].dispatch == "fifo"
    assert new.steps["build"].work.params["mean"] == 3.0 and new.steps["build"].work.params["cv"] == 1.0
    assert new.steps["release"].cadence is None
    assert spec.to_dict() == before
    assert BASELINE.apply(spec).to_dict() == before


def test_scenario_apply_names_itself_in_a_final_validation_error():
    s = Scenario("limit_wip", patch={"steps": {"build": {"wip_limit": 0}}})
    with pytest.raises(SpecError) as e:
        s.apply(STREAMS["dvs_basic"])
    assert str(e.value) == "scenario limit_wip: steps.build.wip_limit: must be a positive integer or null, got 0"


def test_deep_merge():
    assert deep_merge({"a": 2, "b": {"c": 1}}, {"a": {"dispatch": "fifo"}, "b": {"d": None}}) == \
        {"a": {"dispatch": "fifo"}, "b": {"c": 1, "d": None}}
    work = {"dist": "lognormal", "mean": 1.0, "cv": 0.8}
    assert deep_merge({"w": work}, {"w": {"dist": "exponential", "mean": 2.0}}) == \
        {"w": {"dist": "exponential", "mean": 2.0}}
    assert deep_merge({"w": work}, {"w": {"cv": 0.1}})["w"] == {"dist": "lognormal", "mean": 1.0, "cv": 0.1}
    pool = Scenario("x", patch={"pools": {"analysts": {"dispatch": "fifo"}}}).apply_dict(STREAMS["dvs_basic"])
    assert pool["pools"]["analysts"] == {"size": 2, "dispatch": "fifo"}


def test_compose_applies_in_order():
    a = Scenario("a", "A", "visualize_and_limit_wip", patch={"steps": {"build": {"wip_limit": 20}}},
                 transforms=({"op": "limit_wip", "per_person": 1},))
    b = Scenario("b", "B", patch={"steps": {"define": {"wip_limit": 9}}},
                 transforms=({"op": "merge_steps", "steps": ["validate", "release"]},))
    ab = compose([a, b])
    assert ab.name == "a+b" and ab.description == "A; B" and ab.accelerator is None
    stream = STREAMS["dvs_basic"]
    assert ab.apply(stream).to_dict() == b.apply(a.apply(stream)).to_dict()
    assert ab.apply(stream).steps["define"].wip_limit == 9           # b's patch comes after a's limit_wip
    assert compose([BASELINE, a]) is a and compose([a, BASELINE]) is a and compose([]) is BASELINE
    c = Scenario("c", patch={"release": {"backlog_limit": 50}})
    assert compose([c, a]).patch == {"release": {"backlog_limit": 50}, "steps": {"build": {"wip_limit": 20}}}
    assert compose([c, a]).apply(stream).to_dict() == a.apply(c.apply(stream)).to_dict()


# --------------------------------------------------------------------------- scenario files
def test_scenario_files_cover_every_accelerator_and_pull_and_kaikaku():
    scenarios = [load_scenario(p) for p in SCENARIO_FILES]
    names = {s.name for s in scenarios}
    assert {"baseline", "pull", "push"} <= names
    assert set(ACCELERATORS) <= {s.accelerator for s in scenarios}
    assert sum(s.accelerator == "kaikaku" for s in scenarios) >= 2
    assert load_scenario(CONFIGS / "scenario" / "baseline.yaml").is_identity
    for p in SCENARIO_FILES:
        assert p.read_text().splitlines()[0] == f"# @package scenario.{p.stem}"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_scenario_file_applies_to_its_streams(path):
    scenario = load_scenario(path)
    targets = ONLY_FOR.get(scenario.name, list(STREAMS))
    if scenario.name in OPEN_ONLY:
        targets = [t for t in targets if STREAMS[t]["arrivals"]["process"] != "saturated"]
    for name in targets:
        stream = STREAMS[name]
        before = copy.deepcopy(stream)
        spec = scenario.apply(stream, context=TINY)
        assert isinstance(spec, StreamSpec) and spec.name == stream["name"]
        assert stream == before


def test_load_scenario_refuses_a_wrong_package_line(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("# @package scenario.other\ndescription: x\n")
    with pytest.raises(SpecError, match=r"must start with '# @package scenario.mine'"):
        load_scenario(f)
    f.write_text("# @package scenario.mine\ntransforms:\n  - {op: scale, path: steps.*.work, factor: 0}\n")
    with pytest.raises(SpecError, match=r"^scenario.mine.transforms\[0\].factor: "):
        load_scenario(f)
    with pytest.raises(SpecError, match="an existing YAML file"):
        load_scenario(tmp_path / "missing.yaml")
