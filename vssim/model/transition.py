"""A reorganisation as an event in time: the stream as it is until `at`, another organisation after.

`Transition` is what a scenario's `transition:` says (docs/scenarios.md, "Transitions");
`changeover(before, after, transition, moves)` compiles it into the `Plan` of the organisation
after the change, whose `changeover` holds what the engine needs at the switch: the plan before,
where each old step's items go, which person each old person becomes, and who learns.

Rules (one each, documented in docs/scenarios.md):

* steps: an old step goes to the new step of the same qualified name, else to where the
  scenario's transforms map it (`moves`: a merged step's members to the merged step), else to
  the next step of its board that the new organisation has ("ahead"), else out of the board;
* people: a pool that keeps its name keeps its first people; the people of a pool that is gone
  (or shrank) fill the new pools named after it (``team_devs`` for ``devs``), then any new pool
  with room, in pool order; a new organisation with fewer people is refused (people leave by a
  pool `schedule`); people beyond those placed are hires, present from `at`;
* learning: everyone whose pool changed, and every hire, works at speed x f(t) from `at`, the
  factor taken at the start of each piece of work: ``linear`` f = p0 + (1 - p0) min(1, (t - at)/R),
  ``exponential`` f = 1 - (1 - p0) exp(-3 (t - at)/R) (95 % of the way after R); R = 0 is full speed
  at once; `ramp` may be a distribution, each learner drawing their own R.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vssim.errors import SpecError
from vssim.model.distributions import Distribution, parse_distribution
from vssim.model.plan import Plan
from vssim.model.spec import StreamSpec
from vssim.model.teams import qualify

CURVES = ("linear", "exponential")
"""Shapes of the learning curve (`transition.curve`)."""

_KEYS = ("at", "productivity", "ramp", "curve")


@dataclass(frozen=True)
class Transition:
    """`transition: {at: T, productivity: p0, ramp: R, curve: linear}` of a scenario."""

    at: float
    productivity: float = 1.0
    ramp: float | Distribution = 0.0
    curve: str = "linear"

    def __post_init__(self):
        """Made in Python (`vssim.Transition(400, 0.6, 90)`): the same checks as a scenario file's."""
        object.__setattr__(self, "at", _finite(self.at, "transition.at", "a time >= 0", low=0.0))
        object.__setattr__(self, "productivity", _finite(
            self.productivity, "transition.productivity", "a number in (0, 1] (the share of full speed right "
            "after the change)", low=0.0, low_open=True, high=1.0))
        if not isinstance(self.ramp, Distribution):
            object.__setattr__(self, "ramp", _finite(self.ramp, "transition.ramp", "a time >= 0 to reach full "
                                                     "speed, or a distribution of it", low=0.0))
        if self.curve not in CURVES:
            raise SpecError("transition.curve", "one of " + ", ".join(CURVES), self.curve)

    @classmethod
    def from_dict(cls, d: Any, path: str = "transition") -> Transition:
        """Validate a scenario's `transition` mapping (one-line errors naming the field)."""
        if not isinstance(d, Mapping):
            raise SpecError(path, "a mapping {at: T, productivity: p0, ramp: R}", d)
        for key in d:
            if key not in _KEYS:
                raise SpecError(f"{path}.{key}", message="unknown key; allowed: " + ", ".join(_KEYS))
        if "at" not in d or d["at"] is None:
            raise SpecError(f"{path}.at", message="required: the time of the change, in the stream's time unit")
        ramp = d.get("ramp", 0.0)
        if isinstance(ramp, Mapping):
            ramp = parse_distribution(dict(ramp), f"{path}.ramp")
        try:                                # the checks of `__post_init__`, named by the file's path
            return cls(d["at"], d.get("productivity", 1.0), ramp, d.get("curve", "linear"))
        except SpecError as e:
            raise SpecError(path + e.path.removeprefix("transition"), message=e.reason) from None

    def to_dict(self) -> dict:
        ramp = self.ramp.to_dict() if isinstance(self.ramp, Distribution) else self.ramp
        return {"at": self.at, "productivity": self.productivity, "ramp": ramp, "curve": self.curve}

    @property
    def learns(self) -> bool:
        """Whether anyone is ever slower than full speed."""
        return self.productivity < 1.0 and (isinstance(self.ramp, Distribution) or self.ramp > 0.0)

    def factor(self, elapsed: float, ramp: float) -> float:
        """The share of full speed `elapsed` after the change, for a learner of ramp length `ramp`."""
        if ramp <= 0.0 or elapsed >= ramp and self.curve == "linear":
            return 1.0
        p0 = self.productivity
        if self.curve == "linear":
            return p0 + (1.0 - p0) * max(elapsed, 0.0) / ramp
        return 1.0 - (1.0 - p0) * math.exp(-3.0 * max(elapsed, 0.0) / ramp)


def _finite(value: Any, path: str, what: str, *, low: float, low_open: bool = False,
            high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(path, what, value)
    x = float(value)
    if not x == x or x in (float("inf"), float("-inf")) or x < low or (low_open and x == low) or (
            high is not None and x > high):
        raise SpecError(path, what, value)
    return x


@dataclass(frozen=True)
class Changeover:
    """What the engine needs at the switch (`Plan.changeover` of the plan after it)."""

    before: Plan
    transition: Transition
    step_to: tuple[tuple[int, ...], ...]    # [item type][old step]: the new step its items go to (-1: out of its board)
    ahead: tuple[tuple[bool, ...], ...]     # [item type][old step]: they enter `step_to` afresh (the step is gone)
    board_to: tuple[int, ...]       # by old board: the new board of the same name
    person_to: tuple[int, ...]      # by old person: the same human in the new organisation
    learner: tuple[bool, ...]       # by new person: pool changed or hired: works at the learning factor
    draining: tuple[int, ...] = ()  # new boards of the teams the change dissolves: they finish their work
    counterpart: tuple[int, ...] = ()   # by new person of a draining team: who they become once it is empty

    @property
    def at(self) -> float:
        return self.transition.at


def changeover(before: StreamSpec, after: StreamSpec, transition: Transition,
               moves: Mapping[str, str | list[str]] | None = None, path: str = "transition") -> Plan:
    """The plan of `after` carrying the switch from `before` at `transition.at` (module docstring).

    Teams that `after` no longer has are kept in the plan, as they were, to finish the children they
    have started (`draining`); their people join their new pools when their team is empty. The levels
    of items in flight that the new stream has no more (a team dependency's) stay in its levels, last."""
    moves = dict(moves or {})
    if after.parts != before.parts:
        raise SpecError(path, message=f"keeps the items as they are: the stream after the change splits them into "
                                      f"{after.parts} parts, before it {before.parts} (split_items changes what an "
                                      "item is, not the organisation)")
    old = Plan.of(before)
    core = Plan.of(after)
    if old.swarms or core.swarms:
        raise SpecError(path, message="needs streams without swarm on either side of the change (a crew in "
                                      "flight has no rule yet for moving to another organisation)")
    targets, changed = _people(old, core, path)
    # hires: the people of a pool without a schedule beyond those placed in it (a pool with one has its own)
    hires = {name: 0 if core.pool_schedule[j] else core.pool_sizes[j] - sum(t == name for t, _ in targets)
             for j, name in enumerate(core.pool_names)}
    gone = [b for b in old.board_names if b not in core.board_names]
    run = _with_teams(after, before, gone) if gone else after
    if transition.at > 0:
        run = _with_hires(run, hires, transition.at, path)
    new = Plan.of(run)

    def person(name: str, position: int) -> int:
        return new.pool_people[new.pool_names.index(name)][position]

    draining = tuple(new.board_names.index(b) for b in gone)
    person_to, learner = [], [False] * len(new.person_pool)
    counterpart = [-1] * len(new.person_pool)
    for q, (name, position) in enumerate(targets):
        p = old.person_pool[q]
        if old.pool_board[p] and old.board_names[old.pool_board[p]] in gone:   # stays on the team until it is empty
            stay = person(old.pool_names[p], q - old.pool_people[p][0])
            person_to.append(stay)
            counterpart[stay] = person(name, position)
            learner[counterpart[stay]] = True
        else:
            person_to.append(person(name, position))
            learner[person_to[-1]] = changed[q]
    for j, name in enumerate(core.pool_names):
        for position in range(core.pool_sizes[j] - hires[name], core.pool_sizes[j]):
            learner[person(name, position)] = True
    board_to = [new.board_names.index(b) for b in old.board_names]
    types = list(before.item_types)
    if list(run.item_types) != types:
        raise SpecError(path, message=f"keeps the item types: before the change {', '.join(types)}, after it "
                                      f"{', '.join(run.item_types)}")

    def place(name: str, t: str) -> str | None:
        """The new step of old step `name` for an item of type t: by name, or where `moves` sends it
        (a list: the first of them that type t visits)."""
        target = moves.get(name, name)
        for c in [target] if isinstance(target, str) else target:
            if c in new.step_names:
                visits = new.steps[new.step_names.index(c)].types
                if visits is None or t in visits:
                    return c
        return None

    for b, name in enumerate(old.board_names):
        steps = old.step_names[old.board_start[b]:old.board_end[b]]
        if name not in gone and steps and not any(place(n, t) for n in steps for t in types):
            raise SpecError(path, message=f"needs a step of {'the stream' if not name else 'team ' + repr(name)} to "
                                          f"carry the work in flight to: none of its steps ({', '.join(steps)}) keeps "
                                          "its name after the change, and the scenario's transforms say nothing of "
                                          "where they went (docs/scenarios.md §6)")
    step_to, ahead = [], []

    def serves(k: int, t: str) -> bool:
        return old.steps[k].types is None or t in old.steps[k].types

    # a type that never visits old step k has no items there: its row copies the first visitor's, so
    # that the step's own label (its cadence, its people's last step) is one for all types
    first = [next((t for t in types if serves(k, t)), types[0]) for k in range(old.n_steps)]
    for t in types:                         # by item type: split_by_type sends each type to its own copy
        to_t, ahead_t = [], []
        for k, name in enumerate(old.step_names):
            u = t if serves(k, t) else first[k]
            target = place(name, u)
            if target is not None:
                to_t.append(new.step_names.index(target))
                ahead_t.append(False)
                continue
            b = old.board_of[k]
            later = [c for n in old.step_names[k + 1:old.board_end[b]] if (c := place(n, u)) is not None]
            to_t.append(new.step_names.index(later[0]) if later else -1)
            ahead_t.append(True)
            if old.split_teams[k] is not None or old.dependency_team[k] >= 0:
                raise SpecError(path, message=f"needs step {name!r} after the change: its items wait for children "
                                              "of other teams")
        step_to.append(tuple(to_t))
        ahead.append(tuple(ahead_t))
    levels = [*new.level_names, *(name for name in old.level_names if name not in new.level_names)]
    return dataclasses.replace(new, level_names=levels, changeover=Changeover(
        old, transition, tuple(step_to), tuple(ahead), tuple(board_to), tuple(person_to), tuple(learner),
        draining, tuple(counterpart) if draining else ()))


def _people(old: Plan, new: Plan, path: str) -> tuple[list[tuple[str, int]], list[bool]]:
    """(the new pool and position of each old person, whether each changed pool): the people rule of
    the module docstring, on the places each new pool has (its most people, with a schedule)."""
    names, sizes = new.pool_names, [len(people) for people in new.pool_people]
    filled = [0] * len(names)
    targets: list[tuple[str, int]] = [("", -1)] * len(old.person_pool)
    changed = [True] * len(old.person_pool)

    def place(q: int, j: int) -> None:
        targets[q] = (names[j], filled[j])
        filled[j] += 1

    for p, name in enumerate(old.pool_names):
        if name in names:
            j = names.index(name)
            for q in old.pool_people[p][:sizes[j]]:
                place(q, j)
                changed[q] = False
    for p, name in enumerate(old.pool_names):
        local, flat = name.rsplit("/", 1)[-1], name.replace("/", "_")
        ends = [n.rsplit("/", 1)[-1] for n in names]
        own = [j for j, e in enumerate(ends)          # team_devs (merge_pools), devs_fixes (split_by_type)
               if e == local or e.endswith(("_" + local, "_" + flat)) or e.startswith(local + "_")]
        order = own + [j for j in range(len(names)) if j not in own]
        for q in old.pool_people[p]:
            if targets[q][1] >= 0:
                continue
            j = next((j for j in order if filled[j] < sizes[j]), None)
            if j is None:
                raise SpecError(path, message=f"needs a place for every person: the stream after the change has "
                                              f"{sum(sizes)} people, before it {len(old.person_pool)} (people "
                                              "leave by a pool schedule, not by a transition)")
            place(q, j)
    return targets, changed


def _with_teams(after: StreamSpec, before: StreamSpec, gone: list[str]) -> StreamSpec:
    """`after` with the teams it dissolved back, as they were (nothing gives them new work)."""
    d, old = after.to_dict(), before.to_dict()
    for b in sorted(gone, key=lambda b: b.count("/")):
        parent, _, name = b.rpartition("/")
        holder = _team_dict(d, parent) if parent else d
        team = {k: v for k, v in _team_dict(old, b).items() if k != "teams"}   # its gone teams come next
        holder.setdefault("teams", {})[name] = team
    return StreamSpec.from_dict(d)


def _with_hires(after: StreamSpec, hires: Mapping[str, int], at: float, path: str) -> StreamSpec:
    """`after` with the hires of each pool joining at `at` (a pool schedule), so that the records
    count only the people present."""
    if not any(hires.values()):
        return after
    d = after.to_dict()
    for b in ("", *after.teams):
        raw = d if not b else _team_dict(d, b)
        for name, pool in after.board(b)[1].items():
            n = hires.get(qualify(b, name), 0)
            if not n:
                continue
            if pool.schedule:
                raise SpecError(f"{path}", message=f"pool {qualify(b, name)!r} gains {n} people at the change and "
                                                   "has a schedule of its own: write the hires into its schedule")
            entry = raw["pools"][name]
            new = {"size": pool.size - n, "schedule": [{"at": at, "size": pool.size}]}
            raw["pools"][name] = {**entry, **new} if isinstance(entry, Mapping) else new
    return StreamSpec.from_dict(d)


def _team_dict(d: dict, qualified: str) -> dict:
    """The mapping of team `web` or `ops/web` inside a stream dict."""
    node = d
    for part in qualified.split("/"):
        node = node["teams"][part]
    return node
