"""`vssim.read_log`: one entry point for every log format (docs/data.md)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vssim.data.board import read_board
from vssim.data.events import read_events_csv, read_xes
from vssim.data.log import EventLog
from vssim.data.transitions import read_transitions, read_xes_transitions
from vssim.errors import SpecError

FORMATS = ("board", "transitions", "events")


def _is_xes(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".xes") or name.endswith(".xes.gz")


def read_log(path: str | Path, format: str | None = None, mapping: Mapping | None = None,
             tz: str | None = None, dayfirst: bool | None = None) -> EventLog:
    """Read a board export, a status-transition log or an event log into an `EventLog`.

    `format`: "board" (one row per item, a date column per stage), "transitions" (item, status,
    timestamp rows; or an XES of status changes) or "events" (CSV event log or XES); None infers
    "events" for `.xes` / `.xes.gz` and refuses to guess for a CSV. `mapping`: the format's keys
    (docs/data.md). `tz`: the zone of times written without an offset (required for them: no
    time is assumed to be local). `dayfirst`: the order of numeric dates when the file cannot tell.
    """
    path = Path(path)
    xes = _is_xes(path)
    if format is None:
        if not xes:
            raise SpecError(f"{path}: format", message=(
                "cannot tell a CSV's layout from its name: pass format='board', 'transitions' or 'events'"))
        format = "events"
    if format not in FORMATS:
        raise SpecError(f"{path}: format", "'board', 'transitions' or 'events'", format)
    if xes:
        if format == "board":
            raise SpecError(f"{path}: format", message="an XES file is an event log: format='events' or 'transitions'")
        if dayfirst is not None:
            raise SpecError(f"{path}: dayfirst", message="XES times are ISO 8601: dayfirst does not apply")
        return read_xes(path, mapping, tz=tz) if format == "events" else read_xes_transitions(path, mapping, tz=tz)
    reader = {"board": read_board, "transitions": read_transitions, "events": read_events_csv}[format]
    return reader(path, mapping, tz=tz, dayfirst=dayfirst)
