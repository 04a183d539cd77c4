"""The chat ends only when the user ends it: each input that used to kill it,
through the real `chinwag` in a pseudo-terminal (or a real pipe), gives one
line and `You:` again, with nothing typed or shown lost."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pexpect

from tests.cli_helpers import CHINWAG, anthropic_env, chinwag_env, finish, leave_chat, run_chinwag, start_chat
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.procs import wait_until_reading_keys


def _no_traceback(child: pexpect.spawn) -> None:
    assert "Traceback" not in (child.before or "")


def test_model_with_a_missing_gguf_is_refused_when_chosen_and_the_chat_goes_on(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline(f"/model local:{tmp_path / 'missing.gguf'}")
    child.expect("model file not found")
    child.expect("You: ")
    child.sendline("/model")
    child.expect("anthropic:claude")  # still the model it had
    child.sendline("Still there?")
    child.expect("Hello!")
    _no_traceback(child)
    leave_chat(child)


def test_ctrl_d_inside_a_triple_quote_block_sends_what_was_typed(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Got the block."]))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline('"""')
    child.expect(r"\.\.\. ")
    child.sendline("line one")
    child.expect(r"\.\.\. ")
    child.sendeof()
    child.expect("Got the block.")
    _no_traceback(child)
    leave_chat(child)
    assert scripted_server.requests[0].json["messages"][-1]["content"] == "line one"


def test_ctrl_c_inside_a_triple_quote_block_drops_it_and_the_chat_goes_on(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline('"""')
    child.expect(r"\.\.\. ")
    child.sendline("half a thought")
    child.expect(r"\.\.\. ")
    wait_until_reading_keys(child.pid)
    child.sendintr()
    child.expect("block dropped")
    child.expect("You: ")
    child.sendline("Fresh question")
    child.expect("Hello!")
    leave_chat(child)
    assert [r.json["messages"][-1]["content"] for r in scripted_server.requests] == ["Fresh question"]


def test_ctrl_c_the_instant_a_message_is_sent_never_ends_the_chat(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """Ctrl-C at many moments around sending and finishing a fast reply: the
    chat survives every one, and what was shown is what was saved."""
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = start_chat(env)
    for i in range(12):
        scripted_server.enqueue(Reply(chunks=[f"Reply {i}."]))
        child.sendline(f"Question {i}")
        child.expect(f"Question {i}\r\n")  # readline has the line: it is being sent
        time.sleep(0.003 * i)  # from the instant it is sent to after the reply has ended
        child.sendintr()
        index = child.expect(["You: ", pexpect.EOF, "Traceback"])
        assert index == 0, f"step {i}: {child.before!r}"
        time.sleep(0.35)  # a person's pause, so the next press is a new one
    child.sendline("quit")
    child.expect("Goodbye!")
    assert finish(child) == 0
    shown = json.loads(run_chinwag(["history", "show", "last", "--json"], env).stdout)["messages"]
    users = [m["content"] for m in shown if m["role"] == "user"]
    assert users == [f"Question {i}" for i in range(12)]
    for message in shown:
        if message["role"] == "assistant" and message["content"]:
            assert message["content"] in {f"Reply {i}." for i in range(12)} or \
                any(f"Reply {i}.".startswith(message["content"]) for i in range(12))


def test_ctrl_c_while_the_reply_is_awaited_cancels_only_the_reply(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Too late."], delay_first_byte=5), Reply(chunks=["On time."]))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("Slow one")
    assert scripted_server.wait_requests(1, timeout=10)  # the request is out: we are waiting for the reply
    time.sleep(0.2)
    child.sendintr()
    child.expect("cancelled before a reply")  # taken back: not sent again with the next one
    child.expect("You: ")
    child.sendline("Next")
    child.expect("On time.")
    leave_chat(child)
    assert scripted_server.requests[1].json["messages"] == [{"role": "user", "content": "Next"}]


def test_reader_that_stops_early_ends_chinwag_quietly_and_the_reply_is_saved(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=[f"line {i}\n" for i in range(3000)]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    result = subprocess.run(f"'{CHINWAG}' 'count to 3000' | head -1; echo \"status=${{PIPESTATUS[0]}}\"",
                            shell=True, executable="/bin/bash", env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("line 0\n") and "status=141" in result.stdout
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    saved = json.loads(run_chinwag(["history", "show", "last", "--json"], env).stdout)["messages"]
    assert saved[0]["content"] == "count to 3000"
    assert saved[1]["content"].startswith("line 0\n") and saved[1]["status"] == "interrupted"


def test_refused_base_url_names_the_whole_url_and_the_reason(refused_url: str, tmp_path: Path) -> None:
    result = run_chinwag(["hi"], anthropic_env(tmp_path, refused_url))
    assert result.returncode == 1
    assert f"could not connect to {refused_url}" in result.stderr
    assert "connection refused" in result.stderr
    assert "could not connect to http," not in result.stderr and "Traceback" not in result.stderr


def test_history_search_in_the_chat_searches(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["Tell me about kangaroos"], env).returncode == 0
    assert run_chinwag(["Tell me about wombats"], env).returncode == 0
    child = start_chat(env)
    child.sendline("/history search kangaroos")
    child.expect("Tell me about")
    assert "kangaroo" in (child.before + child.after + child.readline()).lower()
    child.expect("You: ")
    assert "wombats" not in child.before
    child.sendline("/history show zzz")
    child.expect("not 'zzz'")
    child.sendline('/history search "unbalanced')
    child.expect("cannot read that")
    _no_traceback(child)
    leave_chat(child)


def test_unknown_command_with_escape_codes_is_named_safely(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("/frobnicate\x1b]0;pwned\x07 now")
    child.expect("unknown command")
    assert "\x1b]0;" not in child.before + child.after
    child.sendline("/save /nonexistent-dir/x.md")
    child.expect("cannot write")
    child.sendline("/save")
    child.expect("say where")
    child.sendline("/copy")
    child.expect("no reply to copy yet")
    child.sendline("/continue")
    child.expect("no interrupted reply")
    child.sendline("/retry")
    child.expect("nothing to retry")
    _no_traceback(child)
    leave_chat(child)


def test_no_api_key_and_a_missing_model_file_at_start_is_one_line(tmp_path: Path) -> None:
    result = run_chinwag(["-m", f"local:{tmp_path / 'nope.gguf'}", "hi"], chinwag_env(tmp_path))
    assert result.returncode != 0 and result.stderr.count("\n") <= 2
    assert "nope.gguf" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_while_the_local_model_loads_cancels_the_turn_not_the_chat(tmp_path: Path) -> None:
    """No API key: the bundled model loads in the background once `You:` is up.
    A message sent at once waits for it; Ctrl-C then stops that wait (it used
    to end the chat with 130), and the next message is answered."""
    child = start_chat(chinwag_env(tmp_path), ["--max-tokens", "8"])
    child.sendline("Hello")
    child.expect("Hello\r\n")
    time.sleep(0.05)
    child.sendintr()
    index = child.expect(["cancelled before a reply|stopped", "first token", pexpect.EOF])  # or it had answered
    assert index in (0, 1), child.before
    child.expect("You: ")
    child.sendline("Say hi")
    child.expect("first token", timeout=60)
    _no_traceback(child)
    leave_chat(child)
