"""Keys typed while a reply streams: kept for the next prompt, never echoed into the reply.

ECHO is turned off on the terminal for the turn (TCSANOW: nothing in the
input queue is flushed), so what is typed waits in the queue and readline
shows it at the next `You:`. Bracketed paste stays on for the turn too
(readline turns it off when a read ends): a block pasted while a reply
streams waits as one paste, and is one message at the next prompt, not one
message per line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

PASTE_ON, PASTE_OFF = "\x1b[?2004h", "\x1b[?2004l"  # bracketed paste (xterm)


def _say(screen: TextIO | None, sequence: str) -> None:
    """Write a mode sequence to the terminal, if `screen` is one (a hung-up one is
    ignored); TERM=dumb gets no escape codes, as at the prompt (reader.py)."""
    try:
        if screen is not None and screen.isatty() and os.environ.get("TERM") != "dumb":
            screen.write(sequence)
            screen.flush()
    except (OSError, ValueError):
        pass


class TypeaheadHidden:
    """While a reply streams, keys typed are not echoed into it: ECHO is off on
    the terminal (TCSANOW, nothing flushed), so they wait in the terminal's
    input queue and readline shows them at the next prompt. `restore` is
    idempotent and safe on a terminal that has gone away."""

    def __init__(self, stream: TextIO, screen: TextIO | None = None) -> None:
        self._fd: int | None = None
        self._saved: list[Any] | None = None
        self._screen = screen  # where the terminal is told to bracket pastes
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
        _say(screen, PASTE_ON)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The terminal as it was before, for a while (stopped by Ctrl-Z: the
        shell gets it back); then whatever mode it had (ours, or readline's
        at an approval question) again."""
        if self._fd is None or self._saved is None:
            yield
            return
        _say(self._screen, PASTE_OFF)
        try:
            with _in_mode(self._fd, self._saved):
                yield
        finally:
            _say(self._screen, PASTE_ON)

    def restore(self) -> None:
        fd, saved, self._saved = self._fd, self._saved, None
        if fd is None or saved is None:
            return
        _set_mode(fd, saved)
        _say(self._screen, PASTE_OFF)


@contextmanager
def echoed(stream: TextIO, screen: TextIO | None = None) -> Iterator[None]:
    """The terminal's echo on for a while, as it was after: a question asked
    mid-turn (tool approval) must show what is typed, and readline only echoes
    when it finds ECHO on. After it, bracketed paste is on again on `screen`:
    readline turned it off when its read ended, and the turn goes on."""
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
    try:
        with _in_mode(fd, loud):
            yield
    finally:
        _say(screen, PASTE_ON)


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


def lines_waiting(stream: TextIO) -> bool:
    """Whether a whole line (Enter pressed) waits in the terminal's input queue:
    in canonical mode the kernel counts only finished lines (FIONREAD)."""
    try:
        fd = stream.fileno()
        if not os.isatty(fd):
            return False
        import fcntl
        import struct
        import termios

        pending: int = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except (OSError, ValueError, AttributeError):
        return False
    return pending > 0


def discard_typeahead(stream: TextIO) -> int:
    """Throw away keys typed before now (the terminal's input queue); how many
    bytes there were. A consent question calls it once it is on screen: keys
    typed while the reply streamed were meant for the next prompt, and must
    not answer a question the person had not seen."""
    try:
        fd = stream.fileno()
        if not os.isatty(fd):
            return 0
        import fcntl
        import struct
        import termios

        pending: int = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        termios.tcflush(fd, termios.TCIFLUSH)
    except (OSError, ValueError, AttributeError):
        return 0
    return pending
