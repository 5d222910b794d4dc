"""The compiled stream: index-based tables that every engine reads (built once per run).

`Plan.of(spec)` turns a validated `StreamSpec` (names, mappings) into lists indexed by step,
pool, person and item type, so that an engine's inner loop never looks a name up.

A stream with teams is flattened: the boards (the stream's, index 0, then every team in
`spec.teams` order) follow one another in one index space of steps and pools, each board's steps
contiguous (`board_start[b]`..`board_end[b]`), named as results name them (`build`, `web/build`).
Leaving board b's last column is "done on board b", the step index `n_steps + b`: for the stream's
board that is `n_steps`, as in a stream without teams, whose plan is what it always was.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from vssim.model.spec import StreamSpec
from vssim.model.teams import DEPENDENCY_LEVEL, qualify

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
    step_speed: list[dict[int, float] | None]   # by step: each pool's speed there (None: all 1)
    step_pick: list[list[int]]           # by step: its pools in the order a workable item looks for a free person
    step_swarm: list[int]                # by step: the most people on one item (1: one person per item)
    step_overhead: list[float]           # by step: a swarm's coordination overhead per extra person
    pool_sizes: list[int]                # people at time 0 (a pool's schedule changes it: `pool_schedule`)
    pool_schedule: list[tuple[tuple[float, int], ...]]
    step_capacity: list[int]             # people who may work each step (the sum of its pools' sizes)
    pool_steps: list[list[int]]          # steps each pool serves: fastest first, then by its dispatch order
    pool_tiers: list[list[list[int]]]    # by pool: its steps by speed tier (fastest first), each in dispatch order
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
    # boards (the stream's is 0): every list above spans all boards' steps and pools
    steps: list                          # the `Step`s, board after board
    pools: list                          # the `Pool`s
    step_names: list[str]                # qualified: `build`, `web/build`
    pool_names: list[str]
    board_names: list[str]               # "" (the stream's board), then the teams' qualified names
    board_of: list[int]                  # by step
    pool_board: list[int]
    board_start: list[int]
    board_end: list[int]
    board_conwip: list[int]
    board_first_columns: list[list[int]]
    after: list[list[int]]               # after[type][k]: the next step the type visits after k (n + b: done on b)
    level_names: list[str]               # the stream's `level`, then the splits' `into` levels, then `dependency`
    split_teams: list[tuple[tuple[int, object], ...] | None]  # by step: (board, count distribution) per team
    split_level: list[int]
    split_choose: list[tuple[tuple[int, ...], tuple[float, ...]] | None]  # by step: the positions in split_teams
    # of `choose`'s teams and their cumulative probabilities (None: every team makes its children)
    split_size: list[object | None]      # the children's size factor (None: 1)
    dependency_team: list[int]           # by step: the board a team dependency asks (-1: none)
    dependency_size: list[object | None]
    changeover: object | None = None     # a transition: the switch from another organisation (model.transition)
    initial: object | None = None        # the board now (model.initial.InitialState): items placed at time 0

    @property
    def has_teams(self) -> bool:
        return len(self.board_names) > 1

    @property
    def swarms(self) -> bool:
        """Some step lets several people work one item (`swarm` > 1)."""
        return any(k > 1 for k in self.step_swarm)

    @functools.cached_property
    def board_feeders(self) -> list[list[int]]:
        """By board: the steps that send it work (its splits and team dependencies)."""
        out: list[list[int]] = [[] for _ in self.board_names]
        for k in range(self.n_steps):
            for b, _ in self.split_teams[k] or ():
                out[b].append(k)
            if self.dependency_team[k] >= 0:
                out[self.dependency_team[k]].append(k)
        return out

    @classmethod
    def of(cls, spec: StreamSpec) -> Plan:
        boards = ["", *spec.teams]
        board_index = {b: j for j, b in enumerate(boards)}
        steps, step_names, pools, pool_names, board_of, board_start, board_end = [], [], [], [], [], [], []
        pool_board = []
        for j, b in enumerate(boards):
            b_steps, b_pools = spec.board(b)
            board_start.append(len(steps))
            for name, s in b_steps.items():
                steps.append(s)
                step_names.append(qualify(b, name))
                board_of.append(j)
            board_end.append(len(steps))
            for name, p in b_pools.items():
                pools.append(p)
                pool_names.append(qualify(b, name))
                pool_board.append(j)
        n = len(steps)
        step_pools = []
        for k, s in enumerate(steps):
            b = boards[board_of[k]]
            step_pools.append([pool_names.index(qualify(b, p)) for p in s.pools])
        step_speed = [None if s.speeds is None else dict(zip(p, s.speeds, strict=True))
                      for s, p in zip(steps, step_pools, strict=True)]
        pool_steps, pool_tiers, pool_fifo = [], [], []
        for p, pool in enumerate(pools):
            served = [j for j in range(n) if p in step_pools[j]]
            if pool.dispatch == "downstream_first":
                served.reverse()
            tiers = _speed_tiers(served, [1.0 if step_speed[j] is None else step_speed[j][p] for j in served])
            pool_tiers.append(tiers)
            pool_steps.append([j for tier in tiers for j in tier])
            pool_fifo.append(pool.dispatch == "fifo")
        person_pool, pool_people = [], []
        for p, pool in enumerate(pools):
            pool_people.append(list(range(len(person_pool), len(person_pool) + pool.most)))
            person_pool.extend([p] * pool.most)
        types = list(spec.item_types.values())
        # route[type][k]: the first step at or after k on k's board that the type visits (n + b: done on b)
        route, after, board_first = [], [], [[] for _ in boards]
        for t in types:
            r, a = [0] * (n + 1), [0] * n
            for j, b in enumerate(boards):
                lo, hi = board_start[j], board_end[j]
                local = spec.route(t.name, b)
                done = n + j
                for k in range(lo, hi):
                    r[k] = lo + local[k - lo] if local[k - lo] < hi - lo else done
                for k in range(lo, hi):
                    a[k] = r[k + 1] if k + 1 < hi else done
                if lo < hi and r[lo] < n:
                    board_first[j].append(r[lo])
            r[n] = n
            route.append(r)
            after.append(a)
        board_first = [sorted(set(f)) for f in board_first]
        levels = [spec.level]
        for s in steps:
            if s.split is not None and s.split.into not in levels:
                levels.append(s.split.into)
        if any(s.dependency is not None and s.dependency.team is not None for s in steps):
            levels.append(DEPENDENCY_LEVEL)
        releases = [spec.release, *(t.release for t in spec.teams.values())]
        first_columns = board_first[0]
        return cls(
            spec=spec,
            n_steps=n,
            limit=[UNLIMITED if s.wip_limit is None else s.wip_limit for s in steps],
            batch=[s.batch for s in steps],
            cadence=[s.cadence for s in steps],
            rework_p=[s.rework.probability if s.rework else 0.0 for s in steps],
            rework_to=[board_start[board_of[k]] + list(spec.board(boards[board_of[k]])[0]).index(s.rework.to)
                       if s.rework else -1 for k, s in enumerate(steps)],
            dependency_p=[s.dependency.probability if s.dependency else 0.0 for s in steps],
            step_pools=step_pools,
            step_speed=step_speed,
            step_pick=[sorted(p, key=lambda q, s=s, p=p: -s.speed(s.pools[p.index(q)])) if s.pick == "fastest"
                       else list(p) for s, p in zip(steps, step_pools, strict=True)],
            step_swarm=[s.swarm for s in steps],
            step_overhead=[s.overhead for s in steps],
            pool_sizes=[pool.size for pool in pools],
            pool_schedule=[pool.schedule for pool in pools],
            step_capacity=[sum(pools[p].size for p in sp) for sp in step_pools],
            pool_steps=pool_steps,
            pool_tiers=pool_tiers,
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
            first_columns=first_columns,
            is_first=[any(k in f for f in board_first) for k in range(n)],
            steps=steps,
            pools=pools,
            step_names=step_names,
            pool_names=pool_names,
            board_names=boards,
            board_of=board_of,
            pool_board=pool_board,
            board_start=board_start,
            board_end=board_end,
            board_conwip=[UNLIMITED if r.conwip is None else r.conwip for r in releases],
            board_first_columns=board_first,
            after=after,
            level_names=levels,
            split_teams=[None if s.split is None else tuple((board_index[t], d) for t, d in s.split.teams.items())
                         for s in steps],
            split_level=[-1 if s.split is None else levels.index(s.split.into) for s in steps],
            split_choose=[_choose(s.split) if s.split is not None and s.split.choose else None for s in steps],
            split_size=[None if s.split is None else s.split.size for s in steps],
            dependency_team=[board_index[s.dependency.team] if s.dependency and s.dependency.team else -1
                             for s in steps],
            dependency_size=[s.dependency.size if s.dependency and s.dependency.team else None for s in steps],
        )


def _speed_tiers(served: list[int], speeds: list[float]) -> list[list[int]]:
    """A pool's steps grouped by its speed there, fastest first, each group in `served`'s (dispatch)
    order: a person who frees up looks at their own skill's steps first (one group when all speeds tie)."""
    return [[j for j, s in zip(served, speeds, strict=True) if s == tier] for tier in sorted(set(speeds), reverse=True)]


def _choose(split) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """A split's `choose`: the positions of its teams among `split.teams` and their cumulative
    probabilities (the last exactly 1, so that a uniform draw < 1 always picks one)."""
    teams = list(split.teams)
    weights = split.choice()
    cumulative = list(itertools.accumulate(weights[t] for t in split.choose))
    cumulative[-1] = 1.0
    return tuple(teams.index(t) for t in split.choose), tuple(cumulative)
