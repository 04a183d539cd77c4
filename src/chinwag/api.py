"""The public Python API: `Chat`, the same seam the CLI stands on.

    from chinwag import Chat

    chat = Chat(model="claude-sonnet-4-20250514")   # or "local", "openai:gpt-4o-mini", base_url=...
    for event in chat.stream("Explain how a CPU works"):
        if event.type == "text":
            print(event.text, end="", flush=True)
    reply = chat.ask("and in one sentence?")        # the whole Reply

Settings come as for the CLI (config.toml < ./.env < environment), with the
arguments on top. A Chat keeps the conversation, retries like the CLI
(overloaded, rate limited, connection failures before the first text), saves
to the same history as the CLI unless `save=False`, and runs the bundled
model with no API key. A failed reply is not an exception: it comes back with
`status` "error" or "interrupted", `error` saying why and `failure` the typed
error, and what text did arrive is kept (and sent with the next question, as
in the chat). `reply.raise_for_status()`, or `raise_errors=True`, raises that
error instead. Every one is a `chinwag.ChinwagError`; the model's and the
network's are `chinwag.ProviderError`s, of these classes (each importable
from `chinwag`):

    AuthError          401/403: the key was refused
    RateLimited        429, after the retries
    Overloaded         529/5xx, after the retries
    ContextOverflow    the prompt does not fit the model, even after the
                       history was halved as far as it goes (a BadRequest)
    BadRequest         the server rejected the request (400/404/413/422)
    ConnectionFailed   no connection, or no answer in time
    StreamInterrupted  the reply stopped part-way (the text so far is kept)
    LocalModelError    the bundled or local model could not run
    InvalidStructuredOutput  a reply asked for with `schema=` is not JSON
                       matching it (its text is kept)

and, not the model's nor the network's, a `ChinwagError`:

    BudgetExceeded     the request could pass a budget (`budget=`, or the
                       config's budget_per_conversation|day|month): not sent

A reply the user stopped (Ctrl-C, closing a stream) raises nothing.

A saved conversation is a tree: `chat.edit(message_id, text)` asks again
from an earlier question of yours, changed (the old branch stays), `retry()`
keeps the old reply beside the new one, `undo()` steps back one exchange,
`switch(message_id)` makes another branch current, and `tree()` shows them
all (message ids and parents: `chinwag.tree.Tree`). The model is always sent
exactly the path from the root to the current leaf. `Reply.message_id` is a
reply's id; `Chat(resume=ID)` continues conversation ID at its current leaf.
With `save=False` there is no tree: those raise UsageError, except
`retry()` (it replaces the reply) and `undo()` (it drops the last exchange).

One Chat is one conversation, so its turns take turns: a thread that asks
while another thread's turn runs waits for it to end, then asks after it
(its question follows the other exchange). A `stream()` holds the Chat from
its first event until it is exhausted or closed (`break` in a `for` loop, or
dropping the generator, closes it). Asking again from the thread that holds
an unfinished `stream()` would wait for itself: it raises UsageError instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from chinwag.driver import TurnDriver
from chinwag.errors import UsageError
from chinwag.events import Event
from chinwag.records import Block, Message, Reply
from chinwag.session import Session, open_session
from chinwag.session_turn import SessionTurn
from chinwag.tree import Tree

if TYPE_CHECKING:
    from chinwag.tools.mcp_elicit import ElicitAnswer, Elicitation


class Chat:
    def __init__(self, model: str | None = None, *, system: str | None = None,
                 base_url: str | None = None, api_key: str | None = None,
                 max_tokens: int | None = None, temperature: float | None = None,
                 save: bool = True, environ: Mapping[str, str] | None = None,
                 cwd: Path | str | None = None, resume: int | None = None, at: int | None = None,
                 budget: float | None = None,
                 mcp_config: Path | str | None = None,
                 on_elicit: Callable[[Elicitation], ElicitAnswer] | None = None) -> None:
        """`model` is a CLI model spec ("local", "anthropic:NAME", "openai:NAME",
        "local:/path.gguf", or a bare name); None picks as the CLI does. A
        `base_url` with no provider in `model` means an OpenAI-compatible
        server (vLLM, TGI, Ollama, llama.cpp). `resume` continues saved
        conversation ID (as `chinwag --resume ID`) at its current leaf, or at
        message `at`. `budget` is dollars this Chat may spend (as `--budget`;
        the config's budgets apply too): a request that could pass it is not
        sent, and its reply fails with BudgetExceeded. Bad settings raise
        `chinwag.ChinwagError` (a UsageError or ConfigError) here.

        Tools and MCP servers come from config.toml (`tools`, `allow`,
        `[mcp_servers]`) and `mcp_config` (an `{"mcpServers": {...}}` file); a
        call that would ask a person is denied (there is no one to ask). An MCP
        server's question to the user (elicitation) goes to `on_elicit`, which
        gets a `chinwag.Elicitation` and returns a `chinwag.ElicitAnswer`
        ("accept" with the content, "decline" or "cancel"); without it every
        such question is declined at once."""
        from chinwag.config import resolve
        from chinwag.providers.registry import at_base_url, entry, parse_model_spec

        environ = dict(os.environ if environ is None else environ)
        flags: dict[str, Any] = {"model": model, "system": system, "max_tokens": max_tokens,
                                 "temperature": temperature, "save": save, "budget": budget,
                                 "mcp_config": str(mcp_config) if mcp_config is not None else None}
        # Errors name the argument the caller passed, not the command line's flag.
        names = {key: f"Chat({key}=...)" for key in flags}
        if base_url is not None or api_key is not None:
            provider = parse_model_spec(model)[0] if model else ""
            chosen = entry(provider) if provider else at_base_url()
            if chosen.url_variable and base_url is not None:
                flags[chosen.url_variable] = base_url
                names[chosen.url_variable] = "Chat(base_url=...)"
            if chosen.key_variable and api_key is not None:
                flags[chosen.key_variable] = api_key
                names[chosen.key_variable] = "Chat(api_key=...)"
            if not provider:
                flags["model"] = f"{chosen.name}:{model or ''}"
        settings = resolve(environ, Path(cwd or Path.cwd()), flags, flag_names=names)
        if at is not None and resume is None:
            raise UsageError("at= needs resume=: the conversation the message is in.")
        self._session: Session = open_session(settings, environ, resume=resume, at=at)
        if settings.tools.active:
            from chinwag.toolloop import ToolUse

            self._session.tool_use = ToolUse(settings.tools, Path(cwd or Path.cwd()), environ, None, on_elicit)
            self._session.tool_use.start()
        self._turn_lock = threading.Lock()  # one turn at a time (a Lock: a stream may be closed from any thread)
        self._holder: int | None = None  # the thread whose turn runs

    @property
    def model(self) -> str:
        return self._session.model

    @property
    def messages(self) -> list[Message]:
        """The conversation so far: the path to the current leaf, as sent (a copy)."""
        return list(self._session.conversation.messages)

    @property
    def conversation_id(self) -> int | None:
        """Where it is saved in the history (`chinwag history show ID`), once saved."""
        recorder = self._session.recorder
        return recorder.conversation_id if recorder is not None else None

    def stream(self, text: str, attachments: Sequence[str | Path | Block] = (), *,
               raise_errors: bool = False, schema: str | Mapping[str, Any] | None = None) -> Iterator[Event]:
        """Ask `text` and yield the reply's events as they arrive: `TextDelta`
        (type "text"), `Usage`, `Stop`, and `Retrying` / `Notice` along the way.
        Stopping early (break, close) closes the connection and keeps the partial reply;
        nothing is sent or saved until the first event is asked for. A failure
        ends the events quietly, unless `raise_errors`: then, after the events
        that came, its typed error is raised (see the module docstring).
        `attachments` and `schema` as for `ask`."""
        blocks = self._blocks(attachments)
        wanted = self._schema(schema)
        with self._one_turn():
            yield from self._drive(self._session.begin(text, blocks, schema=wanted))
            if raise_errors and (last := self._session.last_reply) is not None:
                last.raise_for_status()

    def ask(self, text: str, attachments: Sequence[str | Path | Block] = (), *,
            raise_errors: bool = False, schema: str | Mapping[str, Any] | None = None) -> Reply:
        """Ask `text` and return the whole reply. `attachments` go with it: paths,
        http(s) URLs (images, PDFs, text files, as `chinwag -a`) or blocks
        (`chinwag.records.Image(...)`); one that cannot be sent raises UsageError.
        A reply that failed comes back with `status`, `error` and `failure` set;
        with `raise_errors`, its error is raised instead (as `reply.raise_for_status()`
        would), after the reply is kept in the conversation.

        `schema` (a JSON Schema as a dict, or what `--schema` takes: JSON text, a
        file, `'name, age int'`) asks for a JSON reply matching it: `reply.data`
        is the parsed value; a reply that does not match fails with
        `chinwag.InvalidStructuredOutput`, its text kept."""
        blocks = self._blocks(attachments)
        wanted = self._schema(schema)
        with self._one_turn():
            return self._consume(self._session.begin(text, blocks, schema=wanted), raise_errors)

    def retry(self, *, raise_errors: bool = False) -> Reply:
        """Ask the last question again (or the question last cancelled before a
        reply); the last reply stays, a sibling of the new one in `tree()`
        (without a history it is dropped). `raise_errors` as for `ask`."""
        with self._one_turn():
            return self._consume(self._session.begin_retry(), raise_errors)

    def edit(self, message_id: int, text: str, *, raise_errors: bool = False) -> Reply:
        """Ask again from your message `message_id` with `text` in its place (its
        attachments kept): a new branch beside the old one, which stays. The new
        Reply; `raise_errors` as for `ask`. UsageError for an id that is not one
        of your messages in this conversation."""
        with self._one_turn():
            return self._consume(self._session.begin_edit(message_id, text), raise_errors)

    def tree(self) -> Tree:
        """Every message of the conversation with its id, number and parent, and
        the current leaf (`chinwag.tree.Tree`)."""
        with self._one_turn():
            return self._session.tree()

    def switch(self, message_id: int) -> tuple[Message, ...]:
        """Make the branch through `message_id` current (its newest leaf); the
        messages from where it branches off the old path down."""
        with self._one_turn():
            return self._session.switch_to(message_id)

    def undo(self) -> None:
        """Step back one exchange: the next question starts a new branch there (nothing is deleted)."""
        with self._one_turn():
            self._session.undo()

    def fork(self) -> int:
        """A new saved conversation starting as a copy of the current path; this
        Chat goes on in it. Its id."""
        with self._one_turn():
            return self._session.fork()

    def continue_reply(self, *, raise_errors: bool = False) -> Reply:
        """Resume an interrupted reply where the provider can (Anthropic prefill).
        `raise_errors` as for `ask`."""
        with self._one_turn():
            return self._consume(self._session.begin_continue(), raise_errors)

    def close(self) -> None:
        """Close connections, the local model's process and the history database."""
        self._session.close()

    def __enter__(self) -> Chat:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _one_turn(self) -> Iterator[None]:
        """Hold the Chat for one turn; another thread waits its turn."""
        if self._holder == threading.get_ident():
            raise UsageError("this thread's stream() on this Chat has not ended: exhaust or close it"
                             " before asking again.")
        with self._turn_lock:
            self._holder = threading.get_ident()
            try:
                yield
            finally:
                self._holder = None

    @staticmethod
    def _schema(schema: str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        if schema is None:
            return None
        from chinwag.schema_spec import parse_schema

        return parse_schema(schema, where="schema")

    def _blocks(self, attachments: Sequence[str | Path | Block]) -> tuple[Block, ...]:
        if not attachments:
            return ()
        from chinwag.attach import load

        provider = self._session.provider.name
        return tuple(load(str(a), provider).block if isinstance(a, (str, Path)) else a for a in attachments)

    def _consume(self, turn: SessionTurn, raise_errors: bool) -> Reply:
        for _ in self._drive(turn):
            pass
        last = self._session.last_reply
        assert last is not None
        recorder = self._session.recorder
        if last.message_id is None and recorder is not None and recorder.settle():  # written behind: its id
            last = self._session.last_reply = replace(last, message_id=recorder.reply_id)
        if raise_errors:
            last.raise_for_status()
        return last

    @staticmethod
    def _drive(turn: SessionTurn) -> Iterator[Event]:
        """The turn's events, pulled (driver.py: the caller's break cancels it)."""
        return TurnDriver(turn).pull()
