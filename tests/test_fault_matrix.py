"""The fault matrix: what chinwag does when the server or the user interrupts,
for Anthropic and for an OpenAI-compatible server alike.

Each test runs the real `chinwag` against the scripted server with a fault
injected, in a pseudo-terminal (the REPL) or with pipes (one-shot), and
checks what a person sees. README.md's fault matrix lists these rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import ctrl_c_twice_at_the_prompt, leave_chat, start_chat, chinwag_env, run_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


@pytest.fixture(params=["anthropic", "openai"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(provider: str, scripted_server: ScriptedServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    if provider == "anthropic":
        yield chinwag_env(tmp_path, ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=scripted_server.base_url)
    else:
        yield chinwag_env(tmp_path, OPENAI_API_KEY="test-key", OPENAI_BASE_URL=scripted_server.base_url + "/v1",
                          CHINWAG_MODEL="openai:test-model")




@pytest.mark.parametrize("status", [529, 503, 500])
def test_overloaded_then_success_is_retried_with_a_notice(status: int, env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(status=status, headers={"retry-after-ms": "100"}), Reply(chunks=["Recovered."]))
    child = start_chat(env)
    child.sendline("hi")
    child.expect(r"retrying in 0\.1 s \(attempt 2/3\)")
    child.expect("Recovered.")
    leave_chat(child)


def test_429_waits_what_the_server_asked(env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(status=429, headers={"retry-after": "2"}), Reply(chunks=["After waiting."]))
    started = time.monotonic()
    result = run_chinwag(["hi"], env)
    assert result.returncode == 0, result.stderr
    assert "rate limited (429), retrying in 2 s (attempt 2/3)" in result.stderr
    assert result.stdout == "After waiting.\n"
    assert time.monotonic() - started >= 2


def test_retry_after_beyond_the_cap_is_not_waited_for(env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(status=429, headers={"retry-after": "3600"}))
    result = run_chinwag(["hi"], env)
    assert result.returncode == 1
    assert "The server asked to wait 3600 s." in result.stderr
    assert len(scripted_server.requests) == 1


@pytest.mark.parametrize(("status", "message"), [(401, "the API key was refused"), (400, "answered 400")])
def test_hard_failures_leave_the_chat_open_and_retry_works(status: int, message: str, env: dict[str, str],
                                                           scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(status=status, error_message="nope"), Reply(chunks=["Second time lucky."]))
    child = start_chat(env)
    child.sendline("Question")
    child.expect(message)
    child.expect("/retry")
    child.expect("You: ")
    child.sendline("/retry")
    child.expect("Second time lucky.")
    leave_chat(child)
    retried = scripted_server.requests[1].json["messages"]
    assert retried[-1] == {"role": "user", "content": "Question"}


def test_retries_exhausted_in_one_shot_exits_1(env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(*[Reply(status=529, headers={"retry-after-ms": "10"}) for _ in range(3)])
    result = run_chinwag(["hi"], env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("chinwag: overloaded")
    assert len(scripted_server.requests) == 3


@pytest.mark.parametrize("fault", ["drop_after", "error_after", "malformed_after"])
def test_failure_mid_stream_keeps_the_partial_reply(fault: str, env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(chunks=["Kept ", "words", " never"], **{fault: 2}))
    child = start_chat(env)
    child.sendline("hi")
    child.expect("Kept words")
    child.expect("interrupted")
    child.expect("/retry to ask again, /continue to resume")
    leave_chat(child)
    result = run_chinwag(["history", "show", "last"], env)
    assert "Kept words" in result.stdout and "interrupted" in result.stdout


def test_error_event_mid_stream_shows_the_servers_message(env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(chunks=["Partial"], error_after=1, error_message="Overloaded right now"))
    result = run_chinwag(["hi"], env)
    assert result.returncode == 1
    assert result.stdout == "Partial\n"
    assert "Overloaded right now" in result.stderr


def test_stream_that_ends_without_its_end_marker_is_interrupted(env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(chunks=["Looks ", "complete"], no_stop=True))
    result = run_chinwag(["hi"], env)
    assert result.returncode == 1
    assert result.stdout == "Looks complete\n"
    assert "reply interrupted: the reply ended before the server finished it" in result.stderr


def test_slow_first_token_shows_a_spinner_then_the_reply(env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(chunks=["Worth the wait."], delay_first_byte=1.5))
    child = start_chat(env)
    child.sendline("hi")
    child.expect(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] 1\.\ds")  # the spinner counts the seconds
    child.expect("Worth the wait.")
    leave_chat(child)


def test_ctrl_c_while_waiting_for_the_first_token_cancels_cleanly(env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(chunks=["never"], delay_first_byte=30))
    child = start_chat(env)
    child.sendline("hi")
    assert scripted_server.wait_requests(1, timeout=10)  # the request is out; the server sits on it
    child.expect(r"\d\.\ds")
    child.sendintr()
    child.expect("cancelled before a reply")
    leave_chat(child)
    assert scripted_server.wait_closed(1, timeout=5)


def test_slow_trickle_shows_every_token_as_it_arrives(env: dict[str, str], scripted_server: ScriptedServer) -> None:
    """The first word is on screen while the server still holds back the rest: shown
    as it arrives, not batched at the end (a hold, not timed gaps: those fail on a
    loaded machine). The rest then trickles in."""
    words = ["one ", "two ", "three ", "four"]
    reply = Reply(chunks=words, chunk_delay=0.2, hold_after=1)
    scripted_server.enqueue(reply)
    child = start_chat(env)
    child.sendline("hi")
    child.expect("one")  # times out if text waited for the end of the reply: the rest is held
    reply.release.set()
    for word in words[1:]:
        child.expect(word.strip())
    leave_chat(child)


def test_ctrl_c_mid_reply_returns_to_the_prompt_and_closes_the_connection(env: dict[str, str], scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(chunks=["Started", " and more"], hold_after=1))
    child = start_chat(env)
    child.sendline("hi")
    child.expect("Started")
    child.sendintr()
    child.expect("stopped")
    child.expect("You: ")
    assert scripted_server.wait_closed(1, timeout=5)
    ctrl_c_twice_at_the_prompt(child)


def test_continue_is_refused_where_the_provider_cannot_prefill(provider: str, env: dict[str, str],
                                                                scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(Reply(chunks=["Half", " rest"], drop_after=1), Reply(chunks=[" and the end."]))
    child = start_chat(env)
    child.sendline("hi")
    child.expect("interrupted")
    child.expect("You: ")
    child.sendline("/continue")
    if provider == "anthropic":
        child.expect("and the end.")
    else:
        child.expect(r"cannot resume a reply \(this server is not known to continue")
    leave_chat(child)
