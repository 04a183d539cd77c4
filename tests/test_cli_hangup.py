"""Closing the terminal (SIGHUP) or `kill` (SIGTERM) in the middle of a chat.

What was shown is saved, running tools are ended with their process groups,
and chinwag exits 129 (SIGHUP) or 143 (SIGTERM) with the terminal as it found
it. The terminal is closed the way a person closes it: `tmux kill-session`
(tmux closes the pty, the kernel hangs it up), or pexpect closing its end.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from chinwag.paths import database_file
from chinwag.history.store import Store
from tests.cli_helpers import anthropic_env, finish, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.procs import gone, wait_until_reading_keys
from tests.tmux import Pane

WORDS = [f"word{i} " for i in range(400)]


def last_reply(env: dict[str, str]) -> tuple[str, str]:
    """The newest assistant message in the history: (text, status)."""
    store = Store.open(database_file(env), read_only=True)
    try:
        conversation = store.list_conversations(limit=1)[0]
        reply = [m for m in store.messages(conversation.id) if m.role == "assistant"][-1]
    finally:
        store.close()
    return reply.content, reply.status


def shown_reply(written: bytes) -> str:
    """The reply's text as the terminal got it (plain rendering: the text
    itself, after the label the spinner's last frame left)."""
    text = written.decode("utf-8", "replace")
    return text.split("\rClaude: ")[-1].removeprefix("\x1b[K")


def sleeping(*seconds: str) -> list[int]:
    """Live `sleep N` processes, for each N in `seconds`."""
    wanted = {f"sleep\0{n}\0".encode() for n in seconds}
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() in wanted and not gone(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_closing_the_terminal_mid_reply_saves_what_was_shown(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    for trial in range(5):
        home = tmp_path / f"trial{trial}"
        home.mkdir()
        env = anthropic_env(home, scripted_server.base_url)
        scripted_server.enqueue(Reply(chunks=WORDS, chunk_delay=0.01))
        with Pane(home, ["--render", "plain"], env) as pane:
            pane.wait_for("You: ")
            pane.type("Count, please.")
            pane.press("Enter")
            pane.wait_for(f"word{30 + 7 * trial}", history=False)
            pane.close()
            assert gone(pane.pid, within=10), "chinwag kept running after its terminal closed"
        shown = shown_reply(pane.written())
        saved, status = last_reply(env)
        assert shown.startswith("word0 ") and len(shown) > 150, shown
        # Every byte that reached the terminal is in the history. (The history
        # may hold a little more: what was written as tmux closed, which its
        # log of the pane's bytes did not get.)
        assert saved.startswith(shown) and status == "interrupted", (trial, shown[-40:], saved[-40:])


def test_closing_the_terminal_ends_a_running_tool_and_its_background_jobs(scripted_server: ScriptedServer,
                                                                         tmp_path: Path) -> None:
    command = "sleep 100017 & sleep 100018"  # a background job, and the command still running
    scripted_server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": command})], text="Running it."),
                            Reply(chunks=["Done."]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    with Pane(tmp_path, ["--render", "plain", "-T", "shell"], env) as pane:
        pane.wait_for("You: ")
        pane.type("Run it.")
        pane.press("Enter")
        pane.wait_for("Allow?")
        pane.type("y")
        pane.press("Enter")
        deadline = time.monotonic() + 10
        while len(sleeping("100017", "100018")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sleeping("100017", "100018")) == 2, "the tool did not start"
        pane.close()
        assert gone(pane.pid, within=10)
    deadline = time.monotonic() + 5
    while sleeping("100017", "100018") and time.monotonic() < deadline:
        time.sleep(0.05)
    left = sleeping("100017", "100018")
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "the tool's processes outlived the chat"


def test_a_hang_up_exits_129_and_sigterm_143_each_saving_the_reply(scripted_server: ScriptedServer,
                                                                    tmp_path: Path) -> None:
    for signum in (signal.SIGHUP, signal.SIGTERM):
        home = tmp_path / signum.name
        env = anthropic_env(home, scripted_server.base_url)
        scripted_server.enqueue(Reply(chunks=WORDS, chunk_delay=0.01))
        child = spawn_chinwag(["--render", "plain"], env)
        child.expect("You: ")
        child.sendline("Count, please.")
        child.expect("word20 ")
        if signum == signal.SIGHUP:
            child.ptyproc.fileobj.close()  # the terminal's end closes: the kernel hangs the chat's end up
            exit_code = os.waitstatus_to_exitcode(os.waitpid(child.pid, 0)[1])
        else:
            child.kill(signal.SIGTERM)
            exit_code = finish(child)
        assert exit_code == 128 + signum, f"{signum.name}: exit {exit_code}"
        saved, status = last_reply(env)
        assert saved.startswith("".join(WORDS[:21])) and status == "interrupted", (signum.name, saved[-40:])


def test_sigterm_at_the_prompt_leaves_the_terminal_as_it_was(scripted_server: ScriptedServer,
                                                             tmp_path: Path) -> None:
    with Pane(tmp_path, ["--render", "plain"], anthropic_env(tmp_path, scripted_server.base_url)) as pane:
        pane.wait_for("You: ")
        wait_until_reading_keys(pane.pid)
        os.kill(pane.pid, signal.SIGTERM)
        assert gone(pane.pid, within=10)
        written = pane.written()
    assert written.rfind(b"\x1b[?2004l") > written.rfind(b"\x1b[?2004h") > 0  # bracketed paste off again


def test_sigterm_ends_a_one_shot_reply_with_143_and_saves_it(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    import subprocess

    from tests.cli_helpers import CHINWAG

    env = anthropic_env(tmp_path, scripted_server.base_url)
    scripted_server.enqueue(Reply(chunks=WORDS, chunk_delay=0.01))
    proc = subprocess.Popen([CHINWAG, "Count, please."], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    shown = b""
    while b"word20 " not in shown:
        shown += proc.stdout.read1(4096)
    proc.send_signal(signal.SIGTERM)
    out, _err = proc.communicate(timeout=20)
    assert proc.returncode == 143
    saved, status = last_reply(env)
    assert saved == (shown + out).decode().rstrip("\n") and status == "interrupted", saved[-40:]


def test_sigterm_mid_reply_gives_the_shell_back_its_echo(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """Echo is off while a reply streams (typed keys wait for the prompt); a
    SIGTERM then must leave the terminal as it found it, for the shell."""
    from tests.cli_helpers import CHINWAG

    scripted_server.enqueue(Reply(chunks=WORDS, chunk_delay=0.02))
    env = anthropic_env(tmp_path, scripted_server.base_url, PS1="$ ")
    with Pane(tmp_path, ["--norc", "--noprofile"], env, program="/bin/bash") as pane:
        pane.wait_for("$ ")
        pane.type(f"{CHINWAG}; echo exit=$?")
        pane.press("Enter")
        pane.wait_for("You: ")
        pane.type("Count, please.")
        pane.press("Enter")
        pane.wait_for("word20 ")
        chat = next(pid for pid in (int(p) for p in os.listdir("/proc") if p.isdigit())
                    if _parent(pid) == pane.pid)
        os.kill(chat, signal.SIGTERM)
        pane.wait_for("exit=143")
        pane.type("stty -a | tr ' ' '\\n' | grep -x -- '-\\?echo'")
        pane.press("Enter")
        screen = pane.wait_for("echo\n$ ")
    assert screen.rstrip().endswith("echo\n$") and "-echo\n" not in screen.split("exit=143", 1)[1], screen


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None
