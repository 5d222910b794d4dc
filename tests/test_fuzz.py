"""Fuzzing: mutated shipped streams get a one-line error or a run that ends in its bound.

A seeded mutation loop over configs/stream/*.yaml (issue 12): each case changes one to three
things in a shipped stream (a number made huge, tiny, zero, negative, not finite or of another
type; a key deleted or given another kind of value; a feature grafted on: a cadence, a batch,
rework, interruptions, another arrival process or release) and runs it briefly on a random
engine and statistics. Every outcome must be a one-line `SpecError` (the stream or the run's
size refused), a one-line `DeadlockError` (the run stopped moving, as documented), or a run that
completes within the case's deadline: never another exception, never a hang. The default suite
runs a few hundred cases; the `slow` variant thousands more.
"""
from __future__ import annotations

import contextlib
import copy
import math
import resource
import time

import numpy as np
import pytest
import yaml
from conftest import CONFIGS, deadline

import vssim
from vssim.errors import DeadlockError, SpecError

STREAM_DIR = CONFIGS / "stream"
STREAMS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(STREAM_DIR.glob("*.yaml"))}
SIM = {"horizon": 100.0, "warmup": 10.0, "replications": 1, "max_events": 30_000}
"""Each case's run: short, and refused above 30,000 events (about a second on the SimPy engine)."""
MEMORY = 4 << 30
"""What a case may allocate beyond what the process holds: a size nothing bounds then ends in a
MemoryError the test reports, not in the machine's out-of-memory killer."""
SECONDS = 30
"""A case's deadline: a refusal takes milliseconds and a run of 30,000 events a second or two,
so only a hang (or a bound on the run's size that does not hold) reaches it on a loaded machine."""

ODD_NUMBERS = [0, -1, 1e-300, 5e-324, 1e-12, 1e-6, 0.5, 1, 2, 7, 1e6, 1e9, 1e12, 10**9, 10**12, 10**30, 1e300,
               1.7e308, math.inf, -math.inf, math.nan]
ODD_VALUES = [*ODD_NUMBERS, True, False, None, "", "x", "1e9", [], [1, 2], {}, {"dist": "exponential"},
              {"dist": "empirical", "values": [0, 1e-300]}, {"dist": "gamma", "mean": 1, "cv": 1e-200},
              {"dist": "lognormal", "mean": 1, "cv": 1e200}]
FACTORS = [0.0, -1.0, 1e-300, 1e-12, 1e-3, 10.0, 1e6, 1e12, 1e300]
STEP_GRAFTS = [{"cadence": 1e12}, {"cadence": 1e-9}, {"cadence": 3.0}, {"batch": 3}, {"batch": 1e308},
               {"wip_limit": 1}, {"handoff": {"dist": "exponential", "mean": 0.5}},
               {"dependency": {"probability": 0.5, "delay": {"dist": "exponential", "mean": 1.0}}},
               {"work": {"dist": "deterministic", "value": 1e12}}, {"work": 1e-9}, {"types": ["nosuch"]}]
POOL_GRAFTS = [{"interruptions": {"rate": 1e9, "duration": 0.001}},
               {"interruptions": {"rate": 2.0, "duration": {"dist": "exponential", "mean": 0.1}}},
               {"switch_cost": 0.1}, {"size": 10**12}, {"size": 10**30}, {"size": 50}]
ARRIVALS = [{"process": "poisson", "rate": 1e9}, {"process": "poisson", "rate": 3e8},
            {"process": "deterministic", "interval": 1e-300}, {"process": "backlog", "count": 10**9},
            {"process": "backlog", "count": 30}, {"process": "saturated"},
            {"process": "renewal", "interarrival": {"dist": "empirical", "values": [0, 1e-300]}},
            {"process": "trace", "times": [0, 1, 1, 2.5]}, {"process": "poisson", "rate": 0.01}]
RELEASES = [{"policy": "conwip", "conwip": 1}, {"policy": "conwip", "conwip": 10**9}, {"policy": "push"},
            {"policy": "push", "backlog_limit": 0}, {"policy": "conwip", "conwip": 5, "backlog_limit": 3}]


def _leaves(node, path=()):
    """Every (path, value) below node, mappings and lists included."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k), v
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*path, i), v
            yield from _leaves(v, (*path, i))


def _set(d, path, value) -> None:
    node = d
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


_DELETE = object()


def _pick(rng: np.random.Generator, options: list):
    return copy.deepcopy(options[int(rng.integers(len(options)))])


def mutate(d: dict, rng: np.random.Generator) -> str:
    """Apply one random mutation to d in place; what it did, to name a failing case."""
    kind = int(rng.integers(6))
    leaves = list(_leaves(d))
    if kind == 0:                           # a number made odd
        numbers = [(p, v) for p, v in leaves if isinstance(v, int | float) and not isinstance(v, bool)]
        if numbers:
            path, v = numbers[int(rng.integers(len(numbers)))]
            new = _pick(rng, ODD_NUMBERS) if rng.random() < 0.5 else v * _pick(rng, FACTORS)
            _set(d, path, new)
            return f"{'.'.join(map(str, path))}={new!r}"
    if kind == 1:                           # any value replaced
        path, _ = leaves[int(rng.integers(len(leaves)))]
        new = _pick(rng, ODD_VALUES)
        _set(d, path, new)
        return f"{'.'.join(map(str, path))}={new!r}"
    if kind == 2:                           # a key deleted
        keyed = [p for p, _ in leaves if isinstance(p[-1], str)]
        path = keyed[int(rng.integers(len(keyed)))]
        _set(d, path, _DELETE)
        return f"del {'.'.join(map(str, path))}"
    if kind == 3 and isinstance(d.get("steps"), dict) and d["steps"]:
        name = list(d["steps"])[int(rng.integers(len(d["steps"])))]
        graft = _pick(rng, STEP_GRAFTS)
        if rng.random() < 0.3:
            graft = {"rework": {"probability": float(rng.choice([0.3, 0.999999, 1.0])),
                                "to": list(d["steps"])[int(rng.integers(len(d["steps"])))]}}
        if isinstance(d["steps"][name], dict):
            d["steps"][name].update(graft)
            return f"steps.{name} += {graft!r}"
    if kind == 4 and isinstance(d.get("pools"), dict) and d["pools"]:
        name = list(d["pools"])[int(rng.integers(len(d["pools"])))]
        pool = d["pools"][name]
        pool = dict(pool) if isinstance(pool, dict) else {"size": pool}
        graft = _pick(rng, POOL_GRAFTS)
        pool.update(graft)
        d["pools"][name] = pool
        return f"pools.{name} += {graft!r}"
    if rng.random() < 0.5:
        d["arrivals"] = _pick(rng, ARRIVALS)
        return f"arrivals={d['arrivals']!r}"
    d["release"] = _pick(rng, RELEASES)
    return f"release={d['release']!r}"


def one_case(seed: int) -> tuple[str, str]:
    """Mutate a shipped stream (by the seed) and run it; (what was done, the outcome)."""
    rng = np.random.default_rng(seed)
    name = list(STREAMS)[int(rng.integers(len(STREAMS)))]
    d = copy.deepcopy(STREAMS[name])
    done = [mutate(d, rng) for _ in range(int(rng.integers(1, 4)))]
    sim = {**SIM, "engine": str(rng.choice(["simpy", "auto"])), "stats": str(rng.choice(["full", "full", "streaming"])),
           "seed": int(rng.integers(100))}
    what = f"seed {seed}: {name}: {'; '.join(done)} ({sim['engine']}, {sim['stats']})"
    start = time.perf_counter()
    try:
        with deadline(SECONDS):
            spec = vssim.StreamSpec.from_dict(d, base_dir=STREAM_DIR)
            if spec.arrivals.finite:
                sim.update(horizon=None, warmup=0.0)
            vssim.simulate(spec, progress=False, **sim)
    except (SpecError, DeadlockError) as e:
        return what, ("refused" if isinstance(e, SpecError) else "deadlock") + (
            "" if "\n" not in str(e) else f" on several lines: {e!r}")
    except Exception as e:                  # noqa: BLE001 - what the fuzzer looks for
        return what, f"{type(e).__name__}: {str(e)[:300]}"
    return what, f"ran ({time.perf_counter() - start:.1f} s)"


@contextlib.contextmanager
def memory_bound():
    """The process's address space limited to what it holds + MEMORY, for the duration."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        held = int(f.read().split()[0]) * resource.getpagesize()
    limit = held + MEMORY if hard == resource.RLIM_INFINITY else min(hard, held + MEMORY)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _failures(seeds) -> list[str]:
    out = []
    with memory_bound():
        for seed in seeds:
            what, outcome = one_case(seed)
            if not (outcome in ("refused", "deadlock") or outcome.startswith("ran")):
                out.append(f"{what} -> {outcome}")
    return out


def test_mutated_streams_are_refused_in_one_line_or_run_in_their_bound():
    failures = _failures(range(300))
    assert not failures, f"{len(failures)} of 300 cases:\n" + "\n".join(failures)


@pytest.mark.slow
def test_many_more_mutated_streams():
    failures = _failures(range(300, 3300))
    assert not failures, f"{len(failures)} of 3000 cases:\n" + "\n".join(failures)
