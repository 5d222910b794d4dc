"""`vssim.read_state` (the board now) and the aging-WIP chart drawn from it."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vssim
from vssim.data.state import STATE_COLUMNS, BoardState
from vssim.errors import SpecError
from vssim.report.figures.aging import _build_aging_wip, aging_wip

STATE = """ID,Type,Class of service,Column,Entered,Started,Points
S-1,story,standard,Dev,2026-03-02 09:00,yes,3
S-2,bug,expedite,Ready,2026-03-05 10:00,,
S-3,story,standard,Test,2026-02-20 09:00,true,5
S-4,story,fixed date,Dev,2026-03-06 14:00,0,2
"""
NOW = "2026-03-09 09:00+01:00"


def write(tmp_path: Path, text: str, name: str = "state.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error(call) -> str:
    with pytest.raises(SpecError) as e:
        call()
    assert "\n" not in str(e.value)
    return str(e.value)


def test_read_state_and_age(tmp_path):
    state = vssim.read_state(write(tmp_path, STATE), tz="Europe/Berlin")
    assert isinstance(state, BoardState) and len(state) == 4
    assert tuple(state.items.columns) == STATE_COLUMNS
    assert state.columns == ("Dev", "Ready", "Test")
    it = state.items.set_index("id")
    assert it.loc["S-2", "class_of_service"] == "expedite" and it.loc["S-4", "type"] == "story"
    # explicit values, and the default for a blank: a queue column (Ready) is not started
    assert it["started"].tolist() == [True, False, True, False]
    assert it.loc["S-1", "size"] == 3 and np.isnan(it.loc["S-2", "size"])
    assert it.loc["S-3", "entered"] == pd.Timestamp("2026-02-20 09:00", tz="Europe/Berlin")
    age = state.age(NOW)
    assert age.to_dict() == {"S-1": pd.Timedelta(days=7), "S-2": pd.Timedelta(days=3, hours=23),
                             "S-3": pd.Timedelta(days=17), "S-4": pd.Timedelta(days=2, hours=19)}
    # the same instant given in another zone: the same ages
    assert state.age(pd.Timestamp("2026-03-09 08:00", tz="UTC")).equals(age)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.columns = ()


def test_state_mapping_and_columns(tmp_path):
    p = write(tmp_path, "Nr,Lane,Since\nA,Doing,2026-01-05T09:00Z\nB,Backlog,2026-01-04T09:00Z\n")
    state = vssim.read_state(p, mapping={"id": "Nr", "column": "Lane", "entered": "Since",
                                         "columns": ["Backlog", "Doing", "Done"]})
    assert state.columns == ("Backlog", "Doing", "Done")
    assert state.items["started"].tolist() == [True, False]
    assert error(lambda: vssim.read_state(p, mapping={"id": "Nr", "column": "Lane", "entered": "Since",
                                                      "columns": ["Backlog"]})) == (
        f"{p}, row 2, column 'Lane': column 'Doing' is not in mapping.columns (Backlog)")


def test_state_errors(tmp_path):
    p = write(tmp_path, STATE)
    assert error(lambda: vssim.read_state(p)) == (
        f"{p}, row 2, column 'Entered': '2026-03-02 09:00' has no time zone; pass tz='UTC' or a zone name such as "
        "tz='Europe/Berlin' (the zone the times were recorded in)")
    dup = write(tmp_path, STATE + "S-1,story,standard,Dev,2026-03-02 09:00,yes,3\n", "dup.csv")
    assert error(lambda: vssim.read_state(dup, tz="UTC")) == (
        f"{dup}, row 6, column 'ID': duplicate id 'S-1': a state has one row per item")
    bad = write(tmp_path, STATE.replace(",yes,", ",maybe,"), "bad.csv")
    assert error(lambda: vssim.read_state(bad, tz="UTC")) == (
        f"{bad}, row 2, column 'Started': started must be true or false (yes/no, 1/0), got 'maybe'")
    nodate = write(tmp_path, STATE.replace("2026-03-05 10:00", ""), "nodate.csv")
    assert error(lambda: vssim.read_state(nodate, tz="UTC")) == (
        f"{nodate}, row 3, column 'Entered': blank date: when did it enter its column?")
    nocol = write(tmp_path, "ID,Entered\nA,2026-01-01\n", "nocol.csv")
    assert error(lambda: vssim.read_state(nocol, tz="UTC")) == (
        f"{nocol}: mapping.column: no column for column: name one (mapping={{'column': 'COLUMN'}}); the file's "
        "columns: ID, Entered")
    empty = write(tmp_path, "ID,Column,Entered\n", "empty.csv")
    assert error(lambda: vssim.read_state(empty, tz="UTC")) == f"{empty}: empty log: a header but no rows"
    state = vssim.read_state(p, tz="Europe/Berlin")
    assert error(lambda: state.age("2026-03-09 09:00")) == (
        "now: '2026-03-09 09:00' has no time zone: give one (pd.Timestamp('...', tz='UTC'))")
    assert error(lambda: state.age("2026-03-01 09:00+01:00")) == (
        "now: 2026-03-01 09:00:00+01:00 is before item 'S-1' entered 'Dev' (2026-03-02 09:00:00+01:00)")


def test_aging_wip_figure(tmp_path):
    state = vssim.read_state(write(tmp_path, STATE), tz="Europe/Berlin")
    past = [3, 5, 8, 10, 12, 20, 4, 6]
    fig = _build_aging_wip(state, NOW, cycle_times=past)
    ax = fig.axes[0]
    dots = {c.get_gid(): c.get_offsets() for c in ax.collections}
    # the two items in Dev spread around x = 0 (the younger, S-4, left); S-4 and S-2 not started: hollow
    assert np.allclose(sorted(map(tuple, np.asarray(dots["started"]))), [(0.28, 7.0), (2.0, 17.0)])
    assert np.allclose(sorted(map(tuple, np.asarray(dots["waiting"]))), [(-0.28, 2 + 19 / 24), (1.0, 3 + 23 / 24)])
    lines = {ln.get_gid(): ln.get_ydata()[0] for ln in ax.get_lines()}
    assert lines == {f"p{q}": pytest.approx(np.percentile(past, q)) for q in (50, 70, 85, 95)}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Dev\n(2)", "Ready\n(1)", "Test\n(1)"]
    assert ax.get_ylabel() == "age in column (days)"
    out = aging_wip(state, NOW, tmp_path / "aging.png", unit="hour")
    assert out.stat().st_size > 10_000
    in_hours = _build_aging_wip(state, NOW, unit="hour").axes[0].collections
    hours = np.concatenate([c.get_offsets()[:, 1] for c in in_hours])
    assert np.allclose(sorted(hours), [67, 95, 168, 408])


def test_a_state_starts_a_run(tmp_path):
    """Today's board as the start of a run (time 0 = now): a build started 3 h ago on 5 h of work is
    done at 2 and tested 2..3; an item in "Ready for test" (a queue before test) waits there, not
    started, so the tester takes it at 0 (done at 1); the backlog item is built 2..7, tested 7..8;
    the stream's one arrival comes at 1000."""
    p = tmp_path / "state.csv"
    p.write_text("id,column,entered,started\nA,build,2024-03-01 09:00,yes\nB,Ready for test,2024-03-01 11:00,no\n"
                 "C,Backlog,2024-02-20 10:00,no\n")
    state = vssim.read_state(p, tz="UTC", mapping={"columns": ["Backlog", "build", "Ready for test", "test"]})
    d = {"name": "two", "time_unit": "hour", "arrivals": {"process": "deterministic", "rate": 0.001, "limit": 1},
         "pools": {"dev": 1, "qa": 1},
         "steps": {"build": {"pool": "dev", "work": {"dist": "deterministic", "value": 5.0}},
                   "test": {"pool": "qa", "work": {"dist": "deterministic", "value": 1.0}}}}
    spec = vssim.StreamSpec.from_dict(d)
    init = state.initial(spec, pd.Timestamp("2024-03-01 12:00", tz="UTC"))
    assert [(i.id, i.column, i.started, i.entered) for i in init] == [
        ("A", "build", True, -3.0), ("B", "test", False, -1.0), ("C", "backlog", False, -242.0)]
    rec = vssim.simulate(spec, horizon=None, initial=init, progress=False).records[0]
    assert sorted(rec.done.tolist()) == [1.0, 3.0, 8.0, 1006.0]     # and the one arrival, at 1000
    with pytest.raises(vssim.SpecError, match="columns.Nowhere"):
        bad = tmp_path / "bad.csv"
        bad.write_text("id,column,entered\nX,Nowhere,2024-03-01 09:00\n")
        vssim.read_state(bad, tz="UTC").initial(spec, pd.Timestamp("2024-03-01 12:00", tz="UTC"))
