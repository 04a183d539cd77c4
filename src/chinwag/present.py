"""The wording the terminal, the page and `history show` share, over one
transcript model: a saved message as parts (`transcript`), each a small
frozen dataclass that every surface renders with `match`. The terminal's
`⚙ name(args)` call line and `↳ exit 0 · 3 lines` result line live here
too, so a tool call reads the same live, on the page and in the history.
So does each way a user is told that something was cut off (one wording per
meaning: see "interrupted" below).

Parts carry the saved text as it is; each surface sanitizes (or escapes) as
it shows it, since what a model wrote and what a tool returned are untrusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, assert_never

from chinwag.records import Document, Image, Message, Text, Thinking, ToolCall, ToolResult
from chinwag.render.sanitize import sanitize

FIRST_LINE_WIDTH = 80
# Under a question the user cancelled before any reply (history show, the chat's hint).
CANCELLED_NOTE = "cancelled before a reply; not sent again"

# -- "interrupted": one wording per meaning ----------------------------------------------
# A reply cut off after it began by a failure (the connection dropped, the server
# stopped it, the body ended early; Ctrl-C and the page's Stop are "stopped", not
# this). Its mark wherever a reply's status is shown in a word: the terminal's line
# after the reply and its stats line, history show and export, the page.
REPLY_INTERRUPTED = "⚠ interrupted"
# A tool call cut off while it ran (status "interrupted"): what the model is sent,
# and so what `↳ interrupted · ...` shows later. The user stopped it, or chinwag
# ended (it was left running by a process that is gone).
TOOL_STOPPED = ("interrupted: the user stopped this call while it ran; it may or may not have"
                " taken effect, so check before trying it again.")
TOOL_LOST = ("interrupted: chinwag stopped while this call ran; it may or may not have taken"
             " effect, so check before trying it again.")
# A call of a reply whose turn was stopped before the call started (status "interrupted").
TOOL_NOT_RUN = "not run: the user stopped the turn before this call started."


def interrupted_because(why: str) -> str:
    """Why a reply was cut off, in one line: the terminal's error line (chat and
    one-shot) and the page's status line under the reply."""
    return f"reply interrupted: {why}"


def page_words() -> dict[str, str]:
    """The wording above that the page's script shows (served as /static/words.js)."""
    return {"replyInterrupted": REPLY_INTERRUPTED, "interruptedBecause": interrupted_because("")}


def call_line(name: str, arguments: Mapping[str, Any], width: int = 100) -> str:
    """`read_file(path="src/app.py")`: a tool call on one line, sanitized, cut to `width`."""
    import json

    args = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in arguments.items())
    line = " ".join(sanitize(f"{name}({args})").split())
    return line if len(line) <= width else line[: width - 2] + "…)"


def tool_call_line(name: str, arguments: Mapping[str, Any]) -> str:
    """`⚙ read_file(path="src/app.py")`: how every surface names a tool call."""
    return f"⚙ {call_line(name, arguments)}"


class EndedCall(Protocol):
    """A call's end as the terminal shows it: a saved `ToolResult`, or the live
    `ToolResultReady` event."""

    @property
    def status(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def summary(self) -> str: ...


def result_line(result: EndedCall) -> str:
    """The line a tool call ends with, live (sinks.py) and whenever it is shown
    again (history show and export, /save): `↳ ` and the tool's own summary
    ("exit 0 · 3 lines", "denied: not two files"), or, for a result saved
    without one, `↳ status · the first line of the output`. Sanitized, one line."""
    if result.summary:
        return "↳ " + " ".join(sanitize(result.summary).split())
    first = next((line for line in result.content.splitlines() if line.strip()), "")
    first = " ".join(sanitize(first).split())
    if len(first) > FIRST_LINE_WIDTH:
        first = first[: FIRST_LINE_WIDTH - 1].rstrip() + "…"
    return f"↳ {result.status}" + (f" · {first}" if first else "")


def lost_result(call: ToolCall) -> ToolResult:
    """The result the model was sent for a call chinwag died while running."""
    return ToolResult(call.id, TOOL_LOST, "interrupted")


# -- the transcript model ------------------------------------------------------------


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ThinkingPart:
    text: str


@dataclass(frozen=True)
class ToolCallPart:
    """A call, with its saved result when the caller passed the conversation's
    results; `lost` when none was saved (chinwag died while it ran)."""
    call: ToolCall
    result: ToolResult | None = None
    lost: bool = False

    @property
    def line(self) -> str:
        return tool_call_line(self.call.name, self.call.input)

    @property
    def answer(self) -> ToolResult | None:
        """What the model was sent for it, where known."""
        return lost_result(self.call) if self.lost else self.result


@dataclass(frozen=True)
class ToolResultPart:
    """A result in a message of its own (the chat sent it, not the person)."""
    result: ToolResult

    @property
    def line(self) -> str:
        return result_line(self.result)


@dataclass(frozen=True)
class AttachmentPart:
    block: Image | Document

    @property
    def line(self) -> str:
        """The 📎 line, unsanitized (each surface sanitizes it as it shows it)."""
        from chinwag.attach import describe

        return describe(self.block)


Part = TextPart | ThinkingPart | ToolCallPart | ToolResultPart | AttachmentPart


def saved_results(messages: Iterable[Message]) -> dict[str, ToolResult]:
    """Every saved tool result of a conversation, by the id of its call."""
    return {b.call_id: b for m in messages for b in m.blocks if isinstance(b, ToolResult)}


def transcript(message: Message, results: Mapping[str, ToolResult] | None = None) -> tuple[Part, ...]:
    """A saved message as parts, in order; empty text and thinking left out.
    With `results` (from `saved_results`), each call carries its result, or
    is `lost` when none was saved."""
    parts: list[Part] = []
    for block in message.parts:
        if isinstance(block, Text):
            if block.text:
                parts.append(TextPart(block.text))
        elif isinstance(block, Thinking):
            if block.text:
                parts.append(ThinkingPart(block.text))
        elif isinstance(block, ToolCall):
            result = None if results is None else results.get(block.id)
            parts.append(ToolCallPart(block, result, lost=results is not None and result is None))
        elif isinstance(block, (Image, Document)):
            parts.append(AttachmentPart(block))
        else:
            parts.append(ToolResultPart(block))
    return tuple(parts)


def has_tool_blocks(message: Message) -> bool:
    return any(not isinstance(b, Text) for b in message.blocks)


def is_results_only(message: Message) -> bool:
    """A user message that only carries tool results (the chat sent it, not the person)."""
    return bool(message.blocks) and all(isinstance(b, ToolResult) for b in message.blocks)


# -- as text: history show, history export and /save -------------------------------------


def one_liners(part: ToolCallPart | ToolResultPart | AttachmentPart) -> list[str]:
    """A call, a result or an attachment as the terminal prints it: sanitized
    lines of one line each. A lost call is followed by the result the model
    was sent for it."""
    match part:
        case ToolCallPart():
            return [part.line, *([result_line(lost_result(part.call))] if part.lost else [])]
        case ToolResultPart():
            return [part.line]
        case AttachmentPart():
            return [sanitize(part.line)]
        case _:
            assert_never(part)


def markdown(message: Message, results: Mapping[str, ToolResult] | None = None) -> str:
    """The parts as markdown: text as it is, thinking quoted, calls and results as code lines."""
    out = []
    for part in transcript(message, results):
        match part:
            case TextPart(text):
                out.append(sanitize(text))
            case ThinkingPart(text):
                out.append("\n".join(f"> *{line}*" if line.strip() else ">" for line in
                                     ("thinking: " + sanitize(text)).splitlines()))
            case ToolCallPart() | ToolResultPart() | AttachmentPart():
                out.extend("`" + line.replace("`", "'") + "`" for line in one_liners(part))
            case _:
                assert_never(part)
    return "\n\n".join(out)


def json_block(text: str) -> str:
    """A reply asked for JSON (--schema) as a fenced code block: pretty JSON
    when it parses (as the reply was checked: a fenced reply unwrapped), else
    its raw text as it came (it failed the schema), in a fence longer than any
    run of backticks inside."""
    import json
    import re

    from chinwag.structured import parse_reply

    try:
        body, lang = json.dumps(parse_reply(text), indent=2, ensure_ascii=False), "json"
    except ValueError:
        body, lang = text, ""
    body = sanitize(body)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", body)), default=0))
    return f"{fence}{lang}\n{body}\n{fence}"
