"""Saving one chat to the history: the session's only way to the store.

The history never stops the chat. What is to be saved goes into a queue of
operations in memory (a new conversation, a user message, a reply row, the
reply's latest text), keyed by local rows because a row's database id is only
known once it is written. The queue is written in order: at once on the
caller's thread when the database is open and no other process holds the
lock (busy timeout 0: it never waits; so the user's message is saved before
the request leaves), else by one writer thread, off the reply's path, waiting
at most BUSY_TIMEOUT_S for a lock and retrying at each later save point
(every SAVE_INTERVAL while a reply streams, else every RETRY_INTERVAL). A
reply's progressive saves coalesce to its latest text.

When saving fails the chat goes on: the reason ("disk full", "locked by
another process", "damaged", "read-only", see store_check.py) becomes one
notice line (`take_notices`), given once per fault, and one more when saving
works again. Faults that may clear keep the queue; the others (a damaged or
read-only database) stop saving for the session and leave the file untouched.
The queue itself is save_queue.py; this module is what the session calls.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, assert_never

from chinwag.errors import UsageError
from chinwag.events import (Event, Notice, Retrying, Stop, TextDelta, ThinkingDelta, ToolCallReady, ToolCallStart,
                            ToolInputDelta, ToolResultReady, ToolRunning, Usage)
from chinwag.records import Block, Message, Reply, ToolCall, ToolResult
from chinwag.save_queue import (
    BUSY_TIMEOUT_S,
    CLOSE_TIMEOUT_S,
    SAVE_INTERVAL,
    TEST_MAX_PAGES,
    SaveQueue,
    _Op,
    _Row,
)
from chinwag.store_blocks import blocks_and_blobs, blocks_json
from chinwag.store_schema import CANCELLED_QUESTION

if TYPE_CHECKING:
    from chinwag.store import Store

__all__ = ["SAVE_INTERVAL", "TEST_MAX_PAGES", "Recorder", "StoreSink"]


class Recorder(SaveQueue):
    """The history database for one chat, opened on first use, never in the way.

    `CHINWAG_TEST_MAX_PAGES` (in `environ`, default os.environ) is a test hook,
    not a setting: SQLite's max_page_count for the chat's connection, so the
    end-to-end tests can make the database "full" without a full disk."""

    withdrawn: Message | None = None  # after `resume`: its last question, if cancelled before any reply

    # -- the session's interface ---------------------------------------------

    @property
    def conversation_id(self) -> int | None:
        """The database id of the conversation being saved (None until written)."""
        return self._conversation.id if self._conversation is not None else None

    @conversation_id.setter
    def conversation_id(self, cid: int | None) -> None:
        self._conversation = _Row(cid) if cid is not None else None

    def open(self) -> Store | None:
        """Open the database now (the REPL's warm-up does, after the prompt is
        drawn). A fault becomes a notice, never an exception."""
        with self._write_lock:
            self._open_locked()
            return self._store

    def close(self) -> None:
        """Write what is still queued (waiting at most CLOSE_TIMEOUT_S for a
        lock) and close. What could not be written is lost, and told."""
        with self._cond:
            self._close_unended_reply()
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        if self._pending:
            self._flush(CLOSE_TIMEOUT_S, blocking=True)  # a failure here is told as any other
        with self._write_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def take_notices(self) -> list[str]:
        """One-line notices about saving since the last call (e.g. "disk full")."""
        with self._cond:
            notices, self._notices = self._notices, []
        return notices

    def resume(self, conversation_id: int | None) -> tuple[str | None, list[Message]]:
        """Continue a saved conversation (the latest when None): its latest
        system prompt and its messages. At start-up, so faults raise (ConfigError)."""
        from chinwag.store import Store
        from chinwag.store_check import refuse_if_damaged

        with self._write_lock:
            if self._store is None:
                refuse_if_damaged(self.path)
                self._store = Store.open(self.path, busy_timeout=BUSY_TIMEOUT_S, max_pages=self._max_pages)
            store = self._store
            cid = conversation_id if conversation_id is not None else store.latest_conversation_id()
            summary = store.conversation(cid) if cid is not None else None
            if summary is None:
                raise UsageError("no such conversation to continue." if conversation_id is None
                                 else f"no conversation {conversation_id}; see chinwag history list.")
            history = store.history_messages(summary.id)
            system = store.latest_system(summary.id)
            cancelled = store.cancelled_question(summary.id)
        self.conversation_id = summary.id
        with self._cond:
            self._system = system
            if cancelled is not None:  # the row /retry marks as asked again
                self._question = _Row(cancelled[0])
        self.withdrawn = cancelled[1] if cancelled is not None else None
        return system, history

    def new_conversation(self) -> None:
        """The next message opens a new saved conversation."""
        with self._cond:
            self._close_unended_reply()
            self._conversation = None
            self._reply = self._question = None

    def save_user(self, text: str, model: str, system: str | None, blocks: tuple[Block, ...] = ()) -> None:
        """Save the user's message (with its attachments, `blocks`) before the request leaves (or queue it)."""
        stored, blobs = blocks_and_blobs(blocks)
        with self._cond:
            self._close_unended_reply()
            if self._conversation is None:
                self._conversation = _Row()
                self._queue(_Op("conversation", self._conversation, model=model, system=system))
                self._system = system
            changed = system if system != self._system else None  # /system: saved with the question it goes with
            self._system = system
            self._question = _Row()
            self._queue(_Op("user", self._question, parent=self._conversation, text=text, model=model,
                            system=changed, blocks=stored, blobs=blobs))
        self._save_soon()

    def question_cancelled(self) -> bool:
        """The question this chat saved last was cancelled before any reply: marked
        so, it is not brought back to be sent (`chinwag -c`). False when this
        chat saved no question since it started or resumed (nothing to mark)."""
        return self._set_question_status(CANCELLED_QUESTION)

    def question_asked_again(self) -> None:
        """/retry after a cancel: the question counts again."""
        self._set_question_status("complete")

    def _set_question_status(self, status: str) -> bool:
        with self._cond:
            if self._question is None or self._conversation is None:
                return False
            self._queue(_Op("status", self._question, text=status))
        self._save_soon()
        return True

    def save_results(self, results: tuple[ToolResult, ...], model: str) -> None:
        """Save the results of a reply's tool calls, the next user message."""
        message = Message.of("user", results)
        with self._cond:
            if self._conversation is None:
                return
            self._queue(_Op("user", _Row(), parent=self._conversation, text=message.content, model=model,
                            blocks=blocks_json(message.parts)))
        self._save_soon()

    def tool_started(self, call: ToolCall) -> None:
        """Save `call` as running, before it runs: after a crash it shows as
        interrupted and is never run again on its own."""
        with self._cond:
            if self._reply is None:
                return
            row = self._calls[call.id] = _Row()
            self._queue(_Op("tool_start", row, parent=self._reply, text=call.id, model=call.name,
                            values={"input": json.dumps(dict(call.input), ensure_ascii=False)}))
        self._save_soon()

    def tool_finished(self, call: ToolCall, result: ToolResult) -> None:
        with self._cond:
            row = self._calls.pop(call.id, None)
            if row is None:
                return
            self._queue(_Op("tool_end", row, values={"status": result.status, "result": result.content}))
        self._save_soon()

    def begin_reply(self, model: str, prefill: str) -> None:
        """Make the row this turn's reply is saved in: a new one, or, for a
        /continue (`prefill` is the partial text), the row it extends."""
        with self._cond:
            if self._conversation is None or (prefill and self._reply is not None):
                return
            self._close_unended_reply()
            self._reply = _Row()
            self._queue(_Op("reply", self._reply, parent=self._conversation, model=model))
        self._save_soon()

    def reply_sink(self, prefill: str) -> StoreSink | None:
        """A sink saving into the current reply row (one per attempt: an
        overflow retry of the same turn saves into the same row). A turn that
        ends without any attempt (Ctrl-C before the request) should still end
        its row: `reply_sink(prefill).on_end(reply)`; else the next save point
        (a message, a reply, a new conversation, close) marks it interrupted."""
        with self._cond:
            if self._reply is None or self._stopped:
                return None
            return StoreSink(self, self._reply, prefill)

    # -- called by StoreSink -------------------------------------------------

    def _watch(self, sink: StoreSink) -> None:
        """`sink`'s reply is streaming: save its latest text every SAVE_INTERVAL."""
        with self._cond:
            if not self._sinks:
                self._next_tick = time.monotonic() + SAVE_INTERVAL
            self._sinks.append(sink)
            self._start_thread()
            self._cond.notify_all()

    def _reply_ended(self, sink: StoreSink, reply: Reply) -> None:
        with self._cond:
            sink.row.ended = True
            if sink in self._sinks:
                self._sinks.remove(sink)
            if not self._sinks:
                self._notices += self._after_reply
                self._after_reply = []
            self._update(sink.row, sink.prefix + reply.text, status=reply.status,
                         input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
                         ttft=reply.ttft, duration=reply.duration, stop_reason=reply.stop_reason,
                         blocks=blocks_json(reply.blocks))
        self._save_soon()


class StoreSink:
    """Saves the reply while it streams and at the end, so even `kill -9` leaves
    what was on screen in the history.

    On each text event it only keeps the latest snapshot (no copying, no
    lock, no database): the recorder's writer thread saves it every
    SAVE_INTERVAL, so text shown just before the stream stalls is saved too,
    and nothing about saving sits on the path from socket to screen. The end
    of the reply is queued, and written at once when that cannot wait."""

    def __init__(self, recorder: Recorder, row: _Row, prefix: str = "") -> None:
        self.recorder, self.row, self.prefix = recorder, row, prefix
        self._latest: Reply | None = None  # a snapshot newer than the database has, if any
        self._watched = False

    def on_start(self) -> None:
        pass

    def on_event(self, event: Event, reply: Reply) -> None:
        match event:
            case TextDelta() | ThinkingDelta() | ToolCallReady():
                self._latest = reply  # the snapshot, not its text: no copying per chunk
                if not self._watched:  # from the first text, not before the request
                    self._watched = True
                    self.recorder._watch(self)
            case ToolCallStart() | ToolInputDelta() | Usage() | Stop():
                pass  # saved with the reply's end (the call whole, with ToolCallReady)
            case Retrying() | Notice() | ToolRunning() | ToolResultReady():
                pass  # not the reply's (a call's result is saved by the tool loop)
            case _:
                assert_never(event)

    def on_end(self, reply: Reply) -> None:
        self._latest = None
        self.recorder._reply_ended(self, reply)

    def take(self) -> Reply | None:
        latest, self._latest = self._latest, None
        return latest
