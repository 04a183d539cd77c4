"""The recorder's moves in the conversation's tree: reading the tree, moving
the leaf, forking; a base of the Recorder (recorder.py), which keeps where
the chat is. They run between turns (the caller refuses them while a reply
streams), on the store once everything queued is written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from chinwag.errors import ChinwagError, UsageError
from chinwag.history.queue import SaveQueue
from chinwag.interrupts import held_back

# The operations, the schema and the records are imported where they are used:
# the Recorder (and so this base) is made before the prompt is drawn (start-up).
if TYPE_CHECKING:
    from chinwag.history.ops import Row
    from chinwag.history.schema import StoredMessage
    from chinwag.history.store import Store
    from chinwag.records import Message
    from chinwag.tree import Tree

SETTLE_TIMEOUT_S = 2.0  # a tree operation's wait for the queue to be written
HISTORY_BUSY = "the history is busy (another process is writing to it); try again in a moment."


class Branching:
    """The Recorder's tree operations (the state is the Recorder's)."""

    _lock: threading.Lock
    _queue: SaveQueue
    _conversation: Row | None
    _leaf: Row | None
    _reply: Row | None
    _question: Row | None
    _system: str | None
    _asked_system: tuple[str | None, str | None] | None

    def leaf_id(self) -> int | None:
        """The database id of the end of the path the next message is saved under
        (while a turn runs, its reply's row); None for an empty path. Known in
        memory once written: waits (at most SETTLE_TIMEOUT_S) only for a row
        still queued."""
        with held_back, self._lock:
            leaf = self._leaf
        if leaf is not None and leaf.id is None:
            self.settle()
        return leaf.id if leaf is not None else None

    def tree(self) -> Tree:
        """The conversation's tree as saved (empty before its first message is)."""
        from chinwag.tree import Tree

        with self._saved() as (store, cid):
            return store.tree(cid) if cid is not None else Tree({}, None)

    def message(self, mid: int) -> StoredMessage:
        """Message `mid` of this conversation, its attachments with their bytes."""
        with self._saved() as (store, cid):
            found = store.message(mid)
        if found is None or found.conversation_id != cid:
            raise UsageError(f"there is no message {mid} in this conversation.")
        return found

    def stored_path(self, leaf: int) -> list[StoredMessage]:
        """The saved messages from the root to `leaf`, every one (see `move_leaf` for the sendable ones)."""
        with self._saved() as (store, cid):
            return store.path_messages(cid, leaf) if cid is not None else []

    def move_leaf(self, mid: int | None) -> list[Message]:
        """Make `mid` the leaf (None: an empty path, the next message a new root);
        the messages of the path to it, as they are sent."""
        with self._saved() as (store, cid):
            if cid is None:
                if mid is None:
                    return []
                raise UsageError(f"there is no message {mid} in this conversation.")
            store.set_leaf(cid, mid)
            leaf = leaf_row(store, mid)
            history = store.history_messages(cid, mid) if mid is not None else []
            self._moved(leaf, store.latest_system(cid))
        return history

    def fork(self) -> int:
        """Copy the path into a new conversation, and go on saving there; its id."""
        from chinwag.history.ops import Row

        with self._saved() as (store, cid):
            if cid is None:
                raise UsageError("there is nothing to fork yet: ask something first.")
            copy = store.fork(cid)
            leaf = leaf_row(store, store.leaf(copy))
            self._conversation = Row(copy)
            self._moved(leaf, store.latest_system(copy))
        return copy

    def _moved(self, leaf: Row | None, system: str | None) -> None:
        """(Holding the lock.) The next message is saved under `leaf`, on a path
        whose latest question went with `system` (a /system differing from it is
        saved with the next question)."""
        self._queue.end_unended(self._reply)
        self._leaf, self._reply, self._question = leaf, None, None
        self._system, self._asked_system = system, None

    def settle(self, seconds: float = SETTLE_TIMEOUT_S) -> bool:
        """Wait at most `seconds` for everything queued to be written (or saving to
        stop); whether it was. For the API's ids, and before the tree is read."""
        deadline = time.monotonic() + seconds
        self._queue.save_soon()
        while not self._queue.settled():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
            self._queue.save_soon()
        return True

    @contextmanager
    def _saved(self) -> Iterator[tuple[Store, int | None]]:
        """The store once everything queued is written, holding the lock, with
        this conversation's id. A fault is a UsageError: one line, the chat goes on."""
        from chinwag.history.check import StorageError

        if not self.settle():
            raise UsageError(HISTORY_BUSY)
        try:
            with held_back, self._lock, self._queue.reading() as store:
                yield store, self._conversation.id if self._conversation is not None else None
        except UsageError:
            raise
        except ChinwagError as exc:  # locked, full, damaged, read-only, a newer chinwag's database
            reason = exc.reason if isinstance(exc, StorageError) else exc.message
            raise UsageError(f"the history cannot be used just now ({reason}); the chat goes on, try again.") from exc


def leaf_row(store: Store, mid: int | None) -> Row | None:
    """The row a saved message is as the leaf: its id, role and parent."""
    from chinwag.history.ops import Row

    found = store.message(mid) if mid is not None else None
    if found is None:
        return None
    parent = Row(found.parent_id) if found.parent_id is not None else None
    return Row(found.id, parent=parent, role=found.role)
