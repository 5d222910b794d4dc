"""The `vssim` command (docs/cli.md) and the packaged Hydra configs.

Every command-line run starts a Python process (~3 s), so all of them are launched together,
once per module, and the tests read their results.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import cli_ok, loop_stream, run_cli_parallel
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import vssim
from vssim.cli import streams
from vssim.model.settings import Settings
from vssim.run.simulate import check_settings

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
STREAMS = sorted(p.stem for p in (CONFIGS / "stream").glob("*.yaml"))

SHORT = ["sim.horizon=2000", "sim.replications=2"]
QUIET = ["report.figures=false", "report.event_log=false"]
DVS = ["stream=dvs_basic", "sim.horizon=300", "sim.warmup=50", "sim.replications=2", *QUIET]

LOOP = loop_stream({"process": "poisson", "rate": 0.5})
"""Rework into full columns: a deadlock at run time."""


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory) -> Path:
    """A user's config dir: DIR/stream/mine.yaml (mm1 under another name) and a deadlocking loop."""
    d = tmp_path_factory.mktemp("user_configs")
    (d / "stream").mkdir()
    mm1 = yaml.safe_load((CONFIGS / "stream" / "mm1.yaml").read_text())
    mm1["name"] = "mine"
    (d / "stream" / "mine.yaml").write_text(yaml.safe_dump(mm1, sort_keys=False))
    (d / "stream" / "loop.yaml").write_text(yaml.safe_dump(LOOP, sort_keys=False))
    return d


@pytest.fixture(scope="module")
def runs(tmp_path_factory, user_dir) -> dict:
    """Run every command line of this module in parallel; name -> (CompletedProcess, run dir)."""
    base = tmp_path_factory.mktemp("cli_runs")
    commands = {
        "mm1": ["stream=mm1", *SHORT],
        "mine": ["-cd", str(user_dir), "stream=mine", *SHORT, *QUIET],
        "dvs_wip3_seed7": [*DVS, "stream.steps.build.wip_limit=3", "sim.seed=7"],
        "bad_wip": ["stream=dvs_basic", "stream.steps.build.wip_limit=0", *QUIET],
        "bad_horizon": ["stream=mm1", "sim.horizon=0", *QUIET],
        "bad_rate": ["stream=mm1", "stream.arrivals.rate=-1", *QUIET],
        "deadlock": [
            "-cd",
            str(user_dir),
            "stream=loop",
            "sim.horizon=200",
            "sim.warmup=0",
            *QUIET,
        ],
    }
    return run_cli_parallel(commands, base)


ok = cli_ok


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def canonical(value) -> str:
    """Exact comparison of JSON values (NaN included)."""
    return json.dumps(value, sort_keys=True)


# ----------------------------------------------------------------------------- one run
STAT_KEYS = {"mean", "ci95", "min", "p50", "p85", "p95", "max"}
STEP_KEYS = {
    "utilization",
    "queue_length",
    "wait",
    "process_time",
    "blocked",
    "pct_complete_accurate",
    "throughput",
}
ITEM_COLUMNS = {
    "replication",
    "item",
    "type",
    "class_of_service",
    "size",
    "arrival",
    "commit",
    "done",
    "lead_time",
    "flow_time",
    "touch_time",
    "rework_count",
}
EVENT_COLUMNS = {"case", "activity", "lifecycle", "timestamp", "resource"}


def test_run_writes_every_output(runs):
    run_dir = ok(runs, "mm1")
    proc = runs["mm1"][0]
    assert "report:" in proc.stdout

    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert config["stream"]["name"] == "mm1"
    assert config["sim"]["horizon"] == 2000 and config["sim"]["replications"] == 2

    s = summary(run_dir)
    assert {"stream", "scenario", "time_unit", "sim", "metrics", "steps", "replications"} <= set(s)
    assert (s["stream"], s["scenario"], s["time_unit"]) == ("mm1", "baseline", "hour")
    assert {"horizon", "warmup", "replications", "seed", "engine"} <= set(s["sim"])
    assert (
        s["sim"]["horizon"],
        s["sim"]["warmup"],
        s["sim"]["replications"],
        s["sim"]["seed"],
        s["sim"]["engine"],
    ) == (2000, 200, 2, 1, "fast")  # engine auto: mm1 qualifies for the exact fast engine
    m = s["metrics"]
    for key in ("lead_time", "flow_time"):
        assert STAT_KEYS <= set(m[key]), key
        assert len(m[key]["ci95"]) == 2
        assert m[key]["min"] <= m[key]["p50"] <= m[key]["p85"] <= m[key]["p95"] <= m[key]["max"]
    for key in ("throughput", "wip", "flow_efficiency"):
        assert {"mean", "ci95"} <= set(m[key]), key
    assert "mean" in m["backlog"]
    assert isinstance(m["flow_distribution"], dict) and m["flow_distribution"]
    assert {"mean", "in_band"} <= set(m["flow_predictability"])
    assert m["completed"] > 0 and m["rejected"] == 0
    assert 2.5 < m["lead_time"]["mean"] < 6.0  # M/M/1 theory: 4 hours
    assert 0.65 < m["throughput"]["mean"] < 0.85  # lambda = 0.75
    assert set(s["steps"]) == {"serve"} and STEP_KEYS <= set(s["steps"]["serve"])
    assert all("seed" in r for r in s["replications"])
    assert len(s["replications"]) == 2

    items = pd.read_parquet(run_dir / "items.parquet")
    assert ITEM_COLUMNS <= set(items.columns)
    assert set(items["replication"]) == {0, 1}
    assert items["done"].notna().any()
    unfinished = items[items["done"].isna()]  # still in the stream at the horizon: no lead time
    assert unfinished["lead_time"].isna().all()
    steps = pd.read_parquet(run_dir / "steps.parquet")
    assert "serve" in set(steps["step"])
    events = pd.read_csv(run_dir / "events.csv")
    assert EVENT_COLUMNS <= set(events.columns)
    assert {"start", "complete"} <= set(events["lifecycle"])
    assert "serve" in set(events["activity"])

    report = run_dir / "report.md"
    assert report.is_file() and report.read_text().strip()
    pngs = sorted(run_dir.glob("*.png"))
    assert pngs
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


def test_user_config_dir_and_same_seed_gives_identical_metrics(runs):
    """`vssim -cd DIR stream=mine` finds DIR/stream/mine.yaml; it is mm1 renamed, so with the
    same seed and settings every metric equals the packaged mm1 run's."""
    mine, mm1 = summary(ok(runs, "mine")), summary(ok(runs, "mm1"))
    assert mine["stream"] == "mine"
    assert canonical(mine["metrics"]) == canonical(mm1["metrics"])
    assert canonical(mine["steps"]) == canonical(mm1["steps"])
    assert not list(ok(runs, "mine").glob("*.png"))  # report.figures=false reached the run
    assert not (ok(runs, "mine") / "events.csv").exists()  # report.event_log=false too


def test_overrides_reach_the_run(runs):
    run_dir = ok(runs, "dvs_wip3_seed7")
    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert config["stream"]["steps"]["build"]["wip_limit"] == 3
    assert config["sim"]["seed"] == 7
    s = summary(run_dir)
    assert s["sim"]["seed"] == 7 and s["sim"]["horizon"] == 300

    def api(wip_limit: int, seed: int) -> dict:
        d = yaml.safe_load((CONFIGS / "stream" / "dvs_basic.yaml").read_text())
        d["steps"]["build"]["wip_limit"] = wip_limit
        r = vssim.simulate(
            vssim.StreamSpec.from_dict(d),
            horizon=300,
            warmup=50,
            replications=2,
            seed=seed,
            progress=False,
        )
        return json.loads(json.dumps(r.summary["metrics"]))

    cli = canonical(s["metrics"])
    assert cli == canonical(api(3, 7))  # the CLI ran exactly this stream and these settings
    assert cli != canonical(api(8, 7))  # the wip_limit override changes the results
    assert cli != canonical(api(3, 1))  # the seed changes the results


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "bad_wip",
            "vssim: error: stream.steps.build.wip_limit: must be a positive integer or null, got 0",
        ),
        ("bad_horizon", "vssim: error: sim.horizon: must be a positive number, got 0"),
        ("bad_rate", "vssim: error: stream.arrivals.rate: must be a number > 0, got -1"),
    ],
)
def test_broken_config_exits_2_with_one_line(runs, name, line):
    proc, run_dir = runs[name]
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [line]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (run_dir / "summary.json").exists()  # refused before the run


def test_deadlock_exits_2_with_one_line(runs):
    proc, run_dir = runs["deadlock"]
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("vssim: error: stream 'loop': deadlock at t=")
    assert "build" in lines[0] and "validate" in lines[0]
    assert not (run_dir / "summary.json").exists()


# ----------------------------------------------------------------------------- composed configs
def compose_config(overrides: list[str]):
    streams.install()              # as the `vssim` command composes: team references expanded
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_every_packaged_stream_is_tested():
    assert {"dvs_basic", "mm1", "penny_game"} <= set(STREAMS)


@pytest.mark.parametrize("name", STREAMS)
def test_stream_config_composes_validates_and_runs(name):
    cfg = compose_config([f"stream={name}"])
    assert cfg.stream.name == name
    spec = vssim.StreamSpec.from_dict(OmegaConf.to_container(cfg.stream, resolve=True))
    horizon = None if spec.arrivals.finite else 200.0
    warmup = 0.0 if horizon is None else 20.0
    sim = OmegaConf.to_container(cfg.sim, resolve=True)
    check_settings(spec, Settings(horizon=horizon, warmup=warmup, replications=sim["replications"],
                                  seed=sim["seed"], engine=sim["engine"],
                                  planning_interval=sim["planning_interval"]))
    result = vssim.simulate(
        spec, horizon=horizon, warmup=warmup, replications=1, seed=sim["seed"], progress=False
    )
    m = result.summary["metrics"]
    assert m["completed"] > 0
    if name == "penny_game":
        assert m["completed"] == 20
        assert result.items["done"].min() == pytest.approx(80.0)  # batch of 20: first coin at 80


def test_default_config_is_valid():
    cfg = compose_config([])
    spec = vssim.StreamSpec.from_dict(OmegaConf.to_container(cfg.stream, resolve=True))
    sim = OmegaConf.to_container(cfg.sim, resolve=True)
    check_settings(spec, Settings(horizon=sim["horizon"], warmup=sim["warmup"], replications=sim["replications"],
                                  seed=sim["seed"], engine=sim["engine"],
                                  planning_interval=sim["planning_interval"]))


def test_composed_override_is_validated():
    cfg = compose_config(["stream=dvs_basic", "stream.steps.build.wip_limit=0"])
    with pytest.raises(
        vssim.SpecError, match=r"^steps\.build\.wip_limit: must be a positive integer"
    ):
        vssim.StreamSpec.from_dict(OmegaConf.to_container(cfg.stream, resolve=True))
