"""Tool use for one chat: the tools offered to the model, approving and running
the calls a reply asks for, and what goes back to the model.

The session runs the loop (session.py): a reply that stops with "tool_use" is
recorded, its calls are approved and run here one after another, in order,
each on its own, and their results are sent back as the next user message,
until the model answers in text or `max_rounds` is reached.

A call is saved as running before it runs and with its result when it ends,
so a crash mid-call leaves it marked interrupted and it is never run again
on its own. Ctrl-C while a tool runs stops the tool (the toolbox kills a
shell command's whole process group) and the call is recorded as interrupted.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from chinwag.config import ToolSettings
from chinwag.events import Event, ToolProgress, ToolResultReady, ToolRunning
from chinwag.present import TOOL_NOT_RUN, TOOL_STOPPED
from chinwag.records import Document, Image, ToolCall, ToolResult, ToolSpec, ToolStatus

if TYPE_CHECKING:
    import threading

    from chinwag.tools.output import ToolOutput
    from chinwag.tools import Toolbox
    from chinwag.tools.config import McpServerConfig
    from chinwag.tools.mcp_elicit import Elicit
    from chinwag.tools.approval import Approvals

# A call's result, and after it the images and PDFs its tool gave (they go to the model with it).
ResultBlock = ToolResult | Image | Document

# How a person is asked: the call, why it needs asking -> ("yes" | "always" | "no", their reason).
Ask = Callable[[ToolCall, str], tuple[str, "str | None"]]


class CallRecord(Protocol):
    """Where calls are saved before they run and when they end (the recorder)."""

    def tool_started(self, call: ToolCall) -> None: ...

    def tool_finished(self, call: ToolCall, result: ToolResult) -> None: ...


class ToolUse:
    def __init__(self, settings: ToolSettings, cwd: Path, environ: Mapping[str, str], ask: Ask | None,
                 elicit: Elicit | None = None, servers: Mapping[str, McpServerConfig] | None = None) -> None:
        """`ask`: whom approvals ask; `elicit`: whom an MCP server's questions ask
        (tools/mcp_elicit.py). None: no one, so calls that need approval are denied
        and elicitations declined, at once. `--yes` answers neither kind of elicitation.
        `servers`: the MCP servers, if already read from `settings` (configured_servers)."""
        from chinwag.tools import Toolbox
        from chinwag.tools.approval import Approvals
        from chinwag.tools.config import configured_servers

        servers = dict(servers) if servers is not None else configured_servers(settings)
        self.settings = settings
        self.toolbox: Toolbox = Toolbox(settings.enabled, servers, cwd, allow=settings.allow,
                                        max_output=settings.output_limit, environ=environ)
        self.approvals: Approvals = Approvals(allow=set(settings.allow), yes=settings.yes, ask=ask)
        self.toolbox.mcp.questions.elicit = elicit
        self.last_result: tuple[ToolCall, ToolResult] | None = None  # for /show
        self._started = False

    def start(self) -> None:
        """Start MCP servers in the background (after the prompt is drawn)."""
        self._started = True
        self.toolbox.start()

    def wait_for_servers(self, timeout: float = 35.0) -> None:
        """Wait (at most `timeout` s) until every MCP server is up or has failed,
        so a request made now offers their tools; at once if they were never
        started. Ctrl-C ends the wait."""
        import time

        deadline = time.monotonic() + timeout
        while self._started and self.toolbox.starting() and time.monotonic() < deadline:
            time.sleep(0.02)

    def specs(self) -> tuple[ToolSpec, ...]:
        return self.toolbox.specs()

    def run_calls(self, calls: tuple[ToolCall, ...], record: CallRecord | None,
                  done: list[ResultBlock], stopping: threading.Event | None = None) -> Generator[Event, None, None]:
        """Approve and run each call in order, yielding its progress and each result as it comes
        and appending it to `done` (so a Ctrl-C part-way leaves what finished), each result
        followed by the images and PDFs it gave. `stopping` set (the page's Stop) stops a call."""
        from chinwag.tools.approval import refusal

        for call in calls:
            attachments: tuple[Image | Document, ...] = ()
            verdict = self.toolbox.verdict(call)
            decision = self.approvals.decide(call, verdict)
            if not decision.allowed:
                refused = refusal(call, decision)
                result = ToolResult(call.id, refused.content, "denied", refused.summary)
            else:
                yield ToolRunning(call.id, call.name)  # before it is saved as started: stopped here, it never ran
                if record is not None:
                    record.tool_started(call)
                try:
                    output = yield from self._running(call, stopping)
                except KeyboardInterrupt:
                    result = ToolResult(call.id, TOOL_STOPPED, "interrupted")
                    done.append(result)
                    if record is not None:
                        record.tool_finished(call, result)
                    raise
                result = ToolResult(call.id, output.content, _status(output.status), output.summary)
                attachments = output.attachments
                if record is not None:
                    record.tool_finished(call, result)
            done.append(result)
            done.extend(attachments)
            self.last_result = (call, result)
            yield ToolResultReady(call.id, call.name, result.content, result.status, result.summary)

    def _running(self, call: ToolCall, stopping: threading.Event | None) -> Generator[Event, None, ToolOutput]:
        """The call run, its progress as events; a Ctrl-C or an abandoned turn cancels it."""
        steps = self.toolbox.calling(call, stopping)
        try:
            while True:
                report = next(steps)
                yield ToolProgress(call.id, call.name, report.text())
        except StopIteration as finished:
            output: ToolOutput = finished.value
            return output
        finally:
            steps.close()  # stopped at a yield (Ctrl-C while drawing): the call is cancelled

    def describe(self) -> list[str]:
        """/tools: each tool and how it is approved now, [a]lways answers included."""
        return self.toolbox.describe(self.approvals.allowed_now())

    def take_notices(self) -> list[str]:
        return self.toolbox.take_notices()

    def close(self) -> None:
        self.toolbox.close()


def unanswered(calls: tuple[ToolCall, ...], done: list[ResultBlock]) -> tuple[ResultBlock, ...]:
    """Results for the calls of a reply that got none (the turn was stopped),
    so the history never holds a call without its result."""
    answered = {r.call_id for r in done if isinstance(r, ToolResult)}
    return tuple(done) + tuple(ToolResult(c.id, TOOL_NOT_RUN, "interrupted") for c in calls if c.id not in answered)


_STATUSES: dict[str, ToolStatus] = {"ok": "ok", "error": "error", "denied": "denied", "interrupted": "interrupted"}


def _status(status: str) -> ToolStatus:
    return _STATUSES.get(status, "error")
