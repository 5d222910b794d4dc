"""The board as it is now: one row per item in progress, read from a state file (CSV).

A forecast or a reorganisation "in March" starts from today's board, not from an empty one; the
aging-WIP chart (`vssim/report/figures/aging.py`) shows how long each item has been in progress.
Columns (names matched without regard to case; `mapping` renames them): `id`, `column` (the
board column it is in), `entered` (when it entered that column; a time zone as for `read_log`),
and optionally `type`, `class_of_service`, `size`, `started` (true/false, yes/no, 1/0; default:
started unless its column is a queue by the rules of docs/data.md).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vssim.data._common import ATTRIBUTE_NAMES, check_mapping, column, is_queue, name_list, read_text_csv
from vssim.data._times import check_tz, parse_times, where
from vssim.errors import SpecError
from vssim.model.calendar import unit_seconds
from vssim.model.initial import BACKLOG, InitialState

__all__ = ["STATE_COLUMNS", "BoardState", "read_state"]

STATE_COLUMNS = ("id", "type", "class_of_service", "column", "entered", "started", "size")
"""Columns of `BoardState.items`, in order."""
MAPPING_KEYS = (*STATE_COLUMNS, "columns")
_NAMES = {
    "id": ("id", "key", "item", "issue key", "work item id"),
    "type": ATTRIBUTE_NAMES["type"],
    "class_of_service": ATTRIBUTE_NAMES["class_of_service"],
    "column": ("column", "stage", "status", "state"),
    "entered": ("entered", "entered at", "entered_at", "since", "in column since", "date"),
    "started": ("started", "in progress", "committed"),
    "size": ATTRIBUTE_NAMES["size"],
}
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


def _now(now, tz) -> pd.Timestamp:
    try:
        t = pd.Timestamp(now)
    except (ValueError, TypeError):
        raise SpecError("now", "a date and time with a time zone", now) from None
    if t.tzinfo is None:
        raise SpecError("now", message=f"{now!r} has no time zone: give one (pd.Timestamp('...', tz='UTC'))")
    return t.tz_convert(tz) if tz is not None else t


@dataclass(frozen=True)
class BoardState:
    """The items in progress (`items`: STATE_COLUMNS, one row per item) and the board's columns in
    order (`columns`: the mapping's, or as they first appear in the file)."""

    items: pd.DataFrame
    columns: tuple[str, ...]
    source: str = ""

    def __len__(self) -> int:
        return len(self.items)

    def age(self, now) -> pd.Series:
        """How long each item has been in its column at `now` (a timezone-aware time), by id.

        An item that entered after `now` is refused: the state would be from the future."""
        t = _now(now, self.items["entered"].dt.tz)
        age = t - self.items["entered"]
        if (age < pd.Timedelta(0)).any():
            i = int(np.flatnonzero((age < pd.Timedelta(0)).to_numpy())[0])
            raise SpecError("now", message=(f"{t} is before item {self.items['id'].iloc[i]!r} entered "
                                            f"{self.items['column'].iloc[i]!r} ({self.items['entered'].iloc[i]})"))
        return pd.Series(age.to_numpy(), index=pd.Index(self.items["id"], name="id"), name="age")


    def initial(self, spec, now, columns: Mapping | None = None):
        """The state as the `initial=` of `vssim.simulate` for `spec`, with time 0 at `now`
        (docs/model.md, "Starting from today's board").

        A board column becomes a step by `columns` (column -> a step name, "backlog", or
        `{step: NAME, done: true}` for a "... done" column whose items wait to move on), else by
        name (a column named as a step is that step), else it is the queue of the next column in
        board order that is a step (its items wait there, not started). `entered` becomes
        (entered - now) in the stream's time unit (minute, hour, day or week)."""
        seconds = unit_seconds(spec.time_unit, "time_unit")
        age = self.age(now)
        columns = dict(columns or {})
        steps = list(spec.steps)
        board = list(self.columns)

        def place(name: str) -> tuple[str, bool, bool]:      # (step or backlog, done, a queue before it)
            target = columns.get(name)
            if isinstance(target, Mapping):
                return str(target.get("step")), bool(target.get("done", False)), False
            if target is not None:
                return str(target), False, False
            if name in steps:
                return name, False, False
            if name.lower() == BACKLOG:
                return BACKLOG, False, False
            later = [c for c in board[board.index(name) + 1:] if c in steps] if name in board else []
            if not later:
                raise SpecError(f"columns.{name}", message=(
                    f"the state's column {name!r} is no step of the stream ({', '.join(steps)}) and no later "
                    "column is: map it (columns={...: STEP | 'backlog' | {step: STEP, done: true}})"))
            return later[0], False, True

        rows = []
        for k, row in enumerate(self.items.itertuples(index=False)):
            step, done, queue = place(str(row.column))
            started = bool(row.started) and not done and not queue and step != BACKLOG
            rows.append({"id": str(row.id), "column": step, "done": done, "started": started,
                         "entered": -age.iloc[k].total_seconds() / seconds,
                         "type": None if pd.isna(row.type) else str(row.type),
                         "class_of_service": None if pd.isna(row.class_of_service) else str(row.class_of_service),
                         "size": None if pd.isna(row.size) else float(row.size)})
        return InitialState.from_rows(rows, spec)


def read_state(path: str | Path, tz: str | None = None, *, mapping: Mapping | None = None,
               dayfirst: bool | None = None) -> BoardState:
    """The board now from a CSV state file (module docstring); one-line `SpecError`s for bad rows.

    mapping: the file's column for each of STATE_COLUMNS, and `columns` (the board's columns in
    order; every item's column must be one of them).
    """
    frame, file = read_text_csv(path)
    tz = check_tz(tz, file)
    mapping = check_mapping(mapping, MAPPING_KEYS, file)
    cols = {k: column(frame, mapping, k, _NAMES[k], file, required=k in ("id", "column", "entered"))
            for k in STATE_COLUMNS}
    rows = np.arange(len(frame)) + 2
    text = {k: frame[c].str.strip() for k, c in cols.items() if c is not None}
    for k in ("id", "column"):
        blank = (text[k] == "").to_numpy()
        if blank.any():
            raise SpecError(where(file, int(rows[np.flatnonzero(blank)[0]]), cols[k]), message=f"blank {k}")
    dup = text["id"].duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise SpecError(where(file, int(rows[i]), cols["id"]), message=(
            f"duplicate id {text['id'].iloc[i]!r}: a state has one row per item"))
    entered = parse_times({cols["entered"]: frame[cols["entered"]]}, file, tz=tz, dayfirst=dayfirst)[cols["entered"]]
    if entered.isna().any():
        i = int(np.flatnonzero(entered.isna().to_numpy())[0])
        raise SpecError(where(file, int(rows[i]), cols["entered"]), message="blank date: when did it enter its column?")
    given = name_list(mapping, "columns", file)
    board_columns = given if given is not None else list(dict.fromkeys(text["column"]))
    if given is not None:
        unknown = ~text["column"].isin(board_columns).to_numpy()
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise SpecError(where(file, int(rows[i]), cols["column"]), message=(
                f"column {text['column'].iloc[i]!r} is not in mapping.columns ({', '.join(board_columns)})"))
    default_started = ~text["column"].map(is_queue).to_numpy(dtype=bool)
    started = default_started.copy()
    if "started" in text:
        word = text["started"].str.lower()
        for i, w in enumerate(word):
            if w in _TRUE:
                started[i] = True
            elif w in _FALSE:
                started[i] = False
            elif w != "":
                raise SpecError(where(file, int(rows[i]), cols["started"]), message=(
                    f"started must be true or false (yes/no, 1/0), got {text['started'].iloc[i]!r}"))
    size = np.full(len(frame), np.nan)
    if "size" in text:
        v = text["size"].mask(text["size"] == "")
        num = pd.to_numeric(v, errors="coerce")
        bad = (num.isna() & v.notna()).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SpecError(where(file, int(rows[i]), cols["size"]), message=(
                f"size must be a number (points or days), got {v.iloc[i]!r}"))
        size = num.to_numpy(dtype=float)

    def attribute(k):
        if k not in text:
            return pd.array([pd.NA] * len(frame), dtype="string")
        return text[k].mask(text[k] == "").astype("string").array

    items = pd.DataFrame({"id": text["id"].to_numpy(dtype=object), "type": attribute("type"),
                          "class_of_service": attribute("class_of_service"),
                          "column": text["column"].to_numpy(dtype=object), "entered": entered.reset_index(drop=True),
                          "started": started, "size": size}, columns=list(STATE_COLUMNS))
    return BoardState(items=items, columns=tuple(board_columns), source=file)
