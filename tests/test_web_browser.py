"""`chinwag serve` in a real browser: headless Chromium (Debian's) through Playwright,
against the real command on a free port, its provider a ScriptedServer.

What a person sees: the first chunk on the page while the server still
holds the rest; Stop closing the upstream connection; a reload mid-reply;
search; a chat from the terminal opening in the page (and the page's chats
in `chinwag history`); hostile model output staying inert. The screenshots in
docs/screenshots/ are written here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import anthropic_env, run_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import SCREENSHOTS, Served, open_page, record_dialogs, send, serve, shown_text, wait_reply


@pytest.fixture()
def page(browser: Any, served: Served) -> Iterator[Any]:
    page = open_page(browser, served.url)
    record_dialogs(page)
    assert page.url == f"{served.base}/"  # the token left the address bar for an HttpOnly cookie
    assert page.evaluate("() => document.cookie") == ""
    yield page
    page.context.close()


def poll(page: Any, predicate: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, predicate
        time.sleep(0.02)


def last_reply(page: Any) -> Any:
    return page.locator(".msg.assistant").last


def test_the_first_chunk_is_on_the_page_while_the_server_holds_the_rest(page: Any, fake: ScriptedServer) -> None:
    reply = Reply(chunks=["First words", " and the rest."], hold_after=1)
    fake.enqueue(reply)
    send(page, "Hello there")
    wait_reply(page, "First words")
    assert "the rest" not in last_reply(page).inner_text()
    assert page.locator("#stop").is_visible()
    reply.release.set()
    wait_reply(page, "and the rest.")
    page.wait_for_selector("#send:visible")
    assert "to first token" in last_reply(page).locator(".meta").inner_text()
    assert page.locator(".msg.user .body").inner_text() == "Hello there"
    assert re.search(r"#c=1&m=\d+$", page.url)  # the conversation, and the branch this tab shows


def test_shift_enter_makes_a_new_line_and_enter_sends(page: Any, fake: ScriptedServer) -> None:
    page.fill("#input", "line one")
    page.press("#input", "Shift+Enter")
    page.keyboard.type("line two")
    assert page.input_value("#input") == "line one\nline two"
    page.press("#input", "Enter")
    page.wait_for_selector(".msg.assistant .meta:has-text('to first token')")
    assert fake.requests[-1].json["messages"][-1]["content"] == "line one\nline two"


def test_stop_closes_the_upstream_connection_at_once_and_continue_resumes(page: Any, fake: ScriptedServer) -> None:
    held = Reply(chunks=["The partial", " never sent"], hold_after=1)
    fake.enqueue(held)
    send(page, "Tell me a story")
    wait_reply(page, "The partial")
    started = time.monotonic()
    page.click("#stop")
    assert fake.wait_closed(1, timeout=5), "the server never saw the connection close"
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"the upstream connection closed {elapsed * 1000:.0f} ms after Stop"  # bench_web: ~7 ms
    page.wait_for_selector(".msg.assistant .meta.stopped")
    assert "never sent" not in last_reply(page).inner_text()
    assert page.locator("#continue").is_visible() and page.locator("#retry").is_visible()

    fake.enqueue(Reply(chunks=[" went on."]))
    page.click("#continue")
    wait_reply(page, "went on.")
    assert page.locator(".msg.assistant").count() == 1
    assert "The partial went on." in last_reply(page).inner_text()
    prefill = fake.requests[-1].json["messages"][-1]
    assert prefill == {"role": "assistant", "content": "The partial"}

    fake.enqueue(Reply(chunks=["A second answer."]))
    page.click("#retry")
    wait_reply(page, "A second answer.")
    assert fake.requests[-1].json["messages"][-1]["role"] == "user"


def test_reload_mid_reply_shows_what_was_saved_and_follows_the_stream(page: Any, fake: ScriptedServer) -> None:
    held = Reply(chunks=["Saved so far.", " Then the rest."], hold_after=1)
    fake.enqueue(held)
    send(page, "A long question")
    wait_reply(page, "Saved so far.")
    page.reload()
    wait_reply(page, "Saved so far.")
    assert page.locator(".msg.user .body").inner_text() == "A long question"
    assert page.locator("#stop").is_visible()
    held.release.set()
    wait_reply(page, "Then the rest.")
    page.wait_for_selector(".msg.assistant .meta:has-text('to first token')")
    assert page.locator(".msg.assistant").count() == 1
    assert fake.closed_connections == 0  # the reload did not stop the reply


def test_closing_the_page_mid_reply_stops_it(page: Any, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["Nobody reads", " this"], hold_after=1))
    send(page, "Going away")
    wait_reply(page, "Nobody reads")
    page.close()
    assert fake.wait_closed(1, timeout=8), "the reply went on with nobody following it"


def test_search_finds_saved_conversations(page: Any, fake: ScriptedServer) -> None:
    for question, answer in (("Tell me about pelicans", "Pelicans are large water birds."),
                             ("How do CPUs work?", "A CPU fetches and executes instructions.")):
        fake.enqueue(Reply(chunks=[answer]))
        page.click("#new-chat")
        send(page, question)
        page.wait_for_selector(f".msg.assistant .body:has-text('{answer}')")
        page.wait_for_selector("#send:visible")
    page.wait_for_selector(".list .item >> nth=1")
    assert page.locator(".list .item-title").first.inner_text() == "How do CPUs work?"  # newest first
    page.fill("#search", "birds")
    poll(page, "() => document.querySelectorAll('.list .item').length === 1")
    item = page.locator(".list .item")
    assert item.locator(".item-title").inner_text() == "Tell me about pelicans"
    assert item.locator("mark").inner_text() == "birds"
    item.click()
    page.wait_for_selector(".msg.assistant .body:has-text('Pelicans are large water birds.')")
    page.fill("#search", "zebra")
    page.wait_for_selector(".list .none:has-text('Nothing found.')")


def test_a_terminal_conversation_opens_in_the_page_and_page_chats_are_in_history(
        browser: Any, tmp_path: Path, fake: ScriptedServer) -> None:
    env = anthropic_env(tmp_path / "home", fake.base_url)
    fake.enqueue(Reply(chunks=["Asked in the terminal, ", "answered there."]))
    done = run_chinwag(["What is a terminal question?"], env)
    assert done.returncode == 0, done.stderr
    with serve(env) as served:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(served.url)
        page.click(".list .item:has-text('What is a terminal question?')")
        page.wait_for_selector(".msg.assistant .body:has-text('Asked in the terminal, answered there.')")
        fake.enqueue(Reply(chunks=["Continued in the browser."]))
        send(page, "And a follow-up from the page")
        page.wait_for_selector(".msg.assistant .body:has-text('Continued in the browser.')")
        assert [m["content"] for m in fake.requests[-1].json["messages"]] == [
            "What is a terminal question?", "Asked in the terminal, answered there.", "And a follow-up from the page"]
        page.wait_for_selector("#send:visible")
        context.close()
    shown = run_chinwag(["history", "show", "1"], env)
    assert "And a follow-up from the page" in shown.stdout and "Continued in the browser." in shown.stdout


def test_two_tabs_and_a_terminal_on_one_conversation_lose_nothing(
        browser: Any, page: Any, served: Served, fake: ScriptedServer, tmp_path: Path) -> None:
    fake.enqueue(Reply(chunks=["First answer."]))
    send(page, "first from tab A")
    wait_reply(page, "First answer.")
    page.wait_for_selector("#send:visible")
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    other.goto(served.url + "#c=1")
    other.wait_for_selector(".msg.assistant .body:has-text('First answer.')")

    held = Reply(chunks=["Tab A's second", " answer."], hold_after=1)
    fake.enqueue(held)
    send(page, "second from tab A")
    wait_reply(page, "Tab A's second")
    send(other, "from tab B, meanwhile")  # one turn at a time: B is told, keeps its words, follows A's reply
    wait_reply(other, "Tab A's second")
    assert "streaming" in other.inner_text("#notice")
    assert other.input_value("#input") == "from tab B, meanwhile"

    fake.enqueue(Reply(chunks=["The terminal's answer."]))
    env = anthropic_env(tmp_path / "home", fake.base_url)
    done = run_chinwag(["--resume", "1", "from the terminal"], env)
    assert done.returncode == 0 and "The terminal's answer." in done.stdout, done.stderr
    held.release.set()
    wait_reply(page, "answer.")
    wait_reply(other, "Tab A's second answer.")
    other.wait_for_selector("#send:visible")

    fake.enqueue(Reply(chunks=["B's answer."]))
    other.press("#input", "Enter")
    wait_reply(other, "B's answer.")
    other.wait_for_selector("#send:visible")
    expected = ("first from tab A", "First answer.", "second from tab A", "Tab A's second answer.",
                "from the terminal", "The terminal's answer.", "from tab B, meanwhile", "B's answer.")
    # Since conversations are trees (issue 21), tab B sends from the branch it shows: the
    # terminal's exchange, which B never showed, may sit on a branch beside B's. Nothing
    # is lost: the whole tree holds every message, and the current branch ends with B's.
    deadline = time.monotonic() + 10  # writes that met the terminal's lock are saved when it clears
    while True:
        shown = run_chinwag(["history", "show", "1", "--all"], env).stdout
        if all(text in shown for text in expected) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for text in expected:
        assert text in shown, (shown, page.inner_text("#notice"), other.inner_text("#notice"))
    current = run_chinwag(["history", "show", "1"], env).stdout
    assert current.rstrip().count("B's answer.") == 1 and "from tab B, meanwhile" in current
    other.context.close()


XSS_REPLY = """Here are some tricks:

<script>window.__pwned = 'script'; alert('script')</script>

<img src=x onerror="window.__pwned = 'img'; alert('img')">

Inline <img src=y onerror=alert('inline')> and <svg onload=alert('svg')></svg>.

[click me](javascript:alert('link')) and [also](JaVaScRiPt:alert('case')) and [enc](jav&#x61;script:alert(1))

<javascript:alert('autolink')> and [data](data:text/html,<script>alert('data')</script>)

[https://bank.example](https://evil.example/login) is not the bank.

![tracker](https://evil.example/pixel.png "t")

[ref]: javascript:alert('ref')
A [reference][ref] link.

```html"><script>alert('lang')</script>
<b onmouseover=alert('code')>code</b>
```

<iframe src="javascript:alert('frame')"></iframe>
"""


def test_hostile_model_output_stays_inert(page: Any, fake: ScriptedServer) -> None:
    chunks = [XSS_REPLY[i:i + 7] for i in range(0, len(XSS_REPLY), 7)]
    fake.enqueue(Reply(chunks=chunks))
    send(page, "Show me some markup")
    page.wait_for_selector(".msg.assistant .meta:has-text('to first token')")
    page.reload()  # the saved reply, rendered whole, must be as inert as the streamed one
    page.wait_for_selector(".msg.assistant .body:has-text('is not the bank')")
    for round_ in ("reloaded", "hovered"):
        body = last_reply(page).locator(".body")
        assert body.locator("script, img, svg, iframe, object, embed").count() == 0, round_
        handlers = page.evaluate("""() => [...document.querySelectorAll('.msg *')]
            .flatMap(el => [...el.attributes].map(a => a.name))
            .filter(name => name.startsWith('on'))""")
        assert handlers == [], handlers
        hrefs = page.evaluate("() => [...document.querySelectorAll('.msg a')].map(a => a.getAttribute('href'))")
        assert hrefs and all(h.startswith(("https://", "http://", "mailto:")) for h in hrefs), hrefs
        assert page.evaluate("() => window.__pwned === undefined")
        assert page.dialogs == []
        text = shown_text(body)
        assert "<script>" in text and "onerror" in text  # shown as text, not run
        assert "(evil.example)" in text  # a link whose text names another site says where it goes
        assert "[image: tracker]" in text
        page.hover(".msg.assistant code >> nth=-1")
    for link in page.locator(".msg a").all():
        assert link.get_attribute("rel") == "noopener noreferrer nofollow"


def test_api_keys_never_reach_the_page(page: Any, served: Served, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(status=401, error_message="invalid x-api-key test-key"))
    send(page, "Who am I?")
    page.wait_for_selector(".msg.assistant .meta.error")
    html = page.content()
    assert "test-key" not in html
    for path in ("/api/models", "/api/conversations", "/api/conversations/1", "/"):
        status, _, body = served.request("GET", path)
        assert status == 200 and b"test-key" not in body, path


def test_screenshots_light_and_dark_desktop_and_phone(browser: Any, page: Any, served: Served,
                                                       fake: ScriptedServer) -> None:
    answer = SAMPLE_ANSWER
    fake.enqueue(Reply(chunks=[answer[i:i + 40] for i in range(0, len(answer), 40)]))
    send(page, "How do I read a CSV file in Python and sum a column?")
    page.wait_for_selector(".msg.assistant .meta:has-text('to first token')")
    fake.enqueue(Reply(chunks=["Pelicans are large water birds with a throat pouch."]))
    page.click("#new-chat")
    send(page, "Tell me about pelicans")
    page.wait_for_selector(".msg.assistant .meta:has-text('to first token')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        for name, size in (("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})):
            context = browser.new_context(viewport=size, color_scheme=scheme, device_scale_factor=1)
            shot = context.new_page()
            shot.goto(served.url + "#c=1")
            shot.wait_for_selector(".msg.assistant .code")
            shot.evaluate("() => document.activeElement && document.activeElement.blur()")
            shot.evaluate("() => window.scrollTo(0, 0)")
            path = SCREENSHOTS / f"{name}-{scheme}.png"
            shot.screenshot(path=str(path))
            assert path.stat().st_size > 5000
            width = shot.evaluate("() => document.documentElement.scrollWidth")
            assert width <= size["width"], f"{name}: the page is {width} px wide in a {size['width']} px window"
            context.close()


SAMPLE_ANSWER = """Use the standard library's `csv` module: it handles quoting for you.

```python
import csv

def column_total(path: str, column: str) -> float:
    with open(path, newline="") as f:
        return sum(float(row[column]) for row in csv.DictReader(f))

print(column_total("sales.csv", "amount"))
```

| approach | needs | best for |
|---|---|---|
| `csv.DictReader` | nothing | small files, scripts |
| `pandas.read_csv` | pandas | analysis, big files |

Notes:

- `newline=""` lets the reader handle line endings inside quoted fields.
- Convert with `float()` (or `decimal.Decimal` for money).
"""


def test_phone_width_shows_the_list_in_a_drawer(browser: Any, served: Served, fake: ScriptedServer) -> None:
    page = open_page(browser, served.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context = page.context
    assert not page.locator("#sidebar").is_visible() or page.evaluate(
        "() => document.getElementById('sidebar').getBoundingClientRect().right <= 0")
    fake.enqueue(Reply(chunks=["Small screens work."]))
    send(page, "Phone?")
    page.wait_for_selector(".msg.assistant .body:has-text('Small screens work.')")
    page.click("#toggle-side")
    poll(page, "() => document.getElementById('sidebar').getBoundingClientRect().left >= 0")
    page.click(".list .item >> nth=0")
    poll(page, "() => document.getElementById('sidebar').getBoundingClientRect().right <= 0")
    context.close()


def test_copy_button_copies_the_code(browser: Any, served: Served, fake: ScriptedServer) -> None:
    page = open_page(browser, served.url)
    context = page.context
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.base)
    fake.enqueue(Reply(chunks=["```python\nprint('copied')\n```\n"]))
    send(page, "code please")
    page.wait_for_selector(".msg.assistant .code .copy")
    page.click(".msg.assistant .code .copy")
    page.wait_for_selector(".msg.assistant .code .copy:has-text('Copied')")
    assert page.evaluate("() => navigator.clipboard.readText()").strip() == "print('copied')"
    context.close()
