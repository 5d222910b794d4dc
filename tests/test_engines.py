"""vssim/engines/registry.py and base.py: the engines by name, the choice `auto` makes, and the
refusals naming the field."""
from __future__ import annotations

import pytest

import vssim
from vssim.engines import registry
from vssim.errors import SpecError
from vssim.model.plan import Plan
from vssim.model.settings import Settings

MM1 = {"name": "mm1", "arrivals": {"process": "poisson", "rate": 0.5}, "pools": {"p": 1},
       "steps": {"s": {"pool": "p", "work": {"dist": "exponential", "mean": 1.0}}}}
SHARED = {**MM1, "name": "shared", "pools": {"p": 2},
          "steps": {"s": {"pool": "p", "work": {"dist": "exponential", "mean": 1.0}},
                    "t": {"pool": "p", "work": {"dist": "exponential", "mean": 1.0}}}}


def plan(d):
    return Plan.of(vssim.StreamSpec.from_dict(d))


def test_every_engine_has_the_protocol():
    assert registry.names() == ("simpy", "fast") and registry.choices() == ("simpy", "fast", "auto")
    for name, engine in registry.ENGINES.items():
        assert engine.name == name
        assert engine.qualifies(plan(MM1), Settings(horizon=10.0, warmup=0.0)) is None
        assert callable(engine.run)


def test_the_reference_runs_everything():
    assert registry.ENGINES["simpy"].qualifies(plan(SHARED), Settings(stats="streaming")) is None


def test_auto_takes_the_fastest_that_qualifies():
    assert registry.choose(plan(MM1), Settings(engine="auto")).name == "fast"
    assert registry.choose(plan(SHARED), Settings(engine="auto")).name == "simpy"
    two = {**MM1, "pools": {"p": 2}}
    assert registry.choose(plan(two), Settings(engine="auto")).name == "fast"
    assert registry.choose(plan(two), Settings(engine="auto", stats="streaming")).name == "simpy"


def test_a_named_engine_that_cannot_run_is_refused_with_its_reason():
    with pytest.raises(SpecError, match=r"^sim.engine: 'fast' cannot run stream 'shared': pools.p: shared by steps "
                                        r"s and t \(use simpy or auto\)$"):
        registry.choose(plan(SHARED), Settings(engine="fast"))
    with pytest.raises(SpecError, match=r"^sim.engine: 'fast' cannot stream 'mm1': steps.s has 2 people"):
        registry.choose(plan({**MM1, "pools": {"p": 2}}), Settings(engine="fast", stats="streaming"))


def test_an_unknown_engine_lists_the_choices():
    with pytest.raises(SpecError, match=r"^sim.engine: must be one of simpy, fast, auto, got 'quick'$"):
        registry.get("quick")
    with pytest.raises(SpecError, match=r"^sim.engine: must be one of simpy, fast, auto, got 'quick'$"):
        vssim.simulate(vssim.StreamSpec.from_dict(MM1), horizon=10, engine="quick")


def test_run_records_runs_one_replication_on_the_named_engine():
    a = registry.run_records("simpy", plan(MM1), 100.0, 0.0, 1, 0)
    b = registry.run_records("fast", vssim.StreamSpec.from_dict(MM1), 100.0, 0.0, 1, 0)
    assert (a.done[a.done == a.done] == b.done[b.done == b.done]).all()
