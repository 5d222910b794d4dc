"""The board as it is now: the items in progress a run starts from (`simulate(..., initial=state)`).

Time 0 is now; an item's `entered` (<= 0) is when it entered its column. `InitialState.from_rows`
checks rows against a stream (one-line `SpecError`s naming `initial[row].field`); the SimPy engine
places the items at time 0 (`vssim.engines.simpy.initial`, docs/model.md "Starting from today's
board"). A reader of board files (`vssim.read_state`) gives the rows in simulation time.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from vssim.errors import SpecError, show
from vssim.model.keys import CLASSES_OF_SERVICE
from vssim.model.spec import StreamSpec

BACKLOG = "backlog"
"""The column of items that have arrived but are not committed (they join the backlog in their order)."""

FIELDS = ("id", "type", "class_of_service", "column", "entered", "started", "size", "done", "arrived")


@dataclass(frozen=True, kw_only=True)
class InitialItem:
    """One item on the board now.

    `column`: a step of the stream's board, or "backlog"; `entered`: when it entered that column
    (simulation time, <= 0; its age there is 0 - entered); `started`: someone works it (its work so
    far counts: its remaining work is drawn conditioned on exceeding its age); `done`: done at that
    step, waiting to move on (a "... done" column); `type`, `class_of_service`, `size`: None for
    the stream's rule (the only type or one drawn by the shares, the type's class, its size);
    `arrived`: when it arrived (<= entered; None: at `entered`).
    """

    id: str
    type: str | None = None
    class_of_service: str | None = None
    column: str
    entered: float
    started: bool = False
    size: float | None = None
    done: bool = False
    arrived: float | None = None


@dataclass(frozen=True)
class InitialState:
    """The items in progress now, in the order given (the engine places them by `entered`)."""

    items: tuple[InitialItem, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[InitialItem]:
        return iter(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping | InitialItem], spec: StreamSpec) -> InitialState:
        """Check `rows` (mappings with the `InitialItem` fields, or items) against `spec`.

        Refused, one line naming `initial[row].field`: an unknown field, column, type or class of
        service; a column on a team's board (the engine places items on the stream's board only); a
        type that never visits its column, or none at a column only some types visit; `entered` (or
        `arrived`) not a finite number <= 0, an `arrived` after `entered`; a size not > 0; started or
        done in the backlog; started in a column nobody works (a split step); a duplicate id.
        """
        steps = spec.steps
        team_steps = {t.qualify(s) for t in spec.teams.values() for s in t.steps}
        types = list(spec.item_types)
        seen: dict[str, int] = {}
        out = []
        for r, row in enumerate(rows):
            at = f"initial[{r}]"
            if isinstance(row, InitialItem):
                row = {f: getattr(row, f) for f in FIELDS}
            if not isinstance(row, Mapping):
                raise SpecError(at, "a mapping of " + ", ".join(FIELDS), row)
            unknown = [k for k in row if k not in FIELDS]
            if unknown:
                raise SpecError(f"{at}.{unknown[0]}", message=f"unknown field (allowed: {', '.join(FIELDS)})")
            for key in ("id", "column", "entered"):
                if row.get(key) is None:
                    raise SpecError(f"{at}.{key}", message="required")
            ident = str(row["id"])
            if ident in seen:
                raise SpecError(f"{at}.id", message=f"must be unique, got {show(ident)} again (row {seen[ident]})")
            seen[ident] = r
            column = row["column"]
            if not isinstance(column, str) or (column != BACKLOG and column not in steps):
                where = " (a team's column: items are placed on the stream's board only)" if column in team_steps \
                    else ""
                raise SpecError(f"{at}.column", message=f"must be {BACKLOG} or a step of the stream "
                                                        f"({', '.join(steps)}), got {show(column)}{where}")
            kind = row.get("type")
            if kind is not None and kind not in types:
                raise SpecError(f"{at}.type", f"one of {', '.join(types)} or null", kind)
            if kind is not None and column != BACKLOG and not steps[column].visited_by(kind):
                raise SpecError(f"{at}.column", message=f"type {kind!r} never visits step {column!r}")
            if kind is None and len(types) > 1 and column != BACKLOG and steps[column].types is not None:
                raise SpecError(f"{at}.type", message=f"required at step {column!r}: only some item types visit it "
                                                      f"({', '.join(steps[column].types)})")
            cos = row.get("class_of_service")
            if cos is not None and cos not in CLASSES_OF_SERVICE:
                raise SpecError(f"{at}.class_of_service", f"one of {', '.join(CLASSES_OF_SERVICE)} or null", cos)
            entered = _time(row["entered"], f"{at}.entered")
            arrived = row.get("arrived")
            if arrived is not None:
                arrived = _time(arrived, f"{at}.arrived")
                if arrived > entered:
                    raise SpecError(f"{at}.arrived", message=f"must be <= entered ({entered:g}), got {arrived:g}")
            size = row.get("size")
            if size is not None:
                if isinstance(size, bool) or not isinstance(size, (int, float)) or not (0 < size < math.inf):
                    raise SpecError(f"{at}.size", "a number > 0 or null", size)
                size = float(size)
            started, done = _flag(row.get("started", False), f"{at}.started"), _flag(row.get("done", False),
                                                                                     f"{at}.done")
            if column == BACKLOG and (started or done):
                which = "started" if started else "done"
                raise SpecError(f"{at}.{which}", message=f"must be false in the {BACKLOG} (nobody works it there)")
            if started and not done and steps[column].split is not None:
                raise SpecError(f"{at}.started", message=f"must be false at step {column!r}: nobody works it "
                                                         "(a split step; its teams do the work)")
            out.append(InitialItem(id=ident, type=kind, class_of_service=cos, column=column, entered=entered,
                                   started=started, size=size, done=done, arrived=arrived))
        return cls(tuple(out))


def _time(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (-math.inf < value <= 0):
        raise SpecError(path, "a finite number <= 0 (simulation time; now is 0)", value)
    return float(value)


def _flag(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(path, "true or false", value)
    return value
