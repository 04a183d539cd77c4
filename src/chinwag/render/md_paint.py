"""Turn markdown source and code lines into terminal lines, with rich.

`Painter` is the only place that talks to rich. It renders one block's source
(or a few code lines) at a time and returns finished terminal lines: text with
SGR colour codes when colour is on, nothing else. Lines come back without the
trailing spaces rich pads them with, so the cursor rests right after the text
and a line's cell count is its real width (which is what a resize estimate
needs). Background-coloured padding, as in code blocks, is kept.
"""

from __future__ import annotations

import io
from typing import NamedTuple

from rich.color import ColorSystem
from rich.console import Console, RenderableType
from rich.markdown import Markdown
from rich.segment import Segment
from rich.syntax import Syntax

# rich copes with any width of at least one column (it crops what cannot fit),
# and rendering wider than the terminal would wrap rows and break the count.
MIN_WIDTH = 1

_COLOR_SYSTEMS = {
    "standard": ColorSystem.STANDARD,
    "256": ColorSystem.EIGHT_BIT,
    "truecolor": ColorSystem.TRUECOLOR,
}


class Line(NamedTuple):
    """One terminal row of rendered output."""

    text: str  # what to write, SGR codes included when colour is on
    cells: int  # display width in cells


class Painter:
    """Renders markdown and code with rich at the terminal width minus one.

    The minus one is deliberate: a line that fills the last column leaves some
    terminals in a pending-wrap state and double-wraps (aichat #105).
    """

    def __init__(
        self, width: int, color: bool, color_system: str, code_theme: str
    ) -> None:
        self._color = color
        self._system = _COLOR_SYSTEMS[color_system] if color else None
        self._theme = code_theme
        self._console = Console(
            file=io.StringIO(),
            width=_render_width(width),
            force_terminal=color,
            color_system=color_system if color else None,  # type: ignore[arg-type]  # one of rich's names, checked by _COLOR_SYSTEMS
            no_color=not color,
            highlight=False,
            markup=False,
            emoji=False,
            legacy_windows=False,
            _environ={},  # the environment is the caller's business, not ours
        )

    @property
    def width(self) -> int:
        """The width rich renders at (terminal columns minus one)."""
        return self._console.width

    def resize(self, width: int) -> None:
        self._console.width = _render_width(width)

    def markdown(self, source: str) -> Markdown:
        """The rich renderable for `source`, configured as everywhere else."""
        return Markdown(source, code_theme=self._theme, hyperlinks=False)

    def render(self, renderable: RenderableType) -> list[Line]:
        options = self._console.options.update(height=None)
        rows = self._console.render_lines(renderable, options, pad=False)
        return [self._line(row) for row in rows]

    def code_lines(self, window: list[str], first: int, lang: str) -> list[Line]:
        """Render `window[first:]` as code-block rows, highlighted with the
        earlier lines of `window` as context (for multi-line strings)."""
        syntax = Syntax(
            "\n".join(window),
            lang,
            theme=self._theme,
            word_wrap=True,
            padding=(0, 1),
            line_range=(first + 1, len(window)),
        )
        return self.render(syntax)

    def code_frame(self, lang: str) -> list[Line]:
        """rich's rendering of an empty code block: top padding row, one
        empty code row, bottom padding row."""
        syntax = Syntax("", lang, theme=self._theme, word_wrap=True, padding=1)
        return self.render(syntax)

    def _line(self, segments: list[Segment]) -> Line:
        segments = _strip_padding([s for s in segments if not s.control])
        cells = Segment.get_line_length(segments)
        if self._system is None:
            return Line("".join(s.text for s in segments), cells)
        render = self._system
        text = "".join(
            s.style.render(s.text, color_system=render) if s.style else s.text
            for s in segments
        )
        return Line(text, cells)


def _render_width(width: int) -> int:
    return max(width - 1, MIN_WIDTH)


def _strip_padding(segments: list[Segment]) -> list[Segment]:
    """Drop trailing spaces that show nothing: unstyled, or styled only with
    a foreground colour or bold (a background or underline would show)."""
    while segments:
        last = segments[-1]
        if last.style is not None and not _blank_when_space(last):
            break
        text = last.text.rstrip(" ")
        if text:
            segments[-1] = Segment(text, last.style)
            break
        segments.pop()
    return segments


def _blank_when_space(segment: Segment) -> bool:
    style = segment.style
    assert style is not None
    return not (
        style.bgcolor is not None
        or style.underline
        or style.underline2
        or style.reverse
        or style.strike
        or style.overline
    )
