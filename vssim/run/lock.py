"""A lock on a run folder, so that two processes never run the same job at once: the second
waits, then finds the run done and skips it (docs/sweeps.md, "Two sweeps into one directory at once").

The lock is `flock` on the folder itself: no lock file is left behind, and the operating system
releases it when the process ends, however it ends (no stale locks after a kill). A process that
holds a folder may take it again (the end of a sweep holds the sweep's folder while `collect`
takes it too). POSIX only: without `fcntl` (Windows) folders are not locked. Locks between
machines need a file system whose `flock` spans them (local disks do; NFS often does not).
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:           # Windows: no locks
    fcntl = None

_held: Counter[Path] = Counter()
"""The folders this process holds, with how many `holding` blocks hold each (one thread)."""


@contextmanager
def holding(folder: Path, *, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the lock on folder (made if missing) for the `with` block; `waiting()` is called
    first when another process holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    if fcntl is None or _held[key]:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
    finally:
        os.close(fd)          # releases the lock


def busy(folder: Path) -> bool:
    """Whether another process holds the lock on folder now (a job running in it)."""
    if fcntl is None or _held[Path(folder).resolve()]:
        return False
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
