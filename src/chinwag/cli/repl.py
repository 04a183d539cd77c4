"""The interactive chat: read a line, run a turn or a command, until the user leaves.

The chat ends only when the user ends it. Each line is handled inside one
protection: a Ctrl-C that lands outside a reply (in a command, in the instant
a message is sent) cancels what that line was doing and brings `You:` back;
a ChinwagError is one line on stderr. The provider is warmed up (HTTP stack
imported, TLS context built, local model loaded) and the history opened in a
background thread while the user types the first message.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from chinwag.cli.chat_sink import ChatSink
from chinwag.cli.reader import Leave, LineReader, set_up_line_editing
from chinwag.errors import ChinwagError
from chinwag.render.sanitize import one_line
from chinwag.session import Session
from chinwag.sinks import TerminalSink, assistant_name

if TYPE_CHECKING:
    from chinwag.attach import Attachment
    from chinwag.records import Block, Reply

GOODBYE = "Goodbye!"
QUIT_WORDS = {"quit", "exit", "/exit", "/quit", ":q"}


def wants_to_leave(line: str) -> bool:
    """`quit`, `exit`, `:q`, or the `/exit` and `/quit` commands, whatever follows them."""
    command = line.split(maxsplit=1)[0] if line.startswith("/") else line
    return command.lower() in QUIT_WORDS


class Repl:
    def __init__(self, session: Session, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
                 *, color: bool = True, quiet: bool = False, history_file: Path | None = None,
                 environ: Mapping[str, str] | None = None, cwd: Path | None = None,
                 flags: Mapping[str, Any] | None = None, markdown: bool = False,
                 reader: LineReader | None = None) -> None:
        self.session, self.out, self.err = session, out, err
        self.markdown, self.color, self.quiet = markdown, color, quiet
        self.environ = environ or {}
        self.cwd = cwd or Path.cwd()
        self.flags = dict(flags or {})  # the command line's, for /model to resolve with
        self.history_file = history_file
        self.reader = reader or LineReader(out, history_file=history_file, dim=self.dim, guard=session.guard)
        self.pending: list[Attachment] = []  # /attach (or -a): sent with the next message
        self._last_sink: ChatSink | None = None  # the last turn's view: were keys typed during it?

    def run(self) -> int:
        """Returns the exit code: 0 after quit/Ctrl-D, 130 after Ctrl-C twice at the prompt."""
        with self.session.guard.guarded():  # Ctrl-C is held back between Enter and the turn (interrupts.py)
            return self._loop()

    def _loop(self) -> int:
        def complete(text: str, state: int) -> str | None:  # the command table is imported at the first Tab
            from chinwag.cli.commands import complete

            return complete(text, state, self)

        self._banner()
        if self.reader.uses_readline:
            set_up_line_editing(self.history_file, complete, self._start_warm_up, self.session.guard,
                                bracketed_paste=self.environ.get("TERM") != "dumb")
        else:
            self._start_warm_up()
        while True:
            line = self.reader.read()
            if isinstance(line, Leave):
                self.out.write(f"\n{GOODBYE}\n")
                return line.exit_code
            if wants_to_leave(line):
                self.out.write(f"{GOODBYE}\n")
                return 0
            typed_ahead = self._last_sink is not None and self._last_sink.typed_ahead
            self._last_sink = None
            try:
                self.handle(line, typed_during_reply=typed_ahead)
            except KeyboardInterrupt:  # in the instant between handling and the next prompt
                self.out.write("\n")

    def handle(self, line: str, *, typed_during_reply: bool = False) -> None:
        """One message or command; whatever happens, the chat goes on. A command
        that moves to another branch (/edit, /undo, ...) typed while a reply
        streamed is refused: it would act on a reply the user had not seen end."""
        try:
            if line.startswith("/"):
                from chinwag.cli.commands import refuse_typed_during_reply, run_command

                if typed_during_reply:
                    refuse_typed_during_reply(line)
                with self.session.guard.allowed():
                    run_command(self, line)
            else:
                self.send(line)
        except ChinwagError as exc:
            self.err.write(f"chinwag: {one_line(exc.message)}\n")
        except KeyboardInterrupt:
            self.out.write("\n" + self.dim("(cancelled)") + "\n")
        except OSError as exc:  # e.g. the terminal went away mid-write; nothing to save that is not saved
            self.err.write(f"chinwag: {one_line(str(exc.strerror or exc))}\n")
        self.out.flush()

    def send(self, line: str, extra: tuple[Block, ...] = ()) -> None:
        """`line` as the next message, with the attachments pending (their 📎 lines first)
        and `extra` blocks (an MCP prompt's). Refused attachments (the model reads text
        only) stay pending."""
        blocks = tuple(a.block for a in self.pending) + extra
        if blocks:
            from chinwag.attach import check
            from chinwag.render.sanitize import sanitize

            check(blocks, self.session.provider.name)
            for attachment in self.pending:
                self.out.write(self.dim(sanitize(attachment.line)) + "\n")
            self.pending = []
        reply = self.session.ask(line, [self.sink()], blocks)
        if blocks and reply.status == "error":
            from chinwag.attach import refusal_hint

            if hint := refusal_hint(blocks, reply.error):
                self.err.write(f"chinwag: {hint}\n")

    def sink(self) -> TerminalSink:
        label = f"{assistant_name(self.session.provider.name)}: "
        spinner = self.out if self.out.isatty() and self.color else None
        self._last_sink = ChatSink(self.out, self.err, label=label, spinner_out=spinner, markdown=self.markdown,
                                   color=self.color, show_stats=not self.quiet, interactive=True)
        return self._last_sink

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.color else text

    def _banner(self) -> None:
        self.out.write(f"chinwag · {self.session.model} · type quit to exit\n")
        if self.session.settings.notice:
            self.out.write(self.dim(self.session.settings.notice) + "\n")
        for attachment in self.pending:  # -a: goes with the first message
            from chinwag.render.sanitize import sanitize

            self.out.write(self.dim(f"{sanitize(attachment.line)} · with your first message") + "\n")
        self.out.flush()

    def _start_warm_up(self) -> None:
        thread = threading.Thread(target=self._warm_up, name="chinwag-warm-up", daemon=True)
        self.session.warming = thread  # the first turn waits for it (session.wait_for_warm_up)
        thread.start()

    def _start_tools(self) -> None:
        tool_use = self.session.tool_use  # built here, after the prompt is drawn (Session.defer_tools)
        if tool_use is not None:
            tool_use.start()

    def _warm_up(self) -> None:
        recorder = self.session.recorder
        for step in (recorder.open if recorder is not None else None, self._start_tools,
                     self.session.provider.warm_up, self.session.warm_prices):
            if self.session.closing:
                return  # the chat is ending: nothing more to open or start (Session.close waits)
            try:
                if step is not None:
                    step()
            except Exception:  # noqa: BLE001  a background thread must never print a traceback:
                pass  # the first turn meets the same failure and reports it in one line
        if self.markdown and not self.session.closing:
            from chinwag.render.terminal import preload

            preload()
