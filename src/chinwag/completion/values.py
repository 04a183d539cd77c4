"""The values a completion script asks for at Tab, one per line, as
`VALUE<TAB>DESCRIPTION` (the description may be empty):

    python -m chinwag.completion.values models|templates|tools|conversations

It never starts the chat and never opens the network (model_cache.py
refreshes in a detached process); it imports only what the kind asked for
needs. A failure lists nothing: Tab must never print a traceback into the
user's command line.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

CONVERSATIONS_LISTED = 200  # the newest; an older one is typed, not picked


def models(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    from chinwag.completion.model_cache import model_specs

    return [(spec, "") for spec in model_specs(environ)]


def templates(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(name, "") for name in template_names(environ)]


def template_names(environ: Mapping[str, str]) -> list[str]:
    """The templates' names (`NAME.toml` in the config directory's templates/
    folder), as the templates package lists them."""
    from chinwag.templates.store import config_dir, names

    return names(config_dir(environ))


def tools(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    from chinwag.tools import BUILTIN_TOOLS

    return [(name, "") for name in BUILTIN_TOOLS]


def conversations(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Saved conversations, newest first, with their titles (a renamed one's
    own), read from a read-only connection: Tab creates, migrates and locks nothing."""
    from chinwag.history.schema import SUMMARY_SELECT, summary_of, title_of
    from chinwag.paths import database_file

    path = database_file(environ)
    if not path.is_file():
        return []
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=0.05)
    try:
        rows = conn.execute(SUMMARY_SELECT + " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                            (CONVERSATIONS_LISTED,)).fetchall()
        try:
            named = dict(conn.execute("SELECT id, title FROM conversations WHERE title IS NOT NULL").fetchall())
        except sqlite3.OperationalError:  # a database from before titles could be given
            named = {}
    finally:
        conn.close()
    found = []
    for row in rows:
        summary = summary_of(row)
        found.append((str(summary.id), title_of(named[summary.id]) if summary.id in named else summary.title))
    return found


KINDS: dict[str, Callable[[Mapping[str, str]], list[tuple[str, str]]]] = {
    "models": models, "templates": templates, "tools": tools, "conversations": conversations,
}


def main(argv: list[str], environ: Mapping[str, str], out: TextIO) -> int:
    if len(argv) != 1 or argv[0] not in KINDS:
        sys.stderr.write(f"usage: python -m chinwag.completion.values {'|'.join(KINDS)}\n")
        return 2
    try:
        found = KINDS[argv[0]](environ)
    except Exception:  # noqa: BLE001 - a broken database or config: nothing to offer, no traceback at Tab
        return 1
    for value, description in found:
        out.write(f"{_one_line(value)}\t{_one_line(description)}\n")
    return 0


def _one_line(text: str) -> str:
    """Tabs and line breaks would split a candidate; control characters must not reach the terminal."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ, sys.stdout))
