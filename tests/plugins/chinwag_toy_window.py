"""A toy provider that declares it takes a `context_size` and knows no window
of its own: it answers with how many messages it was sent, so a test can see
the history fitted to the declared size (tests/test_declared_settings.py)."""

from __future__ import annotations

from collections.abc import Iterator

from chinwag_toy import MODELS, ToyProvider

from chinwag.events import Event, Stop, TextDelta, Usage
from chinwag.providers.spec import ProviderSpec
from chinwag.records import ChatRequest


class CountingProvider(ToyProvider):
    def stream(self, request: ChatRequest) -> Iterator[Event]:
        yield TextDelta(f"heard {len(request.messages)} messages")
        yield Usage(3, 5)
        yield Stop("end_turn")


SPEC = ProviderSpec(
    "toywindow", CountingProvider, label="Toy", key_variable="TOY_API_KEY", default_model=MODELS[0], needs="key",
    settings=frozenset({"temperature", "max_tokens", "context_size"}),
)
