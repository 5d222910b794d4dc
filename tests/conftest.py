"""Shared test helpers."""
from __future__ import annotations

import pytest

import vssim


def simulate_dict(d: dict, **sim) -> vssim.SimResult:
    """Validate a stream mapping and simulate it (no progress bar)."""
    sim.setdefault("progress", False)
    return vssim.simulate(vssim.StreamSpec.from_dict(d), **sim)


@pytest.fixture(scope="session")
def run():
    """`run(d, **sim)`: simulate a stream dict with `vssim.simulate` keyword arguments."""
    return simulate_dict
