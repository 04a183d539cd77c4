"""The terminal's view of a turn while the person at it may type or press Ctrl-Z:
in the chat, and for a one-shot reply at a shell (`chinwag "question"`)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import nullcontext
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from chinwag.cli.typeahead import TypeaheadHidden, lines_waiting
from chinwag.sinks import TerminalSink

if TYPE_CHECKING:  # (an annotation only: the records load after the prompt)
    from chinwag.records import Reply


class ChatSink(TerminalSink):
    """The chat's view of a turn: keys typed while it streams stay out of the
    reply on screen and wait for the next prompt (typeahead.py), or for the
    shell after a one-shot reply; and Ctrl-Z then `fg` draws the live part of
    the reply again where the shell left the cursor, not under a stale copy of it.

    `brackets_pastes`: bracketed paste stays on for the turn, so that a block
    pasted meanwhile is one message at the next `You:`. Off after a one-shot
    reply: what is typed is the shell's, and the shell asks for what it wants."""

    keyboard: TextIO = sys.stdin
    _typeahead: TypeaheadHidden | None = None
    _stop_handler: Any = None  # SIGTSTP's handler before the turn, while ours is in place
    typed_ahead: bool = False  # a line was entered while the reply streamed (it waits for `You:`)

    def __init__(self, out: TextIO, err: TextIO, *, brackets_pastes: bool = True, **options: Any) -> None:
        super().__init__(out, err, **options)
        self.brackets_pastes = brackets_pastes

    def on_start(self) -> None:
        self._typeahead = TypeaheadHidden(self.keyboard, self.out if self.brackets_pastes else None)
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTSTP) is signal.SIG_DFL:
            self._stop_handler = signal.signal(signal.SIGTSTP, self._on_stop)
        super().on_start()

    def on_end(self, reply: Reply) -> None:
        try:
            super().on_end(reply)
        finally:
            if self._stop_handler is not None:
                signal.signal(signal.SIGTSTP, self._stop_handler)
                self._stop_handler = None
            if self._typeahead is not None:  # the turn's driver ends every sink, whatever happened
                self.typed_ahead = lines_waiting(self.keyboard)
                self._typeahead.restore()

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        if not stop_would_stop():
            return  # as the kernel would: no shell to stop to, so nothing to hide or give back
        typeahead = self._typeahead.paused() if self._typeahead is not None else nullcontext()
        with self.renderer.suspended(), typeahead:  # the shell gets its terminal as it was
            signal.signal(signal.SIGTSTP, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTSTP)  # stopped here until `fg`
            signal.signal(signal.SIGTSTP, self._on_stop)


def stop_would_stop() -> bool:
    """Whether Ctrl-Z's SIGTSTP would stop this process: its process group is not
    orphaned (POSIX), i.e. a member has a parent in the same session but another
    group, a shell that can `fg` it. Run as a terminal's own program (a tmux
    pane's command, no shell), the group is orphaned and the kernel discards the
    stop. Members are followed up the parent chain; when that cannot be read
    (no /proc), as before: True."""
    try:
        session, group = os.getsid(0), os.getpgrp()
        parent = os.getppid()
        for _ in range(32):  # our group's members above us: a wrapper such as `uv run`
            if parent <= 0:  # no parent left (pid 1 may be a shell: a container's)
                return False
            if os.getpgid(parent) != group:
                return os.getsid(parent) == session
            parent = _parent_of(parent)
    except OSError:
        return True
    return True


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as stat:  # OSError without /proc: the caller says "as before"
        return int(stat.read().rsplit(b")", 1)[1].split()[1])
