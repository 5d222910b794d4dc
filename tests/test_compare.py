"""Scenario comparison with common random numbers (vssim/analysis/compare.py, docs/analysis.md).

The statistics are checked against scipy on known data; the end-to-end test shows on real
simulations what common random numbers buy: paired intervals narrower than independent ones.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

import vssim
from vssim.analysis.compare import METRICS, Comparison, compare, replication_values

BASE = np.array([10.0, 12.5, 9.0, 14.0, 11.0, 13.5])
NOISE = np.array([1.1, 0.7, 1.3, 0.6, 1.2, 0.9])


def summary(values: dict[str, np.ndarray] | np.ndarray, seed: int = 1, time_unit: str = "day") -> dict:
    """A summary dict with the given per-replication values (one array for every metric, or per metric)."""
    if not isinstance(values, dict):
        values = {m: values for m in METRICS}
    n = len(next(iter(values.values())))
    reps = [{"replication": r, "seed": seed, **{m: float(v[r]) for m, v in values.items()}} for r in range(n)]
    return {"time_unit": time_unit, "sim": {"seed": seed, "replications": n}, "replications": reps}


def row(c: Comparison, scenario: str, metric: str = "lead_time") -> dict:
    t = c.table
    return t[(t["scenario"] == scenario) & (t["metric"] == metric)].iloc[0].to_dict()


# --------------------------------------------------------------------------- statistics vs scipy
def test_paired_interval_matches_scipy_ttest_rel():
    x = BASE + NOISE
    r = row(compare({"baseline": summary(BASE), "s": summary(x)}), "s")
    ci = stats.ttest_rel(x, BASE).confidence_interval(0.95)
    assert r["diff"] == pytest.approx(float(np.mean(x - BASE)), rel=1e-12)
    assert r["diff_lo"] == pytest.approx(ci.low, rel=1e-10)
    assert r["diff_hi"] == pytest.approx(ci.high, rel=1e-10)
    # the same by hand with scipy.stats.t
    d = x - BASE
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    assert r["diff_hi"] - r["diff_lo"] == pytest.approx(2 * half, rel=1e-10)
    assert r["replications"] == 6


def test_welch_interval_matches_scipy_ttest_ind():
    x = BASE + NOISE
    r = row(compare({"baseline": summary(BASE), "s": summary(x)}), "s")
    ci = stats.ttest_ind(x, BASE, equal_var=False).confidence_interval(0.95)
    assert r["indep_lo"] == pytest.approx(ci.low, rel=1e-10)
    assert r["indep_hi"] == pytest.approx(ci.high, rel=1e-10)


def test_welch_with_unequal_variances_matches_scipy():
    rng = np.random.default_rng(5)
    b = rng.normal(10, 1, 8)
    x = rng.normal(12, 4, 8)
    r = row(compare({"baseline": summary(b), "s": summary(x)}), "s")
    ci = stats.ttest_ind(x, b, equal_var=False).confidence_interval(0.95)
    assert (r["indep_lo"], r["indep_hi"]) == pytest.approx((ci.low, ci.high), rel=1e-10)
    ci = stats.ttest_rel(x, b).confidence_interval(0.95)
    assert (r["diff_lo"], r["diff_hi"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_own_interval_is_the_t_interval_of_the_replications():
    x = BASE + NOISE
    r = row(compare({"baseline": summary(BASE), "s": summary(x)}), "s")
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert r["mean"] == pytest.approx(x.mean())
    assert (r["ci_lo"], r["ci_hi"]) == pytest.approx((lo, hi), rel=1e-10)
    assert r["baseline_mean"] == pytest.approx(BASE.mean())


def test_variance_reduction_on_constructed_data():
    """Shared noise cancels in the pairs: the reduction is (Welch half-width / paired half-width)²."""
    x = BASE + NOISE
    r = row(compare({"baseline": summary(BASE), "s": summary(x)}), "s")
    paired = stats.ttest_rel(x, BASE).confidence_interval(0.95)
    indep = stats.ttest_ind(x, BASE, equal_var=False).confidence_interval(0.95)
    want = ((indep.high - indep.low) / (paired.high - paired.low)) ** 2
    assert r["variance_reduction"] == pytest.approx(want, rel=1e-10)
    assert r["variance_reduction"] > 20          # the pairs share almost all of their spread
    # independent noise: no reduction to speak of (pairs of unrelated values)
    rng = np.random.default_rng(0)
    b, y = rng.normal(10, 2, 12), rng.normal(10, 2, 12)
    r = row(compare({"baseline": summary(b), "s": summary(y)}), "s")
    assert 0.3 < r["variance_reduction"] < 3
    # anti-correlated pairs make pairing worse than independence
    r = row(compare({"baseline": summary(BASE), "s": summary(30 - BASE)}), "s")
    assert r["variance_reduction"] < 1


def test_significance_and_pct_change():
    x = BASE + NOISE                       # every pair up by about one: significant
    c = compare({"baseline": summary(BASE), "up": summary(x), "same": summary(BASE + NOISE - NOISE.mean())})
    up = row(c, "up")
    assert up["significant"] and up["diff_lo"] > 0
    assert up["pct_change"] == pytest.approx(100 * NOISE.mean() / BASE.mean())
    assert up["better"] is False           # lead time went up: worse
    assert row(c, "up", "throughput")["better"] is True   # the same numbers as throughput: better
    same = row(c, "same")
    assert not same["significant"] and same["diff_lo"] < 0 < same["diff_hi"]
    assert same["better"] is None
    assert same["diff"] == pytest.approx(0.0, abs=1e-12)


def test_baseline_rows_are_exact_zero():
    c = compare({"baseline": summary(BASE), "s": summary(BASE + NOISE)})
    b = row(c, "baseline")
    assert (b["diff"], b["diff_lo"], b["diff_hi"], b["pct_change"]) == (0.0, 0.0, 0.0, 0.0)
    assert (b["indep_lo"], b["indep_hi"]) == (0.0, 0.0)
    assert not b["significant"] and b["better"] is None
    assert math.isnan(b["variance_reduction"])
    assert list(c.table["scenario"].unique()) == ["baseline", "s"]
    assert len(c.table) == 2 * len(METRICS)


def test_missing_values_drop_their_pairs():
    x = BASE + NOISE
    fe_b, fe_x = BASE.copy() / 20, x.copy() / 20
    fe_x[2] = math.nan
    sb = summary(BASE)
    sx = summary(x)
    for k in range(6):
        sb["replications"][k]["flow_efficiency"] = float(fe_b[k])
        sx["replications"][k]["flow_efficiency"] = None if k == 2 else float(fe_x[k])
    r = row(compare({"baseline": sb, "s": sx}), "s", "flow_efficiency")
    keep = np.arange(6) != 2
    ci = stats.ttest_rel(fe_x[keep], fe_b[keep]).confidence_interval(0.95)
    assert r["replications"] == 5
    assert (r["diff_lo"], r["diff_hi"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_identical_pairs_give_unbounded_reduction_and_json_nulls():
    c = compare({"baseline": summary(BASE), "s": summary(BASE + 1.0)})
    r = row(c, "s")
    assert r["diff_lo"] == pytest.approx(1.0) and r["diff_hi"] == pytest.approx(1.0)
    assert r["significant"] and math.isinf(r["variance_reduction"])
    d = c.to_dict()
    text = json.dumps(d, allow_nan=False)    # strict JSON: no NaN, no Infinity
    assert '"variance_reduction": null' in text
    assert "unbounded" in c.markdown("day")


# --------------------------------------------------------------------------- refusals
def test_refuses_a_missing_baseline():
    with pytest.raises(ValueError, match="'baseline' is not one of the scenarios compared: a, b"):
        compare({"a": summary(BASE), "b": summary(BASE)})


def test_refuses_different_replication_counts():
    with pytest.raises(ValueError, match=r"sim\.replications: .*same number.*baseline 6, s 5"):
        compare({"baseline": summary(BASE), "s": summary(BASE[:5])})


def test_refuses_a_single_replication():
    with pytest.raises(ValueError, match=r"sim\.replications: at least 2 .*got 1"):
        compare({"baseline": summary(BASE[:1]), "s": summary(BASE[:1])})


def test_refuses_different_seeds():
    with pytest.raises(vssim.SpecError, match=r"sim\.seed: .*common random numbers.*baseline 1, s 2"):
        compare({"baseline": summary(BASE, seed=1), "s": summary(BASE, seed=2)})


def test_errors_are_one_line():
    for bad in ({"a": summary(BASE)}, {"baseline": summary(BASE), "s": summary(BASE, seed=3)}):
        with pytest.raises(vssim.SpecError) as e:
            compare(bad)
        assert "\n" not in str(e.value)


# --------------------------------------------------------------------------- outputs
def test_replication_values_from_a_summary():
    s = summary({m: BASE + k for k, m in enumerate(METRICS)})
    s["replications"].reverse()
    f = replication_values(s)
    assert list(f.columns) == ["replication", *METRICS]
    assert f["replication"].tolist() == list(range(6))
    assert f["wip"].tolist() == (BASE + METRICS.index("wip")).tolist()


def test_markdown_reads():
    c = compare({"baseline": summary(BASE), "faster": summary(BASE - NOISE)})
    md = c.markdown("week")
    assert "### Lead time, mean (weeks, arrival to done)" in md
    assert "Throughput (items per week)" in md
    assert "median variance reduction" in md
    assert "yes, better" in md                        # lead time down, significantly
    for metric_heading in ("85th percentile", "Flow time", "WIP", "Flow efficiency"):
        assert metric_heading in md
    r = row(c, "faster")
    assert f"{r['pct_change']:+.1f} %".replace("-", "−") in md or f"{r['pct_change']:+.1f} %" in md


# --------------------------------------------------------------------------- end to end
def expo(mean: float) -> dict:
    return {"dist": "exponential", "mean": mean}


def line(wip_limit: int | None) -> dict:
    return {"name": "line", "arrivals": {"process": "poisson", "rate": 0.6},
            "pools": {"a": 1, "b": 1, "c": 1},
            "steps": {s: {"pool": p, "work": expo(1.0), "wip_limit": wip_limit}
                      for s, p in (("s1", "a"), ("s2", "b"), ("s3", "c"))}}


def test_common_random_numbers_make_paired_intervals_narrower():
    """Two WIP limits, same seed, 6 replications: the pairs share their arrivals and work draws."""
    results = {name: vssim.simulate(vssim.StreamSpec.from_dict(line(w)), horizon=500, warmup=50,
                                    replications=6, seed=7, progress=False)
               for name, w in (("baseline", 6), ("limit_wip", 3))}
    c = compare(results)
    r = row(c, "limit_wip", "lead_time")
    assert r["variance_reduction"] > 1
    assert r["diff_hi"] - r["diff_lo"] < r["indep_hi"] - r["indep_lo"]
    assert c.median_variance_reduction > 1
    # the table agrees with each run's own summary
    for name, res in results.items():
        lt = res.summary["metrics"]["lead_time"]
        got = row(c, name, "lead_time")
        assert got["mean"] == pytest.approx(lt["mean"])
        assert (got["ci_lo"], got["ci_hi"]) == pytest.approx(tuple(lt["ci95"]))
    # and the paired difference is what scipy gives on the replication values
    x = replication_values(results["limit_wip"])["lead_time"].to_numpy()
    b = replication_values(results["baseline"])["lead_time"].to_numpy()
    ci = stats.ttest_rel(x, b).confidence_interval(0.95)
    assert (r["diff_lo"], r["diff_hi"]) == pytest.approx((ci.low, ci.high))
    json.dumps(c.to_dict(), allow_nan=False)
    assert c.time_unit == "day"
