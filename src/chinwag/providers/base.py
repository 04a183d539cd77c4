"""The provider contract, which every backend meets.

A provider is anything with `stream(request) -> Iterator[Event]`. The iterator
yields `TextDelta`s as the text arrives, then `Usage` (when known) and finally
one `Stop`; `Retrying` may come before the first text. Failures are raised as
`chinwag.errors.ProviderError` subclasses, never as a library's own exception.

Closing the iterator early (`gen.close()`, or breaking out of a `for` loop
over it and dropping it) closes the HTTP connection or frees the model at
once: every provider wraps its work in `with` / `try ... finally`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from chinwag.events import Event

Role = Literal["user", "assistant"]


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


class Provider(Protocol):
    name: str

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the reply's events; see the module docstring for the contract."""
        ...

    def list_models(self) -> list[str]:
        """Model names this provider can reach now (may raise ProviderError)."""
        ...
