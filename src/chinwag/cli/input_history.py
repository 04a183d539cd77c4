"""The input history file: what Up-arrow and Ctrl-R find after a restart.

readline's own file holds one entry a line, so a message with newlines in it
(Alt-Enter, a paste) came back as one entry per line. Here each entry is one
line with `\\` and newlines escaped, under a header that says so; a file
without the header (readline's, from an earlier chinwag) is read as it was
written, and rewritten in this form at the first new entry.
"""

from __future__ import annotations

from pathlib import Path

HEADER = "#chinwag input history: one entry a line, \\n and \\\\ escaped\n"


def load_entries(path: Path) -> None:
    """Put the file's entries into readline's history, oldest first."""
    try:
        import readline

        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except (ImportError, OSError):
        return
    escaped = text.startswith(HEADER)
    for line in text[len(HEADER):].split("\n") if escaped else text.split("\n"):
        if line:
            readline.add_history(_unescape(line) if escaped else line)


def append_entry(path: Path) -> None:
    """Add readline's newest entry to the file (the whole history, the first time)."""
    try:
        import readline

        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        length = readline.get_current_history_length()
        if path.exists() and _has_header(path):
            entries, mode = [readline.get_history_item(length)], "a"
        else:
            entries, mode = [readline.get_history_item(i) for i in range(1, length + 1)], "w"
        lines = "".join(_escape(entry) + "\n" for entry in entries if entry)
        with open(path, mode, encoding="utf-8", errors="surrogateescape", opener=_private) as file:
            file.write((HEADER if mode == "w" else "") + lines)
    except (ImportError, OSError):
        pass


def _has_header(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="surrogateescape") as file:
        return file.read(len(HEADER)) == HEADER


def _private(path: str, flags: int) -> int:
    import os

    return os.open(path, flags, 0o600)


def _escape(entry: str) -> str:
    return entry.replace("\\", "\\\\").replace("\n", "\\n")


def _unescape(line: str) -> str:
    out, chars = [], iter(line)
    for ch in chars:
        if ch == "\\":
            following = next(chars, "")
            out.append("\n" if following == "n" else following)
        else:
            out.append(ch)
    return "".join(out)
