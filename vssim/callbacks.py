"""Hydra callbacks (command-line edge): what happens when a sweep ends."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def failed_runs(root: Path) -> list[tuple[Path, str]]:
    """Runs of a sweep whose run.json says they failed, with the error."""
    out = []
    for marker in sorted(root.glob("*/run.json")):
        try:
            record = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue
        if record.get("status") == "failed":
            out.append((marker.parent, record.get("error", "")))
    return out


class CollectRuns(Callback):
    """At the end of `vssim -m ...`: one tidy table of all runs, a comparison report when the
    sweep varied the scenario and includes the baseline, and the failed runs reported (the
    command then exits with status 1; rerunning it retries only those)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from vssim.collect import collect
        from vssim.sweep import compare_sweep, wip_sweep_report

        root = Path(config.hydra.sweep.dir)
        if not root.is_dir():
            return
        table = collect(root)
        if len(table):
            print(f"vssim: {table['run'].nunique()} runs collected in {root / 'runs.parquet'}")
            report = compare_sweep(root, table) or wip_sweep_report(root, table)
            if report is not None:
                print(f"vssim: sweep report {report}")
        failed = failed_runs(root)
        if failed:
            print(f"vssim: {len(failed)} run(s) failed; rerun the same command to retry them:", file=sys.stderr)
            for run, error in failed:
                print(f"  {run}: {error}", file=sys.stderr)
            raise SystemExit(1)
