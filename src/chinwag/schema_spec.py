"""`--schema SCHEMA`: what the user wrote, as a JSON Schema.

SCHEMA is a JSON Schema inline (`{"type": "object", ...}`), a path to a file
holding one, or llm's concise syntax (`'name, age int, bio: a short
biography'`), read as llm reads it:

- fields are separated by newlines if there is one, else by commas;
- each field is `NAME [TYPE][: description]`, TYPE one of int, float, str,
  bool (str when left out);
- every field is required, and the result is an object of those properties.

Unlike llm, an unknown TYPE or a field with no name is refused in one line
(llm turns the first into a string and crashes on the second).
`--schema-multi` wraps the schema as llm does: an object whose `items` is a
list of such objects. A template's `schema` may also be a table (a dict).

This module imports nothing slow; `jsonschema` is imported only when a schema
is given (to check that it is one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chinwag.errors import UsageError

CONCISE_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def parse_schema(value: str | Mapping[str, Any], *, multi: bool = False, where: str = "--schema") -> dict[str, Any]:
    """The JSON Schema `value` stands for (see the module docstring); UsageError
    naming `where` for what is none."""
    if isinstance(value, Mapping):
        schema = dict(value)
    else:
        schema = _from_text(str(value), where)
    _check(schema, where)
    return wrap_multi(schema) if multi else schema


def wrap_multi(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A list of `schema` objects, as llm's --schema-multi asks for it: {"items": [...]}."""
    return {"type": "object", "properties": {"items": {"type": "array", "items": dict(schema)}},
            "required": ["items"]}


def concise(text: str, where: str = "--schema") -> dict[str, Any]:
    """llm's concise syntax as a JSON Schema object."""
    separator = "\n" if "\n" in text else ","
    fields = [f.strip() for f in text.split(separator) if f.strip()]
    properties: dict[str, dict[str, str]] = {}
    for field in fields:
        head, colon, description = field.partition(":")
        words = head.split()
        if not words:
            raise UsageError(f"{where}: the field {field!r} has no name; write NAME [TYPE][: description].")
        if len(words) > 2:
            raise UsageError(f"{where}: {head.strip()!r} is not NAME [TYPE]; put a description after a colon.")
        kind = words[1] if len(words) == 2 else "str"
        if kind not in CONCISE_TYPES:
            raise UsageError(f"{where}: unknown type {kind!r} for {words[0]!r}; use one of "
                             f"{', '.join(CONCISE_TYPES)}.")
        properties[words[0]] = {"type": CONCISE_TYPES[kind]}
        if colon and description.strip():
            properties[words[0]]["description"] = description.strip()
    if not properties:
        raise UsageError(f"{where} is empty; give a JSON Schema, a file, or fields like 'name, age int'.")
    return {"type": "object", "properties": properties, "required": list(properties)}


def _from_text(text: str, where: str) -> dict[str, Any]:
    stripped = text.strip()
    if stripped.startswith(("{", "[")):  # JSON (a list is refused below, not read as fields)
        try:
            loaded = json.loads(stripped)
        except ValueError as exc:
            raise UsageError(f"{where}: not valid JSON: {exc}.") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"{where}: a JSON Schema is a JSON object.")
        return loaded
    # A file: a name without separators that exists (llm: anything without a space or comma).
    if stripped and not any(c in stripped for c in " ,\n:"):
        path = Path(stripped).expanduser()
        if path.is_file():
            return _from_file(path, where)
        if stripped.endswith(".json") or "/" in stripped:
            raise UsageError(f"{where}: no such file: {stripped}.")
    return concise(text, where)


def _from_file(path: Path, where: str) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: cannot read {path}: {exc.__class__.__name__}.") from None
    except ValueError as exc:
        raise UsageError(f"{where}: {path} is not valid JSON: {exc}.") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"{where}: {path} holds no JSON object (a JSON Schema is one).")
    return loaded


def _check(schema: Mapping[str, Any], where: str) -> None:
    """A schema the validator itself refuses is the user's mistake, told now, not after the reply.
    So is a `$ref` to another document: nothing is fetched (the validator would, over the network)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise UsageError(f"{where}: not a valid JSON Schema: {exc.message}.") from None
    for ref in _refs(schema):
        if not ref.startswith("#"):
            raise UsageError(f"{where}: $ref {ref!r} points outside the schema; put what it names in the schema's "
                             "$defs and refer to it as #/$defs/NAME.")


def _refs(node: Any) -> list[str]:
    """Every `$ref` in `node`."""
    if isinstance(node, Mapping):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []
