"""A run that starts from the board now (`simulate(..., initial=state)`, docs/model.md "Starting from
today's board"): exact hand-worked cases, residual life against theory, the checks of the rows, and
invariants of the sample paths (hypothesis)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vssim
from vssim.engines.random import Draws
from vssim.engines.simpy.initial import REJECTIONS, frozen, residual_draw
from vssim.model.distributions import parse_distribution
from vssim.model.initial import InitialItem, InitialState

Z99 = 2.576


def stream(steps: dict, pools: dict, arrivals: dict | None = None, **extra) -> vssim.StreamSpec:
    return vssim.StreamSpec.from_dict({"schema_version": 2, "name": "now", "time_unit": "day",
                                       "arrivals": arrivals or {"process": "trace", "times": [100.0]},
                                       "pools": pools, "steps": steps, **extra})


def run(spec, rows, **sim):
    sim.setdefault("progress", False)
    sim.setdefault("horizon", None)
    return vssim.simulate(spec, initial=rows, **sim)


def done_by_entered(rec) -> dict[float, float]:
    """The initial items' done times by their `entered` (their arrival here: unique in these cases)."""
    return {float(a): float(d) for a, d in zip(rec.arrival, rec.done, strict=True) if a < 0}


# --------------------------------------------------------------------------- exact cases by hand
ONE_STEP = dict(steps={"build": {"pool": "dev", "work": {"dist": "deterministic", "value": 5}}}, pools={"dev": 1})


def test_two_started_one_waiting_one_person_by_hand():
    """Work 5, one person. A started 3 ago: 2 left, done at 2. B started 1 ago, nobody free: it waits
    first in the queue and does its 4 left from 2 to 6. C, waiting since -2, is worked 6 to 11.
    The trace item at 100 is done at 105."""
    rows = [dict(id="A", column="build", entered=-3.0, started=True),
            dict(id="B", column="build", entered=-1.0, started=True),
            dict(id="C", column="build", entered=-2.0)]
    r = run(stream(**ONE_STEP), rows)
    rec = r.records[0]
    assert done_by_entered(rec) == {-3.0: 2.0, -1.0: 6.0, -2.0: 11.0}
    assert rec.done[-1] == 105.0
    # the summary's lead times are of the items that arrive in the run (the trace item's 5); all four
    # done count in the throughput
    metrics = r.summary["metrics"]
    assert metrics["lead_time"]["mean"] == 5.0
    assert metrics["throughput"]["mean"] == pytest.approx(4 / 105.0)
    np.testing.assert_array_equal(rec.commit[:3], rec.arrival[:3])    # committed when they entered
    a = int(np.flatnonzero(rec.visit_item == 0)[0])
    assert (rec.visit_enter[a], rec.visit_start[a], rec.visit_end[a], rec.visit_work[a]) == (-3.0, -3.0, 2.0, 5.0)
    assert rec.touch[0] == 5.0


def test_size_scales_the_work_and_the_age():
    """Size 2: work 10; started 3 ago, 7 left."""
    rows = [dict(id="A", column="build", entered=-3.0, started=True, size=2.0)]
    rec = run(stream(**ONE_STEP), rows).records[0]
    assert done_by_entered(rec) == {-3.0: 7.0}


def test_overdue_item_is_done_at_once():
    """Deterministic 5, in work for 8: nothing is left (an age beyond the support)."""
    rows = [dict(id="A", column="build", entered=-8.0, started=True)]
    assert done_by_entered(run(stream(**ONE_STEP), rows).records[0]) == {-8.0: 0.0}


BATCHED = {"build": {"pool": "dev", "work": {"dist": "deterministic", "value": 5}, "batch": 2},
           "test": {"pool": "qa", "work": {"dist": "deterministic", "value": 1}}}


@pytest.mark.parametrize("cadence, x, z", [(None, 5.0, 6.0), (10.0, 11.0, 12.0)])
def test_done_column_through_a_batch_of_two(cadence, x, z):
    """X done at build waits for a batch of 2; Z, started 1 ago, is done at 4 and completes it: the
    batch leaves at 4 (a cadence of 10: at its tick 10), test takes 1 each: X, then Z. W, not started,
    is worked 4 to 9 and waits in the next batch for the trace item (build 100-105): both leave at 105
    (tick 110), test 106 and 107 (111, 112)."""
    steps = {k: dict(v) for k, v in BATCHED.items()}
    if cadence is not None:
        steps["build"]["cadence"] = cadence
    rows = [dict(id="X", column="build", entered=-4.0, done=True),
            dict(id="Z", column="build", entered=-1.0, started=True),
            dict(id="W", column="build", entered=-0.5)]
    rec = run(stream(steps, {"dev": 1, "qa": 1}), rows).records[0]
    later = 0.0 if cadence is None else 5.0
    assert done_by_entered(rec) == {-4.0: x, -1.0: z, -0.5: 106.0 + later}
    assert rec.done[-1] == 107.0 + later


def test_limits_bind_admissions_only():
    """test (limit 1) holds 2 items now; a done item at build waits until test is below its limit:
    test's two are worked 0-1 and 1-2 (one person), build's done item enters at 2 (the second leaves),
    done at 3."""
    steps = {"build": {"pool": "dev", "work": {"dist": "deterministic", "value": 5}},
             "test": {"pool": "qa", "work": {"dist": "deterministic", "value": 1}, "wip_limit": 1}}
    rows = [dict(id="T1", column="test", entered=-3.0), dict(id="T2", column="test", entered=-2.0),
            dict(id="B", column="build", entered=-1.0, done=True)]
    rec = run(stream(steps, {"dev": 1, "qa": 1}), rows).records[0]
    assert done_by_entered(rec) == {-3.0: 1.0, -2.0: 2.0, -1.0: 3.0}


def test_backlog_items_are_committed_in_their_order_within_conwip():
    """CONWIP 2, one started item in build: one backlog item is committed at 0, the other when the
    first is done (2): B1 is worked 2-7 (after the started one), B2 7-12."""
    rows = [dict(id="A", column="build", entered=-3.0, started=True),
            dict(id="B2", column="backlog", entered=-1.0), dict(id="B1", column="backlog", entered=-2.0)]
    spec = stream(**ONE_STEP, release={"policy": "conwip", "conwip": 2})
    rec = run(spec, rows).records[0]
    assert done_by_entered(rec) == {-3.0: 2.0, -2.0: 7.0, -1.0: 12.0}
    commits = {float(a): float(c) for a, c in zip(rec.arrival, rec.commit, strict=True) if a < 0}
    assert commits == {-3.0: -3.0, -2.0: 0.0, -1.0: 2.0}


def test_class_of_service_orders_the_queue():
    """An expedite item waiting since -1 is worked before a standard one waiting since -2."""
    rows = [dict(id="S", column="build", entered=-2.0), dict(id="E", column="build", entered=-1.0,
                                                             class_of_service="expedite")]
    assert done_by_entered(run(stream(**ONE_STEP), rows).records[0]) == {-1.0: 5.0, -2.0: 10.0}


# --------------------------------------------------------------------------- residual life
def test_residual_draw_exact_cases():
    det = parse_distribution({"dist": "deterministic", "value": 5}, "w")
    assert residual_draw(det, 3.0, 0.3) - 3.0 == 2.0
    exp = parse_distribution({"dist": "exponential", "mean": 2.0}, "w")
    u = 0.37                                 # memoryless: age + the fresh draw of the same uniform
    assert residual_draw(exp, 4.0, u) == pytest.approx(4.0 + frozen(exp).isf(1 - u), rel=1e-12)
    emp = parse_distribution({"dist": "empirical", "values": [1.0, 2.0, 10.0]}, "w")
    assert frozen(emp) is None
    draws = Draws(emp, np.random.default_rng(1))
    assert residual_draw(emp, 3.0, 0.5, draws) == 10.0          # rejection: only 10 exceeds 3
    x = residual_draw(emp, 20.0, 0.5, draws)                    # nothing exceeds 20: age + a fresh draw
    assert x - 20.0 in (1.0, 2.0, 10.0)
    assert REJECTIONS >= 100


def test_mm1_started_with_n_in_system_first_k_done_at_k_over_mu():
    """M/M/1 (λ = 0.5, μ = 1) now holding n = 5: one in work for 10 (memoryless: its rest is a fresh
    exponential), four waiting. The first k = 3 are done after a sum of 3 exponentials: mean 3/μ."""
    spec = stream({"serve": {"pool": "server", "work": {"dist": "exponential", "mean": 1.0}}}, {"server": 1},
                  {"process": "poisson", "rate": 0.5})
    rows = [dict(id="s", column="serve", entered=-10.0, started=True)]
    rows += [dict(id=f"w{j}", column="serve", entered=-9.0 + j) for j in range(4)]
    r = run(spec, rows, horizon=40.0, replications=400, seed=3)
    third = np.array([np.sort(rec.done[:5])[2] for rec in r.records])
    se = third.std(ddof=1) / math.sqrt(len(third))
    assert abs(third.mean() - 3.0) < Z99 * se, (third.mean(), se)
    # the items waiting are first come first served: the third done is the second waiting one
    np.testing.assert_array_equal(third, [rec.done[2] for rec in r.records])


def test_lognormal_mean_remaining_matches_the_integral():
    """Lognormal work (mean 4, cv 1), 3000 items in work for 3 with a person each: the mean of their
    remaining work is E[W − a | W > a] = ∫_a^∞ S(w) dw / S(a), within its 99 % interval."""
    work = {"dist": "lognormal", "mean": 4.0, "cv": 1.0}
    n, age = 3000, 3.0
    spec = stream({"build": {"pool": "dev", "work": work}}, {"dev": n})
    rows = [dict(id=str(j), column="build", entered=-age, started=True) for j in range(n)]
    rec = run(spec, rows, seed=11).records[0]
    remaining = rec.done[:n]
    f = frozen(parse_distribution(work, "w"))
    theory = scipy.integrate.quad(f.sf, age, np.inf)[0] / f.sf(age)
    se = remaining.std(ddof=1) / math.sqrt(n)
    assert abs(remaining.mean() - theory) < Z99 * se, (remaining.mean(), theory, se)
    # and not a fresh draw (mean 4): the test tells the conditioned rest from the unconditioned work
    assert abs(remaining.mean() - 4.0) > Z99 * se


# --------------------------------------------------------------------------- the rows
@pytest.mark.parametrize("row, message", [
    (dict(id="A", column="deploy", entered=-1.0), "initial[0].column: must be backlog or a step"),
    (dict(id="A", column="build", entered=1.0), "initial[0].entered: must be a finite number <= 0"),
    (dict(id="A", column="build", entered=-1.0, type="bug"), "initial[0].type: must be one of"),
    (dict(id="A", column="build", entered=-1.0, class_of_service="urgent"), "initial[0].class_of_service"),
    (dict(id="A", column="backlog", entered=-1.0, started=True), "initial[0].started: must be false in the backlog"),
    (dict(id="A", column="build", entered=-1.0, size=0), "initial[0].size: must be a number > 0"),
    (dict(id="A", column="build", entered=-1.0, colour="red"), "initial[0].colour: unknown field"),
    (dict(id="A", column="build", entered=-1.0, arrived=-0.5), "initial[0].arrived: must be <= entered"),
])
def test_rows_are_checked(row, message):
    with pytest.raises(vssim.SpecError, match=r"^" + message.replace("[", r"\[").replace("]", r"\]")) as e:
        InitialState.from_rows([row], stream(**ONE_STEP))
    assert "\n" not in str(e.value)


def test_duplicate_ids_and_started_at_a_split_are_refused():
    spec = stream(**ONE_STEP)
    with pytest.raises(vssim.SpecError, match=r"^initial\[1\]\.id: must be unique"):
        InitialState.from_rows([dict(id="A", column="build", entered=-1.0),
                                dict(id="A", column="build", entered=-2.0)], spec)
    art = vssim.load_stream("configs/stream/art_component_teams.yaml")
    with pytest.raises(vssim.SpecError, match=r"^initial\[0\]\.started: must be false at step 'implement'"):
        InitialState.from_rows([dict(id="A", column="implement", entered=-1.0, started=True)], art)
    with pytest.raises(vssim.SpecError, match=r"^initial\[0\]\.column: .*a team's column"):
        InitialState.from_rows([dict(id="A", column="web/build", entered=-1.0)], art)


def test_type_required_where_only_some_types_go():
    spec = stream({"build": {"pool": "dev", "work": {"dist": "deterministic", "value": 5}},
                   "fix": {"pool": "dev", "work": {"dist": "deterministic", "value": 1}, "types": ["bug"]}},
                  {"dev": 1}, item_types={"feature": {"share": 0.5}, "bug": {"share": 0.5}})
    with pytest.raises(vssim.SpecError, match=r"^initial\[0\]\.type: required at step 'fix'"):
        InitialState.from_rows([dict(id="A", column="fix", entered=-1.0)], spec)
    with pytest.raises(vssim.SpecError, match=r"^initial\[0\]\.column: type 'feature' never visits step 'fix'"):
        InitialState.from_rows([dict(id="A", column="fix", entered=-1.0, type="feature")], spec)


def test_a_parent_at_a_split_makes_its_children_now():
    """A feature waiting at the split step makes its stories for the teams at 0; the stream's own
    items stay on its board."""
    art = vssim.load_stream("configs/stream/art_component_teams.yaml")
    rows = [dict(id="f1", type="feature", column="implement", entered=-5.0),
            dict(id="f2", type="feature", column="refine", entered=-1.0, started=True)]
    rec = vssim.simulate(art, horizon=150.0, seed=1, initial=rows, progress=False).records[0]
    implement = list(art.steps).index("implement")
    children = np.flatnonzero((rec.item_parent == 0) & (rec.item_origin == implement))
    assert len(children) > 0 and (rec.arrival[children] == 0.0).all()
    assert (rec.item_team[:2] == 0).all() and rec.arrival[1] == -1.0


def test_the_fast_engine_and_a_transition_refuse_it():
    spec = stream(**ONE_STEP)
    rows = [dict(id="A", column="build", entered=-1.0)]
    with pytest.raises(vssim.SpecError, match="'fast' cannot run.*board now"):
        run(spec, rows, engine="fast", horizon=10.0)
    assert run(spec, rows, engine="auto", horizon=10.0).summary["sim"]["engine"] == "simpy"
    with pytest.raises(vssim.SpecError, match=r"^initial: cannot be given with a transition"):
        run(spec, rows, horizon=10.0, transition=vssim.Transition(at=5.0), before=spec)


def test_items_are_taken_as_they_are():
    items = InitialState.from_rows([InitialItem(id="A", column="build", entered=-1.0)], stream(**ONE_STEP))
    assert items.items[0] == InitialItem(id="A", column="build", entered=-1.0)


# --------------------------------------------------------------------------- invariants
def test_empty_state_is_no_state_bit_for_bit():
    spec = vssim.load_stream("configs/stream/dvs_basic.yaml")
    a = vssim.simulate(spec, horizon=300.0, replications=2, seed=5, progress=False)
    b = vssim.simulate(spec, horizon=300.0, replications=2, seed=5, progress=False, initial=[])
    assert a.summary == b.summary
    for x, y in zip(a.records, b.records, strict=True):
        assert x.items_frame().equals(y.items_frame()) and x.visits_frame().equals(y.visits_frame())


@st.composite
def boards(draw):
    """A random line of 1-3 steps (limits, batches, cadences, a CONWIP) and a random board now."""
    n = draw(st.integers(1, 3))
    steps = {}
    for j in range(n):
        s = {"pool": f"p{j}", "work": draw(st.sampled_from([{"dist": "exponential", "mean": 1.0},
                                                              {"dist": "deterministic", "value": 1.5},
                                                              {"dist": "lognormal", "mean": 1.0, "cv": 0.8}]))}
        if draw(st.booleans()):
            s["wip_limit"] = draw(st.integers(2, 4))
        steps[f"s{j}"] = s
    if n > 1 and draw(st.booleans()):       # a batch into an unlimited column
        steps["s0"]["batch"] = 2
        steps["s1"].pop("wip_limit", None)
        steps["s0"].pop("wip_limit", None)
        if draw(st.booleans()):
            steps["s0"]["cadence"] = 2.0
    pools = {f"p{j}": draw(st.integers(1, 2)) for j in range(n)}
    extra = {"release": {"policy": "conwip", "conwip": draw(st.integers(3, 8))}} if draw(st.booleans()) else {}
    columns = ["backlog", *steps]
    rows = []
    for r in range(draw(st.integers(0, 8))):
        column = draw(st.sampled_from(columns))
        state = "waiting" if column == "backlog" else draw(st.sampled_from(["waiting", "started", "done"]))
        rows.append(dict(id=f"i{r}", column=column, entered=-draw(st.integers(0, 20)) / 2.0,
                         started=state == "started", done=state == "done"))
    return stream(steps, pools, {"process": "poisson", "rate": 0.4}, **extra), rows


def _count_ok(enter: np.ndarray, leave: np.ndarray, limit: float) -> bool:
    """Leaves before entries at equal times; after every entry after 0 the count is within `limit`."""
    events = sorted([(t, 0) for t in leave if t == t] + [(t, 1) for t in enter])
    now = 0
    for t, kind in events:
        now += 1 if kind else -1
        if kind and t > 0 and now > limit:
            return False
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(boards())
def test_invariants_from_a_board_now(case):
    spec, rows = case
    r = run(spec, rows, horizon=30.0, seed=2)
    rec = r.records[0]
    m = len(rows)
    # every state item once (arrival < 0 or a backlog item entered at 0), then the arrivals after 0
    assert rec.n_items >= m
    assert (rec.arrival[:m] <= 0).all() and (rec.arrival[m:] > 0).all()
    assert sorted(rec.arrival[:m].tolist()) == sorted(x["entered"] for x in rows)
    assert set(rec.visit_item) <= set(range(rec.n_items))
    for i in range(rec.n_items):             # visits contiguous: each leaves when the next is entered
        mine = rec.visit_item == i
        enter, leave = rec.visit_enter[mine], rec.visit_leave[mine]
        np.testing.assert_array_equal(leave[:-1], enter[1:])
        if rec.done[i] == rec.done[i]:
            assert leave[-1] == rec.done[i]
        committed = rec.commit[i] == rec.commit[i]
        assert committed == bool(mine.any())  # in a column (or done) once committed, never before
    for k, (name, s) in enumerate(spec.steps.items()):
        at = rec.visit_step == k
        limit = s.wip_limit if s.wip_limit is not None else math.inf
        assert _count_ok(rec.visit_enter[at], rec.visit_leave[at], limit), name
    conwip = spec.release.conwip
    if conwip is not None:
        committed = ~np.isnan(rec.commit)
        assert _count_ok(rec.commit[committed], rec.done[committed], conwip)
    again = run(spec, rows, horizon=30.0, seed=2).records[0]
    assert rec.items_frame().equals(again.items_frame()) and rec.visits_frame().equals(again.visits_frame())


@st.composite
def drained(draw):
    """A line of 1-3 steps with limits (no batches, no rework) and a random board now, two arrivals."""
    spec, rows = draw(boards())
    d = spec.to_dict()
    for s in d["steps"].values():
        s.pop("batch", None)
        s.pop("cadence", None)
    d["arrivals"] = {"process": "trace", "times": [1.0, 2.0]}
    return vssim.StreamSpec.from_dict(d), rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drained())
def test_a_finite_run_finishes_every_item(case):
    """No item is lost: run to the end, every item of the board now and every arrival is done once,
    the board's over-full columns included."""
    spec, rows = case
    rec = run(spec, rows, seed=4).records[0]
    assert rec.n_items == len(rows) + 2
    assert np.isfinite(rec.done).all()
    assert (rec.done >= np.maximum(rec.arrival, 0.0)).all()


def test_streaming_statistics_equal_the_full_run():
    """The running totals of a streaming run read the board now's items as the full run's records do."""
    spec = vssim.load_stream("configs/stream/dvs_basic.yaml")
    columns = ["define", "build", "validate", "release", "backlog"]
    rows = [dict(id=str(j), column=c, entered=-float(j), started=c != "backlog" and j % 3 == 0,
                 done=c != "backlog" and j % 3 == 1) for j, c in enumerate(columns * 4)]
    full, streaming = (vssim.simulate(spec, horizon=300.0, replications=2, seed=1, initial=rows, progress=False,
                                      stats=stats).summary["metrics"] for stats in ("full", "streaming"))
    for key in ("throughput", "wip", "lead_time"):
        assert streaming[key]["mean"] == pytest.approx(full[key]["mean"], rel=1e-12), key
