"""A signal that lands just before the main thread blocks is still handled at once.

CPython runs a signal's Python handler in the main thread: at its next
bytecode, or when a wait it is blocked in is interrupted (EINTR). A signal
that comes while that thread is in C code and about to block interrupts
nothing, and neither does one the kernel hands to another thread (it does
when the main thread has another signal pending, or blocks them for a
moment, as around a fork): the handler runs only once the wait ends by
itself. readline between drawing the prompt or a typed key and its
select(), the network layer between reading a chunk and polling for the
next: a Ctrl-C pressed then did nothing until another key, or the server's
next byte (CI, under load: the press at `You:` after typing, and mid-reply
while the server was quiet; on a machine busy with a local model, the same).

`Kicker` closes that gap. While it is armed (the chat's guard holds SIGINT,
interrupts.py), Python's wakeup fd (`signal.set_wakeup_fd`) tells a daemon
thread of each signal that came; until the guard's handler has run, that
thread sends the main thread SIGURG, soon and then less often. SIGURG is
ignored by default (a kick that comes after disarming does nothing); while
armed it has a handler that does nothing, so a kick makes the main thread's
wait return EINTR, and CPython then runs every handler pending, the press's
too. Where the main thread was not waiting, a kick costs a no-op call.

A handler that runs inside a callback from C code (readline's hooks and
completer) must not raise: readline drops the exception, the press with it.
It asks for its signal to be sent again (`resend`), and this thread sends it
a moment later, when readline is back to reading keys.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

KICK = signal.SIGURG
RESENT = 0x80  # + a signal number (all below 0x80): a byte asking for that signal to be sent again
# After a watched signal: kick at these delays (s) until its handler has run (~2.5 s in all).
KICK_DELAYS = (0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.3, 0.6, 1.2)


def _nothing(signum: int, frame: FrameType | None) -> None:
    """SIGURG's handler while armed: the kick's only work is to interrupt a wait."""


class Kicker:
    """Kicks the main thread until the handler of a watched signal has run (see the module docstring).
    The handlers count their runs in `handled`."""

    def __init__(self, watched: tuple[int, ...]) -> None:
        self.watched = frozenset(watched)
        self.handled = 0  # runs of the watched signals' handlers (the main thread's only)
        self._armed = False
        self._main = threading.main_thread().ident or 0
        self._pipe: tuple[int, int] | None = None  # (read, write): the wakeup fd's bytes
        self._previous_kick: object = None  # SIGURG's handler before arming

    def arm(self) -> bool:
        """(The main thread.) Start watching; False when the wakeup fd is someone
        else's (an event loop on the main thread): then nothing is changed."""
        if self._armed:
            return False
        if self._pipe is None:
            read, write = os.pipe()
            os.set_blocking(write, False)  # the C handler must never block on it
            self._pipe = (read, write)
            threading.Thread(target=self._watch, args=(read,), name="chinwag-signal-kicker", daemon=True).start()
        previous = signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            return False
        self._previous_kick = signal.signal(KICK, _nothing)
        self._armed = True
        return True

    def disarm(self) -> None:
        """(The main thread.) Stop watching; what `arm` changed is as it was."""
        if not self._armed:
            return
        self._armed = False
        signal.set_wakeup_fd(-1)
        previous, self._previous_kick = self._previous_kick, None
        signal.signal(KICK, previous if previous is not None else signal.SIG_DFL)  # type: ignore[arg-type]

    def resend(self, signum: int) -> bool:
        """(A handler, in a callback from C code that drops what it raises.) Have
        `signum` sent to the main thread again in a moment, once that code has
        resumed; False when not armed."""
        if not self._armed or self._pipe is None:
            return False
        try:
            os.write(self._pipe[1], bytes([RESENT + signum]))
        except OSError:
            return False
        return True

    def _watch(self, read: int) -> None:
        while True:
            seen = self.handled
            try:
                came = os.read(read, 512)
            except OSError:
                return
            if not came:
                return
            if again := [byte - RESENT for byte in came if byte > RESENT]:
                time.sleep(KICK_DELAYS[1])
                try:
                    if self._armed:
                        signal.pthread_kill(self._main, again[-1])  # its own byte comes next: kicked as any
                except (OSError, ValueError):
                    return
                continue
            if self.watched.isdisjoint(came):
                continue  # the kicks' own bytes, or a signal the guard does not handle
            for delay in KICK_DELAYS:
                time.sleep(delay)
                if self.handled != seen or not self._armed:
                    break
                try:
                    signal.pthread_kill(self._main, KICK)
                except (OSError, ValueError):  # the main thread has ended: nothing left to kick
                    return
