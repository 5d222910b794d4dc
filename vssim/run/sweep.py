"""After a sweep: the report its runs call for, a comparison when it varied only the scenario,
the WIP curves when it varied only the CONWIP level, the ranked trials when it optimised.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from vssim.files import write_atomic
from vssim.formatting import finite, interval, number, with_ci


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
    from vssim.analysis.compare import compare
    from vssim.report.markdown import write_comparison_report

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

    from vssim.analysis.wipcurve import curves, sweep_points, vut_cycle_time
    from vssim.model.spec import StreamSpec
    from vssim.report.figures.sweep import wip_curves

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
    wip_curves(points, theory_curves, unit, root / "wip_sweep.png", vut=vut,
               title=f"{spec.name}: throughput and cycle time against WIP (CONWIP sweep)")
    write_atomic(root / "wip_sweep.parquet", lambda p: points.to_parquet(p, index=False))
    c = theory_curves
    lines = [f"# WIP sweep of {spec.name}", "",
             f"{len(points)} CONWIP levels, {int(points['replications'].iloc[0])} replications each. "
             f"Bottleneck rate r_b = {number(c.rb, 4)} items/{unit}, raw process time T0 = {number(c.t0, 4)} {unit}, "
             f"critical WIP W0 = r_b·T0 = {number(c.w0)} items (Factory Physics).", "",
             "![WIP sweep](wip_sweep.png)", "",
             f"| WIP | throughput (95 % CI) | best | practical worst | cycle time ({unit}) | VUT cycle time |",
             "|---|---|---|---|---|---|"]
    for k, row in points.iterrows():
        i = int(row["level"]) - 1
        throughput = f"{number(row['throughput'], 4)} ({interval(row['throughput_lo'], row['throughput_hi'], 4)})"
        lines.append(f"| {row['level']:.0f} | {throughput} | {number(c.best[0][i], 4)} "
                     f"| {number(c.practical_worst[0][i], 4)} | {number(row['flow_time'], 4)} | {number(vut[k], 4)} |")
    lines += ["", "Files: `runs.parquet` (every run × replication), `wip_sweep.parquet` (per level, with CIs).", ""]
    path = root / "report.md"
    write_atomic(path, lambda p: p.write_text("\n".join(lines)))
    return path


def optimisation_table(table: pd.DataFrame, objective) -> pd.DataFrame:
    """One row per run of an optimising sweep (trial = the job number): the varied overrides, the
    objective and the main metrics, each the mean over replications with its 95 % CI, best first."""
    from vssim.analysis.intervals import ci95

    cols = varied(table)
    rows = []
    for run, reps in table.groupby("run", sort=False):
        value, (lo, hi) = objective.ci(reps.to_dict("records"))
        row = {"run": run, "trial": int(run) if str(run).isdigit() else None,
               **{c: reps[c].iloc[0] for c in cols},
               "objective": value, "objective_lo": lo, "objective_hi": hi, "replications": len(reps)}
        for metric in ("throughput", "lead_time", "lead_time_p85", "wip", "flow_efficiency"):
            if metric in reps:
                row[metric] = float(reps[metric].mean())
                row[f"{metric}_lo"], row[f"{metric}_hi"] = ci95(reps[metric].tolist())
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["objective", "trial"], ascending=[False, True], ignore_index=True)


def optimisation_report(root: str | Path, table: pd.DataFrame, objective) -> Path | None:
    """For an optimising sweep (hydra/sweeper=optuna): report.md with the best configuration, its
    objective and metrics with CIs, every trial ranked, and optimisation.png (objective by trial).
    `objective`: a vssim.analysis.objective.Objective (the run's `objective` setting)."""
    from vssim.report.figures.sweep import optimisation_trials

    root = Path(root)
    trials = optimisation_table(table, objective)
    if trials.empty:
        return None
    write_atomic(root / "optimisation.parquet", lambda p: trials.to_parquet(p, index=False))
    unit = str(table["time_unit"].iloc[0]) if "time_unit" in table else "time unit"
    params = [c for c in trials.columns if c.startswith("override.")]
    best = trials.iloc[0]
    optimisation_trials(trials, root / "optimisation.png")

    def ci(name: str) -> str:
        return with_ci(best[name], best.get(f"{name}_lo"), best.get(f"{name}_hi"), 4)

    lines = [f"# Optimisation: {len(trials)} trials", "",
             f"Objective: {objective.describe(unit)}; the mean over {int(best['replications'])} replications "
             "of each trial.",
             "", "## Best configuration", "",
             *[f"- `{c.removeprefix('override.')}` = {best[c]}" for c in params],
             "", f"Trial {best['run']} (`{best['run']}/report.md`).", "",
             "| metric | value (95 % CI) |", "|---|---|",
             f"| objective | {ci('objective')} |"]
    for metric, label in (("throughput", f"throughput (items/{unit})"), ("lead_time", f"lead time ({unit})"),
                          ("lead_time_p85", f"lead time p85 ({unit}, mean of replications)"), ("wip", "WIP (items)"),
                          ("flow_efficiency", "flow efficiency")):
        if metric in best:
            lines.append(f"| {label} | {ci(metric)} |")
    lo = best["objective_lo"]
    close = trials.iloc[1:][trials["objective_hi"].iloc[1:] >= lo] if finite(lo) else trials.iloc[0:0]
    if len(close):
        lines += ["", f"{len(close)} other trial(s) have a 95 % CI that reaches the best one's: the data do not "
                      "single out the best configuration among them (more replications would)."]
    lines += ["", "![objective by trial](optimisation.png)", "", "## Every trial, best first", "",
              "| trial | " + " | ".join(_short(c) for c in params) +
              " | objective (95 % CI) | throughput | lead time p85 |",
              "|---" * (len(params) + 4) + "|"]
    for _, row in trials.iterrows():
        lines.append(f"| {row['run']} | " + " | ".join(str(row[c]) for c in params) +
                     f" | {with_ci(row['objective'], row['objective_lo'], row['objective_hi'], 4)} | "
                     f"{number(row.get('throughput'), 4)} | {number(row.get('lead_time_p85'), 4)} |")
    lines += ["", "Files: `runs.parquet` (every run × replication), `optimisation.parquet` (per trial, with CIs), "
                  "`optimization_results.yaml` (Hydra's Optuna sweeper: best parameters and value).", ""]
    path = root / "report.md"
    write_atomic(path, lambda p: p.write_text("\n".join(lines)))
    return path


def _short(column: str) -> str:
    """`override.stream.steps.develop.wip_limit` -> `develop.wip_limit`."""
    return column.removeprefix("override.").removeprefix("stream.").removeprefix("steps.")


def sweep_report(root: str | Path, table: pd.DataFrame, objective=None) -> Path | None:
    """The report a finished sweep calls for: its trials ranked when it optimised (`objective`
    set), else a comparison when it varied only the scenario, else the WIP curves when it varied
    only the CONWIP level; None when none applies."""
    if objective is not None:
        return optimisation_report(root, table, objective)
    return compare_sweep(root, table) or wip_sweep_report(root, table)
