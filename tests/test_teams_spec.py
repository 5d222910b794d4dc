"""Teams, splits and levels in the stream model (issue 13, docs/model.md "Teams, splits and levels"):
what a stream with teams parses into, the one-line refusal of every mistake, team files referenced
by `{stream: NAME}` and overridden, the offered load of a hierarchy, the command line's overrides
of a team (inline and from a file, a sweep too), and the engines' refusal until they run teams."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml
from conftest import CONFIGS, run_cli_parallel

import vssim
from vssim import SpecError, StreamSpec
from vssim.model.distributions import parse_distribution
from vssim.model.keys import MAX_TEAMS
from vssim.model.spec import Release
from vssim.model.teams import child_counts

SCHEMA = jsonschema.Draft202012Validator(json.loads((CONFIGS.parent / "schema" / "stream.schema.json").read_text()))

ART = {
    "name": "art",
    "arrivals": {"process": "poisson", "rate": 0.5},
    "item_types": {"feature": {"share": 0.8}, "enabler": {"share": 0.2, "size": 2.0}},
    "pools": {"po": 1, "sys": 2},
    "teams": {
        "web": {"pools": {"devs": 4}, "steps": {"build": {"pool": "devs", "work": 2.0}}},
        "api": {"pools": {"devs": 2},
                "steps": {"design": {"pool": "devs", "work": 0.5},
                          "build": {"split": {"into": "task", "teams": {"tasks": {"count": 2}}}}},
                "teams": {"tasks": {"pools": {"d": 1}, "steps": {"do": {"pool": "d", "work": 0.1}}}}},
    },
    "steps": {
        "refine": {"pool": "po", "work": 1.0},
        "implement": {"split": {"into": "story",
                                "teams": {"web": {"count": 3},
                                          "api": {"count": {"dist": "empirical", "values": [0, 1, 2]}}},
                                "size": 0.5},
                      "wip_limit": 4},
        "integrate": {"pool": "sys", "work": 0.5, "dependency": {"probability": 0.2, "team": "web"}},
    },
}
"""An ART: features refined, split into stories for web and api (api splits its own into tasks for its
own team), integrated after a piece of work from web for one feature in five."""


def art(**changes) -> dict:
    """A deep copy of ART with `changes` ({dotted.path: value}, None deletes) applied."""
    d = copy.deepcopy(ART)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = d
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last)
        else:
            node[last] = value
    return d


def refused(d: dict, **kw) -> str:
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(d, **kw)
    text = str(info.value)
    assert "\n" not in text
    return text


# --------------------------------------------------------------------------- the data model
def test_a_stream_with_teams_parses_into_flat_qualified_teams():
    spec = StreamSpec.from_dict(ART)
    assert list(spec.teams) == ["web", "api", "api/tasks"]
    assert spec.level == "item"
    web, api, tasks = spec.teams.values()
    assert (web.name, list(web.pools), list(web.steps), web.release) == ("web", ["devs"], ["build"], Release())
    assert web.qualify("devs") == "web/devs" and tasks.qualify("d") == "api/tasks/d"
    split = spec.steps["implement"].split
    assert split.into == "story" and list(split.teams) == ["web", "api"]
    assert split.teams["web"].name == "deterministic" and split.teams["web"].mean == 3
    assert split.size.mean == 0.5
    assert spec.steps["implement"].pools == () and spec.steps["implement"].work is None
    assert spec.steps["implement"].wip_limit == 4
    assert api.steps["build"].split.teams == {"api/tasks": parse_distribution(2, "x")}
    dep = spec.steps["integrate"].dependency
    assert (dep.probability, dep.team, dep.delay, dep.size) == (0.2, "web", None, None)
    assert StreamSpec.from_dict({**ART, "level": "feature"}).level == "feature"


def test_a_stream_without_teams_is_as_before():
    spec = vssim.load_stream(CONFIGS / "stream" / "dvs_basic.yaml")
    assert spec.teams == {} and spec.level == "item"
    assert all(s.split is None and s.work is not None for s in spec.steps.values())
    rate = spec.arrival_rate()
    devs = sum(t.share * rate * spec.visit_ratios(t.name)["build"] * spec.steps["build"].work.mean * t.mean_size
               for t in spec.item_types.values())
    pool = spec.pools["devs"]
    extra = 1 + pool.interruptions.rate * pool.interruptions.duration.mean
    assert spec.offered_load()["devs"] == pytest.approx(devs * extra / pool.size, rel=1e-12)


def test_names_are_looked_up_in_the_nearest_scope_first():
    """A split in api names api's own `web` before the stream's; the stream cannot see inside api."""
    d = art(**{"teams.api.teams.web": {"pools": {"x": 1}, "steps": {"s": {"pool": "x", "work": 1.0}}},
               "teams.api.steps.build.split.teams": {"web": {}, "tasks": {}}})
    spec = StreamSpec.from_dict(d)
    assert list(spec.teams["api"].steps["build"].split.teams) == ["api/web", "api/tasks"]
    assert list(spec.steps["implement"].split.teams) == ["web", "api"]
    d = art(**{"teams.api.steps.build.split.teams": {"web": {}}})      # no own web: the stream's
    assert list(StreamSpec.from_dict(d).teams["api"].steps["build"].split.teams) == ["web"]
    assert refused(art(**{"steps.implement.split.teams": {"tasks": {}}})) == \
        "steps.implement.split.teams.tasks: unknown team 'tasks'; allowed: web, api"
    d = art(**{"teams.api.teams.tasks.steps.do": {"pool": "d", "work": 0.1, "dependency": {"probability": 0.5,
                                                                                          "team": "web"}}})
    assert StreamSpec.from_dict(d).teams["api/tasks"].steps["do"].dependency.team == "web"


def test_one_team_serves_several_splits_and_dependencies():
    d = art(**{"steps.integrate": {"split": {"into": "story", "teams": {"web": {"count": 1}}}},
               "steps.release": {"pool": "sys", "work": 0.1, "dependency": {"probability": 1, "team": "web"}}})
    spec = StreamSpec.from_dict(d)
    assert [s.name for s in spec.steps.values() if "web" in s.sends()] == ["implement", "integrate", "release"]


# --------------------------------------------------------------------------- refusals
REFUSED = {
    "unknown-team": ({"steps.implement.split.teams.wbe": {}},
                     "steps.implement.split.teams.wbe: unknown team 'wbe'; allowed: web, api"),
    "unknown-dependency-team": ({"steps.integrate.dependency.team": "dat"},
                                "steps.integrate.dependency.team: unknown team 'dat'; allowed: web, api"),
    "split-with-work": ({"steps.implement.work": 1.0}, "steps.implement.work: not allowed on a split step"),
    "split-with-pool": ({"steps.implement.pool": "po"}, "steps.implement.pool: not allowed on a split step"),
    "split-with-rework": ({"steps.implement.rework": {"probability": 0.1, "to": "refine"}},
                          "steps.implement.rework: not allowed on a split step"),
    "split-with-dependency": ({"steps.implement.dependency": {"probability": 0.1, "delay": 1}},
                              "steps.implement.dependency: not allowed on a split step"),
    "step-without-work": ({"steps.refine.work": None},
                          "steps.refine.work: required (a step without it splits: give split)"),
    "count-fraction": ({"steps.implement.split.teams.web.count": 2.5},
                       "steps.implement.split.teams.web.count: must be a non-negative integer, got 2.5"),
    "count-negative": ({"steps.implement.split.teams.web.count": -1},
                       "steps.implement.split.teams.web.count: must be a non-negative integer, got -1"),
    "count-text": ({"steps.implement.split.teams.web.count": "3"},
                   "steps.implement.split.teams.web.count: must be a non-negative integer, got '3'"),
    "count-negative-support": ({"steps.implement.split.teams.web.count": {"dist": "norm", "loc": 3}},
                               "steps.implement.split.teams.web.count: must be a distribution with support >= 0"),
    "count-huge-mean": ({"steps.implement.split.teams.web.count": {"dist": "exponential", "mean": 1e10}},
                        "steps.implement.split.teams.web.count: must be a distribution of mean <= 1000000000"),
    "count-unknown-key": ({"steps.implement.split.teams.web.n": 2},
                          "steps.implement.split.teams.web.n: unknown key; allowed: count"),
    "no-teams": ({"steps.implement.split.teams": {}}, "steps.implement.split.teams: must be a non-empty mapping"),
    "no-into": ({"steps.implement.split.into": None}, "steps.implement.split.into: required"),
    "into-not-a-name": ({"steps.implement.split.into": "user story"},
                        "steps.implement.split.into: must be a name of 1 to 64"),
    "into-dependency": ({"steps.implement.split.into": "dependency"},
                        "steps.implement.split.into: must not be 'dependency'"),
    "into-the-stream-level": ({"steps.implement.split.into": "item"},
                              "steps.implement.split.into: must not be 'item' here: it would be the level of "
                              "children at depth 1, and `level` (the stream's items) makes it the level at depth 0"),
    "level-at-two-depths": ({"teams.api.steps.build.split.into": "story"},
                            "teams.api.steps.build.split.into: must not be 'story' here: it would be the level of "
                            "children at depth 2, and steps.implement.split.into makes it the level at depth 1"),
    "level-not-a-name": ({"level": "big feature"}, "level: must be a name of 1 to 64"),
    "split-into-itself": ({"teams.web.steps.more": {"split": {"into": "x", "teams": {"web": {}}}}},
                          "teams.web.steps.more.split.teams.web: must not send work back to a team it comes from "
                          "(web -> web)"),
    "cycle-through-another": ({"teams.api.teams.tasks.steps.up": {"split": {"into": "x", "teams": {"api": {}}}}},
                              "teams.api.teams.tasks.steps.up.split.teams.api: must not send work back to a team it "
                              "comes from (api -> api/tasks -> api)"),
    "dependency-cycle": ({"teams.web.steps.build.dependency": {"probability": 0.5, "team": "api"},
                          "teams.api.steps.design.dependency": {"probability": 0.5, "team": "web"}},
                         "teams.api.steps.design.dependency.team: must not send work back to a team it comes "
                         "from (web -> api -> web)"),
    "team-not-a-name": ({"teams.we/b": {"pools": {"x": 1}, "steps": {"s": {"pool": "x", "work": 1}}}},
                        "teams.we/b: must be a name of 1 to 64"),
    "team-without-pools": ({"teams.web.pools": None},
                           "teams.web.pools: required (or stream: NAME, a stream file the team is read from)"),
    "team-unknown-key": ({"teams.web.arrivals": {"process": "poisson", "rate": 1}},
                         "teams.web.arrivals: unknown key; allowed: stream, pools, steps, release, teams"),
    "team-backlog-limit": ({"teams.web.release": {"backlog_limit": 3}},
                           "teams.web.release.backlog_limit: must be null in a team, got 3"),
    "team-conwip-without-limit": ({"teams.web.release": {"policy": "conwip"}},
                                  "teams.web.release.conwip: must be a positive integer when teams.web.release.policy "
                                  "is conwip, got null"),
    "team-pool-unknown": ({"teams.web.steps.build.pool": "po"},
                          "teams.web.steps.build.pool: must be one of the pools devs, got 'po'"),
    "team-batch-above-conwip": ({"teams.web.release": {"policy": "conwip", "conwip": 2},
                                 "teams.web.steps.build.batch": 3},
                                "teams.web.steps.build.batch: must be <= teams.web.release.conwip (2), got 3"),
    "slash-in-a-pool": ({"pools.a/b": 1}, "pools.a/b: must not contain '/' in a stream with teams"),
    "slash-in-a-team-step": ({"teams.web.steps.b/c": {"pool": "devs", "work": 1}},
                             "teams.web.steps.b/c: must not contain '/' in a stream with teams"),
    "dependency-size-without-team": ({"steps.integrate.dependency": {"probability": 0.2, "delay": 1, "size": 2}},
                                     "steps.integrate.dependency.size: only with team"),
    "dependency-without-team-or-delay": ({"steps.integrate.dependency": {"probability": 0.2}},
                                         "steps.integrate.dependency.delay: required (or team: the team the item "
                                         "waits for)"),
    "type-visits-no-team-step": ({"teams.web.steps.build.types": ["feature"]},
                                 "teams.web.steps: must have a step that item type 'enabler' visits"),
    "too-many-people": ({"teams.web.pools.devs": 10**6}, "teams: must hold at most 1000000 people in all"),
}


@pytest.mark.parametrize(("changes", "message"), list(REFUSED.values()), ids=list(REFUSED))
def test_every_mistake_is_refused_in_one_line(changes, message):
    assert refused(art(**changes)).startswith(message)


def test_split_count_rule_rounds_half_up():
    assert child_counts(np.array([0.0, 0.49, 0.5, 1.5, 2.4999, 7.0])).tolist() == [0, 0, 1, 2, 2, 7]
    split = StreamSpec.from_dict(art(**{"steps.implement.split.teams.web.count": {
        "dist": "empirical", "values": [0.4, 0.6, 2.5]}})).steps["implement"].split
    assert split.expected_count("web") == pytest.approx((0 + 1 + 3) / 3)
    assert split.expected_count("api") == 1.0
    poisson = StreamSpec.from_dict(art(**{"steps.implement.split.teams.web.count": {"dist": "poisson", "mu": 2.5}}))
    assert poisson.steps["implement"].split.expected_count("web") == pytest.approx(2.5)


# --------------------------------------------------------------------------- the offered load
def test_offered_load_of_a_hierarchy_by_hand():
    """λ = 0.5, mean size 0.8 + 0.2·2 = 1.2. web gets 3 children per feature of size 0.5 (and, from
    integrate, one of the item's size with probability 0.2); api 1 per feature (empirical 0, 1, 2) of
    size 0.5; api/tasks 2 per api story, of the story's size."""
    spec = StreamSpec.from_dict(ART)
    lam, size = 0.5, 1.2
    load = spec.offered_load()
    assert set(load) == {"po", "sys", "web/devs", "api/devs", "api/tasks/d"}
    assert load["po"] == pytest.approx(lam * size * 1.0 / 1)
    assert load["sys"] == pytest.approx(lam * size * 0.5 / 2)
    assert load["web/devs"] == pytest.approx((lam * 3 * size * 0.5 + lam * 0.2 * size) * 2.0 / 4)
    assert load["api/devs"] == pytest.approx(lam * 1 * size * 0.5 * 0.5 / 2)
    assert load["api/tasks/d"] == pytest.approx(lam * 1 * 2 * size * 0.5 * 0.1 / 1)
    flows = spec.flows()
    assert flows["web"]["enabler"] == pytest.approx((0.5 * 0.2 * 3.2, (3 * 1.0 + 0.2 * 2.0) / 3.2))
    d = art(**{"steps.integrate.dependency.size": {"dist": "exponential", "mean": 4.0}})
    load = StreamSpec.from_dict(d).offered_load()
    assert load["web/devs"] == pytest.approx((lam * 3 * size * 0.5 + lam * 0.2 * 4.0) * 2.0 / 4)


def test_visits_inside_a_team_count_its_rework():
    d = art(**{"teams.web.steps.test": {"pool": "devs", "work": 1.0, "rework": {"probability": 0.5, "to": "build"}}})
    spec = StreamSpec.from_dict(d)
    assert spec.visit_ratios("feature", "web") == pytest.approx({"build": 2.0, "test": 2.0})
    assert spec.route("feature", "web") == [0, 1, 2]
    assert spec.offered_load()["web/devs"] == pytest.approx((0.5 * 3 * 1.2 * 0.5 + 0.5 * 0.2 * 1.2) * 2 * 3 / 4)


def test_a_finite_stream_has_no_offered_load():
    assert StreamSpec.from_dict({**ART, "arrivals": {"process": "backlog", "count": 5}}).offered_load() == {}


# --------------------------------------------------------------------------- team files
TEAM_FILE = {"schema_version": 2, "name": "team_web", "description": "the web team alone",
             "arrivals": {"process": "poisson", "rate": 1.0}, "item_types": {"story": {"share": 1.0}},
             "level": "story", "pools": {"devs": 4, "testers": 1},
             "release": {"policy": "conwip", "conwip": 6},
             "steps": {"build": {"pool": "devs", "work": 2.0}, "test": {"pool": "testers", "work": 0.5}}}


@pytest.fixture
def folder(tmp_path) -> Path:
    """A folder with team_web.yaml (a stream of its own) and art.yaml, which uses it as team web."""
    (tmp_path / "team_web.yaml").write_text(yaml.safe_dump(TEAM_FILE, sort_keys=False))
    d = art(**{"teams.web": {"stream": "team_web", "pools": {"devs": 5},
                             "steps": {"test": {"wip_limit": 2}, "deploy": {"pool": "devs", "work": 0.1}}}})
    (tmp_path / "art.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    return tmp_path


def test_a_team_read_from_a_file_takes_its_board_with_the_keys_given_over_it(folder):
    spec = vssim.load_stream(folder / "art.yaml")
    web = spec.teams["web"]
    assert {p: v.size for p, v in web.pools.items()} == {"devs": 5, "testers": 1}
    assert list(web.steps) == ["build", "test", "deploy"]            # the file's order, new steps after
    assert web.steps["test"].wip_limit == 2 and web.steps["test"].work.mean == 0.5
    assert web.release.conwip == 6
    assert spec.name == "art" and list(spec.item_types) == ["feature", "enabler"]   # the file's are ignored
    team = spec.to_dict()["teams"]["web"]
    assert "stream" not in team and list(team) == ["pools", "steps", "release"]
    again = StreamSpec.from_dict(spec.to_dict())                     # no file needed any more
    assert again == spec and again.teams == spec.teams
    assert StreamSpec.from_dict(yaml.safe_load((folder / "art.yaml").read_text()), base_dir=folder) == spec


def test_a_team_file_may_itself_have_teams_from_its_folder(folder):
    nested = {**TEAM_FILE, "name": "outer", "teams": {"inner": {"stream": "team_web"}},
              "steps": {"build": {"split": {"into": "task", "teams": {"inner": {}}}}}}
    (folder / "outer.yaml").write_text(yaml.safe_dump(nested))
    spec = StreamSpec.from_dict(art(**{"teams.web": {"stream": "outer"}}), base_dir=folder)
    assert list(spec.teams) == ["web", "web/inner", "api", "api/tasks"]
    assert list(spec.teams["web"].steps["build"].split.teams) == ["web/inner"]


def test_team_file_refusals(folder):
    assert refused(art(**{"teams.web": {"stream": "team_wbe"}}), base_dir=folder) == (
        f"teams.web.stream: must name a stream file in {folder} (art, team_web), got 'team_wbe' "
        "(no team_wbe.yaml there)")
    assert refused(art(**{"teams.web": {"stream": "../team_web"}}), base_dir=folder).startswith(
        "teams.web.stream: must be a name of 1 to 64")
    (folder / "loop.yaml").write_text(yaml.safe_dump({**TEAM_FILE, "teams": {"again": {"stream": "loop"}}}))
    assert refused(art(**{"teams.web": {"stream": "loop"}}), base_dir=folder) == (
        "teams.web.teams.again.stream: must not name a file that names it back, got 'loop' (loop -> loop)")
    (folder / "hours.yaml").write_text(yaml.safe_dump({**TEAM_FILE, "time_unit": "hour"}))
    assert refused(art(**{"teams.web": {"stream": "hours"}}), base_dir=folder) == (
        "teams.web.stream: must name a stream file in the stream's time unit ('day'), got 'hours' in 'hour'")
    (folder / "list.yaml").write_text("- 1\n- 2\n")
    assert refused(art(**{"teams.web": {"stream": "list"}}), base_dir=folder) == (
        f"{folder / 'list.yaml'}: line 1, column 1: must be a mapping of keys to values")
    (folder / "empty.yaml").write_text("# nothing\n")
    assert refused(art(**{"teams.web": {"stream": "empty"}}), base_dir=folder) == (
        f"teams.web.stream: must name a stream file, got 'empty' ({folder / 'empty.yaml'} is not a mapping)")


def test_references_cannot_expand_to_more_than_max_teams(folder):
    """Ten files, each naming the next twice, would be 2**10 boards: refused, not built."""
    for i in range(10):
        teams = {"a": {"stream": f"f{i + 1}"}, "b": {"stream": f"f{i + 1}"}} if i < 9 else {}
        (folder / f"f{i}.yaml").write_text(yaml.safe_dump({**TEAM_FILE, "teams": teams}))
    assert 2 ** 10 > MAX_TEAMS
    assert refused(art(**{"teams.web": {"stream": "f0"}}), base_dir=folder).startswith(
        f"teams: must hold at most {MAX_TEAMS} teams in all")


# --------------------------------------------------------------------------- shipped streams, schema, engines
def test_the_shipped_team_streams_parse():
    art_ = vssim.load_stream(CONFIGS / "stream" / "art_component_teams.yaml")
    assert list(art_.teams) == ["web", "api", "data", "system"] and art_.level == "feature"
    assert [s.name for s in art_.steps.values() if "system" in s.sends()] == ["implement", "integrate"]
    assert art_.steps["release"].cadence == 70
    portfolio = vssim.load_stream(CONFIGS / "stream" / "portfolio.yaml")
    assert list(portfolio.teams) == ["platform", "retail", "retail/web", "retail/api", "payments", "payments/api",
                                     "payments/data"]
    assert portfolio.level == "epic" and portfolio.steps["implement"].split.into == "feature"
    for art_name in ("retail", "payments"):
        split = portfolio.teams[art_name].steps["implement"].split
        assert split.into == "story" and "platform" in split.teams          # the shared team, seen lexically
    assert portfolio.teams["payments/api"].pools["api_devs"].size == 5
    assert portfolio.teams["retail/api"].pools["api_devs"].size == 4
    for spec in (art_, portfolio):
        assert all(0 < v < 1 for v in spec.offered_load().values())


def test_the_schema_knows_teams_and_splits():
    assert SCHEMA.is_valid(ART)
    assert SCHEMA.is_valid(art(**{"teams.web": {"stream": "team_web", "pools": {"devs": 5}}}))
    nulls = art()
    nulls["steps"]["implement"].update(pool=None, dependency=None)     # null is a key left out
    assert SCHEMA.is_valid(nulls) and StreamSpec.from_dict(nulls) == StreamSpec.from_dict(ART)
    for changes in ({"steps.implement.work": 1.0}, {"steps.implement.pool": "po"}, {"teams.web.pools": None},
                    {"steps.refine.work": None}, {"steps.implement.split.teams.web.count": 2.5},
                    {"steps.implement.split.into": None}, {"teams.web.colour": "red"}):
        d = art(**changes)
        assert not SCHEMA.is_valid(d), changes
        with pytest.raises(SpecError):
            StreamSpec.from_dict(d)


def test_the_event_engine_runs_teams_and_the_others_refuse_them_in_one_line():
    spec = StreamSpec.from_dict(ART)
    result = vssim.simulate(spec, horizon=100.0, engine="auto", progress=False)
    assert result.summary["sim"]["engine"] == "simpy" and set(result.summary["teams"]) == set(spec.teams)
    for engine, stats, start in (("fast", "full", "sim.engine: 'fast' cannot run stream"),
                                 ("simpy", "streaming", "sim.engine: 'simpy' cannot stream"),
                                 ("auto", "streaming", "sim.engine: no engine runs stream")):
        with pytest.raises(SpecError) as info:
            vssim.simulate(spec, horizon=100.0, engine=engine, stats=stats, progress=False)
        assert str(info.value).startswith(start) and "teams" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """`vssim -cd DIR` on a stream whose team web is read from DIR/stream/team_web.yaml and api is inline:
    the composed config, overridden; a sweep; a misspelt key; a missing team file."""
    base = tmp_path_factory.mktemp("cli")
    (base / "cd" / "stream").mkdir(parents=True)
    (base / "cd" / "stream" / "team_web.yaml").write_text(yaml.safe_dump(TEAM_FILE, sort_keys=False))
    d = art(**{"teams.web": {"stream": "team_web"}, "name": None, "schema_version": 2})
    (base / "cd" / "stream" / "art.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    (base / "cd" / "stream" / "lost.yaml").write_text(yaml.safe_dump(art(**{"teams.web": {"stream": "gone"}})))
    cd = ["-cd", str(base / "cd")]
    commands = {
        "composed": ["--cfg", "job", "--resolve", *cd, "stream=art", "stream.teams.web.pools.devs=7",
                     "stream.teams.api.pools.devs=3"],
        "sweep": ["-m", *cd, "stream=art", "stream.teams.web.pools.devs=3,5", "report.figures=false"],
        "misspelt": ["--cfg", "job", *cd, "stream=art", "stream.teams.web.pools.dvs=7"],
        "lost": ["--cfg", "job", *cd, "stream=lost"],
    }
    return run_cli_parallel(commands, base, timeout=300)


def test_the_command_line_overrides_a_team_from_a_file_and_an_inline_one(cli):
    proc, _ = cli["composed"]
    assert proc.returncode == 0, proc.stderr
    spec = StreamSpec.from_dict(yaml.safe_load(proc.stdout)["stream"])      # what the run would be given
    assert spec.name == "art"
    assert {p: v.size for p, v in spec.teams["web"].pools.items()} == {"devs": 7, "testers": 1}
    assert list(spec.teams["web"].steps) == ["build", "test"] and spec.teams["web"].release.conwip == 6
    assert spec.teams["api"].pools["devs"].size == 3


def test_the_command_line_sweeps_a_team_from_a_file(cli):
    proc, out = cli["sweep"]
    assert "Traceback" not in proc.stderr
    devs, busy = {}, {}
    for job in sorted(out.glob("[0-9]*")):
        config = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
        devs[job.name] = config["stream"]["teams"]["web"]["pools"]["devs"]
        status = json.loads((job / "run.json").read_text())
        assert status["status"] == "done", status
        busy[job.name] = json.loads((job / "summary.json").read_text())["pools"]["web/devs"]["utilization"]
    assert devs == {"0": 3, "1": 5}
    assert busy["0"] > busy["1"] > 0              # the same web work shared by more people


def test_the_command_line_refuses_a_misspelt_team_key_and_a_missing_team_file(cli):
    proc, _ = cli["misspelt"]
    assert proc.returncode == 1 and "Key 'dvs' is not in struct" in proc.stderr
    proc, _ = cli["lost"]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0].startswith("vssim: error: stream.teams.web.stream: must name a stream file in ")
    assert "got 'gone' (no gone.yaml there)" in proc.stderr


def test_a_stream_with_teams_splits_items_with_a_split_step_not_parts():
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict({**ART, "parts": 2})
    assert str(info.value).startswith("parts: must be 1 in a stream with teams, got 2: split the items")
