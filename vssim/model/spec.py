"""The stream model of docs/model.md: a validated, immutable description of a value stream.

A stream file is parsed once, here, into frozen dataclasses. Every check that can be made
before a run is made here, and each failure names the field path, the value and what is
allowed, so that the engine can trust what it gets.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vssim.errors import SpecError, show
from vssim.model.calendar import Calendar, Epoch, parse_calendar, parse_epoch, with_calendar_keys
from vssim.model.distributions import Distribution, parse_distribution
from vssim.model.keys import (
    ARRIVAL_FORMS,
    ARRIVAL_OPTIONAL,
    ARRIVAL_PROCESSES,
    CLASSES_OF_SERVICE,
    DISPATCH_RULES,
    KEYS,
    MAX_ITEMS,
    MAX_PEOPLE,
    PICK_RULES,
    RELEASE_POLICIES,
    SCHEMA_VERSION,
    NewCheckError,
    children,
    default,
    required_keys,
    schema_version,
    tell_what_changed,
)
from vssim.model.profile import HOURS_PER_UNIT, Profile
from vssim.model.teams import DEPENDENCY_LEVEL, SEP, Edge, Scope, check_graph, child_counts, expand, files_in
from vssim.model.userfiles import check_name, check_stream_shape, check_text, load_yaml, read_trace

__all__ = ["ARRIVAL_PROCESSES", "CLASSES_OF_SERVICE", "DISPATCH_RULES", "RELEASE_POLICIES", "SCHEMA_VERSION",
           "Split", "StreamSpec", "Team", "load_stream"]
DEFAULT_TYPE = "item"
DEFAULT_LEVEL = "item"


# --------------------------------------------------------------------------- small checks
def _mapping(value: Any, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise SpecError(path, "a mapping", value)
    return value


def _keys(d: Mapping, path: str, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
    for key in d:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise SpecError(where, message=f"unknown key; allowed: {', '.join(allowed)}")
    _required(d, path, required)


def _required(d: Mapping, path: str, required: Sequence[str], unless: str = "") -> None:
    """Each of `required` given and not null; `unless`: when else it may be left out, for the message."""
    for key in required:
        if key not in d or d[key] is None:
            raise SpecError(f"{path}.{key}" if path else key,
                            message="required" + (", got null" if key in d else "") + unless)


def _number(value: Any, where: str, path: str, *, nullable: bool = False) -> Any:
    """`value` inside the bound of key `path` (keys.py, docs/model.md); an error names `where`."""
    return KEYS[path].bound.check(value, where, nullable=nullable)


def _choice(value: Any, path: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise SpecError(path, "one of " + ", ".join(choices), value)
    return value


def _dist(value: Any, path: str) -> Distribution:
    return parse_distribution(dict(value) if isinstance(value, Mapping) else value, path)


def _optional_dist(value: Any, path: str) -> Distribution | None:
    return None if value is None else _dist(value, path)


def _telling_what_changed(from_dict):
    """Read the file's `schema_version` first (refusing a newer one); when a check added since the
    file's version refuses it, the one-line error ends with what changed."""
    @functools.wraps(from_dict)
    def read(cls, data: Mapping, **kwargs) -> StreamSpec:
        version = schema_version(data)
        try:
            return from_dict(cls, data, **kwargs)
        except SpecError as e:
            raise tell_what_changed(e, version) from None
    return read


# --------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class ItemType:
    """A kind of work item (flow distribution) with its share, size and class of service."""

    name: str
    share: float
    size: float | Distribution = 1.0
    class_of_service: str = "standard"
    business_value: float = 1.0

    @property
    def priority(self) -> int:
        """0 is served first."""
        return CLASSES_OF_SERVICE.index(self.class_of_service)

    @property
    def mean_size(self) -> float:
        return self.size.mean if isinstance(self.size, Distribution) else float(self.size)


@dataclass(frozen=True)
class Interruptions:
    """Unplanned interruptions of a person while working: `rate` per unit of work time."""

    rate: float
    duration: Distribution


@dataclass(frozen=True)
class Pool:
    """People with one skill set. Several steps may draw on one pool (a cross-functional team)."""

    name: str
    size: int
    dispatch: str = "downstream_first"
    interruptions: Interruptions | None = None
    switch_cost: Distribution | None = None
    schedule: tuple[tuple[float, int], ...] = ()   # (from when, people): capacity over time after `size`
    calendar: Calendar | None = None               # when its people work (None: always)

    @property
    def last(self) -> int:
        """The people the pool has in the long run: after its schedule's last change."""
        return self.schedule[-1][1] if self.schedule else self.size

    @property
    def share(self) -> float:
        """The long-run share of the time its people work (1 without a calendar)."""
        return 1.0 if self.calendar is None else self.calendar.share

    @property
    def most(self) -> int:
        """The most people the pool ever has (the people an engine makes)."""
        return max([self.size, *(n for _, n in self.schedule)])


@dataclass(frozen=True)
class Dependency:
    """With `probability`, an item waits on another team before it is workable: `delay`, or with
    `team` one piece of work of that team (a child of level `dependency`, of `size`, None: the
    item's), then `delay` if given."""

    probability: float
    delay: Distribution | None
    team: str | None = None             # qualified
    size: Distribution | None = None


@dataclass(frozen=True)
class Rework:
    """With `probability`, an item fails its check here and returns to step `to`."""

    probability: float
    to: str


@dataclass(frozen=True)
class Split:
    """A split step's children: `teams` maps each qualified team to its count per parent (a
    distribution whose draws `teams.child_counts` rounds), `into` is their level, `size` multiplies
    the parent's size (None: 1)."""

    into: str
    teams: dict[str, Distribution]
    size: Distribution | None = None
    choose: tuple[str, ...] = ()        # qualified: per parent one of them makes children (none: all of them)

    def expected_count(self, team: str) -> float:
        """The mean number of children per parent for `team`: exact for a number, empirical values and
        integer-valued distributions; else the distribution's mean (rounding moves it by less than ½)."""
        d = self.teams[team]
        if d.name in ("deterministic", "empirical") and "file" not in d.params:
            values = d.params.get("values", (d.params.get("value"),))
            return float(np.mean(child_counts(np.array(values, dtype=float))))
        return d.mean

    @property
    def size_mean(self) -> float:
        return 1.0 if self.size is None else self.size.mean

    def choice(self) -> dict[str, float]:
        """The probability that each team of `choose` is the one drawn for a parent: ∝ its expected count."""
        weights = {t: self.expected_count(t) for t in self.choose}
        total = math.fsum(weights.values())
        return {t: w / total for t, w in weights.items()}

    def expected_children(self, team: str) -> float:
        """Children per parent for `team`: its expected count, times the chance it is drawn (`choose`)."""
        return self.expected_count(team) * self.choice()[team] if team in self.choose else self.expected_count(team)


@dataclass(frozen=True)
class Step:
    """A column of the board. A split step (`split`) has no pools and no work: its children do it."""

    name: str
    pools: tuple[str, ...]
    work: Distribution | None
    wip_limit: int | None = None
    handoff: Distribution | None = None
    dependency: Dependency | None = None
    rework: Rework | None = None
    batch: int = 1
    cadence: float | None = None
    types: tuple[str, ...] | None = None   # item types that visit this step (None: all)
    split: Split | None = None
    speeds: tuple[float, ...] | None = None  # each pool's speed at this step, as `pools` (None: all 1)
    pick: str = "order"                      # who starts a workable item: the list's order, or the fastest
    swarm: int = 1                           # the most people on one item (1: one person per item)
    overhead: float = 0.0                    # a swarm of n works at the sum of its speeds ÷ (1 + overhead·(n − 1))

    def speed(self, pool: str) -> float:
        """How fast `pool`'s people work this step (work time ÷ speed)."""
        return 1.0 if self.speeds is None else self.speeds[self.pools.index(pool)]

    def visited_by(self, item_type: str) -> bool:
        return self.types is None or item_type in self.types

    def sends(self) -> dict[str, float]:
        """The qualified teams this step gives work to, each with the children one visit makes on average."""
        if self.split is not None:
            return {t: self.split.expected_children(t) for t in self.split.teams}
        d = self.dependency
        return {} if d is None or d.team is None else {d.team: d.probability}


@dataclass(frozen=True)
class Arrivals:
    """How demand reaches the backlog."""

    process: str
    rate: float | None = None
    interarrival: Distribution | None = None
    count: int | None = None
    times: tuple[float, ...] | None = None
    types: tuple[str | None, ...] | None = None
    sizes: tuple[float | None, ...] | None = None
    profile: Profile | None = None      # poisson: the rate's weekly/daily shape and trend (None: flat)
    limit: int | None = None            # open processes: only the first `limit` items arrive

    @property
    def finite(self) -> bool:
        """True when a finite number of items arrives, so a run can last until all are done."""
        return self.process in ("backlog", "trace") or self.limit is not None


@dataclass(frozen=True)
class Release:
    """When arrived work is committed: push, or CONWIP; per-column limits combine with either."""

    policy: str = "push"
    conwip: int | None = None
    backlog_limit: int | None = None


@dataclass(frozen=True)
class Team:
    """A board that works children: a stream without arrivals (its items are the children of split
    steps and team dependencies, of their parent's type). `name` is qualified (`art1/web`); its
    pools and steps are named inside it (`devs`; results show `web/devs`)."""

    name: str
    pools: dict[str, Pool]
    steps: dict[str, Step]
    release: Release = field(default_factory=Release)

    def qualify(self, name: str) -> str:
        """A pool or step of the team as results name it: `web/devs`."""
        return f"{self.name}{SEP}{name}"


@dataclass(frozen=True)
class StreamSpec:
    """A validated value stream. Build it with `StreamSpec.from_dict` or `vssim.load_stream`.

    `teams` holds every team of the hierarchy, flat, by qualified name (docs/model.md, "Teams,
    splits and levels"); `level` is the level of the items that arrive."""

    name: str
    arrivals: Arrivals
    item_types: dict[str, ItemType]
    pools: dict[str, Pool]
    release: Release
    steps: dict[str, Step]
    time_unit: str = "day"
    description: str = ""
    parts: int = 1                      # each item arrives as this many parts (`split_items`), one after another
    teams: dict[str, Team] = field(default_factory=dict)
    level: str = DEFAULT_LEVEL
    source: dict = field(default_factory=dict, compare=False, repr=False)
    schema_version: int = field(default=SCHEMA_VERSION, compare=False)   # what the file says (absent: 1)
    epoch: Epoch | None = None          # when time 0 is (None: no dates; Monday 00:00 UTC for a calendar's weekdays)

    # -------------------------------------------------------------- construction
    @classmethod
    @_telling_what_changed
    def from_dict(cls, data: Mapping, *, base_dir: str | Path | None = None) -> StreamSpec:
        """Validate a stream mapping (a parsed YAML file) and build the spec.

        Relative `file` paths (trace arrivals) and team references `{stream: NAME}` (NAME.yaml) are
        resolved against `base_dir` (None: the current directory); `source` holds the teams expanded.
        """
        d = _mapping(data, "stream")
        _keys(d, "", children(""), required=required_keys(""))
        d = with_calendar_keys(expand(d, files_in(base_dir)))
        name = check_name(d.get("name", "stream"), "name")
        time_unit = d.get("time_unit", "day")
        if not isinstance(time_unit, str) or not time_unit:
            raise SpecError("time_unit", "a non-empty string", time_unit)
        description = check_text(d.get("description"), "description")
        epoch = None if d.get("epoch") is None else parse_epoch(d["epoch"], time_unit)
        when = _When(epoch, time_unit)
        item_types = _parse_item_types(d.get("item_types"))
        arrivals = _parse_arrivals(d["arrivals"], item_types, base_dir, time_unit)
        pools = _stream_pools(d, when)
        release = _parse_release(d.get("release"))
        level = check_name(d.get("level", DEFAULT_LEVEL), "level")
        boards = _Board(Scope(), item_types, when)
        declared = boards.declare(d.get("teams"), "teams", "")
        steps = boards.steps(d["steps"], pools, "steps", "")
        teams = {q: boards.team(t, path, q) for q, t, path in declared}
        parts = _parse_parts(d.get("parts", 1), release, bool(teams))
        spec = cls(name=name, arrivals=arrivals, item_types=item_types, pools=pools, release=release,
                   steps=steps, time_unit=time_unit, description=str(description), parts=parts, teams=teams,
                   level=level, source=_plain(d), schema_version=schema_version(d), epoch=epoch)
        check_graph(boards.edges, level)
        _check_can_flow(spec)
        return spec

    def to_dict(self) -> dict:
        """The stream as a plain mapping (what it was built from)."""
        return _plain(self.source)

    # -------------------------------------------------------------- derived facts
    @property
    def step_names(self) -> list[str]:
        return list(self.steps)

    def arrival_rate(self) -> float | None:
        """Long-run arrival rate of an open stream, or None for a backlog, trace or closed one. With a rate
        profile: its mean over the week, `rate` (the shapes have mean 1), before any trend; with `limit`: the
        rate while the items arrive."""
        a = self.arrivals
        if a.process in ("poisson", "deterministic"):
            return a.rate
        if a.process == "renewal":
            return 1.0 / a.interarrival.mean if a.interarrival.mean > 0 else math.inf
        return None

    def mean_size(self) -> float:
        return sum(t.share * t.mean_size for t in self.item_types.values())

    def board(self, team: str = "") -> tuple[dict[str, Step], dict[str, Pool]]:
        """The steps and pools of the stream's own board ("") or of the team of that qualified name."""
        if not team:
            return self.steps, self.pools
        return self.teams[team].steps, self.teams[team].pools

    def route(self, item_type: str, team: str = "") -> list[int]:
        """`route[k]`: the first step at or after k that items of this type visit (n: done), on the
        stream's board or a team's."""
        return _route(list(self.board(team)[0].values()), item_type)

    def visit_ratios(self, item_type: str | None = None, team: str = "") -> dict[str, float]:
        """Mean visits per item to each step of a board, rework loops included (solves v = e + vP).

        For one item type, or averaged over the types' shares when `item_type` is None.
        """
        steps = self.board(team)[0]
        names = list(steps)
        if item_type is None:
            total = np.zeros(len(names))
            for t in self.item_types.values():
                total += t.share * np.array(list(self.visit_ratios(t.name, team).values()))
            return dict(zip(names, total.tolist(), strict=True))
        n = len(names)
        route = self.route(item_type, team)
        p = np.zeros((n + 1, n + 1))
        for j, s in enumerate(steps.values()):
            pr = s.rework.probability if s.rework else 0.0
            if s.rework:
                p[j, route[names.index(s.rework.to)]] += pr
            p[j, route[j + 1]] += 1.0 - pr
        e = np.zeros(n + 1)
        e[route[0]] = 1.0
        p[n, :] = 0.0                      # done is absorbing: no visits after it
        v = np.linalg.solve((np.eye(n + 1) - p).T, e)
        return dict(zip(names, v[:n].tolist(), strict=True))

    def flows(self, rate: float | None = None) -> dict[str, dict[str, tuple[float, float]]]:
        """Per board ("" the stream's, else a qualified team) and item type: the long-run rate of the items
        that enter it and their mean size, or {} for a finite or closed stream. A split sends each visit's
        expected children (`Split.expected_children`), each of the parent's size x the split's mean size; a
        team dependency one child with its probability, of its `size` (else the item's). Counts and
        sizes are taken as independent. `rate` replaces the arrival rate (1.0: per item that arrives)."""
        lam = self.arrival_rate() if rate is None else rate
        if lam is None:
            return {}
        into = {b: {t: [0.0, 0.0] for t in self.item_types} for b in self.teams}     # rate, rate x size
        out = {"": {t.name: (t.share * lam, t.mean_size) for t in self.item_types.values()}}
        for b in _in_flow_order(self):
            if b:
                out[b] = {t: (rate, sized / rate if rate else 0.0) for t, (rate, sized) in into[b].items()}
            for t, (rate, size) in out[b].items():
                visits = self.visit_ratios(t, b) if rate else {}
                for s in self.board(b)[0].values() if rate else ():
                    for team, per_visit in s.sends().items():
                        n = rate * visits[s.name] * per_visit
                        if s.split is not None:
                            child = size * s.split.size_mean
                        else:
                            child = size if s.dependency.size is None else s.dependency.size.mean
                        into[team][t][0] += n
                        into[team][t][1] += n * child
        return out

    def offered_load(self, rate: float | None = None) -> dict[str, float]:
        """Offered load per pool (λ · visits · work · size / people); ≥ 1 means queues grow forever.

        A pool with a calendar has its people for its long-run working share of the time (`Pool.share`).
        A team's pools are named `TEAM/POOL`, loaded by the children that enter the team (`flows`:
        the expected children per parent x their size x the visits of the splitting step).
        Exact for single-pool steps; for steps with several pools the load is split evenly,
        which is only indicative. A swarming step's work counts its coordination overhead as if every
        item had the whole swarm (`swarm` people, at most the step's). `rate` replaces λ, as in `flows`.
        """
        flows = self.flows(rate)
        load = {}
        for b, types in flows.items():
            steps, pools = self.board(b)
            here = dict.fromkeys(pools, 0.0)
            for t, (rate, size) in types.items():
                visits = self.visit_ratios(t, b)
                for s in steps.values():
                    # a swarm of n people spends 1 + overhead·(n − 1) times the work in person-time
                    crew = min(s.swarm, sum(pools[p].last for p in s.pools))
                    coordination = 1.0 + s.overhead * (crew - 1) if crew > 1 else 1.0
                    for p in s.pools:
                        pool = pools[p]
                        work = s.work.mean * size / s.speed(p) * coordination
                        extra = 0.0
                        if pool.interruptions is not None:
                            extra = work * pool.interruptions.rate * pool.interruptions.duration.mean
                        here[p] += rate * visits[s.name] * (work + extra) / len(s.pools)
            load.update({(f"{b}{SEP}{p}" if b else p): (v / (pools[p].last * pools[p].share) if pools[p].last
                                                        else math.inf if v else 0.0)
                         for p, v in here.items()})
        return load


def _route(steps: list[Step], item_type: str) -> list[int]:
    n = len(steps)
    out = [n] * (n + 1)
    for k in range(n - 1, -1, -1):
        out[k] = k if steps[k].visited_by(item_type) else out[k + 1]
    return out


def _in_flow_order(spec: StreamSpec) -> list[str]:
    """The boards, each after every board that sends it work (the graph is acyclic: `check_graph`)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(board: str) -> None:
        seen.add(board)
        for s in spec.board(board)[0].values():
            for team in s.sends():
                if team not in seen:
                    visit(team)
        order.append(board)

    for board in ("", *spec.teams):
        if board not in seen:
            visit(board)
    return order[::-1]


def load_stream(path: str | Path) -> StreamSpec:
    """Read a stream YAML file (docs/model.md, "The stream file") within the bounds of
    `vssim.model.userfiles` and validate it; without `name:` it is named after the file."""
    path = Path(path)
    doc = load_yaml(path, field="stream")
    check_stream_shape(doc)
    data = doc.data
    if isinstance(data, Mapping) and "name" not in data:
        data = {"name": path.stem, **data}
    return StreamSpec.from_dict(data or {}, base_dir=path.parent)


# --------------------------------------------------------------------------- parsers
def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _size(value: Any, where: str, key: str) -> float | Distribution:
    """A size: a number inside the bound of `key`, or a distribution with a positive mean."""
    if isinstance(value, Mapping):
        size = _dist(value, where)
        if size.mean <= 0:
            raise SpecError(where, "a distribution with a positive mean", size.to_dict())
        return size
    return _number(value, where, key)


def _size_dist(value: Any, where: str, key: str) -> Distribution | None:
    """A size of a split's or a dependency's children as a distribution (a number: a constant); None: none given."""
    if value is None:
        return None
    size = _size(value, where, key)
    return size if isinstance(size, Distribution) else _dist(size, where)


def _parse_item_types(value: Any) -> dict[str, ItemType]:
    if value is None:
        return {DEFAULT_TYPE: ItemType(DEFAULT_TYPE, 1.0)}
    d = _mapping(value, "item_types")
    if not d:
        raise SpecError("item_types", "a non-empty mapping or omitted", value)
    types = {}
    for name, t in d.items():
        path = f"item_types.{name}"
        t = _mapping(t, path)
        _keys(t, path, children("item_types.*"), required=required_keys("item_types.*"))
        share = _number(t["share"], f"{path}.share", "item_types.*.share")
        size = _size(t.get("size", default("item_types.*.size")), f"{path}.size", "item_types.*.size")
        cos = _choice(t.get("class_of_service", default("item_types.*.class_of_service")), f"{path}.class_of_service",
                      CLASSES_OF_SERVICE)
        value_ = _number(t.get("business_value", default("item_types.*.business_value")), f"{path}.business_value",
                         "item_types.*.business_value")
        types[str(name)] = ItemType(str(name), share, size, cos, value_)
    total = math.fsum(t.share for t in types.values())
    if abs(total - 1.0) > 1e-9:
        raise SpecError("item_types", message=f"must be shares that sum to 1, got {total:g} "
                                              f"({' + '.join(f'{t.share:g}' for t in types.values())})")
    return types


def _parse_profile(value: Any, time_unit: str) -> Profile | None:
    """`arrivals.profile`: the shapes normalised to mean 1 (`Profile.of`); None when absent, null or flat
    (a flat profile is the identity: the stream draws exactly as without one)."""
    path = "arrivals.profile"
    if value is None:
        return None
    d = _mapping(value, path)
    _keys(d, path, children(path))
    if time_unit not in HOURS_PER_UNIT:
        raise SpecError("time_unit", message=f"must be one of {', '.join(HOURS_PER_UNIT)} with arrivals.profile "
                                             f"(the profile needs the hour of the week of each time), got "
                                             f"{show(time_unit)}")
    shapes = {}
    for name, n in (("weekly", 7), ("daily", 24)):
        raw = d.get(name)
        if raw is None:
            shapes[name] = None
            continue
        where = f"{path}.{name}"
        if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) != n:
            raise SpecError(where, f"a list of {n} numbers >= 0 ({'Monday to Sunday' if n == 7 else 'hours 0 to 23'})",
                            raw)
        values = [_number(x, f"{where}[{i}]", f"{path}.{name}[]") for i, x in enumerate(raw)]
        if not any(values):
            raise SpecError(where, message=f"must not be all 0 (no arrivals ever), got {show(list(raw))}")
        shapes[name] = values
    trend = _number(d.get("trend", default(f"{path}.trend")), f"{path}.trend", f"{path}.trend")
    profile = Profile.of(shapes["weekly"], shapes["daily"], trend)
    return None if profile.flat else profile


def _parse_arrivals(value: Any, item_types: dict[str, ItemType], base_dir: str | Path | None,
                    time_unit: str = "day") -> Arrivals:
    path = "arrivals"
    a = _mapping(value, path)
    process = _choice(a.get("process"), f"{path}.process", ARRIVAL_PROCESSES)
    forms = ARRIVAL_FORMS[process]
    given = tuple(dict.fromkeys(k for form in forms for k in form))
    _keys(a, path, ("process", *given, *ARRIVAL_OPTIONAL.get(process, ())),
          required=forms[0] if len(forms) == 1 else ())
    if len(forms) > 1 and sum(k in a for k in given) != 1:
        raise SpecError(path, message=f"{process} arrivals need exactly one of {', '.join(given)}")
    limit = _number(a.get("limit"), f"{path}.limit", "arrivals.limit", nullable=True)
    if process in ("poisson", "deterministic"):
        if "rate" in a:
            rate = _number(a["rate"], f"{path}.rate", "arrivals.rate")
        else:
            rate = 1.0 / _number(a["interval"], f"{path}.interval", "arrivals.interval")
        profile = _parse_profile(a.get("profile"), time_unit) if process == "poisson" else None
        return Arrivals(process, rate=rate, profile=profile, limit=limit)
    if process == "renewal":
        dist = _dist(a["interarrival"], f"{path}.interarrival")
        if not dist.mean > 0:
            raise SpecError(f"{path}.interarrival", "a distribution with a positive mean", dist.to_dict())
        return Arrivals(process, interarrival=dist, limit=limit)
    if process == "backlog":
        return Arrivals(process, count=_number(a["count"], f"{path}.count", "arrivals.count"))
    if process == "saturated":
        return Arrivals(process)
    if "file" in a:
        rows = read_trace(a["file"], f"{path}.file", base_dir, item_types)
        where = f"{path}.file"
    else:
        rows = a["times"]
        where = f"{path}.times"
        if not isinstance(rows, Sequence) or isinstance(rows, str) or not rows:
            raise SpecError(where, "a non-empty list of times or of {time, type, size} mappings", rows)
    times, types, sizes = [], [], []
    for i, row in enumerate(rows):
        p = f"{where}[{i}]"
        if isinstance(row, Mapping):
            _keys(row, p, children("arrivals.times[]"), required=required_keys("arrivals.times[]"))
            raw = row["time"]
            t = _number(raw, f"{p}.time", "arrivals.times[].time")
            typ = row.get("type")
            if typ is not None and typ not in item_types:
                raise SpecError(f"{p}.type", "one of " + ", ".join(item_types), typ)
            size = row.get("size")
            size = _number(size, f"{p}.size", "arrivals.times[].size", nullable=True)
        else:
            raw = row
            t, typ, size = _number(row, p, "arrivals.times[]"), None, None
        if times and t < times[-1]:
            raise SpecError(p, f"a time >= the previous one ({times[-1]:g}): traces are sorted", raw)
        times.append(t)
        types.append(typ)
        sizes.append(size)
    return Arrivals(process, times=tuple(times), types=tuple(types), sizes=tuple(sizes))


@dataclass(frozen=True)
class _When:
    """What a pool's calendar is read with: the stream's epoch (None: none) and time unit."""

    epoch: Epoch | None = None
    time_unit: str = "day"


def _parse_pools(value: Any, where: str = "pools", when: _When = _When()) -> dict[str, Pool]:
    d = _mapping(value, where)
    if not d:
        raise SpecError(where, "a non-empty mapping of pool name to number of people", value)
    pools = {}
    for name, p in d.items():
        path = f"{where}.{name}"
        if not isinstance(p, Mapping):
            pools[str(name)] = Pool(str(name), _number(p, path, "pools.*"))
            continue
        _keys(p, path, children("pools.*"), required=required_keys("pools.*"))
        size = _number(p["size"], f"{path}.size", "pools.*.size")
        dispatch = _choice(p.get("dispatch", default("pools.*.dispatch")), f"{path}.dispatch", DISPATCH_RULES)
        interruptions = None
        if p.get("interruptions") is not None:
            ip = f"{path}.interruptions"
            i = _mapping(p["interruptions"], ip)
            _keys(i, ip, children("pools.*.interruptions"), required=required_keys("pools.*.interruptions"))
            interruptions = Interruptions(_number(i["rate"], f"{ip}.rate", "pools.*.interruptions.rate"),
                                          _dist(i["duration"], f"{ip}.duration"))
        switch = p.get("switch_cost")
        switch = None if switch is None or switch == 0 else _dist(switch, f"{path}.switch_cost")
        schedule = _schedule(p.get("schedule"), f"{path}.schedule")
        calendar = None if p.get("calendar") is None else parse_calendar(p["calendar"], f"{path}.calendar",
                                                                         when.epoch, when.time_unit)
        pools[str(name)] = Pool(str(name), size, dispatch, interruptions, switch, schedule, calendar)
    _check_people(pools.values(), where)
    return pools


def _schedule(value: Any, where: str) -> tuple[tuple[float, int], ...]:
    """A pool's `schedule`: its changes of size, in time order."""
    if value is None:
        return ()
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence) or not value:
        raise SpecError(where, "a non-empty list of {at: TIME, size: PEOPLE}, or null", value)
    out: list[tuple[float, int]] = []
    for k, entry in enumerate(value):
        at = f"{where}.{k}"
        e = _mapping(entry, at)
        _keys(e, at, children("pools.*.schedule[]"), required=("at", "size"))
        t = float(_number(e["at"], f"{at}.at", "pools.*.schedule[].at"))
        if out and not t > out[-1][0]:
            raise SpecError(f"{at}.at", f"a time after the one before ({out[-1][0]:g})", e["at"])
        out.append((t, int(_number(e["size"], f"{at}.size", "pools.*.schedule[].size"))))
    return tuple(out)


def _stream_pools(d: Mapping, when: _When) -> dict[str, Pool]:
    """The stream's own pools: required, except on a board whose every step splits (no work of its own:
    `split_work` makes such a board)."""
    steps = d.get("steps")
    only_splits = isinstance(steps, Mapping) and bool(steps) and all(
        isinstance(s, Mapping) and s.get("split") is not None for s in steps.values())
    if only_splits and not d.get("pools"):
        return {}
    _required(d, "", ("pools",), unless=" (a stream whose every step splits may have none)")
    return _parse_pools(d["pools"], "pools", when)


def _check_people(pools: Iterable[Pool], where: str) -> None:
    people = sum(p.most for p in pools)
    if people > MAX_PEOPLE:
        raise NewCheckError(where, message=f"must hold at most {MAX_PEOPLE} people in all, got {people}")


def _parse_release(value: Any, where: str = "release") -> Release:
    if value is None:
        return Release()
    r = _mapping(value, where)
    _keys(r, where, children("release"))
    policy = _choice(r.get("policy", default("release.policy")), f"{where}.policy", RELEASE_POLICIES)
    conwip = _number(r.get("conwip"), f"{where}.conwip", "release.conwip", nullable=True)
    if policy == "conwip" and conwip is None:
        raise SpecError(f"{where}.conwip", f"a positive integer when {where}.policy is conwip", None)
    if policy == "push" and conwip is not None:
        raise SpecError(f"{where}.conwip", f"null when {where}.policy is push (set policy: conwip)", conwip)
    backlog_limit = _number(r.get("backlog_limit"), f"{where}.backlog_limit", "release.backlog_limit",
                            nullable=True)
    return Release(policy, conwip, backlog_limit)


def _parse_parts(value: Any, release: Release, teams: bool = False) -> int:
    """`parts: f`: every f consecutive arrivals are the parts of one item (docs/metrics.md, "Split items")."""
    parts = _number(value, "parts", "parts")
    if parts > 1 and teams:
        raise SpecError("parts", message=(
            f"must be 1 in a stream with teams, got {parts}: split the items into children that join instead "
            "(a split step; scenario smaller_batches, transform split_work)"))
    if parts > 1 and release.backlog_limit is not None:
        raise SpecError("parts", message=(
            f"needs release.backlog_limit null, got {parts} parts with backlog_limit {release.backlog_limit}: a "
            "full backlog refuses parts one by one, so the parts left would no longer make whole items"))
    return parts


class _Board:
    """Parses the boards of a stream, the stream's own and every team's: team names are looked up
    lexically (`Scope`), and each split and team dependency is collected as an `Edge` of the graph
    that `check_graph` checks."""

    def __init__(self, scope: Scope, item_types: dict[str, ItemType], when: _When = _When()):
        self.scope, self.item_types, self.when = scope, item_types, when
        self.edges: list[Edge] = []

    def declare(self, value: Any, where: str, board: str) -> list[tuple[str, Mapping, str]]:
        """The teams under `where` and theirs, depth first, declared in the scope: (qualified name,
        mapping, path). All are declared before any step is read: a split may name any visible team."""
        if value is None:
            return []
        out = []
        for name, t in _mapping(value, where).items():
            path = f"{where}.{name}"
            qualified = self.scope.declare(board, check_name(name, path))
            t = _mapping(t, path)
            _keys(t, path, children("teams.*"))
            _required(t, path, ("pools", "steps"), unless=" (or stream: NAME, a stream file the team is read from)")
            out.append((qualified, t, path))
            out += self.declare(t.get("teams"), f"{path}.teams", qualified)
        return out

    def team(self, t: Mapping, where: str, name: str) -> Team:
        pools = _parse_pools(t["pools"], f"{where}.pools", self.when)
        release = _parse_release(t.get("release"), f"{where}.release")
        if release.backlog_limit is not None:
            raise SpecError(f"{where}.release.backlog_limit", message=(
                f"must be null in a team, got {release.backlog_limit}: a team cannot refuse a child (its parent "
                "would never join)"))
        return Team(name, pools, self.steps(t["steps"], pools, f"{where}.steps", name), release)

    def steps(self, value: Any, pools: dict[str, Pool], where: str, board: str) -> dict[str, Step]:
        d = _mapping(value, where)
        if not d:
            raise SpecError(where, "a non-empty ordered mapping of steps", value)
        names = [str(n) for n in d]
        steps = {}
        for j, (name, s) in enumerate(d.items()):
            name = str(name)
            path = f"{where}.{name}"
            s = _mapping(s, path)
            _keys(s, path, children("steps.*"))
            check_text(s.get("description"), f"{path}.description")
            pool_names, work, split, dependency, rework, speeds = (), None, None, None, None, None
            if s.get("split") is not None:
                for key in ("pool", "work", "rework", "dependency"):
                    if s.get(key) is not None:
                        raise SpecError(f"{path}.{key}", message=f"not allowed on a split step: {_NOT_ON_SPLIT[key]}")
                split = self.split(s["split"], path, board, name)
            else:
                _required(s, path, ("pool", "work"), unless=" (a step without it splits: give split)")
                pool_names, speeds = _step_pools(s["pool"], pools, f"{path}.pool")
                work = _dist(s["work"], f"{path}.work")
                dependency = self.dependency(s.get("dependency"), f"{path}.dependency", board, name)
                rework = _rework(s.get("rework"), f"{path}.rework", names[: j + 1])
            wip_limit = _number(s.get("wip_limit"), f"{path}.wip_limit", "steps.*.wip_limit", nullable=True)
            handoff = _optional_dist(s.get("handoff"), f"{path}.handoff")
            batch = _number(s.get("batch", default("steps.*.batch")), f"{path}.batch", "steps.*.batch")
            cadence = _number(s.get("cadence"), f"{path}.cadence", "steps.*.cadence", nullable=True)
            types = _step_types(s.get("types"), f"{path}.types", self.item_types)
            pick = _choice(s.get("pick", default("steps.*.pick")), f"{path}.pick", PICK_RULES)
            swarm, overhead = _swarm(s.get("swarm"), f"{path}.swarm", split is not None,
                                     [pools[p] for p in pool_names])
            steps[name] = Step(name, pool_names, work, wip_limit, handoff, dependency, rework, batch, cadence,
                               types, split, speeds, pick, swarm, overhead)
        return steps

    def split(self, value: Any, where: str, board: str, step: str) -> Split:
        path = f"{where}.split"
        sp = _mapping(value, path)
        _keys(sp, path, children("steps.*.split"), required=required_keys("steps.*.split"))
        into = check_name(sp["into"], f"{path}.into")
        if into == DEPENDENCY_LEVEL:
            raise SpecError(f"{path}.into", message=f"must not be {show(into)}: the level of a team dependency's "
                                                   "child (name the level of the split's children otherwise)")
        teams = _mapping(sp["teams"], f"{path}.teams")
        if not teams:
            raise SpecError(f"{path}.teams", "a non-empty mapping of team name to {count: N}", teams)
        counts, qualified = {}, {}
        for name, c in teams.items():
            cp = f"{path}.teams.{name}"
            c = _mapping(c, cp)
            _keys(c, cp, children("steps.*.split.teams.*"))
            team = qualified[name] = self.scope.lookup(board, name, cp)
            counts[team] = _count(c.get("count", default("steps.*.split.teams.*.count")), f"{cp}.count")
            self.edges.append(Edge(board, step, team, into, cp, f"{path}.into"))
        split = Split(into, counts, _size_dist(sp.get("size"), f"{path}.size", "steps.*.split.size"))
        return _choose(sp.get("choose"), f"{path}.choose", split, qualified)

    def dependency(self, value: Any, where: str, board: str, step: str) -> Dependency | None:
        if value is None:
            return None
        dd = _mapping(value, where)
        _keys(dd, where, children("steps.*.dependency"), required=required_keys("steps.*.dependency"))
        probability = _number(dd["probability"], f"{where}.probability", "steps.*.dependency.probability")
        team = dd.get("team")
        if team is None:
            _required(dd, where, ("delay",), unless=" (or team: the team the item waits for)")
            if dd.get("size") is not None:
                raise SpecError(f"{where}.size", message="only with team: the size of the team's piece of work")
        else:
            team = self.scope.lookup(board, team, f"{where}.team")
            self.edges.append(Edge(board, step, team, DEPENDENCY_LEVEL, f"{where}.team"))
        return Dependency(probability, _optional_dist(dd.get("delay"), f"{where}.delay"), team,
                          _size_dist(dd.get("size"), f"{where}.size", "steps.*.dependency.size"))


_NOT_ON_SPLIT = {
    "pool": "its children's teams do the work, with their people",
    "work": "its children's teams do the work (the parent waits for the last of them)",
    "rework": "it has no work to check (give the rework to a step of a team, or to a later step)",
    "dependency": "a parent waits for its children there (give the wait to the step before)",
}
"""Why a split step refuses a key."""


def _step_pools(pool: Any, pools: dict[str, Pool], where: str) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
    """A step's pools in order of preference, and their speeds there (None: every one 1)."""
    entries = [pool] if isinstance(pool, str) else pool
    if isinstance(entries, bytes) or not isinstance(entries, Sequence) or not entries:
        raise SpecError(where, "a pool name or a list of pool names and {pool: NAME, speed: S}", pool)
    names, speeds = [], []
    for k, entry in enumerate(entries):
        at = f"{where}.{k}" if entries is pool else where
        if isinstance(entry, Mapping):
            _keys(entry, at, children("steps.*.pool[]"), required=("pool",))
            name = entry["pool"]
            speed = float(_number(entry.get("speed", default("steps.*.pool[].speed")), f"{at}.speed",
                                  "steps.*.pool[].speed"))
        else:
            name, speed = entry, 1.0
        if not isinstance(name, str) or name not in pools:
            raise SpecError(at if not isinstance(entry, Mapping) else f"{at}.pool", "one of the pools "
                            + ", ".join(pools), name)
        names.append(name)
        speeds.append(speed)
    if len(set(names)) != len(names):
        raise SpecError(where, "a list without repeated pools", names)
    return tuple(names), (tuple(speeds) if any(s != 1.0 for s in speeds) else None)


def _swarm(value: Any, where: str, split: bool, pools: list[Pool]) -> tuple[int, float]:
    """A step's `swarm`: K or {people: K, overhead: C}, as (K, C); (1, 0) when absent."""
    if value is None:
        return 1, 0.0
    if isinstance(value, Mapping):
        _keys(value, where, children("steps.*.swarm"), required=required_keys("steps.*.swarm"))
        people = _number(value["people"], f"{where}.people", "steps.*.swarm.people")
        overhead = _number(value.get("overhead", default("steps.*.swarm.overhead")), f"{where}.overhead",
                           "steps.*.swarm.overhead")
    else:
        people = KEYS["steps.*.swarm"].bound.check(value, where, alternative="{people: K, overhead: C}")
        overhead = 0.0
    if people > 1 and split:
        raise SpecError(where, message=f"not allowed on a split step: its children's teams do the work, got {people}")
    for pool in pools:
        if people > 1 and pool.calendar is not None:
            raise SpecError(where, message=(
                f"must be 1 while pool {pool.name} has a calendar, got {people}: a swarm's shared work rate has no "
                "rule for people who stop and start work at their own hours (set swarm to 1, or calendar to null)"))
        if people > 1 and (pool.switch_cost is not None or pool.interruptions is not None):
            what = "switch_cost" if pool.switch_cost is not None else "interruptions"
            raise SpecError(where, message=(
                f"must be 1 while pool {pool.name} has {what}, got {people}: a swarm's shared work rate has no rule "
                f"for one of its people paying a switch or being interrupted (set {what} to null, or swarm to 1)"))
    return people, float(overhead)


def _rework(value: Any, where: str, earlier: list[str]) -> Rework | None:
    if value is None:
        return None
    rr = _mapping(value, where)
    _keys(rr, where, children("steps.*.rework"), required=required_keys("steps.*.rework"))
    prob = _number(rr["probability"], f"{where}.probability", "steps.*.rework.probability")
    to = rr["to"]
    if to not in earlier:
        raise SpecError(f"{where}.to", "this step or an earlier one: " + ", ".join(earlier), to)
    return Rework(prob, to)


def _step_types(types: Any, where: str, item_types: dict[str, ItemType]) -> tuple[str, ...] | None:
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, Sequence) or not types:
        raise SpecError(where, "a non-empty list of item types or null (all types)", types)
    for t in types:
        if t not in item_types:
            raise SpecError(where, "a list of the item types " + ", ".join(item_types), t)
    return tuple(str(t) for t in types)


def _count(value: Any, where: str) -> Distribution:
    """A split's count per parent: a non-negative integer, or a distribution of support >= 0 (its
    draws rounded by `teams.child_counts`) whose mean is at most MAX_ITEMS."""
    if not isinstance(value, Mapping):
        return _dist(_number(value, where, "steps.*.split.teams.*.count"), where)
    count = _dist(value, where)
    if not count.mean <= MAX_ITEMS:
        raise SpecError(where, message=f"must be a distribution of mean <= {MAX_ITEMS}, got {show(count.to_dict())} "
                                       f"of mean {count.mean:g}")
    return count


def _choose(value: Any, where: str, split: Split, qualified: dict[str, str]) -> Split:
    """`split` with its `choose` list (the split's team names, as written, made qualified)."""
    if value is None:
        return split
    names = [value] if isinstance(value, str) else value
    what = f"a list of at least 2 of the split's teams ({', '.join(qualified)}) without repeats, or null"
    if not isinstance(names, Sequence) or len(names) < 2 or not all(isinstance(n, str) for n in names) \
            or len(set(names)) != len(names) or any(n not in qualified for n in names):
        raise SpecError(where, what, value)
    chosen = dataclasses.replace(split, choose=tuple(qualified[n] for n in names))
    if not sum(chosen.expected_count(t) for t in chosen.choose) > 0:
        raise SpecError(where, message=f"must list a team whose count has a mean > 0 (one is drawn with "
                                       f"probability ∝ its mean), got {show(list(names))}")
    return chosen


def _team_path(team: str) -> str:
    """Where a team is in the stream file: `art1/web` is `teams.art1.teams.web`."""
    return ".".join(f"teams.{part}" for part in team.split(SEP))


def _check_names(spec: StreamSpec) -> None:
    """With teams, results name things `TEAM/NAME`: no pool or step name may hold the separator."""
    for team in ("", *spec.teams):
        steps, pools = spec.board(team)
        prefix = f"{_team_path(team)}." if team else ""
        for kind, names in (("pools", pools), ("steps", steps)):
            for name in names:
                if SEP in name:
                    raise SpecError(f"{prefix}{kind}.{name}", message=f"must not contain {SEP!r} in a stream with "
                                                                      f"teams: results name a team's {kind} TEAM/NAME")


def _check_can_flow(spec: StreamSpec) -> None:
    """Refuse streams whose items could never leave a step, whatever happens at run time."""
    finite = " (the run could never finish)" if spec.arrivals.finite else ""
    arriving = _arriving_types(spec)
    for team in ("", *spec.teams):
        release = spec.teams[team].release if team else spec.release
        _check_batches(spec, team, arriving.get(team, set()), release, finite)
    steps = list(spec.steps.values())
    for t in spec.item_types:
        if not any(s.visited_by(t) for s in steps):
            raise SpecError("item_types", message=f"{t!r} visits no step: add it to some step's types")
    for team, types in arriving.items():
        for t in types:
            if team and not any(s.visited_by(t) for s in spec.teams[team].steps.values()):
                raise SpecError(f"{_team_path(team)}.steps", message=(
                    f"must have a step that item type {t!r} visits: its items come to the team (types are "
                    "inherited) and would visit none of its steps"))
    people = [p for team in ("", *spec.teams) for p in spec.board(team)[1].values()]
    if spec.teams:
        _check_people(people, "teams")
        _check_names(spec)
    if spec.arrivals.process == "saturated" and spec.release.conwip is None and steps[0].wip_limit is None:
        raise SpecError("arrivals.process", message=(
            "saturated needs release.conwip or a wip_limit on the first step, "
            f"otherwise the backlog would commit infinitely many items at once, got {show('saturated')}"))
    if spec.arrivals.process == "saturated" and spec.release.backlog_limit is not None:
        raise SpecError("release.backlog_limit", "null with saturated arrivals (the backlog never empties)",
                        spec.release.backlog_limit)


def _arriving_types(spec: StreamSpec) -> dict[str, set[str]]:
    """The item types whose items come to each board (the stream's: all; a team's: those that visit a
    step that sends it work, on a board they come to)."""
    arriving = {"": set(spec.item_types)}
    for board in _in_flow_order(spec):
        for s in spec.board(board)[0].values():
            for team in s.sends():
                arriving.setdefault(team, set()).update(t for t in arriving.get(board, ()) if s.visited_by(t))
    return arriving


def _check_batches(spec: StreamSpec, team: str, types: set[str], release: Release, finite: str) -> None:
    """A transfer batch fits its column, the next column its items go to, and the board's CONWIP limit."""
    steps = list(spec.board(team)[0].values())
    prefix = f"{_team_path(team)}." if team else ""
    for j, s in enumerate(steps):
        where = f"{prefix}steps.{s.name}"
        if s.wip_limit is not None and s.batch > s.wip_limit:
            raise SpecError(f"{where}.batch", message=(
                f"must be <= {where}.wip_limit ({s.wip_limit}), got {s.batch}: a larger batch "
                f"could never fill the column{finite}"))
        nexts = sorted({spec.route(t, team)[j + 1] for t in types if s.visited_by(t)} - {len(steps)})
        for k in nexts:
            nxt = steps[k]
            if nxt.wip_limit is not None and s.batch > nxt.wip_limit:
                raise SpecError(f"{where}.batch", message=(
                    f"must be <= {prefix}steps.{nxt.name}.wip_limit ({nxt.wip_limit}), got {s.batch}: a larger batch "
                    f"could never enter the next column{finite}"))
        conwip = release.conwip
        if conwip is not None and s.batch > conwip:
            raise SpecError(f"{where}.batch", message=(
                f"must be <= {prefix}release.conwip ({conwip}), got {s.batch}: a larger batch could never "
                f"fill{finite}"))
