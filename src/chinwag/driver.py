"""Where a turn is driven: one set of rules for iterating, cancelling and
finishing a turn, however it is shown.

`TurnDriver` iterates a `SessionTurn` and hands each event to every sink
(the `Sink` protocol: the terminal, --json, the page's `LiveTurn`). Its
callers only say when a turn is stopped:

- `run()`, the push side: the terminal and --json (Ctrl-C, allowed only
  while waiting for the next event, cancels), and the page (its Stop calls
  `stop()` from another thread: the provider's stream is cancelled at once).
- `pull()`, the Python API's iterator: the caller's `break`, or dropping it,
  cancels.

However the turn ends, `end()` runs once: the turn's own bookkeeping
(saving, recording) first, then the events that leaves (text that arrived
but was not handed on, notices) to every sink, then every sink's `on_end`,
each on its own. A second Ctrl-C meanwhile skips none of it (interrupts.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Protocol

from chinwag.errors import ChinwagError

if TYPE_CHECKING:
    from chinwag.events import Event
    from chinwag.interrupts import InterruptGuard
    from chinwag.records import Reply
    from chinwag.session_turn import SessionTurn


class Sink(Protocol):
    """Something that watches a turn: the terminal, --json output, the store, the page."""

    def on_start(self) -> None: ...

    def on_event(self, event: Event, reply: Reply) -> None: ...

    def on_end(self, reply: Reply) -> None: ...


class TurnDriver:
    """Drives one turn to every sink (see the module docstring)."""

    def __init__(self, turn: SessionTurn, sinks: Sequence[Sink] = ()) -> None:
        self.turn, self.sinks = turn, list(sinks)
        self._events: Iterator[Event] = iter(turn)
        self._shown = ""  # the reply's text as far as the sinks were given it
        self._stopped = threading.Event()  # `stop()` was called
        self._ended = False

    @property
    def reply(self) -> Reply:
        return self.turn.reply

    def stop(self) -> None:
        """Stop the turn from any thread (the page's Stop): the provider's stream
        is cancelled now; the driving thread cancels the turn after the event
        it holds, if any, and ends it."""
        self._stopped.set()
        self.turn.stop()

    def run(self, guard: InterruptGuard | None = None,
            failed: Callable[[Exception], None] | None = None) -> Reply:
        """Stream the turn to every sink and return the reply. Ctrl-C while
        waiting (`guard`), or `stop()`, cancels it. An error other than a
        ChinwagError goes to `failed` if given (the page says it), else is raised
        once the turn has ended."""
        allowed: Callable[[], AbstractContextManager[object]] = guard.allowed if guard is not None else nullcontext
        try:
            with allowed():
                pass  # a press held back since Enter cancels the turn before anything is shown
            # Sinks start held back: a press now waits for the first wait below.
            # Cut short, a start could leave its half done for good (the
            # terminal's echo turned off, not yet in the sink to turn it on).
            for sink in self.sinks:
                sink.on_start()
            while not self._stopped.is_set():
                # Ctrl-C may stop the wait for the next event, not the handing of
                # one to the sinks: the reply kept is the reply shown.
                with allowed():
                    event = next(self._events, None)
                if event is None:
                    break
                self._hand(event)
            else:
                self.cancel()  # stopped: before it began, or after the event just handed on
        except KeyboardInterrupt:
            self.cancel()
        except Exception as exc:
            if failed is None:
                raise
            failed(exc)
        finally:
            try:
                self.end()
            finally:
                if guard is not None:
                    guard.discard()  # a press while the turn was ending was for this turn
        return self.turn.reply

    def pull(self) -> Iterator[Event]:
        """The turn's events, for the caller to iterate (each handed to the sinks
        first); closing it early, or an exception (Ctrl-C), cancels the turn.
        It ends the turn when it ends."""
        try:
            for sink in self.sinks:
                sink.on_start()
            while (event := next(self._events, None)) is not None:
                self._hand(event)
                yield event
        except BaseException:  # GeneratorExit (the caller stopped early) or Ctrl-C: keep what came
            self.cancel()
            raise
        finally:
            self.end()

    def cancel(self) -> None:
        """The user stopped the turn, on the driving thread: keep what arrived."""
        self.turn.cancel()

    def end(self) -> Reply:
        """End the turn (once): see the module docstring."""
        if self._ended:
            return self.turn.reply
        self._ended = True
        turn = self.turn
        if turn.reply.status == "streaming":  # a sink failed (a closed pipe): the turn is over all the same
            turn.cancel()
        close = getattr(self._events, "close", None)  # end the iteration now, not whenever it is collected
        if close is not None:
            try:
                close()
            except ChinwagError:
                pass
        # A press can land in the instant after text joined the reply and before
        # it was handed on: it arrived, so it is kept, and shown like the rest.
        from chinwag.events import TextDelta

        text, shown = turn.reply.text, self._shown
        unshown: list[Event] = [TextDelta(text[len(shown):])] if len(text) > len(shown) and text.startswith(shown) \
            else []
        try:
            for event in unshown + turn.finish():
                for sink in self.sinks:
                    sink.on_event(event, turn.reply)
        finally:
            end_all(self.sinks, turn.reply)
        return turn.reply

    def _hand(self, event: Event) -> None:
        for sink in self.sinks:
            sink.on_event(event, self.turn.reply)
        self._shown = self.turn.reply.text


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
