"""After a sweep: compare the runs of a sweep that varied only the scenario."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from vssim.simulate import write_atomic


def compare_sweep(root: str | Path, table: pd.DataFrame, baseline: str = "baseline") -> Path | None:
    """Write a comparison report into root if its runs are scenarios of one stream on one seed.

    Returns the report's path, or None when the sweep is not such a comparison (different
    streams or seeds, no baseline run, or a scenario run twice).
    """
    root = Path(root)
    runs = table.groupby("run", sort=False).first()
    if runs["scenario"].nunique() < 2 or baseline not in set(runs["scenario"]):
        return None
    if runs["scenario"].duplicated().any() or runs["stream"].nunique() != 1 or runs["seed"].nunique() != 1:
        return None
    others = [c for c in runs.columns if c.startswith("override.") and c != "override.scenario"]
    if any(runs[c].nunique(dropna=False) > 1 for c in others):
        return None
    from vssim.compare import compare
    from vssim.report import write_comparison_report

    summaries = {row.scenario: json.loads((root / run / "summary.json").read_text())
                 for run, row in runs.iterrows()}
    items = {}
    for run, row in runs.iterrows():
        f = root / run / "items.parquet"
        if f.is_file():
            items[row.scenario] = pd.read_parquet(f, columns=["arrival", "lead_time"])
    comparison = compare(summaries, baseline=baseline)
    write_atomic(root / "comparison.json", lambda p: p.write_text(json.dumps(comparison.to_dict(), indent=2)))
    write_atomic(root / "comparison.parquet", lambda p: comparison.table.to_parquet(p, index=False))
    return write_comparison_report(summaries, comparison, root, items=items,
                                   links={row.scenario: f"{run}/report.md" for run, row in runs.iterrows()})


def varied(table: pd.DataFrame) -> list[str]:
    """The override columns whose value differs between the runs of a sweep."""
    runs = table.groupby("run", sort=False).first()
    return [c for c in runs.columns if c.startswith("override.") and runs[c].nunique(dropna=False) > 1]


def wip_sweep_report(root: str | Path, table: pd.DataFrame) -> Path | None:
    """For a sweep of the CONWIP level alone: the WIP curves against Factory Physics, and a report."""
    import yaml

    from vssim import figures
    from vssim.spec import StreamSpec
    from vssim.wipcurve import curves, sweep_points, vut_cycle_time

    root = Path(root)
    cols = varied(table)
    if len(cols) != 1 or not cols[0].endswith("release.conwip"):
        return None
    column = cols[0]
    table = table.assign(**{column: pd.to_numeric(table[column], errors="coerce")}).dropna(subset=[column])
    first = root / table["run"].iloc[0] / ".hydra" / "config.yaml"
    if not first.is_file():
        return None
    spec = StreamSpec.from_dict(yaml.safe_load(first.read_text())["stream"])
    points = sweep_points(table, column)
    theory_curves = curves(spec, int(points["level"].max()))
    vut = vut_cycle_time(spec, points["throughput"].to_numpy())
    unit = spec.time_unit
    figures.wip_curves(points, theory_curves, unit, root / "wip_sweep.png", vut=vut,
                       title=f"{spec.name}: throughput and cycle time against WIP (CONWIP sweep)")
    write_atomic(root / "wip_sweep.parquet", lambda p: points.to_parquet(p, index=False))
    c = theory_curves
    lines = [f"# WIP sweep of {spec.name}", "",
             f"{len(points)} CONWIP levels, {int(points['replications'].iloc[0])} replications each. "
             f"Bottleneck rate r_b = {c.rb:.4g} items/{unit}, raw process time T0 = {c.t0:.4g} {unit}, "
             f"critical WIP W0 = r_b·T0 = {c.w0:.3g} items (Factory Physics).", "",
             "![WIP sweep](wip_sweep.png)", "",
             f"| WIP | throughput (95 % CI) | best | practical worst | cycle time ({unit}) | VUT cycle time |",
             "|---|---|---|---|---|---|"]
    for k, row in points.iterrows():
        i = int(row["level"]) - 1
        lines.append(f"| {row['level']:.0f} | {row['throughput']:.4g} ({row['throughput_lo']:.4g}–"
                     f"{row['throughput_hi']:.4g}) | {c.best[0][i]:.4g} | {c.practical_worst[0][i]:.4g} | "
                     f"{row['flow_time']:.4g} | {vut[k]:.4g} |")
    lines += ["", "Files: `runs.parquet` (every run × replication), `wip_sweep.parquet` (per level, with CIs).", ""]
    path = root / "report.md"
    write_atomic(path, lambda p: p.write_text("\n".join(lines)))
    return path
