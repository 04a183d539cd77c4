"""What replies cost, on the page (issue 23), in a real browser: headless
Chromium (Debian's) through Playwright, against the real `chinwag serve`.

Each saved reply shows its cost, dim, and the conversation its total (every
branch); the Usage view shows the same figures as `chinwag usage` with a chart
the server draws as inline SVG, under the same strict Content-Security-Policy
(no violation is reported). The replies are stored with the figures a turn
leaves (tests/usage_rows.py: simulated turns, no model asked).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from chinwag.web.security import CSP
from tests.cli_helpers import chinwag_env, run_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import SCREENSHOTS, Served, send, shown_text, wait_ready
from tests.usage_rows import add_reply

# Every CSP violation the page meets, recorded before any of its scripts run.
WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


def _today_at(hour: int) -> float:
    now = datetime.now()
    return datetime(now.year, now.month, now.day, hour).timestamp()


@pytest.fixture()
def page(browser: Any, served: Served) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.console = []
    page.on("console", lambda m: page.console.append(m.text))
    yield page
    context.close()


def _open(page: Any, url: str) -> None:
    page.goto(url)
    wait_ready(page)


def _violations(page: Any) -> list[str]:
    found: list[str] = page.evaluate("window.__violations")
    return found + [m for m in page.console if "Content Security Policy" in m]


def test_the_usage_view_draws_the_same_figures_as_chinwag_usage_under_the_same_csp(
        page: Any, served: Served, tmp_path: Any) -> None:
    home = tmp_path / "home"
    add_reply(home, _today_at(9), cost=0.0125, input_tokens=1500, output_tokens=300, title="Trip plans")
    add_reply(home, _today_at(10), model="gpt-4o-mini", provider="openai", cost=0.0005, input_tokens=800,
              output_tokens=100)
    add_reply(home, _today_at(9) - 86400, cost=0.0062, input_tokens=700, output_tokens=120)
    _open(page, served.url)
    page.click("#usage-link")
    page.wait_for_selector("#usage-body svg.usage-chart rect.bar")
    assert page.evaluate("location.hash") == "#usage"
    assert not page.is_visible("#messages") and not page.is_visible("#composer")
    assert shown_text(page.locator("#title")) == "Usage"
    total = shown_text(page.locator("#usage-body .usage-total"))
    assert total == "$0.0192 · 3 replies · 3,000 tokens in · 520 tokens out"

    command = json.loads(run_chinwag(["usage", "--json"], chinwag_env(home)).stdout)
    assert command["total"]["replies"] == 3 and round(command["total"]["cost"], 4) == 0.0192
    rows = page.locator("#usage-body table.days tbody tr")
    assert rows.count() == 30 == len(command["days"])  # every day, newest first
    assert shown_text(rows.nth(0)).split("\t")[1:] == ["2", "2,300", "400", "$0.0130"]
    assert shown_text(rows.nth(1)).split("\t")[1:] == ["1", "700", "120", "$0.0062"]
    # Two days with replies, two bars, the taller the dearer; each with its figures as a tooltip.
    bars = page.locator("#usage-body svg rect.bar")
    assert bars.count() == 2
    heights = [float(bars.nth(i).get_attribute("height")) for i in range(2)]
    assert heights[1] == pytest.approx(heights[0] * 0.0130 / 0.0062, rel=0.01)
    assert "$0.0130 · 2 replies" in page.locator("#usage-body svg g.day title").last.text_content()

    page.select_option("#usage-by", "model")
    page.wait_for_selector("#usage-body .usage-legend li")
    assert page.evaluate("location.hash") == "#usage?days=30&by=model"
    legend = [shown_text(item) for item in page.locator("#usage-body .usage-legend li").all()]
    assert legend == ["claude-sonnet-4-20250514", "gpt-4o-mini"]
    keys = page.locator("#usage-body table.keys tbody tr")
    assert [shown_text(keys.nth(i)).split("\t")[0] for i in range(2)] == legend
    assert page.locator("#usage-body svg rect.bar.s1").count() == 1  # today's bar is stacked: gpt-4o-mini on top
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "usage-view.png"))

    page.select_option("#usage-days", "7")
    expect(page.locator("#usage-body table.days tbody tr")).to_have_count(7)
    page.reload()  # the address keeps the view
    page.wait_for_selector("#usage-body .usage-legend li")
    assert page.input_value("#usage-days") == "7" and page.input_value("#usage-by") == "model"

    page.locator(".list .item").first.click()  # back to a conversation
    page.wait_for_selector(".msg.assistant")
    assert page.is_visible("#messages") and not page.is_visible("#usage-view")
    assert _violations(page) == []
    _, headers, _ = served.request("GET", "/api/usage?days=3")
    assert headers["content-security-policy"] == CSP


def test_an_empty_history_is_an_empty_chart(page: Any, served: Served) -> None:
    _open(page, served.url + "#usage")
    page.wait_for_selector("#usage-body svg.usage-chart")
    assert "No replies in this period." in shown_text(page.locator("#usage-body"))
    assert page.locator("#usage-body svg rect.bar").count() == 0
    assert shown_text(page.locator("#usage-body .usage-total")).startswith("$0 · 0 replies")
    assert _violations(page) == []


def test_bad_usage_parameters_are_one_line_400(served: Served) -> None:
    for query, says in (("days=0", "days is a whole number"), ("by=colour", "by is one of"),
                        ("since=2026-13-01", "since is a date"), ("since=2999-01-01", "is after today")):
        status, _, body = served.request("GET", "/api/usage?" + query)
        assert status == 400 and says in json.loads(body)["error"], (query, body)


def test_each_reply_shows_its_cost_dim_and_the_conversation_its_total(
        page: Any, served: Served, tmp_path: Any) -> None:
    home = tmp_path / "home"
    cid, _ = add_reply(home, _today_at(9), cost=0.0125, text="First answer.")
    add_reply(home, _today_at(10), cost=0.0005, cid=cid, text="Second answer.")
    add_reply(home, _today_at(11), model="my-vllm-model", provider="openai", cost=None, cid=cid, text="Third.")
    _open(page, f"{served.url}#c={cid}")
    page.locator(".msg.assistant .body").last.filter(has_text="Third.").wait_for()
    metas = page.locator(".msg.assistant .meta")
    assert [shown_text(metas.nth(i)) for i in range(3)] == [
        "claude-sonnet-4-20250514 · $0.0125", "claude-sonnet-4-20250514 · $0.0005", "my-vllm-model"]
    assert shown_text(page.locator("#cost-total")) == "$0.0130 + unpriced"  # one reply has no known price
    colours = page.evaluate("""() => [getComputedStyle(document.querySelector('.msg.assistant .meta .cost')).color,
                                      getComputedStyle(document.querySelector('.msg.assistant .body')).color]""")
    assert colours[0] != colours[1]  # dim: the muted colour, not the text's
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "reply-costs.png"))
    page.click("#new-chat")
    assert not page.is_visible("#cost-total")
    assert _violations(page) == []


def test_a_reply_streamed_on_the_page_shows_its_cost_once_and_updates_the_total(
        page: Any, served: Served, fake: ScriptedServer) -> None:
    """A real turn through the page to the scripted server (Anthropic's wire): $3 and $15
    per million tokens for claude-sonnet-4 (genai-prices), 1,000 in and 200 out: $0.0060."""
    fake.enqueue(Reply(chunks=["Counted."], input_tokens=1000, output_tokens=200))
    _open(page, served.url)
    send(page, "What does this cost?")
    page.locator(".msg.assistant .body").last.filter(has_text="Counted.").wait_for()
    expect(page.locator("#cost-total")).to_have_text("$0.0060")
    meta = page.locator(".msg.assistant .meta").last
    expect(meta).to_contain_text("$0.0060")
    assert shown_text(meta).count("$") == 1  # the stats line's cost, not a second one
    page.reload()
    page.locator(".msg.assistant .body").last.filter(has_text="Counted.").wait_for()
    expect(page.locator(".msg.assistant .meta .cost")).to_have_text(" · $0.0060")
    expect(page.locator("#cost-total")).to_have_text("$0.0060")
    assert _violations(page) == []


def test_a_hostile_title_or_model_name_is_text_in_the_usage_view(page: Any, served: Served, tmp_path: Any) -> None:
    home = tmp_path / "home"
    cid, _ = add_reply(home, _today_at(9), cost=0.01, title='<img src=x id="pwned">')
    add_reply(home, _today_at(10), model='<b id="bold">model</b>', provider="openai", cost=0.02)
    _open(page, served.url + "#usage?days=7&by=conversation")
    page.wait_for_selector("#usage-body .usage-legend li")
    assert page.locator("#usage-body #pwned, #usage-body #bold").count() == 0
    assert f'#{cid} <img src=x id="pwned">' in shown_text(page.locator("#usage-body table.keys"))
    page.select_option("#usage-by", "model")
    expect(page.locator("#usage-body table.keys")).to_contain_text('<b id="bold">model</b>')
    assert page.locator("#usage-body #bold").count() == 0
    assert _violations(page) == []
