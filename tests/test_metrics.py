"""The summary's compiled passes (vssim/analysis/summary.py) against numpy, bit for bit.

`summarize` reads a replication in one pass over its items and one over its visits and does
numpy's arithmetic itself (pairwise sums, percentiles from order statistics, the t interval).
These tests hold it to the numpy expressions it replaces: the building blocks on random arrays,
and whole summaries (JSON text and steps frame) against a reference written with plain numpy,
on random runs of both engines.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fast import qualifying
from test_invariants import streams

import vssim
import vssim.scratch
from vssim.analysis import summary as metrics
from vssim.analysis.summary import (
    BAND,
    PERCENTILES,
    SCALARS,
    _batch_windows,
    _finite,
    _overlap,
    ci95,
    predictability,
    summarize,
    window_metrics,
)
from vssim.engines.registry import run_records as engine_records
from vssim.errors import DeadlockError
from vssim.model.plan import Plan


def bits(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).view(np.int64)


# --------------------------------------------------------------------------- building blocks
def test_pairwise_is_numpys_sum():
    """`_pairwise` adds as np.sum does (numpy's pairwise summation), zeros outside a range too."""
    pw = metrics._summary_kernels() and metrics._pairwise
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
        got = metrics._quantiles(x, PERCENTILES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = [*np.percentile(x, PERCENTILES), x.min(), x.max()]
        np.testing.assert_array_equal(bits(got), bits(want))
        np.testing.assert_array_equal(x, before)              # x is left as it was
        np.testing.assert_array_equal(bits(metrics._quantiles(x, (85,))[:1]), bits([np.percentile(x, 85)]))


def test_ci_rows_are_ci95():
    """`_ci95s` gives `ci95` of each row: the finite values' mean and t interval, the same floats."""
    rng = np.random.default_rng(2)
    for m in [0, 1, 2, 3, 8, 10, 11, 40]:
        rows = [list(rng.normal(5.0, 2.0, m)) for _ in range(6)]
        for row in rows[:3]:
            for i in rng.integers(0, max(m, 1), 2):
                if m:
                    row[i] = float(rng.choice([np.nan, np.inf, -np.inf]))
        got = metrics._ci95s(rows)
        for row, ci in zip(rows, got, strict=True):
            want = ci95(row)
            assert [None if x is None else bits(x) for x in ci] == [None if x is None else bits(x) for x in want]


# --------------------------------------------------------------------------- whole summaries
def reference_summary(records, *, planning_interval=None, steady_state=True) -> dict:
    """summarize written with plain numpy (and `window_metrics`): what the passes must equal."""
    times = {"lead_time": [], "flow_time": []}
    for rec in records:
        ok = (rec.arrival >= rec.warmup) & ~np.isnan(rec.done)
        times["lead_time"].append(rec.done[ok] - rec.arrival[ok])
        times["flow_time"].append(rec.done[ok] - rec.commit[ok])
    pooled = {k: np.concatenate(v) for k, v in times.items()}
    pct = {k: np.percentile(x, PERCENTILES) if len(x) else None for k, x in pooled.items()}
    per_rep = []
    for rec, lead in zip(records, times["lead_time"], strict=True):
        m = window_metrics(rec, rec.warmup, rec.end)
        interval = planning_interval or (rec.end - rec.warmup) / 10
        p = predictability(rec, interval)
        p85 = float(np.percentile(lead, 85)) if len(lead) else math.nan
        per_rep.append({"replication": rec.replication, "seed": rec.seed, **m, "lead_time_p85": p85,
                        "flow_predictability": p["mean"], "predictability_in_band": p["in_band"],
                        "planning_interval": interval})
    if len(records) >= 2:
        units = {k: [r[k] for r in per_rep] for k in SCALARS}
    elif not steady_state:
        units = {k: [] for k in SCALARS}
    else:
        batches = [window_metrics(records[0], lo, hi) for lo, hi in _batch_windows(records[0])]
        units = {k: [b[k] for b in batches] for k in SCALARS}
    out: dict = {}
    for key in SCALARS:
        values = [r[key] for r in per_rep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mean = _finite(float(np.nanmean(values))) if any(math.isfinite(x) for x in values) else None
        entry = {"mean": mean, "ci95": [_finite(x) if x is not None else None for x in ci95(units[key])]}
        if key in pooled:
            x = pooled[key]
            entry.update({"min": _finite(x.min()) if len(x) else None,
                          **{f"p{q}": _finite(pct[key][i]) if len(x) else None for i, q in enumerate(PERCENTILES)},
                          "max": _finite(x.max()) if len(x) else None, "count": int(len(x))})
        out[key] = entry
    out["backlog"] = {"mean": out["backlog"]["mean"], "ci95": out["backlog"]["ci95"]}
    counts = np.zeros(len(records[0].type_names))
    for rec in records:
        done_in = (rec.done >= rec.warmup) & (rec.done <= rec.end)
        counts += np.bincount(rec.item_type[done_in], minlength=len(counts))
    total = counts.sum()
    out["flow_distribution"] = {t: (float(c / total) if total else 0.0)
                                for t, c in zip(records[0].type_names, counts, strict=True)}
    fp = [r["flow_predictability"] for r in per_rep if math.isfinite(r["flow_predictability"])]
    band = [r["predictability_in_band"] for r in per_rep if math.isfinite(r["predictability_in_band"])]
    out["flow_predictability"] = {"mean": _finite(float(np.mean(fp))) if fp else None, "ci95": ci95(fp),
                                  "in_band": _finite(float(np.mean(band))) if band else None, "band": list(BAND),
                                  "planning_interval": per_rep[0]["planning_interval"]}
    for key in ("completed", "rejected", "unfinished"):
        out[key] = int(sum(r[key] for r in per_rep))
    residuals = [abs(r["wip"] - r["throughput"] * r["flow_time"]) / r["wip"] for r in per_rep
                 if r["wip"] > 0 and math.isfinite(r["flow_time"])]
    if residuals:
        out["littles_law_residual"] = max(residuals)
    frames = [pd.DataFrame(reference_steps(rec)) for rec in records]
    steps = pd.concat(frames, ignore_index=True)
    cols = ["utilization", "queue_length", "wip", "wait", "process_time", "blocked", "touch_time",
            "pct_complete_accurate", "throughput"]
    means = steps.groupby("step", sort=False)[cols].mean()
    step_summary = {name: {c: _finite(float(row[c])) for c in cols} for name, row in means.iterrows()}
    pools = [reference_pools(rec) for rec in records]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pool_summary = {p: {"utilization": _finite(float(np.nanmean([u[p] for u in pools])))}
                        for p in records[0].pool_names}
    reps = [{k: (_finite(v) if isinstance(v, float) else v) for k, v in r.items()} for r in per_rep]
    return {"metrics": out, "steps": step_summary, "pools": pool_summary, "replications": reps,
            "_steps_frame": steps}


def reference_steps(rec) -> dict:
    """`_step_columns` as np.bincount over the visits."""
    lo, hi = rec.warmup, rec.end
    span, n = hi - lo, len(rec.step_names)
    s = rec.visit_step
    fresh = rec.visit_enter >= lo

    def total(values, mask=None):
        mask = np.ones(len(s), dtype=bool) if mask is None else mask
        return np.bincount(s[mask], weights=values[mask], minlength=n)

    def mean(values, mask):
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.bincount(s[mask], minlength=n)
            return np.where(c > 0, total(values, mask) / np.maximum(c, 1), np.nan), c

    started = fresh & ~np.isnan(rec.visit_start)
    ended = fresh & ~np.isnan(rec.visit_end)
    left = fresh & ~np.isnan(rec.visit_leave)
    checked = (rec.visit_end >= lo) & (rec.visit_end <= hi)
    n_checked = np.bincount(s[checked], minlength=n)
    reworked = np.bincount(s[checked & rec.visit_reworked], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_span = (lambda x: x / span) if span > 0 else (lambda x: np.full(n, np.nan))
        return {
            "replication": rec.replication,
            "step": rec.step_names,
            "utilization": per_span(total(_overlap(rec.visit_start, rec.visit_end, lo, hi))) / rec.step_capacity,
            "queue_length": per_span(total(_overlap(rec.visit_ready, rec.visit_start, lo, hi))),
            "wip": per_span(total(_overlap(rec.visit_enter, rec.visit_leave, lo, hi))),
            "wait": mean(rec.visit_start - rec.visit_enter, started)[0],
            "process_time": mean(rec.visit_end - rec.visit_start, ended)[0],
            "blocked": mean(rec.visit_leave - rec.visit_end, left)[0],
            "touch_time": mean(rec.visit_work, ended)[0],
            "pct_complete_accurate": np.where(n_checked > 0, 1.0 - reworked / np.maximum(n_checked, 1), np.nan),
            "throughput": per_span(n_checked.astype(float)),
            "visits": n_checked.astype(np.int64),
        }


def reference_pools(rec) -> dict:
    lo, hi = rec.warmup, rec.end
    span = hi - lo
    busy = _overlap(rec.visit_start, rec.visit_end, lo, hi)
    pool = np.where(rec.visit_person >= 0, rec.person_pool[np.maximum(rec.visit_person, 0)], -1)
    sizes = np.bincount(rec.person_pool, minlength=len(rec.pool_names))
    return {name: float(busy[pool == p].sum() / (sizes[p] * span)) if span > 0 and sizes[p] else math.nan
            for p, name in enumerate(rec.pool_names)}


def assert_same_summary(records, **kw) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = reference_summary(records, **kw)
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
    """Runs too large for the kept scratch blocks take fresh memory and the two-pass visit
    totals (`_visit_pass`): the same summary."""
    monkeypatch.setattr(vssim.scratch, "KEEP", 0)
    d = {"name": "pools", "arrivals": {"process": "poisson", "rate": 0.7},
         "pools": {"a": 2, "b": 1}, "steps": {"one": {"pool": "a", "work": {"dist": "exponential", "mean": 1.0}},
                                             "two": {"pool": "b", "work": {"dist": "gamma", "mean": 1.0, "cv": 0.5}}}}
    plan = Plan.of(vssim.StreamSpec.from_dict(d))
    for engine in ("fast", "simpy"):
        recs = [engine_records(engine, plan, horizon=800.0, warmup=50.0, seed=2, replication=r) for r in range(2)]
        assert_same_summary(recs[:1])
        assert_same_summary(recs)
