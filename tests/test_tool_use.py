"""Tool use as a person and a script meet it, end to end: the installed
`chinwag` against the scripted server (both wires), in a temp working directory.

A call's line and its summary on screen (stderr in one-shot use, stdout keeps
only the answer); the next request carries the result. Calls that need a
person ask one at a time ([y]es, [a]lways, [n]o with a reason), in one-shot
use on stderr; with no terminal they are denied, never waited on, unless
--yes. The round limit, Ctrl-C while a tool runs and kill -9 of chinwag
mid-call leave every call answered and none run twice. The bundled model
says once it cannot call tools. MCP servers (tests/mcp_servers/demo.py) are
listed by /tools and approved by their annotations; a request waits for
servers still starting. Thinking streams dim and goes back signed. Hostile
tool output never reaches the terminal raw, while the model gets it as it was.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.cli_helpers import (
    anthropic_env,
    chat_in,
    chinwag_env,
    finish,
    imported_modules,
    run_chinwag,
    say,
    spawn_chinwag,
)
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.procs import group_members
from tests.wires import calls, env_for

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "title \x1b]0;pwned\x07 clear \x1b[2J end\n"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "notes.txt").write_text("buy milk\n")
    return folder


def results_sent(request: Any) -> list[dict[str, Any]]:
    """The tool results the request's last message carries, in one shape for both wires:
    {"id", "content", "is_error"}."""
    body = request.json
    if "anthropic-version" in request.headers:
        last = body["messages"][-1]
        return [{"id": b["tool_use_id"], "content": b["content"], "is_error": b.get("is_error", False)}
                for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    tail = []
    for message in reversed(body["messages"]):
        if message["role"] != "tool":
            break
        tail.insert(0, {"id": message["tool_call_id"], "content": message["content"], "is_error": None})
    return tail


def quit_chat(child: pexpect.spawn) -> None:
    child.sendline("quit")
    assert finish(child) == 0


def stored(home: Path) -> list[dict[str, Any]]:
    """The latest saved conversation's messages, as `history show --json` gives them."""
    out = run_chinwag(["history", "show", "last", "--json"], chinwag_env(home))
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout)["messages"])


def stored_blocks(home: Path) -> list[dict[str, Any]]:
    return [b for m in stored(home) for b in m["blocks"]]


# -- 1. one call on each wire ---------------------------------------------------

@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_a_read_in_the_working_directory_runs_without_asking_and_its_result_goes_back(
        wire: str, work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(calls(wire, ("call_1", "read_file", {"path": "notes.txt"})),
                   Reply(chunks=["You need ", "milk."]))
    child = chat_in(env_for(wire, home, server), work, "-T", "read_file")
    say(child, "what do I need?")
    child.expect_exact('⚙ read_file(path="notes.txt")')
    child.expect_exact("↳ 1 line")
    child.expect_exact("You need milk.")
    child.expect("You: ")
    assert "Allow?" not in child.before
    quit_chat(child)
    assert len(server.requests) == 2
    assert results_sent(server.requests[1]) == [
        {"id": "call_1", "content": "buy milk\n", "is_error": False if wire == "anthropic" else None}]


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_one_shot_puts_tool_lines_on_stderr_and_only_the_answer_on_stdout(
        wire: str, work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(calls(wire, ("call_1", "read_file", {"path": "notes.txt"})),
                   Reply(chunks=["You need ", "milk."]))
    out = run_chinwag(["-T", "read_file", "what do I need?"], env_for(wire, home, server), cwd=work)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "You need milk.\n"
    # Off a terminal, "running" is one plain line (on one, it counts seconds in place).
    assert '⚙ read_file(path="notes.txt")\n⚙ read_file … running\n↳ 1 line\n' in out.stderr
    assert results_sent(server.requests[1])[0]["content"] == "buy milk\n"


# -- 2. parallel calls, each approved on its own -------------------------------

@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_parallel_calls_run_in_order_each_asked_and_a_denial_goes_back_with_the_reason(
        wire: str, work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(calls(wire, ("call_1", "shell", {"command": "echo one > one.txt"}),
                         ("call_2", "shell", {"command": "echo two > two.txt"})),
                   Reply(chunks=["Done."]))
    child = chat_in(env_for(wire, home, server), work, "-T", "shell")
    say(child, "make two files")
    # Both calls' lines arrive with the reply; each question names the call it is about.
    child.expect_exact("⚙ shell asks because it runs a command")
    child.expect_exact("│ echo one > one.txt")
    child.expect_exact("Allow?")
    child.sendline("y")
    child.expect_exact("⚙ shell asks because it runs a command")
    child.expect_exact("│ echo two > two.txt")
    assert (work / "one.txt").read_text() == "one\n"  # the first ran before the second was asked
    child.expect_exact("Allow?")
    child.sendline("n")
    child.expect_exact("Why?")
    child.sendline("not two files")
    child.expect_exact("↳ denied: not two files")
    child.expect_exact("Done.")
    child.expect("You: ")
    quit_chat(child)
    assert not (work / "two.txt").exists()
    sent = results_sent(server.requests[1])
    assert [r["id"] for r in sent] == ["call_1", "call_2"]
    if wire == "anthropic":
        assert sent[1]["content"] == "denied by the user: not two files"
        assert sent[0]["is_error"] is False and sent[1]["is_error"] is True
    else:  # chat completions have no error flag: the text says it
        assert sent[1]["content"] == "error: denied by the user: not two files"


# -- 3. [a]lways -----------------------------------------------------------------

def test_always_lets_the_same_tool_run_without_asking_for_the_rest_of_the_chat(
        work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "echo a >> log.txt"})]), Reply(chunks=["One."]),
                   anthropic_calls([("toolu_2", "shell", {"command": "echo b >> log.txt"})]), Reply(chunks=["Two."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "-T", "shell")
    say(child, "first")
    child.expect_exact("Allow?")
    child.sendline("a")
    child.expect_exact("One.")
    child.expect("You: ")
    say(child, "second")
    child.expect_exact("Two.")
    child.expect("You: ")
    assert "Allow?" not in child.before
    quit_chat(child)
    assert (work / "log.txt").read_text() == "a\nb\n"


# -- 4. no terminal: denied, never waited on; --yes approves ---------------------

@pytest.mark.parametrize("json_mode", [False, True])
def test_with_no_terminal_a_call_that_asks_is_denied_at_once(
        json_mode: bool, work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "touch ran.txt"})]), Reply(chunks=["Ok."]))
    args = ["-T", "shell", *(["--json"] if json_mode else []), "make a file"]
    started = time.monotonic()
    out = run_chinwag(args, anthropic_env(home, server.base_url), cwd=work, timeout=30)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started < 15  # never waited on
    assert not (work / "ran.txt").exists()
    [sent] = results_sent(server.requests[1])
    assert sent["is_error"] is True and "nobody was there" in sent["content"] and "--yes" in sent["content"]
    if json_mode:
        result = next(json.loads(line) for line in out.stdout.splitlines() if '"tool_result"' in line)
        assert result["status"] == "denied"
    else:
        assert "denied: no terminal to ask (--yes approves)" in out.stderr


def test_yes_approves_a_call_with_no_terminal(work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "touch ran.txt"})]), Reply(chunks=["Ok."]))
    out = run_chinwag(["-T", "shell", "--yes", "make a file"], anthropic_env(home, server.base_url), cwd=work)
    assert out.returncode == 0, out.stderr
    assert (work / "ran.txt").exists()
    assert results_sent(server.requests[1])[0]["is_error"] is False


# -- 5. the round limit ------------------------------------------------------------

def test_a_model_that_keeps_calling_tools_is_stopped_at_the_round_limit_with_one_notice(
        work: Path, home: Path, server: ScriptedServer) -> None:
    (home / "config.toml").write_text("max_tool_rounds = 2\n")
    for n in range(1, 5):
        server.enqueue(anthropic_calls([(f"toolu_{n}", "list_files", {})]))
    out = run_chinwag(["-T", "list_files", "look around"], anthropic_env(home, server.base_url), cwd=work)
    assert len(server.requests) == 3  # two rounds of tools, then the third reply's calls are not run
    assert out.stderr.count("stopped after 2 rounds of tool calls") == 1
    assert out.stderr.count("⚙ list_files()") == 3 and out.stderr.count("↳ ") == 2
    blocks = stored_blocks(home)
    asked = [b["id"] for b in blocks if b["type"] == "tool_call"]
    answered = {b["call_id"]: b for b in blocks if b["type"] == "tool_result"}
    assert asked == ["toolu_1", "toolu_2", "toolu_3"] and set(answered) == set(asked)
    assert answered["toolu_3"]["status"] == "interrupted"
    assert answered["toolu_1"]["status"] == "ok"


# -- 6. Ctrl-C while a tool runs -------------------------------------------------------



def test_ctrl_c_while_a_tool_runs_stops_it_and_the_model_hears_it_was_interrupted(
        work: Path, home: Path, server: ScriptedServer) -> None:
    command = "echo $$ > pid.txt; sleep 30"
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": command})]), Reply(chunks=["Next."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "-T", "shell")
    say(child, "wait a while")
    child.expect_exact("Allow?")
    child.sendline("y")
    deadline = time.monotonic() + 20
    while not (work / "pid.txt").exists() or not (work / "pid.txt").read_text().strip():
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)
    pid = int((work / "pid.txt").read_text())
    pgid = os.getpgid(pid)
    time.sleep(0.2)
    pressed = time.monotonic()
    child.sendintr()
    child.expect("You: ", timeout=5)
    assert time.monotonic() - pressed < 1.0
    deadline = time.monotonic() + 2
    while group_members(pgid):
        assert time.monotonic() < deadline, "the command's process group is still there"
        time.sleep(0.02)
    assert len(server.requests) == 1  # nothing was sent on: the turn ended
    say(child, "and now?")
    child.expect_exact("Next.")
    child.expect("You: ")
    quit_chat(child)
    [sent] = results_sent(server.requests[1])
    assert sent["id"] == "toolu_1" and sent["is_error"] is True and "interrupted" in sent["content"]
    results = [b for b in stored_blocks(home) if b["type"] == "tool_result"]
    assert [r["status"] for r in results] == ["interrupted"]
    from chinwag.history.store import Store

    store = Store.open(home / "history.db")
    try:
        assert list(store.tool_calls(store.latest_conversation_id() or 0).values()) == ["interrupted"]
    finally:
        store.close()


# -- 7. kill -9 during a tool ------------------------------------------------------------

def _saved_call_statuses(db: Path) -> list[str]:
    try:
        with closing(sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)) as conn:
            return [status for status, in conn.execute("SELECT status FROM tool_calls")]
    except sqlite3.OperationalError:  # not created yet, or busy
        return []


def test_a_call_cut_off_by_kill_9_is_answered_as_interrupted_and_never_run_again(
        work: Path, home: Path, server: ScriptedServer) -> None:
    command = "echo ran >> marker.txt; echo $$ > pid.txt; sleep 30"
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": command})]))
    child = chat_in(anthropic_env(home, server.base_url), work, "-T", "shell", "--yes")
    say(child, "do it")
    deadline = time.monotonic() + 20
    while not (work / "pid.txt").exists() or not (work / "pid.txt").read_text().strip():
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)
    while "running" not in _saved_call_statuses(home / "history.db"):  # saved as running before it started
        assert time.monotonic() < deadline, "the call was never saved as running"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.expect(pexpect.EOF)
    child.close()
    try:
        os.killpg(os.getpgid(int((work / "pid.txt").read_text())), signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.enqueue(Reply(chunks=["I will check first."]))
    out = run_chinwag(["-c", "-T", "shell", "--yes", "did it work?"], anthropic_env(home, server.base_url),
                      cwd=work)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "I will check first.\n"
    assert "⚙" not in out.stderr  # nothing ran
    assert (work / "marker.txt").read_text() == "ran\n"
    messages = server.requests[1].json["messages"]
    results = [b for m in messages if isinstance(m["content"], list) for b in m["content"]
               if b.get("type") == "tool_result"]
    assert len(results) == 1 and results[0]["tool_use_id"] == "toolu_1" and results[0]["is_error"]
    assert "may or may not have taken effect" in results[0]["content"]
    assert "did it work?" in json.dumps(messages[-1])
    shown = run_chinwag(["history", "show", "last"], chinwag_env(home)).stdout
    assert "⚙ shell(" in shown and "↳ interrupted · interrupted: chinwag stopped while this call ran" in shown


# -- 8. /retry after a tool round ------------------------------------------------------------

def test_retry_after_a_tool_round_does_not_run_the_calls_again(
        work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "echo ran >> marker.txt"})]),
                   Reply(chunks=["First answer."]), Reply(chunks=["Second answer."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "-T", "shell", "--yes")
    say(child, "do it")
    child.expect_exact("First answer.")
    child.expect("You: ")
    say(child, "/retry")
    child.expect_exact("Second answer.")
    child.expect("You: ")
    quit_chat(child)
    assert (work / "marker.txt").read_text() == "ran\n"
    assert len(server.requests) == 3
    assert server.requests[2].json["messages"] == server.requests[1].json["messages"]


# -- 9. the bundled model ------------------------------------------------------------------

def test_the_bundled_model_says_once_it_cannot_call_tools_and_chats_on(work: Path, home: Path) -> None:
    out = run_chinwag(["-T", "read_file", "--max-tokens", "8", "hi"], chinwag_env(home), cwd=work, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("cannot call tools") == 1
    assert out.stdout.strip()


def test_in_a_terminal_the_notice_comes_before_the_label_not_between_two(work: Path, home: Path,
                                                                         tmp_path: Path) -> None:
    """The notice comes after `Assistant:` was drawn (the request is being made); a
    real terminal (tmux) must show it above one label, not between two."""
    from tests.tmux import Pane

    with Pane(tmp_path, ["-T", "read_file", "--max-tokens", "8"], chinwag_env(home), size=(100, 30)) as pane:
        pane.wait_for("You: ")
        pane.type("hi")
        pane.press("Enter")
        screen = pane.wait_for("You: ", timeout=120, count=2)
        lines = screen.splitlines()
        notice = next(i for i, line in enumerate(lines) if "cannot call tools" in line)
        assert lines[notice + 1].startswith("Assistant:"), screen
        assert screen.count("Assistant:") == 1, screen


# -- 10. MCP servers ------------------------------------------------------------------------

def _mcp_config(tmp: Path, **servers: dict[str, Any]) -> Path:
    path = tmp / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def _demo() -> dict[str, Any]:
    return {"command": sys.executable, "args": ["-m", "tests.mcp_servers.demo"], "env": {"PYTHONPATH": str(ROOT)}}


def _wait_for_tools(child: pexpect.spawn, name: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        say(child, "/tools")
        child.expect("You: ")
        if name in child.before:
            return str(child.before)
        assert time.monotonic() < deadline, f"{name} never listed: {child.before!r}"
        time.sleep(0.3)


def test_mcp_tools_are_listed_and_approved_by_their_annotations(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    config = _mcp_config(tmp_path, demo=_demo(), broken={"command": str(tmp_path / "no-such-server")})
    server.enqueue(anthropic_calls([("toolu_1", "demo_echo", {"text": "hi"})]), Reply(chunks=["Echoed."]),
                   anthropic_calls([("toolu_2", "demo_write_note", {"text": "x"})]), Reply(chunks=["Noted."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "--mcp-config", str(config))
    listed = _wait_for_tools(child, "demo_write_note")
    assert "demo_echo · MCP server demo · runs without asking" in listed
    assert "demo_write_note · MCP server demo · asks" in listed
    assert "MCP server broken: failed" in listed
    say(child, "echo hi")
    child.expect_exact('⚙ demo_echo(text="hi")')
    child.expect_exact("Echoed.")
    child.expect("You: ")
    assert "Allow?" not in child.before
    say(child, "write a note")
    child.expect_exact("Allow?")
    child.sendline("y")
    child.expect_exact("Noted.")
    child.expect("You: ")
    quit_chat(child)
    assert results_sent(server.requests[1])[0]["content"] == "echo: hi"
    assert results_sent(server.requests[3])[0]["content"] == "noted: x"


def test_an_mcp_server_that_fails_to_start_is_one_line_and_the_chat_goes_on(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    config = _mcp_config(tmp_path, broken={"command": str(tmp_path / "no-such-server")})
    server.enqueue(Reply(chunks=["Hello there."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "--mcp-config", str(config))
    _wait_for_tools(child, "MCP server broken: failed")  # importing `mcp` first takes seconds
    child.logfile_read = log = io.StringIO()
    say(child, "hi")
    child.expect_exact("Hello there.")
    child.expect("You: ")
    server.enqueue(Reply(chunks=["Again."]))
    say(child, "again")
    child.expect_exact("Again.")
    child.expect("You: ")
    quit_chat(child)
    seen = log.getvalue()
    lines = [line for line in seen.splitlines() if "MCP server broken failed to start" in line]
    assert len(lines) == 1, seen
    assert "No such file or directory" in lines[0]


# -- 11. thinking ---------------------------------------------------------------------------

def test_thinking_streams_dim_and_goes_back_with_its_signature(
        work: Path, home: Path, server: ScriptedServer) -> None:
    thought = "The user wants their notes, so I should read the file first."
    server.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": "notes.txt"})], thinking=thought,
                                   signature="sig-abc", chunk_delay=0.05),
                   Reply(chunks=["Milk."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "-T", "read_file", "--think", "2048")
    say(child, "what do I need?")
    child.expect_exact(thought[:12])
    assert "⚙" not in child.before  # shown while it streams, before the call has arrived
    child.expect_exact("⚙ read_file")
    child.expect_exact("Milk.")
    child.expect("You: ")
    quit_chat(child)
    first, second = (r.json for r in server.requests)
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert second["messages"][1]["content"][0] == {"type": "thinking", "thinking": thought, "signature": "sig-abc"}


def test_thinking_is_dim_on_the_terminal(work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([], text="Hi.", thinking="pondering deeply", stop="end_turn"))
    child = chat_in(anthropic_env(home, server.base_url), work, "--think")
    child.logfile_read = log = io.StringIO()
    say(child, "hello")
    child.expect_exact("Hi.")
    child.expect("You: ")
    quit_chat(child)
    screen = log.getvalue()
    assert "\x1b[2mthinking: \x1b[0m\x1b[2mpondering de" in screen
    assert screen.index("pondering") < screen.index("Hi.")
    assert server.requests[0].json["thinking"] == {"type": "enabled", "budget_tokens": 4096}


# -- 12. --json --------------------------------------------------------------------------------

def test_json_mode_writes_tool_and_thinking_events_one_object_per_line(
        work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": "notes.txt"})], thinking="hmm"),
                   Reply(chunks=["Milk."]))
    out = run_chinwag(["-T", "read_file", "--think", "--json", "what?"], anthropic_env(home, server.base_url),
                      cwd=work)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert "thinking" in kinds and kinds.index("thinking") < kinds.index("tool_call") < kinds.index("tool_result")
    call = next(e for e in events if e["type"] == "tool_call")
    result = next(e for e in events if e["type"] == "tool_result")
    assert call["name"] == "read_file" and call["input"] == {"path": "notes.txt"}
    assert result["status"] == "ok" and result["content"] == "buy milk\n"
    assert kinds[-1] == "done"


# -- 13. history show / export / /save -----------------------------------------------------------

def _saved_tool_conversation(work: Path, home: Path, server: ScriptedServer) -> None:
    (work / "hostile.txt").write_text(HOSTILE)
    server.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": "hostile.txt"})], thinking="let me see",
                                   text="Looking."),
                   Reply(chunks=["It says hello."]))
    out = run_chinwag(["-T", "read_file", "--think", "read it"], anthropic_env(home, server.base_url), cwd=work)
    assert out.returncode == 0, out.stderr


def test_history_show_and_markdown_export_show_calls_results_and_thinking(
        work: Path, home: Path, server: ScriptedServer) -> None:
    _saved_tool_conversation(work, home, server)
    for args in (["history", "show", "last"], ["history", "export", "last", "--format", "md"]):
        out = run_chinwag(args, chinwag_env(home))
        assert out.returncode == 0, out.stderr
        assert '⚙ read_file(path="hostile.txt")' in out.stdout
        assert "↳ 1 line" in out.stdout  # the line shown live when read_file ended (was "↳ ok · title")
        assert "let me see" in out.stdout
        assert "Looking." in out.stdout and "It says hello." in out.stdout
        assert "\x1b]0;" not in out.stdout and "\x1b[2J" not in out.stdout and "\x07" not in out.stdout


def test_history_json_export_includes_the_blocks_raw(work: Path, home: Path, server: ScriptedServer) -> None:
    _saved_tool_conversation(work, home, server)
    out = run_chinwag(["history", "export", "last", "--format", "json"], chinwag_env(home))
    data = json.loads(out.stdout)
    blocks = [b for m in data["messages"] for b in m["blocks"]]
    kinds = [b["type"] for b in blocks]
    assert kinds == ["text", "thinking", "text", "tool_call", "tool_result", "text"]
    assert blocks[1] == {"type": "thinking", "text": "let me see", "signature": "sig-1"}
    assert blocks[3] == {"type": "tool_call", "id": "toolu_1", "name": "read_file", "input": {"path": "hostile.txt"}}
    assert blocks[4]["content"] == HOSTILE and blocks[4]["status"] == "ok"


def test_save_writes_calls_and_results_sanitized(work: Path, home: Path, server: ScriptedServer) -> None:
    (work / "hostile.txt").write_text(HOSTILE)
    server.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": "hostile.txt"})]),
                   Reply(chunks=["It says hello."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "-T", "read_file")
    say(child, "read it")
    child.expect_exact("It says hello.")
    child.expect("You: ")
    say(child, "/save chat.md")
    child.expect_exact("Saved")
    child.expect("You: ")
    quit_chat(child)
    text = (work / "chat.md").read_text()
    assert '⚙ read_file(path="hostile.txt")' in text and "↳ 1 line" in text  # as shown live (was "↳ ok · title")
    assert "\x1b" not in text and "\x07" not in text


# -- 14. hostile output ---------------------------------------------------------------------------

def test_hostile_tool_output_is_sanitized_on_screen_but_reaches_the_model_raw(
        work: Path, home: Path, server: ScriptedServer) -> None:
    (work / "hostile.txt").write_text(HOSTILE)
    server.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": "no\x1b]0;pwned\x07such\x1b[2J.txt"}),
                                    ("toolu_2", "read_file", {"path": "hostile.txt"})]),
                   Reply(chunks=["Hm."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "-T", "read_file")
    child.logfile_read = log = io.StringIO()
    say(child, "read it")
    child.expect_exact("Hm.")
    child.expect("You: ")
    say(child, "/show")
    child.expect_exact("end")
    child.expect("You: ")
    quit_chat(child)
    screen = log.getvalue()
    assert "title" in screen and "clear" in screen
    assert "\x1b]0;" not in screen and "\x1b[2J" not in screen and "\x07" not in screen
    # The model's arguments are shown as JSON escapes, never as raw bytes.
    assert 'read_file(path="no\\u001b]0;pwned\\u0007such\\u001b[2J.txt")' in screen
    assert results_sent(server.requests[1])[1]["content"] == HOSTILE


def test_think_before_the_question_takes_it_as_the_question(
        work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([], text="Hi.", thinking="hmm", stop="end_turn"))
    out = run_chinwag(["--think", "say hi"], anthropic_env(home, server.base_url), cwd=work)
    assert out.returncode == 0, out.stderr
    body = server.requests[0].json
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert "say hi" in json.dumps(body["messages"])


def test_ctrl_c_at_the_approval_question_runs_nothing_and_the_chat_goes_on(
        work: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "touch ran.txt"}),
                                    ("toolu_2", "shell", {"command": "touch ran2.txt"})]), Reply(chunks=["Fine."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "-T", "shell")
    say(child, "make files")
    child.expect_exact("Allow?")
    time.sleep(0.3)
    child.sendintr()
    child.expect("You: ", timeout=5)
    say(child, "never mind")
    child.expect_exact("Fine.")
    child.expect("You: ")
    quit_chat(child)
    assert not (work / "ran.txt").exists() and not (work / "ran2.txt").exists()
    sent = results_sent(server.requests[1])
    assert [r["id"] for r in sent] == ["toolu_1", "toolu_2"] and all(r["is_error"] for r in sent)


def test_in_the_chat_the_round_limit_is_one_notice_and_the_next_message_carries_on(
        work: Path, home: Path, server: ScriptedServer) -> None:
    (home / "config.toml").write_text("max_tool_rounds = 1\n")
    server.enqueue(anthropic_calls([("toolu_1", "list_files", {})]), anthropic_calls([("toolu_2", "list_files", {})]),
                   Reply(chunks=["Carrying on."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "-T", "list_files")
    child.logfile_read = log = io.StringIO()
    say(child, "look")
    child.expect_exact("stopped after 1 round of tool calls")
    child.expect("You: ")
    after_notice = str(child.before)
    say(child, "go on")
    child.expect_exact("Carrying on.")
    child.expect("You: ")
    quit_chat(child)
    assert "Claude:" not in after_notice  # no label left hanging with nothing after it
    assert log.getvalue().count("stopped after 1 round of") == 1
    last = server.requests[2].json["messages"][-1]
    assert [b["type"] for b in last["content"]] == ["tool_result", "text"]
    assert last["content"][0]["tool_use_id"] == "toolu_2" and last["content"][0]["is_error"] is True


def test_one_shot_offers_the_mcp_servers_tools_in_its_request(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    config = _mcp_config(tmp_path, demo=_demo(), broken={"command": str(tmp_path / "no-such-server")})
    server.enqueue(anthropic_calls([("toolu_1", "demo_echo", {"text": "hi"})]), Reply(chunks=["Echoed."]))
    out = run_chinwag(["--mcp-config", str(config), "echo hi"], anthropic_env(home, server.base_url), cwd=work)
    assert out.returncode == 0, out.stderr
    offered = [tool["name"] for tool in server.requests[0].json.get("tools", [])]
    assert "demo_echo" in offered and "demo_write_note" in offered
    assert out.stdout == "Echoed.\n"
    assert results_sent(server.requests[1])[0]["content"] == "echo: hi"
    assert out.stderr.count("MCP server broken failed to start") == 1


def test_a_first_message_sent_while_mcp_servers_start_waits_for_their_tools(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    config = _mcp_config(tmp_path, demo=_demo())
    server.enqueue(Reply(chunks=["Hi."]))
    child = chat_in(anthropic_env(home, server.base_url), work, "--mcp-config", str(config))
    say(child, "use demo_echo")  # at once: importing `mcp` alone takes longer
    child.expect_exact("Hi.", timeout=60)
    child.expect("You: ")
    quit_chat(child)
    assert "demo_echo" in [tool["name"] for tool in server.requests[0].json.get("tools", [])]


def test_with_mcp_servers_configured_the_prompt_comes_before_the_tool_machinery(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    """Issue 22: start-up with servers configured is unchanged. The configuration is
    read before `You:` (a bad entry is one line, below), but the toolbox, the tool loop
    and what they need (the records, the events, the mcp package) load after it."""
    (home / "config.toml").write_text(
        f'[mcp_servers.demo]\ncommand = "{sys.executable}"\nargs = ["-m", "tests.mcp_servers.demo"]\n'
        f'env = {{ PYTHONPATH = "{ROOT}" }}\n', encoding="utf-8")
    child = spawn_chinwag([], {**anthropic_env(home, server.base_url), "PYTHONPROFILEIMPORTTIME": "1"},
                          cwd=work, timeout=30)
    child.expect("You: ")
    imported = imported_modules(child.before)
    assert "chinwag.tools.config" in imported
    assert not {"chinwag.toolloop", "chinwag.tools.mcp", "chinwag.records", "chinwag.events", "mcp",
                "chinwag.cli.approval"} & imported
    assert "demo_echo" in _wait_for_tools(child, "demo_echo")  # built and started after the prompt
    quit_chat(child)


def test_a_bad_mcp_server_entry_is_one_line_before_any_prompt(work: Path, home: Path, server: ScriptedServer) -> None:
    (home / "config.toml").write_text('[mcp_servers.demo]\nurl = "ftp://nowhere"\n', encoding="utf-8")
    out = run_chinwag([], anthropic_env(home, server.base_url), cwd=work, input="hello\n")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"chinwag: MCP server 'demo' in config {home / 'config.toml'}: url must be an http:// or https:// URL"]
    assert "You:" not in out.stdout and server.requests == []


def test_ctrl_c_while_waiting_for_a_slow_mcp_server_gives_the_prompt_back(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    slow = {**_demo(), "args": ["-m", "tests.mcp_servers.demo", "--start-delay", "30"]}
    config = _mcp_config(tmp_path, slow=slow)
    child = chat_in(anthropic_env(home, server.base_url), work, "--mcp-config", str(config))
    say(child, "hello")
    time.sleep(0.5)
    pressed = time.monotonic()
    child.sendintr()
    child.expect("You: ", timeout=5)
    assert time.monotonic() - pressed < 1.0
    quit_chat(child)
    assert server.requests == []


def test_one_shot_in_a_terminal_asks_there_even_when_stdout_is_a_file(
        work: Path, home: Path, server: ScriptedServer) -> None:
    from tests.cli_helpers import CHINWAG

    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "touch ran.txt"})]), Reply(chunks=["Done."]))
    child = pexpect.spawn("/bin/sh", ["-c", f'"{CHINWAG}" -T shell "make a file" > out.txt'],
                          env=anthropic_env(home, server.base_url), cwd=str(work), encoding="utf-8", timeout=30)
    child.expect_exact("⚙ shell asks because it runs a command")
    child.expect_exact("│ touch ran.txt")
    child.expect_exact("Allow?")
    child.sendline("y")
    assert finish(child) == 0
    assert (work / "ran.txt").exists()
    assert (work / "out.txt").read_text() == "Done.\n"  # the question went to the terminal, not the file
