"""`chinwag history`: list, show, search, export, delete and check saved conversations.

cli/__init__.py calls `main(argv, environ, out)` with the arguments after "history".
Everything read from the database is shown through `sanitize`, so stored
escape sequences never reach the terminal; `--json` and `export --format json`
carry the raw text (JSON escapes control characters). A missing database is
never created here: there is simply nothing to show yet. Reading works from a
read-only directory or file too (the database is then opened read-only);
`check` says whether the file is sound and how to recover it (history/check.py).
How things print is history_format.py (tables, times), history_show.py (a conversation as
text or markdown) and history_json.py; a message's blocks, chinwag/present.py.

JSON: a list (`list --json`, `search --json`) is JSON lines, one object per
line, as the chat's `--json` events are; one record (`show --json`, `export
--format json`) is one JSON document. A list cut at its `--limit` says so,
and how to see more (on stderr when the list is JSON).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from chinwag.cli.history_context import MAX_ID, HistoryContext, load
from chinwag.cli.history_format import clean_line, flat, isatty, table, when
from chinwag.cli.history_json import hit_json, summary_json, write_json_lines
from chinwag.cli.history_show import export, show
from chinwag.cli.parser import OneLineErrorParser, ParserExit
from chinwag.errors import ChinwagError, UsageError
from chinwag.history.store import ConversationSummary, SearchHit
from chinwag.render.sanitize import one_line
from chinwag.tree import Tree


def main(argv: Sequence[str], environ: Mapping[str, str], out: TextIO, *,
         err: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """Run one history subcommand; returns the exit code (0 ok, 2 usage or not found)."""
    ctx = HistoryContext(environ, out, err or sys.stderr, stdin or sys.stdin)
    try:
        args = _parser(out).parse_args(list(argv))
        code: int = args.run(args, ctx)
        return code
    except ParserExit as stop:
        return stop.code
    except ChinwagError as exc:
        ctx.err.write(f"chinwag: {one_line(exc.message)}\n")  # as the chat's main says it
        return exc.exit_code
    except KeyboardInterrupt:
        ctx.err.write("\n")
        return 130


def _parser(out: TextIO) -> OneLineErrorParser:
    parser = OneLineErrorParser(prog="chinwag history", out=out,
                                description="List, show, search, export, delete and check saved conversations.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ident: dict[str, Any] = {"metavar": "ID", "help": "a conversation number, or 'last'"}

    sub = commands.add_parser("list", out=out, help="recent conversations, newest first")
    sub.add_argument("--limit", type=_positive, default=20, help="how many (default 20)")
    sub.add_argument("--json", action="store_true", help="JSON lines, one conversation per line, raw text")
    sub.set_defaults(run=_list)

    sub = commands.add_parser("show", out=out, help="a conversation's current branch, as it was seen")
    sub.add_argument("id", **ident)
    sub.add_argument("--all", action="store_true", help="every branch: the conversation as a tree")
    sub.add_argument("--json", action="store_true", help="JSON, raw text (with --all: every branch)")
    sub.set_defaults(run=show)

    sub = commands.add_parser("search", out=out, help="full-text search across all messages, every branch"
                              " (continue from a hit: chinwag --resume ID --at MESSAGE)")
    sub.add_argument("text", nargs="+", metavar="TEXT", help="words that must all appear")
    sub.add_argument("--limit", type=_positive, default=20, help="how many hits (default 20)")
    sub.add_argument("--json", action="store_true", help="JSON lines, one hit per line, raw text")
    sub.set_defaults(run=_search)

    sub = commands.add_parser("export", out=out, help="write a conversation to stdout")
    sub.add_argument("id", **ident)
    sub.add_argument("--format", default="markdown", choices=("markdown", "md", "json"),
                     help="markdown (the default) or json")
    sub.add_argument("--tree", action="store_true", help="with --format json: every branch, each message with"
                     " its parent (default: the current branch)")
    sub.add_argument("-o", "--output", metavar="FILE", help="write to FILE (markdown: attachments beside it,"
                     " in FILE_files/); default stdout")
    sub.set_defaults(run=export)

    sub = commands.add_parser("delete", out=out, help="delete a conversation")
    sub.add_argument("id", **ident)
    sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.set_defaults(run=_delete)

    sub = commands.add_parser("check", out=out, help="is the database sound? if not, how to recover"
                              " it (exit 1 when a problem is found; never changes it)")
    sub.set_defaults(run=_check)
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return min(int(text), MAX_ID)


# -- subcommands -------------------------------------------------------------

def _list(args: argparse.Namespace, ctx: HistoryContext) -> int:
    conversations: list[ConversationSummary] = []
    if ctx.db.exists():
        with ctx.store(read=True) as store:
            conversations = store.list_conversations(min(args.limit + 1, MAX_ID))
    cut, conversations = len(conversations) > args.limit, conversations[:args.limit]
    if args.json:
        write_json_lines(ctx.out, [summary_json(c) for c in conversations])
    elif not conversations:
        ctx.out.write("No conversations yet.\n")
    else:
        now = time.time()
        rows = [("ID", "WHEN", "MODEL", "TURNS", "TITLE")] + [
            (str(c.id), when(c.updated_at, now), clean_line(c.model or "-"), str(c.turns),
             clean_line(c.title) or "(empty)") for c in conversations]
        ctx.out.write(table(rows, right_aligned={0, 3}))
    if cut:
        _more(ctx, args, f"the {args.limit} most recent conversations")
    return 0


def _search(args: argparse.Namespace, ctx: HistoryContext) -> int:
    text = " ".join(args.text)
    hits: list[SearchHit] = []
    trees: dict[int, Tree] = {}  # each hit's conversation: its message numbers, its current path
    if ctx.db.exists():
        with ctx.store(read=True) as store:
            hits = store.search(text, limit=min(args.limit + 1, MAX_ID))
            trees = {cid: store.tree(cid) for cid in {h.conversation_id for h in hits[:args.limit]}}
    cut, hits = len(hits) > args.limit, hits[:args.limit]
    numbers = {h.message_id: node.number for h in hits
               if (node := trees[h.conversation_id].nodes.get(h.message_id)) is not None}
    if args.json:
        write_json_lines(ctx.out, [hit_json(h, numbers.get(h.message_id)) for h in hits])
        if cut:
            _more(ctx, args, f"the {args.limit} newest matches")
        return 0
    if not hits:
        ctx.out.write("No matches.\n" if ctx.db.exists() else "No conversations yet.\n")
        return 0
    mark = ("\x1b[1m", "\x1b[22m") if ctx.styled else ("[", "]")
    dim = ("\x1b[2m", "\x1b[22m") if ctx.styled else ("", "")
    now = time.time()
    current = {cid: {node.id for node in tree.path()} for cid, tree in trees.items()}
    for hit in hits:
        who = "You" if hit.role == "user" else "Reply"
        snippet = "".join(mark[0] + flat(piece) + mark[1] if is_match else flat(piece)
                          for piece, is_match in hit.parts())
        where = f" · message {numbers[hit.message_id]}" if hit.message_id in numbers else ""
        if where and hit.message_id not in current[hit.conversation_id]:
            where += " (another branch)"
        ctx.out.write(f"#{hit.conversation_id} · {who} · {when(hit.created_at, now)}{where}\n"
                      f"    {snippet}\n")
    ctx.out.write(f"{dim[0]}(continue from a hit: chinwag --resume ID --at MESSAGE){dim[1]}\n")
    if cut:
        _more(ctx, args, f"the {args.limit} newest matches")
    return 0


def _more(ctx: HistoryContext, args: argparse.Namespace, shown: str) -> None:
    """Say that a list was cut at its limit, and how to see more."""
    line = f"(showing {shown}; there are more: add --limit {min(args.limit * 5, MAX_ID)} to see more)"
    if args.json:  # stdout is for the JSON lines
        ctx.err.write(f"chinwag: {line[1:-1]}\n")
    else:
        dim = ("\x1b[2m", "\x1b[22m") if ctx.styled else ("", "")
        ctx.out.write(f"{dim[0]}{line}{dim[1]}\n")


def _delete(args: argparse.Namespace, ctx: HistoryContext) -> int:
    summary = load(ctx, args.id).summary
    if not args.yes:
        if not isatty(ctx.stdin):
            raise UsageError(f"not deleting conversation {summary.id} without confirmation"
                             " (stdin is not a terminal); add --yes to delete it")
        title = clean_line(summary.title) or "(empty)"
        ctx.err.write(f"Delete conversation {summary.id} “{title}” ({summary.turns} turns)?"
                      " [y/N] ")
        ctx.err.flush()
        if ctx.stdin.readline().strip().lower() not in ("y", "yes"):
            ctx.out.write("Nothing deleted.\n")
            return 0
    with ctx.store() as store:
        store.delete_conversation(summary.id)
    ctx.out.write(f"Deleted conversation {summary.id}.\n")
    return 0


def _check(args: argparse.Namespace, ctx: HistoryContext) -> int:
    from chinwag.history.check import report

    return report(ctx.db, ctx.out)


if __name__ == "__main__":
    import os

    raise SystemExit(main(sys.argv[1:], os.environ, sys.stdout))
