"""The question that asks for consent to a tool call, as a person at a real
terminal reads it: the installed `chinwag` in a pseudo-terminal (pexpect)
against the scripted server, its output replayed through `pyte` into the
screen a person sees.

The question shows the whole call (every argument in full, wrapped, never
cut, with its length), control and bidi characters made visible, and a call
taller than the screen paged before the question, which stays on screen
under it. No spinner runs while a question waits (a second question in one
reply stays readable and its answer is read), and an approved tool shows
that it runs.
"""

from __future__ import annotations

from pathlib import Path

import pexpect
import pyte

from tests.cli_helpers import anthropic_env, finish, spawn_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.procs import wait_until_reading_keys

SNEAKY = ("echo 'Listing the project files to answer your question, this is read-only and performs no"
          " changes at all, nothing to worry about here, just a listing'   ; touch PWNED")


class Terminal:
    """A chinwag in a pty whose every byte goes through pyte: `screen` is what a person sees."""

    def __init__(self, env: dict[str, str], cwd: Path, args: list[str], rows: int = 24, columns: int = 80) -> None:
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.Stream(self.screen)
        self.child = spawn_chinwag(args, env, cwd=cwd, timeout=20, size=(rows, columns))
        self.child.logfile_read = self  # pexpect hands us each decoded read

    def write(self, data: str) -> None:
        self.stream.feed(data)

    def flush(self) -> None:
        pass

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines())

    def expect(self, text: str, timeout: float = 20) -> None:
        self.child.expect_exact(text, timeout=timeout)

    def say(self, text: str) -> None:
        wait_until_reading_keys(self.child.pid)
        self.child.sendline(text)

    def settle(self, seconds: float = 0.6) -> None:
        """Let whatever draws on its own (a spinner, a ticker) draw for a while."""
        try:
            self.child.expect(pexpect.TIMEOUT, timeout=seconds)
        except pexpect.EOF:
            pass

    def quit(self) -> None:
        self.expect("You: ")
        self.say("quit")
        assert finish(self.child) == 0


def box_text(lines: list[str]) -> str:
    """The value shown in a question's box: its `│ ` lines joined again (wrapping adds no characters)."""
    return "".join(line.split("│ ", 1)[1] for line in lines if line.startswith("  │ "))


def test_the_question_shows_the_whole_command_before_allow(work: Path, home: Path, server: ScriptedServer) -> None:
    """Issue 18.1's reproduction: the end of the command (`; touch PWNED`) is on the screen above `Allow?`."""
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": SNEAKY})]), Reply(chunks=["Fine."]))
    term = Terminal(anthropic_env(home, server.base_url), work, ["-T", "shell"])
    term.expect("You: ")
    term.say("what files are here?")
    term.expect("Allow?")
    term.settle(0.3)
    lines = term.lines()
    question = max(i for i, line in enumerate(lines) if line.startswith("Allow?"))
    above = lines[:question]
    assert box_text(above) == SNEAKY  # every character, the spacing before `;` included
    assert any(line == f"  command · {len(SNEAKY)} characters" for line in above)
    assert any("⚙ shell asks because it runs a command" in line for line in above)
    term.say("n")
    term.expect("Why?")
    term.say("")
    term.expect("Fine.")
    term.quit()
    assert not (work / "PWNED").exists()


def test_controls_and_bidi_in_a_call_are_shown_not_hidden(work: Path, home: Path, server: ScriptedServer) -> None:
    """An escape sequence, a carriage return and a right-to-left override in the command
    are each visible in the question; none of them acts on the terminal."""
    command = "echo safe\r\x1b[2K\x1b[1Atouch x \u202egnp.evil"
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": command})]), Reply(chunks=["Fine."]))
    term = Terminal(anthropic_env(home, server.base_url), work, ["-T", "shell"])
    term.expect("You: ")
    term.say("go")
    term.expect("Allow?")
    term.settle(0.3)
    assert box_text(term.lines()) == "echo safe␍␛[2K␛[1Atouch x <U+202E>gnp.evil"
    term.say("n")
    term.expect("Why?")
    term.say("")
    term.quit()


def test_a_call_taller_than_the_screen_is_paged_and_the_question_stays_under_its_end(
        work: Path, home: Path, server: ScriptedServer) -> None:
    """A 40-line command on a 12-row terminal: shown a screen at a time (Enter for
    more), every line seen in order, and the question on screen under the last line."""
    command = "\n".join(f"echo line{n:02d}" for n in range(40)) + "\ntouch PWNED"
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": command})]), Reply(chunks=["Fine."]))
    term = Terminal(anthropic_env(home, server.base_url), work, ["-T", "shell"], rows=12)
    term.expect("You: ")
    term.say("go")
    seen: list[str] = []
    pages = 0
    while True:
        index = term.child.expect_exact(["Enter for more", "Allow?"])
        term.settle(0.2)
        for line in term.lines():
            if line.startswith("  │ ") and line not in seen:
                seen.append(line)
        if index == 1:
            break
        pages += 1
        assert pages < 10
        term.say("")
    assert pages >= 3  # 42 lines of call on a 12-row screen
    assert [line.split("│ ", 1)[1] for line in seen] == [f"echo line{n:02d}↵" for n in range(40)] + ["touch PWNED"]
    lines = [line for line in term.lines() if line]
    assert lines[-1].startswith("Allow?") and lines[-2] == "  │ touch PWNED"
    term.say("n")
    term.expect("Why?")
    term.say("")
    term.quit()
    assert not (work / "PWNED").exists()


def test_no_at_a_page_denies_before_the_end(work: Path, home: Path, server: ScriptedServer) -> None:
    command = "\n".join(f"echo {n}" for n in range(40))
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": command + " > made.txt"})]),
                   Reply(chunks=["Fine."]))
    term = Terminal(anthropic_env(home, server.base_url), work, ["-T", "shell"], rows=12)
    term.expect("You: ")
    term.say("go")
    term.expect("Enter for more")
    term.say("n")
    term.expect("Why?")
    term.say("too long to read")
    term.expect("↳ denied: too long to read")
    term.quit()
    assert not (work / "made.txt").exists()
    assert server.requests[1].json["messages"][-1]["content"][0]["content"] == "denied by the user: too long to read"


def test_the_second_question_in_one_reply_stays_on_screen_and_its_answer_is_read(
        work: Path, home: Path, server: ScriptedServer) -> None:
    """Issue 19.3: after `y` to the first call, no spinner draws over the second question."""
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "echo one"}),
                                    ("toolu_2", "shell", {"command": "echo two > two.txt"})]),
                   Reply(chunks=["Done."]))
    term = Terminal(anthropic_env(home, server.base_url), work, ["-T", "shell"])
    term.expect("You: ")
    term.say("two calls")
    term.expect("Allow?")
    term.say("y")
    term.expect("echo two > two.txt")
    term.expect("Allow?")
    term.settle(1.0)  # a spinner would have drawn a dozen frames by now
    cursor_line = term.lines()[term.screen.cursor.y]
    assert cursor_line.startswith("Allow? [y]es once"), term.text()
    term.child.send("n")
    term.settle(0.3)
    assert term.lines()[term.screen.cursor.y].startswith("Allow?"), term.text()
    assert term.lines()[term.screen.cursor.y].endswith(" n"), term.text()
    term.child.send("\r")
    term.expect("Why?")
    term.say("")
    term.expect("Done.")
    term.quit()
    assert not (work / "two.txt").exists()


def test_an_approved_tool_shows_that_it_runs(work: Path, home: Path, server: ScriptedServer) -> None:
    """`⚙ shell … running N s`, counting in place while it runs, replaced by its result line."""
    server.enqueue(anthropic_calls([("toolu_1", "shell", {"command": "sleep 2.5; echo slept"})]),
                   Reply(chunks=["Rested."]))
    term = Terminal(anthropic_env(home, server.base_url), work, ["-T", "shell"])
    term.expect("You: ")
    term.say("rest")
    term.expect("Allow?")
    term.say("y")
    term.expect("running 1 s")
    term.settle(0.2)
    assert sum("⚙ shell … running" in line for line in term.lines()) == 1
    term.expect("Rested.")
    term.settle(0.2)
    assert not any("running" in line for line in term.lines())  # the result line took its place
    assert any(line.startswith("↳ exit 0") for line in term.lines())
    term.quit()


# -- the words, without a terminal ----------------------------------------------------

def test_wrapping_keeps_every_character_and_never_ends_a_line_in_a_space() -> None:
    from chinwag.tools.question import wrap

    for width in range(8, 40):
        pieces = wrap(SNEAKY, width)
        assert "".join(pieces) == SNEAKY
        assert all(not piece.endswith(" ") for piece in pieces[:-1])
        assert all(len(piece) <= width for piece in pieces)


def test_wide_characters_wrap_by_columns() -> None:
    from chinwag.tools.question import wrap

    assert wrap("日本語のテキスト", 6) == ["日本語", "のテキ", "スト"]


def test_every_argument_is_shown_with_its_length_and_non_strings_as_json() -> None:
    from chinwag.tools.question import terminal_lines

    lines = terminal_lines("fetch", {"url": "https://example.org/", "retries": 3, "headers": {"a": "b"}},
                           "sends data out", 80)
    assert lines == ["⚙ fetch asks because it sends data out",
                     "  url · 20 characters", "  │ https://example.org/",
                     "  retries · 1 character", "  │ 3",
                     "  headers · 3 lines · 14 characters", "  │ {↵", '  │   "a": "b"↵', "  │ }"]
    assert terminal_lines("ping", {}, "", 80) == ["⚙ ping asks", "  (no arguments)"]
