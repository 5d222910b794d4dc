"""The JSON Schema of a stream file (schema/stream.schema.json) and the key tables of docs/model.md
are rendered from the one table of keys (vssim/model/keys.py): the shipped ones are current, every
shipped stream validates, broken ones do not, and the schema agrees with the parser at every bound."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import BASE, CONFIGS, broken

from vssim import SpecError, StreamSpec
from vssim.model.keys import FAMILIES, KEYS, SCHEMA_VERSION
from vssim.model.schema import SECTIONS, fill, json_schema, markdown_tables

ROOT = CONFIGS.parent
SHIPPED = ROOT / "schema" / "stream.schema.json"
DOCS = ROOT / "docs" / "model.md"
VALIDATOR = jsonschema.Draft202012Validator(json.loads(SHIPPED.read_text()))


def valid(d: dict) -> bool:
    return VALIDATOR.is_valid(d)


def test_shipped_schema_is_generated_from_the_table():
    jsonschema.Draft202012Validator.check_schema(json_schema())
    assert json.loads(SHIPPED.read_text()) == json_schema(), "run `make schema`"


def test_docs_tables_are_generated_from_the_table():
    text = DOCS.read_text()
    assert fill(text) == text, "run `make schema`"
    assert all(f"<!-- keys: {name} -->" in text for name in SECTIONS)


def test_generator_check_says_current(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "stream_schema.py"), "--check"],
                          capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_key_is_documented_with_its_bound():
    tables = markdown_tables()
    rows = [row for table in tables.values() for row in table.splitlines() if row.startswith("| `")]
    for path, key in KEYS.items():
        shown = path.replace("*", "NAME")
        mine = [r for r in rows if (name := r.split("`")[1]) == shown or shown.endswith("." + name)]
        assert mine or f"`{shown}`" in DOCS.read_text(), f"{path} is not in docs/model.md"
        if key.bound is not None:
            assert any(key.bound.text() in r for r in mine), f"{path}: its bound {key.bound.text()}"
    steps = tables["steps"]
    for name in ("types", "pool", "work", "wip_limit", "batch", "cadence", "rework.probability"):
        assert f"| `{name}` |" in steps
    for name, family in FAMILIES.items():
        row = next(r for r in tables["distributions"].splitlines() if r.startswith(f"| `{name}` |"))
        assert all(f"`{p.name}`" in row for p in family.params)


@pytest.mark.parametrize("path", sorted((CONFIGS / "stream").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_stream_validates(path):
    d = yaml.safe_load(path.read_text())
    assert d["schema_version"] == SCHEMA_VERSION
    errors = [e.message for e in VALIDATOR.iter_errors(d)]
    assert not errors, errors


BROKEN = {
    "unknown-key": {"colour": "red"},
    "unknown-step-key": {"steps.build.wip": 3},
    "wip-limit-zero": {"steps.build.wip_limit": 0},
    "wip-limit-fraction": {"steps.build.wip_limit": 2.5},
    "wip-limit-text": {"steps.build.wip_limit": "five"},
    "batch-1e308": {"steps.release.batch": 1e308},
    "pool-1e12": {"pools.ops": 10**12},
    "cv-1e200": {"steps.build.work": {"dist": "gamma", "mean": 4.0, "cv": 1e200}},
    "gamma-without-cv": {"steps.build.work": {"dist": "gamma", "mean": 4.0}},
    "gamma-with-sigma": {"steps.build.work": {"dist": "gamma", "mean": 4.0, "cv": 1, "sigma": 2}},
    "deterministic-value-and-mean": {"steps.release.work": {"dist": "deterministic", "value": 1, "mean": 1}},
    "uniform-both-forms": {"steps.build.work": {"dist": "uniform", "low": 1, "high": 2, "mean": 1.5, "cv": 0.1}},
    "scipy-scale-zero": {"steps.build.work": {"dist": "invgauss", "mu": 0.5, "scale": 0}},
    "negative-constant": {"steps.release.work": -1},
    "rate-and-interval": {"arrivals": {"process": "deterministic", "rate": 1, "interval": 1}},
    "poisson-without-rate": {"arrivals": {"process": "poisson"}},
    "backlog-with-rate": {"arrivals": {"process": "backlog", "count": 5, "rate": 1}},
    "unknown-process": {"arrivals.process": "magic"},
    "trace-negative-time": {"arrivals": {"process": "trace", "times": [-1, 2]}},
    "share-above-one": {"item_types.feature.share": 1.5},
    "rework-probability-one": {"steps.validate.rework.probability": 1},
    "unknown-class-of-service": {"item_types.defect.class_of_service": "urgent"},
    "newer-schema-version": {"schema_version": SCHEMA_VERSION + 1},
    "bool-as-number": {"arrivals.rate": True},
}


@pytest.mark.parametrize("changes", list(BROKEN.values()), ids=list(BROKEN))
def test_broken_stream_does_not_validate(changes):
    d = broken(changes)
    assert not valid(d)
    with pytest.raises(SpecError):                 # the parser refuses it too
        StreamSpec.from_dict(d)


def test_missing_required_key_does_not_validate():
    for key in ("arrivals", "steps"):
        d = copy.deepcopy(BASE)
        del d[key]
        assert not valid(d)
    d = copy.deepcopy(BASE)
    del d["pools"]          # required unless every step splits: the parser's check, as a step's pool and work
    with pytest.raises(SpecError, match="^pools: required"):
        StreamSpec.from_dict(d)


MINIMAL = {"schema_version": SCHEMA_VERSION, "name": "m", "arrivals": {"process": "poisson", "rate": 1.0},
           "pools": {"p": 1}, "steps": {"s": {"pool": "p", "work": 1.0}}}


def _step(**keys) -> dict:
    return {"steps": {"s": {"pool": "p", "work": 1.0, **keys}}}


TEAM = {"t": {"pools": {"q": 1}, "steps": {"b": {"pool": "q", "work": 1.0}}}}


def _split(**keys) -> dict:
    """A stream whose one step splits into team t's children."""
    return {"teams": TEAM, "steps": {"s": {"split": {"into": "child", **keys}}}}


STREAM_WITH = {
    "schema_version": lambda v: {"schema_version": v},
    "arrivals.rate": lambda v: {"arrivals": {"process": "poisson", "rate": v}},
    "arrivals.interval": lambda v: {"arrivals": {"process": "deterministic", "interval": v}},
    "arrivals.count": lambda v: {"arrivals": {"process": "backlog", "count": v}},
    "arrivals.limit": lambda v: {"arrivals": {"process": "poisson", "rate": 1.0, "limit": v}},
    "arrivals.profile.weekly[]": lambda v: {"arrivals": {"process": "poisson", "rate": 1.0,
                                                         "profile": {"weekly": [v] + [1] * 6}}},
    "arrivals.profile.daily[]": lambda v: {"arrivals": {"process": "poisson", "rate": 1.0,
                                                        "profile": {"daily": [1] * 23 + [v]}}},
    "arrivals.profile.trend": lambda v: {"arrivals": {"process": "poisson", "rate": 1.0, "profile": {"trend": v}}},
    "arrivals.times[]": lambda v: {"arrivals": {"process": "trace", "times": [v]}},
    "arrivals.times[].time": lambda v: {"arrivals": {"process": "trace", "times": [{"time": v}]}},
    "steps.*.pool[].speed": lambda v: _step(pool=[{"pool": "p", "speed": v}]),
    "pools.*.schedule[].at": lambda v: {"pools": {"p": {"size": 1, "schedule": [{"at": v, "size": 2}]}}},
    "pools.*.schedule[].size": lambda v: {"pools": {"p": {"size": 1, "schedule": [{"at": 5.0, "size": v}]}}},
    "pools.*.calendar.hours[]": lambda v: {"pools": {"p": {"size": 1, "calendar": {
        "hours": [v, 24] if v < 24 else [0, v]}}}},
    "pools.*.calendar.hours[][]": lambda v: {"pools": {"p": {"size": 1, "calendar": {
        "hours": [[v, 24]] if v < 24 else [[0, v]]}}}},
    "arrivals.times[].size": lambda v: {"arrivals": {"process": "trace", "times": [{"time": 0, "size": v}]}},
    "item_types.*.share": lambda v: {"item_types": {"a": {"share": v}} if v >= 1 else
                                     {"a": {"share": v}, "b": {"share": 1 - v}}},
    "item_types.*.size": lambda v: {"item_types": {"a": {"share": 1, "size": v}}},
    "item_types.*.business_value": lambda v: {"item_types": {"a": {"share": 1, "business_value": v}}},
    "pools.*": lambda v: {"pools": {"p": v}},
    "pools.*.size": lambda v: {"pools": {"p": {"size": v}}},
    "pools.*.interruptions.rate": lambda v: {"pools": {"p": {"size": 1, "interruptions": {"rate": v, "duration": 1}}}},
    "release.conwip": lambda v: {"release": {"policy": "conwip", "conwip": v}},
    "release.backlog_limit": lambda v: {"release": {"backlog_limit": v}},
    "steps.*.wip_limit": lambda v: _step(wip_limit=v),
    "steps.*.batch": lambda v: _step(batch=v),
    "steps.*.cadence": lambda v: _step(cadence=v),
    "steps.*.dependency.probability": lambda v: _step(dependency={"probability": v, "delay": 1}),
    "steps.*.dependency.size": lambda v: {**_step(dependency={"probability": 0.5, "team": "t", "size": v}),
                                          "teams": TEAM},
    "steps.*.split.teams.*.count": lambda v: _split(teams={"t": {"count": v}}),
    "steps.*.split.size": lambda v: _split(teams={"t": {}}, size=v),
    "steps.*.rework.probability": lambda v: _step(rework={"probability": v, "to": "s"}),
    "steps.*.swarm": lambda v: _step(swarm=v),
    "steps.*.swarm.people": lambda v: _step(swarm={"people": v}),
    "steps.*.swarm.overhead": lambda v: _step(swarm={"people": 2, "overhead": v}),
    "parts": lambda v: {"parts": v},
}
"""A minimal stream with the key of the table set to a value: the bounded keys, each alone."""


def _edges(bound) -> list[tuple[float, bool]]:
    """Values at and just beyond each end of a bound, with whether the bound holds them."""
    out = []
    for end, is_open, side in ((bound.low, bound.low_open, -1), (bound.high, bound.high_open, 1)):
        beyond = end + side if bound.integer else end + side * abs(end) * 1e-9 if end else side * 1e-300
        out += [(end, not is_open), (beyond, False)]
    return out


def _parses(d: dict) -> bool:
    try:
        StreamSpec.from_dict(d)
    except SpecError:
        return False
    return True


def test_every_bounded_key_is_checked_here():
    assert set(STREAM_WITH) == {p for p, k in KEYS.items() if k.bound is not None}


@pytest.mark.parametrize("path", list(STREAM_WITH), ids=str)
def test_schema_and_parser_agree_at_every_bound(path):
    """At each end of a key's bound and just beyond it, the parser and the schema accept the same."""
    for value, inside in _edges(KEYS[path].bound):
        d = {**copy.deepcopy(MINIMAL), **STREAM_WITH[path](value)}
        assert _parses(d) == inside, (path, value)
        assert valid(d) == inside, (path, value)


ALONE = {"mean": {"cv": 0.5}, "cv": {"mean": 1.0}, "lambda": {"low": 1, "mode": 2, "high": 3}}
"""The other parameters that make a distribution valid while one of its parameters is changed."""


@pytest.mark.parametrize(("name", "param"), [(n, p.name) for n, f in FAMILIES.items() for p in f.params
                                             if p.type == "number" and p.name in (*ALONE, "value")], ids=str)
def test_schema_and_parser_agree_on_distribution_bounds(name, param):
    others = {} if name in ("deterministic", "exponential") and param != "cv" else ALONE.get(param, {})
    for value, inside in _edges(FAMILIES[name].param(param).bound):
        d = broken({"steps.build.work": {"dist": name, **others, param: value}})
        if name == "uniform" and param == "mean" and value > 1e6:
            inside = False                           # its high end mean·(1 + √3·cv) is above the bound too
        assert _parses(d) == inside, (name, param, value)
        assert valid(d) == inside or (name == "uniform" and param == "mean"), (name, param, value)


def test_old_stream_without_schema_version_validates():
    """Version 1 files (no key) are valid where they keep to the bounds, as the parser reads them."""
    d = copy.deepcopy(BASE)
    del d["schema_version"]
    assert valid(d)


def test_shipped_streams_point_editors_at_the_schema_in_the_docs():
    text = DOCS.read_text()
    assert "# yaml-language-server: $schema=../../schema/stream.schema.json" in text
    assert Path(ROOT / "schema" / "stream.schema.json").is_file()
