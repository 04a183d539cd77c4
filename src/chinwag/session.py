"""A chat session: settings, provider, the conversation, and where it is saved.

`cli.py` builds one; the REPL and the one-shot path both ask it for turns.
The store is optional (`--no-save`); when present, the user message is saved
before the request leaves and the reply is saved while it streams.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from chinwag.config import Settings
from chinwag.context import drop_half, fit, is_context_overflow
from chinwag.errors import ChinwagError
from chinwag.events import Event, TextDelta
from chinwag.providers.base import Provider
from chinwag.records import Message, Reply
from chinwag.turn import Conversation, Sink, run_turn

if TYPE_CHECKING:
    from chinwag.recorder import Recorder

OVERFLOW_RETRIES = 3  # halvings of the history after a "prompt too long" error
REFILL = 0.6  # after cutting history, fill this much of the window so the cut can stay put


@dataclass
class Session:
    settings: Settings
    provider: Provider
    conversation: Conversation
    recorder: Recorder | None = None
    last_reply: Reply | None = None
    stream: bool = True
    notify: Callable[[str], None] = field(default=lambda message: None, repr=False)
    _told_about_trimming: bool = field(default=False, repr=False)
    _cut: int = field(default=0, repr=False)  # messages left out of requests, from the start

    @property
    def model(self) -> str:
        return self.settings.model or getattr(self.provider, "model_name", "") or self.provider.name

    def ask(self, text: str, sinks: list[Sink]) -> Reply:
        """Send `text` as the next user message and stream the reply."""
        self.conversation.ask(text)
        self._save_user(text)
        return self._turn(sinks, prefill="")

    def new_conversation(self) -> None:
        """Start afresh: the next message opens a new saved conversation."""
        self.conversation.messages.clear()
        if self.recorder is not None:
            self.recorder.new_conversation()
        self.last_reply = None
        self.reset_window()

    def reset_window(self) -> None:
        """Measure the history afresh (a new conversation, or another model's window)."""
        self._cut = 0
        self._told_about_trimming = False

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
        messages = self._fitted(self.conversation.sendable())
        if self.recorder is not None:
            self.recorder.begin_reply(self.model, prefill)
        for _ in range(OVERFLOW_RETRIES + 1):
            request = self.conversation.request(
                self.settings.model, self.settings.max_tokens, self.settings.temperature, self.stream, messages
            )
            saver = self.recorder.reply_sink(prefill) if self.recorder is not None else None
            savers = [saver] if saver is not None else []
            reply = run_turn(self.provider, request, [*sinks, *savers])
            # A server we could not measure says the prompt is too long: halve the history, ask again.
            if reply.text or not is_context_overflow(reply.error) or len(messages) < 2:
                break
            messages = self._left_out(*drop_half(messages))
        if prefill:
            self.conversation.messages.pop()
            reply = replace(reply, text=prefill + reply.text)
        self.conversation.record(reply)
        self.last_reply = reply
        return reply

    def _fitted(self, messages: list[Message]) -> list[Message]:
        """The newest messages that fit the model's context window, where we know it.

        Once history must be cut, it is cut down to REFILL of the window, and
        the cut stays put while later turns still fit: a prompt whose start
        does not move lets llama.cpp reuse its evaluated prefix, so a long
        local conversation does not re-read the whole window every turn."""
        window_of = getattr(self.provider, "context_window", None)
        window = window_of(self.settings.model) if window_of else None
        if window is None:
            return messages
        room = min(self.settings.max_tokens, window.tokens // 2)
        kept, dropped = fit(messages[self._cut:], self.conversation.system, window, room)
        if dropped:
            kept, dropped = fit(messages[self._cut:], self.conversation.system, window, room, fill=REFILL)
            self._cut += dropped
        return self._left_out(kept, self._cut)

    def _left_out(self, kept: list[Message], dropped: int) -> list[Message]:
        if dropped and not self._told_about_trimming:
            self._told_about_trimming = True
            self.notify(f"left out the oldest {dropped} messages to fit the model's context "
                        "window (all are kept in history)")
        return kept

    def _save_user(self, text: str) -> None:
        if self.recorder is not None:
            self.recorder.save_user(text, self.model, self.conversation.system)
