"""run.json (vssim/run/status.py): the status of a run and its provenance, kept out of
summary.json so that a summary depends only on the stream, the settings and the seed."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import vssim
from vssim.model.settings import Settings
from vssim.run.experiment import run_experiment
from vssim.run.status import PACKAGES, config_hash, finished, mark, provenance

ROOT = Path(__file__).resolve().parent.parent


def test_provenance_names_vssim_its_commit_the_packages_and_the_config():
    p = provenance({"stream": {"name": "mm1"}, "hydra": {"run": "ignored"}})
    assert p["vssim"] == vssim.__version__
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:                               # a git checkout: its commit
        assert p["git_commit"] == head.stdout.strip() and isinstance(p["git_dirty"], bool)
    assert set(p["packages"]) == set(PACKAGES) and p["packages"]["numpy"]
    # the config's digest ignores Hydra's own node, as the restart hash does
    assert p["config_sha256"] == provenance({"stream": {"name": "mm1"}})["config_sha256"]
    assert p["config_sha256"].startswith(config_hash({"stream": {"name": "mm1"}}))


def test_a_python_experiment_writes_run_json_and_the_summary_has_no_provenance(tmp_path):
    spec = vssim.load_stream(ROOT / "configs" / "stream" / "mm1.yaml")
    run_experiment(spec, {}, Settings(horizon=300, warmup=30, replications=1, seed=1, progress=False), tmp_path,
                   figures=False)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "done" and record["provenance"]["vssim"] == vssim.__version__
    assert record["config"] is None
    summary = (tmp_path / "summary.json").read_text()
    for key in ("provenance", "git_commit", "packages", vssim.__version__):
        assert key not in summary
    assert finished(tmp_path, "abc") is None          # no config digest: not a finished sweep run


def test_a_marked_run_is_found_finished_with_its_digest_only(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"metrics": {}}))
    mark(tmp_path, "d1", "done", 0.0, config={"a": 1})
    assert finished(tmp_path, "d1") == {"metrics": {}}
    assert finished(tmp_path, "d2") is None
    mark(tmp_path, "d1", "failed", 0.0, "boom")
    assert finished(tmp_path, "d1") is None
    assert json.loads((tmp_path / "run.json").read_text())["error"] == "boom"
