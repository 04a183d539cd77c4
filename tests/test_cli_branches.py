"""Branches in the chat: /edit, /retry, /undo, /tree, /switch and /fork, through the installed
`chinwag` in a pseudo-terminal (pexpect), against a scripted server that records each request.

What a person sees after each command, and what the model is sent afterwards: exactly the
path from the root to the current leaf, never a sibling. Each bad input is one line and the
chat goes on. Messages are numbered as /tree numbers them: in order of creation.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pexpect
import pytest

from tests.cli_helpers import anthropic_env, chinwag_env, finish, run_chinwag, start_chat
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.procs import wait_until_reading_keys

if TYPE_CHECKING:
    from tests.tmux import Pane


def _sent(server: ScriptedServer, index: int = -1) -> list[tuple[str, str]]:
    """(role, text) of each message in a request the server received (on either wire;
    the system prompt, which OpenAI's carries as a message, left out)."""
    body = [r for r in server.requests if r.method == "POST"][index].json
    out = []
    for message in body["messages"]:
        if message["role"] == "system":
            continue
        content = message["content"]
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        out.append((message["role"], text))
    return out


def _quit(child: pexpect.spawn) -> None:
    """Type quit (at a prompt already waited for, or soon drawn) and require a clean exit."""
    child.sendline("quit")
    child.expect("Goodbye!")
    assert finish(child) == 0


def _posts(server: ScriptedServer) -> int:
    return sum(r.method == "POST" for r in server.requests)


def _say(child: pexpect.spawn, text: str, reply: str) -> None:
    child.sendline(text)
    child.expect(reply)
    child.expect("You: ")


def _two_exchanges(server: ScriptedServer, tmp_path: Path, wire: str = "anthropic", **env: str) -> pexpect.spawn:
    """A chat holding 1 You: Q1 · 2 A1 · 3 You: Q2 · 4 A2, on Anthropic's wire or OpenAI's."""
    server.enqueue(Reply(chunks=["A1"]), Reply(chunks=["A2"]))
    if wire == "openai":
        env = {**env, "OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": server.base_url + "/v1"}
        child = start_chat(chinwag_env(tmp_path, **env), ["--render", "plain", "-m", "openai:gpt-4o-mini"])
    else:
        child = start_chat(anthropic_env(tmp_path, server.base_url, **env), ["--render", "plain"])
    _say(child, "Q1", "A1")
    _say(child, "Q2", "A2")
    return child


def _editor(tmp_path: Path, body: str) -> str:
    """An editor program (a shell script) that does `body` to the file it is given ($1)."""
    script = tmp_path / "editor.sh"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


# -- /edit -----------------------------------------------------------------------

@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_edit_on_the_input_line_branches_and_the_model_gets_only_the_new_path(
        scripted_server: ScriptedServer, tmp_path: Path, wire: str) -> None:
    child = _two_exchanges(scripted_server, tmp_path, wire)
    scripted_server.enqueue(Reply(chunks=["A2 edited"]))
    child.sendline("/edit")  # no $VISUAL or $EDITOR: the input line, filled with the old text
    child.expect("Edit: Q2")
    wait_until_reading_keys(child.pid)
    child.send(" please\r")  # the cursor is at the end of the old text
    child.expect("message 3 edited: a new branch")
    child.expect("A2 edited")
    child.expect("You: ")
    assert _sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2 please")]
    child.sendline("/tree")
    child.expect("2 branches")
    child.expect(r"\* 6 +(Claude|Assistant): A2 edited +← current")
    child.expect("You: ")
    scripted_server.enqueue(Reply(chunks=["A3"]))
    _say(child, "Q3", "A3")
    assert _sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2 please"),
                                      ("assistant", "A2 edited"), ("user", "Q3")]
    _quit(child)


def test_edit_an_earlier_message_in_the_editor(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    editor = _editor(tmp_path, 'printf "Q1, in French\\n" > "$1"')
    child = _two_exchanges(scripted_server, tmp_path, EDITOR=editor)
    scripted_server.enqueue(Reply(chunks=["R1 en français"]))
    child.sendline("/edit 1")
    child.expect("R1 en français")
    child.expect("You: ")
    assert _sent(scripted_server) == [("user", "Q1, in French")]
    _quit(child)


def test_visual_wins_over_editor(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    visual = _editor(tmp_path, 'printf "from VISUAL\\n" > "$1"')
    child = _two_exchanges(scripted_server, tmp_path, VISUAL=visual, EDITOR="false")
    scripted_server.enqueue(Reply(chunks=["ok"]))
    child.sendline("/edit 3")
    child.expect("ok")
    child.expect("You: ")
    assert _sent(scripted_server)[-1] == ("user", "from VISUAL")
    _quit(child)


def test_an_editor_that_fails_or_saves_nothing_changes_nothing(scripted_server: ScriptedServer,
                                                               tmp_path: Path) -> None:
    failing = _editor(tmp_path, "exit 3")
    child = _two_exchanges(scripted_server, tmp_path, EDITOR=failing)
    posts = _posts(scripted_server)
    child.sendline("/edit")
    child.expect(r"chinwag: the editor .*editor.sh exited with status 3; nothing changed\.")
    child.expect("You: ")
    (tmp_path / "editor.sh").write_text('#!/bin/sh\n: > "$1"\n')  # saves the file empty
    child.sendline("/edit 1")
    child.expect(r"chinwag: the edited message is empty; nothing changed\.")
    child.expect("You: ")
    (tmp_path / "editor.sh").write_text("#!/bin/sh\ntrue\n")  # saves it as it was
    child.sendline("/edit 3")
    child.expect(r"chinwag: the message is unchanged; nothing changed")
    child.expect("You: ")
    child.sendline("/tree")
    child.expect(r"4 messages · 1 branch ")
    assert _posts(scripted_server) == posts
    scripted_server.enqueue(Reply(chunks=["A3"]))
    _say(child, "Q3", "A3")  # the chat goes on, on the same path
    assert _sent(scripted_server)[-2:] == [("assistant", "A2"), ("user", "Q3")]
    _quit(child)


def test_an_editor_that_cannot_start_is_one_line(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = _two_exchanges(scripted_server, tmp_path, EDITOR="/no/such/editor --wait")
    child.sendline("/edit")
    child.expect(r"chinwag: cannot run the editor /no/such/editor \(\$EDITOR\): No such file or directory;"
                 r" nothing changed\.")
    _quit(child)


def test_ctrl_c_on_the_edit_line_drops_the_edit(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = _two_exchanges(scripted_server, tmp_path)
    posts = _posts(scripted_server)
    child.sendline("/edit 1")
    child.expect("Edit: Q1")
    wait_until_reading_keys(child.pid)
    child.sendintr()
    child.expect(r"chinwag: edit dropped; nothing changed\.")
    child.expect("You: ")
    assert _posts(scripted_server) == posts
    _quit(child)


def test_bad_edits_are_one_line_each(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    server = scripted_server
    child = start_chat(anthropic_env(tmp_path, server.base_url), ["--render", "plain"])
    child.sendline("/edit")
    child.expect(r"chinwag: there is no message of yours to edit yet\.")
    child.expect("You: ")
    _say(child, "Q1", "Hello!")
    for command, said in [
        ("/edit 999", r"there is no message 999 in this conversation \(it has messages 1 to 2; /tree shows them\)"),
        ("/edit 2", r"message 2 is a reply, which the model writes: /switch 2 then /retry asks for another,"
                    r" or /edit 1 changes the question before it\."),
        ("/edit two", r"/edit takes a message number from /tree, not 'two'\."),
        ("/edit 99999999999999999999999", r"there is no message 99999999999999999999999 in this conversation"),
    ]:
        child.sendline(command)
        child.expect(f"chinwag: {said}")
        child.expect("You: ")
    assert _posts(server) == 1
    _quit(child)


def test_edit_typed_while_a_reply_streams_is_refused(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """The reply is not stopped: keys typed while it streams wait for `You:` (as every line does),
    and a command that moves to another branch is then refused, in one line."""
    streaming = Reply(chunks=["slow ", "reply ", "ends"], hold_after=1)
    scripted_server.enqueue(streaming)
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url), ["--render", "plain"])
    child.sendline("Q1")
    child.expect("slow ")
    child.sendline("/edit")  # typed mid-reply
    time.sleep(0.3)
    streaming.release.set()
    child.expect("ends")
    child.expect(r"chinwag: /edit was typed while the reply streamed, so it was not run")
    child.expect("You: ")
    assert _posts(scripted_server) == 1
    child.sendline("/tree")
    child.expect(r"2 messages · 1 branch ")
    _quit(child)


# -- /retry, /undo, /switch --------------------------------------------------------

def test_retry_keeps_the_old_reply_and_switch_brings_it_back(scripted_server: ScriptedServer,
                                                             tmp_path: Path) -> None:
    child = _two_exchanges(scripted_server, tmp_path)
    scripted_server.enqueue(Reply(chunks=["A2 again"]))
    child.sendline("/retry")
    child.expect("A2 again")
    child.expect(r"the earlier reply \(4\) kept beside this one")
    child.expect("You: ")
    assert _sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2")]
    child.sendline("/tree")
    child.expect(r"\* 3 +You: Q2 +· 2 branches")
    child.expect(r"  4 +\[1/2\] Claude: A2(\x1b\[22m)?\r\n")  # (the lines off the current path are dim)
    child.expect(r"\* 5 +\[2/2\] Claude: A2 again +← current")
    child.expect("You: ")
    child.sendline("/switch 4")
    child.expect("on the branch through message 4, now at message 4")
    child.expect("Claude: A2")
    child.expect("You: ")
    scripted_server.enqueue(Reply(chunks=["A3"]))
    _say(child, "Q3", "A3")
    assert _sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2"),
                                      ("user", "Q3")]
    _quit(child)


def test_undo_steps_back_and_the_next_message_branches(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = _two_exchanges(scripted_server, tmp_path)
    child.sendline("/undo")
    child.expect(r"Stepped back to message 2 \(Claude: A1\): your next message starts a new branch there\."
                 r" Nothing was deleted\. /switch 4 goes back\.")
    child.expect("You: ")
    scripted_server.enqueue(Reply(chunks=["B2"]))
    _say(child, "Other Q2", "B2")
    assert _sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Other Q2")]
    child.sendline("/undo")
    child.expect("Stepped back to message 2")
    child.sendline("/undo")
    child.expect(r"Stepped back to the start")
    child.expect("You: ")
    child.sendline("/undo")
    child.expect(r"chinwag: nothing to undo")
    child.expect("You: ")
    child.sendline("/switch 3")  # the first branch again, to its newest leaf
    child.expect("on the branch through message 3, now at message 4")
    child.expect("You: Q2")
    child.expect("Claude: A2")
    child.expect("You: ")
    _quit(child)


def test_undo_at_the_root_is_one_line(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("/undo")
    child.expect(r"chinwag: nothing to undo")
    child.expect("You: ")
    child.sendline("/undo 2")
    child.expect(r"chinwag: /undo takes no argument")
    child.sendline("/tree")
    child.expect("Nothing here yet")
    _quit(child)


def test_bad_switches_are_one_line_each(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = _two_exchanges(scripted_server, tmp_path)
    for command, said in [("/switch", r"say which message: /switch N \(/tree shows the numbers\)\."),
                          ("/switch 5", r"there is no message 5 in this conversation \(it has messages 1 to 4"),
                          ("/switch -1", r"/switch takes a message number from /tree, not '-1'\."),
                          ("/switch 0", r"there is no message 0 in this conversation")]:
        child.sendline(command)
        child.expect(f"chinwag: {said}")
        child.expect("You: ")
    scripted_server.enqueue(Reply(chunks=["A3"]))
    _say(child, "Q3", "A3")  # still on the same path
    assert _sent(scripted_server)[-2:] == [("assistant", "A2"), ("user", "Q3")]
    _quit(child)


def test_a_message_of_another_conversation_is_not_this_ones(scripted_server: ScriptedServer,
                                                           tmp_path: Path) -> None:
    """Numbers belong to a conversation: after /new, message 3 of the last one is no message here."""
    child = _two_exchanges(scripted_server, tmp_path)
    child.sendline("/new")
    child.expect("Started a new conversation.")
    scripted_server.enqueue(Reply(chunks=["N1"]))
    _say(child, "New Q", "N1")
    child.sendline("/switch 3")
    child.expect(r"chinwag: there is no message 3 in this conversation \(it has messages 1 to 2")
    _quit(child)


# -- /fork ----------------------------------------------------------------------

def test_fork_copies_the_path_into_a_new_conversation(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = _two_exchanges(scripted_server, tmp_path)
    child.sendline("/fork")
    child.expect(r"Forked: conversation (\d+) starts as a copy of this path \(4 messages copied\); you are in it"
                 r" now; conversation 1 keeps every branch\.")
    new = int(child.match.group(1))
    assert new != 1
    child.expect("You: ")
    scripted_server.enqueue(Reply(chunks=["A3"]))
    _say(child, "Q3", "A3")
    assert _sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2"),
                                      ("user", "Q3")]
    child.sendline("/fork now")
    child.expect("chinwag: /fork takes no argument")
    _quit(child)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert "Q3" not in run_chinwag(["history", "show", "1"], env).stdout
    assert "Q3" in run_chinwag(["history", "show", str(new)], env).stdout


# -- completion --------------------------------------------------------------------

def test_tab_completes_the_tree_commands_and_message_numbers(scripted_server: ScriptedServer,
                                                            tmp_path: Path) -> None:
    child = _two_exchanges(scripted_server, tmp_path)
    for typed, full in [("/tr", "/tree"), ("/fo", "/fork"), ("/un", "/undo"), ("/ed", "/edit")]:
        child.send(typed + "\t")
        child.expect_exact(full)
        child.send("\x15")  # Ctrl-U: clear the line
    child.send("/edit \t\t")  # your messages' numbers: 1 and 3, not the replies'
    child.expect(r"\r\n1 +3\s*\r\n")
    child.send("\x15")
    child.send("/switch \t\t")  # every message's
    child.expect(r"\r\n1 +2 +3 +4\s*\r\n")
    child.send("\x15")
    child.send("/sw\t")
    child.expect_exact("/switch")
    child.send(" 2\r")
    child.expect("on the branch through message 2")
    _quit(child)


# -- attachments, and a chat that is not saved ---------------------------------------

def test_edit_keeps_the_attachments_of_the_message(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """Only your words are on the edit line; the file attached to the message goes with the edit."""
    notes = tmp_path / "notes.txt"
    notes.write_text("the secret word is teal\n")
    scripted_server.enqueue(Reply(chunks=["A1"]), Reply(chunks=["A1 edited"]))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url), ["--render", "plain", "-a", str(notes)])
    _say(child, "What is the word?", "A1")
    child.sendline("/edit 1")
    child.expect("Edit: What is the word\\?")
    wait_until_reading_keys(child.pid)
    child.send("\x15Which colour is the word?\r")
    child.expect("A1 edited")
    child.expect("You: ")
    (role, text), = _sent(scripted_server)
    assert role == "user" and "the secret word is teal" in text and text.endswith("Which colour is the word?")
    assert "What is the word?" not in text
    _quit(child)


def test_without_saving_undo_works_and_the_tree_commands_say_why_not(scripted_server: ScriptedServer,
                                                                   tmp_path: Path) -> None:
    server = scripted_server
    server.enqueue(Reply(chunks=["A1"]), Reply(chunks=["A2"]), Reply(chunks=["A2 again"]), Reply(chunks=["B2"]))
    child = start_chat(anthropic_env(tmp_path, server.base_url), ["--render", "plain", "--no-save"])
    _say(child, "Q1", "A1")
    _say(child, "Q2", "A2")
    child.sendline("/retry")  # replaces the reply, as before: nothing to keep it in
    child.expect("A2 again")
    child.expect("You: ")
    assert "chinwag:" not in child.before and "kept" not in child.before
    for command in ("/tree", "/switch 1", "/edit", "/fork"):
        child.sendline(command)
        child.expect(r"chinwag: [^\r\n]* needs saved history, and this chat is not saved \(--no-save\)\.")
        child.expect("You: ")
    child.sendline("/undo")
    child.expect("Stepped back one exchange")
    child.expect("You: ")
    _say(child, "Other Q2", "B2")
    assert _sent(server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Other Q2")]
    _quit(child)


# -- a real editor in a real terminal ----------------------------------------------------

def _edit_the_first_question(pane: Pane) -> None:
    """In the chat in `pane`: Q1 asked and answered, then /edit opens $EDITOR on it."""
    pane.wait_for("You: ")
    pane.type("Q1")
    pane.press("Enter")
    pane.wait_for("You: ", count=2)
    pane.type("/edit")
    pane.press("Enter")


def test_edit_in_vim_in_tmux(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """EDITOR=vim in tmux: the old text is in the editor, :wq sends the edit."""
    from tests.tmux import Pane

    scripted_server.enqueue(Reply(chunks=["A1"]), Reply(chunks=["A1 from vim"]))
    env = anthropic_env(tmp_path, scripted_server.base_url, EDITOR="vim -u NONE -i NONE -n")
    with Pane(tmp_path, ["--render", "plain"], env) as pane:
        _edit_the_first_question(pane)
        pane.wait_for("chinwag-edit-", history=False)  # vim's status line names the file
        pane.type("A, in vim")
        pane.press("Escape")
        pane.type(":wq")
        pane.press("Enter")
        screen = pane.wait_for("A1 from vim")
        assert pane.alive() and "Traceback" not in screen
    assert _sent(scripted_server) == [("user", "Q1, in vim")]


def test_ctrl_c_in_an_editor_is_the_editors(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """EDITOR=ed in tmux: ed keeps the terminal's signals on, so Ctrl-C is a SIGINT to chinwag
    too (the terminal's foreground process group). ed answers it with `?` and goes on; chinwag
    holds it back while the editor runs, so neither the chat nor the editor is stopped."""
    from tests.tmux import Pane

    scripted_server.enqueue(Reply(chunks=["A1"]), Reply(chunks=["A1 from ed"]))
    env = anthropic_env(tmp_path, scripted_server.base_url, EDITOR="ed")
    with Pane(tmp_path, ["--render", "plain"], env) as pane:
        _edit_the_first_question(pane)
        pane.wait_for("You: /edit\n3")  # ed read the file: 3 bytes, "Q1\n"
        pane.press("C-c")
        pane.wait_for("You: /edit\n3\n^C\n?")  # the terminal echoes ^C; ? is ed's answer
        for command in ("s/Q1/Q1, in ed/", "w", "q"):
            pane.type(command)
            pane.press("Enter")
        screen = pane.wait_for("A1 from ed")
        assert pane.alive() and "Traceback" not in screen and "cancelled" not in screen
    assert _sent(scripted_server) == [("user", "Q1, in ed")]
