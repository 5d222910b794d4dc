"""The compiled stream: index-based tables that every engine reads (built once per run).

`Plan.of(spec)` turns a validated `StreamSpec` (names, mappings) into lists indexed by step,
pool, person and item type, so that an engine's inner loop never looks a name up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vssim.model.spec import StreamSpec

UNLIMITED = 1 << 62


@dataclass(frozen=True)
class Plan:
    """A stream compiled to index-based tables for the engine (built once per run)."""

    spec: StreamSpec
    n_steps: int
    limit: list[int]
    batch: list[int]
    cadence: list[float | None]
    rework_p: list[float]
    rework_to: list[int]
    dependency_p: list[float]
    step_pools: list[list[int]]
    pool_sizes: list[int]
    step_capacity: list[int]             # people who may work each step (the sum of its pools' sizes)
    pool_steps: list[list[int]]          # steps each pool serves, in its dispatch order
    pool_fifo: list[bool]
    person_pool: list[int]
    pool_people: list[list[int]]
    type_priority: list[int]
    type_size: list[float | None]        # None when the size is drawn
    type_value: list[float]
    type_shares: np.ndarray
    conwip: int
    routed: bool                         # some step is visited by some item types only
    route: list[list[int]]               # route[type][k]: first step >= k the type visits (n: done)
    first_columns: list[int]             # the columns items are committed into
    is_first: list[bool]

    @classmethod
    def of(cls, spec: StreamSpec) -> Plan:
        names = spec.step_names
        steps = list(spec.steps.values())
        pool_names = list(spec.pools)
        step_pools = [[pool_names.index(p) for p in s.pools] for s in steps]
        pool_steps, pool_fifo = [], []
        for p, pool in enumerate(spec.pools.values()):
            served = [j for j in range(len(steps)) if p in step_pools[j]]
            if pool.dispatch == "downstream_first":
                served.reverse()
            pool_steps.append(served)
            pool_fifo.append(pool.dispatch == "fifo")
        person_pool, pool_people = [], []
        for p, pool in enumerate(spec.pools.values()):
            pool_people.append(list(range(len(person_pool), len(person_pool) + pool.size)))
            person_pool.extend([p] * pool.size)
        types = list(spec.item_types.values())
        route = [spec.route(t.name) for t in types]
        return cls(
            spec=spec,
            n_steps=len(steps),
            limit=[UNLIMITED if s.wip_limit is None else s.wip_limit for s in steps],
            batch=[s.batch for s in steps],
            cadence=[s.cadence for s in steps],
            rework_p=[s.rework.probability if s.rework else 0.0 for s in steps],
            rework_to=[names.index(s.rework.to) if s.rework else -1 for s in steps],
            dependency_p=[s.dependency.probability if s.dependency else 0.0 for s in steps],
            step_pools=step_pools,
            pool_sizes=[pool.size for pool in spec.pools.values()],
            step_capacity=[sum(list(spec.pools.values())[p].size for p in pools) for pools in step_pools],
            pool_steps=pool_steps,
            pool_fifo=pool_fifo,
            person_pool=person_pool,
            pool_people=pool_people,
            type_priority=[t.priority for t in types],
            type_size=[None if hasattr(t.size, "sample") else float(t.size) for t in types],
            type_value=[t.business_value for t in types],
            type_shares=np.array([t.share for t in types]),
            conwip=UNLIMITED if spec.release.conwip is None else spec.release.conwip,
            routed=any(s.types is not None for s in steps),
            route=route,
            first_columns=sorted({r[0] for r in route}),
            is_first=[k in {r[0] for r in route} for k in range(len(steps))],
        )
