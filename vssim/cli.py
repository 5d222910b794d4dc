"""The `vssim` command: a thin Hydra wrapper around `run_config` (DESIGN.md §4).

Only this module imports Hydra. `vssim -cd DIR stream=NAME` adds DIR to the config search
path, so a user's own `DIR/stream/NAME.yaml` is found next to the packaged streams.
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from vssim.errors import SpecError, VssimError
from vssim.simulate import simulate
from vssim.spec import StreamSpec


def config_dir() -> str:
    """The packaged configs: `configs/` beside the package (editable install) or inside it."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "configs", here / "configs"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise RuntimeError(f"vssim: no configs/ found next to {here}")


def run_config(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Run the stream and settings of a composed config; write results and report to out_dir."""
    stream = OmegaConf.to_container(cfg.stream, resolve=True)
    try:
        spec = StreamSpec.from_dict(stream)
    except SpecError as e:
        # name the field as it is overridden on the command line: stream.steps.build.wip_limit=...
        path = "stream" if e.path in ("", "stream") else f"stream.{e.path}"
        raise SpecError(path, message=e.reason) from None
    sim = cfg.sim
    result = simulate(spec, horizon=sim.horizon, warmup=sim.warmup, replications=sim.replications,
                      seed=sim.seed, engine=sim.engine, planning_interval=sim.planning_interval,
                      scenario=str(cfg.get("scenario_name", "baseline")),
                      progress=sim.get("progress"))
    out = Path(out_dir)
    result.save(out, event_log=bool(cfg.report.get("event_log", True)))
    from vssim.report import write_report  # matplotlib only when a report is written

    report = write_report(result, out, figures=bool(cfg.report.get("figures", True)))
    m = result.summary["metrics"]
    lt, th = m["lead_time"], m["throughput"]
    unit = spec.time_unit
    print(f"{spec.name}: lead time {lt['mean']:.3g} {unit} (95% CI {_ci(lt['ci95'])}), "
          f"p85 {lt['p85']:.3g}; throughput {th['mean']:.3g}/{unit}; "
          f"{m['completed']} items done over {sim.replications} replication(s)")
    print(f"report: {report}")
    return result.summary


def _ci(ci) -> str:
    lo, hi = ci
    return "n/a" if lo is None else f"{lo:.3g} to {hi:.3g}"


@hydra.main(config_path=config_dir(), config_name="config", version_base="1.3")
def _main(cfg: DictConfig) -> float | None:
    try:
        summary = run_config(cfg, HydraConfig.get().runtime.output_dir)
    except VssimError as e:
        print(f"vssim: error: {e}", file=sys.stderr)
        sys.exit(2)
    return summary["metrics"]["throughput"]["mean"]


def main() -> None:
    """Console entry point."""
    _main()


if __name__ == "__main__":
    main()
