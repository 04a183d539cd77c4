"""Cancelling an HTTP stream from another thread (the page's Stop).

`Connections` keeps the socket of every connection a provider's client opened
(httpcore's trace hook hands each new network stream over: see `http_client.send`),
the kept-alive ones too, and the stop event of the stream in flight.
`cancel()` sets that event and shuts the sockets down both ways: a read
blocked on one returns at once, and the server sees the close. The stream
then ends with StreamInterrupted ("stopped"), a retry's back-off wait is
woken, and no new connection is made for it (http_client.py).
"""

from __future__ import annotations

import socket
import threading
import weakref


class Connections:
    """The sockets one client connected, and the stop of the stream in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()  # while they exist
        self._stream: threading.Event | None = None  # the stream in flight's stop

    def begin(self) -> threading.Event:
        """A new stream starts: the event a cancel sets for it (a cancel meant
        for an earlier one is forgotten)."""
        stop = threading.Event()
        with self._lock:
            self._stream = stop
        return stop

    def end(self, stop: threading.Event) -> None:
        """The stream `stop` belongs to is over: nothing to cancel any more."""
        with self._lock:
            if self._stream is stop:
                self._stream = None

    def cancel(self) -> None:
        """Stop the stream in flight, from any thread; nothing if none is."""
        with self._lock:
            stop, sockets = self._stream, list(self._sockets)
        if stop is None:
            return
        stop.set()
        for sock in sockets:
            shut(sock)

    def opened(self, sock: socket.socket) -> None:
        """The client connected `sock`; shut at once if the stream was cancelled meanwhile."""
        with self._lock:
            self._sockets.add(sock)
            stop = self._stream
        if stop is not None and stop.is_set():
            shut(sock)


def shut(sock: socket.socket) -> None:
    """Shut `sock` down both ways: a read blocked on it returns at once, the peer sees the close."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed already
