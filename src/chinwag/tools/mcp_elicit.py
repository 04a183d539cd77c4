"""Elicitation: an MCP server asks the user for something (`elicitation/create`).

A request is read here into an `Elicitation`: its message and either the
fields of a flat form (string, number, integer, boolean, a single enum, a
multi-select enum; each with its default) or, in URL mode, the URL to open.
A schema with any other kind of field cannot be asked honestly, so it is
declined (`unsupported` says why, in one line).

Who answers is the chat's business: the terminal asks field by field
(cli/elicit.py), the page through its question box (web/live.py), the API
through `on_elicit`. With no one to ask (piped, --json, the API without a
handler) the answer is decline, at once. `--yes` never answers one: it
approves tool calls, and an elicitation asks for the user's own data.

The server's words are untrusted: everything shown goes through
render.sanitize first (`reveal` for the URL, so a look-alike cannot hide).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["accept", "decline", "cancel"]
FieldKind = Literal["string", "number", "integer", "boolean", "enum", "multi"]
Value = str | int | float | bool | list[str]


@dataclass(frozen=True)
class Field:
    """One field of a form, as the server's schema declares it."""

    name: str
    kind: FieldKind
    title: str = ""
    description: str = ""
    required: bool = False
    default: Value | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for enum and multi
    minimum: float | None = None
    maximum: float | None = None
    format: str = ""  # email, uri, date, date-time: shown as a hint, checked by the server


@dataclass(frozen=True)
class Elicitation:
    """One question from a server."""

    server: str
    message: str
    fields: tuple[Field, ...] = ()
    url: str | None = None  # URL mode: the page the user is asked to open
    unsupported: str | None = None  # why this cannot be asked (then it is declined)


@dataclass(frozen=True)
class ElicitAnswer:
    action: Action
    content: dict[str, Value] = field(default_factory=dict)

    @classmethod
    def decline(cls) -> ElicitAnswer:
        return cls("decline")


# How a person is asked: the question -> their answer. Raises KeyboardInterrupt to cancel.
Elicit = Callable[[Elicitation], ElicitAnswer]


def read_request(server: str, params: Any) -> Elicitation:
    """The `ElicitRequestParams` of `server` as an Elicitation."""
    message = str(getattr(params, "message", "") or "")
    if getattr(params, "mode", "form") == "url":
        return Elicitation(server, message, url=str(getattr(params, "url", "") or ""))
    schema = getattr(params, "requested_schema", None) or {}
    try:
        fields = read_schema(schema)
    except ValueError as exc:
        return Elicitation(server, message, unsupported=str(exc))
    return Elicitation(server, message, fields)


def read_schema(schema: Mapping[str, Any]) -> tuple[Field, ...]:
    """The fields of a flat object schema; ValueError naming the first one that is not."""
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        raise ValueError("the form is not a flat object")
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    if not isinstance(properties, Mapping):
        raise ValueError("the form's properties are not an object")
    return tuple(_field(str(name), spec, name in required) for name, spec in properties.items())


def _field(name: str, spec: Any, required: bool) -> Field:
    if not isinstance(spec, Mapping):
        raise ValueError(f"field {name!r} has no schema")
    kind = spec.get("type")
    common: dict[str, Any] = {"title": str(spec.get("title") or ""), "description": str(spec.get("description") or ""),
                              "required": required, "default": spec.get("default")}
    if kind == "string" and ("enum" in spec or "oneOf" in spec):
        return Field(name, "enum", choices=_choices(name, spec), **common)
    if kind == "array":
        items = spec.get("items")
        if not isinstance(items, Mapping) or not ("enum" in items or "anyOf" in items or "oneOf" in items):
            raise ValueError(f"field {name!r} is a list of {items.get('type') if isinstance(items, Mapping) else '?'}"
                             ", which chinwag cannot ask for")
        return Field(name, "multi", choices=_choices(name, items), **common)
    if kind in ("string", "number", "integer", "boolean"):
        low, high = spec.get("minimum"), spec.get("maximum")
        return Field(name, kind, minimum=low if isinstance(low, (int, float)) else None,
                     maximum=high if isinstance(high, (int, float)) else None,
                     format=str(spec.get("format") or ""), **common)
    raise ValueError(f"field {name!r} is of type {kind if isinstance(kind, str) else 'unknown'},"
                     " which chinwag cannot ask for")


def _choices(name: str, spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    if "enum" in spec:
        values = [str(v) for v in spec.get("enum") or ()]
        labels = spec.get("enumNames") or values
        return tuple(zip(values, [str(label) for label in labels]))
    options = spec.get("oneOf") or spec.get("anyOf") or ()
    found = tuple((str(o["const"]), str(o.get("title") or o["const"])) for o in options
                  if isinstance(o, Mapping) and "const" in o)
    if not found:
        raise ValueError(f"field {name!r} offers no choices")
    return found


def parse_value(spec: Field, text: str) -> Value:
    """What the person typed for `spec`, as the schema's type; ValueError saying what is wrong.
    For enum and multi, a choice may be typed by its number, value or label."""
    text = text.strip()
    match spec.kind:
        case "string":
            return text
        case "boolean":
            if text.lower() in ("y", "yes", "true", "1"):
                return True
            if text.lower() in ("n", "no", "false", "0"):
                return False
            raise ValueError("answer y or n")
        case "number" | "integer":
            try:
                number: int | float = int(text) if spec.kind == "integer" else float(text)
            except ValueError:
                raise ValueError(f"type {'a whole number' if spec.kind == 'integer' else 'a number'}") from None
            if isinstance(number, float) and not math.isfinite(number):
                raise ValueError("type a finite number")
            if spec.minimum is not None and number < spec.minimum:
                raise ValueError(f"at least {spec.minimum:g}")
            if spec.maximum is not None and number > spec.maximum:
                raise ValueError(f"at most {spec.maximum:g}")
            return number
        case "enum":
            return _choice(spec, text)
        case "multi":
            picked = [_choice(spec, part) for part in text.replace(",", " ").split()]
            if not picked:
                raise ValueError("pick at least one (numbers, separated by spaces)")
            return list(dict.fromkeys(picked))


def _choice(spec: Field, text: str) -> str:
    for number, (value, label) in enumerate(spec.choices, 1):
        if text in (str(number), value) or text.lower() == label.lower():
            return value
    raise ValueError(f"pick one of 1-{len(spec.choices)}")


def shown_default(spec: Field) -> str:
    """The default as the person would type it ("" when none)."""
    value = spec.default
    if value is None:
        return ""
    if isinstance(value, bool):
        return "y" if value else "n"
    if isinstance(value, list):
        return " ".join(_label_of(spec, str(v)) for v in value)
    if spec.kind == "enum":
        return _label_of(spec, str(value))
    return str(value)


def _label_of(spec: Field, value: str) -> str:
    for number, (choice, _label) in enumerate(spec.choices, 1):
        if choice == value:
            return str(number)
    return value


def host_of(url: str) -> str:
    """The host a URL leads to, in full (punycode shown as it is: a look-alike stays visible)."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""

