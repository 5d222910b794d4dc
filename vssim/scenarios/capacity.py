"""What a stream's structure says without a run, per arriving item: the work each pool is offered,
the raw process time (no queueing) through a board, where a split waits for its slowest team and
a team dependency for the team's piece of work, and the critical WIP of Factory Physics.

Why apart from the transforms: `limit_wip`, `set_policy` and the team transforms share this
arithmetic over every board of a stream (docs/scenarios.md, §3 and "Streams with teams").
"""
from __future__ import annotations

from vssim.errors import SpecError
from vssim.model.spec import Pool, Step, StreamSpec
from vssim.model.teams import qualify

__all__ = ["critical_wip", "demand", "raw_time", "visit_work", "waiting"]


def visit_work(step: Step, pools: dict[str, Pool], size: float) -> float:
    """The mean work of one visit of an item of mean `size` with its pools' interruption overhead
    (work × rate × mean length), averaged over the step's pools; 0 on a split step (no work of its own)."""
    if step.split is not None:
        return 0.0
    work = step.work.mean * size
    total = 0.0
    for p in step.pools:
        i = pools[p].interruptions
        total += work + (work * i.rate * i.duration.mean if i is not None else 0.0)
    return total / len(step.pools)


def waiting(spec: StreamSpec, step: Step, item_type: str, size: float) -> float:
    """The mean time an item of mean `size` waits at `step` for other teams or a delay, with no
    queueing anywhere: a split's slowest team (its children are worked in parallel), a dependency's
    probability × (its delay + the raw time of the team's piece of work)."""
    if step.split is not None:
        child = size * step.split.size_mean
        return max((raw_time(spec, item_type, child, team) for team, n in step.sends().items() if n > 0),
                   default=0.0)
    d = step.dependency
    if d is None:
        return 0.0
    wait = d.delay.mean if d.delay is not None else 0.0
    if d.team is not None:
        wait += raw_time(spec, item_type, size if d.size is None else d.size.mean, d.team)
    return d.probability * wait


def raw_time(spec: StreamSpec, item_type: str, size: float, board: str = "") -> float:
    """T0 of one item through a board: per visit its work and waits, the handoffs between the steps
    it visits, and half a cadence at each cadence gate it passes."""
    steps, pools = spec.board(board)
    ordered = list(steps.values())
    visits = spec.visit_ratios(item_type, board)
    route = spec.route(item_type, board)
    total = 0.0
    for j, s in enumerate(ordered):
        v = visits[s.name]
        if v == 0:
            continue
        total += v * (visit_work(s, pools, size) + waiting(spec, s, item_type, size))
        if s.handoff is not None and route[j + 1] < len(ordered):
            total += v * s.handoff.mean
        if s.cadence is not None:
            total += s.cadence / 2
    return total


def demand(spec: StreamSpec) -> dict[str, float]:
    """The work per arriving item offered to each pool (qualified: `web/devs`), interruptions
    included: the offered load at one arrival per time unit, times the pool's people."""
    people = {qualify(b, p): pool.size * pool.share for b in ("", *spec.teams) for p, pool in spec.board(b)[1].items()}
    return {p: load * people[p] for p, load in spec.offered_load(rate=1.0).items()}


def critical_wip(spec: StreamSpec) -> tuple[float, float, float]:
    """Factory Physics (r_b, T0, W0 = r_b·T0) of a stream, in items that arrive.

    A station is a set of pools of one board joined by the steps that share them; its demand per
    arriving item is the work its pools are offered (`demand`: visits × mean work × mean size +
    the interruption overhead, each type weighted by its share, children by their expected number
    per parent), its capacity the people of its pools; r_b = min capacity / demand. T0 = the
    share-weighted raw time through the stream's board (`raw_time`): the work and the pure delays
    an item meets with no queueing at all (handoffs, dependency delays × probability, half a
    cadence at a cadence gate), a split's slowest team in parallel. Delays are infinite-server
    stations: they add to T0, not to r_b.
    """
    from vssim.analysis.theory import line_parameters

    parent = {qualify(b, p): qualify(b, p) for b in ("", *spec.teams) for p in spec.board(b)[1]}

    def root(p: str) -> str:
        while parent[p] != p:
            p = parent[p]
        return p

    for b in ("", *spec.teams):
        for s in spec.board(b)[0].values():
            for p in s.pools[1:]:
                parent[root(qualify(b, p))] = root(qualify(b, s.pools[0]))
    work: dict[str, float] = {}
    people: dict[str, int] = {}
    sizes = {qualify(b, p): pool.size for b in ("", *spec.teams) for p, pool in spec.board(b)[1].items()}
    for p, d in demand(spec).items():
        work[root(p)] = work.get(root(p), 0.0) + d
        people[root(p)] = people.get(root(p), 0) + sizes[p]
    stations = [r for r, d in work.items() if d > 0]
    if not stations:
        raise SpecError("critical_wip", message="the stream has no work: every mean work time is 0")
    rb, _, _ = line_parameters(mean_times=[work[r] for r in stations], servers=[people[r] for r in stations])
    t0 = sum(t.share * raw_time(spec, t.name, t.mean_size) for t in spec.item_types.values())
    return rb, t0, rb * t0
