"""The records every layer shares: messages and their content blocks,
requests, tools, context windows, replies.

This module (with `events.py` and `errors.py`) sits at the bottom of
chinwag: it imports nothing of chinwag at run time, and everything else may
import it. Providers receive a `ChatRequest` and yield events; the turn
folds those events into a `Reply` snapshot; sinks and the store read the
snapshot.

A message is a list of content blocks: text, thinking, a tool call, a tool
result. `Message.content` is always the message's text (its text blocks
joined), so code that only deals in text never looks at blocks; `blocks` is
empty for a message that is text alone (`Message.parts` gives the blocks
either way). The wire formats and the store turn blocks to and from JSON with
`block_to_json` / `block_from_json`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

if TYPE_CHECKING:
    from chinwag.errors import ChinwagError

Role = Literal["user", "assistant"]
Status = Literal["streaming", "complete", "interrupted", "error"]
ToolStatus = Literal["ok", "error", "denied", "interrupted"]


@dataclass(frozen=True)
class Text:
    """Text in a message: the user's, or the model's answer."""

    text: str
    type: Literal["text"] = field(default="text", init=False)


@dataclass(frozen=True)
class Thinking:
    """The model's visible reasoning. Anthropic signs it: within a tool loop it
    must go back unchanged, signature included."""

    text: str
    signature: str = ""
    redacted: str = ""  # Anthropic's redacted_thinking: encrypted, shown as nothing, sent back as is
    type: Literal["thinking"] = field(default="thinking", init=False)


@dataclass(frozen=True)
class ToolCall:
    """The model asks for tool `name` with `input` (a JSON object). `id` pairs it with its result."""

    id: str
    name: str
    input: Mapping[str, Any]
    type: Literal["tool_call"] = field(default="tool_call", init=False)


@dataclass(frozen=True)
class ToolResult:
    """What running (or refusing) a tool call gave, sent back to the model as text."""

    call_id: str
    content: str
    status: ToolStatus = "ok"
    # The one line the user was shown as it ended ("exit 0 · 3 lines"), kept so
    # the history shows the same line later; "" where none was (a result saved
    # before it was kept, a call lost with chinwag). Not sent to the model.
    summary: str = field(default="", compare=False)
    type: Literal["tool_result"] = field(default="tool_result", init=False)

    @property
    def is_error(self) -> bool:
        return self.status != "ok"


@dataclass(frozen=True)
class Image:
    """An attached image (PNG, JPEG, GIF, WebP): its bytes, already within the
    provider's limits (attachments.py downscales what is not)."""

    media_type: str
    data: bytes = field(repr=False)
    name: str = ""  # the file name or URL it came from, for display
    type: Literal["image"] = field(default="image", init=False)


@dataclass(frozen=True)
class Document:
    """An attached PDF, sent whole (Anthropic document block, OpenAI file part)."""

    media_type: str
    data: bytes = field(repr=False)
    name: str = ""
    type: Literal["document"] = field(default="document", init=False)


Block = Union[Text, Thinking, ToolCall, ToolResult, Image, Document]


@dataclass(frozen=True)
class Message:
    """One message of a conversation: its text, and its blocks when it is more than text."""

    role: Role
    content: str  # the text of the message: its text blocks, joined
    blocks: tuple[Block, ...] = ()  # empty: the message is `content` alone

    @property
    def parts(self) -> tuple[Block, ...]:
        """The message as blocks, text-only messages included."""
        return self.blocks or ((Text(self.content),) if self.content else ())

    @classmethod
    def of(cls, role: Role, blocks: tuple[Block, ...]) -> Message:
        """A message made of `blocks`; its content is their text."""
        text = "".join(b.text for b in blocks if isinstance(b, Text))
        plain = all(isinstance(b, Text) for b in blocks)
        return cls(role, text, () if plain else blocks)


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: its name, what it does, and its input's JSON schema."""

    name: str
    description: str
    input_schema: Mapping[str, Any]


def block_to_json(block: Block) -> dict[str, Any]:
    """A block as chinwag prints it (`--json`, exports): its fields and `type`,
    an attachment's bytes in base64 (the store keeps those apart, by hash)."""
    if isinstance(block, (Image, Document)):
        import base64

        return {"type": block.type, "media_type": block.media_type, "name": block.name,
                "data": base64.b64encode(block.data).decode("ascii")}
    if isinstance(block, ToolCall):
        return {"type": block.type, "id": block.id, "name": block.name, "input": dict(block.input)}
    if isinstance(block, ToolResult):
        summary = {"summary": block.summary} if block.summary else {}
        return {"type": block.type, "call_id": block.call_id, "content": block.content, "status": block.status,
                **summary}
    if isinstance(block, Thinking):
        redacted = {"redacted": block.redacted} if block.redacted else {}
        return {"type": block.type, "text": block.text, "signature": block.signature, **redacted}
    return {"type": block.type, "text": block.text}


def block_from_json(data: Mapping[str, Any]) -> Block:
    """The inverse of `block_to_json`; raises ValueError for what is not a block."""
    kind = data.get("type")
    if kind == "text":
        return Text(str(data.get("text", "")))
    if kind == "thinking":
        return Thinking(str(data.get("text", "")), str(data.get("signature", "")), str(data.get("redacted", "")))
    if kind == "tool_call":
        return ToolCall(str(data["id"]), str(data["name"]), dict(data.get("input") or {}))
    if kind in ("image", "document"):
        import base64

        kind_of = Image if kind == "image" else Document
        return kind_of(str(data["media_type"]), base64.b64decode(str(data["data"])), str(data.get("name", "")))
    if kind == "tool_result":
        status = data.get("status", "ok")
        if status not in ("ok", "error", "denied", "interrupted"):
            status = "error"
        return ToolResult(str(data["call_id"]), str(data.get("content", "")), status, str(data.get("summary", "")))
    raise ValueError(f"not a content block: {kind!r}")


@dataclass(frozen=True)
class ChatRequest:
    """Everything a provider needs for one reply.

    `messages` alternate user/assistant and end with a user message, or with
    an assistant message to be continued (prefill) where `continue_reply` is set.
    """

    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    max_tokens: int = 1024
    temperature: float | None = None
    stream: bool = True
    continue_reply: bool = False
    tools: tuple[ToolSpec, ...] = ()  # offered to the model; none: a plain chat
    thinking_budget: int | None = None  # tokens of visible reasoning (Anthropic --think); None: off
    schema: Mapping[str, Any] | None = None  # the reply must be JSON matching it (--schema; structured.py)
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """How much a model can take: `tokens` in all, measured by `count`."""

    tokens: int
    count: Callable[[str], int]


@dataclass(frozen=True)
class Reply:
    """What the assistant said so far, and how it went.

    A reply that failed keeps the error that ended it in `failure` (an
    AuthError, Overloaded, ContextOverflow... from `chinwag.errors`), and
    `error` is that error's message, kept in step here and nowhere else. A
    reply the user stopped has `error` ("stopped") and no failure; so has a
    reply rebuilt from saved text, which never had the object."""

    text: str = ""
    status: Status = "streaming"
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    ttft: float | None = None  # seconds from sending to the first text
    duration: float | None = None
    error: str | None = None  # one line, when status is interrupted or error (the failure's message)
    cancelled: bool = False  # the user pressed Ctrl-C
    withdrawn: bool = False  # cancelled before any reply: the question is kept aside, not sent again
    blocks: tuple[Block, ...] = ()  # thinking, text and tool calls in order; empty when text alone
    failure: ChinwagError | None = field(default=None, compare=False)  # why it failed, typed
    message_id: int | None = field(default=None, compare=False)  # its id in the history (None: not saved)
    schema: Mapping[str, Any] | None = None  # the JSON Schema it was asked to match (--schema)
    data: Any = None  # the parsed JSON, once a complete reply matched `schema` (structured.py)

    def __post_init__(self) -> None:
        if self.failure is not None:  # the one place `error` follows the failure
            object.__setattr__(self, "error", self.failure.message)

    def raise_for_status(self) -> None:
        """Raise the error that made this reply fail; nothing for a complete
        reply, or one the user stopped. A failed reply without its error
        object (rebuilt from saved text) raises a ChinwagError with its text."""
        if self.failure is not None:
            raise self.failure
        if self.status in ("error", "interrupted") and not self.cancelled:
            from chinwag.errors import ChinwagError

            raise ChinwagError(self.error or f"the reply ended with status {self.status}.")

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(b for b in self.blocks if isinstance(b, ToolCall))

    @property
    def message(self) -> Message:
        """The reply as a message of the conversation."""
        return Message("assistant", self.text, self.blocks if self.blocks and not all(
            isinstance(b, Text) for b in self.blocks) else ())
