"""Reading a stream's own data: board exports, status-transition logs, event logs, the board now.

Every importer gives an `EventLog` (`log.py`): one row per activity instance, one per case, in
explicit time zones. Discovery (`discover.py`) turns one into a stream mapping; the analysis
layer measures how close a simulated log is to a real one (`vssim/analysis/fidelity.py`).
"""
