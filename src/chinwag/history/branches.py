"""Conversations as trees in the history database: paths, the tree, moving the
leaf, forking. A base of `Store` (store.py).

A message's `parent_id` is the message it follows (NULL: a root) and a
conversation's `leaf_id` the end of its current path (m007). A parent is
always older than its child (a smaller id), so a path read by walking up is
put in order by sorting on id. Saving a message under the leaf moves the leaf
to it (store.py); making a branch adds only the new messages.
"""

from __future__ import annotations

import time
from dataclasses import replace

from chinwag.errors import UsageError
from chinwag.history import blobs as store_blobs
from chinwag.history.connection import Connection
from chinwag.history.schema import MESSAGE_COLUMNS, StoredMessage, title_of
from chinwag.tree import Node, Tree

# The ids from a message up to its root, nearest first.
UP = """WITH RECURSIVE up(id, parent_id) AS (
    SELECT id, parent_id FROM messages WHERE id = ? AND conversation_id = ?
    UNION ALL SELECT m.id, m.parent_id FROM messages m JOIN up ON m.id = up.parent_id)"""


class Branches(Connection):
    """The tree reads and moves of the history database."""

    def leaf(self, cid: int) -> int | None:
        """The end of the conversation's current path (None: an empty path, or no such conversation)."""
        rows = self._query("SELECT leaf_id FROM conversations WHERE id = ?", (cid,))
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def message(self, mid: int) -> StoredMessage | None:
        """One message, its attachments with their bytes."""
        rows = self._query(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (mid,))
        if not rows:
            return None
        with self._translated():
            found = StoredMessage(*rows[0])
            return replace(found, blocks=store_blobs.resolved(self._conn, found.blocks))

    def path_messages(self, cid: int, leaf: int | None = None) -> list[StoredMessage]:
        """The messages from the root to `leaf` (default: the conversation's leaf), in order."""
        at = self.leaf(cid) if leaf is None else leaf
        if at is None:
            return []
        rows = self._query(f"{UP} SELECT {MESSAGE_COLUMNS} FROM messages"
                           " WHERE id IN (SELECT id FROM up) ORDER BY id", (at, cid))
        with self._translated():  # attachments come back with their bytes
            return [replace(m, blocks=store_blobs.resolved(self._conn, m.blocks))
                    for m in (StoredMessage(*row) for row in rows)]

    def tree(self, cid: int) -> Tree:
        """Every message of the conversation (a preview of each) and its leaf."""
        rows = self._query(
            "SELECT id, parent_id, role, status, substr(content, 1, 1000),"
            " CASE WHEN content LIKE '# file: %' THEN substr(content, -4000) END, created_at,"
            " role = 'user' AND blocks IS NOT NULL AND instr(blocks, '\"tool_result\"') > 0"
            " FROM messages WHERE conversation_id = ? ORDER BY id", (cid,))
        children: dict[int | None, list[int]] = {}
        for row in rows:
            children.setdefault(row[1], []).append(row[0])
        nodes = {mid: Node(mid, number, parent, role, status, "" if results else title_of(text, tail), created,
                           tuple(children.get(mid, ())), bool(results))
                 for number, (mid, parent, role, status, text, tail, created, results) in enumerate(rows, 1)}
        leaf = self.leaf(cid)
        return Tree(nodes, leaf if leaf in nodes else None)

    def set_leaf(self, cid: int, mid: int | None) -> None:
        """Make `mid` the end of the conversation's path (None: an empty path,
        the next message a new root). UsageError if it is not in the conversation."""
        with self._transaction() as conn:
            if mid is not None and conn.execute("SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?",
                                                (mid, cid)).fetchone() is None:
                raise UsageError(f"there is no message {mid} in conversation {cid}.")
            conn.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (mid, cid))

    def fork(self, cid: int, leaf: int | None = None) -> int:
        """A new conversation holding a copy of the path to `leaf` (default: the
        current leaf): its messages, their tool calls and their attachments'
        links (a blob is stored once, however many use it). Returns its id."""
        path = [m.id for m in self.path_messages(cid, leaf)]
        now = time.time()
        with self._transaction() as conn:
            cur = conn.execute("INSERT INTO conversations (created_at, updated_at, model, system, title)"
                               " SELECT ?, ?, model, system, title FROM conversations WHERE id = ?", (now, now, cid))
            if cur.rowcount == 0:
                raise UsageError(f"there is no conversation {cid}.")
            copy = int(cur.lastrowid or 0)
            parent: int | None = None
            for mid in path:
                cur = conn.execute(
                    "INSERT INTO messages (conversation_id, role, content, status, model, input_tokens,"
                    " output_tokens, ttft, duration, stop_reason, writer_pid, created_at, updated_at, blocks,"
                    " system, parent_id) SELECT ?, role, content, status, model, input_tokens, output_tokens,"
                    " ttft, duration, stop_reason, writer_pid, created_at, updated_at, blocks, system, ?"
                    " FROM messages WHERE id = ?", (copy, parent, mid))
                new = int(cur.lastrowid or 0)
                conn.execute("INSERT INTO message_blobs (message_id, sha256)"
                             " SELECT ?, sha256 FROM message_blobs WHERE message_id = ?", (new, mid))
                conn.execute("INSERT INTO tool_calls (message_id, call_id, name, input, status, result,"
                             " writer_pid, started_at, ended_at) SELECT ?, call_id, name, input, status, result,"
                             " writer_pid, started_at, ended_at FROM tool_calls WHERE message_id = ?", (new, mid))
                parent = new
            conn.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (parent, copy))
        return copy
