"""Closed-form and exact queueing results the simulator is validated against.

Pure numpy/scipy, no simulation: users call these to sanity-check a stream, tests compare
simulated means with them. Times and rates share one unit (the stream's ``time_unit``).

References
----------
- [FP]  Hopp & Spearman, *Factory Physics*, 3rd ed. (2008), ch. 7 (bounds), ch. 8 (VUT).
- [K1]  Kleinrock, *Queueing Systems, Vol. 1: Theory* (1975).
- [K2]  Kleinrock, *Queueing Systems, Vol. 2: Computer Applications* (1976), ch. 3 (priority).
- [GH]  Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory*, 4th ed. (2008).
- [RL]  Reiser & Lavenberg, "Mean-value analysis of closed multichain queuing networks",
        J. ACM 27(2), 1980.
- [BG]  Bolch, Greiner, de Meer & Trivedi, *Queueing Networks and Markov Chains*, 2nd ed.
        (2006), ch. 8 (convolution, MVA).
- [FH]  Flatto & Hahn, "Two parallel queues created by arrivals with two demands I",
        SIAM J. Appl. Math. 44(5), 1984, 1041–1053.
- [NT]  Nelson & Tantawi, "Approximate analysis of fork/join synchronization in parallel
        queues", IEEE Trans. Computers 37(6), 1988, 739–743.
- [T]   Thomasian, "Analysis of fork/join and related queueing systems", ACM Computing
        Surveys 47(2), article 17, 2014 (the survey: eq. (3) is [NT]'s approximation).
- [Gu]  Gumbel, "Waiting lines with heterogeneous servers", Operations Research 8(4), 1960,
        504–511 (the M/M/c with server-dependent rates; no equivalent homogeneous system).
- [S]   Singh, "Two-server Markovian queues with balking: heterogeneous vs. homogeneous servers",
        Operations Research 18(1), 1970, 145–159 (the faster server first; without balking it
        is ``mm2_heterogeneous(..., rule="fastest")``).
- [LK]  Lin & Kumar, "Optimal control of a queueing system with two heterogeneous servers",
        IEEE Trans. Automatic Control 29(8), 1984, 696–703 (the optimal rule is a threshold).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vssim.errors import SpecError

__all__ = [
    "QueueResult",
    "JacksonResult",
    "MVAResult",
    "TwoServerResult",
    "erlang_c",
    "mmc",
    "mm1",
    "mm2_heterogeneous",
    "mg1_wq",
    "kingman_wq",
    "cobham_wq",
    "cobham_mmc_wq",
    "jackson_open",
    "mva",
    "line_parameters",
    "best_case",
    "worst_case",
    "practical_worst_case",
    "fork_join_2",
    "fork_join_2_join_wait",
    "fork_join_bounds",
    "fork_join_nelson_tantawi",
    "littles_law_residual",
]


# --------------------------------------------------------------------------- validation helpers


def _number(name: str, value: float, *, positive: bool = False) -> float:
    """A finite non-negative (or positive) float, or a SpecError naming the argument."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SpecError(name, "a number", value) from None
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        raise SpecError(name, "a positive number" if positive else "a non-negative number", value)
    return x


def _count(name: str, value: int) -> int:
    """A positive integer (bools and 2.5 refused: a server count is a count)."""
    if isinstance(value, bool) or not float(value).is_integer() or value < 1:
        raise SpecError(name, "a positive integer", value)
    return int(value)


def _vector(name: str, values, n: int | None = None, *, positive: bool = False) -> np.ndarray:
    """A 1-D float array of finite non-negative (or positive) entries, of length n if given."""
    a = np.asarray(values, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise SpecError(name, "a non-empty sequence of numbers", values)
    if n is not None and a.size != n:
        raise SpecError(name, message=f"must have {n} entries (one per station or class), "
                                      f"got {a.size}")
    bad = ~np.isfinite(a) | (a <= 0 if positive else a < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "a positive number" if positive else "a non-negative number"
        raise SpecError(f"{name}[{i}]", what, float(a[i]))
    return a


def _frozen(a: np.ndarray) -> np.ndarray:
    """Read-only view, so a frozen result stays frozen."""
    a = np.asarray(a, dtype=float)
    a.flags.writeable = False
    return a


# --------------------------------------------------------------------------- single stations


@dataclass(frozen=True)
class QueueResult:
    """Steady-state means of one station: utilisation, P(wait), queue/system counts and times."""

    rho: float
    p_wait: float
    lq: float
    l: float  # noqa: E741  (the textbook name)
    wq: float
    w: float


def erlang_c(c: int, lam: float, mu: float) -> float:
    """P(an arrival waits) in M/M/c: C(c, a) = B / (1 − ρ(1 − B)), a = λ/μ, ρ = a/c [GH ch. 2].

    B is Erlang B from the recursion B_k = a·B_{k−1} / (k + a·B_{k−1}), B_0 = 1, which never
    forms a^c or c! and so stays exact to rounding for c in the thousands [K1 ch. 3].
    """
    c = _count("c", c)
    lam = _number("lam", lam)
    mu = _number("mu", mu, positive=True)
    a = lam / mu
    rho = a / c
    if rho >= 1:
        raise SpecError("lam", message=f"unstable: lam = {lam:g} >= c*mu = {c * mu:g} "
                                       f"(rho = {rho:g}); the queue grows without bound")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b / (1.0 - rho * (1.0 - b))


def mmc(lam: float, mu: float, c: int = 1) -> QueueResult:
    """M/M/c means: Wq = C(c, a)/(cμ − λ), W = Wq + 1/μ, Lq = λWq, L = λW [GH ch. 2, FP ch. 8]."""
    c = _count("c", c)
    lam = _number("lam", lam)
    mu = _number("mu", mu, positive=True)
    p_wait = erlang_c(c, lam, mu)
    wq = p_wait / (c * mu - lam)
    w = wq + 1.0 / mu
    return QueueResult(rho=lam / (c * mu), p_wait=p_wait, lq=lam * wq, l=lam * w, wq=wq, w=w)


def mm1(lam: float, mu: float) -> QueueResult:
    """M/M/1 means (mmc with c = 1): W = 1/(μ − λ), L = ρ/(1 − ρ) [K1 ch. 3]."""
    return mmc(lam, mu, 1)


@dataclass(frozen=True)
class TwoServerResult:
    """Steady state of one FIFO queue served by two servers of rates mu1, mu2 (list order).

    States: 0 (empty), (1, i) (one job, at server i), n ≥ 2 (both busy, n − 2 waiting) with
    P(n) = p2·ρ^(n−2). ``p1[i]`` is P((1, i + 1)); ``utilization[i]`` the busy fraction of server
    i + 1; ``share[i]`` the fraction of jobs it serves (μ_i·U_i/λ; the rule's server at λ = 0).
    ``p_wait`` = P(N ≥ 2), the probability an arrival waits (PASTA).
    """

    rule: str
    rho: float
    p0: float
    p1: tuple[float, float]
    p2: float
    p_wait: float
    utilization: tuple[float, float]
    share: tuple[float, float]
    lq: float
    l: float  # noqa: E741
    wq: float
    w: float

    def p(self, n: int) -> float:
        """P(N = n), n jobs in the system."""
        n = int(n)
        if n < 0:
            return 0.0
        if n < 2:
            return self.p0 if n == 0 else self.p1[0] + self.p1[1]
        return self.p2 * self.rho ** (n - 2)


_RULES = ("order", "fastest")
"""Who takes a job that finds both servers free: the first of the list, or the faster (ties: the first)."""


def mm2_heterogeneous(lam: float, mu1: float, mu2: float, rule: str = "order") -> TwoServerResult:
    """M/M/2 with heterogeneous servers, one FIFO queue, exact [Gu; S for ``fastest``].

    A job finding both servers free goes to server 1 (``order``: the first pool of the list) or
    to the faster one (``fastest``); one free server takes it; a server freed with jobs waiting
    takes the head of the queue. With a = 1 if server 1 takes it, else 0, μ = μ1 + μ2, ρ = λ/μ,
    the cuts between n and n + 1 (n ≥ 2) give p_n = p2·ρ^(n−2); the balances of (1, 1), (1, 2)
    and 0 give, relative to p0,

        p2 = λ²(λ + aμ2 + (1 − a)μ1) / (μ1μ2(2λ + μ)),
        p(1,1) = (aλ + μ2·p2)/(λ + μ1),   p(1,2) = ((1 − a)λ + μ1·p2)/(λ + μ2),

    normalised by p0 + p(1,1) + p(1,2) + p2/(1 − ρ) = 1. Then L = p(1,·) + p2(2/(1 − ρ) +
    ρ/(1 − ρ)²), Lq = p2·ρ/(1 − ρ)², U_i = p(1,i) + p2/(1 − ρ), W = L/λ. Equal rates give
    ``mmc(lam, mu, 2)`` under either rule. ``fastest`` is not the rule that minimises W: with very
    unequal rates a job does better waiting for the fast server [LK]; both rules here never
    leave a server idle while jobs wait, as the engines do.
    """
    lam = _number("lam", lam)
    mu1 = _number("mu1", mu1, positive=True)
    mu2 = _number("mu2", mu2, positive=True)
    if rule not in _RULES:
        raise SpecError("rule", "'order' or 'fastest'", rule)
    mu = mu1 + mu2
    if lam >= mu:
        raise SpecError("lam", message=f"unstable: lam = {lam:g} >= mu1 + mu2 = {mu:g} "
                                       f"(rho = {lam / mu:g}); the queue grows without bound")
    a = 1.0 if rule == "order" or mu1 >= mu2 else 0.0
    r = lam / mu
    # Everything per unit p0, and the λ-proportional terms divided by λ, so that λ = 0 is exact.
    k = (lam + a * mu2 + (1.0 - a) * mu1) / (mu1 * mu2 * (2.0 * lam + mu))  # p2 = λ²k
    one1 = (a + mu2 * lam * k) / (lam + mu1)  # p(1,1) = λ·one1
    one2 = (1.0 - a + mu1 * lam * k) / (lam + mu2)  # p(1,2) = λ·one2
    tail = lam * k / (1.0 - r)  # P(N ≥ 2) = λ·tail
    z = 1.0 + lam * (one1 + one2 + tail)
    busy1, busy2 = (one1 + tail) / z, (one2 + tail) / z  # U_i / λ
    wq = lam * k * r / (1.0 - r) ** 2 / z
    w = wq + busy1 + busy2  # L = Lq + U1 + U2 (the jobs in service), so W = L/λ at λ > 0
    return TwoServerResult(
        rule=rule, rho=r, p0=1.0 / z, p1=(lam * one1 / z, lam * one2 / z), p2=lam * lam * k / z,
        p_wait=lam * tail / z, utilization=(lam * busy1, lam * busy2),
        share=(mu1 * busy1, mu2 * busy2), lq=lam * wq, l=lam * w, wq=wq, w=w,
    )


def mg1_wq(lam: float, mean_s: float, scv_s: float) -> float:
    """Pollaczek–Khinchine mean queue time of M/G/1 [K1 ch. 5, FP ch. 8]:

    Wq = λE[S²] / (2(1 − ρ)) = ((1 + c_s²)/2) · (ρ/(1 − ρ)) · E[S].
    """
    lam = _number("lam", lam)
    mean_s = _number("mean_s", mean_s, positive=True)
    scv_s = _number("scv_s", scv_s)
    rho = lam * mean_s
    if rho >= 1:
        raise SpecError("lam", message=f"unstable: rho = lam*mean_s = {rho:g} >= 1")
    return (1.0 + scv_s) / 2.0 * rho / (1.0 - rho) * mean_s


def kingman_wq(ca2: float, ce2: float, u: float, te: float, c: int = 1) -> float:
    """VUT approximation of G/G/c queue time [FP ch. 8; Sakasegawa (1977) for c > 1]:

    CTq ≈ ((c_a² + c_e²)/2) · (u^(√(2(c+1)) − 1) / (c(1 − u))) · t_e.
    For c = 1 the exponent is 1 (Kingman), exact for M/M/1 and, with c_a² = 1, for M/G/1.
    """
    ca2 = _number("ca2", ca2)
    ce2 = _number("ce2", ce2)
    te = _number("te", te, positive=True)
    c = _count("c", c)
    u = _number("u", u)
    if u >= 1:
        raise SpecError("u", "a utilisation below 1", u)
    return (ca2 + ce2) / 2.0 * u ** (math.sqrt(2.0 * (c + 1)) - 1.0) / (c * (1.0 - u)) * te


def _priority_denominators(rhos: np.ndarray) -> np.ndarray:
    """(1 − σ_{k−1})(1 − σ_k) with σ_k = Σ_{i≤k} ρ_i, the Cobham slowdown of class k."""
    sigma = np.cumsum(rhos)
    if sigma[-1] >= 1:
        raise SpecError("lams", message=f"unstable: total utilisation {sigma[-1]:g} >= 1")
    before = np.concatenate(([0.0], sigma[:-1]))
    return (1.0 - before) * (1.0 - sigma)


def cobham_wq(lams: Sequence[float], means: Sequence[float],
              second_moments: Sequence[float]) -> np.ndarray:
    """Mean queue time per class of non-preemptive priority M/G/1, class 0 highest [K2 ch. 3]:

    W0 = Σ λ_i E[S_i²]/2 (mean residual work found in service),
    Wq_k = W0 / ((1 − σ_{k−1})(1 − σ_k)), σ_k = Σ_{i≤k} λ_i E[S_i].
    """
    lams = _vector("lams", lams)
    means = _vector("means", means, lams.size, positive=True)
    m2 = _vector("second_moments", second_moments, lams.size)
    short = m2 < means**2 * (1 - 1e-12)
    if short.any():
        i = int(np.flatnonzero(short)[0])
        raise SpecError(f"second_moments[{i}]", message=f"must be >= means[{i}]**2 = "
                                                        f"{means[i] ** 2:g}, got {m2[i]:g}")
    w0 = float(np.sum(lams * m2)) / 2.0
    return w0 / _priority_denominators(lams * means)


def cobham_mmc_wq(lams: Sequence[float], mu: float, c: int) -> np.ndarray:
    """Mean queue time per class of non-preemptive priority M/M/c, equal μ for all classes
    [GH ch. 3]: Wq_k = (C(c, Λ/μ)/(cμ)) / ((1 − σ_{k−1})(1 − σ_k)), σ_k = Σ_{i≤k} λ_i/(cμ).
    """
    lams = _vector("lams", lams)
    mu = _number("mu", mu, positive=True)
    c = _count("c", c)
    rhos = lams / (c * mu)
    den = _priority_denominators(rhos)
    return erlang_c(c, float(lams.sum()), mu) / (c * mu) / den


# --------------------------------------------------------------------------- open networks


@dataclass(frozen=True)
class JacksonResult:
    """Per-station means of an open Jackson network, and the network's WIP and lead time.

    ``w`` is the sojourn per visit; an item visits station j ``visit_ratio[j]`` times, so
    ``lead_time = Σ visit_ratio·w = total_l / Σ lam0``.
    """

    arrival_rate: np.ndarray
    visit_ratio: np.ndarray
    rho: np.ndarray
    l: np.ndarray  # noqa: E741
    w: np.ndarray
    total_l: float
    lead_time: float


def jackson_open(lam0: np.ndarray, routing: np.ndarray, mu: np.ndarray,
                 servers: np.ndarray) -> JacksonResult:
    """Open Jackson network: solve the traffic equations λ = λ0 + Pᵀλ, then treat each station
    as an independent M/M/c (Jackson's theorem: product form) [GH ch. 4, K1 ch. 4].

    P[i, j] is the probability an item leaving i goes to j; 1 − Σ_j P[i, j] leaves the system.
    Lead time follows from Little's law: T = Σ_j L_j / Σ λ0.
    """
    lam0 = _vector("lam0", lam0)
    m = lam0.size
    mu = _vector("mu", mu, m, positive=True)
    servers_in = np.asarray(servers).reshape(-1)
    if servers_in.size != m:
        raise SpecError("servers", message=f"must have {m} entries, got {servers_in.size}")
    servers_ = [_count(f"servers[{j}]", s) for j, s in enumerate(servers_in.tolist())]
    p = np.asarray(routing, dtype=float)
    if p.shape != (m, m):
        raise SpecError("routing", message=f"must be a {m}x{m} matrix, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise SpecError("routing", message="entries must be probabilities in [0, 1]")
    rows = p.sum(axis=1)
    if (rows > 1 + 1e-9).any():
        i = int(np.argmax(rows))
        raise SpecError(f"routing[{i}]", message=f"row sums to {rows[i]:g} > 1")
    if lam0.sum() <= 0:
        raise SpecError("lam0", message="at least one station needs external arrivals")
    # Every item must eventually leave: spectral radius of P below 1, else λ is infinite.
    if np.max(np.abs(np.linalg.eigvals(p))) >= 1 - 1e-12:
        raise SpecError("routing", message="items can never leave (a closed routing loop); "
                                           "some row in every loop must sum to less than 1")
    lam = np.linalg.solve(np.eye(m) - p.T, lam0)
    lam = np.clip(lam, 0.0, None)  # rounding only: the solution is λ0 (I − P)^{-1} >= 0
    rho = np.empty(m)
    ls = np.empty(m)
    ws = np.empty(m)
    for j in range(m):
        cap = servers_[j] * mu[j]
        if lam[j] >= cap:
            raise SpecError(f"station {j}", message=f"unstable: arrival rate {lam[j]:g} >= "
                                                    f"capacity servers*mu = {cap:g} "
                                                    f"(rho = {lam[j] / cap:g})")
        r = mmc(float(lam[j]), float(mu[j]), servers_[j])
        rho[j], ls[j], ws[j] = r.rho, r.l, r.w
    total_l = float(ls.sum())
    return JacksonResult(
        arrival_rate=_frozen(lam),
        visit_ratio=_frozen(lam / lam0.sum()),
        rho=_frozen(rho),
        l=_frozen(ls),
        w=_frozen(ws),
        total_l=total_l,
        lead_time=total_l / float(lam0.sum()),
    )


# --------------------------------------------------------------------------- closed networks


@dataclass(frozen=True)
class MVAResult:
    """Exact MVA of a closed network for populations k = 1..n (row k−1 is population k).

    ``wait[k−1, j]`` is the residence time at station j per cycle (all visits, queue plus
    service); ``cycle_time = Σ_j wait`` excludes ``think_time``, so Little's law reads
    ``k = throughput·(cycle_time + think_time)`` and ``queue_length = throughput·wait``.
    ``utilization[k−1, j]`` is the busy fraction of one server of station j.
    """

    throughput: np.ndarray
    cycle_time: np.ndarray
    queue_length: np.ndarray
    wait: np.ndarray
    utilization: np.ndarray


def mva(service: Sequence[float], n: int, servers: Sequence[int] | None = None,
        visits: Sequence[float] | None = None, think_time: float = 0.0) -> MVAResult:
    """Exact mean value analysis of a closed product-form network of FIFO exponential stations
    plus an optional delay (infinite-server) station of mean ``think_time`` [RL, FP ch. 7].

    D_j = visits_j·service_j. Single server: W_j(k) = D_j(1 + L_j(k−1)) (arrival theorem).
    c servers: W_j(k) = (D_j/c)(1 + L_j(k−1) + Σ_{i=0}^{c−2} (c−1−i) p_j(i|k−1)) [BG ch. 8],
    with marginals p_j(i|k) = (D_j X(k)/min(i, c)) p_j(i−1|k−1), i ≥ 1.
    Then X(k) = k / (Z + Σ_j W_j(k)), L_j(k) = X(k) W_j(k).

    p_j(0|k) = 1 − Σ_{i≥1} p_j(i|k) cancels catastrophically once station j saturates, and the
    error then grows with k (relative errors of order 1 by n = 300 in a 4-server bottleneck).
    Instead p_j(0|k) = G_{−j}(k)/G(k), the ratio of normalising constants without and with
    station j, each a convolution of positive terms kept in log space [BG ch. 8].
    """
    n = _count("n", n)
    s = _vector("service", service, positive=True)
    m = s.size
    v = np.ones(m) if visits is None else _vector("visits", visits, m)
    if servers is None:
        c = np.ones(m, dtype=int)
    else:
        sv = list(np.asarray(servers).reshape(-1).tolist())
        if len(sv) != m:
            raise SpecError("servers", message=f"must have {m} entries, got {len(sv)}")
        c = np.array([_count(f"servers[{j}]", x) for j, x in enumerate(sv)], dtype=int)
    z = _number("think_time", think_time)
    d = v * s
    if z == 0 and not (d > 0).any():
        raise SpecError("visits", message="some station must be visited when think_time is 0")
    p0 = _idle_probabilities(d, c, z, n)
    multi = [j for j in range(m) if c[j] > 1 and d[j] > 0]
    x = np.zeros(n)
    w = np.zeros((n, m))
    ql = np.zeros((n, m))
    p = {j: np.zeros(n + 1) for j in multi}  # p[j][i] = p_j(i | k−1)
    for j in multi:
        p[j][0] = 1.0
    lprev = np.zeros(m)
    for k in range(1, n + 1):
        r = d * (1.0 + lprev)  # single-server stations (and d = 0 ones)
        for j in multi:
            cj = int(c[j])
            top = min(cj - 1, k)  # p_j(i|k−1) = 0 for i > k−1
            corr = float(np.dot(cj - 1 - np.arange(top), p[j][:top]))
            r[j] = d[j] / cj * (1.0 + lprev[j] + corr)
        xk = k / (z + r.sum())
        lprev = xk * r
        x[k - 1], w[k - 1], ql[k - 1] = xk, r, lprev
        for j in multi:
            new = np.zeros(n + 1)
            i = np.arange(1, k + 1)
            new[1:k + 1] = d[j] * xk / np.minimum(i, c[j]) * p[j][:k]
            new[0] = p0[j][k]
            p[j] = new
    return MVAResult(
        throughput=_frozen(x),
        cycle_time=_frozen(w.sum(axis=1)),
        queue_length=_frozen(ql),
        wait=_frozen(w),
        utilization=_frozen(x[:, None] * d[None, :] / c[None, :]),
    )


def _log_weights(demand: float, servers: int | None, n: int) -> np.ndarray:
    """log f(i), i = 0..n: the product-form factor of i jobs at one station.

    f(i) = D^i / Π_{l≤i} min(l, c) (c servers; c = None is a delay station, f = D^i/i!).
    """
    i = np.arange(n + 1)
    if demand == 0:
        out = np.full(n + 1, -np.inf)
        out[0] = 0.0
        return out
    cap = i[1:] if servers is None else np.minimum(i[1:], servers)
    return i * math.log(demand) - np.concatenate(([0.0], np.cumsum(np.log(cap))))


def _log_convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log of the convolution of exp(a) and exp(b), both of length n+1, without overflow."""
    n1 = a.size
    out = np.empty(n1)
    rows = max(1, 2_000_000 // n1)  # bound the temporary matrix to ~16 MB
    i = np.arange(n1)
    for start in range(0, n1, rows):
        k = np.arange(start, min(n1, start + rows))[:, None]
        lag = k - i[None, :]
        terms = np.where(lag >= 0, a[None, :] + b[np.clip(lag, 0, None)], -np.inf)
        top = terms.max(axis=1)
        safe = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            out[k[:, 0]] = safe + np.log(np.exp(terms - safe[:, None]).sum(axis=1))
    return out


def _idle_probabilities(d: np.ndarray, c: np.ndarray, z: float, n: int) -> dict[int, np.ndarray]:
    """p_j(0|k) = G_{−j}(k)/G(k), k = 0..n, for every visited multi-server station j.

    G_{−j} is the convolution of the stations before j with those after it (prefix and suffix
    products), so m stations cost O(m) log-space convolutions of length n+1.
    """
    m = d.size
    multi = [j for j in range(m) if c[j] > 1 and d[j] > 0]
    if not multi:
        return {}
    unit = np.full(n + 1, -np.inf)
    unit[0] = 0.0
    logs = [_log_weights(float(d[j]), int(c[j]), n) for j in range(m)]
    prefix = [_log_weights(z, None, n)]  # the delay station starts the product
    for j in range(m):
        prefix.append(_log_convolve(prefix[-1], logs[j]))
    suffix = [unit]
    for j in range(m - 1, -1, -1):
        suffix.append(_log_convolve(logs[j], suffix[-1]))
    suffix.reverse()  # suffix[j] = stations j..m−1
    log_g = prefix[m]
    out = {}
    for j in multi:
        log_g_without = _log_convolve(prefix[j], suffix[j + 1])
        with np.errstate(invalid="ignore"):
            out[j] = np.where(np.isfinite(log_g_without), np.exp(log_g_without - log_g), 0.0)
    return out


# --------------------------------------------------------------------------- Factory Physics lines


def line_parameters(rates: Sequence[float] | None = None, *, servers: Sequence[int] | None = None,
                    mean_times: Sequence[float] | None = None) -> tuple[float, float, float]:
    """Bottleneck rate r_b, raw process time T0 and critical WIP W0 = r_b·T0 of a line [FP ch. 7].

    Give either ``rates`` (single-server stations, t_j = 1/r_j) or ``mean_times`` (with optional
    ``servers``, rate r_j = m_j/t_j). r_b = min_j r_j, T0 = Σ_j t_j.
    """
    if (rates is None) == (mean_times is None):
        raise SpecError("line_parameters", message="give either rates or mean_times (with servers)")
    if rates is not None:
        if servers is not None:
            raise SpecError("servers", message="only with mean_times (rates already include them)")
        r = _vector("rates", rates, positive=True)
        t = 1.0 / r
    else:
        t = _vector("mean_times", mean_times, positive=True)
        if servers is None:
            msv = np.ones(t.size)
        else:
            sv = list(np.asarray(servers).reshape(-1).tolist())
            if len(sv) != t.size:
                raise SpecError("servers", message=f"must have {t.size} entries, got {len(sv)}")
            msv = np.array([_count(f"servers[{j}]", x) for j, x in enumerate(sv)], dtype=float)
        r = msv / t
    rb = float(r.min())
    t0 = float(t.sum())
    return rb, t0, rb * t0


def _wip(w) -> tuple[np.ndarray, bool]:
    """WIP as a float array (and whether it was a scalar); a line holds at least one job."""
    a = np.asarray(w, dtype=float)
    if not np.isfinite(a).all() or (a < 1).any():
        raise SpecError("w", "a WIP level >= 1", w)
    return a, a.ndim == 0


def _out(th: np.ndarray, ct: np.ndarray, scalar: bool):
    return (float(th), float(ct)) if scalar else (th, ct)


def best_case(w, rb: float, t0: float):
    """Best-case line (no variability) [FP ch. 7]: TH = min(w/T0, r_b), CT = max(T0, w/r_b)."""
    a, scalar = _wip(w)
    rb = _number("rb", rb, positive=True)
    t0 = _number("t0", t0, positive=True)
    return _out(np.minimum(a / t0, rb), np.maximum(t0, a / rb), scalar)


def worst_case(w, rb: float, t0: float):
    """Worst-case line (jobs move as one batch) [FP ch. 7]: TH = 1/T0, CT = w·T0."""
    a, scalar = _wip(w)
    _number("rb", rb, positive=True)
    t0 = _number("t0", t0, positive=True)
    return _out(np.full_like(a, 1.0 / t0), a * t0, scalar)


def practical_worst_case(w, rb: float, t0: float):
    """Practical worst case (balanced line of single exponential stations, the MVA of it)
    [FP ch. 7]: TH = w/(W0 + w − 1)·r_b, CT = T0 + (w − 1)/r_b, W0 = r_b·T0.
    """
    a, scalar = _wip(w)
    rb = _number("rb", rb, positive=True)
    t0 = _number("t0", t0, positive=True)
    w0 = rb * t0
    return _out(a / (w0 + a - 1.0) * rb, t0 + (a - 1.0) / rb, scalar)


# --------------------------------------------------------------------------- fork/join


def _fork_join_rates(lam: float, mu: float) -> tuple[float, float]:
    """λ and μ of K homogeneous M/M/1 queues fed by one Poisson stream, stable (λ < μ)."""
    lam = _number("lam", lam)
    mu = _number("mu", mu, positive=True)
    if lam >= mu:
        raise SpecError("lam", message=f"unstable: lam = {lam:g} >= mu = {mu:g} "
                                       f"(rho = {lam / mu:g}); every queue grows without bound")
    return lam, mu


def _harmonic(k: int) -> float:
    """H_K = Σ_{i≤K} 1/i, the mean of the maximum of K independent unit exponentials."""
    return math.fsum(1.0 / i for i in range(1, k + 1))


def fork_join_2(lam: float, mu: float) -> float:
    """Exact mean response time of a K = 2 fork/join of M/M/1 queues [FH, T]:

    R_2 = (12 − ρ)/(8(μ − λ)) = (H_2 − ρ/8)·R, ρ = λ/μ, R = 1/(μ − λ) the M/M/1 response.
    A job arriving at rate λ forks into one task per queue (each FIFO, exponential service of
    rate μ) and leaves when both are done.
    """
    lam, mu = _fork_join_rates(lam, mu)
    return (12.0 - lam / mu) / (8.0 * (mu - lam))


def fork_join_2_join_wait(lam: float, mu: float) -> float:
    """Mean time between a K = 2 job's first and last task done: (1 − ρ/4)/(μ − λ).

    max − min = 2·max − (T_1 + T_2) and each task's sojourn T_i has the M/M/1 mean R, so
    E[max − min] = 2R_2 − 2R [FH]; half of it is [T]'s synchronisation delay S_2 (eq. (8)).
    """
    lam, mu = _fork_join_rates(lam, mu)
    return 2.0 * fork_join_2(lam, mu) - 2.0 / (mu - lam)


def fork_join_bounds(lam: float, mu: float, k: int) -> tuple[float, float]:
    """Lower and upper bounds on the mean response time R_K of a K-way fork/join of M/M/1
    queues: max(H_K/μ, 1/(μ − λ)) ≤ R_K ≤ H_K/(μ − λ), H_K the K-th harmonic number.

    Lower (elementary): the last task takes at least any one task's sojourn (mean 1/(μ − λ))
    and at least the longest of the job's K services (mean H_K/μ). Upper [NT]: the K sojourns,
    each exponential of rate μ − λ, are associated random variables, so their maximum is
    stochastically below that of K independent copies. At λ = 0 both bounds are H_K/μ: the
    light-load limit of R_K.
    """
    lam, mu = _fork_join_rates(lam, mu)
    k = _count("k", k)
    h = _harmonic(k)
    return max(h / mu, 1.0 / (mu - lam)), h / (mu - lam)


def fork_join_nelson_tantawi(lam: float, mu: float, k: int) -> float:
    """Nelson–Tantawi approximation of the mean response time of a K-way fork/join of M/M/1
    queues, K ≥ 2 [NT; T eq. (3)]:

    R_K ≈ [H_K/H_2 + (4/11)(1 − H_K/H_2)·ρ] · R_2,  R_2 = (12 − ρ)/(8(μ − λ)) (exact, [FH]).
    The bracket scales R_2 the way the bounds grow with K; its slope 4/11 was fitted to
    simulations. Published accuracy: relative error below 5 % for K ≤ 32 [NT]; exact at K = 2
    and at λ = 0 (H_K/μ). Beyond K = 32 it is an extrapolation.
    """
    lam, mu = _fork_join_rates(lam, mu)
    k = _count("k", k)
    if k < 2:
        raise SpecError("k", "an integer >= 2 (K = 1 is M/M/1: use mm1)", k)
    scale = _harmonic(k) / _harmonic(2)
    return (scale + 4.0 / 11.0 * (1.0 - scale) * lam / mu) * fork_join_2(lam, mu)


def littles_law_residual(l: float, lam: float, w: float) -> float:  # noqa: E741
    """Relative residual |L − λW| / L of Little's law (0 when L = λW = 0)."""
    count, lam, w = float(l), float(lam), float(w)
    gap = abs(count - lam * w)
    if count == 0:
        return 0.0 if gap == 0 else math.inf
    return gap / abs(count)
