"""The report of a run: the six flow metrics as a dashboard, the steps, and figures (Markdown)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vssim import plots
from vssim.simulate import SimResult, write_atomic


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float) and not np.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def _ci(ci) -> str:
    lo, hi = ci
    return "n/a" if lo is None else f"{_f(lo)} – {_f(hi)}"


def dashboard(summary: dict) -> str:
    """The six SAFe flow metrics as a Markdown table."""
    m = summary["metrics"]
    unit = summary["time_unit"]
    lt, ft, th, wip, fe, fp = (m[k] for k in ("lead_time", "flow_time", "throughput", "wip", "flow_efficiency",
                                              "flow_predictability"))
    dist = ", ".join(f"{k} {v:.0%}" for k, v in m["flow_distribution"].items())
    in_band = "n/a" if fp["in_band"] is None else f"{fp['in_band']:.0%} of PIs in 80–100 %"
    rows = [
        ("Flow distribution", "share of done items by type", dist, ""),
        ("Flow velocity", f"throughput (items/{unit})", _f(th["mean"]), _ci(th["ci95"])),
        ("Flow time", f"lead time, arrival → done ({unit})",
         f"{_f(lt['mean'])} (p50 {_f(lt['p50'])}, p85 {_f(lt['p85'])}, p95 {_f(lt['p95'])})", _ci(lt["ci95"])),
        ("", f"flow time, commit → done ({unit})", f"{_f(ft['mean'])} (p85 {_f(ft['p85'])})", _ci(ft["ci95"])),
        ("Flow load", "WIP, committed-not-done (items)", _f(wip["mean"]), _ci(wip["ci95"])),
        ("", "backlog, arrived-not-committed (items)", _f(m["backlog"]["mean"]), _ci(m["backlog"]["ci95"])),
        ("Flow efficiency", "touch time / flow time", _f(fe["mean"]), _ci(fe["ci95"])),
        ("Flow predictability", "delivered / planned per PI", f"{_f(fp['mean'])} ({in_band})", _ci(fp["ci95"])),
    ]
    lines = ["| flow metric | measure | value | 95 % CI |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def steps_table(summary: dict) -> str:
    unit = summary["time_unit"]
    lines = [f"| step | utilization | queue length | wait ({unit}) | process ({unit}) | blocked ({unit}) "
             f"| %C&A | throughput (/{unit}) |", "|---|---|---|---|---|---|---|---|"]
    for name, s in summary["steps"].items():
        util = "n/a" if s["utilization"] is None else f"{s['utilization']:.0%}"
        ca = "n/a" if s["pct_complete_accurate"] is None else f"{s['pct_complete_accurate']:.0%}"
        lines.append(f"| {name} | {util} | {_f(s['queue_length'])} | {_f(s['wait'])} | {_f(s['process_time'])} "
                     f"| {_f(s['blocked'])} | {ca} | {_f(s['throughput'])} |")
    return "\n".join(lines)


def write_report(result: SimResult, out: Path, *, figures: bool = True) -> Path:
    """Write report.md (and its PNG figures) into `out`; return the report's path."""
    s = result.summary
    out = Path(out)
    sim = s["sim"]
    unit = s["time_unit"]
    parts = [
        f"# {s['stream']} — {s['scenario']}",
        "",
        result.spec.description or "",
        "",
        f"{sim['replications']} replication(s), horizon {sim['horizon']} {unit}, warmup {sim['warmup']} {unit}, "
        f"seed {sim['seed']}, engine {sim['engine']}. {s['metrics']['completed']} items done, "
        f"{s['metrics']['rejected']} rejected, {s['metrics']['unfinished']} unfinished at the end "
        "(statistics cover items arriving after the warmup).",
        "",
        "## Flow metrics",
        "",
        dashboard(s),
        "",
        "## Steps",
        "",
        steps_table(s),
        "",
        "Pools: " + ", ".join(f"{p} {v['utilization']:.0%} busy" for p, v in s["pools"].items()
                              if v["utilization"] is not None),
        "",
    ]
    if figures:
        lead = result.items
        lead = lead[lead["arrival"] >= sim["warmup"]]["lead_time"].to_numpy()
        plots.lead_time_histogram(lead, unit, f"{s['stream']}: lead time distribution", out / "lead_time.png")
        rec = result.records[0]
        plots.cumulative_flow(rec, unit, f"{s['stream']}: cumulative flow (replication 0)", out / "cfd.png")
        plots.step_times(s["steps"], unit, f"{s['stream']}: where the time goes, per step", out / "steps.png")
        parts += ["## Figures", "", "![lead time](lead_time.png)", "", "![cumulative flow](cfd.png)", "",
                  "![steps](steps.png)", ""]
    parts += ["Files: `summary.json` (every metric), `items.parquet` (one row per item per replication), "
              "`steps.parquet` (one row per step per replication), `events.csv` (event log).", ""]
    path = out / "report.md"
    write_atomic(path, lambda p: p.write_text("\n".join(parts)))
    return path
