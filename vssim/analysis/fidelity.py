"""Fidelity: a simulated log held against a real one the way the process-simulation field does it.

The logs compared are in the event layout of DESIGN.md §11 (`vssim.data.log.EVENT_COLUMNS`: case_id,
activity, timestamp, lifecycle start/complete, resource; step activities only). `distances` computes
the five measures of the `log-distance-measures` package (Chapela-Campa et al.) with the options
Simod 5.x's evaluation passes (`simod/metrics.py`), between a real log and each of R simulated logs.
The baselines (`replay_baseline`, `naive_baseline`) are what a model must beat to be worth more
than the data itself; `chronological_split` makes the held-out period. docs/calibration.md,
"Fidelity: the five measures", says what each measure is and why these options.
"""
from __future__ import annotations

import datetime
import math
from collections import deque
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from vssim.data.log import EVENT_COLUMNS, EventLog
from vssim.errors import SpecError, VssimError
from vssim.files import write_atomic
from vssim.records import Records

__all__ = ["MEASURES", "Split", "activity_instances", "case_table", "chronological_split", "distances",
           "naive_baseline", "read_event_csv", "replay_baseline", "simulated_log", "weekly_throughput",
           "wip_series", "write_log"]

MEASURES = ("ngram_3", "absolute_event", "circadian_event", "relative_event", "cycle_time")
"""The keys of `distances`, in the order the tables show them."""
LIFECYCLES = ("start", "complete")


# ---------------------------------------------------------------------------- simulated logs
def simulated_log(records: Records, origin: pd.Timestamp, unit: pd.Timedelta) -> pd.DataFrame:
    """One replication's records as the event layout: a start and a complete row per step visit,
    time t at `origin + t × unit` (`origin` tz-aware, so the log's hours are someone's hours).

    A case is a top-level item: the visits of a team's children (and of a split item's parts) are
    rows of their top-level item's case, as a real log of the case records the work done for it;
    a split step's own visit (the parent waiting for its children, worked by nobody) is left out.
    A swarm's helpers are not rows (one instance per visit, its main person as resource). Visits
    not started have no row, visits started and not ended only their start.
    """
    origin = pd.Timestamp(origin)
    if origin.tzinfo is None:
        raise SpecError("origin", "a timezone-aware timestamp", str(origin))
    unit = pd.Timedelta(unit)
    case = _top_level(records)[records.visit_item]
    keep = ~records.step_split[records.visit_step]
    steps = np.asarray(records.step_names, dtype=object)
    resource = records._resources(records.visit_person)
    resource = np.where(resource == "", None, resource).astype(object)
    frames = []
    for lifecycle, t, seq in (("start", records.visit_start, records.visit_start_seq),
                              ("complete", records.visit_end, records.visit_end_seq)):
        ok = keep & ~np.isnan(t)
        frames.append(pd.DataFrame({
            "case_id": case[ok].astype(str), "activity": steps[records.visit_step[ok]], "_t": t[ok],
            "lifecycle": lifecycle, "resource": resource[ok], "_seq": seq[ok]}))
    out = pd.concat(frames, ignore_index=True).sort_values(["_t", "_seq"], kind="stable")
    # origin + t × unit in integer nanoseconds: exact for the binary times the engines produce
    ns = np.rint(out["_t"].to_numpy() * unit.value).astype(np.int64)
    out["timestamp"] = origin + pd.to_timedelta(ns, unit="ns")
    return out[list(EVENT_COLUMNS)].reset_index(drop=True)


def _top_level(records: Records) -> np.ndarray:
    """Each item's top-level item: its root through `item_parent`, then its whole item (`parts`)."""
    parent = np.asarray(records.item_parent, dtype=np.int64)
    root = np.arange(records.n_items, dtype=np.int64)
    for _ in range(64):                       # levels are few; a parent is always made before its children
        up = parent[root]
        if not (up >= 0).any():
            break
        root = np.where(up >= 0, up, root)
    return root // records.parts if records.parts > 1 else root


# ---------------------------------------------------------------------------- files
def write_log(df: pd.DataFrame, path) -> Path:
    """Write an event-layout frame as CSV, timestamps ISO 8601 with their offset (never half a file)."""
    _check_layout(df, "log")
    path = Path(path)
    out = df[list(EVENT_COLUMNS)].copy()
    out["timestamp"] = [t.isoformat() for t in out["timestamp"]]
    write_atomic(path, lambda tmp: out.to_csv(tmp, index=False))
    return path


def read_event_csv(path, tz=None) -> pd.DataFrame:
    """Read an event-layout CSV (what `write_log` writes, or `heldout.csv`): timestamps with an
    offset each; `tz` converts them to a zone (needed when offsets differ, as across a DST change:
    a log's hours must be one zone's hours)."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype={"case_id": str, "activity": str, "lifecycle": str, "resource": str},
                          keep_default_na=False, na_values={"resource": [""]})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise SpecError(str(path), message=f"cannot be read as CSV ({e})") from None
    missing = [c for c in EVENT_COLUMNS if c not in raw.columns]
    if missing:
        raise SpecError(str(path), f"a CSV with columns {', '.join(EVENT_COLUMNS)}", f"no {missing[0]!r} column")
    text = raw["timestamp"].astype(str)
    offset = text.str.extract(r"([+-]\d\d:?\d\d|Z)$")[0]
    bad = offset.isna()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SpecError(f"{path}, row {row + 2}, column timestamp", "ISO 8601 with an offset", text.iloc[row])
    try:
        ts = pd.to_datetime(text, format="ISO8601", utc=True)
    except (ValueError, TypeError):
        ts = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        row = int(np.flatnonzero(ts.isna())[0])
        raise SpecError(f"{path}, row {row + 2}, column timestamp", "ISO 8601 with an offset",
                        text.iloc[row]) from None
    if tz is not None:
        ts = ts.dt.tz_convert(tz)
    elif offset.nunique() == 1:
        ts = ts.dt.tz_convert(pd.Timestamp(text.iloc[0]).tzinfo)
    else:
        raise SpecError(f"{path}, column timestamp", message="offsets differ between rows "
                        f"({', '.join(sorted(offset.unique())[:3])}): give tz= to read them in one zone")
    life = raw["lifecycle"].str.strip().str.lower()
    wrong = ~life.isin(LIFECYCLES)
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise SpecError(f"{path}, row {row + 2}, column lifecycle", "start or complete", raw["lifecycle"].iloc[row])
    resource = raw["resource"].astype(object)
    return pd.DataFrame({"case_id": raw["case_id"], "activity": raw["activity"], "timestamp": ts,
                         "lifecycle": life, "resource": resource.where(resource.notna(), None)})


def _check_layout(df: pd.DataFrame, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise SpecError(what, "a DataFrame in the event layout", type(df).__name__)
    missing = [c for c in EVENT_COLUMNS if c not in df.columns]
    if missing:
        raise SpecError(what, f"a frame with columns {', '.join(EVENT_COLUMNS)}", f"no {missing[0]!r} column")
    if not isinstance(df["timestamp"].dtype, pd.DatetimeTZDtype):
        raise SpecError(f"{what}.timestamp", "timezone-aware timestamps", str(df["timestamp"].dtype))


# ---------------------------------------------------------------------------- instances
def activity_instances(events: pd.DataFrame, what: str = "log") -> pd.DataFrame:
    """The activity instances of an event-layout log (the package's EventLogIDs defaults: columns
    case, activity, start_timestamp, end_timestamp, resource): starts and completes paired first in,
    first out per case and activity. A start never completed (work still in progress) and a
    complete with no start before it are dropped: the measures need both ends."""
    _check_layout(events, what)
    ev = events.reset_index(drop=True)
    ev = ev.assign(_l=(ev["lifecycle"] == "complete").astype(int)).sort_values(["timestamp", "_l"], kind="stable")
    open_starts: dict[tuple, deque] = {}
    rows = []
    for case, activity, t, life, resource in zip(ev["case_id"], ev["activity"], ev["timestamp"], ev["lifecycle"],
                                                 ev["resource"], strict=True):
        queue = open_starts.setdefault((case, activity), deque())
        if life == "start":
            queue.append((t, resource))
        elif queue:                         # a complete closes the oldest open start; none open: dropped
            s, r = queue.popleft()
            rows.append((case, activity, s, t, r))
    pairs = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp_s", "timestamp_e", "resource"])
    tz = events["timestamp"].dt.tz
    for c in ("timestamp_s", "timestamp_e"):
        pairs[c] = pd.DatetimeIndex(pairs[c], tz=tz) if len(pairs) else pd.Series([], dtype=events["timestamp"].dtype)
    out = pd.DataFrame({"case": pairs["case_id"], "activity": pairs["activity"],
                        "start_timestamp": pairs["timestamp_s"], "end_timestamp": pairs["timestamp_e"],
                        "resource": pairs["resource"]})
    return out.sort_values(["start_timestamp", "end_timestamp"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------- the five distances
def distances(real: pd.DataFrame | EventLog, simulated: list[pd.DataFrame]) -> dict:
    """The five distances of `log-distance-measures` between `real` and each simulated log, as
    Simod 5.x's evaluation calls them (`simod/metrics.py`): n-gram distribution distance n = 3
    (normalised, the package default); absolute, circadian and relative event distribution
    distances on start and end timestamps (`AbsoluteTimestampType.BOTH`) in hourly bins; cycle-time
    distribution distance in 1-hour bins; the 1-D Wasserstein distance (the package default) in all
    four. `real` may be an imported `EventLog` (its `events()`). Each key holds `{mean, sd, values}`
    over the simulated logs (sd with ddof 1; NaN for one log). The four time measures are in hours
    (hour bins); ngram_3 is in [0, 1]."""
    try:
        from log_distance_measures.absolute_event_distribution import absolute_event_distribution_distance
        from log_distance_measures.circadian_event_distribution import circadian_event_distribution_distance
        from log_distance_measures.config import AbsoluteTimestampType, EventLogIDs, discretize_to_hour
        from log_distance_measures.cycle_time_distribution import cycle_time_distribution_distance
        from log_distance_measures.n_gram_distribution import n_gram_distribution_distance
        from log_distance_measures.relative_event_distribution import relative_event_distribution_distance
    except ImportError:
        raise VssimError("the fidelity distances need the log-distance-measures package: "
                         "pip install 'vssim[data]'") from None

    if isinstance(simulated, pd.DataFrame) or not len(simulated):
        raise SpecError("simulated", "a non-empty list of event-layout frames",
                        "a DataFrame" if isinstance(simulated, pd.DataFrame) else "an empty list")
    ids = EventLogIDs()          # case, activity, start_timestamp, end_timestamp, resource: activity_instances' columns
    both = AbsoluteTimestampType.BOTH
    measures = {
        "ngram_3": lambda a, b: n_gram_distribution_distance(a, ids, b, ids, n=3),
        "absolute_event": lambda a, b: absolute_event_distribution_distance(a, ids, b, ids, both, discretize_to_hour),
        "circadian_event": lambda a, b: circadian_event_distribution_distance(a, ids, b, ids, both),
        "relative_event": lambda a, b: relative_event_distribution_distance(a, ids, b, ids, both),
        "cycle_time": lambda a, b: cycle_time_distribution_distance(a, ids, b, ids, datetime.timedelta(hours=1)),
    }
    if isinstance(real, EventLog):
        real = real.events()
    original = _instances_or_refuse(real, "real")
    logs = [_instances_or_refuse(s, f"simulated[{k}]") for k, s in enumerate(simulated)]
    out = {}
    for name, measure in measures.items():
        values = [float(measure(original, s)) for s in logs]
        out[name] = {"mean": float(np.mean(values)),
                     "sd": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
                     "values": values}
    return out


def _instances_or_refuse(events: pd.DataFrame, what: str) -> pd.DataFrame:
    inst = activity_instances(events, what)
    if inst.empty:
        raise SpecError(what, message="has no activity instance with both a start and a complete: nothing to compare")
    return inst


# ---------------------------------------------------------------------------- split and baselines
class Split(NamedTuple):
    train: pd.DataFrame
    test: pd.DataFrame
    at: pd.Timestamp            # the first event of the first held-out case


def case_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per case: case_id, first and last event, lead time (last − first), ordered by the
    first event (ties by case id)."""
    _check_layout(events, "log")
    g = events.groupby("case_id", sort=False)["timestamp"]
    t = pd.DataFrame({"first": g.min(), "last": g.max()})
    t["lead_time"] = t["last"] - t["first"]
    t = t.rename_axis("case_id").reset_index()
    return t.sort_values(["first", "case_id"], kind="stable").reset_index(drop=True)


def chronological_split(log_events: pd.DataFrame, train: float = 0.8) -> Split:
    """Cases ordered by their first event: the first `floor(train × cases)` train (at least one, and
    at least one case held out), the rest are held out; every event of a case goes with its case."""
    if not (isinstance(train, int | float) and 0 < train < 1):
        raise SpecError("train", "a share in (0, 1)", train)
    cases = case_table(log_events)
    if len(cases) < 2:
        raise SpecError("log", "at least 2 cases to split", len(cases))
    n = min(max(int(math.floor(train * len(cases))), 1), len(cases) - 1)
    in_train = log_events["case_id"].isin(set(cases["case_id"].iloc[:n]))
    return Split(log_events[in_train].reset_index(drop=True), log_events[~in_train].reset_index(drop=True),
                 cases["first"].iloc[n])


def replay_baseline(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """The training log replayed into the test period: its first cases (by first event), as many as
    the test has, every event shifted by one offset so that the first of them arrives at the test's
    first arrival. The shift is exact, not a whole number of weeks: a replay keeps its
    spacing, not its weekdays (the circadian distance shows what that costs). Refused when the
    training log has fewer cases than the test."""
    train_cases, test_cases = case_table(train), case_table(test)
    n = len(test_cases)
    if len(train_cases) < n:
        raise SpecError("train", f"at least as many cases as the test ({n})", len(train_cases))
    chosen = train_cases.iloc[:n]
    shift = test_cases["first"].iloc[0] - chosen["first"].iloc[0]
    out = train[train["case_id"].isin(set(chosen["case_id"]))].copy()
    out["timestamp"] = (out["timestamp"] + shift).dt.tz_convert(test["timestamp"].dt.tz)
    return _sorted(out)


def naive_baseline(train: pd.DataFrame, n: int, rng: np.random.Generator, start: pd.Timestamp) -> pd.DataFrame:
    """n cases drawn whole from the training log (with replacement, each its events at their times
    relative to its first event) arriving as a Poisson process at the training arrival rate: the
    first at `start`, then exponential gaps of mean span/(N − 1) (the rate's estimate from the N
    training cases' first events). Case ids are `naive-0`, `naive-1`, ...."""
    if not isinstance(rng, np.random.Generator):
        raise SpecError("rng", "a numpy.random.Generator", type(rng).__name__)
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise SpecError("n", "an integer >= 1", n)
    cases = case_table(train)
    if len(cases) < 2:
        raise SpecError("train", "at least 2 cases to estimate an arrival rate", len(cases))
    span = (cases["first"].iloc[-1] - cases["first"].iloc[0]) / pd.Timedelta(seconds=1)
    if span <= 0:
        raise SpecError("train", message="every case starts at the same instant: no arrival rate to estimate")
    gap = span / (len(cases) - 1)
    arrivals = np.concatenate([[0.0], np.cumsum(rng.exponential(gap, size=n - 1))])
    picks = rng.integers(0, len(cases), size=n)
    first = dict(zip(cases["case_id"], cases["first"], strict=True))
    rel = train.assign(_rel=train["timestamp"] - train["case_id"].map(first))
    by_case = {c: g for c, g in rel.groupby("case_id", sort=False)}
    start = pd.Timestamp(start)
    frames = []
    for k, (pick, at) in enumerate(zip(picks, arrivals, strict=True)):
        g = by_case[cases["case_id"].iloc[pick]]
        when = start + pd.Timedelta(int(np.rint(at * 1e9)), unit="ns") + g["_rel"].to_numpy()
        frames.append(pd.DataFrame({"case_id": f"naive-{k}", "activity": g["activity"].to_numpy(), "timestamp": when,
                                    "lifecycle": g["lifecycle"].to_numpy(), "resource": g["resource"].to_numpy()}))
    return _sorted(pd.concat(frames, ignore_index=True))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    df = df.assign(_l=(df["lifecycle"] == "complete").astype(int)).sort_values(["timestamp", "_l"], kind="stable")
    return df[list(EVENT_COLUMNS)].reset_index(drop=True)


# ---------------------------------------------------------------------------- series for the figures
def weekly_throughput(events: pd.DataFrame, weeks: pd.DatetimeIndex) -> np.ndarray:
    """Cases finished (their last event) in each week [weeks[i], weeks[i] + 7 days)."""
    last = case_table(events)["last"]
    edges = weeks.append(pd.DatetimeIndex([weeks[-1] + pd.Timedelta(days=7)]))
    counts, _ = np.histogram(_ns(last), bins=_ns(edges))
    return counts


def wip_series(events: pd.DataFrame, times: pd.DatetimeIndex) -> np.ndarray:
    """Cases in progress at each time: first event at or before it, last event after it."""
    t = case_table(events)
    first, last, x = np.sort(_ns(t["first"])), np.sort(_ns(t["last"])), _ns(times)
    return np.searchsorted(first, x, side="right") - np.searchsorted(last, x, side="right")


def _ns(times) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of tz-aware times, whatever their pandas unit."""
    return pd.DatetimeIndex(times).as_unit("ns").asi8
