"""`/system` is saved with the questions it goes with.

After `/system You are a pirate.`, `history show` shows the change where it
happened, and `chinwag -c` sends the pirate prompt, not the default. Driven
through the installed `chinwag` in a pseudo-terminal against the scripted
Anthropic server. The schema migration that holds it (m005) is tested on a
database as the previous schema left it (tests/old_history.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pexpect

from chinwag.config import DEFAULT_SYSTEM
from chinwag.history.store import Store
from chinwag.history.schema import CANCELLED_QUESTION, MIGRATIONS
from tests.cli_helpers import anthropic_env, leave_chat, run_chinwag, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.old_history import database_as_of

PIRATE = "You are a pirate."


def test_system_set_in_the_chat_is_shown_in_history_and_sent_by_continue(scripted_server: ScriptedServer,
                                                                         tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Hello."]), Reply(chunks=["Arr."]), Reply(chunks=["Arr again."]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = spawn_chinwag([], env)
    child.expect("You: ")
    child.sendline("hi")
    child.expect("Hello.")
    child.expect("You: ")
    child.sendline(f"/system {PIRATE}")
    child.expect("System prompt set.")
    child.expect("You: ")
    child.sendline("ahoy")
    child.expect("Arr.")
    leave_chat(child)
    assert [r.json["system"] for r in scripted_server.requests] == [DEFAULT_SYSTEM, PIRATE]

    shown = run_chinwag(["history", "show", "last"], env).stdout
    assert f"System: {DEFAULT_SYSTEM}" in shown
    assert shown.index("You: hi") < shown.index(f"System (changed): {PIRATE}") < shown.index("You: ahoy")
    exported = run_chinwag(["history", "export", "last", "--format", "md"], env).stdout
    assert "System prompt (changed)" in exported and PIRATE in exported

    resumed = run_chinwag(["-c", "and now?"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert scripted_server.requests[-1].json["system"] == PIRATE


def test_m005_migrates_a_database_as_the_previous_schema_left_it(scripted_server: ScriptedServer,
                                                                 tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    previous = [name for name, _ in MIGRATIONS].index("m005_system_prompt_per_turn")
    with database_as_of(db, previous) as conn:
        now = time.time()
        conn.execute("INSERT INTO conversations VALUES (1, ?, ?, 'claude-sonnet-4-20250514', 'Be old.')", (now, now))
        conn.execute("INSERT INTO messages (conversation_id, role, content, status, created_at, updated_at)"
                     " VALUES (1, 'user', 'old question', 'complete', ?, ?)", (now, now))
        conn.execute("INSERT INTO messages (conversation_id, role, content, status, model, created_at, updated_at)"
                     " VALUES (1, 'assistant', 'old answer', 'complete', 'claude-sonnet-4-20250514', ?, ?)",
                     (now, now))
    store = Store.open(db)
    try:
        assert [(m.content, m.system) for m in store.messages(1)] == [("old question", None), ("old answer", None)]
        assert store.latest_system(1) == "Be old."
    finally:
        store.close()

    # The chat goes on over the migrated file: -c sends the old prompt, a new one is saved per turn.
    scripted_server.enqueue(Reply(chunks=["Still here."]), Reply(chunks=["Arr."]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["-c", "new question"], env).returncode == 0
    assert scripted_server.requests[0].json["system"] == "Be old."
    assert run_chinwag(["-c", "-s", PIRATE, "as a pirate"], env).returncode == 0
    saved = json.loads(run_chinwag(["history", "show", "1", "--json"], env).stdout)["messages"]
    assert [(m["content"], m["system"]) for m in saved if m["role"] == "user"] == [
        ("old question", None), ("new question", None), ("as a pirate", PIRATE)]


TERSE = "Be terse."


def terse_then_retry(child: pexpect.spawn, answer: str) -> None:
    """In the chat: `/system Be terse.`, then `/retry`, answered `answer`; then quit."""
    child.sendline(f"/system {TERSE}")
    child.expect("System prompt set.")
    child.expect("You: ")
    child.sendline("/retry")
    child.expect(answer)
    leave_chat(child)


def test_retry_after_system_saves_what_it_sent(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """`/system Be terse.` then `/retry`: the retried request goes with the new prompt, and
    the saved conversation says so at once (history show, --json, -c), not only with the
    next question. The old answer stays, on its branch, with the prompt it was given."""
    scripted_server.enqueue(Reply(chunks=["A long answer."]), Reply(chunks=["Short."]), Reply(chunks=["Still short."]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = spawn_chinwag([], env)
    child.expect("You: ")
    child.sendline("explain tides")
    child.expect("A long answer.")
    child.expect("You: ")
    terse_then_retry(child, "Short.")
    sent = [r.json for r in scripted_server.requests]
    assert [r["system"] for r in sent] == [DEFAULT_SYSTEM, TERSE]
    assert sent[1]["messages"] == [{"role": "user", "content": "explain tides"}]

    saved = json.loads(run_chinwag(["history", "show", "last", "--json"], env).stdout)["messages"]
    # The path shown is the current branch: the question as retried, with its prompt, and the new answer.
    assert [(m["role"], m["content"], m["system"]) for m in saved] == [
        ("user", "explain tides", TERSE), ("assistant", "Short.", None)]
    shown = run_chinwag(["history", "show", "last"], env).stdout
    assert shown.index(f"System (changed): {TERSE}") < shown.index("You: explain tides") < shown.index("Short.")

    resumed = run_chinwag(["-c", "and why?"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert scripted_server.requests[-1].json["system"] == TERSE
    assert [m["content"] for m in scripted_server.requests[-1].json["messages"]] == [
        "explain tides", "Short.", "and why?"]


def test_retry_of_a_cancelled_question_after_system_saves_what_it_sent(scripted_server: ScriptedServer,
                                                                        tmp_path: Path) -> None:
    """Ctrl-C (a real SIGINT) before the first token takes the question back; `/system Be
    terse.` then `/retry` asks it with the new prompt, saved with it; the cancelled one
    stays cancelled, with the prompt it went with."""
    held = Reply(chunks=["never shown"], hold_after=0)
    scripted_server.enqueue(held)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = spawn_chinwag([], env)
    child.expect("You: ")
    child.sendline("explain tides")
    assert scripted_server.wait_requests(1, timeout=10)
    child.sendintr()
    child.expect("/retry asks it again")
    child.expect("You: ")
    held.release.set()
    scripted_server.enqueue(Reply(chunks=["Short."]))
    terse_then_retry(child, "Short.")
    assert [r.json["system"] for r in scripted_server.requests] == [DEFAULT_SYSTEM, TERSE]

    saved = json.loads(run_chinwag(["history", "show", "last", "--json"], env).stdout)["messages"]
    # The cancelled question is shown where it was, marked; the one asked again follows it.
    assert [(m["role"], m["content"], m["system"], m["status"]) for m in saved] == [
        ("user", "explain tides", None, CANCELLED_QUESTION), ("user", "explain tides", TERSE, "complete"),
        ("assistant", "Short.", None, "complete")]
    scripted_server.enqueue(Reply(chunks=["Still short."]))
    assert run_chinwag(["-c", "and why?"], env).returncode == 0
    assert scripted_server.requests[-1].json["system"] == TERSE


def test_retry_after_system_of_a_reply_after_tool_results_saves_what_it_sent(scripted_server: ScriptedServer,
                                                                              tmp_path: Path) -> None:
    """The reply /retry asks again follows a tool's results: the call does not run again
    (the results are sent as saved), and the new prompt is saved with them, beside the
    old ones, so history show, --json and -c say what the retry was sent with."""
    from tests.fakes.tool_wire import anthropic_calls

    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("the notes say hello\n")
    scripted_server.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": "notes.txt"})]),
                            Reply(chunks=["The notes say hello, at length."]), Reply(chunks=["Hello."]))
    env = anthropic_env(tmp_path / "home", scripted_server.base_url)
    child = spawn_chinwag(["-T", "read_file"], env, cwd=work)
    child.expect("You: ")
    child.sendline("what do the notes say?")
    child.expect("at length.")
    child.expect("You: ")
    terse_then_retry(child, "Hello.")
    sent = [r.json for r in scripted_server.requests]
    assert [r["system"] for r in sent] == [DEFAULT_SYSTEM, DEFAULT_SYSTEM, TERSE]
    assert sent[2]["messages"] == sent[1]["messages"]  # the same results, not a second call

    saved = json.loads(run_chinwag(["history", "show", "last", "--json"], env).stdout)["messages"]
    assert [(m["role"], m["system"]) for m in saved] == [("user", None), ("assistant", None), ("user", TERSE),
                                                          ("assistant", None)]
    assert saved[-1]["content"] == "Hello."
    shown = run_chinwag(["history", "show", "last"], env).stdout
    assert shown.index("read_file") < shown.index(f"System (changed): {TERSE}") < shown.index("Hello.")
    scripted_server.enqueue(Reply(chunks=["Still short."]))
    assert run_chinwag(["-c", "and?"], env, cwd=work).returncode == 0
    assert scripted_server.requests[-1].json["system"] == TERSE
