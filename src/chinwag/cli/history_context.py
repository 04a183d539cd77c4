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
from chinwag.history.store import CANCELLED_QUESTION, ConversationSummary, Store, StoredMessage
from chinwag.paths import database_file
from chinwag.tree import Tree

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


@dataclass(frozen=True)
class Loaded:
    """A saved conversation: its current path (what `show` and `export` print), its tree,
    and, when asked for, every message of every branch, in order of creation.

    A question cancelled before any reply is a dead end beside the path (its parent
    is on it): it is shown where it was asked, marked cancelled, as it was on screen,
    and is no other branch."""

    summary: ConversationSummary
    path: list[StoredMessage]
    tree: Tree
    every: list[StoredMessage] | None = None
    dead_ends: int = 0  # cancelled questions shown in `path`

    @property
    def other_branches(self) -> int:
        return max(self.tree.branches() - 1 - self.dead_ends, 0)


def load(ctx: HistoryContext, ident: str, every: bool = False) -> Loaded:
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
        tree, path = store.tree(summary.id), store.path_messages(summary.id)
        ends = _dead_ends(tree, {m.id for m in path})
        if ends:
            path = sorted(path + [m for m in (store.message(mid) for mid in ends) if m is not None],
                          key=lambda m: m.id)
        return Loaded(summary, path, tree, store.messages(summary.id) if every else None, len(ends))


def _dead_ends(tree: Tree, on_path: set[int]) -> list[int]:
    """The questions cancelled before any reply whose parent is on the path (or, for a
    first question, that are roots): nothing follows them but the empty reply row
    their turn left."""
    ends = []
    for node in tree.nodes.values():
        if node.id in on_path or not node.question or node.status != CANCELLED_QUESTION:
            continue
        if node.parent_id is not None and node.parent_id not in on_path:
            continue
        after = [tree.nodes[c] for c in node.children]
        if all(n.role == "assistant" and not n.children and not n.preview for n in after):
            ends.append(node.id)
    return ends


def message_id(environ: Mapping[str, str], cid: int, number: int) -> int:
    """The id of message `number` of conversation `cid` (numbered as /tree numbers them), or UsageError."""
    import sys

    ctx = HistoryContext(environ, sys.stdout, sys.stderr, sys.stdin)
    if not ctx.db.exists():
        raise UsageError("no conversations saved yet")
    with ctx.store(read=True) as store:
        if store.conversation(cid) is None:
            raise UsageError(f"no conversation {cid}; see `chinwag history list`")
        tree = store.tree(cid)
    node = tree.by_number(number)
    if node is None:
        raise UsageError(f"there is no message {number} in conversation {cid} (it has messages 1 to {len(tree)};"
                         f" `chinwag history show {cid} --all` shows them)")
    return node.id
