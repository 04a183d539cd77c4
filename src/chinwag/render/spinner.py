"""A spinner that fills the silence before the first token (terminals only)."""

from __future__ import annotations

import threading
import time
from typing import TextIO

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
INTERVAL = 0.08


class Spinner:
    """Draws `prefix` + a frame + elapsed seconds on the current line until stopped.

    `stop()` erases the frame and leaves `prefix` on the line, so text can follow
    it directly. It returns at once: the drawing thread is woken, not waited out.
    """

    def __init__(self, out: TextIO, prefix: str = "") -> None:
        self.out = out
        self.prefix = prefix
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
        frame = 0
        # Wait a moment first: a reply that starts at once needs no spinner.
        while not self._stopped.wait(INTERVAL):
            elapsed = time.monotonic() - self._started
            with self._lock:
                if self._stopped.is_set():
                    return
                self.out.write(f"\r{self.prefix}\x1b[2m{FRAMES[frame % len(FRAMES)]} {elapsed:.1f}s\x1b[0m\x1b[K")
                self.out.flush()
            frame += 1

    def stop(self) -> None:
        if self._thread is None:
            return
        with self._lock:
            self._stopped.set()
            self.out.write(f"\r{self.prefix}\x1b[K")
            self.out.flush()
        self._thread = None
