"""Turning settings and flags into a ready Session: the prompt, the store, resumption."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from chinwag.config import Settings
from chinwag.errors import ConfigError, UsageError
from chinwag.records import Message
from chinwag.session import Session
from chinwag.turn import Conversation

if TYPE_CHECKING:
    from chinwag.store import Store


def read_prompt(words: Sequence[str], stdin: TextIO, file: str | None = None) -> str | None:
    """The one-shot prompt (words, then a --file or piped stdin), or None for the REPL."""
    piped = _read_file(file) if file else None if stdin is None or stdin.isatty() else _read_stdin(stdin)
    if not words and piped is None:
        return None
    text = " ".join(words).strip()
    if piped and piped.strip():
        text = f"{text}\n\n{piped.strip()}" if text else piped.strip()
    if not text:
        raise UsageError("the prompt is empty; type a question, e.g. chinwag \"hello\".")
    return text


def _read_file(name: str) -> str:
    try:
        return Path(name).expanduser().read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the prompt file {name} is not UTF-8 text.") from None
    except OSError as exc:
        raise UsageError(f"cannot read the prompt file {name}: {exc.strerror}.") from None


def _read_stdin(stdin: TextIO) -> str:
    data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"standard input is not UTF-8 text (byte {exc.start}).") from None


def open_session(settings: Settings, environ: Mapping[str, str], *,
                 resume: int | None = None, continue_last: bool = False) -> Session:
    from chinwag.providers.factory import LazyProvider

    store = None
    if settings.save:
        from chinwag.paths import database_file

        store = LazyStore(database_file(environ))
    session = Session(settings, LazyProvider(settings), Conversation(settings.system), store)  # type: ignore[arg-type]
    if resume is not None or continue_last:
        _resume(session, resume)
    return session


SQLITE_HEADER = b"SQLite format 3\x00"


class LazyStore:
    """The history database (a chinwag.store.Store), opened on first use.

    sqlite3 and the store cost ~8 ms to import and open: the REPL's warm-up
    opens it just after the prompt is drawn, one-shot use when the question
    is saved. A file that is plainly not a database is refused at once, before
    any prompt, and never touched; subtler damage shows at first use, with
    the same one-line error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store: Store | None = None
        self._lock = threading.Lock()
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

    def __getattr__(self, name: str) -> Any:
        return getattr(self.open(), name)


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


def model_switcher(session: Session, environ: Mapping[str, str], cwd: Path,
                   flags: Mapping[str, Any]) -> Callable[[str], None]:
    """For /model SPEC: new settings and provider, same conversation."""
    def switch(spec: str) -> None:
        from chinwag.config import resolve
        from chinwag.providers.factory import make_provider

        settings = resolve(environ, cwd, {**flags, "model": spec})
        session.provider = make_provider(settings)  # built now: a bad spec or missing file shows at once
        session.settings = settings
        session.reset_window()

    return switch


def _resume(session: Session, conversation_id: int | None) -> None:
    store = session.store
    if store is None:
        raise UsageError("--continue and --resume need saved history; drop --no-save.")
    cid = conversation_id if conversation_id is not None else store.latest_conversation_id()
    summary = store.conversation(cid) if cid is not None else None
    if summary is None:
        raise UsageError("no such conversation to continue." if conversation_id is None
                         else f"no conversation {conversation_id}; see chinwag history list.")
    session.conversation_id = cid
    if summary.system:
        session.conversation.system = summary.system
    session.conversation.messages = [Message(role, text) for role, text in store.history_for_model(cid)]  # type: ignore[arg-type]
