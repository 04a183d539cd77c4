"""A turn running for the page: a worker thread, its HTML operations, and who follows them.

`LiveTurn.start` runs a `SessionTurn` (the same turn logic as the terminal)
in a worker thread, as a sink that turns its text into page operations
(`html.HtmlStream`): the first text at once, then at most every
`REPAINT_INTERVAL`, so a long reply costs linear time; a second thread,
started once the throttle first holds text back, paints it if the stream
stalls. Operations go to
every follower (an SSE response) through its asyncio queue; a follower that
joins late (a reloaded page) starts from a snapshot of the reply so far.

Thinking and tool calls end the text before them: it is finished, and the
thinking (shown once it ends) or the call with its result is committed after
it as one collapsible block. A call that needs approval waits in `ask` for
the page's answer (`answer`), at most APPROVAL_TIMEOUT; stopping the turn
denies it.

The worker drives the turn with `TurnDriver` (driver.py), this object being
its sink, as the terminal's sinks are.

Stopping. `cancel()` here, from any thread, stops the driver
(`TurnDriver.stop`): it cancels the provider's stream at once, and the
driver cancels the turn after the event it holds: a worker blocked waiting for the server's next byte (a
server holding its reply) returns at once, the server sees the connection
close, and the worker finishes the turn as "stopped", keeping the text that
arrived.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, assert_never

from chinwag.events import (Event, Notice, Retrying, Stop, TextDelta, ThinkingDelta, ToolCallReady, ToolCallStart,
                            ToolInputDelta, ToolProgress, ToolResultReady, ToolRunning, Usage)
from chinwag.driver import TurnDriver
from chinwag.records import Reply, ToolCall
from chinwag.session_turn import SessionTurn
from chinwag.sinks import figures, retry_line
from chinwag.web.html import HtmlStream, Renderer, thinking_html, tool_html
from chinwag.web.workers import Workers

if TYPE_CHECKING:
    from chinwag.tools.mcp_elicit import ElicitAnswer, Elicitation

REPAINT_INTERVAL = 0.05  # seconds between re-renders of the unfinished block
APPROVAL_TIMEOUT = 300.0  # seconds a call waits for the page's answer; then it is denied
Op = dict[str, Any]  # one operation for the page, as JSON

class Follower:
    """One SSE response following a turn: its loop and queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Op | None] = asyncio.Queue()

    def put(self, event: Op | None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)
        except RuntimeError:  # the server is shutting down: its loop is closed
            pass


class LiveTurn:
    """One turn of one conversation, as the page sees it."""

    def __init__(self, turn: SessionTurn, renderer: Renderer, on_end: Callable[[LiveTurn], None],
                 redact: Callable[[str], str] = str, leaf: Callable[[], int | None] = lambda: None,
                 asked: Op | None = None) -> None:
        self.turn, self.ended, self.redact = turn, on_end, redact
        self.asked = asked  # a prompt's messages sent as the user's (web/mcp.py): for the page that sent it
        self._leaf = leaf  # the id of the branch's last message, once the turn is saved
        self._driver = TurnDriver(turn, [self])
        self._html_renderer = renderer
        self._html = HtmlStream(renderer)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # text arrived, or the turn ended
        self._painted: float | None = None  # when the page was last sent new HTML
        self._flushing = False  # the thread painting held-back text runs
        self._followers: list[Follower] = []
        self._cancelled = threading.Event()
        self.done = threading.Event()
        self.end: Op | None = None
        self.notices: list[str] = []
        self._before = ""  # HTML of the reply's earlier parts (text, thinking, tool calls), final
        self._thinking = ""  # reasoning not shown yet (shown whole when it ends)
        self._calls: dict[str, ToolCall] = {}
        self._progress_shown = False  # a running call's progress is on the page's notice line
        self._asking: Op | None = None  # the approval question the page is asked now
        self._answer: Any = None  # (answer, reason) to an approval, an ElicitAnswer to an elicitation
        self._answered = threading.Condition(self._lock)
        self._elicitation: Elicitation | None = None  # the MCP server's question asked now, if any
        self._questions = 0
        if turn.prefill:  # /continue: the page shows the reply it resumes, then what follows
            self._html.feed(turn.prefill)
            self._html.update()

    # -- following ---------------------------------------------------------------

    def follow(self, loop: asyncio.AbstractEventLoop) -> tuple[Follower, Op]:
        """A new follower and the snapshot it starts from (the end event, if
        the turn is over already, arrives in its queue)."""
        follower = Follower(loop)
        with self._lock:
            snapshot = {"t": "snapshot", "html": self._before + self._html.snapshot(), "notices": list(self.notices)}
            if self.end is not None:
                follower.put(self.end)
                follower.put(None)
            else:
                self._followers.append(follower)
                if self._asking is not None:
                    follower.put(dict(self._asking))
        return follower, snapshot

    def unfollow(self, follower: Follower) -> int:
        """Forget `follower`; how many still follow."""
        with self._lock:
            if follower in self._followers:
                self._followers.remove(follower)
            return len(self._followers)

    @property
    def followers(self) -> int:
        with self._lock:
            return len(self._followers)

    def _publish(self, events: list[Op]) -> None:
        with self._lock:
            for follower in self._followers:
                for event in events:
                    follower.put(event)

    # -- running -----------------------------------------------------------------

    def start(self, workers: Workers) -> None:
        """Run the turn on one of `workers` (threads kept between turns:
        starting a thread makes the caller wait for it to be scheduled)."""
        workers.submit(self._run)

    def cancel(self) -> None:
        """Stop the reply now (see the module docstring); safe from any thread, idempotent."""
        self._cancelled.set()
        self._driver.stop()
        with self._answered:
            self._answered.notify_all()

    # -- approval ----------------------------------------------------------------

    def ask(self, call: ToolCall, reason: str) -> tuple[str, str | None]:
        """The page's answer to "may `call` run?" (toolloop's `Ask`), on the turn's
        thread: the question goes to every follower (and to any that joins while
        it waits); "no" if the turn is stopped, or nobody answers within
        APPROVAL_TIMEOUT (a page gone away stops the turn: see streams.py)."""
        from chinwag.present import tool_call_line
        from chinwag.tools.question import web_question

        answer = self._pose({"t": "approve", "call": tool_call_line(call.name, call.input),
                             "reason": self.redact(reason), "tool": call.name,
                             "question": web_question(call.name, call.input, self.redact(reason))})
        if answer is None:
            answer = ("no", "stopped by the user" if self._cancelled.is_set()
                      else f"nobody answered within {APPROVAL_TIMEOUT / 60:g} minutes")
        self._posed(answer[0])
        return answer  # type: ignore[no-any-return]

    def elicit(self, request: Elicitation) -> ElicitAnswer:
        """The page's answer to an MCP server's question (tools/mcp_elicit.py's `Elicit`),
        asked in the same box as approvals; decline if the turn is stopped or nobody
        answers within APPROVAL_TIMEOUT."""
        from chinwag.tools.mcp_elicit import ElicitAnswer
        from chinwag.web.elicit import web_elicitation

        self._elicitation = request
        answer = self._pose({"t": "elicit", "question": web_elicitation(request)})
        if answer is None:
            answer = ElicitAnswer("cancel" if self._cancelled.is_set() else "decline")
        self._posed(answer.action)
        return answer  # type: ignore[no-any-return]

    def _pose(self, op: Op) -> Any:
        """Put question `op` to every follower (and any that joins while it waits);
        the answer, or None when the turn stopped or the wait ran out."""
        with self._answered:
            self._questions += 1
            self._answer = None
            self._asking = {**op, "id": self._questions}
            for follower in self._followers:
                follower.put(dict(self._asking))
            deadline = time.monotonic() + APPROVAL_TIMEOUT
            while self._answer is None and not self._cancelled.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._answered.wait(left)
            return self._answer

    def _posed(self, answer: str) -> None:
        """The question asked now is over: every page takes its box away."""
        with self._answered:
            done = {"t": "approved", "id": self._questions, "answer": answer}
            self._asking, self._answer = None, None
            for follower in self._followers:
                follower.put(done)

    def answer_elicitation(self, question: int, action: str, values: Mapping[str, Any]) -> bool | str:
        """The page's answer to elicitation `question`: True when taken, False if it is not
        the one asked now, or what is wrong with it (one line; the question stays)."""
        from chinwag.web.elicit import page_answer

        with self._answered:
            if self._asking is None or self._asking["id"] != question or self._asking["t"] != "elicit" \
                    or self._answer is not None or self._elicitation is None:
                return False
            answer = page_answer(self._elicitation, action, values)
            if isinstance(answer, str):
                return answer
            self._answer = answer
            self._answered.notify_all()
            return True

    def answer(self, question: int, answer: str, reason: str | None) -> bool:
        """The page's answer to question `question`; False if it is not the one asked now."""
        if answer not in ("yes", "always", "no"):
            return False
        with self._answered:
            if self._asking is None or self._asking["id"] != question or self._asking["t"] != "approve" \
                    or self._answer is not None:
                return False
            self._answer = (answer, reason or None)
            self._answered.notify_all()
            return True

    def _run(self) -> None:
        """The worker's job: the turn driven to this page (a sink), as every turn is."""
        self._driver.run(failed=lambda exc: self._notice(self.redact(f"the reply failed: {exc}")))

    # -- the turn's sink ---------------------------------------------------------

    def on_start(self) -> None:
        pass

    def on_event(self, event: Event, reply: Reply) -> None:
        """One event of the turn, as page operations."""
        match event:
            case TextDelta():
                if self._thinking:
                    self._part(thinking_html(self._take_thinking()))
                self._text(event.text)
            case ThinkingDelta():
                self._thinking += event.text
            case ToolCallStart():
                if self._thinking:
                    self._part(thinking_html(self._take_thinking()))
            case ToolCallReady():
                self._calls[event.id] = ToolCall(event.id, event.name, event.input)
            case ToolResultReady():
                if self._progress_shown:  # the call's progress line is over with it
                    self._progress_shown = False
                    self._publish([{"t": "notice", "text": "", "retry": False}])
                self._tool(event)
            case ToolProgress():
                self._progress(event)
            case Retrying():
                self._notice(retry_line(event), retry=True)
            case Notice():
                self._notice(event.text)
            case ToolInputDelta() | Usage() | Stop() | ToolRunning():
                pass  # the call is shown whole with its result; the figures at the end
            case _:
                assert_never(event)

    def _take_thinking(self) -> str:
        text, self._thinking = self._thinking, ""
        return text

    def _progress(self, event: ToolProgress) -> None:
        """A running MCP call's progress (at most every 100 ms) on the page's notice line, in
        place: not kept with the notices a page joining later is sent, and taken away when
        the call ends (or with the reply, as a retry's line is)."""
        from chinwag.tools.output import one_line

        self._progress_shown = True
        self._publish([{"t": "notice", "text": one_line(self.redact(f"⚙ {event.name} … {event.text}")),
                        "retry": True}])

    def _tool(self, event: ToolResultReady) -> None:
        from chinwag.present import tool_call_line

        call = self._calls.get(event.call_id)
        line = tool_call_line(event.name, call.input if call is not None else {})
        self._part(tool_html(line, event.status, self.redact(event.content)))

    def _part(self, html: str) -> None:
        """End the text so far and add `html` (thinking, a tool call) after it:
        the text that follows starts a new part."""
        with self._changed:
            ops = [dict(op) for op in self._html.finish()]
            self._before += self._html.committed() + html
            self._html = HtmlStream(self._html_renderer)
            self._painted = None
            ops.append({"t": "commit", "html": html})
            for follower in self._followers:
                for op in ops:
                    follower.put(dict(op))

    def _notice(self, text: str, retry: bool = False) -> None:
        """A line for the page's notice; a retry's line (`retry`) is the page's
        to take away once the reply ends, whichever way."""
        text = self.redact(text)
        with self._lock:
            self.notices.append(text)
        self._publish([{"t": "notice", "text": text, "retry": retry}])

    def _text(self, text: str) -> None:
        """Text in, page operations out, on the turn's own thread: the first
        at once, then at most every REPAINT_INTERVAL; text the throttle holds
        is painted by `_flush_held` if nothing follows it in time."""
        with self._changed:
            self._html.feed(text)
            if self._painted is None or time.monotonic() - self._painted >= REPAINT_INTERVAL:
                self._paint()
            else:
                if not self._flushing:  # off the first text's path: started when first needed
                    self._flushing = True
                    threading.Thread(target=self._flush_held, name="chinwag-web-paint", daemon=True).start()
                self._changed.notify()

    def _flush_held(self) -> None:
        """Paint text the throttle held back once its interval is over (the
        server may have gone quiet), until the turn ends."""
        with self._changed:
            while self.end is None:
                if not self._html.pending or self._painted is None:
                    self._changed.wait()
                    continue
                wait = self._painted + REPAINT_INTERVAL - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                else:
                    self._paint()

    def _paint(self) -> None:
        """Render and send together, under the lock: a snapshot taken
        meanwhile misses or repeats nothing."""
        self._painted = time.monotonic()
        for op in self._html.update():
            for follower in self._followers:
                follower.put(dict(op))

    def on_end(self, reply: Reply) -> None:
        """The turn ended (finished, stopped or failed): the page's last operations."""
        if self._thinking:
            self._part(thinking_html(self._take_thinking()))
        from chinwag.errors import BudgetExceeded

        if isinstance(reply.failure, BudgetExceeded):  # not sent: the page's notice says which budget
            self._notice(reply.failure.message)
        leaf = self._leaf()  # the tab's branch now ends here (read before the lock: it may wait for the writer)
        with self._changed:
            ops = self._html.finish()
            self.end = {"t": "end", **self.describe(reply), "leaf": leaf}
            followers, self._followers = self._followers, []
            for follower in followers:
                for op in ops:
                    follower.put(dict(op))
                follower.put(self.end)
                follower.put(None)
            self._changed.notify_all()
        self.done.set()
        self.ended(self)

    def describe(self, reply: Reply) -> Op:
        status = "stopped" if reply.cancelled or (self._cancelled.is_set() and reply.status != "complete") \
            else reply.status
        stats = figures(reply)
        return {"status": status, "error": self.redact(reply.error or "") if status != "stopped" else "",
                "stats": stats, "markdown": reply.text}

