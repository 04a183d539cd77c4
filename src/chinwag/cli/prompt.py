"""The one-shot prompt: words from the command line, a --file, piped stdin."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from chinwag.errors import UsageError


def read_prompt(words: Sequence[str], stdin: TextIO, file: str | None = None) -> str | None:
    """The one-shot prompt (words, then a --file or piped stdin), or None for the REPL."""
    piped = _read_file(file) if file else None if stdin is None or stdin.isatty() else _read_stdin(stdin)
    if not words and piped is None:
        return None
    text = " ".join(words).strip()
    if piped and piped.strip():
        text = f"{text}\n\n{piped.strip()}" if text else piped.strip()
    if not text:
        raise UsageError("the prompt is empty; type a question, e.g. chinwag \"hello\".")
    return text


def _read_file(name: str) -> str:
    try:
        return Path(name).expanduser().read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the prompt file {name} is not UTF-8 text.") from None
    except OSError as exc:
        raise UsageError(f"cannot read the prompt file {name}: {exc.strerror}.") from None
    except RuntimeError:  # "~name/..." for a user with no home directory here
        raise UsageError(f"cannot read the prompt file {name}: there is no such home directory.") from None


def _read_stdin(stdin: TextIO) -> str:
    data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"standard input is not UTF-8 text (byte {exc.start}).") from None
