"""Content blocks in the history: to and from the `blocks` column, and the
rules that keep a saved conversation sendable (every tool call answered)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from chinwag.records import Block, Message, ToolCall, ToolResult, block_from_json, block_to_json

INTERRUPTED = ("interrupted: chinwag stopped while this call ran; it may or may not have taken"
               " effect, so check before trying it again.")


def blocks_json(blocks: Sequence[Block]) -> str | None:
    """The `blocks` column for a message: None when it is text alone."""
    if not blocks or all(b.type == "text" for b in blocks):
        return None
    return json.dumps([block_to_json(b) for b in blocks], ensure_ascii=False)


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
        missing = tuple(ToolResult(c.id, INTERRUPTED, "interrupted") for c in calls if c.id not in have)
        if not missing:
            continue
        if following is not None and following.role == "user":
            messages[i + 1] = Message.of("user", missing + following.parts)
        else:
            out.append(Message.of("user", missing))
    return out
