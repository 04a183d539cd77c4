"""A chat session: settings, provider, the conversation, and where it is saved.

The CLI, the REPL and the Python API (`chinwag.Chat`) all ask a Session for
turns. The history is optional (`--no-save`); when kept, the user message is
saved before the request leaves and the reply while it streams (recorder.py).
The conversation's tree (editing, /undo, branches, /fork) is SessionTree's
(session_tree.py); prices and budgets are SessionCosts' (session_costs.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from chinwag.config import Settings
from chinwag.context import fit
from chinwag.conversation import Conversation
from chinwag.errors import UsageError
from chinwag.interrupts import InterruptGuard
from chinwag.providers.base import Provider
from chinwag.driver import Sink, TurnDriver
from chinwag.session_costs import SessionCosts
from chinwag.session_tree import SessionTree, is_question, words_and_attachments
from chinwag.session_turn import SessionTurn

if TYPE_CHECKING:
    from pathlib import Path

    from chinwag.budget import Budgets
    from chinwag.history.costs import UsageTotals
    from chinwag.prices import Prices
    from chinwag.history.recorder import Recorder
    from chinwag.records import Block, ChatRequest, Message, Reply, Text
    from chinwag.toolloop import ToolUse

REFILL = 0.6  # after cutting history, fill this much of the window so the cut can stay put
WARM_UP_GRACE_S = 10.0  # the longest close() waits for the warm-up's step in progress (a model loading)


@dataclass
class Session(SessionCosts, SessionTree):
    """One chat: its settings, provider, conversation and recorder; it runs the turns."""

    settings: Settings
    provider: Provider
    conversation: Conversation
    recorder: Recorder | None = None
    last_reply: Reply | None = None
    stream: bool = True
    guard: InterruptGuard = field(default_factory=InterruptGuard, repr=False)
    _notices: list[str] = field(default_factory=list, repr=False)
    _tool_use: ToolUse | None = field(default=None, repr=False)
    _build_tools: Callable[[], ToolUse] | None = field(default=None, repr=False)  # defer_tools
    _tools_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    warming: threading.Thread | None = field(default=None, repr=False)  # the REPL's warm-up, if running
    closing: bool = field(default=False, repr=False)  # close() has begun: the warm-up stops between steps
    _told_about_trimming: bool = field(default=False, repr=False)
    _told_no_tools: bool = field(default=False, repr=False)
    _cut: int = field(default=0, repr=False)  # messages left out of requests, from the start
    # The question last cancelled before any reply: kept out of the conversation
    # (never sent again on its own) until /retry asks it again.
    withdrawn: Message | None = None
    prices_cache: Path | None = None  # prices.json beside the history (prices.py); None: prices not kept
    run_totals: UsageTotals | None = None  # this run's replies in this conversation (/stats without history)
    _prices: Prices | None = field(default=None, repr=False)
    _budgets: Budgets | None = field(default=None, repr=False)

    @property
    def tool_use(self) -> ToolUse | None:
        """The chat's tools: None without any; built here on first use after `defer_tools`."""
        if self._build_tools is not None:
            with self._tools_lock:
                if self._build_tools is not None:  # another thread may have built them meanwhile
                    self._tool_use, self._build_tools = self._build_tools(), None
        return self._tool_use

    @tool_use.setter
    def tool_use(self, value: ToolUse | None) -> None:
        with self._tools_lock:
            self._tool_use, self._build_tools = value, None

    def defer_tools(self, build: Callable[[], ToolUse]) -> None:
        """Build the tools on first use, not now: the REPL's warm-up builds them
        after the prompt is drawn, so launch does not import the tool machinery
        (issue 22: start-up with MCP servers configured is unchanged)."""
        with self._tools_lock:
            self._tool_use, self._build_tools = None, build

    @property
    def model(self) -> str:
        return self.settings.model or self.provider.model_name or self.provider.name

    # -- turns, pushed to sinks (the CLI) --------------------------------------

    def ask(self, text: str, sinks: list[Sink], attachments: tuple[Block, ...] = ()) -> Reply:
        """Send `text` (after any `attachments`) as the next user message and stream the reply to `sinks`."""
        with self.guard.guarded():
            return TurnDriver(self.begin(text, attachments), sinks).run(self.guard)

    def retry(self, sinks: list[Sink]) -> Reply:
        """Ask again: drop the last reply (if any) and resend the history."""
        with self.guard.guarded():
            return TurnDriver(self.begin_retry(), sinks).run(self.guard)

    def continue_reply(self, sinks: list[Sink]) -> Reply:
        """Resume the last, interrupted reply by prefilling it (where the provider can)."""
        with self.guard.guarded():
            return TurnDriver(self.begin_continue(), sinks).run(self.guard)

    # -- turns, pulled (the Python API) ---------------------------------------

    def begin(self, text: str, attachments: tuple[Block, ...] = (),
              schema: Mapping[str, Any] | None = None) -> SessionTurn:
        """Record `text`, after any `attachments` (attachments.py's blocks), as
        the next user message (saved before anything is sent) and return the
        turn that answers it: iterate it, then `finish()` it. Attachments the
        model cannot take are refused here (UsageError), before anything is kept.
        `schema`: this reply must be JSON matching it (else the settings' --schema)."""
        from chinwag.records import Message, Text

        if attachments:
            from chinwag.attach import check

            check(attachments, self.provider.name)
        message = Message.of("user", (*attachments, Text(text)) if text else attachments)
        self.conversation.messages.append(message)
        self.withdrawn = None  # a new question: the cancelled one stays cancelled
        if self.recorder is not None:
            self.recorder.save_user(message.content, self.model, self.conversation.system, message.blocks)
        return SessionTurn(self, prefill="", question=message, schema=schema)

    def begin_retry(self) -> SessionTurn:
        """Ask again: the question last cancelled before a reply, else the last one
        (its reply, if any, dropped)."""
        messages = self.conversation.messages
        # A /system since the question was asked: it is sent with the new prompt, so it
        # is saved again with it (each saved question holds the prompt it went with).
        prompt_changed = self.recorder is not None and self.recorder.question_system() != self.conversation.system
        if self.withdrawn is not None:
            withdrawn, self.withdrawn = self.withdrawn, None
            if prompt_changed:  # the cancelled one stays cancelled; this is asked beside it
                return self.begin(*words_and_attachments(withdrawn))
            messages.append(withdrawn)
            if self.recorder is not None:
                self.recorder.question_asked_again()
            return SessionTurn(self, prefill="", question=messages[-1])
        if not messages:
            raise UsageError("nothing to retry yet.")
        if messages[-1].role == "assistant":
            messages.pop()
        if self.recorder is not None:  # the old reply stays, a sibling of the new one
            self.recorder.retrying()
        last = messages[-1]
        if self.recorder is not None and prompt_changed and not is_question(last):  # a tool's results
            self.recorder.results_again(last, self.model, self.conversation.system)
        asked = self.recorder.leaf_id() if self.recorder is not None and prompt_changed and is_question(last) else None
        if asked is not None:  # asked again beside itself: the old question and its reply stay
            return self.begin_edit(asked, words_and_attachments(last)[0])
        return SessionTurn(self, prefill="", question=None if any(
            b.type == "tool_result" for b in last.blocks) else last)

    def begin_continue(self) -> SessionTurn:
        """Resume the last reply where it was cut: interrupted, or stopped by max_tokens."""
        from chinwag.records import Message

        last, messages = self.last_reply, self.conversation.messages
        # (A question cancelled before any reply leaves nothing to continue: the reply
        # before it had ended.)
        cut = last is not None and not last.withdrawn and (
            last.status == "interrupted" or last.stop_reason == "max_tokens")
        # The partial must be the conversation's last message: a blank reply is not
        # recorded, and the message before it is the user's, never to be continued.
        recorded = bool(messages) and messages[-1].role == "assistant" and bool(messages[-1].content.strip())
        if last is None or not cut or not recorded or last.tool_calls:
            raise UsageError("there is no interrupted reply to continue.")
        if not self.provider.supports_prefill:
            raise UsageError(f"{self.provider.name} cannot resume a reply (this server is not known to continue"
                             " one, and asking would stitch a new answer to the old); use /retry to ask again."
                             " A llama.cpp or vLLM server can: set prefill under [openai] in config.toml.")
        partial = messages.pop().content.rstrip()  # Anthropic rejects a prefill ending in white space
        messages.append(Message("assistant", partial))
        return SessionTurn(self, prefill=partial)

    # -- the rest ---------------------------------------------------------------

    def new_conversation(self) -> None:
        """Start afresh: the next message opens a new saved conversation."""
        self.conversation.messages.clear()
        self.withdrawn = None
        if self.recorder is not None:
            self.recorder.new_conversation()
        if self._budgets is not None:
            self._budgets.new_conversation()
        self.run_totals = None
        self.last_reply = None
        self.reset_window()

    def switch(self, settings: Settings, provider: Provider) -> None:
        """Another model or provider; the conversation goes on."""
        old, self.provider, self.settings = self.provider, provider, settings
        old.close()
        self.reset_window()

    def reset_window(self) -> None:
        """Measure the history afresh (a new conversation, or another model's window)."""
        self._cut = 0
        self._told_about_trimming = False

    def wait_for_warm_up(self, timeout: float | None = None) -> None:
        """Let the background warm-up finish before a turn uses what it builds
        (two threads importing the HTTP stack at once can see it half-imported),
        or, with `timeout`, for at most that long. Ctrl-C while waiting cancels
        the turn, as it would while connecting."""
        warming = self.warming
        if warming is not None and warming is not threading.current_thread():
            warming.join(timeout)
            if not warming.is_alive():
                self.warming = None

    def notice(self, text: str) -> None:
        """A line for the user, shown with the turn's events (a Notice)."""
        self._notices.append(text)

    def take_notices(self) -> list[str]:
        """One-line notices for the user since the last call (trimming, saving)."""
        notices, self._notices = self._notices, []
        if self.recorder is not None:
            notices += self.recorder.take_notices()
        if self._tool_use is not None:  # not built yet: nothing to say
            notices += self._tool_use.take_notices()
        return notices

    def close(self) -> None:
        """Close the provider's connections or model, the tools and the history database,
        once the warm-up is done with them: it stops after the step it is in. Closed
        under its feet, it could open the history or start MCP servers after close, and
        a daemon thread still in C code as the interpreter ends can crash it (exit 139)."""
        self.closing = True
        try:
            self.wait_for_warm_up(WARM_UP_GRACE_S)
        finally:
            self._close()

    def _close(self) -> None:
        try:
            self.provider.close()
            if self._tool_use is not None:  # never built: nothing to close
                self._tool_use.close()
        finally:
            if self.recorder is not None:
                self.recorder.close()

    def fitted(self, messages: list[Message]) -> list[Message]:
        """The newest messages that fit the model's context window, where we know it.

        Once history must be cut, it is cut down to REFILL of the window, and
        the cut stays put while later turns still fit: a prompt whose start
        does not move lets llama.cpp reuse its evaluated prefix, so a long
        local conversation does not re-read the whole window every turn."""
        from chinwag.providers.registry import declared_window

        window = declared_window(self.settings, self.provider.context_window(self.settings.model))
        if window is None:
            return messages
        room = min(self.settings.max_tokens, window.tokens // 2)
        kept, dropped = fit(messages[self._cut:], self.conversation.system, window, room)
        if dropped:
            kept, dropped = fit(messages[self._cut:], self.conversation.system, window, room, fill=REFILL)
            self._cut += dropped
        return self.left_out(kept, self._cut)

    def left_out(self, kept: list[Message], dropped: int) -> list[Message]:
        if dropped and not self._told_about_trimming:
            self._told_about_trimming = True
            self._notices.append(f"left out the oldest {dropped} messages to fit the model's "
                                 "context window (all are kept in history)")
        return kept

    def request(self, messages: list[Message], continuing: bool = False,
                schema: Mapping[str, Any] | None = None) -> ChatRequest:
        """The request for `messages`; `schema` (else the settings' --schema) makes the reply JSON."""
        s = self.settings
        request = self.conversation.request(s.model, s.max_tokens, s.temperature, self.stream, messages)
        request = replace(request, continue_reply=continuing)
        if self.tool_use is not None:
            self.tool_use.wait_for_servers()  # a message typed at once must not go without their tools
        tools = self.tool_use.specs() if self.tool_use is not None else ()
        if tools and not self.provider.supports_tools:
            if not self._told_no_tools:
                self._told_no_tools = True
                self._notices.append(f"{self.model} cannot call tools reliably; chatting without them")
            tools = ()
        return replace(request, tools=tools, thinking_budget=s.tools.think,
                       schema=schema if schema is not None else s.schema)


def open_session(settings: Settings, environ: Mapping[str, str], *,
                 resume: int | None = None, continue_last: bool = False, at: int | None = None) -> Session:
    """A session for `settings`: the provider is built on first use, the history opened lazily.
    Resuming continues the conversation's current leaf, or message `at` (the id), which becomes it."""
    from chinwag.providers.registry import LazyProvider

    recorder = None
    if settings.save:
        from chinwag.paths import database_file
        from chinwag.history.recorder import Recorder

        recorder = Recorder(database_file(environ))
    session = Session(settings, LazyProvider(settings), Conversation(settings.system), recorder)
    if recorder is not None:
        session.prices_cache = recorder.path.parent / "prices.json"
    if resume is not None or continue_last:
        if recorder is None:
            raise UsageError("--continue and --resume need saved history; drop --no-save.")
        system, messages = recorder.resume(resume, at)
        if system:
            session.conversation.system = system
        session.conversation.messages = messages
        session.withdrawn = recorder.withdrawn  # a question cancelled last time: /retry asks it
    return session
