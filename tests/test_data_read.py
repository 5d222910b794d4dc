"""The importers of vssim/data: exact small logs written here, every one-line error, backward moves,
first-in-first-out pairing, time zones, XES safety, a round trip, and the BPIC logs when fetched."""
from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vssim
from vssim.data import EVENT_COLUMNS, EventLog, read_log
from vssim.data.transitions import dominant_order
from vssim.errors import SpecError

BPIC = Path(__file__).resolve().parent.parent / "data" / "bpic"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text.lstrip("\n"), encoding="utf-8")
    return p


def error(call) -> str:
    with pytest.raises(SpecError) as e:
        call()
    message = str(e.value)
    assert "\n" not in message
    return message


def ts(text: str, tz: str = "Europe/Berlin") -> pd.Timestamp:
    return pd.Timestamp(text, tz=tz)


BOARD = """
ID,Link,Title,Backlog,Analysis,Dev,Dev done,Test,Done,Type,Class of service,Points
A-1,http://x/1,first,2026-03-02,2026-03-03,2026-03-05,2026-03-09,2026-03-10,2026-03-12,story,standard,3
A-2,,second,2026-03-02,,2026-03-04,,2026-03-06,,bug,expedite,
A-3,,third,2026-03-01,2026-03-02,2026-03-08,,2026-03-05,2026-03-11,story,standard,5
"""


# ---------------------------------------------------------------------------- board export
def test_board_stays_queues_and_backward_moves(tmp_path):
    log = read_log(write(tmp_path, "board.csv", BOARD), "board", tz="Europe/Berlin")
    assert log.kind == "board"
    assert log.stages == ("Backlog", "Analysis", "Dev", "Dev done", "Test")     # Done: finished, no stay
    assert log.queues == frozenset({"Backlog", "Dev done"})
    # A-3 entered Test (03-05) before Dev (03-08): sent back from Test to Dev, one backward move
    assert log.backward_moves == 1
    a3 = log.activities[log.activities["case"] == "A-3"]
    assert list(a3["activity"]) == ["Backlog", "Analysis", "Test", "Dev"]
    assert list(a3["start"]) == [ts("2026-03-01"), ts("2026-03-02"), ts("2026-03-05"), ts("2026-03-08")]
    assert list(a3["end"]) == [ts("2026-03-02"), ts("2026-03-05"), ts("2026-03-08"), ts("2026-03-11")]
    a2 = log.activities[log.activities["case"] == "A-2"]
    assert list(a2["activity"]) == ["Backlog", "Dev", "Test"]          # blanks: skipped stages
    assert a2["end"].isna().tolist() == [False, False, True]           # still in Test
    a1 = log.activities[log.activities["case"] == "A-1"]
    days = ((a1["end"] - a1["start"]).dt.total_seconds() / 86400).tolist()
    assert days == [1, 2, 4, 1, 2]
    c = log.cases.set_index("case")
    assert list(log.cases.columns[:6]) == ["case", "first", "type", "class_of_service", "team", "size"]
    assert c.loc["A-2", "type"] == "bug" and c.loc["A-2", "class_of_service"] == "expedite"
    assert c.loc["A-1", "size"] == 3 and np.isnan(c.loc["A-2", "size"])
    assert c.loc["A-3", "first"] == ts("2026-03-01")
    assert c.loc["A-1", "done"] == ts("2026-03-12") and pd.isna(c.loc["A-2", "done"])
    assert str(log.activities["start"].dtype) == "datetime64[ns, Europe/Berlin]"
    assert str(log.cases["first"].dtype) == str(log.cases["done"].dtype) == "datetime64[ns, Europe/Berlin]"
    ev = log.events()
    assert tuple(ev.columns) == EVENT_COLUMNS
    assert len(ev) == 2 * len(log.activities) - 1                     # one open stay: no complete


def test_board_mapping_names_stages_and_queues(tmp_path):
    p = write(tmp_path, "b.csv", """
Key,Todo,Doing,Waiting,Shipped,Squad
K1,2026-01-05T09:00:00Z,2026-01-06T09:00:00Z,2026-01-07T09:00:00Z,2026-01-09T09:00:00Z,red
""")
    log = read_log(p, "board", {"id": "Key", "team": "Squad", "stages": ["Todo", "Doing", "Shipped"],
                                "queues": ["Todo"], "done": "Shipped"})
    assert log.stages == ("Todo", "Doing") and log.queues == frozenset({"Todo"})
    assert log.activities["end"].tolist() == [pd.Timestamp("2026-01-06T09:00Z"), pd.Timestamp("2026-01-09T09:00Z")]
    assert log.cases["team"].tolist() == ["red"]
    # without a done stage the last stay stays open
    log = read_log(p, "board", {"id": "Key", "stages": ["Todo", "Doing", "Shipped"], "done": None})
    assert log.stages == ("Todo", "Doing", "Shipped") and pd.isna(log.activities["end"].iloc[-1])


def test_board_errors(tmp_path):
    f = write(tmp_path, "b.csv", BOARD)
    assert error(lambda: read_log(f, "board", {"stages": ["Dev", "QA"]}, tz="UTC")) == (
        f"{f}: mapping.stages: names column 'QA', which the file does not have; its columns: ID, Link, Title, "
        "Backlog, Analysis, Dev, Dev done, Test, Done, Type, Class of service, Points")
    assert error(lambda: read_log(f, "board", {"id": "Nr"}, tz="UTC")).startswith(
        f"{f}: mapping.id: names column 'Nr', which the file does not have")
    assert error(lambda: read_log(f, "board", {"colour": "Type"}, tz="UTC")) == (
        f"{f}: mapping.colour: unknown key; allowed: id, link, title, stages, queues, done, type, "
        "class_of_service, team, size")
    assert error(lambda: read_log(f, "board", {"queues": ["Review"]}, tz="UTC")).startswith(
        f"{f}: mapping.queues: 'Review' is not a stage")
    assert error(lambda: read_log(f, "board")) == (
        f"{f}, row 2, column 'Backlog': '2026-03-02' has no time zone; pass tz='UTC' or a zone name such as "
        "tz='Europe/Berlin' (the zone the times were recorded in)")
    dup = write(tmp_path, "dup.csv", "ID,Dev,Test\nA,2026-01-01,2026-01-02\nB,2026-01-01,\nA,2026-01-03,\n")
    assert error(lambda: read_log(dup, "board", tz="UTC")) == (
        f"{dup}, row 4, column 'ID': duplicate id 'A' (first on row 2): a board export has one row per item")
    bad = write(tmp_path, "bad.csv", "ID,Dev,Test\nA,2026-01-01,2026-01-02\nB,2026-01-01,soon\n")
    assert error(lambda: read_log(bad, "board", tz="UTC")) == (
        f"{bad}, row 3, column 'Test': unparseable date 'soon'; allowed: ISO 8601 (2026-03-02 or "
        "2026-03-02T09:30:00+01:00), 31/12/2026, 12/31/2026 or 2 Mar 2026")
    empty = write(tmp_path, "empty.csv", "ID,Dev,Test\n")
    assert error(lambda: read_log(empty, "board", tz="UTC")) == f"{empty}: empty log: a header but no rows"
    nothing = write(tmp_path, "nothing.csv", "")
    assert error(lambda: read_log(nothing, "board", tz="UTC")) == (
        f"{nothing}: empty log: the file has no header and no rows")
    undated = write(tmp_path, "undated.csv", "ID,Dev,Test\nA,,\n")
    assert error(lambda: read_log(undated, "board", tz="UTC")) == (
        f"{undated}: empty log: no item has a date in any stage (Dev, Test)")
    blank = write(tmp_path, "blank.csv", "ID,Dev\nA,2026-01-01\n,2026-01-02\n")
    assert error(lambda: read_log(blank, "board", tz="UTC")) == f"{blank}, row 3, column 'ID': blank id"
    assert error(lambda: read_log(tmp_path / "missing.csv", "board")) == f"{tmp_path / 'missing.csv'}: no such file"
    assert error(lambda: read_log(f, "board", tz="Mars/Olympus")) == (
        f"{f}: tz: must be an IANA time zone name such as 'Europe/Berlin', or 'UTC', got 'Mars/Olympus'")
    pts = write(tmp_path, "pts.csv", "ID,Dev,Points\nA,2026-01-01,3\nB,2026-01-01,lots\n")
    assert error(lambda: read_log(pts, "board", tz="UTC")) == (
        f"{pts}, row 3, column 'Points': size must be a number (points or days), got 'lots'")


def test_day_month_order(tmp_path):
    # every date reads both ways and some differ: ambiguous unless dayfirst is given
    amb = write(tmp_path, "amb.csv", "ID,Dev,Test\nA,02/03/2026,04/03/2026\nB,05/03/2026,\n")
    assert error(lambda: read_log(amb, "board", tz="UTC")) == (
        f"{amb}, row 2, column 'Dev': ambiguous date '02/03/2026': every numeric date in the file reads both day "
        "first and month first; pass dayfirst=True (31/12) or dayfirst=False (12/31)")
    d = read_log(amb, "board", tz="UTC", dayfirst=True)
    assert d.activities["start"].iloc[0] == pd.Timestamp("2026-03-02", tz="UTC")
    m = read_log(amb, "board", tz="UTC", dayfirst=False)
    assert m.activities["start"].iloc[0] == pd.Timestamp("2026-02-03", tz="UTC")
    # one value that only reads day first decides for the whole file (another column included)
    dec = write(tmp_path, "dec.csv", "ID,Dev,Test\nA,02/03/2026,04/03/2026\nB,05/03/2026,13/03/2026 10:30\n")
    log = read_log(dec, "board", tz="UTC")
    assert log.activities["start"].tolist()[:2] == [pd.Timestamp("2026-03-02", tz="UTC"),
                                                    pd.Timestamp("2026-03-04", tz="UTC")]
    assert log.activities["start"].iloc[-1] == pd.Timestamp("2026-03-13 10:30", tz="UTC")
    # values that force both orders: refused, naming both
    both = write(tmp_path, "both.csv", "ID,Dev,Test\nA,13/03/2026,\nB,03/14/2026,\n")
    assert error(lambda: read_log(both, "board", tz="UTC")) == (
        f"{both}, row 3, column 'Dev': '03/14/2026' reads only month first, but '13/03/2026' (row 2, column 'Dev') "
        "reads only day first: a file uses one order; fix the odd dates")
    # day == month: the same date either way, not ambiguous; month names: never ambiguous
    same = write(tmp_path, "same.csv", "ID,Dev,Test\nA,03/03/2026,2 Apr 2026\n")
    assert read_log(same, "board", tz="UTC").activities["end"].iloc[0] == pd.Timestamp("2026-04-02", tz="UTC")


def test_time_zones(tmp_path):
    p = write(tmp_path, "tz.csv", """
case,activity,timestamp,lifecycle
c1,build,2026-03-28T23:30:00+00:00,start
c1,build,2026-03-29 03:30,complete
""")
    # the offset is converted; the naive time is wall clock in the zone given
    log = read_log(p, "events", tz="Europe/Berlin")
    a = log.activities.iloc[0]
    assert a["start"] == pd.Timestamp("2026-03-29T00:30:00+01:00")
    assert a["end"] == pd.Timestamp("2026-03-29T03:30:00+02:00")            # after the spring change
    assert (a["end"] - a["start"]) == pd.Timedelta(hours=2)                # 3 wall-clock hours, 2 real
    assert error(lambda: read_log(p, "events")).startswith(f"{p}, row 3, column 'timestamp': '2026-03-29 03:30' "
                                                           "has no time zone; pass tz='UTC'")
    gap = write(tmp_path, "gap.csv", "case,activity,timestamp\nc1,build,2026-03-29 02:30\n")
    assert error(lambda: read_log(gap, "events", tz="Europe/Berlin")) == (
        f"{gap}, row 2, column 'timestamp': 2026-03-29 02:30:00 does not exist or exists twice in Europe/Berlin "
        "(a daylight saving change); give the offset (+01:00) in the file")
    # offsets only, no tz: read in UTC
    aware = write(tmp_path, "aware.csv", "case,activity,timestamp\nc1,a,2026-07-01T12:00:00+02:00\n")
    assert str(read_log(aware, "events").activities["end"].dtype) == "datetime64[ns, UTC]"


# ---------------------------------------------------------------------------- transitions
TRANSITIONS = """
key,from,status,timestamp,type
J-1,,To Do,2026-03-02T09:00:00+01:00,story
J-1,To Do,In Progress,2026-03-03T10:00:00+01:00,
J-2,,To Do,2026-03-02T11:00:00+01:00,bug
J-1,In Progress,Review,2026-03-04T10:00:00+01:00,
J-2,To Do,In Progress,2026-03-05T09:00:00+01:00,
J-1,Review,In Progress,2026-03-05T10:00:00+01:00,
J-1,In Progress,Review,2026-03-06T10:00:00+01:00,
J-1,Review,Done,2026-03-07T10:00:00+01:00,
"""


def test_transitions_stays_reopen_and_order(tmp_path):
    log = read_log(write(tmp_path, "t.csv", TRANSITIONS), "transitions", tz="Europe/Berlin")
    assert log.kind == "transitions"
    assert log.stages == ("To Do", "In Progress", "Review")             # dominant order; Done: finished
    assert log.queues == frozenset({"To Do"})
    assert log.backward_moves == 1                                      # Review -> In Progress
    j1 = log.activities[log.activities["case"] == "J-1"]
    assert list(j1["activity"]) == ["To Do", "In Progress", "Review", "In Progress", "Review"]
    hours = ((j1["end"] - j1["start"]).dt.total_seconds() / 3600).tolist()
    assert hours == [25, 24, 24, 24, 24]
    j2 = log.activities[log.activities["case"] == "J-2"]
    assert pd.isna(j2["end"].iloc[-1])
    c = log.cases.set_index("case")
    assert c.loc["J-1", "type"] == "story" and c.loc["J-2", "type"] == "bug"
    assert c.loc["J-1", "done"] == pd.Timestamp("2026-03-07T10:00:00+01:00")
    f = tmp_path / "t.csv"
    assert error(lambda: read_log(f, "transitions", {"stages": ["To Do", "In Progress", "Done"]}, tz="UTC")) == (
        f"{f}, row 5, column 'status': status 'Review' is not in mapping.stages (To Do, In Progress, Done)")


def test_dominant_order_by_first_visits():
    # b before c for two items, c before b for one: b first; a reopen does not reorder
    case = np.array(["1", "1", "1", "2", "2", "2", "3", "3", "3", "3"], dtype=object)
    status = np.array(["a", "b", "c", "a", "b", "c", "a", "c", "b", "a"], dtype=object)
    assert dominant_order(case, status) == ["a", "b", "c"]


# ---------------------------------------------------------------------------- CSV event logs
def test_fifo_pairing_per_case_and_activity(tmp_path):
    p = write(tmp_path, "ev.csv", """
case_id,activity,timestamp,lifecycle,resource
c1,review,2026-01-05T09:00:00Z,start,ann
c1,review,2026-01-05T10:00:00Z,start,bob
c2,review,2026-01-05T10:30:00Z,start,cid
c1,review,2026-01-05T11:00:00Z,complete,ann
c1,review,2026-01-05T12:00:00Z,complete,bob
c1,test,2026-01-05T12:00:00Z,complete,dan
c2,review,2026-01-05T12:30:00Z,schedule,cid
c2,test,2026-01-05T13:00:00Z,start,eve
""")
    log = read_log(p, "events")
    a = log.activities
    r1 = a[(a["case"] == "c1") & (a["activity"] == "review")]
    # first in, first out: the 09:00 start closes at 11:00, the 10:00 one at 12:00
    assert r1["start"].tolist() == [pd.Timestamp("2026-01-05T09:00Z"), pd.Timestamp("2026-01-05T10:00Z")]
    assert r1["end"].tolist() == [pd.Timestamp("2026-01-05T11:00Z"), pd.Timestamp("2026-01-05T12:00Z")]
    assert r1["resource"].tolist() == ["ann", "bob"]
    t1 = a[(a["case"] == "c1") & (a["activity"] == "test")]
    assert pd.isna(t1["start"].iloc[0]) and t1["end"].iloc[0] == pd.Timestamp("2026-01-05T12:00Z")
    r2 = a[(a["case"] == "c2") & (a["activity"] == "review")]
    assert pd.isna(r2["end"].iloc[0])                                  # another case's complete never closes it
    assert len(a) == 5
    assert log.notes == ("lifecycle transitions skipped: schedule (1)", "1 completes without an open start "
                         "(start unknown)", "2 starts never completed (end unknown)")
    assert log.stages == ("review", "test")
    assert log.cases["first"].tolist() == [pd.Timestamp("2026-01-05T09:00Z"), pd.Timestamp("2026-01-05T10:30Z")]


def test_lifecycle_words_and_start_end_columns(tmp_path):
    p = write(tmp_path, "ev.csv", """
Case,Task,When,Event,Who
7,pack,2026-01-05 09:00,BEGIN,x
7,pack,2026-01-05 09:45,END,x
""")
    log = read_log(p, "events", {"case": "Case", "activity": "Task", "timestamp": "When", "lifecycle": "Event",
                                 "resource": "Who", "start_value": "begin", "complete_value": ["end", "done"]},
                   tz="UTC")
    assert (log.activities["end"] - log.activities["start"]).tolist() == [pd.Timedelta(minutes=45)]
    iv = write(tmp_path, "iv.csv", """
case,activity,start,end,resource,cost
a,fix,2026-01-05T09:00Z,2026-01-05T10:00Z,r1,5
a,check,2026-01-05T10:00Z,2026-01-05T09:30Z,r2,1
""")
    assert error(lambda: read_log(iv, "events", {"attributes": ["cost"]})) == (
        f"{iv}, row 3, column 'end': completion '2026-01-05T09:30Z' before its own start '2026-01-05T10:00Z' "
        "(column 'start')")
    ok = write(tmp_path, "ok.csv", "case,activity,start,end,cost\na,fix,2026-01-05T09:00Z,2026-01-05T10:00Z,5\n"
                                   "a,check,2026-01-05T10:00Z,,1\n")
    log = read_log(ok, "events", {"attributes": ["cost"]})
    assert log.activities["cost"].tolist() == ["5", "1"] and pd.isna(log.activities["end"].iloc[1])
    assert error(lambda: read_log(ok, "events", {"attributes": ["price"]})).startswith(
        f"{ok}: mapping.attributes: names column 'price', which the file does not have")
    nocase = write(tmp_path, "nocase.csv", "activity,timestamp\nfix,2026-01-05T09:00Z\n")
    assert error(lambda: read_log(nocase, "events")) == (
        f"{nocase}: mapping.case: no column for case: name one (mapping={{'case': 'COLUMN'}}); the file's "
        "columns: activity, timestamp")


def test_read_log_format(tmp_path):
    p = write(tmp_path, "x.csv", "case,activity,timestamp\na,b,2026-01-01T00:00Z\n")
    assert error(lambda: read_log(p)) == (
        f"{p}: format: cannot tell a CSV's layout from its name: pass format='board', 'transitions' or 'events'")
    assert error(lambda: read_log(p, "kanban")) == (
        f"{p}: format: must be 'board', 'transitions' or 'events', got 'kanban'")
    assert vssim.read_log is read_log and "read_log" in vssim.__all__ and "read_state" in vssim.__all__
    gz = tmp_path / "x.csv.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    assert read_log(gz, "events").activities["end"].tolist() == [pd.Timestamp("2026-01-01T00:00Z")]


# ---------------------------------------------------------------------------- XES
XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <global scope="event"><string key="concept:name" value="__INVALID__"/></global>
  <trace>
    <string key="concept:name" value="T1"/>
    <string key="type" value="loan"/>
    <event>
      <string key="concept:name" value="W_check"/>
      <string key="lifecycle:transition" value="schedule"/>
      <date key="time:timestamp" value="2012-01-02T08:00:00.000+01:00"/>
    </event>
    <event>
      <string key="concept:name" value="W_check"/>
      <string key="lifecycle:transition" value="start"/>
      <string key="org:resource" value="112"/>
      <date key="time:timestamp" value="2012-01-02T09:00:00.000+01:00"/>
    </event>
    <event>
      <string key="concept:name" value="W_check"/>
      <string key="lifecycle:transition" value="complete"/>
      <string key="org:resource" value="112"/>
      <date key="time:timestamp" value="2012-01-02T09:30:00.250+01:00"/>
      <list key="nested"><string key="concept:name" value="ignored"/></list>
    </event>
  </trace>
  <trace>
    <string key="concept:name" value="T2"/>
    <event>
      <string key="concept:name" value="A_submit"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2012-07-02T10:00:00.000+02:00"/>
    </event>
  </trace>
</log>
"""


@pytest.mark.parametrize("gz", [False, True])
def test_xes(tmp_path, gz):
    p = tmp_path / ("log.xes.gz" if gz else "log.xes")
    p.write_bytes(gzip.compress(XES.encode()) if gz else XES.encode())
    log = read_log(p, tz="Europe/Amsterdam")
    assert log.kind == "events" and log.n_cases == 2
    a = log.activities
    assert a["case"].tolist() == ["T1", "T2"] and a["activity"].tolist() == ["W_check", "A_submit"]
    assert a["start"].iloc[0] == pd.Timestamp("2012-01-02T09:00:00+01:00")
    assert a["end"].iloc[0] == pd.Timestamp("2012-01-02T09:30:00.250+01:00")
    assert pd.isna(a["start"].iloc[1]) and a["end"].iloc[1] == pd.Timestamp("2012-07-02T10:00:00+02:00")
    assert a["resource"].tolist()[0] == "112"
    assert log.cases.set_index("case").loc["T1", "type"] == "loan"
    assert log.notes == ("lifecycle transitions skipped: schedule (1)",
                         "1 completes without an open start (start unknown)")


def test_xes_refuses_entities_and_broken_xml(tmp_path):
    lol = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
           + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
                     for i in range(1, 10))
           + ']>\n<log><trace><string key="concept:name" value="&lol9;"/></trace></log>\n')
    bomb = write(tmp_path, "bomb.xes", lol)
    t0 = time.perf_counter()
    assert error(lambda: read_log(bomb)) == (
        f"{bomb}: refused: the XES declares an entity ('lol'); vssim reads XML without entity expansion "
        "(billion laughs) or external entities")
    assert time.perf_counter() - t0 < 5
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    xxe = write(tmp_path, "xxe.xes", f'<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
                                      '<log><trace><string key="concept:name" value="&xxe;"/></trace></log>\n')
    message = error(lambda: read_log(xxe))
    assert message == (f"{xxe}: refused: the XES declares an entity ('xxe'); vssim reads XML without entity "
                       "expansion (billion laughs) or external entities")
    assert "password" not in message
    dtd = write(tmp_path, "dtd.xes", '<?xml version="1.0"?>\n<!DOCTYPE log SYSTEM "http://example.invalid/x.dtd">\n'
                                     '<log><trace><event/></trace></log>\n')
    assert error(lambda: read_log(dtd)) == (
        f"{dtd}: refused: the XES refers to an external resource or DTD (ExternalReferenceForbidden); vssim reads "
        "XML without external references")
    broken = write(tmp_path, "broken.xes", "<log>\n<trace>\n</log>\n")
    assert error(lambda: read_log(broken)) == f"{broken}, line 3, column 2: not well-formed XML (mismatched tag)"
    empty = write(tmp_path, "empty.xes", "<log></log>")
    assert error(lambda: read_log(empty)) == f"{empty}: empty log: no event in any trace"
    gz = tmp_path / "trunc.xes.gz"
    gz.write_bytes(gzip.compress(XES.encode())[:60])
    assert error(lambda: read_log(gz)).startswith(f"{gz}: cannot read: ")
    assert error(lambda: read_log(bomb, "board")) == (
        f"{bomb}: format: an XES file is an event log: format='events' or 'transitions'")


def test_xes_status_changes(tmp_path):
    moves = [("Queued", "08"), ("Accepted", "09"), ("Queued", "11"), ("Accepted", "12"), ("Completed", "13")]
    xes = ('<log><trace><string key="concept:name" value="i1"/>'
           + "".join(f'<event><string key="concept:name" value="{s}"/>'
                     f'<date key="time:timestamp" value="2012-01-02T{h}:00:00+01:00"/></event>' for s, h in moves)
           + "</trace></log>")
    log = read_log(write(tmp_path, "inc.xes", xes), "transitions", tz="UTC")
    # Completed is the finished status: its entry ends the last stay and is the case's done time
    assert log.stages == ("Queued", "Accepted") and log.backward_moves == 1
    assert log.queues == frozenset({"Queued"})
    hours = ((log.activities["end"] - log.activities["start"]).dt.total_seconds() / 3600).tolist()
    assert hours == [1, 2, 1, 1]
    assert log.cases["done"].iloc[0] == pd.Timestamp("2012-01-02T12:00:00Z")


# ---------------------------------------------------------------------------- round trip
names = st.sampled_from(["plan", "build", "test", "ship"])


@st.composite
def event_logs(draw):
    rows = []
    base = pd.Timestamp("2026-03-01T08:00:00", tz="Europe/Berlin")
    for c in range(draw(st.integers(1, 5))):
        t = base + pd.Timedelta(minutes=draw(st.integers(0, 10_000)))
        for _ in range(draw(st.integers(1, 4))):
            start = t + pd.Timedelta(minutes=draw(st.integers(0, 600)))
            end = start + pd.Timedelta(minutes=draw(st.integers(0, 600)))
            rows.append((f"case{c}", draw(names), start, end, draw(st.sampled_from(["ann", "bob"]))))
            t = end
    acts = pd.DataFrame(rows, columns=["case", "activity", "start", "end", "resource"])
    acts["resource"] = acts["resource"].astype("string")
    cases = acts.groupby("case", as_index=False)["start"].min().rename(columns={"start": "first"})
    return EventLog(activities=acts, cases=cases, kind="events", stages=tuple(dict.fromkeys(acts["activity"])))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event_logs())
def test_round_trip_through_the_event_layout(tmp_path, log):
    ev = log.events()
    out = ev.assign(timestamp=ev["timestamp"].map(lambda t: t.isoformat()))
    p = tmp_path / "rt.csv"
    out.to_csv(p, index=False)
    back = read_log(p, "events", tz="Europe/Berlin")
    key = ["case", "activity", "start", "end"]
    want = log.activities[key + ["resource"]].sort_values(key).reset_index(drop=True)
    got = back.activities[key + ["resource"]].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


# ---------------------------------------------------------------------------- the BPIC logs
def bpic(name: str) -> Path:
    p = BPIC / name
    if not p.exists():
        pytest.skip("BPIC logs not fetched: run tools/fetch_bpic.py")
    return p


def test_bpic_2012_work_items():
    log = read_log(bpic("bpic2012.xes.gz"))
    w = log.activities[log.activities["activity"].str.startswith("W_")]
    assert log.n_cases == 13087
    paired = w["start"].notna() & w["end"].notna()
    assert paired.sum() > 0.95 * len(w)            # W_ items have start and complete events
    assert ((w["end"] - w["start"])[paired] >= pd.Timedelta(0)).all()
    assert w["case"].nunique() == 9658             # the W_ cases of the 80/20 split (7,726 + 1,932)


def test_bpic_2013_incidents_status_changes():
    log = read_log(bpic("bpic2013_incidents.xes.gz"), "transitions",
                   {"status": ["concept:name", "lifecycle:transition"]})
    assert log.n_cases == 7554
    assert log.backward_moves > 0 and "Queued / Awaiting Assignment" in log.queues
    assert log.stages[-1] == "Completed / Resolved"          # "Completed / Closed": the finished status
    assert log.cases["done"].notna().sum() == 5574            # incidents closed in the extract
    assert (log.activities["end"].dropna() >= log.activities["start"][log.activities["end"].notna()]).all()


def test_board_small_rules(tmp_path):
    f = write(tmp_path, "b.csv", "ID,Dev,Test\nA,2026-01-01,2026-01-02\nB,,\nC,2026-01-01,2026-01-01\n")
    log = read_log(f, "board", tz="UTC")
    assert log.n_cases == 2 and log.notes == ("1 items without any stage date skipped (rows 3)",)
    c = log.activities[log.activities["case"] == "C"]               # same day: board order, zero-length stay
    assert c["activity"].tolist() == ["Dev", "Test"] and c["end"].iloc[0] == c["start"].iloc[0]
    assert log.backward_moves == 0
    assert error(lambda: read_log(f, "board", {"stages": "Dev"}, tz="UTC")) == (
        f"{f}: mapping.stages: must be a list of names, got 'Dev'")
    twice = write(tmp_path, "twice.csv", "ID,Dev,Dev\nA,2026-01-01,2026-01-02\n")
    assert error(lambda: read_log(twice, "board", tz="UTC")) == (
        f"{twice}, row 1: column 'Dev' appears twice in the header")


def test_transitions_from_column_gives_the_first_status(tmp_path):
    # a Jira changelog: no row for the status an item was created in; the from column names it
    p = write(tmp_path, "jira.csv", """
Issue key,From Status,To Status,Changed,Issue Type
P-1,Open,In Progress,2026-03-02T09:00:00+01:00,Story
P-1,In Progress,Review,2026-03-03T09:00:00+01:00,
P-2,Open,In Progress,2026-03-02T12:00:00+01:00,Bug
P-1,Review,Closed,2026-03-04T09:00:00+01:00,
P-3,Review,In Progress,2026-03-05T09:00:00+01:00,Bug
""")
    log = read_log(p, "transitions", {"item": "Issue key", "from": "From Status", "status": "To Status",
                                      "timestamp": "Changed", "type": "Issue Type"})
    assert log.stages == ("Open", "In Progress", "Review")             # Closed: finished
    a = log.activities
    assert a["activity"].tolist() == ["Open", "In Progress", "Review", "Open", "In Progress", "Review", "In Progress"]
    assert a["start"].isna().tolist() == [True, False, False, True, False, True, False]
    assert a["end"].iloc[0] == pd.Timestamp("2026-03-02T09:00:00+01:00")
    assert log.backward_moves == 1                                      # P-3: Review -> In Progress
    assert log.cases["done"].notna().tolist() == [True, False, False]
    assert error(lambda: read_log(p, "transitions", {"from": "From Status", "status": "To Status",
                                                     "stages": ["In Progress", "Review", "Closed"]}, tz="UTC")) == (
        f"{p}, row 2, column 'From Status': status 'Open' is not in mapping.stages (In Progress, Review, Closed)")


@st.composite
def boards(draw):
    n_stages = draw(st.integers(2, 5))
    items = []
    for _ in range(draw(st.integers(1, 6))):
        days = [draw(st.one_of(st.none(), st.integers(0, 30))) for _ in range(n_stages)]
        if all(d is None for d in days):
            days[0] = 0
        items.append(days)
    return n_stages, items


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(boards())
def test_board_invariants(tmp_path, board):
    """Stays chain without gaps in time order, span the item's dates, and every descent in board
    order of the time-ordered visits is one backward move."""
    n_stages, items = board
    stages = [f"S{j}" for j in range(n_stages)]
    day0 = pd.Timestamp("2026-01-01", tz="UTC")
    lines = ["ID," + ",".join(stages)]
    for i, days in enumerate(items):
        lines.append(f"I{i}," + ",".join("" if d is None else (day0 + pd.Timedelta(days=d)).strftime("%Y-%m-%d")
                                         for d in days))
    p = tmp_path / "board.csv"
    p.write_text("\n".join(lines) + "\n")
    log = read_log(p, "board", {"done": None}, tz="UTC")
    descents = 0
    for i, days in enumerate(items):
        visits = sorted((d, j) for j, d in enumerate(days) if d is not None)
        descents += sum(b[1] < a[1] for a, b in zip(visits[:-1], visits[1:], strict=True))
        a = log.activities[log.activities["case"] == f"I{i}"]
        assert a["activity"].tolist() == [stages[j] for _, j in visits]
        assert a["start"].tolist() == [day0 + pd.Timedelta(days=d) for d, _ in visits]
        assert a["end"].iloc[:-1].tolist() == a["start"].iloc[1:].tolist() and pd.isna(a["end"].iloc[-1])
    assert log.backward_moves == descents
