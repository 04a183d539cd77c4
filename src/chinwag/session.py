"""A chat session: settings, provider, the conversation, and where it is saved.

`cli.py` builds one; the REPL and the one-shot path both ask it for turns.
The store is optional (`--no-save`); when present, the user message is saved
before the request leaves and the reply is saved while it streams.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chinwag.chat import Conversation, Reply, Sink, run_turn
from chinwag.config import Settings
from chinwag.errors import ChinwagError
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
    """Saves the reply while it streams and at the end, so even `kill -9` leaves
    what was on screen in the history.

    A timer thread writes the latest text every SAVE_INTERVAL while it is
    newer than what was saved: text shown just before the stream stalls is
    saved too, and no database write sits on the path from socket to screen.
    """

    def __init__(self, store: Store, reply_id: int, prefix: str = "") -> None:
        self.store, self.reply_id, self.prefix = store, reply_id, prefix
        self._latest: str | None = None  # newer text than the database has, if any
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._save_periodically, name="chinwag-save", daemon=True)

    def on_start(self) -> None:
        self._thread.start()

    def on_event(self, event: Event, reply: Reply) -> None:
        if isinstance(event, TextDelta):
            self._latest = self.prefix + reply.text

    def on_end(self, reply: Reply) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
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

    def _save_periodically(self) -> None:
        while not self._done.wait(SAVE_INTERVAL):
            text, self._latest = self._latest, None
            if text is not None:
                with self._lock:
                    try:
                        self.store.update_reply(self.reply_id, text, status="streaming")
                    except ChinwagError:
                        pass  # e.g. locked for long by another process: the final save reports it
