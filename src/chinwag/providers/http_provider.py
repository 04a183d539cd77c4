"""What every provider that speaks to a server over HTTP shares (anthropic.py,
openai.py): the server's base URL and the one client its requests go through
(http_client.py). Warming up builds that client, cancelling stops the stream
in flight on it, and closing closes it."""

from __future__ import annotations

from typing import Any

from chinwag.providers.base import BaseProvider
from chinwag.providers.http_client import HttpSettings


class HttpProvider(BaseProvider):
    """A provider whose server is at `base_url` (a trailing "/" dropped); `http`
    is HttpSettings' fields (retries, timeouts)."""

    def __init__(self, base_url: str, **http: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = HttpSettings(**http)

    def warm_up(self) -> None:
        self.http.warm_up(self.base_url)

    def cancel(self) -> None:
        self.http.cancel()

    def close(self) -> None:
        self.http.close()
