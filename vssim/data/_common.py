"""What the CSV importers share: reading a file as text, resolving a column mapping, the case table,
the default queue names, and stays in stages turned into activity instances."""
from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from vssim.data.log import ACTIVITY_COLUMNS, CASE_COLUMNS
from vssim.errors import SpecError

ATTRIBUTES = ("type", "class_of_service", "team", "size")
"""Case attributes every importer knows (CASE_COLUMNS after case and first)."""
ATTRIBUTE_NAMES = {
    "type": ("type", "item type", "issue type", "work item type", "issuetype", "case:type"),
    "class_of_service": ("class of service", "class_of_service", "cos", "service class", "case:class_of_service"),
    "team": ("team", "case:team"),
    "size": ("size", "points", "story points", "story_points", "estimate", "case:size"),
}
"""Default column names of the attributes (matched without regard to case)."""
_QUEUE = re.compile(r"(?:^|[\s_-])done$|^ready(?:$|[\s_-])|backlog|\bwait(?:ing)?\b|waiting|queue|^to ?do$",
                    re.IGNORECASE)
_FINISHED = {"done", "closed", "released", "delivered", "resolved", "finished", "complete", "completed"}


def is_queue(stage: str) -> bool:
    """The default: `Dev done`, `Ready`, `Ready for test`, `Backlog`, `Waiting for review` are queues."""
    return bool(_QUEUE.search(stage.strip())) and stage.strip().lower() not in _FINISHED


def is_finished(stage: str) -> bool:
    """The default last stage that means finished (`Done`, `Closed`, `Released`...; of a joined
    status such as `Completed / Closed`, the last part)."""
    return stage.rsplit("/", 1)[-1].strip().lower() in _FINISHED


def read_text_csv(path: str | Path) -> tuple[pd.DataFrame, str]:
    """The file's cells as text (blank = ""), and its name for errors; one-line errors for a missing,
    empty or malformed file."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise SpecError(name, message="no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise SpecError(name, message="empty log: the file has no header and no rows") from None
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError) as e:
        raise SpecError(name, message=f"not a CSV file vssim can read: {str(e).splitlines()[0]}") from None
    # pandas renames a repeated name to X.1: read the header as written (gzip as pandas infers it)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8-sig") as f:
        header = [c.strip() for c in next(csv.reader(f), [])]
    seen = set()
    for c in header:
        if c in seen:
            raise SpecError(f"{name}, row 1", message=f"column {c!r} appears twice in the header")
        seen.add(c)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise SpecError(name, message="empty log: a header but no rows")
    return frame, name


def check_mapping(mapping: Mapping | None, allowed: Iterable[str], file: str) -> dict:
    """The mapping as a dict; an unknown key is refused by name."""
    mapping = dict(mapping or {})
    allowed = tuple(allowed)
    for key in mapping:
        if key not in allowed:
            raise SpecError(f"{file}: mapping.{key}", message=f"unknown key; allowed: {', '.join(allowed)}")
    return mapping


def name_list(mapping: dict, key: str, file: str) -> list[str] | None:
    """The mapping's list of names under `key` (None when absent); a lone string is refused (it
    would read as its letters)."""
    if key not in mapping or mapping[key] is None:
        return None
    value = mapping[key]
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{file}: mapping.{key}", "a list of names", value if isinstance(value, str) else list(value))
    return list(value)


def column(frame: pd.DataFrame, mapping: dict, key: str, defaults: Iterable[str], file: str, *,
           required: bool = False) -> str | None:
    """The file's column for `key`: the mapping's (which must exist) or the first default name found
    (ignoring case); None when neither (an error when required)."""
    if key in mapping and mapping[key] is not None:
        name = mapping[key]
        if name not in frame.columns:
            raise SpecError(f"{file}: mapping.{key}", message=(
                f"names column {name!r}, which the file does not have; its columns: {', '.join(frame.columns)}"))
        return name
    lower = {c.lower(): c for c in frame.columns}
    for d in defaults:
        if d.lower() in lower:
            return lower[d.lower()]
    if required:
        raise SpecError(f"{file}: mapping.{key}", message=(
            f"no column for {key}: name one (mapping={{{key!r}: 'COLUMN'}}); the file's columns: "
            f"{', '.join(frame.columns)}"))
    return None


def attribute_columns(frame: pd.DataFrame, mapping: dict, file: str) -> dict[str, str]:
    """The attribute (type, class_of_service, team, size) columns found, by attribute."""
    out = {}
    for key in ATTRIBUTES:
        c = column(frame, mapping, key, ATTRIBUTE_NAMES[key], file)
        if c is not None:
            out[key] = c
    return out


def case_table(ids: pd.Series, first: pd.Series, attrs: Mapping[str, pd.Series], file: str,
               rows: np.ndarray, size_column: str | None) -> pd.DataFrame:
    """CASE_COLUMNS: attributes as text (NA when blank), size as a number."""
    out = {"case": ids.astype(str).to_numpy(), "first": first.to_numpy()}
    for key in ATTRIBUTES:
        if key not in attrs:
            out[key] = pd.array([pd.NA] * len(ids), dtype="string") if key != "size" else np.full(len(ids), np.nan)
            continue
        values = pd.Series(attrs[key]).astype("string").str.strip().reset_index(drop=True)
        values = values.mask(values == "")
        if key == "size":
            number = pd.to_numeric(values, errors="coerce")
            bad = number.isna() & values.notna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise SpecError(f"{file}, row {rows[i]}, column {size_column!r}",
                                message=f"size must be a number (points or days), got {values.iloc[i]!r}")
            out[key] = number.to_numpy(dtype=float)
        else:
            out[key] = values.array
    return pd.DataFrame(out, columns=list(CASE_COLUMNS))


def stays(case: np.ndarray, stage: np.ndarray, time: pd.Series, order: Mapping[str, int],
          finished: str | None) -> tuple[pd.DataFrame, int]:
    """Activity instances from entries into stages, and the number of backward moves.

    `case`, `stage`, `time` are entries (an item entered a stage at a time), already sorted by case
    then time (ties in board order). A stay lasts from its entry to the item's next entry (NaT for
    the last unless it is the `finished` stage, whose stay is no activity). A backward move is an
    entry into a stage earlier in board order than the one the item was in.
    """
    n = len(case)
    t = time.reset_index(drop=True)
    same_next = np.zeros(n, dtype=bool)
    if n > 1:
        same_next[:-1] = case[1:] == case[:-1]
    end = t.shift(-1).where(pd.Series(same_next))
    index = np.fromiter((order[s] for s in stage), dtype=np.int64, count=n)
    backward = int(np.sum(same_next[:-1] & (index[1:] < index[:-1]))) if n > 1 else 0
    keep = np.ones(n, dtype=bool) if finished is None else stage != finished
    acts = pd.DataFrame({"case": case[keep].astype(str), "activity": stage[keep],
                         "start": t[keep].reset_index(drop=True), "end": end[keep].reset_index(drop=True),
                         "resource": pd.array([pd.NA] * int(keep.sum()), dtype="string")},
                        columns=list(ACTIVITY_COLUMNS))
    return acts.reset_index(drop=True), backward
