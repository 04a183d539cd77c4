"""/stats: the last reply's figures, the conversation's totals (tokens and
cost) and how full the model's context window is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.sinks import dollars, stats_line

if TYPE_CHECKING:
    from chinwag.history.costs import UsageTotals
    from chinwag.session import Session


def stats_lines(session: Session) -> list[str]:
    last = session.last_reply
    lines = [stats_line(last) if last else "no reply yet"]
    totals = _totals(session)
    if totals is not None and totals.replies:
        lines.append("conversation: " + totals_line(totals))
    lines.append(context_line(session))
    return lines


def totals_line(totals: UsageTotals) -> str:
    """'3 replies · 5,210 in / 812 out tok (1,024 from cache) · $0.0345' (the cost: of those priced)."""
    replies = f"{totals.replies} repl{'y' if totals.replies == 1 else 'ies'}"
    tokens = f"{totals.input_tokens:,} in / {totals.output_tokens:,} out tok"
    if totals.cache_read_tokens:
        tokens += f" ({totals.cache_read_tokens:,} from cache)"
    if totals.unpriced == totals.replies:
        cost = "cost unknown (no price for the model)"
    else:
        cost = dollars(totals.cost) if totals.cost else "$0"
        if totals.unpriced:
            cost += f" (and {totals.unpriced} unpriced)"
    return " · ".join((replies, tokens, cost))


def context_line(session: Session) -> str:
    """'context window: 6,022 of 200,000 tokens (3%)': the last reply's prompt and
    the reply itself, which the next request starts from."""
    from chinwag.providers.registry import declared_window

    window = declared_window(session.settings, session.provider.context_window(session.settings.model))
    last = session.last_reply
    used = ((last.input_tokens or 0) + (last.output_tokens or 0)) if last is not None else None
    if window is None:
        return "context window: unknown for this model" + (f" ({used:,} tokens used)" if used else "")
    if not used:
        return f"context window: {window.tokens:,} tokens, none used yet"
    return f"context window: {used:,} of {window.tokens:,} tokens ({used / window.tokens:.0%})"


def _totals(session: Session) -> UsageTotals | None:
    """The saved conversation's, else (--no-save) this run's replies."""
    if session.recorder is not None:
        return session.recorder.conversation_usage()
    return session.run_totals
