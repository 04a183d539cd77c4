"""Keys typed while a reply streams: kept for the next prompt, never echoed into the reply.

ECHO is turned off on the terminal for the turn (TCSANOW: nothing in the
input queue is flushed), so what is typed waits in the queue and readline
shows it at the next `You:`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class TypeaheadHidden:
    """While a reply streams, keys typed are not echoed into it: ECHO is off on
    the terminal (TCSANOW, nothing flushed), so they wait in the terminal's
    input queue and readline shows them at the next prompt. `restore` is
    idempotent and safe on a terminal that has gone away."""

    def __init__(self, stream: TextIO) -> None:
        self._fd: int | None = None
        self._saved: list[Any] | None = None
        try:
            fd = stream.fileno()
            if not os.isatty(fd):
                return
            import termios

            saved = termios.tcgetattr(fd)
            quiet = list(saved)
            quiet[3] &= ~(termios.ECHO | termios.ECHONL)
            termios.tcsetattr(fd, termios.TCSANOW, quiet)
        except (OSError, ValueError, AttributeError):
            return
        self._fd, self._saved = fd, saved

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The terminal as it was before, for a while (stopped by Ctrl-Z: the
        shell gets it back); then whatever mode it had (ours, or readline's
        at an approval question) again."""
        if self._fd is None or self._saved is None:
            yield
            return
        with _in_mode(self._fd, self._saved):
            yield

    def restore(self) -> None:
        fd, saved, self._saved = self._fd, self._saved, None
        if fd is not None and saved is not None:
            _set_mode(fd, saved)


@contextmanager
def echoed(stream: TextIO) -> Iterator[None]:
    """The terminal's echo on for a while, as it was after: a question asked
    mid-turn (tool approval) must show what is typed, and readline only echoes
    when it finds ECHO on."""
    loud: list[Any] | None = None
    try:
        fd = stream.fileno()
        if os.isatty(fd):
            import termios

            mode = termios.tcgetattr(fd)
            if not mode[3] & termios.ECHO:  # already on: nothing to do or undo
                loud = list(mode)
                loud[3] |= termios.ECHO
    except (OSError, ValueError, AttributeError):
        pass
    if loud is None:
        yield
        return
    with _in_mode(fd, loud):
        yield


@contextmanager
def _in_mode(fd: int, mode: list[Any]) -> Iterator[None]:
    """The terminal in `mode` for a while, then in the mode it had."""
    import termios

    try:
        before = termios.tcgetattr(fd)
        termios.tcsetattr(fd, termios.TCSANOW, mode)
    except (termios.error, OSError):
        yield
        return
    try:
        yield
    finally:
        _set_mode(fd, before)


def _set_mode(fd: int, mode: list[Any]) -> None:
    import termios

    try:
        termios.tcsetattr(fd, termios.TCSANOW, mode)
    except (termios.error, OSError):
        pass  # the terminal hung up: there is nothing left to set
