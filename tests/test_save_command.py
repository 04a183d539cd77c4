"""`/save FILE` never overwrites a file without the user's say-so.

In a terminal it asks; with no terminal to ask on (output redirected) it
refuses in one line, unless `/save --force FILE`. The installed `chinwag` in a
pseudo-terminal, against the scripted Anthropic server.
"""

from __future__ import annotations

import time
from pathlib import Path

import pexpect

from tests.cli_helpers import CHINWAG, anthropic_env, finish, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


def test_save_over_an_existing_file_asks_first(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["First answer."]), Reply(chunks=["Second answer."]))
    target = tmp_path / "chat.md"
    target.write_text("my notes, not to be lost\n")
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("first question")
    child.expect("First answer.")
    child.expect("You: ")
    child.sendline(f"/save {target}")
    child.expect(r"exists\. Overwrite it\? \[y/N\] ")
    child.sendline("n")
    child.expect("Not saved.")
    child.expect("You: ")
    assert target.read_text() == "my notes, not to be lost\n"

    child.sendline("second question")
    child.expect("Second answer.")
    child.expect("You: ")
    child.sendline(f"/save {target}")
    child.expect(r"Overwrite it\? \[y/N\] ")
    child.sendline("y")
    child.expect("Saved 4 messages")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert "Second answer." in target.read_text()


def test_save_without_a_terminal_to_ask_refuses_unless_forced(scripted_server: ScriptedServer,
                                                              tmp_path: Path) -> None:
    """The chat's output goes to a file (`chinwag > out.txt`): nobody can see a
    question, so none is asked; the error line reaches the terminal on stderr."""
    target = tmp_path / "chat.md"
    target.write_text("keep me\n")
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = pexpect.spawn("/bin/bash", ["-c", f"exec '{CHINWAG}' > '{tmp_path / 'out.txt'}'"], env=env,
                          encoding="utf-8", timeout=20)
    out = tmp_path / "out.txt"
    deadline = time.monotonic() + 20
    while "You: " not in (out.read_text() if out.exists() else ""):  # the prompt goes to the file
        assert time.monotonic() < deadline, "the chat never prompted"
        time.sleep(0.02)
    child.sendline(f"/save {target}")
    child.expect(r"chinwag: .*chat\.md exists; not overwriting it without asking .*/save --force")
    assert target.read_text() == "keep me\n"
    child.sendline(f"/save --force {target}")
    deadline = time.monotonic() + 10
    while target.read_text() == "keep me\n":
        assert time.monotonic() < deadline, "/save --force did not write the file"
        time.sleep(0.05)
    assert target.read_text().startswith("# Conversation with")
    child.sendline("quit")
    assert finish(child) == 0


def test_save_to_a_fifo_refuses_in_one_line_and_never_hangs(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """A real FIFO nobody reads: opening it to write used to block the chat for
    good. Now `/save` (asked or `--force`) refuses anything that is not a regular
    file, and the chat goes on; a device is refused the same way."""
    import os

    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    child = spawn_chinwag([], anthropic_env(tmp_path, scripted_server.base_url), timeout=10)
    child.expect("You: ")
    child.sendline("a question")
    child.expect("Hello!")
    child.expect("You: ")
    for line in (f"/save --force {fifo}", f"/save {fifo}", "/save --force /dev/null"):
        child.sendline(line)
        child.expect(r"chinwag: cannot write \S+: it is not a regular file \(a FIFO, device or socket\);"
                     r" /save writes files\.")
        child.expect("You: ")
    child.sendline(f"/save {tmp_path / 'chat.md'}")
    child.expect("Saved 2 messages")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    assert fifo.is_fifo()


def test_a_fifo_that_appears_after_the_check_is_refused_too(tmp_path: Path) -> None:
    """The write step alone, on a real FIFO (standing in for one made between
    `/save`'s check and its write): opened non-blocking, refused, not truncated."""
    import os

    import pytest

    from chinwag.cli.save_and_copy import _write_regular_file
    from chinwag.errors import UsageError

    fifo = tmp_path / "late.md"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        _write_regular_file(fifo, str(fifo), "text")
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # with a reader, it opens: still refused
    try:
        with pytest.raises(UsageError, match="not a regular file"):
            _write_regular_file(fifo, str(fifo), "text")
        assert os.read(reader, 100) == b""
    finally:
        os.close(reader)
