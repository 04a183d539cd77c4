"""The conversation store: what survives, what is found, what is sent back.

Behaviour checked here: the schema is built by recorded migrations; the files
are private; replies are saved while they stream, and a reply abandoned by a
dead process reads as interrupted; two processes writing at once both keep
everything; a damaged database is reported and left byte for byte; full-text
search copes with any text a user types; and the history given back to a
model never holds an empty reply.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from chinwag.errors import ConfigError, ConversationDeleted
from chinwag.history.store import MARK_END, MARK_START, TITLE_WIDTH, Store

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "home" / "history.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    with closing(Store.open(db)) as s:
        yield s


def python(code: str, *args: str) -> subprocess.Popen[str]:
    """Start `code` in a fresh interpreter: a separate process, its own connection."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            env={**os.environ, "PYTHONPATH": SRC}, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def run_python(code: str, *args: str) -> tuple[int, str]:
    proc = python(code, *args)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


# -- schema and files ------------------------------------------------------

def test_migrations_are_recorded_in_order_with_the_schema_version(store: Store, db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM migrations ORDER BY rowid")]
        assert names == ["m001_conversations_and_messages", "m002_full_text_search", "m003_content_blocks",
                         "m004_attachment_blobs", "m005_system_prompt_per_turn",
                         "m006_conversation_titles", "m007_conversation_trees",
                         "m008_reply_schema", "m009_reply_costs"]
        assert conn.execute("PRAGMA user_version").fetchone() == (9,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_reopening_does_not_run_migrations_again(db: Path) -> None:
    def applied() -> list[tuple[str, float]]:
        with closing(sqlite3.connect(db)) as conn:
            return conn.execute("SELECT name, applied_at FROM migrations").fetchall()

    Store.open(db).close()
    before = applied()
    Store.open(db).close()
    assert applied() == before


def test_database_from_a_newer_chinwag_is_refused(db: Path) -> None:
    Store.open(db).close()
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("INSERT INTO migrations VALUES ('m099_from_the_future', 0)")
        conn.execute("PRAGMA user_version = 99")
        conn.commit()
    with pytest.raises(ConfigError, match="newer chinwag"):
        Store.open(db)


def test_new_database_and_its_directory_are_private(store: Store, db: Path) -> None:
    store.add_message(store.start_conversation(), "user", "secret")
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{db}-wal").stat().st_mode) == 0o600


@pytest.mark.parametrize("content", [
    b"this is not a database, it is a shopping list\n" * 50,
    b"SQLite format 3\x00" + bytes(range(256)) * 32,
], ids=["text-file", "damaged-header"])
def test_damaged_database_raises_config_error_and_is_left_byte_for_byte(
        db: Path, content: bytes) -> None:
    db.parent.mkdir()
    db.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        Store.open(db)
    assert str(db) in caught.value.message and "--no-save" in caught.value.message
    assert db.read_bytes() == content


def test_directory_where_the_database_should_be_is_a_config_error(db: Path) -> None:
    db.mkdir(parents=True)
    with pytest.raises(ConfigError, match="history database"):
        Store.open(db)


# -- saving replies --------------------------------------------------------

def test_reply_is_saved_progressively_then_finished_with_its_figures(store: Store) -> None:
    cid = store.start_conversation(model="claude-sonnet-4-20250514", system="Be brief.")
    store.add_message(cid, "user", "Explain a CPU.")
    rid = store.begin_reply(cid, model="claude-sonnet-4-20250514")
    assert (store.messages(cid)[-1].content, store.messages(cid)[-1].status) == ("", "streaming")
    store.update_reply(rid, "A CPU", status="streaming")
    assert store.messages(cid)[-1].content == "A CPU"
    store.update_reply(rid, "A CPU runs programs.", status="complete", input_tokens=12,
                       output_tokens=5, ttft=0.31, duration=2.1, stop_reason="end_turn")
    reply = store.messages(cid)[-1]
    assert (reply.role, reply.content, reply.status) == (
        "assistant", "A CPU runs programs.", "complete")
    assert (reply.input_tokens, reply.output_tokens, reply.ttft, reply.duration,
            reply.stop_reason, reply.model) == (
        12, 5, 0.31, 2.1, "end_turn", "claude-sonnet-4-20250514")


def test_text_is_stored_exactly_as_received(store: Store) -> None:
    raw = "bold \x1b[1mtext\x1b[0m, a title \x1b]0;pwned\x07, emoji 🦜, tab\tend\n"
    cid = store.start_conversation()
    store.update_reply(store.begin_reply(cid), raw, status="complete")
    assert store.messages(cid)[-1].content == raw


def test_progressive_text_is_visible_to_another_process_while_streaming(
        store: Store, db: Path) -> None:
    cid = store.start_conversation()
    store.update_reply(store.begin_reply(cid), "half a thought", status="streaming")
    code, out = run_python("""
        import sys; from chinwag.history.store import Store
        print(Store.open(sys.argv[1]).messages(int(sys.argv[2]))[-1].content)
    """, str(db), str(cid))
    assert (code, out.strip()) == (0, "half a thought")


def test_reply_left_streaming_by_a_killed_process_reads_interrupted_on_reopen(db: Path) -> None:
    code, _ = run_python("""
        import os, signal, sys; from chinwag.history.store import Store
        store = Store.open(sys.argv[1])
        cid = store.start_conversation(model="m")
        store.add_message(cid, "user", "Tell me a story")
        rid = store.begin_reply(cid, model="m")
        store.update_reply(rid, "Once upon a time", status="streaming")
        os.kill(os.getpid(), signal.SIGKILL)
    """, str(db))
    assert code == -signal.SIGKILL
    with closing(Store.open(db)) as store:
        reply = store.messages(1)[-1]
    assert (reply.content, reply.status) == ("Once upon a time", "interrupted")


def test_reply_still_streaming_in_a_live_process_is_left_alone(db: Path) -> None:
    writer = python("""
        import sys; from chinwag.history.store import Store
        store = Store.open(sys.argv[1])
        rid = store.begin_reply(store.start_conversation())
        store.update_reply(rid, "still going", status="streaming")
        print("ready", flush=True)
        sys.stdin.readline()
        store.update_reply(rid, "still going, and done", status="complete")
    """, str(db))
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    with closing(Store.open(db)) as other_terminal:
        assert other_terminal.messages(1)[-1].status == "streaming"
    writer.communicate("\n", timeout=60)
    with closing(Store.open(db)) as store:
        assert store.messages(1)[-1].status == "complete"


def test_two_processes_writing_at_once_both_keep_all_their_messages(db: Path) -> None:
    """Two terminals on a database neither has created yet, 2 x 200 messages
    (each reply is begun, saved while streaming, then finished)."""
    go = db.parent / "go"
    writer = """
        import os, sys, time; from chinwag.history.store import Store
        db, go, name = sys.argv[1:]
        while not os.path.exists(go): time.sleep(0.001)
        store = Store.open(db)
        cid = store.start_conversation(model=name)
        for i in range(100):
            store.add_message(cid, "user", f"{name} question {i}")
            rid = store.begin_reply(cid, model=name)
            store.update_reply(rid, f"{name} ans", status="streaming")
            store.update_reply(rid, f"{name} answer {i}", status="complete")
        print(cid)
    """
    db.parent.mkdir()
    procs = [python(writer, str(db), str(go), name) for name in ("alpha", "beta")]
    go.touch()
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    with closing(Store.open(db)) as store:
        for name, (out, _) in zip(("alpha", "beta"), results):
            messages = store.messages(int(out))
            expected = [t for i in range(100)
                        for t in (f"{name} question {i}", f"{name} answer {i}")]
            assert [m.content for m in messages] == expected
            assert {m.status for m in messages} == {"complete"}


# -- reading, listing, deleting --------------------------------------------

def test_list_shows_newest_first_with_turns_and_a_trimmed_first_line_title(store: Store) -> None:
    old = store.start_conversation(model="a")
    store.add_message(old, "user", "\n  first   question\nsecond line")
    new = store.start_conversation(model="b")
    store.add_message(new, "user", "word " * 40)
    store.add_message(new, "user", "again")
    listed = store.list_conversations()
    assert [c.id for c in listed] == [new, old]
    assert listed[1].title == "first question" and listed[1].turns == 1
    assert listed[0].turns == 2
    assert len(listed[0].title) <= TITLE_WIDTH and listed[0].title.endswith("…")
    assert store.list_conversations(limit=1)[0].id == new


def test_continuing_an_old_conversation_makes_it_the_latest(store: Store) -> None:
    first = store.start_conversation()
    second = store.start_conversation()
    assert store.latest_conversation_id() == second
    store.add_message(first, "user", "back to this one")
    assert store.latest_conversation_id() == first
    assert store.list_conversations()[0].id == first


def test_empty_store_has_no_latest_conversation(store: Store) -> None:
    assert store.latest_conversation_id() is None
    assert store.list_conversations() == [] and store.conversation(1) is None


def test_reply_records_its_model_as_the_conversations_model(store: Store) -> None:
    cid = store.start_conversation(model="claude-sonnet-4-20250514", system="sys")
    store.begin_reply(cid, model="local")
    summary = store.conversation(cid)
    assert summary is not None and (summary.model, summary.system) == ("local", "sys")
    store.set_model(cid, "gpt-4o")
    assert store.conversation(cid).model == "gpt-4o"  # type: ignore[union-attr]


def test_delete_removes_the_conversation_its_messages_and_its_search_entries(
        store: Store) -> None:
    keep = store.start_conversation()
    store.add_message(keep, "user", "kangaroo facts")
    gone = store.start_conversation()
    store.add_message(gone, "user", "kangaroo secrets")
    assert store.delete_conversation(gone) is True
    assert store.conversation(gone) is None and store.messages(gone) == []
    assert [h.conversation_id for h in store.search("kangaroo")] == [keep]
    assert store.delete_conversation(gone) is False


def test_writing_to_a_deleted_conversation_is_a_clear_error(store: Store) -> None:
    cid = store.start_conversation()
    rid = store.begin_reply(cid)
    store.delete_conversation(cid)
    with pytest.raises(ConversationDeleted, match=f"conversation {cid} does not exist"):
        store.add_message(cid, "user", "hello?")
    assert store.update_reply(rid, "lost", status="complete") is False


# -- search ----------------------------------------------------------------

def test_search_finds_every_word_and_highlights_the_matches(store: Store) -> None:
    cid = store.start_conversation()
    store.add_message(cid, "user", "How does a CPU cache work?")
    store.add_message(cid, "user", "Tell me about caching in CPUs and memory")
    store.add_message(cid, "user", "Unrelated: bake a cake")
    hits = store.search("cpu cache")
    assert len(hits) == 2  # stemmed: cache/caching, CPU/CPUs
    assert hits[0].message_id > hits[1].message_id  # newest first
    assert (hits[1].conversation_id, hits[1].role) == (cid, "user")
    assert f"{MARK_START}CPU{MARK_END}" in hits[1].snippet
    assert ("cache", True) in hits[1].parts() and ("How does a ", False) in hits[1].parts()


@pytest.mark.parametrize("query", [
    '"', "'", 'say "hi', "-", "--", "foo-bar", "*", "a*", "**", ":", "col:val", "content:x",
    "(", ")", "(a OR b", "NEAR(a b)", "AND", "OR NOT", "^start", "{a b}", "+", "a + b",
    "", "   ", "\x00", "\x1b[2J", "🦜", "x" * 5000, "'; DROP TABLE messages; --",
])
def test_search_treats_any_typed_text_as_plain_words(store: Store, query: str) -> None:
    cid = store.start_conversation()
    store.add_message(cid, "user", "the foo-bar widget talks to col:val and NEAR(a b) 🦜")
    store.search(query)  # must not raise
    assert store.search("kangaroo") == [] and len(store.messages(cid)) == 1


def test_search_matches_hyphenated_and_punctuated_words_literally(store: Store) -> None:
    cid = store.start_conversation()
    store.add_message(cid, "user", "the foo-bar widget talks to col:val")
    store.add_message(cid, "user", "foo then later bar")
    assert len(store.search("foo-bar")) == 1  # a phrase: foo directly followed by bar
    assert len(store.search("col:val")) == 1
    assert len(store.search('"foo"')) == 2


def test_streaming_reply_is_searchable_once_finished_and_reindexed_when_changed(
        store: Store) -> None:
    cid = store.start_conversation()
    rid = store.begin_reply(cid)
    store.update_reply(rid, "penguins waddle", status="streaming")
    assert store.search("penguins") == []
    store.update_reply(rid, "penguins waddle", status="interrupted")
    assert [h.message_id for h in store.search("penguins")] == [rid]
    store.update_reply(rid, "albatross glides", status="complete")
    assert store.search("penguins") == []
    assert [h.message_id for h in store.search("albatross")] == [rid]


def test_abandoned_reply_becomes_searchable_when_marked_interrupted(db: Path) -> None:
    with closing(Store.open(db)) as store:
        store.update_reply(store.begin_reply(store.start_conversation()), "octopus",
                           status="streaming")
    with closing(Store.open(db)) as store:
        assert len(store.search("octopus")) == 1


# -- the history sent to a model -------------------------------------------

def test_history_for_model_leaves_out_empty_replies_and_keeps_both_user_messages(
        store: Store) -> None:
    cid = store.start_conversation()
    store.add_message(cid, "user", "first question")
    store.update_reply(store.begin_reply(cid), "", status="interrupted")
    store.add_message(cid, "user", "second question")
    store.update_reply(store.begin_reply(cid), "  \n", status="error")
    store.add_message(cid, "user", "third question")
    assert store.history_for_model(cid) == [
        ("user", "first question\n\nsecond question\n\nthird question")]


def test_history_for_model_keeps_interrupted_text_as_it_was_shown(store: Store) -> None:
    cid = store.start_conversation()
    store.add_message(cid, "user", "Count to ten")
    store.update_reply(store.begin_reply(cid), "one two thr", status="interrupted")
    store.add_message(cid, "user", "go on")
    store.update_reply(store.begin_reply(cid), "four five", status="complete")
    assert store.history_for_model(cid) == [
        ("user", "Count to ten"), ("assistant", "one two thr"),
        ("user", "go on"), ("assistant", "four five")]


def test_history_for_model_keeps_only_the_last_attempt_of_a_retried_reply(store: Store) -> None:
    """/retry replaces the reply in the chat; -c must send what the chat sends."""
    cid = store.start_conversation()
    store.add_message(cid, "user", "hello")
    store.update_reply(store.begin_reply(cid), "first try", status="complete")
    store.update_reply(store.begin_reply(cid), "second try", status="complete")  # /retry
    store.add_message(cid, "user", "again")
    store.update_reply(store.begin_reply(cid), "partial", status="interrupted")
    store.update_reply(store.begin_reply(cid), "", status="error")  # /retry that failed
    assert store.history_for_model(cid) == [
        ("user", "hello"), ("assistant", "second try"), ("user", "again")]


def test_chats_started_together_on_a_new_database_all_open_it(tmp_path: Path) -> None:
    """Switching a new file to WAL needs it alone and SQLite says "locked" at
    once instead of waiting: before Store.open retried, about one start in six
    failed when three began together (10 rounds x 3 processes here)."""
    opener = """
        import os, sys, time; from chinwag.history.store import Store
        db, go = sys.argv[1:]
        open(f"{go}.{os.getpid()}", "w").close()  # at the starting line
        while not os.path.exists(go): time.sleep(0.0005)
        store = Store.open(db)
        store.add_message(store.start_conversation(model="m"), "user", "hi")
    """
    for round_ in range(10):
        home = tmp_path / str(round_)
        home.mkdir()
        procs = [python(opener, str(home / "history.db"), str(home / "go")) for _ in range(3)]
        deadline = time.monotonic() + 60
        while len(list(home.glob("go.*"))) < 3:  # all three at the starting line
            assert time.monotonic() < deadline, "the openers never started"
            time.sleep(0.005)
        (home / "go").touch()
        for proc in procs:
            proc.communicate(timeout=60)
        assert [proc.returncode for proc in procs] == [0, 0, 0], f"round {round_}"
