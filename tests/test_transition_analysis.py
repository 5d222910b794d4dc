"""The transition report's analysis (vssim.analysis.transition), its figure and its section: exact
hand-made cases, identical records, independent seeds, an improvement checked against M/M/c theory,
the sensitivity grid."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_figures import check_png, check_readable

import vssim
from vssim.analysis import theory
from vssim.analysis import transition as tr
from vssim.errors import SpecError
from vssim.model.spec import CLASSES_OF_SERVICE
from vssim.records import Records
from vssim.report.figures.transition import _build_transition, transition_figure
from vssim.report.transition import transition_section


def rec(arrival, done, end: float, replication: int = 0, seed: int = 0, parent=None) -> Records:
    """Records of items only (no visits): what the transition analysis reads; `parent`: each item's parent
    row (-1 at the top), for a stream with teams."""
    arrival = np.asarray(arrival, dtype=float)
    n = len(arrival)
    family = {} if parent is None else {"item_parent": np.asarray(parent, dtype=np.int64),
                                        "item_level": (np.asarray(parent) >= 0).astype(np.int64),
                                        "level_names": ["feature", "story"], "team_names": ["", "web"]}
    z, e, ei = np.zeros(n), np.zeros(0), np.zeros(0, dtype=np.int64)
    seq = np.arange(n)
    return Records(replication=replication, seed=seed, warmup=0.0, end=end, step_names=["s"], type_names=["t"],
                   pool_names=["p"], person_pool=np.zeros(1, dtype=np.int64), step_capacity=np.ones(1, dtype=np.int64),
                   item_type=np.zeros(n, dtype=np.int64), item_priority=np.full(n, 2), item_size=z + 1,
                   item_value=z + 1, arrival=arrival, commit=arrival, done=np.asarray(done, dtype=float), touch=z,
                   rework_count=np.zeros(n, dtype=np.int64), visit_item=ei, visit_step=ei, visit_enter=e,
                   visit_ready=e, visit_start=e, visit_end=e, visit_leave=e, visit_person=ei, visit_work=e,
                   visit_reworked=np.zeros(0, dtype=bool), rejected_times=e, arrival_seq=seq, commit_seq=seq,
                   done_seq=seq, visit_start_seq=ei, visit_end_seq=ei, class_names=list(CLASSES_OF_SERVICE), **family)


QUEUE = {"name": "queue", "time_unit": "day", "arrivals": {"process": "poisson", "rate": 0.8}, "pools": {"devs": 1},
         "steps": {"build": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0}}}}
HORIZON, AT, REPS = 500.0, 100.0, 10


def runs(people: int, seed: int) -> list[Records]:
    spec = vssim.StreamSpec.from_dict({**QUEUE, "pools": {"devs": people}})
    return vssim.simulate(spec, horizon=HORIZON, replications=REPS, seed=seed, progress=False).records


@pytest.fixture(scope="module")
def base():
    return runs(1, seed=1)


@pytest.fixture(scope="module")
def improved():
    """The same arrivals and work draws (common random numbers), two developers instead of one."""
    return runs(2, seed=1)


@pytest.fixture(scope="module")
def other_seeds():
    return runs(1, seed=2)


# --------------------------------------------------------------------------- exact cases
def test_period_curves_read_known_lead_times_throughput_and_wip():
    # week 0: five items done at 6 with lead times 1..5 and two that arrive at 1 and 3 and are done at 13
    # (lead times 12 and 10) in week 1; one arrives at 10 and is never done; week 2 has no item done
    arrival = [5, 4, 3, 2, 1, 3, 1, 10]
    done = [6, 6, 6, 6, 6, 13, 13, np.nan]
    c = tr.period_curves(rec(arrival, done, end=21.0), period=7)
    np.testing.assert_array_equal(c.edges, [0, 7, 14, 21])
    p50, p85, tput, wip = c.values
    np.testing.assert_allclose(p50[:2], [3.0, 11.0])
    np.testing.assert_allclose(p85[:2], [1 + 0.85 * 4, 10 + 0.85 * 2])   # numpy's linear percentiles
    assert math.isnan(p50[2]) and math.isnan(p85[2])
    np.testing.assert_allclose(tput, [5 / 7, 2 / 7, 0.0])
    # time in the system per week: 15 + 4 + 6; 6 + 6 + 4; 7 (the item never done)
    np.testing.assert_allclose(wip, [25 / 7, 16 / 7, 1.0])


def test_periods_default_to_weeks_or_the_planning_interval():
    assert tr.default_period("day") == 7 and tr.default_period("days") == 7 and tr.default_period("week") == 1
    assert tr.default_period("hour", planning_interval=80) == 80
    with pytest.raises(SpecError, match=r"^period: needed for time_unit 'hour'"):
        tr.default_period("hour")
    assert tr.year_length("day") == 365 and tr.year_length("weeks") == 52 and tr.year_length("hour") is None


# baseline: a [0, 2), b [0, 8); transition: a [0, 5), b [0, 3). N_base - N_new is 0 on [0, 2), -1 on [2, 3),
# 0 on [3, 5), +1 on [5, 8), 0 after: S(t) from 1 is 0, 0, -1, -1, 0, 2, 2 at 1, 2, 3, 5, 6, 8, 10
BASE_SAVED = rec([0, 0], [2, 8], end=10)
NEW_SAVED = rec([0, 0], [5, 3], end=10)


def test_lead_time_saved_follows_the_wip_paths_and_breaks_even_when_it_stays_positive():
    saved, delivered = tr.cumulative_paths([BASE_SAVED], [NEW_SAVED], at=1.0, times=[1, 2, 3, 5, 6, 8, 10])
    np.testing.assert_allclose(saved[0], [0, 0, -1, -1, 0, 2, 2])
    np.testing.assert_allclose(delivered[0], [0, -1, 0, 1, 1, 0, 0])
    # by Little's law the saving at the end is the lead time saved: (2 + 8) - (5 + 3)
    assert saved[0, -1] == (2 + 8) - (5 + 3)
    be = tr.break_even([BASE_SAVED], [NEW_SAVED], at=1.0)
    assert be.measure == "lead_time_saved" and be.times == (5.0,)    # S crosses 0 at 6, 5 after the change
    assert be.reached == 1 and be.mean.mean == 5.0 and math.isnan(be.mean.lo)   # one replication: no interval


def test_a_stream_with_teams_is_read_in_the_items_that_arrived():
    # the children (parent >= 0) of the transition are done late: they change nothing, their parents count
    new = rec([0, 0, 0, 0], [5, 3, 9, 9.5], end=10, parent=[-1, -1, 0, 1])
    assert new.has_teams
    assert tr.break_even([BASE_SAVED], [new], at=1.0).times == (5.0,)
    saved, _ = tr.cumulative_paths([BASE_SAVED], [new], at=1.0, times=[10])
    assert saved[0, 0] == 2.0


def test_a_split_stream_is_read_in_whole_items():
    # split_items, two parts each: item 0's parts are done at 4 and 5 (whole: 5), item 1's at 2 and 3 (whole: 3),
    # the transition of the exact case above
    new = dataclasses.replace(rec([0, 0, 0, 0], [4, 5, 2, 3], end=10), parts=2)
    assert tr.break_even([BASE_SAVED], [new], at=1.0).times == (5.0,)
    np.testing.assert_array_equal(tr.period_curves(new, period=5).values[2], [0.2, 0.2])    # 1 item a period


def test_a_saving_that_falls_back_to_zero_never_breaks_even():
    # N_base - N_new: +1 on [2, 6), -1 on [10, 14): S rises to 4 and is back at exactly 0 from 14 on
    base, new = rec([0, 0], [6, 10], end=20), rec([0, 0], [2, 14], end=20)
    assert tr.break_even([base], [new], at=0.0).times == (None,)
    pair = tr.break_even([BASE_SAVED, base], [NEW_SAVED, new], at=1.0)
    assert pair.times == (5.0, None) and pair.reached == 1
    assert pair.mean is None and pair.median is None          # half of them only: no mean, no median
    d = pair.to_dict()
    assert d["mean"] is None and d["ci95"] == [None, None] and d["per_replication"] == [5.0, None]


def test_saturated_and_backlog_streams_break_even_on_deliveries():
    # deliveries since 0, transition - baseline: -1 at 2, 0 at 3, 1 at 5, 0 at 8, 1 at 9 and after
    base, new = rec([0, 0], [2, 8], end=10), rec([0, 0, 0], [3, 5, 9], end=10)
    for kind in ("saturated", "backlog"):
        be = tr.break_even([base], [new], at=0.0, kind=kind)
        assert be.measure == "deliveries" and be.times == (9.0,)
    assert tr.break_even([base], [new], at=0.0).times == (None,)    # open: the lead time saved is negative
    with pytest.raises(SpecError, match=r"^kind: must be one of open, saturated, backlog, got 'closed'$"):
        tr.break_even([base], [new], at=0.0, kind="closed")


def test_paired_curves_drop_a_replication_only_where_it_has_no_value():
    # replication 1 of the baseline delivers nothing in week 1: its lead times there are missing, its throughput 0
    base = [rec([0, 7], [2, 10], end=14), rec([0], [3], end=14, replication=1)]
    new = [rec([0, 7], [1, 8], end=14), rec([0, 7], [1, 9], end=14, replication=1)]
    c = tr.paired_curves(base, new, period=7).set_index(["metric", "period"])
    p85 = c.loc["lead_time_p85"]
    assert list(p85["n"]) == [2, 1]
    np.testing.assert_allclose(p85["baseline"], [2.5, 3.0])              # week 1: replication 0 alone
    np.testing.assert_allclose(p85["transition"], [1.0, 1.0])
    np.testing.assert_allclose(p85["diff"], [-1.5, -2.0])
    assert p85["diff_lo"].isna().iloc[1]                                    # one pair: no interval
    tput = c.loc["throughput"]
    assert list(tput["n"]) == [2, 2]
    np.testing.assert_allclose(tput["diff"], [0.0, (0 + 1 / 7) / 2])      # week 1: 1 - 1 and 1 - 0 items
    np.testing.assert_allclose(tput["transition"], tput["baseline"] + tput["diff"])


def test_a_change_after_the_end_of_the_runs_has_nothing_to_report():
    e = tr.transition_effect([BASE_SAVED], [NEW_SAVED], at=30.0)
    assert e.break_even.times == (None,) and e.gain is None
    assert e.dip_lead_time.period is None and math.isnan(e.dip_lead_time.estimate.mean)
    assert json.loads(json.dumps(e.to_dict(), allow_nan=False))["dip"]["throughput"]["mean"] is None
    lines = transition_section(e, figures=False)
    assert lines[2].startswith("The reorganisation at 30 days comes after the end of the runs (10 days)")
    assert len(lines) == 4


def test_pairs_need_the_same_replications():
    with pytest.raises(SpecError, match="as many replications"):
        tr.break_even([BASE_SAVED, BASE_SAVED], [NEW_SAVED], at=0.0)
    with pytest.raises(SpecError, match="replication 1 cannot pair with the baseline's replication 0"):
        tr.break_even([BASE_SAVED], [rec([0], [1], end=10, replication=1)], at=0.0)


@st.composite
def item_sets(draw):
    n = draw(st.integers(1, 12))
    arrival = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    stay = draw(st.lists(st.one_of(st.integers(1, 30), st.none()), min_size=n, max_size=n))
    done = [a + s if s is not None else np.nan for a, s in zip(arrival, stay, strict=True)]
    return rec(np.array(arrival) / 4, np.array(done) / 4, end=12.0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item_sets(), item_sets(), st.integers(0, 8))
def test_break_even_is_the_last_time_the_saving_is_not_positive(base, new, at4):
    """S at the end is the difference of the items' time in the system after T; after the break-even
    S is positive at every event (S is linear between them) and at the break-even it is 0."""
    at = at4 / 4
    events = np.unique(np.concatenate([[at, 12.0], base.arrival, base.done, new.arrival, new.done]))
    events = events[(events >= at) & (events <= 12.0)]
    saved, _ = tr.cumulative_paths([base], [new], at, events)

    def inside(r):
        done = np.where(np.isnan(r.done), np.inf, r.done)
        return np.sum(np.clip(np.minimum(done, 12.0) - np.maximum(r.arrival, at), 0, None))

    assert saved[0, -1] == pytest.approx(inside(base) - inside(new), abs=1e-9)
    (be,) = tr.break_even([base], [new], at).times
    if be is None:                                  # S ends at or below 0
        assert saved[0, -1] <= 1e-9
    else:
        later = events > at + be + 1e-9
        assert (saved[0, later] > 0).all()
        s_be, _ = tr.cumulative_paths([base], [new], at, [at + be])
        assert s_be[0, 0] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(item_sets(), st.sampled_from([0.5, 1.25, 3.0]))
def test_period_percentiles_are_numpys_of_the_items_done_in_each_period(r, period):
    c = tr.period_curves(r, period)
    lead, done = r.done - r.arrival, r.done
    for k in range(len(c.edges) - 1):
        x = lead[(done >= c.edges[k]) & (done < c.edges[k + 1])]
        expected = np.percentile(x, (50, 85)) if len(x) else [np.nan, np.nan]
        np.testing.assert_allclose(c.values[:2, k], expected, rtol=1e-12)
        assert c.values[2, k] == len(x) / period


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item_sets(), item_sets(), st.integers(0, 8))
def test_deliveries_break_even_at_the_completion_after_which_they_stay_ahead(base, new, at4):
    at = at4 / 4
    events = np.unique(np.concatenate([[at, 12.0], base.done, new.done]))
    events = events[(events >= at) & (events <= 12.0)]
    _, delivered = tr.cumulative_paths([base], [new], at, events)
    (be,) = tr.break_even([base], [new], at, kind="backlog").times
    if be is None:
        assert delivered[0, -1] <= 0
    else:
        assert be > 0 and at + be in set(events)       # a completion of one of the runs
        assert (delivered[0, events >= at + be] > 0).all() and delivered[0, events < at + be][-1] <= 0


# --------------------------------------------------------------------------- simulated cases
def test_identical_records_give_no_dip_no_break_even_and_no_gain(base):
    e = tr.transition_effect(base, base, at=AT)
    for d in (e.dip_lead_time, e.dip_throughput):
        assert (d.estimate.mean, d.estimate.lo, d.estimate.hi) == (0.0, 0.0, 0.0) and d.estimate.covers(0)
        # a week in which a replication delivers nothing has no lead time there: that replication drops out
        assert d.naive.mean == 0.0 and 2 <= d.estimate.n <= REPS - REPS // 2 and d.naive.n <= REPS
    assert e.break_even.times == (None,) * REPS and e.break_even.mean is None
    assert (e.curves["diff"].dropna() == 0).all() and (e.cumulative["saved"] == 0).all()
    g = e.gain
    assert (g.lead_time.mean, g.throughput.mean, g.saved.mean, g.delivered.mean) == (0.0, 0.0, 0.0, 0.0)
    assert e.common_random_numbers
    json.dumps(e.to_dict(), allow_nan=False)                  # NaN written as None, as in summary.json


def test_the_same_stream_on_other_seeds_gives_a_dip_whose_interval_covers_zero(base, other_seeds):
    e = tr.transition_effect(base, other_seeds, at=AT)
    assert not e.common_random_numbers
    assert e.dip_lead_time.estimate.covers(0) and e.dip_throughput.estimate.covers(0)
    # chosen and measured on the same replications, the worst of 57 weeks is biased away from 0
    assert e.dip_lead_time.naive.mean > 0 and e.dip_throughput.naive.mean < 0
    assert e.dip_lead_time.after == e.dip_lead_time.period - 14 + 1       # the week 100 falls in is [98, 105)
    assert e.gain.lead_time.covers(0)


def test_choosing_the_worst_week_on_other_replications_removes_the_bias_of_the_maximum():
    """No change at all (both runs independent draws of one distribution), 100 times 10 replications: the
    split-half estimate of the worst week is unbiased and its interval covers 0 about 95 % of the time; the
    worst week chosen and measured on the same replications is biased upwards (the largest of 22 weekly means)
    and its interval covers 0 far less often."""
    from scipy import stats

    rng = np.random.default_rng(7)

    def runs_of_noise():
        out = []
        for r in range(10):
            arrival = rng.uniform(0, 200, 200)
            out.append(rec(arrival, arrival + rng.exponential(3.0, 200), end=200, replication=r))
        return out

    trials = 100
    dips = [tr.dip(runs_of_noise(), runs_of_noise(), at=50.0, period=7.0) for _ in range(trials)]
    honest = np.array([d.estimate.mean for d in dips])
    naive = np.array([d.naive.mean for d in dips])
    low = stats.binom.ppf(0.001, trials, 0.95)          # 95 % coverage: fewer covers fail 1 time in 1000
    assert sum(d.estimate.covers(0) for d in dips) >= low
    assert sum(d.naive.covers(0) for d in dips) < low
    t = stats.t.ppf(0.9995, trials - 1)
    assert abs(honest.mean()) < t * honest.std(ddof=1) / math.sqrt(trials)
    assert naive.mean() > t * naive.std(ddof=1) / math.sqrt(trials)


def test_two_developers_instead_of_one_break_even_and_gain_what_theory_says(base, improved):
    e = tr.transition_effect(base, improved, at=AT)
    be = e.break_even
    assert be.reached == REPS and be.mean is not None and be.mean.lo < be.mean.mean < be.mean.hi
    # M/M/1 against M/M/2 at lambda 0.8, mu 1: W = 5 against 1 / (1 - 0.4^2)
    w1, w2 = theory.mmc(0.8, 1.0, 1).w, theory.mmc(0.8, 1.0, 2).w
    assert w1 == pytest.approx(5.0) and w2 == pytest.approx(1 / 0.84)
    g = e.gain
    assert (g.start, g.end) == (AT + 365 - 365 / 4, AT + 365)
    assert g.lead_time.hi < 0 and g.lead_time.covers(w2 - w1)
    assert g.saved.lo > 0 and g.throughput.covers(0)
    assert e.curves.query("metric == 'lead_time_p85' and start >= @AT")["diff"].max() < 0


def test_sensitivity_runs_the_callable_for_each_point_of_the_grid(base, improved):
    calls = []

    def run(p0, ramp):
        calls.append((p0, ramp))
        return improved if p0 < 1 else base            # p0 = 1: a transition that changes nothing

    table = tr.sensitivity(base, run, productivity=[0.5, 1.0], ramp=[0, 30], at=AT)
    assert calls == [(0.5, 0), (0.5, 30), (1.0, 0), (1.0, 30)]
    assert list(table.columns) == list(tr.SENSITIVITY_COLUMNS) and len(table) == 4
    direct = tr.transition_effect(base, improved, at=AT)
    row = table.iloc[0]
    assert row.break_even == direct.break_even.mean.mean and row.reached == REPS
    assert row.gain_lead_time == direct.gain.lead_time.mean and row.saved == direct.gain.saved.mean
    same = table[table.productivity == 1.0]
    assert (same.reached == 0).all() and same.break_even.isna().all() and (same.gain_lead_time == 0).all()


def test_a_saturated_stream_breaks_even_on_deliveries_and_gains_the_faster_rate(tmp_path):
    """A closed line (CONWIP 3, one developer, always busy) delivers mu: 1 a day, 1.25 with work 20 % shorter
    (the scenario machinery's `scale`); the gain is read at the horizon, sooner than a year."""
    from vssim.scenarios.scenario import Scenario

    spec = vssim.StreamSpec.from_dict({**QUEUE, "arrivals": {"process": "saturated"},
                                       "release": {"policy": "conwip", "conwip": 3}})
    faster = Scenario.from_dict({"transforms": [{"op": "scale", "path": "steps.build.work", "factor": 0.8}]}, "faster")
    base, new = (vssim.simulate(s, horizon=200, replications=6, seed=3, progress=False).records
                 for s in (spec, faster.apply(spec)))
    assert tr.stream_kind(spec) == "saturated"
    e = tr.transition_effect(base, new, at=50, kind=tr.stream_kind(spec))
    assert e.break_even.measure == "deliveries" and e.break_even.reached == 6
    assert (e.gain.start, e.gain.end) == (200 - 365 / 4, 200)
    assert e.gain.throughput.covers(1.25 - 1.0) and e.gain.throughput.lo > 0 and e.gain.delivered.lo > 0
    lines = transition_section(e, tmp_path, name="closed")
    assert "at the horizon (21.4 weeks after the change)" in lines[2]
    assert any("The break-even reads D" in line for line in lines)


def test_effect_of_two_results_reads_their_unit_kind_and_periods():
    spec = vssim.StreamSpec.from_dict({**QUEUE, "time_unit": "hour"})
    a, b = (vssim.simulate(spec, horizon=100, replications=2, seed=1, progress=False, stats=stats)
            for stats in ("full", "streaming"))
    e = tr.effect_of(a, a, at=20)
    assert (e.time_unit, e.kind, e.period, e.year) == ("hour", "open", 10.0, 80.0)   # a tenth of the window
    assert tr.effect_of(a, a, at=20, period=5).period == 5
    with pytest.raises(SpecError, match="^sim.stats: the transition ran with streaming statistics"):
        tr.effect_of(a, b, at=20)


# --------------------------------------------------------------------------- figure and section
def test_the_figure_draws_the_curves_the_band_and_the_break_even(base, improved, tmp_path):
    e = tr.transition_effect(base, improved, at=AT)
    fig = _build_transition(e, title="queue")
    axes = fig.axes
    assert len(axes) == 4
    for ax in axes:                                         # the reorganisation marked in every panel
        assert any(list(line.get_xdata()) == [AT, AT] for line in ax.lines)
    labels = axes[-1].get_legend_handles_labels()[1]
    assert any(label.startswith("break-even, mean") for label in labels)
    x, y = axes[0].lines[1].get_data()                     # the reorganised p85 is the curve's mean
    p85 = e.curves[e.curves.metric == "lead_time_p85"]
    np.testing.assert_allclose(y, p85["transition"]) and np.testing.assert_allclose(x, (p85.start + p85.end) / 2)
    check_readable(fig)
    path = transition_figure(e, tmp_path / "transition.png", title="queue")
    check_png(path, fig)


def test_the_section_leads_with_the_answer_and_warns(base, improved, other_seeds, tmp_path):
    good = transition_section(tr.transition_effect(base, improved, at=AT), tmp_path, name="queue")
    assert good[2].startswith("**Break-even ") and " weeks after the change** (95 % CI " in good[2]
    assert "days shorter a year later" in good[2]
    assert "![the reorganisation in time](transition.png)" in good and (tmp_path / "transition.png").exists()
    none = transition_section(tr.transition_effect(base, base, at=AT), figures=False)
    assert none[2].startswith("**No break-even within the horizon** in 10 of 10 replications")
    assert any("Not within the horizon in 10 of 10 replications" in line for line in none)
    noisy = transition_section(tr.transition_effect(base, other_seeds, at=AT), figures=False)
    assert any("not on common random numbers" in line for line in noisy)
    table = tr.sensitivity(base, lambda p0, r: improved, productivity=[0.5], ramp=[10], at=AT)
    lines = transition_section(tr.transition_effect(base, improved, at=AT), figures=False, sensitivity=table)
    assert "### How much the answer depends on the learning curve" in lines
    assert any(line.startswith("| 0.5 | 10 | ") and "| 10 of 10 |" in line for line in lines)
