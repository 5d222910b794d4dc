"""The status of a run directory, `run.json`: written last, it says whether the run finished
or failed (with the error) under which configuration, so that a restarted sweep skips the runs
already done and the end of a sweep reports the failed ones (docs/sweeps.md, restarts).
"""
from __future__ import annotations

import hashlib
import json
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


def mark(out: Path, digest: str, status: str, started: float, error: str | None = None) -> None:
    """Write the run's status ("done" or "failed", with the error) and its time since `started`."""
    record = {"status": status, "config": digest, "seconds": round(time.time() - started, 3)}
    if error:
        record["error"] = error
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
