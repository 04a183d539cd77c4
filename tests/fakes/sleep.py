"""A stand-in for `time.sleep` that records the delays instead of waiting."""

from __future__ import annotations


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
