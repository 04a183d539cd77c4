"""Asking a person at the terminal whether a tool call may run.

The question shows the whole call (tools/question.py): every argument in
full, wrapped to the terminal's width, never cut. A call taller than the
screen is paged first, like `more` without its own screen: a page, then a
line saying how much is left, and Enter shows the next; every page stays in
the scrollback and nothing is drawn over it, so the question comes last,
under the call's end, where the user is looking. "n" at a page denies at
once; only the question itself, after the whole call, can allow.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TextIO

from chinwag.records import ToolCall

QUESTION = "Allow? [y]es once · [a]lways for this tool in this session · [n]o (say why) "  # fits 80 columns
TYPEAHEAD_DROPPED = "(keys typed before this question were dropped: answer it now)\n"
ERASE_LINE_ABOVE = "\x1b[1A\r\x1b[2K"
QUESTION_ROWS = 3  # the question (it wraps on a narrow screen) and the line the answer ends on


def line_reader(out: TextIO, stdin: TextIO) -> Callable[[str], str]:
    """Like input(), with the prompt on `out` (input() writes it to stdout)."""
    def read(prompt: str) -> str:
        out.write(prompt)
        out.flush()
        line = stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    return read


def screen_size(out: TextIO) -> tuple[int, int]:
    """(columns, rows) of the terminal `out` writes to; 80 × 24 when it has none."""
    try:
        size = os.get_terminal_size(out.fileno())
    except (OSError, ValueError, AttributeError):
        return 80, 24
    return max(20, size.columns), max(6, size.lines)


def more_line(shown: int, total: int) -> str:
    return f"-- the call goes on: {shown} of {total} lines shown · Enter for more · n to deny -- "


def terminal_ask(out: TextIO, read: Callable[[str], str] = input) -> Callable[[ToolCall, str], tuple[str, str | None]]:
    """An `ask` for toolloop.ToolUse. With several calls in one reply, all
    their dim lines are on screen before the first is asked; each question
    then shows its own call in full."""
    import sys

    from chinwag.cli.typeahead import discard_typeahead, echoed
    from chinwag.tools.question import terminal_lines

    def ask_line(prompt: str) -> str:
        """What the person types, echoed even mid-turn, while typeahead is hidden."""
        with echoed(sys.stdin, out):
            return read(prompt)

    def consent_line(prompt: str) -> str:
        """An answer that can let the call go on: only keys typed after the
        question is on screen count. Keys typed ahead while the reply streamed
        (`y` and Enter meant for the next prompt) are dropped, and the person is told."""
        out.flush()
        if discard_typeahead(sys.stdin):
            out.write(TYPEAHEAD_DROPPED)
        return ask_line(prompt)

    def page(lines: list[str], rows: int) -> bool:
        """Write `lines`, a screen at a time when they do not fit above the
        question; False if the person denied before the end."""
        room = max(1, rows - QUESTION_ROWS)
        start = 0
        while len(lines) - start > room:
            out.write("".join(line + "\n" for line in lines[start:start + room]))
            start += room
            out.flush()
            answer = consent_line(more_line(start, len(lines))).strip().lower()
            if answer in ("n", "no"):
                return False
            if out.isatty():  # the call reads on unbroken in the scrollback
                out.write(ERASE_LINE_ABOVE)
        out.write("".join(line + "\n" for line in lines[start:]))
        return True

    def why() -> tuple[str, str | None]:
        try:
            reason = ask_line("Why? (Enter to skip) ").strip()
        except EOFError:
            reason = ""
        return "no", reason or None

    def ask(call: ToolCall, reason: str) -> tuple[str, str | None]:
        try:
            return asked(call, reason)
        except KeyboardInterrupt:  # end the question's line: what is said next starts on its own
            out.write("\n")
            out.flush()
            raise

    def asked(call: ToolCall, reason: str) -> tuple[str, str | None]:
        columns, rows = screen_size(out)
        lines = terminal_lines(call.name, call.input, reason, columns - 1)
        try:
            if not page(lines, rows):
                return why()
        except EOFError:  # Ctrl-D: no
            out.write("\n")
            return "no", None
        while True:
            out.flush()
            try:
                answer = consent_line(QUESTION).strip().lower()
            except EOFError:  # Ctrl-D: no
                out.write("\n")
                return "no", None
            if answer in ("y", "yes"):
                return "yes", None
            if answer in ("a", "always"):
                return "always", None
            if answer in ("n", "no"):
                return why()

    return ask
