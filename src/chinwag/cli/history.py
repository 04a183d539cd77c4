"""`chinwag history`: list, show, search, export, delete and check saved conversations.

cli/__init__.py calls `main(argv, environ, out)` with the arguments after "history".
Everything read from the database is shown through `sanitize`, so stored
escape sequences never reach the terminal; `--json` and `export --format json`
carry the raw text (JSON escapes control characters). A missing database is
never created here: there is simply nothing to show yet. Reading works from a
read-only directory or file too (the database is then opened read-only);
`check` says whether the file is sound and how to recover it (history/check.py).
How things print is history_format.py; a message's blocks, chinwag/present.py.

JSON: a list (`list --json`, `search --json`) is JSON lines, one object per
line, as the chat's `--json` events are; one record (`show --json`, `export
--format json`) is one JSON document. A list cut at its `--limit` says so,
and how to see more (on stderr when the list is JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO, assert_never

from chinwag import present
from chinwag.present import CANCELLED_NOTE
from chinwag.attach.export import markdown_links, write_beside
from chinwag.errors import ChinwagError, UsageError
from chinwag.paths import database_file
from chinwag.cli.history_format import clean_line, flat, iso, isatty, local, table, when
from chinwag.records import Message, ToolResult, block_to_json
from chinwag.render.sanitize import sanitize
from chinwag.history.store import CANCELLED_QUESTION, ConversationSummary, SearchHit, Store, StoredMessage
from chinwag.history.check import READ_ONLY, StorageError

_MAX_ID = 2**63 - 1  # SQLite's largest integer
_MARKS = {"interrupted": present.REPLY_INTERRUPTED, "error": "✗ failed", "streaming": "… still streaming"}


def main(argv: Sequence[str], environ: Mapping[str, str], out: TextIO, *,
         err: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """Run one history subcommand; returns the exit code (0 ok, 2 usage or not found)."""
    ctx = _Context(environ, out, err or sys.stderr, stdin or sys.stdin)
    try:
        args = _parser(out).parse_args(list(argv))
        code: int = args.run(args, ctx)
        return code
    except _Exit as stop:
        return stop.code
    except ChinwagError as exc:
        ctx.err.write(f"chinwag: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        ctx.err.write("\n")
        return 130


@dataclass(frozen=True)
class _Context:
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


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class _Parser(argparse.ArgumentParser):
    """Help goes to `out`; errors become UsageError (one line, exit 2), never SystemExit."""

    def __init__(self, *args: Any, out: TextIO, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._out = out

    def print_help(self, file: Any = None) -> None:
        super().print_help(file or self._out)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _Exit(status)


def _parser(out: TextIO) -> _Parser:
    parser = _Parser(prog="chinwag history", out=out,
                     description="List, show, search, export, delete and check saved conversations.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ident: dict[str, Any] = {"metavar": "ID", "help": "a conversation number, or 'last'"}

    sub = commands.add_parser("list", out=out, help="recent conversations, newest first")
    sub.add_argument("--limit", type=_positive, default=20, help="how many (default 20)")
    sub.add_argument("--json", action="store_true", help="JSON lines, one conversation per line, raw text")
    sub.set_defaults(run=_list)

    sub = commands.add_parser("show", out=out, help="a whole conversation, as it was seen")
    sub.add_argument("id", **ident)
    sub.add_argument("--json", action="store_true", help="JSON, raw text")
    sub.set_defaults(run=_show)

    sub = commands.add_parser("search", out=out, help="full-text search across all messages")
    sub.add_argument("text", nargs="+", metavar="TEXT", help="words that must all appear")
    sub.add_argument("--limit", type=_positive, default=20, help="how many hits (default 20)")
    sub.add_argument("--json", action="store_true", help="JSON lines, one hit per line, raw text")
    sub.set_defaults(run=_search)

    sub = commands.add_parser("export", out=out, help="write a conversation to stdout")
    sub.add_argument("id", **ident)
    sub.add_argument("--format", default="markdown", choices=("markdown", "md", "json"),
                     help="markdown (the default) or json")
    sub.add_argument("-o", "--output", metavar="FILE", help="write to FILE (markdown: attachments beside it,"
                     " in FILE_files/); default stdout")
    sub.set_defaults(run=_export)

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
    return min(int(text), _MAX_ID)


# -- subcommands -------------------------------------------------------------

def _list(args: argparse.Namespace, ctx: _Context) -> int:
    conversations: list[ConversationSummary] = []
    if ctx.db.exists():
        with ctx.store(read=True) as store:
            conversations = store.list_conversations(min(args.limit + 1, _MAX_ID))
    cut, conversations = len(conversations) > args.limit, conversations[:args.limit]
    if args.json:
        _write_json_lines(ctx.out, [_summary_json(c) for c in conversations])
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


def _show(args: argparse.Namespace, ctx: _Context) -> int:
    summary, messages = _load(ctx, args.id)
    if args.json:
        _write_json(ctx.out, _conversation_json(summary, messages))
        return 0
    dim = ("\x1b[2m", "\x1b[22m") if ctx.styled else ("", "")
    head = [f"Conversation {summary.id} · {clean_line(summary.title) or '(empty)'}",
            " · ".join([f"started {local(summary.created_at)}",
                        clean_line(summary.model or "unknown model"),
                        f"{summary.turns} turn{'s' * (summary.turns != 1)}"])]
    ctx.out.write(dim[0] + "\n".join(head) + dim[1] + "\n")
    if summary.system:
        ctx.out.write(f"{dim[0]}System: {sanitize(summary.system)}{dim[1]}\n")
    results = present.saved_results(m.message for m in messages)
    for msg in _shown(messages):
        message = msg.message
        if present.is_results_only(message):
            ctx.out.write("".join(line + "\n" for line in _transcript_lines(message, None, dim)))
        elif msg.role == "user":
            if msg.system is not None:  # /system changed it for this question on
                ctx.out.write(f"\n{dim[0]}System (changed): {sanitize(msg.system)}{dim[1]}")
            ctx.out.write(f"\nYou: {sanitize(msg.content)}\n")
            ctx.out.write("".join(f"{dim[0]}{sanitize(part.line)}{dim[1]}\n" for part in present.transcript(message)
                                  if isinstance(part, present.AttachmentPart)))
            if msg.status == CANCELLED_QUESTION:
                ctx.out.write(f"{dim[0]}  ↳ {CANCELLED_NOTE}{dim[1]}\n")
        elif present.has_tool_blocks(message):
            ctx.out.write(f"{_speaker(msg.model)}:\n")
            ctx.out.write("".join(line + "\n" for line in _transcript_lines(message, results, dim)))
            ctx.out.write(f"{dim[0]}  ↳ {_reply_facts(msg)}{dim[1]}\n")
        else:
            ctx.out.write(f"{_speaker(msg.model)}: {sanitize(msg.content) or '(no text)'}\n")
            ctx.out.write(f"{dim[0]}  ↳ {_reply_facts(msg)}{dim[1]}\n")
    return 0


def _transcript_lines(message: Message, results: Mapping[str, ToolResult] | None, dim: tuple[str, str]) -> list[str]:
    """A message's parts as `history show` prints them: text as it is, the rest dim."""
    out = []
    for part in present.transcript(message, results):
        match part:
            case present.TextPart(text):
                out.append(sanitize(text))
            case present.ThinkingPart(text):
                out.append(f"{dim[0]}thinking: {sanitize(text)}{dim[1]}")
            case present.ToolCallPart() | present.ToolResultPart() | present.AttachmentPart():
                out.extend(f"{dim[0]}{line}{dim[1]}" for line in present.one_liners(part))
            case _:
                assert_never(part)
    return out


def _search(args: argparse.Namespace, ctx: _Context) -> int:
    text = " ".join(args.text)
    hits: list[SearchHit] = []
    if ctx.db.exists():
        with ctx.store(read=True) as store:
            hits = store.search(text, limit=min(args.limit + 1, _MAX_ID))
    cut, hits = len(hits) > args.limit, hits[:args.limit]
    if args.json:
        _write_json_lines(ctx.out, [_hit_json(h) for h in hits])
        if cut:
            _more(ctx, args, f"the {args.limit} newest matches")
        return 0
    if not hits:
        ctx.out.write("No matches.\n" if ctx.db.exists() else "No conversations yet.\n")
        return 0
    mark = ("\x1b[1m", "\x1b[22m") if ctx.styled else ("[", "]")
    now = time.time()
    for hit in hits:
        who = "You" if hit.role == "user" else "Reply"
        snippet = "".join(mark[0] + flat(piece) + mark[1] if is_match else flat(piece)
                          for piece, is_match in hit.parts())
        ctx.out.write(f"#{hit.conversation_id} · {who} · {when(hit.created_at, now)}\n"
                      f"    {snippet}\n")
    if cut:
        _more(ctx, args, f"the {args.limit} newest matches")
    return 0


def _more(ctx: _Context, args: argparse.Namespace, shown: str) -> None:
    """Say that a list was cut at its limit, and how to see more."""
    line = f"(showing {shown}; there are more: add --limit {min(args.limit * 5, _MAX_ID)} to see more)"
    if args.json:  # stdout is for the JSON lines
        ctx.err.write(f"chinwag: {line[1:-1]}\n")
    else:
        dim = ("\x1b[2m", "\x1b[22m") if ctx.styled else ("", "")
        ctx.out.write(f"{dim[0]}{line}{dim[1]}\n")


def _export(args: argparse.Namespace, ctx: _Context) -> int:
    summary, messages = _load(ctx, args.id)
    if args.format == "json":  # attachments inline, in base64
        text = json.dumps(_conversation_json(summary, messages), indent=2) + "\n"
    else:
        text = _markdown(summary, messages, write_beside([m.message for m in messages], args.output, summary.id,
                                                         ctx.err))
    if not args.output:
        ctx.out.write(text)
        return 0
    try:
        Path(args.output).expanduser().write_text(text, encoding="utf-8")
    except (OSError, ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot write {args.output}: {getattr(exc, 'strerror', None) or exc}.") from None
    return 0


def _delete(args: argparse.Namespace, ctx: _Context) -> int:
    summary, _ = _load(ctx, args.id)
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


def _check(args: argparse.Namespace, ctx: _Context) -> int:
    from chinwag.history.check import report

    return report(ctx.db, ctx.out)


# -- loading and formatting ----------------------------------------------------

def _load(ctx: _Context, ident: str) -> tuple[ConversationSummary, list[StoredMessage]]:
    """The conversation named by `ident` (a number or 'last'), or UsageError."""
    if ident != "last" and not ident.isdigit():
        raise UsageError(f"a conversation ID is a number or 'last', not {ident!r}")
    if not ctx.db.exists():
        raise UsageError("no conversations saved yet")
    with ctx.store(read=True) as store:
        cid = store.latest_conversation_id() if ident == "last" else min(int(ident), _MAX_ID)
        summary = store.conversation(cid) if cid is not None else None
        if summary is None:
            found = "no conversations saved yet" if cid is None else f"no conversation {ident}"
            raise UsageError(f"{found}; see `chinwag history list`")
        return summary, store.messages(summary.id)


def _markdown(summary: ConversationSummary, messages: list[StoredMessage], links: dict[str, str] | None = None) -> str:
    parts = [f"# {clean_line(summary.title) or f'Conversation {summary.id}'}\n",
             f"- Conversation: {summary.id}",
             f"- Started: {local(summary.created_at)}",
             f"- Model: {clean_line(summary.model or 'unknown')}\n"]
    if summary.system:
        parts.append(_quoted("System prompt", summary.system))
    results = present.saved_results(m.message for m in messages)
    for msg in _shown(messages):
        message = msg.message
        if present.is_results_only(message):
            parts.append(f"{present.markdown(message)}\n")
        elif msg.role == "user":
            if msg.system is not None:
                parts.append(_quoted("System prompt (changed)", msg.system))
            parts.append(f"## You\n\n{sanitize(msg.content)}\n")
            if msg.status == CANCELLED_QUESTION:
                parts.append(f"*{CANCELLED_NOTE}*\n")
            if links and (attached := markdown_links(message, links)):
                parts.append(attached + "\n")
        else:
            body = (present.markdown(message, results) if present.has_tool_blocks(message) else sanitize(msg.content)) \
                or "*(no text)*"
            parts.append(f"## {_speaker(msg.model)}\n\n{body}\n\n*{_reply_facts(msg)}*\n")
    return "\n".join(parts)


def _quoted(title: str, system: str) -> str:
    quoted = "\n".join(f"> {line}" for line in sanitize(system).splitlines())
    return f"> **{title}**\n>\n{quoted}\n"


def _shown(messages: list[StoredMessage]) -> Iterator[StoredMessage]:
    """The messages to print: the empty reply a cancelled question's turn left is nothing to show."""
    cancelled = False
    for msg in messages:
        if msg.role == "user":
            cancelled = msg.status == CANCELLED_QUESTION
        elif cancelled and not msg.content.strip() and not msg.blocks:
            continue
        yield msg


def _reply_facts(msg: StoredMessage) -> str:
    """'claude-… · 0.31 s to first token · 12 in / 142 out tok · 2.1 s · ⚠ interrupted'."""
    facts = [clean_line(msg.model or "unknown model")]
    if msg.ttft is not None:
        facts.append(f"{msg.ttft:.2f} s to first token")
    if msg.input_tokens is not None or msg.output_tokens is not None:
        tokens = [f"{n} {kind}" for n, kind in ((msg.input_tokens, "in"),
                                                (msg.output_tokens, "out")) if n is not None]
        facts.append(" / ".join(tokens) + " tok")
    if msg.duration is not None:
        facts.append(f"{msg.duration:.1f} s")
    if msg.status in _MARKS:
        facts.append(_MARKS[msg.status])
    return " · ".join(facts)


def _speaker(model: str | None) -> str:
    """The label the REPL showed: Claude for Anthropic models, else Assistant."""
    return "Claude" if (model or "").startswith("claude") else "Assistant"


def _summary_json(c: ConversationSummary) -> dict[str, Any]:
    return {**asdict(c), "created_at": iso(c.created_at), "updated_at": iso(c.updated_at)}


def _conversation_json(c: ConversationSummary, messages: list[StoredMessage]) -> dict[str, Any]:
    """Each message with its content blocks as a list (text, thinking, tool calls and results), raw."""
    return {**_summary_json(c), "messages": [
        {**asdict(m), "created_at": iso(m.created_at), "updated_at": iso(m.updated_at),
         "blocks": [block_to_json(b) for b in m.message.parts]}
        for m in messages]}


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    """The snippet as plain text, and where each match is within it."""
    snippet, spans = "", []
    for piece, is_match in hit.parts():
        if is_match:
            spans.append([len(snippet), len(snippet) + len(piece)])
        snippet += piece
    return {"conversation_id": hit.conversation_id, "message_id": hit.message_id,
            "role": hit.role, "created_at": iso(hit.created_at), "snippet": snippet,
            "matches": spans}


def _write_json(out: TextIO, value: object) -> None:
    out.write(json.dumps(value, indent=2) + "\n")  # ensure_ascii: C1 controls escaped too


def _write_json_lines(out: TextIO, values: list[dict[str, Any]]) -> None:
    """A list as JSON lines: one object per line, as the chat's --json events."""
    out.write("".join(json.dumps(value) + "\n" for value in values))


if __name__ == "__main__":
    import os

    raise SystemExit(main(sys.argv[1:], os.environ, sys.stdout))
