"""The stream model of docs/model.md: a validated, immutable description of a value stream.

A stream file is parsed once, here, into frozen dataclasses. Every check that can be made
before a run is made here, and each failure names the field path, the value and what is
allowed, so that the engine can trust what it gets.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vssim.errors import SpecError, show
from vssim.model.distributions import Distribution, parse_distribution
from vssim.model.userfiles import check_name, check_stream_shape, check_text, load_yaml, read_trace

CLASSES_OF_SERVICE = ("expedite", "fixed_date", "standard", "intangible")
"""Queue priority, highest first (non-preemptive)."""
DISPATCH_RULES = ("downstream_first", "fifo", "upstream_first")
ARRIVAL_PROCESSES = ("poisson", "renewal", "deterministic", "trace", "backlog", "saturated")
RELEASE_POLICIES = ("push", "conwip")
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


def _number(value: Any, path: str, *, low: float | None = None, low_open: bool = False,
            high: float | None = None, high_open: bool = False, allowed: str | None = None) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if allowed is None:
            parts = []
            if low is not None:
                parts.append(f"{'>' if low_open else '>='} {low:g}")
            if high is not None:
                parts.append(f"{'<' if high_open else '<='} {high:g}")
            allowed = "a number" + (" " + " and ".join(parts) if parts else "")
        raise SpecError(path, allowed, value)
    return float(value)


def _int(value: Any, path: str, *, low: int = 1, nullable: bool = False, what: str | None = None) -> int | None:
    if value is None and nullable:
        return None
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        is_int, value = True, int(value)
    if not is_int or value < low:
        if what is None:
            what = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
            if nullable:
                what += " or null"
        raise SpecError(path, what, value)
    return int(value)


def _choice(value: Any, path: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise SpecError(path, "one of " + ", ".join(choices), value)
    return value


def _dist(value: Any, path: str) -> Distribution:
    return parse_distribution(dict(value) if isinstance(value, Mapping) else value, path)


def _optional_dist(value: Any, path: str) -> Distribution | None:
    return None if value is None else _dist(value, path)


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
    source: dict = field(default_factory=dict, compare=False, repr=False)

    # -------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, data: Mapping, *, base_dir: str | Path | None = None) -> StreamSpec:
        """Validate a stream mapping (a parsed YAML file) and build the spec.

        Relative `file` paths (trace arrivals) are resolved against `base_dir`.
        """
        d = _mapping(data, "stream")
        _keys(d, "", ("name", "time_unit", "description", "arrivals", "item_types", "pools",
                      "release", "steps"), required=("arrivals", "pools", "steps"))
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
        spec = cls(name=name, arrivals=arrivals, item_types=item_types, pools=pools, release=release,
                   steps=steps, time_unit=time_unit, description=str(description),
                   source=_plain(d))
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
        _keys(t, path, ("share", "size", "class_of_service", "business_value"), required=("share",))
        share = _number(t["share"], f"{path}.share", low=0, low_open=True, high=1)
        size = t.get("size", 1.0)
        if isinstance(size, Mapping):
            size = _dist(size, f"{path}.size")
            if size.mean <= 0:
                raise SpecError(f"{path}.size", "a distribution with a positive mean", size.to_dict())
        else:
            size = _number(size, f"{path}.size", low=0, low_open=True)
        cos = _choice(t.get("class_of_service", "standard"), f"{path}.class_of_service", CLASSES_OF_SERVICE)
        value_ = _number(t.get("business_value", 1.0), f"{path}.business_value", low=0)
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
    if process == "poisson":
        _keys(a, path, ("process", "rate"), required=("rate",))
        return Arrivals(process, rate=_number(a["rate"], f"{path}.rate", low=0, low_open=True))
    if process == "deterministic":
        _keys(a, path, ("process", "rate", "interval"))
        if ("rate" in a) == ("interval" in a):
            raise SpecError(path, message="deterministic arrivals need exactly one of rate, interval")
        if "rate" in a:
            rate = _number(a["rate"], f"{path}.rate", low=0, low_open=True)
        else:
            rate = 1.0 / _number(a["interval"], f"{path}.interval", low=0, low_open=True)
        return Arrivals(process, rate=rate)
    if process == "renewal":
        _keys(a, path, ("process", "interarrival"), required=("interarrival",))
        dist = _dist(a["interarrival"], f"{path}.interarrival")
        if not dist.mean > 0:
            raise SpecError(f"{path}.interarrival", "a distribution with a positive mean", dist.to_dict())
        return Arrivals(process, interarrival=dist)
    if process == "backlog":
        _keys(a, path, ("process", "count"), required=("count",))
        return Arrivals(process, count=_int(a["count"], f"{path}.count"))
    if process == "saturated":
        _keys(a, path, ("process",))
        return Arrivals(process)
    # trace
    _keys(a, path, ("process", "times", "file"))
    if ("times" in a) == ("file" in a):
        raise SpecError(path, message="trace arrivals need exactly one of times, file")
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
            _keys(row, p, ("time", "type", "size"), required=("time",))
            raw = row["time"]
            t = _number(raw, f"{p}.time", low=0)
            typ = row.get("type")
            if typ is not None and typ not in item_types:
                raise SpecError(f"{p}.type", "one of " + ", ".join(item_types), typ)
            size = row.get("size")
            size = None if size is None else _number(size, f"{p}.size", low=0, low_open=True)
        else:
            raw = row
            t, typ, size = _number(row, p, low=0), None, None
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
            pools[str(name)] = Pool(str(name), _int(p, path))
            continue
        _keys(p, path, ("size", "dispatch", "interruptions", "switch_cost"), required=("size",))
        size = _int(p["size"], f"{path}.size")
        dispatch = _choice(p.get("dispatch", "downstream_first"), f"{path}.dispatch", DISPATCH_RULES)
        interruptions = None
        if p.get("interruptions") is not None:
            ip = f"{path}.interruptions"
            i = _mapping(p["interruptions"], ip)
            _keys(i, ip, ("rate", "duration"), required=("rate", "duration"))
            interruptions = Interruptions(_number(i["rate"], f"{ip}.rate", low=0, low_open=True),
                                          _dist(i["duration"], f"{ip}.duration"))
        switch = p.get("switch_cost")
        switch = None if switch is None or switch == 0 else _dist(switch, f"{path}.switch_cost")
        pools[str(name)] = Pool(str(name), size, dispatch, interruptions, switch)
    return pools


def _parse_release(value: Any) -> Release:
    if value is None:
        return Release()
    r = _mapping(value, "release")
    _keys(r, "release", ("policy", "conwip", "backlog_limit"))
    policy = _choice(r.get("policy", "push"), "release.policy", RELEASE_POLICIES)
    conwip = _int(r.get("conwip"), "release.conwip", nullable=True)
    if policy == "conwip" and conwip is None:
        raise SpecError("release.conwip", "a positive integer when release.policy is conwip", None)
    if policy == "push" and conwip is not None:
        raise SpecError("release.conwip", "null when release.policy is push (set policy: conwip)", conwip)
    backlog_limit = _int(r.get("backlog_limit"), "release.backlog_limit", low=0, nullable=True)
    return Release(policy, conwip, backlog_limit)


_STEP_KEYS = ("pool", "work", "wip_limit", "handoff", "dependency", "rework", "batch", "cadence",
              "types", "description")


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
        _keys(s, path, _STEP_KEYS, required=("pool", "work"))
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
        wip_limit = _int(s.get("wip_limit"), f"{path}.wip_limit", nullable=True)
        handoff = _optional_dist(s.get("handoff"), f"{path}.handoff")
        dependency = None
        if s.get("dependency") is not None:
            dp = f"{path}.dependency"
            dd = _mapping(s["dependency"], dp)
            _keys(dd, dp, ("probability", "delay"), required=("probability", "delay"))
            dependency = Dependency(_number(dd["probability"], f"{dp}.probability", low=0, high=1),
                                    _dist(dd["delay"], f"{dp}.delay"))
        rework = None
        if s.get("rework") is not None:
            rp = f"{path}.rework"
            rr = _mapping(s["rework"], rp)
            _keys(rr, rp, ("probability", "to"), required=("probability", "to"))
            prob = _number(rr["probability"], f"{rp}.probability", low=0, high=1, high_open=True,
                           allowed="a probability in [0, 1) (with 1 no item would ever finish)")
            to = rr["to"]
            if to not in names[: j + 1]:
                raise SpecError(f"{rp}.to", "this step or an earlier one: " + ", ".join(names[: j + 1]), to)
            rework = Rework(prob, to)
        batch = _int(s.get("batch", 1), f"{path}.batch")
        cadence = s.get("cadence")
        cadence = None if cadence is None else _number(cadence, f"{path}.cadence", low=0, low_open=True,
                                                      allowed="a positive number or null")
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
