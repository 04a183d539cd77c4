"""Reading what the user types: the one place that handles Ctrl-C and Ctrl-D at a prompt.

Lines are read with the standard library's `input()` + `readline` (line
editing, Ctrl-R search, history kept in the data dir): it costs ~3 ms to
import where prompt_toolkit costs ~150 ms, and `You:` must be on screen at once.

A paste is one message: readline asks the terminal for bracketed paste
(`CSI ?2004h` while it reads, off again after), so a pasted block lands in the
line being edited, newlines kept, and Enter sends it whole. readline cannot
draw a line taller than the screen (it overwrites the bottom row), so once
such a message is sent a line says how many lines it holds.

At `You:`, Ctrl-D leaves; Ctrl-C once shows a hint, twice in a row leaves
(exit 130); Ctrl-C over a half-typed line drops the line (one Up-arrow brings
it back) and does not count toward leaving. A `\"\"\"` line starts a block that another `\"\"\"` ends: in a block,
Ctrl-D sends what was typed and Ctrl-C drops the block (its lines stay in the
input history, one Up-arrow away).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from chinwag.cli.input_history import append_entry, load_entries
from chinwag.interrupts import InterruptGuard

BLOCK_MARK = '"""'


@dataclass(frozen=True)
class Leave:
    """The user asked to leave: Ctrl-D (0) or Ctrl-C twice (130)."""

    exit_code: int


class LineReader:
    def __init__(self, out: TextIO, *, history_file: Path | None = None,
                 read: Callable[[str], str] = input, dim: Callable[[str], str] = str,
                 guard: InterruptGuard | None = None) -> None:
        self.out, self.history_file, self._read_line, self._dim = out, history_file, read, dim
        self.guard = guard or InterruptGuard()
        self._interrupted = False  # the last thing at `You:` was a Ctrl-C

    @property
    def uses_readline(self) -> bool:
        return self._read_line is input

    def read(self, prompt: str = "You: ") -> str | Leave:
        """The next message or command, stripped (never empty), or Leave."""
        while True:
            try:
                text = self._line(prompt).strip()
            except EOFError:
                return Leave(0)
            except KeyboardInterrupt:
                if self._dropped_line():  # Ctrl-C over a half-typed line clears it, as in a shell
                    self._interrupted = False
                    self.out.write("\n" + self._dim("(line dropped; Up-arrow brings it back)") + "\n")
                    continue
                if self._interrupted:
                    return Leave(130)
                self._interrupted = True
                self.out.write("\n" + self._dim("(press Ctrl-C again or type quit to leave)") + "\n")
                continue
            self._interrupted = False
            if text == BLOCK_MARK:
                text = self._block()
            if text:
                return text

    def read_prefilled(self, prompt: str, text: str) -> str | None:
        """One line, the input line filled with `text` to edit (readline; a reader
        without it shows `text` above the prompt); None for Ctrl-C or Ctrl-D."""
        hook = _prefill(text, self.guard) if self.uses_readline else None
        if hook is None:
            self.out.write(self._dim(text) + "\n")
        try:
            return self._line(prompt).strip()
        except (EOFError, KeyboardInterrupt):
            self.out.write("\n")
            return None
        finally:
            if hook is not None:
                hook()

    def _block(self) -> str:
        lines: list[str] = []
        while True:
            try:
                line = self._line("... ")
            except EOFError:
                self.out.write("\n")
                return "\n".join(lines).strip()
            except KeyboardInterrupt:
                self.out.write("\n" + self._dim("(block dropped; Up-arrow brings its lines back)") + "\n")
                return ""
            if line.strip() == BLOCK_MARK:
                return "\n".join(lines).strip()
            lines.append(line)

    def _line(self, prompt: str) -> str:
        self.out.flush()
        self.guard.discard()
        before = self._history_length()
        try:
            with self.guard.allowed():
                line = self._read_line(prompt)
        except KeyboardInterrupt:
            # Enter, then Ctrl-C at once: readline had finished the line (and put
            # it in its history) when Python ran the signal handler. The line was
            # sent as far as the user can tell; the press stops its reply.
            completed = self._completed_since(before)
            if completed is None:
                raise
            line = completed
            self.guard.hold()
        if self.history_file is not None:
            append_entry(self.history_file)
        if "\n" in line and self.uses_readline and taller_than_the_screen(self.out, prompt, line):
            lines = line.strip().count("\n") + 1
            self.out.write(self._dim(f"(one message of {lines} lines; the screen showed part of it)") + "\n")
        return _encodable(line)


    def _dropped_line(self) -> bool:
        """After Ctrl-C at the prompt: was a line half typed? If so it is kept in the
        input history (Up brings it back); only Ctrl-C on an empty line counts
        toward leaving."""
        if not self.uses_readline:
            return False
        try:
            import readline
        except ImportError:
            return False
        typed = readline.get_line_buffer()
        if not typed.strip():
            return False
        readline.add_history(typed)
        return True

    def _history_length(self) -> int | None:
        if not self.uses_readline:
            return None
        try:
            import readline
        except ImportError:
            return None
        return readline.get_current_history_length()

    def _completed_since(self, before: int | None) -> str | None:
        if before is None:
            return None
        import readline

        now = readline.get_current_history_length()
        return readline.get_history_item(now) if now > before else None


def _prefill(text: str, guard: InterruptGuard) -> Callable[[], None] | None:
    """Have readline's next line start out holding `text`; returns what undoes it."""
    try:
        import readline
    except ImportError:
        return None
    readline.set_startup_hook(guard.called_back(lambda: readline.insert_text(text)))
    return lambda: readline.set_startup_hook(None)


def _encodable(line: str) -> str:
    """`line` with each byte that was not UTF-8 replaced by U+FFFD.

    input() hands such bytes (a paste from a Latin-1 file, say) over as lone
    surrogates (Python's surrogateescape), which neither the request's JSON
    nor SQLite can encode: left in, they ended the chat at the next send."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in line)
    return line


def set_up_line_editing(history_file: Path | None, complete: Callable[[str, int], str | None],
                        after_first_prompt: Callable[[], None], guard: InterruptGuard, *,
                        bracketed_paste: bool = True) -> None:
    """readline: completion, Alt-Enter for a newline, bracketed paste (not
    on TERM=dumb, which gets no escape codes), the input history, and a hook
    run once the first prompt is drawn (slow work starts only then). readline
    drops what its callbacks raise: `guard` keeps a Ctrl-C meanwhile for after."""
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input() still works
        after_first_prompt()
        return
    readline.set_completer(guard.called_back(complete))
    readline.set_completer_delims(" ")
    readline.parse_and_bind("tab: complete")
    # Alt-Enter (ESC then Enter) puts a newline in the message instead of sending it.
    readline.parse_and_bind(r'"\e\C-m": "\C-v\C-j"')
    readline.parse_and_bind(r'"\e\C-j": "\C-v\C-j"')
    # CPython turns bracketed paste off (for its own REPL, where a pasted line
    # must run on its own); here a pasted block is one message, so it is on.
    if bracketed_paste:
        readline.parse_and_bind("set enable-bracketed-paste on")

    def hook() -> None:
        readline.set_pre_input_hook(None)
        after_first_prompt()

    readline.set_pre_input_hook(guard.called_back(hook))
    if history_file is not None:
        load_entries(history_file)


def taller_than_the_screen(out: TextIO, prompt: str, text: str) -> bool:
    """Whether `prompt` + `text` takes more rows than the screen has: readline
    then draws its first rows and writes every later one over the bottom row
    (GNU readline 8, seen in tmux), so the screen shows only part of it."""
    if not out.isatty():
        return False
    from wcwidth import width

    from chinwag.render.terminal import terminal_size

    columns, rows = terminal_size(out)
    needed = sum(max(1, -(-max(width(line), 0) // columns)) for line in (prompt + text).split("\n"))
    return needed > rows
