"""`chinwag "question"`: one reply to stdout, then exit."""

from __future__ import annotations

import sys
from typing import TextIO

from chinwag.cli.chat_sink import ChatSink
from chinwag.records import Block
from chinwag.session import Session
from chinwag.sinks import JsonSink
from chinwag.driver import Sink


def run_once(session: Session, prompt: str, *, json_mode: bool = False, stats: bool = False,
             markdown: bool = False, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
             attachments: tuple[Block, ...] = ()) -> int:
    """0 when the reply completed, 1 when it failed, 130 when the user stopped it."""
    sink: Sink
    notice = session.settings.notice
    if notice and err.isatty() and not json_mode:
        err.write(f"chinwag: {notice}\n")
    if json_mode:
        sink = JsonSink(out)
    elif session.settings.schema is not None:
        from chinwag.cli.structured import StructuredSink

        sink = StructuredSink(out, err, spinner_out=err if err.isatty() else None, color=err.isatty(),
                              show_stats=stats)
    else:
        # The spinner goes to stderr, so `chinwag q > file` stays clean.
        if markdown:
            from chinwag.render.terminal import preload

            preload()  # imports the renderer while the request is on its way
        # Keys typed meanwhile are not echoed over the reply; they wait for the shell.
        sink = ChatSink(out, err, spinner_out=err if err.isatty() else None, brackets_pastes=False,
                        show_stats=stats, color=err.isatty(), markdown=markdown)
    if session.tool_use is not None:
        session.tool_use.start()
        # The one request must offer the MCP servers' tools: sent before they are
        # up, it offered none and the model could not call them.
        session.tool_use.wait_for_servers()
    reply = session.ask(prompt, [sink], attachments)
    if reply.status == "error" and attachments:
        from chinwag.attach import refusal_hint

        if hint := refusal_hint(attachments, reply.error):
            err.write(f"chinwag: {hint}\n")
    if reply.cancelled:
        return 130
    return 0 if reply.status == "complete" else 1
