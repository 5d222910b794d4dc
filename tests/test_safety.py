"""Data safety (issue 12; docs/sweeps.md, "What a sweep trusts"): only the completed runs of this
sweep are collected and a second, different sweep into the same folder is refused; every output
is written atomically and a killed writer's temporary file is removed by the next run; two
identical sweeps started together run each job once; summary.json and runs.parquet carry a
schema version and collect does not mix versions."""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import vssim
import vssim.report.animate
from vssim.errors import SpecError
from vssim.files import SCHEMA_VERSION, temporary_files, write_atomic
from vssim.run.collect import collect, find_runs, left_out
from vssim.run.experiment import Settings, run_experiment
from vssim.run.lock import holding
from vssim.run.status import begin_sweep, finished, mark, sweep_of
from vssim.scenarios.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
MM1 = ROOT / "configs" / "stream" / "mm1.yaml"
ENV = {**os.environ, "MPLBACKEND": "Agg", "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore"}
SMALL = ["stream=mm1", "sim.horizon=200", "sim.warmup=20", "sim.replications=1", "report.figures=false",
         "report.event_log=false", "sim.progress=false", "hydra/launcher=basic"]
TINY = Settings(horizon=100, warmup=10, replications=2, seed=1, progress=False)


def sweep(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`vssim -m ARGS` into root (small mm1 runs, one after the other)."""
    argv = [sys.executable, "-m", "vssim.cli", "-m", *SMALL, *args, f"hydra.sweep.dir={root}"]
    return subprocess.run(argv, cwd=root.parent, env=ENV, capture_output=True, text=True, timeout=timeout)


# ============================================================================ collect trusts completed runs
@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict:
    """A 2-point sweep; then a different sweep into its folder; then, with a run killed before its
    run.json and a stale job of an earlier sweep left in the folder, the first sweep again."""
    root = tmp_path_factory.mktemp("sweeps") / "sweep"
    first = sweep(root, "sim.seed=1,2")
    assert first.returncode == 0, first.stderr
    before = pd.read_parquet(root / "runs.parquet")
    second = sweep(root, "sim.seed=3")
    shutil.copytree(root / "0", root / "5")              # killed after summary.json, before run.json
    (root / "5" / "run.json").unlink()
    shutil.copytree(root / "1", root / "6")              # a job of an earlier, different sweep
    record = json.loads((root / "6" / "run.json").read_text())
    (root / "6" / "run.json").write_text(json.dumps({**record, "sweep": "another-sweep"}))
    again = sweep(root, "sim.seed=1,2")
    return {"root": root, "first": first, "before": before, "second": second, "again": again,
            "after": pd.read_parquet(root / "runs.parquet")}


def test_a_second_different_sweep_into_the_same_folder_is_refused_in_one_line(swept):
    second, root = swept["second"], swept["root"]
    assert second.returncode == 2, second.stdout + second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vssim: error: hydra.sweep.dir: "), second.stderr
    assert str(root) in lines[0] and "hydra.sweep.dir=" in lines[0] and "delete" in lines[0]
    assert "report:" not in second.stdout                                      # nothing ran
    assert json.loads((root / "0" / "summary.json").read_text())["sim"]["seed"] == 1


def test_collect_counts_only_the_completed_runs_of_this_sweep(swept):
    again, root = swept["again"], swept["root"]
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already done, skipped") == 2                    # the same sweep resumes
    after = swept["after"]
    assert sorted(after["run"]) == ["0", "1"] and sorted(after["seed"]) == [1, 2]
    pd.testing.assert_frame_equal(after, swept["before"])
    # the runs left out are listed, with the reason
    listed = [line for line in again.stdout.splitlines() if line.startswith("  ")]
    assert any(line.startswith(f"  {root / '5'}: ") and "no run.json" in line for line in listed), again.stdout
    assert any(line.startswith(f"  {root / '6'}: ") and "another sweep" in line for line in listed), again.stdout
    assert "2 run(s) not counted" in again.stdout


def fake_run(d: Path, summary: dict, record: dict | None) -> None:
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps(summary))
    if record is not None:
        (d / "run.json").write_text(json.dumps(record))


def summary_of(seed: int, version: int | None = SCHEMA_VERSION) -> dict:
    s = {"stream": "s", "scenario": "baseline", "time_unit": "day", "sim": {"seed": seed},
         "replications": [{"replication": 0, "lead_time": float(seed)}]}
    return s if version is None else {"schema_version": version, **s}


def test_collect_leaves_out_killed_failed_running_and_other_sweeps_runs(tmp_path):
    sweep_id = begin_sweep(tmp_path, {"overrides": ["sim.seed=1,2,3,4,5"]})
    assert sweep_of(tmp_path) == sweep_id
    done = {"status": "done", "sweep": sweep_id}
    fake_run(tmp_path / "0", summary_of(1), done)
    fake_run(tmp_path / "1", summary_of(2), None)
    fake_run(tmp_path / "2", summary_of(3), {**done, "status": "failed", "error": "boom"})
    fake_run(tmp_path / "3", summary_of(4), {**done, "status": "running"})
    fake_run(tmp_path / "4", summary_of(5), {**done, "sweep": "old"})
    cmp = tmp_path / "5"                              # a comparison: its run.json speaks for its scenarios
    fake_run(cmp / "scenarios" / "a", summary_of(6), None)
    (cmp / "run.json").write_text(json.dumps(done))
    assert find_runs(tmp_path) == [tmp_path / "0", cmp / "scenarios" / "a"]
    assert list(collect(tmp_path)["seed"]) == [1, 6]
    assert [(p.name, why.split(":")[0]) for p, why in left_out(tmp_path)] == [
        ("1", "no run.json"), ("2", "failed"), ("3", "running"), ("4", "of another sweep")]


def test_a_folder_without_a_sweep_record_counts_its_done_runs(tmp_path):
    """Runs of the Python API (run_experiment) and of single commands: run.json done, no sweep."""
    fake_run(tmp_path / "a", summary_of(1), {"status": "done", "config": None})
    fake_run(tmp_path / "b", summary_of(2), None)
    assert find_runs(tmp_path) == [tmp_path / "a"]


def test_a_sweep_record_is_kept_by_the_same_sweep_and_refuses_another(tmp_path):
    first = begin_sweep(tmp_path, {"overrides": ["a=1,2"], "config": {"x": 1}})
    started = json.loads((tmp_path / "sweep.json").read_text())["started"]
    assert begin_sweep(tmp_path, {"config": {"x": 1}, "overrides": ["a=1,2"]}) == first    # a restart
    assert json.loads((tmp_path / "sweep.json").read_text())["started"] == started
    with pytest.raises(SpecError) as e:
        begin_sweep(tmp_path, {"overrides": ["a=1,2"], "config": {"x": 2}})
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("hydra.sweep.dir: got ") and str(tmp_path) in msg
    assert sweep_of(tmp_path) == first


def test_finished_needs_the_sweep_of_the_run(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"metrics": {}}))
    mark(tmp_path, "d1", "done", 0.0, sweep="s1")
    assert json.loads((tmp_path / "run.json").read_text())["sweep"] == "s1"
    assert finished(tmp_path, "d1", "s1") == {"metrics": {}}
    assert finished(tmp_path, "d1", "s2") is None      # a job of another sweep is run again
    mark(tmp_path, "d1", "running", 0.0, sweep="s1")
    assert finished(tmp_path, "d1", "s1") is None


# ============================================================================ atomic writes
def test_every_file_of_a_run_is_written_through_a_rename(tmp_path, monkeypatch):
    """Each output appears under its name only complete: through write_atomic's rename."""
    renamed = set()
    real = os.replace

    def recording(src, dst, *a, **k):
        renamed.add(Path(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", recording)
    monkeypatch.setattr(vssim.report.animate, "kanban_gif",
                        functools.partial(vssim.report.animate.kanban_gif, frames=3))
    spec = vssim.load_stream(MM1)
    run_experiment(spec, {"limit_wip": load_scenario(ROOT / "configs" / "scenario" / "limit_wip.yaml")}, TINY,
                   tmp_path, compare=True, figures=True, animate=True)
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert tmp_path / "scenarios" / "baseline" / "kanban.gif" in written
    assert written - renamed == set()
    assert temporary_files(tmp_path) == []


KILLED = textwrap.dedent("""
    import os, signal, sys
    from PIL import Image
    import vssim
    from vssim.run.experiment import Settings, run_experiment

    real = Image.Image.save

    def dying(self, fp, *args, **kwargs):   # the GIF half written, then the process is killed
        real(self, fp, *args, **kwargs)
        os.truncate(fp, os.path.getsize(fp) // 2)
        os.kill(os.getpid(), signal.SIGKILL)

    Image.Image.save = dying
    run_experiment(vssim.load_stream(sys.argv[1]), {}, Settings(horizon=100, warmup=10, replications=1, seed=1,
                   progress=False), sys.argv[2], figures=False, animate=True)
""")


def test_a_run_killed_mid_write_leaves_no_truncated_file_and_the_next_run_removes_its_temporary_file(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILLED, str(MM1), str(out)], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert (out / "summary.json").is_file()
    assert not (out / "kanban.gif").exists()                    # no truncated GIF under the real name
    assert json.loads((out / "run.json").read_text())["status"] == "running"     # not counted by collect
    (left,) = temporary_files(out)
    assert left.name.startswith(".kanban.gif.")
    run_experiment(vssim.load_stream(MM1), {}, TINY, out, figures=False)    # the next run into the folder
    assert temporary_files(out) == [] and not left.exists()
    assert json.loads((out / "run.json").read_text())["status"] == "done"


def test_a_failing_writer_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old")

    def half(p: Path) -> None:
        p.write_text("ne")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(path, half)
    assert path.read_text() == "old" and temporary_files(tmp_path) == []


def test_collect_removes_temporary_files_but_not_those_of_a_running_job(tmp_path):
    done = {"status": "done"}
    fake_run(tmp_path / "0", summary_of(1), done)
    fake_run(tmp_path / "1", summary_of(2), done)
    stale = [tmp_path / ".runs.parquet.abc123.tmp.parquet", tmp_path / "0" / ".report.md.x1y2z3.tmp.md"]
    busy = tmp_path / "1" / ".summary.json.q9w8e7.tmp.json"
    for p in [*stale, busy]:
        p.write_text("half")
    assert sorted(temporary_files(tmp_path)) == sorted([*stale, busy])
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "1")], env=ENV, stdout=subprocess.PIPE,
                              text=True)
    try:                                              # a job of another process still writing into 1/
        assert holder.stdout.readline().strip() == "holding"
        collect(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert temporary_files(tmp_path) == [busy]
    with holding(tmp_path / "1"):                     # this process's own lock does not make a folder busy
        collect(tmp_path)
    assert temporary_files(tmp_path) == []


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from vssim.run.lock import holding

    with holding(Path(sys.argv[1])):
        print("holding", flush=True)
        time.sleep(600)
""")


def test_outputs_are_readable_as_the_umask_allows(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.json", lambda p: p.write_text("{}"))
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644


# ============================================================================ one job, once
def test_two_identical_sweeps_started_together_run_each_job_once(tmp_path):
    root = tmp_path / "sweep"
    argv = [sys.executable, "-m", "vssim.cli", "-m", *SMALL, "sim.engine=simpy", "sim.horizon=50000",
            "sim.seed=1,2", f"hydra.sweep.dir={root}"]
    procs = [subprocess.Popen(argv, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs, strict=True):
        assert p.returncode == 0, stdout + stderr
    stdout = "".join(o for o, _ in outs)
    for job in ("0", "1"):
        assert stdout.count(f"report: {root / job / 'report.md'}") == 1, stdout      # ran once
        assert stdout.count(f"{root / job} already done, skipped") == 1, stdout      # and skipped once
    assert re.search(r"vssim: waiting for .*: another process runs it", stdout), stdout   # they did overlap
    assert sorted(pd.read_parquet(root / "runs.parquet")["seed"]) == [1, 2]


# ============================================================================ schema versions
def test_summary_json_and_runs_parquet_carry_the_schema_version(swept, tmp_path):
    assert SCHEMA_VERSION == 2
    assert json.loads((swept["root"] / "0" / "summary.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert swept["after"]["schema_version"].tolist() == [SCHEMA_VERSION] * 2
    scenarios = {"limit_wip": load_scenario(ROOT / "configs" / "scenario" / "limit_wip.yaml")}
    run_experiment(vssim.load_stream(MM1), scenarios, TINY, tmp_path, compare=True, figures=False)
    for f in (tmp_path / "summary.json", tmp_path / "scenarios" / "limit_wip" / "summary.json"):
        assert json.loads(f.read_text())["schema_version"] == SCHEMA_VERSION


def test_collect_refuses_to_mix_schema_versions_in_one_line(tmp_path):
    fake_run(tmp_path / "0", summary_of(1, version=None), {"status": "done"})     # written before versions
    fake_run(tmp_path / "1", summary_of(2), {"status": "done"})
    with pytest.raises(SpecError) as e:
        collect(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("schema_version: got 1 (runs 0) and 2 (runs 1)"), msg
    assert "rerun" in msg
    assert not (tmp_path / "runs.parquet").exists()
    shutil.rmtree(tmp_path / "0")
    assert collect(tmp_path)["schema_version"].tolist() == [SCHEMA_VERSION]
