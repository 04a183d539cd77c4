"""A spinner that fills the silence before the first token, and the line that
shows a tool running (terminals only).

Whoever draws one owns the current line: nothing else may be written while
it runs (a question drawn under it would be erased by its next frame), so a
sink stops it before writing anything, a question included."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
INTERVAL = 0.08


class Spinner:
    """Draws `prefix` + a frame (by default a spinner and the elapsed seconds)
    on the current line until stopped.

    `stop()` erases the frame and leaves `prefix` on the line, so text can follow
    it directly. It returns at once: the drawing thread is woken, not waited out.
    """

    def __init__(self, out: TextIO, prefix: str = "", frame: Callable[[int, float], str] | None = None) -> None:
        self.out = out
        self.prefix = prefix
        self.frame = frame or spinning
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="chinwag-spinner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        frame, drawn = 0, ""
        # Wait a moment first: a reply that starts at once needs no spinner.
        while not self._stopped.wait(INTERVAL):
            text = self.frame(frame, time.monotonic() - self._started)
            frame += 1
            if text == drawn:  # a line that counts whole seconds changes once a second
                continue
            with self._lock:
                if self._stopped.is_set():
                    return
                self.out.write(f"\r{self.prefix}\x1b[2m{text}\x1b[0m\x1b[K")
                self.out.flush()
            drawn = text

    def show(self, frame: Callable[[int, float], str]) -> None:
        """Draw with `frame` from now on, and draw it at once (a tool's progress: the
        next tick may be INTERVAL away)."""
        with self._lock:
            self.frame = frame
            if self._thread is None or self._stopped.is_set():
                return
            self.out.write(f"\r{self.prefix}\x1b[2m{frame(0, time.monotonic() - self._started)}\x1b[0m\x1b[K")
            self.out.flush()

    def stop(self) -> None:
        if self._thread is None:
            return
        with self._lock:
            self._stopped.set()
            self.out.write(f"\r{self.prefix}\x1b[K")
            self.out.flush()
        self._thread = None


def spinning(frame: int, elapsed: float) -> str:
    """"⠙ 1.0s": the silence before the model's first token."""
    return f"{FRAMES[frame % len(FRAMES)]} {elapsed:.1f}s"


def running(name: str) -> Callable[[int, float], str]:
    """"⚙ shell … running 3 s": an approved tool at work."""
    return lambda frame, elapsed: f"⚙ {name} … running {elapsed:.0f} s"
