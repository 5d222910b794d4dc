"""Epochs and working calendars (docs/model.md, "Epoch and working calendars"; docs/validation.md).

The arithmetic of working time (hypothesis), exact cases worked by hand, and two checks against
queueing theory with tolerances from confidence intervals, as tests/test_theory_validation.py makes
them (`assert_matches`).
"""
from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_theory_validation import assert_matches, step_per_rep, t_interval

import vssim
from vssim.engines.maxplus.engine import why_not
from vssim.errors import SpecError
from vssim.model.calendar import DAYS, Calendar, Epoch, parse_calendar, parse_epoch

AMSTERDAM = {"start": "2024-01-05T16:00:00", "tz": "Europe/Amsterdam"}    # a Friday, 16:00
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def calendar(days=WEEKDAYS, hours=(9, 17), epoch=AMSTERDAM, unit="hour", off=None) -> Calendar:
    value = {"days": list(days), "hours": [list(h) for h in hours] if isinstance(hours[0], list | tuple)
             else list(hours)}
    if off is not None:
        value["off"] = off
    return parse_calendar(value, "pools.dev.calendar", None if epoch is None else parse_epoch(epoch, unit), unit)


def stream(times, work=3.0, cal=None, epoch=AMSTERDAM, **pool) -> dict:
    d = {"name": "cal", "time_unit": "hour", "arrivals": {"process": "trace", "times": list(times)},
         "pools": {"dev": {"size": 1, **({"calendar": cal} if cal is not None else {}), **pool}},
         "steps": {"build": {"pool": "dev", "work": work if isinstance(work, dict)
                             else {"dist": "deterministic", "value": work}}}}
    if epoch is not None:
        d["epoch"] = epoch
    return d


# --------------------------------------------------------------------------- by hand
def test_three_hours_from_friday_four_pm_end_on_monday_at_eleven():
    """9-17 Monday to Friday: 1 h on Friday (16-17), 2 h on Monday (9-11): 67 h later."""
    cal = calendar()
    assert cal.add(0.0, 3.0) == 67.0
    assert cal.working_time(0.0, 67.0) == 3.0
    assert cal.epoch.to_datetime(67.0) == pd.Timestamp("2024-01-08T11:00:00", tz="Europe/Amsterdam")


def test_daylight_saving_keeps_the_wall_clock_hours():
    """Amsterdam goes from +01:00 to +02:00 on Sunday 2024-03-31: Friday 16:00 + 3 h of work is Monday
    11:00 local, one real hour less than in winter (66 h)."""
    cal = calendar(epoch={"start": "2024-03-29T16:00:00", "tz": "Europe/Amsterdam"})
    assert cal.add(0.0, 3.0) == 66.0
    assert str(cal.epoch.to_datetime(66.0)) == "2024-04-01 11:00:00+02:00"
    assert cal.next_open(1.0) == 64.0                 # Monday 09:00 +02:00: 2 h of work before 11:00


def test_days_off_and_split_hours():
    """Hours 9-12 and 13-17; Monday 2024-01-08 off: Friday 16:00 + 5 h = Friday 1 h, Tuesday 9-12 and 13-14."""
    cal = calendar(hours=[(9, 12), (13, 17)], off=["2024-01-08"])
    tuesday = 8 + 3 * 24                              # Tuesday 2024-01-09 00:00 in hours from the epoch
    assert cal.add(0.0, 5.0) == tuesday + 14
    assert cal.is_working(tuesday + 12.5) is False
    assert cal.next_open(tuesday + 12.5) == tuesday + 13


def test_engine_works_only_in_working_time():
    """One person, 3 h a piece, 9-17 Mon-Fri from Friday 16:00 (t = 0). By hand: item 0 runs Fri 16-17
    and Mon 9-11 (ends 67); item 1 (arrived 0.5) Mon 11-14 (67-70); item 2, arrived Saturday noon
    (20), Mon 14-17 (70-73); item 3 arrives Mon 18:00 (74), after closing: it starts at Tuesday's
    opening 09:00 (89), not when it arrives, and ends at 92. Over [0, 92] the pool's working time is
    1 + 8 + 3 = 12 h and it works all of it: utilisation 1."""
    res = vssim.simulate(stream([0.0, 0.5, 20.0, 74.0], cal={"hours": [9, 17]}), progress=False)
    v = res.visits.sort_values("item")
    assert v["start"].tolist() == [0.0, 67.0, 70.0, 89.0]
    assert v["end"].tolist() == [67.0, 70.0, 73.0, 92.0]
    assert v["work"].tolist() == [3.0] * 4
    assert res.summary["pools"]["dev"]["utilization"] == pytest.approx(1.0, abs=1e-12)
    assert res.summary["pools"]["dev"]["headcount"] == pytest.approx(12.0 / 92.0, abs=1e-12)
    log = res.event_log()
    start = log[(log["activity"] == "build") & (log["lifecycle"] == "start")]
    assert str(start["date"].iloc[-1]) == "2024-01-09 09:00:00+01:00"
    assert (log["date"] == res.spec.epoch.to_datetime(log["timestamp"].to_numpy())).all()


def test_without_epoch_time_zero_is_monday_midnight_utc():
    """No epoch: 9-17 Mon-Fri from Monday 00:00 UTC; work 10 h from 0 is Mon 9-17 and Tue 9-11 (35)."""
    res = vssim.simulate(stream([0.0], work=10.0, cal={"hours": [9, 17]}, epoch=None), progress=False)
    assert res.visits["start"].tolist() == [9.0]      # the person picks at the first opening
    assert res.visits["end"].tolist() == [35.0]
    assert "date" not in res.event_log()


def test_interruptions_and_switches_take_working_time():
    """A switch cost of 1 h is working time too: step a's 1 h is Friday 16-17 (ends at the closing, 1);
    b then waits for Monday's opening (65) and takes 1 h of switch and 3 h of work: 9-13 (69)."""
    d = stream([0.0], cal={"hours": [9, 17]})
    d["pools"]["dev"]["switch_cost"] = {"dist": "deterministic", "value": 1.0}
    d["steps"] = {"a": {"pool": "dev", "work": {"dist": "deterministic", "value": 1.0}},
                  "b": {"pool": "dev", "work": {"dist": "deterministic", "value": 3.0}}}
    res = vssim.simulate(d, progress=False)
    v = res.visits.sort_values("start")
    assert v["start"].tolist() == [0.0, 65.0]
    assert v["end"].tolist() == [1.0, 69.0]


# --------------------------------------------------------------------------- the model's checks
@pytest.mark.parametrize(("change", "where"), [
    ({"time_unit": "sprint"}, "time_unit"),
    ({"epoch": {"start": "2024-01-01T00:00:00+01:00", "tz": "UTC"}}, "epoch.start"),
    ({"epoch": {"start": "2024-01-01T00:00:00"}}, "epoch.tz"),
    ({"epoch": {"start": "2024-01-01T00:00:00", "tz": "Not/AZone"}}, "epoch.tz"),
    ({"epoch": {"start": "2024-01-01T00:00:00", "tz": "UTC", "x": 1}}, "epoch.x"),
    ({"pools": {"dev": {"size": 1, "calendar": {"days": ["monday"]}}}}, "pools.dev.calendar.days"),
    ({"pools": {"dev": {"size": 1, "calendar": {"hours": [[9, 13], [12, 17]]}}}}, "pools.dev.calendar.hours"),
    ({"pools": {"dev": {"size": 1, "calendar": {"hours": [9, 25]}}}}, "pools.dev.calendar.hours"),
    ({"pools": {"dev": {"size": 1, "calendar": {"off": ["25-12-2024"]}}}}, "pools.dev.calendar.off"),
    ({"epoch": None, "pools": {"dev": {"size": 1, "calendar": {"off": ["2024-12-25"]}}}}, "pools.dev.calendar.off"),
])
def test_bad_epochs_and_calendars_are_one_line_errors(change, where):
    d = {**stream([0.0], cal={"hours": [9, 17]}), **change}
    if d.get("epoch") is None:
        d.pop("epoch", None)
    with pytest.raises(SpecError) as e:
        vssim.StreamSpec.from_dict(d)
    assert str(e.value).startswith(where) and "\n" not in str(e.value)


def test_refused_combinations():
    d = stream([0.0], cal={"hours": [9, 17]})
    d["steps"]["build"]["swarm"] = 2
    d["pools"]["dev"]["size"] = 2
    with pytest.raises(SpecError, match=r"^steps.build.swarm: must be 1 while pool dev has a calendar"):
        vssim.StreamSpec.from_dict(d)
    spec = vssim.StreamSpec.from_dict(stream([0.0], cal={"hours": [9, 17]}))
    assert why_not(spec) == "pools.dev.calendar: working hours need the event engine"
    res = vssim.simulate(spec, engine="auto", progress=False)
    assert res.visits["end"].tolist() == [67.0]
    with pytest.raises(SpecError, match=r"^sim.engine: 'fast' cannot run stream 'cal': pools.dev.calendar") as e:
        vssim.simulate(spec, engine="fast", progress=False)
    assert "\n" not in str(e.value)
    with pytest.raises(SpecError, match=r"^sim.engine: .*pools dev have calendars: .*sim.stats=full") as e:
        vssim.simulate({**spec.to_dict(), "arrivals": {"process": "poisson", "rate": 0.1}}, horizon=100.0,
                       stats="streaming", progress=False)
    assert "\n" not in str(e.value)


# --------------------------------------------------------------------------- arithmetic (hypothesis)
def _pairs(cuts: list[float]) -> list[tuple[float, float]]:
    return [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]


_calendars = st.builds(
    lambda days, cuts, tz, start: calendar(days=days, hours=_pairs(cuts), epoch={"start": start, "tz": tz}),
    st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True),
    st.lists(st.integers(0, 48), min_size=2, max_size=6, unique=True).map(lambda c: sorted(x / 2 for x in c))
    .filter(lambda c: len(c) >= 2).map(lambda c: c[: len(c) // 2 * 2]),
    st.sampled_from(["UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe"]),
    st.sampled_from(["2024-01-01T00:00:00", "2024-03-29T13:30:00", "2024-10-26T23:00:00"]),
)
_times = st.floats(0, 2000, allow_nan=False)
_works = st.floats(0, 300, allow_nan=False)
TOL = 1e-9


@settings(max_examples=200, deadline=None)
@given(_calendars, _times, _works, _works)
def test_add_is_monotone_and_additive(cal, s, a, b):
    lo, hi = sorted((a, b))
    assert cal.add(s, lo) <= cal.add(s, hi)
    assert cal.add(s, a) >= s + a - TOL * (1 + s + a)     # work never goes faster than the clock
    assert cal.add(cal.add(s, a), b) == pytest.approx(cal.add(s, a + b), abs=TOL * (1 + s + a + b))


@settings(max_examples=200, deadline=None)
@given(_calendars, _times, _works)
def test_working_time_inverts_add(cal, s, w):
    end = cal.add(s, w)
    assert cal.working_time(s, end) == pytest.approx(w, abs=TOL * (1 + s + w))
    if w > 0:                                          # the first such instant: an instant before has less work
        assert cal.working_time(s, max(s, end - 1e-6)) <= w


@settings(max_examples=100, deadline=None)
@given(_calendars, _times, _times)
def test_monotone_in_the_start_and_opening(cal, s, t):
    lo, hi = sorted((s, t))
    assert cal.add(lo, 1.0) <= cal.add(hi, 1.0)
    o = cal.next_open(lo)
    assert o >= lo and cal.is_working(o)
    assert cal.working_time(lo, o) == pytest.approx(0.0, abs=TOL * (1 + lo))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), max_size=20),
       st.sampled_from(["minute", "hour", "day", "week"]), st.sampled_from(["UTC", "Europe/Amsterdam"]))
def test_epoch_round_trip(shares, unit, tz):
    """Times up to 200 years survive the trip to nanosecond dates and back to within a nanosecond."""
    epoch = Epoch(dt.datetime(2024, 3, 30, 12), tz, unit)
    times = np.array(shares) * (200 * 365.25 * 86400 / epoch.seconds)
    back = epoch.to_time(epoch.to_datetime(times))
    assert np.allclose(back, times, rtol=0, atol=1e-9 / epoch.seconds + 1e-12 * times.max(initial=0))


def test_epoch_units_are_durations():
    """A `day` is 86 400 s, also across the DST change: the wall clock moves by an hour."""
    epoch = Epoch(dt.datetime(2024, 3, 30, 12), "Europe/Amsterdam", "day")
    assert str(epoch.to_datetime(1.0)) == "2024-03-31 13:00:00+02:00"
    assert math.isnan(epoch.to_time(epoch.to_datetime(np.array([np.nan])))[0])
    with pytest.raises(ValueError, match="beyond the dates pandas holds"):
        epoch.to_datetime(1e6)


# --------------------------------------------------------------------------- against theory
LAM, MU = 0.5, 1.0
R = 10


@pytest.mark.parametrize("seed", [11])
def test_half_day_calendar_scales_throughput_and_utilisation(seed):
    """M/M/1 whose one person works half of each day (time unit hour, hours 0-12 every day), work
    exponential of mean 1/μ = 1 h of working time, Poisson arrivals in calendar time at rate
    λ_cal = λ/2 = 0.25 per hour. The pool serves at rate μ only during a fraction f = 1/2 of the
    time, so it is stable when λ_cal < μ·f (0.25 < 0.5), and then in the long run
    throughput = λ_cal = 0.25 per hour and utilisation over working time = λ_cal / (μ·f) = 0.5
    (busy working person-time ÷ working person-time)."""
    d = {"name": "half", "time_unit": "hour", "arrivals": {"process": "poisson", "rate": LAM / 2},
         "pools": {"dev": {"size": 1, "calendar": {"days": list(DAYS), "hours": [0, 12]}}},
         "steps": {"build": {"pool": "dev", "work": {"dist": "exponential", "mean": 1 / MU}}}}
    res = vssim.simulate(d, horizon=24_000, warmup=1_000, replications=R, seed=seed, progress=False)
    thr = [r["throughput"] for r in res.summary["replications"]]
    assert_matches(thr, LAM / 2, rel_width=0.045, what="throughput, half-day calendar")
    assert_matches(step_per_rep(res, "build", "utilization"), (LAM / 2) / (MU * 0.5), rel_width=0.06,
                   what="utilisation over working time, half-day calendar")
    assert res.summary["pools"]["dev"]["headcount"] == pytest.approx(0.5, abs=1e-3)
    assert res.spec.offered_load() == {"dev": pytest.approx(0.5, abs=1e-15)}    # λ_cal / (μ·f)


def test_a_calendar_can_make_a_stream_unstable():
    """λ_cal = 0.6 per hour against one person working half of each day at μ = 1: offered load
    0.6 / (1 · 0.5) = 1.2, unstable though the same stream without a calendar (load 0.6) is stable."""
    d = {"name": "over", "time_unit": "hour", "arrivals": {"process": "poisson", "rate": 0.6},
         "pools": {"dev": {"size": 1, "calendar": {"days": list(DAYS), "hours": [0, 12]}}},
         "steps": {"build": {"pool": "dev", "work": {"dist": "exponential", "mean": 1.0}}}}
    spec = vssim.StreamSpec.from_dict(d)
    assert spec.offered_load() == {"dev": pytest.approx(1.2, abs=1e-12)}
    res = vssim.simulate(spec, horizon=2000, replications=2, progress=False)
    assert res.summary["stable"] is False and res.summary["stability"]["cause"] == "offered_load"


def _working_trace(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.cumsum(rng.exponential(1 / LAM, n))


@pytest.mark.parametrize("seed", [5])
def test_calendar_is_a_time_change_of_the_plain_mm1(seed):
    """Arrivals that come in working time only (a Poisson trace of rate λ = 0.5 per working hour, mapped to
    calendar time by `Calendar.add(0, T)`), 9-12 and 13-17 Monday to Friday in Amsterdam (DST
    included), work exponential of mean 1/μ in working time. Working time W(t) is a time change: in W
    the calendar run is the plain M/M/1 (the same trace in W, no calendar) path by path, as the
    engine draws each item's work by its number. So, on the same random numbers, every visit's start
    and end in working time equal the plain run's, and the lead time measured in working time is the
    M/M/1 sojourn, of mean 1/(μ − λ) = 2 h (tested within a 99.9 % interval over the replications,
    the first 500 items of each dropped as warm-up).

    Power bounds (`rel_width`) are about twice the half-widths measured over other seeds when this
    file was written: throughput 1.5-2.2 % and utilisation 1.7-4.4 % (4 seeds), lead time 2.0-4.4 %
    (3 seeds) of theory; every |simulated − theory| was at most 0.45 half-widths."""
    cal = {"days": WEEKDAYS, "hours": [[9, 12], [13, 17]]}
    epoch = {"start": "2024-03-25T00:00:00", "tz": "Europe/Amsterdam"}
    calendar_ = calendar(hours=[(9, 12), (13, 17)], epoch=epoch)
    work = {"dist": "exponential", "mean": 1 / MU}
    rng = np.random.default_rng(seed)
    means = []
    for r in range(R):
        times = _working_trace(rng, 20_000)
        mapped = [calendar_.add(0.0, t) for t in times]
        plain = vssim.simulate(stream(times.tolist(), work=work, epoch=epoch), seed=seed + r, progress=False)
        worked = vssim.simulate(stream(mapped, work=work, cal=cal, epoch=epoch), seed=seed + r, progress=False)
        p = plain.visits.sort_values("item")
        w = worked.visits.sort_values("item")
        for col in ("start", "end"):
            assert np.allclose(calendar_.clock(w[col].to_numpy()), p[col].to_numpy(), rtol=0, atol=1e-6), col
        assert np.array_equal(w["work"].to_numpy(), p["work"].to_numpy())
        items = worked.items.sort_values("item") if "item" in worked.items else worked.items
        lead = calendar_.clock(items["done"].to_numpy()) - calendar_.clock(items["arrival"].to_numpy())
        plain_items = plain.items.sort_values("item") if "item" in plain.items else plain.items
        assert np.allclose(lead, plain_items["done"].to_numpy() - plain_items["arrival"].to_numpy(), atol=1e-6)
        means.append(float(lead[500:].mean()))
    assert_matches(means, 1 / (MU - LAM), rel_width=0.07, what="lead time in working time, calendar arrivals")
    mean, half = t_interval(means)
    print(f"lead time in working time: {mean:.4f} ± {half:.4f}")


def test_the_opening_sees_what_came_overnight():
    """Picking at the opening, not at closing: a standard item waits from 16:30 (t = 0.5, the person busy
    until 17:00); an expedite one comes at 20:00 (t = 4). At Monday's opening (65) the person takes the
    expedite item first; had the item been chosen at closing, the standard one would have gone first."""
    d = stream([], cal={"hours": [9, 17]})
    d["item_types"] = {"standard": {"share": 0.5}, "expedite": {"share": 0.5, "class_of_service": "expedite"}}
    d["arrivals"]["times"] = [{"time": 0.0, "type": "standard"}, {"time": 0.5, "type": "standard"},
                              {"time": 4.0, "type": "expedite"}]
    d["steps"]["build"]["work"] = {"dist": "deterministic", "value": 1.0}
    res = vssim.simulate(d, progress=False)
    v = res.visits.sort_values("item")
    assert v["start"].tolist() == [0.0, 66.0, 65.0]
    assert v["end"].tolist() == [1.0, 67.0, 66.0]


def test_yaml_off_key(tmp_path):
    """PyYAML reads an unquoted `off:` as false: it is the calendar's `off`, and the stream reads back the same."""
    (tmp_path / "s.yaml").write_text(
        "time_unit: hour\nepoch: {start: 2024-01-05T16:00:00, tz: Europe/Amsterdam}\n"
        "arrivals: {process: trace, times: [0]}\n"
        "pools:\n  dev: {size: 1, calendar: {hours: [9, 17], off: [2024-01-08]}}\n"
        "steps:\n  build: {pool: dev, work: 3}\n")
    spec = vssim.load_stream(tmp_path / "s.yaml")
    assert spec.pools["dev"].calendar.off == (dt.date(2024, 1, 8),)
    again = vssim.StreamSpec.from_dict(spec.to_dict())
    assert again.pools["dev"].calendar == spec.pools["dev"].calendar
    res = vssim.simulate(spec, progress=False)
    assert res.visits["end"].tolist() == [91.0]       # Fri 16-17, Monday off, Tuesday 9-11
    assert json.loads(json.dumps(spec.to_dict()))["epoch"]["start"] == "2024-01-05T16:00:00"


def test_time_change_with_two_people_two_steps_interruptions_and_switches():
    """The time change holds for the engine's whole rule, not only one server: two people of one pool
    working two steps (downstream first, switch cost, interruptions: all working time), two classes of
    service, arrivals in working time. Every visit's start and end in working time, and who works it,
    equal the plain run's on the same seed (no handoffs: those keep calendar time and would break it)."""
    cal = {"days": WEEKDAYS, "hours": [[9, 12], [13, 17]]}
    epoch = {"start": "2024-10-21T00:00:00", "tz": "Europe/Amsterdam"}   # the autumn DST change included
    calendar_ = calendar(hours=[(9, 12), (13, 17)], epoch=epoch)
    times = _working_trace(np.random.default_rng(3), 1500) * 0.8
    runs = []
    for arrivals in (times.tolist(), [calendar_.add(0.0, t) for t in times]):
        d = stream(arrivals, epoch=epoch, cal=cal if len(runs) else None, size=2,
                   switch_cost={"dist": "exponential", "mean": 0.1},
                   interruptions={"rate": 0.3, "duration": {"dist": "exponential", "mean": 0.2}})
        d["item_types"] = {"a": {"share": 0.8}, "b": {"share": 0.2, "class_of_service": "expedite"}}
        d["steps"] = {"design": {"pool": "dev", "work": {"dist": "exponential", "mean": 0.7}},
                      "build": {"pool": "dev", "work": {"dist": "gamma", "mean": 1.2, "cv": 0.5}}}
        runs.append(vssim.simulate(d, seed=9, progress=False).visits.sort_values(["item", "step"]))
    plain, worked = runs
    assert len(plain) == len(worked) == 2 * len(times)
    for col in ("start", "end"):
        assert np.allclose(calendar_.clock(worked[col].to_numpy()), plain[col].to_numpy(), rtol=0, atol=1e-6), col
    assert (worked["person"].to_numpy() == plain["person"].to_numpy()).all()
    assert not np.allclose(worked["end"].to_numpy(), plain["end"].to_numpy())       # the calendar did act


def test_a_team_with_a_calendar():
    """A feature split into 2 stories for a team whose one person works 9-17 Mon-Fri, from Friday 16:00:
    story 1 from 0.5 (after planning) takes Friday 16:30-17 and Monday 9-11:30 (67.5), story 2 Monday
    11:30-14:30 (70.5), the feature joins then. Over [0, 70.5] the team's working time is 1 + 5.5 = 6.5 h
    of which 6 h busy: utilisation 6/6.5, headcount 6.5/70.5."""
    d = {"name": "t", "time_unit": "hour", "epoch": AMSTERDAM, "arrivals": {"process": "trace", "times": [0.0]},
         "pools": {"po": 1},
         "teams": {"web": {"pools": {"devs": {"size": 1, "calendar": {"hours": [9, 17]}}},
                           "steps": {"build": {"pool": "devs", "work": 3}}}},
         "steps": {"plan": {"pool": "po", "work": 0.5},
                   "deliver": {"split": {"into": "story", "teams": {"web": {"count": 2}}}}}}
    res = vssim.simulate(d, progress=False)
    v = res.visits.sort_values(["item", "start"])
    assert v[["start", "end"]].to_numpy().tolist() == [[0.0, 0.5], [0.5, 70.5], [0.5, 67.5], [67.5, 70.5]]
    web = res.summary["pools"]["web/devs"]
    assert web["utilization"] == pytest.approx(6 / 6.5, abs=1e-12)
    assert web["headcount"] == pytest.approx(6.5 / 70.5, abs=1e-12)
    assert res.summary["pools"]["po"]["utilization"] == pytest.approx(0.5 / 70.5, abs=1e-12)


def test_a_schedule_and_a_calendar_together():
    """One person from Friday 16:00, a second from Monday 09:00 (t = 65), hours 9-17, three pieces of 3 h
    at 0: A works Fri 16-17 and Mon 9-11 (67), B starts the second at 65 (68), A the third at 67 (70).
    Over [0, 70] the working person-time is A's 1 + 5 and B's 5 h = 11 h, the busy 9 h."""
    d = stream([0.0, 0.0, 0.0], cal={"hours": [9, 17]}, schedule=[{"at": 65, "size": 2}])
    res = vssim.simulate(d, progress=False)
    v = res.visits.sort_values("item")
    assert v["start"].tolist() == [0.0, 65.0, 67.0]
    assert v["end"].tolist() == [67.0, 68.0, 70.0]
    dev = res.summary["pools"]["dev"]
    assert dev["utilization"] == pytest.approx(9 / 11, abs=1e-12)
    assert dev["headcount"] == pytest.approx(11 / 70, abs=1e-12)
    assert dev["people"] == pytest.approx({"1": 6 / 6, "2": 3 / 5}, abs=1e-12)
