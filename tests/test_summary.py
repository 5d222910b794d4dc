"""The summary (vssim/analysis/summary.py and its compiled passes, vssim/analysis/kernels.py)
against its numpy oracle (tests/oracle.py), bit for bit.

`summarize` reads a replication in one pass over its items and one over its visits and does
numpy's arithmetic itself (pairwise sums, percentiles from order statistics, the t interval).
These tests hold it to the numpy expressions that define it: the building blocks on random
arrays, and whole summaries (JSON text and steps frame) on random runs of both engines and on
records no engine makes (items out of arrival order, done items arriving after the end, a
window ending before the warmup).
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import numpy as np
import oracle
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_invariants import streams
from test_maxplus import qualifying

import vssim
import vssim.scratch
from vssim.analysis import kernels, summary
from vssim.analysis.intervals import ci95, ci95_rows
from vssim.analysis.summary import PERCENTILES, predictability, summarize
from vssim.engines.registry import run_records as engine_records
from vssim.errors import DeadlockError
from vssim.model.plan import Plan


def bits(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).view(np.int64)


# --------------------------------------------------------------------------- building blocks
def test_pairwise_is_numpys_sum():
    """`pairwise_sum` adds as np.sum does (numpy's pairwise summation), zeros outside a range too."""
    pw = kernels.pairwise_sum
    rng = np.random.default_rng(0)
    for trial in range(600):
        n = int(rng.choice([rng.integers(0, 20), rng.integers(0, 400), rng.integers(0, 60_000)]))
        a = rng.exponential(1.0, n) * rng.choice([1e-3, 1.0, 1e6])
        if trial % 3 == 0:
            a[rng.random(n) < 0.6] = 0.0
        assert bits(pw(a, 0, n, 0, n)) == bits(a.sum())
        k0 = int(rng.integers(0, n + 1))
        k1 = int(rng.integers(k0, n + 1))
        zeroed = np.zeros(n)
        zeroed[k0:k1] = a[k0:k1]
        assert bits(pw(a, 0, n, k0, k1)) == bits(zeroed.sum())
        s0 = int(rng.integers(0, n + 1))
        s1 = int(rng.integers(s0, n + 1))
        assert bits(pw(a, s0, s1 - s0, 0, n)) == bits(a[s0:s1].sum())


@pytest.mark.parametrize("kind", ["spread", "rounded", "sorted", "reversed", "two values", "one value", "nan"])
def test_percentiles_are_numpys(kind):
    """np.percentile(x, PERCENTILES), x.min(), x.max() from order statistics, the same floats."""
    rng = np.random.default_rng(1)
    for n in [1, 2, 3, 7, 8, 9, 100, 101, 2047, 2048, 2049, 20_000, 33_333]:
        x = rng.exponential(3.0, n)
        if kind == "rounded":
            x = np.round(x, 1)
        elif kind == "sorted":
            x = np.sort(x)
        elif kind == "reversed":
            x = np.sort(x)[::-1].copy()
        elif kind == "two values":
            x = np.where(rng.random(n) < 0.9, 2.5, 7.0)
        elif kind == "one value":
            x = np.full(n, 1.25)
        elif kind == "nan":
            x[n // 2] = np.nan
        before = x.copy()
        got = summary._quantiles(x, PERCENTILES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = [*np.percentile(x, PERCENTILES), x.min(), x.max()]
        np.testing.assert_array_equal(bits(got), bits(want))
        np.testing.assert_array_equal(x, before)              # x is left as it was
        np.testing.assert_array_equal(bits(summary._quantiles(x, (85,))[:1]), bits([np.percentile(x, 85)]))


def test_ci95_rows_are_numpys():
    """`ci95_rows` and `ci95` give the oracle's interval of each row: the finite values' mean and
    t interval, the same floats."""
    rng = np.random.default_rng(2)
    for m in [0, 1, 2, 3, 8, 10, 11, 40]:
        rows = [list(rng.normal(5.0, 2.0, m)) for _ in range(6)]
        for row in rows[:3]:
            for i in rng.integers(0, max(m, 1), 2):
                if m:
                    row[i] = float(rng.choice([np.nan, np.inf, -np.inf]))
        got = ci95_rows(rows)
        for row, ci in zip(rows, got, strict=True):
            want = oracle.ci95(row)
            assert [None if x is None else bits(x) for x in ci] == [None if x is None else bits(x) for x in want]
            assert [None if x is None else bits(x) for x in ci95(row)] == [None if x is None else bits(x) for x in want]
    assert ci95([1.0, None, 2.0, math.nan, 4.0]) == oracle.ci95([1.0, None, 2.0, math.nan, 4.0])


# --------------------------------------------------------------------------- whole summaries
def assert_same_summary(records, **kw) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = oracle.summarize(records, **kw)
        got = summarize(records, **kw)
    pd.testing.assert_frame_equal(got.pop("_steps_frame"), want.pop("_steps_frame"), check_exact=True)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


def run_records(d: dict, sim: dict, engine: str) -> tuple[list, vssim.StreamSpec] | None:
    spec = vssim.StreamSpec.from_dict(d)
    plan = Plan.of(spec)
    try:
        return [engine_records(engine, plan, horizon=sim.get("horizon"), warmup=sim.get("warmup", 0.0),
                               seed=sim["seed"], replication=r) for r in range(sim.get("replications", 1))], spec
    except DeadlockError:
        return None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(qualifying(), st.sampled_from([None, 7.5]))
def test_summary_of_fast_runs_is_numpys(case, planning_interval):
    d, sim = case
    records, spec = run_records(d, sim, "fast")
    for recs in (records, records[:1]):
        assert_same_summary(recs, planning_interval=planning_interval, steady_state=not spec.arrivals.finite)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.sampled_from([None, 7.5]))
def test_summary_of_simpy_runs_is_numpys(case, planning_interval):
    d, sim = case
    out = run_records(d, sim, "simpy")
    if out is None:
        return
    records, spec = out
    for recs in (records, records[:1]):
        assert_same_summary(recs, planning_interval=planning_interval, steady_state=not spec.arrivals.finite)


def test_summary_of_the_benchmark_line_with_a_warmup_is_numpys():
    """A long run: many leaves of the pairwise sums, items across batch edges, a warmup."""
    d = {"name": "line", "arrivals": {"process": "poisson", "rate": 0.8},
         "pools": {f"p{j}": 1 for j in range(5)},
         "steps": {f"s{j}": {"pool": f"p{j}", "work": {"dist": "exponential", "mean": 1.0}} for j in range(5)}}
    plan = Plan.of(vssim.StreamSpec.from_dict(d))
    for warmup in (0.0, 333.3):
        recs = [engine_records("fast", plan, 5000.0, warmup, 7, r) for r in range(2)]
        assert_same_summary(recs[:1])
        assert_same_summary(recs)


def test_summary_without_kept_scratch_memory_is_the_same(monkeypatch):
    """Runs too large for the kept scratch blocks take fresh memory: the same summary."""
    monkeypatch.setattr(vssim.scratch, "KEEP", 0)
    d = {"name": "pools", "arrivals": {"process": "poisson", "rate": 0.7},
         "pools": {"a": 2, "b": 1}, "steps": {"one": {"pool": "a", "work": {"dist": "exponential", "mean": 1.0}},
                                             "two": {"pool": "b", "work": {"dist": "gamma", "mean": 1.0, "cv": 0.5}}}}
    plan = Plan.of(vssim.StreamSpec.from_dict(d))
    for engine in ("fast", "simpy"):
        recs = [engine_records(engine, plan, horizon=800.0, warmup=50.0, seed=2, replication=r) for r in range(2)]
        assert_same_summary(recs[:1])
        assert_same_summary(recs)


# --------------------------------------------------------------------------- records no engine makes
POOLS = {"name": "pools", "arrivals": {"process": "poisson", "rate": 0.7}, "pools": {"a": 2, "b": 1},
         "steps": {"one": {"pool": "a", "work": {"dist": "exponential", "mean": 1.0}},
                   "two": {"pool": "b", "work": {"dist": "gamma", "mean": 1.0, "cv": 0.5}}}}
REWORK = {**POOLS, "steps": {**POOLS["steps"], "two": {**POOLS["steps"]["two"],
                                                       "rework": {"probability": 0.2, "to": "one"}}}}


def _runs(engine: str, n: int = 2) -> list:
    """Runs of a line with a shared pool (and rework on the SimPy engine)."""
    plan = Plan.of(vssim.StreamSpec.from_dict(POOLS if engine == "fast" else REWORK))
    return [engine_records(engine, plan, horizon=600.0, warmup=40.0, seed=5, replication=r) for r in range(n)]


ITEM_FIELDS = ("item_type", "item_priority", "item_size", "item_value", "arrival", "commit", "done", "touch",
               "rework_count", "arrival_seq", "commit_seq", "done_seq")


@pytest.mark.parametrize("engine", ["fast", "simpy"])
def test_items_out_of_arrival_order_are_summed_in_item_order(engine):
    """Every engine numbers items in arrival order; records in another order still get the
    numpy expressions' numbers (the batches' items are gathered, in item order)."""
    rng = np.random.default_rng(3)
    recs = []
    for rec in _runs(engine):
        order = rng.permutation(rec.n_items)
        recs.append(dataclasses.replace(rec, **{k: getattr(rec, k)[order] for k in ITEM_FIELDS}))
    assert_same_summary(recs[:1])
    assert_same_summary(recs)
    assert_same_summary(recs[:1], steady_state=False)


@pytest.mark.parametrize("engine", ["fast", "simpy"])
@pytest.mark.parametrize("end", [300.0, 40.0, 25.0])
def test_items_arriving_after_the_end_and_a_window_before_the_warmup(engine, end):
    """A window that ends before the last arrivals (done items that arrived at or after its end
    are pooled but are not the window's), on it (no span) or before the warmup (no batch means)."""
    recs = [dataclasses.replace(rec, end=end) for rec in _runs(engine)]
    assert_same_summary(recs[:1])
    assert_same_summary(recs)
    for rec in recs:
        for interval in (end / 7, 30.0):
            assert predictability(rec, interval) == oracle.predictability(rec, interval)


def test_an_item_arriving_at_the_end_and_done_there():
    """Zero work at the last instant: the item is pooled, not in the window [warmup, end)."""
    rec = _runs("fast", 1)[0]
    k = int(np.flatnonzero(~np.isnan(rec.done))[-1])
    end = float(rec.done[k])
    arrival, commit = rec.arrival.copy(), rec.commit.copy()
    arrival[k] = commit[k] = end
    rec = dataclasses.replace(rec, end=end, arrival=arrival, commit=commit)
    assert_same_summary([rec])
    assert_same_summary([rec, dataclasses.replace(rec, replication=1)])


def test_a_window_that_is_not_finite_is_refused():
    rec = _runs("fast", 1)[0]
    with pytest.raises(ValueError, match=r"window \[warmup, end\] = \[40.0, inf\] is not finite"):
        summarize([dataclasses.replace(rec, end=math.inf)])
