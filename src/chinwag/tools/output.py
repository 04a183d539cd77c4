"""What running a tool gives back, what approving one needs, and the caps on both.

Tool output is untrusted twice over: the model reads `ToolOutput.content`
raw (so it is capped, with a note saying what was cut, never silently
shortened), and the user's terminal shows `ToolOutput.summary` (so it is
sanitized and kept to one line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chinwag.render.sanitize import sanitize

if TYPE_CHECKING:  # the chat's first tool use imports the records, not start-up (tools/config.py)
    from chinwag.records import Document, Image, ToolStatus

SUMMARY_WIDTH = 160  # characters of summary shown before an ellipsis


@dataclass(frozen=True)
class ToolOutput:
    """One call's outcome: `content` goes to the model, `summary` to the user."""

    content: str  # raw, capped at the toolbox's max_output bytes
    status: ToolStatus  # "ok" | "error" | "denied" | "interrupted"
    summary: str  # one sanitized line: "212 lines", "exit 0 · 3 lines", "404 Not Found"
    # Images and PDFs the tool gave (an MCP result's): they go to the model beside `content`.
    attachments: tuple[Image | Document, ...] = ()

    def __post_init__(self) -> None:
        # The terminal shows the summary: whoever built it, it is one safe line.
        object.__setattr__(self, "summary", one_line(self.summary))

    @classmethod
    def error(cls, message: str) -> ToolOutput:
        """An error the model should read in full, summarised as its first line."""
        return cls(message, "error", one_line(message))


@dataclass(frozen=True)
class Verdict:
    """What approval needs for one call: must a person say yes, and why (or why not)."""

    ask: bool
    reason: str


def one_line(text: str, width: int = SUMMARY_WIDTH) -> str:
    """`text` made safe for the terminal and squeezed to one line of at most `width` characters."""
    line = " ".join(sanitize(text).split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def cut_summary(kept_bytes: int, total_bytes: int) -> str:
    """For the one line the user sees when output was cut before the model got it:
    "cut to 32 KB of 12.4 MB for the model"."""
    return f"cut to {size(kept_bytes)} of {size(total_bytes)} for the model"


def cut_note(cut_bytes: int) -> str:
    return f"[… {cut_bytes:,} more bytes cut]"


def cap(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes (never mid-character), plus a note of what was cut."""
    data = text.encode("utf-8", "surrogateescape")
    if len(data) <= limit:
        return text
    return cap_bytes(data[:limit], len(data) - limit)


def cap_bytes(head: bytes, cut: int) -> str:
    """Decode the kept `head` of some output whose last `cut` bytes were dropped, noting the cut
    (a character split by the cut is cut whole, and counted)."""
    if not cut:
        return head.decode("utf-8", "replace")
    whole = _whole_characters(head)
    return f"{head[:whole].decode('utf-8', 'replace')}\n{cut_note(cut + len(head) - whole)}"


def _whole_characters(data: bytes) -> int:
    """The length of `data` without a UTF-8 character left unfinished at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # ASCII or a lead byte: how long is its character?
            length = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= length else len(data) - back
    return len(data)


def count_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def size(n: int) -> str:
    """A byte count for people: "812 B", "12 KB", "3.4 MB"."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"
