"""A budget on the page (`chinwag serve` in headless Chromium, its provider a
ScriptedServer): a request that could pass it is not sent, and the page's
notice says which budget, what was spent and what the request could cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli_helpers import anthropic_env
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import open_page, send, serve


def test_a_refused_request_is_a_notice_on_the_page_and_is_not_sent(
        browser: Any, tmp_path: Path, fake: ScriptedServer) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # $1 / $1,000 per million: the first reply (50 in, 30 out) costs $0.03005; the
    # second request's worst case ($0.04 of output) would pass the $0.05
    (home / "config.toml").write_text('max_tokens = 40\nbudget_per_conversation = 0.05\n'
                                      '[prices."budget-model"]\ninput = 1\noutput = 1000\n')
    fake.enqueue(Reply(chunks=["First answer."], input_tokens=50, output_tokens=30))
    env = anthropic_env(home, fake.base_url, CHINWAG_MODEL="anthropic:budget-model")
    with serve(env) as served:
        page = open_page(browser, served.url)
        send(page, "one")
        page.locator(".msg.assistant .body").last.filter(has_text="First answer.").wait_for()
        send(page, "two")  # sent at once, or once the first reply's end has arrived
        notice = page.locator("#notice").filter(has_text="the conversation's budget $0.05")
        notice.wait_for()
        assert "$0.0301 spent, and this request could cost up to $0.04" in notice.inner_text()
        assert len(fake.requests) == 1
        page.context.close()
