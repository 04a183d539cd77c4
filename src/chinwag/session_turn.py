"""One turn of a session: the reply, its attempts and its rounds of tool calls,
as a state machine of explicit phases (`Phase`, `TRANSITIONS`).

    PREPARING -> STREAMING -> FINISHING -> DONE
        ^            |  ^
        |            |  +-- (the prompt was too long: half the history, PREPARING again)
        |            v
        +---- RUNNING_TOOLS -> FINISHING (stopped, or the round limit: calls answered as not run)

`TurnDriver` (driver.py) drives it; each attempt is a `Turn` (turn.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from chinwag.context import drop_half
from chinwag.errors import ChinwagError, ContextOverflow
from chinwag.turn import Turn

if TYPE_CHECKING:
    from chinwag.events import Event
    from chinwag.history.recorder import StoreSink
    from chinwag.records import ChatRequest, Message, Reply, ToolCall
    from chinwag.session import Session
    from chinwag.toolloop import ResultBlock

OVERFLOW_RETRIES = 3  # halvings of the history after a "prompt too long" error


class Phase(Enum):
    """Where a session's turn is. The transitions are all in `TRANSITIONS`."""

    PREPARING = "preparing"  # an attempt's request is being built (the history fitted) and sent
    STREAMING = "streaming"  # the request went out: the model's reply arrives
    RUNNING_TOOLS = "running tools"  # the reply is recorded; its calls are approved and run
    FINISHING = "finishing"  # recording what the turn leaves in the conversation
    DONE = "done"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    # PREPARING again: preparing failed (the attempt ended) and the next one begins
    Phase.PREPARING: frozenset({Phase.STREAMING, Phase.PREPARING, Phase.FINISHING}),
    # PREPARING: the prompt was too long, half the history is sent again
    Phase.STREAMING: frozenset({Phase.PREPARING, Phase.RUNNING_TOOLS, Phase.FINISHING}),
    # PREPARING: the results go back to the model for its next round
    Phase.RUNNING_TOOLS: frozenset({Phase.PREPARING, Phase.FINISHING}),
    Phase.FINISHING: frozenset({Phase.DONE}),
    Phase.DONE: frozenset(),
}


class SessionTurn:
    """One turn of a session: the model's reply and, while it asks for tools,
    rounds of running them and asking again (up to the tool round limit).
    Each reply may take several attempts (a server that says the prompt is
    too long gets half the history), each saved while it streams; `finish()`
    records what the turn leaves in the conversation. `TurnDriver` drives it
    (driver.py); its phases are `Phase`."""

    def __init__(self, session: Session, prefill: str, question: Message | None = None,
                 schema: Mapping[str, Any] | None = None) -> None:
        self.session, self.prefill = session, prefill
        self.schema = schema  # this turn's own (the API's ask(schema=...)); None: the settings'
        self.phase = Phase.PREPARING
        self._question = question  # the user's question this turn answers (not tool results)
        self._attempt: Turn | None = None  # the latest request and its reply
        self._cancelled_in: Phase | None = None  # where the user stopped the turn, if they did
        self._withdrawn = False  # the question was taken back (stopped before any reply)
        self._stopping = threading.Event()  # `stop()` was called, from any thread
        self._savers: list[StoreSink] = []
        self._sent: list[Message] = []  # the messages the latest attempt sent
        self._calls: tuple[ToolCall, ...] = ()  # the recorded reply's calls awaiting results
        self._results: list[ResultBlock] = []  # each call's result, then the images it gave
        self._joined_prefill = ""  # a /continue's partial, once recorded with its continuation
        self._saved_this_round = False  # a saver was started for this round's reply row
        if session.recorder is not None:
            session.recorder.begin_reply(session.model, prefill)

    def _enter(self, phase: Phase) -> None:
        assert phase in TRANSITIONS[self.phase], f"a turn cannot go from {self.phase.value} to {phase.value}"
        self.phase = phase

    @property
    def reply(self) -> Reply:
        reply = self._latest()
        if self._cancelled_in is Phase.RUNNING_TOOLS:  # the reply had ended; a tool (or its approval) was stopped
            reply = replace(reply, status="interrupted", error="stopped while a tool ran", cancelled=True)
        if self._withdrawn:
            reply = replace(reply, withdrawn=True)
        return reply

    def _latest(self) -> Reply:
        """The latest attempt's reply (stopped before any attempt: an empty, stopped one)."""
        from chinwag.records import Reply

        if self._attempt is not None:
            return self._attempt.reply
        if self._cancelled_in is not None:
            return Reply(status="interrupted", error="stopped", cancelled=True, duration=0.0)
        return Reply()

    def __iter__(self) -> Iterator[Event]:
        session = self.session
        tool_use = session.tool_use
        rounds = tool_use.settings.max_rounds if tool_use is not None else 0
        for round_ in range(rounds + 1):
            yield from self._reply()
            reply = self._latest()
            if tool_use is None or reply.status != "complete" or not reply.tool_calls:
                return
            self._record_reply()
            self._calls, self._results = reply.tool_calls, []
            self._enter(Phase.RUNNING_TOOLS)
            if round_ == rounds:
                session.notice(f"stopped after {rounds} round{'s' * (rounds != 1)} of tool calls (max_tool_rounds)")
                return  # finish() answers the calls as not run
            yield from tool_use.run_calls(self._calls, session.recorder, self._results, self._stopping)
            # Until the next round is set up, a Ctrl-C finds the turn still running its
            # tools, with every call answered: nothing is recorded twice.
            self._send_results()
            if session.recorder is not None:
                session.recorder.begin_reply(session.model, "")
            self._attempt, self._saved_this_round = None, False  # the next reply has not begun
            self._enter(Phase.PREPARING)

    def _reply(self) -> Iterator[Event]:
        session = self.session
        messages: list[Message] | None = None
        for _ in range(OVERFLOW_RETRIES + 1):
            def prepare(messages: list[Message] | None = messages) -> ChatRequest:
                session.wait_for_warm_up()
                fitted = session.fitted(session.conversation.sendable()) if messages is None else messages
                self._sent = fitted
                request = session.request(fitted, continuing=bool(self.prefill), schema=self.schema)
                self._enter(Phase.STREAMING)
                return request

            self._attempt = Turn(session.provider, prepare, session.take_notices, stopping=self._stopping)
            self._start_savers()
            for event in self._attempt:
                for saver in self._savers:
                    saver.on_event(event, self._attempt.reply)
                yield event
            reply = self._attempt.reply
            # A server we could not measure says the prompt is too long: halve the history, ask again.
            if reply.text or not isinstance(reply.failure, ContextOverflow) or len(self._sent) < 2:
                return
            self._end_savers()
            self._enter(Phase.PREPARING)
            messages = session.left_out(*drop_half(self._sent))

    def stop(self) -> None:
        """Stop the turn from any thread (the page's Stop): the provider's stream
        is cancelled at once and no later attempt starts one. The driving
        thread still ends the turn (`cancel`, `finish`)."""
        self._stopping.set()
        self.session.provider.cancel()

    def cancel(self) -> None:
        """The user stopped the turn (on the driving thread): keep what arrived."""
        if self.phase in (Phase.FINISHING, Phase.DONE):
            return
        if self._cancelled_in is None:
            self._cancelled_in = self.phase
        if self._attempt is not None:
            self._attempt.cancel()

    def finish(self) -> list[Event]:
        """Save and record the turn (once); the notices that leaves for the user."""
        from chinwag.events import Notice

        if self.phase in (Phase.FINISHING, Phase.DONE):
            return []
        if self._attempt is None or self._attempt.reply.status == "streaming":
            self.cancel()
        was = self.phase
        self._enter(Phase.FINISHING)
        if self._attempt is not None:
            self._attempt.close()
        if was is Phase.RUNNING_TOOLS:  # stopped while running tools, or at the round limit
            self._send_results()
        else:
            self._record_reply()
            self._withdraw_if_unanswered()
        recorder = self.session.recorder
        saved = recorder.reply_id if recorder is not None else None
        self.session.last_reply = replace(self._shown(self.reply), message_id=saved)
        self._enter(Phase.DONE)
        return [Notice(text) for text in self.session.take_notices()]

    def _withdraw_if_unanswered(self) -> None:
        """Ctrl-C before any reply: the question is kept aside, marked cancelled in
        the history, and not sent with the next one (/retry asks it again)."""
        reply, messages = self.reply, self.session.conversation.messages
        if (not reply.cancelled or reply.text or reply.blocks or self._question is None
                or not messages or messages[-1] is not self._question):
            return
        recorder = self.session.recorder
        if recorder is not None and not recorder.question_cancelled():
            return  # (a question from before `-c`: it cannot be marked, so it stays, as it is saved)
        self.session.withdrawn = messages.pop()
        self._withdrawn = True

    def _record_reply(self) -> None:
        """The latest reply into the conversation (and its final save)."""
        if not self._saved_this_round:  # stopped before any attempt streamed: the row still gets its end
            self._start_savers()
        self._end_savers()
        reply = self._shown(self._latest())
        conversation = self.session.conversation
        if self.prefill:
            conversation.messages.pop()  # the partial reply, now part of this one
            self._joined_prefill, self.prefill = self.prefill, ""
        conversation.record(reply)

    def _shown(self, reply: Reply) -> Reply:
        """The reply as the user sees it: a /continue's text joins the partial it resumed."""
        prefix = self.prefill or self._joined_prefill
        return replace(reply, text=prefix + reply.text) if prefix else reply

    def _send_results(self) -> None:
        """Answer every call of the recorded reply (those not run, as not run) as
        the next user message; nothing if they are answered already."""
        from chinwag.toolloop import unanswered

        if not self._calls:
            return
        results = unanswered(self._calls, self._results)
        self._calls, self._results = (), []
        self.session.conversation.add_results(results)
        if self.session.recorder is not None:
            self.session.recorder.save_results(results, self.session.model)

    def _start_savers(self) -> None:
        self._saved_this_round = True
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
                self.session.notice(f"this reply could not be saved: {exc}")
