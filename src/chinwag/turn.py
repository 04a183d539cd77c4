"""One turn of the conversation: a request, the provider's events, the Reply snapshot.

Data flows one way: provider events -> `accumulate` (the reply snapshot) ->
every sink (terminal, --json, store). Sinks hold no state the others need;
the `Reply` snapshot is the single record of what was shown.

`Turn` is one attempt of a reply: a request and the provider's events
(iterate it; the session's turn does, session_turn.py). Where a turn is
driven to the terminal, --json, the page and the Python API: driver.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, assert_never

from chinwag.errors import ChinwagError
from chinwag.providers.base import Provider

# The records and events are imported where they are used, after the prompt is drawn (start-up).
if TYPE_CHECKING:
    from chinwag.events import Event
    from chinwag.records import Block, ChatRequest, Reply, Text, Thinking, ToolCall


def accumulate(reply: Reply, event: Event, elapsed: float) -> Reply:
    """The reply after `event`, `elapsed` seconds into the turn.

    A reply of text alone keeps `blocks` empty (no copy of the text per
    chunk); once thinking or a tool call appears, blocks hold every part in
    order, the text so far included."""
    from chinwag.events import (Notice, Retrying, Stop, TextDelta, ThinkingDelta, ToolCallReady, ToolCallStart,
                                ToolInputDelta, ToolProgress, ToolResultReady, ToolRunning, Usage)
    from chinwag.records import Text, Thinking, ToolCall

    match event:
        case TextDelta():
            ttft = reply.ttft if reply.ttft is not None else elapsed
            blocks = reply.blocks
            if blocks:
                last = blocks[-1]
                blocks = (blocks[:-1] + (Text(last.text + event.text),) if isinstance(last, Text)
                          else blocks + (Text(event.text),))
            return replace(reply, text=reply.text + event.text, ttft=ttft, blocks=blocks)
        case ThinkingDelta():
            blocks = _mixed(reply)
            open_thinking = blocks[-1] if blocks and isinstance(blocks[-1], Thinking) else None
            if event.redacted:
                blocks = blocks + (Thinking("", "", event.redacted),)
            elif open_thinking is not None and not open_thinking.signature and not open_thinking.redacted:
                blocks = blocks[:-1] + (Thinking(open_thinking.text + event.text, event.signature),)
            else:
                blocks = blocks + (Thinking(event.text, event.signature),)
            ttft = reply.ttft if reply.ttft is not None else elapsed
            return replace(reply, blocks=blocks, ttft=ttft)
        case ToolCallReady():
            ttft = reply.ttft if reply.ttft is not None else elapsed
            return replace(reply, blocks=_mixed(reply) + (ToolCall(event.id, event.name, event.input),), ttft=ttft)
        case Usage():
            return replace(reply, input_tokens=event.input_tokens, output_tokens=event.output_tokens)
        case Stop():
            return replace(reply, stop_reason=event.reason)
        case ToolCallStart() | ToolInputDelta():
            return reply  # the call joins the reply whole, with ToolCallReady
        case Retrying() | Notice() | ToolRunning() | ToolProgress() | ToolResultReady():
            return reply  # about the turn, not part of the reply
        case _:
            assert_never(event)


def _mixed(reply: Reply) -> tuple[Block, ...]:
    """The reply's blocks, starting them from its text if it was text alone so far."""
    from chinwag.records import Text

    return reply.blocks or ((Text(reply.text),) if reply.text else ())


class Turn:
    """One attempt at a turn's reply: a request and its reply. Iterating yields the events and keeps
    `reply` up to date; a provider failure ends the iteration and lands in
    `reply.status` and `reply.failure` (the typed error; `reply.error` its
    message), never as an exception. `prepare` builds
    the request (fitting the history may load a model: it belongs to the turn),
    and `notices` says what preparing it told the user (history left out)."""

    def __init__(self, provider: Provider, prepare: Callable[[], ChatRequest],
                 notices: Callable[[], list[str]] = list, clock: Callable[[], float] = time.monotonic,
                 stopping: threading.Event | None = None) -> None:
        from chinwag.records import Reply

        self.provider, self.prepare, self.notices, self.clock = provider, prepare, notices, clock
        self.reply = Reply()
        self._started = clock()
        self._events: Iterator[Event] | None = None
        # Set from another thread by whoever stops the turn (SessionTurn.stop, which
        # also cancels the provider's stream): a stream not begun yet never begins.
        self._stopping = stopping if stopping is not None else threading.Event()

    def __iter__(self) -> Iterator[Event]:
        from chinwag.events import Notice

        try:
            request = self.prepare()
            if request.schema is not None:  # saved with the reply, checked at its end
                self.reply = replace(self.reply, schema=request.schema)
            yield from (Notice(text) for text in self.notices())
            self._events = self.provider.stream(request)
            if self._stopping.is_set():  # stopped before the stream began: it never will
                self.cancel()
                return
            for event in self._events:
                self.reply = accumulate(self.reply, event, self.clock() - self._started)
                yield event
            self.reply = replace(self.reply, status="complete")
            if request.schema is not None and not self.reply.tool_calls:  # the answer, not a tool round
                from chinwag.structured import checked

                self.reply = checked(self.reply, request.schema)
        except ChinwagError as exc:
            self.reply = replace(self.reply, status="interrupted" if self.reply.text else "error",
                                 failure=exc)
        finally:
            self.close()

    def cancel(self) -> None:
        """The user stopped the reply (Ctrl-C), on the iterating thread: keep what arrived."""
        if self.reply.status == "streaming":
            self.reply = replace(self.reply, status="interrupted", error="stopped", cancelled=True)
        self.close()

    def close(self) -> None:
        """Close the provider's stream (and so its connection) at once; idempotent."""
        events, self._events = self._events, None
        close = getattr(events, "close", None)
        if close is not None:
            try:
                close()
            except ChinwagError:
                pass  # it was being abandoned anyway
        if self.reply.duration is None and self.reply.status != "streaming":
            self.reply = replace(self.reply, duration=self.clock() - self._started)
