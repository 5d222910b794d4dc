"""The summary of a stream with teams: the top level's metrics, each child level's, each team's,
and the joins (docs/metrics.md, "Levels and teams").

A stream with teams leaves one table of items (parents and children, `Records.item_parent`) and
one of visits over every board. Each board's items and visits make the records of a flat stream
(`board_records`), summarised by the very passes of `vssim.analysis.summary`: the stream's own
board gives `metrics`, `steps` and `replications` (the items that arrive), each team its
`teams[TEAM]`; the items of each child level, on whatever board, give `levels[LEVEL]`.

Two figures are the hierarchy's own:

* a parent's touch time is the time in which it or any of its descendants is worked, the length
  of the union of their work intervals [start, start + work) (`family_touch`), so that children
  worked in parallel never make a flow efficiency above 100 %;
* a split step's join wait is its last child done − its first child done, per visit of a parent
  to the step (`joins`), with the team whose child was done last: the team a parent waited for.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from vssim.analysis.intervals import ci95
from vssim.records import HELPER_COLUMNS, ITEM_COLUMNS, VISIT_COLUMNS, Records

__all__ = ["JOIN_KEYS", "LEVEL_KEYS", "board_records", "family_touch", "in_levels", "joins", "level_records"]

LEVEL_KEYS = ("lead_time", "flow_time", "throughput", "wip", "completed")
"""What summary.json's `levels[LEVEL]` holds of a level's metrics."""
JOIN_KEYS = ("join_wait", "last_team")
"""What a split step adds to its entry in `steps`."""


def board_records(rec: Records, board: int, touch: np.ndarray | None = None) -> Records:
    """The records of the items worked on one board (0: the stream's own), as a flat stream's: its
    steps, pools and people only, numbered from 0 in their order; `touch` replaces the items' touch
    times (all items', indexed like `rec`'s)."""
    mine = rec.item_team == board
    steps = np.flatnonzero(rec.step_team == board)
    pools = np.flatnonzero(rec.pool_team == board)
    people = np.flatnonzero(np.isin(rec.person_pool, pools))
    step_at = np.full(len(rec.step_names), -1, dtype=np.int64)
    step_at[steps] = np.arange(len(steps))
    pool_at = np.full(len(rec.pool_names), -1, dtype=np.int64)
    pool_at[pools] = np.arange(len(pools))
    person_at = np.full(len(rec.person_pool) + 1, -1, dtype=np.int64)     # [-1]: not started
    person_at[people] = np.arange(len(people))
    prefix = len(rec.team_names[board]) + 1 if board else 0
    mine_visits = mine[rec.visit_item]
    visits = _visit_subset(rec, mine_visits, np.cumsum(mine) - 1)
    visits["visit_step"] = step_at[visits["visit_step"]]
    visits["visit_person"] = person_at[visits["visit_person"]]
    helping = mine_visits[rec.helper_visit]       # a swarm's helpers, of this board's visits
    helpers = {name: getattr(rec, name)[helping] for name in HELPER_COLUMNS}
    helpers["helper_visit"] = (np.cumsum(mine_visits) - 1)[helpers["helper_visit"]]
    helpers["helper_step"] = step_at[helpers["helper_step"]]
    helpers["helper_person"] = person_at[helpers["helper_person"]]
    return dataclasses.replace(
        rec, **_item_subset(rec, mine, touch), **visits, **helpers,
        step_names=[rec.step_names[k][prefix:] for k in steps], step_capacity=rec.step_capacity[steps],
        pool_names=[rec.pool_names[p][prefix:] for p in pools], person_pool=pool_at[rec.person_pool[people]],
        level_names=[rec.level_names[0]], team_names=[""], step_team=None, pool_team=None,
        step_split=rec.step_split[steps],
        pool_capacity=None if rec.pool_capacity is None else rec.pool_capacity[pools],
        person_presence=None if rec.person_presence is None else rec.person_presence[people],
        pool_calendar=None if rec.pool_calendar is None else [rec.pool_calendar[p] for p in pools])


def level_records(rec: Records, level: int) -> Records:
    """The items of one level, on every board, as a flat stream's (their visits left out: a
    level's figures are its items')."""
    mine = rec.item_level == level
    none = np.zeros(len(rec.visit_item), dtype=bool)
    return dataclasses.replace(rec, **_item_subset(rec, mine, None), **_visit_subset(rec, none, None),
                               **{name: getattr(rec, name)[:0] for name in HELPER_COLUMNS},
                               level_names=[rec.level_names[level]], team_names=[""], step_team=None,
                               pool_team=None, step_split=np.zeros(len(rec.step_names), dtype=bool))


def _item_subset(rec: Records, mine: np.ndarray, touch: np.ndarray | None) -> dict:
    out = {name: getattr(rec, name)[mine] for name in ITEM_COLUMNS}
    if touch is not None:
        out["touch"] = touch[mine]
    return {**out, "item_parent": None, "item_level": None, "item_team": None, "item_origin": None}


def _visit_subset(rec: Records, mine: np.ndarray, renumber: np.ndarray | None) -> dict:
    out = {name: getattr(rec, name)[mine] for name in VISIT_COLUMNS}
    if renumber is not None:
        out["visit_item"] = renumber[out["visit_item"]]
    return out


def family_touch(rec: Records) -> np.ndarray:
    """Each item's touch time with its descendants': the length of the union of the work
    intervals [start, start + work) of its own visits and of every descendant's. An item without
    children keeps its own (its visits follow one another, so the union is their sum)."""
    has_children = np.zeros(rec.n_items, dtype=bool)
    has_children[rec.item_parent[rec.item_parent >= 0]] = True
    touch = rec.touch.copy()
    if not has_children.any():
        return touch
    worked = ~np.isnan(rec.visit_start) & (rec.visit_work > 0)
    owner = rec.visit_item[worked]
    lo = rec.visit_start[worked]
    hi = lo + rec.visit_work[worked]
    groups, starts, ends = [], [], []
    while len(owner):                     # each interval counts for its item and every ancestor
        keep = has_children[owner]
        groups.append(owner[keep])
        starts.append(lo[keep])
        ends.append(hi[keep])
        up = rec.item_parent[owner] >= 0
        owner, lo, hi = rec.item_parent[owner[up]], lo[up], hi[up]
    group = np.concatenate(groups)
    start = np.concatenate(starts)
    end = np.concatenate(ends)
    order = np.lexsort((start, group))
    from vssim.analysis import kernels

    union = np.zeros(rec.n_items)
    kernels.union_lengths(group[order], start[order], end[order], union)
    touch[has_children] = union[has_children]
    return touch


def joins(rec: Records) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per split step (an index into `rec.step_names`): the join wait (last child done − first
    child done) and the board of the child done last, of each visit of a parent to the step
    that made its children after the warmup and has seen every child done."""
    child = np.flatnonzero(rec.item_origin >= 0)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k in np.flatnonzero(rec.step_split):
        mine = child[(rec.item_origin[child] == k) & (rec.arrival[child] >= rec.warmup)]
        if not len(mine):
            out[int(k)] = (np.zeros(0), np.zeros(0, dtype=np.int64))
            continue
        # the children of one visit: the same parent, made at the same instant
        key = np.lexsort((rec.arrival[mine], rec.item_parent[mine]))
        mine = mine[key]
        parent, made = rec.item_parent[mine], rec.arrival[mine]
        first = np.r_[True, (parent[1:] != parent[:-1]) | (made[1:] != made[:-1])]
        at = np.flatnonzero(first)
        done = rec.done[mine]
        finished = np.logical_and.reduceat(~np.isnan(done), at)
        filled = np.where(np.isnan(done), -np.inf, done)
        last = np.maximum.reduceat(filled, at)
        earliest = np.minimum.reduceat(np.where(np.isnan(done), np.inf, done), at)
        # the board of the child done last (the first of a tie, in the order made)
        group = np.cumsum(first) - 1
        is_last = filled == last[group]
        last_child = np.full(len(at), -1, dtype=np.int64)
        where = np.flatnonzero(is_last)[::-1]
        last_child[group[where]] = where
        out[int(k)] = ((last - earliest)[finished], rec.item_team[mine[last_child]][finished])
    return out


def in_levels(records: list[Records], *, planning_interval: float | None, steady_state: bool) -> dict:
    """summary.json's `metrics`, `steps`, `pools`, `replications` (the stream's own board: the items
    that arrive), `levels` and `teams` of a stream with teams; `pools` lists every board's pools,
    a team's by its qualified name, and the steps frame every board's steps, by qualified name."""
    from vssim.analysis.summary import summarize

    first = records[0]
    touches = [family_touch(r) for r in records]
    boards = []
    for b, team in enumerate(first.team_names):
        s = summarize([board_records(r, b, t) for r, t in zip(records, touches, strict=True)],
                      planning_interval=planning_interval, steady_state=steady_state)
        boards.append(s)
        if b:
            s["_steps_frame"]["step"] = team + "/" + s["_steps_frame"]["step"].astype(str)
    waits = [joins(r) for r in records]
    for k in np.flatnonzero(first.step_split):
        b = int(first.step_team[k])
        name = first.step_names[k][len(first.team_names[b]) + 1 if b else 0:]
        boards[b]["steps"][name].update(_join_entry(first, [w[int(k)] for w in waits]))
    top = boards[0]
    out = {**top,
           "pools": {(f"{team}/{p}" if b else p): v for b, team in enumerate(first.team_names)
                     for p, v in boards[b]["pools"].items()},
           "_steps_frame": pd.concat([s["_steps_frame"] for s in boards], ignore_index=True)}
    ttfv = _first_value(records)
    if ttfv is not None:
        out["metrics"] = {**top["metrics"], "time_to_first_value": ttfv}
    out["levels"] = {}
    for level in range(1, len(first.level_names)):
        s = summarize([level_records(r, level) for r in records], planning_interval=planning_interval,
                      steady_state=steady_state)
        out["levels"][first.level_names[level]] = {key: s["metrics"][key] for key in LEVEL_KEYS}
    out["teams"] = {team: {"metrics": boards[b]["metrics"], "steps": boards[b]["steps"], "pools": boards[b]["pools"]}
                    for b, team in enumerate(first.team_names) if b}
    return out


def _join_entry(rec: Records, per_rep: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """A split step's `join_wait` (mean over replications, its interval, the visits counted) and
    `last_team` (the share of the joins each team's child was done last in)."""
    means = [float(w.mean()) for w, _ in per_rep if len(w)]
    count = sum(len(w) for w, _ in per_rep)
    last = np.bincount(np.concatenate([t for _, t in per_rep]), minlength=len(rec.team_names))
    return {"join_wait": {"mean": float(np.mean(means)) if means else None,
                          "ci95": ci95(means), "count": int(count)},
            "last_team": {rec.team_names[b]: float(last[b] / count) for b in np.flatnonzero(last)} if count else {}}


def _first_value(records: list[Records]) -> dict | None:
    """`time_to_first_value` of the items that arrive and are split: their first child done − their
    arrival (a team dependency's child is not value; None when no item that arrives is split)."""
    from vssim.analysis.summary import pooled_entry

    per_rep, split = [], False
    for rec in records:
        parent = rec.item_parent
        kids = np.flatnonzero(parent >= 0)
        kids = kids[(parent[parent[kids]] < 0) & rec.step_split[rec.item_origin[kids]]]
        split = split or bool(len(kids))
        first = np.full(rec.n_items, np.inf)
        np.minimum.at(first, parent[kids], np.where(np.isnan(rec.done[kids]), np.inf, rec.done[kids]))
        keep = (rec.arrival >= rec.warmup) & np.isfinite(first)
        per_rep.append(first[keep] - rec.arrival[keep])
    return pooled_entry(per_rep)[0] if split else None
