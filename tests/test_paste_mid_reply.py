"""A block pasted while a reply streams is one message at the next prompt, not one per line.

In tmux, whose `paste-buffer -p` brackets a paste only while the program has
asked for it (`CSI ?2004h`). readline asks only while it reads a line, so a
paste made during the reply (or after a tool approval question mid-turn)
arrived as bare lines: each Enter in it sent a message of its own (20 lines,
20 turns). Found by pasting while a reply streamed, after issue 19.2's fix.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli_helpers import CHINWAG, anthropic_env
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.tmux import Pane

LINES = [f"pasted line {i}" for i in range(20)]


def _paste_mid_reply_then_send(pane: Pane, after: str) -> None:
    pane.wait_for(after)
    pane.paste("\n".join(LINES) + "\n")
    pane.wait_for("pasted line 19")  # at the next prompt, waiting for Enter
    time.sleep(0.5)  # had the lines been sent one by one, their turns would be under way
    pane.press("Enter")
    pane.wait_for("Got it.")


def test_a_block_pasted_while_a_reply_streams_is_one_message(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=[f"word{i} " for i in range(60)], chunk_delay=0.04))
    scripted_server.default_reply = lambda: Reply(chunks=["Got it."])
    with Pane(tmp_path, [], anthropic_env(tmp_path, scripted_server.base_url)) as pane:
        pane.wait_for("You: ")
        pane.type("go")
        pane.press("Enter")
        _paste_mid_reply_then_send(pane, "word5")
        pane.wait_for("You: ", count=3)
        pane.type("quit")
        pane.press("Enter")
        deadline = time.monotonic() + 10
        while pane.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        written = pane.written()
        assert written.rfind(b"\x1b[?2004l") > written.rfind(b"\x1b[?2004h")  # the terminal is left as it was
    assert [r.json["messages"][-1]["content"] for r in scripted_server.requests] == ["go", "\n".join(LINES)]


def test_a_block_pasted_after_an_approval_question_mid_turn_is_one_message(scripted_server: ScriptedServer,
                                                                           tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    scripted_server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "echo hi"})]),
                            Reply(chunks=[f"word{i} " for i in range(60)], chunk_delay=0.04))
    scripted_server.default_reply = lambda: Reply(chunks=["Got it."])
    env = anthropic_env(tmp_path, scripted_server.base_url)
    with Pane(tmp_path, ["-c", f"cd {work} && exec {CHINWAG} -T shell"], env, program="/bin/sh") as pane:
        pane.wait_for("You: ")
        pane.type("go")
        pane.press("Enter")
        pane.wait_for("Allow?")
        time.sleep(0.2)
        pane.type("y")
        pane.press("Enter")
        _paste_mid_reply_then_send(pane, "word5")
    contents = [r.json["messages"][-1]["content"] for r in scripted_server.requests]
    assert contents[-1] == "\n".join(LINES) and len(contents) == 3, contents


def test_term_dumb_gets_no_bracketed_paste_during_a_reply(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.default_reply = lambda: Reply(chunks=["Plain."])
    env = anthropic_env(tmp_path, scripted_server.base_url)
    # tmux sets the pane's TERM itself: the program is given TERM=dumb by the shell line
    with Pane(tmp_path, ["-c", f"TERM=dumb exec {CHINWAG}"], env, program="/bin/sh") as pane:
        pane.wait_for("You: ")
        pane.type("go")
        pane.press("Enter")
        pane.wait_for("Plain.")
        pane.wait_for("You: ", count=2)
        assert b"\x1b[?2004" not in pane.written()
