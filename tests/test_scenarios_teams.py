"""Scenarios on streams with teams (docs/scenarios.md §5, issue 13): every transform on the shipped
ART and portfolio builds a valid stream, exact limits and critical WIP on a tiny two-level stream,
the transforms that reorganise teams (split_work, minimize_dependencies, stream_aligned_teams),
their refusals, and `split.choose` in the model."""
from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import vssim
from vssim import SpecError, StreamSpec
from vssim.model.distributions import parse_distribution
from vssim.model.teams import expand, files_in
from vssim.run.experiment import Pilot
from vssim.scenarios.capacity import demand, raw_time
from vssim.scenarios.organise import _mix, add_counts
from vssim.scenarios.transforms import TRANSFORMS, Context, apply_transform, critical_wip

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
TEAMED = {n: expand(yaml.safe_load((CONFIGS / "stream" / f"{n}.yaml").read_text()), files_in(CONFIGS / "stream"))
          for n in ("art_component_teams", "portfolio")}
TINY = Context(pilot=Pilot(seed=3, horizon=150.0, warmup=20.0, replications=1))

TWO_LEVELS = {
    "name": "two_levels",
    "arrivals": {"process": "poisson", "rate": 0.1},
    "pools": {"p": 2},
    "teams": {
        "x": {"pools": {"xs": 3}, "steps": {"build": {"pool": "xs", "work": {"dist": "deterministic", "value": 2}}}},
        "y": {"pools": {"ys": 1}, "steps": {"build": {"pool": "ys", "work": {"dist": "deterministic", "value": 1},
                                                      "handoff": 1.0},
                                            "check": {"pool": "ys", "work": 0.5}}},
        "d": {"pools": {"ds": 1}, "steps": {"w": {"pool": "ds", "work": {"dist": "deterministic", "value": 4}}}},
    },
    "steps": {
        "a": {"pool": "p", "work": {"dist": "deterministic", "value": 1},
              "dependency": {"probability": 0.5, "team": "d", "size": 1.0}},
        "s": {"split": {"into": "story", "teams": {"x": {"count": 2}, "y": {"count": 1}}}},
    },
}
"""A parent does 1 at `a` (half the parents wait for 4 of team d's work first), then splits into two
children for x (2 each, three people) and one for y (1, then 0.5 after a handoff of 1, one person)."""


def op(stream: dict, name: str, /, **args) -> dict:
    return apply_transform(stream, {"op": name, **args}, context=TINY, path="t")


def refused(stream: dict, name: str, /, **args) -> str:
    with pytest.raises(SpecError) as e:
        op(stream, name, **args)
    assert "\n" not in str(e.value)
    return str(e.value)


def people(spec: StreamSpec) -> int:
    return sum(p.size for b in ("", *spec.teams) for p in spec.board(b)[1].values())


# --------------------------------------------------------------------------- every transform
OPS = {
    "scale": ({"path": "steps.*.work", "factor": 0.5}, {"path": "steps.*.work", "factor": 0.5}),
    "set": ({"path": "pools.*.dispatch", "value": "fifo"}, {"path": "pools.*.dispatch", "value": "fifo"}),
    "remove": ({"path": "steps.*.rework"}, {"path": "steps.*.wip_limit"}),
    "patch": ({"values": {"teams": {"web": {"pools": {"web_devs": 6}}}}},
              {"values": {"teams": {"retail": {"teams": {"web": {"pools": {"web_devs": 6}}}}}}}),
    "merge_steps": ({"steps": ["web/build", "web/test"]}, {"steps": ["retail/web/build", "retail/web/test"]}),
    "merge_pools": ({"pools": "all", "name": "team", "speed": 0.5},
                    {"pools": ["retail/retail_product", "retail/retail_system"], "name": "art", "speed": 1}),
    "remove_step": ({"step": "web/test"}, {"step": "payments/integrate"}),
    "add_people": ({"pool": "web/web_devs"}, {"pool": "payments/data/data_devs", "amount": 2}),
    "elevate_constraint": ({}, {}),
    "limit_wip": ({"per_person": 2}, {"per_person": 1}),
    "set_policy": ({"policy": "conwip", "conwip": {"critical_wip": 2}},
                   {"policy": "conwip", "conwip": {"critical_wip": 1.5}, "backlog_limit": {"critical_wip": 0.5}}),
    "split_items": ({"factor": 2}, {"factor": 3}),
    "split_by_type": ({"streams": {"features": ["feature"], "enablers": ["enabler"]}},
                      {"streams": {"business": ["business"], "enablers": ["enabler"]}}),
    "split_work": ({"factor": 2}, {"factor": 3, "team": "slices", "into": "slice"}),
    "minimize_dependencies": ({}, {"drop": 2}),
    "stream_aligned_teams": ({"keep": ["system"], "speed": 0.5},
                             {"keep": ["platform"], "step": "retail/implement", "speed": 1}),
}
"""Each transform's arguments on art_component_teams and on portfolio."""


def test_every_transform_is_tried_on_the_team_streams():
    assert set(OPS) == set(TRANSFORMS)


@pytest.mark.parametrize("stream", list(TEAMED))
@pytest.mark.parametrize("name", list(OPS))
def test_every_transform_on_a_stream_with_teams_builds_a_valid_stream(name, stream):
    d = TEAMED[stream]
    if (name, stream) == ("split_by_type", "art_component_teams"):
        d = op(d, "add_people", pool="release_train")          # one person cannot be split between two streams
    before = copy.deepcopy(d)
    if name == "split_items":                                    # parts are of arrivals: refused, split_work instead
        with pytest.raises(SpecError) as info:
            op(d, name, **OPS[name][stream == "portfolio"])
        assert "split each item into children that join instead (split_work" in str(info.value)
        assert "\n" not in str(info.value) and d == before
        return
    out = op(d, name, **OPS[name][stream == "portfolio"])
    spec = StreamSpec.from_dict(out)
    assert StreamSpec.from_dict(spec.to_dict()) == spec          # what a sweep or a later scenario re-parses
    assert d == before                                           # the input is never changed


# --------------------------------------------------------------------------- names and paths
def test_paths_reach_every_board_and_qualified_names():
    out = op(TEAMED["art_component_teams"], "scale", path="steps.*.rework.probability", factor=0.5)
    assert out["teams"]["web"]["steps"]["test"]["rework"]["probability"] == 0.05
    assert out["teams"]["system"]["steps"]["e2e_test"]["rework"]["probability"] == 0.075
    out = op(TEAMED["portfolio"], "scale", path="pools.retail/web/web_devs", factor=2)
    assert out["teams"]["retail"]["teams"]["web"]["pools"]["web_devs"] == 10
    assert out["teams"]["payments"]["teams"]["api"]["pools"]["api_devs"] == 5     # the other ART's: untouched
    out = op(TEAMED["portfolio"], "set", path="teams.*.release.conwip", value=None)
    assert {b: t["release"]["conwip"] for b, t in out["teams"].items()} == dict.fromkeys(out["teams"])
    assert out["teams"]["retail"]["teams"]["web"]["release"]["conwip"] is None          # nested teams too
    assert out["release"]["conwip"] == 6                                                # the stream's own: kept


def test_a_split_count_scales_to_zero_and_a_team_absent_from_a_split_is_skipped():
    d = TEAMED["art_component_teams"]
    out = op(d, "scale", path="steps.*.split.teams.api.count", factor=0.2)
    assert out["steps"]["implement"]["split"]["teams"]["api"]["count"] == 0          # 0.4 rounds to 0, not 1
    assert out["steps"]["integrate"]["split"]["teams"] == {"system": {"count": 1}}    # no api there: skipped


@pytest.mark.parametrize("path, message", [
    ("steps.web/bild.work", "t.path: must be a path naming an existing step (refine, implement, integrate, release, "
                            "web/build, web/test, api/design, api/build, data/build, system/integrate, "
                            "system/e2e_test), got 'steps.web/bild.work'"),
    ("teams.wbe.release.conwip", "t.path: must be a path naming an existing team (web, api, data, system), got "
                                 "'teams.wbe.release.conwip'"),
    ("teams.web.pools", "t.path: 'pools' is not a field of teams.web (allowed: release), got 'teams.web.pools'"),
])
def test_wrong_paths_are_refused_naming_the_choices(path, message):
    assert refused(TEAMED["art_component_teams"], "scale", path=path, factor=2) == message


@pytest.mark.parametrize("name, args, message", [
    ("merge_steps", {"steps": ["web/build", "api/build"]},
     "t.steps: must name steps of one board, got ['web/build', 'api/build'] (boards 'web', 'api': a team's people "
     "work only its own steps)"),
    ("merge_steps", {"steps": ["refine", "implement"]},
     "t.steps: must not name a split step, got 'implement': it has no work to merge (its teams do it)"),
    ("merge_steps", {"steps": ["web/build", "web/test"], "pool": "api/api_devs"},
     "t.pool: must name pools of the steps' board, got 'api/api_devs'"),
    ("merge_pools", {"pools": ["web/web_devs", "api/api_devs"], "name": "devs", "speed": 1},
     "t.pools: must name pools of one board, got ['web/web_devs', 'api/api_devs'] (boards 'web', 'api': a team's "
     "people work only its own steps)"),
    ("add_people", {"pool": "web/devs"}, "t.pool: must be one of the pools product_management, release_train, "
                                         "web/web_devs, web/web_testers, api/api_devs, data/data_devs, "
                                         "system/system_engineers, got 'web/devs'"),
])
def test_names_of_two_boards_or_of_a_split_step_are_refused(name, args, message):
    assert refused(TEAMED["art_component_teams"], name, **args) == message


def test_merge_pools_all_merges_each_board_on_its_own():
    out = op(TEAMED["art_component_teams"], "merge_pools", pools="all", name="team", speed=1)
    assert out["pools"] == {"team": 3}
    assert {t: b["pools"] for t, b in out["teams"].items()} == {"web": {"team": 6}, "api": {"team": 4},
                                                                 "data": {"team": 2}, "system": {"team": 3}}
    assert out["teams"]["web"]["steps"]["test"]["pool"] == "team"


# --------------------------------------------------------------------------- limits and the critical WIP
def test_limit_wip_on_every_board_exact():
    out = op(TWO_LEVELS, "limit_wip", per_person=2)
    # a: 2 people, work 1, half the parents wait 4 for team d first: ceil(2 x 2 x (1 + 2) / 1)
    assert out["steps"]["a"]["wip_limit"] == 12
    # the split column: ceil(2 per person x (3 + 1) people of x and y / 3 children a parent) parents
    assert out["steps"]["s"]["wip_limit"] == 3
    assert out["teams"]["x"]["steps"]["build"]["wip_limit"] == 6
    assert out["teams"]["y"]["steps"]["build"]["wip_limit"] == 2
    assert out["teams"]["y"]["steps"]["check"]["wip_limit"] == 6       # 1 person, work 0.5 + its handoff 1 in
    assert out["teams"]["d"]["steps"]["w"]["wip_limit"] == 2
    StreamSpec.from_dict(out)


def test_critical_wip_counts_every_board_and_waits_for_the_slowest_team():
    spec = StreamSpec.from_dict(TWO_LEVELS)
    # work per parent: p 1 (2 people), d 0.5 x 4 (1), x 2 x 2 (3), y 1 + 0.5 (1): r_b = min(2, 1/2, 3/4, 2/3)
    assert demand(spec) == pytest.approx({"p": 1.0, "x/xs": 4.0, "y/ys": 1.5, "d/ds": 2.0})
    # T0: a 1 + 0.5 x 4, then the slowest of x (2) and y (1 + handoff 1 + 0.5)
    assert raw_time(spec, "item", 1.0, "y") == pytest.approx(2.5)
    rb, t0, w0 = critical_wip(spec)
    assert (rb, t0, w0) == pytest.approx((0.5, 5.5, 2.75))
    out = op(TWO_LEVELS, "set_policy", policy="conwip", conwip={"critical_wip": 2})
    assert out["release"]["conwip"] == 6


# --------------------------------------------------------------------------- add_counts
@pytest.mark.parametrize("a, b, total", [
    (2, 3, 5),
    (2, {"dist": "empirical", "values": [0, 1]}, {"dist": "empirical", "values": [2, 3]}),
    ({"dist": "empirical", "values": [0, 1]}, {"dist": "empirical", "values": [0, 2]},
     {"dist": "empirical", "values": [0, 2, 1, 3]}),
    ({"dist": "poisson", "mu": 2}, {"dist": "poisson", "mean": 1.5}, {"dist": "poisson", "mu": 3.5}),
    ({"dist": "poisson", "mu": 2}, 3, {"dist": "poisson", "mu": 2.0, "loc": 3}),
    ({"dist": "poisson", "mu": 2}, {"dist": "empirical", "values": [1, 1, 2, 4]},
     {"dist": "poisson", "mu": 3.0, "loc": 1}),                 # not writable: a poisson of the same mean from 1
    ({"dist": "empirical", "values": [0.4, 2.6]}, 0, {"dist": "empirical", "values": [0, 3]}),    # as the engine rounds
])
def test_add_counts_is_the_sum_where_it_can_be_written_else_keeps_the_mean(a, b, total):
    assert add_counts(a, b, "x") == total
    mean = parse_distribution(total, "x").mean
    assert mean == pytest.approx(_count_mean(a) + _count_mean(b))


def _count_mean(count) -> float:
    d = parse_distribution(count, "x")
    values = d.params.get("values")
    return sum(math.floor(v + 0.5) for v in values) / len(values) if values else d.mean


# --------------------------------------------------------------------------- split_work
def test_split_work_moves_the_board_into_a_team_of_children():
    spec = StreamSpec.from_dict(op(TEAMED["art_component_teams"], "split_work", factor=2))
    assert list(spec.steps) == ["split"] and spec.pools == {}
    split = spec.steps["split"].split
    assert (split.into, split.teams["parts"].mean, split.size.mean) == ("part", 2.0, 0.5)
    assert list(spec.teams["parts"].steps) == ["refine", "implement", "integrate", "release"]
    assert spec.teams["parts"].steps["implement"].split.teams["web"].mean == 2.0      # the teams, one level deeper
    assert spec.release == StreamSpec.from_dict(TEAMED["art_component_teams"]).release
    assert people(spec) == people(StreamSpec.from_dict(TEAMED["art_component_teams"]))


def test_split_work_runs_halves_that_join():
    """One item of work 2 for one person, split in halves: done at 1 and 2, the item at 2."""
    d = {"name": "one", "arrivals": {"process": "backlog", "count": 1}, "pools": {"p": 1},
         "steps": {"do": {"pool": "p", "work": {"dist": "deterministic", "value": 2.0}}}}
    result = vssim.simulate(StreamSpec.from_dict(op(d, "split_work", factor=2)), horizon=None, warmup=0.0,
                            replications=1, seed=1, progress=False)
    m = result.summary["metrics"]
    assert m["completed"] == 1 and m["lead_time"]["mean"] == pytest.approx(2.0)
    assert m["time_to_first_value"]["mean"] == pytest.approx(1.0)
    assert result.summary["levels"]["part"]["completed"] == 2
    assert sorted(result.items[result.items["level"] == "part"]["done"]) == pytest.approx([1.0, 2.0])


def test_split_work_refusals():
    assert refused(TEAMED["art_component_teams"], "split_work", factor=2, team="web") == \
        "t.team: must be a name not used by a team of the stream (web, api, data, system), got 'web'"
    assert refused(TWO_LEVELS, "split_work", factor=1).startswith("t.factor: must be an integer >= 2")


# --------------------------------------------------------------------------- minimize_dependencies
def test_minimize_dependencies_on_the_art():
    base = StreamSpec.from_dict(TEAMED["art_component_teams"])
    out = op(TEAMED["art_component_teams"], "minimize_dependencies")
    spec = StreamSpec.from_dict(out)
    split = spec.steps["implement"].split
    assert list(split.teams) == ["web", "api", "system"]                      # data: the fewest stories (0.75)
    assert split.teams["web"].to_dict() == {"dist": "poisson", "mu": 2.75}
    assert sum(split.expected_count(t) for t in split.teams) == pytest.approx(
        sum(base.steps["implement"].split.expected_count(t) for t in base.steps["implement"].split.teams))
    # data keeps one developer for refine's dependency; the other follows the work to web's developers
    assert spec.teams["data"].pools["data_devs"].size == 1 and spec.teams["web"].pools["web_devs"].size == 6
    assert people(spec) == people(base)
    assert spec.teams["system"] == base.teams["system"]                       # shared (two splits): left alone
    assert out["description"].endswith("(data's children of implement go to web, with 1 people)")


def test_minimize_dependencies_on_the_portfolio_removes_teams_that_gave_all_their_work():
    base = StreamSpec.from_dict(TEAMED["portfolio"])
    spec = StreamSpec.from_dict(op(TEAMED["portfolio"], "minimize_dependencies"))
    assert "retail/api" not in spec.teams and "payments/data" not in spec.teams
    assert spec.teams["retail"].steps["implement"].split.teams["retail/web"].to_dict() == \
        {"dist": "poisson", "mu": 3.0, "loc": 2}
    assert {p: v.size for p, v in spec.teams["retail/web"].pools.items()} == {"web_devs": 8, "web_testers": 2}
    assert spec.teams["payments"].steps["implement"].split.teams["payments/api"].to_dict() == \
        {"dist": "empirical", "values": [3.0, 4.0, 4.0, 5.0]}
    assert spec.teams["payments/api"].pools["api_devs"].size == 7
    assert people(spec) == people(base)
    assert spec.steps == base.steps                      # the ARTs split again: not component teams


def test_minimize_dependencies_keeps_what_it_is_told_and_leaves_streams_without_teams():
    out = op(TEAMED["art_component_teams"], "minimize_dependencies", keep=["data"])
    assert list(out["steps"]["implement"]["split"]["teams"]) == ["web", "data", "system"]   # api (2) into web (2)
    d = yaml.safe_load((CONFIGS / "stream" / "dvs_basic.yaml").read_text())
    assert op(d, "minimize_dependencies") == d
    assert refused(TEAMED["art_component_teams"], "minimize_dependencies", keep=["sys"]) == \
        "t.keep: must be a list of the stream's teams (web, api, data, system), got 'sys'"


# --------------------------------------------------------------------------- stream_aligned_teams
def test_stream_aligned_teams_on_the_art():
    base = StreamSpec.from_dict(TEAMED["art_component_teams"])
    out = op(TEAMED["art_component_teams"], "stream_aligned_teams", keep=["system"], speed=1)
    spec = StreamSpec.from_dict(out)
    assert list(spec.teams) == ["system", "sa1", "sa2", "sa3"]
    assert {t: spec.teams[t].pools["team"].size for t in ("sa1", "sa2", "sa3")} == {"sa1": 4, "sa2": 4, "sa3": 4}
    assert people(spec) == people(base)
    split = spec.steps["implement"].split
    assert split.choose == ("sa1", "sa2", "sa3") and split.choice() == pytest.approx(dict.fromkeys(split.choose, 1 / 3))
    assert split.teams["system"] == base.steps["implement"].split.teams["system"]
    assert split.expected_count("sa1") == pytest.approx(4.75)                 # web 2 + api 2 + data 0.75 stories
    assert list(spec.teams["sa1"].steps) == ["build_web", "test_web", "design_api", "build_api", "build_data"]
    assert spec.teams["sa1"].steps["test_web"].rework.to == "build_web"
    assert spec.teams["sa1"].release.conwip == 6                              # (8 + 6 + 4) x 4 / 12
    assert spec.steps["refine"].dependency is None                            # the data work is the feature's own
    # the same work: every pool's offered work per feature, summed, and the product's and system's each
    before, after = demand(base), demand(spec)
    assert sum(after.values()) == pytest.approx(sum(before.values()), rel=1e-12)
    for pool in ("product_management", "release_train", "system/system_engineers"):
        assert after[pool] == pytest.approx(before[pool], rel=1e-12)


def test_stream_aligned_teams_in_one_art_of_the_portfolio():
    spec = StreamSpec.from_dict(op(TEAMED["portfolio"], "stream_aligned_teams", keep=["platform"],
                                   step="retail/implement", teams=3, speed=1))
    assert [t for t in spec.teams if t.startswith("retail/")] == ["retail/sa1", "retail/sa2", "retail/sa3"]
    assert [spec.teams[f"retail/sa{i}"].pools["team"].size for i in (1, 2, 3)] == [4, 3, 3]
    assert spec.teams["payments/api"] == StreamSpec.from_dict(TEAMED["portfolio"]).teams["payments/api"]


SPEED_1_IS_THE_OLD_REGROUPING = {
    "art": ("art_component_teams", {"keep": ["system"]}, "25039ccd2474a5e7"),
    "art5": ("art_component_teams", {"keep": ["system"], "teams": 5}, "b0b1ea87f0e64f95"),
    "portfolio": ("portfolio", {"keep": ["platform"], "step": "retail/implement", "teams": 3}, "63af6969b2be5923"),
}
"""`stream_aligned_teams` before `speed` existed: sha256 (first 16 hex) of the result's JSON, in its key order."""


@pytest.mark.parametrize("case", list(SPEED_1_IS_THE_OLD_REGROUPING))
def test_stream_aligned_teams_at_speed_1_is_the_old_regrouping_bit_for_bit(case):
    stream, args, expected = SPEED_1_IS_THE_OLD_REGROUPING[case]
    out = op(TEAMED[stream], "stream_aligned_teams", speed=1, **args)
    assert hashlib.sha256(json.dumps(out).encode()).hexdigest()[:16] == expected


def skills_of(spec: StreamSpec, teams: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in teams:
        for p, pool in spec.teams[t].pools.items():
            out[p] = out.get(p, 0) + pool.size
    return out


def test_stream_aligned_teams_keep_every_skill_exact():
    base = StreamSpec.from_dict(TEAMED["art_component_teams"])
    out = op(TEAMED["art_component_teams"], "stream_aligned_teams", keep=["system"], speed=0.5)
    spec = StreamSpec.from_dict(out)
    new = ["sa1", "sa2", "sa3"]
    # each skill's people spread by largest remainder, a tie to the team with the fewest people so far
    assert {t: out["teams"][t]["pools"] for t in new} == {
        "sa1": {"web_devs": 2, "api_devs": 2},
        "sa2": {"web_devs": 2, "api_devs": 1, "data_devs": 1},
        "sa3": {"web_devs": 1, "web_testers": 1, "api_devs": 1, "data_devs": 1}}
    assert skills_of(spec, new) == {"web_devs": 5, "web_testers": 1, "api_devs": 4, "data_devs": 2}
    assert skills_of(base, ["web", "api", "data"]) == {"web_devs": 5, "web_testers": 1, "api_devs": 4, "data_devs": 2}
    assert people(spec) == people(base)
    assert {n: s["pool"] for n, s in out["teams"]["sa3"]["steps"].items()} == {
        "build_web": ["web_devs", {"pool": "web_testers", "speed": 0.5}, {"pool": "api_devs", "speed": 0.5},
                      {"pool": "data_devs", "speed": 0.5}],
        "test_web": ["web_testers", {"pool": "web_devs", "speed": 0.5}, {"pool": "api_devs", "speed": 0.5},
                     {"pool": "data_devs", "speed": 0.5}],
        "design_api": ["api_devs", {"pool": "web_devs", "speed": 0.5}, {"pool": "web_testers", "speed": 0.5},
                       {"pool": "data_devs", "speed": 0.5}],
        "build_api": ["api_devs", {"pool": "web_devs", "speed": 0.5}, {"pool": "web_testers", "speed": 0.5},
                      {"pool": "data_devs", "speed": 0.5}],
        "build_data": ["data_devs", {"pool": "web_devs", "speed": 0.5}, {"pool": "web_testers", "speed": 0.5},
                       {"pool": "api_devs", "speed": 0.5}]}
    # a team without the skill: the step is everyone's at 0.5
    assert out["teams"]["sa1"]["steps"]["test_web"]["pool"] == [{"pool": "web_devs", "speed": 0.5},
                                                                 {"pool": "api_devs", "speed": 0.5}]
    assert out["teams"]["system"] == TEAMED["art_component_teams"]["teams"]["system"]        # shared: kept
    # only who works a step, and at what speed, differ from everyone at full speed
    full = op(TEAMED["art_component_teams"], "stream_aligned_teams", keep=["system"], speed=1)
    for t in new:
        assert {n: {k: v for k, v in s.items() if k != "pool"} for n, s in out["teams"][t]["steps"].items()} == \
            {n: {k: v for k, v in s.items() if k != "pool"} for n, s in full["teams"][t]["steps"].items()}
        assert out["teams"][t]["release"] == full["teams"][t]["release"]
        assert sum(out["teams"][t]["pools"].values()) == full["teams"][t]["pools"]["team"]
    assert out["description"].endswith("sa3 (4): one team per parent; skills kept, outside them at speed 0.5)")


def test_stream_aligned_teams_take_the_mix_they_are_given():
    out = op(TEAMED["art_component_teams"], "stream_aligned_teams", keep=["system"], speed=0.5, teams=2,
             mix={"web_devs": [3, 2], "api_devs": 2})
    assert {t: out["teams"][t]["pools"] for t in ("sa1", "sa2")} == {
        "sa1": {"web_devs": 3, "api_devs": 2, "data_devs": 1},                 # 5, then the rule for the rest
        "sa2": {"web_devs": 2, "web_testers": 1, "api_devs": 2, "data_devs": 1}}
    assert [out["teams"][t]["release"]["conwip"] for t in ("sa1", "sa2")] == [9, 9]    # 18 x 6 / 12
    one = op(TEAMED["art_component_teams"], "stream_aligned_teams", keep=["system"], speed=1, teams=2,
             mix={"web_devs": [4, 1], "web_testers": [1, 0]})
    assert [one["teams"][t]["pools"]["team"] for t in ("sa1", "sa2")] == [8, 4]       # at speed 1: the sizes


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=6), st.integers(1, 8))
def test_the_mix_rule_places_every_person_and_keeps_teams_within_one(people_per_skill, n):
    skills = {f"k{i}": ("t", f"p{i}", m) for i, m in enumerate(people_per_skill)}
    if n > sum(people_per_skill):
        with pytest.raises(SpecError):
            _mix(skills, n, "proportional", "t.mix")
        return
    mix = _mix(skills, n, "proportional", "t.mix")
    for k, (_t, _p, m) in skills.items():
        assert sum(mix[k]) == m and all(m // n <= x <= -(-m // n) for x in mix[k])   # its quota, rounded
    totals = [sum(mix[k][i] for k in skills) for i in range(n)]
    assert max(totals) - min(totals) <= 1 and totals == sorted(totals, reverse=True)  # as sizes were before


@pytest.mark.parametrize("args, message", [
    ({}, "t.speed: required: speed: 1 for everyone working every step at full speed, or < 1 for people outside "
         "their skill"),
    ({"speed": 2}, "t.speed: must be a number in (0, 1] (speed: 1 for everyone"),
    ({"speed": 0.5, "mix": "even"}, "t.mix: must be one of proportional or {SKILL: people per team}, got 'even'"),
    ({"speed": 0.5, "mix": {"web_devs": -1}}, "t.mix.web_devs: must be an integer >= 0, got -1"),
    ({"speed": 0.5, "mix": {"web_devs": []}}, "t.mix.web_devs: must be an integer >= 0 (people in every team) or a "
                                              "list of them (per team), got []"),
    ({"speed": 0.5, "mix": {"testers": 1}}, "t.mix: must be a mapping of the skills web_devs, web_testers, "
                                            "api_devs, data_devs to people per team, got 'testers'"),
    ({"speed": 0.5, "mix": {"web_devs": 2}}, "t.mix.web_devs: must place the 5 people of web_devs over the 3 teams, "
                                             "got 6 (2)"),
    ({"speed": 0.5, "mix": {"web_devs": [4, 1]}}, "t.mix.web_devs: must be a number or a list of 3 numbers, one per "
                                                  "team, got [4, 1]"),
    ({"speed": 0.5, "teams": 2, "mix": {"web_devs": [5, 0], "web_testers": [1, 0], "api_devs": [4, 0],
                                        "data_devs": [2, 0]}},
     "t.mix: must give every new team at least one person, got none in team 2 of 2"),
])
def test_stream_aligned_teams_refuse_a_wrong_speed_or_mix(args, message):
    assert refused(TEAMED["art_component_teams"], "stream_aligned_teams", keep=["system"], **args).startswith(message)


def test_stream_aligned_teams_refuse_a_component_pool_with_a_schedule():
    d = copy.deepcopy(TEAMED["art_component_teams"])
    d["teams"]["api"]["pools"]["api_devs"] = {"size": 4, "schedule": [{"at": 50, "size": 2}]}
    assert refused(d, "stream_aligned_teams", keep=["system"], speed=0.5) == (
        "t: cannot regroup the people of api/api_devs: its schedule cannot be split over the new teams (give the "
        "new teams' pools schedules after the transform)")


@pytest.mark.parametrize("stream, args, message", [
    ("portfolio", {"step": "retail/implement"},
     "t.keep: must keep team 'platform': payments/implement gives it work too (only the split and dependencies on "
     "its board move to the new teams)"),
    ("portfolio", {"keep": ["platform"]},
     "t.step: must name the split to regroup: the splits with two or more component teams (not kept, no splits of "
     "their own) are retail/implement, payments/implement"),
    ("art_component_teams", {"keep": ["system"], "teams": 13}, "t.teams: must be at most the 12 people of web, "
                                                               "api, data, got 13"),
    ("art_component_teams", {"step": "refine"}, "t.step: must name a split step, got 'refine'"),
    ("art_component_teams", {"step": "integrate"}, "t.step: must name a split with two or more component teams "
                                                   "(not kept, no splits of their own), got 'integrate'"),
    ("art_component_teams", {"keep": ["system"], "prefix": "a/b"}, "t.prefix: must be a name"),
])
def test_stream_aligned_teams_refusals(stream, args, message):
    assert refused(TEAMED[stream], "stream_aligned_teams", **{"speed": 0.5, **args}).startswith(message)


# --------------------------------------------------------------------------- split.choose in the model
def test_choose_draws_one_team_per_parent_and_counts_its_load():
    d = copy.deepcopy(TWO_LEVELS)
    d["steps"]["s"]["split"]["choose"] = ["x", "y"]
    split = StreamSpec.from_dict(d).steps["s"].split
    assert split.choose == ("x", "y") and split.choice() == pytest.approx({"x": 2 / 3, "y": 1 / 3})
    assert StreamSpec.from_dict(d).steps["s"].sends() == pytest.approx({"x": 4 / 3, "y": 1 / 3})


@pytest.mark.parametrize("choose, message", [
    (["x"], "must be a list of at least 2 of the split's teams (x, y) without repeats, or null, got ['x']"),
    (["x", "x"], "must be a list of at least 2 of the split's teams (x, y) without repeats, or null, got ['x', 'x']"),
    (["x", "z"], "must be a list of at least 2 of the split's teams (x, y) without repeats, or null, got ['x', 'z']"),
    ([{"x": 1}, "y"], "must be a list of at least 2 of the split's teams (x, y) without repeats, or null"),
    ("x", "must be a list of at least 2 of the split's teams (x, y) without repeats, or null, got 'x'"),
])
def test_choose_refusals(choose, message):
    d = copy.deepcopy(TWO_LEVELS)
    d["steps"]["s"]["split"]["choose"] = choose
    with pytest.raises(SpecError) as e:
        StreamSpec.from_dict(d)
    assert str(e.value).startswith("steps.s.split.choose: " + message)


def test_choose_needs_a_team_that_makes_children():
    d = copy.deepcopy(TWO_LEVELS)
    d["steps"]["s"]["split"]["teams"] = {"x": {"count": 0}, "y": {"count": 0}}
    d["steps"]["s"]["split"]["choose"] = ["x", "y"]
    with pytest.raises(SpecError, match=r"^steps.s.split.choose: must list a team whose count has a mean > 0"):
        StreamSpec.from_dict(d)


def test_a_stream_without_pools_must_split_every_step():
    d = copy.deepcopy(TWO_LEVELS)
    del d["pools"]
    with pytest.raises(SpecError) as e:
        StreamSpec.from_dict(d)
    assert str(e.value) == "pools: required (a stream whose every step splits may have none)"
    d["steps"] = {"s": d["steps"]["s"]}
    assert StreamSpec.from_dict(d).pools == {}
