"""Which pages are open, so a reply outlives the tab that asked for it.

Every open page holds one presence stream (`GET /api/presence`, SSE) for as
long as it is open. A reply keeps streaming while any page is open, whether
or not one follows that reply: the user may be reading another conversation
and come back. Only Stop, or every page gone for `streams.ORPHAN_GRACE` seconds (the
tabs closed, the network down), stops it.

The same streams tell the pages when the conversation list changed (a new
conversation, a reply starting or ending, a rename or delete), so each
sidebar shows new chats at once and marks the ones streaming now.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from chinwag.web.live import Follower


class Pages:
    """The open pages' presence streams; safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[Follower] = []

    def open(self, loop: asyncio.AbstractEventLoop) -> Follower:
        page = Follower(loop)
        with self._lock:
            self._open.append(page)
        return page

    def close(self, page: Follower) -> int:
        """Forget `page`; how many pages are still open."""
        with self._lock:
            if page in self._open:
                self._open.remove(page)
            return len(self._open)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._open)

    def tell(self, event: dict[str, Any]) -> None:
        """Send `event` to every open page."""
        with self._lock:
            pages = list(self._open)
        for page in pages:
            page.put(dict(event))

    def end_all(self) -> None:
        """End every presence stream (the server is shutting down)."""
        with self._lock:
            pages = list(self._open)
        for page in pages:
            page.put(None)
