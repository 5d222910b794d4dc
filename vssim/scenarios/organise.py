"""Transforms that change how work is split among teams (docs/scenarios.md, "Streams with teams"):

- `split_work`: every item split into `factor` smaller children on a team board that holds the
  stream's steps, joined before done (smaller batches as a real split);
- `minimize_dependencies`: each split's least used component team gives its children to the most
  used one, with the people that work freed;
- `stream_aligned_teams`: the component teams of a split regrouped into N teams that each take
  whole features (`split.choose`), the same people with their skills.

Why apart from transforms.py: these reorganise boards (teams made and removed, people moved
between them), where the transforms there change the keys of boards that stay.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from vssim.errors import SpecError, show
from vssim.model.distributions import parse_distribution, scale_distribution
from vssim.model.spec import Step, StreamSpec
from vssim.model.teams import SEP, child_counts, qualify
from vssim.model.userfiles import check_name
from vssim.scenarios.boards import board, locate, teams
from vssim.scenarios.capacity import demand
from vssim.scenarios.transforms import (
    Context,
    _check_speed,
    _habits,
    _keys,
    _largest_remainder,
    _member,
    _name,
    _names,
    _pool_refs,
    _pool_size,
    _positive_int,
    _register,
    _round_int,
    _skilled_refs,
    _spec,
    _with_pool_size,
    _write_refs,
)

__all__ = ["add_counts", "minimize_dependencies", "split_work", "stream_aligned_teams"]

MAX_VALUES = 10_000
"""Longest empirical list `add_counts` writes for an exact sum; beyond it, the shifted poisson."""


# --------------------------------------------------------------------------- counts
def _count_form(count: Any, path: str) -> tuple[str, Any, float, int]:
    """(form, parameters, mean, least value) of a split's count as a stream writes it: "values" (an integer or
    empirical values, rounded as the engine rounds them), "poisson" ((mu, loc)), else "other"."""
    d = parse_distribution(count, path)
    if d.name in ("deterministic", "empirical") and "file" not in d.params:
        values = [int(v) for v in child_counts(list(d.params.get("values", (d.params.get("value"),))))]
        return "values", values, sum(values) / len(values), min(values)
    if d.name == "poisson":
        loc = int(d.params.get("loc", 0))
        return "poisson", (float(d.params["mu"]), loc), d.mean, loc
    return "other", None, d.mean, 0


def _poisson(mu: float, loc: int) -> Any:
    if mu <= 0:
        return loc
    return {"dist": "poisson", "mu": mu, **({"loc": loc} if loc else {})}


def add_counts(a: Any, b: Any, path: str) -> Any:
    """The count of two splits' children drawn independently and added, written as a stream writes a
    count: exact where vssim can write the sum (integers and empirical values: every pairwise sum;
    two poissons: a poisson; a poisson and an integer: a shifted poisson), else a poisson shifted to
    the least value the two can make, of the same mean (the expected children are kept exactly)."""
    fa, pa, ma, la = _count_form(a, path)
    fb, pb, mb, lb = _count_form(b, path)
    if fa == fb == "values" and len(pa) * len(pb) <= MAX_VALUES:
        sums = [x + y for x in pa for y in pb]
        return sums[0] if len(set(sums)) == 1 else {"dist": "empirical", "values": sums}
    if fa == fb == "poisson":
        return _poisson(pa[0] + pb[0], pa[1] + pb[1])
    for (f1, p1), (f2, p2) in (((fa, pa), (fb, pb)), ((fb, pb), (fa, pa))):
        if f1 == "poisson" and f2 == "values" and len(p2) == 1:
            return _poisson(p1[0], p1[1] + p2[0])
    least = la + lb
    return _poisson(ma + mb - least, least)


# --------------------------------------------------------------------------- facts of the teams
def _names_of(spec: StreamSpec) -> dict[str, list[tuple[str, str, str]]]:
    """Who gives work to each team: (board, step, "split" or "dependency") in board order."""
    out: dict[str, list[tuple[str, str, str]]] = {t: [] for t in spec.teams}
    for b in ("", *spec.teams):
        for s in spec.board(b)[0].values():
            for t in s.split.teams if s.split is not None else ():
                out[t].append((b, s.name, "split"))
            if s.dependency is not None and s.dependency.team is not None:
                out[s.dependency.team].append((b, s.name, "dependency"))
    return out


def _is_leaf(spec: StreamSpec, team: str) -> bool:
    """A team that does the work itself: no split step, no teams of its own."""
    return all(s.split is None for s in spec.teams[team].steps.values()) and \
        not any(t.startswith(team + SEP) for t in spec.teams)


def _written(raw_teams: Mapping, step: Step) -> dict[str, str]:
    """Qualified team -> the name the split writes it by (the spec keeps the written order)."""
    return dict(zip(step.split.teams, raw_teams, strict=True))


def _remove_team(stream: dict, name: str) -> None:
    for held, local, qualified in list(teams(stream)):
        if qualified == name:
            del held[local]
            return


def _check_keep(spec: StreamSpec, keep: list[str], path: str) -> None:
    for k in keep:
        if k not in spec.teams:
            raise SpecError(f"{path}.keep", "a list of the stream's teams (" + ", ".join(spec.teams) + ")", k)


def _note(stream: dict, note: str) -> None:
    """Say in the stream's description what a transform did, so that the report says it."""
    desc = stream.get("description") or ""
    stream["description"] = f"{desc} ({note})" if desc else f"({note})"


# --------------------------------------------------------------------------- split_work
def _check_split_work(args: Mapping, path: str) -> dict:
    _keys(args, path, ("factor", "team", "into"), required=("factor",))
    return {"factor": _positive_int(args["factor"], f"{path}.factor", 2),
            "team": check_name(args.get("team", "parts"), f"{path}.team"),
            "into": check_name(args.get("into", "part"), f"{path}.into")}


@_register("split_work", _check_split_work)
def split_work(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """Every item becomes `factor` children of 1/factor its size on a team board (`team`) that holds the
    stream's steps and people; the item waits for the last of them in the stream's one step, `split`.
    The stream's release (CONWIP, backlog limit) commits the items; the team pushes."""
    if not isinstance(stream.get("steps"), dict) or not isinstance(stream.get("pools"), dict):
        raise SpecError(path, message="needs a stream with steps and pools")
    declared = stream.get("teams") if isinstance(stream.get("teams"), dict) else {}
    f, team = args["factor"], args["team"]
    if team in declared:
        raise SpecError(f"{path}.team", f"a name not used by a team of the stream ({', '.join(declared)})", team)
    first = next(iter(stream["steps"].values()), None)
    release = stream.get("release") if isinstance(stream.get("release"), Mapping) else {}
    bounded = (stream.get("arrivals") or {}).get("process") != "saturated" or release.get("conwip") is not None
    limit = None if bounded or not isinstance(first, Mapping) else first.get("wip_limit")
    stream["teams"] = {**declared, team: {"pools": stream["pools"], "steps": stream["steps"],
                                          "release": {"policy": "push", "conwip": None, "backlog_limit": None}}}
    split = {"into": args["into"], "teams": {team: {"count": f}}, "size": 1.0 / f}
    # a saturated stream without CONWIP is bounded by its first column's limit: it now bounds the items split
    stream["steps"] = {"split": {"split": split, "wip_limit": limit}}
    del stream["pools"]                            # a board whose every step splits has no people of its own
    return stream


# --------------------------------------------------------------------------- minimize_dependencies
def _check_minimize(args: Mapping, path: str) -> dict:
    _keys(args, path, ("keep", "drop"))
    keep = _names(args.get("keep", []), f"{path}.keep", "a list of team names", 0)
    return {"keep": keep, "drop": _positive_int(args.get("drop", 1), f"{path}.drop")}


@_register("minimize_dependencies", _check_minimize)
def minimize_dependencies(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """At every split, `drop` times: the component team with the fewest expected children per parent
    gives them to the one with the most (`add_counts`), with the people its lost work freed."""
    spec = _spec(stream, path)
    _check_keep(spec, args["keep"], path)
    for b in ("", *spec.teams):
        if b and b not in spec.teams:
            continue                               # a team that gave all its work away is gone
        for name in list(spec.board(b)[0]):
            for _ in range(args["drop"]):
                spec = _spec(stream, path)
                if not _reroute(stream, spec, b, spec.board(b)[0][name], args["keep"], path):
                    break
    return stream


def _reroute(stream: dict, spec: StreamSpec, b: str, step: Step, keep: list[str], path: str) -> bool:
    """One move at one split step; False when it has fewer than two component teams left."""
    if step.split is None or step.split.choose:
        return False
    named = _names_of(spec)
    shared = {t for t, by in named.items() if sum(kind == "split" for _b, _s, kind in by) > 1}
    teams_ = [t for t in step.split.teams if t not in keep and t not in shared and _is_leaf(spec, t)]
    if len(teams_) < 2:
        return False
    expected = {t: step.split.expected_count(t) for t in teams_}
    donor = min(reversed(teams_), key=expected.__getitem__)         # ties: the later
    receiver = max((t for t in teams_ if t != donor), key=expected.__getitem__)    # ties: the earlier
    raw = board(stream, b)["steps"][step.name]["split"]["teams"]
    written = _written(raw, step)
    where = f"{path} ({qualify(b, step.name)})"
    raw[written[receiver]] = {**raw[written[receiver]], "count": add_counts(
        raw[written[receiver]].get("count", 1), raw[written[donor]].get("count", 1), where)}
    del raw[written[donor]]
    before = demand(spec)
    after = _spec(stream, path)
    gone = not _names_of(after)[donor]
    moved = _move_people(stream, spec, donor, receiver, before, demand(after), gone)
    if gone:
        _remove_team(stream, donor)
    _note(stream, f"{donor}'s children of {qualify(b, step.name)} go to {receiver}, with {moved} people")
    return True


def _move_people(stream: dict, spec: StreamSpec, donor: str, receiver: str, before: dict[str, float],
                 after: dict[str, float], gone: bool) -> int:
    """The donor's people freed by the work it lost (all of them when nothing names it any more, else
    per pool its share of the pool's work, rounded half up, one person kept) join the receiver's pools
    in proportion to the work they gained (largest remainder); the number moved."""
    give = board(stream, donor)["pools"]
    moved = 0
    for p, pool in spec.teams[donor].pools.items():
        q = qualify(donor, p)
        share = (before[q] - after[q]) / before[q] if before[q] > 0 else 0.0
        n = pool.size if gone else min(_round_int(pool.size * share, 0), pool.size - 1)
        give[p] = _with_pool_size(give[p], pool.size - n)
        moved += n
    gains = {p: after[qualify(receiver, p)] - before[qualify(receiver, p)] for p in spec.teams[receiver].pools}
    gains = {p: g for p, g in gains.items() if g > 0} or {next(iter(gains)): 1.0}
    take = board(stream, receiver)["pools"]
    for p, n in _largest_remainder(moved, gains, least=0).items():
        take[p] = _with_pool_size(take[p], _pool_size(take[p]) + n)
    return moved


# --------------------------------------------------------------------------- stream_aligned_teams
MIX_RULES = ("proportional",)
"""How `stream_aligned_teams` spreads a skill's people over the new teams when `mix` does not say."""


def _check_aligned(args: Mapping, path: str) -> dict:
    _keys(args, path, ("teams", "keep", "step", "prefix", "speed", "mix"))
    n = args.get("teams")
    return {"teams": None if n is None else _positive_int(n, f"{path}.teams"),
            "keep": _names(args.get("keep", []), f"{path}.keep", "a list of team names", 0),
            "step": None if args.get("step") is None else _name(args["step"], f"{path}.step", "a step name"),
            "prefix": check_name(args.get("prefix", "sa"), f"{path}.prefix"),
            "speed": _check_speed(args, path), "mix": _check_mix(args.get("mix", "proportional"), f"{path}.mix")}


def _check_mix(mix: Any, path: str) -> Any:
    """`mix`: a rule of MIX_RULES, or {SKILL: people in every team, or a list of people per team}."""
    if isinstance(mix, str):
        if mix not in MIX_RULES:
            raise SpecError(path, "one of " + ", ".join(MIX_RULES) + " or {SKILL: people per team}", mix)
        return mix
    if not isinstance(mix, Mapping) or not mix:
        raise SpecError(path, "one of " + ", ".join(MIX_RULES) + " or {SKILL: people per team}", mix)
    out: dict[str, int | list[int]] = {}
    for skill, k in mix.items():
        where = f"{path}.{skill}"
        if isinstance(k, list):
            if not k:
                raise SpecError(where, "an integer >= 0 (people in every team) or a list of them (per team)", k)
            out[str(skill)] = [_positive_int(x, f"{where}[{i}]", 0) for i, x in enumerate(k)]
        else:
            out[str(skill)] = _positive_int(k, where, 0)
    return out


def _the_split(stream: dict, spec: StreamSpec, args: dict, path: str) -> tuple[str, Step, list[str]]:
    """(board, step, component teams) of the split to regroup: `step`, else the one split with two or
    more component teams (leaves, not kept)."""
    def components(s: Step) -> list[str]:
        return [t for t in s.split.teams if t not in args["keep"] and _is_leaf(spec, t)]

    if args["step"] is not None:
        b, local = locate(stream, args["step"], "steps", f"{path}.step")
        step = spec.board(b)[0][local]
        if step.split is None:
            raise SpecError(f"{path}.step", message=f"must name a split step, got {show(args['step'])}")
        return b, step, components(step)
    found = [(b, s) for b in ("", *spec.teams) for s in spec.board(b)[0].values()
             if s.split is not None and len(components(s)) >= 2]
    if len(found) != 1:
        shown = ", ".join(qualify(b, s.name) for b, s in found) or "none"
        raise SpecError(f"{path}.step", message=f"must name the split to regroup: the splits with two or more "
                                                f"component teams (not kept, no splits of their own) are {shown}")
    return found[0][0], found[0][1], components(found[0][1])


@_register("stream_aligned_teams", _check_aligned)
def stream_aligned_teams(stream: dict, args: dict, *, context: Context, path: str) -> dict:
    """The component teams of a split regrouped into `teams` teams PREFIX1..N of the same people, each taking
    whole parents: the split draws one of them per parent (`choose`), which makes all the children the
    component teams made together (`add_counts`), each of which visits every component step, its work scaled
    by that team's share of the children, so that a parent's expected work at each step is what it was.
    People keep their skill (a component team's pool): each skill's people spread over the teams (`mix`),
    working their own steps as before and the others at `speed` (1: one pool `team` per new team, everyone
    at full speed). Kept teams are left as they are."""
    spec = _spec(stream, path)
    _check_keep(spec, args["keep"], path)
    b, step, parts = _the_split(stream, spec, args, path)
    if step.split.choose:
        raise SpecError(f"{path}.step", message=f"must name a split that does not choose already, got "
                                                f"{show(qualify(b, step.name))}")
    if len(parts) < 2:
        raise SpecError(f"{path}.step", message=f"must name a split with two or more component teams (not kept, "
                                                f"no splits of their own), got {show(qualify(b, step.name))}")
    for t in parts:
        for where, s, kind in _names_of(spec)[t]:
            if (where, s) != (b, step.name) and (kind != "dependency" or where != b):
                raise SpecError(f"{path}.keep", message=f"must keep team {show(t)}: {qualify(where, s)} gives it "
                                                        "work too (only the split and dependencies on its board "
                                                        "move to the new teams)")
    if not sum(step.split.expected_count(t) for t in parts) > 0:
        raise SpecError(f"{path}.step", message=f"must name a split whose component teams make children, got "
                                                f"{show(qualify(b, step.name))} (the counts of {', '.join(parts)} "
                                                "are all 0)")
    people = sum(p.size for t in parts for p in spec.teams[t].pools.values())
    n = args["teams"] or len(parts)
    if n > people:
        raise SpecError(f"{path}.teams", message=f"must be at most the {people} people of {', '.join(parts)}, got {n}")
    written = _written(board(stream, b)["steps"][step.name]["split"]["teams"], step)
    skills = _skills(spec, parts, written, path)
    share = _shares(spec, b, step, parts)
    raw_split = board(stream, b)["steps"][step.name]["split"]
    names = [f"{args['prefix']}{i + 1}" for i in range(n)]
    own = board(stream, b).get("teams") or {}
    for name in names:
        if name in own and name not in (written[t] for t in parts):
            raise SpecError(f"{path}.prefix", f"a prefix whose team names are not used ({', '.join(own)})", name)
    count: Any = 0
    for t in parts:
        count = add_counts(count, raw_split["teams"][written[t]].get("count", 1), f"{path} ({written[t]})")
    mix = _mix(skills, n, args["mix"], f"{path}.mix")
    sizes = {name: sum(mix[k][i] for k in skills) for i, name in enumerate(names)}
    new = {name: _aligned_board(stream, spec, parts, written, share, skills, {k: mix[k][i] for k in skills},
                                people, args["speed"], path)
           for i, name in enumerate(names)}
    _fold_dependencies(stream, spec, b, parts)
    entries: dict[str, Any] = {}
    for local, entry in raw_split["teams"].items():
        if local not in (written[t] for t in parts):
            entries[local] = entry
        elif not any(name in entries for name in names):
            entries.update({name: {"count": copy.deepcopy(count)} for name in names})
    raw_split["teams"] = entries
    if n > 1:
        raw_split["choose"] = names
    for t in parts:
        _remove_team(stream, t)
    held = board(stream, b)
    held["teams"] = {**(held.get("teams") or {}), **new}
    skilled = "" if args["speed"] == 1.0 else f"; skills kept, outside them at speed {args['speed']:g}"
    _note(stream, f"{', '.join(parts)} regrouped into {', '.join(f'{k} ({v})' for k, v in sizes.items())}: "
                  f"one team per parent{skilled}")
    return stream


def _shares(spec: StreamSpec, b: str, step: Step, parts: list[str]) -> dict[str, float]:
    """Each component team's share of a parent's stories: its expected children per visit to the split,
    plus its team dependencies on the split's board (their probability × visits × size, in stories
    of the split's mean size), over the components' expected children."""
    flows = spec.flows(rate=1.0)[b]
    visits = {t: spec.visit_ratios(t, b) for t in flows}
    at_split = sum(n * visits[t][step.name] for t, (n, _) in flows.items())
    total = sum(step.split.expected_count(t) for t in parts)
    if at_split == 0:                              # a board nothing sends work to: the counts alone
        return {t: step.split.expected_count(t) / total for t in parts}
    story = sum(n * visits[t][step.name] * size for t, (n, size) in flows.items()) / at_split * step.split.size_mean
    extra = dict.fromkeys(parts, 0.0)
    for s in spec.board(b)[0].values():
        d = s.dependency
        if d is not None and d.team in extra:
            sized = sum(n * visits[t][s.name] * (size if d.size is None else d.size.mean)
                        for t, (n, size) in flows.items())
            extra[d.team] += d.probability * sized / (at_split * story)
    return {t: (step.split.expected_count(t) + extra[t]) / total for t in parts}


def _skills(spec: StreamSpec, parts: list[str], written: dict[str, str], path: str) -> dict[str, tuple[str, str, int]]:
    """The component teams' skills: each pool, named `TEAM_POOL` with TEAM as the split writes it (`web/devs` ->
    `web_devs`; a pool named so already keeps its name: `web/web_devs` -> `web_devs`) -> (team, pool, people).
    A pool with a schedule is refused: its changes cannot be split over teams."""
    out: dict[str, tuple[str, str, int]] = {}
    for t in parts:
        for p, pool in spec.teams[t].pools.items():
            if pool.schedule:
                raise SpecError(path, message=f"cannot regroup the people of {qualify(t, p)}: its schedule cannot "
                                              "be split over the new teams (give the new teams' pools schedules "
                                              "after the transform)")
            skill = _skill_name(written[t], p)
            if skill in out:
                raise SpecError(path, message=f"cannot name the skills of {qualify(out[skill][0], out[skill][1])} "
                                              f"and {qualify(t, p)} apart: both are {show(skill)} (rename a pool)")
            out[skill] = (t, p, pool.size)
    return out


def _skill_name(team: str, pool: str) -> str:
    """A component team's pool as a skill of the teams that take its people: `TEAM_POOL`, or the pool's own
    name when it starts with `TEAM_` already."""
    return pool if pool.startswith(f"{team}_") else f"{team}_{pool}"


def _spread(people: int, totals: list[int]) -> list[int]:
    """One skill's people over the teams by largest remainder: each team's quota is people / N, so the
    remainders tie and a tie goes to the team with the fewest people so far (then the first); `totals`
    (the teams' people so far) is updated. Each team's mix is then the whole's, as its work is."""
    n = len(totals)
    out = [people // n] * n
    for _ in range(people % n):
        i = min(range(n), key=lambda j: (totals[j] + out[j], j))
        out[i] += 1
    for j in range(n):
        totals[j] += out[j]
    return out


def _mix(skills: dict[str, tuple[str, str, int]], n: int, mix: Any, path: str) -> dict[str, list[int]]:
    """People of each skill in each of the n new teams: as `mix` gives them (a number: in every team), the
    others by `_spread`; every skill's people placed, every team at least one person."""
    given = mix if isinstance(mix, Mapping) else {}
    for k in given:
        if k not in skills:
            raise SpecError(path, "a mapping of the skills " + ", ".join(skills) + " to people per team", k)
    totals = [0] * n
    out: dict[str, list[int]] = {}
    for k, (_t, _p, people) in skills.items():
        if k not in given:
            continue
        per = [given[k]] * n if isinstance(given[k], int) else list(given[k])
        if len(per) != n:
            raise SpecError(f"{path}.{k}", f"a number or a list of {n} numbers, one per team", given[k])
        if sum(per) != people:
            raise SpecError(f"{path}.{k}", message=f"must place the {people} people of {k} over the {n} teams, "
                                                   f"got {sum(per)} ({show(given[k])})")
        out[k] = per
        totals = [a + b for a, b in zip(totals, per, strict=True)]
    for k, (_t, _p, people) in skills.items():
        if k not in given:
            out[k] = _spread(people, totals)
    empty = [i + 1 for i in range(n) if not totals[i]]
    if empty:
        raise SpecError(path, message=f"must give every new team at least one person, got none in team "
                                      f"{empty[0]} of {n}")
    return {k: out[k] for k in skills}


def _aligned_board(stream: dict, spec: StreamSpec, parts: list[str], written: dict[str, str],
                   share: dict[str, float], skills: dict[str, tuple[str, str, int]], mix: dict[str, int],
                   people: int, speed: float, path: str) -> dict:
    """One new team: every component team's steps (`STEP_TEAM`, work and dependency probability times the
    team's share; no column limits: the team's CONWIP is the components' together, per person), with the
    habits `merge_pools` gives merged pools. Its people, `mix` of each skill: at speed 1 one pool `team`;
    else one pool per skill it has, which works its own steps as before and the others at `speed`."""
    originals = {k: board(stream, t)["pools"][p] for k, (t, p, _n) in skills.items()}
    habits = _habits(originals, None)
    size = sum(mix.values())
    present = [k for k in skills if mix[k] > 0]
    if speed == 1.0:
        merged = {"size": size, **habits}
        pools = {"team": merged if len(merged) > 1 else size}
    else:
        pools = {k: _member(originals[k], habits, mix[k]) for k in present}
    steps: dict[str, Any] = {}
    for t in parts:
        suffix = written[t]
        for name, raw in board(stream, t)["steps"].items():
            s = copy.deepcopy(raw)
            if speed == 1.0:
                s["pool"] = "team"
            else:
                own = [(k, v) for k, v in ((_skill_name(suffix, p), v) for p, v in _pool_refs(raw["pool"]))
                       if k in pools]
                s["pool"] = _write_refs(_skilled_refs(own, present, speed))
            s["work"] = scale_distribution(s["work"], share[t], path, f"{t}/{name}.work")
            s["wip_limit"] = None
            if s.get("rework"):
                s["rework"]["to"] = f"{s['rework']['to']}_{suffix}"
            if s.get("dependency"):
                s["dependency"]["probability"] = min(1.0, s["dependency"]["probability"] * share[t])
            steps[f"{name}_{suffix}"] = s
    limits = [spec.teams[t].release.conwip for t in parts]
    release: dict[str, Any] = {"policy": "push", "conwip": None, "backlog_limit": None}
    if all(c is not None for c in limits):
        batches = [s.get("batch", 1) or 1 for s in steps.values()]
        release = {"policy": "conwip", "conwip": max(1, _round_int(sum(limits) * size / people), *batches),
                   "backlog_limit": None}
    return {"pools": pools, "steps": steps, "release": release}


def _fold_dependencies(stream: dict, spec: StreamSpec, b: str, parts: list[str]) -> None:
    """A team dependency of the split's board on a component team: its work is now in the parents'
    stories (`_shares`); a delay it had stays, as a plain dependency delay."""
    for name, s in spec.board(b)[0].items():
        d = s.dependency
        if d is None or d.team not in parts:
            continue
        raw = board(stream, b)["steps"][name]
        if d.delay is None:
            del raw["dependency"]
        else:
            raw["dependency"] = {"probability": d.probability, "delay": raw["dependency"]["delay"]}
