"""How an HTTP failure is named to the user: an error status, or no response
at all, made into a typed ProviderError whose message says what to do.

An error status's small body is read whole (the connection stays usable for
a retry); what the server asked us to wait (`retry-after-ms` / `retry-after`)
and whether it says to retry (`x-should-retry`) travel with the error. API
keys a server echoes back are redacted.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    import httpx2

    from chinwag.providers.http import ApiCall
    from chinwag.providers.http_client import HttpSettings

RETRYABLE_STATUS = {408, 409, 429}


def stopped_by_cancel() -> StreamInterrupted:
    return StreamInterrupted("the reply was stopped.", reason="stopped")


def connection_failure(exc: Exception, url: str, settings: HttpSettings) -> ConnectionFailed:
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
    reason = reason_of(exc)
    return ConnectionFailed(f"could not connect to {base}: {reason}.", reason=f"{reason} ({base})")


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


def status_failure(response: httpx2.Response, call: ApiCall, max_wait: float) -> ProviderError:
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


def reason_of(exc: Exception) -> str:
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
