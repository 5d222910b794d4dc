"""Writing results so that a reader never sees half a file (every output goes through here), the
schema version of what vssim writes, and values as a JSON file holds them."""
from __future__ import annotations

import math
import numbers
import os
import re
import secrets
from pathlib import Path

__all__ = ["SCHEMA_VERSION", "json_value", "remove_temporary", "temporary_files", "write_atomic"]

SCHEMA_VERSION = 2
"""The version of summary.json (its `schema_version` key) and runs.parquet (its column). 1: the
files written before versions were recorded, which have no such key. `collect` refuses to mix
versions (docs/sweeps.md)."""

_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]+\.tmp(\.[^.]+)?")
"""The name of write_atomic's temporary file (`.report.md.1f2e3d4c.tmp.md`; before issue 12
without the final suffix)."""


def write_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename: never half a file.

    The temporary name keeps the file's suffix at its end, so that a writer that infers the format
    from the name (Pillow, matplotlib) writes the right one, and it is created as any file is (the
    umask decides its permissions). A process killed mid-write leaves it behind:
    `remove_temporary` is called by the next run into the folder."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _temporary(paths) -> list[Path]:
    return sorted(p for p in paths if _TEMPORARY.fullmatch(p.name) and p.is_file())


def temporary_files(folder: Path) -> list[Path]:
    """The temporary files of write_atomic under folder, at any depth."""
    return _temporary(Path(folder).rglob(".*.tmp*"))


def remove_temporary(folder: Path) -> None:
    """Remove what writers killed mid-write left in folder itself (not below it): called before a
    run writes into the folder, when no other process writes into it."""
    for p in _temporary(Path(folder).glob(".*.tmp*")):
        p.unlink(missing_ok=True)


def json_value(v):
    """A table cell as JSON holds it: floats (numpy's too) as float, NaN and infinities as None,
    tuples as lists; anything else as it is."""
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, tuple):
        return list(v)
    return v
