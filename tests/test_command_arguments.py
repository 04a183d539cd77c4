"""A slash command given an argument it does not take says so in one line.

`/new x` used to start a new conversation and `/retry x` ask again, the `x`
silently dropped: the user who meant `/system x` or `/save x` lost their
conversation or paid for a reply they did not want. Every command whose row
in the table (cli/commands.py) takes no argument now refuses one and does
nothing; `/help NAME` shows that one command. The installed `chinwag` in a
pseudo-terminal, against the scripted Anthropic server.
"""

from __future__ import annotations

from pathlib import Path

from chinwag.cli.commands import COMMANDS
from tests.cli_helpers import anthropic_env, leave_chat, start_chat
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer

# /exit (and quit, /quit) leave whatever follows them: leaving is never a surprise.
NO_ARGUMENT = [name for command in COMMANDS if not command.args and command.name != "/exit"
               for name in (command.name, *command.aliases) if name.startswith("/")]


def test_commands_that_take_no_argument_refuse_one_and_do_nothing(scripted_server: ScriptedServer,
                                                                  tmp_path: Path) -> None:
    assert {"/new", "/clear", "/retry", "/stats", "/continue", "/copy", "/tools", "/show"} <= set(NO_ARGUMENT)
    scripted_server.enqueue(Reply(chunks=["First answer."]), Reply(chunks=["Second answer."]))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("first question")
    child.expect("First answer.")
    child.expect("You: ")
    for name in NO_ARGUMENT:
        child.sendline(f"{name} x")
        child.expect_exact(f"chinwag: {name} takes no argument; type {name} alone")
        child.expect("You: ")
    child.sendline("second question")
    child.expect("Second answer.")
    leave_chat(child)
    # Nothing was asked again (/retry x), and the conversation went on (/new x, /clear x).
    assert len(scripted_server.requests) == 2
    assert [m["content"] for m in scripted_server.requests[1].json["messages"]] == [
        "first question", "First answer.", "second question"]


def test_help_with_a_name_shows_that_command(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("/help save")
    child.expect(r"/save \[--force\] FILE +write this conversation")
    child.expect("You: ")
    child.sendline("/help /clear")
    child.expect(r"/new +start a new conversation \(also /clear\)")
    child.expect("You: ")
    assert "/retry" not in child.before  # one command, not the whole list
    child.sendline("/help nosuch")
    child.expect_exact("chinwag: unknown command /nosuch.")
    child.expect("You: ")
    child.sendline("/help save model")
    child.expect_exact("chinwag: /help takes one command name, e.g. /help save")
    leave_chat(child)
