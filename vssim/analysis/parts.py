"""Split items counted in the items they were split from (docs/metrics.md, "Split items").

`split_items` makes each item f parts (the stream's `parts`) that arrive one after another, so
item i of the records is a part of item i // f (`Records.parent`). A value stream manager asks
when the item is delivered, not half of it: the summary's `metrics` and `replications` count whole
items, and the parts' own figures stay under `parts`. Until splits and joins are modelled
(issue 13), a whole item is derived from its parts' rows: it arrives with its first part, is
committed with the first of its parts committed, is done when the last of its f parts is done,
and its touch time is the sum of theirs; its time to first value is its first part done − its
arrival. The whole items go through the very passes of `summarize`.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from vssim.analysis.summary import pooled_entry, summarize
from vssim.records import Records

__all__ = ["in_whole_items", "whole_items"]


def _grid(x: np.ndarray, parts: int, fill) -> np.ndarray:
    """The parts' values, one row per whole item; the parts of the last item that had not arrived
    by the end of the run are `fill`."""
    rows = -(-len(x) // parts)
    out = np.full(rows * parts, fill, dtype=x.dtype)
    out[:len(x)] = x
    return out.reshape(rows, parts)


def whole_items(rec: Records) -> Records:
    """A split replication's records in whole items: one row per item its parts make up (type,
    class of service and business value of its first part, size and rework count the sums), and
    the parts' visits as the visits of their item."""
    f = rec.parts
    rows = np.arange(-(-rec.n_items // f))
    commit = _grid(rec.commit, f, np.nan)
    first = np.where(np.isnan(commit), np.inf, commit).argmin(axis=1)
    done = _grid(rec.done, f, np.nan)
    last = np.where(np.isnan(done), -np.inf, done).argmax(axis=1)
    done_at = done.max(axis=1)                       # NaN until every part has arrived and is done
    return dataclasses.replace(
        rec, parts=1,
        item_type=rec.item_type[::f], item_priority=rec.item_priority[::f], item_value=rec.item_value[::f],
        item_size=_grid(rec.item_size, f, 0.0).sum(axis=1), rework_count=_grid(rec.rework_count, f, 0).sum(axis=1),
        arrival=rec.arrival[::f], arrival_seq=rec.arrival_seq[::f],
        commit=commit[rows, first], commit_seq=_grid(rec.commit_seq, f, -1)[rows, first],
        done=done_at, done_seq=np.where(np.isnan(done_at), -1, _grid(rec.done_seq, f, -1)[rows, last]),
        touch=_grid(rec.touch, f, 0.0).sum(axis=1),
        visit_item=rec.visit_item // f)


def first_value(rec: Records) -> np.ndarray:
    """Per whole item arriving after the warmup with a part done: its first part done − its arrival."""
    first = np.fmin.reduce(_grid(rec.done, rec.parts, np.nan), axis=1)
    arrival = rec.arrival[::rec.parts]
    keep = (arrival >= rec.warmup) & ~np.isnan(first)
    return first[keep] - arrival[keep]


def in_whole_items(summary: dict, records: list[Records], *, planning_interval: float | None,
                   steady_state: bool) -> dict:
    """`summary` (of a split stream's parts) with its `metrics` and `replications` in whole items,
    `metrics.time_to_first_value` added, and the parts' own under `parts`. Steps and pools are
    the parts' visits either way."""
    whole = summarize([whole_items(r) for r in records], planning_interval=planning_interval,
                      steady_state=steady_state)
    ttfv, means = pooled_entry([first_value(r) for r in records])
    reps = [{**r, "time_to_first_value": _finite(m)} for r, m in zip(whole["replications"], means, strict=True)]
    return {**summary, "metrics": {**whole["metrics"], "time_to_first_value": ttfv}, "replications": reps,
            "parts": {"factor": records[0].parts, "metrics": summary["metrics"],
                      "replications": summary["replications"]}}


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
