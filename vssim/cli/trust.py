"""What a user's config folder (`vssim -cd DIR`) may contain, checked before Hydra reads a file
of it (docs/cli.md, "Security: what a stream file can and cannot do").

The trust model: vssim's own configs and installed Hydra plugins are trusted, and so is the
command line (what you type runs). The files of a `-cd` folder are data, maybe someone else's:
they may describe streams, scenarios and experiments, never make Hydra run code (`_target_`,
`hydra.callbacks`, a logging or plugin config), read the environment (`${oc.env:...}`), write
outside `outputs/` (a stream name is an identifier) or hang the command (an alias bomb). Hydra
expands a file fully as it composes, so these checks run on every file of the folder first.
"""
from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override
from hydra.plugins.config_source import ConfigSource
from omegaconf import grammar_parser
from omegaconf.grammar.gen.OmegaConfGrammarParser import OmegaConfGrammarParser

from vssim.errors import SpecError
from vssim.model.userfiles import NAME_ALLOWED, YamlFile, check_name, check_stream_shape, load_yaml
from vssim.scenarios.scenario import package_error

GROUPS = ("stream", "scenario", "experiment")
"""The config groups a `-cd` folder provides (DIR/GROUP/NAME.yaml); other folders are not read
unless the command line names them."""
VSSIM_KEYS = ("stream", "scenario", "sim", "compare", "report", "objective")
"""What an experiment preset may set besides `defaults` and the `hydra` keys below."""
HYDRA_KEYS: Mapping[str, tuple[str, ...] | None] = {
    "mode": None,
    "sweeper": ("params", "n_trials", "direction", "sampler", "study_name", "n_jobs"),
    "launcher": ("n_jobs",),
}
"""The Hydra settings a researcher's sweep needs (the project's presets use these)."""
DEFAULTS_GROUPS = ("stream", "scenario", "hydra/sweeper", "hydra/sweeper/sampler", "hydra/launcher")
"""The groups an experiment's `defaults` may choose from: the options are the project's, the
folder's own streams and scenarios, and installed plugins' (a folder has no hydra/ configs)."""
ENVIRONMENT = ("oc.env", "oc.decode")
"""Resolvers that read the environment (oc.decode can evaluate one given as text)."""
REFUSED_FLAGS = {"config_path": "--config-path", "config_name": "--config-name",
                 "experimental_rerun": "--experimental-rerun"}
"""Flags that would replace vssim's own config.yaml, or unpickle a file."""
_OPTION = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
MAX_FILES = 10_000
"""A `-cd` folder holds at most this many YAML files in its groups (the walk is bounded)."""


def preflight(argv: list[str]) -> None:
    """Check a `vssim` command line before Hydra composes it: the refused flags, the overrides'
    stream names and environment reads, and every file of the `-cd` folder. A refusal is a
    SpecError (one line); a command line Hydra itself cannot parse is left to Hydra."""
    args = _arguments(argv)
    if args is None:
        return
    for attr, flag in REFUSED_FLAGS.items():
        if getattr(args, attr) is not None:
            raise SpecError(flag, message="not available in vssim: it composes its own configs/config.yaml; "
                                          "your streams, scenarios and experiments go into DIR/stream, "
                                          "DIR/scenario, DIR/experiment, found with -cd DIR")
    check_overrides(args.overrides)
    if args.config_dir is not None and Path(args.config_dir).is_dir():
        check_config_dir(Path(args.config_dir))


def _arguments(argv: list[str]) -> argparse.Namespace | None:
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def unparsable(message: str) -> None:
        raise _Unparsable(message)

    parser.error = unparsable              # type: ignore[method-assign]  # Hydra prints its own error
    try:
        return parser.parse_args(argv)
    except _Unparsable:
        return None


class _Unparsable(Exception):
    pass


# --------------------------------------------------------------------------- the command line
def check_overrides(overrides: list[str]) -> None:
    """`stream.name=...` must be a name (it names the run directory, made before vssim runs);
    no vssim setting may read the environment; `hydra.searchpath` would add a folder unchecked."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:              # noqa: BLE001  # Hydra reports the same override in its own words
        return
    for override in parsed:
        key = override.key_or_group
        if key == "hydra.searchpath":
            raise SpecError(key, message="not available in vssim: add your config folder with -cd DIR")
        if override.is_hydra_override() or override.is_delete():
            continue
        for value in _values(override):
            if key == "stream.name":
                check_name(value, key)
            if isinstance(value, str):
                _refuse_environment(value, key)


def _values(override: Override) -> Iterator[Any]:
    """Every scalar an override may set (each choice of a sweep, each element of a list or dict)."""
    value = override.value()
    stack = [Override._convert_value(v) for v in value.list] if isinstance(value, ChoiceSweep) else [value]
    while stack:
        v = stack.pop()
        if isinstance(v, Mapping):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        else:
            yield v


def _resolvers(text: str) -> list[str] | None:
    """The resolvers an OmegaConf string calls (`${oc.env:HOME}` -> ['oc.env']), None if it is
    not a valid interpolation."""
    if "${" not in text:
        return []
    try:
        tree = grammar_parser.parse(text)
    except Exception:             # noqa: BLE001  # GrammarParseError, or the parser's own errors
        return None
    names, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, OmegaConfGrammarParser.InterpolationResolverContext):
            names.append(node.resolverName().getText())
        stack.extend(node.getChildren() if hasattr(node, "getChildren") else ())
    return names


def _refuse_environment(text: str, key: str) -> None:
    names = _resolvers(text) or []
    reads = [n for n in names if n in ENVIRONMENT or "${" in n]     # "${${x}:...}": a resolver named at run time
    if reads:
        raise SpecError(key, message=f"must not read the environment (${{{reads[0]}:...}}); write the value "
                                     "itself (the shell expands $VAR)")


# --------------------------------------------------------------------------- the -cd folder
def check_config_dir(root: Path) -> None:
    """Every YAML file of DIR/stream, DIR/scenario and DIR/experiment (subfolders too), and no
    Hydra config in DIR/hydra."""
    hydra_files = _yaml_files(root / "hydra")
    if hydra_files:
        raise SpecError(str(hydra_files[0]), message="a -cd folder may not hold Hydra configs (hydra/...): "
                                                     "launchers, sweepers and callbacks come from vssim and "
                                                     "its installed plugins")
    for group in GROUPS:
        for file in _yaml_files(root / group):
            check_file(file, group, file.relative_to(root / group).with_suffix("").as_posix())


def _yaml_files(folder: Path) -> list[Path]:
    """The .yaml files under `folder`, following links as Hydra does, each real folder once."""
    found: list[Path] = []
    seen: set[str] = set()
    for here, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        dirs.sort()
        found.extend(Path(here) / f for f in sorted(files) if f.endswith(".yaml"))
        if len(found) > MAX_FILES:
            raise SpecError(str(folder), message=f"more than {MAX_FILES} YAML files")
    return found


def check_file(path: Path, group: str, option: str) -> None:
    """One file of the folder: readable within the bounds of vssim.model.userfiles, a package
    line that fits its group, no `_target_`, no resolver, and the keys its group may set."""
    doc = load_yaml(path)
    try:
        package = ConfigSource._get_header_dict(doc.text)["package"]
    except ValueError as e:
        raise SpecError(str(path), message=f"line 1: not a valid '# @package' line: {e}") from None
    if doc.data is None:
        return
    if not isinstance(doc.data, dict):
        raise doc.error(doc.root, "must be a mapping of keys to values")
    if group == "scenario" and (error := package_error(path, package)):
        raise error
    if group == "stream" and package not in (None, "stream"):
        raise doc.error(None, f"must not have a '# @package {package}' line: a stream file is the stream "
                              "itself (package stream)")
    _check_values(doc, doc.root)
    if group == "experiment":
        _check_experiment(doc, package)
        return
    if "defaults" in doc.data:
        raise doc.error(doc.node("defaults"), f"defaults: not allowed in a {group} file")
    if group == "stream":
        _check_stream(doc, (), option)


def _check_values(doc: YamlFile, root: yaml.Node) -> None:
    """No `_target_` key (Hydra would call it) and no resolver call anywhere in the file."""
    done: set[int] = set()
    stack = [(root, ())]
    while stack:
        node, keys = stack.pop()
        if id(node) in done:
            continue
        done.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                name = k.value if isinstance(k, yaml.ScalarNode) else "?"
                if name == "_target_":
                    raise doc.error(k, f"{_dotted(keys, name)}: not allowed in a -cd file (Hydra would call "
                                       "the function it names)")
                stack.append((v, (*keys, name)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((v, (*keys, f"[{i}]")) for i, v in enumerate(node.value))
        elif isinstance(node.value, str):
            names = _resolvers(node.value)
            if names is None:
                raise doc.error(node, f"{_dotted(keys)}: not a valid interpolation (write \\${{ for a literal ${{)")
            if names:
                raise doc.error(node, f"{_dotted(keys)}: calls the resolver {names[0]!r}: a -cd file may refer to "
                                      "other values (${stream.pools.devs}) but call no resolver (${oc.env:...}, "
                                      "${oc.decode:...}, ...)")


def _dotted(keys: tuple[str, ...], last: str | None = None) -> str:
    parts = [*keys, last] if last is not None else list(keys)
    return ".".join(parts).replace(".[", "[") or "the value"


def _check_stream(doc: YamlFile, keys: tuple[str, ...], option: str | None) -> None:
    """A stream mapping (a stream file, or an experiment's `stream:` patch): its shape, a literal
    name (it names the run directory; a file without one is named after `option`), a string
    description."""
    check_stream_shape(doc, keys)
    stream = doc.data
    for key in keys:
        stream = stream.get(key) if isinstance(stream, dict) else None
    if stream is None:
        return
    where = ".".join(keys) + "." if keys else ""
    if "name" in stream:
        try:
            check_name(stream["name"], f"{where}name")
        except SpecError as e:
            raise doc.error(doc.node(*keys, "name"), str(e)) from None
    elif option is not None:
        try:
            check_name(option, "name")
        except SpecError:
            raise doc.error(None, f"name: missing, and the file's name {option!r} cannot stand in for it: a "
                                  f"stream name is {NAME_ALLOWED}") from None
    if not isinstance(stream.get("description", ""), str | None):
        raise doc.error(doc.node(*keys, "description"), f"{where}description: must be a string")


def _check_experiment(doc: YamlFile, package: str | None) -> None:
    """An experiment preset is `_global_`: vssim's own keys, the sweep settings of HYDRA_KEYS and
    defaults that choose options of DEFAULTS_GROUPS."""
    if package != "_global_":
        got = "no '# @package' line" if package is None else f"'# @package {package}'"
        raise doc.error(None, f"must start with '# @package _global_' (an experiment preset sets top-level "
                              f"keys), got {got}")
    allowed = ("defaults", *VSSIM_KEYS, "hydra")
    for key in doc.data:
        if key not in allowed:
            raise doc.error(doc.node(key), f"{key}: not allowed in an experiment; allowed: {', '.join(allowed)}")
    _check_stream(doc, ("stream",), None)
    _check_hydra(doc)
    defaults = doc.data.get("defaults") or []
    if not isinstance(defaults, list):
        raise doc.error(doc.node("defaults"), "defaults: must be a list")
    for i, entry in enumerate(defaults):
        _check_default(doc, i, entry)


def _check_hydra(doc: YamlFile) -> None:
    hydra = doc.data.get("hydra")
    if hydra is None:
        return
    if not isinstance(hydra, dict):
        raise doc.error(doc.node("hydra"), "hydra: must be a mapping")
    for key, value in hydra.items():
        if key not in HYDRA_KEYS:
            raise doc.error(doc.node("hydra", key), f"hydra.{key}: not allowed in a -cd file; allowed: "
                                                    + ", ".join(f"hydra.{k}" for k in HYDRA_KEYS))
        subkeys = HYDRA_KEYS[key]
        if subkeys is None:
            continue
        if not isinstance(value, dict):
            raise doc.error(doc.node("hydra", key), f"hydra.{key}: must be a mapping")
        for sub in value:
            if sub not in subkeys:
                allowed = ", ".join(f"hydra.{key}.{s}" for s in subkeys)
                raise doc.error(doc.node("hydra", key, sub), f"hydra.{key}.{sub}: not allowed in a -cd file; "
                                                            f"allowed: {allowed}")
    params = (hydra.get("sweeper") or {}).get("params") or {}
    if not isinstance(params, dict):
        raise doc.error(doc.node("hydra", "sweeper", "params"), "hydra.sweeper.params: must be a mapping")
    for key in params:
        name = str(key).lstrip("+~")
        if "@" in name or re.split(r"[./]", name)[0] not in VSSIM_KEYS:
            raise doc.error(doc.node("hydra", "sweeper", "params", key),
                            f"hydra.sweeper.params.{key}: a sweep may vary only " + ", ".join(VSSIM_KEYS))


def _check_default(doc: YamlFile, i: int, entry: Any) -> None:
    where = doc.node("defaults")
    node = where.value[i] if isinstance(where, yaml.SequenceNode) else None
    if entry == "_self_":
        return
    if not (isinstance(entry, dict) and len(entry) == 1):
        raise doc.error(node, f"defaults[{i}]: must be _self_ or 'override /GROUP: OPTION', GROUP one of "
                              + ", ".join(DEFAULTS_GROUPS))
    (key, option), = entry.items()
    words = str(key).split()
    group = words[-1] if words and set(words[:-1]) <= {"override", "optional"} else ""
    group = group[1:] if group.startswith("/") else f"experiment/{group}"
    if "@" in group or group not in DEFAULTS_GROUPS:
        raise doc.error(node, f"defaults[{i}]: {key!r} is not a group an experiment may choose from: "
                              + ", ".join("/" + g for g in DEFAULTS_GROUPS))
    options = option if isinstance(option, list) else [] if option is None else [option]
    for o in options:
        if not isinstance(o, str) or not _OPTION.fullmatch(o) or ".." in o.split("/"):
            raise doc.error(node, f"defaults[{i}]: {o!r} is not an option name (NAME or FOLDER/NAME)")

