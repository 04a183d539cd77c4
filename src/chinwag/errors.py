"""Every error chinwag reports to a user, as one tree.

    ChinwagError                 exit 1 unless a subclass says otherwise
    ├── UsageError               exit 2: bad flags, empty prompt, unknown model
    ├── ConfigError              exit 2: unreadable config, missing key
    └── ProviderError            exit 1: the model or the network failed
        ├── AuthError            401/403: the key was refused
        ├── BadRequest           400/404/413/422: the server rejected the request
        ├── RateLimited          429 after the retries ran out
        ├── Overloaded           529/5xx after the retries ran out
        ├── ConnectionFailed     could not connect, or timed out before a reply
        ├── StreamInterrupted    the reply stopped part-way (drop, error event,
        │                        no end-of-message marker, malformed data)
        └── LocalModelError      the bundled/local model could not run

Each message is one sentence the user can act on. `cli.py` prints
`chinwag: <message>` and exits with `exit_code`; nothing else is caught there.
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


class ProviderError(ChinwagError):
    exit_code = 1
    retryable = False
    retry_delay: float | None = None  # what the server asked for (retry-after), if anything


class AuthError(ProviderError):
    pass


class BadRequest(ProviderError):
    pass


class RateLimited(ProviderError):
    retryable = True


class Overloaded(ProviderError):
    retryable = True


class ConnectionFailed(ProviderError):
    retryable = True


class StreamInterrupted(ProviderError):
    """The reply stopped after some text may have been shown."""


class LocalModelError(ProviderError):
    pass
