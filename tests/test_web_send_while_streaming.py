"""Enter pressed on the page while a reply streams (`chinwag serve` in headless
Chromium, its provider a ScriptedServer): the message waits in its box and is
sent when the reply ends, as the terminal sends a line typed ahead at its next
prompt. Until then the page says so; emptying the box calls it off (as
opening another conversation or a new chat does).

It used to be dropped without a word (the box kept the words, nothing was sent),
which is how the budget test flaked on a loaded machine: it typed its second
message once the first reply's text showed, before that reply's end arrived.
Here the first reply's end is held back by the scripted server (`hold_after`)
until the second message has been typed and Enter pressed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli_helpers import anthropic_env
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import open_page, send, serve, shown_text, wait_idle

QUEUED = "Sent when this reply ends."


def test_enter_while_a_reply_streams_sends_the_message_when_it_ends(
        browser: Any, tmp_path: Path, fake: ScriptedServer) -> None:
    first = Reply(chunks=["First answer.", " And more."], hold_after=1)
    fake.enqueue(first, Reply(chunks=["Second answer."]))
    with serve(anthropic_env(tmp_path / "home", fake.base_url)) as served:
        page = open_page(browser, served.url)
        send(page, "one")
        page.locator(".msg.assistant .body").last.filter(has_text="First answer.").wait_for()
        send(page, "two")
        page.locator("#notice").filter(has_text=QUEUED).wait_for()
        assert page.input_value("#input") == "two"  # waiting, in the box, while the reply streams
        assert page.locator("#stop").is_visible()
        assert len(fake.requests) == 1
        first.release.set()
        page.locator(".msg.assistant .body").last.filter(has_text="Second answer.").wait_for()
        assert [shown_text(m) for m in page.locator(".msg.user .body").all()] == ["one", "two"]
        assert "First answer. And more." in shown_text(page.locator(".msg.assistant .body").first)
        assert page.input_value("#input") == ""
        assert QUEUED not in shown_text(page.locator("#notice"))
        assert fake.requests[1].json["messages"][-1]["content"] == "two"
        assert len(fake.requests) == 2
        page.context.close()


def test_emptying_the_box_calls_a_waiting_message_off_and_a_new_draft_is_not_sent(
        browser: Any, tmp_path: Path, fake: ScriptedServer) -> None:
    first = Reply(chunks=["First answer.", " And more."], hold_after=1)
    fake.enqueue(first)
    with serve(anthropic_env(tmp_path / "home", fake.base_url)) as served:
        page = open_page(browser, served.url)
        send(page, "one")
        page.locator(".msg.assistant .body").last.filter(has_text="First answer.").wait_for()
        send(page, "never mind")
        page.locator("#notice").filter(has_text=QUEUED).wait_for()
        page.fill("#input", "")
        page.wait_for_selector("#notice", state="hidden")  # called off
        page.fill("#input", "a draft, Enter not pressed")
        first.release.set()
        page.locator(".msg.assistant .body").last.filter(has_text="And more.").wait_for()
        wait_idle(page)  # the reply has ended, and nothing else was sent
        assert page.locator(".msg.user").count() == 1
        assert page.input_value("#input") == "a draft, Enter not pressed"
        assert len(fake.requests) == 1
        page.context.close()
