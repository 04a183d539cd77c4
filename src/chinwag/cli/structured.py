"""`chinwag --schema ... "question"`: stdout is the reply's JSON and nothing else.

The reply streams to nowhere (a spinner on a terminal's stderr meanwhile,
and `--stats`'s line there after it);
once it is complete and has matched the schema (structured.py), its parsed
value is printed as one line of JSON. A reply that fails, or does not match,
is one `chinwag: ...` line on stderr and nothing on stdout (exit 1); its raw
text is in the history all the same.
"""

from __future__ import annotations

import io
import json
from typing import TextIO

from chinwag.events import Event
from chinwag.records import Reply
from chinwag.sinks import TerminalSink


class StructuredSink:
    """Notices, retries and errors as the one-shot TerminalSink shows them, on
    `err`; the text itself is held back and only the validated JSON reaches `out`."""

    def __init__(self, out: TextIO, err: TextIO, *, spinner_out: TextIO | None = None, color: bool = False,
                 show_stats: bool = False) -> None:
        self.out = out
        self._shown = TerminalSink(io.StringIO(), err, spinner_out=spinner_out, color=color, show_stats=show_stats)

    def on_start(self) -> None:
        self._shown.on_start()

    def on_event(self, event: Event, reply: Reply) -> None:
        self._shown.on_event(event, reply)

    def on_end(self, reply: Reply) -> None:
        self._shown.on_end(reply)
        if reply.status == "complete" and reply.schema is not None:
            self.out.write(json.dumps(reply.data, ensure_ascii=False) + "\n")
            self.out.flush()
