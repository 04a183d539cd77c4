"""MCP prompts and resources on the page (`chinwag serve`), in a real browser (Chromium
via Playwright) against the real command, the real @modelcontextprotocol/server-everything
and our demo server (tests/mcp_servers/demo.py), the model a ScriptedServer.

The ⧉ button lists the conversation's servers' prompts and resources. A prompt opens
a form, one field per argument, the required ones marked; Run sends its messages as
the user's next message (shown as the server's words, as text), and the model answers;
a missing required argument is the server's one line, and nothing is sent. A resource
(or a template with its parameters in the URI) attaches like a file, sent with the next
message. The same core code as the terminal's /prompts, /SERVER_PROMPT, /resources
and /attach mcp:SERVER:URI does the work, so the words are the same.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import anthropic_env
from tests.fakes.server import Reply, ScriptedServer
from tests.mcp_reference import as_json_entry, everything
from tests.test_web_support import SCREENSHOTS, Served, open_mcp_page, send, serve

ROOT = Path(__file__).resolve().parent.parent
MARKUP = "<img src=x onerror=\"window.__pwned=1\">"


@pytest.fixture()
def served(tmp_path: Path, fake: ScriptedServer) -> Iterator[Served]:
    home = tmp_path / "home"
    home.mkdir()
    demo = {"command": sys.executable, "args": ["-m", "tests.mcp_servers.demo"], "env": {"PYTHONPATH": str(ROOT)}}
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"everything": as_json_entry(everything()), "demo": demo}}))
    with serve(anthropic_env(home, fake.base_url), "--mcp-config", str(config), cwd=tmp_path) as served:
        yield served


@pytest.fixture()
def page(browser: Any, served: Served) -> Iterator[Any]:
    page = open_mcp_page(browser, served.url)
    yield page
    page.context.close()


def open_panel(page: Any) -> Any:
    button = page.locator("#mcp-open")
    # Drawn, so no font is needed: its only content is the icon, its name is for screen readers.
    assert (button.locator("svg path").count(), button.inner_text().strip()) == (2, "")
    assert button.get_attribute("aria-label") == "MCP prompts and resources"
    button.click()
    panel = page.locator("#mcp-panel")
    panel.locator(".mcp-prompt").first.wait_for()
    return panel


def prompt_form(page: Any, command: str) -> Any:
    panel = open_panel(page)
    panel.locator(f".mcp-prompt[data-command='{command}']").click()
    return panel.locator(f"form.mcp-form[data-command='{command}']")


def user_text(fake: ScriptedServer, index: int) -> str:
    content = fake.requests[index].json["messages"][-1]["content"]
    return content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content if b["type"] == "text")


def test_a_prompt_runs_from_its_form_and_joins_the_conversation(page: Any, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["Sunny in Paris."]), Reply(chunks=["Analysed."]))
    form = prompt_form(page, "everything_args-prompt")
    city, state = form.locator("label.mcp-arg").nth(0), form.locator("label.mcp-arg").nth(1)
    assert city.locator(".mcp-arg-name").inner_text() == "city *" and "required" in city.get_attribute("class")
    assert state.locator(".mcp-arg-name").inner_text() == "state" and "required" not in state.get_attribute("class")
    form.locator("input[name=city]").fill("Paris")
    page.screenshot(path=str(SCREENSHOTS / "mcp-prompt-form.png"))
    form.locator("button[type=submit]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Sunny in Paris.").wait_for()
    asked = page.locator(".msg.user.prompt").last
    assert asked.locator(".prompt-line").inner_text() == \
        "⧉ prompt everything_args-prompt from MCP server everything · 1 message"
    assert "What's weather in Paris?" in asked.inner_text()
    assert "What's weather in Paris?" in user_text(fake, 0)

    # A second prompt in the same conversation: it follows what was said.
    form = prompt_form(page, "everything_resource-prompt")
    form.locator("input[name=resourceType]").fill("Text")
    form.locator("input[name=resourceId]").fill("3")
    form.locator("button[type=submit]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Analysed.").wait_for()
    sent = fake.requests[1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert "# resource: demo://resource/dynamic/text/3" in user_text(fake, 1)

    page.reload()  # saved as the user's message, as in the terminal
    page.locator(".msg.user").filter(has_text="What's weather in Paris?").wait_for()
    assert page.locator(".msg.assistant").count() == 2


def test_a_missing_required_argument_is_one_line_and_nothing_is_sent(page: Any, fake: ScriptedServer) -> None:
    form = prompt_form(page, "everything_args-prompt")
    form.locator("input[name=state]").fill("Texas")
    form.locator("button[type=submit]").click()
    notice = page.locator("#notice")
    notice.filter(has_text="needs city").wait_for()
    assert notice.inner_text() == \
        "/everything_args-prompt needs city (usage: /everything_args-prompt city=… [state=…])."
    assert page.locator(".msg").count() == 0 and not fake.requests


def test_a_prompts_words_are_text_and_its_image_reaches_the_model(page: Any, fake: ScriptedServer) -> None:
    """The demo server's prompts: `greet` given markup (it must stay text), `hostile`
    (escape sequences: sanitized as tool output is), `picture` (an image)."""
    fake.enqueue(Reply(chunks=["Hello."]), Reply(chunks=["Seen."]), Reply(chunks=["Red and blue."]))
    form = prompt_form(page, "demo_greet")
    assert form.locator("label.mcp-arg.required input[name=name]").count() == 1
    form.locator("input[name=name]").fill(MARKUP)
    form.locator("button[type=submit]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Hello.").wait_for()
    assert f"Say a cheerful hello to {MARKUP}." in page.locator(".msg.user").last.inner_text()
    assert page.locator(".msg.user img").count() == 0 and page.evaluate("window.__pwned") is None
    assert f"Say a cheerful hello to {MARKUP}." in user_text(fake, 0)  # sent as the server gave it

    prompt_form(page, "demo_hostile").locator("button[type=submit]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Seen.").wait_for()
    shown = page.locator(".msg.user").last.inner_text()
    assert "\x1b" not in shown and "\x07" not in shown and "clear" in shown and "end" in shown
    assert "\x1b]0;pwned\x07" in user_text(fake, 1)  # the model gets the text unaltered

    prompt_form(page, "demo_picture").locator("button[type=submit]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Red and blue.").wait_for()
    asked = page.locator(".msg.user").last
    assert "image from the prompt · image/png · 2×1" in asked.locator(".chip").first.inner_text()
    assert "(the prompt's assistant message) I will describe it." in asked.inner_text()
    content = fake.requests[2].json["messages"][-1]["content"]
    assert any(b["type"] == "image" and b["source"]["media_type"] == "image/png" for b in content)


def test_a_resource_attaches_like_a_file(page: Any, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["Got both."]))
    panel = open_panel(page)
    features = panel.locator(".mcp-resource[data-spec='mcp:everything:demo://resource/static/document/features.md']")
    features.locator("button").click()
    chip = page.locator("#chips .chip").filter(has_text="demo://resource/static/document/features.md")
    chip.wait_for()
    page.locator("#chips .chip").filter(has_text="reading…").wait_for(state="detached")
    panel = open_panel(page)
    template = panel.locator(".mcp-resource[data-spec='mcp:everything:demo://resource/dynamic/text/{resourceId}']")
    template.locator("input.mcp-uri").fill("mcp:everything:demo://resource/dynamic/text/3")
    template.locator("button").click()
    page.locator("#chips .chip").filter(has_text="demo://resource/dynamic/text/3").wait_for()
    page.locator("#chips .chip").filter(has_text="reading…").wait_for(state="detached")
    send(page, "summarise both")
    page.locator(".msg.assistant .body").last.filter(has_text="Got both.").wait_for()
    assert page.locator(".msg.user .chip").count() == 2
    sent = user_text(fake, 0)
    assert "# file: demo://resource/static/document/features.md" in sent
    assert "Resource 3: This is a plaintext resource" in sent and sent.endswith("summarise both")


def test_a_template_left_unfilled_is_refused_in_one_line(page: Any, fake: ScriptedServer) -> None:
    panel = open_panel(page)
    template = panel.locator(".mcp-resource[data-spec='mcp:everything:demo://resource/dynamic/text/{resourceId}']")
    template.locator("button").click()
    refused = page.locator("#chips .chip.refused").filter(has_text="is a template")
    refused.wait_for()
    assert "is a template: put its parameters in the URI" in refused.inner_text()
    assert not fake.requests


def test_bad_prompt_and_resource_requests_are_one_line_each(served: Served, fake: ScriptedServer) -> None:
    """Over raw HTTP with the page's session key: a malformed prompt, one no server offers,
    an unknown argument, a resource of a server that does not exist; nothing reaches the model."""
    def post(path: str, body: dict[str, Any]) -> tuple[int, str]:
        status, _, data = served.request("POST", path, body=json.dumps(body).encode())
        return status, json.loads(data)["error"]

    assert post("/api/chat", {"prompt": "everything_args-prompt"})[0] == 400
    status, error = post("/api/chat", {"prompt": {"server": "everything", "name": "no-such-prompt", "arguments": {}}})
    assert status == 400 and error == "MCP server everything offers no prompt 'no-such-prompt' now (see its list)."
    status, error = post("/api/chat", {"prompt": {"server": "everything", "name": "args-prompt",
                                                  "arguments": {"city": "Paris", "country": "France"}}})
    assert status == 400 and error.startswith("/everything_args-prompt has no argument 'country'")
    status, error = post("/api/mcp/attach", {"spec": "mcp:nowhere:demo://x", "model": None, "conversation": None})
    assert status == 400 and "nowhere" in error and "\n" not in error
    status, error = post("/api/mcp/attach", {"spec": "demo://x", "model": None, "conversation": None})
    assert status == 400 and "is not an MCP resource: write mcp:SERVER:URI" in error
    assert post("/api/mcp/complete", {"server": "everything", "prompt": 3})[0] == 400
    status, error = post("/api/mcp/complete", {"server": "everything", "prompt": "completable-prompt",
                                               "argument": "salary", "value": "", "given": {}})
    assert status == 400 and error.startswith("/everything_completable-prompt has no argument 'salary'")
    status, error = post("/api/mcp/complete", {"server": "nowhere", "prompt": "p", "argument": "a", "value": ""})
    assert status == 400 and "nowhere" in error and "\n" not in error
    assert not fake.requests


def suggested(form: Any, argument: str, expected: list[str]) -> None:
    """Wait until the field's suggestions are `expected`."""
    options = form.locator(f"input[name={argument}] + datalist option")
    deadline = time.monotonic() + 20
    while (values := options.evaluate_all("options => options.map((o) => o.value)")) != expected:
        assert time.monotonic() < deadline, values
        time.sleep(0.05)


def test_a_prompts_fields_suggest_what_the_server_completes(page: Any, fake: ScriptedServer) -> None:
    """As Tab does in the terminal: as a field is typed in, its suggestions are
    what the server's completion/complete offers, narrowed by the other fields."""
    fake.enqueue(Reply(chunks=["Promoted."]))
    form = prompt_form(page, "everything_completable-prompt")
    form.locator("input[name=department]").fill("Sa")
    suggested(form, "department", ["Sales"])
    form.locator("input[name=department]").fill("Sales")
    form.locator("input[name=name]").focus()
    suggested(form, "name", ["David", "Eve", "Frank"])  # Sales' people only
    form.locator("input[name=name]").fill("F")
    suggested(form, "name", ["Frank"])
    form.locator("input[name=name]").fill("Frank")
    form.locator("button[type=submit]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Promoted.").wait_for()
    assert "Please promote Frank to the head of the Sales team." in user_text(fake, 0)
