"""Render a streamed reply as markdown, incrementally and append-only.

`Live(Markdown(whole_reply))` re-parses and re-lays-out the whole reply on
every chunk (quadratic) and re-emits or hides text taller than the screen
(see /work/shared/RENDERING.md). Here the cost per character stays flat:

- A reply is a sequence of top-level blocks, and appending text can only
  change the last one (or the last two while the last one's first line is
  unfinished). Every earlier block is final: it is rendered once with rich
  and committed to the scrollback above the live region. The last
  block is committed early when nothing can extend it any more (a heading
  or rule whose line is complete, a closed fence, a paragraph or table
  followed by a blank line; never a list or quote). See `md_blocks`.
- Only the unfinished last block is live: redrawn in place, at most
  min(rows - 2, 12) rows, showing its bottom (`md_frame`).
- An open top-level code fence is never live: its rows are printed one code
  line at a time as lines complete (`md_fence`).
- The first text is drawn at once; after that the live region is redrawn at
  most every 50 ms while chunks keep coming, merging what arrived between.
  Blocks are committed on the chunk that finishes them. No threads or timers:
  a change waiting for its repaint is drawn by the next `feed` after 50 ms,
  or by `finish`.

The output is rich's rendering of the whole reply, line for line, at the
terminal width minus one, whatever the chunking (the tests replay the bytes
through a terminal emulator to check it). One exception: a link reference
definition (`[x]: url`) cannot turn `[x]` into a link in a block already
printed. A Ctrl-C that lands while a frame is being built leaves the screen
consistent for `finish`, which the caller runs in `finally`.

The text fed in must already be sanitized; the only escape sequences
written are the renderer's own: SGR colours when `color` is on, and
cursor-up, erase-line, erase-below and synchronized output around each
redraw of the live region.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    from chinwag.render.md_blocks import Block
    from chinwag.render.md_fence import CodeStream
    from chinwag.render.md_paint import Line

# Characters that can make a line more than plain words (emphasis, code,
# headings, lists, quotes, tables, links, HTML, escapes, entities).
_MARKUP = frozenset("*_`#>|-+=[]!<&\\~:")
REPAINT_INTERVAL = 0.05  # seconds; at most 20 redraws of the live region a second
LIVE_CAP = 12  # rows; the live region also leaves two rows of the screen free


class MarkdownRenderer:
    """Streams markdown to a terminal. Call `feed` per chunk, then `finish`.

    `out` is the terminal's text stream; the renderer starts at column 0 of
    a fresh line. `width`/`height` are the terminal's size. `color=False`
    renders the same layout with no SGR codes (cursor movement is still
    used to redraw the live region). `sync_output` wraps each redraw in
    synchronized-output mode (DEC 2026) for terminals that support it.
    `color_system` is rich's ("standard", "256", "truecolor").
    """

    def __init__(
        self,
        out: TextIO,
        width: int = 80,
        height: int = 24,
        color: bool = True,
        sync_output: bool = True,
        *,
        clock: Callable[[], float] = time.monotonic,
        code_theme: str = "monokai",
        color_system: str = "standard",
    ) -> None:
        # rich and markdown-it take ~0.1 s to import; pay only when rendering.
        from chinwag.render.md_blocks import BlockParser
        from chinwag.render.md_frame import FrameWriter
        from chinwag.render.md_paint import Painter

        self._painter = Painter(width, color, color_system, code_theme)
        self._parser = BlockParser()
        self._frames = FrameWriter(out, sync_output)
        self._clock = clock
        self._height = height
        self._width = width
        self._source = ""  # text not yet committed; always starts a line
        self._code: CodeStream | None = None  # the open fence being printed
        self._flag = False  # rich's `new_line` flag after the committed blocks
        self._painted_at: float | None = None
        self._parsed: tuple[str, list[Block]] | None = None  # see `_split`
        self._finished = False
        self._held = False

    def feed(self, text: str) -> None:
        """Add a chunk of the reply and show it (see the module docstring for
        when the live region is redrawn). Ignored after `finish`."""
        if self._finished or not text:
            return
        self._source += text
        now = self._clock()
        due = self._painted_at is None or now - self._painted_at >= REPAINT_INTERVAL
        # A newline may finish a block, which is committed without waiting.
        # Code lines are not blocks: they are batched to the repaint rate.
        self._held = not due  # text the throttle kept off the screen, for `refresh`
        if self._painted_at is None and self._paint_plain_start(now):
            return
        if due or ("\n" in text and self._code is None):
            self._update(now, repaint=due)

    def _paint_plain_start(self, now: float) -> bool:
        """The very first text, when it is plain words on one short line, is
        exactly what rich would draw: show it as it is, so the first token
        costs no markdown rendering. The next repaint draws it properly."""
        from chinwag.render.md_paint import Line

        text = self._source.rstrip(" ")
        if not (text and text.isascii() and text.isprintable() and len(text) < self._width - 1
                and not _MARKUP.intersection(text) and not text[0].isdigit()):
            return False
        self._frames.draw([], [Line(text, len(text))])
        self._painted_at = now
        return True

    def refresh(self) -> None:
        """Draw what the throttle held back, if 50 ms have passed since the last
        redraw. The caller runs this from a timer while the model is silent, so a
        stalled stream never leaves shown-later text unshown."""
        now = self._clock()
        if self._held and not self._finished and (
                self._painted_at is None or now - self._painted_at >= REPAINT_INTERVAL):
            self._held = False
            self._update(now, repaint=True)

    def finish(self) -> None:
        """Commit everything, treating the last block as final, and leave the
        cursor at the start of a fresh line. Safe to call more than once."""
        if self._finished:
            return
        self._finished = True
        committed: list[Line] = []
        try:
            self._commit(committed, final=True, code=True)
        finally:
            self._frames.draw(committed, [])

    def hide_live(self) -> None:
        """Erase the live region (the process is about to stop: Ctrl-Z); the
        next `refresh` or `feed` draws it afresh wherever the cursor is then."""
        if self._finished or not self._frames.has_live:
            return
        self._frames.draw([], [])
        self._held = True
        self._painted_at = None  # due at once

    def resize(self, width: int, height: int) -> None:
        """The terminal is now `width` x `height`: the live region is redrawn
        at the new width. Committed rows cannot be reflowed."""
        self._painter.resize(width)
        self._height = height
        self._width = width
        self._frames.reflow()
        if not self._finished and self._frames.has_live:
            self._update(self._clock(), repaint=True)

    def _update(self, now: float, repaint: bool) -> None:
        committed: list[Line] = []
        try:
            self._commit(committed, final=False, code=repaint)
            live = self._live_rows() if committed or repaint else None
        except BaseException:
            # Ctrl-C while rendering: each step updates the state together
            # with `committed`, so drawing it keeps screen and state in step
            # for the `finish` that follows.
            self._frames.draw(committed, [])
            raise
        if live is not None:
            self._frames.draw(committed, live)
            self._painted_at = now

    def _commit(self, rows: list[Line], final: bool, code: bool) -> None:
        """Move the final part of the source to `rows`, step by step."""
        while True:
            if self._code is not None:
                if not code or not self._take_code(rows, final):
                    return
            elif not self._commit_blocks(rows, final):
                return

    def _take_code(self, rows: list[Line], final: bool) -> bool:
        """Print the open fence's complete lines. True when it has closed and
        the text after it remains to be parsed."""
        assert self._code is not None
        taken, rest = self._code.take(self._source)
        rows += taken
        if rest is None:
            self._source = self._source[self._source.rfind("\n") + 1 :]
            if not final:
                return False
            rows += self._code.finish(self._source)
            rest = ""
        self._source = rest
        self._code = None
        self._flag = True  # a code block leaves rich's `new_line` set
        return bool(rest)

    def _commit_blocks(self, rows: list[Line], final: bool) -> bool:
        """Commit the final blocks of the source. True when a code fence was
        opened and its lines are waiting. State changes only at the end, so
        a Ctrl-C while rendering leaves everything for `finish` to commit."""
        from chinwag.render.md_blocks import is_final, settled

        lines = _split_lines(self._source)
        blocks = self._split(self._source)
        last_settled = settled(blocks, lines)
        done, flag, code = 0, self._flag, None
        out: list[Line] = []
        for index, block in enumerate(blocks):
            if final or is_final(block, lines, index >= last_settled):
                source = "".join(lines[block.start : block.end])
                flag = self._render_block(source, flag, out)
                done = block.end
                continue
            done = block.start
            opener = lines[block.start]
            # An open fence, once its opening line is complete, is printed
            # line by line instead of being live. (A fence followed by
            # anything is closed, so final: this one is the last block.)
            if block.kind == "fence" and opener.endswith("\n"):
                code = self._open_code(block, opener, flag, out)
                done = block.start + 1
            break
        rows += out
        self._flag, self._code = flag, code
        self._source = "" if final else "".join(lines[done:])
        return code is not None

    def _render_block(self, source: str, flag: bool, rows: list[Line]) -> bool:
        """Append the block's rows; return rich's `new_line` flag after it."""
        from chinwag.render.md_blocks import lead_blank, trailing_flag

        markdown = self._painter.markdown(source)
        rows += self._blank() if lead_blank(markdown.parsed, flag) else []
        rows += self._painter.render(markdown)
        return trailing_flag(markdown.parsed, flag)

    def _open_code(
        self, block: Block, opener: str, flag: bool, rows: list[Line]
    ) -> CodeStream:
        """Append the rows that open a code block and return its stream."""
        from chinwag.render.md_fence import CodeStream

        code = CodeStream(self._painter, opener, block.info)
        # A fence closes no element inside itself: the blank comes from before.
        rows += self._blank() if flag else []
        rows += code.open_rows()
        return code

    def _live_rows(self) -> list[Line]:
        cap = max(1, min(self._height - 2, LIVE_CAP))
        if self._code is not None:
            return self._code.live_rows(self._source)[-cap:]
        blocks = self._split(self._source)
        if not blocks:
            return []
        return self._live_blocks(blocks, _split_lines(self._source), cap)[-cap:]

    def _live_blocks(
        self, blocks: list[Block], lines: list[str], cap: int
    ) -> list[Line]:
        """The bottom rows of the unfinished block (or two: see `settled`).
        A list, table or quote with more items than the cap is rendered from
        its last `cap` items only (each takes at least a row), so a repaint
        costs what the screen shows, not the whole block."""
        from chinwag.render.md_blocks import lead_blank, tail_source

        if len(blocks) == 1 and (tail := tail_source(blocks[0], lines, cap)):
            return self._painter.render(self._painter.markdown(tail))
        markdown = self._painter.markdown("".join(lines[blocks[0].start :]))
        rows = self._blank() if lead_blank(markdown.parsed, self._flag) else []
        return rows + self._painter.render(markdown)

    def _split(self, source: str) -> list[Block]:
        """Parse into blocks, reusing the last parse when the source has not
        changed (a repaint right after a commit check)."""
        if self._parsed is None or self._parsed[0] != source:
            self._parsed = (source, self._parser.split(source))
        return self._parsed[1]

    def _blank(self) -> list[Line]:
        from chinwag.render.md_paint import Line

        return [Line("", 0)]


def _split_lines(source: str) -> list[str]:
    """Lines with their "\\n", as markdown-it counts them (it splits on "\\n"
    only, unlike `str.splitlines`)."""
    parts = source.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines
