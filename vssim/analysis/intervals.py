"""Student-t 95 % confidence intervals of a mean from independent values (replication means, or
the batch means of a single replication): `ci95` of one set of values, `ci95_rows` of several
sets in one compiled call (`vssim.analysis.kernels.finite_mean_std`), the same numbers as numpy's
mean and std (ddof=1) of the finite values, and the t quantile they need (`t975`, cached).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import stats

__all__ = ["ci95", "ci95_rows", "t975"]


@functools.lru_cache(maxsize=256)
def t975(df: int) -> np.float64:
    """Student's t 0.975 quantile (scipy takes ~50 us a call; a summary asks for the same few)."""
    return stats.t.ppf(0.975, df)


def ci95(values: Iterable[float | None]) -> list[float | None]:
    """The 95 % interval of the mean of the finite values (None and NaN are left out);
    [None, None] if fewer than 2."""
    return ci95_rows([list(values)])[0]


def ci95_rows(rows: Sequence[Sequence[float | None]]) -> list[list[float | None]]:
    """`ci95` of each row (rows of one length)."""
    if not rows or len(rows[0]) < 2:                 # fewer than 2 values, fewer than 2 finite ones
        return [[None, None] for _ in rows]
    from vssim.analysis import kernels

    moments = np.empty((len(rows), 3))
    kernels.finite_mean_std(np.array(rows, dtype=np.float64), moments)
    cis: list[list[float | None]] = []
    for n, mean, std in moments:
        n = int(n)
        if n < 2:
            cis.append([None, None])
        else:
            half = float(t975(n - 1) * std / math.sqrt(n))
            cis.append([float(mean) - half, float(mean) + half])
    return cis
