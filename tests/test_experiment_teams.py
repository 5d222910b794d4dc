"""Teams on the command line (docs/cli.md "Teams"): an experiment's `stream:` patch that names a team
file is expanded from the `stream/` folder next to it, a missing one is refused in one line, and a
packaged stream's team is swept by its key."""
from __future__ import annotations

import json

import pytest
import yaml
from conftest import run_cli_parallel

from vssim import StreamSpec

BIGGER_DATA = {"schema_version": 2, "name": "bigger_data", "time_unit": "day",
               "arrivals": {"process": "poisson", "rate": 0.4}, "pools": {"data_devs": 5},
               "release": {"policy": "conwip", "conwip": 8, "backlog_limit": None},
               "steps": {"build": {"pool": "data_devs", "work": {"dist": "gamma", "mean": 3.0, "cv": 1.0}},
                         "review": {"pool": "data_devs", "work": 0.5}}}
"""A team file for art_component_teams' data team: more people, a step more."""


def _experiment(team_file: str) -> str:
    return ("# @package _global_\n"
            "defaults:\n  - override /stream: art_component_teams\n  - override /scenario: [baseline]\n"
            f"stream:\n  teams:\n    data: {{stream: {team_file}}}\n")


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli_teams")
    (base / "cd" / "stream").mkdir(parents=True)
    (base / "cd" / "experiment").mkdir()
    (base / "cd" / "stream" / "bigger_data.yaml").write_text(yaml.safe_dump(BIGGER_DATA, sort_keys=False))
    (base / "cd" / "experiment" / "bigger.yaml").write_text(_experiment("bigger_data"))
    (base / "cd" / "experiment" / "lost.yaml").write_text(_experiment("gone"))
    cd = ["-cd", str(base / "cd")]
    short = ["sim.horizon=120", "sim.warmup=10", "sim.replications=1", "report.figures=false"]
    commands = {
        "patched": ["--cfg", "job", "--resolve", *cd, "experiment=bigger"],
        "ran": [*cd, "experiment=bigger", *short],
        "lost": ["--cfg", "job", *cd, "experiment=lost"],
        "sweep": ["-m", "stream=art_component_teams", "stream.teams.web.pools.web_devs=3,7", *short],
    }
    return run_cli_parallel(commands, base, timeout=300), base


def test_an_experiment_patch_names_a_team_file(cli):
    results, _ = cli
    proc, _ = results["patched"]
    assert proc.returncode == 0, proc.stderr
    spec = StreamSpec.from_dict(yaml.safe_load(proc.stdout)["stream"])
    data = spec.teams["data"]
    assert data.pools["data_devs"].size == 5 and list(data.steps) == ["build", "review"]   # merged over the team
    assert data.release.conwip == 8 and spec.teams["web"].pools["web_devs"].size == 5    # the rest as it was
    proc, out = results["ran"]
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    summary = json.loads(next(out.rglob("summary.json")).read_text())
    assert list(summary["teams"]["data"]["steps"]) == ["build", "review"]     # the run had the file's board


def test_an_experiment_patch_naming_a_missing_team_file_is_refused_in_one_line(cli):
    results, base = cli
    proc, _ = results["lost"]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"vssim: error: stream.teams.data.stream: must name a stream file in "
                            f"{base / 'cd' / 'stream'} (bigger_data), got 'gone' (no gone.yaml there)"), first


def test_a_packaged_streams_team_is_swept_by_its_key(cli):
    results, _ = cli
    proc, out = results["sweep"]
    assert "Traceback" not in proc.stderr, proc.stderr
    devs = {}
    for job in sorted(out.glob("[0-9]*")):
        config = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
        devs[job.name] = config["stream"]["teams"]["web"]["pools"]["web_devs"]
        assert json.loads((job / "run.json").read_text())["status"] == "done"
    assert devs == {"0": 3, "1": 7}
