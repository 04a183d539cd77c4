"""A running tool's progress, as its server reports it: the newest report, taken
at most every SHOW_EVERY seconds by the thread that draws it.

The server may send reports at any rate (a flood of thousands a second): the
loop thread only replaces the newest one under a lock, and the drawing thread
takes it when it is due, so the terminal redraws at most ten times a second
whatever comes. The first report is due at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

SHOW_EVERY = 0.1  # seconds between two redraws of a call's line


@dataclass(frozen=True)
class Progress:
    """One report: how far (of `total`, when known), and the server's message."""

    progress: float
    total: float | None = None
    message: str = ""

    def text(self) -> str:
        """"2/3 copying": the server's own count, and its message."""
        done = _number(self.progress)
        count = f"{done}/{_number(self.total)}" if self.total is not None else done
        return f"{count} {self.message}".strip()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class LatestProgress:
    """The newest report of one call. `put` from any thread, at any rate; `take` when due."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Progress | None = None
        self._taken_at: float | None = None
        self.count = 0  # reports received, for tests and benchmarks

    def put(self, progress: float, total: float | None, message: str | None) -> None:
        report = Progress(progress, total, message or "")
        with self._lock:
            self._latest = report
            self.count += 1

    def take(self, now: float) -> Progress | None:
        """The newest report not yet taken, if SHOW_EVERY has passed since the last one was."""
        if self._taken_at is not None and now - self._taken_at < SHOW_EVERY:
            return None
        with self._lock:
            report, self._latest = self._latest, None
        if report is not None:
            self._taken_at = now
        return report
