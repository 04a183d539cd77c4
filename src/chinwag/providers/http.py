"""What the HTTP providers share: connections, the retry policy, error mapping.

The retry policy is the official SDKs' own: retry 408, 409, 429, 5xx (529
"overloaded" included) and connection failures, at most `max_retries` times
(2 by default); wait what `retry-after-ms` / `retry-after` ask for when it is
between 0 and `max_wait` seconds, else 0.5 s doubling up to 8 s. We leave out
the SDKs' random jitter: one user's CLI makes no thundering herd, and fixed
delays keep the "retrying in N s" line honest. Only failures before the first
text are retried; after that the partial reply is the user's to keep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chinwag import __version__
from chinwag.errors import (
    AuthError,
    BadRequest,
    ConnectionFailed,
    Overloaded,
    ProviderError,
    RateLimited,
    StreamInterrupted,
)
from chinwag.events import Event, Retrying, TextDelta

if TYPE_CHECKING:
    import ssl

    import httpx2

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
USER_AGENT = f"chinwag/{__version__}"
RETRYABLE_STATUS = {408, 409, 429}


@dataclass
class HttpSettings:
    """How a provider talks HTTP. `sleep` is passed in so tests need not wait."""

    max_retries: int = 2
    max_wait: float = 60.0  # longest retry-after we honour before giving up
    connect_timeout: float = 10.0
    read_timeout: float = 600.0  # between bytes: a slow first token is not an error
    sleep: Callable[[float], None] = time.sleep
    _ssl: ssl.SSLContext | None = field(default=None, repr=False)

    def client(self, url: str) -> httpx2.Client:
        """A fresh client: each reply gets its own connection, closed when it ends."""
        import httpx2

        timeout = httpx2.Timeout(self.read_timeout, connect=self.connect_timeout)
        return httpx2.Client(timeout=timeout, verify=self.ssl_context(url))

    def ssl_context(self, url: str) -> ssl.SSLContext | bool:
        # Building the default trust store costs ~0.1 s: do it once, and never
        # for plain-HTTP servers (Ollama, vLLM on localhost).
        if not url.startswith("https:"):
            return False
        if self._ssl is None:
            import httpcore2

            self._ssl = httpcore2.default_ssl_context()
        return self._ssl

    def warm_up(self, url: str) -> None:
        """Import the HTTP stack and build the TLS context ahead of the first request."""
        import httpcore2  # noqa: F401
        import httpx2  # noqa: F401

        self.ssl_context(url)


@dataclass(frozen=True)
class ApiCall:
    """One POST, and how to name its failures to the user."""

    url: str
    headers: Mapping[str, str]
    body: dict[str, Any]
    key_variable: str  # e.g. "ANTHROPIC_API_KEY", for the 401 hint
    secrets: tuple[str, ...] = ()  # redacted from any message we show
    not_found_hint: str = ""  # added to a 404: the usual base-URL mistake, when the URL looks like it


Parser = Callable[["httpx2.Response"], Iterator[Event]]


def stream_events(call: ApiCall, settings: HttpSettings, parse: Parser) -> Iterator[Event]:
    """Send `call` and yield what `parse` makes of the response, retrying
    failures that happen before the first text (see the module docstring).

    Every path out (end, exception, the consumer closing us) closes the
    response and its connection: both sit in `with` blocks."""
    import httpx2

    attempts = settings.max_retries + 1
    for attempt in range(1, attempts + 1):
        text_seen = False
        try:
            with settings.client(call.url) as client, _send(client, call, settings) as response:
                try:
                    for event in parse(response):
                        text_seen = text_seen or isinstance(event, TextDelta)
                        yield event
                    return
                except httpx2.TimeoutException as exc:
                    silent = StreamInterrupted(f"the server sent nothing for {settings.read_timeout:g} s (see --timeout).")
                    silent.retryable = True
                    raise silent from exc
                except httpx2.SSEError as exc:  # e.g. a JSON body where a stream was asked for
                    raise StreamInterrupted(f"the server did not send an event stream: {exc}") from exc
                except httpx2.HTTPError as exc:
                    raise _dropped(exc) from exc
                except ValueError as exc:  # json.JSONDecodeError and friends
                    raise StreamInterrupted(f"the server sent malformed data ({exc}).") from exc
        except ProviderError as failure:
            delay = failure.retry_delay if failure.retry_delay is not None else backoff(attempt)
            if text_seen or not failure.retryable or attempt == attempts or delay > settings.max_wait:
                raise
            yield Retrying(attempt + 1, attempts, delay, failure.message.split(":")[0])
            settings.sleep(delay)


@contextmanager
def _send(client: httpx2.Client, call: ApiCall, settings: HttpSettings) -> Iterator[httpx2.Response]:
    import httpx2

    headers = {"user-agent": USER_AGENT, "content-type": "application/json", **call.headers}
    request = client.build_request("POST", call.url, headers=headers, json=call.body)
    try:
        response = client.send(request, stream=True)
    except httpx2.TimeoutException as exc:
        raise ConnectionFailed(f"{_host(call.url)} did not answer within {settings.read_timeout:g} s"
                               " (see --timeout).") from exc
    except httpx2.HTTPError as exc:
        raise ConnectionFailed(f"could not connect to {_base(call.url)}: {_reason(exc)}.") from exc
    try:
        if response.status_code >= 300:
            raise _status_failure(response, call, settings.max_wait)
        yield response
    finally:
        response.close()


def _dropped(exc: Exception) -> StreamInterrupted:
    failure = StreamInterrupted(f"the connection dropped mid-reply ({_reason(exc)}).")
    failure.retryable = True  # only ever retried when no text had arrived
    return failure


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


def _status_failure(response: httpx2.Response, call: ApiCall, max_wait: float) -> ProviderError:
    status = response.status_code
    response.read()
    detail = redact(error_detail(response.text), call.secrets)
    where = f"{_host(call.url)} answered {status}"
    failure: ProviderError
    if status in (401, 403):
        failure = AuthError(f"the API key was refused ({status}: {detail}); check {call.key_variable}.")
    elif status == 429:
        failure = RateLimited(f"rate limited: {where} ({detail}); wait a moment and try again.")
    elif status >= 500 or status in RETRYABLE_STATUS:
        kind = "overloaded" if status == 529 else "server error"
        failure = Overloaded(f"{kind}: {where} ({detail}); try again shortly.")
    else:
        hint = f" ({call.not_found_hint})" if status == 404 and call.not_found_hint else ""
        failure = BadRequest(f"{where}: {detail}{hint}")
    if response.headers.get("x-should-retry") in ("true", "false"):
        failure.retryable = response.headers["x-should-retry"] == "true"
    failure.retry_delay = retry_after(response.headers)
    if failure.retry_delay is not None and failure.retry_delay > max_wait:
        failure.message += f" The server asked to wait {failure.retry_delay:.0f} s."
    return failure


def error_detail(body: str) -> str:
    """The human part of an API error body, in either provider's shape."""
    import json  # not at the top: json is not needed before the prompt
    try:
        data = json.loads(body)
    except ValueError:
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
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text:
        return "connection refused"
    return text


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _base(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
