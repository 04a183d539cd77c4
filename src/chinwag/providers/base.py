"""The provider contract, which every backend meets, and its defaults.

A provider turns a `ChatRequest` into an iterator of events: `TextDelta`s as
the text arrives, then `Usage` (when known) and finally one `Stop`;
`Retrying` may come before the first text. Failures are raised as
`chinwag.errors.ProviderError` subclasses, never as a library's own exception.

Closing the iterator early (`gen.close()`, or breaking out of a `for` loop
over it and dropping it) closes the HTTP connection or stops the model at
once: every provider wraps its work in `with` / `try ... finally`. Only the
thread that iterates may close it; any other thread stops it with `cancel()`
(the page's Stop): the stream's blocked read returns, and it ends with a
ProviderError.

`Provider` is the protocol the rest of chinwag types against; `BaseProvider`
gives each method its default, and reads what the provider can do (prefill,
tools) from its declaration, the `ProviderSpec` in its registry row
(providers/spec.py), so a new provider states it once, there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol


if TYPE_CHECKING:
    from chinwag.events import Event
    from chinwag.providers.spec import ProviderSpec
    from chinwag.records import ChatRequest, Window


class Provider(Protocol):
    @property
    def name(self) -> str:
        """The registry name: "anthropic", "openai", "local"."""
        ...

    @property
    def model_name(self) -> str:
        """The model replies come from when the request names none ("" if unknown)."""
        ...

    @property
    def supports_prefill(self) -> bool:
        """Whether a final assistant message is continued, not answered (/continue):
        the declaration's `prefill` ("per server": asked of the provider)."""
        ...

    @property
    def supports_tools(self) -> bool:
        """Whether requests may offer tools (ChatRequest.tools) and get tool calls back."""
        ...

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the reply's events; see the module docstring for the contract."""
        ...

    def cancel(self) -> None:
        """Stop the stream in flight (the last `stream()` called) from any thread,
        at once: close its connection, or tell the model runner to stop. The
        iterating thread's stream then ends with a ProviderError. Nothing
        streaming: nothing happens."""
        ...

    def list_models(self) -> list[str]:
        """Model names this provider can reach now (may raise ProviderError)."""
        ...

    def context_window(self, model: str) -> Window | None:
        """How much `model` takes, or None where only the server knows."""
        ...

    def warm_up(self) -> None:
        """Do slow set-up now (imports, TLS, loading a model), ahead of the first request."""
        ...

    def close(self) -> None:
        """Release connections, child processes and models; the provider is not used again."""
        ...


class BaseProvider(ABC):
    """Defaults for every method but `stream`; capabilities as declared in the registry."""

    name = ""

    @property
    def supports_prefill(self) -> bool:
        """As declared; a provider declaring "per server" overrides this to ask its server."""
        spec = _declared(self.name)
        return spec is not None and spec.prefill == "always"

    @property
    def supports_tools(self) -> bool:
        spec = _declared(self.name)
        return spec is not None and spec.tools

    @property
    def model_name(self) -> str:
        return ""

    @abstractmethod
    def stream(self, request: ChatRequest) -> Iterator[Event]: ...

    def list_models(self) -> list[str]:
        return [self.model_name] if self.model_name else []

    def context_window(self, model: str) -> Window | None:
        return None

    def warm_up(self) -> None:
        pass

    def cancel(self) -> None:
        pass  # nothing that blocks: the iterating thread sees the stop between events

    def close(self) -> None:
        pass


def _declared(name: str) -> ProviderSpec | None:
    from chinwag.providers.registry import find

    return find(name)
