"""What the chat says about tools, checked the way a person meets it (the
installed `chinwag` in a pseudo-terminal, or with pipes, against the
scripted server): /tools after an [a]lways answer, the hint after Ctrl-C at
an approval question (what it suggests works), and the line after a tool
whose output was cut before the model got it.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli_helpers import anthropic_env, run_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.test_consent_question import Terminal


def test_tools_says_a_tool_allowed_with_always_no_longer_asks(work: Path, tmp_path: Path,
                                                              server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "echo hi"})]), Reply(chunks=["Done."]))
    term = Terminal(anthropic_env(tmp_path / "home", server.base_url), work, ["-T", "shell", "-T", "fetch_url"],
                    columns=120)
    term.expect("You: ")
    term.say("/tools")
    term.expect("shell · built-in · asks (runs a command)")
    term.say("say hi")
    term.expect("Allow?")
    term.say("a")
    term.expect("Done.")
    term.expect("You: ")
    term.say("/tools")
    term.expect("fetch_url · built-in · asks (sends data out)")
    term.settle(0.3)
    assert "  shell · built-in · allowed for this session ([a]lways)" in term.lines()
    term.quit()


def test_ctrl_c_at_an_approval_question_suggests_only_what_works(work: Path, tmp_path: Path,
                                                                 server: ScriptedServer) -> None:
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "touch ran.txt"})]),
                   Reply(chunks=["Asked again."]))
    term = Terminal(anthropic_env(tmp_path / "home", server.base_url), work, ["-T", "shell"])
    term.expect("You: ")
    term.say("make a file")
    term.expect("Allow?")
    time.sleep(0.3)
    term.child.sendintr()
    term.expect("↳ stopped")
    term.expect("You: ")
    term.settle(0.2)
    hint = next(line for line in term.lines() if line.startswith("↳ stopped"))
    assert hint == "↳ stopped; /retry to ask again"  # /continue has nothing to resume here
    term.say("/retry")  # what it suggests works
    term.expect("Asked again.")
    term.quit()
    assert not (work / "ran.txt").exists()


def test_a_cut_tool_output_says_so_on_its_line(work: Path, tmp_path: Path, server: ScriptedServer) -> None:
    """13 MB of output: the model gets the first 32 KB and a note; the line says it was cut."""
    command = "head -c 13000000 /dev/zero | tr '\\0' x | fold -w 30000"
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": command})]), Reply(chunks=["Big."]))
    out = run_chinwag(["-T", "shell", "--yes", "print a lot"], anthropic_env(tmp_path / "home", server.base_url),
                      cwd=work)
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stderr.splitlines() if line.startswith("↳ exit 0"))
    assert line == "↳ exit 0 · 3 lines · cut to 32 KB of 12.4 MB for the model"
    sent = server.requests[1].json["messages"][-1]["content"][0]["content"]
    assert "more bytes cut]" in sent
