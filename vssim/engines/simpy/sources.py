"""The random sources of one SimPy replication: one per purpose and step or pool.

Every source has a name (`work/<step>`, `rework/<step>`, `switch/<pool>`, `arrivals`, ...; a
team's step or pool by its qualified name, `work/web/build`, `split/implement/web`) and its own
generator, seeded from the run's seed, the replication and the name
(`vssim.engines.random.generator`): two scenarios of one stream draw the same numbers for the same
purpose, whatever else they change (common random numbers), and the max-plus engine draws them
by the same rule. What happens at an item's first visit to a step (its work, its rework and
dependency decisions) is tied to the item (`at(item number)`); what happens on later visits comes
in order (`next()`), so that rework elsewhere does not shift the first-visit draws.

A streaming run forgets, between slices, the draws that no live item can ask for any more
(`_forget_draws`); the blocks drawn, and so the numbers, are the same as without forgetting.
"""
from __future__ import annotations

import numpy as np

from vssim.engines.random import Draws, Uniforms, generator, interarrival, poisson_gaps
from vssim.model.profile import HOURS_PER_UNIT, Warp, origin_of

TIED = ("work/", "rework/", "dependency/", "split/", "choose/", "size/", "arrivals/type")
"""Sources whose draws are tied to an item's number (`at`), the others hand theirs out in order."""


class _Shares:
    """Item types by their shares, so that `Draws` hands them out by its block rule like any draw."""

    __slots__ = ("shares",)

    def __init__(self, shares: np.ndarray):
        self.shares = shares

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Shares) and np.array_equal(self.shares, other.shares)

    __hash__ = None

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(len(self.shares), size=size, p=self.shares)


class WarpedGaps:
    """The gaps of a profiled Poisson process: the flat process's gaps (source `arrivals`, exponential of
    mean 1 / rate, the same draws as without a profile) summed on the flat clock u, each arrival at
    H⁻¹(u) (vssim/model/profile.py); the gap is from now (inf: a falling trend has stopped the arrivals)."""

    __slots__ = ("gaps", "warp", "clock", "owner")

    def __init__(self, gaps: Draws, warp: Warp, owner):
        self.gaps, self.warp, self.clock, self.owner = gaps, warp, 0.0, owner

    def __call__(self) -> float:
        self.clock += self.gaps.next()
        gap = self.warp(self.clock) - self.owner.env._now
        return gap if gap > 0.0 else 0.0


class Sources:
    """The random sources of a `Replication` (a mixin: the board reads them as plain attributes)."""

    def _init_sources(self, seed: int, replication: int) -> None:
        plan, spec = self.plan, self.spec
        rng = lambda name: generator(seed, replication, name)  # noqa: E731
        self._generator = rng
        self._kept = getattr(self, "_made", {})     # after a transition's switch: the sources before it, by name
        self._made: dict[str, tuple[object, object]] = {}
        steps, names = plan.steps, plan.step_names        # every board's, by qualified name
        # by step; tied to the item (at): work, rework_decision, dependency_decision; in order (next): the rest
        self.work = [self._draws(s.work, f"work/{q}") if s.work is not None else None
                     for s, q in zip(steps, names, strict=True)]
        self.rework_work = [self._draws(s.work, f"rework_work/{q}") if s.work is not None else None
                            for s, q in zip(steps, names, strict=True)]
        self.rework_decision = [self._uniforms(f"rework/{q}") for q in names]
        self.rework_again_decision = [self._uniforms(f"rework_again/{q}") for q in names]
        self.handoff = [self._draws(s.handoff, f"handoff/{q}") if s.handoff else None
                        for s, q in zip(steps, names, strict=True)]
        self.dependency_decision = [self._uniforms(f"dependency/{q}") for q in names]
        self.dependency_again_decision = [self._uniforms(f"dependency_again/{q}") for q in names]
        self.dependency_delay = [self._draws(s.dependency.delay, f"dependency_delay/{q}")
                                 if s.dependency and s.dependency.delay else None
                                 for s, q in zip(steps, names, strict=True)]
        # splits and team dependencies: a split's counts per team tied to the parent (its number on its
        # board), on a later visit in order; the children's sizes in order
        self.split_count = [None if t is None else [self._draws(d, f"split/{q}/{plan.board_names[b]}") for b, d in t]
                            for t, q in zip(plan.split_teams, names, strict=True)]
        self.split_again_count = [None if t is None else [self._draws(d, f"split_again/{q}/{plan.board_names[b]}")
                                                         for b, d in t]
                                  for t, q in zip(plan.split_teams, names, strict=True)]
        # a split with `choose`: one uniform per visit picks the one team of the list that makes children
        self.choose_draw = [None if c is None else self._uniforms(f"choose/{q}")
                            for c, q in zip(plan.split_choose, names, strict=True)]
        self.choose_again_draw = [None if c is None else self._uniforms(f"choose_again/{q}")
                                  for c, q in zip(plan.split_choose, names, strict=True)]
        self.split_size = [self._draws(d, f"split_size/{q}") if d is not None else None
                           for d, q in zip(plan.split_size, names, strict=True)]
        self.dependency_size = [self._draws(d, f"dependency_size/{q}") if d is not None else None
                                for d, q in zip(plan.dependency_size, names, strict=True)]
        # by pool, in order
        pools = plan.pools
        self.switch_cost = [self._draws(p.switch_cost, f"switch/{q}") if p.switch_cost else None
                            for p, q in zip(pools, plan.pool_names, strict=True)]
        self.interrupted = [p.interruptions is not None for p in pools]
        # by person of an interrupted pool, made at their first piece of work (`_interruption_sources`)
        self.person_interruptions: dict[int, tuple[Draws, Draws, Draws | None]] = {}
        # by item number: its type, and its size when its type draws one
        self.item_type_draws = self._draws(_Shares(plan.type_shares), "arrivals/type")
        self.size_draws = [self._draws(t.size, f"size/{t.name}") if plan.type_size[k] is None else None
                           for k, t in enumerate(spec.item_types.values())]
        # open arrivals: the gap to the next one
        a = spec.arrivals
        gaps = interarrival(a)
        self.arrival_gaps = self._draws(gaps, "arrivals") if gaps is not None else None
        if self.arrival_gaps is not None and a.profile is not None:
            # kept over a transition's switch: the flat clock and the warp's cursor go on
            warped = getattr(self, "_warped", None)
            if warped is None or warped.gaps is not self.arrival_gaps:
                warp = Warp(a.profile, HOURS_PER_UNIT[spec.time_unit], origin_of(spec))
                warped = self._warped = WarpedGaps(self.arrival_gaps, warp, self)
            self.next_gap = warped
        elif self.arrival_gaps is not None:
            self.next_gap = self.arrival_gaps.next
        elif a.process == "deterministic":
            period = 1.0 / a.rate
            self.next_gap = lambda: period

    def _draws(self, dist, name: str) -> Draws:
        """The source `name` of `dist`. At a transition's switch the source of that name before it goes
        on (same distribution: its next draws, and those tied to items, are the ones it would have
        given); a changed distribution gets a fresh source, of the same name when its draws are tied to
        items (common random numbers with the new organisation run alone), else of a name of its own
        (so that it does not repeat the numbers drawn before the switch)."""
        kept = self._kept.get(name)
        if kept is not None and kept[0] == dist:
            source = kept[1]
        else:
            fresh = name if kept is None or name.startswith(TIED) else f"{name}@transition"
            source = Draws(dist, self._generator(fresh))
        self._made[name] = (dist, source)
        return source

    def _uniforms(self, name: str) -> Uniforms:
        kept = self._kept.get(name)
        source = kept[1] if kept is not None else Uniforms(self._generator(name))
        self._made[name] = (None, source)
        return source

    def _interruption_sources(self, p: int, person: int) -> tuple[Draws, Draws, Draws | None]:
        """The interruptions of `person` (of pool p): the gaps between them on the work clock, their
        lengths and the switch costs of refocusing after them, one source each per person
        (`interruptions/POOL/N`, `interruption_length/POOL/N`, `refocus/POOL/N`, N the person's
        number in the pool). A person's own sources, so that the draws a piece of work leaves
        undrawn at the horizon (`Board._start`) are nobody else's."""
        pool = self.plan.pools[p]
        who = f"{self.plan.pool_names[p]}/{person - self.plan.pool_people[p][0]}"
        after = getattr(self, "sources_after", "")      # after a transition's switch: sources of their own
        sources = (Draws(poisson_gaps(pool.interruptions.rate), self._generator(f"interruptions/{who}{after}")),
                   Draws(pool.interruptions.duration, self._generator(f"interruption_length/{who}{after}")),
                   Draws(pool.switch_cost, self._generator(f"refocus/{who}{after}")) if pool.switch_cost else None)
        self.person_interruptions[person] = sources
        return sources

    def _forget_draws(self, oldest: int) -> None:
        """Forget the draws tied to items before item number `oldest` and those handed out in order."""
        for d in (*self.work, *self.dependency_decision, *self.rework_decision, *self.size_draws,
                  self.item_type_draws):
            if d is not None:
                d.trim(oldest)
        for d in (*self.rework_work, *self.rework_again_decision, *self.handoff, *self.dependency_again_decision,
                  *self.dependency_delay, *self.switch_cost, *(d for sources in self.person_interruptions.values()
                                                                 for d in sources), self.arrival_gaps):
            if d is not None:
                d.trim()
