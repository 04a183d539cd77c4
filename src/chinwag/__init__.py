"""chinwag: a streaming chat client for the terminal, and its Python API.

    from chinwag import Chat
    for event in Chat().stream("hello"):
        print(event.text, end="", flush=True) if event.type == "text" else None

The names below are imported on first use, so `chinwag --help` and the
chat's prompt pay nothing for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:
    from chinwag.api import Chat
    from chinwag.errors import (
        AuthError,
        BadRequest,
        BudgetExceeded,
        ChinwagError,
        ConfigError,
        ConnectionFailed,
        ContextOverflow,
        InvalidStructuredOutput,
        LocalModelError,
        Overloaded,
        ProviderError,
        RateLimited,
        StreamInterrupted,
        UsageError,
    )
    from chinwag.events import Event, Notice, Retrying, Stop, TextDelta, Usage
    from chinwag.records import Message, Reply
    from chinwag.tools.mcp_elicit import ElicitAnswer, Elicitation

_EXPORTS = {
    "Chat": "chinwag.api",
    "ChinwagError": "chinwag.errors", "ConfigError": "chinwag.errors",
    "ProviderError": "chinwag.errors", "UsageError": "chinwag.errors",
    "AuthError": "chinwag.errors", "BadRequest": "chinwag.errors", "ConnectionFailed": "chinwag.errors",
    "ContextOverflow": "chinwag.errors", "LocalModelError": "chinwag.errors", "Overloaded": "chinwag.errors",
    "RateLimited": "chinwag.errors", "StreamInterrupted": "chinwag.errors",
    "InvalidStructuredOutput": "chinwag.errors", "BudgetExceeded": "chinwag.errors",
    "Event": "chinwag.events", "Notice": "chinwag.events", "Retrying": "chinwag.events",
    "Stop": "chinwag.events", "TextDelta": "chinwag.events", "Usage": "chinwag.events",
    "Message": "chinwag.records", "Reply": "chinwag.records",
    "Elicitation": "chinwag.tools.mcp_elicit", "ElicitAnswer": "chinwag.tools.mcp_elicit",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'chinwag' has no attribute {name!r}")
