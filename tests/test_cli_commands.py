"""Slash commands in the chat, `chinwag models`, and plain output under NO_COLOR."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import leave_chat, start_chat, anthropic_env, chinwag_env, finish, run_chinwag, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer




def test_help_lists_every_command(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("/help")
    for name in ("/retry", "/continue", "/model", "/system", "/new", "/history", "/save", "/copy", "/stats", "/exit"):
        child.expect(name)
    leave_chat(child)


def test_system_and_new_change_what_is_sent(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("/system Answer in French.")
    child.expect("System prompt set.")
    child.sendline("First")
    child.expect("Hello!")
    child.expect("You: ")
    child.sendline("/new")
    child.expect("Started a new conversation.")
    child.sendline("Second")
    child.expect("Hello!")
    leave_chat(child)
    first, second = (r.json for r in scripted_server.requests)
    assert first["system"] == "Answer in French."
    assert second["messages"] == [{"role": "user", "content": "Second"}]


def test_model_switches_provider_and_keeps_the_conversation(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["From Claude."]), Reply(chunks=["From the other server."]))
    env = anthropic_env(tmp_path, scripted_server.base_url, OPENAI_BASE_URL=scripted_server.base_url + "/v1")
    child = start_chat(env)
    child.sendline("Hi")
    child.expect("From Claude.")
    child.expect("You: ")
    child.sendline("/model openai:other-model")
    child.expect("Now using openai:other-model")
    child.sendline("And you?")
    child.expect("From the other server.")
    child.expect("You: ")
    child.sendline("/model")
    child.expect("openai:other-model")
    leave_chat(child)
    second = scripted_server.requests[1]
    assert second.path == "/v1/chat/completions" and second.json["model"] == "other-model"
    assert [m["content"] for m in second.json["messages"][1:]] == ["Hi", "From Claude.", "And you?"]


def test_model_with_a_bad_spec_keeps_the_current_one(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("/model nonsense")
    child.expect("unknown model 'nonsense'")
    child.sendline("/model")
    child.expect("anthropic:claude-sonnet-4-20250514")
    leave_chat(child)


def test_a_bad_model_names_where_it_was_given(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """`/model nope:x` typed in the chat names /model, not a --model flag the person never
    typed; on the command line, in CHINWAG_MODEL and in config.toml each names its own."""
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = start_chat(env, ["--model", "anthropic:claude-sonnet-4-20250514"])
    child.sendline("/model nope:x")
    child.expect(r"unknown model 'nope:x' \(from ([^)]*)\)")
    assert child.match.group(1) == "/model"
    child.expect("You: ")
    child.sendline("/model")
    child.expect("anthropic:claude-sonnet-4-20250514")
    leave_chat(child)

    flag = run_chinwag(["--model", "nope:x", "hi"], env)
    assert flag.returncode == 2 and "unknown model 'nope:x' (from --model)" in flag.stderr, flag.stderr
    variable = run_chinwag(["hi"], {**env, "CHINWAG_MODEL": "nope:x"})
    assert variable.returncode == 2 and "(from CHINWAG_MODEL in the environment)" in variable.stderr, variable.stderr
    config = tmp_path / "config.toml"
    config.write_text('model = "nope:x"\n', encoding="utf-8")
    in_file = run_chinwag(["hi"], env)
    assert in_file.returncode == 2 and f"(from model in config {config})" in in_file.stderr, in_file.stderr
    assert not scripted_server.requests


def test_save_writes_the_conversation_as_markdown(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Answer \x1b[2Jhere."]))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("Question")
    child.expect("You: ")
    target = tmp_path / "chat.md"
    child.sendline(f"/save {target}")
    child.expect("Saved 2 messages")
    child.sendline("/save /nonexistent-dir/x.md")
    child.expect("cannot write")
    leave_chat(child)
    text = target.read_text()
    assert "**You:** Question" in text and "**Claude:** Answer here." in text and "\x1b" not in text


def test_copy_without_a_clipboard_tool_says_so(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url, PATH="/nonexistent")
    child = spawn_chinwag([], env)
    child.expect("You: ")
    child.sendline("/copy")
    child.expect("no reply to copy yet")
    child.sendline("Hi")
    child.expect("Hello!")
    child.expect("You: ")
    child.sendline("/copy")
    child.expect("no clipboard tool found")
    leave_chat(child)


def test_stats_shows_the_last_replys_figures(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("/stats")
    child.expect("no reply yet")
    child.sendline("Hi")
    child.expect("You: ")
    child.sendline("/stats")
    child.expect(r"s to first token · 2 tok")
    leave_chat(child)


def test_tab_completes_slash_commands(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.send("/sta\t")
    child.expect("/stats")
    child.sendline("")
    child.expect("no reply yet")
    leave_chat(child)


def test_no_color_chat_writes_no_escape_codes(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Plain ", "reply."], delay_first_byte=0.3))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url, NO_COLOR="1", TERM="dumb"))
    child.sendline("Hi")
    child.expect("Plain reply.")
    child.expect("You: ")
    shown = child.before
    child.sendline("quit")
    assert finish(child) == 0
    assert "\x1b" not in shown


def test_models_lists_what_is_reachable(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    server = ScriptedServer(models=["model-a", "model-b"])
    with server:
        env = chinwag_env(tmp_path, ANTHROPIC_API_KEY="k", ANTHROPIC_BASE_URL=server.base_url,
                          OPENAI_BASE_URL=server.base_url + "/v1")
        result = run_chinwag(["models"], env)
    assert result.returncode == 0, result.stderr
    assert "default: anthropic:claude-sonnet-4-20250514" in result.stdout
    assert "anthropic:model-a" in result.stdout and "openai:model-b" in result.stdout
    assert "local:SmolLM2-135M-Instruct.Q4_1" in result.stdout
