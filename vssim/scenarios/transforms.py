"""Structural changes to a stream: pure functions stream dict -> stream dict.

A transform is written in a scenario as ``{op: NAME, ...args}``. `apply_transform` checks the
arguments, copies the stream and returns the changed copy; the input is never mutated. Every
error is a one-line `SpecError` naming the scenario field (``scenario.NAME.transforms[0].path``).
The result is validated as a stream by `vssim.scenarios.scenario.Scenario.apply`, not here, so that
transforms can be chained through intermediate states. Semantics and decisions are in
docs/scenarios.md.
"""
from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vssim.errors import SpecError, show
from vssim.model.distributions import distribution_variance, parse_distribution, scale_distribution
from vssim.model.spec import DEFAULT_TYPE, DISPATCH_RULES, RELEASE_POLICIES, Step, StreamSpec
from vssim.model.teams import qualify
from vssim.scenarios.boards import Member, board, boards, locate, members
from vssim.scenarios.capacity import critical_wip, waiting

__all__ = ["TRANSFORMS", "Context", "Pilot", "Transform", "apply_transform", "check_op", "critical_wip",
           "deep_merge"]


Pilot = Callable[[StreamSpec], Mapping]
"""``pilot(spec) -> summary``: simulate a stream and return its summary (summary.json's mapping)."""


@dataclass(frozen=True)
class Context:
    """What a transform may need besides the stream: a pilot run, given by the layer that runs
    simulations (vssim.run.experiment.Pilot, with the experiment's settings), so that scenarios
    never run anything themselves."""

    pilot: Pilot | None = None


DEFAULT_CONTEXT = Context()
"""`Context()`: no pilot run; a transform that needs one (elevate_constraint) says so."""

Transform = Callable[..., dict]
"""``fn(stream: dict, args: dict, *, context: Context, path: str) -> dict`` (args already checked)."""

TRANSFORMS: dict[str, Transform] = {}
_CHECKS: dict[str, Callable[[Mapping, str], dict]] = {}


def _register(name: str, check: Callable[[Mapping, str], dict]):
    def deco(fn: Transform) -> Transform:
        TRANSFORMS[name] = fn
        _CHECKS[name] = check
        return fn
    return deco


# --------------------------------------------------------------------------- entry points
def check_op(op: Any, path: str) -> dict:
    """Validate ``{op: NAME, ...args}`` without a stream; return the args with defaults filled in."""
    if not isinstance(op, Mapping):
        raise SpecError(path, "a mapping {op: NAME, ...}", op)
    name = op.get("op")
    if name not in TRANSFORMS:
        raise SpecError(f"{path}.op", "one of " + ", ".join(TRANSFORMS), name)
    args = {str(k): _plain(v) for k, v in op.items() if k != "op"}
    return _CHECKS[name](args, path)


def apply_transform(stream: Mapping, op: Mapping, *, context: Context = DEFAULT_CONTEXT,
                    path: str = "transform") -> dict:
    """A new plain stream dict: `stream` changed by `op` (``{op: NAME, ...args}``)."""
    args = check_op(op, path)
    new = _plain(stream)
    return TRANSFORMS[op["op"]](new, args, context=context, path=path)


# --------------------------------------------------------------------------- helpers
def _plain(value: Any) -> Any:
    """A deep plain copy (dicts and lists) of mappings and sequences."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


def deep_merge(base: Any, patch: Any, _where: tuple = ()) -> Any:
    """`patch` merged into a copy of `base`: mappings merge key by key, other values replace.

    Two refinements make patches behave as a user means them: a mapping patched onto a plain
    number pool size (``pools: {devs: 5}``) merges into ``{size: 5}``; a distribution patched
    with a different ``dist`` replaces the old one instead of mixing parameters.
    """
    if not isinstance(patch, Mapping):
        return _plain(patch)
    if not isinstance(base, Mapping):
        return _plain(patch)
    if "dist" in patch and "dist" in base and patch["dist"] != base["dist"]:
        return _plain(patch)
    out = _plain(base)
    for key, value in patch.items():
        key = str(key)
        if key in out:
            if _where == ("pools",) and _is_number(out[key]) and isinstance(value, Mapping):
                out[key] = {"size": out[key]}          # a plain number pool receives fields
            out[key] = deep_merge(out[key], value, (*_where, key))
        else:
            out[key] = _plain(value)
    return out


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _round_int(x: float, low: int = 1) -> int:
    return max(low, int(math.floor(x + 0.5)))


def _keys(args: Mapping, path: str, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
    for key in args:
        if key not in allowed:
            raise SpecError(f"{path}.{key}", message="unknown argument; allowed: " + (", ".join(allowed) or "none"))
    for key in required:
        if key not in args:
            raise SpecError(f"{path}.{key}", message="required")


def _name(value: Any, path: str, what: str = "a non-empty name") -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(path, what, value)
    return value


def _names(value: Any, path: str, what: str, minimum: int) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) < minimum \
            or not all(isinstance(v, str) and v for v in value):
        raise SpecError(path, what, value)
    if len(set(value)) != len(value):
        raise SpecError(path, what + " without repeats", list(value))
    return list(value)


def _positive_int(value: Any, path: str, low: int = 1) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise SpecError(path, f"an integer >= {low}", value)
    return value


def _spec(stream: dict, path: str) -> StreamSpec:
    """Parse the stream a transform needs facts of; an invalid intermediate stream is named."""
    try:
        return StreamSpec.from_dict(stream)
    except SpecError as e:
        raise SpecError(path, message=f"needs a valid stream at this point, got {e}") from e


def _pool_size(pool: Any) -> int:
    return int(pool["size"]) if isinstance(pool, Mapping) else int(pool)


def _with_pool_size(pool: Any, size: int) -> Any:
    if isinstance(pool, Mapping):
        return {**pool, "size": size}
    return size


def _pool_list(ref: Any) -> list[str]:
    """The names of a step's pools (a list entry may be {pool, speed})."""
    return [name for name, _ in _pool_refs(ref)]


def _pool_refs(ref: Any) -> list[tuple[str, float]]:
    """A step's pools with their speeds there."""
    entries = [ref] if isinstance(ref, str) else list(ref)
    return [(e["pool"], float(e.get("speed", 1.0))) if isinstance(e, Mapping) else (e, 1.0) for e in entries]


def _write_refs(refs: list[tuple[str, float]]) -> Any:
    """A step's `pool` as a stream file writes it: a name, or a list of names and {pool, speed}."""
    out = [name if speed == 1.0 else {"pool": name, "speed": speed} for name, speed in refs]
    return out[0] if len(out) == 1 and isinstance(out[0], str) else out


def _step_people(stream: dict, step: Mapping) -> int:
    return sum(_pool_size(stream["pools"][p]) for p in _pool_list(step["pool"]) if p in stream["pools"])


def _on_one_board(stream: dict, names: Sequence[str], kind: str, path: str) -> tuple[str, list[str]]:
    """(board, local names) of step or pool names (qualified in a team: `web/build`) that must all be on
    one board: a team's people work only its own steps."""
    located = [locate(stream, n, kind, path) for n in names]
    where = list(dict.fromkeys(b for b, _ in located))
    if len(where) > 1:
        shown = ", ".join(show(b) if b else "the stream's" for b in where)
        raise SpecError(path, message=f"must name {kind} of one board, got {show(list(names))} (boards {shown}: "
                                      "a team's people work only its own steps)")
    return located[0][0], [local for _, local in located]


# --------------------------------------------------------------------------- distributions
# --------------------------------------------------------------------------- dotted paths
class _Dist:
    """Schema marker: a distribution; any key below it is allowed."""


_DIST = _Dist()


class _Named:
    """Schema marker: a mapping of user-chosen names (steps, pools, item types, teams) to `child`;
    a name given must exist unless `optional` (a split's teams: one split may lack a team another has)."""

    def __init__(self, what: str, child: dict, optional: bool = False):
        self.what, self.child, self.optional = what, child, optional


_LEAF = None
_RELEASE = {"policy": _LEAF, "conwip": _LEAF, "backlog_limit": _LEAF}
_SCHEMA: dict = {
    "name": _LEAF, "time_unit": _LEAF, "description": _LEAF, "parts": _LEAF, "level": _LEAF,
    "arrivals": {"process": _LEAF, "rate": _LEAF, "interval": _LEAF, "interarrival": _DIST, "count": _LEAF,
                 "times": _LEAF, "file": _LEAF},
    "item_types": _Named("item type", {"share": _LEAF, "size": _DIST, "class_of_service": _LEAF,
                                       "business_value": _LEAF}),
    "pools": _Named("pool", {"size": _LEAF, "dispatch": _LEAF, "switch_cost": _DIST,
                             "interruptions": {"rate": _LEAF, "duration": _DIST}}),
    "release": _RELEASE,
    "teams": _Named("team", {"release": _RELEASE}),
    "steps": _Named("step", {"pool": _LEAF, "work": _DIST, "wip_limit": _LEAF, "handoff": _DIST,
                             "dependency": {"probability": _LEAF, "delay": _DIST, "team": _LEAF, "size": _DIST},
                             "rework": {"probability": _LEAF, "to": _LEAF}, "batch": _LEAF, "cadence": _LEAF,
                             "types": _LEAF, "description": _LEAF, "pick": _LEAF,
                             "split": {"into": _LEAF, "teams": _Named("team", {"count": _DIST}, optional=True),
                                       "size": _DIST, "choose": _LEAF}}),
}
_BOARD_WIDE = {("steps",): "steps", ("pools",): "pools", ("teams",): "teams"}
"""Where a name is qualified (`web/build`) and `*` matches every board's steps, pools or teams."""


def _check_path(value: Any, path: str) -> list[str]:
    """Split a dotted path and check it against the stream schema (no stream needed)."""
    if not isinstance(value, str) or not value or any(not s for s in value.split(".")):
        raise SpecError(path, "a dotted path such as steps.*.handoff", value)
    segments = value.split(".")
    schema: Any = _SCHEMA
    for i, seg in enumerate(segments):
        where = ".".join(segments[:i]) or "the stream"
        if schema is _LEAF:
            raise SpecError(path, message=f"{where} is a value, it has no field {show(seg)}, got {show(value)}")
        if isinstance(schema, _Dist):
            break
        if isinstance(schema, _Named):
            schema = schema.child
            continue
        if seg == "*":
            schema = _DIST      # any field of this mapping: not checked further
            continue
        if seg not in schema:
            raise SpecError(path, message=f"{show(seg)} is not a field of {where} (allowed: "
                                          f"{', '.join(schema)}), got {show(value)}")
        schema = schema[seg]
    return segments


def _named(stream: dict, node: dict, where: tuple, seg: str, schema: _Named, segments: list[str],
           path: str) -> list[Member]:
    """The members a name (or `*`) at a named level matches: board-wide and qualified for the
    stream's steps, pools and teams (`boards.members`), else the mapping's own keys."""
    kind = _BOARD_WIDE.get(where)
    found = members(stream, kind) if kind else [(node, k, k) for k in node]
    if seg == "*":
        return found
    chosen = [m for m in found if m[2] == seg]
    if not chosen and not schema.optional:
        raise SpecError(path, f"a path naming an existing {schema.what} ({', '.join(m[2] for m in found) or 'none'})",
                        ".".join(segments))
    return chosen


def _match(stream: dict, segments: list[str], path: str, *, create: bool = False) -> list[tuple[dict, str, tuple]]:
    """(parent mapping, key, concrete path) of every place the dotted path names.

    Named entities (a step, pool, item type or team) must exist; an absent optional field is skipped.
    `steps.*`, `pools.*` and `teams.*` match every board's, named as results name them (`web/build`).
    With `create`, the last key is included even where it is absent (for `set`), and a plain
    number pool is expanded to ``{size: n}`` to receive a field.
    """
    nodes: list[tuple[Any, tuple]] = [(stream, ())]
    schema: Any = _SCHEMA
    out: list[tuple[dict, str, tuple]] = []
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        nxt: list[tuple[Any, tuple]] = []
        for node, where in nodes:
            if not isinstance(node, dict):
                continue
            if isinstance(schema, _Named):
                chosen = _named(stream, node, where, seg, schema, segments, path)
            elif seg == "*":
                chosen = [(node, k, k) for k in node]
            else:
                chosen = [(node, seg, seg)] if (seg in node or (create and i == last)) else []
            for held, key, shown in chosen:
                at = (*where, shown)
                if i == last:
                    out.append((held, key, at))
                    continue
                child = held[key]
                if where == ("pools",) and _is_number(child):       # a plain number pool
                    if segments[i + 1] == "size" and i + 1 == last:
                        out.append((held, key, at))
                        continue
                    if create and segments[i + 1] != "*":
                        child = held[key] = {"size": child}
                nxt.append((child, at))
        nodes = nxt
        if isinstance(schema, _Named):
            schema = schema.child
        elif isinstance(schema, dict):
            schema = schema.get(seg, _DIST) if seg != "*" else _DIST
    return out


# --------------------------------------------------------------------------- scale / set / remove
_INT_FIELDS = ("wip_limit", "batch", "conwip", "count")


def _check_scale(args: Mapping, path: str) -> dict:
    _keys(args, path, ("path", "factor"), required=("path", "factor"))
    _check_path(args["path"], f"{path}.path")
    f = args["factor"]
    if not _is_number(f) or f <= 0:
        raise SpecError(f"{path}.factor", "a number > 0", f)
    return {"path": args["path"], "factor": float(f)}


def _scale_value(value: Any, where: tuple, factor: float, path: str) -> Any:
    key = where[-1]
    shown = ".".join(where)
    is_pool = len(where) == 2 and where[0] == "pools"
    if isinstance(value, Mapping):
        if "dist" in value:
            return scale_distribution(value, factor, path, shown)
        if is_pool and "size" in value:
            return {**value, "size": _round_int(value["size"] * factor)}
        raise SpecError(path, message=f"{shown} is not a number or a distribution, got {show(dict(value))}")
    if not _is_number(value):
        raise SpecError(path, message=f"{shown} is not a number or a distribution, got {show(value)}")
    x = value * factor
    if key == "backlog_limit" or (key == "count" and where[0] == "steps"):     # may be 0: a split's count too
        return _round_int(x, 0)
    if key in _INT_FIELDS or is_pool or (key == "size" and where[0] == "pools"):
        return _round_int(x)
    if key == "probability":
        cap = 0.99 if where[-2] == "rework" else 1.0
        return min(x, cap)
    return x


@_register("scale", _check_scale)
def scale(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """Multiply every value the path names by `factor` (distributions as X × factor)."""
    segments = _check_path(args["path"], f"{path}.path")
    for parent, key, where in _match(stream, segments, f"{path}.path"):
        value = parent[key]
        if value is None:
            continue                          # an optional field set to null (no limit, no handoff)
        parent[key] = _scale_value(value, where, args["factor"], f"{path}.path")
    return stream


def _check_set(args: Mapping, path: str) -> dict:
    _keys(args, path, ("path", "value"), required=("path", "value"))
    _check_path(args["path"], f"{path}.path")
    return dict(args)


@_register("set", _check_set)
def set_(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """Set the last key of the path on every matched parent (created where absent)."""
    segments = _check_path(args["path"], f"{path}.path")
    for parent, key, _where in _match(stream, segments, f"{path}.path", create=True):
        parent[key] = copy.deepcopy(args["value"])
    return stream


def _check_remove(args: Mapping, path: str) -> dict:
    _keys(args, path, ("path",), required=("path",))
    _check_path(args["path"], f"{path}.path")
    return dict(args)


@_register("remove", _check_remove)
def remove(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """Delete the key(s) the path names; absent ones are skipped."""
    segments = _check_path(args["path"], f"{path}.path")
    for parent, key, where in _match(stream, segments, f"{path}.path"):
        if where[:1] in (("steps",), ("pools",), ("item_types",)) and len(where) == 2:
            raise SpecError(f"{path}.path", message=f"removes a whole {where[0][:-1]} ({'.'.join(where)}); use "
                                                    "remove_step or merge_pools")
        del parent[key]
    return stream


def _check_patch(args: Mapping, path: str) -> dict:
    _keys(args, path, ("values",), required=("values",))
    if not isinstance(args["values"], Mapping):
        raise SpecError(f"{path}.values", "a mapping deep-merged into the stream", args["values"])
    return dict(args)


@_register("patch", _check_patch)
def patch(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """Deep-merge `values` into the stream (what a scenario's `patch` does, as a step in a chain)."""
    return deep_merge(stream, args["values"])


# --------------------------------------------------------------------------- merge_steps
def _check_merge_steps(args: Mapping, path: str) -> dict:
    _keys(args, path, ("steps", "name", "pool"), required=("steps",))
    steps = _names(args["steps"], f"{path}.steps", "a list of at least 2 step names", 2)
    out = {"steps": steps, "name": args.get("name"), "pool": args.get("pool")}
    if out["name"] is not None:
        _name(out["name"], f"{path}.name")
    if out["pool"] is not None and not isinstance(out["pool"], str):
        _names(out["pool"], f"{path}.pool", "a pool name or a non-empty list of pool names", 1)
    return out


def _gamma_sum(works: list[Any], path: str) -> Any:
    """The sum of independent work times, moment-matched to a gamma (deterministic if no variance)."""
    mean = var = 0.0
    for i, w in enumerate(works):
        d = parse_distribution(w, f"{path}[{i}]")
        mean += d.mean
        var += distribution_variance(d, f"{path}[{i}]")
    if var <= 0 or mean <= 0:
        return {"dist": "deterministic", "value": mean}
    return {"dist": "gamma", "mean": mean, "cv": math.sqrt(var) / mean}


def _visits(step: Mapping, item_type: str) -> bool:
    return step.get("types") is None or item_type in _pool_list(step["types"])


def _routes_through(steps: dict, types: list[str], group: list[str]) -> list[tuple[list[str], list[str]]]:
    """(types, the steps of the group they visit) for each distinct set of the group's steps that
    some item type visits, in board order of the first step visited (then type order)."""
    routes: dict[tuple[str, ...], list[str]] = {}
    for t in types:
        visited = tuple(s for s in group if _visits(steps[s], t))
        if visited:
            routes.setdefault(visited, []).append(t)
    ordered = sorted(routes.items(), key=lambda r: (group.index(r[0][0]), types.index(r[1][0])))
    return [(ts, list(visited)) for visited, ts in ordered] or [([], list(group))]


def _merged(steps: dict, visited: list[str], names: list[str], name: str, pool: Any, path: str) -> dict[str, Any]:
    """The one step that does the work of `visited` (adjacent steps, in board order) for its types."""
    members = [steps[s] for s in visited]
    out: dict[str, Any] = {
        "pool": copy.deepcopy(pool if pool is not None else members[0]["pool"]),
        "work": _gamma_sum([m.get("work") for m in members], f"{path}.steps (work of {', '.join(visited)})"),
    }
    limits = [m.get("wip_limit") for m in members]
    out["wip_limit"] = None if any(x is None for x in limits) else sum(limits)
    if members[-1].get("handoff") is not None:
        out["handoff"] = copy.deepcopy(members[-1]["handoff"])
    deps = [m["dependency"] for m in members if m.get("dependency")]
    if deps:
        out["dependency"] = {"probability": 1 - math.prod(1 - d["probability"] for d in deps),
                             "delay": copy.deepcopy(deps[0]["delay"])}
    reworks = [m["rework"] for m in members if m.get("rework")]
    if reworks:
        first = names.index(visited[0])
        outside = [r["to"] for r in reworks if r["to"] in names and names.index(r["to"]) < first]
        to = min(outside, key=names.index) if outside else name
        out["rework"] = {"probability": 1 - math.prod(1 - r["probability"] for r in reworks), "to": to}
    for key in ("batch", "cadence"):
        if members[-1].get(key) is not None:
            out[key] = members[-1][key]
    swarms = [m["swarm"] for m in members if m.get("swarm") is not None]
    if swarms:                              # the largest crew any of the steps allowed, as it was written
        out["swarm"] = copy.deepcopy(max(swarms, key=lambda w: w["people"] if isinstance(w, Mapping) else w))
    return out


@_register("merge_steps", _check_merge_steps)
def merge_steps(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """One step replaces adjacent steps for each distinct set of them that a type visits: summed
    work, inner handoffs gone, rework folded in (a type keeps the work of the steps it visited). In a
    team (`[web/build, web/test]`) on the team's board; never a split step (it has no work)."""
    if not isinstance(stream.get("steps"), dict):
        raise SpecError(path, message="needs a stream with steps")
    name_of, group = _on_one_board(stream, args["steps"], "steps", f"{path}.steps")
    where = board(stream, name_of)
    steps = where["steps"]
    names = list(steps)
    for s in group:
        if isinstance(steps[s], Mapping) and steps[s].get("split") is not None:
            raise SpecError(f"{path}.steps", message=f"must not name a split step, got {show(s)}: it has no work to "
                                                     "merge (its teams do it)")
    idx = [names.index(s) for s in group]
    if idx != list(range(idx[0], idx[0] + len(idx))):
        raise SpecError(f"{path}.steps", message=f"must be adjacent steps in board order "
                                                 f"({', '.join(names)}), got {show(group)}")
    new = args["name"] or "_".join(group)
    pool = args["pool"]
    if pool is not None:
        pool_board, local = _on_one_board(stream, _pool_list(pool), "pools", f"{path}.pool")
        if pool_board != name_of:
            raise SpecError(f"{path}.pool", message=f"must name pools of the steps' board, got {show(pool)}")
        pool = local[0] if isinstance(pool, str) else local
    routes = _routes_through(steps, list(stream.get("item_types") or {DEFAULT_TYPE: None}), group)
    merged: dict[str, dict] = {}
    for types, visited in routes:
        name = new if len(routes) == 1 else "_".join([new, *types])
        if name in steps and name not in group:
            raise SpecError(f"{path}.name", f"a name not used by another step ({', '.join(names)})", name)
        step = _merged(steps, visited, names, name, pool, path)
        if len(routes) > 1 or all(steps[s].get("types") is not None for s in group):
            step["types"] = list(types)
        step["description"] = "merged: " + " + ".join(visited)
        merged[name] = step
    # rework into the group returns to the first merged step: each type's route turns it into its own
    entry = next(iter(merged))
    first, last = idx[0], idx[-1]
    out: dict[str, Any] = {}
    for j, s in enumerate(names):
        if j == first:
            out.update(merged)
        if first <= j <= last:
            continue
        step = steps[s]
        if step.get("rework") and step["rework"].get("to") in group:
            step["rework"]["to"] = entry
        out[s] = step
    where["steps"] = out
    return stream


# --------------------------------------------------------------------------- merge_pools / add_people
SPEED_CHOICE = "speed: 1 for everyone working every step at full speed, or < 1 for people outside their skill"
"""What a reorganisation's `speed` means, in the error that asks for it."""
HABITS = ("dispatch", "interruptions", "switch_cost")
"""The keys of a pool that a team shares (`_habits`); size and schedule stay each person's own."""


def _check_speed(args: Mapping, path: str) -> float:
    """`speed` of merge_pools and stream_aligned_teams: required, in (0, 1], so that full speed outside
    one's skill is a choice the scenario states."""
    if "speed" not in args:
        raise SpecError(f"{path}.speed", message=f"required: {SPEED_CHOICE}")
    s = args["speed"]
    if not _is_number(s) or not 0 < s <= 1:
        raise SpecError(f"{path}.speed", f"a number in (0, 1] ({SPEED_CHOICE})", s)
    return float(s)


def _check_merge_pools(args: Mapping, path: str) -> dict:
    _keys(args, path, ("pools", "name", "dispatch", "speed"), required=("pools", "name"))
    pools = args["pools"]
    if pools != "all":
        _names(pools, f"{path}.pools", 'a list of at least 2 pool names or "all"', 2)
    _name(args["name"], f"{path}.name")
    dispatch = args.get("dispatch")
    if dispatch is not None and dispatch not in DISPATCH_RULES:
        raise SpecError(f"{path}.dispatch", "one of " + ", ".join(DISPATCH_RULES), dispatch)
    return {"pools": pools, "name": args["name"], "dispatch": dispatch, "speed": _check_speed(args, path)}


@_register("merge_pools", _check_merge_pools)
def merge_pools(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """One team of the listed pools of one board (qualified in a team: `web/devs`); every step's pool
    reference is rewritten. `speed` 1: one pool of the summed size that works every step at full speed;
    < 1: one sub-pool per skill (`NAME_POOL`), each working its own steps as before and the others at
    `speed`. `all`: each board's pools, board by board."""
    if not isinstance(stream.get("pools"), dict) or not stream["pools"]:
        raise SpecError(path, message="needs a stream with pools")
    if args["pools"] == "all":
        for _name, b in boards(stream):
            if isinstance(b.get("pools"), dict) and b["pools"]:
                _merge_pools_on(b, list(b["pools"]), args, path)
        return stream
    name_of, group = _on_one_board(stream, args["pools"], "pools", f"{path}.pools")
    _merge_pools_on(board(stream, name_of), group, args, path)
    return stream


def _habits(members: Mapping[str, Any], dispatch: str | None) -> dict[str, Any]:
    """The habits a team of these pools shares: each of `HABITS` kept when identical across them (absent
    counts as a value), else the largest pool's (the first of equals); a `dispatch` given decides it."""
    group = list(members)
    largest = max(group, key=lambda p: _pool_size(members[p]))

    def attr(key: str) -> Any:
        values = [members[p].get(key) if isinstance(members[p], Mapping) else None for p in group]
        if all(v == values[0] for v in values):
            return values[0]
        big = members[largest]
        return big.get(key) if isinstance(big, Mapping) else None

    out = {"dispatch": dispatch if dispatch is not None else attr("dispatch"),
           "interruptions": attr("interruptions"), "switch_cost": attr("switch_cost")}
    return {k: copy.deepcopy(v) for k, v in out.items() if v is not None}


def _member(pool: Any, habits: Mapping[str, Any], size: int | None = None) -> Any:
    """A pool that joins a team: its own people and schedule (`size` people if given), the team's habits;
    a plain number when nothing else is left."""
    out = {k: copy.deepcopy(v) for k, v in (pool.items() if isinstance(pool, Mapping) else {"size": pool}.items())
           if k not in HABITS}
    if size is not None:
        out["size"] = size
    out.update(copy.deepcopy(dict(habits)))
    return out if len(out) > 1 else out["size"]


def _summed(members: Sequence[Any]) -> dict[str, Any]:
    """Size and schedule of one pool holding the people of several: at every moment their sum (no
    schedule when none of them has one)."""
    sizes = [_pool_size(m) for m in members]
    plans = [list((m.get("schedule") or []) if isinstance(m, Mapping) else []) for m in members]
    out: dict[str, Any] = {"size": sum(sizes)}
    times = sorted({float(e["at"]) for plan in plans for e in plan})
    if times:
        def at(k: int, t: float) -> int:
            return int(next((e["size"] for e in reversed(plans[k]) if float(e["at"]) <= t), sizes[k]))
        out["schedule"] = [{"at": t, "size": sum(at(k, t) for k in range(len(members)))} for t in times]
    return out


def _skilled_refs(own: list[tuple[str, float]], team: Sequence[str], speed: float) -> list[tuple[str, float]]:
    """A step's pools once their people are in a team of several skills: the step's own, in their places
    at their own speeds, then the team's other skills at `speed`, in the team's order."""
    listed = {p for p, _ in own}
    return [*own, *((q, speed) for q in team if q not in listed)]


def _merge_pools_on(where: dict, group: list[str], args: dict, path: str) -> None:
    """`merge_pools` on one board (the stream's or a team's mapping)."""
    pools = where["pools"]
    new, speed = args["name"], args["speed"]
    members = {p: pools[p] for p in group}
    habits = _habits(members, args["dispatch"])
    single = speed == 1.0 or len(group) == 1               # one pool: nobody is outside their skill
    skill = {p: new if single else f"{new}_{p}" for p in group}
    for p in group:
        if skill[p] in pools and skill[p] not in group:
            raise SpecError(f"{path}.name", f"a name not used by a remaining pool ({', '.join(pools)})", skill[p])
    if single:
        merged = {**_summed(list(members.values())), **habits}
        team = {new: merged if len(merged) > 1 else merged["size"]}
    else:
        team = {skill[p]: _member(members[p], habits) for p in group}
    out: dict[str, Any] = {}
    for p, v in pools.items():
        if p == group[0]:
            out.update(team)
        if p not in group:
            out[p] = v
    where["pools"] = out
    for step in (where.get("steps") or {}).values():
        if not isinstance(step, dict) or step.get("pool") is None:
            continue
        old = _pool_refs(step["pool"])
        refs: dict[str, float] = {}         # one merged pool works the step at its members' best speed there
        for p, s in old:
            q = skill.get(p, p)
            refs[q] = max(refs.get(q, 0.0), s)
        own = list(refs.items())
        if not single and any(p in members for p, _ in old):
            own = _skilled_refs(own, list(team), speed)
        step["pool"] = _write_refs(own)


def _check_add_people(args: Mapping, path: str) -> dict:
    _keys(args, path, ("pool", "amount"), required=("pool",))
    _name(args["pool"], f"{path}.pool", "a pool name")
    return {"pool": args["pool"], "amount": _positive_int(args.get("amount", 1), f"{path}.amount")}


def _add(stream: dict, pool: str, amount: int, path: str) -> dict:
    name_of, local = locate(stream, pool, "pools", f"{path}.pool")
    pools = board(stream, name_of)["pools"]
    pools[local] = _with_pool_size(pools[local], _pool_size(pools[local]) + amount)
    return stream


@_register("add_people", _check_add_people)
def add_people(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """`amount` more people in `pool`."""
    return _add(stream, args["pool"], args["amount"], path)


# --------------------------------------------------------------------------- remove_step
def _check_remove_step(args: Mapping, path: str) -> dict:
    _keys(args, path, ("step",), required=("step",))
    _name(args["step"], f"{path}.step", "a step name")
    return dict(args)


@_register("remove_step", _check_remove_step)
def remove_step(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """Delete a step (with its handoff, dependency and rework; a split step with its children); rework
    to it goes to the next step. In a team (`web/test`) from the team's board."""
    name_of, gone = locate(stream, args["step"], "steps", f"{path}.step")
    where = board(stream, name_of)
    steps = where["steps"]
    names = list(steps)
    if len(names) == 1:
        raise SpecError(f"{path}.step", message=f"cannot remove {show(gone)}: it is the only step left")
    j = names.index(gone)
    after = names[j + 1] if j + 1 < len(names) else None
    out = {}
    for k, s in enumerate(names):
        if s == gone:
            continue
        step = steps[s]
        rw = step.get("rework") if isinstance(step, dict) else None
        if rw and rw.get("to") == gone:
            # the step after the removed one is at or before the sender (the sender is after it)
            if after is None or names.index(after) > k:
                step["rework"] = None
            else:
                rw["to"] = after
        out[s] = step
    where["steps"] = out
    return stream


# --------------------------------------------------------------------------- elevate_constraint
def _check_elevate(args: Mapping, path: str) -> dict:
    _keys(args, path, ("amount",))
    return {"amount": _positive_int(args.get("amount", 1), f"{path}.amount")}


def find_constraint(spec: StreamSpec, context: Context,
                    path: str = "elevate_constraint") -> tuple[str, dict[str, float]]:
    """The pool with the highest utilisation in the context's pilot run (ties: higher offered
    load, then order)."""
    if context.pilot is None:
        raise SpecError(path, message="needs a pilot run: apply the scenario with a context that has one "
                                      "(context=Context(pilot=vssim.run.experiment.Pilot(...)))")
    summary = context.pilot(spec)
    util = {p: v["utilization"] for p, v in summary["pools"].items()}
    load = spec.offered_load()

    def rank(p: str) -> tuple[float, float]:
        u = util.get(p)
        u = -1.0 if u is None or not math.isfinite(u) else u
        return (u, load.get(p, 0.0))

    pools = [qualify(b, p) for b in ("", *spec.teams) for p in spec.board(b)[1]]
    best = max(pools, key=rank)                # max keeps the first of equals: board order
    return best, util


@_register("elevate_constraint", _check_elevate)
def elevate_constraint(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """Add people to the pool a pilot run finds most utilised (the constraint)."""
    spec = _spec(stream, path)
    pool, _util = find_constraint(spec, context, path)
    _add(stream, pool, args["amount"], path)
    note = f"(+{args['amount']} {pool}: the constraint)"
    desc = stream.get("description") or ""
    stream["description"] = f"{desc} {note}" if desc else note
    return stream


# --------------------------------------------------------------------------- limit_wip
def _check_limit_wip(args: Mapping, path: str) -> dict:
    _keys(args, path, ("per_person",))
    per = args.get("per_person", 2.0)
    if not _is_number(per) or per <= 0:
        raise SpecError(f"{path}.per_person", "a number > 0", per)
    return {"per_person": float(per)}


def _feeders(spec: StreamSpec, board: str, types: Sequence[str]) -> dict[str, list[str]]:
    """For each step of a board, the steps whose batches can enter it (from each type's route)."""
    steps = spec.board(board)[0]
    names = list(steps)
    out: dict[str, list[str]] = {s: [] for s in names}
    for t in types:
        route = spec.route(t, board)
        for j, s in enumerate(steps.values()):
            if s.visited_by(t) and route[j + 1] < len(names):
                nxt = names[route[j + 1]]
                if s.name not in out[nxt]:
                    out[nxt].append(s.name)
    return out


def _column_times(spec: StreamSpec, board: str,
                  types: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Per step of a board: (mean work per visit, mean pure delay per visit inside its column),
    each type weighted by `types` (its items per arriving item, their mean size).

    The delay is the handoff of the step it came from (the board's previous visited step) plus
    what the item waits for before it is workable (`capacity.waiting`: a dependency's probability
    × its delay and the team's piece of work).
    """
    steps = list(spec.board(board)[0].values())
    out = {}
    for j, s in enumerate(steps):
        if s.split is not None:
            continue                               # no work of its own: `_split_limit`
        work = weight = handoff = wait = 0.0
        for t, (n, size) in types.items():
            if not s.visited_by(t):
                continue
            work += n * s.work.mean * size
            weight += n
            prev = [k for k in range(j) if steps[k].visited_by(t)]
            if prev and steps[prev[-1]].handoff is not None:
                handoff += n * steps[prev[-1]].handoff.mean
            if s.dependency is not None and s.dependency.team is not None:
                wait += n * waiting(spec, s, t, size)
        work, handoff, wait = (work / weight, handoff / weight, wait / weight) if weight else (s.work.mean, 0.0, 0.0)
        d = s.dependency
        if d is not None and d.team is None:
            wait = d.probability * d.delay.mean
        out[s.name] = (work, handoff + wait)
    return out


def _split_limit(spec: StreamSpec, step: Step, per_person: float) -> int | None:
    """A split column's limit in parents: per_person × the people of the teams it sends work to (their
    own pools) ÷ the children one parent makes there; None when it makes none."""
    sends = {t: n for t, n in step.sends().items() if n > 0}
    if not sends:
        return None
    people = sum(p.size for t in sends for p in spec.teams[t].pools.values())
    return max(1, math.ceil(per_person * people / sum(sends.values()) - 1e-9))


@_register("limit_wip", _check_limit_wip)
def limit_wip(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """WIP limit per column of every board: per_person × people who can work it, stretched for delays in the column.

    limit = ceil(per_person × people × (work + delay) / work) + (batch − 1), at least the batches
    that enter the column; a split column ceil(per_person × its teams' people / children per
    parent) + (batch − 1). Not on columns that send rework to an earlier one (a rework cycle
    between limited columns can deadlock) nor on cadence gates; tighter existing limits stay.
    """
    spec = _spec(stream, path)
    flows = spec.flows(rate=1.0)
    for b in ("", *spec.teams):
        types = {t: ns for t, ns in flows[b].items() if ns[0] > 0} or {t: (1.0, spec.item_types[t].mean_size)
                                                                      for t in spec.item_types}
        steps = spec.board(b)[0]
        feeders = _feeders(spec, b, list(types))
        times = _column_times(spec, b, types)
        names = list(steps)
        for j, s in enumerate(steps.values()):
            if s.rework is not None and names.index(s.rework.to) < j:
                continue                           # a rework cycle between two limited columns can deadlock
            if s.cadence is not None:
                continue                           # a cadence gate holds a whole interval's output
            if s.split is not None:
                parents = _split_limit(spec, s, args["per_person"])
                if parents is None:
                    continue
                limit = parents + s.batch - 1
            else:
                people = sum(spec.board(b)[1][p].size for p in s.pools)
                work, delay = times[s.name]
                stretch = (work + delay) / work if work > 0 else 1.0
                limit = math.ceil(args["per_person"] * people * stretch - 1e-9) + s.batch - 1
            limit = max([limit, *(steps[f].batch for f in feeders[s.name])])
            if s.wip_limit is not None:
                limit = min(limit, s.wip_limit)    # keep a tighter existing limit
            board(stream, b)["steps"][s.name]["wip_limit"] = limit
    return stream


# --------------------------------------------------------------------------- set_policy
def _check_level(value: Any, path: str, low: int) -> Any:
    if isinstance(value, Mapping):
        if set(value) != {"critical_wip"}:
            raise SpecError(path, "an integer or {critical_wip: k}", dict(value))
        k = value["critical_wip"]
        if not _is_number(k) or k <= 0:
            raise SpecError(f"{path}.critical_wip", "a number > 0 (a multiple of the critical WIP)", k)
        return {"critical_wip": float(k)}
    return _positive_int(value, path, low)


def _check_set_policy(args: Mapping, path: str) -> dict:
    _keys(args, path, ("policy", "conwip", "backlog_limit"), required=("policy",))
    policy = args["policy"]
    if policy not in RELEASE_POLICIES:
        raise SpecError(f"{path}.policy", "one of " + ", ".join(RELEASE_POLICIES), policy)
    out: dict[str, Any] = {"policy": policy}
    if policy == "conwip":
        if args.get("conwip") is None:
            raise SpecError(f"{path}.conwip", "an integer >= 1 or {critical_wip: k} with policy conwip",
                            args.get("conwip"))
        out["conwip"] = _check_level(args["conwip"], f"{path}.conwip", 1)
    elif args.get("conwip") is not None:
        raise SpecError(f"{path}.conwip", "null or absent with policy push", args["conwip"])
    if "backlog_limit" in args:
        b = args["backlog_limit"]
        out["backlog_limit"] = None if b is None else _check_level(b, f"{path}.backlog_limit", 0)
    return out


@_register("set_policy", _check_set_policy)
def set_policy(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """Release policy: push (no CONWIP) or CONWIP at a number or a multiple of the critical WIP."""
    needs_w0 = any(isinstance(args.get(k), Mapping) for k in ("conwip", "backlog_limit"))
    w0 = critical_wip(_spec(stream, path))[2] if needs_w0 else math.nan
    release = dict(stream.get("release") or {})
    release["policy"] = args["policy"]
    if args["policy"] == "push":
        release["conwip"] = None
    else:
        c = args["conwip"]
        if isinstance(c, Mapping):
            batches = [s.get("batch", 1) or 1 for s in stream["steps"].values()]
            c = max([math.ceil(c["critical_wip"] * w0 - 1e-9), *batches])
        release["conwip"] = c
    if "backlog_limit" in args:
        b = args["backlog_limit"]
        if isinstance(b, Mapping):
            b = math.ceil(b["critical_wip"] * w0 - 1e-9)
        release["backlog_limit"] = b
    stream["release"] = release
    return stream


# --------------------------------------------------------------------------- split_items
def _check_split_items(args: Mapping, path: str) -> dict:
    _keys(args, path, ("factor",), required=("factor",))
    return {"factor": _positive_int(args["factor"], f"{path}.factor", 2)}


@_register("split_items", _check_split_items)
def split_items(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """Each item becomes `factor` smaller ones: arrivals × factor, every size / factor. The stream
    says so (`parts`), so that its results count whole items (vssim.analysis.parts)."""
    f = args["factor"]
    if stream.get("teams"):
        raise SpecError(path, message="cannot split the arrivals of a stream with teams into parts; split each "
                                      "item into children that join instead (split_work, as smaller_batches does)")
    a = stream.get("arrivals")
    if not isinstance(a, dict):
        raise SpecError(path, message="needs a stream with arrivals")
    process = a.get("process")
    if process == "trace":
        raise SpecError(f"{path}.factor", message="cannot split the items of trace arrivals (their times are "
                                                  "given); split the trace itself")
    if process == "poisson" or (process == "deterministic" and "rate" in a):
        a["rate"] = a["rate"] * f
    elif process == "deterministic":
        a["interval"] = a["interval"] / f
    elif process == "renewal":
        a["interarrival"] = scale_distribution(a["interarrival"], 1.0 / f, f"{path}.factor", "arrivals.interarrival")
    elif process == "backlog":
        a["count"] = a["count"] * f
    stream["parts"] = _positive_int(stream.get("parts", 1), "parts") * f
    types = stream.get("item_types")
    if not types:
        stream["item_types"] = {"item": {"share": 1.0, "size": 1.0 / f}}
        return stream
    for name, t in types.items():
        size = t.get("size", 1.0)
        t["size"] = scale_distribution(size, 1.0 / f, f"{path}.factor", f"item_types.{name}.size")
    return stream


# --------------------------------------------------------------------------- split_by_type
def _check_split_by_type(args: Mapping, path: str) -> dict:
    _keys(args, path, ("streams",), required=("streams",))
    groups = args["streams"]
    if not isinstance(groups, Mapping) or len(groups) < 2:
        raise SpecError(f"{path}.streams", "a mapping of at least 2 stream names to lists of item types", groups)
    seen: dict[str, str] = {}
    out = {}
    for g, types in groups.items():
        _name(g, f"{path}.streams", "non-empty stream names")
        ts = _names(types, f"{path}.streams.{g}", "a non-empty list of item types", 1)
        for t in ts:
            if t in seen:
                raise SpecError(f"{path}.streams.{g}", message=f"type {show(t)} is already in stream "
                                                               f"{show(seen[t])}: every type in exactly one")
            seen[t] = g
        out[str(g)] = ts
    return {"streams": out}


def _largest_remainder(n: int, weights: dict[str, float], least: int = 1) -> dict[str, int]:
    """n people split in proportion to weights, at least `least` each (n >= least × len(weights));
    ties go to the first."""
    total = sum(weights.values())
    quota = {g: n * w / total for g, w in weights.items()}
    alloc = {g: max(least, math.floor(q)) for g, q in quota.items()}
    order = list(weights)
    while sum(alloc.values()) < n:
        g = max(order, key=lambda g: quota[g] - alloc[g])
        alloc[g] += 1
    while sum(alloc.values()) > n:
        g = max((g for g in order if alloc[g] > least), key=lambda g: alloc[g] - quota[g])
        alloc[g] -= 1
    return alloc


@_register("split_by_type", _check_split_by_type)
def split_by_type(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """One stream per group of item types, each with its own copy of the steps and pools."""
    spec = _spec(stream, path)
    groups = args["streams"]
    where = f"{path}.streams"
    for g, ts in groups.items():
        for t in ts:
            if t not in spec.item_types:
                raise SpecError(f"{where}.{g}", "a list of the item types " + ", ".join(spec.item_types), t)
    grouped = {t for ts in groups.values() for t in ts}
    missing = [t for t in spec.item_types if t not in grouped]
    if missing:
        raise SpecError(where, message=f"must put every item type in exactly one stream, got no stream for "
                                       f"{', '.join(map(show, missing))}")
    group_of = {t: g for g, ts in groups.items() for t in ts}
    # each group's share of each pool's offered work (per arriving item: the arrival rate cancels)
    load = {p: dict.fromkeys(groups, 0.0) for p in spec.pools}
    for t in spec.item_types.values():
        visits = spec.visit_ratios(t.name)
        for s in spec.steps.values():
            for p in s.pools:
                load[p][group_of[t.name]] += t.share * visits[s.name] * s.work.mean * t.mean_size / len(s.pools)
    # a group has a copy of a pool when it sends work there (by visits, so zero-work steps count)
    uses = {p: [] for p in spec.pools}
    for g, ts in groups.items():
        for s in spec.steps.values():
            if any(s.visited_by(t) for t in ts):
                for p in s.pools:
                    if g not in uses[p]:
                        uses[p].append(g)
    pools_out: dict[str, Any] = {}
    copies: dict[tuple[str, str], str] = {}
    for p, pool in spec.pools.items():
        users = uses[p]
        if not users:
            pools_out[p] = copy.deepcopy(stream["pools"][p])      # nobody's: kept as it is
            continue
        if pool.size < len(users):
            raise SpecError(where, message=f"pool {show(p)} has {pool.size} person(s) but {len(users)} streams "
                                           f"({', '.join(users)}) need it: each stream needs at least one; add "
                                           f"people first (add_people) or group the types differently")
        weights = {g: load[p][g] if load[p][g] > 0 else 1e-12 for g in users}
        sizes = _largest_remainder(pool.size, weights)
        for g in users:
            name = f"{p}_{g}"
            if name in pools_out:
                raise SpecError(where, message=f"the pool copy name {show(name)} is used twice")
            pools_out[name] = _with_pool_size(copy.deepcopy(stream["pools"][p]), sizes[g])
            copies[(p, g)] = name
    names = spec.step_names
    steps_out: dict[str, Any] = {}
    for g, ts in groups.items():
        kept = [s for s in names if any(spec.steps[s].visited_by(t) for t in ts)]
        share = {s: 0.0 for s in names}
        for t in spec.item_types.values():
            visits = spec.visit_ratios(t.name)
            for s in names:
                share[s] += (t.share * visits[s] if t.name in ts else 0.0)
        for s in kept:
            raw = copy.deepcopy(stream["steps"][s])
            step = spec.steps[s]
            new = f"{s}_{g}"
            if new in steps_out:
                raise SpecError(where, message=f"the step copy name {show(new)} is used twice")
            step_types = [t for t in ts if step.visited_by(t)]
            raw["types"] = step_types
            if step.split is None:                 # a split step has no people: its teams are shared
                raw["pool"] = _write_refs([(copies[(p, g)], step.speed(p)) for p in step.pools])
            if step.rework is not None:
                k = names.index(step.rework.to)
                target = next(x for x in names[k:] if x in kept)
                raw["rework"] = {**raw["rework"], "to": f"{target}_{g}"}
            if step.wip_limit is not None:
                total = _all_visits(spec, s)
                frac = share[s] / total if total > 0 else 1.0
                feeders = [names[j] for j in range(names.index(s)) if names[j] in kept]
                floor_ = max(step.batch, spec.steps[feeders[-1]].batch if feeders else 1)
                raw["wip_limit"] = max(math.ceil(step.wip_limit * frac - 1e-9), floor_)
            steps_out[new] = raw
    stream["pools"] = pools_out
    stream["steps"] = steps_out
    return stream


def _all_visits(spec: StreamSpec, step: str) -> float:
    return sum(t.share * spec.visit_ratios(t.name)[step] for t in spec.item_types.values())
