"""The markdown view of a reply on a terminal: sanitize, then render incrementally.

The renderer (rich + markdown-it-py, ~0.1 s to import) is built on the first
text, not before the request; `preload()` imports it ahead of time from a
background thread while the request is in flight or the user is typing.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from chinwag.render.sanitize import StreamSanitizer

if TYPE_CHECKING:
    from chinwag.render.markdown import MarkdownRenderer


def preload() -> threading.Thread:
    """Import the markdown renderer in a background thread; returns the thread."""
    def load() -> None:
        import chinwag.render.markdown  # noqa: F401
        import chinwag.render.md_blocks  # noqa: F401
        import chinwag.render.md_frame  # noqa: F401
        import chinwag.render.md_paint  # noqa: F401

    thread = threading.Thread(target=load, name="chinwag-preload-markdown", daemon=True)
    thread.start()
    return thread


def terminal_size(out: TextIO) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(out.fileno())
        return size.columns, size.lines
    except (OSError, ValueError, AttributeError):
        return 80, 24


class MarkdownView:
    """Feeds sanitized text to a MarkdownRenderer, following terminal resizes.

    A timer thread calls the renderer's `refresh` every 50 ms, so text the
    repaint throttle held back still shows when the model goes quiet; a lock
    keeps it and the main thread from drawing at once.
    """

    def __init__(self, out: TextIO, color: bool = True) -> None:
        self.out, self.color = out, color
        self._sanitizer = StreamSanitizer()
        self._renderer: MarkdownRenderer | None = None
        self._size = (0, 0)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._timer = threading.Thread(target=self._refresh_periodically, name="chinwag-repaint", daemon=True)

    def prepare(self) -> None:
        """Build the renderer now, before the request, if rich is loaded already
        (the preload): then the first text costs only its own rendering."""
        if "chinwag.render.md_paint" in sys.modules:
            with self._lock:
                self._build()

    def feed(self, text: str) -> None:
        safe = self._sanitizer.feed(text)
        if safe:
            self._render(safe)

    def finish(self) -> None:
        self._done.set()
        tail = self._sanitizer.flush()
        if tail:
            self._render(tail)
        with self._lock:
            if self._renderer is not None:
                self._renderer.finish()

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Around a stop (Ctrl-Z) and `fg`: the live region is erased before and
        drawn again after, at the cursor, instead of under a stale copy of it.
        Run from the signal handler on the main thread, which may have been
        stopped holding the lock: then the region is left as it is."""
        if not self._lock.acquire(timeout=0.5):
            yield
            return
        try:
            if self._renderer is not None:
                self._renderer.hide_live()
            yield
        finally:
            self._lock.release()

    def _render(self, text: str) -> None:
        size = terminal_size(self.out)  # one cheap syscall: resizes need no signal handler
        with self._lock:
            renderer = self._build()
            if size != self._size:
                renderer.resize(*size)
                self._size = size
            renderer.feed(text)

    def _build(self) -> MarkdownRenderer:
        if self._renderer is None:
            from chinwag.render.markdown import MarkdownRenderer

            self._size = terminal_size(self.out)
            self._renderer = MarkdownRenderer(self.out, *self._size, color=self.color)
            self._timer.start()
        return self._renderer

    def _refresh_periodically(self) -> None:
        from chinwag.render.markdown import REPAINT_INTERVAL

        while not self._done.wait(REPAINT_INTERVAL):
            size = terminal_size(self.out)
            with self._lock:
                if self._renderer is not None and not self._done.is_set():
                    if size != self._size:  # a resize while the model is quiet
                        self._renderer.resize(*size)
                        self._size = size
                    self._renderer.refresh()
