"""The report's section on a stream with teams: levels, teams, the joins, and per team its value
stream map and cumulative flow (docs/metrics.md, "Levels and teams")."""
from __future__ import annotations

from pathlib import Path

from vssim.analysis.result import SimResult
from vssim.formatting import interval, number, percent
from vssim.report import figures as draw


def hierarchy_section(result: SimResult, out: Path, figures: bool) -> list[str]:
    """Markdown lines (and figures in `out`) for the levels and teams of `result`'s summary."""
    s = result.summary
    unit = s["time_unit"]
    top = result.spec.level
    lines = ["## Levels and teams", "",
             f"Work splits from level to level: {_chain(s, top)}. Each level's items are counted on their own; "
             f"the flow metrics above are the {top}s'.", "",
             f"| level | done | lead time ({unit}) | 95 % CI | p85 | throughput (/{unit}) | WIP |",
             "|---|---|---|---|---|---|---|",
             _level_row(top, s["metrics"])]
    lines += [_level_row(name, m) for name, m in s["levels"].items()]
    lines += ["", _joins(s, result.spec, unit, top), "",
              f"| team | done | lead time ({unit}) | p85 | throughput (/{unit}) | WIP | busiest pool |",
              "|---|---|---|---|---|---|---|"]
    for team, t in s["teams"].items():
        m = t["metrics"]
        busy = {p: v["utilization"] for p, v in t["pools"].items() if v["utilization"] is not None}
        pool = max(busy, key=busy.get) if busy else None
        lines.append(f"| {team} | {m['completed']} | {number(m['lead_time']['mean'])} "
                     f"| {number(m['lead_time']['p85'])} "
                     f"| {number(m['throughput']['mean'])} | {number(m['wip']['mean'])} "
                     f"| {f'{pool} {percent(busy[pool])}' if pool else 'n/a'} |")
    lines.append("")
    lines += _per_team(result, out, figures)
    return lines


def _chain(s: dict, top: str) -> str:
    return " → ".join([top, *[name for name in s["levels"] if name != "dependency"]]) + (
        " (and `dependency` items: work one team does for another)" if "dependency" in s["levels"] else "")


def _level_row(name: str, m: dict) -> str:
    lt = m["lead_time"]
    return (f"| {name} | {m['completed']} | {number(lt['mean'])} | {interval(*lt['ci95'])} | {number(lt.get('p85'))} "
            f"| {number(m['throughput']['mean'])} | {number(m['wip']['mean'])} |")


def _levels_on(spec) -> dict[str, str]:
    """The level of the items each team works (the split that feeds it; the first, if several)."""
    out: dict[str, str] = {}
    for board in ["", *spec.teams]:
        for step in spec.board(board)[0].values():
            if step.split is not None:
                for team in step.split.teams:
                    out.setdefault(team, step.split.into)
    return out


def _joins(s: dict, spec, unit: str, top: str) -> str:
    """A sentence per split step with children from several teams: the join wait and the team a parent
    waited for last, most often first ("the team that makes features late")."""
    found = []
    level = _levels_on(spec)
    for where, steps, parent in [("", s["steps"], top),
                                 *[(f"{t}/", v["steps"], level.get(t)) for t, v in s["teams"].items()]]:
        for name, step in steps.items():
            join = step.get("join_wait")
            if not join or not join["count"] or len(step["last_team"]) < 2:
                continue
            shares = sorted(step["last_team"].items(), key=lambda kv: -kv[1])
            listing = ", ".join(f"{team} {percent(share)}" for team, share in shares)
            found.append(f"At **{where}{name}**, {parent or 'item'}s wait {number(join['mean'])} {unit} on average "
                         f"between their first and their last child done (95 % CI {interval(*join['ci95'])}, "
                         f"{join['count']} joins). "
                         f"The team done last: {listing}; **{shares[0][0]}** is the team that makes "
                         f"{parent or 'item'}s late most often.")
    return "\n\n".join(found) or "No split step joins children from more than one team."


def _per_team(result: SimResult, out: Path, figures: bool) -> list[str]:
    """Per team: its value stream map (a line; the figure) and its cumulative flow (replication 0)."""
    from vssim.analysis.levels import board_records
    from vssim.analysis.vsm import value_stream_map

    s = result.summary
    unit = s["time_unit"]
    lines = ["### Per team", ""]
    teams = list(s["teams"])
    for b, team in enumerate(teams, start=1):
        t = s["teams"][team]
        vsm = value_stream_map({"steps": t["steps"], "metrics": t["metrics"], "time_unit": unit})
        inside = f", in its own teams {number(vsm.total_team_time)} {unit}" if vsm.total_team_time else ""
        lines += [f"**{team}**: lead time {number(vsm.total_lead_time)} {unit}: process "
                  f"{number(vsm.total_process_time)} {unit}, waiting {number(vsm.total_wait_time)} {unit}{inside}; "
                  "steps " + ", ".join(f"{row.step} {number(row.process_time)}/{number(row.wait_time)}"
                                       for row in vsm.steps.itertuples()) + f" ({unit} process/wait per visit).", ""]
        if figures and not result.streaming:
            file = team.replace("/", "-")
            name = f"{s['stream']} [{s['scenario']}] team {team}"
            draw.vsm_timeline(vsm, out / f"vsm_{file}.png", title=f"{name}: value stream map")
            draw.cumulative_flow(board_records(result.records[0], b), unit, f"{name}: cumulative flow (replication 0)",
                                 out / f"cfd_{file}.png")
            lines += [f"![value stream map of {team}](vsm_{file}.png)", "",
                      f"![cumulative flow of {team}](cfd_{file}.png)", ""]
    return lines
