"""The conversation store: one SQLite file (stdlib sqlite3) in WAL mode.

Tables (built by the ordered `MIGRATIONS` of schema.py, whose names are recorded in table
`migrations` and count in `PRAGMA user_version`): `conversations`, `messages`,
and `messages_fts`, an FTS5 index over message text kept in sync by triggers
for rows not "streaming" (so progressive saves never touch the index). Times
are Unix seconds. Text is stored as received; cleaning it is the display's job.

Every write is one short transaction; WAL with `synchronous=NORMAL` survives a
killed process. Two processes may write at once (writers wait for the lock up
to the busy timeout: `BUSY_TIMEOUT_S` for `history` commands, less for the
chat, see recorder.py). A reply left "streaming" by a process that is gone is
marked "interrupted" on the next open. A database that cannot be used raises
`StorageError` (a `ConfigError`) naming it and the reason (check.py);
it is never rewritten or removed. A file this module created and could not
make into a database (disk full) is removed again: no debris. A write under
a conversation deleted meanwhile raises `ConversationDeleted`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Literal

from chinwag.errors import ConversationDeleted
from chinwag.records import ReplyUsage
from chinwag.history import blobs as store_blobs
from chinwag.history.blocks import Blob
from chinwag.history.connection import BUSY_TIMEOUT_S
from chinwag.history.costs import Costs, UsageRow, UsageTotals
from chinwag.history.reads import Reads
from chinwag.history.schema import (  # the records live with the schema; imported here for callers
    CANCELLED_QUESTION,
    MARK_END,
    MARK_START,
    TITLE_WIDTH,
    ConversationSummary,
    SearchHit,
    StoredMessage,
    fts_query,
    title_of,
)
from chinwag.history.search import MAX_SEARCH_WORDS, SEARCH_SECONDS, Search

__all__ = ["BUSY_TIMEOUT_S", "CANCELLED_QUESTION", "MARK_END", "MARK_START", "MAX_SEARCH_WORDS", "SEARCH_SECONDS",
           "TITLE_WIDTH", "ConversationSummary", "SearchHit", "Store", "StoredMessage", "UsageRow", "UsageTotals",
           "fts_query", "title_of"]

ROLES = ("user", "assistant")
# Where a new message goes: under a message (its id), at a new root (None), or under the conversation's leaf.
Parent = int | None | Literal["leaf"]
STATUSES = ("streaming", "complete", "interrupted", "error")


class Store(Reads, Search, Costs):
    """One open connection to the history database; one Store per thread.
    Opening and transactions: connection.py; reads: reads.py; the tree's reads
    and moves: branches.py; search: search.py; usage and cost: costs.py; the writes are here."""

    def start_conversation(self, model: str | None = None, system: str | None = None) -> int:
        now = time.time()
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO conversations (created_at, updated_at, model, system)"
                " VALUES (?, ?, ?, ?)", (now, now, model, system))
        return int(cur.lastrowid or 0)

    def add_message(self, cid: int, role: str, content: str, model: str | None = None,
                    blocks: str | None = None, blobs: Sequence[Blob] = (), system: str | None = None,
                    parent: Parent = "leaf") -> int:
        """Save a finished message (call before sending the request) under
        `parent` (a message id; None: a new root; "leaf": the conversation's
        leaf), and make it the leaf. `blocks` and
        its attachments' `blobs` as `blocks_and_blobs` gives them, for a message
        that is more than text. A blob already stored is not stored again.
        `system`: the system prompt a question goes with, when it changed."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        return self._insert_message(cid, role, content, "complete", model, blocks, blobs, system, parent)

    def begin_reply(self, cid: int, model: str | None = None, parent: Parent = "leaf") -> int:
        """An empty "streaming" assistant row under `parent` (as for `add_message`),
        now the leaf; `model` becomes the conversation's."""
        return self._insert_message(cid, "assistant", "", "streaming", model, None, (), None, parent)

    def update_reply(
        self, rid: int, text: str, status: str = "streaming", *,
        input_tokens: int | None = None, output_tokens: int | None = None,
        ttft: float | None = None, duration: float | None = None, stop_reason: str | None = None,
        blocks: str | None = None, schema: str | None = None, usage: ReplyUsage | None = None,
    ) -> bool:
        """Save the text so far (one UPDATE), or the final reply with its figures.
        Returns False if the row no longer exists (deleted meanwhile)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        now = time.time()
        if status == "streaming":  # the hot path: one UPDATE, its own transaction
            with self._translated():
                cur = self._conn.execute(
                    "UPDATE messages SET content = ?, status = ?, updated_at = ? WHERE id = ?",
                    (text, status, now, rid))
            return cur.rowcount > 0
        figures = (input_tokens, output_tokens, ttft, duration, stop_reason, blocks, schema)
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE messages SET content = ?, status = ?, updated_at = ?,"
                " input_tokens = coalesce(?, input_tokens), output_tokens ="
                " coalesce(?, output_tokens), ttft = coalesce(?, ttft), duration ="
                " coalesce(?, duration), stop_reason = coalesce(?, stop_reason),"
                " blocks = coalesce(?, blocks), schema = coalesce(?, schema) WHERE id = ?",
                (text, status, now, *figures, rid))
            if usage is not None:
                conn.execute(
                    "UPDATE messages SET provider = ?, cache_read_tokens = ?, cache_write_tokens = ?,"
                    " reasoning_tokens = ?, cost = ?, price_source = ? WHERE id = ?",
                    (usage.provider, usage.cache_read_tokens, usage.cache_write_tokens,
                     usage.reasoning_tokens, usage.cost, usage.price_source, rid))
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id ="
                " (SELECT conversation_id FROM messages WHERE id = ?)", (now, rid))
        return cur.rowcount > 0

    def set_question_status(self, mid: int, status: str) -> None:
        """Mark a user message cancelled before any reply (CANCELLED_QUESTION): the
        leaf goes back to its parent, the question a dead end; or asked again
        ("complete"): the leaf is the question again."""
        if status not in (CANCELLED_QUESTION, "complete"):
            raise ValueError(f"a question is {CANCELLED_QUESTION!r} or 'complete', not {status!r}")
        leaf = "parent_id" if status == CANCELLED_QUESTION else "id"
        with self._transaction() as conn:
            conn.execute("UPDATE messages SET status = ? WHERE id = ? AND role = 'user'", (status, mid))
            conn.execute(f"UPDATE conversations SET leaf_id = (SELECT {leaf} FROM messages WHERE id = ?)"
                         " WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)", (mid, mid))

    def set_model(self, cid: int, model: str) -> None:
        with self._translated():
            self._conn.execute("UPDATE conversations SET model = ? WHERE id = ?", (model, cid))

    def delete_conversation(self, cid: int) -> bool:
        """Delete a conversation and its messages. False if there was none."""
        with self._transaction() as conn:
            store_blobs.forget_conversation(conn, cid)  # and the attachments nothing else uses
            conn.execute("DELETE FROM messages WHERE conversation_id = ?", (cid,))
            cur = conn.execute("DELETE FROM conversations WHERE id = ?", (cid,))
        return cur.rowcount > 0

    def rename_conversation(self, cid: int, title: str | None) -> bool:
        """Give a conversation a title (None: its first message's line again). False if there was none."""
        with self._transaction() as conn:
            cur = conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title or None, cid))
        return cur.rowcount > 0

    def start_tool_call(self, message_id: int, call_id: str, name: str, input_json: str) -> int:
        """A call about to run, saved as running (before it runs)."""
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO tool_calls (message_id, call_id, name, input, status, writer_pid, started_at)"
                " VALUES (?, ?, ?, ?, 'running', ?, ?)", (message_id, call_id, name, input_json,
                                                         os.getpid(), time.time()))
        return int(cur.lastrowid or 0)

    def end_tool_call(self, row: int, status: str, result: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE tool_calls SET status = ?, result = ?, ended_at = ? WHERE id = ?",
                         (status, result, time.time(), row))

    def _insert_message(self, cid: int, role: str, content: str, status: str, model: str | None,
                        blocks: str | None, blobs: Sequence[Blob], system: str | None, parent: Parent) -> int:
        now = time.time()
        with self._transaction() as conn:
            found = conn.execute(
                "UPDATE conversations SET updated_at = ?, model = coalesce(?, model) WHERE id = ?",
                (now, model if role == "assistant" else None, cid))
            if found.rowcount == 0:
                raise ConversationDeleted(f"conversation {cid} does not exist (was it deleted?)")
            if parent == "leaf":
                parent = conn.execute("SELECT leaf_id FROM conversations WHERE id = ?", (cid,)).fetchone()[0]
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, model, writer_pid,"
                " created_at, updated_at, blocks, system, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (cid, role, content, status, model, os.getpid(), now, now, blocks, system, parent))
            mid = int(cur.lastrowid or 0)
            conn.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (mid, cid))
            store_blobs.save(conn, mid, blobs)
        return mid

