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

The end of the process is guarded the same way. SIGHUP (the terminal was
closed) and SIGTERM become `Ending`, raised where KeyboardInterrupt would be
(at once in an `allowed()` section, else at the next one, or when the guard
is left): the turn unwinds as for Ctrl-C, so the reply shown is saved, a
running tool's process group is killed, and the caller closes the tools, the
model and the history before exiting 129 (143). After a hang-up the terminal
is gone (writes to it fail with EIO): stdin, stdout and stderr are pointed
at /dev/null first, so nothing on the way out fails for want of a screen.
A program started with SIGHUP ignored (nohup) keeps ignoring it.

A signal that lands just before the main thread blocks (readline between
echoing a key and waiting for the next; the network layer between chunks)
interrupts no wait, and its handler would run only when the wait ends by
itself, at the next key or byte: while the guard is held, wakeup.py kicks the
main thread until the handler has run.

Signal handlers belong to the main thread; elsewhere (the Python API used
from a worker thread) both context managers do nothing.

While the main thread holds one of the history's locks (`with held_back,
lock:`, history/queue.py and recorder.py) the guard's handlers only note the
signal; it is raised again as the outermost such section ends, just after the
lock is released, and handled then as if it had come at that instant. A
raise inside the section would leave the queue half-updated (a conversation
row made, never queued: every message saved into it dropped), or, landing in
`threading.Condition.__enter__` between its acquire and the `with` block,
the lock held for good: the writer thread waited for it forever, holding the
write lock that closing needs, and the chat hung at exit. Blocking the
signals instead (signal.pthread_sigmask) would not do: the kernel hands a
signal the main thread blocks to another thread (the writer, a tool's), and
Python still runs the handler in the main thread at once. Holding back costs
an integer's increment per section; a signal handler that is not ours (the
Python API's default SIGINT) still cannot leave a lock held, because sections
enter the lock itself with `with` (C code, which no handler can interrupt
between acquiring and entering the block), never a Condition.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

from chinwag.wakeup import Kicker

END_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
T = TypeVar("T")


class Ending(BaseException):
    """The process was told to end: the terminal hung up (SIGHUP) or SIGTERM.
    Not a KeyboardInterrupt: nothing that cancels a reply and carries on may catch it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class HeldBack:
    """`with held_back:` around a section of the main thread that a signal
    must not split (elsewhere: nothing). Reentrant."""

    def __init__(self) -> None:
        self._depth = 0
        self._noted: list[int] = []  # signals that came during the section

    def __enter__(self) -> None:
        if threading.get_ident() == _MAIN:
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        if threading.get_ident() != _MAIN:
            return
        if self._depth > 1:
            self._depth -= 1
            return
        # No handler can run between these two lines (no call, no loop): a
        # signal is either noted here or handled from now on, never lost.
        noted, self._noted = self._noted, []
        self._depth = 0
        if noted:  # raised again, the strongest only: an ending outranks Ctrl-C, one press is one press
            signal.raise_signal(next((sig for sig in noted if sig in END_SIGNALS), noted[0]))

    def defers(self, signum: int) -> bool:
        """(A handler, on the main thread.) True when inside a section: the signal is noted for its end."""
        if self._depth:
            self._noted.append(signum)
            return True
        return False


held_back = HeldBack()
_MAIN = threading.main_thread().ident
kicker = Kicker((signal.SIGINT, *END_SIGNALS))  # wakeup.py


class InterruptGuard:
    def __init__(self) -> None:
        self._allowed = False
        self._pending = False
        self._depth = 0
        self.ending: Ending | None = None  # set once SIGHUP or SIGTERM came
        self._in_callback = False  # in Python code that C code called (readline's hooks): nothing may raise

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Hold SIGINT back for the duration of a turn, except in `allowed()` sections."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signals are the main thread's: a turn on another thread leaves its guard alone
            return
        if self._depth:
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
        ends = [sig for sig in END_SIGNALS if signal.getsignal(sig) is signal.SIG_DFL]
        for sig in ends:
            signal.signal(sig, self._on_end)
        kicking = kicker.arm()  # a press that lands just before the main thread blocks is handled at once
        unraisable, sys.unraisablehook = sys.unraisablehook, self._unraisable_hook(sys.unraisablehook)
        try:
            yield
        finally:
            sys.unraisablehook = unraisable
            if kicking:
                kicker.disarm()
            signal.signal(signal.SIGINT, previous)
            if self.ending is None:  # else they stay ignored: the process is on its way out
                for sig in ends:
                    signal.signal(sig, signal.SIG_DFL)
            self._depth = 0
            self._allowed = False
            if self.ending is not None:
                raise self.ending  # (the same object, if it is what is propagating)

    @contextmanager
    def allowed(self) -> Iterator[None]:
        """Ctrl-C raises KeyboardInterrupt in here: at once if it came earlier in the turn."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._allowed = True
        try:
            if self.ending is not None:
                raise self.ending
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
            if isinstance(unraisable.exc_value, Ending):
                return None  # kept in `ending`: the next `allowed()` raises it again
            if isinstance(unraisable.exc_value, KeyboardInterrupt):
                self._pending = True
                return None
            return previous(unraisable)

        return hook

    def called_back(self, callback: Callable[..., T]) -> Callable[..., T]:
        """`callback` for C code to call (readline's hooks and completer), which
        drops what a callback raises: a signal while it runs is sent again once
        it has returned (wakeup.py), not raised in it and lost."""
        def run(*args: Any) -> T:
            self._in_callback = True
            try:
                return callback(*args)
            finally:
                self._in_callback = False  # the last statement: no handler runs before C code has it back

        return run

    def _resent(self, signum: int) -> bool:
        """(A handler.) Inside a callback from C code: sent again for when it has returned."""
        return self._in_callback and kicker.resend(signum)

    def _on_end(self, signum: int, frame: FrameType | None) -> None:
        kicker.handled += 1
        if held_back.defers(signum) or self._resent(signum):
            return
        if self.ending is not None:
            return  # a second signal: already on the way out
        for sig in END_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if signum == signal.SIGHUP:
            detach_from_terminal()
        self.ending = Ending(signum)
        if self._allowed:
            self._allowed = False
            raise self.ending

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        kicker.handled += 1
        if held_back.defers(signum) or self._resent(signum):
            return
        if self._allowed:
            self._allowed = False  # one press, one KeyboardInterrupt
            raise KeyboardInterrupt
        self._pending = True


def detach_from_terminal() -> None:
    """Point stdin, stdout and stderr that are (or were) a terminal at /dev/null:
    reads end, writes go nowhere instead of failing with EIO."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            if _is_terminal(fd):
                os.dup2(null, fd)
    finally:
        os.close(null)


def _is_terminal(fd: int) -> bool:
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        return bool(exc.args[0] == errno.EIO)  # a terminal that has hung up
    except OSError:
        return False
    return True
