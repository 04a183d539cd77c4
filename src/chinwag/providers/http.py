"""Streaming a POST to a provider's API, with the retry policy the SDKs use.

The retry policy is the official SDKs' own: retry 408, 409, 429, 5xx (529
"overloaded" included) and connection failures, at most `max_retries` times
(2 by default); wait what `retry-after-ms` / `retry-after` ask for when it is
between 0 and `max_wait` seconds, else 0.5 s doubling up to 8 s. We leave out
the SDKs' random jitter: one user's CLI makes no thundering herd, and fixed
delays keep the "retrying in N s" line honest. Only failures before the first
text are retried; after that the partial reply is the user's to keep.

The request goes through the session's one client (http_client.py: keep-alive,
cancel from another thread); failures are named in http_failures.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from chinwag.errors import ProviderError, StreamInterrupted
from chinwag.events import Event, Retrying, Stop, Usage
from chinwag.providers.http_client import USER_AGENT, HttpSettings, send
from chinwag.providers.http_failures import reason_of, status_failure, stopped_by_cancel

if TYPE_CHECKING:
    import httpx2

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
# Events after the end-of-reply marker we read for the connection's sake
# before giving up on it (normally there are none: only the body's last chunk).
END_SLACK = 64


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
                        raise stopped_by_cancel()
                    return
                except httpx2.TimeoutException as exc:
                    raise StreamInterrupted(
                        f"the server sent nothing for {settings.read_timeout:g} s (see --timeout).",
                        reason="timed out", retryable=True) from exc
                except httpx2.SSEError as exc:  # e.g. a JSON body where a stream was asked for
                    raise StreamInterrupted(f"the server did not send an event stream: {exc}",
                                            reason="not an event stream") from exc
                except httpx2.HTTPError as exc:
                    raise StreamInterrupted(f"the connection dropped mid-reply ({reason_of(exc)}).",
                                            reason="connection dropped", retryable=True) from exc
                except ValueError as exc:  # json.JSONDecodeError and friends
                    raise StreamInterrupted(f"the server sent malformed data ({exc}).",
                                            reason="malformed data") from exc
        except ProviderError as failure:
            if stop.is_set():
                raise stopped_by_cancel() from failure
            delay = failure.retry_delay if failure.retry_delay is not None else backoff(attempt)
            if text_seen or not failure.retryable or attempt == attempts or delay > settings.max_wait:
                raise
            yield Retrying(attempt + 1, attempts, delay, failure.reason)
            settings.wait(delay, stop)
            if stop.is_set():
                raise stopped_by_cancel()


@contextmanager
def _post(call: ApiCall, settings: HttpSettings, stop: threading.Event) -> Iterator[httpx2.Response]:
    headers = {"user-agent": USER_AGENT, "content-type": "application/json", **call.headers}
    response = send(settings, "POST", call.url, headers, call.body, stream=True, stop=stop)
    try:
        if response.status_code >= 300:
            raise status_failure(response, call, settings.max_wait)
        yield response
    finally:
        response.close()


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
