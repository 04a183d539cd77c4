"""Conversations as trees in the history database (issue 21): the m007
migration of a database as main left it, and the store's tree operations,
on real SQLite files."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from chinwag.errors import UsageError
from chinwag.history.blocks import blocks_and_blobs
from chinwag.history.store import Store
from chinwag.records import Image, Text

FIXTURE = Path(__file__).parent / "fixtures" / "history_m006"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 40


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with closing(Store.open(tmp_path / "history.db")) as opened:
        yield opened


def _rows(db: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT id, conversation_id, role, content, status, blocks, system, created_at"
                            " FROM messages ORDER BY id").fetchall()


# -- the migration, on a database main made ---------------------------------------------

@pytest.fixture
def migrated(tmp_path: Path) -> Iterator[tuple[Store, Path]]:
    """main_m006.sqlite was written by main's own Store before trees (see its make.py)."""
    db = tmp_path / "history.db"
    shutil.copy(FIXTURE / "main_m006.sqlite", db)
    before = _rows(db)
    with closing(Store.open(db)) as opened:
        assert _rows(db) == before  # no message's content, status or blocks rewritten
        yield opened, db


def test_migration_sends_every_old_conversation_exactly_what_main_sent(migrated: tuple[Store, Path]) -> None:
    store, _ = migrated
    expected = json.loads((FIXTURE / "expected.json").read_text())
    assert len(expected) == 5
    for cid, want in expected.items():
        history = [[m.role, m.content, len(m.blocks)] for m in store.history_messages(int(cid))]
        assert history == want["history"], cid
        assert store.latest_system(int(cid)) == want["system"], cid
        cancelled = store.cancelled_question(int(cid))
        assert (cancelled[0] if cancelled else None) == want["cancelled"], cid
        assert len(store.messages(int(cid))) == want["messages"], cid  # every message kept, on some branch


def test_migration_makes_a_retried_reply_a_sibling_and_a_cancelled_question_a_dead_end(
        migrated: tuple[Store, Path]) -> None:
    store, _ = migrated
    one = store.tree(1)  # Q, A (first try), A (second try: /retry), Q2, A (interrupted), A (failed /retry)
    q, first, second, q2, partial, failed = one.nodes.values()
    assert first.parent_id == second.parent_id == q.id and q.children == (first.id, second.id)
    assert q2.parent_id == second.id and partial.parent_id == failed.parent_id == q2.id
    assert one.leaf == failed.id and [n.number for n in one.path()] == [1, 3, 4, 6]
    two = store.tree(2)  # first, answer one, cancelled question, its empty reply, second, answer two
    first_q, answer, cancelled, empty, second_q, answer_two = two.nodes.values()
    assert cancelled.parent_id == second_q.parent_id == answer.id  # a dead-end sibling
    assert empty.parent_id == cancelled.id and not two.nodes[empty.id].children
    assert two.leaf == answer_two.id and two.siblings(second_q.id) == (cancelled.id, second_q.id)
    five = store.tree(5)  # ends with a question cancelled before any reply: the leaf is before it
    assert five.leaf == five.by_number(2).id  # type: ignore[union-attr]


def test_a_database_opened_again_is_not_migrated_again(migrated: tuple[Store, Path]) -> None:
    store, db = migrated
    store.set_leaf(1, store.tree(1).by_number(2).id)  # type: ignore[union-attr]
    store.close()
    with closing(Store.open(db)) as again:
        assert again.leaf(1) == again.tree(1).by_number(2).id  # type: ignore[union-attr]


# -- the store's tree ------------------------------------------------------------------

def test_messages_follow_the_leaf_and_a_branch_adds_only_its_new_messages(store: Store, tmp_path: Path) -> None:
    cid = store.start_conversation()
    q1 = store.add_message(cid, "user", "first question")
    a1 = store.begin_reply(cid)
    store.update_reply(a1, "first answer", status="complete")
    q2 = store.add_message(cid, "user", "second question")
    store.update_reply(store.begin_reply(cid), "second answer", status="complete")
    count = len(store.messages(cid))
    edited = store.add_message(cid, "user", "second question, edited", parent=a1)  # /edit of q2
    a2 = store.begin_reply(cid)
    store.update_reply(a2, "another answer", status="complete")
    assert len(store.messages(cid)) == count + 2  # no copies
    assert store.history_for_model(cid) == [("user", "first question"), ("assistant", "first answer"),
                                            ("user", "second question, edited"), ("assistant", "another answer")]
    tree = store.tree(cid)
    assert tree.leaf == a2 and tree.siblings(edited) == (q2, edited) and tree.roots == (q1,)
    assert [n.number for n in tree.path()] == [1, 2, 5, 6] and tree.by_number(3).id == q2  # type: ignore[union-attr]
    assert tree.deepest_latest(q1) == a2 and tree.deepest_latest(q2) == q2 + 1
    assert tree.branch_points() == (a1,) and tree.branches() == 2
    assert tree.nodes[edited].preview == "second question, edited" and tree.nodes[q1].question
    store.set_leaf(cid, q2 + 1)
    assert store.history_for_model(cid)[2:] == [("user", "second question"), ("assistant", "second answer")]
    assert store.history_for_model(cid, a2)[-1] == ("assistant", "another answer")  # any leaf, on request


def test_set_leaf_refuses_a_message_of_another_conversation(store: Store) -> None:
    one, two = store.start_conversation(), store.start_conversation()
    mid = store.add_message(one, "user", "hi")
    with pytest.raises(UsageError, match=f"no message {mid} in conversation {two}"):
        store.set_leaf(two, mid)
    with pytest.raises(UsageError, match="no message 999"):
        store.set_leaf(one, 999)
    assert store.leaf(one) == mid and store.leaf(two) is None


def test_a_cancelled_question_moves_the_leaf_back_and_asking_again_moves_it_forward(store: Store) -> None:
    cid = store.start_conversation()
    store.add_message(cid, "user", "kept")
    answer = store.begin_reply(cid)
    store.update_reply(answer, "yes", status="complete")
    q = store.add_message(cid, "user", "stopped before any reply")
    store.set_question_status(q, "interrupted")
    assert store.leaf(cid) == answer and store.cancelled_question(cid) is not None
    store.set_question_status(q, "complete")
    assert store.leaf(cid) == q and store.cancelled_question(cid) is None


def test_fork_copies_the_path_its_tool_calls_and_attachment_links_but_not_the_blobs(store: Store) -> None:
    cid = store.start_conversation("m", "sys")
    blocks, blobs = blocks_and_blobs((Image("image/png", PNG, "a.png"), Text("what is it?")))
    q = store.add_message(cid, "user", "what is it?", blocks=blocks, blobs=blobs)
    off = store.begin_reply(cid)
    store.update_reply(off, "an answer on another branch", status="complete")
    store.set_leaf(cid, q)
    reply = store.begin_reply(cid)
    store.update_reply(reply, "a picture", status="complete")
    store.start_tool_call(reply, "call_1", "read_file", "{}")
    copy = store.fork(cid)
    assert copy != cid and store.history_messages(copy) == store.history_messages(cid)
    assert [m.content for m in store.messages(copy)] == ["what is it?", "a picture"]  # the path only
    assert store.tool_calls(copy) == {"call_1": "running"} and store.latest_system(copy) == "sys"
    with closing(sqlite3.connect(store.path)) as conn:
        assert conn.execute("SELECT count(*) FROM blobs").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM message_blobs").fetchone() == (2,)


def test_deleting_a_conversation_deletes_every_branch_and_the_blobs_nothing_else_uses(store: Store) -> None:
    shared = (Image("image/png", PNG, "shared.png"), Text("shared"))
    own = (Image("image/png", PNG + b"own", "own.png"), Text("own"))
    keep = store.start_conversation()
    store.add_message(keep, "user", "shared", **_blocks(shared))
    gone = store.start_conversation()
    q = store.add_message(gone, "user", "own", **_blocks(own))
    store.add_message(gone, "user", "shared on a branch", **_blocks(shared), parent=None)  # a second root
    store.add_message(gone, "user", "under the first", parent=q)
    assert store.tree(gone).branches() == 2
    assert store.delete_conversation(gone)
    with closing(sqlite3.connect(store.path)) as conn:
        assert conn.execute("SELECT count(*) FROM messages WHERE conversation_id = ?", (gone,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM blobs").fetchone() == (1,)  # the shared one
    assert store.history_messages(keep)[0].blocks[0] == shared[0]


def _blocks(blocks: tuple[Image, Text]) -> dict[str, Any]:
    stored, blobs = blocks_and_blobs(blocks)
    return {"blocks": stored, "blobs": blobs}
