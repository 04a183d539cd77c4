"""What the HTTP providers share: one kept-alive client, the retry policy, error mapping.

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

The retry policy is the official SDKs' own: retry 408, 409, 429, 5xx (529
"overloaded" included) and connection failures, at most `max_retries` times
(2 by default); wait what `retry-after-ms` / `retry-after` ask for when it is
between 0 and `max_wait` seconds, else 0.5 s doubling up to 8 s. We leave out
the SDKs' random jitter: one user's CLI makes no thundering herd, and fixed
delays keep the "retrying in N s" line honest. Only failures before the first
text are retried; after that the partial reply is the user's to keep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from chinwag import __version__
from chinwag.errors import (
    AuthError,
    BadRequest,
    ConnectionFailed,
    ContextOverflow,
    Overloaded,
    ProviderError,
    RateLimited,
    StreamInterrupted,
)
from chinwag.events import Event, Retrying, Stop, Usage
from chinwag.providers.connections import Connections

if TYPE_CHECKING:
    import ssl

    import httpx2

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
USER_AGENT = f"chinwag/{__version__}"
RETRYABLE_STATUS = {408, 409, 429}
# Idle connections are kept this long: a chat's pace (read, think, type), yet
# well under the 4-5 minutes after which NATs and load balancers drop idle
# connections silently (a silently dead connection would hang until read_timeout).
KEEPALIVE_EXPIRY = 60.0
# Events after the end-of-reply marker we read for the connection's sake
# before giving up on it (normally there are none: only the body's last chunk).
END_SLACK = 64


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


@dataclass(frozen=True)
class ApiCall:
    """One POST, and how to name its failures to the user."""

    url: str
    headers: Mapping[str, str]
    body: dict[str, Any]
    key_variable: str  # e.g. "ANTHROPIC_API_KEY", for the 401 hint
    secrets: tuple[str, ...] = ()  # redacted from any message we show
    not_found_hint: str = ""  # added to a 404: the usual base-URL mistake, when the URL looks like it
    # Whether an error body (parsed JSON, or None) says the prompt is longer than
    # the model takes: each provider knows how its servers say so.
    overflow: Callable[[object], bool] = lambda body: False


Parser = Callable[["httpx2.Response"], Iterator[Event]]


def stream_events(call: ApiCall, settings: HttpSettings, parse: Parser) -> Iterator[Event]:
    """Send `call` and yield what `parse` makes of the response, retrying
    failures that happen before the first text (see the module docstring).
    The stream begins now, not at the first `next`: a cancel from here on
    stops it."""
    return _stream_events(call, settings, parse, settings.connections.begin())


def _stream_events(call: ApiCall, settings: HttpSettings, parse: Parser, stop: threading.Event) -> Iterator[Event]:
    """The generator behind `stream_events`.

    Every path out closes the response (it sits in a `with` block): after a
    normal end its connection goes back to the pool; on any other (exception,
    the consumer closing us) httpcore closes the connection, body unread.
    An exception from inside (Ctrl-C while we were reading, not while the
    consumer held an event) discards the whole client, connections and all."""
    try:
        client = settings.client(call.url)
        try:
            yield from _attempts(call, settings, parse, stop)
        except (GeneratorExit, ProviderError):
            raise
        except BaseException:
            settings.discard(client)
            raise
    finally:
        settings.connections.end(stop)


def _attempts(call: ApiCall, settings: HttpSettings, parse: Parser, stop: threading.Event) -> Iterator[Event]:
    import httpx2

    attempts = settings.max_retries + 1
    for attempt in range(1, attempts + 1):
        text_seen = False
        try:
            with _post(call, settings, stop) as response:
                try:
                    stopped = False
                    for event in parse(response):
                        # Text, thinking or a tool call on screen: no retry after that.
                        text_seen = text_seen or not isinstance(event, (Retrying, Usage, Stop))
                        stopped = stopped or isinstance(event, Stop)
                        yield event
                    if stop.is_set() and not stopped:  # cut by a cancel where the body could end
                        raise _stopped()
                    return
                except httpx2.TimeoutException as exc:
                    raise StreamInterrupted(
                        f"the server sent nothing for {settings.read_timeout:g} s (see --timeout).",
                        reason="timed out", retryable=True) from exc
                except httpx2.SSEError as exc:  # e.g. a JSON body where a stream was asked for
                    raise StreamInterrupted(f"the server did not send an event stream: {exc}",
                                            reason="not an event stream") from exc
                except httpx2.HTTPError as exc:
                    raise StreamInterrupted(f"the connection dropped mid-reply ({_reason(exc)}).",
                                            reason="connection dropped", retryable=True) from exc
                except ValueError as exc:  # json.JSONDecodeError and friends
                    raise StreamInterrupted(f"the server sent malformed data ({exc}).",
                                            reason="malformed data") from exc
        except ProviderError as failure:
            if stop.is_set():
                raise _stopped() from failure
            delay = failure.retry_delay if failure.retry_delay is not None else backoff(attempt)
            if text_seen or not failure.retryable or attempt == attempts or delay > settings.max_wait:
                raise
            yield Retrying(attempt + 1, attempts, delay, failure.reason)
            settings.wait(delay, stop)
            if stop.is_set():
                raise _stopped()


def _stopped() -> StreamInterrupted:
    return StreamInterrupted("the reply was stopped.", reason="stopped")


@contextmanager
def _post(call: ApiCall, settings: HttpSettings, stop: threading.Event) -> Iterator[httpx2.Response]:
    headers = {"user-agent": USER_AGENT, "content-type": "application/json", **call.headers}
    response = send(settings, "POST", call.url, headers, call.body, stream=True, stop=stop)
    try:
        if response.status_code >= 300:
            raise _status_failure(response, call, settings.max_wait)
        yield response
    finally:
        response.close()


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
            raise _stopped()
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
            raise _connection_failure(exc, url, settings) from exc
        except httpx2.HTTPError as exc:
            raise _connection_failure(exc, url, settings) from exc
        except BaseException:  # Ctrl-C inside httpcore: see HttpSettings.discard
            settings.discard(client)
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _connection_failure(exc: Exception, url: str, settings: HttpSettings) -> ConnectionFailed:
    """Why no response came back from `url`, naming the server as the user set it."""
    import httpx2

    base = _base(url)
    if isinstance(exc, httpx2.ConnectTimeout):
        return ConnectionFailed(f"could not connect to {base} within {settings.connect_timeout:g} s.",
                                reason=f"timed out ({base})")
    if isinstance(exc, httpx2.TimeoutException):
        return ConnectionFailed(f"{base} did not answer within {settings.read_timeout:g} s (see --timeout).",
                                reason=f"timed out ({base})")
    if isinstance(exc, httpx2.RemoteProtocolError) and "without sending a response" in str(exc):
        return ConnectionFailed(f"{base} closed the connection without answering.",
                                reason=f"connection closed ({base})")
    reason = _reason(exc)
    return ConnectionFailed(f"could not connect to {base}: {reason}.", reason=f"{reason} ({base})")


def read_to_end(events: Iterator[object]) -> None:
    """Read what follows the end-of-reply marker, normally only the body's last
    chunk, so that the connection goes back to the pool (the SDKs do the same).
    A server that goes on talking, or drops the connection now, costs us only
    the connection: the reply is already whole."""
    import httpx2

    try:
        for _ in islice(events, END_SLACK):
            pass
    except httpx2.HTTPError:
        pass


def backoff(attempt: int) -> float:
    """The SDKs' back-off before retry number `attempt` (1-based), without jitter."""
    return min(INITIAL_DELAY * 2.0 ** (attempt - 1), MAX_DELAY)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait, from retry-after-ms or retry-after."""
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            import email.utils  # ~10 ms: only for the rare HTTP-date form

            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        return None


STATUS_KINDS = {408: "request timed out", 409: "conflict", 529: "overloaded"}


def _status_failure(response: httpx2.Response, call: ApiCall, max_wait: float) -> ProviderError:
    status = response.status_code
    response.read()  # the whole (small) body: the connection stays usable for the retry
    body = parsed(response.text)
    detail = redact(error_detail(response.text), call.secrets)
    where = f"{_host(call.url)} answered {status}"
    delay = retry_after(response.headers)
    should_retry = response.headers.get("x-should-retry")
    retryable = should_retry == "true" if should_retry in ("true", "false") else None
    wait = f" The server asked to wait {delay:.0f} s." if delay is not None and delay > max_wait else ""
    kind: type[ProviderError]
    if status in (401, 403):
        kind, reason = AuthError, f"key refused ({status})"
        message = f"the API key was refused ({status}: {detail}); check {call.key_variable}."
    elif status == 429:
        kind, reason = RateLimited, "rate limited (429)"
        message = f"rate limited: {where} ({detail}); wait a moment and try again."
    elif call.overflow(body):  # sending it again would fail again; the session sends less
        kind, reason, retryable = ContextOverflow, f"prompt too long ({status})", False
        message = f"{where}: {detail}"
    elif status >= 500 or status in RETRYABLE_STATUS:
        phrase = STATUS_KINDS.get(status, "server error")
        kind, reason = Overloaded, f"{phrase} ({status})"
        message = f"{phrase}: {where} ({detail}); try again shortly."
    else:
        hint = f" ({call.not_found_hint})" if status == 404 and call.not_found_hint else ""
        kind, reason = BadRequest, f"request rejected ({status})"
        message = f"{where}: {detail}{hint}"
    return kind(message + wait, reason=reason, retryable=retryable, retry_delay=delay)


def parsed(body: str) -> object:
    """An error body as JSON, or None if it is not JSON."""
    import json  # not at the top: json is not needed before the prompt
    try:
        return json.loads(body)
    except ValueError:
        return None


def error_detail(body: str) -> str:
    """The human part of an API error body, in either provider's shape."""
    import json

    data = parsed(body)
    if data is None:
        return body.strip()[:200] or "no details"
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        message = error.get("message") or error.get("type") or json.dumps(error)
        return str(message)[:300]
    return str(error)[:300]


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Remove API keys a server may echo back in an error."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return text


def _reason(exc: Exception) -> str:
    """A network failure in a few words."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    for needle, phrase in (
        ("connection refused", "connection refused"),
        ("connection reset", "connection reset"),
        ("name or service not known", "host not found"),
        ("nodename nor servname", "host not found"),
        ("temporary failure in name resolution", "host not found"),
        ("certificate verify failed", "TLS certificate not trusted"),
        ("network is unreachable", "network unreachable"),
    ):
        if needle in lowered:
            return phrase
    return text


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _base(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
