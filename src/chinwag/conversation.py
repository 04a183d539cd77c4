"""The conversation as the model sees it: the system prompt and the messages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (imported where used: not before the prompt)
    from chinwag.records import ChatRequest, Document, Image, Message, Reply, ToolResult


@dataclass
class Conversation:
    """The history sent to the model. Never holds an empty assistant message."""

    system: str | None
    messages: list[Message] = field(default_factory=list)

    def ask(self, text: str) -> None:
        from chinwag.records import Message

        self.messages.append(Message("user", text))

    def record(self, reply: Reply) -> None:
        """Keep what was shown: a partial reply is history too (the model sees
        exactly what the user saw). An empty (or blank) one is dropped."""
        if reply.text.strip() or any(b.type != "text" for b in reply.blocks):
            self.messages.append(reply.message)  # white space alone is nothing shown, and APIs refuse it

    def add_results(self, results: tuple[ToolResult | Image | Document, ...]) -> None:
        """The results of the last reply's tool calls, as the next user message."""
        from chinwag.records import Message

        self.messages.append(Message.of("user", results))

    def request(self, model: str, max_tokens: int, temperature: float | None, stream: bool = True,
                messages: list[Message] | None = None) -> ChatRequest:
        """The request for the next reply: the whole history, or `messages` (a trimmed tail of it)."""
        from chinwag.records import ChatRequest

        return ChatRequest(
            model=model,
            messages=tuple(self.sendable() if messages is None else messages),
            system=self.system,
            max_tokens=max_tokens,
            temperature=temperature,
            stream=stream,
        )

    def sendable(self) -> list[Message]:
        """The history as sent: a failed turn leaves two user messages in a
        row, and APIs want roles to alternate, so they go as one message."""
        return list(self._alternating())

    def _alternating(self) -> Iterator[Message]:
        pending: Message | None = None
        for message in self.messages:
            if pending and pending.role == message.role:
                pending = _joined(pending, message)
                continue
            if pending:
                yield pending
            pending = message
        if pending:
            yield pending


def _joined(first: Message, second: Message) -> Message:
    """Two messages of one role as one; text alone is joined by a blank line."""
    from chinwag.records import Message

    if not first.blocks and not second.blocks:
        return Message(first.role, first.content + "\n\n" + second.content)
    return Message.of(first.role, first.parts + second.parts)
