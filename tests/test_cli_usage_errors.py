"""Bad usage on any of chinwag's command lines (the chat's, and each subcommand's)
is one line on stderr, `chinwag: ... (see PROG --help)`, exit 2, with nothing on
stdout; `-h` and `--help` print the usage on stdout and exit 0.

One parser class reads them all (cli/parser.py). The real `chinwag` runs with
pipes; `/history` runs inside a real chat in a pseudo-terminal (pexpect).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import anthropic_env, chinwag_env, leave_chat, run_chinwag, start_chat
from tests.fakes.server import Reply, ScriptedServer

COMMANDS = ([], ["history"], ["usage"], ["templates"], ["mcp"], ["serve"])


def named(cases: list[tuple[list[str], str]]) -> list[object]:
    return [pytest.param(argv, line, id=" ".join(argv)) for argv, line in cases]


@pytest.mark.parametrize("argv, line", named([
    (["--nope"], "unrecognized arguments: --nope (see chinwag --help)"),
    (["--max-tokens", "x"], "argument --max-tokens: invalid int value: 'x' (see chinwag --help)"),
    (["history", "list", "--nope"], "unrecognized arguments: --nope (see chinwag history --help)"),
    (["history", "frobnicate"], "argument COMMAND: invalid choice: 'frobnicate' (choose from 'list', 'show',"
                                " 'search', 'export', 'delete', 'check') (see chinwag history --help)"),
    (["usage", "--nope"], "unrecognized arguments: --nope (see chinwag usage --help)"),
    (["usage", "--days", "1", "--since", "2020-01-01"],
     "argument --since: not allowed with argument --days (see chinwag usage --help)"),
    (["templates", "list", "--nope"], "unrecognized arguments: --nope (see chinwag templates --help)"),
    (["templates"], "the following arguments are required: list|show|edit|path|import"
                    " (see chinwag templates --help)"),
    (["mcp", "list", "--nope"], "unrecognized arguments: --nope (see chinwag mcp --help)"),
    (["mcp", "frobnicate"], "argument list|login|logout: invalid choice: 'frobnicate' (choose from 'list',"
                            " 'login', 'logout') (see chinwag mcp --help)"),
    (["serve", "--nope"], "unrecognized arguments: --nope (see chinwag serve --help)"),
    (["serve", "--port", "x"], "argument --port: invalid int value: 'x' (see chinwag serve --help)"),
]))
def test_bad_usage_is_one_line_naming_the_help_to_read(tmp_path: Path, argv: list[str], line: str) -> None:
    done = run_chinwag(argv, chinwag_env(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"chinwag: {line}\n")


@pytest.mark.parametrize("argv, line", named([
    (["history", "show"], "the following arguments are required: ID (see chinwag history show --help)"),
    (["history", "list", "--limit", "0"],
     "argument --limit: expected a positive whole number, got '0' (see chinwag history list --help)"),
    (["templates", "show"], "the following arguments are required: NAME (see chinwag templates show --help)"),
    (["templates", "import", "fabric"], "argument source: invalid choice: 'fabric' (choose from 'llm', 'aichat')"
                                        " (see chinwag templates import --help)"),
    (["mcp", "login"], "the following arguments are required: NAME (see chinwag mcp login --help)"),
]))
def test_a_subcommands_error_names_that_subcommands_help(tmp_path: Path, argv: list[str], line: str) -> None:
    """`chinwag templates show` without a name points at `chinwag templates show --help`,
    the help that lists NAME, as history's subcommands always did."""
    done = run_chinwag(argv, chinwag_env(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"chinwag: {line}\n")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "chat")
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_is_the_usage_on_stdout_and_exit_0(tmp_path: Path, command: list[str], flag: str) -> None:
    done = run_chinwag([*command, flag], chinwag_env(tmp_path))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"usage: {' '.join(['chinwag', *command])} [-h]")
    assert "\noptions:\n" in done.stdout


def test_a_subcommands_help_is_its_own(tmp_path: Path) -> None:
    for argv in (["history", "show"], ["templates", "import"], ["mcp", "login"]):
        done = run_chinwag([*argv, "--help"], chinwag_env(tmp_path))
        assert (done.returncode, done.stderr) == (0, "")
        assert done.stdout.startswith(f"usage: chinwag {' '.join(argv)} [-h]")


def test_history_help_and_bad_usage_inside_the_chat_leave_the_chat_running(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """`/history --help` prints history's usage and `/history list --nope` its one
    line; neither ends the chat (the parser's exit is caught inside it), and the
    next message is answered."""
    scripted_server.enqueue(Reply(chunks=["Still here."]))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("/history --help")
    child.expect("usage: chinwag history")
    child.expect("You: ")
    child.sendline("/history list --nope")
    child.expect(r"chinwag: unrecognized arguments: --nope \(see chinwag history --help\)")
    child.expect("You: ")
    child.sendline("are you there?")
    child.expect("Still here.")
    leave_chat(child)
