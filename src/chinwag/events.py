"""The events of a turn, in two unions.

`ProviderEvent`s are the reply itself, as every provider yields it (text,
thinking, tool calls, usage, stop): providers turn their wire format into
these records, and nothing outside `providers/` sees a provider's own objects.
`TurnEvent`s are what happens around the reply: a retry (said by the HTTP
layer, before any text), a notice, a tool running, a tool's result.
`Event` is either; `--json` writes each out as it is (see `to_json`).

Every consumer handles them with `match` and `assert_never`, so `mypy`
fails where an event is added and not handled (tests/test_exhaustive_events.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Union


@dataclass(frozen=True)
class TextDelta:
    """A piece of reply text, in the order the model produced it."""

    text: str
    type: Literal["text"] = field(default="text", init=False)


@dataclass(frozen=True)
class Usage:
    """Token counts as the provider reported them (None when it did not)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    type: Literal["usage"] = field(default="usage", init=False)


@dataclass(frozen=True)
class Stop:
    """The reply ended normally. `reason` is the provider's stop reason,
    normalised: "end_turn", "max_tokens", "stop_sequence", "tool_use" (the
    model wants its tool calls run), or the raw value."""

    reason: str
    type: Literal["stop"] = field(default="stop", init=False)


@dataclass(frozen=True)
class Retrying:
    """A request failed before any text arrived and will be sent again."""

    attempt: int  # the attempt about to be made, counting from 1
    max_attempts: int
    delay: float  # seconds we wait first
    reason: str  # e.g. "overloaded (529)"
    type: Literal["retrying"] = field(default="retrying", init=False)


@dataclass(frozen=True)
class ThinkingDelta:
    """A piece of the model's visible reasoning (Anthropic thinking, or the
    `reasoning_content` / `reasoning` deltas of DeepSeek, vLLM and llama.cpp).
    Anthropic ends each thinking block with its `signature` (text "" then)."""

    text: str
    signature: str = ""
    redacted: str = ""  # a whole redacted_thinking block's data (text and signature empty then)
    type: Literal["thinking"] = field(default="thinking", init=False)


@dataclass(frozen=True)
class ToolCallStart:
    """The model began a tool call: its id and the tool's name (the input follows)."""

    id: str
    name: str
    type: Literal["tool_call_start"] = field(default="tool_call_start", init=False)


@dataclass(frozen=True)
class ToolInputDelta:
    """A fragment of a tool call's input, as the JSON text arrives (not parseable alone)."""

    id: str
    json: str
    type: Literal["tool_input"] = field(default="tool_input", init=False)


@dataclass(frozen=True)
class ToolCallReady:
    """A tool call is complete: its whole input, parsed (an empty input is {})."""

    id: str
    name: str
    input: Mapping[str, Any]
    type: Literal["tool_call"] = field(default="tool_call", init=False)


@dataclass(frozen=True)
class ToolRunning:
    """An approved call starts running (after its question, if it had one).
    Not from providers: the tool loop adds it, so a view can show that it runs."""

    call_id: str
    name: str
    type: Literal["tool_running"] = field(default="tool_running", init=False)


@dataclass(frozen=True)
class ToolProgress:
    """A running call's server reported progress (MCP notifications/progress), at most
    every 100 ms: `text` is its count and message ("2/3 copying"), one unsanitized line."""

    call_id: str
    name: str
    text: str
    type: Literal["tool_progress"] = field(default="tool_progress", init=False)


@dataclass(frozen=True)
class ToolResultReady:
    """A tool ran (or was refused): the result that goes back to the model. Not
    from providers: the tool loop adds it. `summary` is the one line shown."""

    call_id: str
    name: str
    content: str
    status: str  # "ok", "error", "denied", "interrupted"
    summary: str
    type: Literal["tool_result"] = field(default="tool_result", init=False)


@dataclass(frozen=True)
class Notice:
    """One line the user should read: history left out to fit the window,
    a reply that could not be saved. The session adds them; a provider only to
    say it had to ask differently (a server refusing a JSON schema, openai.py)."""

    text: str
    type: Literal["notice"] = field(default="notice", init=False)


ProviderEvent = Union[TextDelta, ThinkingDelta, ToolCallStart, ToolInputDelta, ToolCallReady, Usage, Stop]
TurnEvent = Union[Retrying, Notice, ToolRunning, ToolProgress, ToolResultReady]
Event = Union[ProviderEvent, TurnEvent]


def to_json(event: Event) -> dict[str, object]:
    """The `--json` form of an event: its fields, `type` included."""
    return asdict(event)
