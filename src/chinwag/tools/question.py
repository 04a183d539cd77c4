"""What a question asking for consent to a tool call shows: the whole call.

The dim one-line `⚙ name(args)` lines elsewhere may be cut; a question may
not, since the user allows what they read. So every argument is shown in
full, its value as the tool will get it (a string as it is, anything else as
JSON), with every control and invisible character made visible
(`render.sanitize.reveal`), each real newline marked "↵" so a wrapped line
cannot pass for two commands, and its length stated. The terminal wraps and
pages these lines (cli/approval.py); the page puts each value in a box the
user can scroll (web/static/questions.js, `ReplyView.prototype.ask`). Both use the
words made here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chinwag.render.sanitize import reveal

NEWLINE = "↵"
BORDER = "│ "


@dataclass(frozen=True)
class Argument:
    """One argument of a call, ready to show."""

    name: str  # revealed
    text: str  # the value, revealed, each newline shown as "↵" and kept as a line break
    about: str  # "178 characters", "3 lines · 1,204 characters"


def arguments(values: Mapping[str, Any]) -> list[Argument]:
    """Every argument of a call, in full, in the order the model gave them."""
    shown = []
    for name, value in values.items():
        raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
        lines = raw.count("\n") + 1
        about = (f"{lines:,} lines · " if lines > 1 else "") + f"{len(raw):,} character{'s' * (len(raw) != 1)}"
        shown.append(Argument(reveal(str(name)), reveal(raw).replace("\n", NEWLINE + "\n"), about))
    return shown


def heading(name: str, reason: str) -> str:
    """"⚙ shell asks because it runs a command" """
    because = f" because it {reason}" if reason else ""
    return f"⚙ {reveal(name)} asks{because}"


def web_question(name: str, values: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """The call as the page's approval box shows it, in the terminal's words
    (the page puts each text in with textContent)."""
    return {"heading": heading(name, reason), "args": [{"name": a.name, "text": a.text, "about": a.about}
                                                       for a in arguments(values)]}


def terminal_lines(name: str, values: Mapping[str, Any], reason: str, width: int) -> list[str]:
    """The call as lines of at most `width` columns, nothing cut: a heading,
    then each argument's name and length over its value, wrapped in a box."""
    lines = [heading(name, reason)]
    args = arguments(values)
    if not args:
        lines.append("  (no arguments)")
    for arg in args:
        lines.append(f"  {arg.name} · {arg.about}")
        for line in arg.text.split("\n"):
            lines.extend(f"  {BORDER}{piece}" for piece in wrap(line, max(8, width - 2 - len(BORDER))))
    return lines


def wrap(line: str, width: int) -> list[str]:
    """`line` cut into pieces of at most `width` columns, every character kept
    (spaces too: a command's spacing is part of what is allowed). A piece never
    ends in a space, where it could not be seen: spaces at a cut begin the next
    piece instead, where they show as indentation."""
    from wcwidth import wcwidth

    pieces: list[str] = []
    piece: list[str] = []
    used = 0
    for char in line:
        cells = max(0, wcwidth(char))
        if used + cells > width and piece:
            kept = len(piece)
            while kept and piece[kept - 1] == " ":
                kept -= 1
            kept = kept or len(piece)  # a piece of spaces alone stays as it is
            pieces.append("".join(piece[:kept]))
            piece = piece[kept:]
            used = len(piece)
            if used + cells > width:  # a wide character after them: the spaces go alone
                pieces.append("".join(piece))
                piece, used = [], 0
        piece.append(char)
        used += cells
    pieces.append("".join(piece))
    return pieces
