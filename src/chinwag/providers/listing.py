"""GET /v1/models, which Anthropic and OpenAI-compatible servers both offer,
through the provider's one client (the connection then serves the first turn)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chinwag.errors import AuthError, ProviderError
from chinwag.providers.http_client import USER_AGENT, HttpSettings, send
from chinwag.providers.http_failures import error_detail


def get_model_ids(url: str, headers: Mapping[str, str], http: HttpSettings, key_variable: str) -> list[str]:
    return [str(item["id"]) for item in get_models(url, headers, http, key_variable)]


def get_models(url: str, headers: Mapping[str, str], http: HttpSettings, key_variable: str) -> list[dict[str, Any]]:
    """The model objects as the server gives them (`id`, and e.g. `owned_by`)."""
    response = send(http, "GET", url, {"user-agent": USER_AGENT, **headers})
    if response.status_code in (401, 403):
        raise AuthError(f"the API key was refused listing models; check {key_variable}.",
                        reason=f"key refused ({response.status_code})")
    if response.status_code >= 300:
        raise ProviderError(f"{url} answered {response.status_code}: {error_detail(response.text)}",
                            reason=f"server answered {response.status_code}")
    try:
        data = response.json().get("data") or []
        return [item for item in data if isinstance(item, dict) and "id" in item]
    except (ValueError, AttributeError) as exc:
        raise ProviderError(f"{url} did not return a model list.", reason="no model list") from exc
