"""An open top-level code fence, printed line by line as its lines complete.

A code block can be taller than the screen, so it never sits in the live
region: its opening row is printed at once, each completed code line is
printed once, highlighted, and only the line still being typed is live.
The rows match what rich prints for the finished block (`CodeBlock`: a
`Syntax` with `padding=1` and `word_wrap=True`), because each code line wraps
on its own. Two details keep that true:

- rich drops trailing blank lines (`code.rstrip()`), so blank lines are held
  back until a non-blank line follows them, and dropped at the close.
- Highlighting needs context (a line inside a docstring is a string), so each
  batch of lines is lexed together with up to `CONTEXT` lines before it:
  bounded work per line, and the colours only differ from a one-shot render
  for strings longer than that.
"""

from __future__ import annotations

from chinwag.render.md_blocks import closes_fence, fence_indent
from chinwag.render.md_paint import Line, Painter

CONTEXT = 40


class CodeStream:
    """Turns the text of an open fence into committed and live rows."""

    def __init__(self, painter: Painter, opener: str, info: str) -> None:
        self._painter = painter
        self._opener = opener
        self._indent = fence_indent(opener)
        self._lang = info.partition(" ")[0] or "text"
        self._recent: list[str] = []  # printed code lines, the last CONTEXT
        self._held: list[str] = []  # blank lines not yet known to be inside
        self._printed = False

    def open_rows(self) -> list[Line]:
        """The top padding row of the code block."""
        return self._painter.code_frame(self._lang)[:1]

    def take(self, text: str) -> tuple[list[Line], str | None]:
        """Consume the complete lines of `text` (the source after the last
        consumed line). Returns the rows to commit and, once the closing
        fence has arrived, the text after it (else None: still open)."""
        new: list[str] = []
        start = 0
        while (end := text.find("\n", start)) >= 0:
            line = text[start : end + 1]
            start = end + 1
            if closes_fence(self._opener, line):
                return self._close(new), text[start:]
            new.append(self._dedent(line[:-1]))
        return self._print(new), None

    def finish(self, partial: str) -> list[Line]:
        """End of the reply: the unfinished last line is code too, unless it
        is the closing fence; then the bottom padding."""
        if not partial or closes_fence(self._opener, partial):
            return self._close([])
        return self._close([self._dedent(partial)])

    def live_rows(self, text: str) -> list[Line]:
        """Rows for the held blank lines and the text not yet taken (the line
        being typed, or lines waiting for the next repaint). Lexed without
        context: they are redrawn until committed anyway."""
        pending = text.split("\n")
        if not pending[-1]:
            pending.pop()
        lines = self._held + [self._dedent(line) for line in pending]
        if not lines:
            return []
        return self._painter.code_lines(lines, 0, self._lang)

    def _print(self, new: list[str]) -> list[Line]:
        lines = self._held + new
        last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
        ready, held = lines[: last + 1], lines[last + 1 :]
        if not ready:
            self._held = held
            return []
        window = self._recent + ready
        rows = self._painter.code_lines(window, len(self._recent), self._lang)
        # State changes only once the rows exist: a Ctrl-C while rendering
        # leaves these lines to be printed by `finish`.
        self._held = held
        self._recent = window[max(0, len(window) - CONTEXT) :]
        self._printed = True
        return rows

    def _close(self, new: list[str]) -> list[Line]:
        """The last lines, then the bottom padding row. Everything is
        rendered before `_print` changes any state."""
        frame = self._painter.code_frame(self._lang)
        printed = self._printed or any(line.strip() for line in self._held + new)
        # An empty block still shows one (empty) code row, as rich does.
        return self._print(new) + (frame[2:] if printed else frame[1:])

    def _dedent(self, line: str) -> str:
        """CommonMark: remove up to the opening fence's indentation."""
        body = line.lstrip(" ")
        removed = min(len(line) - len(body), self._indent)
        return line[removed:]
