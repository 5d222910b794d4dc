"""The WIP curves' station parameters (vssim/analysis/wipcurve.py): mean time, people and the
work's squared coefficient of variation, for every family of work distribution."""
from __future__ import annotations

import pytest

import vssim
from vssim.analysis.wipcurve import stations


@pytest.mark.parametrize(("work", "scv"), [
    ({"dist": "exponential", "mean": 2.0}, 1.0),
    ({"dist": "gamma", "mean": 2.0, "cv": 0.5}, 0.25),
    ({"dist": "deterministic", "value": 2.0}, 0.0),
    ({"dist": "uniform", "low": 0.0, "high": 4.0}, (16 / 12) / 4),            # var (b-a)^2/12, mean 2
    ({"dist": "triangular", "low": 0.0, "mode": 2.0, "high": 4.0}, (16 + 4 - 8) / 18 / 4),
])
def test_station_scv_of_each_family(work, scv):
    d = {"name": "one", "arrivals": {"process": "saturated"}, "release": {"policy": "conwip", "conwip": 3},
         "pools": {"a": 2}, "steps": {"s": {"pool": "a", "work": work}}}
    times, people, scvs = stations(vssim.StreamSpec.from_dict(d))
    assert times == [pytest.approx(2.0)] and people == [2]
    assert scvs[0] == pytest.approx(scv, rel=1e-12, abs=1e-15)
