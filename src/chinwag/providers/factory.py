"""Build the provider that `Settings` ask for. Provider modules are imported here, lazily."""

from __future__ import annotations

from chinwag.config import Settings
from chinwag.providers.base import Provider


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
