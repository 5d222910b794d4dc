"""Time-varying arrivals (vssim/model/profile.py, docs/model.md "Time-varying arrivals", docs/validation.md).

(a) counts per hour-of-week bin over a long run against R·w·d·(bin length): Pearson chi-square, α = 0.01,
    with its power against the profile shifted by one hour computed from the noncentral chi-square;
(b) the map H⁻¹ on small cases worked by hand (piecewise linear, with origin, with a trend, with a
    trend that stops the arrivals);
(c) a flat profile gives the arrival times of no profile, bit for bit;
(d) M_t/M/1: the time-average number in system per hour of the day against the periodic solution of
    the truncated CTMC's forward equations;
(e) hypothesis: H⁻¹ increasing and H(H⁻¹(u)) = u; the count over [0, T] has mean Λ(T);
and `arrivals.limit`: the first N arrivals, then the run lasts until they are done; the fast engine's
records equal the SimPy engine's on the same random numbers, with a profile and with a limit.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg, stats
from test_maxplus import assert_same_records, line

import vssim
from vssim.engines.maxplus import why_not
from vssim.engines.registry import run_records
from vssim.errors import SpecError
from vssim.model.plan import Plan
from vssim.model.profile import HOURS_PER_UNIT, Profile, Warp, cumulative, hour_of_week, inverse, relative_rate
from vssim.model.spec import StreamSpec

HALF = [1.0] * 12 + [3.0] * 12           # normalised: 0.5 for hours 0-11, 1.5 for hours 12-23


def stream(arrivals: dict, time_unit: str = "hour", people: int = 1, mean: float = 1.0) -> dict:
    return {"name": "s", "time_unit": time_unit, "arrivals": arrivals, "pools": {"dev": people},
            "steps": {"work": {"pool": "dev", "work": {"dist": "exponential", "mean": mean}}}}


def arrivals_of(d: dict, **sim) -> np.ndarray:
    r = vssim.simulate(StreamSpec.from_dict(d), progress=False, **sim)
    items = r.items
    return items.loc[items["replication"] == 0, "arrival"].to_numpy()


# --------------------------------------------------------------------------- (b) the map by hand
def test_inverse_by_hand_piecewise():
    """Daily shape 1 (hours 0-11), 3 (12-23), normalised to 0.5 and 1.5: H(t) = 0.5 t up to 12 (H = 6),
    then 6 + 1.5 (t - 12) up to 24 (H = 24), then the same each day."""
    p = Profile.of(daily=HALF)
    assert p.daily[0] == 0.5 and p.daily[12] == 1.5
    u = [0.0, 3.0, 6.0, 9.0, 24.0, 27.0, 24.0 * 7 + 9.0]
    want = [0.0, 6.0, 12.0, 14.0, 24.0, 30.0, 24.0 * 7 + 14.0]
    assert inverse(u, p, 1.0).tolist() == want
    assert [cumulative(t, p, 1.0) for t in want] == u
    # time 0 at noon (origin 12 h): the first 12 hours run at 1.5
    assert inverse([3.0, 18.0, 21.0], p, 1.0, origin_hour_of_week=12.0).tolist() == [2.0, 12.0 + 0.0, 18.0]
    # in minutes: the same day, 60 units per hour
    assert inverse([180.0, 540.0], p, HOURS_PER_UNIT["minute"]).tolist() == [360.0, 840.0]
    # in days: one unit is 24 bins; H(0.5 day) = 0.25
    assert inverse([0.25, 0.625], p, HOURS_PER_UNIT["day"]).tolist() == [0.5, 0.75]


def test_inverse_by_hand_trend():
    """A flat shape with trend g: H(t) = t + g t² / 2; g = 0.01: H(10) = 10.5, H(20) = 22. g = -0.1: the rate
    is 0 from t = 10 on, H(5) = 3.75, H(10) = 5 and no time reaches H = 5 + anything."""
    up = Profile.of(trend=0.01)
    assert inverse([10.5, 22.0], up, 1.0) == pytest.approx([10.0, 20.0], rel=1e-14)
    assert cumulative(10.0, up, 1.0) == pytest.approx(10.5, rel=1e-14)
    down = Profile.of(trend=-0.1)
    got = inverse([3.75, 5.0 - 1e-9, 5.0 + 1e-9, 50.0], down, 1.0)
    assert got[0] == pytest.approx(5.0, rel=1e-14)
    assert got[1] == pytest.approx(10.0 - math.sqrt(2e-8), rel=1e-9)      # H(10) - H(t) = 0.05 (10 - t)²
    assert got[2] == math.inf and got[3] == math.inf
    assert cumulative(100.0, down, 1.0) == pytest.approx(5.0, rel=1e-14)
    assert relative_rate([0.0, 5.0, 12.0], down, 1.0).tolist() == pytest.approx([1.0, 0.5, 0.0])


def test_long_horizons_cross_whole_weeks_exactly():
    """Far from 0 the cursor crosses whole weeks in closed form (`Warp.jump`): the same values as the hand
    formulas, at once. Half-day shape: H(24·10⁷ + 14) = 24·10⁷ + 9; flat with g = 10⁻⁶ per hour:
    H(10⁸) = 10⁸ + g·10¹⁶ / 2 = 5.1·10⁹; a profile with a falling trend: H stops growing at -1/g."""
    p = Profile.of(daily=HALF)
    assert cumulative(24e7 + 14.0, p, 1.0) == pytest.approx(24e7 + 9.0, rel=1e-15)
    assert inverse([24e7 + 9.0], p, 1.0)[0] == pytest.approx(24e7 + 14.0, rel=1e-15)
    up = Profile.of(trend=1e-6)
    assert cumulative(1e8, up, 1.0) == pytest.approx(5.1e9, rel=1e-12)
    assert inverse([5.1e9], up, 1.0)[0] == pytest.approx(1e8, rel=1e-12)
    down = Profile.of(weekly=WEEKLY, daily=DAILY, trend=-1e-7)
    end = cumulative(1e7, down, 1.0)
    assert cumulative(2e7, down, 1.0) == end and end == pytest.approx(0.5e7, rel=1e-3)
    assert inverse([0.25e7, 2 * end], down, 1.0)[1] == math.inf
    assert relative_rate(inverse([0.25e7], down, 1.0), down, 1.0)[0] > 0    # lands on an open bin


def test_hour_of_week_and_shape():
    p = Profile.of(weekly=[2, 1, 1, 1, 1, 1, 0], daily=HALF)
    assert sum(p.weekly) == pytest.approx(7.0) and sum(p.daily) == pytest.approx(24.0)
    assert p.hour_shape().mean() == pytest.approx(1.0)
    assert hour_of_week([0.0, 1.5, 7.0], 24.0, 6.0).tolist() == [6.0, 42.0, 6.0]
    # Sunday (the weekly 0) has no arrivals: H is flat over it
    assert cumulative(168.0, p, 1.0) == pytest.approx(cumulative(144.0, p, 1.0)) == pytest.approx(168.0)


# --------------------------------------------------------------------------- (c) flat = no profile
def test_flat_profile_gives_the_same_arrivals_bit_for_bit():
    """A flat profile (any constant shapes, no trend) is the identity map: vssim reads it as no profile, so
    the stream draws exactly as without one (the warp itself would agree only to rounding: H⁻¹ sums per-hour
    increments, not bit for bit the flat clock)."""
    base = stream({"process": "poisson", "rate": 0.7})
    flat = copy.deepcopy(base)
    flat["arrivals"]["profile"] = {"weekly": [3] * 7, "daily": [1] * 24, "trend": 0}
    assert StreamSpec.from_dict(flat).arrivals.profile is None
    a, b = arrivals_of(base, horizon=500, seed=4), arrivals_of(flat, horizon=500, seed=4)
    assert len(a) > 300 and np.array_equal(a, b)
    u = np.cumsum(np.random.default_rng(1).exponential(1.0, 1000))
    assert np.allclose(inverse(u, Profile(), 1.0), u, rtol=1e-12, atol=0)


def test_profiled_arrivals_are_the_flat_ones_mapped():
    """Common random numbers: the k-th profiled arrival is H⁻¹ of the k-th flat one (the same gaps)."""
    base = stream({"process": "poisson", "rate": 0.7}, people=3)
    prof = copy.deepcopy(base)
    prof["arrivals"]["profile"] = {"daily": HALF, "weekly": [1, 1, 1, 1, 1, 0.5, 0.5], "trend": 0.001}
    flat, warped = arrivals_of(base, horizon=8000, seed=9), arrivals_of(prof, horizon=2000, seed=9)
    p = StreamSpec.from_dict(prof).arrivals.profile
    want = inverse(flat, p, 1.0)
    n = len(warped)
    assert n > 500 and np.allclose(warped, want[:n], rtol=1e-12, atol=1e-9)
    assert want[n] > 2000 - 1e-9                      # the next one falls beyond the horizon


# --------------------------------------------------------------------------- (a) chi-square per bin
WEEKLY = [1.2, 1.1, 1.0, 1.0, 0.9, 0.5, 0.3]
DAILY = [0.2] * 7 + [0.6, 1.2, 1.8, 1.8, 1.5, 1.0, 1.6, 1.8, 1.6, 1.2, 0.8, 0.5, 0.4, 0.3] + [0.2] * 3
ALPHA = 0.01


def test_counts_per_hour_of_week_chi_square():
    """Counts per hour-of-week bin over 40 weeks against R·w·d·40 (each bin one hour a week): Pearson's
    statistic on 168 independent Poisson counts, χ²(168) under the null, refused at α = 0.01. Its power
    against the same profile one hour late (a time zone off by one), from the noncentral χ², is printed
    and asserted above 0.99, so the test can see the error it is there for."""
    rate, weeks = 2.0, 40
    d = stream({"process": "poisson", "rate": rate, "profile": {"weekly": WEEKLY, "daily": DAILY}}, people=50,
               mean=0.05)
    t = arrivals_of(d, horizon=168.0 * weeks, seed=2)
    observed = np.bincount(np.floor(t).astype(np.int64) % 168, minlength=168)
    shape = StreamSpec.from_dict(d).arrivals.profile.hour_shape()
    expected = rate * shape * weeks
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    critical = stats.chi2.ppf(1 - ALPHA, 168)
    shifted = rate * np.roll(shape, 1) * weeks
    power = stats.ncx2.sf(critical, 168, float(((shifted - expected) ** 2 / expected).sum()))
    print(f"arrivals {len(t)}, chi2 {chi2:.1f}, critical {critical:.1f} (alpha {ALPHA}), power vs 1 h shift "
          f"{power:.4f}")
    assert abs(len(t) - rate * 168 * weeks) < 4 * math.sqrt(rate * 168 * weeks)
    assert chi2 < critical
    assert power > 0.99


# --------------------------------------------------------------------------- (d) M_t/M/1 against the CTMC
MU, RATE = 1.0, 0.6
DAY_SHAPE = [1.0 + 0.8 * math.sin(2 * math.pi * (h + 0.5) / 24) for h in range(24)]


def mt_m1_hourly_mean(cap: int = 80, sub: int = 40, days: int = 40) -> np.ndarray:
    """The periodic steady state of M_t/M/1 (rate RATE·d[h] in hour h, service MU) truncated at `cap`: the
    forward equations p' = pQ solved exactly per sub-step (expm), `days` days from empty (the start-up
    decays like the relaxation time, hours here), then the time-average of E[N] over each hour of the last
    day by the trapezoid rule on `sub` sub-steps."""
    shape = np.asarray(DAY_SHAPE) / np.mean(DAY_SHAPE)
    n = np.arange(cap + 1)
    steps = []
    for h in range(24):
        lam = RATE * shape[h]
        q = np.zeros((cap + 1, cap + 1))
        q[n[:-1], n[:-1] + 1] = lam
        q[n[1:], n[1:] - 1] = MU
        q[n, n] = -q.sum(axis=1)
        steps.append(linalg.expm(q / sub))
    p = np.zeros(cap + 1)
    p[0] = 1.0
    out = np.zeros(24)
    for day in range(days):
        for h in range(24):
            means = [p @ n]
            for _ in range(sub):
                p = p @ steps[h]
                means.append(p @ n)
            if day == days - 1:
                m = np.asarray(means)
                out[h] = (m[0] / 2 + m[1:-1].sum() + m[-1] / 2) / sub
    assert p[-10:].sum() < 1e-12          # the truncation holds no mass
    return out


def area_per_hour(arrival: np.ndarray, done: np.ndarray, end: float) -> np.ndarray:
    """∫ N(t) dt over each hour [k, k + 1) of [0, end), N the items arrived and not done (exact: N is
    piecewise constant between events, its integral piecewise linear)."""
    done = np.where(np.isnan(done), end, done)
    times = np.concatenate([arrival, done])
    step = np.concatenate([np.ones(len(arrival)), -np.ones(len(done))])
    order = np.argsort(times, kind="stable")
    times, level = times[order], np.cumsum(step[order])
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])
    grid = np.arange(0.0, end + 1.0)
    cumulative_area = np.interp(grid, np.concatenate([[0.0], times]), np.concatenate([[0.0], area]))
    return np.diff(cumulative_area)


def test_mt_m1_against_the_forward_equations():
    """A daily profile ±80 % around 0.6 per hour, one server of rate 1 (ρ from 0.12 to 1.08 over the day): the
    mean number in system in each hour of the day (over 2400 days after 20 days' warm-up, 20 batches of 120
    days) within its batch-means CI of the CTMC's periodic solution (Bonferroni over the 24 hours, family
    level 1 %); the daily mean agrees with the CTMC's and the flat M/M/1's ρ/(1 - ρ) = 1.5 lies more than
    two 99 % half-widths outside its CI (peaks queue more than troughs drain)."""
    theory = mt_m1_hourly_mean()
    warm, days, batches = 20, 2400, 20
    d = stream({"process": "poisson", "rate": RATE, "profile": {"daily": DAY_SHAPE}}, mean=1.0 / MU)
    r = vssim.simulate(StreamSpec.from_dict(d), horizon=24.0 * (warm + days), seed=5, progress=False)
    items = r.items
    per_hour = area_per_hour(items["arrival"].to_numpy(), items["done"].to_numpy(), 24.0 * (warm + days))
    per_day = per_hour.reshape(warm + days, 24)[warm:]
    batch = per_day.reshape(batches, days // batches, 24).mean(axis=1)
    mean, se = batch.mean(axis=0), batch.std(axis=0, ddof=1) / math.sqrt(batches)
    t = stats.t.ppf(1 - 0.01 / 2 / 24, batches - 1)
    print("hour theory sim half-width")
    for h in range(24):
        print(f"{h:2d} {theory[h]:.3f} {mean[h]:.3f} {t * se[h]:.3f}")
    assert np.all(np.abs(mean - theory) <= t * se)
    daily = batch.mean(axis=1)
    d_mean, d_se = daily.mean(), daily.std(ddof=1) / math.sqrt(batches)
    print(f"daily mean {d_mean:.3f} ± {d_se:.3f}, CTMC {theory.mean():.3f}, flat M/M/1 1.5")
    half = stats.t.ppf(0.995, batches - 1) * d_se
    assert abs(d_mean - theory.mean()) <= half
    assert d_mean - 1.5 > 2 * half


# --------------------------------------------------------------------------- (e) invariants
profiles = st.builds(
    lambda w, d, g: Profile.of(w, d, g),
    st.lists(st.floats(0.0, 5.0), min_size=7, max_size=7).filter(any),
    st.lists(st.floats(0.0, 5.0), min_size=24, max_size=24).filter(any),
    st.sampled_from([0.0, 0.0, 0.002, -0.001, 0.05]))


@settings(max_examples=60, deadline=None)
@given(profiles, st.sampled_from(list(HOURS_PER_UNIT.values())), st.floats(0.0, 167.9),
       st.lists(st.floats(0.0, 300.0), min_size=1, max_size=40))
def test_inverse_increasing_and_a_right_inverse(p, k, origin, us):
    """H⁻¹ never decreases, lands where H equals u (or inf past a falling trend's end), on a bin with rate > 0."""
    us = sorted(us)
    t = inverse(us, p, k, origin)
    assert np.all(np.diff(t[np.isfinite(t)]) >= 0) and np.all(np.isfinite(t[: int(np.isfinite(t).sum())]))
    for u, x in zip(us, t, strict=True):
        if math.isfinite(x):
            assert cumulative(x, p, k, origin) == pytest.approx(u, rel=1e-9, abs=1e-9)
        else:
            assert p.trend < 0 and cumulative(-1.0 / p.trend, p, k, origin) < u + 1e-9


@settings(max_examples=15, deadline=None)
@given(profiles, st.floats(0.0, 167.9), st.integers(0, 2**32 - 1))
def test_count_over_horizon_has_mean_lambda(p, origin, seed):
    """Unit-rate points mapped through H⁻¹: the count in [0, T] is Poisson with mean H(T) (R = 1); over 400
    independent copies its mean is within 4.5 standard errors of H(T)."""
    horizon, copies = 60.0, 400
    mean = cumulative(horizon, p, 1.0, origin)
    rng = np.random.default_rng(seed)
    counts = []
    for _ in range(copies):
        u = np.cumsum(rng.exponential(1.0, int(mean + 10 * math.sqrt(mean + 1) + 20)))
        w = Warp(p, 1.0, origin)
        counts.append(sum(1 for x in u if w(float(x)) <= horizon))
    assert abs(np.mean(counts) - mean) <= 4.5 * math.sqrt(max(mean, 1e-9) / copies) + 1e-12


# --------------------------------------------------------------------------- limit: N
@pytest.mark.parametrize("arrivals", [{"process": "poisson", "rate": 0.8},
                                      {"process": "renewal", "interarrival": {"dist": "gamma", "mean": 1.2, "cv": 0.5}},
                                      {"process": "deterministic", "interval": 1.5},
                                      {"process": "poisson", "rate": 0.8, "profile": {"daily": HALF}}])
def test_limit_first_n_arrivals(arrivals):
    """With `limit: N` exactly N items arrive, the arrival times are the unlimited run's first N on the same
    seed, and with no horizon the run lasts until every one is done."""
    n = 37
    base = stream(arrivals, people=2)
    limited = copy.deepcopy(base)
    limited["arrivals"]["limit"] = n
    spec = StreamSpec.from_dict(limited)
    assert spec.arrivals.finite and spec.arrivals.limit == n
    r = vssim.simulate(spec, horizon=None, seed=11, progress=False)
    items = r.items
    assert len(items) == n and items["done"].notna().all()
    assert np.array_equal(items["arrival"].to_numpy(), arrivals_of(base, horizon=400, seed=11)[:n])
    assert r.summary["stable"] is None


def test_limit_with_a_horizon_and_a_falling_trend():
    """A horizon shorter than the N arrivals cuts them; a falling trend that stops the arrivals before N
    ends them early, and the run still finishes."""
    d = stream({"process": "poisson", "rate": 1.0, "limit": 1000})
    assert len(arrivals_of(d, horizon=50, seed=1)) < 100
    d["arrivals"]["profile"] = {"trend": -0.05}              # H(∞) = 10: about 10 arrivals, then none
    r = vssim.simulate(StreamSpec.from_dict(d), horizon=None, seed=1, progress=False)
    assert 0 < len(r.items) < 40 and r.items["arrival"].max() < 20 and r.items["done"].notna().all()


# --------------------------------------------------------------------------- the fast engine
DAILY_PEAKS = {"daily": HALF, "weekly": [1, 1, 1, 1, 1, 0.2, 0.1]}


@pytest.mark.parametrize("people, arrivals, extra, horizon", [
    ((1, 1, 1), {"profile": DAILY_PEAKS}, {}, 3000.0),
    ((2, 1, 3), {"profile": {**DAILY_PEAKS, "trend": 0.0002}}, {}, 3000.0),
    ((1, 1, 1), {"profile": {"daily": HALF, "trend": -0.0005}}, {}, 3000.0),       # the arrivals stop at 2000
    ((1, 1, 1), {"profile": DAILY_PEAKS}, {"release": {"policy": "conwip", "conwip": 3}}, 2000.0),
    ((1, 1), {"limit": 300}, {}, None),
    ((2, 1), {"limit": 300, "profile": DAILY_PEAKS}, {}, None),
    ((1, 1), {"limit": 300}, {}, 150.0),
    ((1, 2), {"process": "renewal", "interarrival": {"dist": "gamma", "mean": 1.3, "cv": 0.5}, "limit": 200}, {},
     None),
    ((1, 1), {"process": "deterministic", "interval": 1.25, "limit": 200}, {}, None),
], ids=str)
def test_fast_engine_equals_simpy(people, arrivals, extra, horizon):
    """The fast engine maps the same flat arrivals through the same H⁻¹ (and stops at the same N): every
    item's and visit's times equal the SimPy engine's, as tests/test_maxplus.py checks for flat streams."""
    d = line(people, rate=0.8 * min(people), **extra)
    d["time_unit"] = "hour"
    d["arrivals"] = {**({"process": "poisson", "rate": d["arrivals"]["rate"]} if "process" not in arrivals else {}),
                     **arrivals}
    plan = Plan.of(StreamSpec.from_dict(d))
    assert why_not(plan.spec) is None
    a = run_records("simpy", plan, horizon=horizon, warmup=0.0, seed=6, replication=1)
    b = run_records("fast", plan, horizon, 0.0, 6, 1)
    assert a.n_items > 100
    if "limit" in arrivals and horizon is None:
        assert a.n_items == arrivals["limit"]
    assert_same_records(a, b)


# --------------------------------------------------------------------------- what is refused, and said
@pytest.mark.parametrize("change, path", [
    ({"time_unit": "sprint"}, "time_unit"),
    ({"profile": {"weekly": [1] * 6}}, "arrivals.profile.weekly"),
    ({"profile": {"daily": [0] * 24}}, "arrivals.profile.daily"),
    ({"profile": {"daily": [1] * 23 + [-1]}}, "arrivals.profile.daily[23]"),
    ({"profile": {"trend": 2}}, "arrivals.profile.trend"),
    ({"profile": {"monthly": [1]}}, "arrivals.profile.monthly"),
    ({"limit": 0}, "arrivals.limit"),
])
def test_refused_in_one_line(change, path):
    d = stream({"process": "poisson", "rate": 1.0, "profile": {"daily": HALF}})
    if "time_unit" in change:
        d["time_unit"] = change["time_unit"]
    else:
        d["arrivals"].update(change)
    with pytest.raises(SpecError) as e:
        StreamSpec.from_dict(d)
    assert e.value.path == path and "\n" not in str(e.value)


def test_profile_and_limit_only_where_they_apply():
    with pytest.raises(SpecError, match="arrivals.profile"):
        StreamSpec.from_dict(stream({"process": "renewal", "interarrival": 1.0, "profile": {"daily": HALF}}))
    with pytest.raises(SpecError, match="arrivals.limit"):
        StreamSpec.from_dict(stream({"process": "backlog", "count": 3, "limit": 2}))
    spec = StreamSpec.from_dict(stream({"process": "poisson", "rate": 1.0, "profile": {"daily": HALF}}))
    assert why_not(spec) is None and "arrivals.profile" in why_not(spec, streaming=True)
    with pytest.raises(SpecError, match="sim.stats"):
        vssim.simulate(StreamSpec.from_dict(stream({"process": "poisson", "rate": 1.0, "limit": 5})), horizon=10,
                       stats="streaming", progress=False)


def test_stability_uses_the_mean_rate_and_tells_the_trend():
    """The offered load is at the mean rate R (a profile has mean 1); the reason says the peak and, with a
    trend, when the load reaches 1."""
    d = stream({"process": "poisson", "rate": 0.5, "profile": {"daily": HALF, "trend": 0.001}})
    spec = StreamSpec.from_dict(d)
    assert spec.offered_load()["dev"] == pytest.approx(0.5)
    r = vssim.simulate(spec, horizon=500, replications=2, seed=1, progress=False)
    reason = r.summary["stability"]["reason"]
    assert "busiest hour has 1.5 x" in reason and "reaches 1 at t = 1e+03 hour" in reason


@pytest.mark.parametrize("limit, horizon", [(None, 1000.0), (200, None)])
def test_a_transition_keeps_the_profiled_arrivals(limit, horizon):
    """A transition to the same organisation at T rebuilds the random sources: the flat clock, the warp's
    cursor and the count towards `limit` carry over, so the records are the baseline's exactly."""
    d = stream({"process": "poisson", "rate": 0.5, "profile": {"daily": HALF, "trend": 0.0005}}, people=2, mean=1.5)
    if limit is not None:
        d["arrivals"]["limit"] = limit
    spec = StreamSpec.from_dict(d)
    a = vssim.simulate(spec, horizon=horizon, seed=2, progress=False).items
    b = vssim.simulate(spec, horizon=horizon, seed=2, progress=False, transition=vssim.Transition(100.0),
                       before=spec).items
    assert len(a) == len(b) > 150 and (limit is None or len(a) == limit)
    for column in ("arrival", "commit", "done"):
        assert np.array_equal(a[column].to_numpy(), b[column].to_numpy(), equal_nan=True), column


def test_the_profile_runs_on_the_epochs_local_hours():
    """With an epoch, hour 0 of the profile is the epoch start's local hour of the week: a daily shape
    that is zero except 10:00-11:00 puts every arrival at 10:xx local time (epoch: a Wednesday 09:30 in
    Amsterdam in winter, so the origin is 57.5 and no DST change falls in the run)."""
    from vssim.model.profile import origin_of

    daily = [0.0] * 24
    daily[10] = 1.0
    d = {"name": "epoch_profile", "time_unit": "hour",
         "epoch": {"start": "2024-01-10T09:30:00", "tz": "Europe/Amsterdam"},
         "arrivals": {"process": "poisson", "rate": 0.5, "profile": {"daily": daily}},
         "pools": {"p": 3}, "steps": {"s": {"pool": "p", "work": {"dist": "exponential", "mean": 0.5}}}}
    spec = vssim.StreamSpec.from_dict(d)
    assert origin_of(spec) == 57.5
    rec = vssim.simulate(spec, horizon=24 * 40, replications=1, seed=2, progress=False).records[0]
    local = spec.epoch.to_datetime(rec.arrival)
    assert len(rec.arrival) > 300
    assert set(local.hour) == {10}
