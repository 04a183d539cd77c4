"""Where Ctrl-C may land during a turn.

Python raises KeyboardInterrupt at whatever bytecode runs when SIGINT comes.
While a reply streams that is what we want: the read stops at once and the
partial reply is kept. But in the instant a message is saved, or a reply is
recorded and its final save made, an interrupt would leave the history and
what was shown out of step. So during a turn SIGINT is *guarded*: it raises
only inside `allowed()` sections (waiting for and reading the reply); a press
anywhere else is remembered, and the next `allowed()` section raises it at
once (the turn is cancelled before the request leaves), or, if the turn is
already ending, it is dropped: the reply has ended anyway.

The chat holds the guard for its whole life: reading a line and running a
command are `allowed()` too, so the only presses held back are those in the
instant between Enter and the turn starting (they stop the reply, and the
message is still recorded) and those while a turn is being recorded.

Signal handlers belong to the main thread; elsewhere (the Python API used
from a worker thread) both context managers do nothing.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class InterruptGuard:
    def __init__(self) -> None:
        self._allowed = False
        self._pending = False
        self._depth = 0

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Hold SIGINT back for the duration of a turn, except in `allowed()` sections."""
        if threading.current_thread() is not threading.main_thread() or self._depth:
            # Nested: a turn run by a command (/retry, /continue) inside the
            # chat's `allowed()`: held back again until the turn's own sections.
            self._depth += 1
            allowed, self._allowed = self._allowed, False
            try:
                yield
            finally:
                self._depth -= 1
                self._allowed = allowed
            return
        previous = signal.getsignal(signal.SIGINT)
        if previous is not signal.default_int_handler:
            yield  # someone else handles SIGINT (a test harness, an embedding app)
            return
        self._pending = False
        self._depth = 1
        signal.signal(signal.SIGINT, self._on_sigint)
        unraisable, sys.unraisablehook = sys.unraisablehook, self._unraisable_hook(sys.unraisablehook)
        try:
            yield
        finally:
            sys.unraisablehook = unraisable
            signal.signal(signal.SIGINT, previous)
            self._depth = 0
            self._allowed = False

    @contextmanager
    def allowed(self) -> Iterator[None]:
        """Ctrl-C raises KeyboardInterrupt in here: at once if it came earlier in the turn."""
        self._allowed = True
        try:
            if self._pending:
                self._pending = False
                raise KeyboardInterrupt
            yield
        finally:
            self._allowed = False

    def hold(self) -> None:
        """Act as if Ctrl-C had been pressed while held back: the next `allowed()` raises."""
        self._pending = True

    def discard(self) -> None:
        """Forget a press held back so far (the turn it was meant for has ended)."""
        self._pending = False

    def _unraisable_hook(self, previous: Callable[[Any], object]) -> Callable[[Any], object]:
        """A press raised in a finalizer (a generator closed as it is dropped,
        say) cannot propagate: Python would print it as "Exception ignored ...
        Traceback" and lose it. Keep it for the next `allowed()` instead."""
        def hook(unraisable: Any) -> object:
            if isinstance(unraisable.exc_value, KeyboardInterrupt):
                self._pending = True
                return None
            return previous(unraisable)

        return hook

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._allowed:
            self._allowed = False  # one press, one KeyboardInterrupt
            raise KeyboardInterrupt
        self._pending = True
