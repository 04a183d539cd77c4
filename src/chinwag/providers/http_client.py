"""The session's HTTP client: one kept-alive httpx2 client, one request at a time.

Connections: a provider talks through one httpx2 client for the whole session
(`HttpSettings.client`, built on first use or by `warm_up`), so turn two
reuses turn one's connection instead of paying a new TCP + TLS handshake, as
the SDKs' clients do. A reply that ends normally reads its body to the end
(`read_to_end`, as the SDKs do) and leaves the connection in the pool. A
response closed before its body was read whole (the consumer closed our
generator on Ctrl-C, a drop, an error event, an exception) makes httpcore
close that connection, not pool it half-read: the server sees the close and
the next request opens a new one. An error status's small body is read
whole, so the retry goes out on the same connection. A Ctrl-C that lands
inside the HTTP stack itself (rather than while the consumer holds an event)
discards the whole client, since httpcore's bookkeeping may be half-done;
the next request builds a new one. `close()` at exit closes the client.

Cancelling from another thread (`HttpSettings.cancel`, the page's Stop):
the client's trace hook notes the socket of every connection it opens
(connections.py), so a cancel can shut them down (a read blocked waiting
for the server returns at once, and the server sees the close), wake a
retry's back-off wait, and refuse new connections for that stream. The
stream then ends with `StreamInterrupted` (reason "stopped"), never a retry.

A kept-alive connection can die while idle: the server's keep-alive timer
closes it. httpcore notices a close that has already arrived and connects
afresh; when the close crosses our request on the wire, the request fails
before any response byte, and it goes again at once on a new connection,
once, unannounced (`send`). It is not a failure of the server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chinwag import __version__
from chinwag.providers.connections import Connections
from chinwag.providers.http_failures import connection_failure, stopped_by_cancel

if TYPE_CHECKING:
    import ssl

    import httpx2

USER_AGENT = f"chinwag/{__version__}"
# Idle connections are kept this long: a chat's pace (read, think, type), yet
# well under the 4-5 minutes after which NATs and load balancers drop idle
# connections silently (a silently dead connection would hang until read_timeout).
KEEPALIVE_EXPIRY = 60.0


@dataclass
class HttpSettings:
    """How a provider talks HTTP, and the one client it talks through.

    `sleep` is passed in so tests need not wait (None: a back-off wait that a
    cancel ends at once). Safe to use from more than one thread over its life
    (the REPL's warm-up thread, then the main thread), one request at a time;
    `cancel` from any thread at any time."""

    max_retries: int = 2
    max_wait: float = 60.0  # longest retry-after we honour before giving up
    connect_timeout: float = 10.0
    read_timeout: float = 600.0  # between bytes: a slow first token is not an error
    sleep: Callable[[float], None] | None = None
    _ssl: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    _client: httpx2.Client | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    connections: Connections = field(default_factory=Connections, repr=False, compare=False)

    def client(self, url: str) -> httpx2.Client:
        """The session's client, built on first use; it keeps connections alive."""
        with self._lock:
            if self._client is None:
                import httpx2

                timeout = httpx2.Timeout(self.read_timeout, connect=self.connect_timeout)
                limits = httpx2.Limits(max_keepalive_connections=4, keepalive_expiry=KEEPALIVE_EXPIRY)
                self._client = httpx2.Client(timeout=timeout, limits=limits, verify=self._ssl_context(url))
            return self._client

    def close(self) -> None:
        """Close the client and its connections (the server sees them close).
        A later request would build a new client."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def discard(self, client: httpx2.Client) -> None:
        """Close `client` if it is still the session's one: a Ctrl-C that lands
        inside the HTTP stack can leave a pooled connection in a state nobody
        will close. The next request builds a new client."""
        with self._lock:
            if self._client is not client:
                return
            self._client = None
        client.close()

    def cancel(self) -> None:
        """Stop the stream in flight, from any thread (connections.py)."""
        self.connections.cancel()

    def wait(self, delay: float, stop: threading.Event) -> None:
        """A retry's back-off: `sleep` if given, else a wait a cancel ends."""
        if self.sleep is not None:
            self.sleep(delay)
        else:
            stop.wait(delay)

    def warm_up(self, url: str) -> None:
        """Import the HTTP stack, build the TLS context and the client ahead of the first request."""
        self.client(url)

    def _ssl_context(self, url: str) -> ssl.SSLContext | bool:
        # Building the default trust store costs ~0.1 s: do it once, and never
        # for plain-HTTP servers (Ollama, vLLM on localhost). httpcore2 honours
        # SSL_CERT_FILE / SSL_CERT_DIR (a corporate proxy's CA) here.
        if not url.startswith("https:"):
            return False
        if self._ssl is None:
            import httpcore2

            self._ssl = httpcore2.default_ssl_context()
        return self._ssl


def send(settings: HttpSettings, method: str, url: str, headers: Mapping[str, str],
         body: object = None, stream: bool = False, stop: threading.Event | None = None) -> httpx2.Response:
    """One request through the session's client (streamed: the caller closes
    the response); none once `stop` is set. A kept-alive connection the server closed as we reused it
    gets the request again at once on a new connection (module docstring);
    other failures to get a response raise `ConnectionFailed`."""
    import httpx2

    client = settings.client(url)
    for stale_retry_left in (True, False):
        if stop is not None and stop.is_set():
            raise stopped_by_cancel()
        opened: list[str] = []

        def trace(name: str, info: Mapping[str, Any], opened: list[str] = opened) -> None:
            if name.startswith("connection.connect_"):  # connect_tcp / connect_unix_socket
                opened.append(name)
            # httpcore's trace hands over the new network stream: note its socket, so
            # a cancel can shut it (start_tls: the TLS socket that replaced the plain one).
            if name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
                sock = info["return_value"].get_extra_info("socket")
                if sock is not None:
                    settings.connections.opened(sock)

        request = client.build_request(method, url, headers=headers, json=body, extensions={"trace": trace})
        try:
            return client.send(request, stream=stream)
        except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError) as exc:
            if stale_retry_left and not opened:
                continue
            raise connection_failure(exc, url, settings) from exc
        except httpx2.HTTPError as exc:
            raise connection_failure(exc, url, settings) from exc
        except BaseException:  # Ctrl-C inside httpcore: see HttpSettings.discard
            settings.discard(client)
            raise
    raise AssertionError("unreachable")  # pragma: no cover
