"""One conversation open on the page: its Session, the lock its turns take,
its running turn and its renderer.

Each session gets the chat's tools (`ToolUse`, started with the session);
a call that needs approval asks the page following the turn (`LiveTurn.ask`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chinwag.session import Session
from chinwag.web.html import Renderer
from chinwag.web.live import LiveTurn

if TYPE_CHECKING:
    from chinwag.records import ToolCall


@dataclass(eq=False)
class WebChat:
    session: Session
    spec: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    live: LiveTurn | None = None
    renderer: Renderer = field(default_factory=Renderer)  # its turns run one at a time


def with_tools(chat: WebChat, cwd: Path, environ: Mapping[str, str]) -> WebChat:
    """The session's tools (as the terminal's: `tools`, `allow`, MCP servers),
    started now; a call that needs approval asks the page following the turn."""
    if not chat.session.settings.tools.active:
        return chat
    from chinwag.toolloop import ToolUse

    def ask(call: ToolCall, reason: str) -> tuple[str, str | None]:
        live = chat.live
        return live.ask(call, reason) if live is not None else ("no", "nobody was there to ask")

    from chinwag.tools.mcp_elicit import ElicitAnswer, Elicitation

    def elicit(request: Elicitation) -> ElicitAnswer:
        live = chat.live  # an MCP server's question: asked in the same box as approvals
        return live.elicit(request) if live is not None else ElicitAnswer.decline()

    chat.session.tool_use = ToolUse(chat.session.settings.tools, cwd, environ, ask, elicit)
    chat.session.tool_use.start()
    return chat
