"""The status of a run directory, `run.json`: written last, it says whether the run finished
or failed (with the error) under which configuration, so that a restarted sweep skips the runs
already done and the end of a sweep reports the failed ones (docs/sweeps.md, restarts), and
where the numbers came from (`provenance`: vssim's version and git commit, the packages, the
resolved config's digest). Provenance lives here and not in summary.json, so that a summary
depends only on the stream, the settings and the seed (tests/test_golden.py digests it).
"""
from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from vssim.files import write_atomic

RUN_MARKER = "run.json"
"""Written last into a run directory: the status of the run and a hash of its configuration."""


def config_hash(config: Mapping) -> str:
    """A hash of everything that determines a run's results: the resolved config without Hydra's
    own node."""
    plain = {k: v for k, v in config.items() if k != "hydra"}
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


PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "simpy", "numba", "matplotlib", "hydra-core", "omegaconf")
"""The packages whose versions can change a run's numbers or files, recorded with each run."""


@functools.lru_cache(maxsize=1)
def _source() -> dict:
    """vssim's version, and its git commit (and whether the checkout had changes) when vssim runs
    from a git checkout."""
    import vssim

    out: dict = {"vssim": vssim.__version__}
    here = Path(vssim.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=10)
            out["git_dirty"] = bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):   # no git: the version alone
        pass
    return out


def provenance(config: Mapping | None = None) -> dict:
    """Where a run's numbers came from: vssim (version, git commit when there is one), Python and
    the packages that make the numbers, the machine, the command, and the sha256 of the resolved
    configuration (without Hydra's own node) when there is one."""
    from importlib import metadata

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    record = {**_source(), "python": platform.python_version(), "packages": versions,
              "platform": platform.platform(), "command": list(sys.argv)}
    if config is not None:
        plain = {k: v for k, v in config.items() if k != "hydra"}
        record["config_sha256"] = hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()
    return record


def mark(out: Path, digest: str | None, status: str, started: float, error: str | None = None,
         config: Mapping | None = None) -> None:
    """Write the run's status ("done" or "failed", with the error), its time since `started` and its
    provenance; `digest` (`config_hash`) lets a restarted sweep recognise a finished run."""
    record = {"status": status, "config": digest, "seconds": round(time.time() - started, 3)}
    if error:
        record["error"] = error
    record["provenance"] = provenance(config)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / RUN_MARKER, lambda p: p.write_text(json.dumps(record, indent=2)))


def failed_runs(root: Path) -> list[tuple[Path, str]]:
    """Runs of a sweep whose run.json says they failed, with the error."""
    out = []
    for marker in sorted(root.glob(f"*/{RUN_MARKER}")):
        try:
            record = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue
        if record.get("status") == "failed":
            out.append((marker.parent, record.get("error", "")))
    return out
