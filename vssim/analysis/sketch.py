"""A quantile sketch with a relative-error guarantee, for the streaming statistics mode.

The DDSketch of Masson, Rim and Lee (VLDB 2019): a value x > 0 falls in the bucket
``ceil(log(x) / log(gamma))``, gamma = (1 + alpha) / (1 - alpha), and a bucket is read back as
``2 gamma^key / (gamma + 1)``, which is within a relative `alpha` of every value in it. Counts
live in one dense numpy array (a lead time spanning 1e-3 to 1e6 hours needs ~10,000 buckets at
alpha = 0.1 %), so a sketch costs tens of kilobytes whatever the number of values, and two
sketches merge by adding counts, which is how replications pool.

Why not the `ddsketch` package: it adds one value at a time in Python (~1 us a value); a
ten-million-item run adds its lead times here in vectorised blocks (`np.bincount`).

`quantile(q)` follows `np.percentile`'s default (linear interpolation between the order
statistics at rank q (n - 1)): both order statistics are read from their buckets, so the
answer is within `alpha` (relative) of what `np.percentile` gives on the same values.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["QuantileSketch"]

ALPHA = 1e-3
"""Default relative accuracy: 0.1 %, far below the sampling noise of any simulated percentile."""


class QuantileSketch:
    """Counts of values >= 0 in logarithmic buckets (values <= `tiny` count as exact zeros)."""

    __slots__ = ("alpha", "gamma", "_log_gamma", "tiny", "zeros", "_lo", "_counts", "count", "min", "max")

    def __init__(self, alpha: float = ALPHA, tiny: float = 1e-12):
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        self.alpha = float(alpha)
        self.gamma = (1 + alpha) / (1 - alpha)
        self._log_gamma = math.log(self.gamma)
        self.tiny = float(tiny)
        self.zeros = 0                  # values <= tiny
        self._lo = 0                    # key of _counts[0]
        self._counts = np.zeros(0, dtype=np.int64)
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, values: np.ndarray) -> None:
        """Add a block of values (NaN is not allowed; negative values are an error)."""
        x = np.asarray(values, dtype=np.float64).ravel()
        if not len(x):
            return
        lo, hi = float(x.min()), float(x.max())
        if not (lo >= 0 and math.isfinite(hi)):
            raise ValueError(f"a quantile sketch takes finite values >= 0, got one of {lo!r} or {hi!r}")
        self.count += len(x)
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)
        pos = x[x > self.tiny]
        self.zeros += len(x) - len(pos)
        if not len(pos):
            return
        keys = np.ceil(np.log(pos) / self._log_gamma).astype(np.int64)
        k0, k1 = int(keys.min()), int(keys.max())
        self._reserve(k0, k1)
        self._counts += np.bincount(keys - self._lo, minlength=len(self._counts))

    def _reserve(self, k0: int, k1: int) -> None:
        """Grow the dense count array to cover keys k0..k1."""
        if not len(self._counts):
            self._lo = k0
            self._counts = np.zeros(k1 - k0 + 1, dtype=np.int64)
            return
        lo, hi = min(self._lo, k0), max(self._lo + len(self._counts) - 1, k1)
        if lo == self._lo and hi == self._lo + len(self._counts) - 1:
            return
        grown = np.zeros(hi - lo + 1, dtype=np.int64)
        grown[self._lo - lo:self._lo - lo + len(self._counts)] = self._counts
        self._lo, self._counts = lo, grown

    def merge(self, other: QuantileSketch) -> None:
        """Add the counts of another sketch with the same alpha."""
        if other.gamma != self.gamma or other.tiny != self.tiny:
            raise ValueError("sketches with different accuracies cannot be merged")
        if not other.count:
            return
        self.count += other.count
        self.zeros += other.zeros
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if len(other._counts):
            self._reserve(other._lo, other._lo + len(other._counts) - 1)
            at = other._lo - self._lo
            self._counts[at:at + len(other._counts)] += other._counts

    @classmethod
    def merged(cls, sketches: list[QuantileSketch]) -> QuantileSketch:
        out = cls(sketches[0].alpha, sketches[0].tiny) if sketches else cls()
        for s in sketches:
            out.merge(s)
        return out

    def _value_at_rank(self, ranks: np.ndarray) -> np.ndarray:
        """The bucket value of the order statistics at 0-based `ranks` (exact min and max at the ends)."""
        cum = self.zeros + np.cumsum(self._counts)
        idx = np.searchsorted(cum, ranks, side="right")           # first bucket whose count passes rank
        vals = self._values(self._lo + idx) if len(self._counts) else np.zeros(len(ranks))
        vals = np.where(ranks < self.zeros, 0.0, vals)
        # the extreme order statistics are known exactly; clamp the others into [min, max]
        vals = np.clip(vals, self.min, self.max)
        vals = np.where(ranks == 0, self.min, vals)
        return np.where(ranks == self.count - 1, self.max, vals)

    def _values(self, keys: np.ndarray) -> np.ndarray:
        """The values of buckets `keys`: 2 gamma^key / (gamma + 1), by the C library's pow one key at a
        time, because numpy's vectorised power differs in the last bit between CPUs (AVX-512 or not),
        and a summary should not depend on the machine that computed it."""
        g = self.gamma
        return np.array([2.0 * math.pow(g, k) / (g + 1.0) for k in keys.tolist()], dtype=np.float64)

    def quantiles(self, percents) -> np.ndarray:
        """`np.percentile(values, percents)` within a relative `alpha` (NaN when empty)."""
        q = np.atleast_1d(np.asarray(percents, dtype=np.float64))
        if not self.count:
            return np.full(len(q), math.nan)
        r = q / 100.0 * (self.count - 1)
        lo = np.floor(r)
        frac = r - lo
        lo = lo.astype(np.int64)
        hi = np.minimum(lo + 1, self.count - 1)
        a, b = self._value_at_rank(lo), self._value_at_rank(hi)
        return a + (b - a) * frac

    def quantile(self, percent: float) -> float:
        return float(self.quantiles([percent])[0])

    def buckets(self) -> tuple[np.ndarray, np.ndarray]:
        """(value, count) of every non-empty bucket, zeros first: the sketch as a weighted sample."""
        nz = np.flatnonzero(self._counts)
        vals = self._values(self._lo + nz)
        counts = self._counts[nz]
        if self.zeros:
            vals, counts = np.concatenate([[0.0], vals]), np.concatenate([[self.zeros], counts])
        return vals, counts

    @property
    def nbytes(self) -> int:
        return int(self._counts.nbytes)
