"""The interactive loop: read a line, run a turn, handle commands and Ctrl-C.

Input is read with the standard library's `input()` + `readline` (line editing,
Ctrl-R search, history kept in the data dir): it costs ~3 ms to import where
prompt_toolkit costs ~150 ms, and the `You:` prompt must be on screen at once.
The provider is warmed up (HTTP stack imported, TLS context built, local model
loaded) in a background thread while the user types the first message.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from chinwag.errors import ChinwagError
from chinwag.output import TerminalSink, assistant_name, stats_line
from chinwag.records import Reply
from chinwag.session import Session

GOODBYE = "Goodbye!"
QUIT_WORDS = {"quit", "exit", "/exit", "/quit", ":q"}


class Repl:
    def __init__(self, session: Session, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
                 *, color: bool = True, quiet: bool = False, history_file: Path | None = None,
                 environ: Mapping[str, str] | None = None,
                 switch_model: Callable[[str], None] | None = None, markdown: bool = False) -> None:
        self.session, self.out, self.err = session, out, err
        self.markdown = markdown
        self.switch_model = switch_model
        self.environ = environ or {}
        self.color, self.quiet = color, quiet
        self.history_file = history_file
        self._interrupted_at_prompt = False

    def run(self) -> int:
        """Returns the exit code: 0 after quit/Ctrl-D, 130 after Ctrl-C twice at the prompt."""
        self._banner()
        self.session.notify = self._notice
        self._setup_line_editing()
        while True:
            try:
                line = self._read("You: ")
            except EOFError:
                self.out.write(f"\n{GOODBYE}\n")
                return 0
            except KeyboardInterrupt:
                if self._interrupted_at_prompt:
                    self.out.write(f"\n{GOODBYE}\n")
                    return 130
                self._interrupted_at_prompt = True
                self.out.write("\n(press Ctrl-C again or type quit to leave)\n")
                continue
            self._interrupted_at_prompt = False
            text = line.strip()
            if not text:
                continue
            if text.lower() in QUIT_WORDS:
                self.out.write(f"{GOODBYE}\n")
                return 0
            if text.startswith("/"):
                self._command(text)
            else:
                self.show(self.session.ask(self._maybe_multiline(text), [self.sink()]))

    def _banner(self) -> None:
        self.out.write(f"chinwag · {self.session.model} · type quit to exit\n")
        if self.session.settings.notice:
            self.out.write(self.dim(self.session.settings.notice) + "\n")
        self.out.flush()

    def _notice(self, message: str) -> None:
        self.out.write(self.dim(f"({message})") + "\n")

    def _start_warm_up(self) -> None:
        threading.Thread(target=self._warm_up, name="chinwag-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        for step in (getattr(self.session.recorder, "open", None), getattr(self.session.provider, "warm_up", None)):
            try:
                if step is not None:
                    step()
            except (ChinwagError, ImportError, OSError):
                pass  # the first turn meets the same failure and reports it properly
        if self.markdown:
            from chinwag.render.terminal import preload

            preload()

    def _read(self, prompt: str) -> str:
        self.out.flush()
        line = input(prompt)
        if self.history_file is not None:
            _append_history(self.history_file)
        return line

    def _maybe_multiline(self, text: str) -> str:
        """`\"\"\"` on its own starts a block that ends with another `\"\"\"`."""
        if text != '"""':
            return text
        lines = []
        while (line := self._read("... ")).strip() != '"""':
            lines.append(line)
        return "\n".join(lines)

    def sink(self) -> TerminalSink:
        label = f"{assistant_name(self.session.provider.name)}: "
        return TerminalSink(self.out, self.err, label=label, spinner_out=self.out if self.out.isatty() and self.color else None,
                            markdown=self.markdown,
                            color=self.color)

    def show(self, reply: Reply) -> None:
        """After a turn: the stats line, or what went wrong and what to do."""
        if reply.cancelled:
            self.out.write(self.dim("↳ stopped; /retry to ask again, /continue to resume") + "\n")
        elif reply.status == "interrupted":
            self.err.write(f"chinwag: reply interrupted: {reply.error}\n")
            self.out.write(self.dim("↳ (interrupted) /retry to ask again, /continue to resume") + "\n")
        elif reply.status == "error":
            self.err.write(f"chinwag: {reply.error}\n")
            self.out.write(self.dim("↳ /retry to send it again") + "\n")
        elif not self.quiet:
            line = stats_line(reply)
            if line:
                self.out.write(self.dim(f"↳ {line}") + "\n")
        self.out.write("\n")
        self.out.flush()

    def _command(self, text: str) -> None:
        from chinwag.commands import run_command

        run_command(self, text)

    def _setup_line_editing(self) -> None:
        try:
            import readline
        except ImportError:  # Windows without pyreadline: plain input() still works
            self._start_warm_up()
            return

        from chinwag.commands import complete

        readline.set_completer(complete)
        readline.set_completer_delims(" ")
        readline.parse_and_bind("tab: complete")
        # Alt-Enter (ESC then Enter) puts a newline in the message instead of sending it.
        readline.parse_and_bind(r'"\e\C-m": "\C-v\C-j"')
        readline.parse_and_bind(r'"\e\C-j": "\C-v\C-j"')

        def after_first_prompt() -> None:
            # readline calls this once the prompt is drawn: only then start slow work.
            readline.set_pre_input_hook(None)
            self._start_warm_up()

        readline.set_pre_input_hook(after_first_prompt)
        if self.history_file is not None and self.history_file.exists():
            try:
                readline.read_history_file(self.history_file)
            except OSError:
                pass

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.color else text


def _append_history(path: Path) -> None:
    try:
        import readline

        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            path.touch(mode=0o600)
        readline.append_history_file(1, path)
    except (ImportError, OSError):
        pass
