"""Every number a user sets has a top: past it, one line naming where it came from, exit 2.

`--max-tokens 100000000000000000000000` and `retries = 100000000` used to pass
the checks (only a bottom was checked) and reach the server, the retry loop or
a timer as a number nobody meant. Through the installed `chinwag`, as a user
meets them; the ranges are config_schema.py's. (`context_size` is the one
without a top of its own: a local model takes at most the length it was
trained on, and a larger one means that length; test_local_context_size.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import anthropic_env, run_chinwag
from tests.test_config_validation import _refused
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


@pytest.mark.parametrize(("flags", "wanted"), [
    (["--max-tokens", "100000000000000000000000"], "a whole number from 1 to 1,000,000"),
    (["--max-tokens", "1000001"], "a whole number from 1 to 1,000,000"),
    (["--timeout", "1e300"], "a number from 0 to 86400"),
    (["--timeout", "86401"], "a number from 0 to 86400"),
    (["--think", "100000000000000000000000"], "1,024 to 1,000,000"),
])
def test_a_numeric_flag_past_its_top_is_one_line_and_exit_2(flags: list[str], wanted: str,
                                                            scripted_server: ScriptedServer, tmp_path: Path) -> None:
    result = run_chinwag([*flags, "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    _refused(result, flags[0], wanted)
    assert not scripted_server.requests, "a request left with a bad setting"


@pytest.mark.parametrize(("line", "key", "wanted"), [
    ("retries = 100000000", "retries", "a whole number from 0 to 10"),
    ("max_tokens = 100000000000000000000000", "max_tokens", "a whole number from 1 to 1,000,000"),
    ("max_tokens = 1" + "0" * 400, "max_tokens", "a whole number from 1 to 1,000,000"),  # past a float
    ("timeout = 1e300", "timeout", "a number from 0 to 86400"),
    ("max_retry_wait = 1e12", "max_retry_wait", "a number from 0 to 3600"),
    ("max_tool_rounds = 1000000000", "max_tool_rounds", "a whole number from 1 to 1,000"),
    ("tool_output_limit = 9007199254740993", "tool_output_limit", "a whole number from 1 to 16,777,216"),
])
def test_a_config_number_past_its_top_names_file_line_and_key(line: str, key: str, wanted: str,
                                                              scripted_server: ScriptedServer, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'# my settings\nsystem = "Be brief."\n{line}\n')
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    _refused(result, str(config), "line 3", key, wanted)
    assert not scripted_server.requests


def test_a_number_from_the_environment_past_its_top_names_the_variable(scripted_server: ScriptedServer,
                                                                       tmp_path: Path) -> None:
    """The settings layers are read alike: a value in ./.env is checked as one in the file."""
    (tmp_path / ".env").write_text("retries=100000000\n")
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url), cwd=tmp_path)
    _refused(result, "retries in ./.env", "a whole number from 0 to 10")


def test_the_tops_themselves_are_taken(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Fine."]))
    (tmp_path / "config.toml").write_text("retries = 10\nmax_retry_wait = 3600\nmax_tool_rounds = 1000\n"
                                          "tool_output_limit = 16777216\n")
    result = run_chinwag(["--max-tokens", "1000000", "--timeout", "86400", "hi"],
                         anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Fine."
    assert scripted_server.requests[0].json["max_tokens"] == 1_000_000
