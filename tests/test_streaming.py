"""Streaming statistics (sim.stats=streaming): the same summary as the full records, in bounded memory.

A streaming run has the same sample path as a full run with the same seed (the same random
numbers, drawn in the same blocks), so every sum, mean, count, interval and step statistic must
equal the full run's up to the order of floating-point additions (relative 1e-9), and the
percentiles must be within the sketch's relative accuracy (alpha = 0.1 %) of np.percentile.
"""
from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
from conftest import cli_ok, run_cli_parallel
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_invariants import HypothesisChooser, build_stream
from test_maxplus import build_qualifying

import vssim
from vssim.analysis.sketch import ALPHA, QuantileSketch
from vssim.analysis.streaming import RunStats
from vssim.errors import DeadlockError, SpecError

QUANTILE_KEYS = ("p50", "p85", "p95", "lead_time_p85")


# --------------------------------------------------------------------------- the sketch
@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)), min_size=1, max_size=400),
       st.sampled_from([0.0, 1.0, 5.0, 50.0, 85.0, 95.0, 99.0, 100.0]))
def test_sketch_quantile_within_alpha_of_numpy(values, q):
    x = np.array(values)
    sk = QuantileSketch()
    sk.add(x[: len(x) // 2])
    sk.add(x[len(x) // 2:])
    exact = float(np.percentile(x, q))
    got = sk.quantile(q)
    assert abs(got - exact) <= ALPHA * exact + 1e-12
    assert sk.count == len(x) and sk.min == x.min() and sk.max == x.max()


def test_sketch_merge_equals_one_sketch():
    rng = np.random.default_rng(3)
    parts = [rng.lognormal(1.0, 1.0, n) for n in (10, 1000, 5000)]
    one = QuantileSketch()
    for p in parts:
        one.add(p)
    many = []
    for p in parts:
        s = QuantileSketch()
        s.add(p)
        many.append(s)
    merged = QuantileSketch.merged(many)
    qs = [1, 25, 50, 85, 95, 99.9]
    assert np.array_equal(merged.quantiles(qs), one.quantiles(qs))
    x = np.concatenate(parts)
    assert np.all(np.abs(merged.quantiles(qs) - np.percentile(x, qs)) <= ALPHA * np.percentile(x, qs))
    values, counts = merged.buckets()
    assert counts.sum() == len(x) and np.all(np.diff(values) > 0)


def test_sketch_is_small_and_refuses_bad_values():
    sk = QuantileSketch()
    sk.add(np.random.default_rng(0).exponential(10.0, 1_000_000))
    assert sk.nbytes < 200_000                      # ~1e-6 .. 1.5e2: a few thousand buckets
    assert math.isnan(QuantileSketch().quantile(50))
    with pytest.raises(ValueError, match=">= 0"):
        sk.add(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=">= 0"):
        sk.add(np.array([np.nan]))


# --------------------------------------------------------------------------- same summary
def assert_same_summary(full: dict, streaming: dict) -> None:
    """Every number equal (rel 1e-9), percentiles within the sketch's alpha."""
    def walk(a, b, path):
        if isinstance(a, dict):
            assert set(a) <= set(b), f"{path}: keys {set(a) - set(b)} missing"
            for k in a:
                walk(a[k], b[k], f"{path}.{k}")
        elif isinstance(a, list):
            assert len(a) == len(b), path
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{path}[{i}]")
        elif isinstance(a, float) and isinstance(b, float):
            tol = 1.0001 * ALPHA if path.rsplit(".", 1)[-1] in QUANTILE_KEYS else 1e-9
            assert math.isclose(a, b, rel_tol=tol, abs_tol=1e-9), f"{path}: full {a!r}, streaming {b!r}"
        else:
            assert a == b, f"{path}: full {a!r}, streaming {b!r}"
    for key in ("metrics", "steps", "pools", "replications"):
        walk(full[key], streaming[key], key)
    assert streaming["sim"]["stats"] == "streaming" and full["sim"]["stats"] == "full"
    assert streaming["sim"]["engine"] == full["sim"]["engine"]


@pytest.fixture
def small_flush(monkeypatch):
    """Flush every few items, so that slots are reused and visits compacted many times a run."""
    monkeypatch.setattr(RunStats, "flush_every", 7)


@pytest.mark.parametrize("name", ["dvs_basic", "team_kanban", "functional_silos", "penny_fab", "mm1"])
@pytest.mark.parametrize("replications", [1, 3])
def test_streaming_equals_full_on_the_shipped_streams(name, replications, small_flush):
    spec = vssim.load_stream(f"configs/stream/{name}.yaml")
    kw = dict(horizon=1200, warmup=150, replications=replications, seed=4, progress=False, engine="simpy")
    full = vssim.simulate(spec, **kw)
    streaming = vssim.simulate(spec, stats="streaming", **kw)
    assert_same_summary(full.summary, streaming.summary)
    assert streaming.records == [] and len(streaming.stats) == replications
    assert full.steps.drop(columns="replication").shape == streaming.steps.drop(columns="replication").shape


def _both(d: dict, sim: dict, engine: str):
    spec = vssim.StreamSpec.from_dict(d)
    kw = dict(horizon=sim["horizon"], warmup=sim.get("warmup", 0.0), replications=sim["replications"],
              seed=sim["seed"], progress=False, engine=engine)
    try:
        full = vssim.simulate(spec, **kw)
    except DeadlockError as e:
        with pytest.raises(DeadlockError) as again:
            vssim.simulate(spec, stats="streaming", **kw)
        assert str(again.value) == str(e)
        return None, None
    return full, vssim.simulate(spec, stats="streaming", **kw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), flush=st.sampled_from([1, 5, 64]))
def test_streaming_equals_full_on_random_streams(data, flush):
    """Random streams (shared pools, rework, batches, cadences, limits, classes, rejections)."""
    d, sim = build_stream(HypothesisChooser(data.draw), size=2)
    assume(d["arrivals"]["process"] != "backlog")
    saved, RunStats.flush_every = RunStats.flush_every, flush
    try:
        full, streaming = _both(d, sim, "simpy")
    finally:
        RunStats.flush_every = saved
    if full is not None:
        assert_same_summary(full.summary, streaming.summary)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_streaming_equals_full_on_random_lines(data):
    """One person per step, push or CONWIP, open arrivals: the fast engine in blocks."""
    d, sim = build_qualifying(HypothesisChooser(data.draw))
    assume(d["arrivals"]["process"] in ("poisson", "deterministic", "renewal", "saturated"))
    assume(all((p if isinstance(p, int) else p["size"]) == 1 for p in d["pools"].values()))
    full, streaming = _both(d, sim, "fast")
    assert streaming.summary["sim"]["engine"] == "fast"
    assert_same_summary(full.summary, streaming.summary)
    simpy = vssim.simulate(vssim.StreamSpec.from_dict(d), horizon=sim["horizon"], warmup=sim.get("warmup", 0.0),
                           replications=sim["replications"], seed=sim["seed"], progress=False, engine="simpy",
                           stats="streaming")
    assert_same_summary(full.summary | {"sim": simpy.summary["sim"] | {"stats": "full"}}, simpy.summary)


def test_fast_streaming_blocks_on_a_long_conwip_line(monkeypatch):
    """Many blocks (a block of 1024 items), CONWIP and saturated arrivals across block edges."""
    import vssim.engines.maxplus.streaming as fs

    monkeypatch.setattr(fs, "CHUNK", 1024)
    for arrivals, release in (({"process": "poisson", "rate": 0.7}, {"policy": "conwip", "conwip": 5}),
                              ({"process": "saturated"}, {"policy": "conwip", "conwip": 3})):
        d = {"name": "line", "arrivals": arrivals, "release": release, "pools": {"a": 1, "b": 1, "c": 1},
             "steps": {"s1": {"pool": "a", "work": {"dist": "exponential", "mean": 1.0}},
                       "s2": {"pool": "b", "work": {"dist": "gamma", "mean": 1.2, "cv": 0.5},
                              "handoff": {"dist": "deterministic", "value": 0.5}},
                       "s3": {"pool": "c", "work": {"dist": "lognormal", "mean": 0.9, "cv": 1.0}}}}
        spec = vssim.StreamSpec.from_dict(d)
        kw = dict(horizon=6000.0, warmup=300.0, replications=2, seed=11, progress=False, engine="fast")
        assert_same_summary(vssim.simulate(spec, **kw).summary, vssim.simulate(spec, stats="streaming", **kw).summary)


# --------------------------------------------------------------------------- memory
def _peak(run) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


LINE = {"name": "line", "arrivals": {"process": "poisson", "rate": 0.8}, "pools": {"a": 1, "b": 2},
        "steps": {"s1": {"pool": "a", "work": {"dist": "exponential", "mean": 1.0},
                         "rework": {"probability": 0.1, "to": "s1"}},
                  "s2": {"pool": "b", "work": {"dist": "exponential", "mean": 2.0}}}}


@pytest.mark.parametrize("engine, d", [("simpy", LINE), ("fast", {**LINE, "pools": {"a": 1, "b": 1},
                                                                   "steps": {k: {"pool": v["pool"], "work": {
                                                                       "dist": "exponential", "mean": 1.0}}
                                                                       for k, v in LINE["steps"].items()}})])
def test_streaming_memory_does_not_grow_with_the_run(engine, d, monkeypatch):
    """Peak memory of a run 4x as long: about the same streaming, about 4x full.

    The state a streaming run holds is a few flushes' worth of items (`RunStats.flush_every`) or a
    block (`fast_streaming.CHUNK`): both runs are made several times longer than that.
    """
    import vssim.engines.maxplus.streaming as fs

    monkeypatch.setattr(RunStats, "flush_every", 128)
    monkeypatch.setattr(fs, "CHUNK", 4096)
    spec = vssim.StreamSpec.from_dict(d)
    n = 8_000 if engine == "simpy" else 200_000

    def run(items, stats):
        return lambda: vssim.simulate(spec, horizon=items / 0.8, warmup=10.0, engine=engine, stats=stats,
                                      progress=False)
    short, long = _peak(run(n, "streaming")), _peak(run(4 * n, "streaming"))
    full_short, full_long = _peak(run(n, "full")), _peak(run(4 * n, "full"))
    assert long < 1.3 * short, (short, long)
    assert full_long > 3 * full_short, (full_short, full_long)
    assert long < full_long / 5


# --------------------------------------------------------------------------- settings and results
def test_streaming_refuses_finite_arrivals():
    spec = vssim.load_stream("configs/stream/penny_game.yaml")
    with pytest.raises(SpecError) as e:
        vssim.simulate(spec, stats="streaming")
    msg = str(e.value)
    assert msg.startswith("sim.stats:") and "backlog" in msg and "\n" not in msg


def test_unknown_stats_value_names_the_choices():
    spec = vssim.load_stream("configs/stream/mm1.yaml")
    with pytest.raises(SpecError, match=r"sim.stats: must be one of full, streaming, got 'rows'"):
        vssim.simulate(spec, horizon=10, stats="rows")


def test_fast_streaming_refuses_several_people_and_auto_falls_back():
    d = {**LINE, "pools": {"a": 1, "b": 2}, "steps": {"s1": {"pool": "a", "work": 1.0},
                                                      "s2": {"pool": "b", "work": 1.0}}}
    spec = vssim.StreamSpec.from_dict(d)
    with pytest.raises(SpecError, match=r"^sim.engine: 'fast' cannot stream 'line': steps.s2 has 2 people"):
        vssim.simulate(spec, horizon=100, stats="streaming", engine="fast")
    r = vssim.simulate(spec, horizon=100, stats="streaming", engine="auto", progress=False)
    assert r.summary["sim"]["engine"] == "simpy"


def test_streaming_result_has_no_rows_and_saves_what_it_has(tmp_path):
    spec = vssim.load_stream("configs/stream/mm1.yaml")
    r = vssim.simulate(spec, horizon=500, stats="streaming", progress=False)
    assert r.streaming
    for what in ("items", "visits"):
        with pytest.raises(ValueError, match="sim.stats=streaming keeps no item or visit rows"):
            getattr(r, what)
    with pytest.raises(ValueError, match="rerun with sim.stats=full"):
        r.event_log()
    r.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.parquet", "summary.json"]
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["sim"]["stats"] == "streaming"
    assert s["metrics"]["lead_time"]["quantiles"].startswith("sketch")


def test_streaming_progress_reaches_one():
    spec = vssim.load_stream("configs/stream/dvs_basic.yaml")
    from vssim.engines.registry import ENGINES
    from vssim.model.plan import Plan
    from vssim.model.settings import Settings

    for engine, name in (("simpy", "dvs_basic"), ("fast", "mm1")):
        spec = vssim.load_stream(f"configs/stream/{name}.yaml")
        plan = Plan.of(spec)
        ticks = []
        settings = Settings(horizon=3000.0, warmup=0.0, replications=1, seed=0, stats="streaming")
        sink = RunStats.for_plan(plan, replication=0, seed=0, warmup=0.0, horizon=3000.0, batches=True,
                                 planning_interval=None)
        ENGINES[engine].run(plan, settings, 0, sink, ticks.append)
        assert math.isclose(sum(ticks), 1.0, rel_tol=1e-9) and all(t > 0 for t in ticks)


def test_cli_streaming_run_and_a_bad_value(tmp_path):
    results = run_cli_parallel({
        "ok": ["stream=dvs_basic", "sim.stats=streaming", "sim.replications=2", "sim.horizon=3000"],
        "bad": ["stream=mm1", "sim.stats=rows"],
        "finite": ["stream=penny_game", "sim.stats=streaming"],
    }, tmp_path)
    out = cli_ok(results, "ok")
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "steps.parquet", "report.md", "lead_time.png", "dashboard.png"} <= names
    assert not names & {"items.parquet", "events.csv", "cfd.png"}
    report = (out / "report.md").read_text()
    assert "streaming" in report and "quantile sketch" in report
    assert json.loads((out / "summary.json").read_text())["sim"]["stats"] == "streaming"
    for name, needle in (("bad", "sim.stats: must be one of full, streaming, got 'rows'"),
                         ("finite", "sim.stats: 'streaming' needs open arrivals")):
        proc, _ = results[name]
        assert proc.returncode != 0 and needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
