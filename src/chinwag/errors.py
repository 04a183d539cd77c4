"""Every error chinwag reports to a user, as one tree.

    ChinwagError                 exit 1 unless a subclass says otherwise
    ├── UsageError               exit 2: bad flags, empty prompt, unknown model
    ├── ConfigError              exit 2: unreadable config, missing key
    ├── ConversationDeleted      exit 2: a write to a saved conversation that was
    │                            deleted meanwhile (the recorder stops saving it)
    ├── FetchFailed              exit 1: a URL to attach could not be fetched
    └── ProviderError            exit 1: the model or the network failed
        ├── AuthError            401/403: the key was refused
        ├── BadRequest           400/404/413/422: the server rejected the request
        │   └── ContextOverflow  the prompt is longer than the model takes (the
        │                        server or the local model said so)
        ├── RateLimited          429 after the retries ran out
        ├── Overloaded           529/5xx after the retries ran out
        ├── ConnectionFailed     could not connect, or timed out before a reply
        ├── StreamInterrupted    the reply stopped part-way (drop, error event,
        │                        no end-of-message marker, malformed data)
        ├── LocalModelError      the bundled/local model could not run
        └── InvalidStructuredOutput  a --schema reply is not JSON matching the
                                 schema (its text is kept)

Each message is one sentence the user can act on. The CLI prints
`chinwag: <message>` and exits with `exit_code`; nothing else is caught there.
A failed reply keeps its error object (`Reply.failure`), so the session and
Python API callers decide by class, never by the message's words: the
session answers a `ContextOverflow` by sending half the history again.

A `ProviderError` also carries, set where it is made (constructor keywords):
`reason`, a short phrase for one-line notices ("overloaded (529)",
"connection refused (http://127.0.0.1:8080)"; `Retrying.reason` is this);
`retryable`, whether the retry policy may send the request again (only ever
before the first text); `retry_delay`, the seconds the server asked us to wait
(retry-after), or None.
"""

from __future__ import annotations


class ChinwagError(Exception):
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(ChinwagError):
    exit_code = 2


class ConfigError(ChinwagError):
    exit_code = 2


class BudgetExceeded(ChinwagError):
    """A request's worst case would pass a budget (budget.py): it was not sent."""

    exit_code = 1


class ConversationDeleted(ChinwagError):
    """The saved conversation a write belongs to no longer exists (`chinwag
    history delete`, or the page's delete, from another process or thread)."""

    exit_code = 2


class FetchFailed(ChinwagError):
    """The network failed fetching a URL to attach (not the user's mistake: exit 1)."""


class ProviderError(ChinwagError):
    exit_code = 1
    # Each class's defaults, for errors made without the keywords.
    retryable = False
    default_reason = "the provider failed"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        retryable: bool | None = None,
        retry_delay: float | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason or self.default_reason
        if retryable is not None:
            self.retryable = retryable
        self.retry_delay = retry_delay


class AuthError(ProviderError):
    default_reason = "key refused"


class BadRequest(ProviderError):
    default_reason = "request rejected"


class ContextOverflow(BadRequest):
    """The prompt does not fit the model's context window. Each provider
    decides this where it reads the server's answer (an error code or type,
    or the words a server without one uses); nothing downstream reads text."""

    default_reason = "prompt too long"


class RateLimited(ProviderError):
    retryable = True
    default_reason = "rate limited"


class Overloaded(ProviderError):
    retryable = True
    default_reason = "server error"


class ConnectionFailed(ProviderError):
    retryable = True
    default_reason = "could not connect"


class StreamInterrupted(ProviderError):
    """The reply stopped after some text may have been shown."""

    default_reason = "reply interrupted"


class LocalModelError(ProviderError):
    default_reason = "local model failed"


class InvalidStructuredOutput(ProviderError):
    """A reply asked for JSON (--schema, `ask(schema=...)`) that is not JSON matching the schema."""

    default_reason = "invalid structured output"
