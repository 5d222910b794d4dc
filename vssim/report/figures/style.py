"""The house style of every figure: size and resolution, fonts, the Okabe–Ito palette, the
labels of the metrics, and saving.

Figures are drawn with matplotlib's object API (`Figure`, no pyplot: no global state, no
backend to choose, safe in worker processes) inside `rc_context(RC)`.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from vssim.files import write_atomic

DPI = 110
BASE_FONT = 11
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
"""Okabe & Ito's palette for colour-blind readers (blue first; yellow late: weak on white)."""
BASELINE_GREY = "#7F7F7F"
RC = {
    "font.size": BASE_FONT,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 14,
    "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
    "axes.spines.top": False,
    "axes.spines.right": False,
}
METRIC_LABELS = {
    "lead_time": ("lead time, mean", "{unit}"),
    "lead_time_p85": ("lead time, p85", "{unit}"),
    "flow_time": ("flow time, mean", "{unit}"),
    "flow_time_p85": ("flow time, p85", "{unit}"),
    "throughput": ("throughput", "items/{unit}"),
    "wip": ("WIP", "items"),
    "backlog": ("backlog", "items"),
    "flow_efficiency": ("flow efficiency", "%"),
    "flow_predictability": ("flow predictability", "%"),
}
FRACTIONS = {"flow_efficiency", "flow_predictability"}
"""Metrics held as fractions and shown as percentages."""


def color(k: int) -> str:
    """The k-th colour of the palette (cycling)."""
    return OKABE_ITO[k % len(OKABE_ITO)]


def figure(width: float, height: float) -> Figure:
    """An empty figure of the house size and resolution (build it inside `rc_context(RC)`)."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save(fig: Figure, path) -> Path:
    """Write `fig` at `path`, a PNG unless its suffix names another format (its folder made if
    needed; never half a file); the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = path.suffix.lstrip(".").lower() or "png"
    with mpl.rc_context(RC):
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format=kind))
    return path


def metric_name(metric: str) -> str:
    """"lead time, mean" for a metric key of the comparison table."""
    return METRIC_LABELS.get(metric, (metric.replace("_", " "), ""))[0]


def metric_unit(metric: str, time_unit: str) -> str:
    """The unit a metric is shown in ("day", "items/day", "%"; "" when it has none)."""
    return METRIC_LABELS.get(metric, ("", ""))[1].format(unit=time_unit)


def metric_label(metric: str, time_unit: str) -> str:
    """"lead time, mean (day)" for a metric key of the comparison table."""
    unit = metric_unit(metric, time_unit)
    return f"{metric_name(metric)} ({unit})" if unit else metric_name(metric)


def panels(n: int, ncols_max: int = 3) -> tuple[int, int]:
    """Rows and columns of a grid of `n` small multiples."""
    ncols = min(ncols_max, n)
    return math.ceil(n / ncols), ncols
