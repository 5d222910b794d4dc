"""Scenarios: a change to a stream, as value patches plus structural transforms (docs/scenarios.md).

    from vssim.scenarios.scenario import load_scenario, compose
    s = compose([load_scenario("configs/scenario/limit_wip.yaml"),
                 load_scenario("configs/scenario/smaller_batches.yaml")])
    spec = s.apply(vssim.load_stream("configs/stream/dvs_basic.yaml"))

A scenario file (config group `scenario/`) is ``# @package scenario.NAME`` followed by
``description``, ``accelerator``, ``patch`` and ``transforms``; see docs/scenarios.md.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vssim.errors import SpecError
from vssim.model.spec import StreamSpec
from vssim.model.teams import qualify
from vssim.model.transition import Transition
from vssim.model.userfiles import check_name, load_yaml
from vssim.scenarios.transforms import DEFAULT_CONTEXT, Context, _plain, apply_transform, check_op, deep_merge

__all__ = ["ACCELERATORS", "BASELINE", "KINDS", "Context", "Scenario", "compose", "load_scenario"]

ACCELERATORS: dict[str, str] = {
    "visualize_and_limit_wip": "Visualize and limit WIP",
    "address_bottlenecks": "Address bottlenecks",
    "minimize_handoffs_and_dependencies": "Minimize handoffs and dependencies",
    "get_faster_feedback": "Get faster feedback",
    "work_in_smaller_batches": "Work in smaller batches",
    "reduce_queue_length": "Reduce queue length",
    "optimize_time_in_the_zone": "Optimize time 'in the zone'",
    "remediate_legacy_policies": "Remediate legacy policies and practices",
}
"""The eight SAFe flow accelerators: key -> title."""

KINDS: tuple[str, ...] = (*ACCELERATORS, "pull", "kaikaku")
"""Allowed values of `Scenario.accelerator` (besides None)."""

_KEYS = ("description", "accelerator", "patch", "transforms", "transition")


@dataclass(frozen=True)
class Scenario:
    """A named change to a stream: `patch` deep-merged into it, then `transforms` in order."""

    name: str
    description: str = ""
    accelerator: str | None = None
    patch: dict = field(default_factory=dict)
    transforms: tuple[dict, ...] = ()
    transition: Transition | None = None

    @classmethod
    def from_dict(cls, d: Mapping | None, name: str) -> Scenario:
        """Validate a scenario mapping (keys, accelerator, every op and its arguments; no stream needed)."""
        path = f"scenario.{check_name(name, 'scenario')}"
        if d is None:
            d = {}
        if not isinstance(d, Mapping):
            raise SpecError(path, "a mapping with keys " + ", ".join(_KEYS), d)
        for key in d:
            if key not in _KEYS:
                raise SpecError(f"{path}.{key}", message="unknown key; allowed: " + ", ".join(_KEYS))
        description = d.get("description") or ""
        if not isinstance(description, str):
            raise SpecError(f"{path}.description", "a string", description)
        accelerator = d.get("accelerator")
        if accelerator is not None and accelerator not in KINDS:
            raise SpecError(f"{path}.accelerator", "null or one of " + ", ".join(KINDS), accelerator)
        patch = d.get("patch") or {}
        if not isinstance(patch, Mapping):
            raise SpecError(f"{path}.patch", "a mapping merged into the stream", patch)
        transforms = d.get("transforms") or ()
        if isinstance(transforms, str | bytes | Mapping) or not isinstance(transforms, Sequence):
            raise SpecError(f"{path}.transforms", "a list of {op: NAME, ...} mappings", transforms)
        ops = []
        for i, op in enumerate(transforms):
            check_op(op, f"{path}.transforms[{i}]")
            ops.append(_plain(op))
        transition = d.get("transition")
        if transition is not None:
            transition = Transition.from_dict(transition, f"{path}.transition")
        return cls(name, description, accelerator, _plain(patch), tuple(ops), transition)

    def to_dict(self) -> dict:
        """The scenario as the mapping of its file (without the name)."""
        out = {"description": self.description, "accelerator": self.accelerator, "patch": _plain(self.patch),
               "transforms": [_plain(op) for op in self.transforms]}
        if self.transition is not None:
            out["transition"] = self.transition.to_dict()
        return out

    @property
    def is_identity(self) -> bool:
        return not self.patch and not self.transforms and self.transition is None

    def moves(self, stream: StreamSpec | Mapping, *,
              context: Context = DEFAULT_CONTEXT) -> dict[str, str | list[str]]:
        """Where a transition sends the items of steps this scenario's transforms replace: each
        `merge_steps` member to its merged step (the first, when item types get one each); each step
        `split_by_type` copied to its copies `STEP_STREAM` (a list: an item goes to the one its type
        visits); by qualified name; steps the new stream keeps by name need no entry
        (`vssim.model.transition`)."""
        after = self.apply(stream, context=context)
        names = [qualify(b, s) for b in ("", *after.teams) for s in after.board(b)[0]]
        out: dict[str, str] = {}
        for op in self.transforms:
            if op.get("op") == "split_by_type":     # each step copied per stream: STEP_STREAM, by item type
                streams = list(op["streams"])
                before = stream.step_names if isinstance(stream, StreamSpec) else list(stream.get("steps") or {})
                for s in before:
                    copies = [f"{s}_{x}" for x in streams if f"{s}_{x}" in names]
                    if copies and s not in names:
                        out[s] = copies
                continue
            if op.get("op") != "merge_steps":
                continue
            members = list(op["steps"])
            board, _, _ = members[0].rpartition("/")
            local = [m.rpartition("/")[2] for m in members]
            merged = qualify(board, op.get("name") or "_".join(local))
            target = next((n for n in names if n == merged or n.startswith(merged + "_")), None)
            if target is not None:
                out.update({m: target for m in members if m not in names})
        return out

    def apply_dict(self, stream: StreamSpec | Mapping, *, context: Context = DEFAULT_CONTEXT) -> dict:
        """The changed stream as a plain dict, not validated (for inspection and chaining)."""
        d = stream.to_dict() if isinstance(stream, StreamSpec) else _plain(stream)
        name = d.get("name")
        d = deep_merge(d, self.patch)
        for i, op in enumerate(self.transforms):
            d = apply_transform(d, op, context=context, path=f"scenario.{self.name}.transforms[{i}]")
        if name is not None:
            d["name"] = name
        return d

    def apply(self, stream: StreamSpec | Mapping, *, context: Context = DEFAULT_CONTEXT) -> StreamSpec:
        """The validated stream after this scenario; its name is the stream's own."""
        d = self.apply_dict(stream, context=context)
        try:
            return StreamSpec.from_dict(d)
        except SpecError as e:
            raise SpecError(f"scenario {self.name}", message=str(e)) from e


BASELINE = Scenario("baseline", "The stream as it is today.")


def compose(scenarios: Sequence[Scenario]) -> Scenario:
    """One scenario that applies the given ones in order (``a+b``); baseline is the identity.

    Patches are deep-merged in order and transforms concatenated. A patch that comes after an
    earlier scenario's transforms becomes a ``patch`` transform in the chain, so the composition
    always equals applying the scenarios one after another.
    """
    parts = [s for s in scenarios if not (s.name == BASELINE.name and s.is_identity)]
    if not parts:
        return BASELINE
    if len(parts) == 1:
        return parts[0]
    patch: dict[str, Any] = {}
    transforms: list[dict] = []
    for s in parts:
        if s.patch:
            if transforms:
                transforms.append({"op": "patch", "values": _plain(s.patch)})
            else:
                patch = deep_merge(patch, s.patch)
        transforms.extend(_plain(op) for op in s.transforms)
    transitions = [s for s in parts if s.transition is not None]
    if len(transitions) > 1:
        raise SpecError("scenario", message="at most one of the composed scenarios may have a transition, got "
                                            + ", ".join(s.name for s in transitions))
    kinds = {s.accelerator for s in parts}
    accelerator = kinds.pop() if len(kinds) == 1 else None
    description = "; ".join(s.description for s in parts if s.description)
    return Scenario("+".join(s.name for s in parts), description, accelerator, patch, tuple(transforms),
                    transitions[0].transition if transitions else None)


_PACKAGE = re.compile(r"^#\s*@package\s+(\S+)\s*$")


def package_error(path: Path, package: str | None) -> SpecError | None:
    """Why a scenario file's `# @package` line is wrong (it must name the file itself, or a copy
    of a scenario file would replace the original on the command line), else None."""
    if package == f"scenario.{path.stem}":
        return None
    got = "no '# @package' line" if package is None else f"'# @package {package}'"
    return SpecError(str(path), message=f"must start with '# @package scenario.{path.stem}' (the file's own "
                                        f"name), got {got}")


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario YAML file (within `vssim.model.userfiles`' bounds); its name is the file's
    stem (``limit_wip.yaml`` -> limit_wip)."""
    path = Path(path)
    file = load_yaml(path, field="scenario")
    for line in file.text.splitlines():
        m = _PACKAGE.match(line.strip())
        if m and (error := package_error(path, m.group(1))):
            raise error
    return Scenario.from_dict(file.data, path.stem)
