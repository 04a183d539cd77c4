"""Sinks that show a turn: on a terminal (or a pipe), and as --json lines.

The store's sink lives with the recorder (recorder.py), which owns saving.
`TerminalSink.on_end` is the one place a finished reply becomes what the user
reads after it: the stats line, the interruption notice, or the error.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO, assert_never

from chinwag.render.plain import PlainRenderer
from chinwag.render.sanitize import StreamSanitizer, one_line
from chinwag.render.spinner import Spinner, running, spinning
from chinwag.render.terminal import MarkdownView

# The records and events are imported where they are used, after the prompt is drawn (start-up).
if TYPE_CHECKING:
    from chinwag.events import Event, Retrying
    from chinwag.records import Reply

DIM, RESET = "\x1b[2m", "\x1b[0m"


def figures(reply: Reply) -> str:
    """"0.31 s to first token · 142 tok · 61 tok/s", with what is known."""
    parts = []
    if reply.ttft is not None:
        parts.append(f"{reply.ttft:.2f} s to first token")
    if reply.output_tokens is not None:
        parts.append(f"{reply.output_tokens} tok")
        streaming_time = (reply.duration or 0) - (reply.ttft or 0)
        if reply.output_tokens > 1 and streaming_time >= 0.05:  # a rate over less is noise (e.g. a tool call's reply)
            parts.append(f"{reply.output_tokens / streaming_time:.0f} tok/s")
    cost = reply.turn_cost if reply.turn_cost is not None else reply.usage.cost
    if cost:  # a free (local) reply and an unknown price show none
        parts.append(dollars(cost))
    return " · ".join(parts)


def dollars(cost: float) -> str:
    """"$0.0021": four decimals, enough for one reply; "<$0.0001" below that."""
    return f"${cost:.4f}" if cost >= 0.00005 else "<$0.0001"


def stats_line(reply: Reply) -> str:
    """The figures, and the interrupted mark when the reply was cut off (the page shows status apart)."""
    from chinwag.present import REPLY_INTERRUPTED  # (present.py loads after the prompt: start-up)

    return " · ".join(p for p in (figures(reply), REPLY_INTERRUPTED if reply.status == "interrupted" else "") if p)


def retry_line(event: Retrying) -> str:
    """ "overloaded (529), retrying in 0.5 s (attempt 2/3)" """
    return f"{event.reason}, retrying in {event.delay:g} s (attempt {event.attempt}/{event.max_attempts})"


def assistant_name(provider: str) -> str:
    """What the chat calls the model: "Claude" for Anthropic, else "Assistant"."""
    from chinwag.providers.registry import PROVIDERS

    return next((p.label for p in PROVIDERS if p.name == provider), "Assistant")


def after_reply(reply: Reply, *, interactive: bool) -> tuple[str | None, str | None]:
    """What to say once a reply has ended: (a dim line for the chat, an error line).

    In the chat, a stopped or failed reply gets a hint of what to do next; in
    one-shot use only the error line, since the exit status says the rest."""
    from chinwag.present import CANCELLED_NOTE, REPLY_INTERRUPTED, interrupted_because

    if reply.withdrawn:
        return (f"↳ {CANCELLED_NOTE} · /retry asks it again" if interactive else None), None
    # /continue resumes partial text; a reply stopped at its tool calls (at a question,
    # or while one ran) or before any text has none, so only /retry is offered then.
    resume = ", /continue to resume" if reply.text.strip() and not reply.tool_calls else ""
    if reply.cancelled:
        return (f"↳ stopped; /retry to ask again{resume}" if interactive else None), None
    if reply.status == "interrupted":
        hint = f"↳ {REPLY_INTERRUPTED} · /retry to ask again{resume}" if interactive else None
        return hint, interrupted_because(reply.error or "")
    if reply.status == "error":
        return ("↳ /retry to send it again" if interactive else None), reply.error
    return (f"↳ {line}" if (line := stats_line(reply)) else None), None


RUNNING_NAME_WIDTH = 48  # characters of a tool's name on its running line (an MCP SERVER_TOOL is often 40)

class TerminalSink:
    """Shows the reply: label, a spinner until the first text, the text, then
    what `after_reply` says.

    Text goes to `out`. In the chat (`interactive`), notices and the line after
    the reply are dim lines on `out`, errors `chinwag: ...` on `err`; in one-shot
    use, notices and errors go to `err`, and the stats line too when
    `show_stats`. The spinner is drawn on `spinner_out` (None: no spinner, as
    on a pipe). With `color` off nothing but plain text is written.
    """

    def __init__(self, out: TextIO, err: TextIO, *, label: str = "", spinner_out: TextIO | None = None,
                 color: bool = False, show_stats: bool = False, markdown: bool = False,
                 interactive: bool = False) -> None:
        self.out, self.err, self.spinner_out = out, err, spinner_out
        self.label, self.color, self.show_stats = label, color, show_stats
        self.markdown, self.interactive = markdown, interactive
        self.renderer: PlainRenderer | MarkdownView = self._new_renderer()
        self.spinner: Spinner | None = None
        self._text_started = False
        self._label_shown = False
        self._thinking: StreamSanitizer | None = None  # set while thinking text is being shown
        self._unanswered: set[str] = set()  # calls of this reply still without a result

    def on_start(self) -> None:
        if isinstance(self.renderer, MarkdownView):
            self.renderer.prepare()
        self._show_label()

    def on_event(self, event: Event, reply: Reply) -> None:
        from chinwag.events import (Notice, Retrying, Stop, TextDelta, ThinkingDelta, ToolCallReady, ToolCallStart,
                                    ToolInputDelta, ToolProgress, ToolResultReady, ToolRunning, Usage)
        from chinwag.present import result_line, tool_call_line

        match event:
            case TextDelta():
                self._stop_spinner()
                self._end_thinking()
                if not self._text_started and self.markdown and self._label_shown:
                    self.out.write("\n")  # markdown blocks start at column 0, under the label
                self._text_started = True
                self.renderer.feed(event.text)
            case ThinkingDelta():
                if event.text:  # a signature or redacted block shows nothing
                    self._show_thinking(event.text)
            case ToolCallReady():
                self._tool_line(tool_call_line(event.name, event.input))
                self._unanswered.add(event.id)
            case ToolRunning():
                self._tool_running(event.name)
            case ToolProgress():
                self._tool_progress(event.name, event.text)
            case ToolResultReady():
                self._tool_line(result_line(event))  # the same line history show prints later
                self._unanswered.discard(event.call_id)
                # Only once every call has its result is the model's next round on its way:
                # before that, the next call's question may be on screen, and a spinner would erase it.
                if self.spinner_out is not None and not self._unanswered:
                    self.spinner = Spinner(self.spinner_out, "")
                    self.spinner.start()
            case Retrying():
                self._interject(retry_line(event), chinwag=False)
            case Notice():
                self._interject(f"({event.text})" if self.interactive else event.text, chinwag=not self.interactive)
            case ToolCallStart() | ToolInputDelta() | Usage() | Stop():
                pass  # shown by the call's line once it is whole, by the line after the reply
            case _:
                assert_never(event)

    def on_end(self, reply: Reply) -> None:
        self._stop_spinner()
        self._end_thinking()
        self.renderer.finish()
        hint, error = after_reply(reply, interactive=self.interactive)
        if error:
            if not self._text_started:
                self._end_label()  # the error, not an empty "Claude:" before it
            self.err.write(f"chinwag: {one_line(error)}\n")
            self.err.flush()
        if self.interactive:
            is_stats = reply.status == "complete"
            if hint and (self.show_stats or not is_stats):
                self.out.write(self._dim(hint) + "\n")
            self.out.write("\n")
            self.out.flush()
        elif hint and self.show_stats and not error:
            self.err.write(self._dim(hint) + "\n")
            self.err.flush()

    def _show_thinking(self, text: str) -> None:
        """Thinking streams as it comes, dim, before the answer (on stderr in one-shot use)."""
        self._stop_spinner()
        where = self.out if self.interactive else self.err
        if self._thinking is None:
            self._finish_text()
            if self._label_shown:
                where.write("\n")
                self._label_shown = False
            self._thinking = StreamSanitizer()
            where.write(self._dim("thinking: ") if self.color else "thinking: ")
        safe = self._thinking.feed(text)
        if safe:
            where.write(self._dim(safe) if self.color else safe)
            where.flush()

    def _end_thinking(self) -> None:
        if self._thinking is not None:
            where = self.out if self.interactive else self.err
            where.write(self._dim(self._thinking.flush()) + "\n")
            where.flush()
            self._thinking = None

    def _tool_line(self, line: str) -> None:
        """One dim line about a tool call, on a line of its own, between the text."""
        self._stop_spinner()
        self._end_thinking()
        self._finish_text()
        if self._label_shown:
            self.out.write("\n")
            self._label_shown = False
        where = self.out if self.interactive else self.err
        where.write(self._dim(line) + "\n")
        where.flush()

    def _tool_running(self, name: str) -> None:
        """"⚙ shell … running 3 s", counting in place on a terminal; one plain line elsewhere."""
        name = one_line(name)
        name = name if len(name) <= RUNNING_NAME_WIDTH else name[:RUNNING_NAME_WIDTH - 1] + "…"
        if self.spinner_out is not None and self.spinner_out is (self.out if self.interactive else self.err):
            self._stop_spinner()
            self.spinner = Spinner(self.spinner_out, "", running(name))
            self.spinner.start()
        else:
            self._tool_line(f"⚙ {name} … running")

    def _tool_progress(self, name: str, text: str) -> None:
        """"⚙ name … 2/3 copying": the running call's line, redrawn now with its server's progress
        (reports come at most every 100 ms). Only where that line counts in place (a terminal):
        on a pipe, progress would be a stream of lines nobody asked for."""
        if self.spinner is None or self.spinner.frame is spinning:
            return
        name = one_line(name)
        name = name if len(name) <= RUNNING_NAME_WIDTH else name[:RUNNING_NAME_WIDTH - 1] + "…"
        line = one_line(f"⚙ {name} … {text}")
        self.spinner.show(lambda frame, elapsed: line)

    def _finish_text(self) -> None:
        """End the text so far (a tool call or thinking comes between); later text starts afresh."""
        if self._text_started:
            self.renderer.finish()
            self.renderer = self._new_renderer()
            self._text_started = False

    def _new_renderer(self) -> PlainRenderer | MarkdownView:
        return MarkdownView(self.out, self.color) if self.markdown else PlainRenderer(self.out)

    def _interject(self, line: str, chinwag: bool) -> None:
        """A notice line while the label (and maybe the spinner) is on screen:
        end that line, write ours, and start the label again if no text came yet.
        After a tool line the label is gone for good: only the spinner comes back."""
        had_label, had_spinner = self._label_shown, self.spinner is not None
        self._stop_spinner()
        if self._text_started:
            self.renderer.finish()  # commit what was shown; later text starts a new block
        else:
            self._end_label()
        if self.interactive:
            self.out.write(self._dim(line) + "\n")
        else:
            self.err.write(f"chinwag: {line}\n" if chinwag else line + "\n")
            self.err.flush()
        self.out.flush()
        self._label_shown = False
        if self._text_started:
            return
        if had_label or not self.interactive:
            self._show_label()
        elif had_spinner and self.spinner_out is not None:
            self.spinner = Spinner(self.spinner_out, "")
            self.spinner.start()

    def _end_label(self) -> None:
        """Before a line of ours while the label stands alone on its line: a terminal
        takes the bare label back (the line comes before it, not after an empty
        "Claude:"); elsewhere (a pipe, a log) nothing written is unwritten: the line ends."""
        if self._label_shown and self.label:
            self.out.write("\r\x1b[K" if self.spinner_out is self.out else "\n")
            self._label_shown = False

    def _show_label(self) -> None:
        if self.label:
            self.out.write(self.label)
            self.out.flush()
            self._label_shown = True
        if self.spinner_out is not None:
            prefix = self.label if self.spinner_out is self.out else ""
            self.spinner = Spinner(self.spinner_out, prefix)
            self.spinner.start()

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
        from chinwag.events import (Notice, Retrying, Stop, TextDelta, ThinkingDelta, ToolCallReady, ToolCallStart,
                                    ToolInputDelta, ToolProgress, ToolResultReady, ToolRunning, Usage, to_json)

        match event:
            case (TextDelta() | ThinkingDelta() | ToolCallStart() | ToolInputDelta() | ToolCallReady() | Usage()
                  | Stop() | Retrying() | Notice() | ToolRunning() | ToolProgress() | ToolResultReady()):
                self._write(to_json(event))  # every event, as it is
            case _:
                assert_never(event)

    def on_end(self, reply: Reply) -> None:
        self._write({
            "type": "done",
            "status": reply.status,
            "stop_reason": reply.stop_reason,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
                      "cache_read_tokens": reply.usage.cache_read_tokens,
                      "cache_write_tokens": reply.usage.cache_write_tokens,
                      "reasoning_tokens": reply.usage.reasoning_tokens},
            # dollars, the whole turn (every tool round); null: the price is unknown
            "cost": reply.turn_cost,
            "price_source": reply.usage.price_source,
            "ttft": reply.ttft,
            "duration": reply.duration,
            "error": reply.error,
            **({"data": reply.data} if reply.schema is not None else {}),  # --schema: the validated JSON
        })

    def _write(self, record: dict[str, object]) -> None:
        import json

        line = json.dumps(record, ensure_ascii=False)
        try:
            self.out.write(line + "\n")
        except UnicodeEncodeError:  # half a character (a broken server's fragment): escaped, still JSON
            self.out.write(json.dumps(record) + "\n")
        self.out.flush()
