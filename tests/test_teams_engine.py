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

import numpy as np
import pytest
from forkjoin_reference import lindley_done
from test_theory import NT_ACCURACY, assert_interval_meets
from test_theory_validation import R, assert_matches

import vssim
from vssim.analysis import theory
from vssim.engines.registry import run_records
from vssim.records import Records


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
    pytest.param(0.3, 3_000, 0.06, 0.08, id="rho0.3"),
    pytest.param(0.6, 3_000, 0.14, 0.16, id="rho0.6"),
    pytest.param(0.8, 3_000, 0.30, 0.35, id="rho0.8"),
    # half-widths about 1.2 %, 1.7 %, 3.1 %: below the 2.6 %, 5.3 %, 7.1 % gap to H_2/(μ − λ)
    pytest.param(0.3, 20_000, 0.024, 0.03, marks=pytest.mark.slow, id="rho0.3-long"),
    pytest.param(0.6, 40_000, 0.034, 0.045, marks=pytest.mark.slow, id="rho0.6-long"),
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
    pytest.param(8, 0.05, 300, 0.12, id="K8-rho0.05"),
    pytest.param(4, 0.6, 1_000, 0.30, id="K4-rho0.6"),
    pytest.param(16, 0.6, 300, 0.40, id="K16-rho0.6"),
    *(pytest.param(k, 0.05, 5_000, 0.02, marks=pytest.mark.slow, id=f"K{k}-rho0.05-long") for k in (4, 16)),
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
