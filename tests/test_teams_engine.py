"""The SimPy engine's teams, splits and joins against theory, exact paths and invariants (issue 13,
docs/validation.md "Fork/join", docs/model.md "Teams, splits and levels").

1. Fork/join of K one-person teams (Poisson parents, one child per team, exponential work, push):
   every replication's sample path is Lindley's recursion per team and the parent's done time the
   max of its children's (exact, on the engine's own draws); the parent's mean time from split to
   join is Flatto–Hahn's R_2 at K = 2 and the join wait (last − first child done) its exact mean;
   at K = 4, 8, 16 the mean meets the bounds and Nelson–Tantawi's ±5 %, and H_K/μ at light load.
   Tolerances follow docs/validation.md §2 (tests/test_theory_validation.py `assert_matches`):
   R = 10 replications, the 99.9 % t-interval must hold the theory and be narrower than
   `rel_width` (about twice the half-width measured over 3 seeds at writing time). The default
   runs are short (power against errors of ~10-30 %); the `slow` ones resolve the dependence of the
   children's sojourns (their half-widths are below the gap to the independent-queues value H_2·R).
2. One child for one team whose board equals the parent's steps is no split: exactly, the same
   per-item times, when the flat stream names its steps as the team's are qualified (`t/a`: the
   random sources are named by qualified step names); in distribution (theory) when parents reach
   the split out of arrival order.
3. An exact two-level stream worked by hand; refusals of cross-level cycles; a team CONWIP of 1
   with nested work completes.
4. Invariants (hypothesis) on random nested streams: one existing parent per child, the join at
   the last child's done time, no item lost at any level, WIP limits and CONWIP on every board,
   one item per person, Little's law per level, determinism.
"""
from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from conftest import deadline
from forkjoin_reference import lindley_done
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_invariants import HypothesisChooser, NumpyChooser, _delay, _work, max_concurrent
from test_theory import NT_ACCURACY, assert_interval_meets
from test_theory_validation import R, assert_matches, check_littles_law

import vssim
from vssim.analysis import theory
from vssim.engines.registry import run_records
from vssim.model.teams import child_counts
from vssim.records import FAMILY_COLUMNS, ITEM_COLUMNS, VISIT_COLUMNS, Records


def records(d: dict, horizon: float | None, *, seed: int = 0, replication: int = 0) -> Records:
    """One replication's records of a stream mapping on the SimPy engine (the reference)."""
    return run_records("simpy", vssim.StreamSpec.from_dict(d), horizon, seed=seed, replication=replication)


def exponential(mean: float) -> dict:
    return {"dist": "exponential", "mean": mean}


# --------------------------------------------------------------------------- 1. fork/join of M/M/1 teams
WARMUP = 500.0
"""Time discarded at the start: over 5 relaxation times 1/(μ(1 − √ρ)²) (Kleinrock) at ρ = 0.8, μ = 1."""


def fork_join_stream(lam: float, mu: float, k: int) -> dict:
    """Parents arrive at rate λ into one split column (no people, no limit) that sends one child
    to each of K one-person teams working exponential(μ); the join is the parent's last step."""
    return {"name": f"fork_join_{k}", "arrivals": {"process": "poisson", "rate": lam}, "pools": {"po": 1},
            "teams": {f"t{j}": {"pools": {"dev": 1}, "steps": {"work": {"pool": "dev", "work": exponential(1 / mu)}}}
                      for j in range(k)},
            "steps": {"fork": {"split": {"into": "task", "teams": {f"t{j}": {} for j in range(k)}}}}}


def check_fork_join_path(rec: Records, k: int) -> None:
    """The sample path of a fork/join stream, exactly: each team is a FIFO single server fed at the
    parents' arrivals (Lindley's recursion on the engine's own work draws), a parent is split on
    arrival and joined at its last child's done time (NaN while a child is not done)."""
    top = np.flatnonzero(rec.item_parent < 0)
    kids = np.flatnonzero(rec.item_parent >= 0)
    parent = rec.item_parent[kids]
    # a parent's split visit is its only visit: from its arrival to its join
    split = rec.visit_item[rec.visit_step == 0]
    np.testing.assert_array_equal(split, top)
    v_start, v_end = rec.visit_start[rec.visit_step == 0], rec.visit_end[rec.visit_step == 0]
    np.testing.assert_array_equal(v_start, rec.arrival[top])
    np.testing.assert_array_equal(v_end, rec.done[top])
    # one child per team per parent, made at the parent's arrival
    assert (np.bincount(parent, minlength=rec.n_items)[top] == k).all()
    assert sorted(np.unique(rec.item_team[kids]).tolist()) == list(range(1, k + 1))
    np.testing.assert_array_equal(rec.arrival[kids], rec.arrival[parent])
    work = np.zeros(rec.n_items)
    np.add.at(work, rec.visit_item, rec.visit_work)
    last = np.full(rec.n_items, -np.inf)
    for b in range(1, k + 1):
        c = kids[rec.item_team[kids] == b]               # in the order they were made: FIFO
        done = lindley_done(rec.arrival[c], work[c][:, None], np.array([-np.inf]))[:, 0]
        finished = ~np.isnan(rec.done[c])
        assert finished[:finished.sum()].all(), "a child overtook another in a FIFO team"
        np.testing.assert_allclose(rec.done[c][finished], done[finished], rtol=1e-12, atol=1e-9)
        np.maximum.at(last, rec.item_parent[c], np.where(finished, rec.done[c], np.inf))
    joined = np.isfinite(last[top])
    np.testing.assert_array_equal(rec.done[top][joined], last[top][joined])
    assert np.isnan(rec.done[top][~joined]).all()


def fork_join_means(lam: float, mu: float, k: int, jobs: int, seed: int) -> tuple[list[float], list[float]]:
    """Per replication: the mean time from split to join of the parents arriving in a window of
    `jobs` mean interarrival times after WARMUP, and their mean join wait (last − first child
    done). The run goes on 50 M/M/1 means past the window, so that every one of them is done."""
    stream = fork_join_stream(lam, mu, k)
    until = WARMUP + jobs / lam
    response, join_wait = [], []
    for r in range(R):
        rec = records(stream, until + 50 / (mu - lam), seed=seed, replication=r)
        check_fork_join_path(rec, k)
        top = np.flatnonzero((rec.item_parent < 0) & (rec.arrival >= WARMUP) & (rec.arrival < until))
        assert not np.isnan(rec.done[top]).any()
        kids = np.flatnonzero(np.isin(rec.item_parent, top))
        first = np.full(rec.n_items, np.inf)
        np.minimum.at(first, rec.item_parent[kids], rec.done[kids])
        response.append(float(np.mean(rec.done[top] - rec.arrival[top])))
        join_wait.append(float(np.mean(rec.done[top] - first[top])))
    return response, join_wait


FLATTO_HAHN = [
    # rho, parents per replication, rel_width (time split -> join), rel_width (join wait)
    pytest.param(0.3, 3_000, 0.07, 0.10, id="rho0.3"),
    pytest.param(0.6, 3_000, 0.14, 0.18, id="rho0.6"),
    pytest.param(0.8, 3_000, 0.30, 0.40, id="rho0.8"),
    # half-widths 1.6 %, 2.6 %, 3.5 % at writing time, and the bounds below the 2.6 %, 5.3 %, 7.1 %
    # gap to the independent-queues value H_2/(μ − λ): the long runs see the dependence
    pytest.param(0.3, 20_000, 0.024, 0.035, marks=pytest.mark.slow, id="rho0.3-long"),
    pytest.param(0.6, 40_000, 0.045, 0.045, marks=pytest.mark.slow, id="rho0.6-long"),
    pytest.param(0.8, 80_000, 0.062, 0.08, marks=pytest.mark.slow, id="rho0.8-long"),
]


@pytest.mark.parametrize("rho,jobs,width,join_width", FLATTO_HAHN)
def test_fork_join_2_teams_match_flatto_hahn(rho, jobs, width, join_width):
    mu = 1.0
    response, join_wait = fork_join_means(rho * mu, mu, 2, jobs, seed=13)
    assert_matches(response, theory.fork_join_2(rho * mu, mu), rel_width=width,
                   what=f"K=2 teams rho={rho} split to join")
    assert_matches(join_wait, theory.fork_join_2_join_wait(rho * mu, mu), rel_width=join_width,
                   what=f"K=2 teams rho={rho} join wait")


FORK_JOIN_K = [
    # k, rho, parents per replication, rel_width
    pytest.param(8, 0.05, 300, 0.10, id="K8-rho0.05"),
    pytest.param(4, 0.6, 1_000, 0.30, id="K4-rho0.6"),
    pytest.param(16, 0.6, 300, 0.40, id="K16-rho0.6"),
    *(pytest.param(k, 0.05, 5_000, 0.03, marks=pytest.mark.slow, id=f"K{k}-rho0.05-long") for k in (4, 16)),
    *(pytest.param(k, 0.6, 20_000, 0.05, marks=pytest.mark.slow, id=f"K{k}-rho0.6-long") for k in (4, 8, 16)),
]


@pytest.mark.parametrize("k,rho,jobs,width", FORK_JOIN_K)
def test_fork_join_k_teams_within_bounds_and_nelson_tantawi(k, rho, jobs, width):
    # At ρ = 0.05 the bounds are H_K/μ and H_K/(0.95 μ): the light-load limit, within 5.3 %.
    mu = 1.0
    lam = rho * mu
    response, _ = fork_join_means(lam, mu, k, jobs, seed=17)
    low, high = theory.fork_join_bounds(lam, mu, k)
    approx = theory.fork_join_nelson_tantawi(lam, mu, k)
    assert_interval_meets(response, low, high, scale=approx, rel_width=width, what=f"K={k} teams rho={rho} bounds")
    # |approx − R_K| ≤ 5 % of R_K  ⇔  approx/1.05 ≤ R_K ≤ approx/0.95
    assert_interval_meets(response, approx / (1 + NT_ACCURACY), approx / (1 - NT_ACCURACY), scale=approx,
                          rel_width=width, what=f"K={k} teams rho={rho} Nelson–Tantawi")


# --------------------------------------------------------------------------- 2. one child, one team: no split
TEAM_BOARD = {
    "pools": {"x": 1, "y": 2},
    "release": {"policy": "conwip", "conwip": 4},
    "steps": {"a": {"pool": "x", "work": {"dist": "lognormal", "mean": 0.5, "cv": 0.8}},
              "b": {"pool": "y", "work": exponential(1.0), "handoff": exponential(0.2),
                    "rework": {"probability": 0.2, "to": "a"}},
              "c": {"pool": ["x", "y"], "work": exponential(0.3), "wip_limit": 2,
                    "dependency": {"probability": 0.3, "delay": exponential(0.5)}}},
}
"""A team board with the features whose draws come in event order (rework, handoffs, dependency
delays) and limits (a WIP limit, CONWIP): all must come out the same as on a flat board."""
ITEM_TYPES = {"small": {"share": 0.7, "size": {"dist": "lognormal", "mean": 0.8, "cv": 0.5}},
              "large": {"share": 0.3, "size": 1.6, "class_of_service": "expedite"}}


def one_child_stream(before: dict | None = None, rate: float = 0.45) -> dict:
    """Parents split, after the steps `before` (none: at once), into one child for team `t`, whose
    board is TEAM_BOARD."""
    steps = {**(before or {}), "s": {"split": {"into": "story", "teams": {"t": {}}}}}
    return {"name": "one_child", "arrivals": {"process": "poisson", "rate": rate}, "item_types": ITEM_TYPES,
            "pools": {"po": 2}, "teams": {"t": TEAM_BOARD}, "steps": steps}


def flat_stream() -> dict:
    """TEAM_BOARD as a stream's own board, its steps and pools named as the team's are qualified
    (`t/a`, `t/x`): the same random sources (`work/t/a`, `rework/t/b`, `handoff/t/b`, ...)."""
    steps = {}
    for name, s in TEAM_BOARD["steps"].items():
        s = dict(s, pool=[f"t/{p}" for p in s["pool"]] if isinstance(s["pool"], list) else f"t/{s['pool']}")
        if "rework" in s:
            s["rework"] = dict(s["rework"], to=f"t/{s['rework']['to']}")
        steps[f"t/{name}"] = s
    return {"name": "one_child", "arrivals": {"process": "poisson", "rate": 0.45}, "item_types": ITEM_TYPES,
            "pools": {f"t/{p}": n for p, n in TEAM_BOARD["pools"].items()}, "release": TEAM_BOARD["release"],
            "steps": steps}


def person_names(rec: Records, person: np.ndarray) -> list[str]:
    """`pool/N` of each person (N in the pool), so that two streams' people compare by name."""
    first = {p: int(np.flatnonzero(rec.person_pool == p)[0]) for p in range(len(rec.pool_names))}
    return [f"{rec.pool_names[rec.person_pool[g]]}/{g - first[rec.person_pool[g]]}" if g >= 0 else "-"
            for g in person.tolist()]


def test_one_child_for_one_team_is_exactly_no_split():
    """Parents split on arrival (push, no limit: child k is parent k's), and the child's draws are
    the flat item's: every visit of every child equals the flat item's, and the parent arrives and
    is done when the flat item does. Draws in event order (rework work, handoffs, delays) agree
    because the events come in the same order; the item's type and size share `arrivals/type` and
    `size/TYPE` with the parent."""
    horizon = 400.0
    team = records(one_child_stream(), horizon, seed=5)
    flat = records(flat_stream(), horizon, seed=5)
    assert flat.n_items > 150 and np.isnan(flat.done).sum() > 0 and flat.rework_count.sum() > 10
    top = np.flatnonzero(team.item_parent < 0)
    kids = np.flatnonzero(team.item_parent >= 0)
    np.testing.assert_array_equal(team.item_parent[kids], top)       # one child each, in the same order
    np.testing.assert_array_equal(team.arrival[top], flat.arrival)
    np.testing.assert_array_equal(team.done[top], flat.done)
    for column in ("arrival", "commit", "done", "touch", "rework_count", "item_type", "item_size"):
        np.testing.assert_array_equal(getattr(team, column)[kids], getattr(flat, column), err_msg=column)
    # the children's visits, row for row, are the flat items'
    rows = np.isin(team.visit_item, kids)
    np.testing.assert_array_equal(np.searchsorted(kids, team.visit_item[rows]), flat.visit_item)
    np.testing.assert_array_equal(np.asarray(team.step_names)[team.visit_step[rows]],
                                  np.asarray(flat.step_names)[flat.visit_step])
    for column in ("visit_enter", "visit_ready", "visit_start", "visit_end", "visit_leave", "visit_work",
                   "visit_reworked"):
        np.testing.assert_array_equal(getattr(team, column)[rows], getattr(flat, column), err_msg=column)
    assert person_names(team, team.visit_person[rows]) == person_names(flat, flat.visit_person)


def test_one_child_for_one_team_is_mm1_in_distribution():
    """Where the draws are not the same (parents reach the split out of arrival order: two people
    before it, so child k is not parent k's), the same model in distribution: a refine column of two
    people and one team of one person, both exponential, is a Jackson tandem M/M/2 → M/M/1 (Burke),
    whose lead time is the sum of the two response times."""
    lam = 0.6
    stream = {"name": "tandem", "arrivals": {"process": "poisson", "rate": lam}, "pools": {"po": 2},
              "teams": {"t": {"pools": {"dev": 1}, "steps": {"a": {"pool": "dev", "work": exponential(1.0)}}}},
              "steps": {"refine": {"pool": "po", "work": exponential(1.0)},
                        "s": {"split": {"into": "story", "teams": {"t": {}}}}}}
    until = WARMUP + 3_000 / lam
    lead, out_of_order = [], 0
    for r in range(R):
        rec = records(stream, until + 200, seed=3, replication=r)
        top = (rec.item_parent < 0) & (rec.arrival >= WARMUP) & (rec.arrival < until)
        assert not np.isnan(rec.done[top]).any()
        lead.append(float(np.mean((rec.done - rec.arrival)[top])))
        kids = np.flatnonzero(rec.item_parent >= 0)
        out_of_order += int((np.diff(rec.item_parent[kids]) < 0).sum())
    assert out_of_order > 100          # the case the exact test cannot cover
    expected = theory.mmc(lam, 1.0, 2).w + theory.mm1(lam, 1.0).w
    assert_matches(lead, expected, rel_width=0.08, what="M/M/2 -> one-child team M/M/1 lead time")


# --------------------------------------------------------------------------- 3. exact: a two-level stream by hand
def det(value: float) -> dict:
    return {"dist": "deterministic", "value": value}


TWO_LEVELS = {
    "name": "two_levels", "arrivals": {"process": "trace", "times": [0.0, 0.5]}, "pools": {"po": 1},
    "teams": {"web": {"pools": {"dev": 1}, "steps": {"code": {"pool": "dev", "work": det(0.75)}}},
              "api": {"pools": {"dev": 1}, "steps": {"code": {"pool": "dev", "work": det(1.5)},
                                                     "test": {"pool": "dev", "work": det(0.5)}}}},
    "steps": {"refine": {"pool": "po", "work": det(1.0)},
              "build": {"split": {"into": "story", "teams": {"web": {"count": 2}, "api": {"count": 1}}}},
              "ship": {"pool": "po", "work": det(0.25)}},
}


def test_a_two_level_stream_by_hand():
    """Every item and visit of a tiny deterministic stream, worked out by hand.

    Features P0 (arrives 0) and P1 (0.5); `po` refines (1) and ships (0.25); `build` splits each
    into two web stories (one developer, 0.75 each) and one api story (one developer: code 1.5,
    then test 0.5). Rows are made in order: P0, P1, then P0's children W0, W1, A0 at 1, then
    P1's W2, W3, A1 at 2 (a split makes its teams' children in the order the split names them).

    - P0 refine 0-1; build at 1: W0 web 1-1.75, W1 waits for the developer, 1.75-2.5; A0 code
      1-2.5, test 2.5-3 (its developer is free again at 2.5: downstream first). P0 joins at 3
      (its last child, A0), ships 3-3.25 (po idle since 2), done 3.25.
    - P1 waits for po, refine 1-2; build at 2: W2 waits for web's developer (busy with W1 until
      2.5), 2.5-3.25, W3 3.25-4; A1 waits until A0's test ends at 3, code 3-4.5, test 4.5-5. P1
      joins at 5, ships 5-5.25, done 5.25.
    """
    rec = records(TWO_LEVELS, None)
    assert rec.team_names == ["", "web", "api"] and rec.level_names == ["item", "story"]
    assert rec.step_names == ["refine", "build", "ship", "web/code", "api/code", "api/test"]
    #                                  P0    P1    W0    W1   A0   W2    W3   A1
    np.testing.assert_array_equal(rec.item_parent, [-1, -1, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(rec.item_level, [0, 0, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(rec.item_team, [0, 0, 1, 1, 2, 1, 1, 2])
    np.testing.assert_array_equal(rec.arrival, [0, 0.5, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(rec.commit, [0, 0.5, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(rec.done, [3.25, 5.25, 1.75, 2.5, 3, 3.25, 4, 5])
    np.testing.assert_array_equal(rec.touch, [1.25, 1.25, 0.75, 0.75, 2, 0.75, 0.75, 2])
    po, web, api = 0, 1, 2                          # people: po's, then web/dev, api/dev
    visits = [  # item, step, enter, ready, start, end, leave, person, work
        (0, "refine", 0, 0, 0, 1, 1, po, 1), (0, "build", 1, 1, 1, 3, 3, -1, 0),
        (0, "ship", 3, 3, 3, 3.25, 3.25, po, 0.25),
        (1, "refine", 0.5, 0.5, 1, 2, 2, po, 1), (1, "build", 2, 2, 2, 5, 5, -1, 0),
        (1, "ship", 5, 5, 5, 5.25, 5.25, po, 0.25),
        (2, "web/code", 1, 1, 1, 1.75, 1.75, web, 0.75), (3, "web/code", 1, 1, 1.75, 2.5, 2.5, web, 0.75),
        (4, "api/code", 1, 1, 1, 2.5, 2.5, api, 1.5), (4, "api/test", 2.5, 2.5, 2.5, 3, 3, api, 0.5),
        (5, "web/code", 2, 2, 2.5, 3.25, 3.25, web, 0.75), (6, "web/code", 2, 2, 3.25, 4, 4, web, 0.75),
        (7, "api/code", 2, 2, 3, 4.5, 4.5, api, 1.5), (7, "api/test", 4.5, 4.5, 4.5, 5, 5, api, 0.5),
    ]
    got = list(zip(rec.visit_item.tolist(), np.asarray(rec.step_names)[rec.visit_step].tolist(),
                   *(getattr(rec, f"visit_{c}").tolist() for c in ("enter", "ready", "start", "end", "leave",
                                                                   "person", "work")), strict=True))
    assert got == visits
    assert not rec.visit_reworked.any() and not np.isnan(rec.done).any()
    assert rec.end == 5.25
    check_nested(vssim.StreamSpec.from_dict(TWO_LEVELS), rec, finite=True)


# --------------------------------------------------------------------------- cross-level deadlocks
def test_a_parent_holding_a_column_its_children_need_is_refused():
    """A web story in `web/build` (wip_limit 1) splits into api tasks, and an api task needs a piece
    of work from web, which would have to enter `web/build`, held by the story that waits for the
    task: refused before any run, in one line naming the field (model/teams.py check_graph)."""
    d = {"name": "loop", "arrivals": {"process": "poisson", "rate": 0.1}, "pools": {"po": 1},
         "teams": {"web": {"pools": {"dev": 1},
                           "steps": {"build": {"split": {"into": "task", "teams": {"api": {}}}, "wip_limit": 1},
                                     "test": {"pool": "dev", "work": 1.0}}},
                   "api": {"pools": {"dev": 1},
                           "steps": {"code": {"pool": "dev", "work": 1.0,
                                              "dependency": {"probability": 0.5, "team": "web"}}}}},
         "steps": {"plan": {"split": {"into": "story", "teams": {"web": {}}}}}}
    with pytest.raises(vssim.SpecError) as err:
        vssim.StreamSpec.from_dict(d)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg == ("teams.api.steps.code.dependency.team: must not send work back to a team it comes from "
                   "(web -> api -> web): a parent would wait for itself")


def test_a_deadlock_inside_a_team_is_detected_and_named():
    """Rework into full columns on a team's board (the flat deadlock of test_invariants, one level
    down): a DeadlockError naming the team's columns by their qualified names, never a hang, and
    the parents waiting for those children do not hide it."""
    one = det(1.0)
    d = {"name": "cycle", "arrivals": {"process": "backlog", "count": 2}, "pools": {"po": 1},
         "teams": {"t": {"pools": {"a": 1, "b": 1},
                         "steps": {"s1": {"pool": "a", "work": one, "wip_limit": 1},
                                   "s2": {"pool": "b", "work": one, "wip_limit": 1,
                                          "rework": {"probability": 0.9, "to": "s1"}}}}},
         "steps": {"s": {"split": {"into": "story", "teams": {"t": {"count": 10}}}}}}
    with deadline(30), pytest.raises(vssim.DeadlockError) as err:
        records(d, None)
    assert str(err.value).startswith("deadlock at t=2 in replication 0: t/s1 (wip_limit 1) holds 1 done item(s): "
                                     "1 waiting to enter t/s2; t/s2 (wip_limit 1) holds 1 done item(s): 1 waiting "
                                     "to enter t/s1.")


def test_a_team_conwip_of_one_with_nested_work_completes():
    """Team `art` works one feature at a time (CONWIP 1); each feature splits again into two stories
    for art's own team `dev`. Five epics of three features each finish, one feature in art at a
    time, every parent joined when its last child is done."""
    d = {"name": "nested", "arrivals": {"process": "backlog", "count": 5}, "pools": {"po": 1},
         "teams": {"art": {"pools": {"pm": 1}, "release": {"policy": "conwip", "conwip": 1},
                           "steps": {"plan": {"pool": "pm", "work": exponential(0.5)},
                                     "build": {"split": {"into": "story", "teams": {"dev": {"count": 2}}}},
                                     "review": {"pool": "pm", "work": exponential(0.3)}},
                           "teams": {"dev": {"pools": {"d": 2}, "steps": {"code": {"pool": "d",
                                                                                   "work": exponential(1.0)}}}}}},
         "level": "epic",
         "steps": {"split": {"split": {"into": "feature", "teams": {"art": {"count": 3}}}, "wip_limit": 2}}}
    with deadline(60):
        rec = records(d, None, seed=2)
    check_nested(vssim.StreamSpec.from_dict(d), rec, finite=True)
    assert rec.level_names == ["epic", "feature", "story"] and rec.team_names == ["", "art", "art/dev"]
    assert np.bincount(rec.item_level).tolist() == [5, 15, 30]
    assert not np.isnan(rec.done).any()
    features = rec.item_team == 1
    assert max_concurrent(rec.commit[features], rec.done[features]) == 1


STALLS = {
    "split": {"a": {"pool": "po", "work": exponential(1.0)},
              "s": {"split": {"into": "story", "teams": {"t": {}}}, "wip_limit": 1}},
    "dependency": {"a": {"pool": "po", "work": exponential(0.5)},
                   "s": {"pool": "po", "work": exponential(1.0), "wip_limit": 1,
                         "dependency": {"probability": 1.0, "team": "t"}}},
    "team-conwip": {"s": {"split": {"into": "story", "teams": {"a": {}}}}},
}
"""Top boards whose only way to fill team t's batch of 2 is blocked while its first child waits."""


@pytest.mark.parametrize("case", list(STALLS))
def test_a_team_batch_that_nothing_else_can_fill_is_flushed(case):
    """The first parent waits for its child, which waits in team t's batch of 2 for a mate that
    only the next parent could make, and that parent cannot get there: behind a full split
    column, a full dependency column, or team a's CONWIP of 1 (a's one child splits again for t).
    Nothing else can ever fill the batch, so by the model it leaves as it is and the stream flows."""
    t = {"pools": {"dev": 1}, "steps": {"b": {"pool": "dev", "work": exponential(1.0), "batch": 2}}}
    teams = {"t": t} if case != "team-conwip" else {
        "a": {"pools": {"pm": 1}, "release": {"policy": "conwip", "conwip": 1}, "teams": {"t": t},
              "steps": {"s": {"split": {"into": "task", "teams": {"t": {}}}}}}}
    d = {"name": "stall", "arrivals": {"process": "poisson", "rate": 0.3}, "pools": {"po": 1}, "teams": teams,
         "steps": STALLS[case]}
    rec = records(d, 2000.0, seed=1)
    top = rec.item_parent < 0
    assert np.isfinite(rec.done[top]).sum() > 0.9 * top.sum()


def test_the_batch_flushed_first_is_the_one_nothing_can_fill_whatever_the_declaration_order():
    """An epic splits into two A stories; A's first column (limit 1) splits each into one L task,
    and A ships in batches of 2, as L does. Story A1's task L1 waits in L's batch, A2 waits for A's
    first column. By hand: L1 is flushed alone at 1 (no new task can reach L), A1 joins and is
    worked 1-2 into A's batch; A2 enters, its L2 is worked 1-2 and flushed at 2, A2 is worked
    2-3 and leaves with A1 at 3, and the epic is done at 3. A's batch could be filled (by A2), so it
    must not be flushed first, whether A or L is declared first."""
    one = det(1.0)
    a = {"pools": {"a": 1}, "steps": {"c0": {"split": {"into": "task", "teams": {"L": {}}}, "wip_limit": 1},
                                      "c1": {"pool": "a", "work": one, "batch": 2}}}
    low = {"pools": {"l": 1}, "steps": {"l0": {"pool": "l", "work": one, "batch": 2}}}
    for teams in ({"A": a, "L": low}, {"L": low, "A": a}):
        d = {"name": "order", "arrivals": {"process": "trace", "times": [0.0, 100.0]}, "pools": {"po": 1},
             "teams": teams, "steps": {"s": {"split": {"into": "story", "teams": {"A": {"count": 2}}}}}}
        rec = records(d, 50.0)
        stories = rec.item_team == rec.team_names.index("A")
        assert rec.done[0] == 3.0 and rec.done[stories].tolist() == [3.0, 3.0], list(teams)


# --------------------------------------------------------------------------- 4. invariants on random nested streams
def board_steps(spec: vssim.StreamSpec, rec: Records) -> list:
    """The `Step` of each of the records' steps (board after board, as `rec.step_names`)."""
    steps = [s for b in rec.team_names for s in spec.board(b)[0].values()]
    assert [s.name for s in steps] == [n.rpartition("/")[2] for n in rec.step_names]
    return steps


def board_release(spec: vssim.StreamSpec, b: str):
    return spec.teams[b].release if b else spec.release


def check_joins(rec: Records, spec: vssim.StreamSpec | None = None) -> None:
    """Every child has one parent that exists and was made before it, at a visit of the parent to
    a split step (at the split's start) or to a team-dependency step (between entering and being
    workable there); a split visit ends exactly at its last child's done time (at once without
    children; not while a child is open), a dependency visit is workable at or after its child is
    done; a parent is done only after all its children. With `spec`, the children's levels and
    teams are the ones its steps name, and fixed counts are exact."""
    n = rec.n_items
    kids = np.flatnonzero(rec.item_parent >= 0)
    parent = rec.item_parent[kids]
    top = rec.item_parent < 0
    assert (rec.item_level[top] == 0).all() and (rec.item_team[top] == 0).all()
    assert (parent < kids).all(), "a child made before its parent"
    assert (rec.item_team[kids] > 0).all() and (rec.item_level[kids] > 0).all()
    assert (rec.item_type[kids] == rec.item_type[parent]).all()
    assert (rec.item_priority[kids] == rec.item_priority[parent]).all()
    assert (rec.arrival[kids] >= rec.arrival[parent]).all()
    # every visit is on its item's board
    assert (rec.step_team[rec.visit_step] == rec.item_team[rec.visit_item]).all(), "a visit on another board"
    split_visit = rec.step_split[rec.visit_step]
    assert (rec.visit_person[split_visit] == -1).all() and (rec.visit_work[split_visit] == 0).all()
    steps = board_steps(spec, rec) if spec is not None else None
    dependency = rec.level_names.index("dependency") if "dependency" in rec.level_names else -1
    done = np.where(np.isnan(rec.done), np.inf, rec.done)
    made_at = np.full(n, -1)
    assert (np.diff(rec.visit_item) >= 0).all(), "visits not item by item"
    begin = np.searchsorted(rec.visit_item, np.arange(n))
    stop = np.searchsorted(rec.visit_item, np.arange(n), side="right")
    for c, p in zip(kids.tolist(), parent.tolist(), strict=True):
        own = np.arange(begin[p], stop[p])
        at = rec.visit_step[own]
        if rec.item_level[c] == dependency:
            ready = np.where(np.isnan(rec.visit_ready[own]), np.inf, rec.visit_ready[own])
            match = own[~rec.step_split[at] & (rec.visit_enter[own] <= rec.arrival[c]) & (ready >= rec.arrival[c])]
        else:
            match = own[rec.step_split[at] & (rec.visit_start[own] == rec.arrival[c])]
        assert len(match) == 1, f"child {c}: not made at one visit of its parent {p}"
        made_at[c] = match[0]
        if steps is not None:
            s = steps[rec.visit_step[match[0]]]
            team = rec.team_names[rec.item_team[c]]
            if rec.item_level[c] == dependency:
                assert s.dependency is not None and s.dependency.team == team
            else:
                assert rec.level_names[rec.item_level[c]] == s.split.into and team in s.split.teams
    last = np.full(len(rec.visit_item), -np.inf)
    np.maximum.at(last, made_at[kids], done[kids])
    for v in np.flatnonzero(split_visit & ~np.isnan(rec.visit_start)).tolist():
        made = kids[made_at[kids] == v]
        end = rec.visit_end[v]
        if not len(made):
            assert end == rec.visit_start[v], "a split without children must pass at once"
        elif np.isinf(last[v]):
            assert np.isnan(end), "joined while a child is not done"
        else:
            assert end == last[v], "the join is not at the last child's done time"
        if steps is not None:
            split = steps[rec.visit_step[v]].split
            for team, count in split.teams.items():
                made_for = int((rec.item_team[made] == rec.team_names.index(team)).sum())
                if count.name in ("deterministic", "empirical"):
                    values = count.params.get("values", (count.params.get("value"),))
                    assert made_for in child_counts(np.array(values, dtype=float)), f"split visit {v}: {team}"
    for v in np.unique(made_at[kids[rec.item_level[kids] == dependency]]).tolist():
        if not np.isnan(rec.visit_ready[v]):
            child_done = last[v]
            assert rec.visit_ready[v] >= child_done
            if steps is not None and steps[rec.visit_step[v]].dependency.delay is None:
                assert rec.visit_ready[v] == child_done, "workable later than its dependency's child is done"
    most = np.full(n, -np.inf)
    np.maximum.at(most, parent, done[kids])
    assert (done >= most).all(), "a parent done before one of its children"


def check_nested(spec: vssim.StreamSpec, rec: Records, finite: bool) -> None:
    """The invariants of one replication of a stream with teams, from its records alone."""
    check_joins(rec, spec)
    steps = board_steps(spec, rec)
    n = rec.n_items
    committed, done = ~np.isnan(rec.commit), ~np.isnan(rec.done)
    assert not np.isnan(rec.arrival).any()
    assert not (done & ~committed).any() and (rec.commit[committed] >= rec.arrival[committed]).all()
    assert (rec.done[done] >= rec.commit[done]).all()
    if finite:
        assert done.all(), "a finite run stopped with items not done and no DeadlockError"
    # no item lost or duplicated, at any level: done, or in exactly one column, or in its board's
    # backlog (not committed, no visit); a child not done is one its parent waits for at the very
    # visit that made it (still open), so nothing is left behind by a parent that moved on
    item = rec.visit_item
    assert (np.diff(item) >= 0).all(), "visits not item by item"
    visits = np.bincount(item, minlength=n)
    open_visits = np.bincount(item[np.isnan(rec.visit_leave)], minlength=n)
    assert (visits[~committed] == 0).all() and (open_visits[done] == 0).all()
    assert (open_visits[committed & ~done] == 1).all()
    first = np.searchsorted(item, np.arange(n))
    lastv = np.searchsorted(item, np.arange(n), side="right") - 1
    assert (rec.visit_enter[first[committed]] == rec.commit[committed]).all()
    assert (rec.visit_leave[lastv[done]] == rec.done[done]).all()
    same = item[1:] == item[:-1]
    assert (rec.visit_enter[1:][same] == rec.visit_leave[:-1][same]).all(), "visits not contiguous"
    for c in np.flatnonzero((rec.item_parent >= 0) & ~done).tolist():
        p = rec.item_parent[c]
        assert not done[p], f"child {c} open, its parent {p} done"
        assert open_visits[p] == 1
    for level in range(len(rec.level_names)):        # arrived = done + in a column + in a backlog
        at = rec.item_level == level
        assert at.sum() == done[at].sum() + open_visits[at].sum() + (~committed)[at].sum(), rec.level_names[level]
    # visit times in order; work is the time worked
    for a, b in (("enter", "ready"), ("ready", "start"), ("start", "end"), ("end", "leave")):
        x, y = getattr(rec, f"visit_{a}"), getattr(rec, f"visit_{b}")
        assert not (np.isnan(x) & ~np.isnan(y)).any(), f"{b} without {a}"
        ok = ~np.isnan(y)
        assert (y[ok] >= x[ok]).all(), f"{a} <= {b}"
    worked = ~np.isnan(rec.visit_end) & ~rec.step_split[rec.visit_step]   # (no interruptions, no switch costs)
    np.testing.assert_allclose((rec.visit_end - rec.visit_start)[worked], rec.visit_work[worked], rtol=1e-12,
                               atol=1e-9)
    # WIP limits on every column of every board; CONWIP on every board
    for k, s in enumerate(steps):
        if s.wip_limit is not None:
            at = rec.visit_step == k
            assert max_concurrent(rec.visit_enter[at], rec.visit_leave[at]) <= s.wip_limit, rec.step_names[k]
    for b, name in enumerate(rec.team_names):
        conwip = board_release(spec, name).conwip
        if conwip is not None:
            on = rec.item_team == b
            assert max_concurrent(rec.commit[on], rec.done[on]) <= conwip, f"board {name!r} over its CONWIP"
    # people: one item at a time, only at the steps their pool serves
    started = ~np.isnan(rec.visit_start) & ~rec.step_split[rec.visit_step]
    assert (rec.visit_person[started] >= 0).all()
    for k, s in enumerate(steps):
        if s.split is None:
            board = rec.team_names[rec.step_team[k]]
            allowed = {rec.pool_names.index(f"{board}/{p}" if board else p) for p in s.pools}
            assert set(rec.person_pool[rec.visit_person[started & (rec.visit_step == k)]].tolist()) <= allowed
    for g in np.unique(rec.visit_person[started]).tolist():
        mine = started & (rec.visit_person == g)
        assert max_concurrent(rec.visit_start[mine], rec.visit_end[mine]) <= 1, f"person {g} on two items"



def _count(c):
    return c.pick([0, 1, 2, 3, {"dist": "empirical", "values": [0, 1, 2]}, {"dist": "poisson", "mu": 1.2}])


def random_board(c, *, split: tuple[str, list[str]] | None, depend: list[str], batches: bool, conwip: bool,
                 types: list[str]) -> dict:
    """A random board: 1-3 worked steps on 1-2 pools (WIP limits, handoffs, dependency delays,
    batches, cadences, rework within the board but never into a limited column: that may deadlock
    by design), a split step `split = (into, teams)` somewhere among them, team dependencies on
    `depend`; on a board without rework or batches, a step may be for some item `types` only."""
    pools = {f"p{i}": c.integer(1, 2) for i in range(c.integer(1, 2))}
    names = [f"s{j}" for j in range(c.integer(1, 3))]
    steps: dict[str, dict] = {}
    for name in names:
        s: dict = {"pool": c.pick(list(pools)), "work": _work(c)}
        if c.chance(0.3):
            s["wip_limit"] = c.integer(1, 3)
        if c.chance(0.2):
            s["handoff"] = _delay(c)
        if depend and c.chance(0.3):
            s["dependency"] = {"probability": c.real(0.2, 1.0), "team": c.pick(depend)}
            if c.chance(0.3):
                s["dependency"]["delay"] = _delay(c)
        elif c.chance(0.1):
            s["dependency"] = {"probability": c.real(0.2, 1.0), "delay": _delay(c)}
        if batches and c.chance(0.25):
            s["batch"] = 2
        if c.chance(0.1):
            s["cadence"] = c.pick([1.0, 2.5])
        steps[name] = s
    if split is not None:
        into, teams = split
        chosen = [t for t in teams if c.chance(0.7)] or teams[:1]
        s = {"split": {"into": into, "teams": {t: {"count": _count(c)} for t in chosen}}}
        if c.chance(0.3):
            s["split"]["size"] = c.pick([0.5, {"dist": "lognormal", "mean": 1.0, "cv": 0.5}])
        if c.chance(0.3):
            s["wip_limit"] = c.integer(1, 3)
        at = c.integer(0, len(names))
        names.insert(at, "split")
        steps = {n: steps.get(n, s) for n in names}
    limit = {n: s.get("wip_limit") for n, s in steps.items()}
    release = {"policy": "conwip", "conwip": c.integer(2, 5)} if conwip and c.chance(0.3) else {"policy": "push"}
    for j, n in enumerate(names):
        s = steps[n]
        if "split" not in s and c.chance(0.3):
            to = names[c.integer(0, j)]
            if limit[to] is None:
                s["rework"] = {"probability": c.real(0.05, 0.3), "to": to}
        # a batch must fit its own column, the next one and the board's CONWIP
        caps = [limit[n], limit[names[j + 1]] if j + 1 < len(names) else None, release.get("conwip")]
        if s.get("batch", 1) > min((x for x in caps if x is not None), default=2):
            del s["batch"]
    plain = not any("rework" in s or "batch" in s for s in steps.values())
    if plain and len(types) > 1 and len(steps) > 1 and c.chance(0.4):
        steps[c.pick(list(steps))]["types"] = [t for t in types if c.chance(0.5)] or types[:1]
    return {"pools": pools, "steps": steps, "release": release}


def nested_stream(c, *, size: int = 1) -> tuple[dict, dict]:
    """A random valid stream with teams and simulation settings: the stream's board splits (into
    `story`) for 1-3 teams `a0`.. and may ask leaf teams for dependencies; a team may split again
    (into `task`) for a team `sub` of its own, and ask a later leaf team (a dependency at depth 2):
    splits with counts 0.., nested splits, team dependencies, WIP limits, team CONWIP, rework inside
    teams, batches, cadences, classes of service, steps for some types only, rejections. Open
    (Poisson, load 0.3-0.8 at the bottleneck) or backlog (run until done)."""
    backlog = c.chance(0.4)
    weights = [c.integer(1, 3) for _ in range(c.integer(1, 2))]
    item_types = {f"t{i}": {"share": w / sum(weights), "class_of_service": c.pick(["standard", "expedite"])}
                  for i, w in enumerate(weights)}
    item_types["t0"]["share"] = 1.0 - sum(t["share"] for k, t in item_types.items() if k != "t0")
    if c.chance(0.3):
        item_types["t0"]["size"] = c.pick([1.5, {"dist": "lognormal", "mean": 1.0, "cv": 0.5}])
    types = list(item_types)
    n_teams = c.integer(1, 3)
    names = [f"a{i}" for i in range(n_teams)]
    branch = {t: c.chance(0.4) for t in names}
    leaves = [t for t in names if not branch[t]]
    teams = {}
    for i, t in enumerate(names):
        later = [x for x in leaves if names.index(x) > i]
        board = dict(depend=later, batches=True, conwip=True, types=types)
        if branch[t]:
            teams[t] = random_board(c, split=("task", ["sub"]), **board)
            teams[t]["teams"] = {"sub": random_board(c, split=None, **dict(board, depend=[]))}
        else:
            teams[t] = random_board(c, split=None, **board)
    top = random_board(c, split=("story", names), depend=leaves, batches=True, conwip=not backlog, types=types)
    if not backlog and c.chance(0.2):
        top["release"]["backlog_limit"] = c.integer(0, 3)
    d = {"name": "nested", "item_types": item_types, "arrivals": {"process": "poisson", "rate": 1.0}, **top,
         "teams": teams}
    items = c.integer(20, 50) * size
    sim: dict = {"seed": c.integer(0, 2**16)}
    if backlog:
        d["arrivals"] = {"process": "backlog", "count": items}
        sim["horizon"] = None
    else:
        bottleneck = max(vssim.StreamSpec.from_dict(d).offered_load().values())
        rate = c.real(0.3, 0.8) / bottleneck
        d["arrivals"] = {"process": "poisson", "rate": rate}
        sim["horizon"] = round(items / rate, 3)
    return d, sim


@st.composite
def nested_streams(draw, size: int = 1):
    return nested_stream(HypothesisChooser(draw), size=size)


def run_nested(d: dict, sim: dict) -> Records:
    spec = vssim.StreamSpec.from_dict(d)
    with deadline(120):
        rec = run_records("simpy", spec, sim["horizon"], seed=sim["seed"])
    check_nested(spec, rec, finite=sim["horizon"] is None)
    return rec


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested_streams())
def test_invariants_random_nested_streams(case):
    rec = run_nested(*case)
    event(f"levels: {', '.join(rec.level_names[j] for j in np.unique(rec.item_level))}")


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested_streams(size=5))
def test_invariants_random_nested_streams_slow(case):
    run_nested(*case)


def test_fixed_sample_of_nested_streams():
    """A seeded sample of the generator: all invariants hold, and it does make what it should
    (children at two depths, team dependencies, parents revisiting a split, splits without children)."""
    seen = Counter()
    for seed in range(50):
        d, sim = nested_stream(NumpyChooser(seed))
        rec = run_nested(d, sim)
        for level in ("task", "dependency"):
            seen[level] += level in rec.level_names and bool((rec.item_level == rec.level_names.index(level)).any())
        split_visits = rec.visit_item[rec.step_split[rec.visit_step]]
        seen["split again"] += len(split_visits) > len(np.unique(split_visits))
        seen["no children"] += bool((rec.visit_start == rec.visit_end)[rec.step_split[rec.visit_step]].any())
        seen["open"] += sim["horizon"] is not None
    print(dict(seen))
    assert all(v >= 3 for v in seen.values()), seen


# --------------------------------------------------------------------------- Little's law per level, determinism
ART = {
    "name": "art", "arrivals": {"process": "poisson", "rate": 0.5}, "level": "feature",
    "item_types": {"feature": {"share": 0.8}, "enabler": {"share": 0.2, "size": 1.5, "class_of_service": "expedite"}},
    "pools": {"po": 2, "sys": 1},
    "teams": {
        "web": {"pools": {"devs": 3},
                "steps": {"design": {"pool": "devs", "work": exponential(0.5)},
                          "tasks": {"split": {"into": "task", "teams": {"qa": {"count": 2}}}, "wip_limit": 4},
                          "build": {"pool": "devs", "work": {"dist": "lognormal", "mean": 1.0, "cv": 0.8},
                                    "rework": {"probability": 0.2, "to": "design"}}},
                "teams": {"qa": {"pools": {"q": 2}, "release": {"policy": "conwip", "conwip": 3},
                                 "steps": {"test": {"pool": "q", "work": exponential(0.6)}}}}},
        "api": {"pools": {"devs": 2}, "release": {"policy": "conwip", "conwip": 3},
                "steps": {"build": {"pool": "devs", "work": exponential(1.2), "wip_limit": 2}}},
        "ops": {"pools": {"o": 1}, "steps": {"deploy": {"pool": "o", "work": exponential(0.8)}}},
    },
    "steps": {
        "refine": {"pool": "po", "work": exponential(1.5)},
        "implement": {"split": {"into": "story", "teams": {"web": {"count": {"dist": "poisson", "mu": 1.5}},
                                                           "api": {"count": {"dist": "empirical",
                                                                             "values": [0, 1, 1, 2]}}}},
                      "wip_limit": 6},
        "integrate": {"pool": "sys", "work": exponential(1.0), "dependency": {"probability": 0.3, "team": "ops"}},
    },
}
"""An ART at moderate load (0.62 at the busiest pool, qa's): features split into stories for web
(which splits each into two qa tasks) and api, integrated after a deploy from ops for three in
ten; limits, CONWIP and rework in teams."""


class LevelResult:
    """One level of a run's records in the shape `check_littles_law` reads (items, and per
    replication wip, throughput and flow time over the window after `warmup`), the area under the
    level's WIP curve integrated from its commit and done events."""

    def __init__(self, recs: list[Records], level: int, warmup: float):
        frames, reps = [], []
        for rec in recs:
            at = rec.item_level == level
            commit, done = rec.commit[at], rec.done[at]
            frames.append(pd.DataFrame({"replication": rec.replication, "arrival": rec.arrival[at],
                                        "commit": commit, "done": done}))
            lo, hi = warmup, rec.end
            c = commit[~np.isnan(commit)]
            d = done[~np.isnan(done)]
            times = np.concatenate([c, d, [lo, hi]])
            steps = np.concatenate([np.ones(len(c)), -np.ones(len(d)), [0, 0]])
            order = np.argsort(times, kind="stable")
            t, n = times[order], np.cumsum(steps[order])
            inside = np.clip(np.diff(t), 0, None) * ((t[:-1] >= lo) & (t[1:] <= hi))
            in_window = (done >= lo) & (done <= hi)
            fresh = (rec.arrival[at] >= lo) & ~np.isnan(done)
            reps.append({"replication": rec.replication, "wip": float((n[:-1] * inside).sum() / (hi - lo)),
                         "throughput": float(in_window.sum() / (hi - lo)),
                         "flow_time": float((done - commit)[fresh].mean())})
        self.items = pd.concat(frames, ignore_index=True)
        self.summary = {"sim": {"warmup": warmup, "end": [rec.end for rec in recs]}, "replications": reps}


def test_littles_law_per_level_on_a_long_open_run():
    """L = λW for every level (features, stories, tasks, dependencies) of a long open run, within
    the exact edge-effect bound of check_littles_law, which must itself be under 2 % of L·S."""
    spec = vssim.StreamSpec.from_dict(ART)
    recs = [run_records("simpy", spec, 3000.0, warmup=300.0, seed=4, replication=r) for r in range(2)]
    for rec in recs:
        check_nested(spec, rec, finite=False)
    assert recs[0].level_names == ["feature", "story", "task", "dependency"]
    for level, name in enumerate(recs[0].level_names):
        assert (recs[0].item_level == level).sum() > 300, name
        check_littles_law(LevelResult(recs, level, 300.0))


def records_digest(rec: Records) -> str:
    """A hash of every item and visit column, the hierarchy included."""
    h = hashlib.sha256()
    for name in (*ITEM_COLUMNS, *FAMILY_COLUMNS, *VISIT_COLUMNS):
        h.update(name.encode())
        h.update(np.ascontiguousarray(getattr(rec, name)).tobytes())
    return h.hexdigest()


def test_same_seed_same_records_another_seed_other_records():
    """Determinism at every level: the ART and a sample of random nested streams, run twice."""
    cases = [(ART, 800.0), *((d, sim["horizon"]) for d, sim in map(nested_stream, map(NumpyChooser, range(6))))]
    for d, horizon in cases:
        assert records_digest(records(d, horizon, seed=7)) == records_digest(records(d, horizon, seed=7))
    assert records_digest(records(ART, 800.0, seed=7)) != records_digest(records(ART, 800.0, seed=8))
