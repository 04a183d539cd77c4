"""What holds on a line holds on every branch (issue 21): a reply streaming on
a new branch is saved as it streams, so `kill -9` loses nothing that was
shown; and a tool call is never run again: editing the question before it
asks the model afresh, and a branch after it sends the saved call and result.
Real processes, real HTTP to the scripted server, a real shell tool, a real
history database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from chinwag import Chat
from chinwag.config import ToolSettings
from chinwag.history.store import Store
from chinwag.toolloop import ToolUse
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls, openai_calls

CLAUDE, GPT = "claude-sonnet-4-20250514", "gpt-4o-mini"
ROOT = Path(__file__).resolve().parent.parent


def chat(wire: str, server: ScriptedServer, home: Path, **kwargs: Any) -> Chat:
    model = f"anthropic:{CLAUDE}" if wire == "anthropic" else f"openai:{GPT}"
    base = server.base_url if wire == "anthropic" else server.base_url + "/v1"
    return Chat(model, base_url=base, api_key="test-key", environ={"CHINWAG_HOME": str(home)}, cwd=home, **kwargs)


def _saved_reply_contains(db: Path, text: str) -> bool:
    try:
        with closing(sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT content FROM messages WHERE role = 'assistant'").fetchall()
    except sqlite3.OperationalError:  # busy
        return False
    return any(text in (content or "") for content, in rows)


# The edit's turn streamed and printed as `Chat.stream` does, in a process of its own (killed below).
EDITOR = """
import sys
from chinwag import Chat
from chinwag.driver import TurnDriver
home, url, cid, mid = sys.argv[1:]
chat = Chat("anthropic:claude-sonnet-4-20250514", base_url=url, api_key="test-key",
            environ={"CHINWAG_HOME": home}, resume=int(cid))
for event in TurnDriver(chat._session.begin_edit(int(mid), "the question, put better")).pull():
    if event.type == "text":
        print(event.text, end="", flush=True)
"""


def test_kill_9_mid_reply_on_a_new_branch_keeps_what_was_shown_and_the_old_branch(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["The first answer."]))
    with chat("anthropic", scripted_server, tmp_path) as c:
        first = c.ask("the question")
        cid, question = c.conversation_id, c.tree().path()[0].id
    held = Reply(chunks=["Shown before ", "the crash", " never shown"], hold_after=2)
    scripted_server.enqueue(held)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen([sys.executable, "-c", EDITOR, str(tmp_path), scripted_server.base_url, str(cid),
                              str(question)], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout is not None
        shown = b""
        while b"Shown before the crash" not in shown:
            chunk = child.stdout.read1(100)
            assert chunk, "the child ended before the text was shown"
            shown += chunk
        deadline = time.monotonic() + 20
        while not _saved_reply_contains(tmp_path / "history.db", "Shown before the crash"):  # the 250 ms interval
            assert time.monotonic() < deadline, "the reply so far was never saved"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
        held.release.set()
    assert child.returncode == -signal.SIGKILL
    with closing(Store.open(tmp_path / "history.db")) as store:  # marks the abandoned reply interrupted
        tree = store.tree(cid or 0)
        edited, reply = tree.path()
        assert tree.siblings(edited.id) == (question, edited.id)  # a new branch beside the old question
        assert tree.path(first.message_id)[-1].id == first.message_id  # the old branch is whole
        saved = store.message(reply.id)
        assert saved is not None and (saved.content, saved.status) == ("Shown before the crash", "interrupted")
    scripted_server.enqueue(Reply(chunks=["Go on."]))
    with chat("anthropic", scripted_server, tmp_path, resume=cid) as c:
        c.ask("and then?")
    assert scripted_server.requests[-1].json["messages"] == [
        {"role": "user", "content": "the question, put better"},
        {"role": "assistant", "content": "Shown before the crash"},
        {"role": "user", "content": "and then?"}]


@pytest.fixture
def shell_chat(request: pytest.FixtureRequest, scripted_server: ScriptedServer,
               tmp_path: Path) -> Iterator[tuple[Chat, str]]:
    """A Chat with the shell tool, every call approved (--yes), attached to its
    session as `chinwag serve` attaches the tools (Chat itself takes no tools)."""
    wire = request.param
    c = chat(wire, scripted_server, tmp_path)
    session = c._session
    session.tool_use = ToolUse(ToolSettings(enabled=("shell",), yes=True), tmp_path, {"PATH": os.environ["PATH"]},
                               None)
    session.tool_use.start()
    with c:
        yield c, wire


def _calls(wire: str) -> Reply:
    call = [("call_1", "shell", {"command": "echo ran >> marker.txt"})]
    return anthropic_calls(call) if wire == "anthropic" else openai_calls(call)


def _has_tool_traffic(body: dict[str, Any]) -> bool:
    text = repr(body["messages"])
    return "tool_use" in text or "tool_result" in text or "tool_calls" in text or "'tool'" in text


@pytest.mark.parametrize("shell_chat", ["anthropic", "openai"], indirect=True)
def test_an_edit_before_a_tool_call_asks_afresh_and_never_runs_the_call_again(
        shell_chat: tuple[Chat, str], scripted_server: ScriptedServer, tmp_path: Path) -> None:
    c, wire = shell_chat
    scripted_server.enqueue(_calls(wire), Reply(chunks=["Done once."]), Reply(chunks=["Fine, no shell."]),
                            Reply(chunks=["Still once."]))
    c.ask("run it")
    assert (tmp_path / "marker.txt").read_text() == "ran\n" and len(scripted_server.requests) == 2
    question = c.tree().path()[0].id
    edited = c.edit(question, "do not run anything")
    assert edited.text == "Fine, no shell." and len(scripted_server.requests) == 3
    body = scripted_server.requests[2].json
    assert not _has_tool_traffic(body)  # the new branch asks the model afresh: no call, no result
    assert [m["content"] for m in body["messages"] if m["role"] == "user"] == ["do not run anything"]
    # Back on the branch with the call, a new question sends the saved call and its result, runs nothing.
    c.switch(c.tree().by_number(1).id)  # type: ignore[union-attr]
    assert [m.content for m in c.messages][-1] == "Done once."
    c.ask("and?")
    assert _has_tool_traffic(scripted_server.requests[3].json)
    assert (tmp_path / "marker.txt").read_text() == "ran\n"  # once, ever
    with closing(sqlite3.connect(tmp_path / "history.db")) as conn:
        assert conn.execute("SELECT count(*) FROM tool_calls").fetchone() == (1,)


# -- the system prompt a branch was sent with ------------------------------------------------

def test_continuing_after_an_edit_sends_the_system_prompt_the_chat_sent(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """/system sets `conversation.system` as below; then an edit of the first question is a new root."""
    scripted_server.enqueue(Reply(chunks=["A1"]), Reply(chunks=["A2"]), Reply(chunks=["A1'"]), Reply(chunks=["A3"]))
    with chat("anthropic", scripted_server, tmp_path) as c:
        c.ask("Q1")
        c._session.conversation.system = "Be terse."
        c.ask("Q2")  # saved with the new prompt
        c.edit(c.tree().path()[0].id, "Q1, edited")  # a new root, sent with "Be terse." too
        assert scripted_server.requests[-1].json["system"] == "Be terse."
        cid = c.conversation_id
    with chat("anthropic", scripted_server, tmp_path, resume=cid) as c:
        c.ask("Q3")
    assert scripted_server.requests[-1].json["system"] == "Be terse."


def test_continuing_after_a_cancelled_question_sends_the_system_prompt_the_chat_sent(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """The installed chinwag in a pseudo-terminal, a real SIGINT before the first token."""
    from tests.cli_helpers import anthropic_env, finish, run_chinwag, spawn_chinwag

    held = Reply(chunks=["never shown"], hold_after=0)
    scripted_server.enqueue(Reply(chunks=["A1"]), held, Reply(chunks=["A3"]), Reply(chunks=["A4"]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = spawn_chinwag([], env)
    child.expect("You: ")
    child.sendline("Q1")
    child.expect("A1")
    child.expect("You: ")
    child.sendline("/system Be terse.")
    child.expect("You: ")
    child.sendline("Q2, saved with the new prompt")
    assert scripted_server.wait_requests(2, timeout=10)
    child.sendintr()
    child.expect("cancelled before a reply")
    child.expect("You: ")
    held.release.set()
    child.sendline("Q3")
    child.expect("A3")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert scripted_server.requests[2].json["system"] == "Be terse."
    assert run_chinwag(["-c", "Q4"], env).returncode == 0
    assert scripted_server.requests[3].json["system"] == "Be terse."
    assert [m["content"] for m in scripted_server.requests[3].json["messages"]] == ["Q1", "A1", "Q3", "A3", "Q4"]
