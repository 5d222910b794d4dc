"""Hydra callbacks (command-line edge): what happens when a sweep starts (its record, or the
refusal of a second, different sweep into its folder) and when it ends. The target of
`hydra.callbacks.collect` in configs/config.yaml."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from vssim.analysis.objective import Objective
from vssim.errors import VssimError
from vssim.formatting import with_ci

NOT_THE_SEARCH = ("n_trials", "max_batch_size")
"""Sweeper settings that do not change which jobs a sweep runs (more trials extend a search)."""


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


def sweep_identity(config: DictConfig) -> dict:
    """What makes a sweep this sweep (vssim.run.status.begin_sweep): its overrides, its sweeper's
    search (not the launcher, nor the number of trials) and the config it composed without the
    keys it varies."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [str(o) for o in config.hydra.overrides.task]
    sweeper = OmegaConf.to_container(config.hydra.sweeper, resolve=False)
    varied = {o.key_or_group for o in OverridesParser.create().parse_overrides(overrides) if o.is_sweep_override()}
    composed = OmegaConf.to_container(config, resolve=False)
    composed.pop("hydra", None)
    for key in varied | set(sweeper.get("params") or {}):
        *parents, last = key.split(".")
        node = composed
        for k in parents:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return {"overrides": sorted(overrides), "config": composed,
            "sweeper": {k: v for k, v in sweeper.items() if k not in NOT_THE_SEARCH}}


def _refuse(error: VssimError) -> NoReturn:
    print(f"vssim: error: {error}", file=sys.stderr)
    raise SystemExit(2)


class CollectRuns(Callback):
    """At the start of `vssim -m ...`: the sweep's record in its folder (a second, different sweep
    into the folder is refused). At the end: one tidy table of the runs that completed in this
    sweep (those left out are listed), a comparison report when the sweep varied the scenario and
    includes the baseline, and the failed runs reported (the command then exits with status 1;
    rerunning it retries only those)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from vssim.run.status import begin_sweep

        try:
            begin_sweep(Path(config.hydra.sweep.dir), sweep_identity(config))
        except VssimError as e:
            _refuse(e)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from vssim.run.lock import holding

        root = Path(config.hydra.sweep.dir)
        if not root.is_dir():
            return
        with holding(root):          # a second sweep ending now writes its tables and reports after this one
            _end_of_sweep(root, config)


def _end_of_sweep(root: Path, config: DictConfig) -> None:
    from vssim.run.collect import collect, left_out
    from vssim.run.status import failed_runs
    from vssim.run.sweep import sweep_report

    try:
        table = collect(root)
    except VssimError as e:
        _refuse(e)
    if len(table):
        print(f"vssim: {table['run'].nunique()} runs collected in {root / 'runs.parquet'}")
        objective = optimising(config)
        report = sweep_report(root, table, objective)
        if objective is not None:
            print_best(root)
        if report is not None:
            print(f"vssim: sweep report {report}")
    failed = failed_runs(root)
    left = [(run, why) for run, why in left_out(root) if not any(run.is_relative_to(f) for f, _ in failed)]
    if left:
        print(f"vssim: {len(left)} run(s) not counted in {root / 'runs.parquet'}:")
        for run, why in left:
            print(f"  {run}: {why}")
    if failed:
        print(f"vssim: {len(failed)} run(s) failed; rerun the same command to retry them:", file=sys.stderr)
        for run, error in failed:
            print(f"  {run}: {error}", file=sys.stderr)
        raise SystemExit(1)
