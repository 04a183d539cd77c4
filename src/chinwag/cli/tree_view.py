"""A conversation's tree as text: what `/tree` and `history show --all` print.

One line per message, in the order a reader follows it: a message's only
child goes on the line under it at the same indent. At a branching point the
message says how many branches it has; each branch is labelled `[2/3]`, the
older ones indented one step further, and the newest goes on at the same
indent, so a long conversation with many branches does not march off to the
right. Numbers are the messages' numbers (creation order, stable), the ones
`/edit N` and `/switch N` take. The current path is marked `*`, its last
message `← current`.

    * 1  You: Explain how a CPU works.
    * 2  Claude: A CPU, or central processing unit, …  · 2 branches
      3    [1/2] You: and in one sentence?
      4    Claude: It runs instructions.
    * 5  [2/2] You: and in two sentences?
    * 6  Claude: It fetches, decodes and …  ← current

Walked with a stack, not recursion: a linear conversation of thousands of
messages is thousands of levels deep.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from wcwidth import wcwidth

from chinwag.cli.history_format import flat
from chinwag.present import REPLY_INTERRUPTED

if TYPE_CHECKING:
    from chinwag.tree import Node, Tree

_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
INDENT = "  "
CURRENT = "← current"
# (A question's "interrupted" is a question cancelled before any reply.)
_STATUS = {"interrupted": REPLY_INTERRUPTED, "error": "✗ failed", "cancelled": "cancelled before a reply",
           "streaming": "… streaming"}


@dataclass(frozen=True)
class Style:
    """How lines are marked: bold for the current path and dim for the rest on
    a terminal that wants colour, nothing otherwise."""

    on_path: tuple[str, str] = ("", "")
    off_path: tuple[str, str] = ("", "")

    @classmethod
    def terminal(cls) -> Style:
        return cls(("\x1b[1m", "\x1b[22m"), ("\x1b[2m", "\x1b[22m"))


def render(tree: Tree, speaker: Callable[[Node], str], columns: int = 80, style: Style = Style()) -> list[str]:
    """The tree as lines of at most `columns - 1` cells (previews are cut with …).
    `speaker` names a message's author ("You", "Claude")."""
    if not tree.nodes:
        return []
    on_path = {node.id for node in tree.path()}
    width = len(str(max(node.number for node in tree.nodes.values())))
    lines: list[str] = []
    # (node id, indent depth, its label among its siblings: "" or "[2/3] ")
    stack: list[tuple[int, int, str]] = _branches(list(tree.roots), 0)
    while stack:
        nid, depth, label = stack.pop()
        node = tree.nodes[nid]
        children = list(node.children)  # (in creation order, as the roots are)
        status = "cancelled" if node.question and node.status == "interrupted" else node.status
        notes = [_STATUS[status]] if status in _STATUS else []
        if len(children) > 1:
            notes.append(f"{len(children)} branches")
        if nid == tree.leaf:
            notes.append(CURRENT)
        mark = "*" if nid in on_path else " "
        head = f"{mark} {node.number:>{width}}  {INDENT * depth}{label}{speaker(node)}: "
        tail = "".join(f"  · {note}" if note != CURRENT else f"  {note}" for note in notes)
        preview = _cut(flat(node.preview).strip() or "(no text)", columns - 1 - _cells(head) - _cells(tail))
        paint = style.on_path if nid in on_path else style.off_path
        lines.append(f"{paint[0]}{head}{preview}{tail}{paint[1]}")
        stack.extend(_branches(children, depth))
    return lines


def _branches(ids: list[int], depth: int) -> list[tuple[int, int, str]]:
    """Stack entries for the children of a message at `depth`: an only child goes on
    at that depth; of several, each labelled `[i/n]`, the older ones one step in and
    the newest at that depth. Reversed, so that the first is popped first."""
    if len(ids) == 1:
        return [(ids[0], depth, "")]
    n = len(ids)
    return [(nid, depth if i == n else depth + 1, f"[{i}/{n}] ") for i, nid in reversed(list(enumerate(ids, 1)))]


def _cells(text: str) -> int:
    """Terminal cells `text` takes (sanitized: no control characters). ASCII is one cell
    a character; only the others are looked up (a preview is mostly ASCII, and measuring
    every character of a thousand of them cost more than reading the tree)."""
    if text.isascii():
        return len(text)
    others = _NOT_ASCII.findall(text)
    return len(text) - len(others) + sum(_char_cells(char) for char in others)


@lru_cache(maxsize=4096)
def _char_cells(char: str) -> int:
    return max(wcwidth(char), 0)


def _cut(text: str, room: int) -> str:
    """`text` in at most `room` terminal cells (at least a few), cut with … where it was longer."""
    room = max(room, 8)
    if _cells(text) <= room:
        return text
    if text.isascii():
        return text[:room - 1].rstrip() + "…"
    out, used = [], 0
    for char in text:
        cells = 1 if char.isascii() else _char_cells(char)
        if used + cells > room - 1:
            break
        out.append(char)
        used += cells
    return "".join(out).rstrip() + "…"
