"""A reply asked for JSON (`chinwag --schema`) on the page, in Chromium: the
saved conversation shows it as the JSON code block `history export` writes,
not as a paragraph of braces; a free reply after it stays prose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli_helpers import anthropic_env, run_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import open_page, serve, shown_text


def test_a_reply_asked_for_json_shows_as_a_json_code_block(
        browser: Any, fake: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path / "home", fake.base_url)
    fake.enqueue(Reply(chunks=['{"name":"Ada","age":36}']), Reply(chunks=["plain *words*"]))
    assert run_chinwag(["--schema", "name, age int", "Invent a person"], env).returncode == 0
    assert run_chinwag(["-c", "thanks"], env).returncode == 0
    with serve(env) as served:
        page = open_page(browser, served.url + "#c=1")
        try:
            page.locator(".msg.assistant").nth(1).filter(has_text="words").wait_for()
            first, second = page.locator(".msg.assistant .body").nth(0), page.locator(".msg.assistant .body").nth(1)
            code = first.locator("pre code")
            assert code.count() == 1
            assert shown_text(code).strip() == '{\n  "name": "Ada",\n  "age": 36\n}'
            assert second.locator("pre").count() == 0 and second.locator("em").inner_text() == "words"
        finally:
            page.context.close()
