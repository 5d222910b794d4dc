"""The status of a run directory, `run.json`: written when a sweep's job starts (`running`) and
again last, it says whether the run finished or failed (with the error), under which
configuration and in which sweep, so that a restarted sweep skips the runs already done, the end
of a sweep reports the failed ones and `collect` counts only the completed runs of the sweep
(docs/sweeps.md, restarts); and where the numbers came from (`provenance`: vssim's version and
git commit, the packages, the resolved config's digest). Provenance lives here and not in
summary.json, so that a summary depends only on the stream, the settings and the seed
(tests/test_golden.py digests it).

A sweep's folder holds `sweep.json`, the sweep's identity (a digest of its overrides, its search
and the config it composed) and when it started: a second, different sweep into the same folder
is refused.
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

from vssim.errors import SpecError
from vssim.files import write_atomic
from vssim.run.lock import holding

RUN_MARKER = "run.json"
"""Written last into a run directory: the status of the run, a hash of its configuration, its sweep."""
SWEEP_RECORD = "sweep.json"
"""In a sweep's folder: the sweep's identity and when it started."""


def config_hash(config: Mapping) -> str:
    """A hash of everything that determines a run's results: the resolved config without Hydra's
    own node."""
    plain = {k: v for k, v in config.items() if k != "hydra"}
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_record(path: Path) -> dict | None:
    """A JSON record, or None when it is missing or unreadable (half a file of an older vssim)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def finished(out: Path, digest: str, sweep: str | None = None) -> dict | None:
    """The summary of a run already finished in `out` with the same configuration in the same
    sweep, else None."""
    marker = read_record(out / RUN_MARKER)
    if marker and marker.get("status") == "done" and marker.get("config") == digest and marker.get("sweep") == sweep:
        return read_record(out / "summary.json")
    return None


def begin_sweep(root: Path, identity: Mapping) -> str:
    """The id of the sweep that `identity` describes (its overrides, search and composed config),
    recorded in root/sweep.json by its first start; a restart of the same sweep keeps the record.
    Refused (one line) when root holds another sweep."""
    sweep = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
    with holding(root):                      # two sweeps starting together: one record
        record = read_record(root / SWEEP_RECORD)
        if record is None:
            record = {"sweep": sweep, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                      "overrides": list(identity.get("overrides", []))}
            write_atomic(root / SWEEP_RECORD, lambda p: p.write_text(json.dumps(record, indent=2)))
        elif record.get("sweep") != sweep:
            what = " ".join(map(str, record.get("overrides") or [])) or "no overrides"
            raise SpecError("hydra.sweep.dir", message=f"got {root}, the folder of another sweep (started "
                            f"{record.get('started')}: {what}); allowed: a folder of its own "
                            f"(hydra.sweep.dir=...), or delete {root} first")
    return sweep


def sweep_of(root: Path) -> str | None:
    """The id of the sweep recorded in root/sweep.json, None without one."""
    record = read_record(root / SWEEP_RECORD)
    return record.get("sweep") if record else None


def left_out_because(record: dict | None, sweep: str | None) -> str | None:
    """Why a run with this run.json is not counted in its sweep's results, None when it is: done,
    and in the sweep `sweep` (any, in a folder without a sweep record)."""
    if record is None:
        return "no run.json: killed before it finished, or not written by vssim's command line or run_experiment"
    status = record.get("status")
    if status == "failed":
        return f"failed: {record.get('error', '')}"
    if status != "done":
        return f"{status}: started, not finished (killed, or still running)"
    if sweep is not None and record.get("sweep") != sweep:
        return "of another sweep: an earlier sweep into this folder"
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
         config: Mapping | None = None, sweep: str | None = None) -> None:
    """Write the run's status ("running", "done" or "failed", with the error), its time since
    `started` and its provenance; `digest` (`config_hash`) and `sweep` (`begin_sweep`) let a
    restarted sweep recognise a finished run."""
    record = {"status": status, "config": digest, "sweep": sweep, "seconds": round(time.time() - started, 3)}
    if error:
        record["error"] = error
    record["provenance"] = provenance(config)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / RUN_MARKER, lambda p: p.write_text(json.dumps(record, indent=2)))


def failed_runs(root: Path) -> list[tuple[Path, str]]:
    """Runs of a sweep whose run.json says they failed in this sweep, with the error."""
    sweep = sweep_of(root)
    out = []
    for marker in sorted(root.glob(f"*/{RUN_MARKER}")):
        record = read_record(marker)
        if record and record.get("status") == "failed" and (sweep is None or record.get("sweep") == sweep):
            out.append((marker.parent, record.get("error", "")))
    return out
