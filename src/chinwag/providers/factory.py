"""Build the provider that `Settings` ask for. Provider modules are imported here, lazily."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from chinwag.config import Settings
from chinwag.events import Event
from chinwag.providers.base import Provider
from chinwag.records import ChatRequest


class LazyProvider:
    """The provider `settings` ask for, built on first use.

    The REPL draws its prompt before any provider module is imported; its
    warm-up thread (or the first message) builds the real one. Anything else
    asked of it (context_window, supports_prefill, ...) is the real one's."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.provider
        self._real: Provider | None = None
        self._lock = threading.Lock()

    @property
    def real(self) -> Provider:
        with self._lock:
            if self._real is None:
                self._real = make_provider(self.settings)
            return self._real

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        return self.real.stream(request)

    def list_models(self) -> list[str]:
        return self.real.list_models()

    def warm_up(self) -> None:
        warm_up = getattr(self.real, "warm_up", None)
        if warm_up is not None:
            warm_up()

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.real, attribute)


def make_provider(settings: Settings) -> Provider:
    http = {"read_timeout": settings.timeout, "max_wait": settings.max_retry_wait, "max_retries": settings.retries}
    if settings.provider == "anthropic":
        from chinwag.providers.anthropic import AnthropicProvider

        return AnthropicProvider(settings.api_key or "", settings.base_url, **http)
    if settings.provider == "openai":
        from chinwag.providers.openai import OpenAIProvider

        return OpenAIProvider(settings.api_key, settings.base_url, **http)
    from chinwag.providers.local import LocalProvider

    return LocalProvider(settings.model or None, settings.context_size)
