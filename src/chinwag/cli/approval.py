"""Asking a person at the terminal whether a tool call may run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from chinwag.records import ToolCall

QUESTION = "Allow? [y]es once · [a]lways for this tool in this session · [n]o (tell the model why) "


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


def terminal_ask(out: TextIO, read: Callable[[str], str] = input,
                 dim: Callable[[str], str] = str) -> Callable[[ToolCall, str], tuple[str, str | None]]:
    """An `ask` for toolloop.ToolUse. The question names the call: with several
    calls in one reply, all their lines are on screen before the first is asked."""
    from chinwag.sinks import call_line

    def ask(call: ToolCall, reason: str) -> tuple[str, str | None]:
        because = f" because it {reason}" if reason else ""
        out.write(dim(f"  {call_line(call.name, call.input)} asks{because}") + "\n")
        while True:
            out.flush()
            try:
                answer = read(QUESTION).strip().lower()
            except EOFError:  # Ctrl-D: no
                out.write("\n")
                return "no", None
            if answer in ("y", "yes"):
                return "yes", None
            if answer in ("a", "always"):
                return "always", None
            if answer in ("n", "no"):
                try:
                    why = read("Why? (Enter to skip) ").strip()
                except EOFError:
                    why = ""
                return "no", why or None

    return ask
