"""Conversations as trees through the Python API (issue 21): `chat.edit`,
`chat.retry` keeping the old reply, `chat.undo`, `chat.switch`, `chat.tree`,
`chat.fork`, `Reply.message_id`, `Chat(resume=ID)`, over real HTTP to the
scripted server on both wire formats, saving to a real history database.

What the server receives is checked on every step: exactly the path from the
root to the current leaf, never a message of another branch."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage

from chinwag import Chat
from chinwag.errors import UsageError
from tests.fakes.server import Reply, ScriptedServer

CLAUDE, GPT = "claude-sonnet-4-20250514", "gpt-4o-mini"
WIRES = ["anthropic", "openai"]


def chat(wire: str, server: ScriptedServer, home: Path, **kwargs: Any) -> Chat:
    model = f"anthropic:{CLAUDE}" if wire == "anthropic" else f"openai:{GPT}"
    base = server.base_url if wire == "anthropic" else server.base_url + "/v1"
    return Chat(model, base_url=base, api_key="test-key", environ={"CHINWAG_HOME": str(home)}, cwd=home, **kwargs)


def sent(server: ScriptedServer, index: int = -1) -> list[tuple[str, str]]:
    """The (role, text) of each message request `index` carried, on either wire
    (the system prompt, which OpenAI carries as a message, left out)."""
    out = []
    for message in server.requests[index].json["messages"]:
        if message["role"] == "system":
            continue
        content = message["content"]
        text = content if isinstance(content, str) else "".join(
            p.get("text", "") for p in content if p.get("type") == "text")
        out.append((message["role"], text))
    return out


def replies(server: ScriptedServer, *texts: str) -> None:
    server.enqueue(*(Reply(chunks=[t]) for t in texts))


def count(db: Path, table: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.mark.parametrize("wire", WIRES)
def test_retry_edit_switch_and_undo_send_the_path_and_nothing_else(
        scripted_server: ScriptedServer, tmp_path: Path, wire: str) -> None:
    replies(scripted_server, "A1", "A2", "A2 again", "A3", "A4", "A5")
    with chat(wire, scripted_server, tmp_path) as c:
        c.ask("Q1")
        first = c.ask("Q2")
        again = c.retry()
        assert sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2")]
        tree = c.tree()
        assert first.message_id is not None and again.message_id is not None
        assert tree.siblings(again.message_id) == (first.message_id, again.message_id)  # retry kept the old
        q2 = tree.nodes[first.message_id].parent_id
        assert q2 is not None
        edited = c.edit(q2, "Q2 edited")
        assert sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2 edited")]
        assert edited.text == "A3" and [m.content for m in c.messages] == ["Q1", "A1", "Q2 edited", "A3"]
        shown = c.switch(first.message_id)  # back to the first reply's branch
        assert [m.content for m in shown] == ["Q2", "A2"]  # from where it leaves the edited path
        c.ask("Q3")
        assert sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2"),
                                         ("assistant", "A2"), ("user", "Q3")]
        c.undo()  # back to before Q3
        assert [m.content for m in c.messages] == ["Q1", "A1", "Q2", "A2"]
        c.ask("Q3, put otherwise")
        assert sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2"),
                                         ("assistant", "A2"), ("user", "Q3, put otherwise")]
        tree = c.tree()
        assert len(tree) == 11 and tree.branches() == 4  # A2 again, A3, A4 and A5 are the leaves
        assert [n.number for n in tree.path()] == [1, 2, 3, 4, 10, 11]
    assert count(tmp_path / "history.db", "messages") == 11  # each branch added only its new messages


@pytest.mark.parametrize("wire", WIRES)
def test_resume_continues_the_current_leaf_and_at_continues_another(
        scripted_server: ScriptedServer, tmp_path: Path, wire: str) -> None:
    replies(scripted_server, "A1", "A2", "A1 again", "A3", "A4")
    with chat(wire, scripted_server, tmp_path) as c:
        first = c.ask("Q1")
        c.ask("Q2")
        c.undo()
        c.retry()  # the leaf is now the second reply to Q1
        cid = c.conversation_id
    with chat(wire, scripted_server, tmp_path, resume=cid) as c:
        assert [m.content for m in c.messages] == ["Q1", "A1 again"]
        c.ask("Q3")
        assert sent(scripted_server) == [("user", "Q1"), ("assistant", "A1 again"), ("user", "Q3")]
    with chat(wire, scripted_server, tmp_path, resume=cid, at=first.message_id) as c:  # a search hit's id
        c.ask("Q4")  # on the branch through it, at its newest leaf
        assert sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2"),
                                         ("user", "Q4")]
    with pytest.raises(UsageError, match=f"no message 999 in conversation {cid}"):
        chat(wire, scripted_server, tmp_path, resume=cid, at=999)


def test_an_edit_keeps_the_attachments_and_stores_no_second_copy(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    png = tmp_path / "diagram.png"
    PILImage.new("RGB", (64, 48), (200, 30, 60)).save(png, "PNG")
    replies(scripted_server, "A red square.", "Red.")
    with chat("anthropic", scripted_server, tmp_path) as c:
        c.ask("what is this?", [png])
        question = c.tree().path()[0]
        c.edit(question.id, "which colour is it?")
    last = scripted_server.requests[-1].json["messages"][-1]["content"]
    assert [p["type"] for p in last] == ["image", "text"] and last[-1]["text"] == "which colour is it?"
    assert last[0] == scripted_server.requests[0].json["messages"][-1]["content"][0]
    assert count(tmp_path / "history.db", "blobs") == 1 and count(tmp_path / "history.db", "message_blobs") == 2


def test_bad_ids_are_one_line_usage_errors_and_nothing_moves(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    replies(scripted_server, "A1")
    with chat("anthropic", scripted_server, tmp_path) as c:
        with pytest.raises(UsageError, match="nothing to undo"):
            c.undo()
        reply = c.ask("Q1")
        with pytest.raises(UsageError, match="no message 999 in this conversation"):
            c.edit(999, "x")
        with pytest.raises(UsageError, match="the model's, not yours.*/retry"):
            c.edit(reply.message_id or 0, "x")
        with pytest.raises(UsageError, match="no message 999"):
            c.switch(999)
        with pytest.raises(UsageError, match="empty"):
            c.edit(c.tree().path()[0].id, "  ")
        assert [m.content for m in c.messages] == ["Q1", "A1"] and c.tree().leaf == reply.message_id
        session = c._session  # the page's calls, on the session
        assert session.leaf == reply.message_id and session.message(reply.message_id or 0).content == "A1"
        session.set_leaf(session.tree().path()[0].id)
        assert [m.content for m in c.messages] == ["Q1"] and session.leaf == c.tree().path()[0].id
        with pytest.raises(UsageError, match="no message 999"):
            session.set_leaf(999)
        c.undo()
        assert c.messages == [] and session.leaf is None
        with pytest.raises(UsageError, match="nothing to undo"):
            c.undo()
    assert len(scripted_server.requests) == 1


def test_fork_copies_the_path_into_a_new_conversation_and_goes_on_there(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    replies(scripted_server, "A1", "A1 again", "A2")
    with chat("anthropic", scripted_server, tmp_path) as c:
        c.ask("Q1")
        c.retry()
        old = c.conversation_id
        copy = c.fork()
        assert copy != old and c.conversation_id == copy
        assert [n.preview for n in c.tree().path()] == ["Q1", "A1 again"] and len(c.tree()) == 2
        c.ask("Q2")
        assert sent(scripted_server) == [("user", "Q1"), ("assistant", "A1 again"), ("user", "Q2")]
    with chat("anthropic", scripted_server, tmp_path, resume=old) as c:
        assert len(c.tree()) == 3  # the original is untouched


def test_without_a_history_the_tree_is_refused_in_one_line_and_undo_drops_the_exchange(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    replies(scripted_server, "A1", "A2", "A2 again")
    with chat("anthropic", scripted_server, tmp_path, save=False) as c:
        c.ask("Q1")
        reply = c.ask("Q2")
        assert reply.message_id is None
        for call in (c.tree, lambda: c.edit(1, "x"), lambda: c.switch(1), c.fork):
            with pytest.raises(UsageError, match="needs saved history, and this chat is not saved"):
                call()
        c.retry()
        assert [m.content for m in c.messages] == ["Q1", "A1", "Q2", "A2 again"]
        c.undo()
        assert [m.content for m in c.messages] == ["Q1", "A1"]
    assert not (tmp_path / "history.db").exists()


def test_a_history_locked_by_another_process_refuses_a_move_in_one_line_and_the_chat_goes_on(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """The lock is held by a real second connection (BEGIN IMMEDIATE), as another chinwag writing would."""
    replies(scripted_server, "A1", "A2", "A3")
    with chat("anthropic", scripted_server, tmp_path) as c:
        c.ask("Q1")
        second = c.ask("Q2")
        with closing(sqlite3.connect(tmp_path / "history.db", isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            assert c.tree().leaf == second.message_id  # reading is not in its way
            with pytest.raises(UsageError, match=r"cannot be used just now \(locked by another process\)"):
                c.undo()
            assert [m.content for m in c.messages] == ["Q1", "A1", "Q2", "A2"]  # nothing moved
            other.execute("ROLLBACK")
        c.undo()
        c.ask("Q2 again")
    assert sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2 again")]
