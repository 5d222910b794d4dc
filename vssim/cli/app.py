"""The `vssim` command: a thin Hydra wrapper around `run_config` (DESIGN.md §4).

Only this module imports Hydra. `vssim -cd DIR stream=NAME` adds DIR to the config search
path, so a user's own `DIR/stream/NAME.yaml` is found next to the packaged streams.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
import time
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from vssim.analysis.objective import Objective
from vssim.errors import SpecError, VssimError
from vssim.files import write_atomic
from vssim.model.settings import Settings
from vssim.model.spec import StreamSpec
from vssim.run.experiment import run_experiment
from vssim.run.simulate import check_settings
from vssim.scenarios.scenario import Scenario


def config_dir() -> str:
    """The packaged configs: `configs/` beside the package (editable install) or inside it."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent / "configs", package / "configs"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise RuntimeError(f"vssim: no configs/ found next to {package}")


DEFAULT_EXPERIMENT = "accelerators"
"""What `vssim` with no argument runs (DESIGN.md §4)."""


def _stream_spec(cfg: DictConfig) -> StreamSpec:
    stream = OmegaConf.to_container(cfg.stream, resolve=True)
    try:
        return StreamSpec.from_dict(stream)
    except SpecError as e:
        # name the field as it is overridden on the command line: stream.steps.build.wip_limit=...
        path = "stream" if e.path in ("", "stream") else f"stream.{e.path}"
        raise SpecError(path, message=e.reason) from None


def _scenarios(cfg: DictConfig) -> dict[str, Scenario]:
    loaded = OmegaConf.to_container(cfg.get("scenario") or {}, resolve=True)
    if not isinstance(loaded, dict):
        raise SpecError("scenario", "scenario files selected from configs/scenario", loaded)
    return {name: Scenario.from_dict(d or {}, name) for name, d in loaded.items()}


def run_config(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Run the stream, scenarios and settings of a composed config; write results and report."""
    spec = _stream_spec(cfg)
    scenarios = _scenarios(cfg)
    sim = cfg.sim
    settings = Settings(horizon=sim.horizon, warmup=sim.warmup, replications=sim.replications, seed=sim.seed,
                        engine=sim.engine, planning_interval=sim.planning_interval, progress=sim.get("progress"),
                        stats=sim.get("stats", "full"))
    check_settings(spec, settings)
    report_cfg = cfg.get("report") or {}
    compare_cfg = cfg.get("compare")
    compare_names = None
    baseline = "baseline"
    comparing = bool(compare_cfg and compare_cfg.get("enabled"))
    if comparing:
        names = compare_cfg.get("alternatives")
        compare_names = list(names) if names is not None else list(scenarios)
        baseline = str(compare_cfg.get("baseline") or "baseline")
    outcome = run_experiment(spec, scenarios, settings, out_dir, compare=comparing, compare_names=compare_names,
                             baseline=baseline, figures=bool(report_cfg.get("figures", True)),
                             event_log=bool(report_cfg.get("event_log", True)),
                             title=report_cfg.get("title"), question=report_cfg.get("question"),
                             animate=bool(report_cfg.get("animate", False)))
    unit = spec.time_unit
    for name, result in outcome.results.items():
        m = result.summary["metrics"]
        lt, th = m["lead_time"], m["throughput"]
        print(f"{spec.name} [{name}]: lead time {_g(lt['mean'])} {unit} (95% CI {_ci(lt['ci95'])}), "
              f"p85 {_g(lt['p85'])}; throughput {_g(th['mean'])}/{unit}; "
              f"{m['completed']} items done over {settings.replications} replication(s)")
    print(f"report: {outcome.report}")
    return outcome.summary


def _g(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _ci(ci) -> str:
    lo, hi = ci
    return "n/a" if lo is None else f"{lo:.3g} to {hi:.3g}"


RUN_MARKER = "run.json"
"""Written last into a run directory: the status of the run and a hash of its configuration."""


def config_hash(cfg: DictConfig) -> str:
    """A hash of everything that determines a run's results (the config without hydra's node)."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("hydra", None)
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:16]


def finished(out: Path, digest: str) -> dict | None:
    """The summary of a run already finished in `out` with the same configuration, else None."""
    try:
        marker = json.loads((out / RUN_MARKER).read_text())
        if marker.get("status") == "done" and marker.get("config") == digest:
            return json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return None


def mark(out: Path, digest: str, status: str, started: float, error: str | None = None) -> None:
    record = {"status": status, "config": digest, "seconds": round(time.time() - started, 3)}
    if error:
        record["error"] = error
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / RUN_MARKER, lambda p: p.write_text(json.dumps(record, indent=2)))


@hydra.main(config_path=config_dir(), config_name="config", version_base="1.3")
def _main(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    sweeping = hc.mode == RunMode.MULTIRUN
    digest = config_hash(cfg)
    if sweeping:
        done = finished(out, digest)
        if done is not None:         # a restarted sweep: this run is already finished
            print(f"vssim: {out} already done, skipped")
            return _returned(cfg, done)
    started = time.time()
    try:
        _objective(cfg)              # an invalid objective is refused before the run
        summary = run_config(cfg, out)
    except VssimError as e:
        print(f"vssim: error: {e}", file=sys.stderr)
        if not sweeping:
            sys.exit(2)
        mark(out, digest, "failed", started, str(e))   # reported at the end of the sweep
        return None
    except Exception as e:
        if not sweeping:
            raise
        print(f"vssim: run {out} crashed: {type(e).__name__}: {e}", file=sys.stderr)
        mark(out, digest, "failed", started, f"{type(e).__name__}: {e}")
        return None
    mark(out, digest, "done", started)
    return _returned(cfg, summary)


def _objective(cfg: DictConfig) -> Objective | None:
    node = cfg.get("objective")
    return Objective.from_dict(None if node is None else OmegaConf.to_container(node, resolve=True))


def _returned(cfg: DictConfig, summary: dict) -> float:
    """What a run returns to Hydra (a sweeper optimises it): the `objective` if set, else the throughput."""
    objective = _objective(cfg)
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
    # configs/hydra/launcher/ray.yaml is meant to be checked against the plugin's schema of that name
    warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/ray' is validated against ConfigStore schema")
    # the name is fixed here: a launcher's worker (Ray's) resolves it with another sys.argv
    OmegaConf.register_new_resolver("vssim_sweep_name", functools.partial(_constant, sweep_name()), replace=True)
    _main()


if __name__ == "__main__":
    main()
