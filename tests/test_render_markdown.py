"""The streaming markdown renderer shows what a one-shot render would show.

A reply is fed in small random chunks, the bytes written are replayed
through a terminal emulator (pyte, with scrollback), and the scrollback plus
screen must equal rich's own rendering of the whole final text: nothing
duplicated, nothing missing, whatever the chunking and terminal size.

The reference is rich itself (`Console(width=columns - 1).print(Markdown(...))`)
rather than our renderer fed in one chunk: a one-chunk render goes through
the same block splitting and spacing code as the streamed one, so it would
not catch a mistake there. rich's rendering is the layout the design
promises (see /work/shared/RENDERING.md).

Time is a fake clock, so the 50 ms repaint throttle is tested without sleeps.
"""

from __future__ import annotations

import io
import random
import re

import pyte
import pytest
from rich.console import Console
from rich.markdown import Markdown

from chinwag.render.markdown import MarkdownRenderer

SIZES = [(80, 24), (40, 12), (200, 50)]
CODE = "".join(
    f"def step_{i}(value: int) -> int:\n"
    f'    """Step {i}: add {i} to `value`."""\n'
    f"    return value + {i}  # keep it simple\n"
    "\n"
    for i in range(25)
).rstrip("\n")  # 100 lines, blank lines between functions
REPLY = f"""# Streaming replies

Here is the **short** answer, with *emphasis*, `inline code` and a paragraph
long enough to wrap at forty columns and at eighty columns as well, so that
wrapping is part of what is checked.

## Steps

1. Install the package:
   - with `pip install chinwag`
   - or from source
2. Run it:
   - `chinwag "question"` for one reply
   - `chinwag` for a chat
3. Read the [documentation](https://example.com/chinwag/docs) for more.

> A block quote, which
> continues over two lines.

| Option | Meaning | Default |
|--------|---------|--------:|
| `-m` | model | claude |
| `-s` | system prompt | helpful |
| `--json` | events as JSON | off |

The code:

```python
{CODE}
```

That is all.
"""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingStream(io.StringIO):
    """A StringIO that records each write and flush."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1


def reference(text: str, width: int) -> list[str]:
    """rich's one-shot rendering, as lines without trailing blanks."""
    out = io.StringIO()
    console = Console(
        file=out, width=width - 1, color_system=None, no_color=True, _environ={}
    )
    console.print(Markdown(text, hyperlinks=False))
    return _trim(out.getvalue().split("\n"))


def screen_lines(data: str, width: int, height: int) -> list[str]:
    """What a terminal shows, scrollback first, after receiving `data`.
    "\\n" becomes "\\r\\n" as the tty driver's ONLCR would make it."""
    screen = pyte.HistoryScreen(width, height, history=10000)
    pyte.Stream(screen).feed(data.replace("\n", "\r\n"))
    history = [
        "".join(row[x].data for x in range(width)) for row in screen.history.top
    ]
    return _trim(history + screen.display)


def _trim(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def stream(
    text: str,
    width: int = 80,
    height: int = 24,
    *,
    seed: int = 0,
    color: bool = True,
    tick: float = 0.01,
) -> str:
    """Feed `text` in seeded random 1-7 character chunks, `tick` seconds
    apart, then finish; return everything written."""
    rnd = random.Random(seed)
    out = io.StringIO()
    clock = Clock()
    renderer = MarkdownRenderer(out, width, height, color=color, clock=clock)
    pos = 0
    while pos < len(text):
        size = rnd.randint(1, 7)
        renderer.feed(text[pos : pos + size])
        pos += size
        clock.now += tick
    renderer.finish()
    return out.getvalue()


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_streamed_reply_looks_like_a_one_shot_render(width: int, height: int) -> None:
    data = stream(REPLY, width, height, seed=width)
    assert screen_lines(data, width, height) == reference(REPLY, width)


def test_chunking_and_repaint_rate_do_not_change_the_result() -> None:
    expected = reference(REPLY, 40)
    # tick 0: only the first feed and commits draw; 0.06: every feed redraws.
    for seed, tick in [(1, 0.0), (2, 0.06)]:
        data = stream(REPLY, 40, 12, seed=seed, tick=tick, color=False)
        assert screen_lines(data, 40, 12) == expected


LONG_LIST = "".join(f"{n}. item {n} of a long list\n" for n in range(1, 41))


def test_long_list_taller_than_the_screen_is_not_duplicated() -> None:
    text = LONG_LIST + "\nAfter the list.\n"
    data = stream(text, 40, 12, seed=4)
    assert screen_lines(data, 40, 12) == reference(text, 40)


def test_first_feed_is_written_and_flushed_at_once() -> None:
    out = CountingStream()
    renderer = MarkdownRenderer(out, 80, 24, clock=Clock())
    renderer.feed("Hel")
    assert "Hel" in out.getvalue()
    assert out.flushes == 1


def test_live_region_repaints_at_most_every_50_ms() -> None:
    out = CountingStream()
    clock = Clock()
    renderer = MarkdownRenderer(out, 80, 24, clock=clock)
    renderer.feed("One")
    clock.now = 0.02
    renderer.feed(" two")
    clock.now = 0.04
    renderer.feed(" three")
    assert len(out.writes) == 1  # merged, waiting for the next repaint
    clock.now = 0.051
    renderer.feed(" four")
    assert len(out.writes) == 2
    assert "One two three four" in out.writes[-1]


def test_finished_block_is_committed_without_waiting_for_the_throttle() -> None:
    out = CountingStream()
    clock = Clock()
    renderer = MarkdownRenderer(out, 80, 24, color=False, clock=clock)
    renderer.feed("First paragraph.")
    clock.now = 0.01
    renderer.feed("\n\n")  # a blank line ends a paragraph
    assert len(out.writes) == 2
    assert screen_lines(out.getvalue(), 80, 24) == ["First paragraph."]


def test_finish_draws_what_the_throttle_held_back() -> None:
    out = io.StringIO()
    clock = Clock()
    renderer = MarkdownRenderer(out, 80, 24, color=False, clock=clock)
    renderer.feed("Hello")
    renderer.feed(", world")  # same instant: not drawn yet
    renderer.finish()
    assert screen_lines(out.getvalue(), 80, 24) == ["Hello, world"]


def test_refresh_draws_held_back_text_once_50_ms_have_passed() -> None:
    """The model went quiet after a chunk the throttle held back: the caller's
    timer calls refresh(), which must show it (and not before 50 ms)."""
    out = io.StringIO()
    clock = Clock()
    renderer = MarkdownRenderer(out, 80, 24, color=False, clock=clock)
    renderer.feed("Hello")
    renderer.feed(", world")
    renderer.refresh()
    assert screen_lines(out.getvalue(), 80, 24) == ["Hello"]
    clock.now += 0.05
    renderer.refresh()
    assert screen_lines(out.getvalue(), 80, 24) == ["Hello, world"]
    written = out.getvalue()
    clock.now += 0.05
    renderer.refresh()  # nothing new: no redraw
    assert out.getvalue() == written


def test_first_words_are_shown_as_they_are_but_markup_never_raw() -> None:
    """The first plain words skip rich (they look the same); a first chunk
    with markup is rendered, never flashed as raw markdown."""
    out = io.StringIO()
    renderer = MarkdownRenderer(out, 80, 24, color=False, clock=Clock())
    renderer.feed("Plain words ")
    assert screen_lines(out.getvalue(), 80, 24) == ["Plain words"]
    for first in ("# Title", "**bold** start", "- item", "1. item", "`code`", "> quote"):
        out = io.StringIO()
        renderer = MarkdownRenderer(out, 80, 24, color=False, clock=Clock())
        renderer.feed(first)
        assert screen_lines(out.getvalue(), 80, 24) == reference(first, 80), first


def test_each_frame_is_one_synchronized_write() -> None:
    out = CountingStream()
    clock = Clock()
    renderer = MarkdownRenderer(out, 80, 24, clock=clock)
    for word in "a few words\n\nthen more words".split(" "):
        renderer.feed(word + " ")
        clock.now += 0.06
    renderer.finish()
    assert len(out.writes) > 3
    for frame in out.writes:
        assert frame.startswith("\x1b[?2026h") and frame.endswith("\x1b[?2026l")
        assert frame.count("\x1b[?2026h") == 1


def test_without_synchronized_output_frames_are_plain() -> None:
    out = io.StringIO()
    clock = Clock()
    renderer = MarkdownRenderer(out, 40, 12, sync_output=False, clock=clock)
    for line in LONG_LIST.splitlines(keepends=True):
        renderer.feed(line)
        clock.now += 0.06
    renderer.finish()
    assert "\x1b[?2026" not in out.getvalue()
    assert screen_lines(out.getvalue(), 40, 12) == reference(LONG_LIST, 40)


def test_cursor_never_climbs_above_the_live_region() -> None:
    data = stream(LONG_LIST, 40, 12, seed=5)
    climbs = [int(n) for n in re.findall(r"\x1b\[(\d+)A", data)]
    assert max(climbs) == 12 - 2 - 1  # the live region is capped at rows - 2


def test_finish_leaves_the_cursor_at_the_start_of_a_fresh_line() -> None:
    data = stream("Some *text* that ends mid-sentence", 40, 12)
    screen = pyte.Screen(40, 12)
    pyte.Stream(screen).feed(data.replace("\n", "\r\n"))
    row = screen.cursor.y
    assert screen.cursor.x == 0
    assert screen.display[row].strip() == ""
    assert screen.display[row - 1].strip() == "Some text that ends mid-sentence"


def test_code_line_is_printed_once_and_highlighted() -> None:
    out = io.StringIO()
    clock = Clock()
    renderer = MarkdownRenderer(out, 80, 24, clock=clock)
    lines = ["Code:\n", "\n", "```python\n", "def greet(name):\n", "    return name\n"]
    for line in lines:
        renderer.feed(line)  # whole lines: a line is never seen half-typed
        clock.now += 0.06
    data = out.getvalue()
    assert data.count("greet") == 1
    renderer.finish()
    screen = pyte.Screen(80, 24)
    pyte.Stream(screen).feed(out.getvalue().replace("\n", "\r\n"))
    row = next(y for y, line in enumerate(screen.display) if "def greet" in line)
    x = screen.display[row].index("def")
    assert screen.buffer[row][x].fg != "default"  # the keyword is coloured
    assert sum("def greet" in line for line in screen.display) == 1


@pytest.mark.parametrize("interrupt_at", [5, 40, 90, 150, 230])
def test_ctrl_c_while_rendering_loses_and_repeats_nothing(
    interrupt_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt raised inside rich, part-way through a frame, then
    `finish()` (as the chat loop's `finally` calls it): the screen shows the
    text fed so far exactly once."""
    from chinwag.render.md_paint import Painter

    calls = 0
    render = Painter.render

    def interrupting_render(self: Painter, renderable: object) -> object:
        nonlocal calls
        calls += 1
        if calls == interrupt_at:
            raise KeyboardInterrupt
        return render(self, renderable)  # type: ignore[arg-type]

    monkeypatch.setattr(Painter, "render", interrupting_render)
    out = io.StringIO()
    clock = Clock()
    renderer = MarkdownRenderer(out, 40, 12, clock=clock)
    rnd = random.Random(interrupt_at)
    pos = 0
    with pytest.raises(KeyboardInterrupt):
        while pos < len(REPLY):
            size = rnd.randint(1, 7)
            pos += size
            clock.now += 0.02
            renderer.feed(REPLY[pos - size : pos])
    renderer.finish()
    expected = reference(REPLY[:pos], 40)
    assert screen_lines(out.getvalue(), 40, 12) == expected


def test_unclosed_code_fence_shows_all_code_at_finish() -> None:
    text = "Partial:\n\n```python\nfirst = 1\n\n\nsecond = 2\nthird = 3"
    for width, height in SIZES:
        lines = screen_lines(stream(text, width, height, seed=6), width, height)
        assert lines == reference(text, width)
        code = [line.strip() for line in lines[3:]]
        assert code == ["first = 1", "", "", "second = 2", "third = 3"]


def test_setext_underline_turns_the_paragraph_into_a_heading() -> None:
    out = io.StringIO()
    clock = Clock()
    renderer = MarkdownRenderer(out, 40, 12, clock=clock)
    for char in "Title\n---":
        renderer.feed(char)
        clock.now += 0.06
    renderer.finish()
    assert screen_lines(out.getvalue(), 40, 12) == ["Title"]  # no rule
    final_frame = out.getvalue().rsplit("\x1b[?2026h", 1)[-1]
    assert re.search(r"\x1b\[[0-9;]+mTitle", final_frame)  # styled as a heading


def test_table_arriving_row_by_row_ends_as_one_table() -> None:
    rows = ["| Name | Size |\n", "|------|-----:|\n", "| a | 1 |\n", "| bb | 22 |\n"]
    out = io.StringIO()
    clock = Clock()
    renderer = MarkdownRenderer(out, 40, 12, color=False, clock=clock)
    for row in rows:
        renderer.feed(row)
        clock.now += 0.06
    renderer.finish()
    lines = screen_lines(out.getvalue(), 40, 12)
    assert lines == reference("".join(rows), 40)
    assert sum("Name" in line for line in lines) == 1
    assert sum("│" in line or "─" in line for line in lines) == 1  # one rule


def test_no_color_has_layout_but_no_sgr_codes() -> None:
    data = stream(REPLY, 80, 24, color=False)
    assert not re.search(r"\x1b\[[0-9;]*m", data)
    # Only the renderer's own frame controls remain: synchronized output,
    # cursor up, erase line, erase below.
    leftover = re.sub(r"\x1b\[(\?2026[hl]|\d+A|K|J)", "", data)
    assert "\x1b" not in leftover
    lines = screen_lines(data, 80, 24)
    assert " 1 Install the package:" in lines
    assert any(line.startswith(" Option ") for line in lines)


def test_links_show_their_target_and_are_not_terminal_hyperlinks() -> None:
    data = stream("Read [the docs](https://example.com/docs) first.", 80, 24)
    assert "\x1b]8;" not in data  # no OSC 8: the target is always visible
    lines = screen_lines(data, 80, 24)
    assert lines == ["Read the docs (https://example.com/docs) first."]


def test_finish_is_idempotent_and_later_feeds_are_ignored() -> None:
    out = io.StringIO()
    renderer = MarkdownRenderer(out, 80, 24, clock=Clock())
    renderer.feed("Done.")
    renderer.finish()
    written = out.getvalue()
    renderer.finish()
    renderer.feed("more")
    assert out.getvalue() == written


def test_empty_reply_writes_nothing() -> None:
    out = io.StringIO()
    renderer = MarkdownRenderer(out, 80, 24, clock=Clock())
    renderer.finish()
    assert out.getvalue() == ""


def test_resize_redraws_the_live_region_at_the_new_width() -> None:
    out = CountingStream()
    clock = Clock()
    renderer = MarkdownRenderer(out, 80, 24, color=False, clock=clock)
    renderer.feed("First paragraph.\n\n")
    clock.now = 0.1
    renderer.feed("word " * 20)  # live: a blank row, a 79-cell and a 21-cell row
    before = len(out.writes)
    renderer.resize(30, 10)
    # A reflowing terminal may now show the 79-cell row on 3 rows, or on 1 again
    # if it was widened before the frame arrived: the frame climbs only the 3
    # rows it wrote, so it can never climb into the scrollback (md_frame.reflow).
    assert out.writes[before].startswith("\x1b[?2026h\r\x1b[2A")
    renderer.finish()
    after = "".join(out.writes[before:])
    assert screen_lines(after, 30, 10) == ["", *reference("word " * 20, 30)]
