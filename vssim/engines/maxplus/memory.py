"""The fast engine's memory: the `Arena` a run's arrays are carved from, and how large a run's block is.

A run's records are ~10 arrays of n x m visits and ~12 of n items, about 100 bytes per visit.
Allocated one by one, each is fresh memory that the operating system maps page by page on first
touch: at ~1.5 us a page fault on a virtual machine, that was more than half of a fast run on
the benchmark line. So a run takes one block, sized here for the run's shape, and blocks are
kept for the next runs.
"""
from __future__ import annotations

import math
import sys
import threading

import numpy as np

from vssim.engines.random import BLOCK
from vssim.model.spec import StreamSpec
from vssim.scratch import release as release_scratch

__all__ = ["Arena", "line_block", "saturated_room", "step_block"]


class Arena:
    """One block of memory that a run's arrays are carved from (views, 64-byte aligned).

    Blocks are kept for the next runs (`KEEP` bytes of them at most, with 6 % headroom): a block
    is handed out again once no array of the run it served is alive (nothing but the cache
    refers to it), so a run whose records were dropped leaves its memory, mapped and warm, to
    the next one; left to the allocator, a freed block was often returned to the system (after
    a SimPy run's garbage, say) and the next run faulted hundreds of pages in again. The price:
    up to `KEEP` bytes stay allocated after the last run (`release` frees them). `None` sizes:
    ordinary allocations (`np.empty`).
    """

    ALIGN = 64
    KEEP = 64 << 20
    """Bytes of blocks kept for reuse (a larger block is not kept)."""
    _blocks: list[np.ndarray] = []
    _lock = threading.Lock()

    def __init__(self, nbytes: int | None):
        self.buf = None if nbytes is None else self._block(nbytes)
        self.at = 0

    @classmethod
    def _block(cls, nbytes: int) -> np.ndarray:
        """A view of a kept block that nothing else refers to (not more than 4 x as large), or a
        new block."""
        with cls._lock:
            blocks = cls._blocks
            for i in range(len(blocks)):
                # references: the list, this expression's argument
                if nbytes <= len(blocks[i]) <= 4 * nbytes + (1 << 20) and sys.getrefcount(blocks[i]) == 2:
                    block = blocks.pop(i)
                    blocks.append(block)                 # the most recently used last
                    return block[:nbytes]
            size = nbytes + nbytes // 16
            block = np.empty(size, dtype=np.uint8)
            if size <= cls.KEEP:
                while blocks and sum(len(b) for b in blocks) + size > cls.KEEP:
                    blocks.pop(0)                        # the least recently used first
                blocks.append(block)
            return block[:nbytes]

    @classmethod
    def release(cls) -> None:
        """Forget the kept blocks and this thread's scratch memory (a block still in use stays with
        its records): the next run allocates afresh."""
        with cls._lock:
            cls._blocks.clear()
        release_scratch()

    @classmethod
    def bytes_for(cls, *shapes: tuple[int, ...], itemsize: int = 8) -> int:
        """Bytes to hold arrays of these shapes (with the alignment padding)."""
        return sum(-(-math.prod(s) * itemsize // cls.ALIGN) * cls.ALIGN for s in shapes)

    def empty(self, shape, dtype=np.float64) -> np.ndarray:
        dt = np.dtype(dtype)
        if self.buf is None:
            return np.empty(shape, dtype=dt)
        nb = math.prod(shape if isinstance(shape, tuple) else (shape,)) * dt.itemsize
        if self.at + nb > len(self.buf):
            return np.empty(shape, dtype=dt)
        a = self.buf[self.at:self.at + nb].view(dt).reshape(shape)
        self.at += -(-nb // self.ALIGN) * self.ALIGN
        return a

    def zeros(self, shape, dtype=np.float64) -> np.ndarray:
        if self.buf is None:
            return np.zeros(shape, dtype=dtype)
        a = self.empty(shape, dtype)
        a.fill(0)
        return a


def step_block(n: int, m: int, keep_ready: bool) -> Arena:
    """The block for a run of n items through m steps with several people somewhere (the step by
    step and CONWIP runs of `runs`, and their records)."""
    # work start end start_depth end_depth person enter visit_item visit_step [ready]
    visits = 9 + keep_ready
    # arrival commit arrival_depth commit_depth item_type size done done_seq touch priority value rework
    items = 13
    return Arena(Arena.bytes_for(*[(n, m)] * visits, *[(n,)] * items)
                 + Arena.bytes_for((n, m), itemsize=1))      # visit_reworked


def line_block(n: int, m: int, keep_ready: bool) -> tuple[Arena, tuple[np.ndarray, ...]]:
    """The block of a one-person-per-step run's records (n items, up to n x m visits) and the
    output rows of `kernels.line` carved from it: item floats, item ints, visit floats, visit ints."""
    nm = n * m
    visit_float_rows = 4 + keep_ready
    arena = Arena(Arena.bytes_for((4, n), (3, n), (visit_float_rows, nm), (5, nm), *[(n,)] * 5)
                  + Arena.bytes_for((nm,), itemsize=1))
    return arena, (arena.empty((4, n)), arena.empty((3, n), np.int64), arena.empty((visit_float_rows, nm)),
                   arena.empty((5, nm), np.int64))


def saturated_room(spec: StreamSpec, people, conwip: int, until: float) -> int:
    """Room for the items of a saturated run to `until`: its bottleneck's rate (people / mean
    work) x the time, with a margin (a run that needs more grows its room and runs again)."""
    size = sum(t.share * t.mean_size for t in spec.item_types.values())
    rate = math.inf
    for j, step in enumerate(spec.steps.values()):
        mean_work = step.work.mean * size
        if mean_work > 0 and math.isfinite(mean_work):
            rate = min(rate, int(people[j]) / mean_work)
    guess = until * rate * 1.05 + conwip + BLOCK
    return int(guess) if math.isfinite(guess) and guess < 1 << 28 else max(4 * conwip, BLOCK)
