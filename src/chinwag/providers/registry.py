"""Every provider chinwag knows, in one table: adding one is a module plus an entry.

Configuration (which provider a model name means, which variables hold its
key and base URL, what runs when nothing is configured), `chinwag models`,
the chat's label for the model and building the provider all read this table.
Provider modules are imported only when one is built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from chinwag.errors import UsageError
from chinwag.events import Event
from chinwag.providers.base import BaseProvider, Provider
from chinwag.records import ChatRequest, Window

if TYPE_CHECKING:
    from chinwag.config import Settings


@dataclass(frozen=True)
class ProviderEntry:
    name: str  # as in "-m NAME:MODEL"
    label: str  # what the chat calls the model ("Claude: ...")
    prefixes: tuple[str, ...]  # bare model names starting with these mean this provider
    key_variable: str | None  # where its API key is read from, if it takes one
    url_variable: str | None  # where its base URL is read from, if it has one
    default_model: str  # "" means: the server's first model, or the bundled one
    needs: Literal["key", "key or url", "nothing"]
    build: Callable[[Settings], Provider]
    servers_choose: bool = False  # at a base URL of the user's own, the server's first model is the default


def _anthropic(settings: Settings) -> Provider:
    from chinwag.providers.anthropic import AnthropicProvider

    return AnthropicProvider(settings.api_key or "", settings.base_url, **_http(settings))


def _openai(settings: Settings) -> Provider:
    from chinwag.providers.openai import OpenAIProvider

    return OpenAIProvider(settings.api_key, settings.base_url, settings.prefill, **_http(settings))


def _local(settings: Settings) -> Provider:
    import importlib.util
    from pathlib import Path

    from chinwag.providers.local import INSTALL_HINT, LocalProvider

    if settings.model and not Path(settings.model).expanduser().is_file():
        raise UsageError(f"model file not found: {settings.model}")
    if importlib.util.find_spec("llama_cpp") is None:
        raise UsageError(f"the local model needs llama-cpp-python; run: {INSTALL_HINT}")
    return LocalProvider(settings.model or None, settings.context_size)


def _http(settings: Settings) -> dict[str, Any]:
    return {"read_timeout": settings.timeout, "max_wait": settings.max_retry_wait,
            "max_retries": settings.retries}


# In order of preference when no model is named: the first whose variables are set.
PROVIDERS: tuple[ProviderEntry, ...] = (
    ProviderEntry("anthropic", "Claude", ("claude",), "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                  "claude-sonnet-4-20250514", "key", _anthropic),
    ProviderEntry("openai", "Assistant", ("gpt-", "chatgpt-", "o1", "o3", "o4"), "OPENAI_API_KEY",
                  "OPENAI_BASE_URL", "gpt-4o-mini", "key or url", _openai, servers_choose=True),
    ProviderEntry("local", "Assistant", (), None, None, "", "nothing", _local),
)
NAMES = tuple(entry.name for entry in PROVIDERS)


def entry(name: str) -> ProviderEntry:
    for candidate in PROVIDERS:
        if candidate.name == name:
            return candidate
    raise UsageError(f"unknown provider {name!r}; use one of {', '.join(NAMES)}.")


def parse_model_spec(spec: str) -> tuple[str, str]:
    """`NAME:MODEL`, `local[:PATH]`, `PATH.gguf` or a bare model name -> (provider, model);
    the provider is "" when a bare name matches none."""
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in NAMES:
        return prefix, rest.strip()
    if spec in NAMES:
        return spec, ""
    if spec.endswith(".gguf"):
        return "local", spec
    for candidate in PROVIDERS:
        if spec.startswith(candidate.prefixes):
            return candidate.name, spec
    return "", spec


def build(settings: Settings) -> Provider:
    """The provider `settings` ask for, built now: a setting that cannot work fails here."""
    return entry(settings.provider).build(settings)


class LazyProvider(BaseProvider):
    """The provider `settings` ask for, built on first use.

    The REPL draws its prompt before any provider module is imported; its
    warm-up thread (or the first message) builds the real one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.provider
        self._real: Provider | None = None
        self._lock = threading.Lock()

    @property
    def real(self) -> Provider:
        with self._lock:
            if self._real is None:
                self._real = build(self.settings)
            return self._real

    @property
    def model_name(self) -> str:
        # Building costs an import and no I/O (the bundled model's name needs its module).
        return self.settings.model or self.real.model_name

    @property
    def supports_prefill(self) -> bool:  # type: ignore[override]  # a property over the class default
        return self.real.supports_prefill

    @property
    def supports_tools(self) -> bool:  # type: ignore[override]  # a property over the class default
        return self.real.supports_tools

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        return self.real.stream(request)

    def list_models(self) -> list[str]:
        return self.real.list_models()

    def context_window(self, model: str) -> Window | None:
        return self.real.context_window(model)

    def warm_up(self) -> None:
        self.real.warm_up()

    def cancel(self) -> None:
        real = self._real  # not built yet: nothing streams
        if real is not None:
            real.cancel()

    def close(self) -> None:
        with self._lock:
            real, self._real = self._real, None
        if real is not None:
            real.close()
