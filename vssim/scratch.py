"""Scratch memory kept from one run to the next: per thread, by name.

A fresh numpy block is mapped by the operating system page by page on first touch (~1.5 us a
page on a virtual machine): for the fast engine and the summary passes, which take a few
milliseconds a run, that was a large part of their time. A block asked for by name is kept
(up to `KEEP` bytes a name, growing by a quarter when too small) and handed out again, already
mapped. A block is valid until the next call with the same name in the same thread.
"""
from __future__ import annotations

import threading

import numpy as np

__all__ = ["KEEP", "release", "scratch"]

KEEP = 64 << 20
"""Bytes kept per name; a larger request gets a fresh block that is not kept."""
_KEPT = threading.local()


def scratch(name: str, n: int, dtype=np.float64) -> np.ndarray:
    """n values of `dtype` from this thread's block `name` (contents undefined)."""
    need = n * np.dtype(dtype).itemsize
    if need > KEEP:
        return np.empty(n, dtype=dtype)
    buf = _KEPT.__dict__.get(name)
    if buf is None or len(buf) < need:
        buf = _KEPT.__dict__[name] = np.empty(max(need + need // 4, 64), dtype=np.uint8)
    return buf[:need].view(dtype)


def release() -> None:
    """Forget this thread's blocks: the next call allocates afresh."""
    _KEPT.__dict__.clear()
