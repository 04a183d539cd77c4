"""The conversation store: one SQLite file (stdlib sqlite3) in WAL mode.

Tables (built by the ordered `_MIGRATIONS`, whose names are recorded in table
`migrations` and count in `PRAGMA user_version`): `conversations`, `messages`,
and `messages_fts`, an FTS5 index over message text kept in sync by triggers
for rows not "streaming" (so progressive saves never touch the index). Times
are Unix seconds. Text is stored as received; cleaning it is the display's job.

Every write is one short transaction; WAL with `synchronous=NORMAL` survives a
killed process. Two processes may write at once (writers wait for the lock up
to the busy timeout: `BUSY_TIMEOUT_S` for `history` commands, less for the
chat, see recorder.py). A reply left "streaming" by a process that is gone is
marked "interrupted" on the next open. A database that cannot be used raises
`StorageError` (a `ConfigError`) naming it and the reason (store_check.py);
it is never rewritten or removed. A file this module created and could not
make into a database (disk full) is removed again: no debris.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chinwag.errors import ConfigError, UsageError
from chinwag.store_check import LOCKED, StorageError, create_private, remove_created, storage_error, writable
from chinwag.writers import writer_alive

ROLES = ("user", "assistant")
STATUSES = ("streaming", "complete", "interrupted", "error")
MARK_START, MARK_END = "\ue000", "\ue001"  # around matches in SearchHit.snippet (private use)
TITLE_WIDTH = 60
BUSY_TIMEOUT_S = 10.0

_MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("m001_conversations_and_messages", (
        """CREATE TABLE conversations (id INTEGER PRIMARY KEY, created_at REAL NOT NULL,
            updated_at REAL NOT NULL, model TEXT, system TEXT)""",
        """CREATE TABLE messages (id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('streaming', 'complete', 'interrupted', 'error')),
            model TEXT, input_tokens INTEGER, output_tokens INTEGER, ttft REAL,
            duration REAL, stop_reason TEXT, writer_pid INTEGER,
            created_at REAL NOT NULL, updated_at REAL NOT NULL)""",
        "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
        "CREATE INDEX conversations_by_recency ON conversations(updated_at, id)",
        "CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming'",
    )),
    ("m002_full_text_search", (
        """CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages',
            content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')""",
        """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
            WHEN new.status != 'streaming' BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END""",
        """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
            WHEN old.status != 'streaming' BEGIN INSERT INTO messages_fts(messages_fts,
            rowid, content) VALUES ('delete', old.id, old.content); END""",
        # One trigger, two ordered statements: unindex the old text, then index
        # the new. Streaming-to-streaming saves skip it entirely.
        """CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages
            WHEN old.status != 'streaming' OR new.status != 'streaming' BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                SELECT 'delete', old.id, old.content WHERE old.status != 'streaming';
            INSERT INTO messages_fts(rowid, content)
                SELECT new.id, new.content WHERE new.status != 'streaming'; END""",
    )),
)

_MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, status, model, input_tokens,"
    " output_tokens, ttft, duration, stop_reason, created_at, updated_at"
)
_SUMMARY_SELECT = """
    SELECT c.id, c.created_at, c.updated_at, c.model, c.system,
        (SELECT count(*) FROM messages m
            WHERE m.conversation_id = c.id AND m.role = 'user'),
        (SELECT substr(m.content, 1, 1000) FROM messages m
            WHERE m.conversation_id = c.id AND m.role = 'user' ORDER BY m.id LIMIT 1)
    FROM conversations c"""


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: int
    role: str  # "user" | "assistant"
    content: str  # exactly as received, never sanitised
    status: str  # one of STATUSES; user messages are "complete"
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    ttft: float | None  # seconds from request to first token
    duration: float | None  # seconds from request to the end of the reply
    stop_reason: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    created_at: float
    updated_at: float  # time of the last message; lists are ordered by it
    model: str | None  # the model of the latest reply
    system: str | None
    turns: int  # number of user messages
    title: str  # first line of the first user message, at most TITLE_WIDTH


@dataclass(frozen=True)
class SearchHit:
    conversation_id: int
    message_id: int
    role: str
    snippet: str  # raw text with MARK_START / MARK_END around each match
    created_at: float

    def parts(self) -> list[tuple[str, bool]]:
        """The snippet as (text, is_match) pieces, markers removed."""
        first, *rest = self.snippet.split(MARK_START)
        pieces = [(first, False)]
        for chunk in rest:
            match, _, tail = chunk.partition(MARK_END)
            pieces += [(match, True), (tail, False)]
        return [(text, is_match) for text, is_match in pieces if text]


def title_of(text: str | None) -> str:
    """First non-blank line, whitespace collapsed, cut to TITLE_WIDTH with '…'."""
    line = next((ln for ln in (text or "").splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= TITLE_WIDTH else line[: TITLE_WIDTH - 1].rstrip() + "…"


def fts_query(text: str) -> str:
    """Each whitespace-separated word of `text` as a quoted FTS5 phrase (all
    must match), so quotes, -, *, :, parentheses and NEAR are plain text."""
    words = text.replace("\x00", " ").split()  # NUL would end the query early
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


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

    def add_message(self, cid: int, role: str, content: str, model: str | None = None) -> int:
        """Save a finished message (call before sending the request)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        return self._insert_message(cid, role, content, "complete", model)

    def begin_reply(self, cid: int, model: str | None = None) -> int:
        """An empty "streaming" assistant row; `model` becomes the conversation's."""
        return self._insert_message(cid, "assistant", "", "streaming", model)

    def update_reply(
        self, rid: int, text: str, status: str = "streaming", *,
        input_tokens: int | None = None, output_tokens: int | None = None,
        ttft: float | None = None, duration: float | None = None, stop_reason: str | None = None,
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
        figures = (input_tokens, output_tokens, ttft, duration, stop_reason)
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE messages SET content = ?, status = ?, updated_at = ?,"
                " input_tokens = coalesce(?, input_tokens), output_tokens ="
                " coalesce(?, output_tokens), ttft = coalesce(?, ttft), duration ="
                " coalesce(?, duration), stop_reason = coalesce(?, stop_reason) WHERE id = ?",
                (text, status, now, *figures, rid))
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id ="
                " (SELECT conversation_id FROM messages WHERE id = ?)", (now, rid))
        return cur.rowcount > 0

    def set_model(self, cid: int, model: str) -> None:
        with self._translated():
            self._conn.execute("UPDATE conversations SET model = ? WHERE id = ?", (model, cid))

    def delete_conversation(self, cid: int) -> bool:
        """Delete a conversation and its messages. False if there was none."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM messages WHERE conversation_id = ?", (cid,))
            cur = conn.execute("DELETE FROM conversations WHERE id = ?", (cid,))
        return cur.rowcount > 0

    def messages(self, cid: int) -> list[StoredMessage]:
        rows = self._query(f"SELECT {_MESSAGE_COLUMNS} FROM messages"
                           " WHERE conversation_id = ? ORDER BY id", (cid,))
        return [StoredMessage(*row) for row in rows]

    def history_for_model(self, cid: int) -> list[tuple[str, str]]:
        """The conversation as (role, content) pairs to send to a model, as the
        chat that saved it sends it.

        A reply followed by another reply (a /retry) is replaced by it, as in
        the chat; then messages with blank content (e.g. a reply interrupted
        before its first token) are left out, since APIs reject them.
        Consecutive user messages that leaves behind are merged into one,
        joined by a blank line, so roles alternate and no text is lost.
        Interrupted or failed replies with text are kept exactly as shown.
        """
        turns: list[tuple[str, str]] = []
        for msg in self.messages(cid):
            if turns and msg.role == "assistant" and turns[-1][0] == "assistant":
                turns[-1] = (msg.role, msg.content)
            else:
                turns.append((msg.role, msg.content))
        merged: list[tuple[str, str]] = []
        for role, content in (turn for turn in turns if turn[1].strip()):
            if merged and merged[-1][0] == role:
                merged[-1] = (role, merged[-1][1] + "\n\n" + content)
            else:
                merged.append((role, content))
        return merged

    def latest_conversation_id(self) -> int | None:
        rows = self._query("SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1")
        return int(rows[0][0]) if rows else None

    def conversation(self, cid: int) -> ConversationSummary | None:
        rows = self._query(_SUMMARY_SELECT + " WHERE c.id = ?", (cid,))
        return _summary(rows[0]) if rows else None

    def list_conversations(self, limit: int = 20) -> list[ConversationSummary]:
        """The most recently active conversations first."""
        rows = self._query(_SUMMARY_SELECT + " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                           (limit,))
        return [_summary(row) for row in rows]

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Messages containing every word of `text` (stemmed, case- and accent-
        insensitive), newest first. Replies still streaming are not indexed."""
        if not (query := fts_query(text)):
            return []
        rows = self._query(
            "SELECT m.conversation_id, m.id, m.role,"
            " snippet(messages_fts, 0, ?, ?, '…', 12), m.created_at"
            " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            " WHERE messages_fts MATCH ? ORDER BY messages_fts.rowid DESC LIMIT ?",
            (MARK_START, MARK_END, query, limit))
        return [SearchHit(*row) for row in rows]

    def _insert_message(self, cid: int, role: str, content: str, status: str,
                        model: str | None) -> int:
        now = time.time()
        with self._transaction() as conn:
            found = conn.execute(
                "UPDATE conversations SET updated_at = ?, model = coalesce(?, model) WHERE id = ?",
                (now, model if role == "assistant" else None, cid))
            if found.rowcount == 0:
                raise UsageError(f"conversation {cid} does not exist (was it deleted?)")
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, model,"
                " writer_pid, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (cid, role, content, status, model, os.getpid(), now, now))
        return int(cur.lastrowid or 0)

    def _migrate(self, read_only: bool = False) -> None:
        """Apply the migrations not yet recorded, in order, in one transaction."""
        version = self._query("PRAGMA user_version")[0][0]
        if version == len(_MIGRATIONS) or (read_only and version > len(_MIGRATIONS)):
            return
        if read_only:
            raise StorageError(f"the history database {self.path} needs upgrading, and it is"
                               " read-only here", "read-only")
        with self._transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS migrations"
                         " (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            done = {name for (name,) in conn.execute("SELECT name FROM migrations")}
            if done - {name for name, _ in _MIGRATIONS}:
                raise ConfigError(f"the history database {self.path} was written by a newer"
                                  " chinwag; upgrade chinwag or run with --no-save")
            for name, statements in _MIGRATIONS:
                if name not in done:
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            conn.execute(f"PRAGMA user_version = {len(_MIGRATIONS)}")

    def _recover_abandoned_replies(self) -> None:
        """Best effort: a database locked or full now is marked at a later open."""
        rows = self._query("SELECT id, writer_pid FROM messages WHERE status = 'streaming'")
        abandoned = [(time.time(), rid) for rid, pid in rows if not writer_alive(pid)]
        if abandoned:
            try:
                with self._transaction() as conn:
                    conn.executemany("UPDATE messages SET status = 'interrupted', updated_at = ?"
                                     " WHERE id = ? AND status = 'streaming'", abandoned)
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


def _summary(row: Sequence[Any]) -> ConversationSummary:
    cid, created, updated, model, system, turns, first = row
    return ConversationSummary(cid, created, updated, model, system, turns, title_of(first))
