"""The boards of a stream mapping as transforms see them: the stream's own and every team's, and
the qualified names (`web/build`, `art1/web/devs`) that address what is inside a team.

Why apart from the transforms: every transform that takes a step or pool name, and every dotted
path, resolves names one way, the way results show them (docs/model.md, "Teams, splits and
levels"; docs/scenarios.md, "Streams with teams"). A transform sees the teams expanded
(`StreamSpec.to_dict()`); a team still written `{stream: NAME}` has no board here.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

from vssim.errors import SpecError
from vssim.model.teams import SEP, qualify

__all__ = ["Member", "board", "boards", "locate", "members", "teams"]

Member = tuple[dict, str, str]
"""(the mapping that holds it, its name there, its qualified name): a step, pool or team."""


def boards(stream: Mapping) -> Iterator[tuple[str, dict]]:
    """("", the stream) and (qualified name, mapping) of every team with a board, depth first in the
    order written (the order of `StreamSpec.teams`)."""
    yield "", stream  # type: ignore[misc]
    for _container, _local, name in teams(stream):
        team = board(stream, name)
        if isinstance(team.get("steps"), dict):
            yield name, team


def teams(stream: Mapping, prefix: str = "") -> Iterator[Member]:
    """Every team of the hierarchy (a mapping), depth first: each before its own teams."""
    declared = stream.get("teams")
    if not isinstance(declared, dict):
        return
    for local, team in declared.items():
        if isinstance(team, dict):
            name = qualify(prefix, local)
            yield declared, local, name
            yield from teams(team, name)


def board(stream: Mapping, name: str) -> dict:
    """The mapping of board `name` ("" the stream's, else a qualified team name that exists)."""
    node = stream
    for part in name.split(SEP) if name else ():
        node = node["teams"][part]
    return node  # type: ignore[return-value]


def members(stream: Mapping, kind: str) -> list[Member]:
    """Every step (kind "steps") or pool ("pools") of every board, or every team ("teams")."""
    if kind == "teams":
        return list(teams(stream))
    out = []
    for name, b in boards(stream):
        held = b.get(kind)
        if isinstance(held, dict):
            out += [(held, local, qualify(name, local)) for local in held]
    return out


def locate(stream: Mapping, name: str, kind: str, path: str) -> tuple[str, str]:
    """(board, local name) of the step or pool `name` (qualified: `web/build`); a SpecError on `path`
    naming the choices otherwise."""
    for _held, local, qualified in members(stream, kind):
        if qualified == name:
            return qualified[: -len(local) - 1] if qualified != local else "", local
    what = "step" if kind == "steps" else "pool"
    offered = ", ".join(q for _h, _l, q in members(stream, kind)) or "none"
    raise SpecError(path, f"one of the {what}s {offered}", name)
