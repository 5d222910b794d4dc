"""The stream model of docs/model.md: a validated, immutable description of a value stream.

A stream file is parsed once, here, into frozen dataclasses. Every check that can be made
before a run is made here, and each failure names the field path, the value and what is
allowed, so that the engine can trust what it gets.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vssim.errors import SpecError, show
from vssim.model.distributions import Distribution, parse_distribution
from vssim.model.keys import (
    ARRIVAL_FORMS,
    ARRIVAL_PROCESSES,
    CLASSES_OF_SERVICE,
    DISPATCH_RULES,
    KEYS,
    MAX_PEOPLE,
    RELEASE_POLICIES,
    SCHEMA_VERSION,
    NewCheckError,
    children,
    default,
    required_keys,
    schema_version,
    tell_what_changed,
)
from vssim.model.userfiles import check_name, check_stream_shape, check_text, load_yaml, read_trace

__all__ = ["ARRIVAL_PROCESSES", "CLASSES_OF_SERVICE", "DISPATCH_RULES", "RELEASE_POLICIES", "SCHEMA_VERSION",
           "StreamSpec", "load_stream"]
DEFAULT_TYPE = "item"


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
    for key in required:
        if key not in d or d[key] is None:
            raise SpecError(f"{path}.{key}" if path else key,
                            message="required" + (", got null" if key in d else ""))


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


@dataclass(frozen=True)
class Dependency:
    """With `probability`, an item waits `delay` on another team before it is workable."""

    probability: float
    delay: Distribution


@dataclass(frozen=True)
class Rework:
    """With `probability`, an item fails its check here and returns to step `to`."""

    probability: float
    to: str


@dataclass(frozen=True)
class Step:
    """A column of the board."""

    name: str
    pools: tuple[str, ...]
    work: Distribution
    wip_limit: int | None = None
    handoff: Distribution | None = None
    dependency: Dependency | None = None
    rework: Rework | None = None
    batch: int = 1
    cadence: float | None = None
    types: tuple[str, ...] | None = None   # item types that visit this step (None: all)

    def visited_by(self, item_type: str) -> bool:
        return self.types is None or item_type in self.types


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

    @property
    def finite(self) -> bool:
        """True when a finite number of items arrives, so a run can last until all are done."""
        return self.process in ("backlog", "trace")


@dataclass(frozen=True)
class Release:
    """When arrived work is committed: push, or CONWIP; per-column limits combine with either."""

    policy: str = "push"
    conwip: int | None = None
    backlog_limit: int | None = None


@dataclass(frozen=True)
class StreamSpec:
    """A validated value stream. Build it with `StreamSpec.from_dict` or `vssim.load_stream`."""

    name: str
    arrivals: Arrivals
    item_types: dict[str, ItemType]
    pools: dict[str, Pool]
    release: Release
    steps: dict[str, Step]
    time_unit: str = "day"
    description: str = ""
    parts: int = 1                      # each item arrives as this many parts (`split_items`), one after another
    source: dict = field(default_factory=dict, compare=False, repr=False)
    schema_version: int = field(default=SCHEMA_VERSION, compare=False)   # what the file says (absent: 1)

    # -------------------------------------------------------------- construction
    @classmethod
    @_telling_what_changed
    def from_dict(cls, data: Mapping, *, base_dir: str | Path | None = None) -> StreamSpec:
        """Validate a stream mapping (a parsed YAML file) and build the spec.

        Relative `file` paths (trace arrivals) are resolved against `base_dir`.
        """
        d = _mapping(data, "stream")
        _keys(d, "", children(""), required=required_keys(""))
        name = check_name(d.get("name", "stream"), "name")
        time_unit = d.get("time_unit", "day")
        if not isinstance(time_unit, str) or not time_unit:
            raise SpecError("time_unit", "a non-empty string", time_unit)
        description = check_text(d.get("description"), "description")
        item_types = _parse_item_types(d.get("item_types"))
        arrivals = _parse_arrivals(d["arrivals"], item_types, base_dir)
        pools = _parse_pools(d["pools"])
        release = _parse_release(d.get("release"))
        steps = _parse_steps(d["steps"], pools, item_types)
        parts = _parse_parts(d.get("parts", 1), release)
        spec = cls(name=name, arrivals=arrivals, item_types=item_types, pools=pools, release=release,
                   steps=steps, time_unit=time_unit, description=str(description), parts=parts,
                   source=_plain(d), schema_version=schema_version(d))
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
        """Long-run arrival rate of an open stream, or None for a finite or closed one."""
        a = self.arrivals
        if a.process in ("poisson", "deterministic"):
            return a.rate
        if a.process == "renewal":
            return 1.0 / a.interarrival.mean if a.interarrival.mean > 0 else math.inf
        return None

    def mean_size(self) -> float:
        return sum(t.share * t.mean_size for t in self.item_types.values())

    def route(self, item_type: str) -> list[int]:
        """`route[k]`: the first step at or after k that items of this type visit (n: done)."""
        steps = list(self.steps.values())
        n = len(steps)
        out = [n] * (n + 1)
        for k in range(n - 1, -1, -1):
            out[k] = k if steps[k].visited_by(item_type) else out[k + 1]
        return out

    def visit_ratios(self, item_type: str | None = None) -> dict[str, float]:
        """Mean visits per item to each step, rework loops included (solves v = e + vP).

        For one item type, or averaged over the types' shares when `item_type` is None.
        """
        import numpy as np

        names = self.step_names
        n = len(names)
        if item_type is None:
            total = np.zeros(n)
            for t in self.item_types.values():
                total += t.share * np.array(list(self.visit_ratios(t.name).values()))
            return dict(zip(names, total.tolist(), strict=True))
        route = self.route(item_type)
        p = np.zeros((n + 1, n + 1))
        for j, s in enumerate(self.steps.values()):
            pr = s.rework.probability if s.rework else 0.0
            if s.rework:
                p[j, route[names.index(s.rework.to)]] += pr
            p[j, route[j + 1]] += 1.0 - pr
        e = np.zeros(n + 1)
        e[route[0]] = 1.0
        p[n, :] = 0.0                      # done is absorbing: no visits after it
        v = np.linalg.solve((np.eye(n + 1) - p).T, e)
        return dict(zip(names, v[:n].tolist(), strict=True))

    def offered_load(self) -> dict[str, float]:
        """Offered load per pool (λ · visits · work · size / people); ≥ 1 means queues grow forever.

        Exact for single-pool steps; for steps with several pools the load is split evenly,
        which is only indicative.
        """
        lam = self.arrival_rate()
        if lam is None:
            return {}
        load = dict.fromkeys(self.pools, 0.0)
        for t in self.item_types.values():
            visits = self.visit_ratios(t.name)
            for s in self.steps.values():
                work = s.work.mean * t.mean_size
                for p in s.pools:
                    pool = self.pools[p]
                    extra = 0.0
                    if pool.interruptions is not None:
                        extra = work * pool.interruptions.rate * pool.interruptions.duration.mean
                    load[p] += t.share * lam * visits[s.name] * (work + extra) / len(s.pools)
        return {p: v / self.pools[p].size for p, v in load.items()}


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
        size = t.get("size", default("item_types.*.size"))
        if isinstance(size, Mapping):
            size = _dist(size, f"{path}.size")
            if size.mean <= 0:
                raise SpecError(f"{path}.size", "a distribution with a positive mean", size.to_dict())
        else:
            size = _number(size, f"{path}.size", "item_types.*.size")
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


def _parse_arrivals(value: Any, item_types: dict[str, ItemType], base_dir: str | Path | None) -> Arrivals:
    path = "arrivals"
    a = _mapping(value, path)
    process = _choice(a.get("process"), f"{path}.process", ARRIVAL_PROCESSES)
    forms = ARRIVAL_FORMS[process]
    given = tuple(dict.fromkeys(k for form in forms for k in form))
    _keys(a, path, ("process", *given), required=forms[0] if len(forms) == 1 else ())
    if len(forms) > 1 and sum(k in a for k in given) != 1:
        raise SpecError(path, message=f"{process} arrivals need exactly one of {', '.join(given)}")
    if process in ("poisson", "deterministic"):
        if "rate" in a:
            rate = _number(a["rate"], f"{path}.rate", "arrivals.rate")
        else:
            rate = 1.0 / _number(a["interval"], f"{path}.interval", "arrivals.interval")
        return Arrivals(process, rate=rate)
    if process == "renewal":
        dist = _dist(a["interarrival"], f"{path}.interarrival")
        if not dist.mean > 0:
            raise SpecError(f"{path}.interarrival", "a distribution with a positive mean", dist.to_dict())
        return Arrivals(process, interarrival=dist)
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


def _parse_pools(value: Any) -> dict[str, Pool]:
    d = _mapping(value, "pools")
    if not d:
        raise SpecError("pools", "a non-empty mapping of pool name to number of people", value)
    pools = {}
    for name, p in d.items():
        path = f"pools.{name}"
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
        pools[str(name)] = Pool(str(name), size, dispatch, interruptions, switch)
    people = sum(p.size for p in pools.values())
    if people > MAX_PEOPLE:
        raise NewCheckError("pools", message=f"must hold at most {MAX_PEOPLE} people in all, got {people}")
    return pools


def _parse_release(value: Any) -> Release:
    if value is None:
        return Release()
    r = _mapping(value, "release")
    _keys(r, "release", children("release"))
    policy = _choice(r.get("policy", default("release.policy")), "release.policy", RELEASE_POLICIES)
    conwip = _number(r.get("conwip"), "release.conwip", "release.conwip", nullable=True)
    if policy == "conwip" and conwip is None:
        raise SpecError("release.conwip", "a positive integer when release.policy is conwip", None)
    if policy == "push" and conwip is not None:
        raise SpecError("release.conwip", "null when release.policy is push (set policy: conwip)", conwip)
    backlog_limit = _number(r.get("backlog_limit"), "release.backlog_limit", "release.backlog_limit", nullable=True)
    return Release(policy, conwip, backlog_limit)


def _parse_parts(value: Any, release: Release) -> int:
    """`parts: f`: every f consecutive arrivals are the parts of one item (docs/metrics.md, "Split items")."""
    parts = _number(value, "parts", "parts")
    if parts > 1 and release.backlog_limit is not None:
        raise SpecError("parts", message=(
            f"needs release.backlog_limit null, got {parts} parts with backlog_limit {release.backlog_limit}: a "
            "full backlog refuses parts one by one, so the parts left would no longer make whole items"))
    return parts


def _parse_steps(value: Any, pools: dict[str, Pool], item_types: dict[str, ItemType]) -> dict[str, Step]:
    d = _mapping(value, "steps")
    if not d:
        raise SpecError("steps", "a non-empty ordered mapping of steps", value)
    names = [str(n) for n in d]
    steps = {}
    for j, (name, s) in enumerate(d.items()):
        name = str(name)
        path = f"steps.{name}"
        s = _mapping(s, path)
        _keys(s, path, children("steps.*"), required=required_keys("steps.*"))
        check_text(s.get("description"), f"{path}.description")
        pool = s["pool"]
        pool_names = [pool] if isinstance(pool, str) else pool
        if not isinstance(pool_names, Sequence) or not pool_names:
            raise SpecError(f"{path}.pool", "a pool name or a list of pool names", pool)
        for p in pool_names:
            if p not in pools:
                raise SpecError(f"{path}.pool", "one of the pools " + ", ".join(pools), p)
        if len(set(pool_names)) != len(pool_names):
            raise SpecError(f"{path}.pool", "a list without repeated pools", list(pool_names))
        work = _dist(s["work"], f"{path}.work")
        wip_limit = _number(s.get("wip_limit"), f"{path}.wip_limit", "steps.*.wip_limit", nullable=True)
        handoff = _optional_dist(s.get("handoff"), f"{path}.handoff")
        dependency = None
        if s.get("dependency") is not None:
            dp = f"{path}.dependency"
            dd = _mapping(s["dependency"], dp)
            _keys(dd, dp, children("steps.*.dependency"), required=required_keys("steps.*.dependency"))
            dependency = Dependency(_number(dd["probability"], f"{dp}.probability", "steps.*.dependency.probability"),
                                    _dist(dd["delay"], f"{dp}.delay"))
        rework = None
        if s.get("rework") is not None:
            rp = f"{path}.rework"
            rr = _mapping(s["rework"], rp)
            _keys(rr, rp, children("steps.*.rework"), required=required_keys("steps.*.rework"))
            prob = _number(rr["probability"], f"{rp}.probability", "steps.*.rework.probability")
            to = rr["to"]
            if to not in names[: j + 1]:
                raise SpecError(f"{rp}.to", "this step or an earlier one: " + ", ".join(names[: j + 1]), to)
            rework = Rework(prob, to)
        batch = _number(s.get("batch", default("steps.*.batch")), f"{path}.batch", "steps.*.batch")
        cadence = _number(s.get("cadence"), f"{path}.cadence", "steps.*.cadence", nullable=True)
        types = s.get("types")
        if types is not None:
            if isinstance(types, str):
                types = [types]
            if not isinstance(types, Sequence) or not types:
                raise SpecError(f"{path}.types", "a non-empty list of item types or null (all types)", types)
            for t in types:
                if t not in item_types:
                    raise SpecError(f"{path}.types", "a list of the item types " + ", ".join(item_types), t)
            types = tuple(str(t) for t in types)
        steps[name] = Step(name, tuple(pool_names), work, wip_limit, handoff, dependency, rework, batch, cadence,
                           types)
    return steps


def _check_can_flow(spec: StreamSpec) -> None:
    """Refuse streams whose items could never leave a step, whatever happens at run time."""
    steps = list(spec.steps.values())
    finite = " (the run could never finish)" if spec.arrivals.finite else ""
    for j, s in enumerate(steps):
        if s.wip_limit is not None and s.batch > s.wip_limit:
            raise SpecError(f"steps.{s.name}.batch", message=(
                f"must be <= steps.{s.name}.wip_limit ({s.wip_limit}), got {s.batch}: a larger batch "
                f"could never fill the column{finite}"))
        nexts = sorted({spec.route(t)[j + 1] for t in spec.item_types if s.visited_by(t)} - {len(steps)})
        for k in nexts:
            nxt = steps[k]
            if nxt.wip_limit is not None and s.batch > nxt.wip_limit:
                raise SpecError(f"steps.{s.name}.batch", message=(
                    f"must be <= steps.{nxt.name}.wip_limit ({nxt.wip_limit}), got {s.batch}: a larger batch "
                    f"could never enter the next column{finite}"))
        conwip = spec.release.conwip
        if conwip is not None and s.batch > conwip:
            raise SpecError(f"steps.{s.name}.batch", message=(
                f"must be <= release.conwip ({conwip}), got {s.batch}: a larger batch could never fill{finite}"))
    for t in spec.item_types:
        if not any(s.visited_by(t) for s in steps):
            raise SpecError("item_types", message=f"{t!r} visits no step: add it to some step's types")
    if spec.arrivals.process == "saturated" and spec.release.conwip is None and steps[0].wip_limit is None:
        raise SpecError("arrivals.process", message=(
            "saturated needs release.conwip or a wip_limit on the first step, "
            f"otherwise the backlog would commit infinitely many items at once, got {show('saturated')}"))
    if spec.arrivals.process == "saturated" and spec.release.backlog_limit is not None:
        raise SpecError("release.backlog_limit", "null with saturated arrivals (the backlog never empties)",
                        spec.release.backlog_limit)
