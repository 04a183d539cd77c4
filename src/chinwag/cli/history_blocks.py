"""A saved message's content blocks as the terminal showed them: thinking,
text, `⚙ name(args)` for a tool call and `↳ status · first line` for its
result. Used by `chinwag history show|export` and `/save`; every line is
sanitized here, since what a tool returned is as untrusted as model output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from chinwag.records import Document, Image, Message, Text, Thinking, ToolCall, ToolResult
from chinwag.render.sanitize import sanitize

FIRST_LINE_WIDTH = 80


def has_tool_blocks(message: Message) -> bool:
    return any(not isinstance(b, Text) for b in message.blocks)


def is_results_only(message: Message) -> bool:
    """A user message that only carries tool results (the chat sent it, not the person)."""
    return bool(message.blocks) and all(isinstance(b, ToolResult) for b in message.blocks)


def result_line(result: ToolResult) -> str:
    """`↳ ok · the first line of the output`, sanitized, on one line."""
    first = next((line for line in result.content.splitlines() if line.strip()), "")
    first = " ".join(sanitize(first).split())
    if len(first) > FIRST_LINE_WIDTH:
        first = first[: FIRST_LINE_WIDTH - 1].rstrip() + "…"
    return f"↳ {result.status}" + (f" · {first}" if first else "")


def answered_ids(messages: Iterable[Message]) -> set[str]:
    return {b.call_id for m in messages for b in m.blocks if isinstance(b, ToolResult)}


def parts(message: Message, answered: set[str] | None = None) -> Iterator[tuple[str, str]]:
    """(kind, sanitized text) for each block in order: kind is "text", "thinking",
    "call" or "result"; a call and a result are one line each. A call whose id
    is not in `answered` (chinwag died while it ran) is followed by the result
    the model was sent for it: interrupted."""
    from chinwag.sinks import call_line
    from chinwag.history.blocks import INTERRUPTED

    for block in message.parts:
        if isinstance(block, Text):
            if block.text:
                yield "text", sanitize(block.text)
        elif isinstance(block, Thinking):
            if block.text:
                yield "thinking", sanitize(block.text)
        elif isinstance(block, ToolCall):
            yield "call", f"⚙ {call_line(block.name, block.input)}"
            if answered is not None and block.id not in answered:
                yield "result", result_line(ToolResult(block.id, INTERRUPTED, "interrupted"))
        elif isinstance(block, (Image, Document)):
            from chinwag.attach import describe

            yield "attachment", sanitize(describe(block))
        else:
            yield "result", result_line(block)


def markdown(message: Message, answered: set[str] | None = None) -> str:
    """The blocks as markdown: text as it is, thinking quoted, calls and results as code lines."""
    out = []
    for kind, text in parts(message, answered):
        if kind == "text":
            out.append(text)
        elif kind == "thinking":
            out.append("\n".join(f"> *{line}*" if line.strip() else ">" for line in
                                 ("thinking: " + text).splitlines()))
        else:
            out.append("`" + text.replace("`", "'") + "`")
    return "\n\n".join(out)
