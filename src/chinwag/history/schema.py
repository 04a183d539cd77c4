"""The history database's schema: ordered migrations, each recorded by name.

store.py applies the ones not yet recorded, in order, in one transaction.
Never edit a migration that has shipped; add the next one. The records read
back from those tables (StoredMessage, ConversationSummary, SearchHit) and the
SQL and text helpers they are built with (titles, the FTS query) live here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from chinwag.records import Message
from chinwag.history.blocks import message_of

if TYPE_CHECKING:  # sqlite3 is not loaded before the prompt is drawn
    import sqlite3

MARK_START, MARK_END = "\ue000", "\ue001"  # around matches in SearchHit.snippet (private use)
TITLE_WIDTH = 60
# A user message's status when it was cancelled before any reply: it stays in
# the history, marked, and is never sent to a model again on its own.
CANCELLED_QUESTION = "interrupted"


def _link_lines(conn: sqlite3.Connection) -> None:
    """m007's data step, imported only when a database is migrated (not before the prompt)."""
    from chinwag.history.tree_migration import link_lines

    link_lines(conn)


# A step is an SQL statement, or a function given the connection (inside the migration's transaction).
Step = str | Callable[["sqlite3.Connection"], None]

MIGRATIONS: tuple[tuple[str, tuple[Step, ...]], ...] = (
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
    # Turns made of blocks. A message's `blocks` is its content blocks as JSON;
    # NULL means the message is its text alone (one text block), which is every
    # message saved before this migration: none is rewritten, none stored twice.
    ("m003_content_blocks", (
        "ALTER TABLE messages ADD COLUMN blocks TEXT",
        """CREATE TABLE tool_calls (id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            call_id TEXT NOT NULL, name TEXT NOT NULL, input TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'error', 'denied', 'interrupted')),
            result TEXT, writer_pid INTEGER, started_at REAL NOT NULL, ended_at REAL)""",
        "CREATE INDEX tool_calls_by_message ON tool_calls(message_id)",
        "CREATE INDEX tool_calls_running ON tool_calls(status) WHERE status = 'running'",
    )),
    # Attachments, stored once by content hash however many messages use them:
    # a message's `blocks` names each by sha256 (no base64 in the JSON), and
    # `message_blobs` says which messages use which, so deleting a conversation
    # can delete the blobs nothing else uses (blobs.py).
    ("m004_attachment_blobs", (
        """CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, media_type TEXT NOT NULL,
            size INTEGER NOT NULL, data BLOB NOT NULL)""",
        """CREATE TABLE message_blobs (
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            sha256 TEXT NOT NULL REFERENCES blobs(sha256), PRIMARY KEY (message_id, sha256))""",
        "CREATE INDEX message_blobs_by_blob ON message_blobs(sha256)",
    )),
    # The system prompt each question was sent with, where it changed (/system):
    # a user message's `system` is set when it differs from the one before it
    # in its conversation (the first: conversations.system); NULL means
    # unchanged, which is every message saved before this migration.
    ("m005_system_prompt_per_turn", (
        "ALTER TABLE messages ADD COLUMN system TEXT",
    )),
    # A title the user gave (the page's Rename); NULL: titled from the first question.
    ("m006_conversation_titles", (
        "ALTER TABLE conversations ADD COLUMN title TEXT",
    )),
    # Conversations as trees: a message's parent (NULL: a root) and the
    # conversation's current leaf (NULL: nothing on its path yet). The lines
    # saved before are linked as the chat sent them (tree_migration.py); no
    # message's content is rewritten.
    ("m007_conversation_trees", (
        "ALTER TABLE messages ADD COLUMN parent_id INTEGER",
        "ALTER TABLE conversations ADD COLUMN leaf_id INTEGER",
        "CREATE INDEX messages_by_parent ON messages(parent_id)",
        _link_lines,
    )),
    # The JSON Schema a reply was asked to match (--schema), as JSON; NULL: a free reply.
    ("m008_reply_schema", (
        "ALTER TABLE messages ADD COLUMN schema TEXT",
    )),
    # What a reply cost (costs.py). A reply's `input_tokens` counts all its
    # input, cache reads and writes included (those two say how much of it);
    # `reasoning_tokens` is the part of `output_tokens` the provider reported
    # as reasoning. `cost` is in US dollars, NULL where the price is unknown;
    # `price_source` names the price: "genai-prices X.Y.Z", "config" or
    # "local" (free). `provider` served the reply (NULL: saved before this).
    ("m009_reply_costs", (
        "ALTER TABLE messages ADD COLUMN provider TEXT",
        "ALTER TABLE messages ADD COLUMN cache_read_tokens INTEGER",
        "ALTER TABLE messages ADD COLUMN cache_write_tokens INTEGER",
        "ALTER TABLE messages ADD COLUMN reasoning_tokens INTEGER",
        "ALTER TABLE messages ADD COLUMN cost REAL",
        "ALTER TABLE messages ADD COLUMN price_source TEXT",
        # `chinwag usage` reads replies by time
        "CREATE INDEX messages_replies_by_time ON messages(created_at) WHERE role = 'assistant'",
    )),
)


MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, status, model, input_tokens,"
    " output_tokens, ttft, duration, stop_reason, created_at, updated_at, blocks, system, parent_id"
)
SUMMARY_SELECT = """
    SELECT c.id, c.created_at, c.updated_at, c.model, c.system,
        (SELECT count(*) FROM messages m  -- a message of tool results is not a turn, nor a cancelled question
            WHERE m.conversation_id = c.id AND m.role = 'user' AND (m.blocks IS NULL OR m.content != '')
            AND m.status = 'complete'),
        (SELECT substr(m.content, 1, 1000) FROM messages m
            WHERE m.conversation_id = c.id AND m.role = 'user' ORDER BY m.id LIMIT 1),
        (SELECT substr(m.content, -4000) FROM messages m  -- the user's words follow any attached files
            WHERE m.conversation_id = c.id AND m.role = 'user' ORDER BY m.id LIMIT 1)
    FROM conversations c"""
_FILE_HEADER = "# file: "  # how attach/ puts a text file before the user's words, fenced
_FENCE_END = re.compile(r"\n`{3,}\n\n")


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: int
    role: str  # "user" | "assistant"
    content: str  # exactly as received, never sanitised
    status: str  # one of STATUSES; user messages are "complete", or CANCELLED_QUESTION
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    ttft: float | None  # seconds from request to first token
    duration: float | None  # seconds from request to the end of the reply
    stop_reason: str | None
    created_at: float
    updated_at: float
    blocks: str | None = None  # the content blocks as JSON; None: the message is its text alone
    system: str | None = None  # a question's system prompt, where it changed from the one before
    parent_id: int | None = None  # the message it follows in its branch (None: a root)

    @property
    def message(self) -> Message:
        """As a message of the conversation (role and blocks)."""
        return message_of(self.role, self.content, self.blocks)


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    created_at: float
    updated_at: float  # time of the last message; lists are ordered by it
    model: str | None  # the model of the latest reply
    system: str | None
    turns: int  # number of user messages
    title: str  # first line of the first user message's words, at most TITLE_WIDTH (title_of)


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


def title_of(text: str | None, tail: str | None = None) -> str:
    """First non-blank line, whitespace collapsed, cut to TITLE_WIDTH with '…'.

    A message that starts with attached text files (`# file: NAME` and a
    fence) is titled from the user's words after them, found in its `tail`
    (its end), or, with no words, from the first file's name."""
    if text and text.startswith(_FILE_HEADER):
        name = text[len(_FILE_HEADER):].partition("\n")[0]
        ends = list(_FENCE_END.finditer(tail if tail is not None else text))
        words = (tail if tail is not None else text)[ends[-1].end():] if ends else ""
        text = words if words.strip() else name
    line = next((ln for ln in (text or "").splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= TITLE_WIDTH else line[: TITLE_WIDTH - 1].rstrip() + "…"


def fts_query(text: str) -> str:
    """Each whitespace-separated word of `text` as a quoted FTS5 phrase (all
    must match), so quotes, -, *, :, parentheses and NEAR are plain text."""
    words = text.replace("\x00", " ").split()  # NUL would end the query early
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def summary_of(row: Sequence[Any]) -> ConversationSummary:
    cid, created, updated, model, system, turns, first, tail = row
    return ConversationSummary(cid, created, updated, model, system, turns, title_of(first, tail))
