"""The editor step of `/edit`: the old text in `$VISUAL` or `$EDITOR` when one
is set, otherwise on the input line, filled with the old text.

Nothing changes unless the user ends with new text: an editor that exits
non-zero, a file saved empty, an unchanged text, or Ctrl-C / Ctrl-D on the
input line each give one line (UsageError) and the chat goes on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from chinwag.errors import UsageError
from chinwag.render.sanitize import one_line

if TYPE_CHECKING:
    from chinwag.cli.reader import LineReader
    from chinwag.interrupts import InterruptGuard

EDIT_PROMPT = "Edit: "


def editor_command(environ: Mapping[str, str]) -> tuple[str, list[str]] | None:
    """($VISUAL or $EDITOR, its words), or None when neither is set (or set blank)."""
    import shlex

    for variable in ("VISUAL", "EDITOR"):
        value = environ.get(variable, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError as exc:
                raise UsageError(f"cannot read ${variable} ({one_line(value)}): {exc}; nothing changed.") from None
            if words:
                return variable, words
    return None


def edited_text(old: str, environ: Mapping[str, str], reader: LineReader, guard: InterruptGuard) -> str:
    """The new text for a message that said `old`; UsageError when nothing is to change."""
    command = editor_command(environ)
    new = _in_editor(old, *command, guard) if command is not None else _on_the_line(old, reader)
    if not new.strip():
        raise UsageError("the edited message is empty; nothing changed.")
    if new.strip() == old.strip():
        raise UsageError("the message is unchanged; nothing changed (/retry asks the last question again).")
    return new.strip()


def _on_the_line(old: str, reader: LineReader) -> str:
    new = reader.read_prefilled(EDIT_PROMPT, old)
    if new is None:  # Ctrl-C or Ctrl-D
        raise UsageError("edit dropped; nothing changed.")
    return new


def _in_editor(old: str, variable: str, words: list[str], guard: InterruptGuard) -> str:
    """Run the editor on a temporary file holding `old`, with the terminal; its text after.

    Ctrl-C belongs to the editor while it runs (vi, nano and emacs use it as a
    key; it reaches us too, as the terminal's foreground process group): it is
    held back, then forgotten, so it neither stops the chat nor kills the editor."""
    import subprocess
    import tempfile

    fd, name = tempfile.mkstemp(prefix="chinwag-edit-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(old if old.endswith("\n") else old + "\n")
        with guard.guarded():
            try:
                code = subprocess.call([*words, name])
            except OSError as exc:
                raise UsageError(f"cannot run the editor {one_line(words[0])} (${variable}):"
                                 f" {exc.strerror or exc}; nothing changed.") from None
            finally:
                guard.discard()
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise UsageError(f"the editor {one_line(words[0])} {how}; nothing changed.")
        try:
            with open(name, encoding="utf-8", errors="replace") as file:
                return file.read()
        except OSError as exc:
            raise UsageError(f"cannot read the edited text back: {exc.strerror or exc}; nothing changed.") from None
    finally:
        try:
            os.unlink(name)
        except OSError:
            pass
