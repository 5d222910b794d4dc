"""Fidelity: a real log against R simulated logs of its period (`vssim.analysis.fidelity`), each
figure the real curve over the band the simulated logs span (their min to max, and their median):
lead-time percentiles, weekly throughput and WIP over time. Logs are in the event layout.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vssim.analysis.fidelity import case_table, weekly_throughput, wip_series
from vssim.report.figures.style import RC, color, figure, save

UNITS = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(weeks=1)}
PERCENTILES = np.arange(1, 100)
_REAL, _SIM = color(0), color(1)


def _band(ax, x, rows: np.ndarray, label: str, step: bool = False) -> None:
    """The simulated logs' min–max band and their median."""
    rows = np.asarray(rows, dtype=float)
    kw = {"step": "post"} if step else {}
    ax.fill_between(x, rows.min(axis=0), rows.max(axis=0), color=_SIM, alpha=0.25, linewidth=0,
                    label=f"{label}, min–max of {len(rows)}", **kw)
    ax.plot(x, np.median(rows, axis=0), color=_SIM, linewidth=1.6, linestyle="--", label=f"{label}, median",
            drawstyle="steps-post" if step else "default")


def _unit(time_unit: str) -> pd.Timedelta:
    if time_unit not in UNITS:
        raise ValueError(f"time_unit: must be one of {', '.join(UNITS)}, got {time_unit!r}")
    return UNITS[time_unit]


# ---------------------------------------------------------------------------- lead time
def lead_time_percentiles(events: pd.DataFrame, time_unit: str = "day") -> np.ndarray:
    """Percentiles 1..99 of the cases' lead times (first to last event) in `time_unit`."""
    lead = case_table(events)["lead_time"] / _unit(time_unit)
    return np.percentile(lead.to_numpy(dtype=float), PERCENTILES) if len(lead) else np.full(len(PERCENTILES), np.nan)


def _build_lead_time_band(real: pd.DataFrame, simulated: list[pd.DataFrame], time_unit: str = "day",
                          label: str = "simulated", title: str = "Lead time: real against simulated") -> Figure:
    with mpl.rc_context(RC):
        fig = figure(8, 4.5)
        ax = fig.subplots()
        _band(ax, PERCENTILES, np.array([lead_time_percentiles(s, time_unit) for s in simulated]), label)
        ax.plot(PERCENTILES, lead_time_percentiles(real, time_unit), color=_REAL, linewidth=2, label="real")
        ax.set_xlabel("percentile of cases")
        ax.set_ylabel(f"lead time, first to last event ({time_unit})")
        ax.set_title(title)
        ax.legend()
    return fig


def lead_time_band(real: pd.DataFrame, simulated: list[pd.DataFrame], path, *, time_unit: str = "day",
                   label: str = "simulated") -> Path:
    """Lead-time percentiles (a quantile plot): the real log's against the simulated logs' band."""
    return save(_build_lead_time_band(real, simulated, time_unit, label), path)


# ---------------------------------------------------------------------------- weekly throughput
def _weeks(logs: list[pd.DataFrame]) -> pd.DatetimeIndex:
    """Weeks from the Monday 00:00 on or before the first event of any log to its last event, in
    the real log's zone."""
    tz = logs[0]["timestamp"].dt.tz
    lo = min(log["timestamp"].min() for log in logs).tz_convert(tz)
    hi = max(log["timestamp"].max() for log in logs).tz_convert(tz)
    monday = lo.normalize() - pd.Timedelta(days=lo.dayofweek)
    return pd.date_range(monday, hi, freq="7D")


def _build_throughput_band(real: pd.DataFrame, simulated: list[pd.DataFrame], label: str = "simulated",
                           title: str = "Weekly throughput: real against simulated") -> Figure:
    weeks = _weeks([real, *simulated])
    x = weeks.tz_localize(None).append(pd.DatetimeIndex([weeks[-1].tz_localize(None) + pd.Timedelta(days=7)]))

    def counts(log):            # the last week's count repeated: a step drawn to the week's end
        c = weekly_throughput(log, weeks)
        return np.append(c, c[-1])

    return _time_band(x, counts(real), [counts(s) for s in simulated], label, f"week starting ({weeks.tz})",
                      "cases finished per week", title)


def throughput_band(real: pd.DataFrame, simulated: list[pd.DataFrame], path, *, label: str = "simulated") -> Path:
    """Cases finished (their last event) per calendar week, Monday to Monday."""
    return save(_build_throughput_band(real, simulated, label), path)


# ---------------------------------------------------------------------------- WIP
def _build_wip_band(real: pd.DataFrame, simulated: list[pd.DataFrame], points: int = 400, label: str = "simulated",
                    title: str = "Work in progress: real against simulated") -> Figure:
    logs = [real, *simulated]
    tz = real["timestamp"].dt.tz
    lo = min(log["timestamp"].min() for log in logs).tz_convert(tz)
    hi = max(log["timestamp"].max() for log in logs).tz_convert(tz)
    times = pd.date_range(lo, hi, periods=points)
    x = times.tz_localize(None)
    return _time_band(x, wip_series(real, times), [wip_series(s, times) for s in simulated], label, f"time ({tz})",
                      "cases in progress (first to last event)", title)


def _time_band(x, real, simulated: list, label: str, xlabel: str, ylabel: str, title: str) -> Figure:
    """A step curve of the real log over the band of the simulated ones, against dates."""
    with mpl.rc_context(RC):
        fig = figure(9, 4.5)
        ax = fig.subplots()
        _band(ax, x, np.array(simulated), label, step=True)
        ax.plot(x, real, color=_REAL, linewidth=2, drawstyle="steps-post", label="real")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
        fig.autofmt_xdate()
    return fig


def wip_band(real: pd.DataFrame, simulated: list[pd.DataFrame], path, *, label: str = "simulated") -> Path:
    """Cases in progress over time (a case is in progress from its first event to its last)."""
    return save(_build_wip_band(real, simulated, label=label), path)


def fidelity_figures(real: pd.DataFrame, simulated: list[pd.DataFrame], out, *, time_unit: str = "day",
                     label: str = "simulated") -> dict[str, Path]:
    """The three figures into folder `out`: lead_time.png, throughput.png, wip.png (by key)."""
    out = Path(out)
    return {"lead_time": lead_time_band(real, simulated, out / "lead_time.png", time_unit=time_unit, label=label),
            "throughput": throughput_band(real, simulated, out / "throughput.png", label=label),
            "wip": wip_band(real, simulated, out / "wip.png", label=label)}
