"""Saving one chat to the history: the session's only way to the store.

`Recorder` opens the database lazily (after the prompt is drawn), saves the
user's message before the request leaves, and hands each turn a `StoreSink`
that saves the reply while it streams. Problems with saving are collected as
one-line notices the session shows (`take_notices`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from chinwag.errors import ChinwagError, ConfigError, UsageError
from chinwag.events import Event, TextDelta
from chinwag.records import Message, Reply

if TYPE_CHECKING:
    from chinwag.store import Store

SAVE_INTERVAL = 0.25  # seconds between progressive saves of a streaming reply
SQLITE_HEADER = b"SQLite format 3\x00"


class Recorder:
    """The history database for one chat, opened on first use.

    sqlite3 and the store cost ~8 ms to import and open: the REPL's warm-up
    opens it just after the prompt is drawn, one-shot use when the question
    is saved. A file that is plainly not a database is refused at once, before
    any prompt, and never touched; subtler damage shows at first use, with
    the same one-line error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conversation_id: int | None = None
        self._reply_id: int | None = None
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._notices: list[str] = []
        _refuse_if_not_a_database(path)

    def open(self) -> Store:
        with self._lock:
            if self._store is None:
                from chinwag.store import Store

                self._store = Store.open(self.path)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()

    def take_notices(self) -> list[str]:
        """One-line notices about saving since the last call (e.g. "disk full")."""
        notices, self._notices = self._notices, []
        return notices

    def resume(self, conversation_id: int | None) -> tuple[str | None, list[Message]]:
        """Continue a saved conversation (the latest when None): its system prompt and messages."""
        store = self.open()
        cid = conversation_id if conversation_id is not None else store.latest_conversation_id()
        summary = store.conversation(cid) if cid is not None else None
        if summary is None:
            raise UsageError("no such conversation to continue." if conversation_id is None
                             else f"no conversation {conversation_id}; see chinwag history list.")
        self.conversation_id = cid
        messages = [Message(role, text) for role, text in store.history_for_model(summary.id)]  # type: ignore[arg-type]
        return summary.system, messages

    def new_conversation(self) -> None:
        """The next message opens a new saved conversation."""
        self.conversation_id = None
        self._reply_id = None

    def save_user(self, text: str, model: str, system: str | None) -> None:
        """Save the user's message before the request leaves."""
        store = self.open()
        if self.conversation_id is None:
            self.conversation_id = store.start_conversation(model, system)
        store.add_message(self.conversation_id, "user", text, model=model)

    def begin_reply(self, model: str, prefill: str) -> None:
        """Make the row this turn's reply is saved in: a new one, or, for a
        /continue (`prefill` is the partial text), the row it extends."""
        if self.conversation_id is not None and (not prefill or self._reply_id is None):
            self._reply_id = self.open().begin_reply(self.conversation_id, model=model)

    def reply_sink(self, prefill: str) -> StoreSink | None:
        """A sink saving into the current reply row (one per attempt: an
        overflow retry of the same turn saves into the same row)."""
        if self.conversation_id is None or self._reply_id is None:
            return None
        return StoreSink(self.open(), self._reply_id, prefill)


class StoreSink:
    """Saves the reply while it streams and at the end, so even `kill -9` leaves
    what was on screen in the history.

    A timer thread writes the latest text every SAVE_INTERVAL while it is
    newer than what was saved: text shown just before the stream stalls is
    saved too, and no database write sits on the path from socket to screen.
    """

    def __init__(self, store: Store, reply_id: int, prefix: str = "") -> None:
        self.store, self.reply_id, self.prefix = store, reply_id, prefix
        self._latest: Reply | None = None  # a snapshot newer than the database has, if any
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._save_periodically, name="chinwag-save", daemon=True)

    def on_start(self) -> None:
        pass

    def on_event(self, event: Event, reply: Reply) -> None:
        if isinstance(event, TextDelta):
            self._latest = reply  # the snapshot, not its text: no copying per chunk
            if self._thread.ident is None:  # not started: start with the first text, not before the request
                self._thread.start()

    def on_end(self, reply: Reply) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            self.store.update_reply(
                self.reply_id,
                self.prefix + reply.text,
                status=reply.status,
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                ttft=reply.ttft,
                duration=reply.duration,
                stop_reason=reply.stop_reason,
            )

    def _save_periodically(self) -> None:
        while not self._done.wait(SAVE_INTERVAL):
            latest, self._latest = self._latest, None
            if latest is not None:
                with self._lock:
                    try:
                        self.store.update_reply(self.reply_id, self.prefix + latest.text, status="streaming")
                    except ChinwagError:
                        pass  # e.g. locked for long by another process: the final save reports it


def _refuse_if_not_a_database(path: Path) -> None:
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot read the history database {path} ({exc.strerror}); "
                          "run with --no-save to chat without saving") from exc
    if header and header != SQLITE_HEADER:
        raise ConfigError(f"cannot use the history database {path} (file is not a database); it was left as"
                          " it is: move it aside, or run with --no-save to chat without saving")
