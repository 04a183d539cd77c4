"""Turns made of blocks in the history: the migration from text-only
databases, blocks saved and read back, tool calls saved before they run and
never left looking as if they finished."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from chinwag.records import Message, Text, Thinking, ToolCall, ToolResult
from chinwag.history.store import Store
from chinwag.history.blocks import INTERRUPTED, blocks_json
from chinwag.history.schema import MIGRATIONS
from tests.old_history import database_as_of


def _old_database(path: Path) -> None:
    """A history database as the previous main wrote it: migrations m001 and m002 only."""
    with database_as_of(path, 2) as conn:
        now = time.time()
        conn.execute("INSERT INTO conversations VALUES (1, ?, ?, 'claude-x', 'Be brief.')", (now, now))
        for role, text in (("user", "What is a kangaroo?"), ("assistant", "A marsupial.")):
            conn.execute("INSERT INTO messages (conversation_id, role, content, status, model, writer_pid,"
                         " created_at, updated_at) VALUES (1, ?, ?, 'complete', 'claude-x', 1, ?, ?)",
                         (role, text, now, now))


def test_the_migration_reads_every_old_message_as_one_text_block(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    _old_database(db)
    store = Store.open(db)
    try:
        messages = store.messages(1)
        assert [m.message.parts for m in messages] == [(Text("What is a kangaroo?"),), (Text("A marsupial."),)]
        assert store.history_messages(1) == [Message("user", "What is a kangaroo?"), Message("assistant", "A marsupial.")]
        assert [h.message_id for h in store.search("kangaroo")] == [messages[0].id]  # the index survived
    finally:
        store.close()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        assert conn.execute("SELECT count(*) FROM messages WHERE blocks IS NULL").fetchone() == (2,)


def test_blocks_are_saved_and_read_back_exactly(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "history.db")
    try:
        cid = store.start_conversation("claude-x")
        store.add_message(cid, "user", "Weather in São Paulo?")
        reply = (Thinking("Need the tool.", "sig"), Text("Checking."), ToolCall("t1", "get_weather", {"city": "São Paulo"}))
        rid = store.begin_reply(cid)
        store.update_reply(rid, "Checking.", "complete", stop_reason="tool_use", blocks=blocks_json(reply))
        results = (ToolResult("t1", "31 °C", "ok"),)
        store.add_message(cid, "user", "", blocks=blocks_json(results))
        history = store.history_messages(cid)
        assert history[1] == Message("assistant", "Checking.", reply)
        assert history[2] == Message("user", "", results)
        assert store.conversation(cid).turns == 1  # tool results are not a turn
    finally:
        store.close()


def test_a_call_left_running_by_a_dead_process_is_interrupted_and_answered(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    store = Store.open(db)
    cid = store.start_conversation("claude-x")
    store.add_message(cid, "user", "Delete the build folder")
    rid = store.begin_reply(cid)
    call = ToolCall("t9", "shell", {"command": "rm -rf build"})
    store.update_reply(rid, "", "complete", stop_reason="tool_use", blocks=blocks_json((call,)))
    row = store.start_tool_call(rid, "t9", "shell", json.dumps(dict(call.input)))
    store.close()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with closing(sqlite3.connect(db)) as conn:  # as if another process had been running it and died
        conn.execute("UPDATE tool_calls SET writer_pid = ? WHERE id = ?", (int(dead.stdout), row))
        conn.commit()
    store = Store.open(db)
    try:
        assert store.tool_calls(cid) == {"t9": "interrupted"}
        history = store.history_messages(cid)
        assert history[-1] == Message("user", "", (ToolResult("t9", INTERRUPTED, "interrupted"),))
    finally:
        store.close()


def test_our_own_running_call_is_not_taken_for_abandoned(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "history.db")
    try:
        cid = store.start_conversation()
        store.add_message(cid, "user", "x")
        rid = store.begin_reply(cid)
        row = store.start_tool_call(rid, "t1", "shell", "{}")
        assert store.tool_calls(cid) == {"t1": "running"}
        store.end_tool_call(row, "ok", "done")
        assert store.tool_calls(cid) == {"t1": "ok"} and os.getpid()
    finally:
        store.close()
