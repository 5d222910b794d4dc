"""Fidelity (vssim.analysis.fidelity): the five distances against hand-worked cases, simulated logs
of a deterministic stream row by row, the CSV round trip, the split and the baselines."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vssim import simulate
from vssim.analysis import fidelity as F
from vssim.data.log import EVENT_COLUMNS
from vssim.errors import SpecError

T0 = pd.Timestamp("2024-03-04 08:00", tz="Europe/Berlin")      # a Monday
H = pd.Timedelta(hours=1)
DET = "deterministic"


def make_log(traces: dict[str, list[tuple[str, float, float]]], origin: pd.Timestamp = T0) -> pd.DataFrame:
    """An event-layout log from {case: [(activity, start hour, end hour), ...]}."""
    rows = []
    for case, acts in traces.items():
        for activity, s, e in acts:
            rows += [(case, activity, origin + s * H, "start", "r/1"),
                     (case, activity, origin + e * H, "complete", "r/1")]
    return F._sorted(pd.DataFrame(rows, columns=list(EVENT_COLUMNS)))


def shifted(log: pd.DataFrame, hours: float) -> pd.DataFrame:
    return log.assign(timestamp=log["timestamp"] + hours * H)


def random_log(rng: np.random.Generator, n: int = 60, rate: float = 0.5) -> pd.DataFrame:
    """n cases arriving as a Poisson process (rate per hour), each a then b then c with random work."""
    arrivals = np.cumsum(rng.exponential(1 / rate, size=n))
    traces = {}
    for k, a in enumerate(arrivals):
        w = rng.exponential(2.0, size=3)
        t = np.concatenate([[a], a + np.cumsum(w)])
        traces[f"c{k}"] = [(x, t[j], t[j + 1]) for j, x in enumerate("abc")]
    return make_log(traces)


# --------------------------------------------------------------------------- the five distances
def test_identical_logs_are_at_distance_zero_on_every_measure():
    log = random_log(np.random.default_rng(1))
    d = F.distances(log, [log, log.copy()])
    assert set(d) == set(F.MEASURES)
    for name in F.MEASURES:
        assert d[name]["values"] == [0.0, 0.0], name
        assert d[name]["mean"] == 0.0 and d[name]["sd"] == 0.0


@pytest.mark.parametrize("k", [1, 3, 10])
def test_a_log_shifted_by_k_hours(k):
    """Absolute hours: every event moves k bins, so the Wasserstein distance of the two samples is k;
    the relative, cycle-time and 3-gram distances do not see a shift at all."""
    log = random_log(np.random.default_rng(k))
    d = F.distances(log, [shifted(log, k)])
    assert d["absolute_event"]["values"] == [pytest.approx(k, abs=1e-12)]
    assert d["relative_event"]["values"] == [0.0]
    assert d["cycle_time"]["values"] == [0.0]
    assert d["ngram_3"]["values"] == [0.0]
    assert math.isnan(d["absolute_event"]["sd"])      # one simulated log: no sd


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), k=st.integers(0, 200))
def test_whole_hour_shifts_move_absolute_hours_exactly(seed, n, k):
    """Any log shifted by k whole hours: every event's hour bin moves by k (the bins are counted from
    the earlier log's first start, floored to the hour), so absolute_event is k; the measures read
    relative to a case see nothing; and the circadian distance of a shift by whole weeks is 0."""
    log = random_log(np.random.default_rng(seed), n=n)
    d = F.distances(log, [shifted(log, k), shifted(log, 168 * (k % 3))])
    assert d["absolute_event"]["values"][0] == pytest.approx(k, abs=1e-9)
    assert d["circadian_event"]["values"][1] == 0.0
    for name in ("relative_event", "cycle_time", "ngram_3"):
        assert d[name]["values"] == [0.0, 0.0], name


def test_circadian_distance_by_hand():
    """One event pair per log on the same Monday: start 08:xx, end 09:xx against 10:xx and 11:xx.
    Monday's hours {8, 9} against {10, 11}: Wasserstein 2; the six weekdays with no events in either
    log count 0, so the mean over the week is 2/7. Moved to Tuesday instead, Monday and Tuesday each
    have events in one log only: 23 each, (23 + 23)/7."""
    real = make_log({"x": [("a", 0.25, 1.25)]})
    later = make_log({"x": [("a", 2.25, 3.25)]})
    tuesday = shifted(real, 24)
    assert F.distances(real, [later])["circadian_event"]["values"] == [pytest.approx(2 / 7)]
    assert F.distances(real, [tuesday])["circadian_event"]["values"] == [pytest.approx(46 / 7)]


def test_three_gram_distance_by_hand():
    """Traces padded with two empty events at each end: abc gives 00a 0ab abc bc0 c00. {abc, abc}
    against {abc, abd}: abc, bc0, c00 differ by 1 and abd, bd0, d00 by 1: 6 of 10 + 10 grams = 0.3."""
    real = make_log({"1": [("a", 0, 1), ("b", 1, 2), ("c", 2, 3)], "2": [("a", 5, 6), ("b", 6, 7), ("c", 7, 8)]})
    sim = make_log({"1": [("a", 0, 1), ("b", 1, 2), ("c", 2, 3)], "2": [("a", 5, 6), ("b", 6, 7), ("d", 7, 8)]})
    assert F.distances(real, [sim])["ngram_3"]["values"] == [pytest.approx(0.3)]


def test_cycle_and_relative_distance_by_hand():
    """Cycle times 2 h and 4 h against 2 h and 6 h: bins (from the shortest, 1 h) {0, 2} against
    {0, 4}: Wasserstein 1. Times relative to their case's start, starts and ends: {0, 2, 0, 4} against
    {0, 2, 0, 6}: one of four values moves 2 bins, 0.5."""
    real = make_log({"1": [("a", 0, 2)], "2": [("a", 10, 14)]})
    sim = make_log({"1": [("a", 0, 2)], "2": [("a", 10, 16)]})
    d = F.distances(real, [sim])
    assert d["cycle_time"]["values"] == [pytest.approx(1.0)]
    assert d["relative_event"]["values"] == [pytest.approx(0.5)]


def test_mean_and_sd_over_the_simulated_logs():
    log = random_log(np.random.default_rng(3))
    d = F.distances(log, [shifted(log, 1), shifted(log, 2), shifted(log, 6)])
    assert d["absolute_event"]["values"] == pytest.approx([1, 2, 6])
    assert d["absolute_event"]["mean"] == pytest.approx(3.0)
    assert d["absolute_event"]["sd"] == pytest.approx(np.std([1, 2, 6], ddof=1))


def test_pairing_is_first_in_first_out_and_drops_unfinished_work():
    t = [T0 + h * H for h in range(5)]
    ev = pd.DataFrame({"case_id": ["1"] * 5, "activity": ["a"] * 5, "timestamp": t,
                       "lifecycle": ["start", "start", "complete", "complete", "start"], "resource": ["r"] * 5})
    inst = F.activity_instances(ev)
    assert list(inst["start_timestamp"]) == [t[0], t[1]]
    assert list(inst["end_timestamp"]) == [t[2], t[3]]
    # a complete with no open start is dropped, and the instance after it still pairs
    ev = ev.assign(lifecycle=["complete", "start", "complete", "complete", "start"])
    inst = F.activity_instances(ev)
    assert (list(inst["start_timestamp"]), list(inst["end_timestamp"])) == ([t[1]], [t[2]])


def test_refusals_are_one_line():
    log = random_log(np.random.default_rng(0), n=5)
    with pytest.raises(SpecError, match="simulated"):
        F.distances(log, [])
    with pytest.raises(SpecError, match="timezone-aware"):
        F.distances(log.assign(timestamp=log["timestamp"].dt.tz_localize(None)), [log])
    with pytest.raises(SpecError, match="no activity instance"):
        F.distances(log, [log[log["lifecycle"] == "start"]])


# --------------------------------------------------------------------------- simulated logs
TWO_STEPS = {"name": "two", "arrivals": {"process": "deterministic", "interval": 2.0},
             "pools": {"a": 1, "b": 1},
             "steps": {"s1": {"pool": "a", "work": {"dist": "deterministic", "value": 1.0}},
                       "s2": {"pool": "b", "work": {"dist": "deterministic", "value": 1.5}}}}


def test_simulated_log_of_a_deterministic_stream_row_by_row():
    """Arrivals at 2, 4, 6; s1 takes 1, s2 takes 1.5, nobody waits; horizon 7 stops item 2 in s1.
    One hour a unit from Monday 08:00: step rows only, at the engine's order (a step's complete
    before the next step's start at the same instant), the unfinished visit with its start only."""
    rec = simulate(TWO_STEPS, horizon=7.0, seed=0, progress=False).records[0]
    log = F.simulated_log(rec, T0, H)
    expected = [("0", "s1", 2, "start", "a/1"), ("0", "s1", 3, "complete", "a/1"), ("0", "s2", 3, "start", "b/1"),
                ("1", "s1", 4, "start", "a/1"), ("0", "s2", 4.5, "complete", "b/1"), ("1", "s1", 5, "complete", "a/1"),
                ("1", "s2", 5, "start", "b/1"), ("2", "s1", 6, "start", "a/1"), ("1", "s2", 6.5, "complete", "b/1")]
    assert list(log.columns) == list(EVENT_COLUMNS)
    assert [tuple(r) for r in log.itertuples(index=False)] == [
        (c, a, T0 + h * H, life, res) for c, a, h, life, res in expected]
    assert str(log["timestamp"].dt.tz) == "Europe/Berlin"


def test_simulated_log_unit_and_origin():
    rec = simulate(TWO_STEPS, horizon=7.0, seed=0, progress=False).records[0]
    days = F.simulated_log(rec, T0, pd.Timedelta(days=1))
    assert days["timestamp"].iloc[0] == T0 + pd.Timedelta(days=2)
    assert days["timestamp"].iloc[4] == T0 + pd.Timedelta(hours=108)      # 4.5 days
    with pytest.raises(SpecError, match="origin"):
        F.simulated_log(rec, pd.Timestamp("2024-01-01"), H)


FORK_JOIN = {"name": "fj", "arrivals": {"process": "deterministic", "interval": 4.0}, "pools": {"po": 1},
             "teams": {f"t{j}": {"pools": {"dev": 1},
                                 "steps": {"work": {"pool": "dev", "work": {"dist": DET, "value": 1.0 + j}}}}
                       for j in range(2)},
             "steps": {"fork": {"split": {"into": "task", "teams": {"t0": {}, "t1": {}}}},
                       "ship": {"pool": "po", "work": {"dist": "deterministic", "value": 0.5}}}}


def test_children_are_rows_of_their_parents_case():
    """Parents at 4 and 8 split into one task for t0 (1 h) and one for t1 (2 h), joined, then ship
    (0.5 h). The children's work is in the parent's case (the parent's item id, 0 and 3: items 1, 2,
    4, 5 are the children); the split step itself is no row."""
    rec = simulate(FORK_JOIN, horizon=10.0, seed=0, progress=False).records[0]
    log = F.simulated_log(rec, T0, H)
    expected = [("0", "t0/work", 4, "start", "t0/dev/1"), ("0", "t1/work", 4, "start", "t1/dev/1"),
                ("0", "t0/work", 5, "complete", "t0/dev/1"), ("0", "t1/work", 6, "complete", "t1/dev/1"),
                ("0", "ship", 6, "start", "po/1"), ("0", "ship", 6.5, "complete", "po/1"),
                ("3", "t0/work", 8, "start", "t0/dev/1"), ("3", "t1/work", 8, "start", "t1/dev/1"),
                ("3", "t0/work", 9, "complete", "t0/dev/1")]
    assert [tuple(r) for r in log.itertuples(index=False)] == [
        (c, a, T0 + h * H, life, res) for c, a, h, life, res in expected]


def test_split_items_parts_are_rows_of_their_whole_item():
    spec = {**TWO_STEPS, "parts": 2}
    rec = simulate(spec, horizon=9.0, seed=0, progress=False).records[0]
    log = F.simulated_log(rec, T0, H)
    items = rec.visit_item[~np.isnan(rec.visit_start)]
    assert sorted(log["case_id"].unique()) == sorted({str(i // 2) for i in items})
    assert len(log[log["lifecycle"] == "start"]) == len(items)


def test_write_and_read_round_trip(tmp_path):
    rec = simulate(TWO_STEPS, horizon=7.0, seed=0, progress=False).records[0]
    log = F.simulated_log(rec, T0, H)
    path = F.write_log(log, tmp_path / "sim.csv")
    text = path.read_text().splitlines()
    assert text[0] == ",".join(EVENT_COLUMNS)
    assert text[1] == "0,s1,2024-03-04T10:00:00+01:00,start,a/1"
    back = F.read_event_csv(path)           # one offset in the file: read as that fixed offset
    assert (back["timestamp"] == log["timestamp"]).all()
    assert back.drop(columns="timestamp").equals(log.drop(columns="timestamp"))
    assert F.read_event_csv(path, tz="Europe/Berlin").equals(log)


def test_read_event_csv_refusals(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("case_id,activity,timestamp,lifecycle,resource\n1,a,2024-01-01T10:00:00+01:00,start,\n"
                 "1,a,2024-01-01T11:00:00,complete,\n")
    with pytest.raises(SpecError, match=r"row 3, column timestamp: must be ISO 8601 with an offset"):
        F.read_event_csv(p)
    p.write_text("case_id,activity,timestamp,lifecycle,resource\n1,a,2024-03-30T10:00:00+01:00,start,\n"
                 "1,a,2024-04-01T11:00:00+02:00,complete,\n")
    with pytest.raises(SpecError, match="offsets differ"):
        F.read_event_csv(p)
    assert str(F.read_event_csv(p, tz="Europe/Berlin")["timestamp"].dt.tz) == "Europe/Berlin"
    p.write_text("case_id,activity,timestamp,lifecycle,resource\n1,a,2024-01-01T10:00:00+01:00,begin,\n")
    with pytest.raises(SpecError, match="row 2, column lifecycle"):
        F.read_event_csv(p)


# --------------------------------------------------------------------------- split and baselines
def test_chronological_split():
    log = random_log(np.random.default_rng(7), n=50)
    train, test, at = F.chronological_split(log, train=0.8)
    tr, te = F.case_table(train), F.case_table(test)
    assert (len(tr), len(te)) == (40, 10)
    assert not set(tr["case_id"]) & set(te["case_id"])
    assert len(train) + len(test) == len(log)
    assert tr["first"].max() < te["first"].min() == at
    with pytest.raises(SpecError, match="train"):
        F.chronological_split(log, train=1.0)


def test_replay_baseline():
    log = random_log(np.random.default_rng(8), n=50)
    train, test, _ = F.chronological_split(log)
    replay = F.replay_baseline(train, test)
    cases, tr = F.case_table(replay), F.case_table(train)
    assert len(cases) == 10
    assert cases["first"].iloc[0] == F.case_table(test)["first"].iloc[0]
    shift = cases["first"].iloc[0] - tr["first"].iloc[0]
    assert list(cases["case_id"]) == list(tr["case_id"].iloc[:10])      # the first ten, spacing kept
    assert (cases["first"] - tr["first"].iloc[:10] == shift).all()
    assert (cases["lead_time"].to_numpy() == tr["lead_time"].iloc[:10].to_numpy()).all()
    with pytest.raises(SpecError, match="at least as many cases"):
        F.replay_baseline(test, train)


def test_naive_baseline_cases_and_arrival_rate():
    rng = np.random.default_rng(9)
    train = random_log(rng, n=400, rate=0.5)
    tr = F.case_table(train)
    gap = (tr["first"].iloc[-1] - tr["first"].iloc[0]) / H / (len(tr) - 1)     # hours between arrivals
    start = T0 + 2000 * H
    n = 1500
    naive = F.naive_baseline(train, n, np.random.default_rng(10), start)
    cases = F.case_table(naive)
    assert len(cases) == n and cases["first"].iloc[0] == start
    gaps = np.diff(cases["first"].to_numpy()) / np.timedelta64(1, "h")
    # n − 1 exponential gaps of mean `gap`: their mean within 4 standard errors
    assert abs(gaps.mean() - gap) < 4 * gap / math.sqrt(n - 1)
    # every case is a training case whole: its lead time is one of the training lead times
    assert set(cases["lead_time"]) <= set(tr["lead_time"])
    # and same seed, same baseline
    assert F.naive_baseline(train, n, np.random.default_rng(10), start).equals(naive)


def test_series_for_the_figures():
    log = make_log({"1": [("a", 0, 30)], "2": [("a", 10, 200)], "3": [("a", 20, 21)]})
    times = pd.DatetimeIndex([T0 + h * H for h in (0, 15, 25, 100)])
    assert list(F.wip_series(log, times)) == [1, 2, 2, 1]
    weeks = pd.DatetimeIndex([T0, T0 + pd.Timedelta(days=7)])
    assert list(F.weekly_throughput(log, weeks)) == [2, 1]


# --------------------------------------------------------------------------- figures and the report section
def test_figures_draw_the_real_curve_over_the_band(tmp_path):
    from vssim.report.figures import fidelity as draw

    rng = np.random.default_rng(11)
    real, sims = random_log(rng, n=80), [random_log(rng, n=80) for _ in range(3)]
    fig = draw._build_lead_time_band(real, sims, time_unit="hour")
    ax = fig.axes[0]
    real_line = [ln for ln in ax.get_lines() if ln.get_label() == "real"][0]
    assert np.allclose(real_line.get_ydata(), draw.lead_time_percentiles(real, "hour"))
    assert "hour" in ax.get_ylabel()
    paths = draw.fidelity_figures(real, sims, tmp_path, time_unit="hour")
    assert sorted(paths) == ["lead_time", "throughput", "wip"]
    assert all(p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG" for p in paths.values())


def test_fidelity_section_table():
    from vssim.report.fidelity import fidelity_section, fidelity_table

    log = random_log(np.random.default_rng(12))
    result = {"vssim": F.distances(log, [shifted(log, 1), shifted(log, 3)]), "replay": F.distances(log, [log])}
    table = fidelity_table(result).splitlines()
    assert table[0] == "| measure | unit | vssim | replay |"
    assert len(table) == 2 + len(F.MEASURES)
    row = next(r for r in table if "`absolute_event`" in r)
    assert "| 2 ± 1.4 | 0 |" in row           # mean 2, sd of {1, 3} = 1.41; one log: no sd
    text = fidelity_section(result, {"wip": "figures/wip.png"})
    assert text.startswith("## Fidelity") and "vssim: 2 logs, replay: 1 log" in text
    assert "![Work in progress](figures/wip.png)" in text
