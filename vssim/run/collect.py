"""Gather the runs of a sweep into one tidy table (one row per run × replication).

A run is a directory with a `summary.json` that a `run.json` says is done: its own, or that of
the comparison it belongs to (`N/scenarios/NAME/`). In a sweep's folder (one with `sweep.json`)
the run must also be of that sweep. The others (killed before their `run.json`, failed, still
running, jobs of an earlier sweep) are left out, and `left_out` says which and why. Hydra's
`.hydra/overrides.yaml` next to a run gives the overrides, which become columns, so that the table
says what changed between runs. Runs of different schema versions are not mixed.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from vssim.errors import SpecError
from vssim.files import temporary_files, write_atomic
from vssim.run.lock import busy, holding
from vssim.run.status import RUN_MARKER, left_out_because, read_record, sweep_of

TABLE = "runs.parquet"


def _nearest(run: Path, root: Path, name: str) -> Path | None:
    """run/NAME, else the nearest NAME above it up to root: a comparison's `scenarios/NAME/`
    inherit the comparison's."""
    for d in (run, *run.parents):
        if (d / name).is_file():
            return d / name
        if d == root:
            break
    return None


def _survey(root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The runs under root that count, and those left out with the reason, in a stable order."""
    sweep = sweep_of(root)
    summaries = {p.parent for p in root.rglob("summary.json")}
    counted, left = [], []
    # a comparison's own summary.json repeats its baseline, which is under scenarios/ already
    for run in sorted((r for r in summaries if not (r / "comparison.json").is_file()), key=str):
        marker = _nearest(run, root, RUN_MARKER)
        why = left_out_because(read_record(marker) if marker else None, sweep)
        if why is None:
            counted.append(run)
        else:
            left.append((run, why))
    return counted, left


def find_runs(root: str | Path) -> list[Path]:
    """The run directories under root that count (done, of this sweep), in a stable order.

    The per-scenario results inside a comparison (`scenarios/NAME/`) are runs too.
    """
    return _survey(Path(root))[0]


def left_out(root: str | Path) -> list[tuple[Path, str]]:
    """The directories under root with a summary.json that do not count, each with the reason."""
    return _survey(Path(root))[1]


def _overrides(run: Path, root: Path) -> dict[str, str]:
    """The Hydra overrides of a run; a comparison's `scenarios/NAME/` inherits those of the comparison."""
    f = _nearest(run, root, ".hydra/overrides.yaml")
    if f is None:
        return {}
    import yaml

    out = {}
    for item in yaml.safe_load(f.read_text()) or []:
        key, _, value = str(item).partition("=")
        out[key.lstrip("+~")] = value
    return out


def run_rows(run: Path, root: Path) -> list[dict]:
    """The rows of one run: its replications with every per-replication metric."""
    summary = json.loads((run / "summary.json").read_text())
    base = {"run": str(run.relative_to(root)) if run != root else ".",
            "schema_version": int(summary.get("schema_version", 1)),
            "stream": summary.get("stream"), "scenario": summary.get("scenario"),
            "time_unit": summary.get("time_unit"), "seed": summary.get("sim", {}).get("seed")}
    base.update({f"override.{k}": v for k, v in _overrides(run, root).items()})
    return [{**base, **{k: v for k, v in rep.items() if not isinstance(v, list | dict)}}
            for rep in summary.get("replications", [])]


def _one_version(table: pd.DataFrame) -> None:
    """Refuse a table of runs written under different schema versions (one line)."""
    runs = table.groupby("schema_version")["run"].unique()
    if len(runs) < 2:
        return

    def named(names) -> str:
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")

    got = " and ".join(f"{version} (runs {named(list(names))})" for version, names in runs.items())
    raise SpecError("schema_version", message=f"got {got}; allowed: runs of one version in one table: rerun the "
                    "older runs with this vssim (delete their folders and run the sweep again), or collect each "
                    "version's runs apart")


def _remove_leftovers(root: Path) -> None:
    """Remove the temporary files that writers killed mid-write left under root, except those in a
    folder that another process holds (a running job, or another sweep's end: vssim.run.lock)."""
    for tmp in temporary_files(root):
        folders = [tmp.parent, *tmp.parent.parents]
        if not any(busy(d) for d in folders[:folders.index(root) + 1]):
            tmp.unlink(missing_ok=True)


def collect(root: str | Path, *, write: bool = True) -> pd.DataFrame:
    """One tidy table of every run under root that counts; written atomically to root/runs.parquet
    (a runs.parquet of runs that no longer count is removed), holding root's lock while it writes:
    two sweeps that end together write one after the other."""
    root = Path(root)
    if not write:
        return _table(root)
    with holding(root):
        _remove_leftovers(root)
        table = _table(root)
        if len(table):
            write_atomic(root / TABLE, lambda p: table.to_parquet(p, index=False))
        else:
            (root / TABLE).unlink(missing_ok=True)
    return table


def _table(root: Path) -> pd.DataFrame:
    table = pd.DataFrame([row for run in find_runs(root) for row in run_rows(run, root)])
    if len(table):
        _one_version(table)
    return table
