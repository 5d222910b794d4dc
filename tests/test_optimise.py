"""The optimisation objective (vssim/analysis/objective.py), the end-of-sweep optimisation report, and
`experiment=wip_optimise` on Hydra's Optuna sweeper with a tiny budget (skipped without the
`optimize` extra)."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import vssim.cli.app
from vssim.analysis.objective import Objective
from vssim.errors import SpecError
from vssim.run.sweep import optimisation_report, optimisation_table

REPS = [{"throughput": 1.2, "lead_time_p85": 8.0}, {"throughput": 1.0, "lead_time_p85": 10.5},
        {"throughput": 1.1, "lead_time_p85": 9.0}]


# --------------------------------------------------------------------------- the objective
def test_objective_is_throughput_minus_the_penalty_for_p85_over_target_per_replication():
    obj = Objective(p85_target=9.0, penalty=2.0)
    np.testing.assert_allclose(obj.per_replication(REPS), [1.2, 1.0 - 2.0 * 1.5, 1.1])
    assert obj.value({"replications": REPS}) == pytest.approx((1.2 - 2.0 + 1.1) / 3)
    mean, (lo, hi) = obj.ci(REPS)
    assert mean == pytest.approx(obj.value({"replications": REPS})) and lo < mean < hi


def test_objective_without_target_is_the_throughput():
    obj = Objective.from_dict({"p85_target": None})
    assert obj == Objective(None, 1.0)
    assert obj.value({"replications": REPS}) == pytest.approx(1.1)
    assert Objective.from_dict({"p85_target": 9, "penalty": 0}).value({"replications": REPS}) == pytest.approx(1.1)
    assert Objective.from_dict(None) is None


def test_a_replication_without_a_p85_scores_minus_infinity_under_a_target():
    rows = [{"throughput": 0.0, "lead_time_p85": None}, {"throughput": 0.0, "lead_time_p85": float("nan")}]
    assert np.all(Objective(5.0).per_replication(rows) == -math.inf)
    assert np.all(Objective(5.0, penalty=0).per_replication(rows) == 0)
    assert np.all(Objective(None).per_replication(rows) == 0)


@pytest.mark.parametrize("d, message", [
    ({"p85_target": 0}, r"^objective.p85_target: must be a positive number or null, got 0$"),
    ({"p85_target": "x"}, r"^objective.p85_target: must be a positive number or null"),
    ({"p85_target": 9, "penalty": -1}, r"^objective.penalty: must be a number >= 0, got -1$"),
    ({"target": 9}, r"^objective.target: unknown key; allowed: p85_target, penalty$"),
    ([1, 2], r"^objective: must be a mapping"),
])
def test_objective_errors_name_the_setting(d, message):
    with pytest.raises(SpecError, match=message):
        Objective.from_dict(d)


def test_a_run_returns_its_objective_when_set_else_its_throughput():
    summary = {"metrics": {"throughput": {"mean": 1.1}}, "replications": REPS}
    assert vssim.cli.app._returned({"objective": None}, summary) == 1.1
    config = {"objective": {"p85_target": 9.0, "penalty": 2.0}}
    assert vssim.cli.app._returned(config, summary) == pytest.approx((1.2 - 2.0 + 1.1) / 3)


# --------------------------------------------------------------------------- the report
def fake_table() -> pd.DataFrame:
    rows = []
    for run, (conwip, reps) in enumerate([(4, [(0.9, 7.0), (0.92, 7.5)]), (6, [(1.2, 8.5), (1.18, 8.8)]),
                                          (9, [(1.25, 10.0), (1.24, 10.4)])]):
        for r, (th, p85) in enumerate(reps):
            rows.append({"run": str(run), "stream": "s", "scenario": "full_backlog", "time_unit": "day", "seed": 1,
                         "override.experiment": "wip_optimise", "override.stream.release.conwip": str(conwip),
                         "replication": r, "throughput": th, "lead_time": p85 / 1.5, "lead_time_p85": p85,
                         "wip": th * p85 / 1.5, "flow_efficiency": 0.8})
    return pd.DataFrame(rows)


def test_optimisation_report_names_the_best_configuration_with_its_ci(tmp_path):
    obj = Objective(p85_target=9.0, penalty=1.0)
    trials = optimisation_table(fake_table(), obj)
    assert list(trials["run"]) == ["1", "0", "2"]                 # conwip 9 is over the target
    assert trials["objective"].iloc[0] == pytest.approx(1.19)
    assert trials["objective_lo"].iloc[0] < 1.19 < trials["objective_hi"].iloc[0]
    assert "override.experiment" not in trials                    # only what varied
    path = optimisation_report(tmp_path, fake_table(), obj)
    text = path.read_text()
    assert "`stream.release.conwip` = 6" in text
    assert "| objective | 1.19 (95 % CI " in text and "| throughput (items/day) | 1.19 (95 % CI " in text
    assert "max(0, lead-time p85 − 9 day)" in text
    assert (tmp_path / "optimisation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![objective by trial](optimisation.png)" in text
    assert pd.read_parquet(tmp_path / "optimisation.parquet")["run"].iloc[0] == "1"


# --------------------------------------------------------------------------- wip_optimise on Optuna
TINY = ["experiment=wip_optimise", "hydra.sweeper.n_trials=4", "sim.horizon=150", "sim.warmup=15",
        "sim.replications=2"]


def vssim_cmd(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "vssim.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_wip_optimise_finds_a_best_configuration_and_resumes(tmp_path):
    pytest.importorskip("optuna")
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    out = tmp_path / "opt"
    first = vssim_cmd(tmp_path, *TINY, f"hydra.sweep.dir={out}")
    assert first.returncode == 0, first.stdout + first.stderr
    hydra_best = yaml.safe_load((out / "optimization_results.yaml").read_text())
    trials = pd.read_parquet(out / "optimisation.parquet")
    assert len(trials) == 4 and set(trials["run"]) == {"0", "1", "2", "3"}
    # the value each run returned to Optuna is the objective the report computes from runs.parquet
    assert trials["objective"].iloc[0] == pytest.approx(hydra_best["best_value"], rel=1e-12)
    best = trials.iloc[0]
    for key, value in hydra_best["best_params"].items():
        assert str(best[f"override.{key}"]) == str(value)
    assert f"vssim: best run {out / best['run']}" in first.stdout and "objective " in first.stdout
    assert "(95 % CI" in first.stdout
    report = (out / "report.md").read_text()
    assert report.startswith("# Optimisation: 4 trials") and "## Best configuration" in report
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 8 and set(runs["scenario"]) == {"full_backlog"}
    # the same command again: the seeded sampler proposes the same trials, all already done
    again = vssim_cmd(tmp_path, *TINY, f"hydra.sweep.dir={out}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already done, skipped") == 4
    assert yaml.safe_load((out / "optimization_results.yaml").read_text()) == hydra_best


def test_an_invalid_objective_is_refused_before_the_run(tmp_path):
    proc = vssim_cmd(tmp_path, "stream=mm1", "objective={p85_target: -1}", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert "vssim: error: objective.p85_target: must be a positive number or null, got -1" in proc.stderr
    assert not (tmp_path / "run" / "summary.json").exists()
