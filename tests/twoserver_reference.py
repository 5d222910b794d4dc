"""A reference simulation of one FIFO queue served by two servers of different rates, independent
of the engines and of vssim.analysis.theory.

Jobs arrive in a Poisson stream of rate λ; job n brings work E_n ~ Exp(1) and takes E_n/μ_i at
server i (work time ÷ speed: the draw does not depend on who serves it). Jobs start in arrival
order, so when job n is next, jobs 1..n−1 have all started and each server's next free time f_i
is known: job n goes to

- the rule's server (``first``) if both are free at its arrival (f_1, f_2 ≤ a_n),
- else the free one if one is free,
- else the one that frees first, at min(f_1, f_2),

and starts at max(a_n, f_i). That is a recursion on (f_1, f_2) with a branch per job, so it is a
plain loop over Python floats (about 0.1 s per 100,000 jobs); the statistics over its sample path
are vectorised.

Used by tests/test_theory.py to validate ``theory.mm2_heterogeneous``, and by the engines' tests
of issue 14 (people at speeds, ``pick: fastest``) as the sample path an engine must reproduce in
distribution.
"""
from __future__ import annotations

import numpy as np


def two_server_fifo(arrival: np.ndarray, work: np.ndarray, mu: tuple[float, float],
                    first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start times, done times and server (0 or 1) of jobs with these arrival times (sorted)
    and works, at rates ``mu``; ``first`` takes a job that finds both servers free."""
    n = len(arrival)
    start = np.empty(n)
    done = np.empty(n)
    server = np.empty(n, dtype=np.int8)
    free = [0.0, 0.0]
    rate = (float(mu[0]), float(mu[1]))
    for i, (a, e) in enumerate(zip(arrival.tolist(), work.tolist(), strict=True)):
        f0, f1 = free
        if f0 <= a and f1 <= a:
            j = first
        elif f0 <= a or f1 <= a:
            j = 0 if f0 <= a else 1
        else:
            j = 0 if f0 <= f1 else 1
        s = a if free[j] <= a else free[j]
        free[j] = d = s + e / rate[j]
        start[i], done[i], server[i] = s, d, j
    return start, done, server


STATS = ("w", "l", "p0", "p1_1", "p1_2", "p_wait", "u1", "u2", "share1")
"""What ``replication_stats`` measures, in its column order."""


def path_stats(arrival: np.ndarray, start: np.ndarray, done: np.ndarray, server: np.ndarray,
               lo: float, hi: float) -> np.ndarray:
    """The STATS of one sample path over the window [lo, hi]: time averages of the number in
    system, of each state (0, one job at server 1, one at server 2, N ≥ 2) and of each server
    busy; the mean response time and server-1 share of the jobs arriving in the window."""
    n = len(arrival)
    times = np.concatenate([arrival, start, done])
    d_count = np.concatenate([np.ones(n), np.zeros(n), -np.ones(n)])
    on1 = (server == 0).astype(float)
    d_busy1 = np.concatenate([np.zeros(n), on1, -on1])
    d_busy2 = np.concatenate([np.zeros(n), 1 - on1, -(1 - on1)])
    order = np.argsort(times, kind="stable")
    t = times[order]
    count = np.cumsum(d_count[order])  # the state on [t_k, t_{k+1})
    busy1 = np.cumsum(d_busy1[order])
    busy2 = np.cumsum(d_busy2[order])
    span = np.clip(t[1:], lo, hi) - np.clip(t[:-1], lo, hi)  # simultaneous events weigh 0
    count, busy1, busy2 = count[:-1], busy1[:-1], busy2[:-1]
    one = count == 1

    def share_of_time(mask: np.ndarray) -> float:
        return float(span[mask].sum() / (hi - lo))

    inside = (arrival >= lo) & (arrival <= hi)
    return np.array([
        float((done - arrival)[inside].mean()),
        float(span @ count / (hi - lo)),
        share_of_time(count == 0),
        share_of_time(one & (busy1 == 1)),
        share_of_time(one & (busy2 == 1)),
        share_of_time(count >= 2),
        float(span @ busy1 / (hi - lo)),
        float(span @ busy2 / (hi - lo)),
        float((server[inside] == 0).mean()),
    ])


def replication_stats(lam: float, mu: tuple[float, float], first: int, *, jobs: int, warmup: int,
                      reps: int, seed: int) -> dict[str, np.ndarray]:
    """Per independent replication (each starting empty, its own stream spawned from ``seed``),
    the STATS over the window from the arrival of job ``warmup`` to that of the last job."""
    out = np.empty((reps, len(STATS)))
    for r, child in enumerate(np.random.SeedSequence(seed).spawn(reps)):
        rng = np.random.default_rng(child)
        arrival = np.cumsum(rng.exponential(1.0 / lam, warmup + jobs))
        work = rng.exponential(1.0, warmup + jobs)
        start, done, server = two_server_fifo(arrival, work, mu, first)
        out[r] = path_stats(arrival, start, done, server, arrival[warmup], arrival[-1])
    return {name: out[:, i] for i, name in enumerate(STATS)}
