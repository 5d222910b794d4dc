"""Timestamps as people export them, read into timezone-aware pandas times, or refused in one line.

Shared by every importer. The rules (docs/data.md):

- ISO 8601 (`2026-03-02`, `2026-03-02T09:30:00+01:00`, `2026/03/02 09:30`) is read as it is.
- Numeric dates with the day and month in either order (`02/03/2026`, `2.3.26 09:30`): the order is
  decided for the file as a whole (a file uses one convention). A value whose first number is over
  12 says day first, one whose second number is over 12 says month first; both in one file is an
  error. If every value fits both orders and some would give different dates, the file is ambiguous
  unless `dayfirst=` is given.
- Anything else (`2 Mar 2026`, `March 2, 2026 9:30`) is read by dateutil, value by value.
- Time zones are explicit: a value with an offset is converted to `tz` (or kept in UTC when no tz is
  given: offsets differ across daylight saving time, so no single fixed zone fits); a value without
  one needs `tz=` (an IANA name such as 'Europe/Berlin', or 'UTC'), and is read as wall-clock time
  there.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from vssim.errors import SpecError

_ISO = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T ].*)?$")
_NUMERIC = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})((?:[T ]|$).*)$")
_OFFSET = re.compile(r"[T ]\d{1,2}(?::\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)$")


def where(file: str, row: int | None, column: str | None, label: str = "row") -> str:
    """The place of a value in an error: `board.csv, row 5, column 'Dev'` (rows as a spreadsheet
    numbers them: the header is row 1)."""
    parts = [file]
    if row is not None:
        parts.append(f"{label} {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts)


def check_tz(tz: str | None, file: str) -> str | None:
    """`tz` if pandas knows the zone; a one-line error otherwise."""
    if tz is None:
        return None
    try:
        pd.Timestamp("2000-01-01").tz_localize(tz)
    except Exception:
        raise SpecError(f"{file}: tz", "an IANA time zone name such as 'Europe/Berlin', or 'UTC'", tz) from None
    return tz


def _to_iso(m: re.Match, dayfirst: bool) -> str:
    a, b, year, rest = m.group(1), m.group(2), m.group(3), m.group(4)
    day, month = (a, b) if dayfirst else (b, a)
    if len(year) == 2:
        year = ("20" if int(year) < 70 else "19") + year
    return f"{year}-{int(month):02d}-{int(day):02d}{rest}"


def _valid(iso: str) -> bool:
    try:
        pd.Timestamp(iso)
    except (ValueError, OverflowError):
        return False
    return True


def parse_times(columns: Mapping[str, pd.Series], file: str, *, tz: str | None, dayfirst: bool | None,
                rows: Mapping[str, np.ndarray] | None = None, label: str = "row") -> dict[str, pd.Series]:
    """Each column of text read into `datetime64[ns, tz]` (UTC when tz is None), blanks as NaT.

    `columns` maps a column's name to its values; `rows` (by the same names) gives the spreadsheet
    row of each value (default: position + 2, a CSV with its header on row 1; `label` names what a
    row is, "event" for XES). The day/month order is decided over all the columns together.
    """
    texts = {}
    for name, values in columns.items():
        s = pd.Series(values).reset_index(drop=True).astype("string").str.strip()
        texts[name] = s.mask(s == "").astype(object).where(s.notna() & (s != ""), None)
    row_of = {name: (np.asarray(rows[name]) if rows is not None and name in rows else np.arange(len(s)) + 2)
              for name, s in texts.items()}

    # the day/month order of numeric dates, for the file as a whole
    numeric = {name: _matches(s, _NUMERIC.match) for name, s in texts.items()}
    order = dayfirst
    if order is None and any(m.any() for m in numeric.values()):
        forces = {True: None, False: None}   # first (column, row, value) that only fits that order
        ambiguous = None                     # first value whose two readings differ
        for name, s in texts.items():
            for i in np.flatnonzero(numeric[name]):
                value = s.iloc[i]
                m = _NUMERIC.match(value)
                d, mo = _valid(_to_iso(m, True)), _valid(_to_iso(m, False))
                if d and not mo and forces[True] is None:
                    forces[True] = (name, row_of[name][i], value)
                elif mo and not d and forces[False] is None:
                    forces[False] = (name, row_of[name][i], value)
                elif d and mo and ambiguous is None and m.group(1) != m.group(2):
                    ambiguous = (name, row_of[name][i], value)
        if forces[True] and forces[False]:
            name, row, value = forces[False]
            other = forces[True]
            there = where("", other[1], other[0], label).lstrip(", ")
            raise SpecError(where(file, row, name, label), message=(
                f"{value!r} reads only month first, but {other[2]!r} ({there}) "
                "reads only day first: a file uses one order; fix the odd dates"))
        if forces[True] or forces[False]:
            order = forces[True] is not None
        elif ambiguous:
            name, row, value = ambiguous
            raise SpecError(where(file, row, name, label), message=(
                f"ambiguous date {value!r}: every numeric date in the file reads both day first and month "
                "first; pass dayfirst=True (31/12) or dayfirst=False (12/31)"))
        else:
            order = True   # every value has day == month, or none is valid: either order gives the same

    out = {}
    for name, s in texts.items():
        rows_here = row_of[name]
        iso = s.copy()
        num = numeric[name]
        if num.any():
            iso.iloc[np.flatnonzero(num)] = [_to_iso(_NUMERIC.match(v), bool(order)) for v in s[num]]
        present = iso.notna().to_numpy()
        isoish = _matches(iso, _ISO.match)
        aware = _matches(iso, _OFFSET.search) & isoish
        result = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")

        def bad(i, s=s, rows_here=rows_here, name=name):
            raise SpecError(where(file, rows_here[i], name, label), message=(
                f"unparseable date {s.iloc[i]!r}; allowed: ISO 8601 (2026-03-02 or 2026-03-02T09:30:00+01:00), "
                "31/12/2026, 12/31/2026 or 2 Mar 2026"))

        def naive(i, s=s, rows_here=rows_here, name=name):
            raise SpecError(where(file, rows_here[i], name, label), message=(
                f"{s.iloc[i]!r} has no time zone; pass tz='UTC' or a zone name such as tz='Europe/Berlin' "
                "(the zone the times were recorded in)"))

        if (sel := present & aware).any():
            # one offset at a time: pandas parses a column of one offset in C, mixed ones value by value
            at = np.flatnonzero(sel)
            offsets = pd.Series([_OFFSET.search(v).group(1) for v in iso.iloc[at]])
            for _, group in offsets.groupby(offsets, sort=False).groups.items():
                where_ = at[np.asarray(group)]
                t = pd.to_datetime(iso.iloc[where_], format="ISO8601", utc=True, errors="coerce")
                if t.isna().any():
                    bad(where_[np.flatnonzero(t.isna().to_numpy())[0]])
                result.iloc[where_] = t.array
        if (sel := present & isoish & ~aware).any():
            if tz is None:
                naive(np.flatnonzero(sel)[0])
            t = pd.to_datetime(iso[sel], format="ISO8601", errors="coerce")
            if t.isna().any():
                bad(np.flatnonzero(sel)[np.flatnonzero(t.isna().to_numpy())[0]])
            result.iloc[np.flatnonzero(sel)] = _localize(t, tz, file, name, rows_here[sel], label).to_numpy()
        for i in np.flatnonzero(present & ~isoish):
            try:
                t = pd.Timestamp(iso.iloc[i])
            except (ValueError, OverflowError):
                bad(i)
            if t is pd.NaT:
                bad(i)
            if t.tzinfo is None:
                if tz is None:
                    naive(i)
                t = _localize(pd.Series([t]), tz, file, name, rows_here[i:i + 1], label).iloc[0]
            result.iloc[i] = t.tz_convert("UTC")
        out[name] = result.dt.tz_convert(tz) if tz is not None else result
    return out


def _matches(s: pd.Series, test) -> np.ndarray:
    return np.fromiter((v is not None and test(v) is not None for v in s), dtype=bool, count=len(s))


def _localize(t: pd.Series, tz: str, file: str, name: str, rows: np.ndarray, label: str) -> pd.Series:
    """Wall-clock times in `tz`; a time that does not exist there (the hour skipped in spring) or
    exists twice (the hour repeated in autumn) is refused by name."""
    try:
        return t.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise").dt.tz_convert("UTC")
    except Exception:
        for i, v in enumerate(t):
            try:
                pd.Timestamp(v).tz_localize(tz, ambiguous="raise", nonexistent="raise")
            except Exception:
                raise SpecError(where(file, int(rows[i]), name, label), message=(
                    f"{v} does not exist or exists twice in {tz} (a daylight saving change); "
                    "give the offset (+01:00) in the file")) from None
        raise
