"""vssim.analysis.theory against textbook values, exact identities and brute-force Markov chains.

Every comparison is exact up to floating-point rounding (rel=1e-9 or tighter): these are
closed forms, not estimates, so no statistical tolerance applies here.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
