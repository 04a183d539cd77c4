"""The set-up contract: README.md opens with the two commands a new user
runs, and CI (.ci/run) runs exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_section = text.split("## Using it", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", first_section)


def test_readme_opens_with_exactly_two_commands_install_and_chat_then_tests() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    chat, tests = commands
    assert 'pip install -e ".[local]"' in chat and chat.endswith("&& chinwag")
    assert 'pip install -e ".[local,test]"' in tests and tests.endswith("&& python -m pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()
