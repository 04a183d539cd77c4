"""The settings a provider declares (providers/spec.py) are enforced, never
silently dropped: a flag the chosen provider does not take is one line and
exit 2 before anything is sent; the same setting from config.toml (which holds
settings for every provider one uses) is a one-line note and the chat goes on;
after `/model`, a flag of the chat's the new provider does not take is a note
(refusing would forbid the switch). Two settings a provider takes but not
together (Anthropic's --think and --temperature) are refused the same way. A
declared `context_size` is the window the history is fitted to.

Nothing is simulated: the real `chinwag` with pipes or in a pseudo-terminal,
the scripted server on 127.0.0.1, and a toy provider installed as a plugin
(tests/plugins/chinwag_toy_window.py) through the entry points a user's would use.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_helpers import anthropic_env, chinwag_env, finish, run_chinwag, spawn_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.test_provider_plugin import ENTRY_POINTS, plugin_env


def openai_env(home: Path, server: ScriptedServer) -> dict[str, str]:
    return chinwag_env(home, OPENAI_API_KEY="test-key", OPENAI_BASE_URL=server.base_url + "/v1")


def test_a_flag_the_provider_does_not_take_is_one_line_and_exit_2_before_anything_is_sent(
        tmp_path: Path, scripted_server: ScriptedServer) -> None:
    for args, line in (
            (["-m", "openai:test-model", "--think", "hi"],
             "chinwag: --think: the openai provider does not take thinking; anthropic does.\n"),
            (["-m", "openai:test-model", "--think", "2048", "--temperature", "0.5", "hi"],
             "chinwag: --think: the openai provider does not take thinking; anthropic does.\n")):
        result = run_chinwag(args, openai_env(tmp_path, scripted_server))
        assert (result.returncode, result.stderr, result.stdout) == (2, line, "")
    local = run_chinwag(["-m", "local", "--timeout", "5", "hi"], chinwag_env(tmp_path))
    assert local.returncode == 2
    assert local.stderr == ("chinwag: --timeout: the local provider does not take a server timeout;"
                            " anthropic, openai do.\n")
    assert scripted_server.requests == []


def test_think_with_temperature_is_refused_for_anthropic_which_takes_only_its_default_then(
        tmp_path: Path, scripted_server: ScriptedServer) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url)
    result = run_chinwag(["--think", "--temperature", "0.5", "hi"], env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == ("chinwag: --temperature is not used with --think: Anthropic takes"
                                              " only its default temperature while thinking.")
    assert "Traceback" not in result.stderr and scripted_server.requests == []
    (tmp_path / "config.toml").write_text("temperature = 0.3\n")  # for every chat: a note, and the reply
    scripted_server.enqueue(Reply(chunks=["Thought about it."]))
    noted = run_chinwag(["--think", "hi"], env)
    assert noted.returncode == 0, noted.stderr
    assert noted.stdout == "Thought about it.\n"
    assert re.search(r"^chinwag: note: temperature in config \S+config.toml is not used with --think: Anthropic"
                     r" takes only its default temperature while thinking\. Ignored\.$", noted.stderr, re.M)
    assert "temperature" not in scripted_server.requests[-1].json


def test_a_setting_from_config_the_provider_does_not_take_is_a_note_and_the_reply_comes(
        tmp_path: Path, scripted_server: ScriptedServer) -> None:
    (tmp_path / "config.toml").write_text("context_size = 2048\n")
    scripted_server.enqueue(Reply(chunks=["Hello."]))
    result = run_chinwag(["-m", "openai:test-model", "hi"], openai_env(tmp_path, scripted_server))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello.\n"
    [note] = [line for line in result.stderr.splitlines() if "context_size" in line]
    assert re.fullmatch(r"chinwag: note: context_size in config \S+config.toml: the openai provider does not take"
                        r" a context size; local does\. Ignored\.", note)


def test_a_provider_table_setting_that_provider_does_not_take_is_a_note_with_its_line(
        tmp_path: Path, scripted_server: ScriptedServer) -> None:
    (tmp_path / "config.toml").write_text('[anthropic]\nprefill = "vllm"\n')
    scripted_server.enqueue(Reply(chunks=["Hello."]))
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello.\n"
    assert re.search(r"^chinwag: note: \S+config.toml, line 2: \[anthropic\] prefill: the anthropic provider does not"
                     r" take a prefill setting; openai does\. Ignored\.$", result.stderr, re.M), result.stderr


def test_after_model_a_flag_the_new_provider_does_not_take_is_a_note_and_the_chat_goes_on(
        tmp_path: Path, scripted_server: ScriptedServer) -> None:
    env = {**anthropic_env(tmp_path, scripted_server.base_url), "OPENAI_API_KEY": "test-key",
           "OPENAI_BASE_URL": scripted_server.base_url + "/v1"}
    child = spawn_chinwag(["--think"], env)
    child.expect("You: ")
    child.sendline("/model openai:test-model")
    child.expect_exact("Now using openai:test-model; the conversation goes on.")
    child.expect_exact("note: --think: the openai provider does not take thinking; anthropic does. Ignored.")
    child.expect("You: ")
    scripted_server.enqueue(Reply(chunks=["Plain answer."]))
    child.sendline("hi")
    child.expect_exact("Plain answer.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert scripted_server.requests[-1].path.endswith("/chat/completions")


def test_a_declared_context_size_is_the_window_the_history_is_fitted_to(tmp_path: Path) -> None:
    env = plugin_env(tmp_path, ENTRY_POINTS + "toywindow = chinwag_toy_window:SPEC\n")
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "config.toml").write_text("context_size = 600\n")
    question = "tell me about this: " + "words " * 80  # ~500 characters, ~170 tokens by estimate
    heard = []
    for turn in range(3):
        result = run_chinwag(["-m", "toywindow:toy-1", *(["-c"] if turn else []), question], env)
        assert result.returncode == 0, result.stderr
        heard.append(result.stdout.strip())
        trimmed = "left out the oldest" in result.stderr
    assert heard[0] == "heard 1 messages"
    assert heard[-1] != "heard 5 messages" and trimmed, (heard, result.stderr)
    (tmp_path / "home" / "config.toml").write_text("")  # no size declared: nothing is fitted
    result = run_chinwag(["-m", "toywindow:toy-1", "-c", question], env)
    assert result.stdout.strip() == "heard 7 messages"
