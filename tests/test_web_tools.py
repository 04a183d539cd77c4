"""Tool use and attachments in `chinwag serve`, in a real browser (Chromium via
Playwright) against the real command, its provider a ScriptedServer replaying
tools/fakes/tool_wire.py transcripts: calls as collapsible lines, approval asked
in the page (Allow runs once, Deny runs nothing), hostile tool output inert, a
picked image reaching the provider as an image block; and the approve and
upload endpoints refusing what every other POST refuses.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import anthropic_env
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.test_web_support import SCREENSHOTS, Served, open_page, record_dialogs, send, serve, shown_text

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\"> \x1b[31mred\x1b[0m"


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "notes.txt").write_text("the notes say hello\n")
    (folder / "evil.txt").write_text(HOSTILE)
    return folder


@pytest.fixture()
def served(tmp_path: Path, fake: ScriptedServer, work: Path) -> Iterator[Served]:
    with serve(anthropic_env(tmp_path / "home", fake.base_url), "-T", "read_file", "-T", "shell",
               cwd=work) as served:
        yield served


@pytest.fixture()
def page(browser: Any, served: Served) -> Iterator[Any]:
    page = open_page(browser, served.url)
    record_dialogs(page)
    yield page
    page.context.close()


def results_sent(fake: ScriptedServer, index: int) -> list[dict[str, Any]]:
    """The tool_result blocks of the `index`th request's last message."""
    content = fake.requests[index].json["messages"][-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def result_text(block: dict[str, Any]) -> str:
    content = block["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def test_a_read_file_call_is_a_collapsible_line_with_its_result(page: Any, fake: ScriptedServer) -> None:
    fake.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": "notes.txt"})], text="Let me look.",
                                 thinking="I should read the notes."),
                 Reply(chunks=["The notes ", "say hello."]))
    send(page, "what do the notes say?")
    page.locator(".msg.assistant .body").last.filter(has_text="say hello.").wait_for()
    tool = page.locator(".msg.assistant details.tool").last
    assert "read_file" in shown_text(tool.locator("summary"))
    assert "ok" in shown_text(tool.locator(".tool-status"))
    assert not tool.locator(".tool-output").is_visible()  # collapsed until opened
    tool.locator("summary").click()
    assert "the notes say hello" in shown_text(tool.locator(".tool-output"))
    page.screenshot(path=str(SCREENSHOTS / "tool-call.png"))
    assert page.locator(".msg.assistant details.thinking").count() == 1
    assert "the notes say hello" in result_text(results_sent(fake, 1)[0])
    page.reload()  # the saved conversation shows the same
    page.wait_for_selector(".msg.assistant details.tool")
    assert "read_file" in shown_text(page.locator(".msg.assistant details.tool summary").first)
    assert page.locator(".msg.assistant details.thinking").count() == 1
    assert page.locator(".msg.user").count() == 1  # the results message is not a bubble


def test_a_shell_call_asks_in_the_page_and_allow_runs_it_once(page: Any, fake: ScriptedServer, work: Path) -> None:
    fake.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "echo ran >> marker.txt"})]),
                 Reply(chunks=["Done."]))
    send(page, "run it")
    box = page.locator(".approval")
    box.wait_for()
    assert "echo ran >> marker.txt" in box.locator(".arg-value").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "tool-approval.png"))
    time.sleep(0.3)
    assert not (work / "marker.txt").exists()  # nothing runs before the answer
    box.locator("button[data-answer=yes]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Done.").wait_for()
    assert page.locator(".approval").count() == 0
    assert (work / "marker.txt").read_text() == "ran\n"
    assert "ok" in shown_text(page.locator(".msg.assistant details.tool .tool-status").last)
    assert len(fake.requests) == 2


def test_deny_tells_the_model_and_runs_nothing(page: Any, fake: ScriptedServer, work: Path) -> None:
    fake.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "echo ran >> marker.txt"})]),
                 Reply(chunks=["Understood."]))
    send(page, "run it")
    box = page.locator(".approval")
    box.wait_for()
    box.locator("input").fill("not today")
    box.locator("button[data-answer=no]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Understood.").wait_for()
    assert not (work / "marker.txt").exists()
    sent = result_text(results_sent(fake, 1)[0])
    assert "denied by the user" in sent and "not today" in sent
    assert "denied" in shown_text(page.locator(".msg.assistant details.tool .tool-status").last)


def test_stop_while_asking_denies_and_stops_the_turn(page: Any, fake: ScriptedServer, work: Path) -> None:
    fake.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "echo ran >> marker.txt"})]))
    send(page, "run it")
    page.locator(".approval").wait_for()
    page.click("#stop")
    page.wait_for_selector(".msg.assistant[data-status=stopped], .msg.assistant[data-status=interrupted]")
    assert page.locator(".approval").count() == 0
    time.sleep(0.3)
    assert not (work / "marker.txt").exists()
    assert len(fake.requests) == 1


def test_closing_the_page_while_asking_denies_the_call(browser: Any, served: Served, fake: ScriptedServer,
                                                      work: Path) -> None:
    fake.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "echo ran >> marker.txt"})]))
    page = open_page(browser, served.url)
    context = page.context
    send(page, "run it")
    page.locator(".approval").wait_for()
    context.close()  # nobody left to answer: stopped after the orphan grace, the call denied
    deadline = time.monotonic() + 15
    while True:
        status, _, data = served.request("GET", "/api/conversations/1")
        saved = json.loads(data)
        if status == 200 and not saved["live"] and "tool denied" in saved["messages"][-1]["html"]:
            break
        assert time.monotonic() < deadline, saved
        time.sleep(0.1)
    assert not (work / "marker.txt").exists()
    assert len(fake.requests) == 1


def test_hostile_tool_output_stays_inert(page: Any, fake: ScriptedServer) -> None:
    fake.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": "evil.txt"})]), Reply(chunks=["Read it."]))
    send(page, "read evil.txt")
    page.locator(".msg.assistant .body").last.filter(has_text="Read it.").wait_for()
    for round_ in ("live", "reloaded"):
        if round_ == "reloaded":
            page.reload()
            page.wait_for_selector(".msg.assistant details.tool")
        tool = page.locator(".msg.assistant details.tool").last
        tool.locator("summary").click()
        output = tool.locator(".tool-output")
        assert output.locator("script, img").count() == 0, round_
        text = shown_text(output)
        assert "<script>" in text and "onerror" in text and "\x1b" not in text, round_
        assert page.evaluate("() => window.__pwned === undefined"), round_
        assert page.dialogs == []


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_picked_image_reaches_the_model_as_an_image_block(page: Any, fake: ScriptedServer, tmp_path: Path) -> None:
    data = png_bytes()
    picture = tmp_path / "dot.png"
    picture.write_bytes(data)
    fake.enqueue(Reply(chunks=["A red rectangle."]))
    page.set_input_files("#file", str(picture))
    chip = page.locator("#chips .chip").filter(has_text="image/png")
    chip.wait_for()
    assert "dot.png" in chip.inner_text()
    send(page, "what is this?")
    page.locator(".msg.assistant .body").last.filter(has_text="A red rectangle.").wait_for()
    assert "dot.png" in page.locator(".msg.user .chip").last.inner_text()
    content = fake.requests[0].json["messages"][-1]["content"]
    images = [b for b in content if b.get("type") == "image"]
    assert len(images) == 1
    sent = base64.b64decode(images[0]["source"]["data"])
    assert hashlib.sha256(sent).hexdigest() == hashlib.sha256(data).hexdigest()
    page.reload()  # saved like the terminal's: the 📎 line
    page.locator(".msg.user .chip").filter(has_text="dot.png").wait_for()


def test_a_dropped_file_that_is_not_an_image_is_refused_in_the_page(page: Any) -> None:
    page.evaluate("""() => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array([0x47, 0x49, 0x46, 0x38])], "fake.png", {type: "image/png"}));
        document.getElementById("input").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
    }""")
    page.locator("#chips .chip.refused").filter(has_text="fake.png").wait_for()


# -- security ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/conversations/1/approve", "/api/attach?name=a.txt"])
def test_approve_and_upload_refuse_without_token_forged_origin_or_get(served: Served, path: str) -> None:
    body = json.dumps({"id": 1, "answer": "yes"}).encode()
    assert served.request("POST", path, body=body, cookie=False)[0] == 401  # no session key
    assert served.request("POST", path, body=body, headers={"Origin": "http://evil.example"})[0] == 403
    assert served.request("POST", path, body=body, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert served.request("GET", path)[0] == 405
    assert served.request("POST", path, body=body, headers={"Host": "evil.example:" + str(served.port)})[0] == 403


def test_an_upload_over_32_mb_is_refused(served: Served) -> None:
    status, _, data = served.request("POST", "/api/attach?name=big.txt", body=b"x" * (32 * 1024 * 1024 + 10))
    assert status == 413 and b"32 MB" in data


def test_an_answer_with_no_question_asked_is_refused(served: Served) -> None:
    body = json.dumps({"id": 1, "answer": "yes"}).encode()
    assert served.request("POST", "/api/conversations/1/approve", body=body)[0] == 409
    bad = json.dumps({"id": 1, "answer": "sure"}).encode()
    assert served.request("POST", "/api/conversations/1/approve", body=bad)[0] == 400
