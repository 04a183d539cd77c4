"""Driving the installed `chinwag` in tmux, as a person at a real terminal emulator.

pexpect writes whatever bytes a test gives it; tmux behaves as a terminal does:
it wraps a paste in `\\e[200~ … \\e[201~` only when the program asked for
bracketed paste, reflows on `resize-window`, and hangs the terminal up on
`kill-session`. Each `Pane` runs its own tmux server (a private socket, no
config file) with the program as the pane's only process (no shell between),
and records every byte the program wrote (`pipe-pane`) in `written`.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.cli_helpers import CHINWAG
from tests.procs import state


class Pane:
    def __init__(self, tmp: Path, args: Sequence[str], env: Mapping[str, str], size: tuple[int, int] = (80, 24),
                 program: str = CHINWAG) -> None:
        self.socket = tmp / "tmux.sock"
        self.log = tmp / "pane.bytes"
        self.env = {**env, "TMUX": ""}
        columns, rows = size
        # The server inherits `env`, and the pane's program inherits the server's environment.
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "chat", "-x", str(columns), "-y", str(rows),
                  "--", program, *args)
        self.tmux("set-option", "-g", "history-limit", "50000")
        self.tmux("pipe-pane", "-O", "-t", "chat", f"cat >> {self.log}")
        self.pid = int(self.tmux("display-message", "-p", "-t", "chat", "#{pane_pid}").strip())

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-S", str(self.socket), *args], env=self.env, capture_output=True,
                              text=True, timeout=20)
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    # -- what a person does ----------------------------------------------------

    def type(self, text: str) -> None:
        """Keys, literally (no key names): as typed."""
        self.tmux("send-keys", "-t", "chat", "-l", text)

    def press(self, *keys: str) -> None:
        """Named keys: Enter, C-c, C-z, Up, ..."""
        self.tmux("send-keys", "-t", "chat", *keys)

    def paste(self, text: str) -> None:
        """Paste `text` as a terminal does: bracketed if the program asked for it."""
        self.tmux("set-buffer", "-b", "clip", "--", text)
        self.tmux("paste-buffer", "-p", "-d", "-b", "clip", "-t", "chat")

    def resize(self, columns: int, rows: int) -> None:
        self.tmux("resize-window", "-t", "chat", "-x", str(columns), "-y", str(rows))

    def close(self) -> None:
        """Close the terminal (the window's close button): the program gets a hang-up."""
        self.tmux("kill-session", "-t", "chat")

    def kill_server(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], env=self.env, capture_output=True,
                       timeout=20)

    # -- what a person sees ------------------------------------------------------

    def screen(self, history: bool = True) -> str:
        """The pane's text, scrollback included, wrapped lines joined, trailing blanks dropped."""
        args = ["-S", "-"] if history else []
        return self.tmux("capture-pane", "-p", "-J", "-t", "chat", *args).rstrip("\n")

    def written(self) -> bytes:
        return self.log.read_bytes() if self.log.exists() else b""

    def wait_for(self, text: str, timeout: float = 20, *, count: int = 1, history: bool = True) -> str:
        """Wait until `text` is on screen (`count` times); the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(history)
            if screen.count(text) >= count:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared ({count}x); the screen:\n{screen[-3000:]}")
            time.sleep(0.05)

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return state(self.pid) not in (None, "Z", "X")

    def __enter__(self) -> Pane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill_server()

