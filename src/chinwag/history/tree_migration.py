"""m007's data step: the lines saved before conversation trees, linked into trees.

Before m007 a conversation was a line of messages in id order, and the chat
sent the model that line with two exceptions, which become branches here:

- a reply followed by another reply (a /retry replaced it) becomes a sibling
  of the reply that replaced it: both have the question as their parent;
- a question cancelled before any reply (status CANCELLED_QUESTION) is a
  dead end: its parent is the end of the line before it, the empty reply its
  turn left hangs under it, and the line goes on from where it was.

Every other message's parent is the one before it in the line, and the
conversation's leaf is the end of the line: exactly the path the chat sent.
Only `parent_id` and `leaf_id` are written; no message's content changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

# Not imported from schema.py, which imports this module; the same value.
_CANCELLED_QUESTION = "interrupted"


def link_lines(conn: sqlite3.Connection) -> None:
    """Set every message's parent and every conversation's leaf, as above."""
    rows = conn.execute("SELECT conversation_id, id, role, status FROM messages ORDER BY conversation_id, id")
    parents: list[tuple[int | None, int]] = []
    leaves: list[tuple[int | None, int]] = []
    cid: int | None = None
    end: int | None = None  # the end of the line: the next message's parent
    cancelled: int | None = None  # the question cancelled before any reply, while in its dead end
    parent_of: dict[int, int | None] = {}  # this conversation's messages so far
    reply = False  # the end of the line is a reply
    for conversation, mid, role, status in rows:
        if conversation != cid:
            if cid is not None:
                leaves.append((end, cid))
            cid, end, cancelled, parent_of, reply = conversation, None, None, {}, False
        if role == "user" and status == _CANCELLED_QUESTION:
            parent, cancelled = end, mid
        elif role == "assistant" and cancelled is not None:
            parent = cancelled  # the empty reply the cancelled question's turn left
        else:
            cancelled = None
            parent = parent_of[end] if role == "assistant" and reply and end is not None else end
            end, reply = mid, role == "assistant"
        parent_of[mid] = parent
        parents.append((parent, mid))
    if cid is not None:
        leaves.append((end, cid))
    conn.executemany("UPDATE messages SET parent_id = ? WHERE id = ?", parents)
    conn.executemany("UPDATE conversations SET leaf_id = ? WHERE id = ?", leaves)
