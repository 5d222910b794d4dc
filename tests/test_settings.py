"""Bad simulation settings (vssim/model/settings.py, `sim.*`) are refused before any replication
runs, with one line naming the field, the value and what is allowed (docs/cli.md)."""
from __future__ import annotations

import copy

import pytest
import yaml
from conftest import BACKLOG, BASE, CONFIGS, assert_one_line, broken, deadline

import vssim
from vssim import SpecError, StreamSpec
from vssim.engines.registry import ENGINES
from vssim.model.settings import MAX_EVENTS, RunSize
from vssim.run.experiment import settings_of

SIM_CASES = {
    "horizon-zero": ({"horizon": 0}, "sim.horizon", "got 0", "positive number"),
    "horizon-negative": ({"horizon": -5}, "sim.horizon", "got -5", "positive number"),
    "horizon-null-poisson": (
        {"horizon": None},
        "sim.horizon",
        "got null",
        "poisson arrivals never end",
    ),
    "horizon-text": ({"horizon": "long"}, "sim.horizon", "got 'long'", "positive number"),
    "warmup-equals-horizon": (
        {"horizon": 100, "warmup": 100},
        "sim.warmup",
        "got 100",
        "below sim.horizon",
    ),
    "warmup-above-horizon": (
        {"horizon": 100, "warmup": 150},
        "sim.warmup",
        "got 150",
        "below sim.horizon",
    ),
    "warmup-negative": ({"horizon": 100, "warmup": -1}, "sim.warmup", "got -1", ">= 0"),
    "replications-zero": (
        {"horizon": 100, "replications": 0},
        "sim.replications",
        "got 0",
        "positive integer",
    ),
    "seed-negative": ({"horizon": 100, "seed": -1}, "sim.seed", "got -1", "non-negative integer"),
    "unknown-engine": ({"horizon": 100, "engine": "ciw"}, "sim.engine", "got 'ciw'", "simpy"),
    "planning-interval-zero": (
        {"horizon": 100, "planning_interval": 0},
        "sim.planning_interval",
        "got 0",
        "positive number",
    ),
}


@pytest.fixture(scope="module")
def base_spec() -> StreamSpec:
    return StreamSpec.from_dict(copy.deepcopy(BASE))


@pytest.mark.parametrize(
    ("settings", "path", "got", "allowed"), list(SIM_CASES.values()), ids=list(SIM_CASES)
)
def test_bad_sim_settings_are_refused_before_the_run(
    base_spec, monkeypatch, settings, path, got, allowed
):
    def boom(*args, **kwargs):
        raise AssertionError("a replication ran")

    for engine in ENGINES.values():
        monkeypatch.setattr(type(engine), "run", boom)
    with pytest.raises(SpecError) as info:
        vssim.simulate(base_spec, progress=False, **settings)
    assert info.value.path == path
    assert_one_line(info.value, path, got, allowed)


def test_horizon_null_is_fine_for_a_backlog():
    spec = StreamSpec.from_dict(broken({"arrivals": {"process": "backlog", "count": 5}}))
    result = vssim.simulate(spec, horizon=None, progress=False)
    assert result.summary["metrics"]["completed"] == 5




# ------------------------------------------------------------------ sim.max_events: runs that never end
def _one_server(**changes) -> dict:
    d = {"name": "big", "arrivals": {"process": "poisson", "rate": 0.75}, "pools": {"s": 1},
         "steps": {"serve": {"pool": "s", "work": {"dist": "exponential", "mean": 1.0}}}}
    d.update(changes)
    return d


INTERRUPTED = {"s": {"size": 1, "interruptions": {"rate": 1e9, "duration": 0.001}}}
NEVER_END = {
    "rate-1e9": (_one_server(arrivals={"process": "poisson", "rate": 1e9}), {}, "2e12 arrivals x 1 visit"),
    "interval-1e-9": (_one_server(arrivals={"process": "deterministic", "interval": 1e-9}), {},
                      "2e12 arrivals x 1 visit"),
    "empirical-0-1e-300": (_one_server(arrivals={"process": "renewal",
                                                 "interarrival": {"dist": "empirical", "values": [0, 1e-300]}}), {},
                           "4e303 arrivals x 1 visit"),
    "backlog-1e9": (_one_server(arrivals={"process": "backlog", "count": 10**9}), {"horizon": None, "warmup": 0},
                    "1e9 backlog items x 1 visit"),
    "interruptions-1e9": (_one_server(pools=INTERRUPTED), {}, "1500 arrivals x 1 visit + 1.5e12 interruptions"),
    "rate-3e8-horizon-100": (_one_server(arrivals={"process": "poisson", "rate": 3e8}),
                             {"horizon": 100, "warmup": 0, "engine": "fast"}, "3e10 arrivals x 1 visit"),
    "saturated-tiny-work": (_one_server(arrivals={"process": "saturated"}, release={"policy": "conwip", "conwip": 2},
                                        steps={"serve": {"pool": "s", "work": 1e-9}}), {},
                            "items (saturated: the bottleneck's capacity x horizon)"),
    "rework-loop": (_one_server(steps={"serve": {"pool": "s", "work": 1e-6,
                                                 "rework": {"probability": 0.999999, "to": "serve"}}}), {},
                    "1500 arrivals x 1e6 visits"),
    "cadence-held-shut": (_one_server(steps={"serve": {"pool": "s", "work": 0.5, "cadence": 1e-9},
                                             "ship": {"pool": "s", "work": 0.5, "wip_limit": 1}}), {},
                          "2e12 cadence ticks"),
}


@pytest.mark.parametrize(("stream", "sim", "why"), list(NEVER_END.values()), ids=list(NEVER_END))
def test_a_run_too_large_to_end_is_refused_before_it_starts(monkeypatch, stream, sim, why):
    def boom(*args, **kwargs):
        raise AssertionError("a replication ran")

    for engine in ENGINES.values():
        monkeypatch.setattr(type(engine), "run", boom)
    settings = {"horizon": 2000, "warmup": 200, "replications": 1, **sim}
    with deadline(20), pytest.raises(SpecError) as info:
        vssim.simulate(StreamSpec.from_dict(stream), progress=False, **settings)
    msg = assert_one_line(info.value, "sim.max_events", "the run needs about", "raise sim.max_events (now 1e8")
    assert why in msg


def test_the_refusal_names_the_estimate_and_the_settings_to_change():
    spec = StreamSpec.from_dict(_one_server(arrivals={"process": "poisson", "rate": 3e8}))
    with deadline(20), pytest.raises(SpecError) as info:
        vssim.simulate(spec, horizon=100, replications=1, progress=False)
    assert str(info.value) == ("sim.max_events: the run needs about 3.0e10 events (3e10 arrivals x 1 visit); allowed: "
                               "raise sim.max_events (now 1e8; null: no limit), shorten sim.horizon")
    with deadline(20), pytest.raises(SpecError) as info:
        vssim.simulate(spec, horizon=0.1, replications=10, max_events=1e7, progress=False)
    assert str(info.value) == ("sim.max_events: the run needs about 3.0e8 events (10 replications x (3e7 arrivals x 1 "
                               "visit)); allowed: raise sim.max_events (now 1e7; null: no limit), shorten sim.horizon "
                               "or run fewer sim.replications")


def test_max_events_null_is_no_limit_and_a_lower_limit_refuses_smaller_runs():
    spec = StreamSpec.from_dict(_one_server())
    assert vssim.simulate(spec, horizon=200, warmup=0, max_events=None, progress=False).summary["metrics"]["completed"]
    vssim.simulate(spec, horizon=200, warmup=0, max_events=200, progress=False)      # needs about 150
    with pytest.raises(SpecError, match=r"^sim.max_events: the run needs about 1.5e2 events \(150 arrivals"):
        vssim.simulate(spec, horizon=200, warmup=0, max_events=100, progress=False)


@pytest.mark.parametrize("value", [0, -1, True, "1e8", float("nan")])
def test_a_bad_max_events_is_refused(value):
    with pytest.raises(SpecError) as info:
        vssim.simulate(StreamSpec.from_dict(_one_server()), horizon=100, max_events=value, progress=False)
    assert_one_line(info.value, "sim.max_events", "got", "a positive number or null (no limit)")


def test_the_command_line_default_is_the_documented_limit():
    config = yaml.safe_load((CONFIGS / "config.yaml").read_text())
    assert settings_of(config).max_events == MAX_EVENTS == 1e8


RUN_SIZES = {
    "mm1": (_one_server(), {"horizon": 20000}),
    "rework": (_one_server(steps={"serve": {"pool": "s", "work": 0.4, "rework": {"probability": 0.5, "to": "serve"}}}),
               {"horizon": 20000}),
    "saturated": (_one_server(arrivals={"process": "saturated"}, release={"policy": "conwip", "conwip": 3},
                              pools={"s": 2}), {"horizon": 5000}),
    "backlog": (_one_server(arrivals={"process": "backlog", "count": 3000}), {"horizon": None}),
    "routed": ({"name": "routed", "arrivals": {"process": "poisson", "rate": 0.5},
                "item_types": {"a": {"share": 0.5}, "b": {"share": 0.5}}, "pools": {"p": 2},
                "steps": {"one": {"pool": "p", "work": 0.5, "types": ["a"]}, "two": {"pool": "p", "work": 0.5}}},
               {"horizon": 20000}),
}


@pytest.mark.parametrize(("stream", "sim"), list(RUN_SIZES.values()), ids=list(RUN_SIZES))
def test_the_estimate_is_about_the_visits_a_run_makes(stream, sim):
    spec = StreamSpec.from_dict(stream)
    size = RunSize.of(spec, sim["horizon"])
    result = vssim.simulate(spec, warmup=0, progress=False, **sim)
    visits = sum(len(r.visit_step) for r in result.records)
    assert visits * 0.95 <= size.events <= visits * 1.15, (size, visits)


def test_the_estimate_counts_the_interruptions_the_horizon_leaves():
    pools = {"s": {"size": 2, "interruptions": {"rate": 3.0, "duration": 0.01}}}
    long_work = RunSize.of(StreamSpec.from_dict(_one_server(pools=pools, steps={"serve": {"pool": "s", "work": 1e12}})),
                           100.0)
    assert long_work.interruptions == 3.0 * 2 * 100      # the people's time to the horizon, not the work
    short_work = RunSize.of(StreamSpec.from_dict(_one_server(pools=pools)), 100.0)
    assert short_work.interruptions == pytest.approx(3.0 * 0.75 * 100 * 1.0)
    until_done = RunSize.of(StreamSpec.from_dict(_one_server(pools=pools, arrivals=BACKLOG)), None)
    assert until_done.interruptions == pytest.approx(3.0 * 20 * 1.0)


NEVER_STARTED = {
    "interval-1e-300": ({"arrivals": {"process": "deterministic", "interval": 1e-300}}, "arrivals.interval", "1e-300"),
    "pool-1e9": ({"pools": {"s": 10**9}}, "pools.s", "1000000000"),
    "pool-1e12": ({"pools": {"s": 10**12}}, "pools.s", "1000000000000"),
    "pool-1e30": ({"pools": {"s": 10**30}}, "pools.s", "1" + "0" * 30),
}
"""The issue's cases outside the stream file's bounds (docs/model.md, "Bounds"): refused by the spec."""


@pytest.mark.parametrize(("changes", "path", "got"), list(NEVER_STARTED.values()), ids=list(NEVER_STARTED))
def test_a_value_beyond_its_bound_is_refused_before_a_run_starts(changes, path, got):
    with deadline(20), pytest.raises(SpecError) as info:
        vssim.simulate(StreamSpec.from_dict(_one_server(**changes)), horizon=100, progress=False)
    assert_one_line(info.value, path, got, "must be a")


def test_a_pool_too_large_for_memory_is_refused_before_its_people_are_made(monkeypatch):
    """People count in the run's size: the engines keep a record and random sources per person."""
    monkeypatch.setattr(type(ENGINES["simpy"]), "run", lambda *a, **k: pytest.fail("a replication ran"))
    spec = StreamSpec.from_dict(_one_server(pools={"s": 10**6}))
    with deadline(20), pytest.raises(SpecError) as info:
        vssim.simulate(spec, horizon=100, max_events=10**5, engine="simpy", progress=False)
    assert_one_line(info.value, "sim.max_events", "people", "fewer people in pools.*.size")
