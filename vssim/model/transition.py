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
        at = _finite(d["at"], f"{path}.at", "a time >= 0", low=0.0)
        p0 = _finite(d.get("productivity", 1.0), f"{path}.productivity", "a number in (0, 1] (the share of full "
                     "speed right after the change)", low=0.0, low_open=True, high=1.0)
        ramp_raw = d.get("ramp", 0.0)
        if isinstance(ramp_raw, Mapping):
            ramp: float | Distribution = parse_distribution(dict(ramp_raw), f"{path}.ramp")
        else:
            ramp = _finite(ramp_raw, f"{path}.ramp", "a time >= 0 to reach full speed, or a distribution of it",
                           low=0.0)
        curve = d.get("curve", "linear")
        if curve not in CURVES:
            raise SpecError(f"{path}.curve", "one of " + ", ".join(CURVES), curve)
        return cls(at, p0, ramp, curve)

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
        import math

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
    step_to: tuple[int, ...]        # by old step: the new step its items go to (-1: out of its board)
    ahead: tuple[bool, ...]         # by old step: its items enter `step_to` afresh (the step is gone)
    board_to: tuple[int, ...]       # by old board: the new board of the same name
    person_to: tuple[int, ...]      # by old person: the same human in the new organisation
    learner: tuple[bool, ...]       # by new person: pool changed or hired: works at the learning factor
    hires: tuple[int, ...]          # by new pool: people who join at `at` (not an old person)

    @property
    def at(self) -> float:
        return self.transition.at


def changeover(before: StreamSpec, after: StreamSpec, transition: Transition,
               moves: Mapping[str, str] | None = None, path: str = "transition") -> Plan:
    """The plan of `after` carrying the switch from `before` at `transition.at` (module docstring)."""
    moves = dict(moves or {})
    if after.parts != before.parts:
        raise SpecError(path, message=f"keeps the items as they are: the stream after the change splits them into "
                                      f"{after.parts} parts, before it {before.parts} (split_items changes what an "
                                      "item is, not the organisation)")
    old = Plan.of(before)
    hires, person_to, learner_old = _people(old, after, path)
    start = Plan.of(after).pool_sizes        # the hires are the last people of each pool (same numbers after)
    if transition.at > 0:
        after = _with_hires(after, hires, transition.at, path)
    new = Plan.of(after)
    board_to = []
    for b in old.board_names:
        if b not in new.board_names:
            raise SpecError(f"{path}", message=f"needs every team of the stream after the change: team {b!r} is "
                                               "gone (work in flight on a dissolved team has nowhere to go; "
                                               "docs/scenarios.md, Transitions)")
        board_to.append(new.board_names.index(b))
    step_to, ahead = [], []
    for k, name in enumerate(old.step_names):
        target = moves.get(name, name)
        if target in new.step_names:
            step_to.append(new.step_names.index(target))
            ahead.append(False)
            continue
        b = old.board_of[k]
        later = [new.step_names.index(n) for n in old.step_names[k + 1:old.board_end[b]] if n in new.step_names]
        step_to.append(later[0] if later else -1)
        ahead.append(True)
        if old.split_teams[k] is not None or old.dependency_team[k] >= 0:
            raise SpecError(path, message=f"needs step {name!r} after the change: its items wait for children "
                                          "of other teams")
    learner = [False] * len(new.person_pool)
    for q, q_new in enumerate(person_to):
        learner[q_new] = learner_old[q]
    for p, n in enumerate(hires):
        for q in new.pool_people[p][start[p] - n:start[p]]:
            learner[q] = True
    return dataclasses.replace(new, changeover=Changeover(
        old, transition, tuple(step_to), tuple(ahead), tuple(board_to), tuple(person_to), tuple(learner),
        tuple(hires)))


def _people(old: Plan, after: StreamSpec, path: str) -> tuple[list[int], list[int], list[bool]]:
    """(hires per new pool, new person of each old person, whether each old person changed pool):
    the people rule of the module docstring, on the people each new pool starts with."""
    new = Plan.of(after)
    names, sizes, slots = new.pool_names, new.pool_sizes, new.pool_people
    filled = [0] * len(names)
    person_to = [-1] * len(old.person_pool)
    changed = [True] * len(old.person_pool)

    def place(q: int, j: int) -> None:
        person_to[q] = slots[j][filled[j]]
        filled[j] += 1

    for p, name in enumerate(old.pool_names):
        if name in names:
            j = names.index(name)
            for q in old.pool_people[p][:sizes[j]]:
                place(q, j)
                changed[q] = False
    for p, name in enumerate(old.pool_names):
        local, flat = name.rsplit("/", 1)[-1], name.replace("/", "_")
        own = [j for j, n in enumerate(names) if n.rsplit("/", 1)[-1].endswith(("_" + local, "_" + flat))]
        order = own + [j for j in range(len(names)) if j not in own]
        for q in old.pool_people[p]:
            if person_to[q] >= 0:
                continue
            j = next((j for j in order if filled[j] < sizes[j]), None)
            if j is None:
                raise SpecError(path, message=f"needs a place for every person: the stream after the change has "
                                              f"{sum(sizes)} people, before it {len(old.person_pool)} (people "
                                              "leave by a pool schedule, not by a transition)")
            place(q, j)
    return [s - f for s, f in zip(sizes, filled, strict=True)], person_to, changed


def _with_hires(after: StreamSpec, hires: list[int], at: float, path: str) -> StreamSpec:
    """`after` with the hires of each pool joining at `at` (a pool schedule), so that the records
    count only the people present."""
    if not any(hires):
        return after
    d = after.to_dict()
    j = 0
    for b in ("", *after.teams):
        raw = d if not b else _team_dict(d, b)
        for name, pool in after.board(b)[1].items():
            n = hires[j]
            j += 1
            if not n:
                continue
            if pool.schedule:
                raise SpecError(f"{path}", message=f"pool {qualify(b, name)!r} gains {n} people at the change and "
                                                   "has a schedule of its own: write the hires into its schedule")
            entry = raw["pools"][name]
            size = pool.size - n
            new = {"size": size, "schedule": [{"at": at, "size": pool.size}]}
            raw["pools"][name] = {**entry, **new} if isinstance(entry, Mapping) else new
    return StreamSpec.from_dict(d)


def _team_dict(d: dict, qualified: str) -> dict:
    """The mapping of team `web` or `ops/web` inside a stream dict."""
    node = d
    for part in qualified.split("/"):
        node = node["teams"][part]
    return node
