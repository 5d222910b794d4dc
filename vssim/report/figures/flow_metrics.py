"""The dashboard: the six SAFe flow metrics of a run as one figure, a tile per metric with its big number."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib import patches
from matplotlib.figure import Figure

from vssim.formatting import MISSING, interval, number, percent
from vssim.report.figures.style import RC, color, figure, save


def _ci_label(ci, in_percent: bool = False, unit: str = "") -> str:
    text = MISSING if ci is None or len(ci) != 2 else interval(ci[0], ci[1], in_percent=in_percent)
    return f"95 % CI {text}" + (f" {unit}" if unit and text != MISSING else "")


def _tile(ax, heading: str, big: str, lines: Sequence[str], accent: str) -> None:
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.add_patch(patches.FancyBboxPatch((0.01, 0.01), 0.98, 0.98, boxstyle="round,pad=0,rounding_size=0.04",
                                        facecolor="#F7F7F7", edgecolor=accent, linewidth=2,
                                        transform=ax.transAxes))
    ax.text(0.06, 0.88, heading, fontsize=13, fontweight="bold", color="#222222", va="top", ha="left")
    if big:
        ax.text(0.5, 0.56, big, fontsize=28, fontweight="bold", color=accent, ha="center", va="center")
    for k, line in enumerate(lines):
        ax.text(0.5, 0.27 - 0.13 * k, line, fontsize=11, color="#333333", ha="center", va="center")


def _build_dashboard(summary: dict, title: str | None = None) -> Figure:
    m = summary["metrics"]
    unit = summary.get("time_unit", "day")
    with mpl.rc_context(RC):
        fig = figure(11, 6.2)
        axes = fig.subplots(2, 3)
        # distribution: a stacked bar of the shares by type
        ax = axes[0, 0]
        dist = {k: v for k, v in (m.get("flow_distribution") or {}).items()}
        _tile(ax, "Flow distribution", "", [], color(0))
        ax.text(0.06, 0.78, "share of done items by type", fontsize=11, color="#333333", va="top")
        left = 0.0
        shares = [(k, float(v)) for k, v in dist.items() if v is not None]
        y0, h = 0.50, 0.20
        for k, (name, share) in enumerate(shares):
            if share > 0:
                ax.barh(y0 + h / 2, share * 0.88, left=0.06 + left * 0.88, height=h, color=color(k),
                        edgecolor="white", gid=f"distribution:{name}")
            left += share
        ncol = 2 if len(shares) <= 4 else 3
        for k, (name, share) in enumerate(shares):
            x = 0.06 + 0.88 * (k % ncol) / ncol
            yy = 0.40 - 0.095 * (k // ncol)
            ax.add_patch(patches.Rectangle((x, yy - 0.03), 0.035, 0.06, color=color(k)))
            ax.text(x + 0.05, yy, f"{name} {percent(share)}", fontsize=11 if ncol == 2 else 10, va="center")
        if not shares:
            ax.text(0.5, 0.5, MISSING, fontsize=28, ha="center", va="center", color=color(0))
        # velocity
        th = m.get("throughput", {})
        _tile(axes[0, 1], "Flow velocity", number(th.get("mean")),
              [f"items done per {unit} (throughput)", _ci_label(th.get("ci95"))], color(0))
        # time
        lt = m.get("lead_time", {})
        _tile(axes[0, 2], "Flow time", f"{number(lt.get('mean'))} {unit}",
              [f"mean lead time, p85 {number(lt.get('p85'))} {unit}", _ci_label(lt.get("ci95"), unit=unit)],
              color(0))
        # load
        wip = m.get("wip", {})
        _tile(axes[1, 0], "Flow load", number(wip.get("mean")),
              ["items in progress (WIP), time average", _ci_label(wip.get("ci95"))], color(0))
        # efficiency
        fe = m.get("flow_efficiency", {})
        _tile(axes[1, 1], "Flow efficiency", percent(fe.get("mean")),
              ["touch time / flow time", _ci_label(fe.get("ci95"), in_percent=True)], color(0))
        # predictability
        fp = m.get("flow_predictability", {})
        band = fp.get("band") or [0.8, 1.0]
        in_band = fp.get("in_band")
        band_text = (f"{percent(in_band)} of PIs within {percent(band[0])}–{percent(band[1])}"
                     if in_band is not None else "in-band share n/a")
        _tile(axes[1, 2], "Flow predictability", percent(fp.get("mean")),
              ["delivered / planned per PI, mean", band_text], color(0))
        if title is None:
            title = f"{summary.get('stream', '')} — {summary.get('scenario', '')}: the six flow metrics".strip(" —:")
        fig.suptitle(title, fontweight="bold")
    return fig


def dashboard(summary: dict, path, title: str | None = None) -> Path:
    """The six SAFe flow metrics of a run's summary as six tiles with big numbers."""
    return save(_build_dashboard(summary, title), path)
