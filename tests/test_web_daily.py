"""The page as a daily driver (issue 18), in a real browser: headless Chromium
(Debian's) through Playwright, against the real `chinwag serve` on a free
port, its provider a ScriptedServer on 127.0.0.1.

A reply keeps streaming while the user looks at another conversation, and the
sidebar marks it; new chats are listed at once; a server that is gone or was
restarted is said so in one line and the typed words stay; a retry notice
goes with the final failure; the model picker lists the server's models;
rename, delete with undo, copy a message as markdown; the keys (Esc, Ctrl+
Shift+O, /) and "jump to the latest"; code on a phone scrolls sideways; the
tab is titled; the theme toggle is remembered; icons fall back to text where
no font draws them. Screenshots of the new parts go to docs/screenshots/.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from chinwag.web.streams import ORPHAN_GRACE
from tests.cli_helpers import anthropic_env, run_chinwag
from tests.fakes.server import DEFAULT_MODELS, Reply, ScriptedServer
from tests.test_web_support import (SCREENSHOTS, Served, open_page, send, serve, shown_text, wait_idle, wait_ready,
                                    wait_reply)

STALE = "This page is from an earlier chinwag serve; open the new address it printed."
GONE = "Not sent: chinwag serve is not reachable (stopped?); your message is kept."


def poll(page: Any, predicate: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, predicate
        time.sleep(0.05)


def item(page: Any, title: str) -> Any:
    return page.locator(".list .item").filter(has=page.locator(".item-title", has_text=title))


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def test_a_reply_streams_on_while_the_user_reads_another_chat_and_the_sidebar_marks_it(
        page: Any, fake: ScriptedServer) -> None:
    held = Reply(chunks=["Once upon a time", " they lived happily ever after."], hold_after=1)
    fake.enqueue(held)
    send(page, "Tell me a long story")
    wait_reply(page, "Once upon a time")

    page.click("#new-chat")  # a new chat, while the first reply streams
    page.wait_for_selector("#title:has-text('New chat')")
    fake.enqueue(Reply(chunks=["Pelicans are large water birds."]))
    send(page, "Tell me about pelicans")
    wait_reply(page, "Pelicans are large water birds.")
    page.wait_for_selector("#send:visible")
    assert not fake.wait_closed(1, timeout=ORPHAN_GRACE + 2), "leaving the chat stopped its reply"
    story = item(page, "Tell me a long story")
    story.locator(".live-dot").wait_for()
    assert item(page, "Tell me about pelicans").locator(".live-dot").count() == 0
    page.wait_for_selector("#toggle-side.has-live", state="attached")  # a phone's drawer button says so too
    shoot(page, "sidebar-live.png")

    story.click()  # back to it: the reply so far, and it follows the rest live
    wait_reply(page, "Once upon a time")
    assert page.locator("#stop").is_visible()
    assert page.title() == "Tell me a long story"
    page.wait_for_selector("#toggle-side:not(.has-live)", state="attached")  # it is the one shown now
    held.release.set()
    wait_reply(page, "happily ever after.")
    page.wait_for_selector(".msg.assistant .meta:has-text('to first token')")
    story.locator(".live-dot").wait_for(state="detached")
    assert fake.closed_connections == 0


def test_a_reply_stops_only_when_every_tab_of_the_page_is_closed(
        browser: Any, served: Served, fake: ScriptedServer) -> None:
    """Two tabs of one browser: the first holds the page's one presence
    stream for both (a Web Lock); when it closes, the second takes over."""
    asking = open_page(browser, served.url)
    reading = asking.context.new_page()
    reading.goto(served.url)
    wait_ready(reading)
    fake.enqueue(Reply(chunks=["Still going", " on and on"], hold_after=1))
    send(asking, "Keep talking")
    wait_reply(asking, "Still going")
    asking.close()  # the tab that asked, followed the reply and held the presence stream is gone
    assert not fake.wait_closed(1, timeout=ORPHAN_GRACE + 2), "closing one tab stopped the reply"
    item(reading, "Keep talking").locator(".live-dot").wait_for()  # the other tab knows it streams
    reading.context.close()  # the last tab: nobody is left to come back to it
    assert fake.wait_closed(1, timeout=ORPHAN_GRACE + 5), "the reply went on with no page open"


def test_a_server_that_is_gone_or_restarted_is_said_in_one_line_and_the_words_stay(
        browser: Any, tmp_path: Path, fake: ScriptedServer) -> None:
    """The server is stopped with Ctrl-C as a user would, then started again
    on the same port (its new token refuses the old page's cookie)."""
    env = anthropic_env(tmp_path / "home", fake.base_url)
    with serve(env) as first:
        page = open_page(browser, first.url)
    send(page, "Are you there?")
    page.wait_for_selector(f"#notice:has-text('{GONE}')")
    assert page.input_value("#input") == "Are you there?"
    assert page.locator(".msg").count() == 0 and page.locator("#send").is_visible()

    with serve(env, "--port", str(first.port)):  # the same address, a new token
        page.wait_for_selector(f"#notice:has-text('{STALE}')")  # said before anything is sent
        page.press("#input", "Enter")
        wait_idle(page)  # the notice was already up: the refused send has given the words back
        page.wait_for_selector(f"#notice:has-text('{STALE}')")
        assert page.input_value("#input") == "Are you there?"
        assert page.locator(".msg").count() == 0
        assert not [r for r in fake.requests if r.method == "POST"]
    page.context.close()


def test_a_retry_notice_goes_when_the_final_failure_arrives(page: Any, fake: ScriptedServer) -> None:
    fake.enqueue(*[Reply(status=529, headers={"retry-after-ms": "300"}) for _ in range(3)])
    send(page, "Busy?")
    page.wait_for_selector("#notice:has-text('retrying in 0.3 s')")
    page.wait_for_selector(".msg.assistant .meta.error")
    page.wait_for_selector("#notice", state="hidden")
    assert "overloaded" in page.locator(".msg.assistant .meta").inner_text().lower()


def test_the_model_picker_lists_the_servers_models_and_fits_a_phone(
        browser: Any, served: Served, fake: ScriptedServer) -> None:
    page = open_page(browser, served.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    assert not [r for r in fake.requests if r.path.endswith("/models")]  # drawing the page asked no server
    page.hover("#model")  # reaching for the picker asks the provider's server, once
    for model in DEFAULT_MODELS:
        page.wait_for_selector(f"#model option[value='anthropic:{model}']", state="attached")
    listed = page.locator("#model optgroup[label='Claude'] option").evaluate_all("(os) => os.map(o => o.value)")
    assert set(listed) >= {f"anthropic:{model}" for model in DEFAULT_MODELS}
    box = page.locator("#model").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.select_option("#model", f"anthropic:{DEFAULT_MODELS[1]}")
    fake.enqueue(Reply(chunks=["From the second model."]))
    send(page, "Which model?")
    wait_reply(page, "From the second model.")
    assert fake.requests[-1].json["model"] == DEFAULT_MODELS[1]
    page.context.close()


def test_rename_delete_with_undo_and_copy_a_message_as_markdown(
        browser: Any, served: Served, fake: ScriptedServer, tmp_path: Path) -> None:
    page = open_page(browser, served.url)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.base)
    answer = "A **bold** claim:\n\n```python\nprint('hi')\n```\n"
    fake.enqueue(Reply(chunks=[answer]))
    send(page, "Say something *marked*")
    wait_reply(page, "bold claim")
    page.wait_for_selector("#send:visible")
    reply = page.locator(".msg.assistant").last
    reply.hover()
    reply.locator(".copy-msg").click()
    reply.locator(".copy-msg:has-text('Copied')").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == answer  # the source, not the HTML's text
    page.locator(".msg.user").hover()
    page.locator(".msg.user .copy-msg").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == "Say something *marked*"

    page.click(".conv-tools button:has-text('Rename')")
    page.fill("input.rename", "Marked words")
    page.press("input.rename", "Enter")
    page.wait_for_selector("#title:has-text('Marked words')")
    item(page, "Marked words").wait_for()
    assert page.title() == "Marked words"
    listed = run_chinwag(["history", "list"], anthropic_env(tmp_path / "home", fake.base_url)).stdout
    assert "Marked words" in listed  # the terminal's history shows the new title too

    page.click(".conv-tools button:has-text('Delete')")
    page.wait_for_selector(".toast:has-text('Deleted “Marked words”.')")
    assert item(page, "Marked words").count() == 0
    shoot(page, "delete-undo.png")
    assert served.request("GET", "/api/conversations/1")[0] == 200  # not yet: the user may undo
    page.click(".toast button:has-text('Undo')")
    item(page, "Marked words").wait_for()
    page.wait_for_selector(".msg.assistant .body:has-text('bold claim')")

    page.click(".conv-tools button:has-text('Delete')")
    page.wait_for_selector(".toast:has-text('Deleted')")
    deadline = time.monotonic() + 15
    while served.request("GET", "/api/conversations/1")[0] != 404:
        assert time.monotonic() < deadline, "the conversation was never deleted"
        time.sleep(0.2)
    assert item(page, "Marked words").count() == 0
    page.wait_for_selector(".toast", state="hidden")
    page.context.close()


LONG = "\n\n".join(f"Paragraph {i} of a long reply, long enough to scroll." for i in range(60))


def test_keys_escape_stops_slash_searches_and_jump_to_the_latest(page: Any, fake: ScriptedServer) -> None:
    assert "Ctrl+Shift+O" in page.get_attribute("#new-chat", "title")
    held = Reply(chunks=[LONG, " The end."], hold_after=1)
    fake.enqueue(held)
    send(page, "Write a lot")
    wait_reply(page, "Paragraph 59")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_selector(".jump:visible")
    page.click(".jump")
    poll(page, """() => { const e = document.scrollingElement;
                          return e.scrollHeight - e.scrollTop - e.clientHeight < 120; }""")
    page.wait_for_selector(".jump", state="hidden")

    page.locator("body").click(position={"x": 640, "y": 300})  # not typing: / goes to search
    page.keyboard.press("Control+Shift+O")
    page.wait_for_selector("#title:has-text('New chat')")
    assert page.locator(".msg").count() == 0
    page.click(".list .item >> nth=0")  # back to the streaming reply
    wait_reply(page, "Paragraph 59")
    page.locator("body").click(position={"x": 640, "y": 300})
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "search"
    assert page.input_value("#search") == ""
    page.keyboard.press("Escape")
    assert fake.wait_closed(1, timeout=5), "Escape did not stop the reply"
    page.wait_for_selector(".msg.assistant .meta.stopped")
    page.fill("#input", "typed / kept")  # in the message box, / is a character
    assert page.input_value("#input") == "typed / kept"


CODE = "```python\nif True:\n    values = [" + ", ".join(str(n * 1000) for n in range(40)) + "]\n```\n"


def test_code_on_a_phone_scrolls_sideways_and_keeps_its_indentation(
        browser: Any, served: Served, fake: ScriptedServer) -> None:
    page = open_page(browser, served.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                     device_scale_factor=1)
    fake.enqueue(Reply(chunks=[CODE]))
    send(page, "A long line of code")
    page.wait_for_selector(".msg.assistant .code pre")
    pre = page.locator(".msg.assistant .code pre").first
    assert pre.evaluate("(p) => getComputedStyle(p.querySelector('code')).whiteSpace") == "pre"
    assert pre.evaluate("(p) => p.scrollWidth > p.clientWidth + 100")  # it scrolls
    assert pre.evaluate("(p) => getComputedStyle(p).overflowX") == "auto"
    lines = shown_text(pre).splitlines()
    assert len(lines) == 2 and lines[1].startswith("    values = [")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # the page itself does not
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    shoot(page, "phone-code.png")
    page.context.close()


def test_the_theme_follows_the_system_and_the_toggle_is_remembered(browser: Any, served: Served) -> None:
    page = open_page(browser, served.url, color_scheme="dark")
    background = "() => getComputedStyle(document.body).backgroundColor"
    assert page.evaluate(background) == "rgb(21, 23, 27)"  # the system's dark
    page.click(".theme-toggle")
    assert page.evaluate(background) == "rgb(255, 255, 255)"
    page.reload()
    wait_ready(page)
    assert page.evaluate(background) == "rgb(255, 255, 255)"  # remembered
    assert page.get_attribute(".theme-toggle", "title") == "Switch to the dark theme"
    page.click(".theme-toggle")
    assert page.evaluate(background) == "rgb(21, 23, 27)"
    page.context.close()


def test_icons_fall_back_to_text_where_no_font_draws_them(
        browser: Any, served: Served, fake: ScriptedServer, tmp_path: Path) -> None:
    """Which glyphs this machine's fonts have is asked of fontconfig; the page
    finds out for itself (it draws them), and the two must agree."""
    has_emoji = bool(subprocess.run(["fc-list", ":charset=1f4ce"], capture_output=True, text=True).stdout.strip())
    page = open_page(browser, served.url)
    notes = tmp_path / "notes.txt"
    notes.write_text("some notes\n")
    page.set_input_files("#file", str(notes))
    chip = page.locator("#chips .chip").first
    chip.filter(has_text="notes.txt").wait_for()
    page.wait_for_selector("#chips .chip:not(:has-text('uploading'))")
    text = chip.inner_text()
    if has_emoji:
        assert text.startswith("📎")
    else:
        assert text.startswith("[file] notes.txt") and "📎" not in text
    fake.enqueue(Reply(chunks=["Read them."]))
    send(page, "Here are my notes")
    wait_reply(page, "Read them.")
    sent = page.locator(".msg.user .chip").first.inner_text()
    assert sent.startswith("📎" if has_emoji else "[file] notes.txt")
    page.context.close()


def test_a_new_chat_is_listed_at_once_in_every_open_tab(browser: Any, served: Served, fake: ScriptedServer) -> None:
    first, second = open_page(browser, served.url), open_page(browser, served.url)
    held = Reply(chunks=["Seen from", " the other tab."], hold_after=1)
    fake.enqueue(held)
    send(first, "From tab one")
    wait_reply(first, "Seen from")
    # listed at once (not after its reply) and marked as streaming, in this tab and the other
    item(first, "From tab one").locator(".live-dot").wait_for()
    item(second, "From tab one").locator(".live-dot").wait_for()
    held.release.set()
    item(second, "From tab one").locator(".live-dot").wait_for(state="detached")
    first.context.close()
    second.context.close()
