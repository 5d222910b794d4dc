"""The `vssim` command, the Hydra edge: it composes the config, hands it to
`vssim.run.experiment.run_config` as plain mappings, prints what the run found, keeps a sweep's
runs restartable (`vssim.run.status`) and turns errors into exit codes (2: a setting to fix).

Only this package imports Hydra. `vssim -cd DIR stream=NAME` adds DIR to the config search
path, so a user's own `DIR/stream/NAME.yaml` is found next to the packaged streams.
"""
from __future__ import annotations

import functools
import hashlib
import re
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from vssim.analysis.objective import Objective
from vssim.analysis.stability import headline
from vssim.cli import streams
from vssim.cli.trust import preflight
from vssim.errors import VssimError
from vssim.formatting import interval, number
from vssim.run.experiment import run_config
from vssim.run.lock import holding
from vssim.run.status import config_hash, finished, mark, sweep_of


def config_dir() -> str:
    """The packaged configs: `configs/` beside the package (editable install) or inside it."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent / "configs", package / "configs"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise RuntimeError(f"vssim: no configs/ found next to {package}")


DEFAULT_EXPERIMENT = "accelerators"
"""What `vssim` with no argument runs (docs/cli.md)."""


def resolved(cfg: DictConfig) -> dict:
    """The composed config as plain mappings, interpolations resolved, without Hydra's node."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("hydra", None)
    return plain


def run(config: Mapping, out_dir: str | Path) -> dict:
    """Run a resolved config into `out_dir`, print a line per scenario (and a warning for an
    unstable one) and where the report is; the baseline's summary."""
    outcome = run_config(config, out_dir)
    for name, result in outcome.results.items():
        s = result.summary
        m, unit = s["metrics"], s["time_unit"]
        lt, th = m["lead_time"], m["throughput"]
        print(f"{s['stream']} [{name}]: lead time {number(lt['mean'])} {unit} (95% CI {interval(*lt['ci95'])}), "
              f"p85 {number(lt['p85'])}; throughput {number(th['mean'])}/{unit}; "
              f"{m['completed']} items done over {s['sim']['replications']} replication(s)")
        if unstable := headline(s):
            print(f"vssim: warning: UNSTABLE [{name}]: {unstable}", file=sys.stderr)
    print(f"report: {outcome.report}")
    return outcome.summary


def one_at_a_time(job):
    """A sweep's job holds the lock on its folder while it runs: the same job of a second,
    identical sweep started at the same time waits, then finds the run done and skips it."""
    @functools.wraps(job)
    def locked(cfg: DictConfig):
        hc = HydraConfig.get()
        if hc.mode != RunMode.MULTIRUN:
            return job(cfg)
        out = Path(hc.runtime.output_dir)
        with holding(out, waiting=lambda: print(f"vssim: waiting for {out}: another process runs it", flush=True)):
            return job(cfg)
    return locked


@hydra.main(config_path=config_dir(), config_name="config", version_base="1.3")
@one_at_a_time
def _main(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    sweeping = hc.mode == RunMode.MULTIRUN
    config = resolved(cfg)
    digest = config_hash(config)
    sweep = sweep_of(Path(hc.sweep.dir)) if sweeping else None
    started = time.time()
    if sweeping:
        done = finished(out, digest, sweep)
        if done is not None:         # a restarted sweep: this run is already finished
            print(f"vssim: {out} already done, skipped")
            return _returned(config, done)
    mark(out, digest, "running", started, config=config, sweep=sweep)   # not counted until done
    try:
        _objective(config)           # an invalid objective is refused before the run
        summary = run(config, out)
    except VssimError as e:
        print(f"vssim: error: {e}", file=sys.stderr)
        mark(out, digest, "failed", started, str(e), config=config, sweep=sweep)   # reported at the end of the sweep
        if not sweeping:
            sys.exit(2)
        return None
    except Exception as e:
        mark(out, digest, "failed", started, f"{type(e).__name__}: {e}", config=config, sweep=sweep)
        if not sweeping:
            raise
        print(f"vssim: run {out} crashed: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    mark(out, digest, "done", started, config=config, sweep=sweep)
    return _returned(config, summary)


def _objective(config: Mapping) -> Objective | None:
    return Objective.from_dict(config.get("objective"))


def _returned(config: Mapping, summary: dict) -> float:
    """What a run returns to Hydra (a sweeper optimises it): the `objective` if set, else the throughput."""
    objective = _objective(config)
    return summary["metrics"]["throughput"]["mean"] if objective is None else objective.value(summary)


def sweep_name() -> str:
    """A sweep directory name that is the same for the same command, so a restarted sweep
    finds its finished runs: the overrides, readable, plus a short hash."""
    args = sorted(a for a in sys.argv[1:] if not a.startswith(("-", "hydra.", "hydra/")))   # not the launcher
    text = " ".join(args) or "default"
    slug = re.sub(r"[^A-Za-z0-9=.,_+-]+", "_", text)[:80].strip("_") or "sweep"
    return f"{slug}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def _constant(value: str) -> str:
    return value


def main() -> None:
    """Console entry point. With no argument at all, the default experiment runs."""
    if len(sys.argv) == 1:
        sys.argv.append(f"experiment={DEFAULT_EXPERIMENT}")
    if sys.argv[1] == "calibrate":   # a subcommand (DESIGN.md §11); anything else is the Hydra run of §4
        from vssim.cli.calibrate import main as calibrate_main
        sys.exit(calibrate_main(sys.argv[2:]))
    try:
        preflight(sys.argv[1:])      # a -cd folder's files, before Hydra reads (and runs) any of them
    except VssimError as e:
        print(f"vssim: error: {e}", file=sys.stderr)
        sys.exit(2)
    # configs/hydra/launcher/ray.yaml is meant to be checked against the plugin's schema of that name
    warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/ray' is validated against ConfigStore schema")
    # the name is fixed here: a launcher's worker (Ray's) resolves it with another sys.argv
    OmegaConf.register_new_resolver("vssim_sweep_name", functools.partial(_constant, sweep_name()), replace=True)
    streams.install()                # a team written {stream: NAME} is expanded as its stream file is read
    _main()


if __name__ == "__main__":
    main()
