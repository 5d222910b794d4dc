"""Bad simulation settings (vssim/model/settings.py, `sim.*`) are refused before any replication
runs, with one line naming the field, the value and what is allowed (docs/cli.md)."""
from __future__ import annotations

import copy

import pytest
from conftest import BASE, assert_one_line, broken

import vssim
from vssim import SpecError, StreamSpec
from vssim.engines.registry import ENGINES

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


