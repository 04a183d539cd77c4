"""Where the page's turns run, and how they are stopped from outside.

`Workers` keeps threads that run turns off the server's event loop.
`SocketWatch` records the sockets a turn's provider connects (through an
audit hook on `socket.connect`), so Stop can shut them down while the worker
is blocked reading: the read returns at once and the server sees the close.
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_watching = threading.local()
_hook_lock = threading.Lock()
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        watch = getattr(_watching, "watch", None)
        if watch is not None:
            watch.add(args[0])


class SocketWatch:
    """The sockets one session's provider connects, so another thread can
    cut them. Connections are seen through Python's audit hook for
    `socket.connect` (installed once, it only looks at that event), while a
    thread runs inside `watching()`. A kept-alive connection opened in an
    earlier turn stays watched until it is gone."""

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._cut = False  # this turn was stopped: no new connection either

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Watch what this thread connects, for one turn."""
        global _hook_installed
        with _hook_lock:
            if not _hook_installed:
                sys.addaudithook(_audit)
                _hook_installed = True
        with self._lock:
            self._cut = False
        _watching.watch = self
        try:
            yield
        finally:
            _watching.watch = None

    def add(self, sock: Any) -> None:
        """A socket about to connect. After `cut` (a retry after a back-off
        the turn could not be woken from) the connection is refused."""
        if isinstance(sock, socket.socket):
            with self._lock:
                if self._cut:
                    raise ConnectionAbortedError("the reply was stopped")
                self._sockets.add(sock)

    def cut(self) -> None:
        """Shut down every watched socket: a blocked read returns at once and
        the peer sees the close."""
        with self._lock:
            self._cut = True
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed already


class Workers:
    """Daemon threads that run turns, kept between turns: starting a thread
    makes its starter wait until the new thread is scheduled, which a busy
    machine makes slow, and the starter here is the request. Idle threads
    wait for the next job; one is added when none is idle."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            spawn = self._idle == 0
            self._idle -= 0 if spawn else 1
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name="chinwag-web-turn", daemon=True).start()

    def _work(self) -> None:
        while True:
            self._jobs.get()()
            with self._lock:
                self._idle += 1
