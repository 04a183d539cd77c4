"""`history show` and `history export`: a conversation as it was seen, as text
on the terminal or as markdown, through `sanitize`.

A conversation is a tree (chinwag/tree.py); both print its current path, the
one the model is sent, and `show` says how many other branches there are.
`show --all` prints the whole tree (cli/tree_view.py, as `/tree` does), and
`export --format json --tree` writes every message of every branch, each with
its parent."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import assert_never

from chinwag import present
from chinwag.attach.export import markdown_links, write_beside
from chinwag.cli.history_context import HistoryContext, Loaded, load
from chinwag.cli.history_format import clean_line, isatty, local
from chinwag.cli.history_json import conversation_json, write_json
from chinwag.errors import UsageError
from chinwag.history.store import CANCELLED_QUESTION, ConversationSummary, StoredMessage
from chinwag.present import CANCELLED_NOTE
from chinwag.records import Message, ToolResult
from chinwag.render.sanitize import sanitize
from chinwag.render.terminal import terminal_size

MARKS = {"interrupted": present.REPLY_INTERRUPTED, "error": "✗ failed", "streaming": "… still streaming"}


def show(args: argparse.Namespace, ctx: HistoryContext) -> int:
    loaded = load(ctx, args.id, every=args.json and args.all)
    summary, messages = loaded.summary, loaded.path
    if args.json:
        write_json(ctx.out, conversation_json(summary, loaded.every or messages, loaded.tree))
        return 0
    dim = ("\x1b[2m", "\x1b[22m") if ctx.styled else ("", "")
    head = [f"Conversation {summary.id} · {clean_line(summary.title) or '(empty)'}",
            " · ".join([f"started {local(summary.created_at)}",
                        clean_line(summary.model or "unknown model"),
                        f"{summary.turns} turn{'s' * (summary.turns != 1)}"])]
    ctx.out.write(dim[0] + "\n".join(head) + dim[1] + "\n")
    if summary.system:
        ctx.out.write(f"{dim[0]}System: {sanitize(summary.system)}{dim[1]}\n")
    if args.all:
        ctx.out.write("\n")
        _tree(ctx, loaded)
        return 0
    results = present.saved_results(m.message for m in messages)
    for msg in shown(messages):
        message = msg.message
        if msg.role == "user" and msg.system is not None:  # /system changed it from here on (/retry: with results)
            ctx.out.write(f"\n{dim[0]}System (changed): {sanitize(msg.system)}{dim[1]}"
                          + ("\n" if present.is_results_only(message) else ""))
        if present.is_results_only(message):
            ctx.out.write("".join(line + "\n" for line in transcript_lines(message, None, dim)))
        elif msg.role == "user":
            ctx.out.write(f"\nYou: {sanitize(msg.content)}\n")
            ctx.out.write("".join(f"{dim[0]}{sanitize(part.line)}{dim[1]}\n" for part in present.transcript(message)
                                  if isinstance(part, present.AttachmentPart)))
            if msg.status == CANCELLED_QUESTION:
                ctx.out.write(f"{dim[0]}  ↳ {CANCELLED_NOTE}{dim[1]}\n")
        elif present.has_tool_blocks(message):
            ctx.out.write(f"{speaker(msg.model)}:\n")
            ctx.out.write("".join(line + "\n" for line in transcript_lines(message, results, dim)))
            ctx.out.write(f"{dim[0]}  ↳ {reply_facts(msg)}{dim[1]}\n")
        else:
            ctx.out.write(f"{speaker(msg.model)}: {sanitize(msg.content) or '(no text)'}\n")
            ctx.out.write(f"{dim[0]}  ↳ {reply_facts(msg)}{dim[1]}\n")
    if loaded.other_branches:
        n = loaded.other_branches
        ctx.out.write(f"\n{dim[0]}(the current branch; {n} other branch{'es' * (n != 1)}: `chinwag history show"
                      f" {summary.id} --all` shows the tree){dim[1]}\n")
    return 0


def _tree(ctx: HistoryContext, loaded: Loaded) -> None:
    """`show --all`: every branch, as /tree shows it."""
    from chinwag.cli.tree_view import Style, render

    label = speaker(loaded.summary.model)
    columns = terminal_size(ctx.out)[0] if isatty(ctx.out) else 100
    lines = render(loaded.tree, lambda node: label if node.role == "assistant" else
                   "You" if node.question else "⚙ results", columns, Style.terminal() if ctx.styled else Style())
    ctx.out.write("".join(line + "\n" for line in lines))
    n = loaded.tree.branches()
    dim = ("\x1b[2m", "\x1b[22m") if ctx.styled else ("", "")
    ctx.out.write(f"{dim[0]}{len(loaded.tree)} messages · {n} branch{'es' * (n != 1)} · * the current path ·"
                  f" chinwag --resume {loaded.summary.id} --at N continues from message N{dim[1]}\n")


def transcript_lines(message: Message, results: Mapping[str, ToolResult] | None, dim: tuple[str, str]) -> list[str]:
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


def export(args: argparse.Namespace, ctx: HistoryContext) -> int:
    if args.tree and args.format != "json":
        raise UsageError("--tree writes every branch, which needs --format json (markdown is one path).")
    loaded = load(ctx, args.id, every=args.tree)
    summary, messages = loaded.summary, loaded.path
    with ctx.store(read=True) as store:
        structured = store.reply_schemas(summary.id)  # replies asked for JSON (--schema)
    if args.format == "json":  # attachments inline, in base64
        text = json.dumps(conversation_json(summary, loaded.every or messages, loaded.tree, structured),
                          indent=2) + "\n"
    else:
        text = markdown(summary, messages, write_beside([m.message for m in messages], args.output, summary.id,
                                                         ctx.err), structured)
    if not args.output:
        ctx.out.write(text)
        return 0
    try:
        Path(args.output).expanduser().write_text(text, encoding="utf-8")
    except (OSError, ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot write {args.output}: {getattr(exc, 'strerror', None) or exc}.") from None
    return 0


def markdown(summary: ConversationSummary, messages: list[StoredMessage], links: dict[str, str] | None = None,
             structured: Mapping[int, str] | None = None) -> str:
    """The conversation in Markdown; a reply in `structured` (asked for JSON, --schema) as a code block."""
    parts = [f"# {clean_line(summary.title) or f'Conversation {summary.id}'}\n",
             f"- Conversation: {summary.id}",
             f"- Started: {local(summary.created_at)}",
             f"- Model: {clean_line(summary.model or 'unknown')}\n"]
    if summary.system:
        parts.append(quoted("System prompt", summary.system))
    results = present.saved_results(m.message for m in messages)
    for msg in shown(messages):
        message = msg.message
        if msg.role == "user" and msg.system is not None:
            parts.append(quoted("System prompt (changed)", msg.system))
        if present.is_results_only(message):
            parts.append(f"{present.markdown(message)}\n")
        elif msg.role == "user":
            parts.append(f"## You\n\n{sanitize(msg.content)}\n")
            if msg.status == CANCELLED_QUESTION:
                parts.append(f"*{CANCELLED_NOTE}*\n")
            if links and (attached := markdown_links(message, links)):
                parts.append(attached + "\n")
        else:
            if structured and msg.id in structured and not present.has_tool_blocks(message):
                body = present.json_block(msg.content)  # asked for JSON (--schema)
            else:
                body = (present.markdown(message, results) if present.has_tool_blocks(message)
                        else sanitize(msg.content)) or "*(no text)*"
            parts.append(f"## {speaker(msg.model)}\n\n{body}\n\n*{reply_facts(msg)}*\n")
    return "\n".join(parts)


def quoted(title: str, system: str) -> str:
    quoted = "\n".join(f"> {line}" for line in sanitize(system).splitlines())
    return f"> **{title}**\n>\n{quoted}\n"


def shown(messages: list[StoredMessage]) -> Iterator[StoredMessage]:
    """The messages to print: the empty reply a cancelled question's turn left is nothing to show."""
    cancelled = False
    for msg in messages:
        if msg.role == "user":
            cancelled = msg.status == CANCELLED_QUESTION
        elif cancelled and not msg.content.strip() and not msg.blocks:
            continue
        yield msg


def reply_facts(msg: StoredMessage) -> str:
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
    if msg.status in MARKS:
        facts.append(MARKS[msg.status])
    return " · ".join(facts)


def speaker(model: str | None) -> str:
    """The label the REPL showed: Claude for Anthropic models, else Assistant."""
    return "Claude" if (model or "").startswith("claude") else "Assistant"
