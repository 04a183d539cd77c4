"""ScriptedServer: a real HTTP/1.1 server on 127.0.0.1 that answers like the
Anthropic and OpenAI APIs, one scripted `Reply` per POST.

    with ScriptedServer() as server:
        server.enqueue(Reply(chunks=["Hel", "lo"]), Reply(status=529))
        ... point a client at server.base_url ...
        server.requests          # what the client sent
        server.wait_closed(1)    # the client closed its connection

Routes: POST /v1/messages (Anthropic), POST /v1/chat/completions or
/chat/completions (OpenAI), GET /v1/models or /models (Anthropic's shape when
the request carries `anthropic-version`, else OpenAI's). Streaming bodies use
chunked transfer encoding written by hand, one HTTP chunk per SSE event,
with Nagle off, so each event leaves the moment it is written.

Connections are kept alive (HTTP/1.1) unless the client asks otherwise:
`server.connections` counts those accepted. With `idle_timeout`, the server
closes a connection that carries no new request for that long after a
response, as real servers' keep-alive timers do (`server.idle_closes`).

A connection counts as closed by the client when, after serving at least one
request on it, the server reads EOF or a reset from it: between requests,
while writing, or while paused (delay, chunk_delay, hold). Closes the server
makes itself (`drop_after`, shutdown) do not count.

Run `python -m tests.fakes.server --port 0` to serve in the foreground; the
first line on stdout is the base URL.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer

from tests.fakes.handler import Handler
from tests.fakes.reply import RecordedRequest, Reply

__all__ = ["RecordedRequest", "Reply", "ScriptedServer", "main"]

HOST = "127.0.0.1"
DEFAULT_MODELS = ["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022", "gpt-4o-mini"]


class ScriptedServer:
    def __init__(
        self,
        models: Iterable[str] = DEFAULT_MODELS,
        default_reply: Callable[[], Reply] = Reply,
        require_key: str | None = None,
        port: int = 0,
        idle_timeout: float | None = None,
    ) -> None:
        self.models = list(models)
        self.owned_by = "scripted"  # OpenAI shape's `owned_by` (llama.cpp says "llamacpp", vLLM "vllm")
        self.default_reply = default_reply  # called when the queue is empty
        self.require_key = require_key  # if set, other keys get 401 (no Reply used)
        self.models_error: Reply | None = None  # if set, GET /models answers with it
        self.idle_timeout = idle_timeout  # close kept-alive connections idle this long (None: never)
        self._port = port
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._closed = 0
        self._accepted = 0
        self._idle_closes = 0
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._live: dict[socket.socket, threading.Thread] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> ScriptedServer:
        self._httpd = _HTTPServer((HOST, self._port), Handler, owner=self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._cond:
            live = dict(self._live)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in live.values():
            thread.join(timeout=2)
        self._httpd = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    # -- scripting and inspection ----------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Replies for the next POSTs, first in first out."""
        with self._cond:
            self._queue.extend(replies)

    @property
    def pending_replies(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def closed_connections(self) -> int:
        with self._cond:
            return self._closed

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._cond:
            return self._accepted

    @property
    def idle_closes(self) -> int:
        """Kept-alive connections the server closed for being idle (see `idle_timeout`)."""
        with self._cond:
            return self._idle_closes

    def wait_closed(self, n: int = 1, timeout: float = 5) -> bool:
        """True once clients have closed `n` connections that carried a response."""
        with self._cond:
            return self._cond.wait_for(lambda: self._closed >= n, timeout)

    def wait_requests(self, n: int = 1, timeout: float = 5) -> bool:
        """True once `n` requests have arrived (before their replies are sent)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._requests) >= n, timeout)

    # -- used by the handler ----------------------------------------------

    def _next_reply(self) -> Reply:
        with self._cond:
            return self._queue.popleft() if self._queue else self.default_reply()

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()

    def _track(self, sock: socket.socket) -> None:
        with self._cond:
            self._live[sock] = threading.current_thread()
            self._accepted += 1

    def _idle_closed(self) -> None:
        with self._cond:
            self._idle_closes += 1
            self._cond.notify_all()

    def _untrack(self, sock: socket.socket, client_closed: bool) -> None:
        with self._cond:
            self._live.pop(sock, None)
            if client_closed and not self._stopping.is_set():
                self._closed += 1
                self._cond.notify_all()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[Handler], owner: ScriptedServer) -> None:
        self.owner = owner
        super().__init__(address, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.fakes.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=None, help="text chunks per reply")
    parser.add_argument("--chunk-text", default="word ", help="the text of each chunk")
    parser.add_argument("--delay-first-byte", type=float, default=0.0)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    args = parser.parse_args(argv)

    def reply() -> Reply:
        chunks = Reply().chunks if args.chunks is None else [args.chunk_text] * args.chunks
        return Reply(chunks=chunks, delay_first_byte=args.delay_first_byte, chunk_delay=args.chunk_delay)

    import signal

    signal.signal(signal.SIGTERM, _interrupt)
    with ScriptedServer(default_reply=reply, port=args.port) as server:
        print(server.base_url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
