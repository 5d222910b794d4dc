"""Dates and working time: a stream's `epoch` and a pool's working `calendar` (docs/model.md, "Epoch
and working calendars").

Simulated time stays a float in the stream's `time_unit`. An `Epoch` says which instant time 0 is
(a local start in an IANA time zone), so time t is the instant start + t x time_unit: a unit is an
exact duration (a `day` is 86 400 s, also across a daylight-saving change). A `Calendar` is the set
of working intervals of a pool in simulated time: its days and hours are local wall-clock times of
the epoch's zone (hours 9-17 stay 9-17 local after a DST change), less its days `off`.

Working time is the time change W(t) = the working time in [0, t]: `add(s, w)` is the first
instant t >= s with W(t) - W(s) >= w, `working_time(s, t)` is W(t) - W(s). Working intervals are
made lazily, a block of days at a time, as later times are asked for.
"""
from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vssim.errors import SpecError

UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
"""The time units that are durations (with an epoch or a calendar, `time_unit` is one of them)."""
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_START = dt.datetime(2024, 1, 1)
"""Without an epoch, time 0 is Monday 2024-01-01 00:00 UTC (only its weekday matters: `off` needs an epoch)."""
_TOL = 1e-12
"""Relative tolerance of `is_working` at the ends of a working interval."""
BLOCK_DAYS = 371
"""Working intervals are made 53 weeks at a time."""


def unit_seconds(time_unit: str, where: str) -> int:
    """The seconds of `time_unit`, or a one-line error naming `where` (the key that needs a duration)."""
    if time_unit not in UNIT_SECONDS:
        raise SpecError("time_unit", message=f"must be one of {', '.join(UNIT_SECONDS)} with {where} (a time must "
                                             f"be a duration to be a date), got {time_unit!r}")
    return UNIT_SECONDS[time_unit]


def _zone(tz: Any, where: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(tz, str) or not tz or tz.startswith(("/", ".")) or ".." in tz:
        raise SpecError(where, "an IANA time zone name (Europe/Amsterdam) or UTC", tz)
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SpecError(where, "an IANA time zone name (Europe/Amsterdam) or UTC", tz) from None


@dataclass(frozen=True)
class Epoch:
    """Time 0 is `start` (a local wall-clock time, naive) in zone `tz`; times are in `unit`."""

    start: dt.datetime
    tz: str = "UTC"
    unit: str = "day"

    @property
    def seconds(self) -> int:
        return UNIT_SECONDS[self.unit]

    @property
    def start_utc(self) -> pd.Timestamp:
        """The instant of time 0 (an ambiguous local start is its first occurrence, one in a DST gap moves
        forward to the end of the gap)."""
        return pd.Timestamp(self.start).tz_localize(self.tz, ambiguous=True, nonexistent="shift_forward") \
            .tz_convert("UTC")

    def to_datetime(self, t: Any) -> pd.DatetimeIndex | pd.Timestamp:
        """Times (a number or an array; NaN: NaT) as tz-aware timestamps in the epoch's zone, to the nanosecond."""
        scalar = np.ndim(t) == 0
        x = np.atleast_1d(np.asarray(t, dtype=float))
        ns = np.round(x * (self.seconds * 1e9))
        ok = np.isfinite(ns)
        if np.any(np.abs(ns[ok] + self.start_utc.value) >= 2.0 ** 63):
            raise ValueError(f"times up to {np.nanmax(np.abs(x)):g} {self.unit}s from the epoch go beyond the dates "
                             "pandas holds (1677 to 2262)")
        out = np.full(len(x), np.iinfo(np.int64).min, dtype=np.int64)      # NaT
        out[ok] = ns[ok].astype(np.int64) + self.start_utc.value
        index = pd.DatetimeIndex(out.view("datetime64[ns]")).tz_localize("UTC").tz_convert(self.tz)
        return index[0] if scalar else index

    def to_time(self, timestamps: Any) -> np.ndarray | float:
        """Timestamps (tz-aware, or naive: read in the epoch's zone) as times in the stream's unit."""
        scalar = isinstance(timestamps, str | dt.datetime | pd.Timestamp)
        index = pd.DatetimeIndex([timestamps] if scalar else timestamps)
        if index.tz is None:
            index = index.tz_localize(self.tz, ambiguous=True, nonexistent="shift_forward")
        ns = (index.tz_convert("UTC").asi8 - self.start_utc.value).astype(np.float64)   # int64 first: exact ns
        out = np.where(index.isna(), np.nan, ns / (self.seconds * 1e9))
        return float(out[0]) if scalar else out

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "tz": self.tz}


def default_epoch(unit: str) -> Epoch:
    """Time 0 without an epoch, for anything that needs a weekday: Monday 00:00 UTC."""
    return Epoch(DEFAULT_START, "UTC", unit)


def parse_epoch(value: Any, time_unit: str) -> Epoch:
    """A stream's `epoch: {start: "2024-01-01T00:00:00", tz: "Europe/Amsterdam"}`."""
    if not isinstance(value, Mapping):
        raise SpecError("epoch", "a mapping {start: ISO 8601 date and time without offset, tz: IANA name}", value)
    for key in value:
        if key not in ("start", "tz"):
            raise SpecError(f"epoch.{key}", message="unknown key; allowed: start, tz")
    for key in ("start", "tz"):
        if value.get(key) is None:
            raise SpecError(f"epoch.{key}", message="required")
    _zone(value["tz"], "epoch.tz")
    raw = value["start"]
    start = raw if isinstance(raw, dt.datetime) else None
    if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
        start = dt.datetime.combine(raw, dt.time())
    if isinstance(raw, str):
        try:
            start = dt.datetime.fromisoformat(raw)
        except ValueError:
            start = None
    if start is None or start.tzinfo is not None:
        raise SpecError("epoch.start", "an ISO 8601 date and time without offset (2024-01-01T09:00:00), read in tz",
                        raw)
    unit_seconds(time_unit, "an epoch")
    return Epoch(start, str(value["tz"]), time_unit)


@dataclass(frozen=True)
class Calendar:
    """A pool's working time: `days` (0 Monday .. 6 Sunday), `hours` ([from, to) local hours, sorted, not
    overlapping), `off` (local dates without work), on the clock of `epoch`."""

    days: tuple[int, ...]
    hours: tuple[tuple[float, float], ...]
    off: tuple[dt.date, ...]
    epoch: Epoch
    _cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def to_dict(self) -> dict:
        return {"days": [DAYS[d] for d in self.days], "hours": [list(h) for h in self.hours],
                "off": [d.isoformat() for d in self.off]}

    @property
    def weekly_hours(self) -> float:
        """Working hours in a week without days off (local wall clock)."""
        return len(self.days) * math.fsum(b - a for a, b in self.hours)

    @property
    def share(self) -> float:
        """The long-run share of time that is working time: weekly hours ÷ 168 (days `off` are finitely
        many, and a DST change's hour comes back half a year later)."""
        return self.weekly_hours / 168.0

    # -------------------------------------------------------------- the working intervals
    def _intervals(self, until_time: float = 0.0, until_work: float = 0.0) -> dict:
        """The cache, extended until its intervals reach time `until_time` and working time `until_work`:
        `a`, `b` (starts and ends, sorted, in time units from 0), `c` (working time before each start),
        `e` (working time at each end), as numpy arrays and lists."""
        c = self._cache
        if not c:
            start = self.epoch.start_utc
            c.update(day=self.epoch.start.date(), start_ns=start.value, a=[], b=[], c=[], e=[], work=0.0)
        while not c["a"] or c["b"][-1] < until_time or c["e"][-1] < until_work:
            self._extend(c)
        return c

    def _extend(self, c: dict) -> None:
        days = pd.date_range(c["day"], periods=BLOCK_DAYS, freq="D")
        c["day"] = (days[-1] + pd.Timedelta(days=1)).date()
        off = set(self.off)
        keep = [d for d in days if d.weekday() in self.days and d.date() not in off]
        if keep:
            base = pd.DatetimeIndex(keep)
            lo = np.concatenate([base + pd.to_timedelta(h0, unit="h") for h0, _ in self.hours])
            hi = np.concatenate([base + pd.to_timedelta(h1, unit="h") for _, h1 in self.hours])
            unit_ns = self.epoch.seconds * 1e9
            a = (self._local_ns(lo) - c["start_ns"]).astype(np.float64)     # int64 first: exact nanoseconds
            b = (self._local_ns(hi) - c["start_ns"]).astype(np.float64)
            order = np.argsort(a, kind="stable")
            a, b = a[order] / unit_ns, b[order] / unit_ns
            a = np.maximum(a, 0.0)              # time starts at 0
            ok = b > a                          # a period in a DST gap, or before time 0, is no time
            work = c["work"]
            for x, y in zip(a[ok].tolist(), b[ok].tolist(), strict=True):
                if c["a"] and x < c["b"][-1]:   # cannot overlap (hours are sorted, DST moves them together)
                    x = c["b"][-1]
                    if not y > x:
                        continue
                c["a"].append(x)
                c["b"].append(y)
                c["c"].append(work)
                work += y - x
                c["e"].append(work)
            c["work"] = work
        c.pop("arrays", None)

    def _local_ns(self, local: np.ndarray) -> np.ndarray:
        """Local wall-clock times as UTC nanoseconds (int64): ambiguous ones the first occurrence, ones in a
        DST gap the end of the gap."""
        index = pd.DatetimeIndex(local).tz_localize(self.epoch.tz, ambiguous=np.ones(len(local), dtype=bool),
                                                    nonexistent="shift_forward")
        return index.tz_convert("UTC").asi8

    def _arrays(self, until_time: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self._intervals(until_time)
        if "arrays" not in c:
            c["arrays"] = (np.array(c["a"]), np.array(c["b"]), np.array(c["c"]))
        return c["arrays"]

    # -------------------------------------------------------------- working time
    def clock(self, t: Any) -> Any:
        """W(t): the working time in [0, t] (vectorised; negative times count 0)."""
        x = np.asarray(t, dtype=float)
        finite = x[np.isfinite(x)]
        a, b, c = self._arrays(float(finite.max()) if finite.size else 0.0)
        j = np.searchsorted(a, x, side="right") - 1
        jj = np.maximum(j, 0)
        w = np.where(j >= 0, c[jj] + np.clip(x - a[jj], 0.0, b[jj] - a[jj]), 0.0)
        w = np.where(np.isnan(x), np.nan, w)
        return float(w) if w.ndim == 0 else w

    def working_time(self, s: Any, t: Any) -> Any:
        """The working time in [s, t] (t >= s), vectorised."""
        return self.clock(t) - self.clock(s)

    def add(self, s: float, w: float) -> float:
        """The first instant t >= s by which `w` of working time has passed since s (w <= 0: s)."""
        if not w > 0.0:
            return s
        c = self._intervals(s)
        a, b, cs = c["a"], c["b"], c["c"]
        j = bisect.bisect_right(a, s) - 1
        done = 0.0 if j < 0 else cs[j] + min(max(s - a[j], 0.0), b[j] - a[j])
        target = done + w
        c = self._intervals(until_work=target)
        e = c["e"]
        k = bisect.bisect_left(e, target)
        end = min(c["a"][k] + (target - c["c"][k]), c["b"][k])
        return max(end, s)          # (a w below the float resolution of W(s): s itself)

    def is_working(self, t: float) -> bool:
        """True when t is inside a working interval [from, to), each end moved 1e-12 x t earlier: a clock that
        reached an opening or a closing by a sum of gaps may be an ulp short of it, and is at it."""
        c = self._intervals(t)
        tol = _TOL * max(1.0, abs(t))
        j = bisect.bisect_right(c["a"], t + tol) - 1
        return j >= 0 and t < c["b"][j] - tol

    def next_open(self, t: float) -> float:
        """t when it is working time (`is_working`), else the start of the next working interval."""
        c = self._intervals(t)
        a = c["a"]
        tol = _TOL * max(1.0, abs(t))
        j = bisect.bisect_right(a, t + tol) - 1
        if j >= 0 and t < c["b"][j] - tol:
            return t
        while j + 1 >= len(a):
            self._extend(c)
        return a[j + 1]


def yaml_off(value: Mapping) -> Mapping:
    """A calendar mapping with its key `off` as written: YAML 1.1 (PyYAML) reads an unquoted `off:` as the
    boolean false, which no other key of a calendar can be."""
    if any(k is False for k in value):
        return {("off" if k is False else k): v for k, v in value.items()}
    return value


def with_calendar_keys(d: Any) -> Any:
    """A stream mapping whose every pool `calendar` has its key `off` as written (`yaml_off`) and whose
    dates (YAML reads unquoted ones as dates) are ISO text, so that the stream's `source`
    (`StreamSpec.to_dict`) reads back the same and writes as JSON."""
    if not isinstance(d, Mapping):
        return d
    out = {}
    for k, v in d.items():
        if k == "calendar" and isinstance(v, Mapping):
            v = yaml_off(v)
            off = v.get("off")
            if isinstance(off, list | tuple):       # YAML's dates as they were written: plain text
                v = {**v, "off": [x.isoformat() if isinstance(x, dt.date) else x for x in off]}
            out[k] = v
        elif k == "epoch" and isinstance(v, Mapping) and isinstance(v.get("start"), dt.date):
            out[k] = {**v, "start": v["start"].isoformat()}
        elif isinstance(v, Mapping):
            out[k] = with_calendar_keys(v)
        else:
            out[k] = v
    return out


def parse_calendar(value: Any, where: str, epoch: Epoch | None, time_unit: str) -> Calendar:
    """A pool's `calendar: {days: [mon, ...], hours: [[9, 12], [13, 17]], off: ["2024-12-25"]}`."""
    if not isinstance(value, Mapping):
        raise SpecError(where, "a mapping {days, hours, off} or null", value)
    value = yaml_off(value)
    for key in value:
        if key not in ("days", "hours", "off"):
            raise SpecError(f"{where}.{key}", message="unknown key; allowed: days, hours, off")
    unit_seconds(time_unit, "a calendar")
    days = _days(value.get("days", list(DAYS[:5])), f"{where}.days")
    hours = _hours(value.get("hours", [[9, 17]]), f"{where}.hours")
    off = _off(value.get("off"), f"{where}.off", epoch)
    return Calendar(days, hours, off, epoch or default_epoch(time_unit))


def _days(value: Any, where: str) -> tuple[int, ...]:
    names = [value] if isinstance(value, str) else value
    allowed = f"a non-empty list of {', '.join(DAYS)} without repeats"
    if not isinstance(names, Sequence) or not names or any(n not in DAYS for n in names) \
            or len(set(names)) != len(names):
        raise SpecError(where, allowed, value)
    return tuple(sorted(DAYS.index(n) for n in names))


def _hours(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    allowed = "a [from, to] pair of hours 0 <= from < to <= 24, or a list of them, sorted and not overlapping"

    def number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

    if isinstance(value, Sequence) and len(value) == 2 and all(number(x) for x in value):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise SpecError(where, allowed, value)
    out: list[tuple[float, float]] = []
    for pair in value:
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2 \
                or not all(number(x) for x in pair):
            raise SpecError(where, allowed, value)
        a, b = float(pair[0]), float(pair[1])
        if not 0 <= a < b <= 24 or (out and a < out[-1][1]):
            raise SpecError(where, allowed, value)
        out.append((a, b))
    return tuple(out)


def _off(value: Any, where: str, epoch: Epoch | None) -> tuple[dt.date, ...]:
    if value is None:
        return ()
    if epoch is None:
        raise SpecError(where, message="needs the stream's epoch (dates are days of the epoch's calendar), got "
                                       f"{value!r}")
    if isinstance(value, str | dt.date):
        value = [value]
    if not isinstance(value, Sequence):
        raise SpecError(where, "a list of dates YYYY-MM-DD", value)
    out = []
    for d in value:
        day = d if isinstance(d, dt.date) and not isinstance(d, dt.datetime) else None
        if isinstance(d, str):
            try:
                day = dt.date.fromisoformat(d)
            except ValueError:
                day = None
        if day is None:
            raise SpecError(where, "a list of dates YYYY-MM-DD", d)
        out.append(day)
    return tuple(sorted(set(out)))
