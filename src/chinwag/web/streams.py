"""The event streams the page follows: a turn's reply, and an open page's presence.

Each is Server-Sent Events, one JSON object per `data:` line, with a comment
line when it is quiet so a silent stream is not taken for a dead one. A reply streams on while
any page is open (presence.py), followed or not: the user may look at
another conversation and come back. One that nobody follows once every page
is gone (the tabs closed, the network down) is stopped after `ORPHAN_GRACE`
seconds unless a page comes back: a reload picks the same reply up where it is.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.responses import StreamingResponse

if TYPE_CHECKING:
    from chinwag.web.chats import Chats
    from chinwag.web.live import LiveTurn

ORPHAN_GRACE = 3.0  # seconds a reply streams on with nobody following
KEEPALIVE = 15.0  # seconds between comment lines on a quiet stream
NO_STORE = {"cache-control": "no-store"}


STREAM_HEADERS = {**NO_STORE, "x-accel-buffering": "no"}  # no proxy holds the events back


def reply_stream(live: LiveTurn, first: list[dict[str, Any]], chats: Chats) -> StreamingResponse:
    """The reply `live` for one page following it: `first`, its snapshot, then its events."""
    return StreamingResponse(_events(live, first, chats), media_type="text/event-stream", headers=STREAM_HEADERS)


def presence_stream(chats: Chats) -> StreamingResponse:
    """One open page's presence: held open, the conversation list's changes on it."""
    return StreamingResponse(_presence(chats), media_type="text/event-stream", headers=STREAM_HEADERS)


async def _events(live: LiveTurn, first: list[dict[str, Any]], chats: Chats) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    follower, snapshot = live.follow(loop)
    try:
        for opening in [*first, snapshot]:
            yield _sse(opening)
        async for chunk in _drained(follower.queue):
            yield chunk
    finally:
        if live.unfollow(follower) == 0 and not live.done.is_set():
            loop.call_later(ORPHAN_GRACE, _stop_if_orphaned, live, chats)


async def _drained(queue: asyncio.Queue[Any]) -> AsyncIterator[str]:
    """A queue's events as SSE until its None, with a keep-alive comment when
    it is quiet, so a silent stream is not taken for a dead one."""
    while True:
        try:
            event = await asyncio.wait_for(queue.get(), KEEPALIVE)
        except TimeoutError:
            yield ": keep-alive\n\n"
            continue
        if event is None:
            return
        yield _sse(event)


async def _presence(chats: Chats) -> AsyncIterator[str]:
    """One open page: held open, with the list's changes, until the page goes."""
    loop = asyncio.get_running_loop()
    page = chats.pages.open(loop)
    try:
        yield _sse({"t": "changed", "live": chats.live_ids()})
        async for chunk in _drained(page.queue):
            yield chunk
    finally:
        if chats.pages.close(page) == 0:
            for live in chats.unwatched():
                loop.call_later(ORPHAN_GRACE, _stop_if_orphaned, live, chats)


def _stop_if_orphaned(live: LiveTurn, chats: Chats) -> None:
    """Stop `live` if nobody follows it and no page is open (see presence.py)."""
    if live.followers == 0 and chats.pages.count == 0 and not live.done.is_set():
        live.cancel()


def _sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
