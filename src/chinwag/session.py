"""A chat session: settings, provider, the conversation, and where it is saved.

The CLI, the REPL and the Python API (`chinwag.Chat`) all ask a Session for
turns. The history is optional (`--no-save`); when kept, the user message is
saved before the request leaves and the reply while it streams (recorder.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from chinwag.config import Settings
from chinwag.context import drop_half, fit, is_context_overflow
from chinwag.conversation import Conversation
from chinwag.errors import ChinwagError, UsageError
from chinwag.events import Event, Notice
from chinwag.interrupts import InterruptGuard
from chinwag.providers.base import Provider
from chinwag.records import ChatRequest, Message, Reply
from chinwag.turn import Sink, Turn, run_turn

if TYPE_CHECKING:
    from chinwag.recorder import Recorder, StoreSink

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
    guard: InterruptGuard = field(default_factory=InterruptGuard, repr=False)
    _notices: list[str] = field(default_factory=list, repr=False)
    _told_about_trimming: bool = field(default=False, repr=False)
    _cut: int = field(default=0, repr=False)  # messages left out of requests, from the start

    @property
    def model(self) -> str:
        return self.settings.model or self.provider.model_name or self.provider.name

    # -- turns, pushed to sinks (the CLI) --------------------------------------

    def ask(self, text: str, sinks: list[Sink]) -> Reply:
        """Send `text` as the next user message and stream the reply to `sinks`."""
        with self.guard.guarded():
            return run_turn(self.begin(text), sinks, self.guard)

    def retry(self, sinks: list[Sink]) -> Reply:
        """Ask again: drop the last reply (if any) and resend the history."""
        with self.guard.guarded():
            return run_turn(self.begin_retry(), sinks, self.guard)

    def continue_reply(self, sinks: list[Sink]) -> Reply:
        """Resume the last, interrupted reply by prefilling it (where the provider can)."""
        with self.guard.guarded():
            return run_turn(self.begin_continue(), sinks, self.guard)

    # -- turns, pulled (the Python API) ---------------------------------------

    def begin(self, text: str) -> SessionTurn:
        """Record `text` as the next user message (saved before anything is sent)
        and return the turn that answers it: iterate it, then `finish()` it."""
        self.conversation.ask(text)
        if self.recorder is not None:
            self.recorder.save_user(text, self.model, self.conversation.system)
        return SessionTurn(self, prefill="")

    def begin_retry(self) -> SessionTurn:
        messages = self.conversation.messages
        if not messages:
            raise UsageError("nothing to retry yet.")
        if messages[-1].role == "assistant":
            messages.pop()
        return SessionTurn(self, prefill="")

    def begin_continue(self) -> SessionTurn:
        last = self.last_reply
        if last is None or last.status != "interrupted" or not last.text:
            raise UsageError("there is no interrupted reply to continue.")
        if not self.provider.supports_prefill:
            raise UsageError(f"{self.provider.name} cannot resume a reply; use /retry to ask again.")
        messages = self.conversation.messages
        partial = messages.pop().content.rstrip()  # Anthropic rejects a prefill ending in white space
        messages.append(Message("assistant", partial))
        return SessionTurn(self, prefill=partial)

    # -- the rest ---------------------------------------------------------------

    def new_conversation(self) -> None:
        """Start afresh: the next message opens a new saved conversation."""
        self.conversation.messages.clear()
        if self.recorder is not None:
            self.recorder.new_conversation()
        self.last_reply = None
        self.reset_window()

    def switch(self, settings: Settings, provider: Provider) -> None:
        """Another model or provider; the conversation goes on."""
        old, self.provider, self.settings = self.provider, provider, settings
        old.close()
        self.reset_window()

    def reset_window(self) -> None:
        """Measure the history afresh (a new conversation, or another model's window)."""
        self._cut = 0
        self._told_about_trimming = False

    def take_notices(self) -> list[str]:
        """One-line notices for the user since the last call (trimming, saving)."""
        notices, self._notices = self._notices, []
        if self.recorder is not None:
            notices += self.recorder.take_notices()
        return notices

    def close(self) -> None:
        """Close the provider's connections or model and the history database."""
        try:
            self.provider.close()
        finally:
            if self.recorder is not None:
                self.recorder.close()

    def fitted(self, messages: list[Message]) -> list[Message]:
        """The newest messages that fit the model's context window, where we know it.

        Once history must be cut, it is cut down to REFILL of the window, and
        the cut stays put while later turns still fit: a prompt whose start
        does not move lets llama.cpp reuse its evaluated prefix, so a long
        local conversation does not re-read the whole window every turn."""
        window = self.provider.context_window(self.settings.model)
        if window is None:
            return messages
        room = min(self.settings.max_tokens, window.tokens // 2)
        kept, dropped = fit(messages[self._cut:], self.conversation.system, window, room)
        if dropped:
            kept, dropped = fit(messages[self._cut:], self.conversation.system, window, room, fill=REFILL)
            self._cut += dropped
        return self.left_out(kept, self._cut)

    def left_out(self, kept: list[Message], dropped: int) -> list[Message]:
        if dropped and not self._told_about_trimming:
            self._told_about_trimming = True
            self._notices.append(f"left out the oldest {dropped} messages to fit the model's "
                                 "context window (all are kept in history)")
        return kept

    def request(self, messages: list[Message]) -> ChatRequest:
        s = self.settings
        return self.conversation.request(s.model, s.max_tokens, s.temperature, self.stream, messages)


class SessionTurn:
    """One turn of a session: one or more attempts (a server that says the
    prompt is too long gets half the history), each saved while it streams,
    and the reply recorded in the conversation by `finish()`."""

    def __init__(self, session: Session, prefill: str) -> None:
        self.session, self.prefill = session, prefill
        self._attempt: Turn | None = None
        self._savers: list[StoreSink] = []
        self._sent: list[Message] = []  # the messages the latest attempt sent
        self._finished = False
        if session.recorder is not None:
            session.recorder.begin_reply(session.model, prefill)

    @property
    def reply(self) -> Reply:
        return self._attempt.reply if self._attempt is not None else Reply()

    def __iter__(self) -> Iterator[Event]:
        session = self.session
        messages: list[Message] | None = None
        for _ in range(OVERFLOW_RETRIES + 1):
            def prepare(messages: list[Message] | None = messages) -> ChatRequest:
                fitted = session.fitted(session.conversation.sendable()) if messages is None else messages
                self._sent = fitted
                return session.request(fitted)

            self._attempt = Turn(session.provider, prepare, session.take_notices)
            self._start_savers()
            for event in self._attempt:
                for saver in self._savers:
                    saver.on_event(event, self._attempt.reply)
                yield event
            reply = self._attempt.reply
            # A server we could not measure says the prompt is too long: halve the history, ask again.
            if reply.text or not is_context_overflow(reply.error) or len(self._sent) < 2:
                return
            self._end_savers()
            messages = session.left_out(*drop_half(self._sent))

    def cancel(self) -> None:
        if self._attempt is None:
            self._attempt = Turn(self.session.provider, lambda: ChatRequest("", ()))
        self._attempt.cancel()

    def finish(self) -> list[Event]:
        """Save and record the reply (once); the notices that leaves for the user."""
        if self._finished:
            return []
        self._finished = True
        if self._attempt is None or self._attempt.reply.status == "streaming":
            self.cancel()
        assert self._attempt is not None
        self._attempt.finish()
        self._end_savers()
        reply = self._attempt.reply
        session = self.session
        if self.prefill:
            session.conversation.messages.pop()
            reply = replace(reply, text=self.prefill + reply.text)
        session.conversation.record(reply)
        session.last_reply = reply
        return [Notice(text) for text in session.take_notices()]

    def _start_savers(self) -> None:
        recorder = self.session.recorder
        saver = recorder.reply_sink(self.prefill) if recorder is not None else None
        self._savers = [saver] if saver is not None else []
        for saver in self._savers:
            saver.on_start()

    def _end_savers(self) -> None:
        savers, self._savers = self._savers, []
        reply = self.reply
        for saver in savers:
            try:
                saver.on_end(reply)
            except (ChinwagError, OSError) as exc:  # saving must never end the chat
                self.session._notices.append(f"this reply could not be saved: {exc}")


def open_session(settings: Settings, environ: Mapping[str, str], *,
                 resume: int | None = None, continue_last: bool = False) -> Session:
    """A session for `settings`: the provider is built on first use, the history opened lazily."""
    from chinwag.providers.registry import LazyProvider

    recorder = None
    if settings.save:
        from chinwag.paths import database_file
        from chinwag.recorder import Recorder

        recorder = Recorder(database_file(environ))
    session = Session(settings, LazyProvider(settings), Conversation(settings.system), recorder)
    if resume is not None or continue_last:
        if recorder is None:
            raise UsageError("--continue and --resume need saved history; drop --no-save.")
        system, messages = recorder.resume(resume)
        if system:
            session.conversation.system = system
        session.conversation.messages = messages
    return session
