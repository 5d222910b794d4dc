"""Teams as a stream file writes them: references to other stream files, the graph of boards
that splits and team dependencies make, and the rule that turns a count's draw into children.

Why apart from spec.py: these are facts about names and files, not about one board's keys. The
reference expansion is shared by `StreamSpec.from_dict` (files next to the stream file) and the
command line (the stream folder Hydra composes from), so that a team written in its own file is,
once composed, a team written inline: `stream.teams.web.pools.devs=5` overrides it as any key,
and a run's recorded config holds the whole team (docs/model.md, "Teams, splits and levels").
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vssim.errors import SpecError, show
from vssim.model.keys import MAX_TEAMS
from vssim.model.userfiles import check_name, check_stream_shape, load_yaml

TEAM_KEYS = ("pools", "steps", "release", "teams")
"""What a team takes from a referenced stream file; its other keys describe the file as a stream alone."""
IGNORED_KEYS = ("schema_version", "name", "description", "arrivals", "item_types", "level", "parts")
"""The keys of a referenced file a team ignores: they make the file a stream that can also run alone."""
DEPENDENCY_LEVEL = "dependency"
"""The level of a team dependency's child, at whatever depth it is made (never a split's `into`)."""
SEP = "/"
"""Joins a team's qualified name and what is inside it: `art1/web`, `web/devs`."""


def qualify(team: str, name: str) -> str:
    """`name` inside `team` as results show it (`web/devs`); the stream's own names stay bare."""
    return f"{team}{SEP}{name}" if team else name


def child_counts(draws: np.ndarray) -> np.ndarray:
    """The children a split makes from draws of its count: rounded half up, ⌊x + ½⌋, as int64
    (draws are ≥ 0: a count's distribution has support ≥ 0). The one place the rule is written."""
    return np.floor(np.asarray(draws, dtype=np.float64) + 0.5).astype(np.int64)


# --------------------------------------------------------------------------- references
Loader = Callable[[str, str], Mapping]
"""`load(name, where)`: the stream mapping of file NAME next to the stream, or a SpecError on `where`."""


def files_in(folder: str | Path | None) -> Loader:
    """A loader of `NAME.yaml` files in `folder` (None: the current directory), read within the
    bounds of vssim.model.userfiles; a missing file is refused with the names the folder offers."""
    base = Path.cwd() if folder is None else Path(folder)

    def load(name: str, where: str) -> Mapping:
        path = base / f"{name}.yaml"
        if not path.is_file():
            offered = sorted(p.stem for p in base.glob("*.yaml")) if base.is_dir() else []
            raise SpecError(where, message=f"must name a stream file in {base} ({', '.join(offered) or 'none'}), "
                                           f"got {show(name)} (no {path.name} there)")
        doc = load_yaml(path, field=where)
        check_stream_shape(doc)
        if not isinstance(doc.data, Mapping):
            raise SpecError(where, message=f"must name a stream file, got {show(name)} ({path} is not a mapping)")
        return doc.data
    return load


def expand(stream: Mapping, load: Loader) -> dict:
    """`stream` with every team reference `{stream: NAME, KEYS...}` replaced by the team it names:
    the file's pools, steps, release and teams, with KEYS merged over them (mappings key by key,
    anything else replaced). Teams inside a referenced file are expanded from the same folder.
    Refused: a name that is not a name, a file that names itself (through others too), a file
    of another time unit, more than MAX_TEAMS teams in all."""
    out = dict(stream)
    if isinstance(stream.get("teams"), Mapping):
        out["teams"] = _expand_teams(stream["teams"], "teams", load, stream.get("time_unit", "day"), (), [0])
    return out


def _expand_teams(teams: Mapping, path: str, load: Loader, time_unit: Any, chain: tuple[str, ...],
                  count: list[int]) -> dict:
    out = {}
    for name, team in teams.items():
        where = f"{path}.{name}"
        count[0] += 1
        if count[0] > MAX_TEAMS:
            raise SpecError("teams", message=f"must hold at most {MAX_TEAMS} teams in all (each use of a "
                                             f"{{stream: NAME}} reference counted), got more at {where}")
        out[name] = _expand_team(team, where, load, time_unit, chain, count) if isinstance(team, Mapping) else team
    return out


def _expand_team(team: Mapping, where: str, load: Loader, time_unit: Any, chain: tuple[str, ...],
                 count: list[int]) -> dict:
    own = {k: v for k, v in team.items() if k != "stream"}
    name = team.get("stream")
    if name is None:
        base: dict = {}
    else:
        name = check_name(name, f"{where}.stream")
        if name in chain:
            loop = " -> ".join((*chain[chain.index(name):], name))
            raise SpecError(f"{where}.stream", message=f"must not name a file that names it back, got "
                                                       f"{show(name)} ({loop})")
        file = load(name, f"{where}.stream")
        unit = file.get("time_unit", "day")
        if unit != time_unit:
            raise SpecError(f"{where}.stream", message=f"must name a stream file in the stream's time unit "
                                                       f"({show(time_unit)}), got {show(name)} in {show(unit)}")
        base = {k: file[k] for k in TEAM_KEYS if k in file}
        if isinstance(base.get("teams"), Mapping):
            base["teams"] = _expand_teams(base["teams"], f"{where}.teams", load, time_unit, (*chain, name), count)
        chain = (*chain, name)
    if isinstance(own.get("teams"), Mapping):
        own["teams"] = _expand_teams(own["teams"], f"{where}.teams", load, time_unit, chain, count)
    return merge(base, own)


def merge(base: Mapping, over: Mapping) -> dict:
    """`over` merged into `base`: a mapping in both is merged key by key (in `base`'s order, new keys
    after), any other value of `over` replaces `base`'s."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        out[key] = merge(old, value) if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    return out


# --------------------------------------------------------------------------- the graph of boards
@dataclass(frozen=True)
class Edge:
    """A board's step that sends children to `team`: a split (into its level) or a team dependency."""

    board: str          # the qualified team whose step it is ("" for the stream's own board)
    step: str
    team: str           # qualified
    level: str          # the split's `into`, or DEPENDENCY_LEVEL
    where: str          # the path of the team's name in the stream file, for errors
    level_where: str = ""   # the path of the split's `into`


class Scope:
    """Lexical lookup of team names: a board sees its own teams, then those of the boards around it,
    up to the stream's (`teams.art1.teams.web` is `art1/web`, seen from art1 and its teams as `web`)."""

    def __init__(self) -> None:
        self.children: dict[str, dict[str, str]] = {"": {}}     # board -> local name -> qualified name

    def declare(self, board: str, name: str) -> str:
        qualified = qualify(board, name)
        self.children[board][name] = qualified
        self.children[qualified] = {}
        return qualified

    def visible(self, board: str) -> Iterator[tuple[str, str]]:
        """(local name, qualified name) as `board` sees them, nearest first."""
        seen: set[str] = set()
        for scope in _enclosing(board):
            for name, qualified in self.children[scope].items():
                if name not in seen:
                    seen.add(name)
                    yield name, qualified

    def lookup(self, board: str, name: Any, where: str, what: str = "unknown team") -> str:
        """The qualified team `name` means on `board`, or a SpecError on `where` naming the choices."""
        for local, qualified in self.visible(board):
            if local == name:
                return qualified
        offered = ", ".join(n for n, _ in self.visible(board)) or "none: declare them under teams"
        raise SpecError(where, message=f"{what} {show(name)}; allowed: {offered}")


def _enclosing(board: str) -> Iterator[str]:
    while board:
        yield board
        board = board.rpartition(SEP)[0]
    yield ""


def check_graph(edges: list[Edge], top_level: str) -> dict[str, set[int]]:
    """Refuse a cycle (a team whose work, directly or through other teams, sends children back to
    it: a parent could never finish) and a level name at two depths; the depths at which each
    reachable board works (the stream's board at depth 0)."""
    out: dict[str, list[Edge]] = {}
    for e in edges:
        out.setdefault(e.board, []).append(e)
    _refuse_cycles(out)
    depths: dict[str, set[int]] = {"": {0}}
    levels: dict[str, tuple[int, str]] = {top_level: (0, "`level` (the stream's items)")}
    stack = [("", 0)]
    while stack:
        board, depth = stack.pop()
        for e in out.get(board, ()):
            if e.level != DEPENDENCY_LEVEL:
                first = levels.setdefault(e.level, (depth + 1, e.level_where))
                if first[0] != depth + 1:
                    raise SpecError(e.level_where, message=(
                        f"must not be {show(e.level)} here: it would be the level of children at depth "
                        f"{depth + 1}, and {first[1]} makes it the level at depth {first[0]} (a level name "
                        "belongs to one depth; the stream's items are at depth 0, and a team reached at several "
                        "depths must not split)"))
            if depth + 1 not in depths.setdefault(e.team, set()):
                depths[e.team].add(depth + 1)
                stack.append((e.team, depth + 1))
    return depths


def _refuse_cycles(out: dict[str, list[Edge]]) -> None:
    state: dict[str, int] = {}          # 1: on the path being walked, 2: done

    def walk(board: str, path: list[Edge]) -> None:
        state[board] = 1
        for e in out.get(board, ()):
            if state.get(e.team) == 1:
                start = next((i for i, p in enumerate(path) if p.board == e.team), len(path))
                loop = " -> ".join([*(p.board for p in path[start:]), e.board, e.team])
                raise SpecError(e.where, message=f"must not send work back to a team it comes from ({loop}): "
                                                 "a parent would wait for itself")
            if state.get(e.team) is None:
                walk(e.team, [*path, e])
        state[board] = 2

    for board in list(out):
        if state.get(board) is None:
            walk(board, [])
