"""Model output as HTML for the page: markdown-it-py and pygments, streamed append-only.

The same block splitting the terminal renderer uses (`render/md_blocks.py`):
a reply is a sequence of top-level blocks and appending text can change only
the last one, so every earlier block is rendered once and sent once
(`commit`); only the unfinished block is rendered again (`live`). An open
top-level code fence is never live: its complete lines are highlighted and
appended (`code`), the unfinished line shown as text (`tail`), and when the
fence closes the whole block is sent once more, highlighted as a whole
(`code_end`). So a reply costs the server and the browser time linear in its
length, whatever the chunking.

Model output is untrusted. Raw HTML is escaped (markdown-it with `html`
off), links are kept only for http, https and mailto targets and always
show the host they lead to when their text does not, images become a text
placeholder (nothing is fetched), and code language names are reduced to
safe characters. Bidi controls in model and user text are shown as
"<U+202E>" before parsing, so none can reorder what follows it (a link's
host label included). Everything here is string building: the page inserts
it as HTML, so nothing else may reach it unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

from chinwag.render.md_blocks import BlockParser, closes_fence, is_final, settled
from chinwag.render.sanitize import neutralise_bidi, sanitize

SAFE_SCHEMES = ("http", "https", "mailto")
_LANG = re.compile(r"[^A-Za-z0-9_+#.-]")
Op = dict[str, str]


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    md.validateLink = _safe_link  # type: ignore[method-assign]  # markdown-it's documented hook
    renderer: Any = md.renderer  # RendererHTML; the protocol type does not declare `rules`
    rules = renderer.rules
    rules["fence"] = _fence_rule
    rules["code_block"] = _code_block_rule
    rules["image"] = _image_rule
    rules["link_open"] = _link_open_rule
    rules["link_close"] = _link_close_rule
    return md


def _safe_link(url: str) -> bool:
    scheme = url.strip().split(":", 1)[0].lower() if ":" in url else ""
    return scheme in SAFE_SCHEMES


def _fence_rule(tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    return code_html(token.content, token.info.strip().split(" ", 1)[0] if token.info else "")


def _code_block_rule(tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return code_html(tokens[idx].content, "")


def _image_rule(tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = "".join(child.content for child in token.children or [])
    src = str(token.attrs.get("src", ""))
    return f'<span class="image">[image: {escape(alt or _host(src) or "no description")}]</span>'


def _link_open_rule(tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    href = str(tokens[idx].attrs.get("href", ""))
    return f'<a href="{escape(href)}" rel="noopener noreferrer nofollow" target="_blank">'


def _link_close_rule(tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """Close the link and, when its text does not name where it goes
    (`[https://bank.example](https://evil.example)`), say where it goes."""
    depth, start = 0, idx
    while start > 0:
        start -= 1
        if tokens[start].type == "link_close":
            depth += 1
        elif tokens[start].type == "link_open":
            if depth == 0:
                break
            depth -= 1
    href = str(tokens[start].attrs.get("href", ""))
    text = "".join(t.content for t in tokens[start + 1 : idx] if t.type in ("text", "code_inline")).strip()
    host = _host(href)
    if text in (href, href.removeprefix("mailto:")) or (host and text.lower() == host):
        return "</a>"
    return f'</a><span class="link-host"> ({escape(host or href)})</span>'


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return (parts.hostname or "").lower() if parts.scheme in ("http", "https") else ""


def _lexer(lang: str) -> Any:
    # pygments ships no type information (types-Pygments is not a dependency).
    from pygments.lexers import TextLexer, get_lexer_by_name  # type: ignore[import-untyped]
    from pygments.util import ClassNotFound  # type: ignore[import-untyped]

    try:
        return get_lexer_by_name(lang) if lang else TextLexer()
    except ClassNotFound:
        return TextLexer()


def highlight(code: str, lang: str) -> str:
    """Code as highlighted HTML spans (pygments' short CSS classes), no wrapper."""
    from pygments import highlight as pygmentize  # type: ignore[import-untyped]  # untyped, as above
    from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]

    if not code:
        return ""
    return str(pygmentize(code, _lexer(lang), HtmlFormatter(nowrap=True)))


def _code_open(lang: str, streaming: bool = False) -> str:
    lang = _LANG.sub("", lang)[:40]
    return (f'<div class="code{" open" if streaming else ""}"><div class="bar"><span class="lang">'
            f'{escape(lang)}</span><button class="copy" type="button">Copy</button></div>'
            '<pre class="hl"><code>')


_CODE_CLOSE = "</code></pre></div>"


def code_html(code: str, lang: str) -> str:
    return _code_open(lang) + highlight(code, lang) + _CODE_CLOSE


def code_style_css() -> str:
    """pygments' CSS for code blocks: a light theme, and a dark one under
    `prefers-color-scheme: dark` or the page's dark theme. Built from the installed pygments, so
    nothing is fetched."""
    from pygments.formatters import HtmlFormatter  # untyped, as above

    light = HtmlFormatter(style="default").get_style_defs(".hl")
    system_dark = HtmlFormatter(style="github-dark").get_style_defs(':root:not([data-theme="light"]) .hl')
    chosen_dark = HtmlFormatter(style="github-dark").get_style_defs(':root[data-theme="dark"] .hl')
    strip = re.compile(r"^[^{\n]*\.hl\s*\{[^}]*\}\s*$", re.MULTILINE)  # keep our own background
    light, system_dark, chosen_dark = strip.sub("", light), strip.sub("", system_dark), strip.sub("", chosen_dark)
    # the page's theme toggle (html[data-theme]) wins over the system's choice
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{system_dark}\n}}\n{chosen_dark}\n"


class Renderer:
    """One markdown-it instance for whole texts and for single blocks."""

    def __init__(self) -> None:
        self._md = _markdown()

    def html(self, text: str) -> str:
        """A whole text, e.g. a saved reply."""
        return str(self._md.render(neutralise_bidi(text)))


def user_html(text: str, attachments: Sequence[str] = ()) -> str:
    """What the user typed, as they typed it (the page keeps its line breaks),
    after a chip for each attachment's 📎 line."""
    chips = "".join(f'<span class="chip">{escape(sanitize(line))}</span>' for line in attachments)
    return (f'<div class="chips">{chips}</div>' if chips else "") + escape(neutralise_bidi(text))


def tool_html(line: str, status: str, output: str) -> str:
    """A tool call as one collapsible line (`line` is the sanitized `⚙ name(args)`),
    its output inside. Tool output is untrusted: sanitized and escaped, never markup."""
    kind = status if status in ("ok", "error", "denied", "interrupted") else "error"
    return (f'<details class="tool {kind}"><summary><span class="call">{escape(line)}</span>'
            f' <span class="tool-status">{kind}</span></summary>'
            f'<pre class="tool-output">{escape(sanitize(output))}</pre></details>')


def thinking_html(text: str) -> str:
    """The model's visible reasoning: collapsible and dim, as text."""
    return (f'<details class="thinking"><summary>thinking</summary>'
            f'<div class="thinking-text">{escape(sanitize(text))}</div></details>')


@dataclass
class _OpenCode:
    opener: str  # the fence's opening line
    lang: str
    lines: list[str] = field(default_factory=list)


class HtmlStream:
    """A streamed reply as page operations (see the module docstring).

    `feed` only stores text; `update` turns what arrived into operations,
    `finish` ends the reply (the last block treated as final). The caller
    decides how often to `update` (the web turn runner throttles it); the
    result is the same HTML as rendering the whole reply at once, block for
    block. `snapshot` is the reply so far as one HTML string, for a page that
    starts following mid-reply."""

    def __init__(self, renderer: Renderer | None = None) -> None:
        self._renderer = renderer or Renderer()
        self._parser = BlockParser()
        self._source = ""  # not yet committed; starts at the beginning of a line
        self._code: _OpenCode | None = None
        self._committed: list[str] = []  # HTML of the final blocks, in order
        self._live = ""  # HTML of the unfinished block
        self._tail = ""  # the unfinished line of an open fence
        self._fresh = ""  # text fed since the last update

    def feed(self, text: str) -> None:
        self._fresh += neutralise_bidi(text)  # per character: safe however the text was split

    @property
    def pending(self) -> bool:
        return bool(self._fresh)

    def update(self) -> list[Op]:
        self._source += self._fresh
        self._fresh = ""
        ops: list[Op] = []
        self._commit(ops, final=False)
        self._show_live(ops)
        return ops

    def finish(self) -> list[Op]:
        self._source += self._fresh
        self._fresh = ""
        ops: list[Op] = []
        self._commit(ops, final=True)
        self._show_live(ops)
        return ops

    def committed(self) -> str:
        """The final blocks' HTML (after `finish`, the whole reply)."""
        return "".join(self._committed)

    def snapshot(self) -> str:
        code = ""
        if self._code is not None:
            lines = "".join(self._code.lines)
            code = (_code_open(self._code.lang, True) + highlight(lines, self._code.lang)
                    + f'<span class="tail">{escape(self._tail)}</span>' + _CODE_CLOSE)
        return "".join(self._committed) + code + f'<div class="live">{self._live}</div>'

    # -- the steps -------------------------------------------------------------

    def _commit(self, ops: list[Op], final: bool) -> None:
        while True:
            if self._code is not None:
                if not self._take_code(ops, final):
                    return
            elif not self._commit_blocks(ops, final):
                return

    def _take_code(self, ops: list[Op], final: bool) -> bool:
        """Append the open fence's complete lines; True when it closed and
        text after it remains to be parsed."""
        code = self._code
        assert code is not None
        complete = self._source.rfind("\n") + 1
        lines = _split_lines(self._source[:complete])
        for index, line in enumerate(lines):
            if closes_fence(code.opener, line):
                self._append_code(ops, lines[:index])
                self._close_code(ops, code.opener + "".join(code.lines) + line)
                self._source = "".join(lines[index + 1 :]) + self._source[complete:]
                return bool(self._source)
        self._append_code(ops, lines)
        self._source = self._source[complete:]
        if final:
            self._append_code(ops, [self._source] if self._source else [])
            self._close_code(ops, code.opener + "".join(code.lines))
            self._source = ""
            return False
        if self._tail != self._source:
            self._tail = self._source
            ops.append({"t": "tail", "text": self._tail})
        return False

    def _append_code(self, ops: list[Op], lines: list[str]) -> None:
        assert self._code is not None
        if lines:
            self._code.lines += lines
            ops.append({"t": "code", "html": highlight("".join(lines), self._code.lang)})

    def _close_code(self, ops: list[Op], source: str) -> None:
        html = self._renderer.html(source)
        self._committed.append(html)
        self._code, self._tail = None, ""
        ops.append({"t": "code_end", "html": html})

    def _commit_blocks(self, ops: list[Op], final: bool) -> bool:
        """Commit the final blocks; True when a fence opened and its lines wait."""
        lines = _split_lines(self._source)
        blocks = self._parser.split(self._source)
        last_settled = settled(blocks, lines)
        done = 0
        opened = False
        parts: list[str] = []
        for index, block in enumerate(blocks):
            if final or is_final(block, lines, index >= last_settled):
                parts.append(self._renderer.html("".join(lines[block.start : block.end])))
                done = block.end
                continue
            done = block.start
            opener = lines[block.start]
            if block.kind == "fence" and opener.endswith("\n") and index == len(blocks) - 1:
                lang = block.info.strip().split(" ", 1)[0] if block.info else ""
                self._code = _OpenCode(opener, lang)
                done = block.start + 1
                opened = True
            break
        if parts:
            html = "".join(parts)
            self._committed.append(html)
            ops.append({"t": "commit", "html": html})
        if opened:
            assert self._code is not None
            ops.append({"t": "code_open",
                        "html": _code_open(self._code.lang, True) + '<span class="tail"></span>' + _CODE_CLOSE})
        self._source = "" if final and not opened else "".join(lines[done:])
        return opened

    def _show_live(self, ops: list[Op]) -> None:
        live = "" if self._code is not None or not self._source.strip() else self._renderer.html(self._source)
        if live != self._live:
            self._live = live
            ops.append({"t": "live", "html": live})


def _split_lines(source: str) -> list[str]:
    """Lines with their "\\n", as markdown-it counts them."""
    parts = source.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def words_js() -> str:
    """/static/words.js: the wording the page shares with the terminal and the
    history (present.py), as the global the page's script reads."""
    import json

    from chinwag.present import page_words

    return f"window.CHINWAG_WORDS = {json.dumps(page_words(), ensure_ascii=False)};\n"
