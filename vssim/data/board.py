"""A board export: one row per item, the date it entered each stage, in board order.

The layout flow-analytics tools export (and Jira/Azure Boards reports give): an `ID` column,
optional link and title columns, one column per stage in board order holding the date the item
entered it (blank: it skipped the stage), then attribute columns (type, class of service, team,
size or points). A stay in a stage lasts from its date to the next later date of the item. An item
whose dates go backwards in board order (entered Test before Dev) was sent back or reopened: its
stays are kept in time order and each move to an earlier stage is a backward move, counted in
`EventLog.backward_moves` (rework, not an error). docs/data.md has the mapping keys.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from vssim.data._common import (
    ATTRIBUTE_NAMES,
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
from vssim.data._times import check_tz, parse_times
from vssim.data.log import EventLog
from vssim.errors import SpecError

MAPPING_KEYS = ("id", "link", "title", "stages", "queues", "done", *ATTRIBUTES)
ID_NAMES = ("id", "key", "issue key", "item", "work item id")
LINK_NAMES = ("link", "url", "href")
TITLE_NAMES = ("title", "name", "summary", "description")


def read_board(path: str | Path, mapping: Mapping | None = None, *, tz: str | None = None,
               dayfirst: bool | None = None) -> EventLog:
    """An `EventLog` (kind "board") from a board export CSV; one-line `SpecError`s for messy data.

    mapping: `id`, `link`, `title`, `type`, `class_of_service`, `team`, `size` (column names);
    `stages` (the stage columns in board order; default: every column that is not id, link, title
    or an attribute, in file order); `queues` (the stages where items wait; default by name, see
    `is_queue`); `done` (the stage whose entry means finished, no activity; default the last stage
    if it is named Done, Closed, Released...; None for none).
    """
    frame, file = read_text_csv(path)
    tz = check_tz(tz, file)
    mapping = check_mapping(mapping, MAPPING_KEYS, file)
    id_col = column(frame, mapping, "id", ID_NAMES, file, required=True)
    link_col = column(frame, mapping, "link", LINK_NAMES, file)
    title_col = column(frame, mapping, "title", TITLE_NAMES, file)
    attrs = attribute_columns(frame, mapping, file)
    stages = name_list(mapping, "stages", file)
    if stages is not None:
        for s in stages:
            if s not in frame.columns:
                raise SpecError(f"{file}: mapping.stages", message=(
                    f"names column {s!r}, which the file does not have; its columns: {', '.join(frame.columns)}"))
    else:
        taken = {id_col, link_col, title_col, *attrs.values()}
        known = {n.lower() for names in ATTRIBUTE_NAMES.values() for n in names}
        stages = [c for c in frame.columns if c not in taken and c.lower() not in known]
    if not stages:
        raise SpecError(f"{file}: mapping.stages", message="no stage columns: name them (mapping={'stages': [...]})")
    if len(set(stages)) != len(stages):
        raise SpecError(f"{file}: mapping.stages", message="a stage is named twice")
    queues = name_list(mapping, "queues", file)
    if queues is None:
        queues = [s for s in stages if is_queue(s)]
    for q in queues:
        if q not in stages:
            raise SpecError(f"{file}: mapping.queues", message=f"{q!r} is not a stage; the stages: {', '.join(stages)}")
    finished = mapping["done"] if "done" in mapping else (stages[-1] if is_finished(stages[-1]) else None)
    if finished is not None and finished not in stages:
        raise SpecError(f"{file}: mapping.done",
                        message=f"{finished!r} is not a stage; the stages: {', '.join(stages)}")

    ids = frame[id_col].str.strip()
    rows = np.arange(len(frame)) + 2
    blank = (ids == "").to_numpy()
    if blank.any():
        raise SpecError(f"{file}, row {rows[np.flatnonzero(blank)[0]]}, column {id_col!r}", message="blank id")
    dup = ids.duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((ids == ids.iloc[i]).to_numpy())[0])
        raise SpecError(f"{file}, row {rows[i]}, column {id_col!r}", message=(
            f"duplicate id {ids.iloc[i]!r} (first on row {rows[first]}): a board export has one row per item"))

    times = parse_times({s: frame[s] for s in stages}, file, tz=tz, dayfirst=dayfirst)
    # entries (item, stage, time), sorted by item (file order) then time, ties in board order
    n, k = len(frame), len(stages)
    long = pd.DataFrame({"item": np.tile(np.arange(n), k), "stage_index": np.repeat(np.arange(k), n),
                         "time": pd.concat([times[s] for s in stages], ignore_index=True)})
    long = long[long["time"].notna()].sort_values(["item", "time", "stage_index"], kind="stable")
    if long.empty:
        raise SpecError(file, message=f"empty log: no item has a date in any stage ({', '.join(stages)})")
    stage_names = np.asarray(stages, dtype=object)
    acts, backward = stays(ids.to_numpy()[long["item"].to_numpy()], stage_names[long["stage_index"].to_numpy()],
                           long["time"], {s: i for i, s in enumerate(stages)}, finished)
    first = long.groupby("item")["time"].min().reindex(range(len(frame)))
    has_dates = first.notna().to_numpy()
    notes = []
    if (~has_dates).any():
        notes.append(f"{int((~has_dates).sum())} items without any stage date skipped (rows "
                     f"{', '.join(str(r) for r in rows[~has_dates][:5])}{'...' if (~has_dates).sum() > 5 else ''})")
    cases = case_table(ids[has_dates], first[has_dates], {k: frame.loc[has_dates, c] for k, c in attrs.items()},
                       file, rows[has_dates], attrs.get("size"))
    done = pd.Series(pd.NaT, index=range(len(frame)), dtype=first.dtype)
    if finished is not None:
        done = times[finished].reset_index(drop=True)
    cases["done"] = done[has_dates].reset_index(drop=True)
    for key, col in (("link", link_col), ("title", title_col)):
        if col is not None:
            cases[key] = frame.loc[has_dates, col].reset_index(drop=True).astype("string")
    activity_stages = tuple(s for s in stages if s != finished)
    return EventLog(activities=acts, cases=cases, kind="board", stages=activity_stages,
                    queues=frozenset(q for q in queues if q != finished), backward_moves=backward, source=file,
                    notes=tuple(notes))
