"""GET /v1/models, which Anthropic and OpenAI-compatible servers both offer."""

from __future__ import annotations

from collections.abc import Mapping

from chinwag.errors import AuthError, ConnectionFailed, ProviderError
from chinwag.providers.http import USER_AGENT, HttpSettings, error_detail


def get_model_ids(url: str, headers: Mapping[str, str], http: HttpSettings, key_variable: str) -> list[str]:
    import httpx2

    try:
        with http.client(url) as client:
            response = client.get(url, headers={"user-agent": USER_AGENT, **headers})
    except httpx2.HTTPError as exc:
        raise ConnectionFailed(f"could not list models at {url}: {exc or type(exc).__name__}.") from exc
    if response.status_code in (401, 403):
        raise AuthError(f"the API key was refused listing models; check {key_variable}.")
    if response.status_code >= 300:
        raise ProviderError(f"{url} answered {response.status_code}: {error_detail(response.text)}")
    try:
        data = response.json().get("data") or []
        return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]
    except (ValueError, AttributeError) as exc:
        raise ProviderError(f"{url} did not return a model list.") from exc
