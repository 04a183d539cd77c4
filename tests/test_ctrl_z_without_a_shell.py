"""Ctrl-Z in a terminal with no shell to stop to, then closing it.

chinwag as a tmux pane's own command (no shell): its process group is orphaned
(POSIX), so the kernel discards the stop that Ctrl-Z asks for, and nobody
could `fg` it anyway. chinwag used to prepare for the stop all the same: it
erased the reply's live part (to draw it again after `fg`) and the terminal
showed the reply without it until the next repaint; closing the terminal in
between left the screen, and the terminal's record of it, a little short of
what had been shown. Now Ctrl-Z there changes nothing on screen, and closing
the terminal then saves all the reply, as without it.

The installed `chinwag` in tmux; the pane's bytes (pipe-pane) replayed
through pyte, a frame at a time, as a terminal with synchronized output
shows them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyte

from tests.cli_helpers import anthropic_env
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.procs import gone, state
from tests.test_cli_hangup import WORDS, last_reply
from tests.tmux import Pane

FRAME_END = b"\x1b[?2026l"  # synchronized output: the terminal shows each frame whole


def test_ctrl_z_with_no_shell_hides_nothing_and_closing_then_saves_it_all(scripted_server: ScriptedServer,
                                                                           tmp_path: Path) -> None:
    # One long paragraph: the part still streaming is the live region. The
    # server holds it at word59, so what is on screen stands still.
    scripted_server.enqueue(Reply(chunks=WORDS, chunk_delay=0.01, hold_after=60))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    with Pane(tmp_path, [], env) as pane:  # markdown: a terminal, colours on
        pane.wait_for("You: ")
        pane.type("Count, please.")
        pane.press("Enter")
        pane.wait_for("word59")
        time.sleep(0.3)  # the last frame is drawn
        before = len(pane.written())
        pane.press("C-z")
        time.sleep(0.5)
        assert state(pane.pid) not in (None, "T", "t", "Z"), "Ctrl-Z stopped or ended chinwag"
        shown = pane.screen()
        pane.close()
        assert gone(pane.pid, within=10), "chinwag kept running after its terminal closed"
    assert "word59" in shown, shown

    written = pane.written()
    screen = pyte.Screen(80, 24)
    stream = pyte.ByteStream(screen)
    stream.feed(written[:before])
    assert any("word59" in line for line in screen.display)
    for frame in written[before:].split(FRAME_END):  # each frame drawn after the Ctrl-Z
        stream.feed(frame + FRAME_END)
        assert any("word59" in line for line in screen.display), (
            "the reply's live part was erased:\n" + "\n".join(screen.display))

    saved, status = last_reply(env)
    assert status == "interrupted"
    assert saved.startswith("".join(WORDS[:60])), saved[-80:]
