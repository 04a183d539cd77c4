"""Where a turn is driven: `run_turn` feeds each event of a turn to every
sink and ends every sink whatever happened, each on its own, savers first.
(Moved from turn.py.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from chinwag.errors import ChinwagError
from chinwag.events import Event, TextDelta
from chinwag.interrupts import InterruptGuard
from chinwag.records import Reply


class Sink(Protocol):
    """Something that watches a turn: the terminal, --json output, the store."""

    def on_start(self) -> None: ...

    def on_event(self, event: Event, reply: Reply) -> None: ...

    def on_end(self, reply: Reply) -> None: ...


class TurnLike(Protocol):
    """A turn as `run_turn` drives it: `Turn`, or the session's turn around it."""

    @property
    def reply(self) -> Reply: ...

    def __iter__(self) -> Iterator[Event]: ...

    def cancel(self) -> None: ...

    def finish(self) -> list[Event]: ...


def run_turn(turn: TurnLike, sinks: list[Sink], guard: InterruptGuard | None = None) -> Reply:
    """Stream one turn to every sink and return the reply. Ctrl-C while
    waiting or streaming cancels the turn. However the turn ends, the turn's
    own bookkeeping (saving, recording) runs first, then every sink's `on_end`,
    each on its own; a second Ctrl-C meanwhile skips none of it (see interrupts.py)."""
    guard = guard or InterruptGuard()
    events = iter(turn)
    shown = ""  # the reply's text as far as the sinks were given it
    try:
        with guard.allowed():
            for sink in sinks:
                sink.on_start()
        while True:
            # Ctrl-C may stop the wait for the next event, not the handing of
            # one to the sinks: the reply kept is the reply shown.
            with guard.allowed():
                event = next(events, None)
            if event is None:
                break
            for sink in sinks:
                sink.on_event(event, turn.reply)
            shown = turn.reply.text
    except KeyboardInterrupt:
        turn.cancel()
    finally:
        if turn.reply.status == "streaming":  # a sink failed (a closed pipe): the turn is over all the same
            turn.cancel()
        _close(events)
        # A press can land in the instant after text joined the reply and before
        # it was handed on: it arrived, so it is kept, and shown like the rest.
        text = turn.reply.text
        unshown = [TextDelta(text[len(shown):])] if len(text) > len(shown) and text.startswith(shown) else []
        late = unshown + turn.finish()
        try:
            for event in late:
                for sink in sinks:
                    sink.on_event(event, turn.reply)
        finally:
            end_all(sinks, turn.reply)
            guard.discard()  # a press while the turn was ending was for this turn
    return turn.reply


def _close(events: Iterator[Event]) -> None:
    """End the turn's iteration now, not whenever it is collected."""
    close = getattr(events, "close", None)
    if close is not None:
        try:
            close()
        except ChinwagError:
            pass


def end_all(sinks: Iterable[Sink], reply: Reply) -> None:
    """Call every sink's `on_end`, each on its own: one failing (a closed pipe,
    a full disk) does not keep the others from finishing."""
    failure: BaseException | None = None
    for sink in sinks:
        try:
            sink.on_end(reply)
        except (ChinwagError, OSError) as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
