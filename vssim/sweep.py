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
