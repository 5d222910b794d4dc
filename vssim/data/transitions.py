"""A status-transition log: one row per move of an item into a status, as a Jira changelog export
gives (item, status, timestamp[, from status]).

The stay in a status lasts from the move into it to the item's next move. The status order (the
board order) is the mapping's `stages`, or else the dominant order of the log: status a comes before
b when more items enter a first than b first (Copeland ranking of these pairwise wins, ties by first
appearance). With a `from` column, the status an item left on its first move (a Jira changelog has
no row for the status an item was created in) is its first visit: a stay with an unknown start,
ending at that move. A move into an earlier status than the one the item was in (reopened, sent
back) is a backward move: rework, counted.
"""
from __future__ import annotations

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
    is_finished,
    is_queue,
    name_list,
    read_text_csv,
    stays,
)
from vssim.data._times import check_tz, parse_times, where
from vssim.data.log import EventLog
from vssim.errors import SpecError

MAPPING_KEYS = ("item", "status", "timestamp", "from", "stages", "queues", "done", *ATTRIBUTES)
ITEM_NAMES = ("item", "key", "issue key", "issue", "id", "case", "case_id")
STATUS_NAMES = ("status", "to", "to status", "to_status", "new status", "toString")
TIME_NAMES = ("timestamp", "time", "date", "created", "changed", "when")
FROM_NAMES = ("from", "from status", "from_status", "old status", "fromString")


def dominant_order(case: np.ndarray, status: np.ndarray) -> list[str]:
    """The statuses in the order most items visit them first (module docstring); `case`, `status`:
    the visits, in time order per case."""
    names = list(dict.fromkeys(status))
    index = {s: i for i, s in enumerate(names)}
    k = len(names)
    before = np.zeros((k, k))
    first_seen: dict[object, list[int]] = {}
    for c, s in zip(case, status, strict=False):
        seen = first_seen.setdefault(c, [])
        i = index[s]
        if i not in seen:
            for j in seen:
                before[j, i] += 1
            seen.append(i)
    wins = (before > before.T).sum(axis=1) - (before < before.T).sum(axis=1)
    return [names[i] for i in sorted(range(k), key=lambda i: (-wins[i], i))]


def read_transitions(path: str | Path, mapping: Mapping | None = None, *, tz: str | None = None,
                     dayfirst: bool | None = None) -> EventLog:
    """An `EventLog` (kind "transitions") from a status-transition CSV.

    mapping: `item`, `status`, `timestamp`, `from`, `type`, `class_of_service`, `team`, `size`
    (column names; attributes: an item's last non-blank value); `stages` (status order), `queues`,
    `done` as for a board export (`vssim.data.board.read_board`).
    """
    frame, file = read_text_csv(path)
    tz = check_tz(tz, file)
    mapping = check_mapping(mapping, MAPPING_KEYS, file)
    item_col = column(frame, mapping, "item", ITEM_NAMES, file, required=True)
    status_col = column(frame, mapping, "status", STATUS_NAMES, file, required=True)
    time_col = column(frame, mapping, "timestamp", TIME_NAMES, file, required=True)
    from_col = column(frame, mapping, "from", FROM_NAMES, file)
    attrs = attribute_columns(frame, mapping, file)
    rows = np.arange(len(frame)) + 2
    for col in (item_col, status_col):
        blank = (frame[col].str.strip() == "").to_numpy()
        if blank.any():
            raise SpecError(where(file, int(rows[np.flatnonzero(blank)[0]]), col), message="blank value")
    time = parse_times({time_col: frame[time_col]}, file, tz=tz, dayfirst=dayfirst)[time_col]
    if time.isna().any():
        raise SpecError(where(file, int(rows[np.flatnonzero(time.isna().to_numpy())[0]]), time_col),
                        message="blank timestamp")
    item = frame[item_col].str.strip().to_numpy(dtype=object)
    status = frame[status_col].str.strip().to_numpy(dtype=object)
    origin = None if from_col is None else frame[from_col].str.strip().to_numpy(dtype=object)
    values = {}
    for key, col in attrs.items():
        v = frame[col].str.strip()
        values[key] = v.mask(v == "").to_numpy(dtype=object)
    return build_transitions(file, item, status, time, rows, values, mapping, status_col=status_col,
                             size_col=attrs.get("size"), origin=origin, origin_col=from_col)


def build_transitions(file: str, item: np.ndarray, status: np.ndarray, time: pd.Series, rows: np.ndarray,
                      values: Mapping[str, np.ndarray], mapping: dict, *, status_col: str, size_col: str | None,
                      label: str = "row", notes: tuple[str, ...] = (),
                      origin: np.ndarray | None = None, origin_col: str | None = None) -> EventLog:
    """The EventLog of moves (item entered status at time; `rows` for errors); `values`: the case
    attributes per move (an item's last non-blank value is its own).

    `origin`: the status each move came from (a `from` column). An item's first move out of a
    status it was never seen entering (a Jira changelog has no row for the status an item was
    created in) adds a stay there with an unknown start, ending at that move."""
    time = time.reset_index(drop=True)
    first_row = pd.Series(np.arange(len(item))).groupby(item).transform("min").to_numpy()
    entries = pd.DataFrame({"first_row": first_row, "time": time, "row": np.arange(len(item))})
    entries = entries.sort_values(["first_row", "time", "row"], kind="stable")
    sel = entries["row"].to_numpy()                                     # by item, then time
    came = []                                                           # (first move, the status it left)
    if origin is not None:
        firsts_at = sel[np.r_[True, item[sel][1:] != item[sel][:-1]]]
        came = [(i, origin[i]) for i in firsts_at if origin[i] and origin[i] != status[i]]
    stages = name_list(mapping, "stages", file)
    if stages is not None:
        known = set(stages)
        unknown = [i for i, s in enumerate(status) if s not in known]
        if unknown:
            raise SpecError(where(file, int(rows[unknown[0]]), status_col, label), message=(
                f"status {status[unknown[0]]!r} is not in mapping.stages ({', '.join(stages)})"))
        if origin is not None:
            unknown = [i for i, s in enumerate(origin) if s and s not in known]
            if unknown:
                raise SpecError(where(file, int(rows[unknown[0]]), origin_col, label), message=(
                    f"status {origin[unknown[0]]!r} is not in mapping.stages ({', '.join(stages)})"))
    else:
        # the status an item left first was its first visit
        first_of = {i for i, _ in came}
        left = dict(came)
        seq = [(item[i], s) for i in sel for s in ((left[i], status[i]) if i in first_of else (status[i],))]
        stages = dominant_order(np.asarray([c for c, _ in seq], dtype=object),
                                np.asarray([s for _, s in seq], dtype=object))
    queues = name_list(mapping, "queues", file)
    if queues is None:
        queues = [s for s in stages if is_queue(s)]
    for q in queues:
        if q not in stages:
            raise SpecError(f"{file}: mapping.queues",
                            message=f"{q!r} is not a status; the statuses: {', '.join(stages)}")
    finished = mapping["done"] if "done" in mapping else (stages[-1] if is_finished(stages[-1]) else None)
    if finished is not None and finished not in stages:
        raise SpecError(f"{file}: mapping.done",
                        message=f"{finished!r} is not a status; the statuses: {', '.join(stages)}")

    order = {s: i for i, s in enumerate(stages)}
    acts, backward = stays(item[sel], status[sel], entries["time"], order, finished)
    came = [(i, o) for i, o in came if o != finished]
    if came:
        at = np.array([i for i, _ in came])
        before = pd.DataFrame({"case": item[at].astype(str), "activity": [o for _, o in came],
                               "start": pd.Series(pd.NaT, index=range(len(at)), dtype=time.dtype),
                               "end": time.iloc[at].reset_index(drop=True),
                               "resource": pd.array([pd.NA] * len(at), dtype="string")})
        backward += int(sum(order[o] > order[status[i]] for i, o in came))
        rank = {c: r for r, c in enumerate(dict.fromkeys(item[sel]))}
        both = pd.concat([before, acts], ignore_index=True)
        key = pd.DataFrame({"r": both["case"].map(rank), "first": [0] * len(before) + [1] * len(acts),
                            "n": np.arange(len(both))})
        acts = both.iloc[key.sort_values(["r", "first", "n"], kind="stable").index].reset_index(drop=True)

    by_item = pd.DataFrame({"item": item, "time": time, "row": rows})
    g = by_item.groupby("item", sort=False)
    firsts = g["time"].min()
    case_rows = g["row"].min().to_numpy()
    last = {k: pd.Series(v).groupby(item, sort=False).last().reindex(firsts.index) for k, v in values.items()}
    cases = case_table(pd.Series(firsts.index), firsts.reset_index(drop=True),
                       {k: v.reset_index(drop=True).fillna("") for k, v in last.items()}, file, case_rows, size_col)
    if finished is not None:
        done = by_item[status == finished].groupby("item")["time"].max()
        cases["done"] = done.reindex(firsts.index).reset_index(drop=True)
    else:
        cases["done"] = pd.Series(pd.NaT, index=range(len(cases)), dtype=time.dtype)
    return EventLog(activities=acts, cases=cases, kind="transitions",
                    stages=tuple(s for s in stages if s != finished),
                    queues=frozenset(q for q in queues if q != finished), backward_moves=backward, source=file,
                    notes=tuple(notes))


XES_KEYS = ("status", "timestamp", "case", "stages", "queues", "done", *ATTRIBUTES)


def read_xes_transitions(path: str | Path, mapping: Mapping | None = None, *, tz: str | None = None) -> EventLog:
    """An `EventLog` (kind "transitions") from an XES log of status changes (each event: the case
    entered a status), such as BPIC 2013's incidents.

    mapping: `status` (an event attribute key, or a list of keys whose values are joined with
    " / ", e.g. ["concept:name", "lifecycle:transition"]; default concept:name), `timestamp`,
    `case` (trace key), `stages`, `queues`, `done`, and trace attribute keys for `type`,
    `class_of_service`, `team`, `size`.
    """
    from vssim.data.events import case_names, scan_xes

    file = str(path)
    tz = check_tz(tz, file)
    mapping = check_mapping(mapping, XES_KEYS, file)
    status_keys = mapping.get("status", "concept:name")
    status_keys = (status_keys,) if isinstance(status_keys, str) else tuple(status_keys)
    key_time = mapping.get("timestamp", "time:timestamp")
    trace_keys = {k: mapping.get(k, k) for k in ATTRIBUTES}
    h = scan_xes(path, (key_time, *status_keys), key_case=mapping.get("case", "concept:name"), trace_keys=trace_keys)
    numbers = np.arange(len(h.case)) + 1
    parts = h.values[1:]
    for key, vals in zip(status_keys, parts, strict=False):
        missing = [i for i, v in enumerate(vals) if v is None]
        if missing:
            raise SpecError(where(file, int(numbers[missing[0]]), key, "event"), message="no value")
    status = np.asarray([" / ".join(p) for p in zip(*parts, strict=False)], dtype=object)
    time = parse_times({key_time: pd.Series(h.values[0], dtype=object)}, file, tz=tz, dayfirst=None,
                       rows={key_time: numbers}, label="event")[key_time]
    if time.isna().any():
        raise SpecError(where(file, int(numbers[np.flatnonzero(time.isna().to_numpy())[0]]), key_time, "event"),
                        message="no timestamp")
    names, notes = case_names(h.trace_names)
    item = names[np.asarray(h.case)]
    values = {k: np.asarray([v or None for v in vals], dtype=object)[np.asarray(h.case)]
              for k, vals in h.trace_attrs.items() if any(vals)}
    if tz is None:
        notes.append("times read in UTC (the XES gives offsets; pass tz= for local hours)")
    return build_transitions(file, item, status, time, numbers, values, mapping, status_col=status_keys[0],
                             size_col=trace_keys["size"] if "size" in values else None, label="event",
                             notes=tuple(notes))
