"""`chinwag history`'s JSON: raw text (JSON escapes control characters), times
in ISO 8601; a list is JSON lines, one record one document."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, TextIO

from chinwag.cli.history_format import iso
from chinwag.history.store import ConversationSummary, SearchHit, StoredMessage
from chinwag.records import block_to_json
from chinwag.tree import Tree


def summary_json(c: ConversationSummary) -> dict[str, Any]:
    return {**asdict(c), "created_at": iso(c.created_at), "updated_at": iso(c.updated_at)}


def conversation_json(c: ConversationSummary, messages: list[StoredMessage], tree: Tree,
                      structured: Mapping[int, str] | None = None) -> dict[str, Any]:
    """Each message with its content blocks as a list (text, thinking, tool calls and results), raw;
    with its `parent_id` and its `number` (as /tree shows it), and the conversation's `leaf_id`
    (the end of its current path) and how many `branches` it has; a reply asked for JSON with its `schema`."""
    numbers = {nid: node.number for nid, node in tree.nodes.items()}
    schemas = structured or {}
    return {**summary_json(c), "leaf_id": tree.leaf, "branches": tree.branches(), "messages": [
        {**asdict(m), "number": numbers.get(m.id), "created_at": iso(m.created_at), "updated_at": iso(m.updated_at),
         "blocks": [block_to_json(b) for b in m.message.parts],
         **({"schema": json.loads(schemas[m.id])} if m.id in schemas else {})}
        for m in messages]}


def hit_json(hit: SearchHit, number: int | None) -> dict[str, Any]:
    """The snippet as plain text, and where each match is within it; `number` is the
    message's number in its conversation (`chinwag --resume ID --at NUMBER`)."""
    snippet, spans = "", []
    for piece, is_match in hit.parts():
        if is_match:
            spans.append([len(snippet), len(snippet) + len(piece)])
        snippet += piece
    return {"conversation_id": hit.conversation_id, "message_id": hit.message_id, "number": number,
            "role": hit.role, "created_at": iso(hit.created_at), "snippet": snippet,
            "matches": spans}


def write_json(out: TextIO, value: object) -> None:
    out.write(json.dumps(value, indent=2) + "\n")  # ensure_ascii: C1 controls escaped too


def write_json_lines(out: TextIO, values: list[dict[str, Any]]) -> None:
    """A list as JSON lines: one object per line, as the chat's --json events."""
    out.write("".join(json.dumps(value) + "\n" for value in values))
