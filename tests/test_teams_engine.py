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
