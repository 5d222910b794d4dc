"""Random number sources, and the rule by which every engine draws from them.

Each source (arrivals, the work of each step, each rework decision, ...) gets its own
`numpy.random.Generator`, seeded from `SeedSequence(seed, spawn_key=(replication, key))` where
`key` is a stable hash of the source's name. Two scenarios of the same stream therefore draw
the same numbers for the same sources (common random numbers), whatever steps they add or
remove, and any run is reproduced from its seed alone.

The contract every engine follows, so that the engines give the same sample path for a seed:

* a source's draws are numbered 0, 1, ...; when draw k is asked for beyond the `drawn` made so
  far, the source draws a block of `block_size(k, drawn)` = max(BLOCK, k + 1 - drawn) in one
  vectorised call (`Draws`, `Uniforms` one request at a time, `block_sizes` and `in_blocks`
  for a whole sequence of requests at once);
* the calls matter, not only the count: a distribution's numbers may depend on how its draws
  are split into calls, except for the `SPLITTABLE` ones, which an engine may draw in any calls
  (one call for all of them, say) and still get the same numbers.
"""
from __future__ import annotations

import zlib

import numpy as np

from vssim.model.distributions import Distribution, parse_distribution

BLOCK = 1024
"""Draws per vectorised call: large enough to amortise numpy's overhead, small enough to waste little."""

SPLITTABLE = frozenset({"exponential", "lognormal", "gamma", "weibull", "deterministic", "uniform", "triangular",
                        "pert"})
"""Distributions whose draws do not depend on how they are split into calls (numpy Generator
methods that keep no state between calls but the bit generator's): n + m draws in one call are
the n draws of one call followed by the m of the next. Checked by tests/test_maxplus.py."""


def source_key(name: str) -> int:
    """A stable 32-bit key for a source name (not Python's salted hash)."""
    return zlib.crc32(name.encode())


def generator(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator of source `name` in replication `replication` of a run seeded `seed`."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(replication, source_key(name)))
    return np.random.Generator(np.random.PCG64(ss))


def poisson_gaps(rate: float) -> Distribution:
    """The gaps of a Poisson process of this rate: exponential of mean 1 / rate (arrivals,
    interruptions)."""
    return parse_distribution({"dist": "exponential", "mean": 1.0 / rate}, "")


def interarrival(arrivals) -> Distribution | None:
    """The gaps between open arrivals (`spec.arrivals`): exponential of mean 1 / rate for Poisson,
    the given distribution for renewal; None for deterministic arrivals (every gap 1 / rate, no
    draws) and for the processes that have no gaps."""
    if arrivals.process == "poisson":
        return poisson_gaps(arrivals.rate)
    if arrivals.process == "renewal":
        return arrivals.interarrival
    return None


def block_size(k: int, drawn: int) -> int:
    """The block a source draws when draw k is asked for and `drawn` (<= k) have been made."""
    return max(BLOCK, k + 1 - drawn)


def block_sizes(requests: np.ndarray | int) -> list[int]:
    """The blocks a source draws, in order, for these requests (draw numbers, in the order they
    are asked for; an int n: 0, 1, ..., n - 1), by `block_size`."""
    if isinstance(requests, int):
        return [BLOCK] * -(-requests // BLOCK)
    if not len(requests):
        return []
    top = np.maximum.accumulate(np.asarray(requests, dtype=np.int64))
    sizes, drawn = [], 0
    while True:
        at = int(np.searchsorted(top, drawn, side="left"))     # the first request beyond the draws made
        if at == len(top):
            return sizes
        sizes.append(block_size(int(top[at]), drawn))
        drawn += sizes[-1]


def in_blocks(sample, requests: np.ndarray | int, splittable: bool = False) -> np.ndarray:
    """The draws a source holds after these requests (`block_sizes`), as float64: `sample(n)`
    makes n draws. A `splittable` distribution's draws are made in one call, only as many as
    the largest request needs (the same numbers, faster; the rest of the last block would never
    be used)."""
    if splittable:
        if isinstance(requests, int):
            need = requests
        else:
            need = int(np.max(requests)) + 1 if len(requests) else 0
        return np.asarray(sample(need), dtype=np.float64) if need else np.zeros(0)
    sizes = block_sizes(requests)
    if not sizes:
        return np.zeros(0)
    return np.concatenate([np.asarray(sample(n), dtype=np.float64) for n in sizes])


class Draws:
    """Draws from one distribution, made in blocks (`block_size`) and handed out one at a time.

    `next()` gives the draws in order; `at(k)` gives the k-th draw, so that a value can be tied
    to an item (the work of item k at a step) rather than to the order of events. `trim(k)`
    forgets the draws before the k-th (a streaming run keeps only a window of them); the
    blocks drawn, and so the numbers, are the same with or without trimming.
    """

    __slots__ = ("_dist", "_rng", "_buf", "_i", "_off")

    def __init__(self, dist: Distribution | None, rng: np.random.Generator):
        self._dist = dist
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0
        self._off = 0                     # index of _buf[0]

    def _sample(self, n: int) -> np.ndarray:
        return self._dist.sample(self._rng, n)

    def _grow(self, k: int) -> None:
        self._buf.extend(self._sample(block_size(k, self._off + len(self._buf))).tolist())

    def next(self) -> float:
        i = self._i - self._off
        if i >= len(self._buf):
            self._grow(self._i)
        self._i += 1
        return self._buf[i]

    def at(self, k: int) -> float:
        i = k - self._off
        if i >= len(self._buf):
            self._grow(k)
        return self._buf[i]

    def put(self, k: int, value: float) -> None:
        """Set the k-th draw (an item on the board at time 0: its remaining work, `engines.simpy.initial`);
        the blocks drawn, and so every other draw, stay the same."""
        self.at(k)
        self._buf[k - self._off] = value

    def trim(self, k: int | None = None) -> None:
        """Forget the draws before the k-th (None: those `next()` has handed out)."""
        cut = min((self._i if k is None else k) - self._off, len(self._buf))
        if cut > 0:
            del self._buf[:cut]
            self._off += cut


class Uniforms(Draws):
    """Uniform(0, 1) draws (`rng.random`), for Bernoulli decisions (rework, dependencies)."""

    __slots__ = ()

    def __init__(self, rng: np.random.Generator):
        super().__init__(None, rng)

    def _sample(self, n: int) -> np.ndarray:
        return self._rng.random(n)
