"""Hydra callbacks (command-line edge): what happens when a sweep ends."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class CollectRuns(Callback):
    """At the end of `vssim -m ...`: one tidy table of all runs, and a comparison report when
    the sweep varied the scenario and includes the baseline."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from vssim.collect import collect
        from vssim.sweep import compare_sweep

        root = Path(config.hydra.sweep.dir)
        if not root.is_dir():
            return
        table = collect(root)
        if not len(table):
            return
        print(f"vssim: {table['run'].nunique()} runs collected in {root / 'runs.parquet'}")
        report = compare_sweep(root, table)
        if report is not None:
            print(f"vssim: comparison report {report}")
