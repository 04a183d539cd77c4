"""A turn the page asks for (`Ask`), and the session turn that begins it (`begin`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, assert_never

from chinwag.errors import UsageError
from chinwag.web.mcp import PromptAsk

if TYPE_CHECKING:
    from chinwag.records import Block
    from chinwag.session import Session
    from chinwag.session_turn import SessionTurn

Action = Literal["send", "retry", "continue", "edit", "prompt"]


@dataclass(frozen=True)
class Ask:
    """What a page's turn request asks for. `leaf`: the last message of the
    branch the tab shows (the turn continues it, whatever another tab did);
    `message`: the user message an edit replaces with `text` (a new sibling);
    `prompt`: the MCP prompt a "prompt" turn sends (web/mcp.py)."""
    action: Action
    text: str = ""
    model: str | None = None
    attachments: Sequence[str] = ()
    leaf: int | None = None
    message: int | None = None
    prompt: PromptAsk | None = None


def begin(session: Session, ask: Ask, attachments: tuple[Block, ...] = ()) -> SessionTurn:
    match ask.action:
        case "send" | "prompt":  # a prompt's messages, sent as the user's (text set by start)
            if not ask.text.strip() and not attachments:
                raise UsageError("type a message first.")
            return session.begin(ask.text, attachments)
        case "edit":
            if ask.message is None:
                raise UsageError("say which message to edit.")
            return session.begin_edit(ask.message, ask.text)  # its attachments kept
        case "retry":
            return session.begin_retry()  # the old reply stays, a sibling of the new
        case "continue":
            return session.begin_continue()
        case _:
            assert_never(ask.action)
