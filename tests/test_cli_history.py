"""Saved conversations, end to end: what the chat writes, and what survives.

The store's own behaviour is in test_store.py; these tests run the real
`chinwag` and check the history a user gets back: kill -9 mid-reply keeps
what was on screen, -c / --resume send the model what the user saw,
--no-save writes nothing, a damaged database is named and never touched
(the chat goes on without saving; test_storage_faults.py has every fault).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from tests.cli_helpers import anthropic_env, finish, run_chinwag, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


def test_one_shot_conversation_is_saved_and_shown(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Paris ", "is the capital."]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["Capital of France?"], env).returncode == 0
    listing = run_chinwag(["history", "list"], env)
    assert "Capital of France?" in listing.stdout and "claude-sonnet-4-20250514" in listing.stdout
    shown = run_chinwag(["history", "show", "last"], env)
    assert "Paris is the capital." in shown.stdout
    assert "s to first token" in shown.stdout


def _saved_reply_contains(db: Path, text: str) -> bool:
    try:
        with closing(sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT content FROM messages WHERE role = 'assistant'").fetchall()
    except sqlite3.OperationalError:  # not created yet, or busy
        return False
    return any(text in (content or "") for content, in rows)


def test_kill_9_mid_reply_keeps_what_was_on_screen(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    reply = Reply(chunks=["Shown before ", "the crash", " never shown"], hold_after=2)
    scripted_server.enqueue(reply)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = spawn_chinwag([], env)
    child.expect("You: ")
    child.sendline("Tell me something")
    child.expect("Shown before the crash")
    deadline = time.monotonic() + 20
    while not _saved_reply_contains(tmp_path / "history.db", "Shown before the crash"):  # the 250 ms save interval
        assert time.monotonic() < deadline, "the reply so far was never saved"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    finish(child)
    reply.release.set()
    shown = run_chinwag(["history", "show", "last"], env)
    assert "Shown before the crash" in shown.stdout
    assert "never shown" not in shown.stdout
    assert "interrupted" in shown.stdout


def test_continue_sends_the_model_the_conversation_as_it_was_seen(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Partly ", "said", " lost"], drop_after=2), Reply(chunks=["Sure."]),
                            Reply(chunks=["Fine."]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["First question"], env).returncode == 1  # dropped mid-reply
    assert run_chinwag(["-c", "Second question"], env).returncode == 0
    assert scripted_server.requests[1].json["messages"] == [
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "Partly said"},
        {"role": "user", "content": "Second question"},
    ]
    assert run_chinwag(["--resume", "1", "Third"], env).returncode == 0
    assert [m["content"] for m in scripted_server.requests[2].json["messages"]] == [
        "First question", "Partly said", "Second question", "Sure.", "Third"]


def test_resume_of_a_missing_conversation_is_a_usage_error(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    result = run_chinwag(["--resume", "42", "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 2
    assert "no conversation 42" in result.stderr
    assert scripted_server.requests == []


def test_no_save_writes_nothing(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path / "home", scripted_server.base_url)
    assert run_chinwag(["--no-save", "private"], env).returncode == 0
    assert not (tmp_path / "home").exists()


def test_save_false_in_config_writes_no_history(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("save = false\n")
    assert run_chinwag(["private"], anthropic_env(tmp_path, scripted_server.base_url)).returncode == 0
    assert not (tmp_path / "history.db").exists()


def test_damaged_database_is_named_and_left_untouched(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """The chat still answers (exit 0) and says once, on stderr, that it is not saving."""
    damaged = b"this is not a database" * 100
    (tmp_path / "history.db").write_bytes(damaged)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    result = run_chinwag(["hi"], env)
    assert (result.returncode, result.stdout) == (0, "Hello!\n")
    assert str(tmp_path / "history.db") in result.stderr and "history check" in result.stderr
    assert (tmp_path / "history.db").read_bytes() == damaged
    assert run_chinwag(["--no-save", "hi"], env).returncode == 0  # chatting still works
    assert (tmp_path / "history.db").read_bytes() == damaged
    resumed = run_chinwag(["-c", "hi"], env)  # continuing needs the history: a clear error
    assert resumed.returncode == 2 and "--no-save" in resumed.stderr
    assert (tmp_path / "history.db").read_bytes() == damaged


def test_database_damaged_past_its_header_is_told_and_the_chat_goes_on(scripted_server: ScriptedServer,
                                                                      tmp_path: Path) -> None:
    """Damage only SQLite itself can see: the chat answers, says once that
    history is not being saved, and never writes to the file."""
    damaged = b"SQLite format 3\x00" + b"\xff" * 4000
    (tmp_path / "history.db").write_bytes(damaged)
    scripted_server.enqueue(Reply(chunks=["Still here."]))
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("hello")
    child.expect("history is not being saved: damaged")
    child.expect("Still here.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert (tmp_path / "history.db").read_bytes() == damaged
    assert len(scripted_server.requests) == 1


def test_two_chats_at_once_both_keep_all_their_messages(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url)
    scripted_server.enqueue(*[Reply(chunks=[f"reply {i}"], chunk_delay=0.01) for i in range(6)])
    left, right = spawn_chinwag([], env), spawn_chinwag([], env)
    for child in (left, right):
        child.expect("You: ")
    for turn in range(3):
        for name, child in (("left", left), ("right", right)):
            child.sendline(f"{name} {turn}")
        for child in (left, right):
            child.expect("You: ")
    for child in (left, right):
        child.sendline("quit")
        assert finish(child) == 0
    db = sqlite3.connect(tmp_path / "history.db")
    users = sorted(row[0] for row in db.execute("SELECT content FROM messages WHERE role = 'user'"))
    assert users == sorted(f"{n} {t}" for n in ("left", "right") for t in range(3))
    assert db.execute("SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'complete'").fetchone()[0] == 6


def test_history_command_in_the_chat_lists_conversations(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["An earlier chat"], env).returncode == 0
    child = spawn_chinwag([], env)
    child.expect("You: ")
    child.sendline("/history")
    child.expect("An earlier chat")
    child.expect("--resume ID")
    child.sendline("quit")
    assert finish(child) == 0
