"""Where the page's turns run: `Workers` keeps threads that run turns off
the server's event loop. (Stopping one from outside is the provider's
`cancel`, through `SessionTurn.stop`: see live.py.)"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class Workers:
    """Daemon threads that run turns, kept between turns: starting a thread
    makes its starter wait until the new thread is scheduled, which a busy
    machine makes slow, and the starter here is the request. Idle threads
    wait for the next job; one is added when none is idle."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            spawn = self._idle == 0
            self._idle -= 0 if spawn else 1
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name="chinwag-web-turn", daemon=True).start()

    def _work(self) -> None:
        while True:
            self._jobs.get()()
            with self._lock:
                self._idle += 1
