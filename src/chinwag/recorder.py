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
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chinwag.errors import ChinwagError, UsageError
from chinwag.events import Event, TextDelta, ThinkingDelta, ToolCallReady
from chinwag.records import Block, Message, Reply, ToolCall, ToolResult
from chinwag.store_blocks import Blob, blocks_and_blobs, blocks_json

if TYPE_CHECKING:
    from chinwag.store import Store

SAVE_INTERVAL = 0.25  # seconds between progressive saves of a streaming reply
RETRY_INTERVAL = 1.0  # seconds between tries while saving fails and no reply streams
BUSY_TIMEOUT_S = 0.25  # the writer thread's wait for another process's lock
CLOSE_TIMEOUT_S = 1.0  # the last try at exit: bounded, never a hang
TEST_MAX_PAGES = "CHINWAG_TEST_MAX_PAGES"  # test hook: cap the database's size (see Recorder)


@dataclass(eq=False)
class _Row:
    """A conversation or a reply, before and after the database gives it an id."""

    id: int | None = None
    values: dict[str, Any] | None = None  # a reply's text to write next (coalesced)
    queued: bool = False  # an "update" for this reply is in the queue
    ended: bool = False  # a reply's end has been queued


@dataclass(eq=False)
class _Op:
    kind: Literal["conversation", "user", "reply", "update", "tool_start", "tool_end"]
    row: _Row  # the conversation (conversation, user), the reply (reply, update), the call (tool_*)
    parent: _Row | None = None  # a reply's conversation; a tool call's reply
    text: str = ""
    model: str | None = None
    system: str | None = None
    values: dict[str, Any] = field(default_factory=dict)  # an update's, when taken from the row
    blocks: str | None = None  # a user message's blocks (tool results, attachments), as JSON
    blobs: tuple[Blob, ...] = ()  # a user message's attachments, stored by hash beside its blocks


class Recorder:
    """The history database for one chat, opened on first use, never in the way.

    `CHINWAG_TEST_MAX_PAGES` (in `environ`, default os.environ) is a test hook,
    not a setting: SQLite's max_page_count for the chat's connection, so the
    end-to-end tests can make the database "full" without a full disk."""

    def __init__(self, path: Path, environ: Mapping[str, str] | None = None) -> None:
        self.path = path
        hook = (os.environ if environ is None else environ).get(TEST_MAX_PAGES, "")
        self._max_pages = int(hook) if hook.isdigit() else None
        self._store: Store | None = None
        self._write_lock = threading.Lock()  # held while the connection is in use
        self._cond = threading.Condition()  # guards everything below
        self._pending: list[_Op] = []
        self._sinks: list[StoreSink] = []  # replies streaming now
        self._conversation: _Row | None = None
        self._reply: _Row | None = None
        self._calls: dict[str, _Row] = {}  # tool calls saved as running, by call id
        self._notices: list[str] = []
        self._after_reply: list[str] = []  # notices about a reply, told when it ends
        self._fault: str | None = None  # the reason last told, while it lasts
        self._held_back = False  # something failed to save and waits in the queue
        self._stopped = False  # a fault that will not clear: saving is off
        self._flush_now = False
        self._next_tick = self._next_retry = 0.0
        self._closing = False
        self._thread: threading.Thread | None = None

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
        """Continue a saved conversation (the latest when None): its system
        prompt and messages. At start-up, so faults raise (ConfigError)."""
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
        self.conversation_id = summary.id
        return summary.system, history

    def new_conversation(self) -> None:
        """The next message opens a new saved conversation."""
        with self._cond:
            self._close_unended_reply()
            self._conversation = None
            self._reply = None

    def save_user(self, text: str, model: str, system: str | None, blocks: tuple[Block, ...] = ()) -> None:
        """Save the user's message (with its attachments, `blocks`) before the request leaves (or queue it)."""
        stored, blobs = blocks_and_blobs(blocks)
        with self._cond:
            self._close_unended_reply()
            if self._conversation is None:
                self._conversation = _Row()
                self._queue(_Op("conversation", self._conversation, model=model, system=system))
            self._queue(_Op("user", self._conversation, text=text, model=model, blocks=stored, blobs=blobs))
        self._save_soon()

    def save_results(self, results: tuple[ToolResult, ...], model: str) -> None:
        """Save the results of a reply's tool calls, the next user message."""
        message = Message.of("user", results)
        with self._cond:
            if self._conversation is None:
                return
            self._queue(_Op("user", self._conversation, text=message.content, model=model,
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

    # -- the queue ------------------------------------------------------------

    def _queue(self, op: _Op) -> None:
        if not self._stopped:
            self._pending.append(op)

    def _update(self, row: _Row, text: str, **values: Any) -> None:
        """Queue the reply's latest text; an update already queued for it is replaced."""
        if self._stopped:
            return
        row.values = {"text": text, **values}
        if not row.queued:
            row.queued = True
            self._pending.append(_Op("update", row))

    def _close_unended_reply(self) -> None:
        """(Holding _cond.) The current reply row, if no sink ever ended it (its
        turn was cancelled before the request), ends empty and "interrupted"."""
        row = self._reply
        if row is not None and not row.ended and all(sink.row is not row for sink in self._sinks):
            row.ended = True
            self._update(row, "", status="interrupted")

    def _save_soon(self) -> None:
        """Write the queue now if that cannot wait on anything (the database is
        open, no lock to wait for), else wake the writer."""
        with self._cond:
            ready = self._store is not None and not self._stopped
        if not (ready and self._flush(0.0, blocking=False)):
            with self._cond:
                if self._pending and not self._stopped:
                    self._flush_now = True
                    self._start_thread()
                    self._cond.notify_all()

    def _flush(self, busy_timeout: float, *, blocking: bool) -> bool:
        """Write the queue in order, stopping at the first failure. True when it
        is empty afterwards. With no wait (`busy_timeout` 0) a lock is not a
        fault yet: the writer thread waits for it, and tells if it must."""
        if not self._write_lock.acquire(blocking=blocking):
            return False
        try:
            if self._store is None and not self._open_locked():
                return False
            assert self._store is not None
            with self._store.waiting(busy_timeout):
                while (op := self._next_op()) is not None:
                    if not self._apply(self._store, op, quiet_lock=busy_timeout == 0):
                        return False
            with self._cond:
                if self._held_back and not self._pending:
                    self._held_back, self._fault = False, None
                    self._notices.append("history is being saved again")
            return True
        except ChinwagError as exc:  # setting the busy timeout failed: the connection is unusable
            self._failed(exc, during_reply=False)
            return False
        finally:
            self._write_lock.release()

    def _next_op(self) -> _Op | None:
        with self._cond:
            if not self._pending or self._stopped:
                return None
            op = self._pending.pop(0)
            if op.kind == "update":
                op.values, op.row.values, op.row.queued = op.row.values or {}, None, False
            return op

    def _apply(self, store: Store, op: _Op, quiet_lock: bool) -> bool:
        """Write one operation; False (the fault recorded) when it failed."""
        target = op.parent if op.kind in ("reply", "tool_start") else op.row
        try:
            if op.kind == "conversation":
                op.row.id = store.start_conversation(op.model, op.system)
            elif target is None or target.id is None:
                pass  # its conversation was deleted meanwhile: nothing to attach it to
            elif op.kind == "user":
                store.add_message(target.id, "user", op.text, model=op.model, blocks=op.blocks, blobs=op.blobs)
            elif op.kind == "reply":
                op.row.id = store.begin_reply(target.id, model=op.model)
            elif op.kind == "tool_start":
                op.row.id = store.start_tool_call(target.id, op.text, op.model or "", op.values["input"])
            elif op.kind == "tool_end":
                store.end_tool_call(target.id, op.values["status"], op.values["result"])
            else:
                values = dict(op.values)
                store.update_reply(target.id, values.pop("text"), **values)
            return True
        except UsageError:  # the conversation was deleted meanwhile (`chinwag history delete`)
            if target is not None:
                target.id = None
            with self._cond:
                self._notices.append("this conversation was deleted from the history; it is no longer saved")
            return True
        except ChinwagError as exc:
            with self._cond:
                if op.kind != "update":
                    self._pending.insert(0, op)
                elif not op.row.queued:  # nothing newer queued meanwhile: keep these values
                    op.row.values, op.row.queued = op.values, True
                    self._pending.insert(0, _Op("update", op.row))
            self._failed(exc, during_reply=op.kind in ("reply", "update"), quiet_lock=quiet_lock)
            return False

    def _failed(self, exc: ChinwagError, during_reply: bool, quiet_lock: bool = False) -> None:
        """Record a failure: keep the queue if it may clear, else stop saving;
        a notice if this fault is new. A reply's is told when the reply ends."""
        from chinwag.store_check import LOCKED, StorageError, not_saved

        reason = exc.reason if isinstance(exc, StorageError) else exc.message
        if quiet_lock and reason == LOCKED:
            return  # no wait was allowed: the writer thread waits, and tells if it must
        with self._cond:
            self._held_back = True
            if not (isinstance(exc, StorageError) and exc.transient):
                self._stopped, self._pending = True, []
            self._next_retry = time.monotonic() + RETRY_INTERVAL
            if reason == self._fault:
                return
            self._fault = reason
            if not during_reply:
                self._notices.append(not_saved(reason, self.path))
            elif self._sinks:
                self._after_reply.append(f"this reply could not be saved: {reason}")
            else:
                self._notices.append(f"this reply could not be saved: {reason}")

    # -- opening ----------------------------------------------------------------

    def _open_locked(self) -> bool:
        """Open the store (the caller holds the write lock). False, with the
        fault recorded, when it cannot be used now."""
        if self._store is not None:
            return True
        if self._stopped:
            return False
        from chinwag.store import Store
        from chinwag.store_check import FULL, READ_ONLY, StorageError, disk_is_full, not_saved, refuse_if_damaged
        from chinwag.store_check import writable

        try:
            refuse_if_damaged(self.path)
            if not writable(self.path):  # SQLite would open it read-only and fail at the first save
                raise StorageError(f"the history database {self.path} is read-only", READ_ONLY)
            store = Store.open(self.path, busy_timeout=BUSY_TIMEOUT_S, max_pages=self._max_pages)
        except ChinwagError as exc:  # a StorageError, or e.g. a newer chinwag's database
            self._failed(exc, during_reply=False)
            return False
        self._store = store
        try:
            full = disk_is_full(self.path) or not store.room_to_grow()
        except ChinwagError:
            full = False
        if full:
            with self._cond:
                if self._fault is None:
                    self._fault = FULL
                    self._notices.append(not_saved(FULL, self.path))
        return True

    # -- the writer thread ------------------------------------------------------

    def _start_thread(self) -> None:
        """(Holding _cond.) One writer thread for the chat, started on first need."""
        if self._thread is None and not self._closing:
            self._thread = threading.Thread(target=self._write_behind, name="chinwag-save", daemon=True)
            self._thread.start()

    def _write_behind(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._closing:
                        return
                    self._cond.wait(self._wait_time())
                if self._closing:
                    return
                self._flush_now = False
                if self._sinks and time.monotonic() >= self._next_tick:
                    self._next_tick = time.monotonic() + SAVE_INTERVAL
                    for sink in self._sinks:
                        if (latest := sink.take()) is not None:
                            self._update(sink.row, sink.prefix + latest.text, status="streaming")
            self._flush(BUSY_TIMEOUT_S, blocking=True)

    def _due(self) -> bool:
        now = time.monotonic()
        return (self._closing or self._flush_now or (bool(self._sinks) and now >= self._next_tick)
                or (bool(self._pending) and not self._stopped and now >= self._next_retry))

    def _wait_time(self) -> float | None:
        now = time.monotonic()
        times = [self._next_tick - now] if self._sinks else []
        if self._pending and not self._stopped:
            times.append(self._next_retry - now)
        return max(min(times), 0.001) if times else None


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
        if isinstance(event, (TextDelta, ThinkingDelta, ToolCallReady)):
            self._latest = reply  # the snapshot, not its text: no copying per chunk
            if not self._watched:  # from the first text, not before the request
                self._watched = True
                self.recorder._watch(self)

    def on_end(self, reply: Reply) -> None:
        self._latest = None
        self.recorder._reply_ended(self, reply)

    def take(self) -> Reply | None:
        latest, self._latest = self._latest, None
        return latest
