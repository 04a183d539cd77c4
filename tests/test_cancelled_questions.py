"""A question cancelled before any reply is kept aside, never sent again on its own.

Ctrl-C while waiting for the first token of a question takes the question
back: it stays in the history, marked cancelled, the line after the Ctrl-C
says so, the next question goes alone, `/retry` asks the cancelled one
again, and `chinwag -c` does not bring it back to be sent. Driven as a
person would: the installed `chinwag` in a pseudo-terminal, a real SIGINT,
a scripted Anthropic server on 127.0.0.1 holding back its first token.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import anthropic_env, finish, run_chinwag, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


def _cancel_first_question(server: ScriptedServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`first question`, Ctrl-C before its first token; the chat at `You:` again."""
    held = Reply(chunks=["never shown"], hold_after=0)
    server.enqueue(held)
    child = spawn_chinwag([], anthropic_env(tmp_path, server.base_url))
    child.expect("You: ")
    child.sendline("first question")
    assert server.wait_requests(1, timeout=10)
    child.sendintr()
    child.expect("cancelled before a reply; not sent again")
    child.expect("/retry asks it again")
    child.expect("You: ")
    held.release.set()
    return child


def _last_user_messages(server: ScriptedServer) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in server.requests if r.method == "POST" and r.json]


def test_the_next_question_goes_alone_after_a_cancelled_one(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = _cancel_first_question(scripted_server, tmp_path)
    scripted_server.enqueue(Reply(chunks=["Second answer."]))
    child.sendline("second question")
    child.expect("Second answer.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    second = scripted_server.requests[1].json
    assert second["messages"] == [{"role": "user", "content": "second question"}]

    # It stays in the history, marked; `-c` does not send it again.
    env = anthropic_env(tmp_path, scripted_server.base_url)
    shown = run_chinwag(["history", "show", "last"], env)
    assert "You: first question" in shown.stdout
    assert "cancelled before a reply; not sent again" in shown.stdout
    assert "never shown" not in shown.stdout
    assert " · 1 turn" in shown.stdout  # a cancelled question is no turn
    scripted_server.enqueue(Reply(chunks=["Third."]))
    resumed = run_chinwag(["-c", "third question"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert scripted_server.requests[-1].json["messages"] == [
        {"role": "user", "content": "second question"},
        {"role": "assistant", "content": "Second answer."},
        {"role": "user", "content": "third question"},
    ]


def test_retry_after_a_cancel_asks_the_cancelled_question(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = _cancel_first_question(scripted_server, tmp_path)
    scripted_server.enqueue(Reply(chunks=["First answer."]), Reply(chunks=["Next answer."]))
    child.sendline("/retry")
    child.expect("First answer.")
    child.expect("You: ")
    child.sendline("next question")
    child.expect("Next answer.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert _last_user_messages(scripted_server) == ["first question", "first question", "next question"]
    assert scripted_server.requests[1].json["messages"] == [{"role": "user", "content": "first question"}]

    # Asked again, it is no longer marked, and `-c` brings back the whole exchange.
    env = anthropic_env(tmp_path, scripted_server.base_url)
    shown = run_chinwag(["history", "show", "last"], env)
    assert "cancelled before a reply" not in shown.stdout
    scripted_server.enqueue(Reply(chunks=["Fine."]))
    assert run_chinwag(["-c", "more"], env).returncode == 0
    assert [m["content"] for m in scripted_server.requests[-1].json["messages"]] == [
        "first question", "First answer.", "next question", "Next answer.", "more"]


def test_retry_after_a_restart_asks_the_question_cancelled_last_time(scripted_server: ScriptedServer,
                                                                     tmp_path: Path) -> None:
    child = _cancel_first_question(scripted_server, tmp_path)
    child.sendline("quit")
    assert finish(child) == 0
    scripted_server.enqueue(Reply(chunks=["Answered at last."]))
    child = spawn_chinwag(["-c"], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("/retry")
    child.expect("Answered at last.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert scripted_server.requests[-1].json["messages"] == [{"role": "user", "content": "first question"}]
    shown = run_chinwag(["history", "show", "last"], anthropic_env(tmp_path, scripted_server.base_url)).stdout
    assert "cancelled before a reply" not in shown and "Answered at last." in shown
