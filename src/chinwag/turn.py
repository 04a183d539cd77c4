"""One turn of the conversation: send the history, consume events, feed the sinks.

Data flows one way: provider events -> `accumulate` (the reply snapshot) ->
every sink (terminal, --json, store). Sinks hold no state the others need;
the `Reply` snapshot is the single record of what was shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from chinwag.errors import ChinwagError
from chinwag.events import Event, Retrying, Stop, TextDelta, Usage
from chinwag.providers.base import Provider
from chinwag.records import ChatRequest, Message, Reply


class Sink(Protocol):
    """Something that watches a turn: the terminal, --json output, the store."""

    def on_start(self) -> None: ...

    def on_event(self, event: Event, reply: Reply) -> None: ...

    def on_end(self, reply: Reply) -> None: ...


def accumulate(reply: Reply, event: Event, elapsed: float) -> Reply:
    """The reply after `event`, `elapsed` seconds into the turn."""
    if isinstance(event, TextDelta):
        ttft = reply.ttft if reply.ttft is not None else elapsed
        return replace(reply, text=reply.text + event.text, ttft=ttft)
    if isinstance(event, Usage):
        return replace(reply, input_tokens=event.input_tokens, output_tokens=event.output_tokens)
    if isinstance(event, Stop):
        return replace(reply, stop_reason=event.reason)
    if isinstance(event, Retrying):
        return reply
    raise AssertionError(f"unknown event {event!r}")  # pragma: no cover


def run_turn(
    provider: Provider,
    request: ChatRequest,
    sinks: Iterable[Sink],
    clock: Callable[[], float] = time.monotonic,
) -> Reply:
    """Stream one reply to every sink. Never raises for provider failures or
    Ctrl-C: they end up in the returned reply's status, error and cancelled."""
    sinks = list(sinks)
    started = clock()
    reply = Reply()
    events: Iterator[Event] | None = None
    try:
        for sink in sinks:
            sink.on_start()
        events = provider.stream(request)
        for event in events:
            reply = accumulate(reply, event, clock() - started)
            for sink in sinks:
                sink.on_event(event, reply)
        reply = replace(reply, status="complete")
    except ChinwagError as exc:
        reply = replace(reply, status="interrupted" if reply.text else "error", error=exc.message)
    except KeyboardInterrupt:
        reply = replace(reply, status="interrupted", error="stopped", cancelled=True)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # closes the HTTP connection at once, whatever happened
        reply = replace(reply, duration=clock() - started)
        for sink in sinks:
            sink.on_end(reply)
    return reply


@dataclass
class Conversation:
    """The history sent to the model. Never holds an empty assistant message."""

    system: str | None
    messages: list[Message] = field(default_factory=list)

    def ask(self, text: str) -> None:
        self.messages.append(Message("user", text))

    def record(self, reply: Reply) -> None:
        """Keep what was shown: a partial reply is history too (the model sees
        exactly what the user saw). An empty one is dropped."""
        if reply.text:
            self.messages.append(Message("assistant", reply.text))

    def request(self, model: str, max_tokens: int, temperature: float | None, stream: bool = True,
                messages: list[Message] | None = None) -> ChatRequest:
        """The request for the next reply: the whole history, or `messages` (a trimmed tail of it)."""
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
                pending = Message(message.role, pending.content + "\n\n" + message.content)
                continue
            if pending:
                yield pending
            pending = message
        if pending:
            yield pending
