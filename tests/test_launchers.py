"""The same sweep with the same seed gives identical numbers under every Hydra launcher.

Each run draws from `SeedSequence(seed, spawn_key=(r, source))` alone, so which process (or
machine) runs it cannot change a number: basic (one after the other, in the main process),
joblib (loky processes, the default) and Ray (a local Ray instance; `slow`, and skipped
without the `distributed` extra) must write the same runs.parquet.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import vssim.cli.app

# 4 runs: two column limits x two seeds, small enough for the default suite
SWEEP = ["-m", "stream=team_kanban", "stream.steps.develop.wip_limit=3,5", "sim.seed=1,2", "sim.replications=2",
         "sim.horizon=300", "sim.warmup=30", "report.figures=false", "report.event_log=false"]
METRICS = ["lead_time", "flow_time", "throughput", "wip", "backlog", "flow_efficiency", "completed", "rejected",
           "unfinished", "lead_time_p85", "flow_predictability"]
KEY = ["override.stream.steps.develop.wip_limit", "override.sim.seed", "replication"]


def start(out: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    argv = [sys.executable, "-m", "vssim.cli", *SWEEP, *extra, f"hydra.sweep.dir={out}"]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.Popen(argv, cwd=out.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def table(proc: subprocess.Popen, out: Path, timeout: float = 300) -> pd.DataFrame:
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{stdout}\n{stderr}"
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs["run"].nunique() == 4 and len(runs) == 8
    return runs.sort_values(KEY, ignore_index=True)


@pytest.fixture(scope="module")
def basic_and_joblib(tmp_path_factory) -> dict[str, pd.DataFrame]:
    base = tmp_path_factory.mktemp("launchers")
    procs = {"basic": start(base / "basic", "hydra/launcher=basic"),
             "joblib": start(base / "joblib", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")}
    return {name: table(proc, base / name) for name, proc in procs.items()}


def test_basic_and_joblib_launchers_give_identical_numbers(basic_and_joblib):
    basic, joblib = basic_and_joblib["basic"], basic_and_joblib["joblib"]
    pd.testing.assert_frame_equal(basic[KEY + METRICS], joblib[KEY + METRICS], check_exact=True)
    # the job numbers are the launcher's order of the same overrides
    pd.testing.assert_frame_equal(basic, joblib, check_exact=True)
    assert basic.groupby("override.sim.seed")["throughput"].mean().nunique() == 2   # the seeds do differ


@pytest.mark.slow
def test_ray_launcher_gives_the_same_numbers(basic_and_joblib, tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    out = tmp_path / "ray"
    proc = start(out, "hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2", env={"RAY_AUTH_MODE": "disabled"})
    ray = table(proc, out, timeout=600)
    pd.testing.assert_frame_equal(basic_and_joblib["basic"], ray, check_exact=True)


def test_sweep_name_is_fixed_when_main_starts_and_ignores_the_launcher(monkeypatch):
    """A Ray worker resolves hydra.sweep.dir with its own sys.argv: the name must not depend on it.
    The launcher (and any hydra/ choice) does not change the results, so it does not change the
    directory either: a sweep killed under joblib resumes under Ray."""
    from omegaconf import OmegaConf

    monkeypatch.setattr(vssim.cli.app, "_main", lambda: None)
    monkeypatch.setattr(sys, "argv", ["vssim", "-m", "sim.seed=1,2", "hydra/launcher=ray"])
    vssim.cli.app.main()
    name = OmegaConf.create({"d": "${vssim_sweep_name:}"}).d
    monkeypatch.setattr(sys, "argv", ["worker.py"])
    assert OmegaConf.create({"d": "${vssim_sweep_name:}"}).d == name
    argv = ["vssim", "-m", "sim.seed=1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=1"]
    monkeypatch.setattr(sys, "argv", argv)
    assert vssim.cli.app.sweep_name() == name
    monkeypatch.setattr(sys, "argv", ["vssim", "-m", "sim.seed=1,3"])
    assert vssim.cli.app.sweep_name() != name
