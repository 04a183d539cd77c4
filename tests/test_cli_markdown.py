"""Replies rendered as markdown in a real terminal, as a person sees them.

The bytes chinwag writes to a pseudo-terminal are replayed through a terminal
emulator (pyte) and the screen plus scrollback is read back.
"""

from __future__ import annotations

from pathlib import Path

import random

import pyte
import pytest

from tests.test_render_markdown import REPLY as BIG_REPLY
from tests.test_render_markdown import reference
from tests.cli_helpers import anthropic_env, finish, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer

REPLY = """# Plan

Some **bold** words and `code`.

- first item
- second item

```python
def answer():
    return 42
```

| a | b |
|---|---|
| 1 | 2 |
"""


def _screen(raw: str, columns: int, rows: int) -> list[str]:
    screen = pyte.HistoryScreen(columns, rows, history=5000)
    stream = pyte.Stream(screen)
    stream.feed(raw)
    lines = ["".join(ch.data for ch in row.values()).rstrip() for row in screen.history.top]
    lines += [line.rstrip() for line in screen.display]
    return lines


def _run(args: list[str], env: dict[str, str], size: tuple[int, int]) -> str:
    child = spawn_chinwag(args, env, size=size)
    chunks: list[str] = []
    child.logfile_read = _Collect(chunks)
    child.expect("You: ")
    child.sendline("Plan it")
    child.expect("You: ")
    child.sendline("quit")
    finish(child)
    return "".join(chunks)


class _Collect:
    def __init__(self, into: list[str]) -> None:
        self.into = into

    def write(self, text: str) -> None:
        self.into.append(text)

    def flush(self) -> None:
        pass


def test_markdown_reply_is_rendered_on_a_terminal(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    chunks = [REPLY[i:i + 4] for i in range(0, len(REPLY), 4)]
    scripted_server.enqueue(Reply(chunks=chunks, chunk_delay=0.002))
    lines = _screen(_run([], anthropic_env(tmp_path, scripted_server.base_url), (24, 80)), 80, 24)
    text = "\n".join(lines)
    assert "Plan" in text and "# Plan" not in text  # a heading, not its markup
    assert "• first item" in text and "• second item" in text
    assert "def answer():" in text and "return 42" in text and "```" not in text
    assert "**bold**" not in text and "bold" in text
    assert sum("first item" in line for line in lines) == 1  # nothing duplicated in the scrollback


def test_plain_render_shows_the_raw_text(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=[REPLY]))
    text = "\n".join(_screen(_run(["--render", "plain"], anthropic_env(tmp_path, scripted_server.base_url), (24, 80)), 80, 24))
    assert "# Plan" in text and "```python" in text and "- first item" in text


def test_text_held_by_the_repaint_throttle_shows_when_the_model_stalls(scripted_server: ScriptedServer,
                                                                      tmp_path: Path) -> None:
    reply = Reply(chunks=["A paragraph ", "that stalls here"], hold_after=2)
    scripted_server.enqueue(reply)
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("go")
    child.expect("A paragraph that stalls here", timeout=2)  # while the server still holds the rest
    assert not reply.release.is_set()
    reply.release.set()
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0


@pytest.mark.parametrize(("columns", "rows"), [(80, 24), (40, 12), (200, 50)])
def test_streamed_reply_ends_as_a_one_shot_render_at_any_size(columns: int, rows: int, scripted_server: ScriptedServer,
                                                             tmp_path: Path) -> None:
    """Headings, nested lists, a quote, a table and a 100-line code block, sent
    in 1-7 character chunks: screen + scrollback must equal rich's one-shot
    render of the final text, with no line missing or repeated."""
    rnd = random.Random(columns)
    chunks, pos = [], 0
    while pos < len(BIG_REPLY):
        size = rnd.randint(1, 7)
        chunks.append(BIG_REPLY[pos:pos + size])
        pos += size
    scripted_server.enqueue(Reply(chunks=chunks, chunk_delay=0.0005))
    lines = _screen(_run([], anthropic_env(tmp_path, scripted_server.base_url), (rows, columns)), columns, rows)
    start = max(i for i, line in enumerate(lines) if line.startswith("Claude:")) + 1
    end = max(i for i, line in enumerate(lines) if line.startswith("↳"))
    shown = lines[start:end]
    while shown and not shown[-1]:
        shown.pop()
    assert shown == reference(BIG_REPLY, columns)
