"""`history show` and `history export`: a conversation as it was seen, as text
on the terminal or as markdown, through `sanitize`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import assert_never

from chinwag import present
from chinwag.attach.export import markdown_links, write_beside
from chinwag.cli.history_context import HistoryContext, load
from chinwag.cli.history_format import clean_line, local
from chinwag.cli.history_json import conversation_json, write_json
from chinwag.errors import UsageError
from chinwag.history.store import CANCELLED_QUESTION, ConversationSummary, StoredMessage
from chinwag.present import CANCELLED_NOTE
from chinwag.records import Message, ToolResult
from chinwag.render.sanitize import sanitize

MARKS = {"interrupted": "⚠ interrupted", "error": "✗ failed", "streaming": "… still streaming"}


def show(args: argparse.Namespace, ctx: HistoryContext) -> int:
    summary, messages = load(ctx, args.id)
    if args.json:
        write_json(ctx.out, conversation_json(summary, messages))
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
    for msg in shown(messages):
        message = msg.message
        if present.is_results_only(message):
            ctx.out.write("".join(line + "\n" for line in transcript_lines(message, None, dim)))
        elif msg.role == "user":
            if msg.system is not None:  # /system changed it for this question on
                ctx.out.write(f"\n{dim[0]}System (changed): {sanitize(msg.system)}{dim[1]}")
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
    return 0


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
    summary, messages = load(ctx, args.id)
    if args.format == "json":  # attachments inline, in base64
        text = json.dumps(conversation_json(summary, messages), indent=2) + "\n"
    else:
        text = markdown(summary, messages, write_beside([m.message for m in messages], args.output, summary.id,
                                                         ctx.err))
    if not args.output:
        ctx.out.write(text)
        return 0
    try:
        Path(args.output).expanduser().write_text(text, encoding="utf-8")
    except (OSError, ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot write {args.output}: {getattr(exc, 'strerror', None) or exc}.") from None
    return 0


def markdown(summary: ConversationSummary, messages: list[StoredMessage], links: dict[str, str] | None = None) -> str:
    parts = [f"# {clean_line(summary.title) or f'Conversation {summary.id}'}\n",
             f"- Conversation: {summary.id}",
             f"- Started: {local(summary.created_at)}",
             f"- Model: {clean_line(summary.model or 'unknown')}\n"]
    if summary.system:
        parts.append(quoted("System prompt", summary.system))
    results = present.saved_results(m.message for m in messages)
    for msg in shown(messages):
        message = msg.message
        if present.is_results_only(message):
            parts.append(f"{present.markdown(message)}\n")
        elif msg.role == "user":
            if msg.system is not None:
                parts.append(quoted("System prompt (changed)", msg.system))
            parts.append(f"## You\n\n{sanitize(msg.content)}\n")
            if msg.status == CANCELLED_QUESTION:
                parts.append(f"*{CANCELLED_NOTE}*\n")
            if links and (attached := markdown_links(message, links)):
                parts.append(attached + "\n")
        else:
            body = (present.markdown(message, results) if present.has_tool_blocks(message) else sanitize(msg.content)) \
                or "*(no text)*"
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
