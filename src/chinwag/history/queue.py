"""The recorder's write-behind queue: what is to be saved, written in order,
never in the chat's way (see recorder.py for the whole story).

The queue holds typed operations (ops.py). `SaveQueue` writes them at once on
the caller's thread when that cannot wait on anything, else from one writer
thread, and turns failures into notices (check.py names the reason). It
knows nothing of conversations: the Recorder that owns it decides what to
queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from chinwag.errors import ChinwagError, ConversationDeleted
from chinwag.interrupts import held_back

if TYPE_CHECKING:
    from chinwag.history.ops import Op, Row
    from chinwag.history.store import Store
    from chinwag.records import Reply

SAVE_INTERVAL = 0.25  # seconds between progressive saves of a streaming reply
RETRY_INTERVAL = 1.0  # seconds between tries while saving fails and no reply streams
BUSY_TIMEOUT_S = 0.25  # the writer thread's wait for another process's lock
CLOSE_TIMEOUT_S = 1.0  # the last try at exit: bounded, never a hang


class Streaming(Protocol):
    """A reply streaming into `row` (the recorder's StoreSink)."""

    @property
    def row(self) -> Row: ...

    @property
    def prefix(self) -> str: ...  # a /continue's partial text, saved before the new text

    def take(self) -> Reply | None:
        """The reply's latest snapshot, if newer than the last one taken."""
        ...


class SaveQueue:
    """The queue, the connection and the writer thread of one chat's Recorder.

    `max_pages` caps the database's size in pages for this connection
    (SQLite's max_page_count; None: no cap)."""

    def __init__(self, path: Path, max_pages: int | None = None) -> None:
        self.path = path
        self._max_pages = max_pages
        self._store: Store | None = None
        # Every section is `with held_back, lock:` (interrupts.py): no signal's
        # handler raises inside it, and the lock is entered by `with` itself,
        # never through the Condition (whose __enter__, being Python, a handler
        # could interrupt between acquiring and entering: the lock stayed held).
        self._write_lock = threading.Lock()  # held while the connection is in use
        self._lock = threading.RLock()  # guards everything below
        self._cond = threading.Condition(self._lock)  # (holding _lock) the writer thread waits on it
        self._pending: list[Op] = []
        self._sinks: list[Streaming] = []  # replies streaming now
        self._notices: list[str] = []
        self._after_reply: list[str] = []  # notices about a reply, told when it ends
        self._fault: str | None = None  # the reason last told, while it lasts
        self._unsaved = False  # something failed to save and waits in the queue
        self._stopped = False  # a fault that will not clear: saving is off
        self._flush_now = False
        self._next_tick = self._next_retry = 0.0
        self._closing = False
        self._thread: threading.Thread | None = None

    # -- what the recorder calls --------------------------------------------------

    @property
    def stopped(self) -> bool:
        """Saving is off for the session (a fault that will not clear)."""
        with held_back, self._lock:
            return self._stopped

    def put(self, *ops: Op) -> None:
        """Queue `ops` in order (together: the writer sees all or none). Call
        `save_soon` afterwards."""
        with held_back, self._lock:
            if not self._stopped:
                self._pending.extend(ops)

    def update(self, row: Row, text: str, **values: Any) -> None:
        """Queue the reply's latest text; an update already queued for it is replaced."""
        with held_back, self._lock:
            self._update(row, text, **values)

    def end_unended(self, row: Row | None) -> None:
        """The reply `row`, if no sink ever ended it (its turn was cancelled
        before the request), ends empty and "interrupted"."""
        with held_back, self._lock:
            if row is not None and not row.ended and all(sink.row is not row for sink in self._sinks):
                row.ended = True
                self._update(row, "", status="interrupted")

    def save_soon(self) -> None:
        """Write the queue now if that cannot wait on anything (the database is
        open, no lock to wait for), else wake the writer."""
        with held_back, self._lock:
            ready = self._store is not None and not self._stopped
        if not (ready and self._flush(0.0, blocking=False)):
            with held_back, self._lock:
                if self._pending and not self._stopped:
                    self._flush_now = True
                    self._start_thread()
                    self._cond.notify_all()

    def watch(self, sink: Streaming) -> None:
        """`sink`'s reply is streaming: save its latest text every SAVE_INTERVAL."""
        with held_back, self._lock:
            if not self._sinks:
                self._next_tick = time.monotonic() + SAVE_INTERVAL
            self._sinks.append(sink)
            self._start_thread()
            self._cond.notify_all()

    def reply_ended(self, sink: Streaming, text: str, **values: Any) -> None:
        """`sink`'s reply ended with `text`: queue it (call `save_soon` after);
        notices held back while replies streamed are told when the last ends."""
        with held_back, self._lock:
            sink.row.ended = True
            if sink in self._sinks:
                self._sinks.remove(sink)
            if not self._sinks:
                self._notices += self._after_reply
                self._after_reply = []
            self._update(sink.row, text, **values)

    def take_notices(self) -> list[str]:
        """One-line notices about saving since the last call (e.g. "disk full")."""
        with held_back, self._lock:
            notices, self._notices = self._notices, []
        return notices

    def open(self) -> Store | None:
        """Open the database now. A fault becomes a notice, never an exception."""
        with held_back, self._write_lock:
            self._open_locked()
            return self._store

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """The store, opened now if it is not (faults raise: ConfigError,
        StorageError), for reads while no write is under way."""
        from chinwag.history.check import refuse_if_damaged
        from chinwag.history.store import Store

        with held_back, self._write_lock:
            if self._store is None:
                refuse_if_damaged(self.path)
                self._store = Store.open(self.path, busy_timeout=BUSY_TIMEOUT_S, max_pages=self._max_pages)
            yield self._store

    def settled(self) -> bool:
        """Everything queued is written, or saving has stopped (after any write under way)."""
        with held_back, self._write_lock, self._lock:
            return not self._pending or self._stopped

    def close(self) -> None:
        """Write what is still queued (waiting at most CLOSE_TIMEOUT_S for a
        lock) and close. What could not be written is lost, and told."""
        with held_back, self._lock:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            # Bounded, as every wait at exit: a writer still waiting for another
            # process's lock is left to end with the process; what it did not
            # write is written below, from this thread.
            self._thread.join(CLOSE_TIMEOUT_S)
        if self._pending:
            self._flush(CLOSE_TIMEOUT_S, blocking=True)  # a failure here is told as any other
        with held_back, self._write_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- writing ------------------------------------------------------------------

    def _update(self, row: Row, text: str, **values: Any) -> None:
        """(Holding _lock.) See `update`."""
        from chinwag.history.ops import UpdateReply

        if self._stopped:
            return
        row.values = {"text": text, **values}
        if not row.queued:
            row.queued = True
            self._pending.append(UpdateReply(row))

    def _flush(self, busy_timeout: float, *, blocking: bool) -> bool:
        """Write the queue in order, stopping at the first failure. True when it
        is empty afterwards. With no wait (`busy_timeout` 0) a lock is not a
        fault yet: the writer thread waits for it, and tells if it must."""
        with held_back:  # (on the main thread: nothing raises between the acquire and the try)
            return self._flush_held(busy_timeout, blocking=blocking)

    def _flush_held(self, busy_timeout: float, *, blocking: bool) -> bool:
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
            with held_back, self._lock:
                if self._unsaved and not self._pending:
                    self._unsaved, self._fault = False, None
                    self._notices.append("history is being saved again")
            return True
        except ChinwagError as exc:  # setting the busy timeout failed: the connection is unusable
            self._failed(exc, during_reply=False)
            return False
        finally:
            self._write_lock.release()

    def _next_op(self) -> Op | None:
        from chinwag.history.ops import UpdateReply

        with held_back, self._lock:
            if not self._pending or self._stopped:
                return None
            op = self._pending.pop(0)
            if isinstance(op, UpdateReply):  # the reply's latest values, taken now
                op = UpdateReply(op.reply, op.reply.values or {})
                op.reply.values, op.reply.queued = None, False
            return op

    def _apply(self, store: Store, op: Op, quiet_lock: bool) -> bool:
        """Write one operation; False (the fault recorded) when it failed."""
        from chinwag.history.ops import BeginReply, UpdateReply, target, write

        try:
            write(store, op)
            return True
        except ConversationDeleted:  # meanwhile, by `chinwag history delete` or the page
            target(op).id = None
            with held_back, self._lock:
                self._notices.append("this conversation was deleted from the history; it is no longer saved")
            return True
        except ChinwagError as exc:
            with held_back, self._lock:
                if not isinstance(op, UpdateReply):
                    self._pending.insert(0, op)
                elif not op.reply.queued:  # nothing newer queued meanwhile: keep these values
                    op.reply.values, op.reply.queued = dict(op.values or {}), True
                    self._pending.insert(0, UpdateReply(op.reply))
            self._failed(exc, during_reply=isinstance(op, (BeginReply, UpdateReply)), quiet_lock=quiet_lock)
            return False

    def _failed(self, exc: ChinwagError, during_reply: bool, quiet_lock: bool = False) -> None:
        """Record a failure: keep the queue if it may clear, else stop saving;
        a notice if this fault is new. A reply's is told when the reply ends."""
        from chinwag.history.check import LOCKED, StorageError, not_saved

        reason = exc.reason if isinstance(exc, StorageError) else exc.message
        if quiet_lock and reason == LOCKED:
            return  # no wait was allowed: the writer thread waits, and tells if it must
        with held_back, self._lock:
            self._unsaved = True
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
            with held_back, self._lock:
                if self._fault is None:
                    self._fault = FULL
                    self._notices.append(not_saved(FULL, self.path))
        return True

    # -- the writer thread ------------------------------------------------------

    def _start_thread(self) -> None:
        """(Holding _lock.) One writer thread for the chat, started on first need."""
        if self._thread is None and not self._closing:
            self._thread = threading.Thread(target=self._write_behind, name="chinwag-save", daemon=True)
            self._thread.start()

    def _write_behind(self) -> None:
        while True:
            with held_back, self._lock:
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
