"""Replies as HTML for the page (chinwag.web.html): streamed append-only, the
same as rendering the whole reply, and untrusted markup made inert."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from chinwag.web.html import HtmlStream, Renderer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from bench_render import make_reply  # noqa: E402


def stream(text: str, seed: int, updates: float = 0.3) -> tuple[HtmlStream, list[dict[str, str]]]:
    rnd = random.Random(seed)
    html, ops, i = HtmlStream(), [], 0
    while i < len(text):
        n = rnd.randint(1, 40)
        html.feed(text[i:i + n])
        i += n
        if rnd.random() < updates:
            ops += html.update()
    ops += html.finish()
    return html, ops


def apply(ops: list[dict[str, str]]) -> str:
    """What the page's script does with the operations, on a string."""
    done: list[str] = []
    live, code, tail = "", None, ""
    for op in ops:
        kind = op["t"]
        if kind == "commit":
            done.append(op["html"])
        elif kind == "live":
            live = op["html"]
        elif kind == "code_open":
            code = [op["html"]]
        elif kind == "code":
            assert code is not None
            code.append(op["html"])
        elif kind == "tail":
            tail = op["text"]
        elif kind == "code_end":
            code, tail = None, ""
            done.append(op["html"])
    assert code is None and not tail
    return "".join(done) + live


@pytest.mark.parametrize("size", [2048, 16384])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_streamed_reply_renders_as_the_whole_reply_does(size: int, seed: int) -> None:
    text = make_reply(size, seed=seed)
    html, ops = stream(text, seed)
    whole = Renderer().html(text)
    assert apply(ops) == whole
    assert html.snapshot() == whole + '<div class="live"></div>'


def test_finished_blocks_are_sent_once_and_only_the_live_block_is_replaced() -> None:
    html = HtmlStream()
    html.feed("# Title\n\nFirst paragraph")
    ops = html.update()
    assert ops == [{"t": "commit", "html": "<h1>Title</h1>\n"}, {"t": "live", "html": "<p>First paragraph</p>\n"}]
    html.feed(" goes on.\n\nSecond")
    ops = html.update()
    assert ops == [{"t": "commit", "html": "<p>First paragraph goes on.</p>\n"},
                   {"t": "live", "html": "<p>Second</p>\n"}]


def test_an_open_code_fence_streams_line_by_line_and_is_highlighted_whole_at_the_end() -> None:
    html = HtmlStream()
    html.feed("```python\nx = 1\ny = ")
    kinds = [op["t"] for op in html.update()]
    assert kinds == ["code_open", "code", "tail"]
    html.feed("2\n```\nAfter.")
    ops = html.update()
    assert [op["t"] for op in ops] == ["code", "code_end", "live"]
    assert 'class="code"' in ops[1]["html"] and "copy" in ops[1]["html"]


def test_a_snapshot_mid_fence_shows_the_code_so_far() -> None:
    html = HtmlStream()
    html.feed("Intro.\n\n```js\nlet a = 1;\nlet b")
    html.update()
    snap = html.snapshot()
    assert "<p>Intro.</p>" in snap and 'class="code open"' in snap and '<span class="tail">let b</span>' in snap


HOSTILE = [
    ("<script>alert(1)</script>", "&lt;script&gt;"),
    ('<img src=x onerror="alert(1)">', "&lt;img src=x onerror="),
    ("text <b onmouseover=alert(1)>bold</b>", "&lt;b onmouseover=alert(1)&gt;"),
    ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
    ("[x](JAVASCRIPT:alert(1))", "[x](JAVASCRIPT:alert(1))"),
    ("[x](jav&#x61;script:alert(1))", "[x](jav"),
    ("[x](data:text/html;base64,PHNjcmlwdD4=)", "[x](data:text/html"),
    ("[x](vbscript:msgbox)", "[x](vbscript:msgbox)"),
    ("<javascript:alert(1)>", "&lt;javascript:alert(1)&gt;"),
    ("[x]: javascript:alert(1)\n\n[x]", "[x]"),
    ("![a](javascript:alert(1))", "![a](javascript:alert(1))"),
    ('![pixel](https://evil.example/p.png)', '<span class="image">[image: pixel]</span>'),
    ('```"><script>alert(1)</script>\ncode\n```', '<span class="lang">scriptalert1script</span>'),
]


@pytest.mark.parametrize(("source", "expected"), HOSTILE)
def test_untrusted_markup_is_escaped_or_dropped(source: str, expected: str) -> None:
    html = Renderer().html(source)
    assert expected in html
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered
    assert 'href="javascript' not in lowered and 'href="data' not in lowered and 'href="vbscript' not in lowered
    assert " onerror=" not in lowered.replace("&lt;img src=x onerror=", "")


def test_a_link_whose_text_names_another_site_says_where_it_goes() -> None:
    html = Renderer().html("[https://bank.example](https://evil.example/login) and [docs](https://docs.python.org/3/)"
                           " and <https://plain.example/>")
    assert '<a href="https://evil.example/login" rel="noopener noreferrer nofollow" target="_blank">' in html
    assert '<span class="link-host"> (evil.example)</span>' in html
    assert '<span class="link-host"> (docs.python.org)</span>' in html
    assert "(plain.example)" not in html  # its text is its address


def test_tool_calls_and_thinking_are_text_never_markup() -> None:
    from chinwag.web.html import thinking_html, tool_html

    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">\x1b[31m&amp;'
    html = tool_html(f"⚙ read_file(path={hostile!r})", "ok", hostile)
    assert "<script" not in html and "<img" not in html and "\x1b" not in html
    assert "&lt;script&gt;" in html and "&amp;amp;" in html
    assert html.startswith('<details class="tool ok">')
    assert tool_html("⚙ x()", "<b>", "").startswith('<details class="tool error">')  # an unknown status
    thought = thinking_html(hostile)
    assert "<script" not in thought and "<img" not in thought and "&lt;img" in thought
