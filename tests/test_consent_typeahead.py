"""Keys typed while a reply streams never answer a consent question they came before.

Driven in tmux: the keys are typed into the real terminal while the reply's
text streams (ECHO is off then, so they wait in the terminal's input queue),
and the tool calls arrive after them. Found when issue 19.2's typeahead
(kept for the next prompt) met issue 18.1's question: `y` Enter typed ahead
approved a call the person had not yet seen.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli_helpers import CHINWAG, anthropic_env
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.tmux import Pane


def test_y_typed_ahead_while_the_reply_streams_approves_nothing(scripted_server: ScriptedServer,
                                                                   tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    scripted_server.enqueue(
        anthropic_calls([("toolu_1", "shell", {"command": "touch ONE"}),
                         ("toolu_2", "shell", {"command": "touch TWO"})],
                        text="Let me look at this carefully for you now.", chunk_delay=0.1),
        Reply(chunks=["Fine."]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    with Pane(tmp_path, ["-c", f"cd {work} && exec {CHINWAG} -T shell"], env, program="/bin/sh") as pane:
        pane.wait_for("You: ")
        pane.type("go")
        pane.press("Enter")
        pane.wait_for("Let me")
        for _ in range(2):  # the person types ahead, before any question is on screen
            pane.type("y")
            pane.press("Enter")
        pane.wait_for("Allow?")
        time.sleep(1.0)  # long enough for typed-ahead keys to have answered, had they been read
        screen = pane.screen()
        assert "keys typed before this question were dropped" in screen
        assert "↳ exit 0" not in screen and screen.count("Allow?") == 1, screen
        assert not (work / "ONE").exists()
        pane.type("n")
        pane.press("Enter")
        pane.wait_for("Why?")
        pane.press("Enter")
        pane.wait_for("Allow?", count=2)  # the second call is asked in turn, not answered ahead
        pane.type("n")
        pane.press("Enter")
        pane.wait_for("Why?", count=2)
        pane.press("Enter")
        pane.wait_for("Fine.")
    assert not (work / "ONE").exists() and not (work / "TWO").exists()
