"""Random number sources: one generator per replication and per named source.

Each source (arrivals, the work of each step, each rework decision, ...) gets its own
`numpy.random.Generator`, seeded from `SeedSequence(seed, spawn_key=(replication, key))` where
`key` is a stable hash of the source's name. Two scenarios of the same stream therefore draw
the same numbers for the same sources (common random numbers), whatever steps they add or
remove, and any run is reproduced from its seed alone.
"""
from __future__ import annotations

import zlib

import numpy as np

from vssim.model.distributions import Distribution

BLOCK = 1024
"""Draws per vectorised call: large enough to amortise numpy's overhead, small enough to waste little."""


def source_key(name: str) -> int:
    """A stable 32-bit key for a source name (not Python's salted hash)."""
    return zlib.crc32(name.encode())


def generator(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator of source `name` in replication `replication` of a run seeded `seed`."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(replication, source_key(name)))
    return np.random.Generator(np.random.PCG64(ss))


class Draws:
    """Draws from one distribution, made in vectorised blocks and handed out one at a time.

    `next()` gives the draws in order; `at(k)` gives the k-th draw, so that a value can be tied
    to an item (the work of item k at a step) rather than to the order of events. `trim(k)`
    forgets the draws before the k-th (a streaming run keeps only a window of them); the
    blocks drawn, and so the numbers, are the same with or without trimming.
    """

    __slots__ = ("_dist", "_rng", "_buf", "_i", "_off")

    def __init__(self, dist: Distribution, rng: np.random.Generator):
        self._dist = dist
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0
        self._off = 0                     # index of _buf[0]

    def _grow(self, upto: int) -> None:
        need = max(BLOCK, upto + 1 - self._off - len(self._buf))
        self._buf.extend(self._dist.sample(self._rng, need).tolist())

    def next(self) -> float:
        i = self._i - self._off
        if i >= len(self._buf):
            self._grow(self._i)
        self._i += 1
        return self._buf[i]

    def at(self, k: int) -> float:
        k -= self._off
        if k >= len(self._buf):
            self._grow(k + self._off)
        return self._buf[k]

    def trim(self, k: int | None = None) -> None:
        """Forget the draws before the k-th (None: those `next()` has handed out)."""
        _trim(self, self._i if k is None else k)

    @property
    def values(self) -> list[float]:
        """The draws made so far (for engines that consume them in bulk; untrimmed sources)."""
        return self._buf


class Uniforms:
    """Uniform(0, 1) draws in blocks, for Bernoulli decisions (rework, dependencies).

    Like `Draws`: `next()` in order, `at(k)` tied to item k, `trim(k)` for a window.
    """

    __slots__ = ("_rng", "_buf", "_i", "_off")

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0
        self._off = 0

    def next(self) -> float:
        i = self._i - self._off
        if i >= len(self._buf):
            self._buf.extend(self._rng.random(BLOCK).tolist())
        self._i += 1
        return self._buf[i]

    def at(self, k: int) -> float:
        k -= self._off
        if k >= len(self._buf):
            self._buf.extend(self._rng.random(max(BLOCK, k + 1 - len(self._buf))).tolist())
        return self._buf[k]

    def trim(self, k: int | None = None) -> None:
        _trim(self, self._i if k is None else k)


def _trim(src: Draws | Uniforms, k: int) -> None:
    cut = min(k - src._off, len(src._buf))
    if cut > 0:
        del src._buf[:cut]
        src._off += cut
