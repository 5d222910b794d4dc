"""Writing results so that a reader never sees half a file (every output goes through here), and
values as a JSON file holds them."""
from __future__ import annotations

import math
import numbers
import os
import tempfile
from pathlib import Path

__all__ = ["json_value", "write_atomic"]


def write_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename: never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def json_value(v):
    """A table cell as JSON holds it: floats (numpy's too) as float, NaN and infinities as None,
    tuples as lists; anything else as it is."""
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, tuple):
        return list(v)
    return v
