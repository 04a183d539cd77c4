"""Sinks that show a turn: on a terminal (or a pipe), and as --json lines."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from chinwag.events import Event, Retrying, TextDelta, to_json
from chinwag.records import Reply
from chinwag.render.plain import PlainRenderer
from chinwag.render.spinner import Spinner
from chinwag.render.terminal import MarkdownView

DIM, RESET = "\x1b[2m", "\x1b[0m"


def stats_line(reply: Reply) -> str:
    """"0.31 s to first token · 142 tok · 61 tok/s", with what is known."""
    parts = []
    if reply.ttft is not None:
        parts.append(f"{reply.ttft:.2f} s to first token")
    if reply.output_tokens is not None:
        parts.append(f"{reply.output_tokens} tok")
        streaming_time = (reply.duration or 0) - (reply.ttft or 0)
        if reply.output_tokens > 1 and streaming_time > 0:
            parts.append(f"{reply.output_tokens / streaming_time:.0f} tok/s")
    if reply.status == "interrupted":
        parts.append("(interrupted)")
    return " · ".join(parts)


def assistant_name(provider: str) -> str:
    """What the chat calls the model: "Claude" for Anthropic, else "Assistant"."""
    return "Claude" if provider == "anthropic" else "Assistant"


class TerminalSink:
    """Shows the reply: label, a spinner until the first text, the text, stats.

    Text goes to `out`; retry notices and the stats line to `err`. The spinner
    is drawn on `spinner_out` (None: no spinner, as on a pipe). With `color`
    off nothing but the sanitized text and plain notices is written.
    """

    def __init__(self, out: TextIO, err: TextIO, *, label: str = "", spinner_out: TextIO | None = None,
                 color: bool = False, show_stats: bool = False, markdown: bool = False) -> None:
        self.out, self.err, self.spinner_out = out, err, spinner_out
        self.label, self.color, self.show_stats = label, color, show_stats
        self.markdown = markdown
        self.renderer: PlainRenderer | MarkdownView = MarkdownView(out, color) if markdown else PlainRenderer(out)
        self.spinner: Spinner | None = None
        self._text_started = False

    def on_start(self) -> None:
        if isinstance(self.renderer, MarkdownView):
            self.renderer.prepare()
        if self.label:
            self.out.write(self.label)
            self.out.flush()
        if self.spinner_out is not None:
            prefix = self.label if self.spinner_out is self.out else ""
            self.spinner = Spinner(self.spinner_out, prefix)
            self.spinner.start()

    def on_event(self, event: Event, reply: Reply) -> None:
        if isinstance(event, TextDelta):
            self._stop_spinner()
            if not self._text_started and self.markdown and self.label:
                self.out.write("\n")  # markdown blocks start at column 0, under the label
            self._text_started = True
            self.renderer.feed(event.text)
        elif isinstance(event, Retrying):
            self._stop_spinner()
            if self.label:
                self.out.write("\n")
            self.err.write(f"{event.reason}, retrying in {event.delay:g} s "
                           f"(attempt {event.attempt}/{event.max_attempts})\n")
            self.err.flush()
            self.on_start()

    def on_end(self, reply: Reply) -> None:
        self._stop_spinner()
        self.renderer.finish()
        if self.show_stats:
            line = stats_line(reply)
            if line:
                self.err.write(self._dim(f"↳ {line}") + "\n")
                self.err.flush()

    def _stop_spinner(self) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None

    def _dim(self, text: str) -> str:
        return f"{DIM}{text}{RESET}" if self.color else text


class JsonSink:
    """Newline-delimited JSON: each event as it comes, then one "done" line."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    def on_start(self) -> None:
        pass

    def on_event(self, event: Event, reply: Reply) -> None:
        self._write(to_json(event))

    def on_end(self, reply: Reply) -> None:
        self._write({
            "type": "done",
            "status": reply.status,
            "stop_reason": reply.stop_reason,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
            "ttft": reply.ttft,
            "duration": reply.duration,
            "error": reply.error,
        })

    def _write(self, record: dict[str, object]) -> None:
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()
