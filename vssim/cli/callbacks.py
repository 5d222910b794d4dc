"""Hydra callbacks (command-line edge): what happens when a sweep ends. The target of
`hydra.callbacks.collect` in configs/config.yaml."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from vssim.analysis.objective import Objective
from vssim.formatting import with_ci


def optimising(config: DictConfig) -> Objective | None:
    """The objective of an optimising sweep (`objective` set, or an Optuna sweeper), else None."""
    node = config.get("objective")
    if node is not None:
        return Objective.from_dict(OmegaConf.to_container(node, resolve=True))
    sweeper = str(OmegaConf.select(config, "hydra.sweeper._target_", default="") or "")
    return Objective() if "optuna" in sweeper.lower() else None


def print_best(root: Path) -> None:
    """The best trial of an optimising sweep, with its CI (from optimisation.parquet)."""
    import pandas as pd

    f = root / "optimisation.parquet"
    if not f.is_file():
        return
    best = pd.read_parquet(f).iloc[0]
    params = ", ".join(f"{c.removeprefix('override.')}={best[c]}" for c in best.index if c.startswith("override."))
    print(f"vssim: best run {root / str(best['run'])}: {params or 'no parameter varied'}; objective "
          f"{with_ci(best['objective'], best['objective_lo'], best['objective_hi'], 4)}, throughput "
          f"{with_ci(best['throughput'], best['throughput_lo'], best['throughput_hi'], 4)}, lead time p85 "
          f"{with_ci(best['lead_time_p85'], best['lead_time_p85_lo'], best['lead_time_p85_hi'], 4)}")


class CollectRuns(Callback):
    """At the end of `vssim -m ...`: one tidy table of all runs, a comparison report when the
    sweep varied the scenario and includes the baseline, and the failed runs reported (the
    command then exits with status 1; rerunning it retries only those)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from vssim.run.collect import collect
        from vssim.run.status import failed_runs
        from vssim.run.sweep import sweep_report

        root = Path(config.hydra.sweep.dir)
        if not root.is_dir():
            return
        table = collect(root)
        if len(table):
            print(f"vssim: {table['run'].nunique()} runs collected in {root / 'runs.parquet'}")
            objective = optimising(config)
            report = sweep_report(root, table, objective)
            if objective is not None:
                print_best(root)
            if report is not None:
                print(f"vssim: sweep report {report}")
        failed = failed_runs(root)
        if failed:
            print(f"vssim: {len(failed)} run(s) failed; rerun the same command to retry them:", file=sys.stderr)
            for run, error in failed:
                print(f"  {run}: {error}", file=sys.stderr)
            raise SystemExit(1)
