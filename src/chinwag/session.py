"""A chat session: settings, provider, the conversation, and where it is saved.

`cli.py` builds one; the REPL and the one-shot path both ask it for turns.
The store is optional (`--no-save`); when present, the user message is saved
before the request leaves and the reply is saved while it streams.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chinwag.chat import Conversation, Reply, Sink, run_turn
from chinwag.config import Settings
from chinwag.events import Event, TextDelta
from chinwag.providers.base import Message, Provider

if TYPE_CHECKING:
    from chinwag.store import Store

SAVE_INTERVAL = 0.25  # seconds between progressive saves of a streaming reply


@dataclass
class Session:
    settings: Settings
    provider: Provider
    conversation: Conversation
    store: Store | None = None
    conversation_id: int | None = None
    last_reply: Reply | None = None
    stream: bool = True
    _reply_id: int | None = field(default=None, repr=False)

    @property
    def model(self) -> str:
        return self.settings.model or getattr(self.provider, "model_name", "") or self.provider.name

    def ask(self, text: str, sinks: list[Sink]) -> Reply:
        """Send `text` as the next user message and stream the reply."""
        self.conversation.ask(text)
        self._save_user(text)
        return self._turn(sinks, prefill="")

    def retry(self, sinks: list[Sink]) -> Reply:
        """Ask again: drop the last reply (if any) and resend the history."""
        messages = self.conversation.messages
        if messages and messages[-1].role == "assistant":
            messages.pop()
        return self._turn(sinks, prefill="")

    def continue_reply(self, sinks: list[Sink]) -> Reply:
        """Resume the last, interrupted reply by prefilling it (where the provider can)."""
        messages = self.conversation.messages
        partial = messages.pop().content
        # Anthropic rejects a final assistant message that ends in white space.
        messages.append(Message("assistant", partial.rstrip()))
        return self._turn(sinks, prefill=partial.rstrip())

    def _turn(self, sinks: list[Sink], prefill: str) -> Reply:
        request = self.conversation.request(
            self.settings.model, self.settings.max_tokens, self.settings.temperature, self.stream
        )
        saver = self._reply_saver(prefill)
        reply = run_turn(self.provider, request, [*sinks, *([saver] if saver else [])])
        if prefill:
            self.conversation.messages.pop()
            reply = Reply(**{**reply.__dict__, "text": prefill + reply.text})
        self.conversation.record(reply)
        self.last_reply = reply
        return reply

    def _save_user(self, text: str) -> None:
        if self.store is None:
            return
        if self.conversation_id is None:
            self.conversation_id = self.store.start_conversation(self.model, self.conversation.system)
        self.store.add_message(self.conversation_id, "user", text, model=self.model)

    def _reply_saver(self, prefill: str) -> Sink | None:
        if self.store is None or self.conversation_id is None:
            return None
        if not prefill or self._reply_id is None:
            self._reply_id = self.store.begin_reply(self.conversation_id, model=self.model)
        return StoreSink(self.store, self._reply_id, prefill)


class StoreSink:
    """Saves the reply while it streams (every SAVE_INTERVAL at most) and at the end,
    so even `kill -9` leaves what was on screen in the history."""

    def __init__(self, store: Store, reply_id: int, prefix: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.reply_id, self.prefix, self.clock = store, reply_id, prefix, clock
        self._saved_at = 0.0

    def on_start(self) -> None:
        pass

    def on_event(self, event: Event, reply: Reply) -> None:
        if isinstance(event, TextDelta) and self.clock() - self._saved_at >= SAVE_INTERVAL:
            self.store.update_reply(self.reply_id, self.prefix + reply.text, status="streaming")
            self._saved_at = self.clock()

    def on_end(self, reply: Reply) -> None:
        self.store.update_reply(
            self.reply_id,
            self.prefix + reply.text,
            status=reply.status,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            ttft=reply.ttft,
            duration=reply.duration,
            stop_reason=reply.stop_reason,
        )
