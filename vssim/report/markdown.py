"""The report of a run: the six flow metrics as a dashboard, the steps, and figures (Markdown)."""
from __future__ import annotations

from pathlib import Path

from vssim.analysis.result import SimResult
from vssim.analysis.stability import headline
from vssim.files import write_atomic
from vssim.formatting import MISSING, change, interval, number, percent
from vssim.report import figures as draw
from vssim.report.people import people_by_alternative, people_section


def dashboard(summary: dict) -> str:
    """The six SAFe flow metrics as a Markdown table."""
    m = summary["metrics"]
    unit = summary["time_unit"]
    lt, ft, th, wip, fe, fp = (m[k] for k in ("lead_time", "flow_time", "throughput", "wip", "flow_efficiency",
                                              "flow_predictability"))
    dist = ", ".join(f"{k} {percent(v)}" for k, v in m["flow_distribution"].items())
    in_band = MISSING if fp["in_band"] is None else f"{percent(fp['in_band'])} of PIs in 80–100 %"
    def ci(metric: dict) -> str:
        return interval(*metric["ci95"])

    rows = [
        ("Flow distribution", "share of done items by type", dist, ""),
        ("Flow velocity", f"throughput (items/{unit})", number(th["mean"]), ci(th)),
        ("Flow time", f"lead time, arrival → done ({unit})",
         f"{number(lt['mean'])} (p50 {number(lt['p50'])}, p85 {number(lt['p85'])}, p95 {number(lt['p95'])})", ci(lt)),
        ("", f"flow time, commit → done ({unit})", f"{number(ft['mean'])} (p85 {number(ft['p85'])})", ci(ft)),
        ("Flow load", "WIP, committed-not-done (items)", number(wip["mean"]), ci(wip)),
        ("", "backlog, arrived-not-committed (items)", number(m["backlog"]["mean"]), ci(m["backlog"])),
        ("Flow efficiency", "touch time / flow time", number(fe["mean"]), ci(fe)),
        ("Flow predictability", "delivered / planned per PI", f"{number(fp['mean'])} ({in_band})", ci(fp)),
    ]
    lines = ["| flow metric | measure | value | 95 % CI |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def steps_table(summary: dict) -> str:
    unit = summary["time_unit"]
    lines = [f"| step | utilization | queue length | wait ({unit}) | process ({unit}) | blocked ({unit}) "
             f"| %C&A | throughput (/{unit}) |", "|---|---|---|---|---|---|---|---|"]
    for name, s in summary["steps"].items():
        lines.append(f"| {name} | {percent(s['utilization'])} | {number(s['queue_length'])} | {number(s['wait'])} "
                     f"| {number(s['process_time'])} | {number(s['blocked'])} | {percent(s['pct_complete_accurate'])} "
                     f"| {number(s['throughput'])} |")
    return "\n".join(lines)


def _bottleneck_section(result: SimResult) -> list[str]:
    from vssim.analysis.bottleneck import UTILIZATION_HIGH, analyse

    b = analyse(result, result.spec)
    util = (result.summary["pools"].get(b.constraint_pool) or {}).get("utilization") or 0.0
    if util >= UTILIZATION_HIGH:
        head = f"The constraint is the pool **{b.constraint_pool}**, at step **{b.constraint_step}**."
    else:
        head = (f"The busiest pool is **{b.constraint_pool}** (longest queue at step **{b.constraint_step}**); "
                "no pool is overloaded.")
    lines = ["## Bottleneck", "", head, ""]
    teams = {p: v["utilization"] for p, v in result.summary["pools"].items()
             if p not in result.spec.pools and v["utilization"] is not None}
    if teams:                               # the analysis reads the stream's own board; the teams' load here
        busiest = max(teams, key=teams.get)
        over = "overloaded: a constraint of the teams" if teams[busiest] >= UTILIZATION_HIGH else "not overloaded"
        head = (f"This analysis reads the stream's own board. Among the teams' pools the busiest is "
                f"**{busiest}** at {percent(teams[busiest])}, {over} (\"Levels and teams\" below).")
        lines += [head, ""]
    lines += [f"- {f}" for f in b.findings]
    if b.accelerators:
        lines += ["", "Flow accelerators that address this (scenario files in `configs/scenario/`): "
                  + ", ".join(f"`{a}`" for a in b.accelerators) + "."]
    return lines + [""]


def _vsm_section(result: SimResult, out: Path, figures: bool) -> list[str]:
    from vssim.analysis.vsm import value_stream_map

    vsm = value_stream_map(result)
    unit = vsm.time_unit
    per = "part" if vsm.parts > 1 else "item"
    teams = bool(vsm.total_team_time)       # split steps: the time from split to join, on the teams' boards
    lines = ["## Value stream map", "",
             f"| step | visits per {per} | process time ({unit}) | wait time ({unit}) |"
             + (f" in the teams ({unit}) |" if teams else "") + " %C&A |",
             "|---|---|---|---|" + ("---|" if teams else "") + "---|"]
    for row in vsm.steps.itertuples():
        lines.append(f"| {row.step} | {number(row.visits)} | {number(row.process_time)} | {number(row.wait_time)} "
                     + (f"| {number(row.team_time)} " if teams else "") + f"| {percent(row.pct_complete_accurate)} |")
    inside = f", in the teams (split to join) {number(vsm.total_team_time)} {unit}" if teams else ""
    lines += ["", f"Lead time {number(vsm.total_lead_time)} {unit}: process time {number(vsm.total_process_time)} "
              f"{unit}, waiting {number(vsm.total_wait_time)} {unit}{inside}; flow efficiency "
              f"{percent(vsm.flow_efficiency)}; rolled %C&A {percent(vsm.rolled_pct_complete_accurate)}.", ""]
    if len(vsm.routes) > 1:
        lines += ["Rolled %C&A per route (the steps its types visit): " + "; ".join(
            f"{'+'.join(r['types'])} ({percent(r['share'])} of items) {percent(r['rolled_pct_complete_accurate'])}"
            for r in vsm.routes) + ".", ""]
    if figures:
        draw.vsm_timeline(vsm, out / "vsm.png",
                          title=f"{result.summary['stream']} [{result.summary['scenario']}]: value stream map")
        lines += ["![value stream map](vsm.png)", ""]
    return lines


def _parts_note(s: dict) -> str:
    """What the numbers of a split stream count (docs/metrics.md, "Split items")."""
    unit, f = s["time_unit"], s["parts"]["factor"]
    first, own = s["metrics"]["time_to_first_value"], s["parts"]["metrics"]
    return (f"Each item arrives in {f} parts (`split_items`): the flow metrics count whole items, done when their "
            f"last part is done. Time to first value (first part done) {number(first['mean'])} {unit} "
            f"(p85 {number(first['p85'])}). The parts themselves: throughput {number(own['throughput']['mean'])}"
            f"/{unit}, lead time {number(own['lead_time']['mean'])} {unit}; the steps, the value stream map and "
            "the figures show parts.")


def _horizon(horizon, unit: str) -> str:
    return "until every item is done" if horizon is None else f"horizon {horizon:g} {unit}"


def write_report(result: SimResult, out: Path, *, figures: bool = True, title: str | None = None,
                 question: str | None = None, animate: bool = False) -> Path:
    """Write report.md (and its PNG figures) into `out`; return the report's path.

    `animate`: also `kanban.gif`, the Kanban board and CFD of replication 0 over time (vssim.report.animate).
    """
    s = result.summary
    out = Path(out)
    sim = s["sim"]
    unit = s["time_unit"]
    parts = [
        f"# {title or s['stream'] + ' — ' + s['scenario']}",
        "",
        *_unstable({s["scenario"]: s}),
    ]
    if question:
        parts += [f"**Question.** {question}", ""]
    parts += [
        result.spec.description or "",
        "",
        f"{sim['replications']} replication(s), {_horizon(sim['horizon'], unit)}, warmup {sim['warmup']} {unit}, "
        f"seed {sim['seed']}, engine {sim['engine']}"
        f"{', streaming statistics (running totals; percentiles from a 0.1 % sketch)' if result.streaming else ''}. "
        f"{s['metrics']['completed']} items done, "
        f"{s['metrics']['rejected']} rejected, {s['metrics']['unfinished']} unfinished at the end "
        "(statistics cover items arriving after the warmup).",
        "",
        "## Flow metrics",
        "",
        dashboard(s),
        "",
    ]
    if "parts" in s:
        parts += [_parts_note(s), ""]
    if result.spec.arrivals.finite:
        lt = s["metrics"]["lead_time"]
        parts += [f"Time to first value: the first item is done after {number(lt['min'])} {unit}; the last after "
                  f"{number(lt['max'])} {unit} (lead times pooled over replications).", ""]
    streaming = result.streaming
    if not streaming:
        rec = result.records[0]
        items = result.items
        if "teams" in s:                    # the figures of the items that arrive, on the stream's own board
            from vssim.analysis.levels import board_records

            rec = board_records(rec, 0)
            items = items[items["parent"].isna()]
    if figures:
        draw.dashboard(s, out / "dashboard.png", title=f"{s['stream']} — {s['scenario']}: the six flow metrics")
        parts += ["![flow metrics](dashboard.png)", ""]
    parts += ["## Steps", "", steps_table(s), ""]
    parts += people_section(s, out, figures)
    parts += _bottleneck_section(result)
    parts += _vsm_section(result, out, figures)
    if "teams" in s:
        from vssim.report.hierarchy import hierarchy_section

        parts += hierarchy_section(result, out, figures)
    if figures and streaming:
        parts += _streaming_figures(result, out)
    elif figures:
        name = f"{s['stream']} [{s['scenario']}]"
        after = items[items["arrival"] >= sim["warmup"]]["lead_time"].to_numpy()
        draw.lead_time_histogram(after, unit, f"{name}: lead time distribution", out / "lead_time.png")
        draw.cumulative_flow(rec, unit, f"{name}: cumulative flow (replication 0)", out / "cfd.png")
        draw.step_times(s["steps"], unit, f"{name}: where the time goes, per step", out / "steps.png")
        first = items[items["replication"] == rec.replication]
        draw.cycle_time_scatter(first, unit, out / "cycle_time.png", warmup=sim["warmup"],
                                title=f"{name}: lead time of each item (replication 0)")
        draw.throughput_run_chart(first, unit, out / "throughput.png", warmup=sim["warmup"], end=rec.end,
                                  title=f"{name}: throughput run chart (replication 0)")
        draw.aging_wip(rec, unit, out / "aging_wip.png", title=f"{name}: aging WIP at the end of replication 0")
        parts += ["## Figures", "",
                  "![lead time](lead_time.png)", "", "![cumulative flow](cfd.png)", "",
                  "![cycle time scatter](cycle_time.png)", "", "![throughput](throughput.png)", "",
                  "![aging WIP](aging_wip.png)", "", "![steps](steps.png)", ""]
    if animate and streaming:
        parts += ["A streaming run (sim.stats=streaming) keeps no item rows: no animation (use sim.stats=full).", ""]
    elif animate:
        from vssim.report.animate import kanban_gif

        moving = kanban_gif(result, out / "kanban.gif", title=f"{s['stream']} [{s['scenario']}]")
        parts += ["## The board over time", "",
                  f"![Kanban board and cumulative flow over time (replication 0)]({moving.name})", ""]
    if streaming:
        parts += ["Files: `summary.json` (every metric), `steps.parquet` (one row per step per replication). "
                  "A streaming run keeps running totals, not item rows: no items.parquet or events.csv.", ""]
    else:
        parts += ["Files: `summary.json` (every metric), `items.parquet` (one row per item per replication), "
                  "`steps.parquet` (one row per step per replication), `events.csv` (event log).", ""]
    path = out / "report.md"
    write_atomic(path, lambda p: p.write_text("\n".join(parts)))
    return path


def _streaming_figures(result: SimResult, out: Path) -> list[str]:
    """The figures a streaming run can draw: lead times from the quantile sketch, the steps."""
    from vssim.analysis.sketch import QuantileSketch

    s = result.summary
    unit = s["time_unit"]
    name = f"{s['stream']} [{s['scenario']}]"
    sketch = QuantileSketch.merged([st.lead for st in result.stats])
    values, counts = sketch.buckets()
    lt = s["metrics"]["lead_time"]
    draw.lead_time_histogram(values, unit, f"{name}: lead time distribution (quantile sketch)", out / "lead_time.png",
                             counts=counts, quantiles={q: lt[f"p{q}"] for q in (50, 85, 95)})
    draw.step_times(s["steps"], unit, f"{name}: where the time goes, per step", out / "steps.png")
    return ["## Figures", "",
            "A streaming run (sim.stats=streaming) keeps running totals and quantile sketches, not item rows: "
            "the lead-time histogram is drawn from the sketch (buckets 0.1 % wide), and the figures that need "
            "every item (cumulative flow, cycle-time scatter, throughput run chart, aging WIP) are not drawn "
            "(sim.stats=full draws them).", "",
            "![lead time](lead_time.png)", "", "![steps](steps.png)", ""]


def _summary(r) -> dict:
    return r.summary if isinstance(r, SimResult) else r


def _unstable(summaries: dict[str, dict]) -> list[str]:
    """The warning at the top of a report: a line per unstable run (none when all are stable)."""
    lines = [f"> **Warning: `{name}` is unstable.** {why[0].upper()}{why[1:]}."
             for name, s in summaries.items() if (why := headline(s))]
    return [*lines, ""] if lines else []


def answer(comparison, metric: str = "lead_time_p85") -> list[str]:
    """Plain sentences: each alternative's effect on `metric` and throughput, ranked."""
    t = comparison.table
    rows = t[(t.metric == metric) & (t.scenario != comparison.baseline)].sort_values("pct_change")
    th = t[t.metric == "throughput"].set_index("scenario")
    lines = []
    for r in rows.itertuples():
        unstable = " **Unstable**: its figures grow with the horizon." if comparison.unstable(r.scenario) else ""
        sig = "significant" if r.significant else "not significant"
        tput = th.loc[r.scenario]
        tput_sig = "a significant change" if tput["significant"] else "no significant change"
        lines.append(f"- **{r.scenario}**: p85 lead time {change(r.pct_change)} ({sig}; paired 95 % CI of the "
                     f"difference {interval(r.diff_lo, r.diff_hi)}); throughput {change(tput['pct_change'])} "
                     f"({tput_sig}).{unstable}")
    return lines


def write_comparison_report(results, comparison, out: Path, *, figures: bool = True, title: str | None = None,
                            question: str | None = None, items=None, links=None,
                            descriptions: dict[str, str] | None = None, transitions: dict | None = None) -> Path:
    """The report of a comparison: the answer, the table with paired CIs, the figures, links.
    `transitions` maps an alternative with a transition to its (`TransitionEffect`, sensitivity table
    or None): a section each, after the answer (`vssim.report.transition`).

    `results` maps scenario to SimResult or to its summary dict (a sweep's runs); `items` maps
    scenario to a frame with arrival and lead_time when results are summaries.
    """
    out = Path(out)
    base = comparison.baseline
    summaries = {k: _summary(v) for k, v in results.items()}
    s0 = summaries[base]
    unit = s0["time_unit"]
    sim = s0["sim"]
    parts = [f"# {title or s0['stream'] + ': ' + ', '.join(summaries)}", "", *_unstable(summaries)]
    if question:
        parts += [f"**Question.** {question}", ""]
    parts += [f"Stream `{s0['stream']}`; alternatives {', '.join(f'`{k}`' for k in summaries)}, compared with "
              f"`{base}`. {sim['replications']} replications each, horizon {sim['horizon']} {unit}, warmup "
              f"{sim['warmup']} {unit}, seed {sim['seed']}: every alternative draws the same random numbers for the "
              "same sources (arrivals, and each step's and pool's draws where they keep their names: common random "
              "numbers), so each difference is computed replication by replication.", ""]
    if descriptions:
        parts += ["## Alternatives", ""]
        parts += [f"- **{name}**: {descriptions.get(name) or 'the stream as it is.'}" for name in summaries]
        parts += [""]
    rejected = {name: x["metrics"]["rejected"] for name, x in summaries.items() if x["metrics"]["rejected"]}
    if rejected:
        parts += ["Arrivals rejected by a backlog limit (after the warmup, all replications): "
                  + ", ".join(f"{k} {v}" for k, v in rejected.items()) + ".", ""]
    parts += ["## Answer", "", "Ranked by the change of the 85th percentile of lead time against the baseline:", ""]
    parts += answer(comparison) + [""]
    for name, (effect, grid) in (transitions or {}).items():
        from vssim.report.transition import transition_section

        parts += transition_section(effect, out, figures=figures, sensitivity=grid, name=name,
                                    heading=f"## `{name}`: the reorganisation in time", figure=f"transition_{name}.png")
    parts += ["## Comparison", "", comparison.markdown(unit), ""]
    if figures:
        draw.comparison_bars(comparison.table, out / "comparison.png", time_unit=unit,
                             title=f"{s0['stream']}: alternatives against {base} (95 % CI)")
        draw.crn_widths(comparison.table, out / "crn.png",
                        title="What common random numbers bought: paired vs independent CI half-widths")
        lead = {}
        for name, r in results.items():
            if isinstance(r, SimResult) and not r.streaming:
                frame = r.items
            elif items and name in items:
                frame = items[name]
            else:
                continue
            lead[name] = frame[frame["arrival"] >= sim["warmup"]]["lead_time"].dropna().to_numpy()
        parts += ["![comparison](comparison.png)", "", "![common random numbers](crn.png)", ""]
        if lead:
            draw.lead_time_distributions(lead, unit, out / "lead_times.png",
                                         title=f"{s0['stream']}: lead-time distributions")
            parts += ["![lead time distributions](lead_times.png)", ""]
    parts += people_by_alternative(summaries)
    baseline_result = results[base]
    if isinstance(baseline_result, SimResult):
        parts += _bottleneck_section(baseline_result)
    links = links or {name: f"scenarios/{name}/report.md" for name in summaries}
    parts += ["## Each alternative", ""]
    parts += [f"- [{name}]({link})" for name, link in links.items()]
    parts += ["", "Files: `comparison.parquet` (one row per scenario and metric: value, CI, paired difference, "
              "its CI, % change, significance, independent CI, variance reduction), `comparison.json`, "
              "and each alternative's own results under its link.", ""]
    path = out / "report.md"
    write_atomic(path, lambda p: p.write_text("\n".join(parts)))
    return path
