"""Reading a stream's own data: board exports, status-transition logs, event logs, the board now.

Every importer gives an `EventLog` (`log.py`): one row per activity instance, one per case, in
explicit time zones. `read.py` is the one entry point (`vssim.read_log`); `board.py`,
`transitions.py` and `events.py` the formats; `state.py` the board as it is now
(`vssim.read_state`). docs/data.md has the formats, the mapping keys and every error.
"""
from vssim.data.log import ACTIVITY_COLUMNS, CASE_COLUMNS, EVENT_COLUMNS, EventLog
from vssim.data.read import read_log
from vssim.data.state import STATE_COLUMNS, BoardState, read_state

__all__ = ["ACTIVITY_COLUMNS", "CASE_COLUMNS", "EVENT_COLUMNS", "STATE_COLUMNS", "BoardState", "EventLog", "read_log",
           "read_state"]
