"""A sweep killed half way and restarted with the same command finishes only the missing runs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

VSSIM = [sys.executable, "-c", "from vssim.cli.app import main; main()"]


def done(base: Path) -> set[str]:
    """The jobs whose run.json says done (it says running while the job runs)."""
    return {m.parent.name for m in base.glob("multirun/*/*/run.json") if json.loads(m.read_text())["status"] == "done"}


def test_killed_sweep_resumes_and_loses_nothing(tmp_path):
    args = ["-m", "sim.seed=1,2,3,4,5,6", "stream=mm1", "sim.replications=2", "sim.horizon=3000", "sim.warmup=100",
            "sim.engine=simpy", "report.figures=false", "report.event_log=false", "hydra.launcher.n_jobs=1"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    first = subprocess.Popen(VSSIM + args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and first.poll() is None:
        if len(done(tmp_path)) >= 2:
            break
        time.sleep(0.05)
    assert first.poll() is None, "the sweep finished before it could be killed: make the runs longer"
    os.killpg(first.pid, signal.SIGKILL)                  # killed half way, as by a power cut
    first.wait()
    done_before = done(tmp_path)
    assert 2 <= len(done_before) < 6
    again = subprocess.run(VSSIM + args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    skipped = {line.rsplit("/", 1)[-1].split()[0] for line in again.stdout.splitlines()
               if "already done, skipped" in line}
    assert skipped == done_before                         # finished runs are not run again
    (sweep,) = tmp_path.glob("multirun/*")
    table = pd.read_parquet(sweep / "runs.parquet")
    assert sorted(table["override.sim.seed"].astype(int).unique()) == [1, 2, 3, 4, 5, 6]
    assert len(table) == 6 * 2                            # one row per run x replication, none lost
    for run in sweep.glob("[0-9]*"):
        assert json.loads((run / "run.json").read_text())["status"] == "done"
