"""The chat in a real terminal emulator (tmux): pasting, typing ahead, the input history.

tmux does what terminals do and pexpect cannot show: it brackets a paste only
when the program asked for it (`paste-buffer -p`), and echoes keys typed while
a reply streams unless the program turned echo off.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import CHINWAG, anthropic_env, finish, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.tmux import Pane


def test_a_pasted_block_of_200_lines_is_one_message(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.default_reply = lambda: Reply(chunks=["Got it."])
    lines = [f"pasted line {i}" for i in range(200)]
    with Pane(tmp_path, ["--render", "plain"], anthropic_env(tmp_path, scripted_server.base_url)) as pane:
        pane.wait_for("You: ")
        pane.paste("\n".join(lines) + "\n")
        pane.wait_for("pasted line 199")
        pane.press("Enter")  # a paste never sends itself: Enter does, as in a shell
        screen = pane.wait_for("Got it.")
        pane.wait_for("You: ", count=2)
        assert "(one message of 200 lines; the screen showed part of it)" in screen
        assert screen.count("Claude: ") == 1
        written = pane.written()
        assert b"\x1b[?2004h" in written and written.rstrip().endswith(b"\x1b[?2004hYou:")
    assert [r.json["messages"][-1]["content"] for r in scripted_server.requests] == ["\n".join(lines)]


def test_a_short_paste_shows_its_lines_and_can_be_added_to(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    with Pane(tmp_path, ["--render", "plain"], anthropic_env(tmp_path, scripted_server.base_url)) as pane:
        pane.wait_for("You: ")
        pane.type("Look at this: ")
        pane.paste("first\nsecond")
        pane.type(" - why?")
        pane.press("Enter")
        screen = pane.wait_for("Hello!")
        assert "You: Look at this: first\nsecond - why?\nClaude: Hello!" in screen
    assert scripted_server.requests[0].json["messages"][-1]["content"] == "Look at this: first\nsecond - why?"


def test_keys_typed_while_a_reply_streams_stay_out_of_it_and_wait_for_the_prompt(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    words = [f"word{i} " for i in range(40)]
    scripted_server.enqueue(Reply(chunks=words, chunk_delay=0.03), Reply(chunks=["Second answer."]))
    for render in ("plain", "markdown"):
        home = tmp_path / render
        home.mkdir()
        with Pane(home, ["--render", render], anthropic_env(home, scripted_server.base_url)) as pane:
            pane.wait_for("You: ")
            pane.type("go")
            pane.press("Enter")
            pane.wait_for("word3")
            pane.type("typed ahead")  # mid-reply
            screen = pane.wait_for("You: typed ahead")  # shown again at the next prompt, by readline
            reply = screen.split("Claude: ", 1)[1].split("↳", 1)[0]
            assert "typed" not in reply and " ".join(reply.split()) == "".join(words).strip()
            pane.press("Enter")
            pane.wait_for("Second answer.")
        assert [r.json["messages"][-1]["content"] for r in scripted_server.requests[-2:]] == ["go", "typed ahead"]
        scripted_server.enqueue(Reply(chunks=words, chunk_delay=0.03), Reply(chunks=["Second answer."]))


def test_a_multi_line_message_is_one_up_arrow_entry_after_a_restart(scripted_server: ScriptedServer,
                                                                    tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url)
    (tmp_path / "input_history").write_text("an older entry\nfrom readline's own file\n")  # an earlier chinwag's
    child = spawn_chinwag(["--render", "plain"], env)
    child.expect("You: ")
    child.send("line one\x1b\rline two\r")  # Alt-Enter between the lines
    child.expect("Hello!")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    child = spawn_chinwag(["--render", "plain"], env)
    child.expect("You: ")
    child.send("\x1b[A\x1b[A\r")  # Up-arrow past `quit`, Enter: the whole message again
    child.expect("Hello!")
    child.expect("You: ")
    child.send("\x1b[A" * 4 + "\r")  # past it (twice) and quit: the older file's entries, one each
    child.expect("Hello!")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    sent = [r.json["messages"][-1]["content"] for r in scripted_server.requests]
    assert sent == ["line one\nline two", "line one\nline two", "from readline's own file"]


def test_the_reply_sits_under_its_label_as_the_readme_shows(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """README's example and the terminal agree: with markdown (the default on a
    terminal) the reply starts on the line under `Claude:`; plain text follows
    the label on its line."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = readme.split("## Using it", 1)[1].split("```", 2)[1]
    assert "\nClaude:\nA CPU, or central processing unit, ...\n↳ " in example
    answer = "A CPU, or central processing unit, runs programs."
    for render, shape in (("markdown", f"Claude:\n{answer}\n↳ "), ("plain", f"Claude: {answer}\n↳ ")):
        scripted_server.enqueue(Reply(chunks=[answer[:9], answer[9:]]))
        home = tmp_path / render
        home.mkdir()
        with Pane(home, ["--render", render], anthropic_env(home, scripted_server.base_url)) as pane:
            pane.wait_for("You: ")
            pane.type("Explain how a CPU works in one paragraph.")
            pane.press("Enter")
            pane.wait_for("↳ ")
            screen = "\n".join(line.rstrip() for line in pane.screen().splitlines())
        assert f"You: Explain how a CPU works in one paragraph.\n{shape}" in screen, (render, screen)


def test_resizing_mid_reply_keeps_every_you_line_in_the_scrollback(scripted_server: ScriptedServer,
                                                                    tmp_path: Path) -> None:
    """Narrowing then widening tmux mid-reply: tmux marks the rows it wrapped and
    joins them again on widening; the live region was drawn over such rows, so
    it shrank under the cursor and the next frame erased the rows above it."""
    text = "\n".join(f"- item {i} " + "lorem ipsum dolor sit amet " * 3 for i in range(30))
    chunks = [text[i:i + 12] for i in range(0, len(text), 12)]
    scripted_server.default_reply = lambda: Reply(chunks=chunks, chunk_delay=0.01)
    with Pane(tmp_path, [], anthropic_env(tmp_path, scripted_server.base_url), size=(100, 30)) as pane:
        for turn in range(3):
            pane.wait_for("You: ", count=turn + 1)
            pane.type(f"question {turn}")
            pane.press("Enter")
            pane.wait_for("item 3", history=False)
            for columns in (60, 100, 45, 120):
                pane.resize(columns, 30)
                pane.wait_for("item", history=False)  # (tmux has redrawn)
            pane.wait_for("↳", count=turn + 1)
        screen = pane.wait_for("You: ", count=4)
    shown = [line.rstrip() for line in screen.splitlines() if line.startswith(("You:", "Claude:"))]
    assert shown == ["You: question 0", "Claude:", "You: question 1", "Claude:", "You: question 2", "Claude:",
                     "You:"], screen


def test_ctrl_z_then_fg_draws_the_reply_once_below_the_shell_lines(scripted_server: ScriptedServer,
                                                                   tmp_path: Path) -> None:
    """chinwag run from bash (job control), stopped with Ctrl-Z mid-paragraph and
    brought back with `fg`: the paragraph was drawn again under a stale copy."""
    words = " ".join(f"word{i}" for i in range(120))
    scripted_server.enqueue(Reply(chunks=[words[i:i + 6] for i in range(0, len(words), 6)], chunk_delay=0.03))
    env = anthropic_env(tmp_path, scripted_server.base_url, PS1="$ ")
    with Pane(tmp_path, ["--norc", "--noprofile"], env, program="/bin/bash") as pane:
        pane.wait_for("$ ")
        pane.type(CHINWAG)
        pane.press("Enter")
        pane.wait_for("You: ")
        pane.type("go")
        pane.press("Enter")
        pane.wait_for("word30")
        pane.press("C-z")
        pane.wait_for("Stopped")
        pane.type("fg")
        pane.press("Enter")
        screen = pane.wait_for("↳")
        pane.type("quit")
        pane.press("Enter")
        pane.wait_for("Goodbye!")
    assert screen.count("word0 ") == 1 and screen.count("word30 ") == 1, screen
    assert screen.index("$ fg") < screen.index("word0 ") < screen.index("word119"), screen


def test_a_zwj_emoji_in_a_table_is_written_whole_and_the_columns_line_up(scripted_server: ScriptedServer,
                                                                         tmp_path: Path) -> None:
    """The issue saw 👨‍👩‍👧‍👦 lose its last figure in a table. chinwag writes the
    whole cluster and pads it as two cells (rich's cell_len and wcwidth agree on
    grapheme clusters); the figure is dropped by tmux 3.3 itself, which keeps
    at most 21 bytes of a cluster in a cell (`printf '👨‍👩‍👧‍👦'` loses it too).
    So this checks the bytes chinwag wrote, not tmux's screen."""
    import re

    from wcwidth import width

    family, cook = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", "\U0001f9d1\U0001f3fd\u200d\U0001f373"
    table = f"| who | emoji | note |\n|---|---|---|\n| family | {family} | four |\n| cook | {cook} | one |\n\nAfter.\n"
    scripted_server.enqueue(Reply(chunks=[table[i:i + 5] for i in range(0, len(table), 5)]))
    with Pane(tmp_path, [], anthropic_env(tmp_path, scripted_server.base_url)) as pane:
        pane.wait_for("You: ")
        pane.type("go")
        pane.press("Enter")
        pane.wait_for("After.")
        written = pane.written().decode()
    rows = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", row).rstrip(" \r")
            for row in written.split("\n") if "four" in row or "one" in row and "cook" in row]
    assert family in rows[-2] and cook in rows[-1], rows
    assert rows[-2].index("four") - rows[-2].index(family) == rows[-1].index("one") - rows[-1].index(cook) + (
        len(family) - len(cook)), rows
    assert width(rows[-2][:rows[-2].index("four")]) == width(rows[-1][:rows[-1].index("one")]), rows
