"""Attachments in the history: stored once by content hash however many
messages use them, read back byte for byte, deleted with the last
conversation that uses them, and the m004 migration on a database the
previous main made."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from chinwag.history.recorder import Recorder
from chinwag.records import Document, Image, Message, Text
from chinwag.history.store import Store
from chinwag.history.blocks import blocks_and_blobs
from chinwag.history.schema import MIGRATIONS
from tests.old_history import database_as_of

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PDF = b"%PDF-1.4\n" + b"x" * 5000


def _save(store: Store, cid: int, *blocks: Image | Document | Text) -> int:
    message = Message.of("user", blocks)
    stored, blobs = blocks_and_blobs(message.blocks)
    return store.add_message(cid, "user", message.content, blocks=stored, blobs=blobs)


def _count(db: Path, table: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_an_attachment_is_stored_once_and_the_blocks_name_it_by_hash(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with closing(Store.open(db)) as store:
        one, two = store.start_conversation("claude-x"), store.start_conversation("claude-x")
        for cid in (one, one, two):
            _save(store, cid, Image("image/png", PNG, "a.png"), Text("what is this?"))
    assert _count(db, "blobs") == 1
    with closing(sqlite3.connect(db)) as conn:
        blocks = [json.loads(b) for (b,) in conn.execute("SELECT blocks FROM messages")]
    assert all(b[0]["sha256"] == hashlib.sha256(PNG).hexdigest() and "data" not in b[0] for b in blocks)


def test_attachments_come_back_byte_for_byte_for_resume(tmp_path: Path) -> None:
    with closing(Store.open(tmp_path / "history.db")) as store:
        cid = store.start_conversation("claude-x")
        _save(store, cid, Image("image/png", PNG, "a.png"), Document("application/pdf", PDF, "r.pdf"), Text("and?"))
        history = store.history_messages(cid)
    assert history == [Message("user", "and?", (Image("image/png", PNG, "a.png"),
                                                  Document("application/pdf", PDF, "r.pdf"), Text("and?")))]


def test_deleting_a_conversation_keeps_blobs_others_use_and_deletes_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with closing(Store.open(db)) as store:
        one, two = store.start_conversation(), store.start_conversation()
        _save(store, one, Image("image/png", PNG, "shared.png"), Document("application/pdf", PDF, "mine.pdf"))
        _save(store, two, Image("image/png", PNG, "shared.png"))
        store.delete_conversation(one)
        assert _count(db, "blobs") == 1  # the PDF only `one` used is gone
        assert store.history_messages(two)[0].blocks == (Image("image/png", PNG, "shared.png"),)
        store.delete_conversation(two)
    assert _count(db, "blobs") == 0 and _count(db, "message_blobs") == 0


def test_the_recorder_saves_attachments_before_the_request_leaves(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    recorder = Recorder(db)
    recorder.open()
    try:
        message = Message.of("user", (Image("image/png", PNG, "a.png"), Text("hi")))
        recorder.save_user(message.content, "claude-x", None, message.blocks)
        with closing(Store.open(db)) as store:  # another connection sees it already
            assert store.history_messages(store.latest_conversation_id() or 0) == [message]
    finally:
        recorder.close()


def _previous_main_database(path: Path) -> None:
    """A history database as the previous main wrote it: m001-m003, a block message in it."""
    with database_as_of(path, 3) as conn:
        now = time.time()
        conn.execute("INSERT INTO conversations VALUES (1, ?, ?, 'claude-x', NULL)", (now, now))
        conn.execute("INSERT INTO messages (conversation_id, role, content, status, writer_pid, created_at,"
                     " updated_at, blocks) VALUES (1, 'user', 'Hi', 'complete', 1, ?, ?, NULL)", (now, now))


def test_m004_migrates_a_database_made_by_the_previous_main(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    _previous_main_database(db)
    with closing(Store.open(db)) as store:
        assert store.history_messages(1) == [Message("user", "Hi")]
        _save(store, 1, Image("image/png", PNG, "a.png"), Text("and this?"))
        assert store.messages(1)[-1].message.blocks[0] == Image("image/png", PNG, "a.png")
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        assert ("m004_attachment_blobs",) in conn.execute("SELECT name FROM migrations").fetchall()
