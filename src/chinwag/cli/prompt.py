"""The one-shot prompt: words from the command line, a --file, piped stdin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from chinwag.errors import UsageError


def read_prompt(words: Sequence[str], stdin: TextIO, file: str | None = None, *, empty_ok: bool = False) -> str | None:
    """The one-shot prompt (words, then a --file or piped stdin), or None for the REPL.
    `empty_ok`: nothing piped in is "" (a template's own prompt needs no more), not an error."""
    piped = _read_file(file) if file else None if stdin is None or stdin.isatty() else _read_stdin(stdin)
    if not words and piped is None:
        return None
    text = " ".join(words).strip()
    if piped and piped.strip():
        text = f"{text}\n\n{piped.strip()}" if text else piped.strip()
    if not text and not empty_ok:
        raise UsageError("the prompt is empty; type a question, e.g. chinwag \"hello\".")
    return text


def _read_file(name: str) -> str:
    from chinwag.attach import MAX_BYTES
    from chinwag.attach.reading import read_path

    _, data = read_path(name, MAX_BYTES, "cannot read the prompt file")  # a regular file, capped as -a is
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the prompt file {name} is not UTF-8 text.") from None


def _read_stdin(stdin: TextIO) -> str:
    from chinwag.attach import MAX_BYTES
    from chinwag.attach.reading import read_stream

    data = read_stream(stdin.buffer, MAX_BYTES) if hasattr(stdin, "buffer") else stdin.read(MAX_BYTES + 1).encode()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"standard input is not UTF-8 text (byte {exc.start}).") from None
