"""The simulator against queueing theory (docs/validation.md), with tolerances from confidence intervals.

Every statistical comparison here follows one recipe:

* run R = 10 independent replications (fixed seed, so the test is deterministic);
* take one value per replication (its mean over the window after warmup);
* build the Student-t interval of the mean of those R values at the confidence level
  ``LEVEL`` = 99.9 %, i.e. mean ± t_{0.9995, R−1} · s / √R (t = 4.78 for R = 10);
* assert that the theoretical value lies inside that interval (a correct engine fails one
  comparison with probability 0.1 %; the file makes about 50, so about 5 % for a fresh seed:
  hence the wide level, and fixed seeds), and
* assert that the interval is narrow: its half-width below ``rel_width`` × theory, stated per
  case, so that the test has power (a discrepancy of that size would be caught). The bounds are
  about twice the typical half-width (measured over 8 seeds when this file was written), so that
  they survive a change of random streams but fail if a run is made too short to resolve them.

No tolerance is guessed: the acceptance interval comes from the replications themselves; the
only numbers chosen are the level and the power bounds. Little's law is checked on every run of
this file (``check_littles_law``) against an exact edge-effect bound, not a statistical one.
In a sweep over 8 other seeds at writing time, the largest |sim − theory| / half-width of any
comparison was 0.91 (all inside), and no Little's-law bound was exceeded.

The default cases take about 17 s of CPU on one core; ``slow`` cases are longer runs of the
same comparisons at ρ = 0.8 (``make test-full``).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import vssim
from vssim.analysis import theory

R = 10
"""Replications per case."""
LEVEL = 0.999
"""Confidence level of the acceptance interval (two-sided Student-t over replication means)."""


# --------------------------------------------------------------------------- helpers


def t_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Mean and half-width of the Student-t interval of the mean of independent values."""
    v = np.asarray(values, dtype=float)
    assert v.size >= 2 and np.isfinite(v).all(), f"need >= 2 finite replication values, got {v}"
    half = stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean()), float(half)


def assert_matches(values, expected: float, *, rel_width: float, what: str) -> tuple[float, float]:
    """Theory inside the 99.9 % t-interval of the replication values, and the interval narrow.

    ``rel_width`` bounds the half-width relative to the theoretical value (the power of the test).
    """
    mean, half = t_interval(values)
    msg = (f"{what}: simulated {mean:.5g} ± {half:.3g} ({LEVEL:.1%} t-interval, "
           f"{len(values)} replications) vs theory {expected:.5g}")
    print(msg)
    assert abs(mean - expected) <= half, msg + ": theory outside the interval"
    assert half <= rel_width * abs(expected), (
        msg + f": interval too wide to have power (half-width {half / abs(expected):.2%} "
              f"> {rel_width:.0%} of theory)")
    return mean, half


def check_littles_law(res) -> None:
    """Little's law on each replication, within its exact edge-effect bound.

    Over the window [lo, hi] with span S, A = wip·S = ∫ N(t) dt is the sum over items of the
    overlap of [commit, done) with the window, and B = throughput·S·flow_time = |D|·mean_F,
    with D = items done in the window and F = items arriving after lo that are done (F ⊆ D;
    their whole flow time lies in the window). Hence exactly

        A − B = E1 − E2,   E1 = Σ_{i∉F} overlap_i  (items straddling lo or still open at hi),
                           E2 = (|D| − |F|)·mean_F  (the items done in the window but not in F),

    and both are non-negative, so |A − B| ≤ max(E1, E2): that is the tolerance, computed from
    the run's own edge items. We also require it to be small (< 2 % of A, the runs are long),
    so that the check is not vacuous.
    """
    items = res.items
    lo = float(res.summary["sim"]["warmup"])
    for rep, end in zip(res.summary["replications"], res.summary["sim"]["end"], strict=True):
        hi = float(end)
        span = hi - lo
        it = items[items["replication"] == rep["replication"]]
        arrival = it["arrival"].to_numpy()
        commit = it["commit"].to_numpy()
        done = it["done"].to_numpy()
        committed = ~np.isnan(commit)
        stop = np.where(np.isnan(done), hi, done)
        overlap = np.clip(np.minimum(stop, hi) - np.maximum(commit, lo), 0.0, None)
        overlap[~committed] = 0.0
        in_f = (arrival >= lo) & ~np.isnan(done)
        in_d = (done >= lo) & (done <= hi)
        a = rep["wip"] * span
        b = rep["throughput"] * span * rep["flow_time"]
        mean_f = float((done[in_f] - commit[in_f]).mean())
        e1 = float(overlap[~in_f].sum())
        e2 = (int(in_d.sum()) - int(in_f.sum())) * mean_f
        bound = max(e1, e2)
        assert abs(a - b) <= bound * (1 + 1e-9) + 1e-9 * a, (
            f"Little's law, replication {rep['replication']}: wip·S = {a:.6g}, "
            f"throughput·S·flow_time = {b:.6g}, |diff| = {abs(a - b):.4g} > edge bound {bound:.4g}")
        assert bound <= 0.02 * a, (
            f"edge bound {bound:.4g} is {bound / a:.1%} of wip·S: run too short")


def simulate(d: dict, *, horizon: float, warmup: float, seed: int, replications: int = R):
    """Simulate a stream mapping and check Little's law on every replication."""
    res = vssim.simulate(vssim.StreamSpec.from_dict(d), horizon=horizon, warmup=warmup,
                         replications=replications, seed=seed, progress=False)
    check_littles_law(res)
    return res


def per_rep(res, key: str) -> list[float]:
    return [r[key] for r in res.summary["replications"]]


def step_per_rep(res, step: str, key: str) -> list[float]:
    s = res.steps
    return s.loc[s["step"] == step].sort_values("replication")[key].tolist()


def exp_step(pool: str, mean: float, **extra) -> dict:
    return {"pool": pool, "work": {"dist": "exponential", "mean": mean}, **extra}


# --------------------------------------------------------------------------- 1. M/M/1


@pytest.mark.parametrize(("lam", "horizon", "rel_width"), [
    (0.5, 15_000, 0.10),
    pytest.param(0.8, 200_000, 0.06, marks=pytest.mark.slow, id="rho0.8"),
])
def test_mm1_lead_time_and_wait(lam, horizon, rel_width):
    d = {"name": "mm1", "arrivals": {"process": "poisson", "rate": lam}, "pools": {"dev": 1},
         "steps": {"work": exp_step("dev", 1.0)}}
    res = simulate(d, horizon=horizon, warmup=1000, seed=11)
    q = theory.mm1(lam, 1.0)
    assert_matches(per_rep(res, "lead_time"), q.w, rel_width=rel_width,
                   what=f"M/M/1 rho={lam} lead time")
    assert_matches(step_per_rep(res, "work", "wait"), q.wq, rel_width=rel_width * 1.5,
                   what=f"M/M/1 rho={lam} wait (Wq)")
    assert_matches(step_per_rep(res, "work", "utilization"), q.rho, rel_width=0.04,
                   what=f"M/M/1 rho={lam} utilization")
    assert_matches(per_rep(res, "wip"), q.l, rel_width=rel_width * 1.2,
                   what=f"M/M/1 rho={lam} WIP (L)")


# --------------------------------------------------------------------------- 2. M/M/c


@pytest.mark.parametrize(("horizon", "rel_width"), [
    (10_000, 0.15),
    pytest.param(100_000, 0.04, marks=pytest.mark.slow, id="long"),
])
def test_mmc_erlang_c_lead_time_and_utilization(horizon, rel_width):
    lam, mu, c = 2.4, 1.0, 3
    d = {"name": "mmc", "arrivals": {"process": "poisson", "rate": lam}, "pools": {"devs": c},
         "steps": {"work": exp_step("devs", 1.0 / mu)}}
    res = simulate(d, horizon=horizon, warmup=500, seed=22)
    q = theory.mmc(lam, mu, c)
    assert_matches(per_rep(res, "lead_time"), q.w, rel_width=rel_width, what="M/M/3 lead time")
    assert_matches(step_per_rep(res, "work", "wait"), q.wq, rel_width=2 * rel_width,
                   what="M/M/3 wait (Wq)")
    assert_matches(step_per_rep(res, "work", "utilization"), q.rho, rel_width=0.03,
                   what="M/M/3 utilization")


# --------------------------------------------------------------------------- 3. Jackson network


def test_jackson_line_with_rework_loop():
    lam, p = 0.5, 0.2
    means = np.array([1.2, 0.8, 1.0])
    d = {"name": "jackson", "arrivals": {"process": "poisson", "rate": lam},
         "pools": {"a": 1, "b": 1, "c": 1},
         "steps": {"s1": exp_step("a", means[0]), "s2": exp_step("b", means[1]),
                   "s3": exp_step("c", means[2], rework={"probability": p, "to": "s2"})}}
    res = simulate(d, horizon=10_000, warmup=500, seed=33)
    routing = np.array([[0, 1, 0], [0, 0, 1], [0, p, 0]], dtype=float)
    jk = theory.jackson_open(np.array([lam, 0, 0]), routing, 1 / means, np.ones(3, dtype=int))
    np.testing.assert_allclose(jk.visit_ratio, [1, 1 / (1 - p), 1 / (1 - p)])
    assert_matches(per_rep(res, "lead_time"), jk.lead_time, rel_width=0.10,
                   what="Jackson lead time")
    # reworks per item: geometric number of failures, mean p/(1−p)
    it = res.items
    lo = res.summary["sim"]["warmup"]
    fresh = it[(it["arrival"] >= lo) & it["done"].notna()]
    reworks = fresh.groupby("replication")["rework_count"].mean().tolist()
    assert_matches(reworks, p / (1 - p), rel_width=0.10, what="Jackson mean rework_count")
    for j, name in enumerate(("s1", "s2", "s3")):
        assert_matches(step_per_rep(res, name, "throughput"), jk.arrival_rate[j], rel_width=0.05,
                       what=f"Jackson {name} throughput (lam * visit ratio)")
        assert_matches(step_per_rep(res, name, "utilization"), jk.rho[j], rel_width=0.06,
                       what=f"Jackson {name} utilization")
        wq = jk.w[j] - means[j]
        assert_matches(step_per_rep(res, name, "wait"), wq, rel_width=0.30,
                       what=f"Jackson {name} wait per visit (Wq)")


# --------------------------------------------------------------------------- 4. CONWIP, closed


def conwip_line(means, n: int) -> dict:
    pools = {f"p{j}": 1 for j in range(len(means))}
    steps = {f"s{j}": exp_step(f"p{j}", m) for j, m in enumerate(means)}
    return {"name": "conwip", "arrivals": {"process": "saturated"},
            "release": {"policy": "conwip", "conwip": n}, "pools": pools, "steps": steps}


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_conwip_balanced_line_vs_mva_and_factory_physics(n):
    means = [1.0, 1.0, 1.0]
    res = simulate(conwip_line(means, n), horizon=4000, warmup=200, seed=40 + n)
    exact = theory.mva(means, n)
    th_mva, ct_mva = float(exact.throughput[-1]), float(exact.cycle_time[-1])
    th = per_rep(res, "throughput")
    mean, half = assert_matches(th, th_mva, rel_width=0.05, what=f"CONWIP N={n} throughput vs MVA")
    assert_matches(per_rep(res, "flow_time"), ct_mva, rel_width=0.05,
                   what=f"CONWIP N={n} cycle time vs MVA")
    # Factory Physics: worst ≤ TH ≤ best (up to the interval), and the balanced exponential
    # line is exactly the practical worst case
    rb, t0, _ = theory.line_parameters(mean_times=means)
    best, _ = theory.best_case(n, rb, t0)
    worst, _ = theory.worst_case(n, rb, t0)
    pwc, _ = theory.practical_worst_case(n, rb, t0)
    assert worst <= mean + half, f"N={n}: TH {mean:.4f} ± {half:.3g} below worst case {worst:.4f}"
    assert mean - half <= best, f"N={n}: TH {mean:.4f} ± {half:.3g} above best case {best:.4f}"
    assert_matches(th, pwc, rel_width=0.05, what=f"CONWIP N={n} throughput vs practical worst case")
    # the saturated backlog refills at once: WIP is exactly N after the warmup
    np.testing.assert_allclose(per_rep(res, "wip"), n, rtol=1e-9)


def test_conwip_unbalanced_line_vs_mva():
    means, n = [1.0, 1.5, 0.8], 3
    res = simulate(conwip_line(means, n), horizon=6000, warmup=200, seed=49)
    exact = theory.mva(means, n)
    assert_matches(per_rep(res, "throughput"), float(exact.throughput[-1]), rel_width=0.05,
                   what="CONWIP unbalanced N=3 throughput vs MVA")
    assert_matches(per_rep(res, "flow_time"), float(exact.cycle_time[-1]), rel_width=0.05,
                   what="CONWIP unbalanced N=3 cycle time vs MVA")
    for j in range(3):
        assert_matches(step_per_rep(res, f"s{j}", "utilization"), float(exact.utilization[-1, j]),
                       rel_width=0.06, what=f"CONWIP unbalanced s{j} utilization vs MVA")


# --------------------------------------------------------------------------- 5. priority (Cobham)


def class_waits(res) -> dict[str, list[float]]:
    """Per replication and class of service, the mean wait in the step's column (start − enter)."""
    lo = res.summary["sim"]["warmup"]
    v = res.visits
    it = res.items[["replication", "item", "class_of_service"]]
    v = v.merge(it, on=["replication", "item"], how="left", validate="many_to_one")
    v = v[(v["enter"] >= lo) & v["start"].notna()]
    cls = v["class_of_service"].astype(str)
    waits = (v["start"] - v["enter"]).groupby([cls, v["replication"]]).mean()
    return {cls: waits.loc[cls].sort_index().tolist() for cls in ("expedite", "standard")}


PRIORITY_TYPES = {"urgent": {"share": 0.3, "class_of_service": "expedite"},
                  "normal": {"share": 0.7}}


@pytest.mark.parametrize(("servers", "lam", "horizon"), [
    (1, 0.8, 40_000),
    (2, 1.4, 10_000),
    pytest.param(2, 1.6, 100_000, marks=pytest.mark.slow, id="c2-rho0.8"),
])
def test_nonpreemptive_priority_vs_cobham(servers, lam, horizon):
    d = {"name": "priority", "arrivals": {"process": "poisson", "rate": lam},
         "item_types": PRIORITY_TYPES, "pools": {"team": servers},
         "steps": {"work": exp_step("team", 1.0)}}
    res = simulate(d, horizon=horizon, warmup=1000, seed=50 + servers)
    lams = [0.3 * lam, 0.7 * lam]
    if servers == 1:
        wq = theory.cobham_wq(lams, [1.0, 1.0], [2.0, 2.0])    # exponential: E[S²] = 2/μ²
        # with one server the M/M/c form must agree with the M/G/1 one
        np.testing.assert_allclose(theory.cobham_mmc_wq(lams, 1.0, 1), wq, rtol=1e-12)
    else:
        wq = theory.cobham_mmc_wq(lams, 1.0, servers)
    waits = class_waits(res)
    assert_matches(waits["expedite"], wq[0], rel_width=0.10,
                   what=f"priority c={servers} expedite wait")
    assert_matches(waits["standard"], wq[1], rel_width=0.20,
                   what=f"priority c={servers} standard wait")
    # the same waits from the items table: lead time − work (one step, committed on arrival)
    it = res.items
    fresh = it[(it["arrival"] >= res.summary["sim"]["warmup"]) & it["done"].notna()]
    wait = fresh["lead_time"] - fresh["touch_time"]
    for k, cls in enumerate(("expedite", "standard")):
        mine = fresh["class_of_service"] == cls
        by_rep = wait[mine].groupby(fresh["replication"][mine]).mean().tolist()
        assert_matches(by_rep, wq[k], rel_width=(0.10, 0.20)[k],
                       what=f"priority c={servers} {cls} lead time - work")


# --------------------------------------------------------------------------- 6. WIP limits vs CTMC


def two_column_ctmc(lam: float, mu1: float, mu2: float, l1: int, l2: int,
                    big_b: int) -> dict[str, float]:
    """Exact steady state of the two-column Kanban line with a bounded backlog.

    State (b, n1, d1, n2): b items in the backlog, n1 in column a of which d1 done (waiting for
    room in b), n2 in column b. One person per column; a's person works the n1 − d1 undone
    items, b's person the n2 items (none of b's are "done": leaving b is being done).

    * arrival (λ): commit into a if n1 < L1, else wait in the backlog if b < B, else rejected;
    * a finishes (μ1, if n1 − d1 > 0): the item moves to b if n2 < L2 (then the backlog
      refills a), else it stays done in a (d1 + 1);
    * b finishes (μ2, if n2 > 0): the item is done; if d1 > 0 the oldest done item of a moves
      to b, and then the backlog refills a.
    """
    states = [(b, n1, d1, n2) for b in range(big_b + 1) for n1 in range(l1 + 1)
              for d1 in range(n1 + 1) for n2 in range(l2 + 1)
              if (b == 0 or n1 == l1) and (d1 == 0 or n2 == l2)]
    index = {s: k for k, s in enumerate(states)}
    q = np.zeros((len(states), len(states)))

    def refill(b, n1):
        return (b - 1, n1 + 1) if b > 0 and n1 < l1 else (b, n1)

    for s in states:
        b, n1, d1, n2 = s
        moves = []
        if n1 < l1:
            moves.append((lam, (b, n1 + 1, d1, n2)))
        elif b < big_b:
            moves.append((lam, (b + 1, n1, d1, n2)))
        if n1 - d1 > 0:
            if n2 < l2:
                b2, n1b = refill(b, n1 - 1)
                moves.append((mu1, (b2, n1b, d1, n2 + 1)))
            else:
                moves.append((mu1, (b, n1, d1 + 1, n2)))
        if n2 > 0:
            if d1 > 0:
                b2, n1b = refill(b, n1 - 1)
                moves.append((mu2, (b2, n1b, d1 - 1, n2)))
            else:
                moves.append((mu2, (b, n1, d1, n2 - 1)))
        for rate, t in moves:
            q[index[s], index[t]] += rate          # KeyError here = a transition leaves the space
    np.fill_diagonal(q, -q.sum(axis=1))
    # πQ = 0, Σπ = 1: replace one balance equation by the normalisation
    a = q.T.copy()
    a[-1, :] = 1.0
    rhs = np.zeros(len(states))
    rhs[-1] = 1.0
    pi = np.linalg.solve(a, rhs)
    assert (pi > -1e-12).all() and np.allclose(pi @ q, 0.0, atol=1e-12)
    st = np.array(states, dtype=float)
    p_reject = float(pi[(st[:, 0] == big_b) & (st[:, 1] == l1)].sum())
    throughput = lam * (1 - p_reject)
    # flow balance: what gets in gets out through b's person
    assert math.isclose(throughput, mu2 * float(pi[st[:, 3] > 0].sum()), rel_tol=1e-10)
    return {"p_reject": p_reject, "throughput": throughput,
            "wip": float(pi @ (st[:, 1] + st[:, 3])), "backlog": float(pi @ st[:, 0]),
            "util_a": float(pi[st[:, 1] - st[:, 2] > 0].sum()),
            "util_b": float(pi[st[:, 3] > 0].sum())}


def test_two_column_ctmc_sanity():
    """The chain itself: with huge limits it is a tandem of M/M/1 queues (Jackson)."""
    lam, mu1, mu2 = 0.5, 1.0, 1.25
    big = two_column_ctmc(lam, mu1, mu2, 40, 40, 0)
    assert big["p_reject"] < 1e-10
    assert math.isclose(big["wip"], lam / (mu1 - lam) + lam / (mu2 - lam), rel_tol=1e-8)
    # L1 = L2 = 1, no backlog: a blocking line; throughput by hand from its 3-state chain
    # states (n1, d1, n2): (0,0,0) (1,0,0) (0,0,1) (1,0,1) (1,1,1)
    small = two_column_ctmc(1.0, 1.0, 1.0, 1, 1, 0)
    q = np.array([[-1, 1, 0, 0, 0], [0, -1, 1, 0, 0], [1, 0, -2, 1, 0],
                  [0, 1, 0, -2, 1], [0, 0, 1, 0, -1]], dtype=float)
    a = q.T.copy()
    a[-1] = 1
    pi = np.linalg.solve(a, [0, 0, 0, 0, 1])
    assert math.isclose(small["throughput"], pi[2] + pi[3] + pi[4], rel_tol=1e-12)


def test_wip_limited_two_column_line_vs_ctmc():
    lam, mu1, mu2, l1, l2, big_b = 0.9, 1.2, 1.0, 2, 2, 3
    d = {"name": "kanban2", "arrivals": {"process": "poisson", "rate": lam},
         "release": {"policy": "push", "backlog_limit": big_b}, "pools": {"pa": 1, "pb": 1},
         "steps": {"a": exp_step("pa", 1 / mu1, wip_limit=l1),
                   "b": exp_step("pb", 1 / mu2, wip_limit=l2)}}
    horizon, warmup = 8_000, 500
    res = simulate(d, horizon=horizon, warmup=warmup, seed=66)
    exact = two_column_ctmc(lam, mu1, mu2, l1, l2, big_b)
    assert_matches(per_rep(res, "throughput"), exact["throughput"], rel_width=0.04,
                   what="Kanban line throughput vs CTMC")
    assert_matches(per_rep(res, "wip"), exact["wip"], rel_width=0.05,
                   what="Kanban line WIP vs CTMC")
    assert_matches(per_rep(res, "backlog"), exact["backlog"], rel_width=0.10,
                   what="Kanban line backlog vs CTMC")
    reps = res.summary["replications"]
    # rejected / (rejected + completed) estimates P(reject) (arrivals in the window = both, up
    # to the change of the few items in the system between lo and hi)
    frac = [r["rejected"] / (r["rejected"] + r["completed"]) for r in reps]
    assert_matches(frac, exact["p_reject"], rel_width=0.15,
                   what="Kanban line rejected fraction vs CTMC")
    span = horizon - warmup
    assert_matches([r["rejected"] / span for r in reps], lam * exact["p_reject"],
                   rel_width=0.15, what="Kanban line rejection rate vs CTMC (PASTA)")
    assert_matches(step_per_rep(res, "a", "utilization"), exact["util_a"], rel_width=0.04,
                   what="Kanban line a utilization vs CTMC")
    assert_matches(step_per_rep(res, "b", "utilization"), exact["util_b"], rel_width=0.04,
                   what="Kanban line b utilization vs CTMC")
    assert res.summary["metrics"]["rejected"] == sum(r["rejected"] for r in reps)
