"""A streamed reply laid out for the server: the events before the text, one
group of events per text chunk (its text event first), and the events after."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Script:
    head: list[bytes]
    text: list[list[bytes]]
    tail: list[bytes]
