"""Every provider chinwag knows, in one table: adding one is a module plus a row.

Each row is a `ProviderSpec` (providers/spec.py): what the provider declares
about itself. Configuration (which provider a model name means, which
variables hold its key and base URL, what runs when nothing is configured),
`chinwag models`, `/model`, the chat's label, the page's model picker, the
attachment checks and building the provider all read these rows.

Providers outside chinwag join the table through the `chinwag.providers`
entry-point group (a distribution declaring `NAME = module:SPEC`, SPEC a
ProviderSpec), or `register(spec)` from Python. Entry points are looked up
only when a name is not a built-in one, or when every provider is listed, so
start-up never pays for the scan. Provider modules are imported only when one
is built.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from chinwag.errors import UsageError
from chinwag.providers.base import BaseProvider, Provider
from chinwag.providers.spec import Attachments, ImageLimits, ProviderSpec

if TYPE_CHECKING:
    from chinwag.config import Settings
    from chinwag.events import Event
    from chinwag.records import ChatRequest, Window

ENTRY_POINTS = "chinwag.providers"  # the entry-point group plugins declare their ProviderSpec in


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
BUILT_IN: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "anthropic", _anthropic, label="Claude", prefixes=("claude",),
        key_variable="ANTHROPIC_API_KEY", url_variable="ANTHROPIC_BASE_URL",
        default_model="claude-sonnet-4-20250514", needs="key",
        settings=frozenset({"temperature", "max_tokens", "thinking", "tools", "timeout", "retries"}),
        conflicts=(("thinking", "temperature", "Anthropic takes only its default temperature while thinking"),),
        prefill="always",  # the Messages API continues a final assistant message
        attachments=Attachments(images=ImageLimits(1568, 8000, 5 * 1024 * 1024)),
    ),
    ProviderSpec(
        "openai", _openai, group="OpenAI-compatible", prefixes=("gpt-", "chatgpt-", "o1", "o3", "o4"),
        key_variable="OPENAI_API_KEY", url_variable="OPENAI_BASE_URL",
        default_model="gpt-4o-mini", needs="key or url", servers_choose=True,
        settings=frozenset({"temperature", "max_tokens", "tools", "prefill", "timeout", "retries"}),
        prefill="per server",  # the `prefill` setting, or what /models says the server is
        attachments=Attachments(images=ImageLimits(2048, 2048, 20 * 1024 * 1024)),
    ),
    ProviderSpec(
        "local", _local, group="On this machine",
        settings=frozenset({"temperature", "max_tokens", "context_size"}),
        prefill="always",  # the whole prompt is ours: a partial reply is continued in the model's template
        attachments=Attachments(text_only="the bundled local model"),
        unnamed_model="bundled model (SmolLM2-135M, offline)", models_are_files=True,
        lists_models=False,  # the bundled model is the one the picker shows already
        requires="llama_cpp", runs_here=True,
    ),
)
NAMES = tuple(spec.name for spec in BUILT_IN)
FALLBACK = "local"  # what runs when nothing is configured
# Every provider known so far: the built-in ones, then those registered (entry points once looked up).
PROVIDERS: tuple[ProviderSpec, ...] = BUILT_IN
_plugins_lock = threading.RLock()  # held while entry points load: nobody sees half of them
_plugins_loaded = False


def register(spec: ProviderSpec) -> None:
    """Add a provider (or replace a registered one of the same name); a built-in one stays."""
    global PROVIDERS
    if spec.name in NAMES:
        raise UsageError(f"provider {spec.name!r} is built into chinwag and cannot be replaced.")
    with _plugins_lock:
        PROVIDERS = (*(p for p in PROVIDERS if p.name != spec.name), spec)


def all_providers() -> tuple[ProviderSpec, ...]:
    """The built-in providers and every plugin's (the entry points are read once)."""
    _load_plugins()
    return PROVIDERS


def _load_plugins() -> None:
    """Register each `chinwag.providers` entry point's ProviderSpec, once. A
    plugin that fails to load is left out with a warning, never a traceback."""
    global _plugins_loaded
    with _plugins_lock:
        if _plugins_loaded:
            return
        _plugins_loaded = True
        import sys
        from importlib.metadata import entry_points  # a few ms: only here, never before the prompt

        for point in entry_points(group=ENTRY_POINTS):
            try:
                spec = point.load()
            except Exception as exc:  # a broken plugin must not stop chinwag
                sys.stderr.write(f"chinwag: provider plugin {point.name!r} ({point.value}) failed to load: {exc}\n")
                continue
            if not isinstance(spec, ProviderSpec) or spec.name in NAMES:
                sys.stderr.write(f"chinwag: provider plugin {point.name!r} ({point.value}) is not a ProviderSpec"
                                 " of a new name; ignored.\n")
                continue
            register(spec)


def find(name: str) -> ProviderSpec | None:
    """The provider called `name`, or None; plugins are looked up only for a name not built in."""
    for candidate in BUILT_IN:
        if candidate.name == name:
            return candidate
    if not name:
        return None
    return next((p for p in all_providers() if p.name == name), None)


def entry(name: str) -> ProviderSpec:
    found = find(name)
    if found is None:
        names = ", ".join(p.name for p in all_providers())
        raise UsageError(f"unknown provider {name!r}; use one of {names}.")
    return found


def at_base_url() -> ProviderSpec:
    """The provider a base URL with no provider named means: an OpenAI-compatible server."""
    return next(p for p in BUILT_IN if p.servers_choose)


def parse_model_spec(spec: str) -> tuple[str, str]:
    """`NAME:MODEL`, `local[:PATH]`, `PATH.gguf` or a bare model name -> (provider, model);
    the provider is "" when a bare name matches none. Built-in names and prefixes
    are tried first; plugins (their entry points read now) only after."""
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in NAMES:
        return prefix, rest.strip()
    if spec in NAMES:
        return spec, ""
    if spec.endswith(".gguf"):
        return "local", spec
    for candidate in BUILT_IN:
        if spec.startswith(candidate.prefixes):
            return candidate.name, spec
    plugins = all_providers()[len(BUILT_IN):]
    for candidate in plugins:
        if sep and prefix == candidate.name:
            return prefix, rest.strip()
        if spec == candidate.name:
            return spec, ""
    for candidate in plugins:
        if candidate.prefixes and spec.startswith(candidate.prefixes):
            return candidate.name, spec
    return "", spec


def declared_window(settings: Settings, window: Window | None) -> Window | None:
    """The window history is fitted to: the provider's own, no larger than the
    `context_size` setting where the provider declares it takes one (a provider
    that knows no window of its own gets that size, counted by estimate)."""
    from chinwag.records import Window

    spec = find(settings.provider)
    size = settings.context_size
    if not size or spec is None or "context_size" not in spec.settings:
        return window
    if window is None:
        from chinwag.context import estimate_tokens

        return Window(size, estimate_tokens)
    return window if window.tokens <= size else Window(size, window.count)


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
    def supports_prefill(self) -> bool:
        return self.real.supports_prefill  # the real one's: it reads the row, or asks its server ("per server")

    @property
    def supports_tools(self) -> bool:
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
