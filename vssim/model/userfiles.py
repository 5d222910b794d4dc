"""Reading the files a user hands vssim, with bounds: a stream, scenario or experiment YAML file,
and the data files a stream's ``file:`` keys name (trace arrivals, empirical distributions); and
the two values of such a file that could reach beyond the model: a name (it names a directory)
and a free-form description.

Why bounds: such a file may come from someone else. A YAML alias bomb (a few lines that expand
to billions of values) or ``/dev/zero`` must end in a one-line refusal, not in a hang or a
MemoryError, and a refusal must not quote the content of whatever file a path points to.
The limits are documented in docs/model.md and docs/cli.md.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vssim.errors import SpecError, show
from vssim.model.keys import SCALE, TIME

MAX_DATA_BYTES = 64 * 2**20
"""A ``file:`` input (trace CSV, empirical values) is a regular file of at most 64 MiB."""
MAX_YAML_BYTES = 4 * 2**20
"""A stream, scenario or experiment file is a regular file of at most 4 MiB."""
MAX_YAML_NODES = 100_000
"""...that expands to at most 100 000 values, lists and mappings, counted after aliases
(``*name``) are expanded: a long trace belongs in a CSV ``file:``."""
MAX_YAML_DEPTH = 50
"""...nested at most 50 levels deep."""


NAME_ALLOWED = ("a name of 1 to 64 letters A-Z a-z, digits, '_', '-' and '.', starting with a letter, a digit "
                "or '_', without '..'")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def check_name(value: Any, field: str) -> str:
    """A stream's (or scenario's) name: an identifier, because it names the run's directory
    (outputs/NAME/...) and a path separator or '..' would put the run somewhere else."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise SpecError(field, NAME_ALLOWED, value)
    return value


def check_text(value: Any, field: str) -> str:
    """A free-form description: a string (or null), never a structure a file could inflate."""
    if value is None:
        return ""
    if isinstance(value, Mapping | list | tuple):
        raise SpecError(field, message=f"must be a string, got a {'mapping' if isinstance(value, Mapping) else 'list'}")
    if not isinstance(value, str):
        raise SpecError(field, message=f"must be a string, got {show(value)}")
    return value


# --------------------------------------------------------------------------- file: inputs
def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def read_text(file: str | os.PathLike, field: str, allowed: str, *, limit: int = MAX_DATA_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; else a SpecError on `field`,
    "must be ALLOWED, got PATH (what is wrong)", that never quotes the file's content."""
    name = os.fspath(file)

    def refuse(why: str) -> SpecError:
        return SpecError(field, message=f"must be {allowed}, got {show(name)} ({why})")

    try:
        info = os.stat(name)
        if not stat.S_ISREG(info.st_mode):
            raise refuse(_kind(info.st_mode))
        if info.st_size > limit:
            raise refuse(f"{info.st_size} bytes, more than the {limit // 2**20} MiB a file may have")
        # O_NONBLOCK: should the path have become a pipe since the stat, opening it does not block
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise refuse("not a regular file")
            data = fh.read(limit + 1)
    except FileNotFoundError:
        where = "" if os.path.isabs(name) else f"; relative paths start at {show(os.getcwd())}"
        raise refuse(f"no such file{where}") from None
    except OSError as e:
        raise refuse(e.strerror or "unreadable") from None
    if len(data) > limit:
        raise refuse(f"more than the {limit // 2**20} MiB a file may have")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise refuse(f"line {line} is not UTF-8 text") from None


def _finite(cell: str) -> float | None:
    try:
        x = float(cell)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


NUMBERS_ALLOWED = "a readable file with one number per line or a CSV with a numeric column"


def read_numbers(file: object, field: str) -> tuple[str, np.ndarray, list[int]]:
    """(absolute path, numbers, their line numbers) of a one-column text file or of the first
    all-numeric column of a CSV (header optional, `#` lines skipped): an empirical distribution's
    `file:`. An error names a line and a column, never quotes a cell."""
    if not isinstance(file, str | os.PathLike) or not str(file):
        raise SpecError(field, "a file path (string)", file)
    name = os.fspath(file)
    text = read_text(name, field, NUMBERS_ALLOWED)

    def refuse(why: str) -> SpecError:
        return SpecError(field, message=f"must be {NUMBERS_ALLOWED}, got {show(name)} ({why})")

    try:
        rows = [
            (lineno, [cell.strip() for cell in cells])
            for lineno, cells in enumerate(csv.reader(text.splitlines()), start=1)
            if any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#")
        ]
    except csv.Error:
        raise refuse("not a CSV file") from None
    if not rows:
        raise refuse("it is empty")
    width = max(len(cells) for _, cells in rows)
    for j in range(width):
        column = [(ln, cells[j] if j < len(cells) else "") for ln, cells in rows]
        body = column[1:]
        if all(_finite(c) is not None for _, c in body):
            keep = column if _finite(column[0][1]) is not None else body
            if keep:
                return os.path.abspath(name), np.array([float(c) for _, c in keep]), [ln for ln, _ in keep]
    if len(rows) == 1:
        raise refuse("only a header, no numbers")
    ln = next(ln for ln, c in rows[1:] if _finite(c[0]) is None)
    raise refuse(f"no column of numbers only; line {ln}, column 1: not a number" if width > 1
                 else f"line {ln}: not a number")


TRACE_ALLOWED = "an existing CSV file with a 'time' column (optional 'type', 'size')"


def read_trace(value: Any, field: str, base_dir: str | Path | None, item_types: Mapping) -> list[dict]:
    """The rows ({time, type?, size?}) of a trace arrivals CSV, every cell checked here (a time
    >= 0, in order; a size > 0; a type of `item_types`): an error gives the line and the column,
    never the content. A relative path is tried from the working directory, then `base_dir`."""
    if not isinstance(value, str):
        raise SpecError(field, "a path to a CSV file with a 'time' column", value)
    file = Path(value)
    if not file.is_absolute() and base_dir is not None and not file.exists():
        file = Path(base_dir) / file
    text = read_text(file, field, TRACE_ALLOWED)

    def refuse(why: str) -> SpecError:
        return SpecError(field, message=f"must be {TRACE_ALLOWED}, got {show(value)} ({why})")

    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[dict] = []
    try:
        if reader.fieldnames is None or "time" not in reader.fieldnames:
            raise refuse("no 'time' column in the header, line 1")
        for r in reader:
            line = reader.line_num
            row = {}
            for column, bound in (("time", TIME), ("size", SCALE)):
                cell = (r.get(column) or "").strip()
                if not cell:
                    if column == "time":
                        raise refuse(f"line {line}: no value in column 'time'")
                    continue
                x = _finite(cell)
                if x is None or not bound.holds(x):
                    raise refuse(f"line {line}: column {column!r} must be {bound.allowed()}")
                row[column] = x
            if rows and row["time"] < rows[-1]["time"]:
                raise refuse(f"line {line}: column 'time' is below the previous line's (traces are sorted)")
            if r.get("type"):
                if r["type"] not in item_types:
                    raise refuse(f"line {line}: column 'type' must be one of " + ", ".join(item_types))
                row["type"] = r["type"]
            rows.append(row)
    except csv.Error:
        raise refuse(f"line {reader.line_num} is not a CSV line") from None
    if not rows:
        raise refuse("no arrivals in the file")
    return rows


# --------------------------------------------------------------------------- YAML
def _at(mark: yaml.Mark | None) -> str:
    return "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}: "


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping (PyYAML keeps the
    last one silently, so a stream would not be what its file seems to say)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":       # `<<: *base` then overrides: allowed
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, "found an unhashable key",
                                                        key_node.start_mark) from None
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {show(key)} (first at line {first.line + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node) -> int:
    """The values, lists and mappings the document expands to, counting an alias once per use
    (raises _TooDeep where it is nested too deeply or refers to itself). Memoised per node, so
    an alias bomb is measured in time proportional to its text."""
    size: dict[int, int] = {}
    open_: set[int] = set()

    def count(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in size:
            return size[key]
        if key in open_:
            raise _TooDeep(node, "an alias inside its own anchor (a value that contains itself)")
        if depth > MAX_YAML_DEPTH:
            raise _TooDeep(node, f"nested more than {MAX_YAML_DEPTH} levels deep")
        open_.add(key)
        if isinstance(node, yaml.SequenceNode):
            n = 1 + sum(count(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            n = 1 + sum(count(k, depth + 1) + count(v, depth + 1) for k, v in node.value)
        else:
            n = 1
        open_.discard(key)
        size[key] = n
        return n

    return count(root, 0)


class _TooDeep(Exception):
    def __init__(self, node: yaml.Node, problem: str):
        super().__init__(problem)
        self.node, self.problem = node, problem


@dataclass(frozen=True)
class YamlFile:
    """A parsed YAML file: its text, its data (plain dicts, lists and scalars) and its node tree
    (where each value was written, for errors that give a line and a column)."""

    path: Path
    text: str
    data: Any
    root: yaml.Node | None

    def node(self, *keys: str) -> yaml.Node | None:
        """The node of the value at `keys` (mapping keys from the top), or None."""
        node = self.root
        for key in keys:
            if not isinstance(node, yaml.MappingNode):
                return None
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        return node

    def error(self, node: yaml.Node | None, problem: str) -> SpecError:
        """`FILE: line L, column C: problem`, the line and column of `node`."""
        return SpecError(str(self.path), message=_at(node.start_mark if node is not None else None) + problem)


def load_yaml(path: str | os.PathLike, field: str | None = None) -> YamlFile:
    """Read and parse a YAML file within the bounds above. Every refusal is one SpecError
    `FILE: line L, column C: problem`: not valid YAML (a tab in the indentation, a missing
    bracket), a duplicate key, too large, nested too deeply, an alias that refers to itself;
    reading it, a SpecError on `field` (default: the path)."""
    path = Path(path)
    text = read_text(path, str(path) if field is None else field, "an existing YAML file", limit=MAX_YAML_BYTES)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlFile(path, text, None, None)
        try:
            size = _expanded_size(root)
        except _TooDeep as e:
            raise SpecError(str(path), message=_at(e.node.start_mark) + e.problem) from None
        if size > MAX_YAML_NODES:
            raise SpecError(str(path), message=f"expands to {size} values (aliases counted each time they are "
                                               f"used), more than the {MAX_YAML_NODES} a file may hold")
        data = loader.construct_document(root)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if "'\\t'" in problem:
            problem += " (YAML is indented with spaces, never tabs)"
        raise SpecError(str(path), message=f"{_at(mark)}not valid YAML: {problem}") from None
    except RecursionError:
        raise SpecError(str(path), message=f"nested more than {MAX_YAML_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    return YamlFile(path, text, data, root)


STREAM_SECTIONS = ("arrivals", "pools", "steps", "item_types", "release")
"""The parts of a stream that are mappings (NAME: ...)."""


def check_stream_shape(doc: YamlFile, keys: tuple[str, ...] = ()) -> None:
    """The stream at `keys` of `doc` (a stream file, or an experiment's `stream:` patch) is a
    mapping whose sections are mappings: a list written for one (`steps: [- build: ...]`) is
    refused with its line and column, before StreamSpec.from_dict checks the values."""
    stream = doc.data
    for key in keys:
        stream = stream.get(key) if isinstance(stream, dict) else None
    if stream is None:
        return
    where = "".join(f"{k}." for k in keys)
    if not isinstance(stream, dict):
        raise doc.error(doc.node(*keys), f"{where[:-1] + ': ' if keys else ''}must be a mapping of keys to values")
    for section in STREAM_SECTIONS:
        value = stream.get(section)
        if value is not None and not isinstance(value, dict):
            kind = "a list" if isinstance(value, list) else "a single value"
            raise doc.error(doc.node(*keys, section), f"{where}{section}: must be a mapping (NAME: ...), got {kind}")
