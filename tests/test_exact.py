"""Exact, deterministic sample paths of the engine (docs/validation.md).

Every expected number here is worked out by hand (or by a recursion written in the test) from
the semantics in `vssim/engines/simpy/board.py`; the comparisons are exact (times are sums of binary-exact
floats) except the max-plus check, which recomputes random work times and allows 1e-9.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vssim.engines.random import Draws, generator
from vssim.model.distributions import parse_distribution

DET = "deterministic"


def det(value: float) -> dict:
    return {"dist": DET, "value": value}


def by_item(frame: pd.DataFrame, step: str | None = None) -> pd.DataFrame:
    if step is not None:
        frame = frame[frame["step"] == step]
    return frame.sort_values("item", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- the penny game
def penny(batch: int, n: int = 20, steps: int = 4) -> dict:
    return {
        "name": f"penny_{batch}",
        "arrivals": {"process": "backlog", "count": n},
        "pools": {f"p{j}": 1 for j in range(steps)},
        "steps": {f"s{j}": {"pool": f"p{j}", "work": det(1), "batch": batch} for j in range(steps)},
    }


def penny_done_by_hand(batch: int, n: int = 20, steps: int = 4) -> list[float]:
    """Done time of each item: batches move as units, a step works a batch in `batch` time units.

    D[b][j] = max(D[b-1][j], D[b][j-1]) + batch (batch b can start step j when it has arrived
    there and the person has finished batch b-1); every item of batch b is done at D[b][last].
    """
    nb = math.ceil(n / batch)
    d = [[0.0] * steps for _ in range(nb)]
    for b in range(nb):
        for j in range(steps):
            before = d[b - 1][j] if b else 0.0
            arrived = d[b][j - 1] if j else 0.0
            d[b][j] = max(before, arrived) + batch
    return [d[i // batch][steps - 1] for i in range(n)]


@pytest.mark.parametrize(
    ("batch", "last", "first"), [(20, 80.0, 80.0), (5, 35.0, 20.0), (1, 23.0, 4.0)]
)
def test_penny_game(run, batch, last, first):
    r = run(penny(batch), horizon=None)
    items = r.items
    assert len(items) == 20 and items["done"].notna().all()
    assert items["lead_time"].max() == last
    assert items["lead_time"].min() == first
    assert items["done"].max() == last and items["done"].min() == first
    assert r.summary["metrics"]["lead_time"]["max"] == last
    assert r.summary["metrics"]["lead_time"]["min"] == first
    assert r.summary["sim"]["end"] == [last]
    # every item's done time, from the batch recursion
    assert items.sort_values("item")["done"].tolist() == penny_done_by_hand(batch)


def test_penny_game_batch5_by_hand(run):
    r = run(penny(5), horizon=None)
    done = r.items.sort_values("item")["done"].tolist()
    # items 1-5 done at 20, 6-10 at 25, 11-15 at 30, 16-20 at 35
    assert done == [20.0] * 5 + [25.0] * 5 + [30.0] * 5 + [35.0] * 5
    # the first step finishes its batches at 5, 10, 15, 20 and each batch leaves it at once
    v = by_item(r.visits, "s0")
    assert v["end"].tolist() == [float(k + 1) for k in range(20)]
    assert v["leave"].tolist() == [5.0 * (i // 5 + 1) for i in range(20)]
    # touch time is the 4 steps' work; no item is reworked
    assert (r.items["touch_time"] == 4.0).all() and (r.items["rework_count"] == 0).all()


# --------------------------------------------------------------------------- a whole event log
TINY = {
    "name": "tiny",
    "arrivals": {"process": "trace", "times": [0, 1, 2]},
    "pools": {"a": 1, "b": 1},
    "steps": {
        "one": {"pool": "a", "work": det(1.5), "handoff": det(0.25)},
        "two": {"pool": "b", "work": det(0.5)},
    },
}


def test_tiny_event_log_row_by_row(run):
    """Item 0: one 0-1.5, handoff to 1.75, two 1.75-2.25. Item 1 (arrives 1) waits for a/1 until
    1.5: one 1.5-3, two 3.25-3.75. Item 2 (arrives 2): one 3-4.5, two 4.75-5.25. At 1.5 and 3
    a/1 completes one item and then starts the next (the log is in causal order)."""
    expected = [
        (0, "arrive", "complete", 0.0, ""),
        (0, "commit", "complete", 0.0, ""),
        (0, "one", "start", 0.0, "a/1"),
        (1, "arrive", "complete", 1.0, ""),
        (1, "commit", "complete", 1.0, ""),
        (0, "one", "complete", 1.5, "a/1"),
        (1, "one", "start", 1.5, "a/1"),
        (0, "two", "start", 1.75, "b/1"),
        (2, "arrive", "complete", 2.0, ""),
        (2, "commit", "complete", 2.0, ""),
        (0, "two", "complete", 2.25, "b/1"),
        (0, "done", "complete", 2.25, ""),
        (1, "one", "complete", 3.0, "a/1"),
        (2, "one", "start", 3.0, "a/1"),
        (1, "two", "start", 3.25, "b/1"),
        (1, "two", "complete", 3.75, "b/1"),
        (1, "done", "complete", 3.75, ""),
        (2, "one", "complete", 4.5, "a/1"),
        (2, "two", "start", 4.75, "b/1"),
        (2, "two", "complete", 5.25, "b/1"),
        (2, "done", "complete", 5.25, ""),
    ]
    log = run(TINY, horizon=None).event_log()
    assert list(log.columns) == [
        "replication",
        "case",
        "activity",
        "lifecycle",
        "timestamp",
        "resource",
    ]
    assert (log["replication"] == 0).all()
    # a case is one item of one replication, named `replication-item`
    expected = [(f"0-{case}", *rest) for case, *rest in expected]
    got = [
        (c, a, lc, float(t), res)
        for c, a, lc, t, res in log[
            ["case", "activity", "lifecycle", "timestamp", "resource"]
        ].itertuples(index=False)
    ]
    assert got == expected


def test_tiny_items_and_visits(run):
    r = run(TINY, horizon=None)
    items = r.items.sort_values("item")
    assert items["done"].tolist() == [2.25, 3.75, 5.25]
    assert items["lead_time"].tolist() == [2.25, 2.75, 3.25]
    assert items["touch_time"].tolist() == [2.0, 2.0, 2.0]
    two = by_item(r.visits, "two")
    # handoff is wait in column two, not touch: enter = leave of one, ready = enter + 0.25
    assert two["enter"].tolist() == [1.5, 3.0, 4.5]
    assert two["ready"].tolist() == [1.75, 3.25, 4.75]
    assert two["work"].tolist() == [0.5, 0.5, 0.5]


# --------------------------------------------------------------------------- WIP limits
def blocking_line(limit1: int | None) -> dict:
    return {
        "name": "blocking",
        "arrivals": {"process": "backlog", "count": 3},
        "pools": {"fast": 1, "slow": 1},
        "steps": {
            "s1": {"pool": "fast", "work": det(1), "wip_limit": limit1},
            "s2": {"pool": "slow", "work": det(3), "wip_limit": 1},
        },
    }


def test_wip_limit_blocks_done_items_not_people(run):
    """s1 works items at 0-1, 1-2, 2-3 (its person is never blocked); s2 holds one item at a
    time, 1-4, 4-7, 7-10, so items 1 and 2 wait done in column s1 until 4 and 7."""
    r = run(blocking_line(None), horizon=None)
    s1, s2 = by_item(r.visits, "s1"), by_item(r.visits, "s2")
    assert s1["start"].tolist() == [0.0, 1.0, 2.0]
    assert s1["end"].tolist() == [1.0, 2.0, 3.0]
    assert s1["leave"].tolist() == [1.0, 4.0, 7.0]
    assert s2["enter"].tolist() == [1.0, 4.0, 7.0]
    assert s2["start"].tolist() == [1.0, 4.0, 7.0]
    assert s2["end"].tolist() == [4.0, 7.0, 10.0]
    assert s2["leave"].tolist() == [4.0, 7.0, 10.0]
    assert r.items.sort_values("item")["done"].tolist() == [4.0, 7.0, 10.0]
    assert (r.items["commit"] == 0.0).all()
    steps = r.summary["steps"]
    assert steps["s1"]["blocked"] == pytest.approx((0 + 2 + 4) / 3)


def test_wip_limit_on_first_column_holds_back_commit(run):
    """With s1 limited to 2, item 2 is committed only when item 0 leaves s1 at 1; a/1 is busy
    with item 1 until 2, so item 2 is worked 2-3 and then waits done for s2 until 7."""
    r = run(blocking_line(2), horizon=None)
    items = r.items.sort_values("item")
    assert items["commit"].tolist() == [0.0, 0.0, 1.0]
    assert items["done"].tolist() == [4.0, 7.0, 10.0]
    s1 = by_item(r.visits, "s1")
    assert s1["enter"].tolist() == [0.0, 0.0, 1.0]
    assert s1["start"].tolist() == [0.0, 1.0, 2.0]
    assert s1["leave"].tolist() == [1.0, 4.0, 7.0]
    assert items["flow_time"].tolist() == [4.0, 7.0, 9.0]


# --------------------------------------------------------------------------- cadence
def test_cadence_releases_at_multiples(run):
    """Work 1 after arrivals 0, 1, 6, 9: work ends 1, 2, 7, 10; leaving only at multiples of 5
    gives 5, 5, 10, 10 (an item done exactly on a tick leaves on it)."""
    d = {
        "name": "cadence",
        "arrivals": {"process": "trace", "times": [0, 1, 6, 9]},
        "pools": {"a": 1, "b": 1},
        "steps": {
            "train": {"pool": "a", "work": det(1), "cadence": 5},
            "after": {"pool": "b", "work": det(0.5)},
        },
    }
    r = run(d, horizon=None)
    train, after = by_item(r.visits, "train"), by_item(r.visits, "after")
    assert train["end"].tolist() == [1.0, 2.0, 7.0, 10.0]
    assert train["leave"].tolist() == [5.0, 5.0, 10.0, 10.0]
    assert after["enter"].tolist() == [5.0, 5.0, 10.0, 10.0]
    assert after["end"].tolist() == [5.5, 6.0, 10.5, 11.0]
    assert r.items.sort_values("item")["done"].tolist() == [5.5, 6.0, 10.5, 11.0]


def test_cadence_last_step(run):
    d = {
        "name": "cadence_last",
        "arrivals": {"process": "trace", "times": [0.5, 3, 12]},
        "pools": {"a": 1},
        "steps": {"release": {"pool": "a", "work": det(1), "cadence": 5}},
    }
    r = run(d, horizon=None)
    assert r.items.sort_values("item")["done"].tolist() == [5.0, 5.0, 15.0]


@pytest.mark.parametrize("period", [1e11, 1e12])                  # 1e12: the largest cadence (docs/model.md)
def test_a_long_cadence_waits_for_its_first_tick(run, period):
    """Done at 1 and 2, the items leave at the first tick after time 0, 1 x period: not at
    tick 0 (issue 12: the rounding of now / period let them through at once)."""
    d = {"name": "long_cadence", "arrivals": {"process": "trace", "times": [0, 1]}, "pools": {"a": 1},
         "steps": {"release": {"pool": "a", "work": det(1), "cadence": period}}}
    assert run(d, horizon=None).items.sort_values("item")["done"].tolist() == [period, period]
    held = run({**d, "arrivals": {"process": "deterministic", "interval": 1.0}}, horizon=2000.0)
    assert held.summary["metrics"]["completed"] == 0 and len(held.items) == 1999     # arrivals at 1, ..., 1999


@pytest.mark.parametrize(("now", "period", "tick"), [
    (0.0, 5.0, 0.0), (5.0, 5.0, 5.0), (5.5, 5.0, 10.0), (0.1 + 0.2, 0.1, 0.1 * 3),   # on a tick but for rounding
    (1e12 + 500, 1e12, 2e12), (3.0, 1e-300, 3.0)])                            # a tick further; ticks denser than floats
def test_the_next_tick(now, period, tick):
    from vssim.engines.simpy.board import next_tick

    assert next_tick(now, period) == tick


# --------------------------------------------------------------------------- rework
def random_line(rework: dict | None) -> dict:
    s2 = {"pool": "b", "work": {"dist": "lognormal", "mean": 0.8, "cv": 0.7}}
    if rework is not None:
        s2["rework"] = rework
    return {
        "name": "line",
        "arrivals": {"process": "poisson", "rate": 0.8},
        "pools": {"a": 1, "b": 1},
        "steps": {"s1": {"pool": "a", "work": {"dist": "exponential", "mean": 0.9}}, "s2": s2},
    }


def test_rework_with_probability_zero_changes_nothing(run):
    base = run(random_line(None), horizon=300, replications=2, seed=11)
    zero = run(random_line({"probability": 0.0, "to": "s1"}), horizon=300, replications=2, seed=11)
    assert len(base.items) > 100
    pd.testing.assert_frame_equal(base.items, zero.items)
    pd.testing.assert_frame_equal(base.visits, zero.visits)
    assert (zero.items["rework_count"] == 0).all() and not zero.visits["reworked"].any()


def test_rework_deterministic_work_isolated_items(run):
    """Items 100 apart never meet: a pass of s1 + s2 takes 1 + 1, so flow time = 2 (1 + reworks)."""
    d = {
        "name": "rework",
        "arrivals": {"process": "trace", "times": [100.0 * k for k in range(40)]},
        "pools": {"a": 1, "b": 1},
        "steps": {
            "s1": {"pool": "a", "work": det(1)},
            "s2": {"pool": "b", "work": det(1), "rework": {"probability": 0.5, "to": "s1"}},
        },
    }
    r = run(d, horizon=None, seed=3)
    items = r.items
    assert items["rework_count"].sum() > 0  # the decisions did send items back
    assert (items["flow_time"] == 2.0 * (1 + items["rework_count"])).all()
    assert (items["touch_time"] == items["flow_time"]).all()
    visits = r.visits
    assert (
        visits.groupby("item").size().tolist()
        == (2 * (1 + items.sort_values("item")["rework_count"])).tolist()
    )


# --------------------------------------------------------------------------- dependency
def test_dependency_adds_exactly_its_delay(run):
    def stream(dep):
        s2 = {"pool": "b", "work": det(1)}
        if dep:
            s2["dependency"] = {"probability": 1.0, "delay": det(2)}
        return {
            "name": "dep",
            "arrivals": {"process": "trace", "times": [0, 10, 20]},
            "pools": {"a": 1, "b": 1},
            "steps": {"s1": {"pool": "a", "work": det(1)}, "s2": s2},
        }

    without = run(stream(False), horizon=None)
    with_dep = run(stream(True), horizon=None)
    assert without.items["flow_time"].tolist() == [2.0, 2.0, 2.0]
    assert with_dep.items["flow_time"].tolist() == [4.0, 4.0, 4.0]
    s2 = by_item(with_dep.visits, "s2")
    assert (s2["ready"] - s2["enter"]).tolist() == [2.0, 2.0, 2.0]
    assert (s2["start"] - s2["enter"]).tolist() == [2.0, 2.0, 2.0]
    assert with_dep.summary["steps"]["s2"]["wait"] == 2.0
    assert without.summary["steps"]["s2"]["wait"] == 0.0
    assert (with_dep.items["touch_time"] == 2.0).all()


def test_dependency_delay_under_congestion(run):
    """With queues, the dependency is still exactly `delay` between entering and being workable."""
    d = random_line(None)
    d["steps"]["s2"]["dependency"] = {"probability": 1.0, "delay": det(0.75)}
    r = run(d, horizon=300, seed=5)
    s2 = r.visits[r.visits["step"] == "s2"]
    ready = s2.dropna(subset=["ready"])
    assert len(ready) > 100
    assert np.allclose(ready["ready"] - ready["enter"], 0.75, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- backlog limit
def test_backlog_limit_zero_rejects_when_first_column_full(run):
    """s1 holds one item (work 10): item 0 committed at 0; arrivals at 1 and 2 find the column
    full and are rejected (backlog_limit 0); the arrival at 11 finds it empty."""
    d = {
        "name": "reject",
        "arrivals": {"process": "trace", "times": [0, 1, 2, 11]},
        "pools": {"a": 1},
        "release": {"policy": "push", "backlog_limit": 0},
        "steps": {"s1": {"pool": "a", "work": det(10), "wip_limit": 1}},
    }
    r = run(d, horizon=None, warmup=0)
    m = r.summary["metrics"]
    assert m["rejected"] == 2
    assert m["completed"] == 2
    items = r.items.sort_values("item")
    assert items["arrival"].tolist() == [0.0, 11.0]
    assert items["commit"].tolist() == [0.0, 11.0]
    assert items["done"].tolist() == [10.0, 21.0]
    assert r.records[0].rejected_times.tolist() == [1.0, 2.0]


def test_backlog_limit_one_keeps_one_waiting(run):
    d = {
        "name": "reject1",
        "arrivals": {"process": "trace", "times": [0, 1, 2, 11]},
        "pools": {"a": 1},
        "release": {"policy": "push", "backlog_limit": 1},
        "steps": {"s1": {"pool": "a", "work": det(10), "wip_limit": 1}},
    }
    r = run(d, horizon=None, warmup=0)
    assert r.summary["metrics"]["rejected"] == 1  # the arrival at 2
    items = r.items.sort_values("item")
    assert items["arrival"].tolist() == [0.0, 1.0, 11.0]
    assert items["commit"].tolist() == [0.0, 10.0, 20.0]
    assert items["done"].tolist() == [10.0, 20.0, 30.0]


# --------------------------------------------------------------------------- CONWIP
def test_conwip_one_runs_one_item_at_a_time(run):
    d = random_line(None)
    d["release"] = {"policy": "conwip", "conwip": 1}
    d["arrivals"] = {"process": "poisson", "rate": 0.4}
    r = run(d, horizon=500, seed=2)
    items = r.items.sort_values("item")
    done = items.dropna(subset=["done"])
    assert len(done) > 100
    # flow time = the sum of the work: nothing waits inside the line
    assert np.allclose(done["flow_time"], done["touch_time"], rtol=0, atol=1e-9)
    # strictly one committed item at a time: the next commit is at max(arrival, previous done)
    committed = items.dropna(subset=["commit"])
    prev_done = committed["done"].to_numpy()[:-1]
    nxt = committed.iloc[1:]
    assert np.allclose(nxt["commit"], np.maximum(nxt["arrival"], prev_done), rtol=0, atol=1e-12)
    assert (items["commit"].dropna().diff().dropna() > 0).all()
    # the per-visit wait inside the line is zero
    v = r.visits.dropna(subset=["start"])
    assert (v["start"] == v["enter"]).all()


# --------------------------------------------------------------------------- max-plus recursion
def test_max_plus_recursion_serial_line(run):
    """D[k][j] = max(D[k-1][j], D[k][j-1]) + S[k][j] with D[k][-1] = arrival of item k."""
    rng = np.random.default_rng(123)
    n = 300
    times = np.cumsum(rng.exponential(1.0, n)).round(6)
    sizes = rng.choice([0.5, 1.0, 1.5], n)
    trace = [{"time": float(t), "size": float(s)} for t, s in zip(times, sizes, strict=True)]
    means = [0.5, 0.8, 0.6]
    d = {
        "name": "maxplus",
        "arrivals": {"process": "trace", "times": trace},
        "pools": {f"p{j}": 1 for j in range(3)},
        "steps": {
            f"s{j}": {"pool": f"p{j}", "work": {"dist": "lognormal", "mean": m, "cv": 1.2}}
            for j, m in enumerate(means)
        },
    }
    r = run(d, horizon=None, seed=9)
    v = r.visits
    assert len(v) == 3 * n
    work = np.zeros((n, 3))
    end = np.zeros((n, 3))
    for j in range(3):
        vj = by_item(v, f"s{j}")
        assert vj["item"].tolist() == list(range(n))
        work[:, j] = vj["work"]
        end[:, j] = vj["end"]
    # work = draw x size, the draw being item k's draw of the step's own random source
    for j, m in enumerate(means):
        dist = parse_distribution({"dist": "lognormal", "mean": m, "cv": 1.2}, "")
        draws = Draws(dist, generator(9, 0, f"work/s{j}"))
        np.testing.assert_allclose(
            work[:, j], [draws.at(k) * sizes[k] for k in range(n)], rtol=1e-15
        )
    arrival = r.items.sort_values("item")["arrival"].to_numpy()
    assert np.array_equal(arrival, times)
    dep = np.zeros((n, 3))
    for k in range(n):
        for j in range(3):
            before = dep[k - 1, j] if k else -np.inf
            ready = dep[k, j - 1] if j else arrival[k]
            dep[k, j] = max(before, ready) + work[k, j]
    np.testing.assert_allclose(end, dep, rtol=0, atol=1e-9)
    np.testing.assert_allclose(r.items.sort_values("item")["done"], dep[:, -1], rtol=0, atol=1e-9)
    # the line was congested enough for the recursion to matter (queueing happened)
    assert (v["start"] > v["enter"] + 1e-9).mean() > 0.2
