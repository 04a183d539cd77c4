"""The records every layer shares: messages, requests, context windows, replies.

This module (with `events.py`) sits at the bottom of chinwag: it imports
nothing of chinwag, and everything else may import it. Providers receive a
`ChatRequest` and yield events; the turn folds those events into a `Reply`
snapshot; sinks and the store read the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["user", "assistant"]
Status = Literal["streaming", "complete", "interrupted", "error"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


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
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """How much a model can take: `tokens` in all, measured by `count`."""

    tokens: int
    count: Callable[[str], int]


@dataclass(frozen=True)
class Reply:
    """What the assistant said so far, and how it went."""

    text: str = ""
    status: Status = "streaming"
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    ttft: float | None = None  # seconds from sending to the first text
    duration: float | None = None
    error: str | None = None  # one line, when status is interrupted or error
    cancelled: bool = False  # the user pressed Ctrl-C
