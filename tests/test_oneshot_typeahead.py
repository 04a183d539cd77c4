"""Keys typed while a one-shot reply streams (`chinwag "question"` at a shell).

They are not echoed over the reply, and they are not lost: they wait in the
terminal's input queue and the shell reads them after chinwag exits, as after
any other command. The terminal gets its mode back whatever ends the reply.
A real bash in tmux, the installed `chinwag`, the scripted Anthropic server.

Ctrl-C is the terminal's own: with ISIG it discards the input queue when it
sends SIGINT (NOFLSH is off by default), so keys typed before a Ctrl-C are
gone after `chinwag` as after `sleep`; what matters there is the mode.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import CHINWAG, anthropic_env
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.tmux import Pane

SLOW = [f"w{i} " for i in range(60)]  # a reply that streams for about 2 s


def _shell(tmp_path: Path, server: ScriptedServer, *options: str) -> Pane:
    """A real bash in tmux, at its `$ ` prompt (`-m`: with job control)."""
    env = anthropic_env(tmp_path, server.base_url, PS1="$ ")
    pane = Pane(tmp_path, ["--norc", "--noprofile", *options], env, program="/bin/bash", size=(200, 40))
    try:
        pane.wait_for("$ ")
    except BaseException:
        pane.kill_server()
        raise
    return pane


def _ask_once(pane: Pane, after: str) -> None:
    """`chinwag "a question"` typed at the shell (then `after`), until the reply begins."""
    pane.type(f"{CHINWAG} --render plain 'a question'{after}")
    pane.press("Enter")
    pane.wait_for("Begin of reply.")


def _echo_state(pane: Pane) -> str:
    """`echo` or `-echo`: the terminal's mode as the shell now has it."""
    pane.type("stty -a | tr ' ' '\\n' | grep -x -- '-\\?echo' | sed 's/^/mode:/'")
    pane.press("Enter")
    screen = pane.wait_for("\nmode:")
    return screen.rsplit("\nmode:", 1)[1].split("\n", 1)[0]


def test_keys_typed_during_a_one_shot_reply_are_not_echoed_and_go_to_the_shell(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Begin of reply. ", *SLOW, "End of reply."], chunk_delay=0.03))
    with _shell(tmp_path, scripted_server) as pane:
        _ask_once(pane, "; echo exit=$?")
        pane.type("echo kept-$((6*7))")
        pane.press("Enter")
        screen = pane.wait_for("kept-42")  # the shell ran what was typed, after chinwag
        assert "exit=0" in screen
        reply = "Begin of reply. " + "".join(SLOW) + "End of reply."
        assert reply in screen.replace("\n", ""), screen  # nothing typed landed inside it
        # Shown once: at the shell's prompt, not also echoed over the reply.
        assert screen.count("echo kept-$((6*7))") == 1, screen
        assert screen.index("exit=0") < screen.index("$ echo kept-$((6*7))"), screen
        assert _echo_state(pane) == "echo"


def test_ctrl_c_mid_one_shot_reply_gives_the_shell_its_echo_back(scripted_server: ScriptedServer,
                                                                  tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Begin of reply. ", *SLOW * 10], chunk_delay=0.03))
    with _shell(tmp_path, scripted_server) as pane:
        _ask_once(pane, "; echo exit=$?")
        pane.type("not for the reply")
        pane.press("C-c")
        screen = pane.wait_for("exit=130")
        assert "not for the reply" not in screen, screen
        assert _echo_state(pane) == "echo"


def test_ctrl_z_mid_one_shot_reply_gives_the_shell_its_echo_and_fg_takes_it_back(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Begin of reply. ", *SLOW, "End of reply."], chunk_delay=0.03))
    with _shell(tmp_path, scripted_server, "-m") as pane:
        _ask_once(pane, "")
        pane.press("C-z")
        pane.wait_for("Stopped")
        assert _echo_state(pane) == "echo"  # the shell has the terminal as it was
        pane.type("fg")
        pane.press("Enter")
        pane.wait_for("End of reply.")
        pane.wait_for("$ ", count=4)  # the prompt after the job ended
        assert _echo_state(pane) == "echo"


def test_the_answer_to_a_one_shot_approval_question_is_shown_as_typed(scripted_server: ScriptedServer,
                                                                      tmp_path: Path) -> None:
    """Echo is off for the reply, and on again for the question's answer."""
    from tests.fakes.tool_wire import anthropic_calls

    work = tmp_path / "work"
    work.mkdir()
    scripted_server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "touch ran.txt"})]),
                            Reply(chunks=["Done."]))
    with _shell(tmp_path, scripted_server) as pane:
        pane.type(f"cd {work} && {CHINWAG} -T shell 'make a file'; echo exit=$?")
        pane.press("Enter")
        pane.wait_for("Allow?")
        pane.type("yes")
        pane.wait_for("[n]o (say why) yes")  # echoed as typed, before Enter
        pane.press("Enter")
        pane.wait_for("exit=0")
        assert _echo_state(pane) == "echo"
    assert (work / "ran.txt").exists()
