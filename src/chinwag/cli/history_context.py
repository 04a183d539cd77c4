"""What every `chinwag history` subcommand works with: where it writes, the
database (opened read-only where it cannot be written), and a conversation
named by its number or 'last'."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from chinwag.cli.history_format import isatty
from chinwag.errors import UsageError
from chinwag.history.check import READ_ONLY, StorageError
from chinwag.history.store import ConversationSummary, Store, StoredMessage
from chinwag.paths import database_file

MAX_ID = 2**63 - 1  # SQLite's largest integer


@dataclass(frozen=True)
class HistoryContext:
    environ: Mapping[str, str]
    out: TextIO
    err: TextIO
    stdin: TextIO

    @property
    def db(self) -> Path:
        return database_file(self.environ)

    @property
    def styled(self) -> bool:
        """Bold and dim only on a terminal that wants them."""
        return (isatty(self.out) and not self.environ.get("NO_COLOR")
                and self.environ.get("TERM") != "dumb")

    @contextmanager
    def store(self, read: bool = False) -> Iterator[Store]:
        """The database; for `read`, opened read-only where it cannot be written."""
        try:
            opened = Store.open(self.db)
        except StorageError as exc:
            if not read or exc.reason != READ_ONLY:
                raise
            opened = Store.open(self.db, read_only=True)
        with closing(opened) as store:
            yield store


def load(ctx: HistoryContext, ident: str) -> tuple[ConversationSummary, list[StoredMessage]]:
    """The conversation named by `ident` (a number or 'last'), or UsageError."""
    if ident != "last" and not ident.isdigit():
        raise UsageError(f"a conversation ID is a number or 'last', not {ident!r}")
    if not ctx.db.exists():
        raise UsageError("no conversations saved yet")
    with ctx.store(read=True) as store:
        cid = store.latest_conversation_id() if ident == "last" else min(int(ident), MAX_ID)
        summary = store.conversation(cid) if cid is not None else None
        if summary is None:
            found = "no conversations saved yet" if cid is None else f"no conversation {ident}"
            raise UsageError(f"{found}; see `chinwag history list`")
        return summary, store.messages(summary.id)
