"""The stream file's JSON Schema and the key tables of docs/model.md, both rendered from keys.py.

Why generated: the parsers read their keys and bounds from the same table, so an editor checking
a stream against schema/stream.schema.json, the docs and the parser cannot disagree. `make schema`
(tools/stream_schema.py) writes both; tests/test_schema.py checks that the shipped ones are current.
"""
from __future__ import annotations

from typing import Any

from vssim.model.keys import (
    ARRIVAL_FORMS,
    ARRIVAL_OPTIONAL,
    BOUNDS,
    BUILTINS,
    FAMILIES,
    KEYS,
    SCHEMA_VERSION,
    SCIPY_PARAMETER,
    SCIPY_SCALE,
    TIME,
    Key,
    children,
    required_keys,
)

# --------------------------------------------------------------------------- the JSON Schema
Variants = dict[str, tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]]


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a stream file of the current version."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"vssim stream file, schema version {SCHEMA_VERSION}",
            "description": "A value stream for vssim (docs/model.md). The checks that involve several keys "
                           "(shares summing to 1, a step's pool existing, high > low) are the parser's.",
            **_mapping_schema(""), "$defs": {"distribution": {
                "description": "a number (a constant) or {dist: NAME, ...}",
                "anyOf": [TIME.schema(), {"$ref": "#/$defs/distribution_mapping"}]},
                "distribution_mapping": _distribution_schema()}}


def _key_schema(k: Key) -> dict:
    if k.like is not None:                          # the same value as another key (a team's pools)
        return {"description": k.doc, "$ref": "#/properties/" + k.like.replace(".", "/properties/")}
    parts = [_type_schema(k, word) for word in k.types]
    return {"description": k.doc, **(parts[0] if len(parts) == 1 else {"anyOf": parts})}


def _type_schema(k: Key, word: str) -> dict:
    if word in ("integer", "number"):
        return k.bound.schema()
    if word == "string":
        return {"type": "string", "enum": list(k.choices)} if k.choices else {"type": "string"}
    if word == "null":
        return {"type": "null"}
    if word == "names":
        return {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}
    if word == "distribution":                      # a plain number is the key's own (size: > 0, count: integer)
        own = "number" in k.types or "integer" in k.types
        return {"$ref": "#/$defs/distribution_mapping" if own else "#/$defs/distribution"}
    if word == "list":
        return {"type": "array", "minItems": 1, "items": _key_schema(KEYS[k.path + "[]"])}
    return _mapping_schema(k.path)


def _mapping_schema(path: str) -> dict:
    if f"{path}.*" in KEYS:                         # entries named by the user
        return {"type": "object", "minProperties": 1, "additionalProperties": _key_schema(KEYS[f"{path}.*"])}
    prefix = f"{path}." if path else ""
    out: dict[str, Any] = {"type": "object",
                           "properties": {n: _key_schema(KEYS[prefix + n]) for n in children(path)},
                           "additionalProperties": False}
    if path == "arrivals":
        out["allOf"] = _variants("process", {p: (forms, ARRIVAL_OPTIONAL.get(p, ()))
                                             for p, forms in ARRIVAL_FORMS.items()})
    if path in UNLESS:
        key, needed = UNLESS[path]
        out["if"], out["else"] = _given(key), {"allOf": [_given(n) for n in needed]}
        if path == "steps.*":                       # a split step has no people and no work of its own
            out["then"] = {"not": {"anyOf": [_given(n) for n in (*needed, "rework", "dependency")]}}
    if required_keys(path):
        out["required"] = list(required_keys(path))
    return out


UNLESS = {"steps.*": ("split", ("pool", "work")), "teams.*": ("stream", ("pools", "steps"))}
"""Keys a mapping needs unless it has another: a step's pool and work unless it splits, a team's pools
and steps unless it is read from a stream file."""


def _given(key: str) -> dict:
    """`key` is there and not null (null is a key left out, as the parser reads it)."""
    return {"required": [key], "properties": {key: {"not": {"type": "null"}}}}


def _variants(tag: str, variants: Variants) -> list[dict]:
    """One `if tag is NAME then ...` per variant: only its keys, exactly one of its forms."""
    out = []
    for name, (forms, optional) in variants.items():
        then: dict[str, Any] = {"propertyNames": {"enum": [tag, *dict.fromkeys(k for f in forms for k in f),
                                                            *optional]}}
        if len(forms) > 1:
            then["oneOf"] = [{"required": list(form)} for form in forms]
        elif forms[0]:
            then["required"] = list(forms[0])
        out.append({"if": {"properties": {tag: {"const": name}}, "required": [tag]}, "then": then})
    return out


def _distribution_schema() -> dict:
    variants = {name: (f.forms, f.optional) for name, f in FAMILIES.items()}
    bounds = [{"if": {"properties": {"dist": {"const": name}}, "required": ["dist"]},
               "then": {"properties": {p.name: _param_schema(p) for p in f.params}}} for name, f in FAMILIES.items()]
    scipy = {"if": {"properties": {"dist": {"enum": list(BUILTINS)}}},
             "else": {"properties": {"dist": {"type": "string"}, "scale": SCIPY_SCALE.schema()},
                      "additionalProperties": SCIPY_PARAMETER.schema()}}
    return {"description": "{dist: NAME, ...}: a built-in or a scipy.stats distribution", "type": "object",
            "required": ["dist"], "properties": {"dist": {"type": "string"}},
            "allOf": [*_variants("dist", variants), *bounds, scipy]}


def _param_schema(p: Key) -> dict:
    if p.type == "list":
        return {"type": "array", "minItems": 1, "items": p.bound.schema()}
    return {"type": "string"} if p.type == "string" else p.bound.schema()


# --------------------------------------------------------------------------- docs/model.md
SECTIONS = ("top", "arrivals", "item_types", "pools", "release", "steps", "teams", "distributions", "bounds")
"""The generated tables of docs/model.md, each between `<!-- keys: NAME -->` and `<!-- /keys -->`."""
_TYPE_WORDS = {"names": "name or list of names", "list": "list"}


def markdown_tables() -> dict[str, str]:
    """Each generated table of docs/model.md by section name."""
    return {"top": _table("", (), deep=False), "arrivals": _processes() + "\n\n" + _table("arrivals", ()),
            "item_types": _table("item_types.*", ()), "pools": _table("pools.*", ("pools.*",)),
            "release": _table("release", ()), "steps": _table("steps.*", ()), "teams": _table("teams.*", ()),
            "distributions": _distributions(), "bounds": _bounds()}


def fill(text: str) -> str:
    """`text` (docs/model.md) with every generated table replaced by the current one."""
    for name, table in markdown_tables().items():
        head, tail = f"<!-- keys: {name} -->\n", "<!-- /keys -->"
        start = text.index(head) + len(head)
        text = text[:start] + table + "\n" + text[text.index(tail, start):]
    return text


def _table(path: str, own: tuple[str, ...], *, deep: bool = True) -> str:
    """The keys under `path` (all of them, or only its own when not `deep`), after the rows `own`."""
    prefix = f"{path}." if path else ""
    under = [q for q in KEYS if q.startswith(prefix)] if deep else [prefix + n for n in children(path)]
    rows = ["| key | type | default | bounds | meaning |", "|---|---|---|---|---|"]
    for p in (*own, *under):
        k = KEYS[p]
        shown = (p if p in own else p[len(prefix):]).replace("*", "NAME")
        rows.append(f"| `{shown}` | {_type(k)} | {_default(k)} | {_allowed(k)} | {k.doc} |")
    return "\n".join(rows)


def _type(k: Key) -> str:
    return " or ".join(_TYPE_WORDS.get(w, w) for w in k.types)


def _default(k: Key) -> str:
    if k.required:
        return "required"
    for path, (key, needed) in UNLESS.items():
        if k.path in {f"{path}.{n}" for n in needed}:
            return f"required without `{key}`"
    if k.default is None:
        return "`null`" if "null" in k.types else "—"
    if isinstance(k.default, str) and "mapping" in k.types:
        return k.default                            # a description of the default, not a value
    return "`\"\"`" if k.default == "" else f"`{k.default}`"


def _allowed(k: Key) -> str:
    if k.bound is not None:
        return k.bound.text()
    return ", ".join(f"`{c}`" for c in k.choices)


def _processes() -> str:
    rows = ["| `process` | keys |", "|---|---|"]
    for process, forms in ARRIVAL_FORMS.items():
        keys = ", ".join(" and ".join(f"`{k}`" for k in form) for form in forms if form)
        text = 'exactly one of ' + keys if len(forms) > 1 else keys or 'none'
        optional = ARRIVAL_OPTIONAL.get(process, ())
        if optional:
            text += "; optional " + ", ".join(f"`{k}`" for k in optional)
        rows.append(f"| `{process}` | {text} |")
    return "\n".join(rows)


def _distributions() -> str:
    rows = ["| `dist` | parameters | meaning |", "|---|---|---|"]
    for name, f in FAMILIES.items():
        forms = "; or ".join(", ".join(_param(f.param(n)) for n in form) for form in f.forms)
        extra = "".join(f"; {_param(f.param(n))}" for n in f.optional)
        rows.append(f"| `{name}` | {forms}{extra} | {f.doc} |")
    rows.append(f"| any `scipy.stats` name | its shape parameters and `loc` in {SCIPY_PARAMETER.text()}, `scale` in "
                f"{SCIPY_SCALE.text()} (continuous ones) | e.g. `{{dist: invgauss, mu: 0.5, scale: 2}}`; its support "
                "must start at ≥ 0 (discrete ones take `loc` only); see the bounds below |")
    return "\n".join(rows)


def _param(p: Key) -> str:
    text = f"`{p.name}`"
    if p.bound is not None and p.bound.low == p.bound.high:
        text += f" = {p.bound.text()}"
    elif p.bound is not None:
        text += f" {'each ' if p.type == 'list' else ''}in {p.bound.text()}"
    notes = [p.doc] if p.doc else []
    if not p.required and p.default is not None:
        notes.append(f"default {p.default:g}")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _bounds() -> str:
    rows = ["| bound | where | why |", "|---|---|---|"]
    rows += [f"| {bound} | {where} | {why} |" for bound, where, why in BOUNDS]
    return "\n".join(rows)
