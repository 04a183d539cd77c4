"""What the page shows, in real Chromium against the real `chinwag serve` and
the scripted server: the approval box holds the whole call (every argument in
full with its length, each value in a box that scrolls, controls made
visible), and bidi controls in model text, tool output and titles cannot
reorder what the user reads (shown as <U+202E>).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import anthropic_env
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.test_web_support import Served, send, serve, shown_text

SNEAKY = ("echo 'Listing the project files to answer your question, this is read-only and performs no"
          " changes at all, nothing to worry about here, just a listing'   ; touch PWNED")


@pytest.fixture()
def served(tmp_path: Path, fake: ScriptedServer, work: Path) -> Iterator[Served]:
    with serve(anthropic_env(tmp_path / "home", fake.base_url), "-T", "shell", cwd=work) as served:
        yield served


def test_the_approval_box_holds_the_whole_command_and_its_length(page: Any, fake: ScriptedServer,
                                                                  work: Path) -> None:
    """Issue 18.1's reproduction on the page: `; touch PWNED` is in the box, with the length."""
    fake.enqueue(anthropic_calls([("toolu_1", "shell", {"command": SNEAKY})]), Reply(chunks=["Fine."]))
    send(page, "what files are here?")
    box = page.locator(".approval")
    box.wait_for()
    assert box.locator(".call").inner_text() == "⚙ shell asks because it runs a command"
    assert box.locator(".arg-name").inner_text() == f"command · {len(SNEAKY)} characters"
    assert box.locator(".arg-value").text_content() == SNEAKY
    assert "; touch PWNED" in box.inner_text()  # rendered, not only present
    box.locator("button[data-answer=no]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Fine.").wait_for()
    assert not (work / "PWNED").exists()


def test_a_long_value_scrolls_in_its_box_and_controls_are_visible(page: Any, fake: ScriptedServer) -> None:
    command = "\n".join(f"echo line{n:03d}" for n in range(200)) + "\ntouch PWNED\x1b[2K\u202e"
    fake.enqueue(anthropic_calls([("toolu_1", "shell", {"command": command})]), Reply(chunks=["Fine."]))
    send(page, "go")
    value = page.locator(".approval .arg-value")
    value.wait_for()
    assert page.locator(".approval .arg-name").inner_text() == f"command · 201 lines · {len(command):,} characters"
    text = value.text_content()
    assert text.endswith("echo line199↵\ntouch PWNED␛[2K<U+202E>")
    assert text.count("↵\n") == 200
    scroll = value.evaluate("node => [node.scrollHeight, node.clientHeight]")
    assert scroll[0] > scroll[1] * 5  # folded: the user scrolls it
    value.evaluate("node => { node.scrollTop = node.scrollHeight; }")
    assert page.locator(".approval button[data-answer=yes]").is_visible()  # the buttons never scroll away
    page.locator(".approval button[data-answer=no]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Fine.").wait_for()


# -- bidi controls (issue 18.3) -------------------------------------------------------

RLO = "\u202e"


def bidi_left(page: Any, selector: str) -> list[str]:
    """Bidi controls left in the text of what `selector` matches (none may be)."""
    return page.locator(selector).evaluate_all(
        "nodes => nodes.map(n => n.textContent).join('').match(/[\\u202A-\\u202E\\u2066-\\u2069\\u200E\\u200F\\u061C]/g) || []")


def test_bidi_controls_cannot_spoof_a_link_host_or_a_title(page: Any, fake: ScriptedServer, served: Served,
                                                          tmp_path: Path) -> None:
    """`[Sign in\u202e](https://moc.elgoog.ly/login)` read "(yl.google.com)"; now the
    override shows as <U+202E> and the host label reads as it is, in the reply, the
    sidebar, the header and the tab title; the history keeps the text as it came."""
    fake.enqueue(Reply(chunks=[f"[Sign in to your account{RLO}](https://moc.elgoog.ly/login)", " and more."]))
    send(page, f"log me in {RLO}moc.elgoog")
    body = page.locator(".msg.assistant .body").last
    body.filter(has_text="and more.").wait_for()
    page.locator(".msg.assistant .meta").last.filter(has_text="tok").wait_for()
    assert shown_text(body.locator(".link-host")).strip() == "(moc.elgoog.ly)"
    assert "Sign in to your account<U+202E>" in shown_text(body)
    assert bidi_left(page, ".msg") == []
    page.locator("#list .item-title").first.filter(has_text="log me in").wait_for()
    assert page.locator("#list .item-title").first.inner_text() == "log me in <U+202E>moc.elgoog"
    page.reload()  # the saved conversation, as the server sends it back
    page.locator(".msg.assistant .body").last.filter(has_text="and more.").wait_for()
    page.locator("#title").filter(has_text="log me in").wait_for()
    assert page.locator("#title").inner_text() == "log me in <U+202E>moc.elgoog"
    assert RLO not in page.title() and "<U+202E>" in page.title()
    assert bidi_left(page, "#list, #title, .msg") == []
    status, _, data = served.request("GET", "/api/conversations")
    assert status == 200 and RLO in data.decode()  # the API (and the history) keep it as it came


def test_bidi_controls_in_tool_output_are_shown(page: Any, fake: ScriptedServer) -> None:
    fake.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "printf 'invoice\\342\\200\\256fdp.exe'"})]),
                 Reply(chunks=["Done."]))
    send(page, "go")
    page.locator(".approval button[data-answer=yes]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Done.").wait_for()
    output = page.locator(".msg.assistant .tool-output").last
    assert output.text_content().startswith("invoice<U+202E>fdp.exe")
    assert bidi_left(page, ".msg") == []
