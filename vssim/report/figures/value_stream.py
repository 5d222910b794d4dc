"""Where the time goes, step by step: wait, process and blocked time per visit, and the value
stream map's timeline ladder with its totals.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib import patches
from matplotlib.figure import Figure

from vssim.formatting import number, percent
from vssim.report.figures.style import RC, color, figure, save


# ---------------------------------------------------------------------------- time per step
def _build_step_times(steps: dict, time_unit: str, title: str) -> Figure:
    names = list(steps)
    parts = [("wait", color(1)), ("process_time", color(0)), ("blocked", color(3))]
    with mpl.rc_context(RC):
        fig = figure(8, 0.6 * len(names) + 2)
        ax = fig.subplots()
        left = np.zeros(len(names))
        for key, colour in parts:
            v = np.array([steps[n][key] or 0.0 for n in names])
            ax.barh(names, v, left=left, color=colour, label=key.replace("_", " "))
            left += v
        ax.invert_yaxis()
        ax.set_xlabel(f"time per visit ({time_unit})")
        ax.set_title(title)
        fig.legend(loc="outside lower center", ncol=len(parts), frameon=False)
    return fig


def step_times(steps: dict, time_unit: str, title: str, path) -> Path:
    """Per step: wait, process and blocked time per visit (where the lead time goes).

    `steps`: the summary's `steps` (step name -> its statistics).
    """
    return save(_build_step_times(steps, time_unit, title), path)


# ---------------------------------------------------------------------------- VSM timeline
def _lanes(vsm) -> list[dict]:
    """The routes to draw, one lane each (`vsm.routes`; a map without them is one route of every step)."""
    routes = getattr(vsm, "routes", None)
    if routes:
        return routes
    steps = vsm.steps
    visits = steps["visits"] if "visits" in steps else [1.0] * len(steps)
    return [{"types": [], "share": 1.0, "steps": list(steps["step"]), "visits": list(visits)}]


def _ladder(ax, rows, visits, unit: str, gid: str) -> None:
    """One lane of the timeline: per step a wait segment above, a process segment below, its box."""
    up, low = 1.0, 0.0
    x = 0.0
    n = len(rows)
    for i, (row, per) in enumerate(zip(rows, visits, strict=True)):
        name = str(row["step"])
        # per item: a step visited 1.25 times costs 1.25 x its per-visit times, so the ladder
        # adds up to the totals (with the backlog's wait)
        known = per is not None and np.isfinite(per)
        per = float(per) if known else 1.0
        # wait (upper level) then process (lower level): not to scale, as on a paper VSM
        ax.plot([x, x + 1], [up, up], color=color(3), linewidth=3, solid_capstyle="butt", gid=f"wait:{gid}{name}")
        ax.text(x + 0.5, up + 0.08, f"{number(per * row['wait_time'])} {unit}", ha="center", va="bottom",
                fontsize=11, color=color(3), fontweight="bold")
        ax.plot([x + 1, x + 1], [up, low], color="#555555", linewidth=1.2)
        ax.plot([x + 1, x + 2], [low, low], color=color(0), linewidth=3, solid_capstyle="butt",
                gid=f"process:{gid}{name}")
        team = row.get("team_time") or 0.0            # a split step: split to join, on the teams' boards
        label = (f"{number(per * team)} {unit} in the teams" if team > 0
                 else f"{number(per * row['process_time'])} {unit}")
        ax.text(x + 1.5, low - 0.08, label, ha="center", va="top", fontsize=11, color=color(0), fontweight="bold")
        if i < n - 1:
            ax.plot([x + 2, x + 2], [low, up], color="#555555", linewidth=1.2)
        # the process box above its lower segment
        ca = row.get("pct_complete_accurate")
        details = []
        if ca is not None and np.isfinite(ca):
            details.append(f"%C&A {percent(ca)}")
        if known:
            details.append(f"{number(per)} visits" if per != 1 else "1 visit")
        ax.text(x + 1.5, 1.62, "\n".join([name] + ([" · ".join(details)] if details else [])), ha="center",
                va="center", fontsize=10.5, bbox=dict(boxstyle="square,pad=0.4", facecolor="white",
                                                      edgecolor="#333333"), gid=f"box:{gid}{name}")
        x += 2
    ax.text(-0.1, up, "wait", ha="right", va="center", fontsize=11, color=color(3))
    ax.text(-0.1, low, "process", ha="right", va="center", fontsize=11, color=color(0))
    ax.set_ylim(-0.55, 2.05)
    ax.set_axis_off()


def _build_vsm_timeline(vsm, title: str | None = None) -> Figure:
    steps = vsm.steps.reset_index(drop=True)
    by_name = {str(row["step"]): row for _, row in steps.iterrows()}
    unit = getattr(vsm, "time_unit", "day")
    lanes = _lanes(vsm)
    n = max(len(lane["steps"]) for lane in lanes)
    parts = getattr(vsm, "parts", 1)
    per = f"per part (each item arrives in {parts} parts)" if parts > 1 else "per item"
    with mpl.rc_context(RC):
        fig = figure(max(9.0, 2.3 * n + 4.2), 4.8 if len(lanes) == 1 else 1.2 + 3.0 * len(lanes))
        grid = fig.add_gridspec(len(lanes), 2, width_ratios=[max(2.3 * n, 4.0), 3.4])
        backlog = getattr(vsm, "backlog_time", None)
        extra = f"; plus {number(backlog)} {unit} in the backlog" if backlog is not None and backlog > 0.005 else ""
        caption = f"per step, {unit} {per}, visits included (not to scale){extra}"
        for k, lane in enumerate(lanes):
            ax = fig.add_subplot(grid[k, 0])
            key = "+".join(lane["types"])
            _ladder(ax, [by_name[s] for s in lane["steps"]], lane["visits"], unit, f"{key}/" if len(lanes) > 1 else "")
            ax.set_xlim(-1.3, 2 * n + 0.1)
            if len(lanes) == 1:
                ax.set_title(caption, fontsize=11, loc="left")
                continue
            label = ax.set_title(f"{key}: {percent(lane['share'])} of items, rolled %C&A "
                                 f"{percent(lane['rolled_pct_complete_accurate'])}", fontsize=11, loc="left",
                                 fontweight="bold")
            label.set_gid(f"lane:{key}")
        if len(lanes) > 1:
            fig.supxlabel(caption, fontsize=11)
        box = fig.add_subplot(grid[:, 1])
        box.set_axis_off()
        box.set_xlim(0, 1)
        box.set_ylim(0, 1)
        totals = [
            ("Lead time", f"{number(vsm.total_lead_time)} {unit}"),
            ("Process time", f"{number(vsm.total_process_time)} {unit}"),
            ("Wait time", f"{number(vsm.total_wait_time)} {unit}"),
            *([("In the teams", f"{number(vsm.total_team_time)} {unit}")]
              if getattr(vsm, "total_team_time", 0) else []),
            ("Flow efficiency", percent(vsm.flow_efficiency)),
            ("Rolled %C&A", percent(vsm.rolled_pct_complete_accurate)),
        ]
        box.add_patch(patches.FancyBboxPatch((0.03, 0.08), 0.94, 0.84, boxstyle="round,pad=0,rounding_size=0.03",
                                                 facecolor="#F7F7F7", edgecolor="#333333", linewidth=1.5))
        box.text(0.5, 0.85, "Totals", ha="center", va="center", fontsize=13, fontweight="bold")
        for k, (label, value) in enumerate(totals):
            y = 0.7 - (0.13 if len(totals) <= 5 else 0.11) * k
            box.text(0.09, y, label, ha="left", va="center", fontsize=11)
            box.text(0.91, y, value, ha="right", va="center", fontsize=12, fontweight="bold", gid=f"total:{label}")
        fig.suptitle(title or "Value stream map: timeline", fontweight="bold")
    return fig


def vsm_timeline(vsm, path, title: str | None = None) -> Path:
    """The value stream map's timeline ladder: per step a wait segment (upper level, time in the
    column outside the work) and a process segment (lower level, value-adding time), labelled,
    with a totals box: lead time, process time, wait time, flow efficiency and rolled %C&A.
    A stream routed by type gets one lane per route (`vsm.routes`: the steps its types visit,
    with their visits per item of the route), each with its share and rolled %C&A.

    `vsm` has `steps` (DataFrame: step, visits, process_time, wait_time, lead_time,
    pct_complete_accurate), `total_process_time`, `total_wait_time`, `total_lead_time`,
    `flow_efficiency`, `rolled_pct_complete_accurate` and `time_unit`.
    """
    return save(_build_vsm_timeline(vsm, title), path)

