"""History never stops the chat: disk full, locked, damaged or read-only storage.

For each storage fault the chat answers, says in one line that (or why) it is
not saving, keeps what was saved before byte for byte, and, where the fault
clears, saves the turns it missed. Faults are real where we can make them
without root or special file systems:

- disk full: SQLite's max_page_count caps the database. It is a setting of
  one connection: Recorder takes it as `max_pages`, and the real `chinwag`
  gets it from tests/hooks/sitecustomize.py (tests/max_pages.py), test code
  that chinwag itself does not have. "Room again" is space
  freed inside the file (a ballast table dropped by another process), which
  the capped connection can reuse. Where a private mount namespace is
  available (`unshare -m`, root or user namespaces), one test also fills a
  real tmpfs.
- locked: a second connection holding `BEGIN IMMEDIATE`.
- damaged: bytes overwritten (the header, a b-tree page, a WAL header).
- read-only: chmod, except where the tests run as root (root writes through
  chmod): there the directory is bind-mounted read-only in a private mount
  namespace; the tests are skipped where neither can be done.

Each case runs through Recorder directly (fast, exact) and end to end through
the installed `chinwag` in a pseudo-terminal and one-shot, against the
scripted Anthropic server.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pexpect
import pytest

from chinwag.events import TextDelta
from chinwag.cli.history import main as history_main
from chinwag.history.recorder import Recorder
from chinwag.records import Reply as Snapshot
from chinwag.history.store import Store
from chinwag.history.check import DAMAGED, FULL, LOCKED, READ_ONLY, StorageError, reason_of
from tests.cli_helpers import CHINWAG, anthropic_env, finish, run_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.max_pages import capped

MODEL = "claude-sonnet-4-20250514"
WARNING = re.compile(r"not being saved|could not be saved")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# -- helpers ----------------------------------------------------------------------

def seed(db: Path) -> tuple[list[Any], list[Any]]:
    """One earlier conversation, saved before any fault; returns every row."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with closing(Store.open(db)) as store:
        cid = store.start_conversation(model=MODEL, system="Be brief.")
        store.add_message(cid, "user", "Earlier question 🦜")
        rid = store.begin_reply(cid, model=MODEL)
        store.update_reply(rid, "Earlier answer, \x1b[1mraw\x1b[0m bytes kept", status="complete",
                           input_tokens=3, output_tokens=5, ttft=0.1, duration=0.2, stop_reason="end_turn")
    return rows(db)


def rows(db: Path) -> tuple[list[Any], list[Any]]:
    """Every conversation and message row, every column (read-only; never migrates)."""
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    with closing(conn):
        return (conn.execute("SELECT * FROM conversations ORDER BY id").fetchall(),
                conn.execute("SELECT * FROM messages ORDER BY id").fetchall())


def assert_kept(db: Path, before: tuple[list[Any], list[Any]]) -> None:
    """What was saved before the fault is still there, byte for byte."""
    conversations, messages = rows(db)
    assert conversations[:len(before[0])] == before[0]
    assert messages[:len(before[1])] == before[1]


def saved_texts(db: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    with closing(conn):
        return conn.execute("SELECT role, content, status FROM messages ORDER BY id").fetchall()


def add_ballast(db: Path, size: int = 1_000_000) -> int:
    """A table of `size` bytes another program put in the file; returns the page count."""
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE ballast (b BLOB)")
        conn.execute("INSERT INTO ballast VALUES (zeroblob(?))", (size,))
        conn.commit()
        return int(conn.execute("PRAGMA page_count").fetchone()[0])


def drop_ballast(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DELETE FROM ballast")
        conn.commit()


@contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another process's open write transaction on `db`."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("COMMIT")
        conn.close()


def damage_page(db: Path, table: str = "messages") -> bytes:
    """Overwrite the root page of `table`: SQLite then calls the file malformed."""
    with closing(sqlite3.connect(db)) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as file:
        file.seek((root - 1) * size)
        file.write(b"\x0d\xff\xff\xff" + b"\xee" * 200)
    return db.read_bytes()


def warnings(text: str) -> list[str]:
    """The lines of `text` (as shown: escapes removed) that say history is not
    saved, each as the notice's own text: without the one-shot's "chinwag: "
    or the REPL's parentheses around a notice."""
    # A line's text after its last carriage return: what a terminal shows where the chat
    # went back over the line (a bare "Assistant: " label taken back for a notice).
    escapes_gone = ANSI.sub(lambda m: m.group(0) if m.group(0) == "\r" else "", text)
    shown = [line.rstrip("\r").split("\r")[-1] for line in escapes_gone.split("\n")]
    lines = [line.strip() for line in shown if WARNING.search(line)]
    return [_bare(line) for line in lines]


def _bare(line: str) -> str:
    line = line.removeprefix("chinwag: ")
    return line[1:-1] if line.startswith("(") and line.endswith(")") else line


def run_turn(recorder: Recorder, question: str, chunks: list[str], delay: float = 0.0) -> None:
    """One turn as the session drives the recorder, the reply streaming `chunks`."""
    recorder.save_user(question, MODEL, None)
    recorder.begin_reply(MODEL, "")
    sink = recorder.reply_sink("")  # None when saving has stopped for good
    if sink is not None:
        sink.on_start()
    reply = Snapshot()
    for chunk in chunks:
        reply = replace(reply, text=reply.text + chunk)
        if sink is not None:
            sink.on_event(TextDelta(chunk), reply)
        time.sleep(delay)
    if sink is not None:
        sink.on_end(replace(reply, status="complete"))


def can_use_mount_namespace() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"] if not IS_ROOT else ["unshare", "-m", "true"],
                           capture_output=True)
    return probe.returncode == 0


MOUNTS = can_use_mount_namespace()


def in_namespace(setup: str, folder: Path, argv: list[str]) -> list[str]:
    """argv run after `setup` (sh, with "$0" = folder) in a private mount namespace."""
    return ["unshare", *(["-m"] if IS_ROOT else ["-rm"]), "sh", "-c", f'{setup} && exec "$@"',
            str(folder), *argv]


READ_ONLY_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0"'


@contextmanager
def read_only_dir(folder: Path) -> Iterator[Callable[[list[str]], list[str]]]:
    """Make `folder` read-only for the commands built by the yielded function."""
    if not IS_ROOT:
        modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield lambda argv: argv
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
    elif MOUNTS:
        yield lambda argv: in_namespace(READ_ONLY_MOUNT, folder, argv)
    else:
        pytest.skip("running as root, where chmod does not stop writes, and no mount namespace here")


# -- classification ----------------------------------------------------------------

def test_sqlite_failures_are_classified_into_short_reasons(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    seed(db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA max_page_count = 1")
        with pytest.raises(sqlite3.Error) as full:
            conn.execute("INSERT INTO messages (conversation_id, role, content, status, created_at,"
                         " updated_at) VALUES (1, 'user', zeroblob(100000), 'complete', 0, 0)")
        assert reason_of(full.value) == FULL
    with locked(db), closing(sqlite3.connect(db, timeout=0)) as conn:
        with pytest.raises(sqlite3.Error) as busy:
            conn.execute("BEGIN IMMEDIATE")
        assert reason_of(busy.value) == LOCKED
    with closing(sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)) as conn:
        with pytest.raises(sqlite3.Error) as read_only:
            conn.execute("DELETE FROM messages")
        assert reason_of(read_only.value) == READ_ONLY
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with closing(sqlite3.connect(tmp_path / "junk.db")) as conn:
        with pytest.raises(sqlite3.Error) as junk:
            conn.execute("SELECT * FROM sqlite_master")
        assert reason_of(junk.value) == DAMAGED
    assert reason_of(OSError(28, "No space left on device")) == FULL


# -- the recorder, in process ---------------------------------------------------------

def test_disk_full_at_start_without_a_database_chats_and_leaves_no_file(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    recorder = Recorder(db, max_pages=1)
    recorder.open()
    assert recorder.take_notices() == [f"history is not being saved: disk full ({db})"]
    run_turn(recorder, "hello", ["Hi ", "there"])
    recorder.close()
    assert recorder.take_notices() == []  # told once, at the start
    assert sorted(os.listdir(tmp_path)) == []  # no 0-byte file, no -wal, no -shm


def test_store_that_cannot_be_made_removes_only_what_it_created(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with pytest.raises(StorageError) as caught:
        Store.open(db, max_pages=1)
    assert caught.value.reason == FULL and os.listdir(tmp_path) == []
    before = seed(db)
    with closing(Store.open(db, max_pages=1)) as store:  # full, but it opens: reading works
        assert store.room_to_grow() is False
        assert store.list_conversations()[0].title == "Earlier question 🦜"
    assert_kept(db, before)


def test_disk_full_mid_reply_tells_once_and_room_again_saves_every_turn(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    before = seed(db)
    pages = add_ballast(db)
    recorder = Recorder(db, max_pages=pages + 8)
    recorder.open()
    assert recorder.take_notices() == []
    long_reply = ["word " * 200] * 100  # 100 KB: far more than 8 pages
    run_turn(recorder, "a long question", long_reply, delay=0.005)
    assert recorder.take_notices() == ["this reply could not be saved: disk full"]
    run_turn(recorder, "still full?", ["yes"])
    assert recorder.take_notices() == []  # the same fault is told once
    drop_ballast(db)  # room again
    run_turn(recorder, "and now?", ["saved"])
    recorder.close()
    assert recorder.take_notices() == ["history is being saved again"]
    assert_kept(db, before)
    assert saved_texts(db)[2:] == [
        ("user", "a long question", "complete"), ("assistant", "".join(long_reply), "complete"),
        ("user", "still full?", "complete"), ("assistant", "yes", "complete"),
        ("user", "and now?", "complete"), ("assistant", "saved", "complete")]


def test_locked_database_never_holds_up_a_turn_and_saves_when_the_lock_clears(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    before = seed(db)
    recorder = Recorder(db)
    recorder.open()
    with locked(db):
        started = time.perf_counter()
        recorder.save_user("while locked", MODEL, None)
        recorder.begin_reply(MODEL, "")
        waited = time.perf_counter() - started
        sink = recorder.reply_sink("")
        assert sink is not None
        reply = Snapshot()
        for chunk in ["one ", "two ", "three"]:
            reply = replace(reply, text=reply.text + chunk)
            sink.on_event(TextDelta(chunk), reply)
            time.sleep(0.3)
        started = time.perf_counter()
        sink.on_end(replace(reply, status="complete"))
        waited = max(waited, time.perf_counter() - started)
        assert recorder.take_notices() == [f"history is not being saved: locked by another process ({db})"]
        assert waited < 0.1  # never the busy timeout (0.25 s) on the caller's thread
    deadline = time.monotonic() + 5
    while len(saved_texts(db)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert saved_texts(db)[2:] == [("user", "while locked", "complete"),
                                   ("assistant", "one two three", "complete")]
    assert recorder.take_notices() == ["history is being saved again"]
    recorder.close()
    assert_kept(db, before)


@pytest.mark.parametrize("damage", ["header", "page", "wal"])
def test_damaged_database_is_never_modified_and_the_chat_goes_on(tmp_path: Path, damage: str) -> None:
    db = tmp_path / "history.db"
    seed(db)
    if damage == "header":
        db.write_bytes(b"not a database, a shopping list\n" * 100)
    elif damage == "page":
        damage_page(db)
    else:
        Path(f"{db}-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 28 + b"junk" * 100)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    recorder = Recorder(db)
    recorder.open()
    (notice,) = recorder.take_notices()
    assert notice == f"history is not being saved: damaged ({db}); see `chinwag history check`"
    run_turn(recorder, "hello", ["Hi"])
    assert recorder.reply_sink("") is None
    recorder.close()
    assert recorder.take_notices() == []
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in files} == files
    assert db.read_bytes() == files["history.db"]


def test_read_only_file_chats_with_one_notice(tmp_path: Path) -> None:
    if IS_ROOT:
        pytest.skip("root writes through chmod; the end-to-end test covers read-only as root")
    db = tmp_path / "history.db"
    before = seed(db)
    with read_only_dir(tmp_path):
        recorder = Recorder(db)
        recorder.open()
        run_turn(recorder, "hello", ["Hi"])
        recorder.close()
        assert warnings("\n".join(recorder.take_notices())) == [
            f"history is not being saved: read-only ({db})"]
    assert_kept(db, before)


def test_a_turn_cancelled_before_its_request_leaves_no_reply_streaming(tmp_path: Path) -> None:
    """A reply row no sink ever ended (Ctrl-C before the request) ends empty and
    interrupted at the next save point, not "streaming" for ever: it also
    stands for the turn, as a /retry's would (history_for_model)."""
    db = tmp_path / "history.db"
    recorder = Recorder(db)
    recorder.save_user("never answered", MODEL, None)
    recorder.begin_reply(MODEL, "")  # no attempt: the turn was cancelled
    run_turn(recorder, "answered", ["ok"])
    recorder.begin_reply(MODEL, "")  # a /retry cancelled before its request
    recorder.close()
    assert saved_texts(db) == [("user", "never answered", "complete"), ("assistant", "", "interrupted"),
                               ("user", "answered", "complete"), ("assistant", "ok", "complete"),
                               ("assistant", "", "interrupted")]


# -- history check ----------------------------------------------------------------------

def check(home: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = history_main(["check"], {"CHINWAG_HOME": str(home)}, out, err=io.StringIO())
    return code, out.getvalue()


def test_history_check_says_a_sound_database_is_ok(tmp_path: Path) -> None:
    assert check(tmp_path) == (0, f"No history database yet ({tmp_path / 'history.db'}); one is made"
                                  " when you first chat.\n")
    seed(tmp_path / "history.db")
    code, out = check(tmp_path)
    assert code == 0 and "Integrity: ok" in out and "Holds 1 conversations, 2 messages." in out


@pytest.mark.parametrize("damage", ["header", "page"])
def test_history_check_names_the_damage_and_how_to_recover_without_touching_it(
        tmp_path: Path, damage: str) -> None:
    db = tmp_path / "history.db"
    seed(db)
    if damage == "header":
        db.write_bytes(b"garbage" * 1000)
    else:
        damage_page(db)
    content = db.read_bytes()
    code, out = check(tmp_path)
    assert code == 1 and out.startswith(f"History database: {db}")
    assert "Damaged: " in out and ("file is not a database" in out or "malformed" in out)
    assert f"mv {db} {db}.damaged" in out and "sqlite3" in out
    assert db.read_bytes() == content


def test_history_check_recipe_recovers_what_sqlite_can_read(tmp_path: Path) -> None:
    if not shutil.which("sqlite3"):
        pytest.skip("no sqlite3 command-line tool here")
    db = tmp_path / "history.db"
    seed(db)
    damage_page(db, "messages_by_conversation")  # an index: every row is still readable
    _, out = check(tmp_path)
    recipe = next(line.strip() for line in out.splitlines() if "recovered.db" in line and "|" in line)
    subprocess.run(recipe, shell=True, cwd=tmp_path, check=True, capture_output=True)
    with closing(sqlite3.connect(tmp_path / "recovered.db")) as conn:
        assert [r[0] for r in conn.execute("SELECT content FROM messages ORDER BY id")] == [
            "Earlier question 🦜", "Earlier answer, \x1b[1mraw\x1b[0m bytes kept"]


# -- end to end: the real chinwag, in a terminal and one-shot -----------------------------

def chat(env: dict[str, str], questions: list[str], *, argv: list[str] | None = None,
         between: Callable[[int], None] = lambda turn: None, expect: list[str] | None = None) -> str:
    """Run the REPL (`argv` wraps the command, e.g. in a namespace), ask each
    question, wait for each reply; the whole transcript as shown."""
    command = argv or [CHINWAG]
    child = pexpect.spawn(command[0], command[1:], env=env, encoding="utf-8", timeout=20,
                          dimensions=(24, 400))
    transcript = io.StringIO()
    child.logfile_read = transcript
    child.expect("You: ")
    for turn, question in enumerate(questions):
        between(turn)
        child.sendline(question)
        if expect:
            child.expect(re.escape(expect[turn]))
        child.expect("You: ")
    time.sleep(0.3)
    child.sendline("quit")
    assert finish(child) == 0
    return transcript.getvalue()


def one_shot(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `argv` (chinwag, maybe wrapped in a namespace) with pipes."""
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_chat_with_disk_full_and_no_database_answers_and_leaves_nothing(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = capped(anthropic_env(tmp_path, scripted_server.base_url), 1)
    scripted_server.enqueue(Reply(chunks=["Hello ", "from a full disk"]), Reply(chunks=["Second answer"]))
    shown = chat(env, ["hi", "again"], expect=["Hello from a full disk", "Second answer"])
    assert warnings(shown) == [f"history is not being saved: disk full ({tmp_path / 'history.db'})"]
    assert not list(tmp_path.glob("history.db*"))
    result = run_chinwag(["hi"], env)
    assert (result.returncode, result.stdout) == (0, "Hello!\n")
    assert warnings(result.stderr) == [f"history is not being saved: disk full ({tmp_path / 'history.db'})"]
    assert not list(tmp_path.glob("history.db*"))


def test_json_mode_carries_the_storage_notice_as_an_event(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = capped(anthropic_env(tmp_path, scripted_server.base_url), 1)
    result = run_chinwag(["--json", "hi"], env)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    notices = [e for e in events if e["type"] == "notice"]
    assert [n["text"] for n in notices] == [f"history is not being saved: disk full ({tmp_path / 'history.db'})"]
    assert "".join(e["text"] for e in events if e["type"] == "text") == "Hello!"


@pytest.mark.skipif(not MOUNTS, reason="no private mount namespace here (unshare -m / -rm)")
def test_one_shot_on_a_really_full_filesystem_answers_and_leaves_no_file(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """A real full disk: a 256 KB tmpfs filled to the last byte before chinwag starts."""
    home = tmp_path / "home"
    home.mkdir()
    fill = ('mount -t tmpfs -o size=256k tmpfs "$0" && (head -c 1M /dev/zero > "$0/ballast" 2>/dev/null;'
            ' true)')
    script = f'{fill} && "$@"; echo "exit=$?"; ls -A "$0"'
    argv = ["unshare", *(["-m"] if IS_ROOT else ["-rm"]), "sh", "-c", script, str(home), CHINWAG, "hi"]
    result = one_shot(argv, anthropic_env(home, scripted_server.base_url))
    assert result.stdout.splitlines() == ["Hello!", "exit=0", "ballast"]  # no history.db, -wal or -shm
    assert warnings(result.stderr) == [f"history is not being saved: disk full ({home / 'history.db'})"]


def test_chat_with_a_database_that_cannot_grow_answers_and_keeps_the_past(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    before = seed(db)
    env = capped(anthropic_env(tmp_path, scripted_server.base_url), 1)
    scripted_server.enqueue(Reply(chunks=["Fine ", "without saving. " * 500]))
    shown = chat(env, ["hi"], expect=["Fine without saving."])
    assert warnings(shown) == [f"history is not being saved: disk full ({db})"]
    result = run_chinwag(["hi"], env)
    assert (result.returncode, result.stdout) == (0, "Hello!\n")
    assert len(warnings(result.stderr)) == 1 and "disk full" in result.stderr
    assert_kept(db, before)


def test_disk_full_mid_reply_then_room_again_saves_every_turn_that_was_shown(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    before = seed(db)
    pages = add_ballast(db)
    env = capped(anthropic_env(tmp_path, scripted_server.base_url), pages + 8)
    long_chunks = [f"chunk{i:03d} " + "word " * 200 for i in range(100)]  # ~100 KB
    scripted_server.enqueue(Reply(chunks=long_chunks, chunk_delay=0.005), Reply(chunks=["Room again."]))

    def make_room(turn: int) -> None:
        if turn == 2:
            drop_ballast(db)

    shown = chat(env, ["a long question", f"/save {tmp_path / 'kept.md'}", "and now?"], between=make_room,
                 expect=["chunk099", "Saved", "Room again."])
    assert warnings(shown) == ["this reply could not be saved: disk full"]
    assert "history is being saved again" in ANSI.sub("", shown)
    assert "chunk099" in (tmp_path / "kept.md").read_text()  # the conversation in memory is whole
    assert_kept(db, before)
    assert saved_texts(db)[2:] == [
        ("user", "a long question", "complete"), ("assistant", "".join(long_chunks), "complete"),
        ("user", "and now?", "complete"), ("assistant", "Room again.", "complete")]


def test_disk_full_mid_reply_in_one_shot_still_answers_and_exits_0(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    before = seed(db)
    pages = add_ballast(db)
    env = capped(anthropic_env(tmp_path, scripted_server.base_url), pages + 8)
    long_chunks = [f"chunk{i:03d} " + "word " * 200 for i in range(100)]
    scripted_server.enqueue(Reply(chunks=long_chunks, chunk_delay=0.005))
    result = run_chinwag(["a long question"], env)
    assert (result.returncode, result.stdout) == (0, "".join(long_chunks) + "\n")
    assert warnings(result.stderr) == ["this reply could not be saved: disk full"]
    assert_kept(db, before)


def test_locked_database_chat_goes_on_and_saves_when_the_lock_clears(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    before = seed(db)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    scripted_server.enqueue(Reply(chunks=["Answered ", "while locked."], chunk_delay=0.3),
                            Reply(chunks=["Answered after."]))
    lock = locked(db)

    def hold_then_release(turn: int) -> None:
        if turn == 0:
            lock.__enter__()
        else:
            lock.__exit__(None, None, None)

    shown = chat(env, ["first", "second"], between=hold_then_release,
                 expect=["Answered while locked.", "Answered after."])
    assert warnings(shown) == [f"history is not being saved: locked by another process ({db})"]
    assert_kept(db, before)
    assert saved_texts(db)[2:] == [
        ("user", "first", "complete"), ("assistant", "Answered while locked.", "complete"),
        ("user", "second", "complete"), ("assistant", "Answered after.", "complete")]


def test_locked_database_one_shot_answers_at_once_and_exits_0(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    before = seed(db)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    scripted_server.enqueue(Reply(chunks=["Answered ", "anyway."], chunk_delay=0.3))
    with locked(db):
        started = time.monotonic()
        result = run_chinwag(["hi"], env)
        took = time.monotonic() - started
    assert (result.returncode, result.stdout) == (0, "Answered anyway.\n")
    assert len(warnings(result.stderr)) == 1 and "locked by another process" in result.stderr
    assert took < 10
    assert_kept(db, before)


@pytest.mark.parametrize("damage", ["header", "page"])
def test_damaged_database_chat_goes_on_unsaved_and_the_file_is_untouched(
        scripted_server: ScriptedServer, tmp_path: Path, damage: str) -> None:
    db = tmp_path / "history.db"
    seed(db)
    if damage == "header":
        db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    else:
        damage_page(db)
    content = db.read_bytes()
    env = anthropic_env(tmp_path, scripted_server.base_url)
    scripted_server.enqueue(Reply(chunks=["Still ", "talking."]))
    shown = chat(env, ["hello"], expect=["Still talking."])
    assert warnings(shown) == [f"history is not being saved: damaged ({db}); see `chinwag history check`"]
    result = run_chinwag(["hello"], env)
    assert (result.returncode, result.stdout) == (0, "Hello!\n")
    assert warnings(result.stderr) == [
        f"history is not being saved: damaged ({db}); see `chinwag history check`"]
    assert db.read_bytes() == content
    checked = run_chinwag(["history", "check"], env)
    assert checked.returncode == 1 and "Damaged: " in checked.stdout and "recovered.db" in checked.stdout
    assert db.read_bytes() == content


def test_read_only_history_chats_with_one_line_and_history_still_reads(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = home / "history.db"
    before = seed(db)
    content = db.read_bytes()
    env = anthropic_env(home, scripted_server.base_url)
    scripted_server.enqueue(Reply(chunks=["Read-only ", "is fine."]))
    with read_only_dir(home) as wrap:
        shown = chat(env, ["hello"], argv=wrap([CHINWAG]), expect=["Read-only is fine."])
        result = one_shot(wrap([CHINWAG, "hello"]), env)
        listed = one_shot(wrap([CHINWAG, "history", "list"]), env)
        shown_last = one_shot(wrap([CHINWAG, "history", "show", "last"]), env)
    assert warnings(shown) == [f"history is not being saved: read-only ({db})"]
    assert (result.returncode, result.stdout) == (0, "Hello!\n")
    assert warnings(result.stderr) == [f"history is not being saved: read-only ({db})"]
    assert listed.returncode == 0 and "Earlier question" in listed.stdout, listed.stderr
    assert shown_last.returncode == 0 and "Earlier answer" in shown_last.stdout
    assert db.read_bytes() == content
    assert_kept(db, before)


def test_disk_full_with_no_data_directory_yet_leaves_no_directory_either(tmp_path: Path) -> None:
    home = tmp_path / "not" / "yet"
    with pytest.raises(StorageError):
        Store.open(home / "history.db", max_pages=1)
    assert os.listdir(tmp_path) == []
    recorder = Recorder(home / "history.db", max_pages=1)
    run_turn(recorder, "hello", ["Hi"])
    recorder.close()
    assert recorder.take_notices() == [f"history is not being saved: disk full ({home / 'history.db'})"]
    assert os.listdir(tmp_path) == []
