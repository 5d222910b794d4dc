"""Stuck states of the SimPy board: partial batches that can never fill, and deadlocks.

Two checks. `_check_deadlock(k)` runs when column k cannot admit the group first in line: a partial
transfer batch that alone fills its column leaves as it is; a cycle of full columns whose items
are all done and wait to enter another column of the cycle is a deadlock. `_check_frozen()` runs
when no work or delay is under way: partial batches that no arrival can fill any more leave, and
a stream that stopped moving is a deadlock. A deadlock raises `DeadlockError` naming the columns.
"""
from __future__ import annotations

from vssim.errors import DeadlockError
from vssim.model.plan import UNLIMITED


class Deadlock:
    """The stuck-state checks of a `Replication` (a mixin over the board's state)."""

    def _check_deadlock(self, k: int) -> None:
        """Column k cannot admit the group first in line. If a partial batch alone fills it,
        send the batch on; if k is in a cycle of full columns whose items are all done and
        waiting to enter another column of the cycle, raise."""
        in_column, done_in_column, blocked = self.in_column, self.done_in_column, self.blocked_to
        if self.outgoing[k] and in_column[k] == len(self.outgoing[k]) and self._full(k):
            # a partial batch fills its column and its mates cannot get in: it can never
            # grow, so it leaves as it is
            group, self.outgoing[k] = self.outgoing[k], []
            self._release(k, group)
            return
        seen = {k}
        stack = [k]
        while stack:
            x = stack.pop()
            if not self._full(x) or done_in_column[x] != in_column[x] or self.outgoing[x]:
                return
            for dest, waiting in enumerate(blocked[x]):
                if not waiting:
                    continue
                if dest >= self.plan.n_steps:
                    return
                if dest not in seen:
                    seen.add(dest)
                    stack.append(dest)
        raise DeadlockError(self._describe_stuck(sorted(seen)))

    def _full(self, x: int) -> bool:
        """Column x cannot admit the group first in line for it (from upstream or a cadence gate)."""
        need = len(self.waiting_to_enter[x][0][0]) if self.waiting_to_enter[x] else UNLIMITED
        if x > self.plan.board_start[self.plan.board_of[x]] and self.gate[x - 1]:
            need = min(need, len(self.gate[x - 1][0]))
        return need < UNLIMITED and self.in_column[x] + need > self.plan.limit[x]

    def _check_frozen(self) -> None:
        """Called when no work or delay is under way: finish partial batches that can never
        fill, or report a stream that stopped moving."""
        if self.board_wip[0] == 0 or self.busy or self.delays or self.resizes_left or self.wakeups:
            return                          # (a pool's schedule may still bring people, an opening set them to work)
        plan = self.plan
        n = plan.n_steps
        for k in range(n):
            if self.gate[k] and all(self._fits(dest, len(sub)) for dest, sub in self._split(k, self.gate[k][0])):
                return                      # the next tick moves it
        fed = [self._can_take(b) for b in range(len(plan.board_names))] if plan.has_teams else [self._can_take(0)]
        if fed[0] and not any(self.outgoing[k] and not fed[plan.board_of[k]] for k in range(n)):
            return                          # new arrivals (or a saturated backlog) can still fill partial batches
        for k in self._flush_order():
            if self.outgoing[k] and not fed[plan.board_of[k]]:
                group, self.outgoing[k] = self.outgoing[k], []
                self._release(k, group)
                if not self.busy and not self.delays:
                    self._check_frozen()
                return
        if self.after is not None:
            return                          # a transition's switch may set it moving again
        raise DeadlockError(self._describe_stuck([k for k in range(n) if self.in_column[k]]))

    def _flush_order(self) -> list[int]:
        """The columns in the order their partial batches are flushed: the deepest board first (the
        boards parents wait on: their children done, the parents move on and may fill a batch above),
        within a board the most downstream column first (its items cannot fill the columns before it)."""
        order = getattr(self, "_flush", None)
        if order is None:
            plan = self.plan
            depth = [self._depth(b) for b in range(len(plan.board_names))]
            order = self._flush = sorted(range(plan.n_steps), key=lambda k: (-depth[plan.board_of[k]], -k))
        return order

    def _depth(self, b: int) -> int:
        """A board's depth: 0 for the stream's, else one below the deepest board that sends it work."""
        plan = self.plan
        if b == 0:
            return 0
        return 1 + max((self._depth(plan.board_of[k]) for k in plan.board_feeders[b]), default=-1)

    def _can_take(self, b: int) -> bool:
        """Whether board b can still receive new items while nothing moves: the stream's own while
        arrivals go on and it can commit; a team's while it can commit and a column that sends it
        work (a split or team dependency step) has room for a new parent on a board that can take
        one. A partial batch on a board that cannot is flushed, since nothing can fill it."""
        plan = self.plan
        if self.board_wip[b] >= plan.board_conwip[b] or not any(self.in_column[c] < plan.limit[c]
                                                                 and not self.waiting_to_enter[c]
                                                                 for c in plan.board_first_columns[b]):
            return False
        if b == 0:
            return not self.arrivals_done
        return any(self.in_column[k] < plan.limit[k] and self._can_take(plan.board_of[k])
                   for k in plan.board_feeders[b])

    def _describe_stuck(self, columns: list[int]) -> str:
        names = self.plan.step_names
        parts = []
        for x in columns:
            lim = self.plan.limit[x]
            waits = ", ".join(f"{m} waiting to enter {names[d] if d < len(names) else 'done'}"
                              for d, m in enumerate(self.blocked_to[x]) if m)
            parts.append(f"{names[x]} (wip_limit {lim if lim < UNLIMITED else 'null'}) holds "
                         f"{self.in_column[x]} done item(s){': ' + waits if waits else ''}")
        return (f"deadlock at t={self.env._now:g} in replication {self.replication}: " + "; ".join(parts)
                + ". Every column in this cycle is full of items that wait for room in another one;"
                  " raise a wip_limit in the cycle or send rework to a column with room.")
