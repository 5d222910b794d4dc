"""The board now: a replication that starts from the items in progress (`Plan.initial`).

At time 0, before the first arrival, every item of the state is made, oldest `entered` first (its
number is its rank: the draws of its later steps are tied to it, as an arrival's), and placed:

* in the backlog: it joins the backlog (class of service, then its order);
* in a column: committed at `entered` (it counts in its board's WIP and CONWIP and in the column,
  which may hold more than its limit: limits bind admissions only, as after a transition);
* started: in work with a free person of the step's pools (the step's pick order), its remaining
  work the step's work conditioned on exceeding its age (`residual_draw`); more started items than
  free people: the rest wait first in the queue (within their class of service) and do their
  remaining work when a person takes them;
* not started: it waits in the column's queue in `entered` order (a split step makes its children);
* done: it waits to move on, through the step's transfer batch and cadence, into the next column
  when it has room.

Randomness: the remaining work of a started item at step q comes from the uniforms `initial/q`,
tied to the item's number; a run without initial state makes none of these sources, so its numbers
are those it always had.
"""
from __future__ import annotations

import heapq
import math

import numpy as np
import scipy.stats

from vssim.engines.random import Draws
from vssim.model.distributions import Distribution
from vssim.model.initial import BACKLOG
from vssim.model.keys import CLASSES_OF_SERVICE

REJECTIONS = 1000
"""Draws a distribution without a quantile function gets to exceed an item's age before its remaining
work is a fresh draw instead (`residual_draw`)."""


def frozen(d: Distribution):
    """The scipy.stats frozen distribution of a continuous `d` (for its survival and inverse survival
    functions), None for the empirical and discrete ones (no continuous quantile function)."""
    p, x = d.params, d.derived
    name = d.name
    if name == "exponential":
        return scipy.stats.expon(scale=p["mean"])
    if name == "lognormal":
        return scipy.stats.lognorm(s=x["sigma"], scale=math.exp(x["mu"]))
    if name == "gamma":
        return scipy.stats.gamma(a=x["shape"], scale=x["scale"])
    if name == "weibull":
        return scipy.stats.weibull_min(c=x["shape"], scale=x["scale"])
    if name == "uniform":
        return scipy.stats.uniform(loc=p["low"], scale=p["high"] - p["low"])
    if name == "triangular":
        width = p["high"] - p["low"]
        return scipy.stats.triang(c=(p["mode"] - p["low"]) / width, loc=p["low"], scale=width)
    if name == "pert":
        return scipy.stats.beta(a=x["alpha"], b=x["beta"], loc=x["low"], scale=x["width"])
    gen = getattr(scipy.stats, name, None)
    if isinstance(gen, scipy.stats.rv_continuous):
        return gen(**dict(p))
    return None


def residual_draw(d: Distribution, age: float, u: float, draws: Draws | None = None) -> float:
    """A draw X of `d` conditioned on X > `age` (residual life: the item has been in work that long).

    With a quantile function: X = S⁻¹(V·S(age)), V = 1 − u uniform on (0, 1] (S the survival
    function; the same law as F⁻¹(U), U uniform on (F(age), 1), accurate in the tail). The
    exponential gives age + a fresh draw (memoryless); deterministic v gives v. An age beyond the
    support (S(age) = 0, or v <= age) gives X = age: the remaining work is 0. Without one
    (empirical, discrete scipy): `draws` until one exceeds the age, at most `REJECTIONS`, else age
    + a fresh draw (documented in docs/model.md).
    """
    if d.name == "deterministic":
        return max(float(d.params["value"]), age)
    f = frozen(d)
    if f is not None:
        with np.errstate(all="ignore"):
            s = float(f.sf(age))
            if not s > 0.0:
                return age
            x = float(f.isf((1.0 - u) * s))
        return x if x > age else age
    for _ in range(REJECTIONS):
        x = draws.next()
        if x > age:
            return x
    return age + draws.next()


class Initial:
    """The placement of `Plan.initial` in a `Replication` (a mixin over the board, ledger and sources)."""

    def _start_initial(self) -> None:
        state = self.plan.initial
        if not state:
            return
        plan, spec = self.plan, self.spec
        steps = plan.step_names
        types = list(spec.item_types)
        single = len(types) == 1
        items = sorted(enumerate(state.items), key=lambda e: (e[1].entered, e[0]))
        placed = []                         # (slot, item, step or -1)
        for _, it in items:
            n = self.n_items
            self.n_items = n + 1
            t = (0 if single else self.item_type_draws.at(n)) if it.type is None else types.index(it.type)
            size = it.size
            if size is None:
                size = plan.type_size[t]
                if size is None:
                    size = self.size_draws[t].at(n)
            cos = it.class_of_service
            priority = plan.type_priority[t] if cos is None else CLASSES_OF_SERVICE.index(cos)
            arrival = it.entered if it.arrived is None else it.arrived
            i = self._fill_slot(n, arrival, t, priority, size, -1, 0, 0)
            placed.append((i, it, -1 if it.column == BACKLOG else steps.index(it.column)))
        for i, _, k in placed:              # the backlog, in its order
            if k < 0:
                heapq.heappush(self.backlogs[plan.route[self.item_type[i]][0]], (self.priority[i], self.ticket, i))
                self.ticket += 1
                self.board_backlog[0] += 1
        columns = [(i, it, k) for i, it, k in placed if k >= 0]
        for i, it, k in columns:            # committed at `entered`, in its column
            self.commit_time[i] = it.entered
            self.commit_seq[i] = self._next_order()
            self.board_wip[0] += 1
            self.in_column[k] += 1
            v = self._new_visit(i, k, it.entered)
            self.visit_ready[v] = it.entered
            self.entered_steps[i] |= 1 << k
        # started items: a person each (reserved first, so that a swarm's crew takes only the people left)
        started = [(i, it, k) for i, it, k in columns if it.started and not it.done]
        waiting = []
        reserved = []
        for i, it, k in started:
            pool = next((p for p in plan.step_pick[k] if self.free_people[p]), -1)
            if pool < 0:
                self._remaining(k, i, -1, -it.entered)
                waiting.append(i)
                continue
            person = self._pick_person(self.free_people[pool], k, pool)
            self._remaining(k, i, pool, -it.entered)
            reserved.append((k, i, pool, person, it.entered))
        for k, i, pool, person, entered in reserved:
            self._start(k, i, pool, person)
            if not self.swarming[k]:        # in work since it entered: its age is work done
                v = self.current_visit[i]
                self.visit_start[v] = entered
                self.visit_work[v] -= entered
                self.touch[i] -= entered
        for i in waiting:                   # started, no person free: first in the queue
            k = self.visit_step[self.current_visit[i]]
            heapq.heappush(self.queue[k], (self.priority[i], self.ticket, i))
            self.ticket += 1
        splits = []
        for i, it, k in columns:            # not started: the queue, in entered order
            if it.started or it.done:
                continue
            if plan.split_teams[k] is not None:
                splits.append((k, i))
            else:
                heapq.heappush(self.queue[k], (self.priority[i], self.ticket, i))
                self.ticket += 1
        for p, free in enumerate(self.free_people):
            for person in list(reversed(free)):
                if person in free and any(self.queue[k] for k in plan.pool_steps[p]):
                    free.remove(person)
                    self._dispatch(p, person)
        for k, i in splits:
            self._special(k, i)
        for i, it, k in columns:            # done: through the batch and cadence, on when there is room
            if it.done:
                v = self.current_visit[i]
                self.visit_start[v] = it.entered
                self.visit_end[v] = it.entered
                self.started_steps[i] |= 1 << k
                self.done_in_column[k] += 1
                self._carry_done(k, i)
        for k in range(plan.n_steps):
            if self.waiting_to_enter[k]:
                self._fill(k)
        self._commit(0)

    def _remaining(self, k: int, i: int, pool: int, age: float) -> None:
        """Item i, in work at step k for `age`, does the rest of a draw conditioned on exceeding it: the
        step's draw for the item is set to what is left (its work is draw x size ÷ the pool's speed)."""
        step = self.plan.steps[k]
        n = self.item_number[i]
        size = self.size[i]
        speed = self.plan.step_speed[k]
        s = 1.0 if speed is None or pool < 0 else speed[pool]
        threshold = age * s / size if size > 0 else math.inf
        if threshold == math.inf:
            self.work[k].put(n, 0.0)
            return
        sources = self.__dict__.setdefault("initial_sources", {})
        if k not in sources:                # by step: the uniforms tied to items, and rejection draws in order
            name = f"initial/{self.plan.step_names[k]}"
            rejection = frozen(step.work) is None and step.work.name != "deterministic"
            sources[k] = (self._uniforms(name),
                          Draws(step.work, self._generator(f"{name}/rejection")) if rejection else None)
        uniforms, draws = sources[k]
        x = residual_draw(step.work, threshold, uniforms.at(n), draws)
        self.work[k].put(n, max(0.0, x - threshold))

