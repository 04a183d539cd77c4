"""The two HTTP providers as the provider tests build them (against the scripted
server on 127.0.0.1, tests/fakes/server.py), and how those tests read a stream."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from chinwag.errors import ProviderError
from chinwag.events import Event, Stop, TextDelta, Usage
from chinwag.providers.anthropic import AnthropicProvider
from chinwag.providers.openai import OpenAIProvider

APIS = ["anthropic", "openai"]
# What both providers yield for the scripted server's Reply(chunks=["Hel", "lo"]).
HELLO = [TextDelta("Hel"), TextDelta("lo"), Usage(12, 2), Stop("end_turn")]
HttpProvider = AnthropicProvider | OpenAIProvider


def http_provider(api: str, base_url: str, sleep: Callable[[float], None], **http: object) -> HttpProvider:
    """`api`'s provider on the server at `base_url`: two retries unless `http` says
    otherwise, waiting through `sleep` (a RecordingSleep records the delays and waits none)."""
    http = {"max_retries": 2, "sleep": sleep, **http}
    if api == "anthropic":
        return AnthropicProvider(api_key="test-key", base_url=base_url, **http)
    return OpenAIProvider(api_key="test-key", base_url=base_url + "/v1", **http)


def collect(events: Iterator[Event]) -> tuple[list[Event], ProviderError | None]:
    """Every event yielded before the stream ended or raised, and what it raised."""
    seen: list[Event] = []
    try:
        for event in events:
            seen.append(event)
    except ProviderError as exc:
        return seen, exc
    return seen, None
