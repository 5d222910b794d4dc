"""The report's "People" section: who is overloaded, pool by pool and person by person
(summary.json's `pools`, docs/metrics.md "Pools")."""
from __future__ import annotations

from pathlib import Path

from vssim.analysis.bottleneck import UTILIZATION_HIGH
from vssim.analysis.summary import PEOPLE_SHOWN
from vssim.formatting import MISSING, finite, interval, number, percent
from vssim.report import figures as draw
from vssim.report.figures.people import ranked

OVERLOADED = UTILIZATION_HIGH
"""A pool (or a person) at or above this utilisation is flagged overloaded: the bottleneck
analysis's threshold (85 %), so that the two sections name the same pools."""


def people_section(summary: dict, out: Path, figures: bool) -> list[str]:
    """Markdown lines (and `people.png` in `out`) for the pools of `summary`, busiest first."""
    pools = summary["pools"]
    order = ranked(pools)
    hot = [p for p in order if _over(pools[p]["utilization"])]
    head = (f"**Overloaded** (utilisation at or above {percent(OVERLOADED)}): "
            + ", ".join(f"**{p}** {percent(pools[p]['utilization'])}" for p in hot) + "." if hot
            else f"No pool is overloaded: every utilisation is below {percent(OVERLOADED)}.")
    lines = ["## People", "", head, "",
             "Utilisation is busy person-time over person-time present after the warmup; people is the "
             "time-average headcount (a pool's schedule changes it); the steps share out the pool's busy "
             f"time. Pools of up to {PEOPLE_SHOWN} people show each person (numbered as in the event log).", "",
             "| pool | people | utilisation | 95 % CI | busy time by step | |", "|---|---|---|---|---|---|"]
    for name in order:
        v = pools[name]
        busy = ", ".join(f"{step} {percent(share)}" for step, share in
                         sorted(v.get("busy", {}).items(), key=lambda kv: -kv[1])) or MISSING
        ci = v.get("utilization_ci95") or [None, None]
        lines.append(f"| **{name}** | {number(v.get('headcount'))} | {percent(v['utilization'])} "
                     f"| {interval(*ci, in_percent=True)} | {busy} | {_flag(v['utilization'])} |")
        people = v.get("people") or {}
        if len(people) > 1:
            lines += [f"| {name}/{k} | | {percent(u)} | | | {_flag(u)} |" for k, u in people.items()]
    lines.append("")
    if figures and pools:
        draw.utilization_bars(pools, out / "people.png", overloaded=OVERLOADED,
                              title=f"{summary['stream']} [{summary['scenario']}]: who is overloaded")
        lines += ["![utilisation per pool and per person](people.png)", ""]
    return lines


def people_by_alternative(summaries: dict[str, dict]) -> list[str]:
    """Markdown lines of a comparison: per alternative its overloaded pools, or its busiest pool
    (an organisation's pools differ from another's, so each is named on its own line)."""
    lines = ["## People", "", f"Pools at or above {percent(OVERLOADED)} utilisation (each alternative's report has "
             "its pools and people in full):", ""]
    for name, s in summaries.items():
        pools = s.get("pools") or {}
        order = ranked(pools)
        hot = [p for p in order if _over(pools[p]["utilization"])]
        if hot:
            text = "overloaded: " + ", ".join(f"**{p}** {percent(pools[p]['utilization'])}" for p in hot)
        elif order and finite(pools[order[0]]["utilization"]):
            text = f"none overloaded; the busiest is {order[0]} at {percent(pools[order[0]]['utilization'])}"
        else:
            text = "none overloaded"
        lines.append(f"- **{name}**: {text}.")
    return [*lines, ""]


def _over(u) -> bool:
    return finite(u) and u >= OVERLOADED


def _flag(u) -> str:
    return "**overloaded**" if _over(u) else ""
