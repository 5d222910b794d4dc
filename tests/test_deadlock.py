"""A stream that stops moving at run time raises DeadlockError naming the columns
(vssim/engines/simpy/deadlock.py), never hangs; a loop that can always move never deadlocks."""
from __future__ import annotations

import pytest
from conftest import deadline, loop_stream

import vssim
from vssim import DeadlockError, StreamSpec

LOOPS = {
    "poisson": ({"process": "poisson", "rate": 0.5}, None, 200.0),
    "backlog": ({"process": "backlog", "count": 50}, None, None),
    "saturated-conwip": ({"process": "saturated"}, {"policy": "conwip", "conwip": 3}, 200.0),
    "saturated-first-column-limit": ({"process": "saturated"}, None, 200.0),
}


@pytest.mark.parametrize(("arrivals", "release", "horizon"), list(LOOPS.values()), ids=list(LOOPS))
def test_rework_into_a_full_column_deadlocks(arrivals, release, horizon):
    spec = StreamSpec.from_dict(loop_stream(arrivals, release=release))  # valid before the run
    with deadline(20), pytest.raises(DeadlockError) as info:
        vssim.simulate(spec, horizon=horizon, replications=2, seed=0, progress=False)
    msg = str(info.value)
    assert "\n" not in msg
    assert "deadlock" in msg
    assert "build" in msg and "validate" in msg
    assert "wip_limit 1" in msg
    assert "'loop'" in msg


@pytest.mark.parametrize(("arrivals", "release", "horizon"), list(LOOPS.values()), ids=list(LOOPS))
def test_rework_to_the_same_step_never_deadlocks(arrivals, release, horizon):
    if arrivals["process"] == "poisson":
        arrivals = {"process": "poisson", "rate": 0.3}  # stable: the tester's load is 0.6
    spec = StreamSpec.from_dict(loop_stream(arrivals, to="validate", release=release))
    with deadline(20):
        result = vssim.simulate(
            spec, horizon=None if horizon is None else 500.0, replications=2, seed=0, progress=False
        )
    m = result.summary["metrics"]
    assert m["completed"] > 0
    assert result.items["rework_count"].max() > 0
    if arrivals["process"] == "backlog":
        assert m["completed"] == 2 * arrivals["count"]
