"""One-shot use and scripting: `chinwag "question"`, piped stdin, --json,
--no-stream, and the one-line errors with their exit codes.

Runs the installed `chinwag` with pipes (not a terminal), so output must be
plain text with no escape codes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import anthropic_env, chinwag_env, finish, imported_modules, run_chinwag, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


def test_one_shot_prints_the_reply_and_exits_0(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["A CPU ", "fetches, decodes ", "and executes."]))
    result = run_chinwag(["Explain a CPU"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "A CPU fetches, decodes and executes.\n"
    assert "\x1b" not in result.stdout
    assert scripted_server.requests[0].json["messages"] == [{"role": "user", "content": "Explain a CPU"}]


def test_piped_stdin_joins_the_prompt(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Summary."]))
    result = run_chinwag(["summarise this"], anthropic_env(tmp_path, scripted_server.base_url),
                         input="line 1\nline 2\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Summary.\n"
    assert scripted_server.requests[0].json["messages"][0]["content"] == "summarise this\n\nline 1\nline 2"


def test_piped_stdin_alone_is_the_prompt(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    result = run_chinwag([], anthropic_env(tmp_path, scripted_server.base_url), input="just stdin")
    assert result.returncode == 0, result.stderr
    assert scripted_server.requests[0].json["messages"][0]["content"] == "just stdin"


def test_json_mode_writes_one_event_per_line(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Hel", "lo \x1b[2J"], output_tokens=2))
    result = run_chinwag(["--json", "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == ["text", "text", "usage", "stop", "done"]
    assert "".join(e["text"] for e in events if e["type"] == "text") == "Hello \x1b[2J"  # raw, JSON-escaped
    assert "\x1b" not in result.stdout
    done = events[-1]
    assert done["status"] == "complete" and done["stop_reason"] == "end_turn"
    assert done["usage"] == {"input_tokens": 12, "output_tokens": 2, "cache_read_tokens": None,
                             "cache_write_tokens": None, "reasoning_tokens": None}
    assert done["cost"] > 0  # the default Claude model's price is known
    assert done["ttft"] > 0


def test_no_stream_sends_one_request_for_the_whole_reply(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Whole ", "reply."]))
    result = run_chinwag(["--no-stream", "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Whole reply.\n"
    assert "stream" not in scripted_server.requests[0].json


def test_flags_reach_the_request(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    result = run_chinwag(["-m", "anthropic:claude-x", "-s", "Be terse.", "--max-tokens", "77",
                          "--temperature", "0.2", "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    body = scripted_server.requests[0].json
    assert (body["model"], body["system"], body["max_tokens"], body["temperature"]) == ("claude-x", "Be terse.", 77, 0.2)


def test_openai_compatible_server_by_base_url(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["From ", "OpenAI-compatible."]))
    env = chinwag_env(tmp_path, OPENAI_BASE_URL=scripted_server.base_url + "/v1")
    result = run_chinwag(["-m", "openai:my-model", "hi"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "From OpenAI-compatible.\n"
    request = scripted_server.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.json["messages"][0] == {"role": "system", "content": "You are a helpful assistant. Keep responses brief and clear."}
    assert "authorization" not in request.headers  # no key set: none sent
    assert f"OPENAI_BASE_URL={scripted_server.base_url}/v1 from the environment" in result.stderr


def test_dot_env_base_url_is_announced(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"ANTHROPIC_API_KEY=from-dotenv\nANTHROPIC_BASE_URL={scripted_server.base_url}\n")
    result = run_chinwag(["hi"], chinwag_env(tmp_path / "home"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"using ANTHROPIC_BASE_URL={scripted_server.base_url} from ./.env" in result.stderr
    assert scripted_server.requests[0].headers["x-api-key"] == "from-dotenv"


def test_one_shot_in_a_terminal_shows_reply_and_no_spinner_left(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Slow ", "answer."], delay_first_byte=0.5))
    child = spawn_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("Slow answer.")
    assert finish(child) == 0


@pytest.mark.parametrize(
    ("args", "env_extra", "exit_code", "message"),
    [
        (["-m", "nonsense-model", "hi"], {}, 2, "unknown model 'nonsense-model'"),
        (["-m", "anthropic:claude-x", "hi"], {"ANTHROPIC_API_KEY": ""}, 2, "ANTHROPIC_API_KEY is not set"),
        (["-m", "openai:gpt-4o", "hi"], {}, 2, "OPENAI_API_KEY is not set"),
        (["", " "], {}, 2, "the prompt is empty"),
        (["--max-tokens", "many", "hi"], {}, 2, "invalid int value"),
        (["--bogus"], {}, 2, "unrecognized arguments: --bogus"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, args: list[str], env_extra: dict[str, str],
                                          exit_code: int, message: str) -> None:
    result = run_chinwag(args, chinwag_env(tmp_path, **env_extra))
    assert result.returncode == exit_code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_base_url_fails_with_exit_1(refused_url: str, tmp_path: Path) -> None:
    result = run_chinwag(["hi"], anthropic_env(tmp_path, refused_url))
    assert result.returncode == 1
    assert f"could not connect to {refused_url}: connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_key_says_which_variable_to_check(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(status=401, error_message="invalid x-api-key"))
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 1
    assert "the API key was refused (401: invalid x-api-key); check ANTHROPIC_API_KEY" in result.stderr
    assert len(scripted_server.requests) == 1  # not retried
    assert "test-key" not in result.stderr


def test_key_echoed_by_the_server_is_redacted(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(status=400, error_message="bad key sk-ant-secret-123456 given"))
    env = anthropic_env(tmp_path, scripted_server.base_url, ANTHROPIC_API_KEY="sk-ant-secret-123456")
    result = run_chinwag(["hi"], env)
    assert result.returncode == 1
    assert "sk-ant-secret-123456" not in result.stderr
    assert "[redacted]" in result.stderr


def test_stdin_that_is_not_utf8_is_refused(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    result = run_chinwag(["read this"], anthropic_env(tmp_path, scripted_server.base_url), input=b"\xff\xfe\x00bad")
    assert result.returncode == 2
    assert "standard input is not UTF-8" in result.stderr
    assert scripted_server.requests == []


def test_invalid_config_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("model = [unclosed\n")
    result = run_chinwag(["hi"], chinwag_env(tmp_path))
    assert result.returncode == 2
    assert f"invalid config file {tmp_path / 'config.toml'}" in result.stderr
    assert "line 1" in result.stderr


def test_help_lists_examples_and_version_prints(tmp_path: Path) -> None:
    result = run_chinwag(["--help"], chinwag_env(tmp_path))
    assert result.returncode == 0
    assert "examples:" in result.stdout and "--no-stream" in result.stdout and "exit codes" in result.stdout
    version = run_chinwag(["--version"], chinwag_env(tmp_path))
    assert version.stdout.startswith("chinwag 0.")


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    result = run_chinwag(["--help"], chinwag_env(tmp_path, PYTHONPROFILEIMPORTTIME="1"))
    imported = imported_modules(result.stderr)
    assert "chinwag.cli" in imported
    assert not {"httpx2", "llama_cpp", "rich", "prompt_toolkit", "platformdirs", "dotenv"} & imported


def test_failure_after_text_keeps_it_and_exits_1(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Kept ", "text", " lost"], drop_after=2))
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 1
    assert result.stdout == "Kept text\n"
    assert "reply interrupted: the connection dropped mid-reply" in result.stderr


def test_overloaded_then_success_shows_a_retry_line(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(status=529, headers={"retry-after-ms": "50"}), Reply(chunks=["Made it."]))
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Made it.\n"
    assert "overloaded (529), retrying in 0.05 s (attempt 2/3)" in result.stderr


def test_bad_render_setting_in_config_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('render = "fancy"\n')
    result = run_chinwag(["hi"], chinwag_env(tmp_path))
    assert result.returncode == 2
    assert "render must be one of auto, markdown, plain, got 'fancy'" in result.stderr


def test_world_readable_config_with_a_key_gets_a_warning(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[anthropic]\napi_key = "from-config"\nbase_url = "{scripted_server.base_url}"\n')
    config.chmod(0o644)
    result = run_chinwag(["hi"], chinwag_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"holds an API key and other users can read it; run: chmod 600 {config}" in result.stderr
    assert scripted_server.requests[0].headers["x-api-key"] == "from-config"
    config.chmod(0o600)
    assert "holds an API key" not in run_chinwag(["hi"], chinwag_env(tmp_path)).stderr


def test_prompt_file_joins_the_prompt_and_a_missing_one_is_named(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the notes\n")
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["-f", str(notes), "summarise"], env).returncode == 0
    assert scripted_server.requests[0].json["messages"][0]["content"] == "summarise\n\nthe notes"
    missing = run_chinwag(["-f", str(tmp_path / "nope.txt"), "summarise"], env)
    assert missing.returncode == 2
    assert f"cannot read the prompt file {tmp_path / 'nope.txt'}: no such file." in missing.stderr
    assert len(scripted_server.requests) == 1


def test_base_url_that_is_not_http_is_a_config_error(tmp_path: Path) -> None:
    result = run_chinwag(["hi"], chinwag_env(tmp_path, ANTHROPIC_API_KEY="k", ANTHROPIC_BASE_URL="api.example.com"))
    assert result.returncode == 2
    assert "ANTHROPIC_BASE_URL must start with http:// or https://, got 'api.example.com' (from the environment)" in result.stderr


def test_oversized_prompt_rejected_by_the_server_is_one_clear_line(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(status=413, error_message="Request exceeds the maximum allowed number of bytes."))
    result = run_chinwag(["x" * 100_000], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"chinwag: {scripted_server.base_url.split('//')[1]} answered 413: Request exceeds the maximum allowed number of bytes.")
    assert len(scripted_server.requests) == 1


def test_base_url_with_a_stray_v1_gets_a_hint_on_404(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url + "/v1"))  # .../v1/v1/messages
    assert result.returncode == 1
    assert "answered 404" in result.stderr and "ANTHROPIC_BASE_URL should not end in /v1" in result.stderr


def test_server_that_answers_json_instead_of_a_stream_is_named(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(raw='{"not": "a stream"}'))
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the base-URL notice, then one error line
