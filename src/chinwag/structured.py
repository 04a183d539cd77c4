"""Structured output: a reply that must be a JSON value matching a schema.

The schema travels in `ChatRequest.schema`; each provider sends it the way
its API takes it best (providers/anthropic.py, openai.py, local.py). When the
reply is complete, `checked` parses it and validates it with `jsonschema`:
the reply gets `data` (the parsed value), or fails with
`InvalidStructuredOutput` (exit 1), its raw text kept as it came.

`strict_schema` and `fallback_instruction` are what the wire formats need:
the strict variants of OpenAI and Anthropic want every object closed
(`additionalProperties: false`), and a server that takes no schema at all
gets it in words in the system prompt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chinwag.errors import InvalidStructuredOutput
from chinwag.records import Reply

FENCE = "```"


def checked(reply: Reply, schema: Mapping[str, Any]) -> Reply:
    """The complete `reply` with `data` set, or failed with InvalidStructuredOutput."""
    try:
        data = parse_reply(reply.text)
    except ValueError as exc:
        return replace(reply, status="error", failure=InvalidStructuredOutput(
            f"the reply is not valid JSON ({exc}); its text is saved in the history."))
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match
    from referencing import Registry
    from referencing.exceptions import Unresolvable

    try:  # an empty registry: a $ref is resolved within the schema, never fetched
        error = best_match(Draft202012Validator(schema, registry=Registry()).iter_errors(data))
    except Unresolvable as exc:
        return replace(reply, status="error", failure=InvalidStructuredOutput(
            f"the schema's $ref {exc.ref!r} names nothing in it; the reply's text is saved in the history."))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path)
        return replace(reply, status="error", failure=InvalidStructuredOutput(
            f"the reply does not match the schema{f' at {at}' if at else ''}: {error.message};"
            " its text is saved in the history."))
    return replace(reply, data=data)


def parse_reply(text: str) -> Any:
    """The JSON value in `text`; one fenced block (```json ... ```), as a model
    given the schema only in words may wrap it, is unwrapped. ValueError if none."""
    body = text.strip()
    if body.startswith(FENCE) and body.endswith(FENCE) and body.count(FENCE) == 2:
        body = body[len(FENCE):-len(FENCE)].partition("\n")[2] if "\n" in body else ""
    if not body.strip():
        raise ValueError("the reply is empty")
    return json.loads(body)


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` with every object closed (`additionalProperties: false` where it
    says nothing), as strict structured outputs require."""
    def close(node: Any) -> Any:
        if isinstance(node, Mapping):
            out = {key: close(value) for key, value in node.items()}
            if out.get("type") == "object" or "properties" in out:
                out.setdefault("additionalProperties", False)
            return out
        if isinstance(node, list):
            return [close(item) for item in node]
        return node

    return dict(close(schema))


def all_required(schema: Mapping[str, Any]) -> bool:
    """Whether every object in `schema` requires all of its properties: what
    OpenAI's `strict` mode accepts (an optional field is refused there)."""
    def ok(node: Any) -> bool:
        if isinstance(node, Mapping):
            props = node.get("properties")
            if isinstance(props, Mapping) and set(props) - set(node.get("required") or ()):
                return False
            return all(ok(value) for value in node.values())
        if isinstance(node, list):
            return all(ok(item) for item in node)
        return True

    return ok(schema)


def fallback_instruction(schema: Mapping[str, Any]) -> str:
    """The schema in words, for a system prompt (servers without schema support)."""
    return ("Reply with one JSON value and nothing else (no prose, no markdown fence), "
            f"matching this JSON Schema:\n{json.dumps(schema, ensure_ascii=False)}")
