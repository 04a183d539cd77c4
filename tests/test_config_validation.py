"""Bad numbers and bad settings are one line at start, exit 2, never a traceback.

Every numeric flag and config value is checked before anything is sent (NaN,
infinity, negatives, out of range, wrong types); an unknown config key is a
warning naming its file and line; a known key of the wrong type is refused
naming file, line and key; a bad CHINWAG_MODEL names the variable. All
through the installed `chinwag`, as a user meets them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import anthropic_env, run_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


def _refused(result, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chinwag: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("flags", [
    ["--temperature", "nan"], ["--temperature", "inf"], ["--temperature", "-0.5"], ["--temperature", "7"],
    ["--max-tokens", "0"], ["--max-tokens", "-3"], ["--timeout", "nan"], ["--timeout", "-1"],
    ["--timeout", "0"], ["--timeout", "inf"],
])
def test_a_bad_numeric_flag_is_one_line_and_exit_2(flags: list[str], scripted_server: ScriptedServer,
                                                   tmp_path: Path) -> None:
    result = run_chinwag([*flags, "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    _refused(result, flags[0], flags[1])
    assert not scripted_server.requests, "a request left with a bad setting"


def test_a_bad_temperature_in_the_chat_is_refused_before_the_prompt(scripted_server: ScriptedServer,
                                                                    tmp_path: Path) -> None:
    """It used to pass the start and end the chat at the first message."""
    result = run_chinwag(["--temperature", "nan"], anthropic_env(tmp_path, scripted_server.base_url), input="hi\n")
    _refused(result, "--temperature")


@pytest.mark.parametrize(("line", "key"), [
    ("temperature = nan", "temperature"), ("temperature = 2.5", "temperature"), ("max_tokens = true", "max_tokens"),
    ("max_tokens = 0", "max_tokens"), ("retries = 1.5", "retries"), ("retries = -1", "retries"),
    ("timeout = inf", "timeout"), ("max_retry_wait = -2", "max_retry_wait"), ('context_size = "big"', "context_size"),
    ('allow = ["*"]', "allow"), ("tools = \"shell\"", "tools"), ("save = \"maybe\"", "save"), ("model = 5", "model"),
])
def test_a_config_value_of_the_wrong_kind_names_file_line_and_key(line: str, key: str, scripted_server: ScriptedServer,
                                                                  tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'# my settings\nsystem = "Be brief."\n{line}\n')
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    _refused(result, str(config), "line 3", key)
    assert not scripted_server.requests


def test_a_provider_table_value_of_the_wrong_kind_is_refused(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "anthropic:claude-x"\n\n[openai]\nbase_url = 5\n')
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    _refused(result, str(config), "line 4", "[openai] base_url")


def test_an_unknown_config_key_is_a_warning_with_its_file_and_line(scripted_server: ScriptedServer,
                                                                   tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Fine."]))
    config = tmp_path / "config.toml"
    config.write_text('system = "Be brief."\nmodle = "x"\n\n[openai]\nbse_url = "http://x"\n')
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Fine."
    warnings = [line for line in result.stderr.splitlines() if "unknown setting" in line]
    assert len(warnings) == 2, result.stderr
    assert f"{config}, line 2" in warnings[0] and "'modle'" in warnings[0] and "did you mean 'model'?" in warnings[0]
    assert f"{config}, line 5" in warnings[1] and "[openai] 'bse_url'" in warnings[1] and "'base_url'" in warnings[1]


def test_a_bad_chinwag_model_names_the_variable(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url, CHINWAG_MODEL="garbage")
    _refused(run_chinwag(["hi"], env), "CHINWAG_MODEL", "garbage")
    _refused(run_chinwag(["-m", "garbage", "hi"], env), "--model")
