"""Levels and teams in the summary, the files and the report (docs/metrics.md, "Levels and teams").

Exact figures on a tiny hand-worked stream; consistency between the views (each board, each level)
on the shipped ART; `split.choose` as the engine draws it."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import vssim
from vssim.analysis.levels import board_records, family_touch, joins
from vssim.engines.registry import run_records
from vssim.report.markdown import write_report

CONFIGS = __import__("pathlib").Path(__file__).resolve().parents[1] / "configs"


def tiny() -> vssim.StreamSpec:
    """One feature at t = 0 splits into two stories for team a (one person, 1 day each) and one for
    team b (one person, 3 days); after the join it is reviewed for half a day."""
    return vssim.StreamSpec.from_dict({
        "name": "tiny", "level": "feature", "arrivals": {"process": "trace", "times": [0.0]}, "pools": {"po": 1},
        "teams": {"a": {"pools": {"dev": 1}, "steps": {"x": {"pool": "dev", "work": 1.0}}},
                  "b": {"pools": {"dev": 1}, "steps": {"x": {"pool": "dev", "work": 3.0}}}},
        "steps": {"s": {"split": {"into": "story", "teams": {"a": {"count": 2}, "b": {"count": 1}}}},
                  "r": {"pool": "po", "work": 0.5}}})


@pytest.fixture(scope="module")
def small():
    return vssim.simulate(tiny(), progress=False)


def test_the_tiny_stream_by_hand(small):
    s = small.summary
    # a's stories are done at 1 and 2, b's at 3: the join at 3, the review to 3.5
    split = s["steps"]["s"]
    assert split["process_time"] == 3.0 and split["utilization"] is None and split["touch_time"] == 0.0
    assert split["join_wait"] == {"mean": 2.0, "ci95": [None, None], "count": 1}        # 3 - 1
    assert split["last_team"] == {"b": 1.0}
    m = s["metrics"]
    assert m["lead_time"]["mean"] == 3.5 and m["completed"] == 1
    # worked: [0, 3) by someone of a team, [3, 3.5) by po: 3.5 of 3.5 (the stories' 5 days overlap)
    assert m["flow_efficiency"]["mean"] == 1.0
    assert m["time_to_first_value"]["mean"] == 1.0
    assert s["levels"]["story"]["lead_time"]["mean"] == 2.0 and s["levels"]["story"]["completed"] == 3
    assert set(s["teams"]) == {"a", "b"} and s["teams"]["a"]["metrics"]["completed"] == 2
    assert s["teams"]["b"]["steps"]["x"]["process_time"] == 3.0
    assert set(s["pools"]) == {"po", "a/dev", "b/dev"}
    assert list(small.steps["step"].astype(str).unique()) == ["s", "r", "a/x", "b/x"]


def test_items_and_the_event_log_carry_the_family(small, tmp_path):
    items = small.items
    assert items["parent"].dtype == "Int64" and items["parent"].isna().tolist() == [True, False, False, False]
    assert items["parent"].dropna().tolist() == [0, 0, 0]
    assert items["level"].astype(str).tolist() == ["feature", "story", "story", "story"]
    assert items["team"].astype(str).tolist() == ["", "a", "a", "b"]
    assert items["touch_time"].tolist() == [3.5, 1.0, 1.0, 3.0]         # the feature's: its family's
    small.save(tmp_path)
    back = pd.read_parquet(tmp_path / "items.parquet")
    assert back["parent"].isna().sum() == 1 and back["parent"].dropna().tolist() == [0, 0, 0]
    log = small.event_log()
    child = log[log["case"] == "0-3"]
    assert child["parent"].unique().tolist() == ["0-0"] and child["team"].astype(str).unique().tolist() == ["b"]
    assert child["activity"].tolist() == ["arrive", "commit", "b/x", "b/x", "done"]
    split = log[(log["case"] == "0-0") & (log["activity"] == "s")]
    assert split["timestamp"].tolist() == [0.0, 3.0] and split["resource"].tolist() == ["", ""]
    assert log[log["case"] == "0-0"]["parent"].unique().tolist() == [""]


def test_family_touch_is_the_union_of_the_work_intervals():
    rec = run_records("simpy", tiny(), None)
    assert family_touch(rec).tolist() == [3.5, 1.0, 1.0, 3.0]
    assert rec.touch.tolist() == [0.5, 1.0, 1.0, 3.0]                    # the engine's: each item's own work
    waits, last = joins(rec)[0]
    assert waits.tolist() == [2.0] and rec.team_names[last[0]] == "b"


@pytest.fixture(scope="module")
def art():
    spec = vssim.load_stream(CONFIGS / "stream" / "art_component_teams.yaml")
    return vssim.simulate(spec, horizon=1500.0, warmup=150.0, replications=3, seed=5, progress=False)


def test_the_views_of_a_stream_with_teams_agree(art):
    s = art.summary
    rec = art.records[0]
    levels = rec.level_names
    assert levels == ["feature", "story", "dependency"] and set(s["levels"]) == {"story", "dependency"}
    # every child is on one team's board and at one level: the teams' items are the levels' items
    for r in art.records:
        kids = r.item_parent >= 0
        assert (r.item_team[kids] > 0).all() and (r.item_team[~kids] == 0).all()
        assert (r.item_level[kids] > 0).all() and (r.item_level[~kids] == 0).all()
        # a parent is done after its last child, and each child's parent arrived before it
        done_child = np.where(np.isnan(r.done[kids]), -np.inf, r.done[kids])
        last = np.full(r.n_items, -np.inf)
        np.maximum.at(last, r.item_parent[kids], done_child)
        finished = ~np.isnan(r.done)
        assert (r.done[finished] >= last[finished]).all()
        assert (r.arrival[r.item_parent[kids]] <= r.arrival[kids]).all()
    # the board view of the stream's own board is what `metrics` counts
    top = board_records(rec, 0)
    assert top.n_items == int((rec.item_parent < 0).sum()) and top.step_names == list(s["steps"])
    # flow efficiency never above 100 %, first value before the whole item
    items = art.items
    ratio = (items["touch_time"] / items["lead_time"]).dropna()
    assert (ratio <= 1 + 1e-9).all()
    assert s["metrics"]["time_to_first_value"]["mean"] < s["metrics"]["lead_time"]["mean"]
    # the join wait of the split into four teams, and who made the features late
    implement = s["steps"]["implement"]
    assert implement["join_wait"]["mean"] > 0 and implement["join_wait"]["ci95"][0] is not None
    assert math.isclose(sum(implement["last_team"].values()), 1.0)
    assert set(implement["last_team"]) <= {"web", "api", "data", "system"}
    assert s["teams"]["api"]["pools"]["api_devs"]["utilization"] == s["pools"]["api/api_devs"]["utilization"]


def test_the_report_shows_the_hierarchy(art, tmp_path):
    path = write_report(art, tmp_path, figures=True)
    text = path.read_text()
    assert "## Levels and teams" in text and "is the team that makes features late most often" in text
    assert "| story |" in text and "| dependency |" in text and "in the teams (split to join)" in text
    busiest = max((p for p in art.summary["pools"] if "/" in p), key=lambda p: art.summary["pools"][p]["utilization"])
    assert f"Among the teams' pools the busiest is **{busiest}**" in text
    for team in ("web", "api", "data", "system"):
        assert (tmp_path / f"cfd_{team}.png").stat().st_size > 10_000
        assert (tmp_path / f"vsm_{team}.png").stat().st_size > 10_000


def _choosing(choose: bool) -> vssim.StreamSpec:
    work = {"dist": "exponential", "mean": 0.2}
    team = {"pools": {"dev": 3}, "steps": {"x": {"pool": "dev", "work": work}}}
    split = {"into": "story", "teams": {"a": {"count": 1}, "b": {"count": 3}, "c": {"count": 2}}}
    if choose:
        split["choose"] = ["a", "b"]
    return vssim.StreamSpec.from_dict({"name": "choose", "arrivals": {"process": "poisson", "rate": 0.5},
                                       "pools": {"po": 1}, "teams": {"a": team, "b": team, "c": team},
                                       "steps": {"s": {"split": split}}})


def _children(rec) -> dict[str, np.ndarray]:
    top = np.flatnonzero(rec.item_parent < 0)
    kids = rec.item_parent >= 0
    return {t: np.bincount(rec.item_parent[kids & (rec.item_team == b)], minlength=rec.n_items)[top]
            for b, t in enumerate(rec.team_names) if t}


def test_choose_draws_one_listed_team_per_parent_with_probability_by_its_mean_count():
    chosen = _children(run_records("simpy", _choosing(True), 4000.0, seed=3))
    every = _children(run_records("simpy", _choosing(False), 4000.0, seed=3))
    a, b = chosen["a"] > 0, chosen["b"] > 0
    assert (a ^ b).all()                                        # exactly one of the list, every parent
    assert set(chosen["a"][a]) == {1} and set(chosen["b"][b]) == {3}
    n = len(a)                                                  # P(a) = 1 / (1 + 3); binomial test
    assert stats.binomtest(int(a.sum()), n, 0.25).pvalue > 0.001
    # a team not in the list is untouched: the same children, parent by parent
    assert np.array_equal(chosen["c"], every["c"]) and (every["a"] == 1).all() and (every["b"] == 3).all()
