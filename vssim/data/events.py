"""Event logs: CSV with a column mapping, and XES (`.xes`, `.xes.gz`).

An activity instance is a case at an activity from its start to its complete. A CSV gives them as
one row per event with a lifecycle column (`start` / `complete`; other transitions such as
`schedule` are skipped and counted in the notes), as one row per instance with start and end
columns, or as completions only (a timestamp and no lifecycle: starts unknown, NaT). Starts and
completes are paired first in, first out per case and activity in time order, the pairing the
process-simulation literature uses (Simod's evaluation, log-distance-measures): a complete closes
the oldest open start of its case and activity; a complete with none open is an instance with an
unknown start, a start never closed one with an unknown end (both counted in the notes).

XES is read with `defusedxml`'s expat reader, streamed in 64 KB chunks through a SAX handler that
keeps only the values it needs (no DOM, no element tree: a 100 MB log costs its collected values).
SAX rather than defusedxml's `iterparse`: that drives the pure-Python ElementTree parser and builds
an element per attribute; on BPIC 2012 the SAX scan was faster (docs/data.md). defusedxml refuses
entity declarations (the billion-laughs expansion), external entities and external DTDs; each
becomes a one-line error here.

Why not pm4py's reader: pm4py (2.7.23 today) requires cvxopt, lxml, networkx, scipy, matplotlib,
graphviz, pytz and tqdm for any use, is AGPL-3.0-or-later (2.2.32 was GPL-3.0), and its XES
importer calls `lxml.etree.iterparse` with lxml's defaults, which expand internal entities. It
does not pin old numpy or pandas (its optional `stable` extra pins exact current versions). A log
reader needs none of that: defusedxml is one pure-Python package over the standard library's expat.
"""
from __future__ import annotations

import gzip
import xml.sax
import xml.sax.handler
from collections import defaultdict, deque
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from vssim.data._common import (
    ATTRIBUTES,
    attribute_columns,
    case_table,
    check_mapping,
    column,
    name_list,
    read_text_csv,
)
from vssim.data._times import check_tz, parse_times, where
from vssim.data.log import ACTIVITY_COLUMNS, EventLog
from vssim.errors import SpecError

CSV_KEYS = ("case", "activity", "timestamp", "lifecycle", "start", "end", "resource", "start_value",
            "complete_value", "attributes", *ATTRIBUTES)
XES_KEYS = ("case", "activity", "timestamp", "lifecycle", "resource", "start_value", "complete_value", *ATTRIBUTES)
CASE_NAMES = ("case_id", "case", "case:concept:name", "caseid", "case id", "trace")
ACTIVITY_NAMES = ("activity", "concept:name", "task", "event")
TIME_NAMES = ("timestamp", "time:timestamp", "time", "date")
LIFECYCLE_NAMES = ("lifecycle", "lifecycle:transition", "transition", "event_type")
START_NAMES = ("start", "start_time", "start_timestamp", "starttime", "start time")
END_NAMES = ("end", "end_time", "end_timestamp", "endtime", "end time", "complete_time", "complete_timestamp")
RESOURCE_NAMES = ("resource", "org:resource", "user", "agent")


def _lifecycle(life: np.ndarray, mapping: dict, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(is a start, is kept) per event from its lowercased lifecycle word; the words neither start nor
    complete (schedule, suspend, ...) are skipped, and counted in `notes`."""
    starts, completes = _values(mapping, "start_value", "start"), _values(mapping, "complete_value", "complete")
    is_start = np.isin(life, list(starts))
    keep = is_start | np.isin(life, list(completes))
    if (~keep).any():
        skipped = pd.Series(life[~keep]).value_counts()
        notes.append("lifecycle transitions skipped: " + ", ".join(f"{k} ({v})" for k, v in skipped.items()))
    return is_start, keep


def _values(mapping: dict, key: str, default: str) -> set[str]:
    v = mapping.get(key, default)
    return {str(x).strip().lower() for x in ([v] if isinstance(v, str) else v)}


def pair_fifo(case: np.ndarray, activity: np.ndarray, is_start: np.ndarray, time: pd.Series,
              resource: np.ndarray) -> tuple[pd.DataFrame, int, int]:
    """Activity instances from start and complete events (module docstring): the instances, the
    completes without a start and the starts without a complete.

    Events are taken in time order, a start before a complete at the same instant (an instance of
    zero length), then in the given order.
    """
    n = len(case)
    t = time.to_numpy(dtype="datetime64[ns]")   # UTC instants
    order = np.lexsort((np.arange(n), ~is_start, t))
    open_starts: dict[tuple, deque] = defaultdict(deque)
    start_i: list[int] = []
    end_i: list[int] = []
    for i in order:
        key = (case[i], activity[i])
        if is_start[i]:
            open_starts[key].append(len(start_i))
            start_i.append(i)
            end_i.append(-1)
        else:
            q = open_starts.get(key)
            if q:
                end_i[q.popleft()] = i
            else:
                start_i.append(-1)
                end_i.append(i)
    s = np.asarray(start_i, dtype=np.int64)
    e = np.asarray(end_i, dtype=np.int64)
    anchor = np.where(s >= 0, s, e)
    tz = time.dt.tz
    nat = np.datetime64("NaT", "ns")
    start = pd.Series(np.where(s >= 0, t[np.maximum(s, 0)], nat)).dt.tz_localize("UTC").dt.tz_convert(tz)
    end = pd.Series(np.where(e >= 0, t[np.maximum(e, 0)], nat)).dt.tz_localize("UTC").dt.tz_convert(tz)
    res = np.where(e >= 0, resource[np.maximum(e, 0)], resource[anchor]) if n else resource[:0]
    acts = pd.DataFrame({"case": case[anchor].astype(str), "activity": activity[anchor], "start": start,
                         "end": end, "resource": pd.array(res, dtype="string")}, columns=list(ACTIVITY_COLUMNS))
    first = np.where(s >= 0, t[np.maximum(s, 0)], t[np.maximum(e, 0)]) if n else t[:0]
    acts = acts.iloc[np.lexsort((np.arange(len(acts)), first))].reset_index(drop=True)
    return acts, int((s < 0).sum()), int((e < 0).sum())


def dominant_activity_order(acts: pd.DataFrame) -> tuple[str, ...]:
    """Activities ordered by the median rank of their first instance within each case (ties by name)."""
    if acts.empty:
        return ()
    t = acts["start"].fillna(acts["end"])
    first = acts.assign(_t=t).sort_values(["case", "_t"], kind="stable").drop_duplicates(["case", "activity"])
    first["_rank"] = first.groupby("case").cumcount()
    med = first.groupby("activity")["_rank"].median()
    return tuple(sorted(med.index, key=lambda a: (med[a], str(a))))


def _finish(acts: pd.DataFrame, cases: pd.DataFrame, file: str, notes: list[str]) -> EventLog:
    if acts.empty:
        raise SpecError(file, message="empty log: no activity instance (no start or complete event)")
    return EventLog(activities=acts, cases=cases, kind="events", stages=dominant_activity_order(acts),
                    source=file, notes=tuple(notes))


def _first_times(acts: pd.DataFrame) -> pd.Series:
    return acts["start"].fillna(acts["end"]).groupby(acts["case"], sort=False).min()


def read_events_csv(path: str | Path, mapping: Mapping | None = None, *, tz: str | None = None,
                    dayfirst: bool | None = None) -> EventLog:
    """An `EventLog` (kind "events") from a CSV event log.

    mapping: `case`, `activity`, `timestamp`, `lifecycle`, `resource` (column names); or `start`
    and `end` (one row per instance); `start_value` / `complete_value` (the lifecycle's words,
    default "start" / "complete", a string or a list, case ignored); `attributes` (columns kept on
    each instance, from its complete event); `type`, `class_of_service`, `team`, `size` (case
    attributes: a case's last non-blank value).
    """
    frame, file = read_text_csv(path)
    tz = check_tz(tz, file)
    mapping = check_mapping(mapping, CSV_KEYS, file)
    case_col = column(frame, mapping, "case", CASE_NAMES, file, required=True)
    act_col = column(frame, mapping, "activity", ACTIVITY_NAMES, file, required=True)
    res_col = column(frame, mapping, "resource", RESOURCE_NAMES, file)
    attrs = attribute_columns(frame, mapping, file)
    extra = name_list(mapping, "attributes", file) or []
    for c in extra:
        if c not in frame.columns:
            raise SpecError(f"{file}: mapping.attributes", message=(
                f"names column {c!r}, which the file does not have; its columns: {', '.join(frame.columns)}"))
    rows = np.arange(len(frame)) + 2
    for col in (case_col, act_col):
        blank = (frame[col].str.strip() == "").to_numpy()
        if blank.any():
            raise SpecError(where(file, int(rows[np.flatnonzero(blank)[0]]), col), message="blank value")
    case = frame[case_col].str.strip().to_numpy(dtype=object)
    activity = frame[act_col].str.strip().to_numpy(dtype=object)
    resource = (frame[res_col].str.strip().replace("", None).to_numpy(dtype=object) if res_col
                else np.full(len(frame), None, dtype=object))
    notes: list[str] = []

    interval = "start" in mapping or "end" in mapping or (
        "lifecycle" not in mapping and "timestamp" not in mapping
        and column(frame, {}, "start", START_NAMES, file) and column(frame, {}, "end", END_NAMES, file))
    if interval:
        start_col = column(frame, mapping, "start", START_NAMES, file, required=True)
        end_col = column(frame, mapping, "end", END_NAMES, file, required=True)
        times = parse_times({start_col: frame[start_col], end_col: frame[end_col]}, file, tz=tz, dayfirst=dayfirst)
        start, end = times[start_col].reset_index(drop=True), times[end_col].reset_index(drop=True)
        both = pd.Series(start.isna() & end.isna())
        if both.any():
            i = int(np.flatnonzero(both.to_numpy())[0])
            raise SpecError(where(file, int(rows[i]), start_col), message=f"no start and no end (column {end_col!r})")
        before = (end < start).to_numpy()
        if before.any():
            i = int(np.flatnonzero(before)[0])
            raise SpecError(where(file, int(rows[i]), end_col), message=(
                f"completion {frame[end_col].iloc[i].strip()!r} before its own start "
                f"{frame[start_col].iloc[i].strip()!r} (column {start_col!r})"))
        acts = pd.DataFrame({"case": case.astype(str), "activity": activity, "start": start, "end": end,
                             "resource": pd.array(resource, dtype="string")}, columns=list(ACTIVITY_COLUMNS))
        for c in extra:
            acts[c] = frame[c].to_numpy()
        first = start.fillna(end).to_numpy()
        acts = acts.iloc[np.lexsort((np.arange(len(acts)), first))].reset_index(drop=True)
    else:
        time_col = column(frame, mapping, "timestamp", TIME_NAMES, file, required=True)
        life_col = column(frame, mapping, "lifecycle", LIFECYCLE_NAMES, file)
        time = parse_times({time_col: frame[time_col]}, file, tz=tz, dayfirst=dayfirst)[time_col]
        if time.isna().any():
            raise SpecError(where(file, int(rows[np.flatnonzero(time.isna().to_numpy())[0]]), time_col),
                            message="blank timestamp")
        if life_col is None:
            keep = np.ones(len(frame), dtype=bool)
            is_start = np.zeros(len(frame), dtype=bool)
            notes.append("no lifecycle column: every event is a completion, starts unknown")
        else:
            is_start, keep = _lifecycle(frame[life_col].str.strip().str.lower().to_numpy(dtype=object), mapping,
                                        notes)
        idx = np.flatnonzero(keep)
        acts, no_start, no_end = pair_fifo(case[idx], activity[idx], is_start[idx],
                                           time.iloc[idx].reset_index(drop=True), resource[idx])
        if life_col is not None and no_start:
            notes.append(f"{no_start} completes without an open start (start unknown)")
        if no_end:
            notes.append(f"{no_end} starts never completed (end unknown)")
        if extra:
            notes.append("mapping.attributes are kept only with start and end columns")
    first = _first_times(acts)
    vals = {}
    for key, col in attrs.items():
        v = frame[col].str.strip()
        vals[key] = v.mask(v == "").groupby(case, sort=False).last().reindex(first.index).fillna("")
    case_rows = pd.Series(rows).groupby(case, sort=False).min().reindex(first.index).to_numpy()
    cases = case_table(pd.Series(first.index), first.reset_index(drop=True),
                       {k: v.reset_index(drop=True) for k, v in vals.items()}, file, case_rows, attrs.get("size"))
    return _finish(acts, cases, file, notes)


# ---------------------------------------------------------------------------- XES
_ATTRIBUTE_TAGS = {"string", "date", "int", "float", "boolean", "id"}


class _XesHandler(xml.sax.handler.ContentHandler):
    """Collects the values of `keys` of each event and its trace, and each trace's name and
    attributes: attributes directly inside an event or a trace; nested ones and `global` defaults
    are ignored."""

    def __init__(self, keys: tuple[str, ...], key_case: str, trace_keys: Mapping[str, str]):
        super().__init__()
        self.keys = keys
        self.key_case, self.trace_keys = key_case, dict(trace_keys)
        self.case: list[int] = []
        self.values: list[list] = [[] for _ in keys]
        self.trace_names: list = []
        self.trace_attrs: dict[str, list] = {k: [] for k in trace_keys}
        self.depth = 0
        self.trace: dict | None = None
        self.event: dict | None = None

    def startElement(self, name, attrs):
        self.depth += 1
        tag = name.rsplit(":", 1)[-1] if name.startswith("xes:") else name
        if tag in _ATTRIBUTE_TAGS:
            if self.event is not None and self.depth == 4:
                self.event[attrs.get("key")] = attrs.get("value")
            elif self.trace is not None and self.event is None and self.depth == 3:
                self.trace[attrs.get("key")] = attrs.get("value")
        elif tag == "event" and self.trace is not None and self.depth == 3:
            self.event = {}
        elif tag == "trace" and self.depth == 2:
            self.trace = {}

    def endElement(self, name):
        self.depth -= 1
        if self.event is not None and self.depth == 2:
            e = self.event
            self.case.append(len(self.trace_names))
            for values, key in zip(self.values, self.keys, strict=False):
                values.append(e.get(key))
            self.event = None
        elif self.trace is not None and self.depth == 1:
            t = self.trace
            self.trace_names.append(t.get(self.key_case, f"trace {len(self.trace_names) + 1}"))
            for k, key in self.trace_keys.items():
                self.trace_attrs[k].append(t.get(key, ""))
            self.trace = None


def scan_xes(path: str | Path, keys: tuple[str, ...], *, key_case: str = "concept:name",
             trace_keys: Mapping[str, str] | None = None) -> _XesHandler:
    """Stream an XES file (gzipped or not) through defusedxml's expat reader and collect the event
    values of `keys` (`.values`, one list per key; `.case`: each event's trace number), the trace
    names (`.trace_names`) and trace attributes (`.trace_attrs`); one-line errors for refused or
    broken XML."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise SpecError(file, message="no such file")
    try:   # the `data` extra; imported here so that `import vssim` works without it
        import defusedxml
        import defusedxml.expatreader
    except ImportError:
        raise SpecError(file, message="reading XES needs defusedxml: pip install 'vssim[data]'") from None
    handler = _XesHandler(keys, key_case, trace_keys or {})
    try:
        with _open(path) as source:
            parser = defusedxml.expatreader.create_parser(forbid_dtd=False, forbid_entities=True, forbid_external=True)
            parser.setContentHandler(handler)
            parser.setFeature(xml.sax.handler.feature_namespaces, False)
            while chunk := source.read(1 << 16):
                parser.feed(chunk)
            parser.close()
    except defusedxml.EntitiesForbidden as e:
        raise SpecError(file, message=(f"refused: the XES declares an entity ({e.name!r}); vssim reads XML "
                                       "without entity expansion (billion laughs) or external entities")) from None
    except (defusedxml.ExternalReferenceForbidden, defusedxml.DTDForbidden, defusedxml.NotSupportedError) as e:
        raise SpecError(file, message=f"refused: the XES refers to an external resource or DTD ({type(e).__name__}); "
                                      "vssim reads XML without external references") from None
    except xml.sax.SAXParseException as e:
        raise SpecError(f"{file}, line {e.getLineNumber()}, column {e.getColumnNumber()}",
                        message=f"not well-formed XML ({e.getMessage()})") from None
    except (gzip.BadGzipFile, EOFError, OSError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SpecError(file, message=f"cannot read: {why}") from None
    if not handler.case:
        raise SpecError(file, message="empty log: no event in any trace")
    return handler


def case_names(trace_names: list) -> tuple[np.ndarray, list[str]]:
    """Trace names as case ids; traces sharing a name told apart as NAME#k (with a note)."""
    names = np.asarray([str(t) for t in trace_names], dtype=object)
    if len(set(names)) == len(names):
        return names, []
    seen: dict[str, int] = {}
    out = []
    for t in names:
        seen[t] = seen.get(t, 0) + 1
        out.append(t if seen[t] == 1 else f"{t}#{seen[t]}")
    return np.asarray(out, dtype=object), ["traces with the same name told apart by their order (NAME#2, NAME#3...)"]


def _open(path: Path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_xes(path: str | Path, mapping: Mapping | None = None, *, tz: str | None = None) -> EventLog:
    """An `EventLog` (kind "events") from an XES file (gzipped or not), streamed.

    mapping: `activity` (default concept:name), `timestamp` (time:timestamp), `lifecycle`
    (lifecycle:transition; without it every event is a completion), `resource` (org:resource),
    `case` (the trace's concept:name), `start_value` / `complete_value`, and `type`,
    `class_of_service`, `team`, `size` (trace attribute keys).
    """
    file = str(path)
    tz = check_tz(tz, file)
    mapping = check_mapping(mapping, XES_KEYS, file)
    key_act = mapping.get("activity", "concept:name")
    key_time = mapping.get("timestamp", "time:timestamp")
    key_life = mapping.get("lifecycle", "lifecycle:transition")
    key_res = mapping.get("resource", "org:resource")
    key_case = mapping.get("case", "concept:name")
    trace_keys = {k: mapping.get(k, k) for k in ATTRIBUTES}

    h = scan_xes(path, (key_act, key_time, key_life, key_res), key_case=key_case, trace_keys=trace_keys)
    ev_case = h.case
    ev_act, ev_time, ev_life, ev_res = h.values
    trace_names, trace_attrs = h.trace_names, h.trace_attrs
    n = len(ev_case)
    numbers = np.arange(n) + 1
    act = np.asarray(ev_act, dtype=object)
    missing = np.flatnonzero(pd.isna(act))
    if len(missing):
        raise SpecError(where(file, int(numbers[missing[0]]), key_act, "event"), message="no activity name")
    time = parse_times({key_time: pd.Series(ev_time, dtype=object)}, file, tz=tz, dayfirst=None,
                       rows={key_time: numbers}, label="event")[key_time]
    if time.isna().any():
        raise SpecError(where(file, int(numbers[np.flatnonzero(time.isna().to_numpy())[0]]), key_time, "event"),
                        message="no timestamp")
    notes: list[str] = []
    if tz is None:
        notes.append("times read in UTC (the XES gives offsets; pass tz= for local hours)")
    life = np.asarray([(v or "complete").strip().lower() for v in ev_life], dtype=object)
    is_start, keep = _lifecycle(life, mapping, notes)
    names, more = case_names(trace_names)
    notes += more
    case = names[np.asarray(ev_case)]
    idx = np.flatnonzero(keep)
    acts, no_start, no_end = pair_fifo(case[idx], act[idx], is_start[idx], time.iloc[idx].reset_index(drop=True),
                                       np.asarray(ev_res, dtype=object)[idx])
    if no_start and is_start.any():
        notes.append(f"{no_start} completes without an open start (start unknown)")
    elif not is_start.any():
        notes.append("no start events: every event is a completion, starts unknown")
    if no_end:
        notes.append(f"{no_end} starts never completed (end unknown)")
    if acts.empty:
        raise SpecError(file, message="empty log: no start or complete event")
    first = _first_times(acts)
    pos = {c: i for i, c in enumerate(names)}
    at = np.fromiter((pos[c] for c in first.index), dtype=np.int64, count=len(first))
    attrs = {k: pd.Series(np.asarray(v, dtype=object)[at]) for k, v in trace_attrs.items() if any(v)}
    cases = case_table(pd.Series(first.index), first.reset_index(drop=True), attrs, file, at + 1, None)
    return _finish(acts, cases, file, notes)


__all__ = ["case_names", "dominant_activity_order", "pair_fifo", "read_events_csv", "read_xes", "scan_xes"]
