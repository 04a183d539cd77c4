"""The recorder's write-behind queue: what is to be saved, written in order,
never in the chat's way (see recorder.py for the whole story).

Operations are keyed by local rows (`_Row`) because a row's database id is
only known once it is written. `SaveQueue` writes them at once on the
caller's thread when that cannot wait on anything, else from one writer
thread, and turns failures into notices (store_check.py names the reason).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chinwag.errors import ChinwagError, UsageError
from chinwag.history.blocks import Blob

if TYPE_CHECKING:
    from chinwag.history.recorder import StoreSink
    from chinwag.history.store import Store

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
    kind: Literal["conversation", "user", "status", "reply", "update", "tool_start", "tool_end"]
    row: _Row  # the conversation, the user message (user, status), the reply (reply, update), the call (tool_*)
    parent: _Row | None = None  # a user message's or a reply's conversation; a tool call's reply
    text: str = ""
    model: str | None = None
    system: str | None = None
    values: dict[str, Any] = field(default_factory=dict)  # an update's, when taken from the row
    blocks: str | None = None  # a user message's blocks (tool results, attachments), as JSON
    blobs: tuple[Blob, ...] = ()  # a user message's attachments, stored by hash beside its blocks


class SaveQueue:
    """The queue, the connection and the writer thread of one chat's Recorder."""

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
        self._question: _Row | None = None  # the last user question saved (not tool results)
        self._system: str | None = None  # the system prompt of the conversation's latest question
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
        target = op.parent if op.kind in ("user", "reply", "tool_start") else op.row
        try:
            if op.kind == "conversation":
                op.row.id = store.start_conversation(op.model, op.system)
            elif target is None or target.id is None:
                pass  # its conversation was deleted meanwhile: nothing to attach it to
            elif op.kind == "user":
                op.row.id = store.add_message(target.id, "user", op.text, model=op.model, blocks=op.blocks,
                                              blobs=op.blobs, system=op.system)
            elif op.kind == "status":
                store.set_question_status(target.id, op.text)
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
        from chinwag.history.check import LOCKED, StorageError, not_saved

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
        from chinwag.history.store import Store
        from chinwag.history.check import FULL, READ_ONLY, StorageError, disk_is_full, not_saved, refuse_if_damaged
        from chinwag.history.check import writable

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
