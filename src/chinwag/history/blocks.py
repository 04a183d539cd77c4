"""Content blocks in the history: to and from the `blocks` column, and the
rules that keep a saved conversation sendable (every tool call answered)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chinwag.records import Block, Document, Image, Message, ToolCall, ToolResult, block_from_json, block_to_json


def __getattr__(name: str) -> str:
    # INTERRUPTED, the answer to a call lost with chinwag, is worded in present.py;
    # read from there on first use: this module is imported before the prompt is drawn.
    if name == "INTERRUPTED":
        from chinwag.present import TOOL_LOST

        return TOOL_LOST
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Blob:
    """An attachment's bytes as the `blobs` table keeps them, once per content hash."""

    sha256: str
    media_type: str
    data: bytes = field(repr=False)


def blocks_json(blocks: Sequence[Block]) -> str | None:
    """The `blocks` column for a message: None when it is text alone."""
    return blocks_and_blobs(blocks)[0]


def blocks_and_blobs(blocks: Sequence[Block]) -> tuple[str | None, tuple[Blob, ...]]:
    """The `blocks` column, an attachment named by its hash in place of its
    bytes, and the blobs to store beside it."""
    if not blocks or all(b.type == "text" for b in blocks):
        return None, ()
    import hashlib  # not at the top: OpenSSL's hashes cost ~7 ms to load, and the prompt comes first

    items: list[dict[str, Any]] = []
    blobs: list[Blob] = []
    for block in blocks:
        if isinstance(block, (Image, Document)):
            digest = hashlib.sha256(block.data).hexdigest()
            blobs.append(Blob(digest, block.media_type, block.data))
            items.append({"type": block.type, "media_type": block.media_type, "name": block.name,
                          "sha256": digest, "size": len(block.data)})
        else:
            items.append(block_to_json(block))
    return json.dumps(items, ensure_ascii=False), tuple(blobs)


def with_data(blocks: str, load: Callable[[str], bytes | None]) -> str:
    """The `blocks` column with each attachment's bytes put back (base64, as
    `block_to_json` has them); one whose blob is missing becomes a text note."""
    import base64

    items = json.loads(blocks)
    for i, item in enumerate(items):
        if isinstance(item, dict) and "sha256" in item and "data" not in item:
            data = load(str(item["sha256"]))
            if data is None:
                items[i] = {"type": "text", "text": f"[attachment {item.get('name') or ''} missing from history]"}
            else:
                item["data"] = base64.b64encode(data).decode("ascii")
    return json.dumps(items, ensure_ascii=False)


def message_of(role: str, content: str, blocks: str | None) -> Message:
    parts: tuple[Block, ...] = ()
    if blocks:
        try:
            parts = tuple(block_from_json(b) for b in json.loads(blocks))
        except (ValueError, KeyError, TypeError):
            parts = ()  # unreadable blocks: the text is still there
    return Message("assistant" if role == "assistant" else "user", content, parts)


def joined(first: Message, second: Message) -> Message:
    """Two messages of one role as one; text alone is joined by a blank line."""
    if not first.blocks and not second.blocks:
        return Message(first.role, first.content + "\n\n" + second.content)
    return Message.of(first.role, first.parts + second.parts)


def answered(messages: list[Message]) -> list[Message]:
    """Every tool call followed by its result: a call left without one (the
    process died while it ran) is answered as interrupted."""
    out: list[Message] = []
    for i, message in enumerate(messages):
        out.append(message)
        calls = [b for b in message.blocks if isinstance(b, ToolCall)]
        if message.role != "assistant" or not calls:
            continue
        following = messages[i + 1] if i + 1 < len(messages) else None
        have = {b.call_id for b in following.blocks if isinstance(b, ToolResult)} if following and \
            following.role == "user" else set()
        missing_ids = [c.id for c in calls if c.id not in have]
        if not missing_ids:
            continue
        from chinwag.present import TOOL_LOST

        missing = tuple(ToolResult(call_id, TOOL_LOST, "interrupted") for call_id in missing_ids)
        if following is not None and following.role == "user":
            messages[i + 1] = Message.of("user", missing + following.parts)
        else:
            out.append(Message.of("user", missing))
    return out
