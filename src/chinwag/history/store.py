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
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from chinwag.errors import ConfigError, ConversationDeleted, UsageError
from chinwag.records import Message
from chinwag.history import blobs as store_blobs
from chinwag.history.blocks import Blob, answered, joined
from chinwag.history.schema import (  # the records live with the schema; imported here for callers
    CANCELLED_QUESTION,
    MARK_END,
    MARK_START,
    MESSAGE_COLUMNS,
    MIGRATIONS,
    SUMMARY_SELECT,
    TITLE_WIDTH,
    ConversationSummary,
    SearchHit,
    StoredMessage,
    fts_query,
    summary_of,
    title_of,
)
from chinwag.history.check import LOCKED, StorageError, create_private, remove_created, storage_error, writable
from chinwag.history.writers import writer_alive

__all__ = ["CANCELLED_QUESTION", "MARK_END", "MARK_START", "TITLE_WIDTH", "ConversationSummary", "SearchHit", "Store",
           "StoredMessage", "fts_query", "title_of"]

ROLES = ("user", "assistant")
STATUSES = ("streaming", "complete", "interrupted", "error")
BUSY_TIMEOUT_S = 10.0
# A search's cost grows much faster than its words (measured: 100 common words
# 0.4 s, 1,000 words 20 s), and it holds the reader others wait on.
MAX_SEARCH_WORDS = 32
SEARCH_SECONDS = 2.0




class Store:
    """One open connection to the history database; one Store per thread."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._busy_timeout = float(conn.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000

    @classmethod
    def open(cls, path: Path | str, *, busy_timeout: float = BUSY_TIMEOUT_S, read_only: bool = False,
             max_pages: int | None = None) -> Store:
        """Open (creating if needed) the database at `path`, migrate it and
        mark abandoned "streaming" replies as "interrupted".

        `read_only` creates, migrates and marks nothing (for reading history
        from a read-only directory). `max_pages` caps the file's size in pages
        (SQLite's max_page_count, for this connection): tests use it to make
        the database "full"."""
        path = Path(path)
        created = [] if read_only else create_private(path)
        # A read-only directory cannot hold the WAL's shared memory: read the file as immutable.
        uri = path.resolve().as_uri() + ("?mode=rw" if not read_only else
                                         "?mode=ro&immutable=1" if not writable(path) else "?mode=ro")
        try:
            try:
                # Not only this thread: the recorder saves from its writer thread, under its lock.
                conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None,
                                       check_same_thread=False)
            except sqlite3.Error as exc:
                raise storage_error(path, exc) from exc
            store = cls(conn, path)
            try:
                if max_pages is not None:
                    conn.execute(f"PRAGMA max_page_count = {int(max_pages)}")
                with store._translated():  # fails here if the file is not a database
                    _set_up(conn, busy_timeout, read_only)
                store._migrate(read_only)
                if not read_only:
                    store._recover_abandoned_replies()
            except BaseException:
                conn.close()
                raise
        except StorageError as exc:
            if created and exc.reason != LOCKED:
                remove_created(created)
            raise
        return store

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def waiting(self, seconds: float) -> Iterator[None]:
        """Wait at most `seconds` for another process's lock inside this block."""
        self._conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        try:
            yield
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")

    def room_to_grow(self) -> bool:
        """False when the database has reached its page limit with no free page left."""
        (count,), (limit,), (free,) = (self._query(f"PRAGMA {name}")[0]
                                       for name in ("page_count", "max_page_count", "freelist_count"))
        return bool(count < limit or free > 0)

    def start_conversation(self, model: str | None = None, system: str | None = None) -> int:
        now = time.time()
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO conversations (created_at, updated_at, model, system)"
                " VALUES (?, ?, ?, ?)", (now, now, model, system))
        return int(cur.lastrowid or 0)

    def add_message(self, cid: int, role: str, content: str, model: str | None = None,
                    blocks: str | None = None, blobs: Sequence[Blob] = (), system: str | None = None) -> int:
        """Save a finished message (call before sending the request); `blocks` and
        its attachments' `blobs` as `blocks_and_blobs` gives them, for a message
        that is more than text. A blob already stored is not stored again.
        `system`: the system prompt a question goes with, when it changed."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        return self._insert_message(cid, role, content, "complete", model, blocks, blobs, system)

    def begin_reply(self, cid: int, model: str | None = None) -> int:
        """An empty "streaming" assistant row; `model` becomes the conversation's."""
        return self._insert_message(cid, "assistant", "", "streaming", model, None, (), None)

    def update_reply(
        self, rid: int, text: str, status: str = "streaming", *,
        input_tokens: int | None = None, output_tokens: int | None = None,
        ttft: float | None = None, duration: float | None = None, stop_reason: str | None = None,
        blocks: str | None = None, schema: str | None = None,
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
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id ="
                " (SELECT conversation_id FROM messages WHERE id = ?)", (now, rid))
        return cur.rowcount > 0

    def set_question_status(self, mid: int, status: str) -> None:
        """Mark a user message cancelled before any reply (CANCELLED_QUESTION), or asked again ("complete")."""
        if status not in (CANCELLED_QUESTION, "complete"):
            raise ValueError(f"a question is {CANCELLED_QUESTION!r} or 'complete', not {status!r}")
        with self._translated():
            self._conn.execute("UPDATE messages SET status = ? WHERE id = ? AND role = 'user'", (status, mid))

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

    def messages(self, cid: int) -> list[StoredMessage]:
        rows = self._query(f"SELECT {MESSAGE_COLUMNS} FROM messages"
                           " WHERE conversation_id = ? ORDER BY id", (cid,))
        with self._translated():  # attachments come back with their bytes
            return [replace(m, blocks=store_blobs.resolved(self._conn, m.blocks))
                    for m in (StoredMessage(*row) for row in rows)]

    def reply_schemas(self, cid: int) -> dict[int, str]:
        """The replies of `cid` that were asked for JSON (--schema): message id -> the schema, as JSON."""
        return dict(self._query("SELECT id, schema FROM messages WHERE conversation_id = ? AND schema IS NOT NULL",
                                (cid,)))

    def history_for_model(self, cid: int) -> list[tuple[str, str]]:
        """The conversation's text as (role, content) pairs; see `history_messages`."""
        return [(m.role, m.content) for m in self._history(cid)]

    def _history(self, cid: int) -> list[Message]:
        """The conversation to send to a model, as the chat that saved it sends it.

        A question cancelled before any reply is left out, with the empty
        reply row its turn left. A reply followed by another reply (a /retry)
        is replaced by it, as in the chat; then messages with nothing in them (e.g. a reply interrupted
        before its first token) are left out, since APIs reject them.
        Consecutive user messages that leaves behind are merged into one,
        joined by a blank line, so roles alternate and no text is lost.
        Interrupted or failed replies with text are kept exactly as shown.
        """
        turns: list[Message] = []
        cancelled = False  # inside a question cancelled before any reply
        for msg in self.messages(cid):
            if msg.role == "user":
                cancelled = msg.status == CANCELLED_QUESTION
            if cancelled:
                continue
            if turns and msg.role == "assistant" and turns[-1].role == "assistant":
                turns[-1] = msg.message
            else:
                turns.append(msg.message)
        merged: list[Message] = []
        for message in (m for m in turns if m.content.strip() or m.blocks):
            if merged and merged[-1].role == message.role:
                merged[-1] = joined(merged[-1], message)
            else:
                merged.append(message)
        return merged

    def history_messages(self, cid: int) -> list[Message]:
        """The conversation as messages (blocks and all) to send to a model; see
        `history_for_model`. A tool call with no result (chinwag stopped while it
        ran) gets one saying so: it is never run again on its own."""
        return answered(self._history(cid))

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

    def tool_calls(self, cid: int) -> dict[str, str]:
        """The status of each tool call saved in conversation `cid`, by call id."""
        rows = self._query("SELECT t.call_id, t.status FROM tool_calls t JOIN messages m ON m.id = t.message_id"
                           " WHERE m.conversation_id = ? ORDER BY t.id", (cid,))
        return {call_id: status for call_id, status in rows}

    def cancelled_question(self, cid: int) -> tuple[int, Message] | None:
        """The conversation's last question, with its id, if it was cancelled before any reply."""
        rows = self._query(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND role = 'user'"
                           " ORDER BY id DESC LIMIT 1", (cid,))
        if not rows or StoredMessage(*rows[0]).status != CANCELLED_QUESTION:
            return None
        with self._translated():  # its attachments come back with their bytes
            last = StoredMessage(*rows[0])
            last = replace(last, blocks=store_blobs.resolved(self._conn, last.blocks))
        return last.id, last.message

    def latest_system(self, cid: int) -> str | None:
        """The system prompt the conversation's latest question went with."""
        rows = self._query("SELECT system FROM messages WHERE conversation_id = ? AND system IS NOT NULL"
                           " ORDER BY id DESC LIMIT 1", (cid,))
        if rows:
            return str(rows[0][0])
        summary = self.conversation(cid)
        return summary.system if summary is not None else None

    def latest_conversation_id(self) -> int | None:
        rows = self._query("SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1")
        return int(rows[0][0]) if rows else None

    def conversation(self, cid: int) -> ConversationSummary | None:
        rows = self._query(SUMMARY_SELECT + " WHERE c.id = ?", (cid,))
        return self._titled([summary_of(rows[0])])[0] if rows else None

    def list_conversations(self, limit: int = 20) -> list[ConversationSummary]:
        """The most recently active conversations first."""
        rows = self._query(SUMMARY_SELECT + " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                           (limit,))
        return self._titled([summary_of(row) for row in rows])

    def _titled(self, summaries: list[ConversationSummary]) -> list[ConversationSummary]:
        """`summaries` with the titles the user gave (`rename_conversation`), where there are some."""
        if not summaries:
            return summaries
        ids = [s.id for s in summaries]
        named = dict(self._query("SELECT id, title FROM conversations WHERE title IS NOT NULL"
                                 f" AND id IN ({', '.join('?' * len(ids))})", ids))
        return [replace(s, title=title_of(named[s.id])) if s.id in named else s for s in summaries]

    def search(self, text: str, limit: int = 20, seconds: float = SEARCH_SECONDS) -> list[SearchHit]:
        """Messages containing every word of `text` (stemmed, case- and accent-
        insensitive), newest first. Replies still streaming are not indexed.

        At most MAX_SEARCH_WORDS words, and stopped after `seconds` (SQLite's
        progress handler), each a UsageError saying what to change."""
        if (words := len(text.split())) > MAX_SEARCH_WORDS:
            raise UsageError(f"a search can have at most {MAX_SEARCH_WORDS} words; this one has {words:,}.")
        if not (query := fts_query(text)):
            return []
        deadline = time.monotonic() + seconds
        stopped = False

        def too_long() -> bool:
            nonlocal stopped
            stopped = time.monotonic() > deadline
            return stopped

        self._conn.set_progress_handler(too_long, 1000)  # called every 1,000 SQLite VM steps
        try:
            rows = self._query(
                "SELECT m.conversation_id, m.id, m.role,"
                " snippet(messages_fts, 0, ?, ?, '…', 12), m.created_at"
                " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
                " WHERE messages_fts MATCH ? ORDER BY messages_fts.rowid DESC LIMIT ?",
                (MARK_START, MARK_END, query, limit))
        except StorageError:
            if stopped:
                raise UsageError(f"the search took over {seconds:g} s and was stopped; "
                                 "search for fewer or rarer words.") from None
            raise
        finally:
            self._conn.set_progress_handler(None, 0)
        return [SearchHit(*row) for row in rows]

    def _insert_message(self, cid: int, role: str, content: str, status: str,
                        model: str | None, blocks: str | None, blobs: Sequence[Blob], system: str | None) -> int:
        now = time.time()
        with self._transaction() as conn:
            found = conn.execute(
                "UPDATE conversations SET updated_at = ?, model = coalesce(?, model) WHERE id = ?",
                (now, model if role == "assistant" else None, cid))
            if found.rowcount == 0:
                raise ConversationDeleted(f"conversation {cid} does not exist (was it deleted?)")
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, model,"
                " writer_pid, created_at, updated_at, blocks, system) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (cid, role, content, status, model, os.getpid(), now, now, blocks, system))
            store_blobs.save(conn, int(cur.lastrowid or 0), blobs)
        return int(cur.lastrowid or 0)

    def _migrate(self, read_only: bool = False) -> None:
        """Apply the migrations not yet recorded, in order, in one transaction."""
        version = self._query("PRAGMA user_version")[0][0]
        if version == len(MIGRATIONS) or (read_only and version > len(MIGRATIONS)):
            return
        if read_only:
            raise StorageError(f"the history database {self.path} needs upgrading, and it is"
                               " read-only here", "read-only")
        with self._transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS migrations"
                         " (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            done = {name for (name,) in conn.execute("SELECT name FROM migrations")}
            if done - {name for name, _ in MIGRATIONS}:
                raise ConfigError(f"the history database {self.path} was written by a newer"
                                  " chinwag; upgrade chinwag or run with --no-save")
            for name, statements in MIGRATIONS:
                if name not in done:
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    def _recover_abandoned_replies(self) -> None:
        """Best effort: a database locked or full now is marked at a later open.
        A tool call left running by a process that is gone is interrupted too:
        it is never run again on its own."""
        rows = self._query("SELECT id, writer_pid FROM messages WHERE status = 'streaming'")
        abandoned = [(time.time(), rid) for rid, pid in rows if not writer_alive(pid)]
        calls = self._query("SELECT id, writer_pid FROM tool_calls WHERE status = 'running'")
        stopped = [(time.time(), cid) for cid, pid in calls if not writer_alive(pid)]
        if abandoned or stopped:
            try:
                with self._transaction() as conn:
                    conn.executemany("UPDATE messages SET status = 'interrupted', updated_at = ?"
                                     " WHERE id = ? AND status = 'streaming'", abandoned)
                    conn.executemany("UPDATE tool_calls SET status = 'interrupted', ended_at = ?"
                                     " WHERE id = ? AND status = 'running'", stopped)
            except StorageError as exc:
                if not exc.transient:
                    raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._translated():
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so a busy database
        is waited for rather than failing half-way."""
        with self._translated():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # our own misuse (e.g. a closed store): a bug, not the user's
        except sqlite3.Error as exc:
            raise storage_error(self.path, exc) from exc


def _set_up(conn: sqlite3.Connection, busy_timeout: float, read_only: bool) -> None:
    """WAL and friends. Switching a new file to WAL needs it alone, and SQLite
    answers "locked" at once rather than waiting: two chinwags started together
    on a new database (the two-writer test caught it) retry for a while."""
    if read_only:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # is it a database at all?
        return
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
