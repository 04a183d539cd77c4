"""One wording per meaning, on every surface a user reads: a reply cut off by a
failure, and the line a tool call ends with.

A reply interrupted mid-stream (the server drops the connection) is marked
`present.REPLY_INTERRUPTED` wherever its status is shown in a word (the chat's
line after it, `history show`, `history export --format md`, the page once the
conversation is opened again), and its reason reads `present.interrupted_because`
(the chat's and the one-shot's error line, the page's line under the live reply);
`--json` keeps the machine word "interrupted". A tool call's `↳` line in the
chat is the very line `history show` and `/save` print later.

Nothing is simulated: the real `chinwag` in a pseudo-terminal (pexpect) or with
pipes, `chinwag serve` in headless Chromium, the scripted server on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from chinwag import present
from tests.cli_helpers import anthropic_env, chinwag_env, finish, run_chinwag, spawn_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.test_web_support import send, shown_text

ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
WHY = present.interrupted_because("the connection dropped mid-reply")


def screen_lines(raw: str) -> list[str]:
    """What a pty showed, line by line, without colour and cursor codes."""
    return [line.rstrip() for line in ESCAPES.sub("", raw).split("\n")]


def test_an_interrupted_reply_is_marked_one_way_in_the_chat_the_history_and_its_error_line(
        tmp_path: Path, scripted_server: ScriptedServer) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url)
    scripted_server.enqueue(Reply(chunks=["Kept ", "words", " never"], drop_after=2))
    child = spawn_chinwag([], env)
    seen = io.StringIO()
    child.logfile_read = seen
    child.expect("You: ")
    child.sendline("hi")
    child.expect_exact("/continue to resume")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    lines = screen_lines(seen.getvalue())
    assert f"↳ {present.REPLY_INTERRUPTED} · /retry to ask again, /continue to resume" in lines
    assert any(line.startswith(f"chinwag: {WHY}") for line in lines), lines
    assert not any("(interrupted)" in line for line in lines)

    shown = run_chinwag(["history", "show", "last"], env)
    assert shown.returncode == 0, shown.stderr
    assert f"· {present.REPLY_INTERRUPTED}" in shown.stdout
    exported = run_chinwag(["history", "export", "last", "--format", "md"], env)
    assert f"· {present.REPLY_INTERRUPTED}*" in exported.stdout

    scripted_server.enqueue(Reply(chunks=["Kept ", "words", " never"], drop_after=2))
    once = run_chinwag(["-c", "again"], env)
    assert once.returncode == 1
    assert once.stderr.splitlines()[-1].startswith(f"chinwag: {WHY}")

    scripted_server.enqueue(Reply(chunks=["Kept ", "words", " never"], drop_after=2))
    scripted = run_chinwag(["--json", "-c", "and again"], env)
    done = json.loads(scripted.stdout.splitlines()[-1])
    assert done["type"] == "done" and done["status"] == "interrupted"  # the machine word, as the API's
    assert done["error"].startswith("the connection dropped mid-reply")


def test_the_page_words_an_interrupted_reply_as_the_terminal_does(page: Any, scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(chunks=["Kept ", "words", " never"], drop_after=2))
    send(page, "hi")
    meta = page.locator(".msg.assistant[data-status=interrupted] .meta")
    meta.wait_for()
    assert shown_text(meta).startswith(WHY), shown_text(meta)  # the reason, as the chat's error line
    page.reload()
    page.locator("#list .item").first.click()
    reopened = page.locator(".msg.assistant[data-status=interrupted] .meta")
    reopened.wait_for()
    assert shown_text(reopened) == present.REPLY_INTERRUPTED  # the mark, as history show


def test_a_tool_calls_line_in_the_chat_is_the_line_history_show_prints(
        tmp_path: Path, scripted_server: ScriptedServer) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("buy milk\nand eggs\n")
    home = tmp_path / "home"
    scripted_server.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": "notes.txt"})]),
                            Reply(chunks=["Milk and eggs."]))
    child = spawn_chinwag(["-T", "read_file"], anthropic_env(home, scripted_server.base_url), cwd=work)
    seen = io.StringIO()
    child.logfile_read = seen
    child.expect("You: ")
    child.sendline("what do my notes say?")
    child.expect_exact("Milk and eggs.")
    child.expect("You: ")
    child.sendline("/save chat.md")
    child.expect_exact("Saved")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    live = screen_lines(seen.getvalue())
    call = live.index('⚙ read_file(path="notes.txt")')
    [live_line] = [line for line in live[call:] if line.startswith("↳ ")][:1]
    assert live_line == "↳ 2 lines"  # read_file's own summary

    shown = run_chinwag(["history", "show", "last"], chinwag_env(home))
    assert shown.returncode == 0, shown.stderr
    later = shown.stdout.splitlines()
    after_call = later[later.index('⚙ read_file(path="notes.txt")') + 1:]
    assert next(line for line in after_call if line.startswith("↳ ")) == live_line
    assert f"`{live_line}`" in (work / "chat.md").read_text()  # /save, from the chat's own messages
    exported = json.loads(run_chinwag(["history", "export", "last", "--format", "json"], chinwag_env(home)).stdout)
    [result] = [b for m in exported["messages"] for b in m["blocks"] if b["type"] == "tool_result"]
    assert result["summary"] == "2 lines" and result["content"] == "buy milk\nand eggs\n"
