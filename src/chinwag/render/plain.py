"""Plain rendering: the tutorial's `print(text, end="", flush=True)`, made safe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from chinwag.render.sanitize import StreamSanitizer


class PlainRenderer:
    """Writes each piece of text the moment it arrives, sanitized, and flushes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._sanitizer = StreamSanitizer()
        self._ends_with_newline = True

    def feed(self, text: str) -> None:
        safe = self._sanitizer.feed(text)
        if safe:
            self._write(safe)

    def finish(self) -> None:
        """Write what was held back and end the line; safe to call twice."""
        self._write(self._sanitizer.flush())
        if not self._ends_with_newline:
            self._write("\n")

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Around a stop (Ctrl-Z): plain text has nothing to redraw."""
        yield

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self._ends_with_newline = text.endswith("\n")
