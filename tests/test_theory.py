"""vssim.analysis.theory against textbook values, exact identities and brute-force Markov chains.

Every comparison is exact up to floating-point rounding (rel=1e-9 or tighter): these are
closed forms, not estimates, so no statistical tolerance applies here. The exception is the
fork/join section's last part: K > 2 has no closed form, so the bounds and Nelson–Tantawi are
checked against a reference simulation (tests/forkjoin_reference.py) with CI-derived tolerances;
and the heterogeneous two-server queue, exact against its CTMC, is also checked against a
reference simulation (tests/twoserver_reference.py) that the engines' tests of issue 14 reuse.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from forkjoin_reference import fork_join_jobs, lindley_done, replication_means
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg
from test_theory_validation import LEVEL, R, assert_matches, t_interval
from twoserver_reference import STATS, path_stats, replication_stats, two_server_fifo

from vssim.analysis import theory
from vssim.errors import SpecError

EXACT = 1e-9


# --------------------------------------------------------------------------- helpers


def erlang_c_exact(c: int, a: int) -> float:
    """Erlang C for integer offered load a, in exact integer arithmetic.

    C = (a^c/c! · c/(c−a)) / (Σ_{k<c} a^k/k! + a^c/c! · c/(c−a)); multiply through by c!(c−a).
    """
    tail = a**c * c
    head = (c - a) * sum(a**k * (math.factorial(c) // math.factorial(k)) for k in range(c))
    return float(Fraction(tail, head + tail))


def closed_ctmc(rates, servers, routing, population):
    """Solve a closed network's CTMC by brute force: states are all placements of the jobs.

    Station j serves min(n_j, servers[j]) jobs at rate rates[j] each and sends a finished job
    to l with probability routing[j][l]. Returns (throughput at station 0, mean queue lengths).
    """
    m = len(rates)
    states = [s for s in itertools.product(range(population + 1), repeat=m)
              if sum(s) == population]
    index = {s: i for i, s in enumerate(states)}
    q = np.zeros((len(states), len(states)))
    for s in states:
        for j in range(m):
            if s[j] == 0:
                continue
            rate = min(s[j], servers[j]) * rates[j]
            for dest in range(m):
                if dest == j or routing[j][dest] == 0:
                    continue
                t = list(s)
                t[j] -= 1
                t[dest] += 1
                q[index[s], index[tuple(t)]] += rate * routing[j][dest]
    np.fill_diagonal(q, -q.sum(axis=1))
    # π Q = 0 with Σ π = 1: replace one balance equation by the normalisation.
    a = q.T.copy()
    a[-1, :] = 1.0
    b = np.zeros(len(states))
    b[-1] = 1.0
    pi = np.linalg.solve(a, b)
    occupancy = np.array(states, dtype=float)
    busy0 = np.minimum(occupancy[:, 0], servers[0])
    throughput0 = float(pi @ busy0) * rates[0]
    return throughput0, pi @ occupancy


def visit_ratios(routing) -> np.ndarray:
    """v = v P with v_0 = 1 (relative visit counts of a closed routing matrix)."""
    p = np.asarray(routing, dtype=float)
    m = p.shape[0]
    a = (np.eye(m) - p).T
    a[0, :] = 0.0
    a[0, 0] = 1.0
    b = np.zeros(m)
    b[0] = 1.0
    return np.linalg.solve(a, b)


# --------------------------------------------------------------------------- M/M/c


def test_erlang_c_textbook_two_servers():
    # c = 2, a = 1.5: C = 9/14 (e.g. Gross & Harris, M/M/c worked example).
    assert theory.erlang_c(2, 1.5, 1.0) == pytest.approx(9 / 14, rel=1e-12)


@pytest.mark.parametrize("lam,mu", [(0.1, 1.0), (0.5, 2.0), (0.99, 1.0), (3.0, 7.0)])
def test_erlang_c_single_server_is_utilisation(lam, mu):
    assert theory.erlang_c(1, lam, mu) == pytest.approx(lam / mu, rel=1e-12)


def test_erlang_c_large_c_against_factorial_sum():
    c, a = 100, 90
    terms = [a**k / math.factorial(k) for k in range(c)]  # int/int: correctly rounded
    last = a**c / math.factorial(c) * c / (c - a)
    direct = last / (math.fsum(terms) + last)
    assert theory.erlang_c(c, float(a), 1.0) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("c,a", [(3, 2), (10, 8), (1000, 950), (1000, 999)])
def test_erlang_c_exact_rational(c, a):
    # a = λ/μ with μ = 2 to exercise the rate scaling too
    assert theory.erlang_c(c, 2.0 * a, 2.0) == pytest.approx(erlang_c_exact(c, a), rel=1e-10)


def test_erlang_c_no_load_and_unstable():
    assert theory.erlang_c(5, 0.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="unstable"):
        theory.erlang_c(2, 2.0, 1.0)
    with pytest.raises(SpecError, match="c: must be a positive integer"):
        theory.erlang_c(0, 0.5, 1.0)
    with pytest.raises(SpecError, match="mu: must be a positive number, got 0"):
        theory.erlang_c(1, 0.5, 0.0)


@pytest.mark.parametrize("lam,mu", [(0.5, 1.0), (0.9, 1.0), (4.0, 5.0)])
def test_mm1_closed_form(lam, mu):
    r = theory.mm1(lam, mu)
    rho = lam / mu
    assert r.w == pytest.approx(1 / (mu - lam), rel=EXACT)
    assert r.wq == pytest.approx(rho / (mu - lam), rel=EXACT)
    assert r.l == pytest.approx(rho / (1 - rho), rel=EXACT)
    assert r.rho == pytest.approx(rho) and r.p_wait == pytest.approx(rho)
    assert theory.littles_law_residual(r.l, lam, r.w) < 1e-12
    assert theory.littles_law_residual(r.lq, lam, r.wq) < 1e-12


def test_mmc_two_servers_textbook():
    r = theory.mmc(1.5, 1.0, 2)
    # Wq = C/(cμ − λ) = (9/14)/0.5, W = Wq + 1
    assert r.wq == pytest.approx(9 / 7, rel=1e-12)
    assert r.w == pytest.approx(16 / 7, rel=1e-12)
    assert r.lq == pytest.approx(27 / 14, rel=1e-12)
    assert r.rho == 0.75


@settings(max_examples=50, deadline=None)
@given(c=st.integers(1, 60), load=st.floats(0.01, 0.99), mu=st.floats(0.1, 10.0))
def test_mmc_little_and_bounds(c, load, mu):
    lam = load * c * mu
    r = theory.mmc(lam, mu, c)
    assert 0.0 <= r.p_wait <= 1.0
    assert r.w >= 1 / mu
    assert theory.littles_law_residual(r.l, lam, r.w) < 1e-12
    # one more server never makes an arrival more likely to wait
    assert theory.erlang_c(c + 1, lam, mu) <= r.p_wait * (1 + 1e-12)


def test_results_are_frozen():
    r = theory.mm1(0.5, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.w = 0.0
    res = theory.mva([1.0], 3)
    with pytest.raises(ValueError):
        res.throughput[0] = 0.0


# --------------------------------------------------------------------------- M/G/1 and VUT


@pytest.mark.parametrize("lam,mean_s", [(0.5, 1.0), (0.8, 1.0), (2.0, 0.3)])
def test_mg1_exponential_and_deterministic(lam, mean_s):
    mm1 = theory.mm1(lam, 1 / mean_s)
    assert theory.mg1_wq(lam, mean_s, 1.0) == pytest.approx(mm1.wq, rel=EXACT)
    assert theory.mg1_wq(lam, mean_s, 0.0) == pytest.approx(mm1.wq / 2, rel=EXACT)


def test_mg1_unstable():
    with pytest.raises(ValueError, match="unstable"):
        theory.mg1_wq(1.0, 1.0, 1.0)


@pytest.mark.parametrize("u", [0.3, 0.75, 0.95])
def test_kingman_single_server_is_exact_for_mm1(u):
    te = 2.0
    assert theory.kingman_wq(1.0, 1.0, u, te) == pytest.approx(theory.mm1(u / te, 1 / te).wq,
                                                               rel=EXACT)
    # with Poisson arrivals it is Pollaczek–Khinchine for any service SCV
    assert theory.kingman_wq(1.0, 0.25, u, te) == pytest.approx(theory.mg1_wq(u / te, te, 0.25),
                                                                rel=EXACT)


def test_kingman_multi_server_form():
    ca2, ce2, u, te, c = 0.5, 1.5, 0.8, 3.0, 4
    expected = (ca2 + ce2) / 2 * u ** (math.sqrt(2 * (c + 1)) - 1) / (c * (1 - u)) * te
    assert theory.kingman_wq(ca2, ce2, u, te, c) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError):
        theory.kingman_wq(1.0, 1.0, 1.0, te, c)


# --------------------------------------------------------------------------- priorities (Cobham)


@pytest.mark.parametrize("lams", [(0.3, 0.5), (0.1, 0.1), (0.6, 0.2), (0.2, 0.3, 0.4)])
def test_cobham_conservation_equals_mm1(lams):
    mu = 1.25
    lams = np.array(lams)
    k = lams.size
    wq = theory.cobham_wq(lams, [1 / mu] * k, [2 / mu**2] * k)
    overall = theory.mm1(lams.sum(), mu).wq
    assert float(lams @ wq / lams.sum()) == pytest.approx(overall, rel=EXACT)
    assert np.all(np.diff(wq) > 0)  # higher priority waits less


def test_cobham_textbook_two_classes():
    # λ = (0.5, 0.3), μ = 1: W0 = 0.8, Wq0 = 0.8/(1·0.5) = 1.6, Wq1 = 0.8/(0.5·0.2) = 8.
    wq = theory.cobham_wq([0.5, 0.3], [1.0, 1.0], [2.0, 2.0])
    np.testing.assert_allclose(wq, [1.6, 8.0], rtol=1e-12)


def test_cobham_single_class_is_pollaczek_khinchine():
    lam, mean, scv = 0.7, 1.1, 0.4
    wq = theory.cobham_wq([lam], [mean], [(1 + scv) * mean**2])
    assert wq[0] == pytest.approx(theory.mg1_wq(lam, mean, scv), rel=EXACT)


def test_cobham_mmc_one_server_equals_cobham_exponential():
    lams, mu = [0.2, 0.35, 0.15], 1.0
    a = theory.cobham_mmc_wq(lams, mu, 1)
    b = theory.cobham_wq(lams, [1 / mu] * 3, [2 / mu**2] * 3)
    np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("c", [2, 5, 20])
def test_cobham_mmc_conservation_equals_mmc(c):
    mu = 0.5
    lams = np.array([0.1, 0.3, 0.2]) * c * mu / 0.7  # total load 6/7
    wq = theory.cobham_mmc_wq(lams, mu, c)
    assert float(lams @ wq / lams.sum()) == pytest.approx(theory.mmc(lams.sum(), mu, c).wq,
                                                          rel=EXACT)


def test_cobham_rejects_bad_input():
    with pytest.raises(ValueError, match="unstable"):
        theory.cobham_wq([0.6, 0.5], [1.0, 1.0], [2.0, 2.0])
    with pytest.raises(SpecError, match=r"second_moments\[1\]"):
        theory.cobham_wq([0.1, 0.1], [1.0, 2.0], [2.0, 3.0])
    with pytest.raises(SpecError, match="means"):
        theory.cobham_wq([0.1, 0.1], [1.0], [2.0, 2.0])


# --------------------------------------------------------------------------- open Jackson networks


def test_jackson_line_with_rework_loop():
    lam0 = np.array([1.0, 0.0, 0.0])
    p = np.array([[0.0, 1.0, 0.0],
                  [0.0, 0.0, 1.0],
                  [0.0, 0.2, 0.0]])  # 20 % of station 3's output is reworked at station 2
    mu = np.array([2.0, 2.0, 3.0])
    res = theory.jackson_open(lam0, p, mu, np.array([1, 1, 1]))
    np.testing.assert_allclose(res.visit_ratio, [1.0, 1.25, 1.25], rtol=1e-12)
    np.testing.assert_allclose(res.arrival_rate, [1.0, 1.25, 1.25], rtol=1e-12)
    np.testing.assert_allclose(res.rho, [0.5, 0.625, 1.25 / 3], rtol=1e-12)
    w = [1 / (2 - 1), 1 / (2 - 1.25), 1 / (3 - 1.25)]
    np.testing.assert_allclose(res.w, w, rtol=1e-12)
    assert res.lead_time == pytest.approx(float(res.visit_ratio @ res.w), rel=1e-12)
    assert res.total_l == pytest.approx(float(res.arrival_rate @ res.w), rel=1e-12)


def test_jackson_tandem_sums_sojourns():
    lam = 0.8
    mu = np.array([1.0, 1.5, 4.0])
    servers = np.array([1, 2, 1])
    p = np.diag([1.0, 1.0], k=1)  # 0 → 1 → 2 → out
    res = theory.jackson_open(np.array([lam, 0.0, 0.0]), p, mu, servers)
    expected = sum(theory.mmc(lam, m, c).w for m, c in zip(mu, servers, strict=True))
    assert res.lead_time == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(res.visit_ratio, 1.0)


def test_jackson_unstable_names_station():
    p = np.array([[0.0, 1.0], [0.5, 0.0]])  # station 1 sends half back to 0
    with pytest.raises(SpecError, match=r"^station 1: unstable"):
        theory.jackson_open(np.array([1.0, 0.0]), p, np.array([3.0, 1.5]), np.array([1, 1]))


def test_jackson_rejects_trapping_routing():
    p = np.array([[0.0, 1.0], [1.0, 0.0]])  # nobody ever leaves
    with pytest.raises(SpecError, match="routing"):
        theory.jackson_open(np.array([1.0, 0.0]), p, np.array([5.0, 5.0]), np.array([1, 1]))


# --------------------------------------------------------------------------- closed networks (MVA)


@pytest.mark.parametrize("mu", [0.5, 1.0, 3.0])
def test_mva_single_station_runs_at_service_rate(mu):
    res = theory.mva([1 / mu], 8)
    np.testing.assert_allclose(res.throughput, mu, rtol=1e-12)
    np.testing.assert_allclose(res.queue_length[:, 0], np.arange(1, 9), rtol=1e-12)


def test_mva_two_balanced_stations():
    t = 2.5
    res = theory.mva([t, t], 2)
    assert res.throughput[1] * t == pytest.approx(2 / 3, rel=1e-12)
    assert res.throughput[0] * t == pytest.approx(1 / 2, rel=1e-12)


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8])
def test_mva_balanced_line_is_practical_worst_case(m):
    t = 0.7
    n = 40
    res = theory.mva([t] * m, n)
    rb, t0, w0 = theory.line_parameters(mean_times=[t] * m)
    w = np.arange(1, n + 1)
    th, ct = theory.practical_worst_case(w, rb, t0)
    np.testing.assert_allclose(res.throughput, th, rtol=1e-12)
    np.testing.assert_allclose(res.cycle_time, ct, rtol=1e-12)
    assert w0 == pytest.approx(m)


def test_mva_multiserver_with_few_jobs_is_a_delay():
    c, s = 6, 2.0
    res = theory.mva([s], c, servers=[c])
    k = np.arange(1, c + 1)
    np.testing.assert_allclose(res.throughput, k / s, rtol=1e-12)
    np.testing.assert_allclose(res.wait[:, 0], s, rtol=1e-12)


def test_mva_think_time_alone_and_with_station():
    # one fast station plus a long think time: X(1) = 1/(Z + D)
    res = theory.mva([0.5], 3, think_time=4.5)
    assert res.throughput[0] == pytest.approx(1 / 5.0, rel=1e-12)
    k = np.arange(1, 4)
    np.testing.assert_allclose(res.throughput * (res.cycle_time + 4.5), k, rtol=1e-12)


@pytest.mark.parametrize("population", [1, 2, 3, 4])
def test_mva_load_dependent_matches_ctmc(population):
    # station 0: one server, mean 1.0; station 1: two servers, mean 1.6 each (rate 1.25 total)
    rates, servers = [1.0, 1 / 1.6], [1, 2]
    routing = [[0.0, 1.0], [1.0, 0.0]]
    x_ctmc, l_ctmc = closed_ctmc(rates, servers, routing, population)
    res = theory.mva([1.0, 1.6], population, servers=servers)
    assert res.throughput[-1] == pytest.approx(x_ctmc, rel=1e-10)
    np.testing.assert_allclose(res.queue_length[-1], l_ctmc, rtol=1e-10)


def test_mva_routing_and_think_time_match_ctmc():
    # stations: 0 single server, 1 three servers, 2 two servers with rework back to 1,
    # 3 a delay (as many servers as jobs) standing in for think_time.
    population = 5
    routing = [[0.0, 1.0, 0.0, 0.0],
               [0.0, 0.0, 1.0, 0.0],
               [0.0, 0.3, 0.0, 0.7],
               [1.0, 0.0, 0.0, 0.0]]
    service = [0.4, 1.1, 0.6, 2.0]
    servers = [1, 3, 2, population]
    x_ctmc, l_ctmc = closed_ctmc([1 / s for s in service], servers, routing, population)
    v = visit_ratios(routing)
    res = theory.mva(service[:3], population, servers=servers[:3], visits=v[:3],
                     think_time=v[3] * service[3])
    assert res.throughput[-1] == pytest.approx(x_ctmc, rel=1e-10)
    np.testing.assert_allclose(res.queue_length[-1], l_ctmc[:3], rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    service=st.lists(st.floats(0.1, 5.0), min_size=2, max_size=3),
    servers=st.lists(st.integers(1, 3), min_size=3, max_size=3),
    population=st.integers(1, 4),
    stay=st.floats(0.0, 0.6),
)
def test_mva_random_networks_match_ctmc(service, servers, population, stay):
    m = len(service)
    servers = servers[:m]
    # a cyclic line where the last station sends a share `stay` of its output back one step
    routing = np.zeros((m, m))
    for j in range(m - 1):
        routing[j, j + 1] = 1.0
    routing[m - 1, 0] = 1.0 - stay
    routing[m - 1, m - 2] += stay
    x_ctmc, l_ctmc = closed_ctmc([1 / s for s in service], servers, routing, population)
    res = theory.mva(service, population, servers=servers, visits=visit_ratios(routing))
    assert res.throughput[-1] == pytest.approx(x_ctmc, rel=1e-9)
    np.testing.assert_allclose(res.queue_length[-1], l_ctmc, rtol=1e-9, atol=1e-12)


def test_mva_multiserver_bottleneck_is_numerically_stable():
    # A 4-server bottleneck at high population: the naive p(0|k) = 1 − Σ p(i|k) recursion
    # drifts to throughputs several times the bottleneck rate here.
    n = 300
    res = theory.mva([1.0, 4.0], n, servers=[1, 4])
    rate = 1.0  # both stations serve 1 job per unit time at full load
    assert np.all(res.throughput <= rate * (1 + 1e-12))
    assert np.all(np.diff(res.throughput) >= -1e-12)
    assert np.all(res.utilization <= 1 + 1e-12)
    assert np.all(res.queue_length >= 0)
    np.testing.assert_allclose(res.queue_length.sum(axis=1), np.arange(1, n + 1), rtol=1e-12)
    # a balanced two-station network tends to its bottleneck rate
    assert res.throughput[-1] == pytest.approx(rate, rel=0.02)


def test_mva_rejects_bad_input():
    with pytest.raises(SpecError, match="n: must be a positive integer"):
        theory.mva([1.0], 0)
    with pytest.raises(SpecError, match="servers"):
        theory.mva([1.0, 1.0], 2, servers=[1])
    with pytest.raises(SpecError, match=r"service\[1\]"):
        theory.mva([1.0, -1.0], 2)


# --------------------------------------------------------------------------- Factory Physics lines


def test_line_parameters_penny_fab():
    # Penny Fab One: four single machines of 2 h each (Factory Physics ch. 7)
    assert theory.line_parameters(mean_times=[2, 2, 2, 2]) == pytest.approx((0.5, 8.0, 4.0))
    assert theory.line_parameters([0.5, 0.5, 0.5, 0.5]) == pytest.approx((0.5, 8.0, 4.0))
    # Penny Fab Two: (machines, hours) = (1, 2), (2, 5), (6, 10), (2, 3): rb = 0.4, T0 = 20, W0 = 8
    rb, t0, w0 = theory.line_parameters(servers=[1, 2, 6, 2], mean_times=[2, 5, 10, 3])
    assert (rb, t0, w0) == pytest.approx((0.4, 20.0, 8.0))
    with pytest.raises(SpecError):
        theory.line_parameters()


def test_bounds_at_one_job_are_all_raw_process_time():
    rb, t0 = 0.4, 20.0
    for bound in (theory.best_case, theory.worst_case, theory.practical_worst_case):
        th, ct = bound(1, rb, t0)
        assert isinstance(th, float) and isinstance(ct, float)
        assert th == pytest.approx(1 / t0, rel=1e-12)
        assert ct == pytest.approx(t0, rel=1e-12)


def test_best_case_saturates_at_bottleneck_rate():
    rb, t0 = 0.5, 8.0
    w = np.arange(1, 21)
    th, ct = theory.best_case(w, rb, t0)
    w0 = rb * t0
    np.testing.assert_allclose(th[w >= w0], rb)
    np.testing.assert_allclose(th[w < w0], w[w < w0] / t0)
    np.testing.assert_allclose(ct, np.maximum(t0, w / rb))
    np.testing.assert_allclose(th * ct, w, rtol=1e-12)  # Little's law holds on the boundary


def test_worst_and_practical_worst_cases():
    rb, t0 = 0.5, 8.0
    w = np.array([1.0, 2.0, 4.0, 10.0, 1e3, 1e6])
    th_w, ct_w = theory.worst_case(w, rb, t0)
    np.testing.assert_allclose(th_w, 1 / t0)
    np.testing.assert_allclose(ct_w, w * t0)
    th_p, ct_p = theory.practical_worst_case(w, rb, t0)
    th_b, _ = theory.best_case(w, rb, t0)
    assert np.all(th_w <= th_p * (1 + 1e-12)) and np.all(th_p <= th_b * (1 + 1e-12))
    np.testing.assert_allclose(th_p * ct_p, w, rtol=1e-12)  # Little's law
    # PWC at the critical WIP: TH = W0/(2W0 − 1)·rb (Factory Physics)
    assert theory.practical_worst_case(4, rb, t0)[0] == pytest.approx(4 / 7 * rb, rel=1e-12)
    assert th_p[-1] == pytest.approx(rb, rel=1e-5)
    assert np.all(np.diff(th_p) > 0)


def test_bounds_reject_wip_below_one():
    with pytest.raises(SpecError, match="w: must be a WIP level >= 1"):
        theory.practical_worst_case(0.5, 1.0, 2.0)


# --------------------------------------------------------------------------- Little's law helper


def test_littles_law_residual():
    assert theory.littles_law_residual(2.0, 0.5, 4.0) == 0.0
    assert theory.littles_law_residual(2.0, 0.5, 4.4) == pytest.approx(0.1)
    assert theory.littles_law_residual(0.0, 0.0, 3.0) == 0.0
    assert theory.littles_law_residual(0.0, 1.0, 3.0) == math.inf


# --------------------------------------------------------------------------- fork/join: the formulas


def fork_join_ctmc(lam: float, mu: float, k: int, cap: int) -> tuple[float, float]:
    """Mean response time and mean join wait of a K-way fork/join of M/M/1 queues, from the
    stationary distribution of its CTMC (queue lengths N_1..N_K, each truncated at ``cap``:
    an arrival finding a queue at cap is lost).

    The queues are FIFO and fed by the same arrivals, so the jobs not yet done are the last
    max_j N_j to have arrived, and those with some but not all tasks done the last
    max N − min N. Little's law then gives R = E[max N]/λ' and join wait = E[max N − min N]/λ',
    λ' the accepted rate. Truncation moves probability of order ρ^cap.
    """
    shape = (cap + 1,) * k
    states = np.indices(shape).reshape(k, -1).T
    size = len(states)
    every = np.arange(size)
    room = (states < cap).all(axis=1)
    src, dst, rate = [every[room]], [np.ravel_multi_index((states[room] + 1).T, shape)], [
        np.full(int(room.sum()), lam)]
    for j in range(k):
        busy = states[:, j] > 0
        after = states[busy].copy()
        after[:, j] -= 1
        src.append(every[busy])
        dst.append(np.ravel_multi_index(after.T, shape))
        rate.append(np.full(int(busy.sum()), mu))
    src, dst, rate = (np.concatenate(x) for x in (src, dst, rate))
    # balance Qᵀπ = 0 (Q[s, d] = rate, Q[s, s] = −outflow); the last equation becomes Σπ = 1
    rows = np.concatenate([dst, every])
    cols = np.concatenate([src, every])
    vals = np.concatenate([rate, -np.bincount(src, rate, size)])
    keep = rows != size - 1
    a = sparse.csc_matrix((np.concatenate([vals[keep], np.ones(size)]),
                           (np.concatenate([rows[keep], np.full(size, size - 1)]),
                            np.concatenate([cols[keep], every]))), shape=(size, size))
    b = np.zeros(size)
    b[-1] = 1.0
    pi = sparse_linalg.spsolve(a, b, permc_spec="MMD_AT_PLUS_A")
    accepted = lam * pi[room].sum()
    high, low = states.max(axis=1), states.min(axis=1)
    return float(pi @ high / accepted), float(pi @ (high - low) / accepted)


def harmonic(k: int) -> Fraction:
    return sum((Fraction(1, i) for i in range(1, k + 1)), Fraction(0))


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.8])
def test_fork_join_2_is_the_two_queue_markov_chain(rho):
    # Flatto–Hahn against the brute-force CTMC: truncation error below ρ^cap·cap/(1−ρ)² ≈ 1e-12
    mu = 2.0
    cap = math.ceil(math.log(1e-14 * (1 - rho) ** 2) / math.log(rho))
    response, join_wait = fork_join_ctmc(rho * mu, mu, 2, cap)
    assert response == pytest.approx(theory.fork_join_2(rho * mu, mu), rel=EXACT)
    assert join_wait == pytest.approx(theory.fork_join_2_join_wait(rho * mu, mu), rel=EXACT)


def test_fork_join_hand_values():
    # K = 4, ρ = 1/2, μ = 1: H_4/H_2 = 25/18, bracket 25/18 − (4/11)(7/18)/2 = 29/22,
    # R_2 = 11.5/4 = 23/8, so R_4 ≈ 667/176; bounds max(25/12, 2) and 25/6.
    assert theory.fork_join_nelson_tantawi(0.5, 1.0, 4) == pytest.approx(667 / 176, rel=1e-12)
    assert theory.fork_join_bounds(0.5, 1.0, 4) == pytest.approx((25 / 12, 25 / 6), rel=1e-12)
    assert theory.fork_join_2(0.5, 1.0) == pytest.approx(23 / 8, rel=1e-12)
    assert theory.fork_join_2_join_wait(0.5, 1.0) == pytest.approx(7 / 4, rel=1e-12)  # (1 − 1/8)/0.5


@pytest.mark.parametrize("k", [1, 2, 4, 16, 100])
def test_fork_join_light_load_limit_is_harmonic_over_mu(k):
    mu = 4.0
    limit = float(harmonic(k)) / mu
    assert theory.fork_join_bounds(0.0, mu, k) == pytest.approx((limit, limit), rel=1e-12)
    if k >= 2:
        assert theory.fork_join_nelson_tantawi(0.0, mu, k) == pytest.approx(limit, rel=1e-12)
        # and continuously so: O(λ) above the limit
        assert theory.fork_join_nelson_tantawi(1e-9, mu, k) == pytest.approx(limit, rel=1e-8)


@pytest.mark.parametrize("lam,mu", [(0.3, 1.0), (1.6, 2.0), (0.99, 1.0)])
def test_fork_join_reduces_to_known_cases(lam, mu):
    w = theory.mm1(lam, mu).w
    assert theory.fork_join_bounds(lam, mu, 1) == pytest.approx((w, w), rel=EXACT)  # K = 1: M/M/1
    r2 = theory.fork_join_2(lam, mu)
    assert theory.fork_join_nelson_tantawi(lam, mu, 2) == pytest.approx(r2, rel=EXACT)
    # Thomasian's decomposition: R_2 = R + S_2, S_2 = (1/2)(1 − ρ/4)R (the mean task's sync wait)
    assert r2 == pytest.approx(w + 0.5 * (1 - lam / mu / 4) * w, rel=EXACT)
    assert theory.fork_join_2_join_wait(lam, mu) == pytest.approx(2 * (r2 - w), rel=EXACT)


@settings(max_examples=200, deadline=None)
@given(k=st.integers(2, 64), rho=st.floats(0.0, 0.999), mu=st.floats(0.01, 100.0))
def test_nelson_tantawi_lies_within_the_bounds_and_grows(k, rho, mu):
    lam = rho * mu
    low, high = theory.fork_join_bounds(lam, mu, k)
    approx = theory.fork_join_nelson_tantawi(lam, mu, k)
    assert low * (1 - 1e-12) <= approx <= high * (1 + 1e-12)
    assert theory.fork_join_nelson_tantawi(lam, mu, k + 1) > approx
    assert theory.fork_join_nelson_tantawi(min(lam * 1.01 + 1e-6, 0.9995 * mu), mu, k) > approx


def test_fork_join_rejects_bad_input():
    with pytest.raises(SpecError, match=r"^lam: unstable: lam = 1 >= mu = 1"):
        theory.fork_join_2(1.0, 1.0)
    with pytest.raises(SpecError, match=r"^lam: unstable"):
        theory.fork_join_bounds(3.0, 2.0, 4)
    with pytest.raises(SpecError, match=r"^mu: must be a positive number, got 0"):
        theory.fork_join_2_join_wait(0.0, 0.0)
    with pytest.raises(SpecError, match=r"^k: must be a positive integer, got 2.5"):
        theory.fork_join_bounds(0.5, 1.0, 2.5)
    with pytest.raises(SpecError, match=r"^k: must be an integer >= 2 \(K = 1 is M/M/1: use mm1\), got 1$"):
        theory.fork_join_nelson_tantawi(0.5, 1.0, 1)
    with pytest.raises(SpecError, match=r"^lam: must be a non-negative number, got -0.1"):
        theory.fork_join_nelson_tantawi(-0.1, 1.0, 3)


# --------------------------------------------------------------------------- fork/join: simulated
#
# A reference simulation (tests/forkjoin_reference.py: Lindley's recursion per queue, the job's
# response the max over its K tasks) gives R = 10 independent replications per case, each
# starting empty, discarding WARMUP jobs, and averaging the next `jobs`. The tolerance follows
# docs/validation.md §2 (t_interval of test_theory_validation): the 99.9 % Student-t interval
# mean ± t_{0.9995, 9}·s/√10 of the replication means must contain the exact value (Flatto–Hahn)
# or meet the range the theory allows (the bounds; Nelson–Tantawi's published ±5 %), and its
# half-width must stay below `rel_width` of the theory (about twice the half-width measured over
# 8 seeds at writing time) so that the comparison has power. Warmup: a queue started empty
# relaxes on the time scale 1/(μ(1 − √ρ)²) (Kleinrock), 89/μ at ρ = 0.8, i.e. about 70 jobs;
# 5,000 jobs is over 70 of them, leaving a bias below any resolvable size. At writing time, over
# 8 seeds: |mean − Flatto–Hahn| ≤ 0.61 half-widths; Nelson–Tantawi underestimates by 0.1-0.8 %
# at ρ = 0.3, 1.2-2.3 % at ρ = 0.6 and 2.2-3.3 % at ρ = 0.8 (K = 4, 8, 16), within its 5 %.

WARMUP = 5_000
NT_ACCURACY = 0.05
"""Nelson & Tantawi (1988): relative error below 5 % for K ≤ 32."""


def assert_interval_meets(values, low: float, high: float, *, scale: float, rel_width: float,
                          what: str) -> None:
    """The 99.9 % t-interval of the replication values meets [low, high] (the values theory
    allows), and its half-width is below rel_width·scale (power)."""
    mean, half = t_interval(values)
    msg = (f"{what}: simulated {mean:.5g} ± {half:.3g} ({LEVEL:.1%} t-interval, {len(values)} "
           f"replications) vs theory [{low:.5g}, {high:.5g}]")
    print(msg)
    assert mean + half >= low and mean - half <= high, msg + ": outside what theory allows"
    assert half <= rel_width * scale, msg + f": half-width {half / scale:.2%} > {rel_width:.1%}"


def lindley_loop(arrival: np.ndarray, service: np.ndarray) -> np.ndarray:
    """Lindley's recursion D_n = max(D_{n−1}, a_n) + S_n, literally, queue by queue, from empty."""
    done = np.empty_like(service)
    for j in range(service.shape[1]):
        previous = -math.inf
        for n in range(service.shape[0]):
            previous = done[n, j] = max(previous, arrival[n]) + service[n, j]
    return done


def test_reference_is_lindley_recursion():
    rng = np.random.default_rng(11)
    arrival = np.cumsum(rng.exponential(1.0, 40))
    service = rng.exponential(0.9, (40, 3))
    first = lindley_done(arrival[:13], service[:13], np.full(3, -np.inf))
    rest = lindley_done(arrival[13:], service[13:], first[-1])  # carried across blocks
    np.testing.assert_allclose(np.vstack([first, rest]), lindley_loop(arrival, service), rtol=1e-13)
    # by hand: arrivals 0, 1, 1.5 with services 2, 0.5, 1 leave at 2, 2.5, 3.5
    done = lindley_done(np.array([0.0, 1.0, 1.5]), np.array([[2.0], [0.5], [1.0]]), np.array([-np.inf]))
    np.testing.assert_allclose(done[:, 0], [2.0, 2.5, 3.5])


def test_reference_jobs_follow_their_draws():
    # fork_join_jobs in blocks of 7 against the literal recursion on the same draws (each block
    # draws its 7 interarrival times, then its 7×K service times)
    lam, mu, k, n, block = 0.7, 1.0, 3, 40, 7
    response, join_wait = fork_join_jobs(lam, mu, k, n, np.random.default_rng(5), chunk=block)
    rng = np.random.default_rng(5)
    gaps, service = [], []
    for start in range(0, n, block):
        m = min(block, n - start)
        gaps.append(rng.exponential(1 / lam, m))
        service.append(rng.exponential(1 / mu, (m, k)))
    arrival = np.cumsum(np.concatenate(gaps))
    done = lindley_loop(arrival, np.vstack(service))
    np.testing.assert_allclose(response, done.max(axis=1) - arrival, rtol=1e-12)
    np.testing.assert_allclose(join_wait, done.max(axis=1) - done.min(axis=1), rtol=1e-12, atol=1e-12)
    assert (join_wait > 0).all() and (response >= join_wait).all()


def test_reference_single_queue_is_mm1():
    response, _ = replication_means(0.6, 1.0, 1, jobs=100_000, warmup=WARMUP, reps=R, seed=1)
    assert_matches(response, theory.mm1(0.6, 1.0).w, rel_width=0.025, what="M/M/1 response")


FLATTO_HAHN_CASES = [
    # rho, jobs, rel_width (response), rel_width (join wait)
    pytest.param(0.3, 100_000, 0.015, 0.02, id="rho0.3"),
    pytest.param(0.6, 200_000, 0.025, 0.03, id="rho0.6"),
    pytest.param(0.8, 400_000, 0.035, 0.045, id="rho0.8"),
    pytest.param(0.8, 2_000_000, 0.02, 0.025, marks=pytest.mark.slow, id="rho0.8-long"),
]


@pytest.mark.parametrize("rho,jobs,width,join_width", FLATTO_HAHN_CASES)
def test_fork_join_2_matches_flatto_hahn(rho, jobs, width, join_width):
    # The half-widths (0.7 %, 1.1 %, 1.8 %) are below the gap between Flatto–Hahn and the
    # independent-queues upper bound H_2/(μ − λ) (2.6 %, 5.3 %, 7.1 %): the test sees that the
    # two tasks' sojourns are dependent.
    mu = 1.0
    response, join_wait = replication_means(rho * mu, mu, 2, jobs=jobs, warmup=WARMUP, reps=R,
                                            seed=13)
    assert_matches(response, theory.fork_join_2(rho * mu, mu), rel_width=width,
                   what=f"K=2 rho={rho} response")
    assert_matches(join_wait, theory.fork_join_2_join_wait(rho * mu, mu), rel_width=join_width,
                   what=f"K=2 rho={rho} join wait")


FORK_JOIN_K_CASES = [
    # k, rho, jobs, rel_width
    *(pytest.param(k, 0.05, 20_000, 0.015, id=f"K{k}-rho0.05") for k in (4, 16)),
    *(pytest.param(k, 0.6, 100_000, 0.03, id=f"K{k}-rho0.6") for k in (4, 8, 16)),
    *(pytest.param(k, 0.3, 200_000, 0.01, marks=pytest.mark.slow, id=f"K{k}-rho0.3") for k in (4, 8, 16)),
    *(pytest.param(k, 0.8, 1_000_000, 0.02, marks=pytest.mark.slow, id=f"K{k}-rho0.8") for k in (4, 8, 16)),
]


@pytest.mark.parametrize("k,rho,jobs,width", FORK_JOIN_K_CASES)
def test_fork_join_k_within_bounds_and_nelson_tantawi(k, rho, jobs, width):
    # At ρ = 0.05 the bounds are H_K/μ and H_K/(0.95μ): the light-load limit, within 5.3 %.
    mu = 1.0
    lam = rho * mu
    response, _ = replication_means(lam, mu, k, jobs=jobs, warmup=WARMUP, reps=R, seed=17)
    low, high = theory.fork_join_bounds(lam, mu, k)
    approx = theory.fork_join_nelson_tantawi(lam, mu, k)
    assert_interval_meets(response, low, high, scale=approx, rel_width=width,
                          what=f"K={k} rho={rho} bounds")
    # |approx − R_K| ≤ 5 % of R_K  ⇔  approx/1.05 ≤ R_K ≤ approx/0.95
    assert_interval_meets(response, approx / (1 + NT_ACCURACY), approx / (1 - NT_ACCURACY),
                          scale=approx, rel_width=width, what=f"K={k} rho={rho} Nelson–Tantawi")


# --------------------------------------------------------------------------- heterogeneous servers


def two_server_ctmc(lam: float, mu1: float, mu2: float, rule: str, cap: int) -> dict[str, float]:
    """The heterogeneous M/M/2's figures from the stationary distribution of its CTMC, built from
    the dispatch rules alone on states (busy1, busy2, queue), queue ≤ cap (an arrival finding the
    queue at cap is lost: truncation moves probability of order ρ^cap), solved densely.
    """
    first = 0 if rule == "order" or mu1 >= mu2 else 1
    states = [(0, 0, 0), (1, 0, 0), (0, 1, 0)] + [(1, 1, q) for q in range(cap + 1)]
    index = {x: i for i, x in enumerate(states)}
    q = np.zeros((len(states), len(states)))
    for (b1, b2, waiting), i in index.items():
        if not b1 and not b2:
            q[i, index[(1, 0, 0) if first == 0 else (0, 1, 0)]] += lam
        elif not (b1 and b2):
            q[i, index[(1, 1, 0)]] += lam  # the free server takes it
        elif waiting < cap:
            q[i, index[(1, 1, waiting + 1)]] += lam
        for server, (busy, rate) in enumerate(((b1, mu1), (b2, mu2))):
            if not busy:
                continue
            if waiting:  # the freed server takes the head of the queue
                q[i, index[(1, 1, waiting - 1)]] += rate
            else:
                q[i, index[(b1 * (server != 0), b2 * (server != 1), 0)]] += rate
    np.fill_diagonal(q, -q.sum(axis=1))
    a = q.T.copy()
    a[-1] = 1.0  # replace one balance equation by Σπ = 1
    b = np.zeros(len(states))
    b[-1] = 1.0
    pi = np.linalg.solve(a, b)
    n = np.array([b1 + b2 + w for b1, b2, w in states])
    busy1 = np.array([b1 for b1, _, _ in states], dtype=float)
    busy2 = np.array([b2 for _, b2, _ in states], dtype=float)
    accepted = lam * (1.0 - pi[-1])
    u1, u2 = float(pi @ busy1), float(pi @ busy2)
    return dict(p0=pi[0], p1_1=pi[1], p1_2=pi[2], p2=pi[3], p_wait=float(pi[3:].sum()), u1=u1, u2=u2,
                share1=mu1 * u1 / accepted, l=float(pi @ n), lq=float(pi @ np.maximum(n - 2, 0)),
                w=float(pi @ n) / accepted, p5=float(pi[n == 5].sum()))


def closed_form_figures(res: theory.TwoServerResult) -> dict[str, float]:
    return dict(p0=res.p0, p1_1=res.p1[0], p1_2=res.p1[1], p2=res.p2, p_wait=res.p_wait,
                u1=res.utilization[0], u2=res.utilization[1], share1=res.share[0], l=res.l,
                lq=res.lq, w=res.w, p5=res.p(5))


def ctmc_cap(rho: float) -> int:
    """Queue length at which ρ^cap·cap/(1 − ρ)² (the truncation's effect on L) is below 1e-13."""
    return max(10, math.ceil(math.log(1e-13 * (1 - rho) ** 2) / math.log(rho)) + 10)


@pytest.mark.parametrize("rule", ["order", "fastest"])
@pytest.mark.parametrize("mu1,mu2,rho", [(1.0, 0.5, 0.6), (0.5, 1.0, 0.6), (0.25, 2.0, 0.3),
                                         (3.0, 0.2, 0.9), (1.0, 1.0, 0.8)])
def test_mm2_heterogeneous_is_its_markov_chain(mu1, mu2, rho, rule):
    lam = rho * (mu1 + mu2)
    chain = two_server_ctmc(lam, mu1, mu2, rule, ctmc_cap(rho))
    closed = closed_form_figures(theory.mm2_heterogeneous(lam, mu1, mu2, rule))
    for name, value in chain.items():
        assert closed[name] == pytest.approx(value, rel=EXACT, abs=1e-13), name


@settings(max_examples=40, deadline=None)
@given(mu1=st.floats(0.05, 20.0), mu2=st.floats(0.05, 20.0), rho=st.floats(0.01, 0.95),
       rule=st.sampled_from(["order", "fastest"]))
def test_mm2_heterogeneous_random_rates_match_the_chain(mu1, mu2, rho, rule):
    lam = rho * (mu1 + mu2)
    chain = two_server_ctmc(lam, mu1, mu2, rule, ctmc_cap(rho))
    res = theory.mm2_heterogeneous(lam, mu1, mu2, rule)
    closed = closed_form_figures(res)
    for name in ("p0", "p1_1", "p1_2", "p_wait", "u1", "u2", "l", "w"):
        assert closed[name] == pytest.approx(chain[name], rel=1e-8, abs=1e-12), name
    # identities: the servers complete λ; Σ P(n) = 1 and Σ n P(n) = L; L = Lq + U1 + U2
    assert mu1 * res.utilization[0] + mu2 * res.utilization[1] == pytest.approx(lam, rel=1e-12)
    assert sum(res.share) == pytest.approx(1.0, rel=1e-12)
    tail = res.p2 / (1 - res.rho)
    assert res.p0 + sum(res.p1) + tail == pytest.approx(1.0, rel=1e-12)
    assert res.p_wait == pytest.approx(tail, rel=1e-12)
    assert res.l == pytest.approx(res.lq + sum(res.utilization), rel=1e-12)
    assert res.w == pytest.approx(res.l / lam, rel=1e-12)
    assert res.wq == pytest.approx(res.lq / lam, rel=1e-12)


def test_mm2_heterogeneous_hand_values():
    # λ = 1, μ1 = 1, μ2 = 1/2, order (server 1 first): ρ = 2/3, a = 1; relative to p0:
    # p2 = 1·(1 + 1/2)/((1/2)(2 + 3/2)) = 6/7, p(1,1) = (1 + (1/2)(6/7))/2 = 5/7,
    # p(1,2) = (6/7)/(3/2) = 4/7, normaliser 1 + 5/7 + 4/7 + 3·6/7 = 34/7; L = 9/34 + (6/34)·12.
    res = theory.mm2_heterogeneous(1.0, 1.0, 0.5)
    assert (res.p0, *res.p1, res.p2) == pytest.approx((7 / 34, 5 / 34, 4 / 34, 6 / 34), rel=1e-14)
    assert res.l == pytest.approx(81 / 34, rel=1e-14) and res.w == pytest.approx(81 / 34, rel=1e-14)
    assert res.lq == pytest.approx(36 / 34, rel=1e-14)  # p2·ρ/(1 − ρ)² = (6/34)·6
    assert res.utilization == pytest.approx((23 / 34, 22 / 34), rel=1e-14)  # p(1,i) + 18/34
    assert res.p(0) == res.p0 and res.p(1) == pytest.approx(9 / 34) and res.p(-1) == 0.0
    assert res.p(4) == pytest.approx(6 / 34 * 4 / 9, rel=1e-14)


@pytest.mark.parametrize("lam,mu1,mu2", [(0.3, 1.0, 0.5), (1.4, 1.0, 0.5), (2.0, 4.0, 0.1)])
def test_mm2_heterogeneous_fastest_has_the_textbook_form(lam, mu1, mu2):
    # An independent algebraic form of the faster-first L (μ1 > μ2), as textbook exercises
    # state it: L = 1/(A(1 − ρ)²), A = μ1μ2(1 + 2ρ)/(λ(λ + μ2)) + 1/(1 − ρ).
    rho = lam / (mu1 + mu2)
    a = mu1 * mu2 * (1 + 2 * rho) / (lam * (lam + mu2)) + 1 / (1 - rho)
    for res in (theory.mm2_heterogeneous(lam, mu1, mu2, "fastest"),
                theory.mm2_heterogeneous(lam, mu1, mu2, "order"),
                theory.mm2_heterogeneous(lam, mu2, mu1, "fastest")):
        assert res.l == pytest.approx(1 / (a * (1 - rho) ** 2), rel=1e-12)


@pytest.mark.parametrize("lam,mu", [(0.0, 1.0), (0.5, 1.0), (1.2, 1.0), (1.98, 1.0), (7.0, 5.0)])
def test_mm2_heterogeneous_equal_rates_is_mm2(lam, mu):
    plain = theory.mmc(lam, mu, 2)
    for rule in ("order", "fastest"):
        res = theory.mm2_heterogeneous(lam, mu, mu, rule)
        assert (res.w, res.wq, res.l, res.lq, res.p_wait) == pytest.approx(
            (plain.w, plain.wq, plain.l, plain.lq, plain.p_wait), rel=1e-12, abs=1e-15)
        assert sum(res.utilization) / 2 == pytest.approx(plain.rho, rel=1e-12, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(slow=st.floats(0.01, 10.0), ratio=st.floats(1.001, 100.0), rho=st.floats(0.0, 0.999))
def test_mm2_heterogeneous_rules_and_list_order(slow, ratio, rho):
    fast = slow * ratio
    lam = rho * (slow + fast)
    fastest = theory.mm2_heterogeneous(lam, slow, fast, "fastest")
    fast_first = theory.mm2_heterogeneous(lam, fast, slow, "order")
    slow_first = theory.mm2_heterogeneous(lam, slow, fast, "order")
    # fastest ignores the list order: it is order with the faster server listed first, mirrored
    # (ties, ratio 1, go to the first: then fastest is order)
    assert fastest.utilization == pytest.approx(fast_first.utilization[::-1], rel=1e-12, abs=1e-300)
    assert fastest.p1 == pytest.approx(fast_first.p1[::-1], rel=1e-12, abs=1e-300)
    assert fastest.w == pytest.approx(fast_first.w, rel=1e-12)
    assert theory.mm2_heterogeneous(lam, fast, slow, "fastest") == dataclasses.replace(fast_first,
                                                                                        rule="fastest")
    # sending the lone job to the slow server never helps
    assert fastest.w <= slow_first.w * (1 + 1e-12) and fastest.l <= slow_first.l * (1 + 1e-12) + 1e-300


def test_mm2_heterogeneous_light_load_is_the_chosen_server():
    assert theory.mm2_heterogeneous(0.0, 0.5, 2.0, "order").w == pytest.approx(2.0, rel=1e-15)
    assert theory.mm2_heterogeneous(0.0, 0.5, 2.0, "fastest").w == pytest.approx(0.5, rel=1e-15)
    assert theory.mm2_heterogeneous(0.0, 0.5, 2.0, "fastest").share == (0.0, 1.0)
    # and continuously so
    assert theory.mm2_heterogeneous(1e-9, 0.5, 2.0, "order").w == pytest.approx(2.0, rel=1e-8)


def test_mm2_heterogeneous_fastest_is_not_optimal():
    # Lin & Kumar (1984): the optimal rule keeps the slow server idle below a queue threshold.
    # With μ1 = 10, μ2 = 0.1, λ = 1, the non-idling faster-first rule sends a job that finds the
    # fast server busy (about 1 in 10) to a server 100 times slower: W is five times that of
    # the fast server alone, which is stable on its own here (M/M/1, W = 1/9).
    both = theory.mm2_heterogeneous(1.0, 10.0, 0.1, "fastest")
    alone = theory.mm1(1.0, 10.0)
    assert both.w > 5 * alone.w
    assert both.w == pytest.approx(0.5601894518, rel=1e-9)


def test_mm2_heterogeneous_rejects_bad_input():
    with pytest.raises(SpecError, match=r"^lam: unstable: lam = 1.5 >= mu1 \+ mu2 = 1.5 \(rho = 1\)"):
        theory.mm2_heterogeneous(1.5, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"^mu2: must be a positive number, got 0$"):
        theory.mm2_heterogeneous(0.1, 1.0, 0)
    with pytest.raises(SpecError, match=r"^rule: must be 'order' or 'fastest', got 'random'$"):
        theory.mm2_heterogeneous(0.1, 1.0, 0.5, "random")
    with pytest.raises(SpecError, match=r"^lam: must be a non-negative number, got -1"):
        theory.mm2_heterogeneous(-1, 1.0, 0.5, "fastest")


# --------------------------------------------------------------------------- heterogeneous: simulated
#
# The reference simulation (tests/twoserver_reference.py) gives R = 10 independent replications
# per case, each starting empty, discarding WARMUP jobs and measuring over the arrivals of the
# next `jobs`: time averages of N, of the states 0, (1, 1), (1, 2), N ≥ 2 and of each server
# busy, and the mean response time and server-1 share of those jobs. The tolerance is §2's
# (assert_matches): the 99.9 % t-interval contains the exact value and its half-width is below
# HETERO_WIDTHS (about twice the largest half-width over 8 seeds at writing time, rounded up
# to 0.5 %: the power). At writing time, over 8 seeds × 6 cases × 9 figures, |mean − theory|
# was at most 0.76 half-widths.

HETERO_WIDTHS = {
    # rho: {figure: rel_width}
    0.3: dict(w=0.02, l=0.025, p0=0.02, p1_1=0.055, p1_2=0.055, p_wait=0.04, u1=0.03, u2=0.03,
              share1=0.02),
    0.6: dict(w=0.03, l=0.035, p0=0.03, p1_1=0.04, p1_2=0.04, p_wait=0.025, u1=0.02, u2=0.02,
              share1=0.015),
    0.85: dict(w=0.045, l=0.045, p0=0.045, p1_1=0.035, p1_2=0.035, p_wait=0.01, u1=0.01, u2=0.01,
               share1=0.01),
}


def test_reference_two_server_path_by_hand():
    # μ = (1, 1/2); works 2, 1, 1, 1; arrivals 0, 0.5, 1, 4.
    arrival, work = np.array([0.0, 0.5, 1.0, 4.0]), np.array([2.0, 1.0, 1.0, 1.0])
    start, done, server = two_server_fifo(arrival, work, (1.0, 0.5), first=0)
    # job 0 finds both free (server 1); job 1 the free server 2 (1/0.5 = 2); job 2 both busy,
    # server 1 frees first (2 < 2.5); job 3 both free again
    np.testing.assert_array_equal(start, [0.0, 0.5, 2.0, 4.0])
    np.testing.assert_array_equal(done, [2.0, 2.5, 3.0, 5.0])
    np.testing.assert_array_equal(server, [0, 1, 0, 0])
    # N = 1, 2, 3, 2, 1, 0, 1 on [0, .5, 1, 2, 2.5, 3, 4, 5]: the job at server 1 alone on
    # [0, .5), [2.5, 3), [4, 5)
    stats = dict(zip(STATS, path_stats(arrival, start, done, server, 0.0, 5.0), strict=True))
    assert stats == pytest.approx(dict(w=7 / 4, l=7 / 5, p0=1 / 5, p1_1=2 / 5, p1_2=0.0, p_wait=2 / 5,
                                       u1=4 / 5, u2=2 / 5, share1=3 / 4), rel=1e-14, abs=1e-15)
    # server 2 first: it is free again exactly when job 3 arrives (4), so job 3 finds both free
    start, done, server = two_server_fifo(arrival, work, (1.0, 0.5), first=1)
    np.testing.assert_array_equal(server, [1, 0, 0, 1])
    np.testing.assert_array_equal(done, [4.0, 1.5, 2.5, 6.0])


def test_reference_equal_speeds_is_mm2():
    # two servers at speed s: M/M/2 with rate s·μ (nothing else than mmc is needed for speeds)
    speed, mu, lam = 0.5, 2.0, 1.4
    out = replication_stats(lam, (speed * mu, speed * mu), 0, jobs=100_000, warmup=WARMUP, reps=R, seed=23)
    plain = theory.mmc(lam, speed * mu, 2)
    assert_matches(out["w"], plain.w, rel_width=0.03, what="two servers at speed 0.5: W")
    assert_matches(out["p_wait"], plain.p_wait, rel_width=0.03, what="two servers at speed 0.5: P(wait)")


HETERO_CASES = [
    # mu1, mu2, rho, rule, jobs, figures whose interval must exclude the other rule's value
    pytest.param(0.5, 1.0, 0.3, "order", 100_000, ("w", "p1_1", "share1"), id="slow-first-rho0.3"),
    pytest.param(0.5, 1.0, 0.3, "fastest", 100_000, ("w", "p1_1", "share1"), id="fastest-rho0.3"),
    pytest.param(0.5, 1.0, 0.6, "order", 200_000, ("w", "p1_1", "share1"), id="slow-first-rho0.6"),
    pytest.param(0.5, 1.0, 0.6, "fastest", 200_000, ("w", "p1_1", "share1"), id="fastest-rho0.6"),
    # at ρ = 0.85 both servers are mostly busy: the rules' W differ by 1.8 %, below the 2.2 %
    # half-width, but who holds the lone job still tells them apart
    pytest.param(0.5, 1.0, 0.85, "order", 1_000_000, ("p1_1", "share1"), marks=pytest.mark.slow,
                 id="slow-first-rho0.85"),
    pytest.param(0.5, 1.0, 0.85, "fastest", 1_000_000, ("p1_1", "share1"), marks=pytest.mark.slow,
                 id="fastest-rho0.85"),
]


@pytest.mark.parametrize("mu1,mu2,rho,rule,jobs,sees", HETERO_CASES)
def test_mm2_heterogeneous_matches_the_reference(mu1, mu2, rho, rule, jobs, sees):
    lam = rho * (mu1 + mu2)
    first = 0 if rule == "order" or mu1 >= mu2 else 1
    out = replication_stats(lam, (mu1, mu2), first, jobs=jobs, warmup=WARMUP, reps=R, seed=29)
    want = closed_form_figures(theory.mm2_heterogeneous(lam, mu1, mu2, rule))
    for name in STATS:
        assert_matches(out[name], want[name], rel_width=HETERO_WIDTHS[rho][name],
                       what=f"{rule} mu=({mu1}, {mu2}) rho={rho}: {name}")
    # power: the test sees the rule (the other rule's W is 5 to 19 half-widths away at ρ ≤ 0.6)
    other = closed_form_figures(theory.mm2_heterogeneous(lam, mu1, mu2, "fastest" if rule == "order" else "order"))
    for name in sees:
        mean, half = t_interval(out[name])
        assert abs(mean - other[name]) > 3 * half, (
            f"{name} {mean:.5g} ± {half:.3g} cannot tell the other rule ({other[name]:.5g})")
