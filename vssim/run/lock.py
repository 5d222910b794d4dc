"""A lock on a run folder, so that two processes never run the same job at once: the second
waits, then finds the run done and skips it (docs/sweeps.md, "Two sweeps at once").

The lock is `flock` on the folder itself: no lock file is left behind, and the operating system
releases it when the process ends, however it ends (no stale locks after a kill). POSIX only:
without `fcntl` (Windows) folders are not locked. Locks between machines need a file system whose
`flock` spans them (local disks do; NFS often does not).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:           # Windows: no locks
    fcntl = None


@contextmanager
def holding(folder: Path, *, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the lock on folder (made if missing) for the `with` block; `waiting()` is called
    first when another process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)          # releases the lock


def busy(folder: Path) -> bool:
    """Whether another holder has the lock on folder now (a job running in it)."""
    if fcntl is None:
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
