"""The one event vocabulary every provider yields.

Providers turn their wire format into these records; `turn.py` consumes them,
feeding renderers and the store. `--json` writes them out as they are (see
`to_json`). Nothing outside `providers/` ever sees a provider's own objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Union


@dataclass(frozen=True)
class TextDelta:
    """A piece of reply text, in the order the model produced it."""

    text: str
    type: Literal["text"] = field(default="text", init=False)


@dataclass(frozen=True)
class Usage:
    """Token counts as the provider reported them (None when it did not)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    type: Literal["usage"] = field(default="usage", init=False)


@dataclass(frozen=True)
class Stop:
    """The reply ended normally. `reason` is the provider's stop reason,
    normalised: "end_turn", "max_tokens", "stop_sequence", or the raw value."""

    reason: str
    type: Literal["stop"] = field(default="stop", init=False)


@dataclass(frozen=True)
class Retrying:
    """A request failed before any text arrived and will be sent again."""

    attempt: int  # the attempt about to be made, counting from 1
    max_attempts: int
    delay: float  # seconds we wait first
    reason: str  # e.g. "overloaded (529)"
    type: Literal["retrying"] = field(default="retrying", init=False)


@dataclass(frozen=True)
class Notice:
    """One line the user should read: history left out to fit the window,
    a reply that could not be saved. Not from providers: the session adds them."""

    text: str
    type: Literal["notice"] = field(default="notice", init=False)


Event = Union[TextDelta, Usage, Stop, Retrying, Notice]


def to_json(event: Event) -> dict[str, object]:
    """The `--json` form of an event: its fields, `type` included."""
    return asdict(event)
