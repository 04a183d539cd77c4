"""The first message of a new chat on the page while another connection writes
the history (`chinwag serve` in headless Chromium, its provider a ScriptedServer).

A new chat's conversation gets its id once its first message is written. The
server saves it at once when nothing holds the database's write lock, else
from the recorder's writer thread a moment later; the page's turn waits for
that id (as a leaf's id is waited for), instead of refusing the message with
"the history database cannot be written", which is what a CI run on a loaded
machine met when the page's own first read created the database just as the
test pressed Enter.

Simulated: the other writer is this test's own SQLite connection holding
BEGIN IMMEDIATE on the history file, as a terminal chinwag saving a reply (or
`chinwag history import`) holds it; it lets go once the page's request is on
its way and the server has answered, or at most HELD_S after (a server that
waits for the lock answers only once it is free).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from chinwag.paths import database_file
from tests.cli_helpers import anthropic_env
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import open_page, send, serve, shown_text, wait_idle

HELD_S = 1.0  # the longest the lock is held after the request left: well inside the server's wait (2 s)


@contextmanager
def write_locked(database: Path) -> Iterator[None]:
    """Another connection's write transaction on `database`, for the block's length."""
    with closing(sqlite3.connect(database, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


def test_a_new_chat_sent_while_another_connection_writes_the_history_is_answered_and_saved(
        browser: Any, tmp_path: Path, fake: ScriptedServer) -> None:
    env = anthropic_env(tmp_path / "home", fake.base_url)
    fake.enqueue(Reply(chunks=["First answer."]))
    with serve(env) as served:
        page = open_page(browser, served.url)
        page.locator("#list .none").wait_for()  # the sidebar has read the history: the database exists
        answered: list[int] = []
        page.on("response", lambda r: answered.append(r.status) if r.url.endswith("/api/chat") else None)
        with write_locked(database_file(env)):
            with page.expect_request("**/api/chat"):
                send(page, "one")
            left = time.monotonic()
            while not answered and time.monotonic() - left < HELD_S:
                page.wait_for_timeout(20)  # (Playwright delivers the page's events meanwhile)
        assert answered in ([], [200]), page.locator("#notice").inner_text()  # not refused while it waited
        page.locator(".msg.assistant .body").last.filter(has_text="First answer.").wait_for()
        notice = shown_text(page.locator("#notice"))
        assert "cannot be written" not in notice and "busy" not in notice
        assert page.input_value("#input") == ""
        assert len(fake.requests) == 1
        page.locator("#list .item-title").filter(has_text="one").wait_for()  # saved: the sidebar lists it
        page.context.close()


def test_a_new_chat_refused_while_the_history_stays_locked_says_so_and_keeps_the_words(
        browser: Any, tmp_path: Path, fake: ScriptedServer) -> None:
    env = anthropic_env(tmp_path / "home", fake.base_url)
    with serve(env) as served:
        page = open_page(browser, served.url)
        page.locator("#list .none").wait_for()
        with write_locked(database_file(env)):  # held until the page has its answer: longer than the server waits
            send(page, "kept")
            notice = page.locator("#notice").filter(has_text="the history is busy")
            notice.wait_for()
        assert shown_text(notice) == "the history is busy (another process is writing to it); try again in a moment."
        assert page.input_value("#input") == "kept"
        assert not page.locator(".msg").count()
        assert not fake.requests
        page.context.close()


def test_a_message_waiting_behind_a_refused_one_is_not_sent_and_stays_in_the_box(
        browser: Any, tmp_path: Path, fake: ScriptedServer) -> None:
    """Enter pressed again while the first message's request waits for the history
    (the page is busy with it): that one waits for the first to end; the first
    refused, the second is called off: both messages' words are in the box, to send or not."""
    env = anthropic_env(tmp_path / "home", fake.base_url)
    with serve(env) as served:
        page = open_page(browser, served.url)
        page.locator("#list .none").wait_for()
        with write_locked(database_file(env)):
            send(page, "first")
            page.locator(".msg.user .body").filter(has_text="first").wait_for()
            send(page, "second")
            page.locator("#notice").filter(has_text="Sent when this reply ends.").wait_for()
            page.locator("#notice").filter(has_text="the history is busy").wait_for()
            wait_idle(page)
        assert page.input_value("#input") == "first\nsecond"
        assert not page.locator(".msg").count()
        assert not fake.requests
        page.context.close()
