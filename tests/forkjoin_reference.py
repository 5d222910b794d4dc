"""A reference simulation of the K-way fork/join of M/M/1 queues, independent of the engines.

Jobs arrive in one Poisson stream of rate λ; each forks into one task per queue (K FIFO
single-server queues, exponential service of rate μ, independent of everything else); the job
is done when its last task is. Queue j's departures follow Lindley's recursion

    D_n = max(D_{n−1}, a_n) + S_n,

which unrolls to a running maximum, D_n = C_n + max_{m≤n}(a_m − C_{m−1}) with C_n = Σ_{m≤n} S_m,
so a whole block of jobs is two cumulative sums and one ``np.maximum.accumulate`` over all K
queues at once: no loop per job, hence no need for numba. Blocks of ``chunk`` jobs carry the
last departures over (so memory stays O(chunk·K) and the sums stay small, exact to rounding).

Used by tests/test_theory.py to validate vssim.analysis.theory's fork/join formulas, and by
the engines' fork/join tests as the sample path an engine must reproduce in distribution.
"""
from __future__ import annotations

import numpy as np


def lindley_done(arrival: np.ndarray, service: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Done times (m, K) of m jobs' tasks in K FIFO queues: arrival times (m,), service times
    (m, K), and each queue's previous done time ``last`` (K,; −inf when empty)."""
    work = np.cumsum(service, axis=0)
    start_bound = np.maximum.accumulate(arrival[:, None] - (work - service), axis=0)
    return work + np.maximum(start_bound, last)


def fork_join_jobs(lam: float, mu: float, k: int, n: int, rng: np.random.Generator, *,
                   chunk: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """Response time (last task done − arrival) and join wait (last − first task done) of n
    successive jobs of a fork/join that starts empty."""
    response = np.empty(n)
    join_wait = np.empty(n)
    last = np.full(k, -np.inf)
    clock = 0.0
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        arrival = clock + np.cumsum(rng.exponential(1.0 / lam, m))
        clock = arrival[-1]
        done = lindley_done(arrival, rng.exponential(1.0 / mu, (m, k)), last)
        last = done[-1]
        final = done.max(axis=1)
        response[start:start + m] = final - arrival
        join_wait[start:start + m] = final - done.min(axis=1)
    return response, join_wait


def replication_means(lam: float, mu: float, k: int, *, jobs: int, warmup: int, reps: int,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per independent replication, the mean response time and mean join wait of ``jobs``
    jobs after discarding the first ``warmup`` (each replication starts empty and has its own
    stream, spawned from ``seed``)."""
    out = np.empty((2, reps))
    for r, child in enumerate(np.random.SeedSequence(seed).spawn(reps)):
        response, join_wait = fork_join_jobs(lam, mu, k, warmup + jobs, np.random.default_rng(child))
        out[:, r] = response[warmup:].mean(), join_wait[warmup:].mean()
    return out[0], out[1]
