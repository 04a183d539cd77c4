"""Write frames: commit rows to the scrollback and redraw the live region.

The terminal holds, from the top: the scrollback (never touched again), then
the live region, at most `cap` rows, with the cursor at the end of its last
row. A frame moves the cursor to the start of the live region, overwrites it
row by row (each row followed by erase-to-end-of-line), writes any newly
committed rows followed by the new live rows, and erases whatever is left
below. Overwriting instead of erasing first leaves no blank frame to flicker,
and the whole frame goes out in one `write`, wrapped in synchronized output
(`CSI ?2026h` ... `CSI ?2026l`) where the caller says the terminal has it.
Because the live region never exceeds the screen, the cursor never climbs
into the scrollback.
"""

from __future__ import annotations

from typing import TextIO

from chinwag.render.md_paint import Line

SYNC_BEGIN = "\x1b[?2026h"
SYNC_END = "\x1b[?2026l"
ERASE_LINE = "\x1b[K"
ERASE_BELOW = "\x1b[J"


class FrameWriter:
    """Tracks how many rows the live region occupies and redraws it."""

    def __init__(self, out: TextIO, sync_output: bool) -> None:
        self._out = out
        self._sync = sync_output
        self._live: list[Line] = []
        self._rows = 0  # screen rows the live region occupies now
        self._reflowed = False  # the terminal was resized since the last frame

    @property
    def has_live(self) -> bool:
        return self._rows > 0

    def draw(self, committed: list[Line], live: list[Line]) -> None:
        """Commit `committed` rows for good and make `live` the live region."""
        if not committed and not live and not self._rows:
            return
        parts = [SYNC_BEGIN] if self._sync else []
        if self._rows:
            parts.append("\r")
            if self._rows > 1:
                parts.append(f"\x1b[{self._rows - 1}A")
            if self._reflowed:
                # A terminal that reflows (tmux, VTE, kitty) marked the region's
                # rows as wrapped when it narrowed, and writing over them does not
                # clear the mark: widening later would join them to the rows we
                # write, the region would shrink under the cursor, and the next
                # frame would climb into the scrollback and erase it (`You:`
                # lines went). Erasing the rows clears the marks.
                parts.append(ERASE_BELOW)
        self._reflowed = False
        old = self._rows
        for index, line in enumerate(committed):
            parts += (line.text, ERASE_LINE if index < old else "", "\n")
        for index, line in enumerate(live, start=len(committed)):
            if index > len(committed):
                parts.append("\n")
            parts += (line.text, ERASE_LINE if index < old else "")
        if old:
            parts.append(ERASE_BELOW)  # rows of the old region not overwritten
        if self._sync:
            parts.append(SYNC_END)
        self._out.write("".join(parts))
        self._out.flush()
        self._live = live
        self._rows = len(live)

    def reflow(self) -> None:
        """After a resize: the next frame climbs no more rows than
        the region was written as, one per line. A terminal that reflows may
        show the region on more rows (it narrowed) or on these again (it
        widened, perhaps after a narrowing we never saw, while a frame was on
        its way); counting the rows wrapped at the new width was right only when no
        other resize came between, and climbing one row too many erases a line
        of the scrollback (`You:` lines went, under load). Climbing too few
        leaves the top of the old region above the new one: text shown twice,
        never text lost."""
        self._reflowed = True
        self._rows = len(self._live)
