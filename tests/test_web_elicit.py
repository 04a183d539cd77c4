"""An MCP server's question (elicitation) in `chinwag serve`, in a real browser
(Chromium via Playwright) against the real command and the real
@modelcontextprotocol/server-everything, the model a ScriptedServer: the
question comes in the approval box, field by field as inputs with their
defaults; a value that does not fit is refused with a notice and the box
stays; Accept sends the answers to the server; a URL question shows the URL
and its host and opens nothing unless Open is pressed; the page's Decline
declines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import anthropic_env
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.mcp_reference import everything, write_mcp_json
from tests.test_web_support import SCREENSHOTS, Served, open_mcp_page, send, serve

ELICIT = "everything_trigger-elicitation-request"
URL = "everything_trigger-url-elicitation"


@pytest.fixture()
def served(tmp_path: Path, fake: ScriptedServer) -> Iterator[Served]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'allow = ["{ELICIT}", "{URL}"]\n')
    config = write_mcp_json(tmp_path / "mcp.json", {"everything": everything()})
    with serve(anthropic_env(home, fake.base_url), "--mcp-config", str(config), cwd=tmp_path) as served:
        yield served


@pytest.fixture()
def page(browser: Any, served: Served) -> Iterator[Any]:
    page = open_mcp_page(browser, served.url)
    yield page
    page.context.close()


def result_of(fake: ScriptedServer, index: int) -> str:
    content = fake.requests[index].json["messages"][-1]["content"]
    block = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"][0]
    inner = block["content"]
    return inner if isinstance(inner, str) else "".join(part.get("text", "") for part in inner)


def test_the_page_asks_field_by_field_and_the_answers_reach_the_server(page: Any, fake: ScriptedServer) -> None:
    fake.enqueue(anthropic_calls([("toolu_1", ELICIT, {})]), Reply(chunks=["Thanks for that."]))
    send(page, "ask me")
    box = page.locator(".approval.elicitation")
    box.wait_for()
    assert "MCP server everything asks" in box.locator(".call").inner_text()
    assert box.locator("input[name=firstLine]").input_value() == "It was a dark and stormy night."
    assert box.locator("input[name=integer]").input_value() == "42"
    box.locator("input[name=integer]").fill("500")  # above the maximum, and name is required
    box.locator("button[data-action=accept]").click()
    page.locator("#notice").filter(has_text="name is required").wait_for()
    box.locator("input[name=name]").fill("Ada Lovelace")
    box.locator("button[data-action=accept]").click()
    page.locator("#notice").filter(has_text="integer: at most 100").wait_for()
    box.locator("input[name=integer]").fill("7")
    box.locator("select[name=check]").select_option("y")
    box.locator("select[name=untitledSingleSelectEnum]").select_option(label="Joey")
    box.locator("select[name=untitledMultipleSelectEnum]").select_option(label=["Piano", "Drums"])
    page.screenshot(path=str(SCREENSHOTS / "mcp-elicitation.png"))
    box.locator("button[data-action=accept]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Thanks for that.").wait_for()
    assert page.locator(".approval").count() == 0
    result = result_of(fake, 1)
    content = json.loads(result[result.index("{"):])["content"]
    assert content["name"] == "Ada Lovelace" and content["integer"] == 7 and content["check"] is True
    assert content["untitledSingleSelectEnum"] == "Joey"
    assert content["untitledMultipleSelectEnum"] == ["Piano", "Drums"]
    assert content["firstLine"] == "It was a dark and stormy night."


def test_a_url_question_shows_the_host_and_decline_opens_nothing(page: Any, fake: ScriptedServer) -> None:
    url = "https://xn--pple-43d.example/verify"
    fake.enqueue(anthropic_calls([("toolu_1", URL, {"url": url, "message": "Verify it is you"})]),
                 Reply(chunks=["Declined, fine."]))
    opened: list[Any] = []
    page.context.on("page", lambda new: opened.append(new))
    send(page, "verify")
    box = page.locator(".approval.elicitation")
    box.wait_for()
    assert box.locator(".url").inner_text() == url
    assert box.locator(".host").inner_text() == "xn--pple-43d.example"
    assert box.locator("button[data-action=accept]").inner_text() == "Open"
    box.locator("button[data-action=decline]").click()
    page.locator(".msg.assistant .body").last.filter(has_text="Declined, fine.").wait_for()
    assert opened == []
    assert "decline" in result_of(fake, 1)
