"""GET /v1/models, which Anthropic and OpenAI-compatible servers both offer,
through the provider's one client (the connection then serves the first turn)."""

from __future__ import annotations

from collections.abc import Mapping

from chinwag.errors import AuthError, ProviderError
from chinwag.providers.http import USER_AGENT, HttpSettings, error_detail, send


def get_model_ids(url: str, headers: Mapping[str, str], http: HttpSettings, key_variable: str) -> list[str]:
    response = send(http, "GET", url, {"user-agent": USER_AGENT, **headers})
    if response.status_code in (401, 403):
        raise AuthError(f"the API key was refused listing models; check {key_variable}.",
                        reason=f"key refused ({response.status_code})")
    if response.status_code >= 300:
        raise ProviderError(f"{url} answered {response.status_code}: {error_detail(response.text)}",
                            reason=f"server answered {response.status_code}")
    try:
        data = response.json().get("data") or []
        return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]
    except (ValueError, AttributeError) as exc:
        raise ProviderError(f"{url} did not return a model list.", reason="no model list") from exc
