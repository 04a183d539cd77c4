"""The interactive chat, driven through a pseudo-terminal like a person would.

A scripted Anthropic server on 127.0.0.1 plays the model; the real installed
`chinwag` command runs under pexpect. We check what appears on screen and
what the server was sent.
"""

from __future__ import annotations

from pathlib import Path

import pexpect

from tests.cli_helpers import (
    anthropic_env,
    chinwag_env,
    ctrl_c_twice_at_the_prompt,
    finish,
    imported_before_prompt,
    spawn_chinwag,
)
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


def test_two_turn_conversation_remembers_and_quit_says_goodbye(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Nice to ", "meet you, Ada."]), Reply(chunks=["Your name ", "is Ada."]))
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("claude-sonnet-4-20250514")
    child.expect("You: ")
    child.sendline("My name is Ada.")
    child.expect("Claude: ")
    child.expect("Nice to meet you, Ada.")
    child.expect("You: ")
    child.sendline("What is my name?")
    child.expect("Your name is Ada.")
    child.expect("You: ")
    child.sendline("quit")
    child.expect("Goodbye!")
    assert finish(child) == 0

    second = scripted_server.requests[1].json
    assert second["messages"] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    assert second["system"] == "You are a helpful assistant. Keep responses brief and clear."
    assert second["model"] == "claude-sonnet-4-20250514"
    assert second["max_tokens"] == 4096
    assert second["stream"] is True


def test_exit_and_ctrl_d_also_say_goodbye(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = spawn_chinwag([], env)
    child.expect("You: ")
    child.sendline("exit")
    child.expect("Goodbye!")
    assert finish(child) == 0

    child = spawn_chinwag([], env)
    child.expect("You: ")
    child.sendeof()
    child.expect("Goodbye!")
    assert finish(child) == 0


def test_first_chunk_is_on_screen_while_the_server_holds_the_rest(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    reply = Reply(chunks=["First words", " and the rest."], hold_after=1)
    scripted_server.enqueue(reply)
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("Go")
    child.expect("First words", timeout=10)  # the server is still holding " and the rest."
    assert not reply.release.is_set()
    reply.release.set()
    child.expect("and the rest.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0


def test_ctrl_c_mid_reply_keeps_partial_text_and_closes_the_connection(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Partial answer", " never sent"], hold_after=1),
                            Reply(chunks=["Second reply."]))
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("Tell me a long story")
    child.expect("Partial answer")
    child.sendintr()
    child.expect("stopped")
    child.expect("You: ")
    assert scripted_server.wait_closed(1, timeout=5)
    child.sendline("Go on")
    child.expect("Second reply.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    # The model is sent exactly what the user saw.
    assert scripted_server.requests[1].json["messages"][1] == {"role": "assistant", "content": "Partial answer"}


def test_ctrl_c_twice_at_the_prompt_leaves_with_130(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    ctrl_c_twice_at_the_prompt(child)


def test_ctrl_c_over_a_half_typed_line_drops_it_and_does_not_count_toward_leaving(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """In a real terminal (tmux): Ctrl-C on an empty line arms leaving; typing, then
    Ctrl-C, drops that line (one Up-arrow brings it back) and disarms, as in a shell:
    the chat goes on until the user ends it."""
    from tests.tmux import Pane

    scripted_server.enqueue(Reply(chunks=["Got the line back."]))
    with Pane(tmp_path, [], anthropic_env(tmp_path / "home", scripted_server.base_url)) as pane:
        pane.wait_for("You: ")
        pane.press("C-c")
        pane.wait_for("press Ctrl-C again")
        pane.type("half typed")
        pane.wait_for("half typed")
        pane.press("C-c")
        pane.wait_for("(line dropped; Up-arrow brings it back)")
        pane.press("C-c")  # an empty line again: this one arms, it does not leave
        pane.wait_for("press Ctrl-C again", count=2)
        assert pane.alive()
        pane.press("Up")
        pane.press("Enter")
        pane.wait_for("Got the line back.")
        assert scripted_server.requests[0].json["messages"][-1]["content"] == "half typed"
        pane.type("quit")
        pane.press("Enter")
        pane.wait_for("Goodbye!")


def test_a_failed_reply_is_its_error_line_not_an_empty_label_before_it(tmp_path: Path) -> None:
    """In a real terminal (tmux), a request that fails before any text: the screen shows
    the error line where the label stood, not "Claude: chinwag: could not connect"."""
    from tests.tmux import Pane

    with Pane(tmp_path, [], anthropic_env(tmp_path / "home", "http://127.0.0.1:9"), size=(120, 24)) as pane:
        pane.wait_for("You: ")
        pane.type("hello")
        pane.press("Enter")
        screen = pane.wait_for("/retry to send it again")
        failed = next(line for line in screen.splitlines() if "could not connect" in line)
        assert failed.startswith("chinwag: could not connect to http://127.0.0.1:9"), screen
        assert "Claude:" not in screen, screen
        pane.type("quit")
        pane.press("Enter")
        pane.wait_for("Goodbye!")


def test_turns_share_one_connection_which_is_closed_at_quit(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Done."]), Reply(chunks=["Again."]))
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("Hi")
    child.expect("Done.")
    child.expect("You: ")
    child.sendline("Once more")
    child.expect("Again.")
    child.expect("You: ")
    assert not scripted_server.wait_closed(1, timeout=0.3)  # kept alive for the next turn
    ports = {r.headers.get("x-client-port") for r in scripted_server.requests}
    child.sendline("quit")
    assert finish(child) == 0
    assert scripted_server.wait_closed(1, timeout=5)  # closed at exit, not left to the OS
    assert scripted_server.closed_connections == 1, ports


def test_dropped_connection_keeps_partial_reply_and_retry_asks_again(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Half a ", "reply", " lost"], drop_after=2), Reply(chunks=["Whole reply."]))
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("Question")
    child.expect("Half a reply")
    child.expect("interrupted")
    child.expect("/retry")
    child.expect("You: ")
    child.sendline("/retry")
    child.expect("Whole reply.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert scripted_server.requests[1].json["messages"] == [{"role": "user", "content": "Question"}]


def test_continue_resumes_an_interrupted_reply_with_prefill(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["The first half ", "then"], error_after=2), Reply(chunks=[" the second half."]))
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("Question")
    child.expect("Overloaded")
    child.expect("You: ")
    child.sendline("/continue")
    child.expect("the second half.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    sent = scripted_server.requests[1].json["messages"]
    assert sent[-1] == {"role": "assistant", "content": "The first half then"}


def test_unknown_slash_command_gets_a_suggestion(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("/retyr")
    child.expect("Did you mean /retry")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert scripted_server.requests == []


def test_multiline_input_between_triple_quotes(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Got it."]))
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline('"""')
    child.sendline("line one")
    child.sendline("line two")
    child.sendline('"""')
    child.expect("Got it.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert scripted_server.requests[0].json["messages"][0]["content"] == "line one\nline two"


def test_prompt_appears_before_any_provider_module_is_imported(tmp_path: Path) -> None:
    """The REPL shows `You:` first; httpx2 and llama_cpp load in the background."""
    imported = imported_before_prompt(anthropic_env(tmp_path, "http://127.0.0.1:9"))
    assert "chinwag.cli" in imported
    assert not {"httpx2", "llama_cpp", "rich", "prompt_toolkit", "anthropic", "openai", "sqlite3",
                "chinwag.providers.anthropic", "chinwag.history.store"} & imported
    # Nor what the first save or the first reply needs (issue 20.8: start-up back): the
    # history's operations and schema, the transcript's presentation, the records and events, json.
    assert not {"chinwag.history.ops", "chinwag.history.schema", "chinwag.history.blocks", "chinwag.present",
                "chinwag.events", "chinwag.records", "json"} & imported


def test_on_the_local_model_path_the_prompt_comes_before_the_events_and_llama_cpp(tmp_path: Path) -> None:
    """No key: the banner names the bundled model (so its provider is made before `You:`), but
    what a reply needs, the events and llama.cpp, loads after (issue 20.8)."""
    imported = imported_before_prompt(chinwag_env(tmp_path))
    assert "chinwag.providers.local" in imported
    assert not {"chinwag.events", "chinwag.records", "llama_cpp", "chinwag.history.ops", "json"} & imported


def test_no_traceback_when_the_server_is_gone_mid_session(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        url = server.base_url
        child = spawn_chinwag([], anthropic_env(tmp_path, url))
        child.expect("You: ")
    child.sendline("Hello?")
    index = child.expect(["could not connect", "Traceback", pexpect.TIMEOUT], timeout=20)
    assert index == 0
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0


def test_alt_enter_and_a_pasted_block_make_one_multi_line_message(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = spawn_chinwag(["--render", "plain"], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.send("line one")
    child.send("\x1b\r")  # Alt-Enter: a newline, not send
    child.send("line two\r")
    child.expect("Hello!")
    child.expect("You: ")
    child.send("\x1b[200~pasted one\npasted two\x1b[201~\r")  # a bracketed paste, then Enter
    child.expect("Hello!")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert scripted_server.requests[0].json["messages"][0]["content"] == "line one\nline two"
    assert scripted_server.requests[1].json["messages"][-1]["content"] == "pasted one\npasted two"


def test_input_history_persists_and_ctrl_r_finds_it(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = spawn_chinwag(["--render", "plain"], env)
    child.expect("You: ")
    child.sendline("a memorable question")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    child = spawn_chinwag(["--render", "plain"], env)  # a new session: history comes from the data dir
    child.expect("You: ")
    child.send("\x12memorable")  # Ctrl-R, then the search
    child.send("\r")
    child.expect("Hello!")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert [r.json["messages"][-1]["content"] for r in scripted_server.requests] == ["a memorable question"] * 2
