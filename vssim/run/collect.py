"""Gather the runs of a sweep into one tidy table (one row per run × replication).

A run is a directory with a `summary.json`; Hydra's `.hydra/overrides.yaml` next to it gives
the overrides, which become columns, so that the table says what changed between runs.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from vssim.files import write_atomic

TABLE = "runs.parquet"


def find_runs(root: str | Path) -> list[Path]:
    """Run directories under root (those holding a summary.json), in a stable order.

    The per-scenario results inside a comparison (`scenarios/NAME/`) are runs too.
    """
    root = Path(root)
    runs = {p.parent for p in root.rglob("summary.json")}
    # a comparison's own summary.json repeats its baseline, which is under scenarios/ already
    return sorted((r for r in runs if not (r / "comparison.json").is_file()), key=str)


def _overrides(run: Path, root: Path) -> dict[str, str]:
    """The Hydra overrides of a run; a comparison's `scenarios/NAME/` inherits those of the comparison."""
    for d in (run, *run.parents):
        f = d / ".hydra" / "overrides.yaml"
        if f.is_file() or d == root:
            break
    if not f.is_file():
        return {}
    import yaml

    out = {}
    for item in yaml.safe_load(f.read_text()) or []:
        key, _, value = str(item).partition("=")
        out[key.lstrip("+~")] = value
    return out


def run_rows(run: Path, root: Path) -> list[dict]:
    """The rows of one run: its replications with every per-replication metric."""
    summary = json.loads((run / "summary.json").read_text())
    base = {"run": str(run.relative_to(root)) if run != root else ".",
            "stream": summary.get("stream"), "scenario": summary.get("scenario"),
            "time_unit": summary.get("time_unit"), "seed": summary.get("sim", {}).get("seed")}
    base.update({f"override.{k}": v for k, v in _overrides(run, root).items()})
    return [{**base, **{k: v for k, v in rep.items() if not isinstance(v, list | dict)}}
            for rep in summary.get("replications", [])]


def collect(root: str | Path, *, write: bool = True) -> pd.DataFrame:
    """One tidy table of every run under root; written atomically to root/runs.parquet."""
    root = Path(root)
    rows = [row for run in find_runs(root) for row in run_rows(run, root)]
    table = pd.DataFrame(rows)
    if write and len(table):
        write_atomic(root / TABLE, lambda p: table.to_parquet(p, index=False))
    return table
