"""Ctrl-C the instant a turn starts to show leaves the terminal as it was.

A turn's terminal view turns the terminal's echo off while the reply streams
(typeahead.py) and on again when the turn ends. Sinks used to start inside
the section where Ctrl-C raises at once, so a press that landed just after
echo went off, before the view held what turns it on again, cancelled the
turn and left echo off for good: readline echoes only when it finds ECHO on,
so from then on nothing typed at `You:` was shown (CI: the pexpect test that
presses Ctrl-C around sending, one run in three under load).

Here the timing is forced: the terminal is a real pseudo-terminal, the press
a real SIGINT raised from the screen's flush right after the view asked the
terminal for bracketed paste (the last thing its start does), through the
real InterruptGuard, Session, ChatSink and a scripted server on 127.0.0.1.
"""

from __future__ import annotations

import io
import os
import pty
import signal
import termios
from pathlib import Path

from chinwag.cli.chat_sink import ChatSink
from chinwag.cli.typeahead import PASTE_ON
from chinwag.config import resolve
from chinwag.session import open_session
from tests.cli_helpers import anthropic_env
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


class PressingScreen(io.TextIOWrapper):
    """The pseudo-terminal's output; Ctrl-C is pressed as the first bracketed-paste request is flushed."""

    pressed = False

    def flush(self) -> None:
        super().flush()
        if not self.pressed and PASTE_ON in self.written:
            self.pressed = True
            signal.raise_signal(signal.SIGINT)

    def write(self, text: str) -> int:
        self.written = getattr(self, "written", "") + text
        return super().write(text)


def test_ctrl_c_as_the_reply_starts_to_show_leaves_echo_on(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the guard takes SIGINT only from it
    master, slave = pty.openpty()
    environ = anthropic_env(tmp_path, scripted_server.base_url)
    session = open_session(resolve(environ, tmp_path, {"model": None}), environ)
    scripted_server.enqueue(Reply(chunks=["Never asked for."]))
    try:
        keyboard = open(slave, "r", closefd=False)
        screen = PressingScreen(open(slave, "wb", buffering=0, closefd=False), encoding="utf-8", write_through=True)
        assert termios.tcgetattr(slave)[3] & termios.ECHO
        sink = ChatSink(screen, screen, label="Claude: ")
        sink.keyboard = keyboard
        reply = session.ask("Question", [sink])
        assert screen.pressed, "the press never came: the view no longer asks for bracketed paste as it starts"
        assert termios.tcgetattr(slave)[3] & termios.ECHO, "echo stayed off after the turn"
        assert reply.cancelled
        assert scripted_server.requests == []  # cancelled before the request left
    finally:
        session.close()
        os.close(master)
        os.close(slave)
